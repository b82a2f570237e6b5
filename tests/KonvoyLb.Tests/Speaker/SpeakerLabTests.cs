using System.Diagnostics;
using KonvoyLb.Tests.Lab;
using Xunit.Abstractions;

namespace KonvoyLb.Tests.Speaker;

/// <summary>
/// Start-LbSpeaker on a namespace cluster (<see cref="SpeakerLab"/>): real ARP and NDP clients on the LAN see exactly
/// the owner's MAC, and failover is measured as the client sees it.
/// </summary>
[Collection("speaker lab")]
public sealed class SpeakerLabTests(ITestOutputHelper output)
{
    static string Mac(string node) => SpeakerLab.MacOf(node);

    /// <summary>Somebody answered, and only <paramref name="node"/>: an empty list fails (nobody answering is the bug to catch).</summary>
    static void AnsweredOnlyBy(string node, IReadOnlyList<string> answers)
    {
        Assert.NotEmpty(answers);
        Assert.All(answers, m => Assert.Equal(Mac(node), m));
    }

    [LabFact("arping")]
    public async Task The_owner_by_hash_answers_ARP_alone_and_only_on_the_segment_holding_the_address()
    {
        await using var lab = await SpeakerLab.StartAsync();
        var ips = new[] { "192.0.2.200", "192.0.2.201", "192.0.2.202", "192.0.2.203", "192.0.2.204", "192.0.2.205" };
        foreach (var (ip, i) in ips.Select((ip, i) => (ip, i))) lab.AddService($"web-{i}", [ip], SpeakerLab.NodeNames);
        var owners = new HashSet<string>();
        foreach (var ip in ips)
        {
            var expected = SpeakerLab.ExpectedOwner(ip);
            owners.Add(expected);
            var answers = SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, ip), a => a.Count > 0);
            output.WriteLine($"{ip}: {string.Join(" ", answers)} (expected {expected})");
            if (answers.Count == 0) output.WriteLine(lab.Logs(expected));
            AnsweredOnlyBy(expected, answers);
        }
        Assert.True(owners.Count >= 2, "the table spreads six addresses over more than one node");
        // node-1's second segment holds no 192.0.2.0/24 address: nothing is answered there.
        foreach (var ip in ips.Where(ip => SpeakerLab.ExpectedOwner(ip) == "node-1")) Assert.Empty(lab.ArpAnswers(lab.Other, ip, count: 1));
        // Two Services sharing an address: one node answers once, and each Service has its own series.
        lab.AddService("web-0-shared", [ips[0]], SpeakerLab.NodeNames);
        var sharedOwner = SpeakerLab.ExpectedOwner(ips[0]);
        var series = SpeakerLab.Retry(() => lab.Http(sharedOwner, "/metrics"), m => m.Contains("service=\"default/web-0-shared\""));
        Assert.Contains($"metallb_speaker_announced{{service=\"default/web-0-shared\",protocol=\"layer2\",node=\"{sharedOwner}\",ip=\"{ips[0]}\"}} 1", series);
        Assert.Contains($"metallb_speaker_announced{{service=\"default/web-0\",protocol=\"layer2\",node=\"{sharedOwner}\",ip=\"{ips[0]}\"}} 1", series);
        AnsweredOnlyBy(sharedOwner, lab.ArpAnswers(lab.Client, ips[0]));
        Assert.Equal(2, lab.ArpAnswers(lab.Client, ips[0]).Count); // one answer a request, not one per Service

        // A Service without a ready endpoint is announced by nobody.
        lab.AddService("idle", ["192.0.2.220"], []);
        Thread.Sleep(500);
        Assert.Empty(lab.ArpAnswers(lab.Client, "192.0.2.220", count: 1));
        // The nodeAssigned Events say which node announces: Get-LbService shows it.
        var shown = SpeakerLab.Retry(() => ModuleUnderTest.Run(lab.Lab, lab.Api.Namespace,
            $"Import-Module '{ModuleUnderTest.Path()}'; Get-LbService -Kubeconfig '{lab.Kubeconfig}' | Where-Object Name -like 'web-*' | ForEach-Object {{ $_.Name + '=' + $_.AnnouncingNode }}"),
            o => ips.Select((ip, i) => $"web-{i}={SpeakerLab.ExpectedOwner(ip)}").All(o.Contains));
        output.WriteLine(shown);
        foreach (var (ip, i) in ips.Select((ip, i) => (ip, i))) Assert.Contains($"web-{i}={SpeakerLab.ExpectedOwner(ip)}", shown);
    }

    [LabFact("arping", "ping")]
    public async Task Local_policy_follows_the_endpoints_and_the_old_owners_series_vanish()
    {
        await using var lab = await SpeakerLab.StartAsync();
        const string ip = "192.0.2.210";
        var first = SpeakerLab.NodeNames.First(n => n != SpeakerLab.ExpectedOwner(ip));
        lab.AddService("local", [ip], [first], local: true);
        AnsweredOnlyBy(first, SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, ip), a => a.Count > 0 && a.All(m => m == Mac(first))));
        Assert.Contains($"metallb_speaker_announced{{service=\"default/local\",protocol=\"layer2\",node=\"{first}\",ip=\"{ip}\"}} 1", lab.Http(first, "/metrics"));
        Assert.Contains($"metallb_layer2_responses_sent{{ip=\"{ip}\"}}", lab.Http(first, "/metrics"));

        var second = SpeakerLab.NodeNames.First(n => n != first);
        lab.SetEndpoints("local", [second]);
        AnsweredOnlyBy(second, SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, ip), a => a.Count > 0 && a.All(m => m == Mac(second))));
        var old = SpeakerLab.Retry(() => lab.Http(first, "/metrics"), m => !m.Contains(ip));
        Assert.DoesNotContain(ip, old);
    }

    [LabFact("ping")]
    public async Task IPv6_neighbour_solicitations_are_answered_by_the_owner()
    {
        await using var lab = await SpeakerLab.StartAsync();
        const string ip = "2001:db8::210";
        lab.AddService("six", [ip], SpeakerLab.NodeNames);
        var expected = SpeakerLab.ExpectedOwner(ip);
        var mac = SpeakerLab.Retry(() =>
        {
            lab.Lab.Exec(lab.Client, "ping", "-6", "-n", "-c", "1", "-W", "1", ip);
            return lab.NeighbourMac(ip);
        }, m => m is not null);
        Assert.Equal(Mac(expected), mac);

        // An IPv6-only Service fails over too: the owner check probes with Neighbor Solicitations, the takeover is an
        // unsolicited Neighbor Advertisement with Override.
        var next = KonvoyLb.Engine.Runtime.Speaker.Announcer.Ranking(System.Net.IPAddress.Parse(ip), SpeakerLab.NodeNames)[1];
        var clock = Stopwatch.StartNew();
        lab.Speakers[expected].Process.Kill();
        var moved = lab.WaitNeighbour(ip, Mac(next), TimeSpan.FromSeconds(10), clock);
        output.WriteLine($"IPv6 failover from {expected} to {next}: {moved?.TotalMilliseconds:0} ms");
        Assert.True(moved < TimeSpan.FromSeconds(3), lab.Logs(next));
    }

    [LabFact("arping")]
    public async Task Failover_after_SIGKILL_a_link_cut_and_a_clean_stop()
    {
        await using var lab = await SpeakerLab.StartAsync();
        const string ip = "192.0.2.230";
        lab.AddService("ha", [ip], SpeakerLab.NodeNames);
        var ranking = KonvoyLb.Engine.Runtime.Speaker.Announcer.Ranking(System.Net.IPAddress.Parse(ip), SpeakerLab.NodeNames);
        var (owner, next, last) = (ranking[0], ranking[1], ranking[2]);
        SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, ip), a => a.Count > 0 && a.All(m => m == Mac(owner)));
        // The client's kernel learns the owner (Linux takes gratuitous ARP only for addresses it has in its cache).
        lab.Lab.Exec(lab.Client, "ping", "-n", "-c", "1", "-W", "0.3", ip);
        Assert.Equal(Mac(owner), lab.NeighbourMac(ip));

        // SIGKILL: no Lease release, no goodbye; the next in line finds out on the segment.
        var clock = Stopwatch.StartNew();
        lab.Speakers[owner].Process.Kill();
        var killed = lab.WaitNeighbour(ip, Mac(next), TimeSpan.FromSeconds(10), clock);
        output.WriteLine($"SIGKILL of {owner}: the client moved to {next} after {killed?.TotalMilliseconds:0} ms");
        Assert.True(killed is not null, lab.Logs(next));
        Assert.True(killed < TimeSpan.FromSeconds(3), $"failover took {killed}");

        // Link cut of the new owner: the last node takes over the same way.
        clock.Restart();
        lab.Lab.SetLinkDown(lab.Nodes[next]);
        var cut = lab.WaitNeighbour(ip, Mac(last), TimeSpan.FromSeconds(10), clock);
        output.WriteLine($"link cut of {next}: the client moved to {last} after {cut?.TotalMilliseconds:0} ms");
        foreach (var line in lab.Logs(last).Split('\n').Where(l => !l.Contains("\"info\"") || l.Contains("owner") || l.Contains("announcing"))) output.WriteLine(line);
        Assert.True(cut is not null, lab.Logs(last));
        Assert.True(cut < TimeSpan.FromSeconds(3), $"failover took {cut}");

        // The link comes back: its owner announces again and the client follows it.
        clock.Restart();
        lab.Lab.SetLinkUp(lab.Nodes[next]);
        var back = lab.WaitNeighbour(ip, Mac(next), TimeSpan.FromSeconds(15), clock);
        output.WriteLine($"link of {next} back: the client is back on it after {back?.TotalMilliseconds:0} ms");
        Assert.True(back is not null, lab.Logs(next) + lab.Logs(last));

        // A clean stop releases the Lease first: the next one takes over at once.
        Thread.Sleep(6000); // past the gratuitous rounds of the link coming back (Linux neighbour locktime)
        clock.Restart();
        var stopping = Task.Run(() => lab.Speakers[next].Stop(TimeSpan.FromSeconds(5)));
        var clean = lab.WaitNeighbour(ip, Mac(last), TimeSpan.FromSeconds(10), clock);
        var stopped = await stopping;
        output.WriteLine($"clean stop of {next}: the client moved to {last} after {clean?.TotalMilliseconds:0} ms; exit {stopped.ExitCode}");
        foreach (var line in (stopped.StdOut + lab.Logs(last)).Split('\n').TakeLast(30)) output.WriteLine(line);
        Assert.True(clean is not null, lab.Logs(last));
        Assert.Contains("leaseReleased", stopped.StdOut);
    }

    [LabFact("arping")]
    public async Task An_API_outage_longer_than_the_Lease_and_an_invalid_config_change_nothing_on_the_wire()
    {
        await using var lab = await SpeakerLab.StartAsync(extraArguments: "-LeaseDurationSeconds 3");
        const string ip = "192.0.2.225";
        lab.AddService("steady", [ip], SpeakerLab.NodeNames);
        var owner = SpeakerLab.ExpectedOwner(ip);
        AnsweredOnlyBy(owner, SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, ip), a => a.Count > 0));

        // Every request fails and watches are cut for twice the Lease: the view is frozen, not failed over.
        lab.Kube.Faults.Outage = true;
        Thread.Sleep(6500);
        var during = lab.ArpAnswers(lab.Client, ip);
        output.WriteLine(lab.Lab.Exec(lab.Client, "arping", "-c", "2", "-w", "2", "-i", "eth0", ip).ToString());
        foreach (var n in SpeakerLab.NodeNames) output.WriteLine(n + ": " + string.Join(" | ", lab.Http(n, "/metrics").Split('\n').Where(l => l.StartsWith("metallb_speaker_announced") || l.StartsWith("konvoylb_speaker_suspected") || l.StartsWith("konvoylb_speaker_live"))));
        lab.Kube.Faults.Outage = false;
        foreach (var n in SpeakerLab.NodeNames.Where(n => n != owner))
            foreach (var line in lab.Logs(n).Split('\n').Where(l => !l.Contains("\"info\"") || l.Contains("announcing"))) output.WriteLine(n + " " + line);
        AnsweredOnlyBy(owner, during);
        Assert.Contains("apiError", lab.Logs(owner));
        Thread.Sleep(2000);
        AnsweredOnlyBy(owner, lab.ArpAnswers(lab.Client, ip));

        // A configuration that fails validation is refused with its problem; the last good one stays in force.
        lab.SetConfig("address-pools:\n- name: default\n  protocol: layer3\n  addresses:\n  - 192.0.2.200-192.0.2.239\n");
        Assert.True(SpeakerLab.Retry(() => lab.Logs(owner), l => l.Contains("configInvalid")).Contains("UnknownProtocol"), lab.Logs(owner));
        Assert.Contains("metallb_k8s_client_config_stale_bool 1", lab.Http(owner, "/metrics"));
        AnsweredOnlyBy(owner, lab.ArpAnswers(lab.Client, ip));
        Assert.True(lab.Speakers.Values.All(p => !p.HasExited));
    }

    [LabFact("arping")]
    public async Task A_bridge_member_never_answers_and_an_interface_that_goes_away_is_taken_again_when_it_is_back()
    {
        await using var lab = await SpeakerLab.StartAsync();
        var ip = new[] { "192.0.2.200", "192.0.2.201", "192.0.2.202", "192.0.2.203" }.First(a => SpeakerLab.ExpectedOwner(a) == "node-3");
        lab.AddService("bridged", [ip], SpeakerLab.NodeNames);
        SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, ip), a => a.Count > 0);

        // node-3's address moves to a bridge br0 with eth0 as its port, as on a host running VMs.
        var ns = lab.Nodes["node-3"].Namespace;
        const string bridgeMac = "02:00:5e:20:00:b3";
        foreach (var cmd in new[]
        {
            $"ip link add br0 address {bridgeMac} type bridge stp_state 0 forward_delay 0", "ip addr flush dev eth0", "ip link set eth0 master br0",
            "ip addr add 192.0.2.13/24 dev br0", "ip -6 addr add 2001:db8::13/64 dev br0 nodad", "ip link set br0 up",
        })
            lab.Lab.Exec(ns, cmd.Split(' ')).EnsureSuccess();
        SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, ip), a => a.Count > 0 && a.All(m => m == bridgeMac), TimeSpan.FromSeconds(15));
        // One answer a request: eth0, the bridge member, stays silent (arping counts duplicate replies as "extra").
        var arping = lab.Lab.Exec(lab.Client, "arping", "-c", "3", "-W", "0.2", "-i", "eth0", ip);
        output.WriteLine(arping.StdOut);
        Assert.Contains("3 packets received", arping.StdOut);
        Assert.Contains("(0 extra)", arping.StdOut);
        Assert.DoesNotContain(Mac("node-3"), arping.StdOut);
        // The others learn br0's MAC from node-3's Lease.
        Assert.Contains(bridgeMac, SpeakerLab.Retry(() => lab.Kube.Get("coordination.k8s.io/v1", "leases", "kubeaddons", "metallb-speaker-node-3")!.ToJsonString(), j => j.Contains(bridgeMac)));

        // The bridge goes away and comes back: the node stops answering, then answers again by itself.
        lab.Lab.Exec(ns, "ip", "link", "set", "br0", "down").EnsureSuccess();
        Assert.Contains("interfaceGone", SpeakerLab.Retry(() => lab.Logs("node-3"), l => l.Contains("interfaceGone")));
        lab.Lab.Exec(ns, "ip", "link", "set", "br0", "up").EnsureSuccess();
        Assert.Contains(bridgeMac, SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, ip), a => a.Contains(bridgeMac), TimeSpan.FromSeconds(15)));
    }

    [LabFact("arping")]
    public async Task Without_EndpointSlices_in_the_API_ready_endpoints_come_from_Endpoints()
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        // An API server without discovery.k8s.io/v1 answers 404 to the speakers' first look at EndpointSlices.
        lab.Kube.Faults.FailNext(SpeakerLab.NodeNames.Length, 404, verb: "list", resource: "endpointslices");
        foreach (var node in SpeakerLab.NodeNames) lab.StartSpeaker(node);
        foreach (var node in SpeakerLab.NodeNames) lab.WaitReady(node);
        const string ip = "192.0.2.212";
        var chosen = SpeakerLab.NodeNames.First(n => n != SpeakerLab.ExpectedOwner(ip));
        lab.AddService("legacy", [ip], [], local: true);
        lab.SetLegacyEndpoints("legacy", [chosen]);
        var answers = SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, ip), a => a.Count > 0);
        AnsweredOnlyBy(chosen, answers);
        Assert.Contains("reading ready endpoints from Endpoints", lab.Logs(chosen));
    }

    [LabFact("setpriv")]
    public async Task Without_CAP_NET_RAW_the_speaker_stops_at_once_with_one_clear_error()
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        var output = lab.Lab.Exec(lab.Nodes["node-1"].Namespace, TimeSpan.FromSeconds(60), "setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--",
            "dotnet", ModuleUnderTestPwsh(), "-NoProfile", "-NonInteractive", "-Command",
            $"Import-Module '{ModuleUnderTest.Path()}'; try {{ Start-LbSpeaker -NodeName node-1 -Kubeconfig '{lab.Kubeconfig}' -ErrorAction Stop }} catch {{ 'ERROR ' + $_.FullyQualifiedErrorId + ' ' + $_.Exception.Message }}");
        Assert.Contains("ERROR NeedsRawSockets", output.StdOut);
        Assert.Contains("CAP_NET_RAW", output.StdOut);
    }

    static string ModuleUnderTestPwsh() => ModuleUnderTest.PwshDll();
}
