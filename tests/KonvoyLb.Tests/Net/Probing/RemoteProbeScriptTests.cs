using System.Net;
using KonvoyLb.Engine.Net.Probing;
using KonvoyLb.Tests.Lab;

namespace KonvoyLb.Tests.Net.Probing;

/// <summary>
/// The inventory probe's sh script itself, run by the machine's sh against stand-ins for ip, ping and arping that
/// print what the real ones print in each case (no packet is sent): when the neighbour table may stand in for a
/// link-layer probe, and when a ping that could not run leaves an address Untested.
/// </summary>
public sealed class RemoteProbeScriptTests : IDisposable
{
    const string Mac = "02:00:00:00:00:cc";
    static readonly ProbeTarget Target = new(IPAddress.Parse("192.0.2.200"), "default");
    readonly string dir = Directory.CreateTempSubdirectory("konvoylb-script-").FullName;

    public RemoteProbeScriptTests()
    {
        Tool("ip", $$"""
            case "$1 $2" in
              "-j route") printf '[{"dst":"%s","dev":"eth0","prefsrc":"192.0.2.11","flags":[],"uid":0,"cache":[]}]\n' "$4" ;;
              # An entry left from earlier: the kernel keeps STALE entries for hours on a quiet LAN.
              "neigh show") printf '%s dev eth0 lladdr {{Mac}} STALE\n' "$3" ;;
            esac
            """);
        Tool("ping", """
            case "$FAKE_PING" in
              answer) echo "64 bytes from $6: icmp_seq=1 ttl=64 time=0.42 ms"; exit 0 ;;
              silent) echo "1 packets transmitted, 0 received, 100% packet loss"; exit 1 ;;
              refused) echo "ping: socket: Operation not permitted" >&2; exit 2 ;;
              firewall) echo "ping: sendmsg: Operation not permitted" >&2; exit 1 ;;
            esac
            """);
        Tool("arping", """
            [ "$1" = -V ] && { echo "ARPing 2.21, by Thomas Habets <thomas@habets.se>"; exit 0; }
            case "$FAKE_ARPING" in
              root) echo "arping: libnet_init(LIBNET_LINK, eth0): libnet_open_link(): UID/EUID 0 or capability CAP_NET_RAW required"; exit 1 ;;
              silent) exit 1 ;;
              two) echo "42 bytes from 02:00:00:00:00:aa (192.0.2.200): index=0 time=0.5 msec"
                   echo "42 bytes from 02:00:00:00:00:bb (192.0.2.200): index=1 time=0.6 msec" ;;
            esac
            """);
    }

    void Tool(string name, string body)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    (VipProbeResult Result, RemoteNotes Notes) Run(string arping, string ping)
    {
        var script = RemoteProbe.Script([Target.Address], TimeSpan.FromSeconds(1), tcpPort: null);
        var run = ProcessRunner.Run("env", [$"PATH={dir}:{ProcessRunner.ToolPath}", $"FAKE_ARPING={arping}", $"FAKE_PING={ping}", "sh", "-c", script], TimeSpan.FromSeconds(20)).EnsureSuccess();
        var (evidence, notes) = RemoteProbe.Parse(run.StdOut, [Target], "node-1", tcpAsked: false);
        return (VipJudgement.Judge(evidence[0], new Dictionary<string, string>(), inventoryKnown: true), notes);
    }

    [Fact]
    public void Without_arping_an_answered_ping_lets_the_neighbour_entry_name_the_holder()
    {
        var (result, notes) = Run(arping: "root", ping: "answer");
        Assert.True(notes.ArpingNeedsRoot);
        Assert.Equal(VipStatus.Owned, result.Status);
        Assert.Equal([Mac], result.AnsweringMacs);
    }

    [Fact]
    public void An_unanswered_ping_does_not_trust_an_old_neighbour_entry()
    {
        var (result, _) = Run(arping: "root", ping: "silent");
        Assert.Equal(VipStatus.Free, result.Status);
        Assert.Empty(result.AnsweringMacs);
    }

    [Fact]
    public void A_ping_refused_its_socket_leaves_the_address_Untested_and_reads_no_neighbour_entry()
    {
        var (result, notes) = Run(arping: "root", ping: "refused");
        Assert.True(notes.PingNeedsRoot);
        Assert.Equal(VipStatus.Untested, result.Status);
        Assert.Empty(result.AnsweringMacs);
    }

    [Fact]
    public void Two_arping_answers_stay_a_conflict_when_ping_cannot_run()
    {
        var (result, _) = Run(arping: "two", ping: "refused");
        Assert.Equal(VipStatus.Conflict, result.Status);
        Assert.Equal(["02:00:00:00:00:aa", "02:00:00:00:00:bb"], result.AnsweringMacs);
    }

    [Fact]
    public void A_firewall_dropping_the_ping_is_not_a_missing_capability()
    {
        var (result, notes) = Run(arping: "silent", ping: "firewall");
        Assert.False(notes.PingNeedsRoot);
        Assert.Equal(VipStatus.Free, result.Status);
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
