using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using KonvoyLb.Engine.Kube;
using KonvoyLb.KubeApi;
using Microsoft.Extensions.Time.Testing;
using static KonvoyLb.Tests.Kube.KubeTestKit;

namespace KonvoyLb.Tests.Kube;

/// <summary>ResourceCache against the fake API server over real HTTP: list, watch, bookmarks, 410 Gone, outages, selectors, stop.</summary>
public sealed class ResourceCacheTests : IAsyncLifetime
{
    const string Ns = "demo";
    const string ConfigMapsPath = "/api/v1/namespaces/demo/configmaps";
    FakeKubeApi _kube = null!;
    Kubernetes _client = null!;

    public Task InitializeAsync() => Start(new FakeKubeOptions());

    async Task Start(FakeKubeOptions options)
    {
        if (_kube is not null) await DisposeAsync();
        _kube = await FakeKubeApi.StartAsync(options);
        _client = Client(_kube);
        _kube.AddNamespace(Ns);
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        await _kube.DisposeAsync();
    }

    void PutConfigMap(string name, string value, string ns = Ns) =>
        _kube.Put("v1", "configmaps", ns, new { metadata = new { name }, data = new Dictionary<string, string> { ["key"] = value } });

    Task Patch(string name, string value) =>
        _client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("{\"data\":{\"key\":\"" + value + "\"}}", V1Patch.PatchType.MergePatch), name, Ns);

    int Requests(string path, bool watch) =>
        _kube.RequestLog.Count(r => r.StartsWith("GET " + path + "?", StringComparison.Ordinal) && r.Contains("watch=true") == watch);

    static string Describe<T>(CacheChange<T> c) where T : class => $"{c.Kind} {c.Key}";

    static async Task<CacheChange<T>> Next<T>(ResourceCache<T> cache) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { return await cache.Changes.ReadAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException("no change notification within 10 s"); }
    }

    static async Task<List<string>> Take<T>(ResourceCache<T> cache, int count) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var seen = new List<string>();
        for (var i = 0; i < count; i++) seen.Add(Describe(await Next(cache)));
        return seen;
    }

    static async Task NothingMore<T>(ResourceCache<T> cache) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        await Task.Delay(300);
        Assert.False(cache.Changes.TryRead(out var extra), extra is null ? "" : $"unexpected {Describe(extra)}");
    }

    static Task Until(Func<bool> condition, string what) =>
        Eventually(() => Task.FromResult(condition()), ok => ok, TimeSpan.FromSeconds(10), what);

    [Fact]
    public async Task TheFirstListSyncsTheSnapshotAndAnnouncesEveryObjectThenTheWatchStartsFromItsVersion()
    {
        PutConfigMap("a", "1");
        PutConfigMap("b", "1");
        PutConfigMap("elsewhere", "1", ns: "other");
        var cache = ResourceCaches.ConfigMaps(_client, Ns);
        Assert.False(cache.HasSynced);
        await using var run = Run(cache);
        await cache.WaitForSyncAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);

        Assert.True(cache.HasSynced);
        Assert.Equal(["demo/a", "demo/b"], cache.Snapshot.Keys.Order());
        Assert.Equal("1", cache.Get(Ns, "a")!.Data["key"]);
        Assert.Equal(["Added demo/a", "Added demo/b"], (await Take(cache, 2)).Order());
        var listed = cache.ResourceVersion;
        Assert.Equal(_kube.ResourceVersion.ToString(), listed);
        await Until(() => Requests(ConfigMapsPath, watch: true) == 1, "the watch");
        var watch = _kube.RequestLog.Single(r => r.Contains("watch=true"));
        Assert.Contains($"resourceVersion={listed}", watch);
        Assert.Contains("allowWatchBookmarks=true", watch);
        Assert.Equal(1, cache.Lists);
        Assert.Equal(0, cache.Errors);
    }

    [Fact]
    public async Task AddsUpdatesAndDeletesArriveInOrderWithThePreviousState()
    {
        PutConfigMap("a", "1");
        var cache = ResourceCaches.ConfigMaps(_client, Ns);
        await using var run = Run(cache);
        Assert.Equal(["Added demo/a"], await Take(cache, 1));
        await Until(() => _kube.OpenWatches == 1, "the watch");

        await _client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new() { Name = "c" }, Data = new Dictionary<string, string> { ["key"] = "1" } }, Ns);
        await Patch("c", "2");
        await Patch("a", "2");
        await _client.CoreV1.DeleteNamespacedConfigMapAsync("c", Ns);

        var changes = new List<CacheChange<V1ConfigMap>>();
        for (var i = 0; i < 4; i++) changes.Add(await Next(cache));
        Assert.Equal(["Added demo/c", "Modified demo/c", "Modified demo/a", "Deleted demo/c"], changes.Select(Describe));
        Assert.Equal("1", changes[1].Previous!.Data["key"]);
        Assert.Equal("2", changes[1].Object.Data["key"]);
        Assert.Equal("2", changes[3].Object.Data["key"]);
        Assert.Equal(["demo/a"], cache.Snapshot.Keys);
        Assert.Equal("2", cache.Get(Ns, "a")!.Data["key"]);
        Assert.Equal(_kube.ResourceVersion.ToString(), cache.ResourceVersion);
        await NothingMore(cache);
    }

    [Fact]
    public async Task ABookmarkMovesTheResourceVersionSilentlyAndTheNextWatchStartsThere()
    {
        await Start(new FakeKubeOptions { BookmarkInterval = TimeSpan.FromMilliseconds(100) });
        PutConfigMap("a", "1");
        var cache = ResourceCaches.ConfigMaps(_client, Ns);
        await using var run = Run(cache);
        await Take(cache, 1);
        var listed = long.Parse(cache.ResourceVersion!);

        // Changes elsewhere move the global revision; only a bookmark can tell this watch about it.
        PutConfigMap("x", "1", ns: "other");
        PutConfigMap("y", "1", ns: "other");
        var now = _kube.ResourceVersion;
        Assert.True(now > listed);
        await Until(() => cache.ResourceVersion == now.ToString(), "the bookmark's version");
        await NothingMore(cache);

        _kube.Faults.DropWatches(abort: false);
        await Until(() => Requests(ConfigMapsPath, watch: true) >= 2, "the resumed watch");
        Assert.Contains($"resourceVersion={now}", _kube.RequestLog.Last(r => r.Contains("watch=true")));
        Assert.Equal(1, cache.Lists);
        Assert.Equal(0, cache.Errors);
    }

    [Fact]
    public async Task AServerTimeoutIsResumedFromTheLastVersionWithoutARelist()
    {
        await Start(new FakeKubeOptions { BookmarkInterval = TimeSpan.FromHours(1) });
        PutConfigMap("a", "1");
        var cache = ResourceCaches.ConfigMaps(_client, Ns, options: new ResourceCacheOptions { WatchTimeout = TimeSpan.FromSeconds(1), Jitter = 0 });
        await using var run = Run(cache);
        await Take(cache, 1);
        await Until(() => cache.Watches >= 3, "two resumed watches");

        Assert.Equal(1, cache.Lists);
        Assert.Equal(1, Requests(ConfigMapsPath, watch: false));
        Assert.True(cache.Errors == 0, cache.LastError?.ToString());
        Assert.True(cache.Resumes >= 2);
        Assert.All(_kube.RequestLog.Where(r => r.Contains("watch=true")), r => Assert.Contains("timeoutSeconds=1", r));
        PutConfigMap("b", "1");
        Assert.Equal(["Added demo/b"], await Take(cache, 1));
    }

    [Fact]
    public async Task AnExpiredVersionAfterAGapIsRelistedAndTheGapsDeletionIsDelivered()
    {
        var time = new FakeTimeProvider();
        PutConfigMap("a", "1");
        PutConfigMap("b", "1");
        PutConfigMap("c", "1");
        var cache = ResourceCaches.ConfigMaps(_client, Ns, options: new ResourceCacheOptions { Time = time, BackoffInitial = TimeSpan.FromSeconds(1), Jitter = 0 });
        await using var run = Run(cache);
        await Take(cache, 3);
        await Until(() => _kube.OpenWatches == 1, "the watch");

        // The API goes away; while the cache waits to retry, b is deleted, c changed, d added, and etcd compacts.
        _kube.Faults.Outage = true;
        await Until(() => cache.Backoffs == 1, "the back-off after the cut watch");
        _kube.Faults.Outage = false;
        _kube.Remove("v1", "configmaps", Ns, "b");
        await Patch("c", "2");
        PutConfigMap("d", "1");
        _kube.CompactHistory();
        time.Advance(TimeSpan.FromSeconds(1));

        // The watch from the old version gets an ERROR event with a 410 Expired Status; the fresh list shows the gap.
        var changes = new List<CacheChange<V1ConfigMap>>();
        for (var i = 0; i < 3; i++) changes.Add(await Next(cache));
        Assert.Equal(["Added demo/d", "Deleted demo/b", "Modified demo/c"], changes.Select(Describe).Order());
        var deleted = changes.Single(c => c.Kind == CacheChangeKind.Deleted);
        Assert.Equal("1", deleted.Object.Data["key"]); // its last known state
        Assert.Equal("1", changes.Single(c => c.Kind == CacheChangeKind.Modified).Previous!.Data["key"]);
        Assert.Equal(["demo/a", "demo/c", "demo/d"], cache.Snapshot.Keys.Order());
        Assert.Equal(1, cache.Relists);
        Assert.Equal(2, cache.Lists);
        Assert.Equal(1, cache.Errors); // the cut; the 410 is answered, not counted
        Assert.Equal(_kube.ResourceVersion.ToString(), cache.ResourceVersion);
        await NothingMore(cache);
        await Until(() => _kube.OpenWatches == 1, "the watch from the fresh list");
    }

    [Fact]
    public async Task A410StatusOnTheWatchRequestIsRelistedToo()
    {
        var time = new FakeTimeProvider();
        PutConfigMap("a", "1");
        PutConfigMap("b", "1");
        var cache = ResourceCaches.ConfigMaps(_client, Ns, options: new ResourceCacheOptions { Time = time, BackoffInitial = TimeSpan.FromSeconds(1), Jitter = 0 });
        await using var run = Run(cache);
        await Take(cache, 2);
        await Until(() => _kube.OpenWatches == 1, "the watch");

        _kube.Faults.FailNext(1, 410, verb: "watch");
        _kube.Faults.DropWatches(abort: true);
        await Until(() => cache.Backoffs == 1, "the back-off after the cut watch");
        _kube.Remove("v1", "configmaps", Ns, "a");
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(["Deleted demo/a"], await Take(cache, 1));
        Assert.Equal(1, cache.Relists);
        Assert.Equal(2, Requests(ConfigMapsPath, watch: false));
        await Until(() => _kube.OpenWatches == 1, "the watch from the fresh list");
    }

    [Fact]
    public async Task AnApiOutageIsRetriedWithAGrowingCappedBackoffNotATightLoopAndRecovers()
    {
        var time = new FakeTimeProvider();
        PutConfigMap("a", "1");
        var cache = ResourceCaches.ConfigMaps(_client, Ns, options: new ResourceCacheOptions
        {
            Time = time, BackoffInitial = TimeSpan.FromSeconds(1), BackoffMax = TimeSpan.FromSeconds(8), Jitter = 0,
        });
        var failures = new List<Exception>();
        cache.Failed += e => { lock (failures) failures.Add(e); };
        _kube.Faults.Outage = true;
        await using var run = Run(cache);

        var expected = new[] { 1, 2, 4, 8, 8 };
        for (var i = 0; i < expected.Length; i++)
        {
            await Until(() => cache.Backoffs == i + 1, $"back-off {i + 1}");
            Assert.Equal(TimeSpan.FromSeconds(expected[i]), cache.LastBackoff);
            Assert.Equal(i + 1, Requests(ConfigMapsPath, watch: false));
            // Just short of the delay nothing is asked; at the delay exactly one more attempt is made.
            time.Advance(TimeSpan.FromSeconds(expected[i]) - TimeSpan.FromMilliseconds(1));
            await Task.Delay(150);
            Assert.Equal(i + 1, Requests(ConfigMapsPath, watch: false));
            if (i < expected.Length - 1) time.Advance(TimeSpan.FromMilliseconds(1));
        }
        Assert.False(cache.HasSynced);
        Assert.Equal(5, cache.Errors);
        Assert.Equal(5, cache.FailuresInRow);
        Assert.True(cache.LastError is IOException or HttpRequestException, cache.LastError?.ToString());
        lock (failures) Assert.Equal(5, failures.Count);

        _kube.Faults.Outage = false;
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(["Added demo/a"], await Take(cache, 1));
        Assert.True(cache.HasSynced);
        Assert.Equal(0, cache.FailuresInRow);
        await Until(() => _kube.OpenWatches == 1, "the watch");

        // After a success the back-off starts small again; a 5xx on the watch counts like a cut connection.
        _kube.Faults.FailNext(1, 503, verb: "watch");
        _kube.Faults.DropWatches(abort: true);
        await Until(() => cache.Backoffs == 6, "the back-off after the cut watch");
        Assert.Equal(TimeSpan.FromSeconds(1), cache.LastBackoff);
        time.Advance(TimeSpan.FromSeconds(1));
        await Until(() => cache.Backoffs == 7, "the back-off after the 503");
        Assert.Equal(TimeSpan.FromSeconds(2), cache.LastBackoff);
        time.Advance(TimeSpan.FromSeconds(2));
        await Until(() => _kube.OpenWatches == 1, "the resumed watch");
        Assert.Equal(1, Requests(ConfigMapsPath, watch: false) - 5); // resumed from its version: no re-list
        PutConfigMap("b", "1");
        Assert.Equal(["Added demo/b"], await Take(cache, 1));
    }

    [Fact]
    public async Task ALabelSelectorKeepsOnlyMatchingObjectsAndOneLeavingItIsDeleted()
    {
        object Pod(string name, string app) => new
        {
            metadata = new { name, labels = new Dictionary<string, string> { ["app"] = app } },
            spec = new { containers = new[] { new { name = "c", image = "busybox" } } },
        };
        _kube.Put("v1", "pods", Ns, Pod("web-1", "web"));
        _kube.Put("v1", "pods", Ns, Pod("db-1", "db"));
        _kube.Put("v1", "pods", "other", Pod("web-2", "web"));
        var here = ResourceCaches.Pods(_client, Ns, labelSelector: "app=web");
        var everywhere = ResourceCaches.Pods(_client, null, labelSelector: "app=web");
        await using var run1 = Run(here);
        await using var run2 = Run(everywhere);
        Assert.Equal(["Added demo/web-1"], await Take(here, 1));
        Assert.Equal(["Added demo/web-1", "Added other/web-2"], (await Take(everywhere, 2)).Order());
        await Until(() => _kube.OpenWatches == 2, "the watches");
        Assert.Contains(_kube.RequestLog, r => r.StartsWith("GET /api/v1/pods?", StringComparison.Ordinal) && r.Contains("labelSelector=app%3Dweb"));

        await _client.CoreV1.PatchNamespacedPodAsync(new V1Patch("""{"metadata":{"labels":{"app":"db"}}}""", V1Patch.PatchType.MergePatch), "web-1", Ns);
        await _client.CoreV1.PatchNamespacedPodAsync(new V1Patch("""{"metadata":{"labels":{"app":"web"}}}""", V1Patch.PatchType.MergePatch), "db-1", Ns);
        Assert.Equal(["Deleted demo/web-1", "Added demo/db-1"], await Take(here, 2));
        Assert.Equal(["demo/db-1"], here.Snapshot.Keys);
        Assert.Equal(["Deleted demo/web-1", "Added demo/db-1"], await Take(everywhere, 2));
        Assert.Equal(["demo/db-1", "other/web-2"], everywhere.Snapshot.Keys.Order());
    }

    [Fact]
    public async Task APeriodicResyncHandsOutTheSnapshotAgain()
    {
        var time = new FakeTimeProvider();
        PutConfigMap("a", "1");
        PutConfigMap("b", "1");
        var cache = ResourceCaches.ConfigMaps(_client, Ns, options: new ResourceCacheOptions { Time = time, ResyncPeriod = TimeSpan.FromMinutes(1) });
        await using var run = Run(cache);
        await Take(cache, 2);
        await NothingMore(cache);
        time.Advance(TimeSpan.FromMinutes(1));
        var resync = new[] { await Next(cache), await Next(cache) };
        Assert.All(resync, c => Assert.Equal(CacheChangeKind.Resync, c.Kind));
        Assert.Equal(["demo/a", "demo/b"], resync.Select(c => c.Key).Order());
        Assert.Equal(1, cache.Resyncs);
        Assert.Equal(1, cache.Lists);
    }

    [Fact]
    public async Task ASeededCacheWatchesFromTheSeedWithoutListing()
    {
        PutConfigMap("a", "1");
        var listed = await _client.CoreV1.ListNamespacedConfigMapAsync(Ns);
        PutConfigMap("b", "1");
        var cache = ResourceCaches.ConfigMaps(_client, Ns);
        cache.Seed(listed.Items, listed.Metadata.ResourceVersion);
        Assert.True(cache.HasSynced);
        await using var run = Run(cache);
        Assert.Equal(["Added demo/b"], await Take(cache, 1)); // replayed from the seed's version
        Assert.Equal(["demo/a", "demo/b"], cache.Snapshot.Keys.Order());
        Assert.Equal(0, cache.Lists);
        Assert.Equal(1, Requests(ConfigMapsPath, watch: false)); // the test's own list
        Assert.Throws<InvalidOperationException>(() => cache.Seed([], "1"));
    }

    [Fact]
    public async Task EveryKindTheRuntimeWatchesHasAFactoryNamespacedAndClusterWide()
    {
        _kube.Put("v1", "services", Ns, new { metadata = new { name = "s" }, spec = new { ports = new[] { new { port = 80 } } } });
        _kube.Put("v1", "configmaps", Ns, new { metadata = new { name = "cm" } });
        _kube.Put("v1", "pods", Ns, new { metadata = new { name = "p" }, spec = new { containers = new[] { new { name = "c", image = "busybox" } } } });
        _kube.Put("discovery.k8s.io/v1", "endpointslices", Ns, new { metadata = new { name = "s-abc" }, addressType = "IPv4", endpoints = Array.Empty<object>() });
        _kube.Put("coordination.k8s.io/v1", "leases", Ns, new { metadata = new { name = "l" }, spec = new { holderIdentity = "node-1" } });
        _kube.AddNode("node-1");

        await Sees(ResourceCaches.Services(_client, Ns), "demo/s");
        await Sees(ResourceCaches.Services(_client, null, fieldSelector: "metadata.namespace=demo"), "demo/s");
        await Sees(ResourceCaches.ConfigMaps(_client, null, fieldSelector: "metadata.name=cm"), "demo/cm");
        await Sees(ResourceCaches.Pods(_client, Ns), "demo/p");
        await Sees(ResourceCaches.EndpointSlices(_client, Ns), "demo/s-abc");
        await Sees(ResourceCaches.EndpointSlices(_client, null), "demo/s-abc");
        await Sees(ResourceCaches.Leases(_client, Ns), "demo/l");
        await Sees(ResourceCaches.Leases(_client, null), "demo/l");
        await Sees(ResourceCaches.Nodes(_client), "node-1");
        var nodes = ResourceCaches.Nodes(_client, labelSelector: "kubernetes.io/hostname=node-2");
        await using (Run(nodes))
        {
            await nodes.WaitForSyncAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
            Assert.Empty(nodes.Snapshot);
            await Until(() => _kube.OpenWatches == 1, "the node watch");
            _kube.AddNode("node-2");
            Assert.Equal(["Added node-2"], await Take(nodes, 1));
            Assert.NotNull(nodes.Get(null, "node-2"));
        }
    }

    async Task Sees<T>(ResourceCache<T> cache, string key) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        await using var run = Run(cache);
        Assert.Equal([$"Added {key}"], await Take(cache, 1));
        Assert.Equal([key], cache.Snapshot.Keys);
        await Until(() => cache.Watches == 1, "the watch");
    }

    /// <summary>Starts the cache; disposing the handle stops it and checks that it ended cleanly within a few seconds.</summary>
    static CacheRun<T> Run<T>(ResourceCache<T> cache) where T : class, IKubernetesObject<V1ObjectMeta> => new(cache);
}

/// <summary>A running cache: disposing cancels it and checks that it stopped cleanly (no exception) and at once.</summary>
internal sealed class CacheRun<T> : IAsyncDisposable where T : class, IKubernetesObject<V1ObjectMeta>
{
    readonly CancellationTokenSource _stop = new();
    readonly ResourceCache<T> _cache;

    public CacheRun(ResourceCache<T> cache)
    {
        _cache = cache;
        Task = cache.RunAsync(_stop.Token);
    }

    public Task Task { get; }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(Task.IsCompletedSuccessfully, Task.Exception?.ToString());
        while (_cache.Changes.TryRead(out _)) { }
        Assert.True(_cache.Changes.Completion.IsCompleted, "the change channel is completed when the cache stops");
        _stop.Dispose();
    }
}
