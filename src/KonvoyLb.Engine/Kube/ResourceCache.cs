using System.Collections.Immutable;
using System.Net;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace KonvoyLb.Engine.Kube;

/// <summary>What happened to one object of a <see cref="ResourceCache{T}"/>.</summary>
public enum CacheChangeKind
{
    /// <summary>The object is new to the snapshot (watched ADDED, or found by a list).</summary>
    Added,
    /// <summary>The object changed; <see cref="CacheChange{T}.Previous"/> is the state it had.</summary>
    Modified,
    /// <summary>The object is gone (watched DELETED, or missing from a re-list); <see cref="CacheChange{T}.Object"/> is its last known state.</summary>
    Deleted,
    /// <summary>Nothing changed: the periodic resync hands the object out again so consumers can reconcile.</summary>
    Resync,
}

/// <summary>One change notification: the object's key (namespace/name, or name for cluster-scoped kinds) and its states.</summary>
public sealed record CacheChange<T>(CacheChangeKind Kind, string Key, T Object, T? Previous) where T : class;

/// <summary>A list answer: the items and the resourceVersion to watch from.</summary>
public sealed record CacheList<T>(IReadOnlyList<T> Items, string? ResourceVersion);

/// <summary>Lists every object the cache holds (one request; the selector is the function's business).</summary>
public delegate Task<CacheList<T>> CacheListFunc<T>(CancellationToken cancel);

/// <summary>
/// Opens a watch from <paramref name="resourceVersion"/> with allowWatchBookmarks=true and the given server-side timeout,
/// reporting in-stream failures (an ERROR event's Status, an undecodable line) through <paramref name="onError"/>,
/// as KubernetesClient's generated WatchList…Async methods do.
/// </summary>
public delegate IAsyncEnumerable<(WatchEventType Type, T Object)> CacheWatchFunc<T>(string resourceVersion, int timeoutSeconds,
    Action<Exception> onError, CancellationToken cancel);

/// <summary>How a <see cref="ResourceCache{T}"/> paces itself. Every default suits a long-running controller.</summary>
public sealed class ResourceCacheOptions
{
    /// <summary>The clock for back-off delays, the resync period and watch durations.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The first delay after a failure; it doubles with each further failure in a row.</summary>
    public TimeSpan BackoffInitial { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest delay between two attempts.</summary>
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Random spread (0..1): a back-off delay is shortened by up to this fraction, a watch timeout lengthened by up to it,
    /// so many caches started together do not hit the API server in step.
    /// </summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>The watch's server-side timeout (timeoutSeconds): the server ends the watch then and the cache resumes it.</summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the whole snapshot is handed out again as <see cref="CacheChangeKind.Resync"/>; null never.</summary>
    public TimeSpan? ResyncPeriod { get; init; }

    /// <summary>A watch that ends cleanly without a single event sooner than this (and sooner than half its timeout) is treated as a failure (back-off), not a server timeout.</summary>
    public TimeSpan MinWatchDuration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The random source of the jitter (tests may fix it).</summary>
    public Random Random { get; init; } = Random.Shared;
}

/// <summary>
/// An informer-style cache of one kind: lists once, then watches from the list's resourceVersion (with bookmarks), and
/// keeps an in-memory snapshot keyed by namespace/name. A watch that ends is resumed from the last resourceVersion seen;
/// 410 Gone (an HTTP status or a watch ERROR event) is answered with a fresh list whose difference to the snapshot
/// (adds, updates and deletes) is delivered, so no deletion is ever missed; any other failure is retried after a capped,
/// jittered exponential back-off that resets after a success. Changes go out on <see cref="Changes"/> in the order they
/// were applied. <see cref="RunAsync"/> only ends by cancellation; failures are counted and kept in <see cref="LastError"/>.
/// </summary>
public sealed class ResourceCache<T> where T : class, IKubernetesObject<V1ObjectMeta>
{
    readonly CacheListFunc<T> _list;
    readonly CacheWatchFunc<T> _watch;
    readonly ResourceCacheOptions _options;
    readonly object _gate = new();
    readonly Channel<CacheChange<T>> _changes = Channel.CreateUnbounded<CacheChange<T>>(new UnboundedChannelOptions { SingleWriter = true });
    readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    ImmutableDictionary<string, T> _snapshot = ImmutableDictionary<string, T>.Empty.WithComparers(StringComparer.Ordinal);
    string? _resourceVersion;
    bool _listNeeded = true;
    int _started, _failuresInRow;
    long _lists, _relists, _watches, _resumes, _errors, _resyncs, _backoffs;
    Exception? _lastError;

    public ResourceCache(CacheListFunc<T> list, CacheWatchFunc<T> watch, ResourceCacheOptions? options = null)
    {
        _list = list;
        _watch = watch;
        _options = options ?? new ResourceCacheOptions();
    }

    /// <summary>Change notifications, in order. Completes when <see cref="RunAsync"/> ends.</summary>
    public ChannelReader<CacheChange<T>> Changes => _changes.Reader;

    /// <summary>The objects as last seen, keyed by <see cref="KeyOf"/>; an immutable view, safe to hold and read from any thread.</summary>
    public IReadOnlyDictionary<string, T> Snapshot { get { lock (_gate) return _snapshot; } }

    /// <summary>The resourceVersion the next watch starts from.</summary>
    public string? ResourceVersion { get { lock (_gate) return _resourceVersion; } }

    /// <summary>True once the snapshot holds a complete list (or a seed).</summary>
    public bool HasSynced => _synced.Task.IsCompleted;

    /// <summary>List requests made (the first one and every re-list).</summary>
    public long Lists => Interlocked.Read(ref _lists);

    /// <summary>Re-lists made because the resourceVersion expired (410 Gone).</summary>
    public long Relists => Interlocked.Read(ref _relists);

    /// <summary>Watch requests made.</summary>
    public long Watches => Interlocked.Read(ref _watches);

    /// <summary>Watches resumed from the last resourceVersion after they ended (server timeout, dropped connection).</summary>
    public long Resumes => Interlocked.Read(ref _resumes);

    /// <summary>Failed list or watch attempts (410 Gone is not counted: it is answered by a re-list).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Periodic resyncs delivered.</summary>
    public long Resyncs => Interlocked.Read(ref _resyncs);

    /// <summary>The latest failure, or null.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>Failures since the last success (what the current back-off grew from).</summary>
    public int FailuresInRow => Volatile.Read(ref _failuresInRow);

    /// <summary>Back-off waits begun (each after its delay is set in <see cref="LastBackoff"/> and its timer started).</summary>
    public long Backoffs => Interlocked.Read(ref _backoffs);

    /// <summary>The delay of the latest back-off.</summary>
    public TimeSpan LastBackoff { get; private set; }

    /// <summary>Raised on the cache's loop for every counted failure, before it backs off. Handlers must be quick; what they throw is ignored.</summary>
    public event Action<Exception>? Failed;

    /// <summary>The snapshot key of an object: namespace/name, or the name of a cluster-scoped one.</summary>
    public static string KeyOf(T obj) => KeyOf(obj.Metadata?.NamespaceProperty, obj.Metadata?.Name ?? "");

    public static string KeyOf(string? ns, string name) => string.IsNullOrEmpty(ns) ? name : ns + "/" + name;

    /// <summary>One object by namespace (null for cluster-scoped kinds) and name, or null.</summary>
    public T? Get(string? ns, string name) => Snapshot.TryGetValue(KeyOf(ns, name), out var o) ? o : null;

    /// <summary>Resolves when the cache has synced; cancellable.</summary>
    public Task WaitForSyncAsync(CancellationToken cancel) => _synced.Task.WaitAsync(cancel);

    /// <summary>
    /// Starts from what the caller already listed (no first list request): the snapshot is <paramref name="items"/> and the
    /// watch starts at <paramref name="resourceVersion"/>. Only before <see cref="RunAsync"/>; no notifications for the seed.
    /// </summary>
    public void Seed(IEnumerable<T> items, string resourceVersion)
    {
        if (Volatile.Read(ref _started) != 0) throw new InvalidOperationException("seed the cache before running it");
        lock (_gate)
        {
            _snapshot = _snapshot.Clear().SetItems(items.Select(i => KeyValuePair.Create(KeyOf(i), i)));
            _resourceVersion = resourceVersion;
            _listNeeded = false;
        }
        _synced.TrySetResult();
    }

    /// <summary>Lists and watches until <paramref name="cancel"/> fires, then completes normally and completes <see cref="Changes"/>. Runs once.</summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException("the cache is already running");
        var resync = _options.ResyncPeriod is { } period && period > TimeSpan.Zero ? ResyncLoopAsync(period, cancel) : Task.CompletedTask;
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                try
                {
                    if (_listNeeded) await ListAsync(cancel).ConfigureAwait(false);
                    if (!await WatchAsync(cancel).ConfigureAwait(false)) await BackoffAsync(cancel).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested) { }
                catch (Exception e) when (IsGone(e))
                {
                    // The version we watch from is compacted away: only a fresh list can tell what changed meanwhile.
                    lock (_gate) _listNeeded = true;
                }
                catch (Exception e)
                {
                    Fail(e);
                    try { await BackoffAsync(cancel).ConfigureAwait(false); }
                    catch (OperationCanceledException) when (cancel.IsCancellationRequested) { }
                }
            }
        }
        finally
        {
            await resync.ConfigureAwait(false);
            _changes.Writer.TryComplete();
        }
    }

    async Task ListAsync(CancellationToken cancel)
    {
        bool relist = HasSynced;
        Interlocked.Increment(ref _lists);
        if (relist) Interlocked.Increment(ref _relists);
        var list = await _list(cancel).ConfigureAwait(false);
        lock (_gate)
        {
            var old = _snapshot;
            var next = old.Clear().ToBuilder();
            foreach (var item in list.Items) next[KeyOf(item)] = item;
            foreach (var (key, item) in next)
            {
                if (!old.TryGetValue(key, out var before)) Emit(CacheChangeKind.Added, key, item, null);
                else if (before.Metadata?.ResourceVersion != item.Metadata?.ResourceVersion) Emit(CacheChangeKind.Modified, key, item, before);
            }
            foreach (var (key, item) in old)
                if (!next.ContainsKey(key)) Emit(CacheChangeKind.Deleted, key, item, null);
            _snapshot = next.ToImmutable();
            _resourceVersion = list.ResourceVersion;
            _listNeeded = false;
        }
        Succeeded();
        _synced.TrySetResult();
    }

    /// <summary>One watch, to its end. True when it ended in good health (resume at once); false to back off first.</summary>
    async Task<bool> WatchAsync(CancellationToken cancel)
    {
        Exception? streamError = null;
        bool any = false;
        var opened = _options.Time.GetTimestamp();
        var timeout = (int)Math.Max(1, _options.WatchTimeout.TotalSeconds * (1 + _options.Jitter * _options.Random.NextDouble()));
        Interlocked.Increment(ref _watches);
        try
        {
            await foreach (var (type, obj) in _watch(ResourceVersion ?? "", timeout, e => streamError ??= e, cancel).ConfigureAwait(false))
            {
                if (type == WatchEventType.Error) streamError ??= new KubernetesException($"watch ERROR event: {obj?.Metadata?.Name}");
                if (streamError is not null) break;
                if (obj?.Metadata is null) continue;
                if (!any) { any = true; Succeeded(); }
                Apply(type, obj);
            }
        }
        catch (HttpRequestException e) when (!any && e.InnerException is EndOfStreamException)
        {
            // KubernetesClient peeks at a watch's first line; a watch the server ends at its timeout without sending
            // one (nothing changed) surfaces as this exception. It is a normal end: resume from the same version.
        }
        if (streamError is not null) throw streamError;
        Interlocked.Increment(ref _resumes);
        // A server ends a watch at its timeoutSeconds, give or take its own rounding: only a watch that ends well before
        // that (and before MinWatchDuration) without a single event is a failure worth a back-off.
        var healthy = TimeSpan.FromTicks(Math.Min(_options.MinWatchDuration.Ticks, TimeSpan.FromSeconds(timeout).Ticks / 2));
        if (any || _options.Time.GetElapsedTime(opened) >= healthy) return true;
        Fail(new IOException($"the watch from resourceVersion {ResourceVersion} ended at once without an event"));
        return false;
    }

    void Apply(WatchEventType type, T obj)
    {
        var key = KeyOf(obj);
        lock (_gate)
        {
            if (obj.Metadata.ResourceVersion is { Length: > 0 } rv) _resourceVersion = rv;
            if (type == WatchEventType.Bookmark) return;
            _snapshot.TryGetValue(key, out var before);
            if (type == WatchEventType.Deleted)
            {
                _snapshot = _snapshot.Remove(key);
                Emit(CacheChangeKind.Deleted, key, obj, null);
                return;
            }
            _snapshot = _snapshot.SetItem(key, obj);
            Emit(before is null ? CacheChangeKind.Added : CacheChangeKind.Modified, key, obj, before);
        }
    }

    /// <summary>Under the lock, so notifications keep the order in which the snapshot changed.</summary>
    void Emit(CacheChangeKind kind, string key, T obj, T? previous) => _changes.Writer.TryWrite(new CacheChange<T>(kind, key, obj, previous));

    async Task ResyncLoopAsync(TimeSpan period, CancellationToken cancel)
    {
        try
        {
            using var timer = new PeriodicTimer(period, _options.Time);
            while (await timer.WaitForNextTickAsync(cancel).ConfigureAwait(false))
            {
                if (!HasSynced) continue;
                lock (_gate)
                    foreach (var (key, item) in _snapshot) Emit(CacheChangeKind.Resync, key, item, item);
                Interlocked.Increment(ref _resyncs);
            }
        }
        catch (OperationCanceledException) { }
    }

    void Succeeded()
    {
        Volatile.Write(ref _failuresInRow, 0);
    }

    void Fail(Exception e)
    {
        Interlocked.Increment(ref _errors);
        Interlocked.Increment(ref _failuresInRow);
        Volatile.Write(ref _lastError, e);
        try { Failed?.Invoke(e); }
        catch (Exception) { /* a consumer's handler must not stop the cache */ }
    }

    Task BackoffAsync(CancellationToken cancel)
    {
        var n = Math.Max(1, FailuresInRow);
        var grown = _options.BackoffInitial.TotalMilliseconds * Math.Pow(2, Math.Min(n - 1, 30));
        var capped = Math.Min(grown, _options.BackoffMax.TotalMilliseconds);
        LastBackoff = TimeSpan.FromMilliseconds(capped * (1 - _options.Jitter * _options.Random.NextDouble()));
        var wait = Task.Delay(LastBackoff, _options.Time, cancel);
        Interlocked.Increment(ref _backoffs);
        return wait;
    }

    /// <summary>410 Gone, as the HTTP status of a list or watch, or as the Status of a watch ERROR event.</summary>
    public static bool IsGone(Exception e) => e switch
    {
        HttpOperationException h => h.Response?.StatusCode == HttpStatusCode.Gone,
        KubernetesException k => k.Status?.Code == 410,
        _ => false,
    };
}
