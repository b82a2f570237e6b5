using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Kube;
using KonvoyLb.KubeApi;

namespace KonvoyLb.Tests.Kube;

/// <summary>Restart-LbController, Get-LbService and Test-LbConfigChange's engine against the fake API over real HTTP.</summary>
public sealed class KubeOperationsTests : IAsyncLifetime
{
    const string Ns = "kubeaddons";
    const string Selector = "app=metallb,component=controller";
    static readonly Dictionary<string, string> ControllerLabels = new() { ["app"] = "metallb", ["component"] = "controller" };
    FakeKubeApi _api = null!;
    string _kubeconfig = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeKubeApi.StartAsync(new FakeKubeOptions { Token = "s3cr3t-token-value" });
        _kubeconfig = _api.WriteKubeconfig(Path.Combine(Directory.CreateTempSubdirectory("konvoylb-kube-").FullName, "config"));
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    KubeConnection Connect() => KubeClientFactory.Connect(_kubeconfig, null, null);

    async Task<RestartResult> Restart(TimeSpan timeout, Action? afterDelete = null)
    {
        using var kube = Connect();
        var restart = new ControllerRestart(kube, Ns, Selector);
        var found = await restart.FindAsync(default);
        var clock = Stopwatch.StartNew();
        foreach (var p in found.Pods) await restart.DeleteAsync(p.Name, default);
        afterDelete?.Invoke();
        return await restart.WaitForReplacementAsync(found.Pods, found.Pods, found.ResourceVersion, timeout, clock.Elapsed, null, default);
    }

    async Task ControllerReady(TimeSpan readyAfter, PodFailure failure = PodFailure.None)
    {
        _api.AddDeployment("metallb-controller", Ns, ControllerLabels, readyAfter, failure);
        // Let the first pod come up before the restart starts.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (_api.List("v1", "pods", Ns, Selector).Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
    }

    [Fact]
    public async Task RestartWaitsForANewPodToBeReady()
    {
        await ControllerReady(TimeSpan.FromMilliseconds(400));
        var before = _api.List("v1", "pods", Ns, Selector).Single()["metadata"]!["uid"]!.GetValue<string>();
        var result = await Restart(TimeSpan.FromSeconds(20));
        Assert.True(result.Ready, result.Failure);
        Assert.NotEqual(before, result.NewPod!.Uid);
        Assert.Equal(before, result.OldPods.Single().Uid);
        Assert.True(result.Elapsed >= TimeSpan.FromMilliseconds(350), $"{result.Elapsed}");
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(5), $"{result.Elapsed}");
        // It watched: no list request after the first one (no polling loop).
        var lists = _api.RequestLog.Where(r => r.StartsWith("GET /api/v1/namespaces/kubeaddons/pods", StringComparison.Ordinal) && !r.Contains("watch=true")).ToList();
        Assert.True(lists.Count == 1, string.Join("\n", _api.RequestLog));
    }

    [Theory]
    [InlineData(PodFailure.CrashLoopBackOff, "CrashLoopBackOff")]
    [InlineData(PodFailure.ImagePullBackOff, "Image")]
    [InlineData(PodFailure.Unschedulable, "Unschedulable")]
    public async Task AFailingReplacementIsReportedAtOnceWithItsReason(PodFailure failure, string reason)
    {
        await ControllerReady(TimeSpan.FromMilliseconds(100));
        _api.SetDeploymentBehavior(Ns, "metallb-controller", TimeSpan.FromMilliseconds(100), failure, "0/3 nodes are available: 3 Insufficient cpu.");
        var result = await Restart(TimeSpan.FromSeconds(30));
        Assert.False(result.Ready);
        Assert.Contains(reason, result.Failure);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(10), $"waited {result.Elapsed} instead of failing fast");
    }

    [Fact]
    public async Task ADroppedWatchIsResumed()
    {
        await ControllerReady(TimeSpan.FromMilliseconds(1200));
        var result = await Restart(TimeSpan.FromSeconds(20), () => _api.Faults.DropWatchesAfter(TimeSpan.FromMilliseconds(300)));
        Assert.True(result.Ready, result.Failure);
        Assert.True(_api.RequestLog.Count(r => r.Contains("watch=")) >= 2, "the watch was not re-opened");
    }

    [Fact]
    public async Task AnExpiredResourceVersionIsAnsweredWithAFreshList()
    {
        await ControllerReady(TimeSpan.FromMilliseconds(600));
        var result = await Restart(TimeSpan.FromSeconds(20), () => _api.CompactHistory());
        Assert.True(result.Ready, result.Failure);
    }

    [Fact]
    public async Task ATimeoutSaysWhatWasLastSeen()
    {
        await ControllerReady(TimeSpan.FromMilliseconds(100));
        _api.SetDeploymentBehavior(Ns, "metallb-controller", TimeSpan.FromSeconds(60));
        var result = await Restart(TimeSpan.FromSeconds(1.5));
        Assert.False(result.Ready);
        Assert.Contains("within 2 s", result.Failure);
    }

    [Fact]
    public async Task NoControllerPodSaysWhereItLookedAndHowPlainMetalLbIsLabelled()
    {
        _api.AddNamespace(Ns);
        using var kube = Connect();
        var e = await Assert.ThrowsAsync<LbException>(() => new ControllerRestart(kube, Ns, Selector).FindAsync(default));
        Assert.Equal(ErrorId.NoControllerPod, e.Id);
        Assert.Contains("kubeaddons", e.Message);
        Assert.Contains("metallb-system", e.Message);
        Assert.Contains("app.kubernetes.io/component=controller", e.Message);
    }

    [Fact]
    public async Task AMissingNamespaceIsNamed()
    {
        using var kube = Connect();
        var e = await Assert.ThrowsAsync<LbException>(() => new ControllerRestart(kube, "nope", Selector).FindAsync(default));
        Assert.Equal(ErrorId.KubeNamespaceNotFound, e.Id);
    }

    [Fact]
    public async Task A403SaysWhichVerbOnWhichResourceIsMissing()
    {
        await ControllerReady(TimeSpan.FromMilliseconds(100));
        _api.Faults.Forbid("delete", "pods");
        using var kube = Connect();
        var restart = new ControllerRestart(kube, Ns, Selector);
        var pod = (await restart.FindAsync(default)).Pods[0];
        var e = await Assert.ThrowsAsync<LbException>(() => restart.DeleteAsync(pod.Name, default));
        Assert.Equal(ErrorId.KubeForbidden, e.Id);
        Assert.Contains("delete pods in namespace 'kubeaddons'", e.Message);
        Assert.Contains("verbs: [\"delete\"]", e.Fix);
    }

    [Fact]
    public async Task A401NeverShowsTheToken()
    {
        _api.AddNamespace(Ns);
        _api.Faults.RequireToken("another-token");
        using var kube = Connect();
        var e = await Assert.ThrowsAsync<LbException>(() => new ControllerRestart(kube, Ns, Selector).FindAsync(default));
        Assert.Equal(ErrorId.KubeUnauthorized, e.Id);
        Assert.DoesNotContain("s3cr3t", e.ToString());
        Assert.DoesNotContain("another-token", e.ToString());
    }

    [Fact]
    public async Task AnUnreachableServerNamesTheAddressTried()
    {
        // A port that was free a moment ago: nothing listens there.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var config = File.ReadAllText(_kubeconfig).Replace(_api.BaseAddress.ToString().TrimEnd('/'), $"http://127.0.0.1:{port}");
        var path = Path.Combine(Path.GetDirectoryName(_kubeconfig)!, "down");
        File.WriteAllText(path, config);
        using var kube = KubeClientFactory.Connect(path, null, null);
        var e = await Assert.ThrowsAsync<LbException>(() => new ControllerRestart(kube, Ns, Selector).FindAsync(default));
        Assert.Equal(ErrorId.KubeApiUnreachable, e.Id);
        Assert.Contains($"127.0.0.1:{port}", e.Message);
    }

    [Fact]
    public async Task AnUntrustedCertificateIsATlsFailure()
    {
        await using var tls = await FakeKubeApi.StartAsync(new FakeKubeOptions { Https = true, PresentUntrustedCertificate = true });
        var path = tls.WriteKubeconfig(Path.Combine(Path.GetDirectoryName(_kubeconfig)!, "tls"));
        using var kube = KubeClientFactory.Connect(path, null, null);
        var e = await Assert.ThrowsAsync<LbException>(() => new ControllerRestart(kube, Ns, Selector).FindAsync(default));
        Assert.Equal(ErrorId.KubeTlsFailure, e.Id);
    }

    [Fact]
    public void KubeconfigAndContextProblemsAreClear()
    {
        var missing = Assert.Throws<LbException>(() => KubeClientFactory.Connect("/nonexistent/kubeconfig", null, null));
        Assert.Equal(ErrorId.KubeconfigNotFound, missing.Id);
        var context = Assert.Throws<LbException>(() => KubeClientFactory.Connect(_kubeconfig, "prod", null));
        Assert.Equal(ErrorId.KubeContextNotFound, context.Id);
        Assert.Contains("fake", context.Message);
    }

    static JsonObject Service(string name, string ns, string? ip, Dictionary<string, string>? annotations = null, string? loadBalancerIp = null) => new()
    {
        ["apiVersion"] = "v1", ["kind"] = "Service",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["annotations"] = JsonValueFrom(annotations ?? new()) },
        ["spec"] = new JsonObject
        {
            ["type"] = "LoadBalancer", ["loadBalancerIP"] = loadBalancerIp,
            ["ports"] = new JsonArray(new JsonObject { ["port"] = 80, ["protocol"] = "TCP" }),
        },
        ["status"] = new JsonObject { ["loadBalancer"] = ip is null ? new JsonObject() : new JsonObject { ["ingress"] = new JsonArray(new JsonObject { ["ip"] = ip }) } },
    };

    static JsonObject JsonValueFrom(Dictionary<string, string> d) => new(d.Select(kv => new KeyValuePair<string, JsonNode?>(kv.Key, kv.Value)));

    static JsonObject Event(string name, string serviceName, string ns, string reason, string message, DateTime at) => new()
    {
        ["apiVersion"] = "v1", ["kind"] = "Event",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["involvedObject"] = new JsonObject { ["kind"] = "Service", ["name"] = serviceName, ["namespace"] = ns },
        ["reason"] = reason, ["message"] = message, ["type"] = reason == "AllocationFailed" ? "Warning" : "Normal",
        ["lastTimestamp"] = at.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    };

    void SeedCluster()
    {
        _api.AddNamespace(Ns);
        _api.AddNamespace("shop");
        _api.Put("v1", "configmaps", Ns, new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "metallb-config", ["namespace"] = Ns },
            ["data"] = new JsonObject { ["config"] = "address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.0.2.10-192.0.2.20\n- name: routed\n  protocol: bgp\n  addresses: [198.51.100.0/28]\n" },
        });
        _api.Put("v1", "services", "shop", Service("web", "shop", "192.0.2.12"));
        _api.Put("v1", "services", "shop", Service("api", "shop", "198.51.100.3", new() { ["metallb.universe.tf/address-pool"] = "routed" }));
        _api.Put("v1", "services", "shop", Service("db", "shop", null, loadBalancerIp: "203.0.113.9"));
        _api.Put("v1", "services", "shop", new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "internal", ["namespace"] = "shop" },
            ["spec"] = new JsonObject { ["type"] = "ClusterIP", ["ports"] = new JsonArray(new JsonObject { ["port"] = 80 }) },
        });
        var t = DateTime.UtcNow;
        _api.Put("v1", "events", "shop", Event("db.1", "db", "shop", "AllocationFailed", "Failed to allocate IP for \"shop/db\": no available IPs", t.AddMinutes(-5)));
        _api.Put("v1", "events", "shop", Event("db.2", "db", "shop", "AllocationFailed", "Failed to allocate IP for \"shop/db\": \"203.0.113.9\" is not allowed in config", t));
        _api.Put("v1", "events", "shop", Event("web.1", "web", "shop", "nodeAssigned", "announcing from node \"node-1\"", t.AddMinutes(-3)));
        // The same second, stored earlier (listed later by name): the later-stored one is the latest.
        _api.Put("v1", "events", "shop", Event("web.9", "web", "shop", "nodeAssigned", "announcing from node \"node-1\"", t));
        _api.Put("v1", "events", "shop", Event("web.2", "web", "shop", "nodeAssigned", "announcing from node \"node-2\"", t));
        // BGP: every node announces its own route and writes its own Event; node-2's older layer2 one is history.
        _api.Put("v1", "events", "shop", Event("api.1", "api", "shop", "nodeAssigned", "announcing from node \"node-2\" with protocol \"layer2\"", t.AddMinutes(-10)));
        _api.Put("v1", "events", "shop", Event("api.2", "api", "shop", "nodeAssigned", "announcing from node \"node-3\" with protocol \"bgp\"", t.AddMinutes(-2)));
        _api.Put("v1", "events", "shop", Event("api.3", "api", "shop", "nodeAssigned", "announcing from node \"node-1\" with protocol \"bgp\"", t));
    }

    [Theory]
    [InlineData("announcing from node \"node-1\" with protocol \"bgp\"", "node-1", "bgp")]
    [InlineData("announcing from node \"node-1\"", "node-1", null)]
    [InlineData("node-1", "node-1", null)]
    public void A_nodeAssigned_message_gives_its_node_and_protocol(string message, string node, string? protocol) =>
        Assert.Equal((node, protocol), LbServices.Announcement(message));

    [Fact]
    public async Task ServicesShowTheirPoolsWhyTheyArePendingAndWhoAnnounces()
    {
        SeedCluster();
        using var kube = Connect();
        var live = await LbServices.FindConfigAsync(kube, Ns, null, default);
        Assert.Equal("metallb-config", live.Name);
        var services = (await LbServices.ListAsync(kube, null, live, default)).ToDictionary(s => s.Name);
        Assert.Equal(new[] { "api", "db", "web" }, services.Keys.Order());
        Assert.Equal(new[] { "default" }, services["web"].Pools);
        Assert.Equal("node-2", services["web"].AnnouncingNode);
        Assert.Equal(new[] { "node-2" }, services["web"].AnnouncingNodes);
        Assert.Null(services["web"].Protocol);
        Assert.Equal("bgp", services["api"].Protocol);
        Assert.Equal(new[] { "node-1", "node-3" }, services["api"].AnnouncingNodes);
        Assert.Equal(new[] { "routed" }, services["api"].Pools);
        Assert.Equal("routed", services["api"].RequestedPool);
        Assert.True(services["db"].Pending);
        Assert.Equal(new[] { "203.0.113.9" }, services["db"].RequestedIPs);
        Assert.Contains("is not allowed in config", services["db"].PendingReason);
    }

    [Fact]
    public async Task AConfigChangeThatDropsAnAddressInUseIsFlagged()
    {
        SeedCluster();
        using var kube = Connect();
        var live = await LbServices.FindConfigAsync(kube, Ns, null, default);
        var services = await LbServices.ListAsync(kube, null, live, default);
        var proposed = live.Config.Clone();
        ConfigChanges.SetPool(proposed, "default", new PoolChange { Addresses = new() { "192.0.2.14-192.0.2.20" } });
        ConfigChanges.RemovePool(proposed, "routed");
        ConfigChanges.SetPool(proposed, "v6", new PoolChange { Addresses = new() { "2001:db8::/120" } });
        var changes = ConfigChangePrediction.Compare(live.Config, proposed, services);
        Assert.Contains(changes, c => c.Kind == ConfigChange.PoolAdded && c.Name == "v6");
        Assert.Contains(changes, c => c.Kind == ConfigChange.PoolRemoved && c.Name == "routed");
        Assert.Contains(changes, c => c.Kind == ConfigChange.PoolChanged && c.Name == "default" && c.Detail.Contains("-192.0.2.10-192.0.2.20"));
        var breaks = changes.Where(c => c.Kind == ConfigChange.ServiceBreaks).Select(c => c.Name).Order().ToList();
        Assert.Equal(new[] { "shop/api", "shop/web" }, breaks);
    }

    [Fact]
    public async Task TheConfigMapCanBeNamedAndAMissingOneIsClear()
    {
        SeedCluster();
        using var kube = Connect();
        Assert.Equal("metallb-config", (await LbServices.FindConfigAsync(kube, Ns, "metallb-config", default)).Name);
        var e = await Assert.ThrowsAsync<LbException>(() => LbServices.FindConfigAsync(kube, Ns, "config", default));
        Assert.Equal(ErrorId.MetalLbConfigMapNotFound, e.Id);
        var none = await Assert.ThrowsAsync<LbException>(() => LbServices.FindConfigAsync(kube, "shop", null, default));
        Assert.Equal(ErrorId.MetalLbConfigMapNotFound, none.Id);
    }
}
