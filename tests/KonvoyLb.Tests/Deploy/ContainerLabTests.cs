using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using KonvoyLb.Engine.Runtime.Speaker;
using KonvoyLb.KubeApi;
using KonvoyLb.Tests.Lab;
using KonvoyLb.Tests.Speaker;
using Xunit.Abstractions;

namespace KonvoyLb.Tests.Deploy;

/// <summary>
/// The runtime from the image, end to end: the controller and three speakers run with podman exactly as
/// examples/deploy/controller.yaml and speaker.yaml say (arguments, user, read-only root, capabilities, memory
/// limit, grace period), inside the namespace cluster's node namespaces, each with its service account's token
/// mounted where Kubernetes mounts it and the project's API server (HTTPS, in the LAN) as their in-cluster API.
/// A client and a BIRD router are on the LAN.
/// </summary>
[Collection("speaker lab")]
public sealed class ContainerLabTests(ITestOutputHelper output)
{
    const string ControllerToken = ContainerCluster.ControllerToken, SpeakerToken = ContainerCluster.SpeakerToken;
    /// <summary>The BGP lab's configuration (a layer2 pool, a bgp pool, BIRD as the peer) with a TCP MD5 key on the session.</summary>
    static readonly string Config = SpeakerBgpLabTests.Ecmp.Replace("hold-time: 9s", "hold-time: 9s\n  password: lab-md5-key", StringComparison.Ordinal);

    [ContainerFact("arping", "bird")]
    public async Task The_controller_and_three_speakers_from_the_image_serve_layer2_and_BGP_fail_over_and_stop_cleanly()
    {
        var used = new ConcurrentBag<ApiAccess>();
        await using var cluster = await ContainerCluster.StartAsync(used, Config, withBird: true);
        var lab = cluster.Lab;
        // One speaker meets an API without EndpointSlices (Kubernetes before 1.21) and reads Endpoints; the controller
        // meets a conflict on a status write and reads the Service again: both are in their roles and must be used.
        lab.Kube.Faults.FailNext(1, 404, verb: "list", resource: "endpointslices");
        lab.Kube.Faults.FailNext(1, 409, verb: "update", resource: "services");
        try
        {
            foreach (var node in SpeakerLab.NodeNames) cluster.StartSpeaker(node);
            cluster.StartController();
            foreach (var node in SpeakerLab.NodeNames) output.WriteLine($"speaker {node}: ready after {cluster.WaitReady(lab.Nodes[node], cluster.Speakers[node]).TotalSeconds:0.00} s");
            output.WriteLine($"controller: ready after {cluster.WaitReady(cluster.ControllerHost, cluster.Controller!).TotalSeconds:0.00} s");

            // Services created through the API get addresses from the controller in its container.
            ContainerCluster.Service(lab, "web", "default");
            ContainerCluster.Service(lab, "routed", "routed");
            foreach (var name in new[] { "web", "routed" })
            {
                lab.SetEndpoints(name, SpeakerLab.NodeNames);
                lab.SetLegacyEndpoints(name, SpeakerLab.NodeNames);
            }
            var web = SpeakerLab.Retry(() => ContainerCluster.IngressOf(lab, "web"), ip => ip is not null, TimeSpan.FromSeconds(30));
            var routed = SpeakerLab.Retry(() => ContainerCluster.IngressOf(lab, "routed"), ip => ip is not null, TimeSpan.FromSeconds(30));
            Assert.True(web is not null && routed is not null, cluster.AllLogs());
            Assert.StartsWith("192.0.2.2", web);
            Assert.StartsWith("203.0.113.", routed);
            output.WriteLine($"web {web}, routed {routed}");

            // Layer2: the hash owner's container answers ARP alone.
            var ranking = Announcer.Ranking(IPAddress.Parse(web), SpeakerLab.NodeNames);
            var answers = SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, web), a => a.Count > 0 && a.All(m => m == SpeakerLab.MacOf(ranking[0])));
            Assert.True(answers.Count > 0 && answers.All(m => m == SpeakerLab.MacOf(ranking[0])), $"ARP answers {string.Join(",", answers)}\n{cluster.AllLogs()}");

            // BGP: BIRD learns the address from all three nodes (MD5-signed sessions, no capability for it) and the
            // client reaches it through BIRD's kernel route (each node holds it, as kube-proxy does).
            foreach (var node in SpeakerLab.NodeNames) lab.Lab.Exec(lab.Nodes[node], "ip", "addr", "add", routed + "/32", "dev", "lo").EnsureSuccess();
            lab.Lab.Exec(lab.Client, "ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.1").EnsureSuccess();
            var routes = SpeakerLab.Retry(() => cluster.Bird!.Routes(), r => r.Count(x => x.Prefix == routed + "/32") == 3, TimeSpan.FromSeconds(30));
            Assert.True(routes.Count(x => x.Prefix == routed + "/32") == 3, $"BIRD routes: {string.Join("; ", routes)}\n{cluster.AllLogs()}");
            var ping = SpeakerLab.Retry(() => lab.Lab.Exec(lab.Client, "ping", "-n", "-c", "1", "-W", "1", routed!), r => r.ExitCode == 0);
            Assert.True(ping.ExitCode == 0, ping.StdOut + ping.StdErr);

            // Get-LbService (the built module, in the LAN) shows who announces each and how, from the speakers' Events.
            var shown = SpeakerLab.Retry(() => ModuleUnderTest.Run(lab.Lab, lab.Api.Namespace,
                $"Import-Module '{ModuleUnderTest.Path()}'; Get-LbService -Kubeconfig '{lab.Kubeconfig}' | ForEach-Object {{ $_.Name + '=' + ($_.AnnouncingNodes -join ',') + '/' + $_.Protocol }}"),
                o => o.Contains($"web={ranking[0]}/layer2") && o.Contains("routed=node-1,node-2,node-3/bgp"));
            Assert.Contains($"web={ranking[0]}/layer2", shown);
            Assert.Contains("routed=node-1,node-2,node-3/bgp", shown);

            // The owner's speaker container is killed: the client's traffic moves to the next in line.
            lab.Lab.Exec(lab.Client, "ping", "-n", "-c", "1", "-W", "0.3", web);
            Assert.Equal(SpeakerLab.MacOf(ranking[0]), lab.NeighbourMac(web));
            var clock = Stopwatch.StartNew();
            cluster.Speakers[ranking[0]].Kill();
            var moved = lab.WaitNeighbour(web, SpeakerLab.MacOf(ranking[1]), TimeSpan.FromSeconds(10), clock);
            output.WriteLine($"SIGKILL of the {ranking[0]} container: the client moved to {ranking[1]} after {moved?.TotalMilliseconds:0} ms");
            Assert.True(moved is not null && moved < TimeSpan.FromSeconds(3), $"failover: {moved}\n{cluster.AllLogs()}");

            // The killed container starts again and takes its address back (its nodeAssigned Event again: a patch).
            cluster.Speakers[ranking[0]].StartAgain();
            cluster.WaitReady(lab.Nodes[ranking[0]], cluster.Speakers[ranking[0]]);
            var back = SpeakerLab.Retry(() => lab.ArpAnswers(lab.Client, web, 1), a => a.Count > 0 && a.All(m => m == SpeakerLab.MacOf(ranking[0])), TimeSpan.FromSeconds(20));
            Assert.True(back.Count > 0 && back.All(m => m == SpeakerLab.MacOf(ranking[0])), $"after the restart: {string.Join(",", back)}\n{cluster.AllLogs()}");

            // The controller container restarts (SIGTERM, then a new start): no address changes, no status written.
            var before = new[] { "web", "routed" }.ToDictionary(n => n, n => ContainerCluster.IngressOf(lab, n));
            var stopped = cluster.Controller!.Stop(cluster.ControllerPod.GraceSeconds);
            Assert.Equal(0, cluster.Controller.ExitCode);
            Assert.True(stopped < TimeSpan.FromSeconds(cluster.ControllerPod.GraceSeconds), $"the controller took {stopped} to stop");
            int writesBefore = used.Count(a => a.Token == ControllerToken && a.Resource == "services/status");
            cluster.Controller.StartAgain();
            cluster.WaitReady(cluster.ControllerHost, cluster.Controller);
            Thread.Sleep(1000);
            Assert.Equal(before, new[] { "web", "routed" }.ToDictionary(n => n, n => ContainerCluster.IngressOf(lab, n)));
            Assert.Equal(writesBefore, used.Count(a => a.Token == ControllerToken && a.Resource == "services/status"));

            // SIGTERM stops every container cleanly inside its pod's grace period (exit 0, not the SIGKILL's 137).
            foreach (var (node, c) in cluster.Speakers)
            {
                var took = c.Stop(cluster.SpeakerPod.GraceSeconds);
                output.WriteLine($"speaker {node}: stopped by SIGTERM in {took.TotalMilliseconds:0} ms");
                Assert.Equal(0, c.ExitCode);
                Assert.True(took < TimeSpan.FromSeconds(cluster.SpeakerPod.GraceSeconds), $"{c.Name} took {took}");
                Assert.Contains("SIGTERM received", c.Logs());
            }
            Assert.Empty(SpeakerLab.Retry(() => cluster.Bird!.Routes(), r => r.Count == 0, TimeSpan.FromSeconds(5)));
        }
        catch
        {
            output.WriteLine(cluster.AllLogs());
            throw;
        }

        // Least privilege, as each service account's token asked.
        RbacTests.Check("speaker", used.Where(a => a.Token == SpeakerToken), output);
        RbacTests.Check("controller", used.Where(a => a.Token == ControllerToken), output);
        // Nothing else called: the only other caller is the test's own Get-LbService, with the admin kubeconfig.
        Assert.All(used, a => Assert.Contains(a.Token, new[] { SpeakerToken, ControllerToken, FakeKubeApi.AnonymousToken }));
    }
}
