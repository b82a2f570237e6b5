using System.Net;
using System.Security.Cryptography;
using System.Text;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Net;
using KonvoyLb.Engine.Net.Probing;
using KonvoyLb.Engine.Net.Ssh;

namespace KonvoyLb.Tests.Net.Probing;

/// <summary>The inventory probe's pure parts: the script's output read back, the faults a host's notes give, known_hosts, the inventory's SSH variables.</summary>
public sealed class RemoteProbeTests
{
    static readonly ProbeTarget[] Targets = [new(IPAddress.Parse("192.0.2.200"), "default"), new(IPAddress.Parse("192.0.2.201"), "default"), new(IPAddress.Parse("203.0.113.9"), null)];

    [Theory]
    [InlineData("""[{"dst":"192.0.2.200","dev":"eth0","prefsrc":"192.0.2.11","flags":[],"uid":0,"cache":[]}]""", RouteKind.OnLink, "eth0", null)]
    [InlineData("""[{"dst":"203.0.113.9","gateway":"192.0.2.1","dev":"eth0","prefsrc":"192.0.2.11"}]""", RouteKind.ViaGateway, "eth0", "192.0.2.1")]
    [InlineData("""[{"type":"local","dst":"192.0.2.11","dev":"lo","prefsrc":"192.0.2.11"}]""", RouteKind.Local, "lo", null)]
    [InlineData("RTNETLINK answers: Network is unreachable", RouteKind.NoRoute, null, null)]
    [InlineData("", RouteKind.NoRoute, null, null)]
    public void Ip_route_get_json_and_its_errors_become_routes(string text, RouteKind kind, string? device, string? gateway)
    {
        var route = RemoteProbe.Route(IPAddress.Parse("192.0.2.200"), text, out var dev);
        Assert.Equal(kind, route.Kind);
        Assert.Equal(device, dev);
        Assert.Equal(gateway, route.Gateway?.ToString());
        if (kind == RouteKind.NoRoute) Assert.False(string.IsNullOrEmpty(route.Reason));
    }

    [Fact]
    public void The_scripts_lines_become_the_same_statuses_as_the_local_probe_and_a_missing_line_is_Untested()
    {
        const string output = "KLB-HOST\t1000\t arping nc\n" +
            "KLB-ADDR\t192.0.2.200\t[{\"dst\":\"192.0.2.200\",\"dev\":\"eth0\"}]\t\tnone\t\tno-arping\n" +
            "KLB-ADDR\t203.0.113.9\t[{\"dst\":\"203.0.113.9\",\"gateway\":\"192.0.2.1\",\"dev\":\"eth0\"}]\t\t0.42\t\t\n" +
            "KLB-END\n";
        var (evidence, notes) = RemoteProbe.Parse(output, Targets, "node-1", tcpAsked: false);
        var results = evidence.Select(e => VipJudgement.Judge(e, new Dictionary<string, string>(), true)).ToList();
        Assert.Equal([VipStatus.Free, VipStatus.Untested, VipStatus.Reachable], results.Select(r => r.Status));
        Assert.All(results, r => Assert.Equal("node-1", r.Source));
        Assert.Contains("printed no result", results[1].Advice);
        Assert.False(notes.IsRoot);
        Assert.Equal(["arping", "nc"], notes.MissingTools);
    }

    [Fact]
    public void Two_macs_are_a_conflict_and_a_nodes_mac_names_the_node()
    {
        const string output = "KLB-HOST\t0\t\n" +
            "KLB-ADDR\t192.0.2.200\t[{\"dst\":\"192.0.2.200\",\"dev\":\"eth0\"}]\t02:00:00:00:00:41,02:00:00:00:00:42,\t0.2\t\t\n" +
            "KLB-ADDR\t192.0.2.201\t[{\"dst\":\"192.0.2.201\",\"dev\":\"eth0\"}]\t02:00:00:00:00:11,\t0.2\t\t\n";
        var (evidence, _) = RemoteProbe.Parse(output, Targets[..2], "node-2", false);
        var macs = new Dictionary<string, string> { ["02:00:00:00:00:11"] = "192.0.2.11" };
        var results = evidence.Select(e => VipJudgement.Judge(e, macs, true)).ToList();
        Assert.Equal(VipStatus.Conflict, results[0].Status);
        Assert.Equal(VipStatus.Owned, results[1].Status);
        Assert.Equal("192.0.2.11", results[1].AnsweredByNode);
    }

    [Fact]
    public void A_host_without_tools_or_root_gets_its_own_faults_saying_what_was_skipped()
    {
        var host = new InventoryHost("192.0.2.12", "node", null, new SourceLocation("inventory.yaml", 5, 5));
        var faults = InventoryProber.HostFaults(host, new RemoteNotes(["arping", "nc"], ArpingNeedsRoot: false, IsRoot: false), Targets, tcp: true, new SshOptions());
        var missing = Assert.Single(faults);
        Assert.Equal(ErrorId.RemoteToolsMissing, missing.Id);
        Assert.Contains("arping: the neighbour table after the ping answered instead", missing.Message);
        Assert.Contains("nc (netcat): no TCP connect", missing.Message);
        var root = Assert.Single(InventoryProber.HostFaults(host, new RemoteNotes([], ArpingNeedsRoot: true, IsRoot: false), Targets, false, new SshOptions { User = "core" }));
        Assert.Equal(ErrorId.RemoteArpingNeedsRoot, root.Id);
        Assert.Contains("logged in as core", root.Message);
        // A root session without CAP_NET_RAW (a container): neither tool opens its socket; the fix is another session, not root.
        var raw = Assert.Single(InventoryProber.HostFaults(host, new RemoteNotes([], ArpingNeedsRoot: true, IsRoot: true, PingNeedsRoot: true), Targets, false, new SshOptions()));
        Assert.Contains("arping and ping needs CAP_NET_RAW there, which this root session lacks", raw.Message);
        Assert.Contains("the addresses it could not ping are Untested", raw.Message);
        Assert.DoesNotContain("Log in as root", raw.Fix);
    }

    [Fact]
    public void A_ping_that_may_not_open_its_socket_leaves_the_address_Untested_not_Free()
    {
        const string output = "KLB-HOST\t0\t\n" +
            "KLB-ADDR\t192.0.2.200\t[{\"dst\":\"192.0.2.200\",\"dev\":\"eth0\"}]\t\t\t\tarping-needs-root ping-needs-root\n";
        var (evidence, notes) = RemoteProbe.Parse(output, Targets[..1], "node-1", false);
        Assert.True(notes.ArpingNeedsRoot);
        Assert.True(notes.PingNeedsRoot);
        var result = VipJudgement.Judge(evidence[0], new Dictionary<string, string>(), true);
        Assert.Equal(VipStatus.Untested, result.Status);
        Assert.Contains("ping needs root or CAP_NET_RAW on the host", result.Advice);

        // arping answered but ping is missing: the MAC still says who holds the address.
        const string arpOnly = "KLB-ADDR\t192.0.2.201\t[{\"dst\":\"192.0.2.201\",\"dev\":\"eth0\"}]\t02:00:00:00:00:11,\t\t\t\n";
        var (held, _) = RemoteProbe.Parse(arpOnly, [Targets[1]], "node-2", false);
        var owned = VipJudgement.Judge(held[0], new Dictionary<string, string> { ["02:00:00:00:00:11"] = "192.0.2.11" }, true);
        Assert.Equal(VipStatus.Owned, owned.Status);
        Assert.Equal("192.0.2.11", owned.AnsweredByNode);
    }

    [Fact]
    public void Known_hosts_matches_plain_hashed_and_port_entries_and_tells_a_changed_key()
    {
        var key = Encoding.ASCII.GetBytes("key-one"); var other = Encoding.ASCII.GetBytes("key-two");
        var salt = RandomNumberGenerator.GetBytes(20);
        using var hmac = new HMACSHA1(salt);
        var hashed = $"|1|{Convert.ToBase64String(salt)}|{Convert.ToBase64String(hmac.ComputeHash(Encoding.ASCII.GetBytes("192.0.2.13")))}";
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, $"# comment\n192.0.2.11,node-1 ssh-ed25519 {Convert.ToBase64String(key)}\n[192.0.2.12]:2222 ssh-ed25519 {Convert.ToBase64String(key)}\n{hashed} ssh-ed25519 {Convert.ToBase64String(key)}\n@revoked 192.0.2.14 ssh-ed25519 {Convert.ToBase64String(key)}\n");
            var known = KnownHosts.Load(path);
            Assert.Equal(HostKeyVerdict.Known, known.Check("192.0.2.11", 22, "ssh-ed25519", key, out _));
            Assert.Equal(HostKeyVerdict.Known, known.Check("192.0.2.12", 2222, "ssh-ed25519", key, out _));
            Assert.Equal(HostKeyVerdict.Unknown, known.Check("192.0.2.12", 22, "ssh-ed25519", key, out _));
            Assert.Equal(HostKeyVerdict.Known, known.Check("192.0.2.13", 22, "ssh-ed25519", key, out _));
            Assert.Equal(HostKeyVerdict.Mismatch, known.Check("192.0.2.11", 22, "ssh-ed25519", other, out var expected));
            Assert.Equal([KnownHosts.Fingerprint(key)], expected);
            Assert.Equal(HostKeyVerdict.Mismatch, known.Check("192.0.2.14", 22, "ssh-ed25519", key, out _));
            known.Add("192.0.2.15", 22, "ssh-ed25519", other);
            Assert.Equal(HostKeyVerdict.Known, KnownHosts.Load(path).Check("192.0.2.15", 22, "ssh-ed25519", other, out _));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void The_inventorys_ssh_variables_follow_ansibles_precedence_and_the_bastion_is_apart()
    {
        var inventory = Inventory.Parse("inventory.yaml", """
            control-plane:
              vars:
                ansible_user: cp-admin
              hosts:
                10.0.0.1:
                  ansible_host: 203.0.113.1
                  ansible_port: 2222
            node:
              hosts:
                10.0.0.2:
                  ansible_user: worker
                  ansible_ssh_private_key_file: ~/.ssh/worker
                10.0.0.3:
            bastion:
              hosts:
                198.51.100.5:
            all:
              vars:
                ansible_port: 22
                ansible_user: root
                ansible_ssh_private_key_file: ~/.ssh/konvoy
            """);
        var h = inventory.Hosts.ToDictionary(x => x.Address, x => x.Ssh);
        Assert.Equal(new SshEndpoint("203.0.113.1", 2222, "cp-admin", "~/.ssh/konvoy"), h["10.0.0.1"]);
        Assert.Equal(new SshEndpoint("10.0.0.2", 22, "worker", "~/.ssh/worker"), h["10.0.0.2"]);
        Assert.Equal(new SshEndpoint("10.0.0.3", 22, "root", "~/.ssh/konvoy"), h["10.0.0.3"]);
        Assert.Equal(["198.51.100.5"], inventory.Bastions.Select(b => b.Address));
        Assert.Equal(["10.0.0.1", "10.0.0.2", "10.0.0.3"], inventory.Nodes.Select(n => n.Address));
    }
}
