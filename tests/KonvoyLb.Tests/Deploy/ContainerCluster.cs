using System.Collections.Concurrent;
using System.Diagnostics;
using KonvoyLb.KubeApi;
using KonvoyLb.Tests.Lab;
using KonvoyLb.Tests.Speaker;

namespace KonvoyLb.Tests.Deploy;

/// <summary>
/// The namespace cluster (<see cref="SpeakerLab"/>, its API server on HTTPS) with the runtime in containers of the
/// image: speakers in the node namespaces and the controller in a namespace of its own (192.0.2.30), each started
/// with exactly its manifest's settings (<see cref="PodSpec"/>) and its service account's token mounted where
/// Kubernetes mounts it; optionally a BIRD router at 192.0.2.1 (TCP MD5 key lab-md5-key, routes into its kernel,
/// IPv4 forwarding on). Everything started is removed on dispose.
/// </summary>
public sealed class ContainerCluster : IAsyncDisposable
{
    public const string ControllerToken = "system:serviceaccount:kubeaddons:konvoylb-controller";
    public const string SpeakerToken = "system:serviceaccount:kubeaddons:konvoylb-speaker";

    readonly string _dir = Directory.CreateTempSubdirectory("konvoylb-e2e-").FullName;
    readonly List<PodmanContainer> _all = [];

    ContainerCluster(SpeakerLab lab) => Lab = lab;

    public SpeakerLab Lab { get; }
    public Dictionary<string, PodmanContainer> Speakers { get; } = new();
    public PodmanContainer? Controller { get; private set; }
    public LabHost ControllerHost { get; private set; } = null!;
    public BgpRouter? Bird { get; private set; }
    public PodSpec SpeakerPod { get; } = PodSpec.Load("speaker.yaml");
    public PodSpec ControllerPod { get; } = PodSpec.Load("controller.yaml");

    public static async Task<ContainerCluster> StartAsync(ConcurrentBag<ApiAccess>? used, string config, bool withBird)
    {
        Podman.RemoveStale();
        var lab = await SpeakerLab.StartAsync(speakers: false, onAccess: used is null ? null : used.Add, https: true);
        var cluster = new ContainerCluster(lab);
        try
        {
            cluster.ControllerHost = lab.Lab.AddHost("ctl", "02:00:5e:20:00:1e", "192.0.2.30/24");
            if (withBird)
            {
                var router = lab.Lab.AddHost("router", "02:00:5e:20:00:fe", "192.0.2.1/24");
                lab.Lab.Exec(router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1").EnsureSuccess();
                cluster.Bird = BgpRouter.Start(lab.Lab, router, new BgpPeerSpec(BgpDaemon.Bird, 64500, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false, Password: "lab-md5-key")
                {
                    HoldTimeSeconds = 9, InstallRoutes = true, MoreSpeakersV4 = [lab.Nodes["node-2"].IPv4!, lab.Nodes["node-3"].IPv4!],
                });
            }
            lab.SetConfig(config);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The files Kubernetes mounts at /var/run/secrets/kubernetes.io/serviceaccount for <paramref name="token"/>'s account.</summary>
    string ServiceAccount(string token)
    {
        var sa = Path.Combine(_dir, token.Split(':')[^1]);
        if (Directory.Exists(sa)) return sa;
        Directory.CreateDirectory(sa);
        File.WriteAllText(Path.Combine(sa, "token"), token);
        File.WriteAllText(Path.Combine(sa, "ca.crt"), Lab.Kube.CertificateAuthorityPem);
        File.WriteAllText(Path.Combine(sa, "namespace"), "kubeaddons");
        foreach (var f in Directory.GetFiles(sa)) File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(sa, (UnixFileMode)0b111_101_101);
        return sa;
    }

    PodmanContainer Start(PodSpec pod, LabHost host, string node, string token, string suffix)
    {
        var c = PodmanContainer.Start(pod.PodmanRunOptions($"{host.Namespace}-{suffix}", host.Namespace, node, ServiceAccount(token), "192.0.2.250", Lab.ApiPort), pod.Args);
        _all.Add(c);
        return c;
    }

    public PodmanContainer StartSpeaker(string node, string suffix = "speaker") =>
        Speakers[node] = Start(SpeakerPod, Lab.Nodes[node], node, SpeakerToken, suffix);

    public PodmanContainer StartController(string suffix = "controller") =>
        Controller = Start(ControllerPod, ControllerHost, "node-1", ControllerToken, suffix);

    /// <summary>Waits for 200 on /readyz in <paramref name="host"/>'s namespace; the time it took.</summary>
    public TimeSpan WaitReady(LabHost host, PodmanContainer c, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        bool listening = false;
        while (clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(60)))
        {
            // No request before the endpoint says it listens: .NET's HttpListener on Linux can crash the process when a
            // connection arrives while Start() is still setting up (dotnet/corefx#35191), which polling every 20 ms hits.
            listening = listening || c.Logs().Contains("\"event\":\"listening\"", StringComparison.Ordinal);
            if (listening && Lab.Http(host, "/readyz").StartsWith("HTTP/1.1 200", StringComparison.Ordinal)) return clock.Elapsed;
            if (!c.Running) throw new InvalidOperationException($"{c.Name} exited ({c.ExitCode}): {c.Logs()}");
            Thread.Sleep(20);
        }
        throw new TimeoutException($"{c.Name} is not ready: {Lab.Http(host, "/readyz")}\n{c.Logs()}");
    }

    /// <summary>A LoadBalancer Service without an address, asking for <paramref name="pool"/>: the controller's to fill.</summary>
    public static void Service(SpeakerLab lab, string name, string pool) =>
        lab.Kube.Put("v1", "services", "default", new
        {
            apiVersion = "v1", kind = "Service",
            metadata = new { name, @namespace = "default", uid = Guid.NewGuid().ToString(), annotations = new Dictionary<string, string> { ["metallb.universe.tf/address-pool"] = pool } },
            spec = new { type = "LoadBalancer", clusterIP = "10.96.0." + (20 + name.Length % 200), ports = new[] { new { port = 80, protocol = "TCP" } } },
            status = new { loadBalancer = new { } },
        });

    public static string? IngressOf(SpeakerLab lab, string name) =>
        lab.Kube.List("v1", "services", "default").FirstOrDefault(s => s["metadata"]!["name"]!.ToString() == name)?["status"]?["loadBalancer"]?["ingress"]?[0]?["ip"]?.ToString();

    public string AllLogs() => string.Join("\n", _all.Select(c => $"--- {c.Name}\n{c.Logs()}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _all) c.Dispose();
        Bird?.Dispose();
        await Lab.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
