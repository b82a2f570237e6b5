using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using KonvoyLb.Engine.Kube;
using KonvoyLb.Engine.Runtime.Controller;
using KonvoyLb.Engine.Runtime.Observability;
using KonvoyLb.KubeApi;

namespace KonvoyLb.Tests.Controller;

/// <summary>
/// A fake cluster (the project's API server over real HTTP) with MetalLB's ConfigMap in kubeaddons, and controllers
/// started against it through the engine's public entry point (LbController over a KubeConnection from the factory).
/// </summary>
internal sealed class ControllerHarness : IAsyncDisposable
{
    public const string Ns = "kubeaddons";
    public const string ConfigMap = "metallb";
    public FakeKubeApi Kube { get; private set; } = null!;
    public Kubernetes Client { get; private set; } = null!;
    public string Kubeconfig { get; private set; } = "";
    readonly List<Running> _running = new();

    public sealed class Running
    {
        public required LbController Controller;
        public required Task Task;
        public required CancellationTokenSource Stop;
        public required KubeConnection Connection;
        /// <summary>The log, line by line, as the controller writes it (no copy, so no lag).</summary>
        public required ConcurrentQueue<string> Lines;
        public string Log => string.Join("\n", Lines);
        public async Task StopAsync()
        {
            Stop.Cancel();
            await Task.WaitAsync(TimeSpan.FromSeconds(15));
        }
    }

    public static async Task<ControllerHarness> StartAsync(string config, FakeKubeOptions? options = null)
    {
        var h = new ControllerHarness { Kube = await FakeKubeApi.StartAsync(options ?? new FakeKubeOptions()) };
        h.Kube.AddNamespace(Ns);
        h.Kubeconfig = h.Kube.WriteKubeconfig(Path.Combine(Directory.CreateTempSubdirectory("konvoylb-ctl-").FullName, "kubeconfig"));
        h.Client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(h.Kubeconfig));
        h.PutConfig(config);
        return h;
    }

    public void PutConfig(string config, string name = ConfigMap) =>
        Kube.Put("v1", "configmaps", Ns, new { metadata = new { name }, data = new Dictionary<string, string> { ["config"] = config } });

    public Task UpdateConfig(string config, string name = ConfigMap) =>
        Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(KubernetesJson.Serialize(new { data = new Dictionary<string, string> { ["config"] = config } }), V1Patch.PatchType.MergePatch), name, Ns);

    public Running Start(LbControllerOptions? options = null)
    {
        var connection = KubeClientFactory.Connect(Kubeconfig, null, null);
        options ??= new LbControllerOptions();
        var lines = new ConcurrentQueue<string>();
        var log = new RuntimeLog("controller", LogFormat.Text, lines.Enqueue);
        var controller = new LbController(connection, options, log);
        var stop = new CancellationTokenSource();
        var running = new Running { Controller = controller, Task = Task.Run(() => controller.RunAsync(stop.Token)), Stop = stop, Connection = connection, Lines = lines };
        _running.Add(running);
        return running;
    }

    public static LbControllerOptions Options(Action<LbControllerOptionsBuilder>? change = null)
    {
        var b = new LbControllerOptionsBuilder();
        change?.Invoke(b);
        return b.Build();
    }

    public sealed class LbControllerOptionsBuilder
    {
        public bool LeaderElection;
        public TimeSpan Lease = TimeSpan.FromSeconds(3);
        public bool Release = true;
        public string? Namespace = Ns;
        public string? ConfigMapName;
        public string Identity = "controller-" + Guid.NewGuid().ToString("n")[..6];
        public LbControllerOptions Build() => new()
        {
            Namespace = Namespace, ConfigMapName = ConfigMapName, LeaderElection = LeaderElection, Identity = Identity,
            LeaseDuration = Lease, RenewDeadline = Lease * 2 / 3, RetryPeriod = TimeSpan.FromMilliseconds(500),
            ReleaseLeaseOnStop = Release, RetryMax = TimeSpan.FromSeconds(2),
            CacheOptions = new ResourceCacheOptions { BackoffInitial = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromSeconds(1) },
        };
    }

    /// <summary>A Service of type LoadBalancer (the fake gives it a cluster IP and IPv4 family).</summary>
    public Task<V1Service> CreateService(string name, string ns = "default", Dictionary<string, string>? annotations = null, string? lbIp = null,
        int port = 80, string protocol = "TCP", string? policy = null, Dictionary<string, string>? selector = null, string[]? families = null, string type = "LoadBalancer")
    {
        Kube.AddNamespace(ns);
        var svc = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Annotations = annotations },
            Spec = new V1ServiceSpec
            {
                Type = type, LoadBalancerIP = lbIp, ExternalTrafficPolicy = policy, Selector = selector ?? new Dictionary<string, string> { ["app"] = name },
                Ports = [new V1ServicePort { Port = port, Protocol = protocol }],
                IpFamilies = families, IpFamilyPolicy = families is { Length: 2 } ? "RequireDualStack" : null,
                ClusterIPs = families is { Length: 2 } ? ["10.96.0." + Random.Shared.Next(2, 250), "fd00::" + Random.Shared.Next(2, 250).ToString("x")] : null,
            },
        };
        return Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);
    }

    public async Task<List<string>> Ips(string name, string ns = "default")
    {
        var s = await Client.CoreV1.ReadNamespacedServiceAsync(name, ns);
        return s.Status?.LoadBalancer?.Ingress?.Select(i => i.Ip).ToList() ?? [];
    }

    public async Task<List<string>> WaitForIps(string name, string ns = "default", int count = 1, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var ips = await Ips(name, ns);
            if (ips.Count >= count) return ips;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"service {ns}/{name} got no address within the time (log:\n{string.Join("\n", _running.SelectMany(r => r.Lines).TakeLast(30))})");
            await Task.Delay(20);
        }
    }

    public async Task<List<Corev1Event>> Events(string name, string? reason = null, string ns = "default")
    {
        var list = await Client.CoreV1.ListNamespacedEventAsync(ns, fieldSelector: $"involvedObject.name={name}");
        return list.Items.Where(e => reason is null || e.Reason == reason).ToList();
    }

    public async Task<Corev1Event> WaitForEvent(string name, string reason, string ns = "default", Func<Corev1Event, bool>? match = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var e = (await Events(name, reason, ns)).FirstOrDefault(e => match?.Invoke(e) ?? true);
            if (e is not null) return e;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no {reason} event on {ns}/{name} (log:\n{string.Join("\n", _running.SelectMany(r => r.Lines).TakeLast(30))})");
            await Task.Delay(25);
        }
    }

    public static async Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what} did not happen in time");
            await Task.Delay(20);
        }
    }

    /// <summary>Status writes seen by the server so far.</summary>
    public int StatusWrites => Kube.RequestLog.Count(r => (r.StartsWith("PUT /api/v1/namespaces/", StringComparison.Ordinal) || r.StartsWith("PATCH /api/v1/namespaces/", StringComparison.Ordinal)) && r.Contains("/services/") && r.Contains("/status"));

    public async ValueTask DisposeAsync()
    {
        foreach (var r in _running)
        {
            r.Stop.Cancel();
            try { await r.Task.WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
            r.Connection.Dispose();
        }
        Client.Dispose();
        await Kube.DisposeAsync();
    }
}
