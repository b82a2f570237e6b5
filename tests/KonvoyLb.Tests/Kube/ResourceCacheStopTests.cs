using System.Runtime.CompilerServices;
using k8s;
using k8s.Models;
using KonvoyLb.Engine.Kube;
using KonvoyLb.KubeApi;
using Microsoft.Extensions.Time.Testing;
using static KonvoyLb.Tests.Kube.KubeTestKit;

namespace KonvoyLb.Tests.Kube;

/// <summary>Alone (no other test runs meanwhile), so an unobserved task exception can be traced to the cache.</summary>
[CollectionDefinition(nameof(ResourceCacheStopTests), DisableParallelization = true)]
public sealed class ResourceCacheStopCollection;

[Collection(nameof(ResourceCacheStopTests))]
public sealed class ResourceCacheStopTests
{
    [Fact]
    public async Task CancellationStopsTheCacheCleanlyWhileWatchingListingOrBackingOff()
    {
        var unobserved = new List<Exception>();
        void Record(object? _, UnobservedTaskExceptionEventArgs e) { lock (unobserved) unobserved.Add(e.Exception); }
        TaskScheduler.UnobservedTaskException += Record;
        try
        {
            await using var kube = await FakeKubeApi.StartAsync();
            using var client = Client(kube);
            kube.Put("v1", "configmaps", "demo", new { metadata = new { name = "a" } });

            // Watching.
            await StopsAtOnce(client, async cache =>
            {
                await cache.WaitForSyncAsync(default);
                await Eventually(() => Task.FromResult(kube.OpenWatches), n => n == 1, TimeSpan.FromSeconds(10), "the watch");
            });
            await Eventually(() => Task.FromResult(kube.OpenWatches), n => n == 0, TimeSpan.FromSeconds(10), "the watch to close");

            // Backing off (on a clock that never moves).
            kube.Faults.Outage = true;
            await StopsAtOnce(client, cache => Eventually(() => Task.FromResult(cache.Backoffs), n => n == 1, TimeSpan.FromSeconds(10), "the back-off"),
                new FakeTimeProvider());
            kube.Faults.Outage = false;

            // Listing (the server takes its time to answer).
            kube.Faults.Latency = TimeSpan.FromSeconds(30);
            await StopsAtOnce(client, _ => Eventually(() => Task.FromResult(kube.RequestLog.Count(r => r.Contains("/configmaps"))), n => n >= 3, TimeSpan.FromSeconds(10), "the list"));
            kube.Faults.Latency = TimeSpan.Zero;
        }
        finally
        {
            for (var i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                await Task.Delay(50);
            }
            TaskScheduler.UnobservedTaskException -= Record;
        }
        lock (unobserved) Assert.True(unobserved.Count == 0, string.Join("\n\n", unobserved));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static async Task StopsAtOnce(Kubernetes client, Func<ResourceCache<V1ConfigMap>, Task> until, TimeProvider? time = null)
    {
        var cache = ResourceCaches.ConfigMaps(client, "demo", options: new ResourceCacheOptions { Time = time ?? TimeProvider.System });
        using var stop = new CancellationTokenSource();
        var run = cache.RunAsync(stop.Token);
        await until(cache);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        stop.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(run.IsCompletedSuccessfully, run.Exception?.ToString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed} to stop");
        while (cache.Changes.TryRead(out _)) { }
        await cache.Changes.Completion.WaitAsync(TimeSpan.FromSeconds(1));
        Assert.True(time is not null || cache.Errors == 0, $"stopping counted as a failure: {cache.LastError}");
    }
}
