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
    const string ControllerToken = "system:serviceaccount:kubeaddons:konvoylb-controller";
    const string SpeakerToken = "system:serviceaccount:kubeaddons:konvoylb-speaker";
    /// <summary>The BGP lab's configuration (a layer2 pool, a bgp pool, BIRD as the peer) with a TCP MD5 key on the session.</summary>
    static readonly string Config = SpeakerBgpLabTests.Ecmp.Replace("hold-time: 9s", "hold-time: 9s\n  password: lab-md5-key", StringComparison.Ordinal);

    sealed class Cluster(SpeakerLab lab, string dir) : IAsyncDisposable
    {
        public SpeakerLab Lab => lab;
        public readonly Dictionary<string, PodmanContainer> Speakers = new();
        public PodmanContainer? Controller;
        public LabHost ControllerHost = null!;
        public BgpRouter? Bird;
        public readonly PodSpec SpeakerPod = PodSpec.Load("speaker.yaml"), ControllerPod = PodSpec.Load("controller.yaml");

        /// <summary>The files Kubernetes mounts at /var/run/secrets/kubernetes.io/serviceaccount for <paramref name="token"/>'s account.</summary>
        public string ServiceAccount(string token)
        {
            var sa = Path.Combine(dir, token.Split(':')[^1]);
            if (Directory.Exists(sa)) return sa;
            Directory.CreateDirectory(sa);
            File.WriteAllText(Path.Combine(sa, "token"), token);
            File.WriteAllText(Path.Combine(sa, "ca.crt"), lab.Kube.CertificateAuthorityPem);
            File.WriteAllText(Path.Combine(sa, "namespace"), "kubeaddons");
            foreach (var f in Directory.GetFiles(sa)) File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            File.SetUnixFileMode(sa, (UnixFileMode)0b111_101_101);
            return sa;
        }

        public PodmanContainer StartSpeaker(string node)
        {
            var host = lab.Nodes[node];
            var c = PodmanContainer.Start(SpeakerPod.PodmanRunOptions($"{host.Namespace}-speaker", host.Namespace, node, ServiceAccount(SpeakerToken), "192.0.2.250", lab.ApiPort), SpeakerPod.Args);
            Speakers[node] = c;
            return c;
        }

        public PodmanContainer StartController()
        {
            var ns = ControllerHost.Namespace;
            return Controller = PodmanContainer.Start(ControllerPod.PodmanRunOptions($"{ns}-controller", ns, "node-1", ServiceAccount(ControllerToken), "192.0.2.250", lab.ApiPort), ControllerPod.Args);
        }

        /// <summary>Waits for 200 on /readyz in <paramref name="host"/>'s namespace; the time it took.</summary>
        public TimeSpan WaitReady(LabHost host, PodmanContainer c, TimeSpan? timeout = null)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(60)))
            {
                if (lab.Http(host, "/readyz").StartsWith("HTTP/1.1 200", StringComparison.Ordinal)) return clock.Elapsed;
                if (!c.Running) throw new InvalidOperationException($"{c.Name} exited ({c.ExitCode}): {c.Logs()}");
                Thread.Sleep(50);
            }
            throw new TimeoutException($"{c.Name} is not ready: {lab.Http(host, "/readyz")}\n{c.Logs()}");
        }

        public string AllLogs() => string.Join("\n", Speakers.Values.Append(Controller).OfType<PodmanContainer>().Select(c => $"--- {c.Name}\n{c.Logs()}"));

        public async ValueTask DisposeAsync()
        {
            foreach (var c in Speakers.Values) c.Dispose();
            Controller?.Dispose();
            Bird?.Dispose();
            await lab.DisposeAsync();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    static async Task<Cluster> StartClusterAsync(ConcurrentBag<ApiAccess> used)
    {
        Podman.RemoveStale();
        var lab = await SpeakerLab.StartAsync(speakers: false, onAccess: used.Add, https: true);
        var cluster = new Cluster(lab, Directory.CreateTempSubdirectory("konvoylb-e2e-").FullName);
        try
        {
            cluster.ControllerHost = lab.Lab.AddHost("ctl", "02:00:5e:20:00:1e", "192.0.2.30/24");
            var router = lab.Lab.AddHost("router", "02:00:5e:20:00:fe", "192.0.2.1/24");
            lab.Lab.Exec(router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1").EnsureSuccess();
            cluster.Bird = BgpRouter.Start(lab.Lab, router, new BgpPeerSpec(BgpDaemon.Bird, 64500, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false, Password: "lab-md5-key")
            {
                HoldTimeSeconds = 9, InstallRoutes = true, MoreSpeakersV4 = [lab.Nodes["node-2"].IPv4!, lab.Nodes["node-3"].IPv4!],
            });
            lab.SetConfig(Config);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    void Service(SpeakerLab lab, string name, string pool) =>
        lab.Kube.Put("v1", "services", "default", new
        {
            apiVersion = "v1", kind = "Service",
            metadata = new { name, @namespace = "default", uid = Guid.NewGuid().ToString(), annotations = new Dictionary<string, string> { ["metallb.universe.tf/address-pool"] = pool } },
            spec = new { type = "LoadBalancer", clusterIP = "10.96.0." + (20 + name.Length), ports = new[] { new { port = 80, protocol = "TCP" } } },
            status = new { loadBalancer = new { } },
        });

    static string? IngressOf(SpeakerLab lab, string name) =>
        lab.Kube.List("v1", "services", "default").FirstOrDefault(s => s["metadata"]!["name"]!.ToString() == name)?["status"]?["loadBalancer"]?["ingress"]?[0]?["ip"]?.ToString();

    [ContainerFact("arping", "bird")]
    public async Task The_controller_and_three_speakers_from_the_image_serve_layer2_and_BGP_fail_over_and_stop_cleanly()
    {
        var used = new ConcurrentBag<ApiAccess>();
        await using var cluster = await StartClusterAsync(used);
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
            Service(lab, "web", "default");
            Service(lab, "routed", "routed");
            foreach (var name in new[] { "web", "routed" })
            {
                lab.SetEndpoints(name, SpeakerLab.NodeNames);
                lab.SetLegacyEndpoints(name, SpeakerLab.NodeNames);
            }
            var web = SpeakerLab.Retry(() => IngressOf(lab, "web"), ip => ip is not null, TimeSpan.FromSeconds(30));
            var routed = SpeakerLab.Retry(() => IngressOf(lab, "routed"), ip => ip is not null, TimeSpan.FromSeconds(30));
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
            var before = new[] { "web", "routed" }.ToDictionary(n => n, n => IngressOf(lab, n));
            var stopped = cluster.Controller!.Stop(cluster.ControllerPod.GraceSeconds);
            Assert.Equal(0, cluster.Controller.ExitCode);
            Assert.True(stopped < TimeSpan.FromSeconds(cluster.ControllerPod.GraceSeconds), $"the controller took {stopped} to stop");
            int writesBefore = used.Count(a => a.Token == ControllerToken && a.Resource == "services/status");
            cluster.Controller.StartAgain();
            cluster.WaitReady(cluster.ControllerHost, cluster.Controller);
            Thread.Sleep(1000);
            Assert.Equal(before, new[] { "web", "routed" }.ToDictionary(n => n, n => IngressOf(lab, n)));
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
