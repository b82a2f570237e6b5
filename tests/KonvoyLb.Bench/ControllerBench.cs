using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using KonvoyLb.Engine.Kube;
using KonvoyLb.Engine.Runtime.Controller;
using KonvoyLb.Engine.Runtime.Observability;
using KonvoyLb.KubeApi;

namespace KonvoyLb.Bench;

/// <summary>
/// The controller (LbController) against the fake API server, at 10,000 Services: all of them created at once (time
/// until each has its own address in status, side by side with a bare loop of the same 10,000 status writes at the
/// controller's write concurrency, and at concurrency 1); a restart with every Service holding an address (time to
/// Ready and the status writes it makes: none wanted); a leader failover (the leader killed, its Lease left to
/// expire, with the default 15 s and a short 3 s Lease, and a clean stop); and the memory the controller holds.
/// IPv6 single-stack Services from one layer2 pool 2001:db8:1::/112 (documentation range; 65,536 addresses).
/// </summary>
static class ControllerBench
{
    const int Count = 10_000, WarmUp = 300;
    const string Ns = "kubeaddons", Prefix = "2001:db8:1::";
    const string Config = """
        address-pools:
        - name: default
          protocol: layer2
          addresses:
          - 2001:db8:1::/112
        """;

    // ---- the fake cluster ------------------------------------------------------------------------

    sealed class Cluster : IAsyncDisposable
    {
        public required FakeKubeApi Kube;
        public required string Kubeconfig;
        public required DirectoryInfo Dir;
        int _statusPuts, _eventPosts;
        /// <summary>PUT or PATCH .../services/NAME/status requests received (RequestLog keeps only the last 2,000).</summary>
        public int StatusPuts => Volatile.Read(ref _statusPuts);
        /// <summary>POST .../events requests received.</summary>
        public int EventPosts => Volatile.Read(ref _eventPosts);
        /// <summary>Each seeded Service as stored (with its resourceVersion and uid), for the bare loop's bodies.</summary>
        public readonly List<JsonObject> Seeded = new();

        public static async Task<Cluster> StartAsync()
        {
            Cluster? c = null;
            var kube = await FakeKubeApi.StartAsync(new FakeKubeOptions
            {
                OnRequest = r =>
                {
                    if ((r.StartsWith("PUT /api/v1/namespaces/", StringComparison.Ordinal) || r.StartsWith("PATCH /api/v1/namespaces/", StringComparison.Ordinal))
                        && r.Contains("/services/", StringComparison.Ordinal) && r.Contains("/status", StringComparison.Ordinal))
                        Interlocked.Increment(ref c!._statusPuts);
                    else if (r.StartsWith("POST /api/v1/namespaces/", StringComparison.Ordinal) && r.Contains("/events", StringComparison.Ordinal))
                        Interlocked.Increment(ref c!._eventPosts);
                },
            });
            var dir = Directory.CreateTempSubdirectory("konvoylb-ctl-bench-");
            c = new Cluster { Kube = kube, Dir = dir, Kubeconfig = kube.WriteKubeconfig(Path.Combine(dir.FullName, "kubeconfig")) };
            kube.AddNamespace(Ns);
            kube.Put("v1", "configmaps", Ns, new { metadata = new { name = "metallb" }, data = new Dictionary<string, string> { ["config"] = Config } });
            return c;
        }

        /// <summary>Services 0..n-1, straight into the store (no HTTP), in ten namespaces; with <paramref name="holding"/> each already holds address i+1.</summary>
        public void Seed(int n, bool holding)
        {
            for (int i = 0; i < n; i++) Seeded.Add(Kube.Put("v1", "services", NsOf(i), ServiceJson(i, holding ? Address(i) : null)));
        }

        public async ValueTask DisposeAsync()
        {
            await Kube.DisposeAsync();
            try { Dir.Delete(recursive: true); } catch (IOException) { }
        }
    }

    static string NsOf(int i) => $"team-{i % 10}";
    static string NameOf(int i) => $"svc-{i:D5}";
    static string Address(int i) => Prefix + (i + 1).ToString("x");

    static JsonObject ServiceJson(int i, string? ip)
    {
        var clusterIp = "fd00::" + (i + 16).ToString("x");
        var now = DateTimeOffset.UtcNow.AddMinutes(-10).AddMilliseconds(i).ToString("yyyy-MM-ddTHH:mm:ssZ");
        return new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = NameOf(i), ["namespace"] = NsOf(i), ["labels"] = new JsonObject { ["app"] = NameOf(i) } },
            ["spec"] = new JsonObject
            {
                ["type"] = "LoadBalancer",
                ["clusterIP"] = clusterIp, ["clusterIPs"] = new JsonArray(clusterIp),
                ["ipFamilies"] = new JsonArray("IPv6"), ["ipFamilyPolicy"] = "SingleStack",
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 80, ["protocol"] = "TCP", ["targetPort"] = 8080 }),
                ["selector"] = new JsonObject { ["app"] = NameOf(i) },
                ["sessionAffinity"] = "None", ["externalTrafficPolicy"] = "Cluster", ["internalTrafficPolicy"] = "Cluster",
                ["allocateLoadBalancerNodePorts"] = true,
            },
            ["status"] = new JsonObject
            {
                ["loadBalancer"] = ip is null ? new JsonObject() : new JsonObject { ["ingress"] = new JsonArray(new JsonObject { ["ip"] = ip }) },
            },
        };
    }

    // ---- a running controller --------------------------------------------------------------------

    sealed class Running
    {
        public required LbController Controller;
        public required Task Task;
        public required CancellationTokenSource Stop;
        public required KubeConnection Connection;
        public required ConcurrentQueue<string> Tail;
        public int OkWrites => (int)Controller.Metrics.StatusWrites.WithLabels("ok").Value;
        public string Log => string.Join("\n", Tail);

        public async Task StopAsync()
        {
            Stop.Cancel();
            await Task.WaitAsync(TimeSpan.FromSeconds(20));
            Connection.Dispose();
        }
    }

    static Running Start(Cluster c, LbControllerOptions options)
    {
        var connection = KubeClientFactory.Connect(c.Kubeconfig, null, null);
        var tail = new ConcurrentQueue<string>();
        // The log goes nowhere (a pod's stdout would be read by the kubelet); the last lines are kept for errors.
        var log = new RuntimeLog("controller", LogFormat.Text, line => { tail.Enqueue(line); while (tail.Count > 40) tail.TryDequeue(out _); });
        var controller = new LbController(connection, options, log);
        var stop = new CancellationTokenSource();
        return new Running { Controller = controller, Task = Task.Run(() => controller.RunAsync(stop.Token)), Stop = stop, Connection = connection, Tail = tail };
    }

    static LbControllerOptions Plain() => new() { Namespace = Ns, ConfigMapName = "metallb" };

    static LbControllerOptions Elected(string identity, TimeSpan lease, bool release) => new()
    {
        Namespace = Ns, ConfigMapName = "metallb", LeaderElection = true, Identity = identity, ReleaseLeaseOnStop = release,
        LeaseDuration = lease,
        // The defaults for 15 s (10 s, 2 s); for a short lease the same proportions as the tests use.
        RenewDeadline = lease == TimeSpan.FromSeconds(15) ? TimeSpan.FromSeconds(10) : lease * 2 / 3,
        RetryPeriod = lease == TimeSpan.FromSeconds(15) ? TimeSpan.FromSeconds(2) : TimeSpan.FromMilliseconds(500),
    };

    static void Until(Func<bool> condition, string what, TimeSpan timeout, Func<string>? detail = null, int pollMs = 5)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > timeout) throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds:F0} s{(detail is null ? "" : ":\n" + detail())}");
            Thread.Sleep(pollMs);
        }
    }

    // ---- memory ------------------------------------------------------------------------------------

    static long Heap()
    {
        for (int i = 0; i < 2; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        return GC.GetTotalMemory(true);
    }

    static (long Rss, long Hwm) Rss()
    {
        long rss = 0, hwm = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        return (rss, hwm);
    }

    static string Mb(long bytes) => (bytes / 1048576.0).ToString("F1");

    // ---- 1: 10,000 Services created at once ------------------------------------------------------

    sealed record AllocationRun(double ToReady, double Total, int StatusPuts, int EventPosts, long HeapBefore, long HeapWith, long HeapAfterStop, long Rss, double Cpu, double GcPause);

    /// <summary>Every seeded Service in the store has exactly one address of the pool, and no two share one.</summary>
    static void Verify(Cluster c, int n)
    {
        var ips = new HashSet<string>(StringComparer.Ordinal);
        var pool = IPNetwork.Parse("2001:db8:1::/112");
        int services = 0;
        foreach (var s in c.Kube.List("v1", "services"))
        {
            if (s["spec"]?["type"]?.GetValue<string>() != "LoadBalancer") continue;
            services++;
            var ingress = s["status"]?["loadBalancer"]?["ingress"]?.AsArray();
            var name = $"{s["metadata"]!["namespace"]}/{s["metadata"]!["name"]}";
            if (ingress is not { Count: 1 }) throw new InvalidOperationException($"{name} holds {ingress?.Count ?? 0} addresses, not 1");
            var ip = ingress[0]!["ip"]!.GetValue<string>();
            if (!pool.Contains(IPAddress.Parse(ip))) throw new InvalidOperationException($"{name} holds {ip}, outside the pool");
            if (!ips.Add(ip)) throw new InvalidOperationException($"{ip} is held by two services (one of them {name})");
        }
        if (services != n) throw new InvalidOperationException($"{services} LoadBalancer services in the store, not {n}");
    }

    static async Task<AllocationRun> ControllerAllocates(int n)
    {
        await using var c = await Cluster.StartAsync();
        c.Seed(n, holding: false);
        c.Seeded.Clear();
        long before = Heap();
        var (cpu0, pause0) = Usage();
        var sw = Stopwatch.StartNew();
        var r = Start(c, Plain());
        double ready = double.NaN;
        Until(() =>
        {
            if (double.IsNaN(ready) && r.Controller.State.Ready) ready = sw.Elapsed.TotalSeconds;
            return r.OkWrites >= n;
        }, $"{n} status writes by the controller", TimeSpan.FromSeconds(90), () => $"{r.OkWrites} written; {r.Controller.State.Detail}\n{r.Log}");
        double total = sw.Elapsed.TotalSeconds;
        var (cpu, pause) = Usage();
        int puts = c.StatusPuts, events = c.EventPosts;
        Verify(c, n);
        long with = Heap();
        long rss = Rss().Rss;
        await r.StopAsync();
        r = null!;
        long after = Heap();
        return new AllocationRun(ready, total, puts, events, before, with, after, rss, (cpu - cpu0).TotalSeconds, (pause - pause0).TotalSeconds);
    }

    /// <summary>The same status writes as the controller makes (same body, resourceVersion included), from a bare loop of <paramref name="concurrency"/> workers.</summary>
    static async Task<(double Seconds, double Cpu, double GcPause)> BareLoop(int n, int concurrency)
    {
        await using var c = await Cluster.StartAsync();
        c.Seed(n, holding: false);
        var bodies = c.Seeded.Select((json, i) =>
        {
            var s = KubernetesJson.Deserialize<V1Service>(json.ToJsonString());
            return new V1Service
            {
                ApiVersion = "v1", Kind = "Service",
                Metadata = new V1ObjectMeta { Name = s.Metadata.Name, NamespaceProperty = s.Metadata.NamespaceProperty, ResourceVersion = s.Metadata.ResourceVersion, Uid = s.Metadata.Uid },
                Spec = s.Spec,
                Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = Address(i) }] }, Conditions = s.Status?.Conditions },
            };
        }).ToArray();
        c.Seeded.Clear();
        using var connection = KubeClientFactory.Connect(c.Kubeconfig, null, null);
        var client = connection.Client;
        int next = -1;
        var (cpu0, pause0) = Usage();
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < bodies.Length;)
                await client.CoreV1.ReplaceNamespacedServiceStatusAsync(bodies[i], bodies[i].Metadata.Name, bodies[i].Metadata.NamespaceProperty).ConfigureAwait(false);
        })));
        double total = sw.Elapsed.TotalSeconds;
        var (cpu, pause) = Usage();
        if (c.StatusPuts != n) throw new InvalidOperationException($"{c.StatusPuts} status writes, not {n}");
        Verify(c, n);
        return (total, (cpu - cpu0).TotalSeconds, (pause - pause0).TotalSeconds);
    }

    // ---- 2: restart with 10,000 Services holding addresses ----------------------------------------

    sealed record RestartRun(double ToReady, int PutsAtReady, int PutsAfter, int EventsAfter, long HeapBefore, long HeapWith, long HeapAfterStop, long Rss, string FirstPass);

    static async Task<RestartRun> Restart(Cluster c, int n)
    {
        long before = Heap();
        int puts0 = c.StatusPuts, events0 = c.EventPosts;
        var sw = Stopwatch.StartNew();
        var r = Start(c, Plain());
        Until(() => r.Controller.State.Ready, "Ready after a restart", TimeSpan.FromSeconds(60), () => r.Controller.State.Detail + "\n" + r.Log, pollMs: 1);
        double ready = sw.Elapsed.TotalSeconds;
        int atReady = c.StatusPuts - puts0;
        Thread.Sleep(2000); // writes a restart would start go out within this
        int after = c.StatusPuts - puts0, events = c.EventPosts - events0;
        var firstPass = r.Tail.FirstOrDefault(l => l.Contains("first pass", StringComparison.Ordinal)) ?? "";
        long with = Heap();
        long rss = Rss().Rss;
        await r.StopAsync();
        r = null!;
        long afterStop = Heap();
        var m = System.Text.RegularExpressions.Regex.Match(firstPass, @"first pass: [^;]*;[^\r\n""]*");
        return new RestartRun(ready, atReady, after, events, before, with, afterStop, rss, m.Success ? m.Value : firstPass);
    }

    // ---- 3: leader failover ------------------------------------------------------------------------

    sealed record Failover(string What, double Seconds, bool ByStandby);

    static int _failoverService;

    /// <summary>
    /// Two controllers, a leading and b standing by (both synced). a is stopped — without releasing its Lease (as a killed
    /// process) or cleanly — and a new Service is created right after; the time from the stop to its address in status.
    /// </summary>
    static async Task<Failover> FailOver(Cluster c, string what, TimeSpan lease, bool kill)
    {
        int id = ++_failoverService;
        var a = Start(c, Elected($"a{id}", lease, release: !kill));
        Until(() => a.Controller.State.Leader && a.Controller.State.Ready, $"a{id} leads", TimeSpan.FromSeconds(60), () => a.Log, pollMs: 20);
        var b = Start(c, Elected($"b{id}", lease, release: true));
        Until(() => b.Controller.State.Ready, $"b{id} stands by", TimeSpan.FromSeconds(60), () => b.Log, pollMs: 20);
        if (b.Controller.State.Leader) throw new InvalidOperationException("the standby leads too");
        Thread.Sleep(kill ? 500 : 200); // a renews as it would in the middle of a term

        using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(c.Kubeconfig));
        var name = $"after-{id}";
        var clusterIp = "fd00::ffff:" + id.ToString("x");
        var svc = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
            Spec = new V1ServiceSpec
            {
                Type = "LoadBalancer", ClusterIP = clusterIp, ClusterIPs = [clusterIp], IpFamilies = ["IPv6"], IpFamilyPolicy = "SingleStack",
                Selector = new Dictionary<string, string> { ["app"] = name }, Ports = [new V1ServicePort { Port = 80, Protocol = "TCP" }],
            },
        };
        int bWrites = b.OkWrites;
        var sw = Stopwatch.StartNew();
        await a.StopAsync();
        await client.CoreV1.CreateNamespacedServiceAsync(svc, "default");
        Until(() => c.Kube.Get("v1", "services", "default", name)?["status"]?["loadBalancer"]?["ingress"] is JsonArray { Count: > 0 },
            $"{name} gets an address ({what})", TimeSpan.FromSeconds(60), () => b.Controller.State.Detail + "\n" + b.Log, pollMs: 2);
        double took = sw.Elapsed.TotalSeconds;
        // The metric counts the write once its answer is handled, a moment after the store holds it.
        bool byStandby = SpinWait.SpinUntil(() => b.Controller.State.Leader && b.OkWrites > bWrites, TimeSpan.FromSeconds(5));
        await b.StopAsync(); // releases the Lease for the next pair
        return new Failover(what, took, byStandby);
    }

    /// <summary>Process CPU time and GC pause time, to say where a run's time goes (the fake server shares the process).</summary>
    static (TimeSpan Cpu, TimeSpan Pause) Usage() => (Process.GetCurrentProcess().TotalProcessorTime, GC.GetTotalPauseDuration());

    // ---- the report --------------------------------------------------------------------------------

    public static string Run() => RunAsync().GetAwaiter().GetResult();

    static async Task<string> RunAsync()
    {
        var total = Stopwatch.StartNew();
        int concurrency = new LbControllerOptions().WriteConcurrency;
        // Warm-up (JIT of both paths, Kestrel, the client), not reported.
        await ControllerAllocates(WarmUp);
        await BareLoop(WarmUp, concurrency);
        Console.Error.WriteLine($"controller bench: warm-up done after {total.Elapsed.TotalSeconds:F1} s");

        // Controller and bare loop alternate (the machine's other load hits both alike); medians of 3.
        var ctls = new List<AllocationRun>();
        var bares = new List<(double Seconds, double Cpu, double GcPause)>();
        for (int i = 0; i < 3; i++)
        {
            ctls.Add(await ControllerAllocates(Count));
            bares.Add(await BareLoop(Count, concurrency));
            Console.Error.WriteLine($"controller bench: controller {ctls[^1].Total:F2} s (Ready {ctls[^1].ToReady:F2} s, CPU {ctls[^1].Cpu:F2} s), bare loop {bares[^1].Seconds:F2} s (CPU {bares[^1].Cpu:F2} s)");
        }
        var ctl = ctls.OrderBy(r => r.Total).ElementAt(1);
        var bare = bares.OrderBy(r => r.Seconds).ElementAt(1);
        var bare1 = await BareLoop(Count, 1);
        Console.Error.WriteLine($"controller bench: bare loop at 1: {bare1.Seconds:F2} s");

        RestartRun restart;
        var failovers = new List<Failover>();
        await using (var c = await Cluster.StartAsync())
        {
            c.Seed(Count, holding: true);
            c.Seeded.Clear();
            restart = await Restart(c, Count);
            Console.Error.WriteLine($"controller bench: restart Ready {restart.ToReady:F2} s, {restart.PutsAfter} PUTs");
            failovers.Add(await FailOver(c, "clean stop (Lease released), 15 s Lease", TimeSpan.FromSeconds(15), kill: false));
            failovers.Add(await FailOver(c, "leader killed (Lease left to expire), 3 s Lease", TimeSpan.FromSeconds(3), kill: true));
            failovers.Add(await FailOver(c, "leader killed (Lease left to expire), 15 s Lease (default)", TimeSpan.FromSeconds(15), kill: true));
            foreach (var f in failovers) Console.Error.WriteLine($"controller bench: {f.What}: {f.Seconds:F2} s");
        }
        var (_, hwm) = Rss();

        var sb = new StringBuilder();
        double ratio = ctl.Total / bare.Seconds;
        sb.AppendLine($"| {Count:N0} LoadBalancer Services created at once (IPv6, one /112 pool), fake API server over HTTP in the same process (median of 3) | seconds | process CPU (s) | status writes |");
        sb.AppendLine("|---|---:|---:|---:|");
        sb.AppendLine($"| **LbController**: start to every Service holding its own address (target: within 1.5x of the next line) | **{ctl.Total:F2}** | {ctl.Cpu:F1} | {ctl.StatusPuts:N0} |");
        sb.AppendLine($"| of which start to Ready (list of {Count:N0}, first pass, decisions) | {ctl.ToReady:F2} | | |");
        sb.AppendLine($"| bare KubernetesClient loop of the same {Count:N0} status writes, {concurrency} in flight (the controller's WriteConcurrency) | {bare.Seconds:F2} | {bare.Cpu:F1} | {Count:N0} |");
        sb.AppendLine($"| the same bare loop, 1 in flight | {bare1.Seconds:F2} | {bare1.Cpu:F1} | {Count:N0} |");
        sb.AppendLine();
        sb.AppendLine($"Controller / bare loop at {concurrency} in flight: **{ratio:F2}x** (runs: {string.Join(", ", ctls.Select(r => r.Total.ToString("F2")))} s against {string.Join(", ", bares.Select(r => r.Seconds.ToString("F2")))} s). " +
                      $"Both are CPU-bound on this machine, the fake API server sharing the process; besides the writes, the controller lists the {Count:N0} Services, gets every write back as a watch event " +
                      $"(serialized by the fake, deserialized by the client) and writes one IPAllocated Event per Service ({ctl.EventPosts:N0} Event POSTs had reached the server when the last address was written). " +
                      $"GC pauses: {ctl.GcPause:F2} s in the controller run, {bare.GcPause:F2} s in the bare loop.");
        sb.AppendLine();
        sb.AppendLine($"| restart with {Count:N0} Services holding addresses | |");
        sb.AppendLine("|---|---:|");
        sb.AppendLine($"| start to Ready (s) | **{restart.ToReady:F2}** |");
        sb.AppendLine($"| status writes by Ready / 2 s later (target: 0) | **{restart.PutsAtReady} / {restart.PutsAfter}** |");
        sb.AppendLine($"| Event POSTs in those 2 s | {restart.EventsAfter} |");
        sb.AppendLine();
        if (restart.FirstPass.Length > 0) sb.AppendLine($"The controller's log: \"{restart.FirstPass.Trim()}\".").AppendLine();
        sb.AppendLine($"| leader failover, {Count:N0} Services holding addresses, a new Service created right after the leader stops | stop to its address (s) |");
        sb.AppendLine("|---|---:|");
        foreach (var f in failovers)
            sb.AppendLine($"| {f.What}{(f.ByStandby ? "" : " (**not written by the standby**)")} | **{f.Seconds:F2}** |");
        sb.AppendLine();
        sb.AppendLine("Lease timings: 15 s with RenewDeadline 10 s and RetryPeriod 2 s (the defaults); 3 s with 2 s and 0.5 s.");
        sb.AppendLine();
        sb.AppendLine($"| memory with {Count:N0} Services (the fake API server runs in the same process) | MB |");
        sb.AppendLine("|---|---:|");
        sb.AppendLine($"| **controller's managed heap**, restart case (the fake changes nothing): heap with the controller Ready minus heap before it started | **{Mb(restart.HeapWith - restart.HeapBefore)}** |");
        sb.AppendLine($"| managed heap growth, all-at-once case, from before the controller started to its last write (includes the fake's new status, watch history and Events) | {Mb(ctl.HeapWith - ctl.HeapBefore)} |");
        sb.AppendLine($"| process RSS after the {Count:N0} writes (controller + fake API server, each holding the {Count:N0} Services, + runtime) | {Mb(ctl.Rss)} |");
        sb.AppendLine($"| process RSS with the restarted controller Ready | {Mb(restart.Rss)} |");
        sb.AppendLine($"| process peak RSS (VmHWM) over the whole benchmark | {Mb(hwm)} |");
        sb.AppendLine();
        sb.AppendLine($"Whole benchmark: {total.Elapsed.TotalSeconds:F0} s.");
        return sb.ToString();
    }
}
