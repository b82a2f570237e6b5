using System.Net;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Kube;
using KonvoyLb.Engine.Runtime.Observability;

namespace KonvoyLb.Engine.Runtime.Controller;

/// <summary>How a controller runs. Every default suits a cluster; tests shorten the timings.</summary>
public sealed class LbControllerOptions
{
    /// <summary>Where the MetalLB ConfigMap (and the leader Lease) is; null: the pod's namespace, else kubeaddons or metallb-system, whichever holds one.</summary>
    public string? Namespace { get; init; }
    /// <summary>The ConfigMap's name; null: the one in the namespace whose data.config holds a MetalLB configuration.</summary>
    public string? ConfigMapName { get; init; }
    public bool LeaderElection { get; init; }
    public string LeaseName { get; init; } = "metallb-controller";
    /// <summary>This replica's name in the Lease; default host name and process id.</summary>
    public string? Identity { get; init; }
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Status writes in flight at once (decisions stay one at a time).</summary>
    public int WriteConcurrency { get; init; } = 8;
    /// <summary>A status write that meets this many 409 Conflicts in a row waits a back-off before it tries again.</summary>
    public int ConflictRetries { get; init; } = 5;
    /// <summary>The longest wait before a failed status write is retried.</summary>
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long a clean stop waits for writes in flight and queued Events.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>False makes a stop behave like a killed process: the Lease is left to expire (for failover tests).</summary>
    public bool ReleaseLeaseOnStop { get; init; } = true;
    public TimeProvider Time { get; init; } = TimeProvider.System;
    public ResourceCacheOptions? CacheOptions { get; init; }
    /// <summary>How the controller finds its namespace when none is given and it is not in a pod.</summary>
    public IReadOnlyList<string> NamespaceCandidates { get; init; } = ["kubeaddons", "metallb-system"];
}

/// <summary>What a running controller reports (for /readyz, tests and the cmdlet).</summary>
public sealed record ControllerState(bool Ready, bool Leader, bool ConfigLoaded, bool ConfigStale, string Detail, string? Namespace, string? ConfigMap);

/// <summary>
/// The controller: gives each Service of type LoadBalancer its addresses, with MetalLB 0.9–0.12 semantics, and says
/// why whenever it does not. It reconciles rather than reacts: every change marks Services to look at, and one loop
/// recomputes each one's decision from the caches' snapshot with the pure <see cref="ServiceDecision"/>, writes the
/// difference to status (services/status, optimistic concurrency, 409 → re-read and decide again) and tells it in a
/// log line, an Event and the metrics. Before the first new allocation every held address is loaded (services with
/// addresses first), so a restart changes nothing. Nothing it meets makes it stop: failures become state.
/// </summary>
public sealed class LbController : IRuntimeComponent
{
    const string Component = "metallb-controller";

    abstract record Work;
    sealed record ServiceChanged(string Key) : Work;
    sealed record ConfigChanged : Work;
    sealed record WriteDone(string Key, int Term, WriteOutcome Outcome) : Work;
    sealed record Leadership(bool Leading) : Work;
    sealed record Retry(string Key) : Work;

    enum WriteResult { Ok, Conflict, Gone, Failed, Abandoned }
    sealed record WriteOutcome(WriteResult Result, V1Service? Fresh, Decision Decision, Exception? Error = null);

    readonly KubeConnection _kube;
    readonly IKubernetes _client;
    readonly LbControllerOptions _options;
    readonly RuntimeLog _log;
    readonly TimeProvider _time;
    readonly Channel<Work> _work = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    readonly Dictionary<string, Task> _inFlight = new(StringComparer.Ordinal);
    readonly HashSet<string> _redo = new(StringComparer.Ordinal);
    readonly Dictionary<string, (long Rv, string Ips)> _written = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> _conflicts = new(StringComparer.Ordinal), _failures = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> _lastEvent = new(StringComparer.Ordinal);
    readonly HashSet<string> _pending = new(StringComparer.Ordinal);
    readonly SemaphoreSlim _writeSlots;
    ResourceCache<V1Service>? _services;
    ResourceCache<V1ConfigMap>? _configMaps;
    EventRecorder? _events;
    Allocator? _allocator;
    CancellationTokenSource _term = new();
    MetalLbConfig? _inForce;
    string? _inForceText, _inForceSource, _staleText, _rejectedText;
    PoolSet? _stalePools;
    bool _leading, _firstPassDone, _configMissingSaid, _released;
    int _termId;
    volatile ControllerState _state;
    volatile bool _loopAlive = true;
    string? _namespace;

    public LbController(KubeConnection kube, LbControllerOptions options, RuntimeLog log, ControllerMetrics? metrics = null)
    {
        _kube = kube; _client = kube.Client; _options = options; _log = log; _time = options.Time;
        Metrics = metrics ?? new ControllerMetrics();
        _writeSlots = new SemaphoreSlim(Math.Max(1, options.WriteConcurrency));
        _state = new ControllerState(false, false, false, false, "starting", null, null);
    }

    public ControllerMetrics Metrics { get; }
    public Prometheus.CollectorRegistry Registry => Metrics.Registry;
    public ControllerState State => _state;
    public Readiness Readiness => new(_state.Ready, _state.Detail);
    public bool Alive => _loopAlive;
    public string Identity => _options.Identity ?? $"{Environment.MachineName}_{Environment.ProcessId}";

    /// <summary>Services of the snapshot without an address (for tests and the log).</summary>
    public int PendingCount => _pending.Count;

    /// <summary>
    /// Runs until <paramref name="stop"/>, then stops cleanly: no new decisions, writes in flight finished, queued
    /// Events written, the leader Lease released (so a standby takes over at once). Ends only by cancellation.
    /// </summary>
    public async Task RunAsync(CancellationToken stop)
    {
        using var background = new CancellationTokenSource();
        var tasks = new List<Task>();
        LeaderLoop? leader = null;
        try
        {
            _namespace = await ResolveNamespaceAsync(stop).ConfigureAwait(false);
            if (_namespace is null) return;
            _log.Info("start", $"controller {Identity} watching Services in every namespace and the MetalLB configuration in {_namespace}",
                ("namespace", _namespace), ("configmap", _options.ConfigMapName ?? "(found by content)"), ("leaderElection", _options.LeaderElection));
            // A resync every few minutes looks at every Service again (a safety net; decisions that hold write nothing).
            var cacheOptions = _options.CacheOptions ?? new ResourceCacheOptions { Time = _time, ResyncPeriod = TimeSpan.FromMinutes(5) };
            _services = ResourceCaches.Services(_client, null, options: cacheOptions);
            _configMaps = ResourceCaches.ConfigMaps(_client, _namespace,
                fieldSelector: _options.ConfigMapName is null ? null : $"metadata.name={_options.ConfigMapName}", options: cacheOptions);
            _services.Failed += e => ApiFailed(e, "list/watch", "services", null);
            _configMaps.Failed += e => ApiFailed(e, "list/watch", "configmaps", _namespace);
            _events = new EventRecorder(_client, Component, _log, _time);
            _events.Failed += _ => Metrics.ApiErrors.WithLabels("events").Inc();

            tasks.Add(_services.RunAsync(background.Token));
            tasks.Add(_configMaps.RunAsync(background.Token));
            tasks.Add(_events.RunAsync(background.Token, _options.StopTimeout));
            tasks.Add(Pump(_services, c => new ServiceChanged(c.Key), background.Token));
            tasks.Add(Pump(_configMaps, _ => new ConfigChanged(), background.Token));
            tasks.Add(SyncedAsync(background.Token));
            if (_options.LeaderElection)
            {
                leader = new LeaderLoop(_kube, _namespace, _options, Identity, _log, leading => _work.Writer.TryWrite(new Leadership(leading)),
                    e => { Metrics.ApiErrors.WithLabels("leases").Inc(); ApiFailed(e, "get/update", "leases", _namespace); });
                tasks.Add(leader.RunAsync(background.Token));
            }
            else _work.Writer.TryWrite(new Leadership(true));

            await LoopAsync(stop).ConfigureAwait(false);
        }
        finally
        {
            await StopAsync(leader).ConfigureAwait(false);
            background.Cancel();
            try { await Task.WhenAll(tasks).WaitAsync(_options.StopTimeout).ConfigureAwait(false); }
            catch (Exception) { /* stopping */ }
            _loopAlive = false;
            _log.Info("stop", "controller stopped");
        }
    }

    async Task StopAsync(LeaderLoop? leader)
    {
        var writes = _inFlight.Values.ToList();
        if (writes.Count > 0)
        {
            _log.Info("stopping", $"finishing {writes.Count} status write(s) in flight");
            try { await Task.WhenAll(writes).WaitAsync(_options.StopTimeout).ConfigureAwait(false); }
            catch (Exception) { _log.Warning("stopping", "status writes did not finish in time; the next leader re-reads them"); }
        }
        _term.Cancel();
        if (leader is not null) await leader.StopAsync(_options.ReleaseLeaseOnStop).ConfigureAwait(false);
    }

    Task<string?> ResolveNamespaceAsync(CancellationToken stop) =>
        RuntimeConfig.ResolveNamespaceAsync(_kube, _options.Namespace, _options.ConfigMapName, _options.NamespaceCandidates, _log,
            e => ApiFailed(e, "list", "configmaps", _options.NamespaceCandidates[0]), _time, _options.RetryMax, stop);

    /// <summary>Posts one ConfigChanged once both caches hold their first list (an empty list sends no change of its own).</summary>
    async Task SyncedAsync(CancellationToken cancel)
    {
        try
        {
            await Task.WhenAll(_services!.WaitForSyncAsync(cancel), _configMaps!.WaitForSyncAsync(cancel)).ConfigureAwait(false);
            _work.Writer.TryWrite(new ConfigChanged());
        }
        catch (OperationCanceledException) { }
    }

    async Task Pump<T>(ResourceCache<T> cache, Func<CacheChange<T>, Work> map, CancellationToken cancel) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        try
        {
            await foreach (var change in cache.Changes.ReadAllAsync(cancel).ConfigureAwait(false))
            {
                Metrics.Updates.Inc();
                _work.Writer.TryWrite(map(change));
            }
        }
        catch (OperationCanceledException) { }
    }

    void ApiFailed(Exception e, string verb, string resource, string? ns)
    {
        if (resource != "leases" && resource != "events") Metrics.ApiErrors.WithLabels(resource).Inc();
        var explained = KubeClientFactory.Explain(e, _kube, verb.Split('/')[0], resource, ns);
        // Named once per kind of failure, not per retry; said again once it has cleared and comes back.
        _log.Once($"api:{resource}:{explained.Id}", LogLevel.Error, "apiError", explained.Message, ("errorId", explained.Id.ToString()));
    }

    // ---- the loop: every decision happens here, one at a time ---------------------------------------

    async Task LoopAsync(CancellationToken stop)
    {
        try
        {
            while (await _work.Reader.WaitToReadAsync(stop).ConfigureAwait(false))
            {
                bool configChanged = false;
                var keys = new List<string>();
                while (_work.Reader.TryRead(out var work))
                {
                    try { Handle(work, keys, ref configChanged); }
                    catch (Exception e) { Bug(e, work.ToString()); }
                }
                try
                {
                    if (configChanged) OnConfig();
                    if (!configChanged || _firstPassDone) foreach (var key in keys.Distinct()) Reconcile(key, null);
                    // Addresses were freed: services waiting for one may get it now.
                    for (int round = 0; _released && round < 3; round++)
                    {
                        _released = false;
                        foreach (var key in _pending.ToList()) Reconcile(key, null);
                    }
                    Publish();
                }
                catch (Exception e) { Bug(e, "reconcile"); }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    void Bug(Exception e, string where)
    {
        Metrics.UpdateErrors.Inc();
        _log.Error("internalError", $"unexpected failure in {where}: {e.GetType().Name}: {e.Message}; the controller goes on", ("stack", e.StackTrace));
    }

    void Handle(Work work, List<string> keys, ref bool configChanged)
    {
        switch (work)
        {
            case ServiceChanged s:
                keys.Add(s.Key);
                break;
            case Retry r:
                keys.Add(r.Key);
                break;
            case ConfigChanged:
                configChanged = true;
                break;
            case Leadership l:
                OnLeadership(l.Leading);
                configChanged = true; // a new term starts with a full pass
                break;
            case WriteDone d:
                OnWriteDone(d);
                break;
        }
    }

    void OnLeadership(bool leading)
    {
        if (leading == _leading) return;
        _leading = leading;
        Metrics.Leader.Set(leading ? 1 : 0);
        if (leading)
        {
            _term = new CancellationTokenSource();
            _termId++;
            _log.Info("leaderElected", $"{Identity} leads: allocating");
        }
        else
        {
            // Stop at once: another replica may lead already. Its own first pass re-reads every status.
            _term.Cancel();
            _allocator = null;
            _firstPassDone = false;
            _inFlight.Clear();
            _redo.Clear();
            _written.Clear();
            _log.Warning("leaderLost", $"{Identity} no longer leads: allocation stopped");
        }
    }

    /// <summary>The ConfigMap changed (or leadership began): load it, apply it, or say why not.</summary>
    void OnConfig()
    {
        // Until the first lists are in there is nothing to decide on; their sync posts a ConfigChanged.
        if (_services is null || _configMaps is null || !_services.HasSynced || !_configMaps.HasSynced) return;
        var found = FindConfig();
        if (found is null)
        {
            if (_inForce is not null)
            {
                if (!_configMissingSaid)
                    _log.Warning("configMissing", $"the MetalLB ConfigMap is gone from {_namespace}; the last configuration ({_inForceSource}) stays in force");
                _configMissingSaid = true;
            }
            else if (!_configMissingSaid)
            {
                _configMissingSaid = true;
                _log.Warning("configMissing", $"no ConfigMap in {_namespace} holds a MetalLB configuration{(_options.ConfigMapName is null ? "" : $" named {_options.ConfigMapName}")}; waiting for one, no address is given meanwhile");
            }
            StartTermIfReady();
            return;
        }
        _configMissingSaid = false;
        var (map, doc, text) = found.Value;
        var source = RuntimeConfig.Source(map);
        if (text == _inForceText)
        {
            // Back to the configuration in force (a refused or stale one was taken back): nothing is stale any more.
            _rejectedText = null;
            ClearStale();
            StartTermIfReady();
            return;
        }
        if (text == _rejectedText) { StartTermIfReady(); return; }
        var errors = RuntimeConfig.Errors(doc);
        if (errors.Count > 0)
        {
            _rejectedText = text;
            Metrics.ConfigStale.Set(1);
            Metrics.UpdateErrors.Inc();
            RuntimeConfig.LogRefused(_log, source, errors, _inForce is null ? null : _inForceSource);
            StartTermIfReady();
            return;
        }
        _rejectedText = null;

        var pools = PoolSet.From(doc.Config);
        if (_allocator is null || !_firstPassDone)
        {
            // Not allocating yet (standby, or before the first pass): whatever is valid is what the next pass starts from.
            Accept(doc.Config, text, source, pools);
            StartTermIfReady();
            return;
        }
        var blocking = _allocator.Incompatible(pools);
        if (blocking.Count > 0)
        {
            bool fresh = text != _staleText;
            _staleText = text;
            _stalePools = pools;
            Metrics.ConfigStale.Set(1);
            if (fresh)
            {
                _log.Warning("configStale", $"{source} is not applied: it would take addresses from {blocking.Count} running service(s); the configuration in force stays ({_inForceSource}) until they release them or the controller restarts",
                    ("blocking", blocking.Select(b => $"{b.Service} ({b.Allocation}: {b.Reason})").ToList()));
                foreach (var b in blocking)
                    if (_services.Get(Ns(b.Service), Name(b.Service)) is { } svc)
                        _events?.Warning(EventRecorder.Reference(svc), "ConfigStale",
                            $"The new MetalLB configuration ({source}) is not applied: this service holds {b.Allocation}, and {b.Reason}. The current configuration stays in force until the address is released or the controller restarts (Restart-LbController), which gives this service a new address.");
            }
            return;
        }
        Accept(doc.Config, text, source, pools);
        _allocator.SetPools(pools);
        ClearStale();
        // New pools may give pending services an address, or take auto-assign away: look at every Service again.
        foreach (var key in _services.Snapshot.Keys) Reconcile(key, null);
    }

    void Accept(MetalLbConfig config, string text, string source, PoolSet pools)
    {
        bool first = _inForce is null;
        _inForce = config;
        _inForceText = text;
        _inForceSource = source;
        _staleText = null;
        _stalePools = null;
        Metrics.ConfigLoaded.Set(1);
        Metrics.ConfigStale.Set(0);
        _log.Info(first ? "configLoaded" : "configApplied", $"{source}: {pools.Pools.Count} pool(s) ({pools.Names})",
            ("pools", pools.Pools.Select(p => $"{p.Name} {p.Protocol} {string.Join(" ", p.Ranges)}{(p.AutoAssign ? "" : " auto-assign=false")}{(p.AvoidBuggyIps ? " avoid-buggy-ips" : "")}").ToList()));
    }

    void ClearStale()
    {
        Metrics.ConfigStale.Set(0);
        if (_staleText is null) return;
        _staleText = null;
        _stalePools = null;
        _log.Info("configCurrent", $"the configuration in force ({_inForceSource}) is the current one again; nothing is stale");
    }

    /// <summary>After a release: a stale configuration may fit now.</summary>
    void RetryStale()
    {
        _released = true;
        if (_stalePools is null || _allocator is null || _allocator.Incompatible(_stalePools).Count > 0) return;
        _log.Info("configUnblocked", "the services that blocked the new configuration no longer hold those addresses; applying it");
        OnConfig();
    }

    (V1ConfigMap Map, ConfigDocument Doc, string Text)? FindConfig() =>
        RuntimeConfig.Find(_configMaps!.Snapshot.Values, _options.ConfigMapName, _namespace, _log);

    /// <summary>Leading, configured and synced: load every held address, then give the others theirs.</summary>
    void StartTermIfReady()
    {
        if (!_leading || _firstPassDone || _inForce is null || _services is null || !_services.HasSynced) { Publish(); return; }
        _allocator = new Allocator(PoolSet.From(_inForce));
        var requests = _services.Snapshot.Values.Select(ServiceRequest.From)
            .OrderBy(r => r.Created ?? DateTime.MinValue).ThenBy(r => r.Key, StringComparer.Ordinal).ToList();
        int kept = 0, cleared = 0;
        // Pass 1: every address a Service holds is loaded before anything new is handed out (MetalLB #1774, #1984, #2443, #2479).
        foreach (var r in requests.Where(r => r.CurrentIps.Count > 0 && r.Ignored is null))
        {
            var d = ServiceDecision.Decide(_allocator, r, allowNew: false);
            if (d.Kind is DecisionKind.Keep or DecisionKind.Invalid && d.Ips.Count > 0) kept++; else cleared++;
        }
        _firstPassDone = true;
        _log.Info("synced", $"first pass: {kept} service(s) keep their addresses, {cleared} must get new ones; {requests.Count(r => r.Ignored is null)} LoadBalancer service(s) in all");
        // Pass 2: the decisions proper, holders first, in creation order.
        foreach (var r in requests.OrderBy(r => r.CurrentIps.Count > 0 ? 0 : 1)) Reconcile(r.Key, null);
        Publish();
    }

    static string Ns(string key) => key[..key.IndexOf('/')];
    static string Name(string key) => key[(key.IndexOf('/') + 1)..];

    /// <summary>Decides one Service and starts what the decision needs (a status write, Events, log lines).</summary>
    void Reconcile(string key, V1Service? fresh)
    {
        if (!_leading || !_firstPassDone || _allocator is null || _services is null) return;
        if (_inFlight.ContainsKey(key)) { _redo.Add(key); return; }
        var svc = fresh ?? _services.Get(Ns(key), Name(key));
        if (svc is null)
        {
            _pending.Remove(key);
            _lastEvent.Remove(key);
            _written.Remove(key);
            if (_allocator.Unassign(key))
            {
                _log.Info("ipReleased", $"{key} is gone; its addresses are free", ("service", key));
                RetryStale();
            }
            return;
        }
        // Our own write is not in the cache yet: deciding on the older copy would only make a conflict.
        if (fresh is null && _written.TryGetValue(key, out var w) && Rv(svc) is { } rv)
        {
            if (rv < w.Rv) return;
            // The echo of that write, unchanged since: the allocator already holds exactly this.
            if (rv == w.Rv) { _written.Remove(key); return; }
        }
        _written.Remove(key);

        var request = ServiceRequest.From(svc);
        var decision = ServiceDecision.Decide(_allocator, request, allowNew: true);
        var status = request.CurrentIps;
        bool differs = !status.SequenceEqual(decision.Ips);
        if (decision.Kind == DecisionKind.Ignore)
        {
            _pending.Remove(key);
            _lastEvent.Remove(key);
            if (decision.Released)
            {
                _log.Info("ipReleased", $"{key}: {decision.Reason}; its addresses are free", ("service", key));
                RetryStale();
                if (status.Count > 0 && request.Ignored!.StartsWith("type", StringComparison.Ordinal)) StartWrite(key, svc, decision);
            }
            return;
        }
        if (decision.Ips.Count == 0) _pending.Add(key); else _pending.Remove(key);
        if (decision.Cleared is not null)
        {
            _log.Warning("clearAssignment", $"{key}: {string.Join(", ", status)} dropped: {decision.Cleared}", ("service", key));
            Event(svc, "Warning", "ClearAssignment", $"Cleared {string.Join(", ", status)}: {decision.Cleared}");
        }
        switch (decision.Kind)
        {
            case DecisionKind.Invalid:
                _log.Warning("loadBalancerFailed", $"{key}: {decision.Reason}", ("service", key));
                Event(svc, "Warning", "LoadBalancerFailed", $"Invalid request for {key}: {decision.Reason}");
                return;
            case DecisionKind.Failed:
                _log.Warning("allocationFailed", $"{key}: {decision.Reason}", ("service", key));
                Event(svc, "Warning", "AllocationFailed", $"Failed to allocate IP for \"{key}\": {decision.Reason}");
                if (status.Count > 0) StartWrite(key, svc, decision);
                return;
            case DecisionKind.Keep when decision.Reason is not null:
                Event(svc, "Warning", "AllocationFailed", $"Failed to allocate IP for \"{key}\": {decision.Reason}; it keeps {string.Join(", ", decision.Ips)}");
                break;
        }
        if (differs) StartWrite(key, svc, decision);
        else if (decision.Kind is DecisionKind.Keep) _lastEvent.Remove(key + "|Warning");
    }

    /// <summary>Events go out when something changes, not on every resync: a repeat of the last one is not sent again.</summary>
    void Event(V1Service svc, string type, string reason, string message)
    {
        var key = ServiceRequest.KeyOf(svc);
        var said = reason + "|" + message;
        if (_lastEvent.TryGetValue(key + "|" + type, out var last) && last == said) return;
        _lastEvent[key + "|" + type] = said;
        var target = EventRecorder.Reference(svc);
        if (type == "Normal") _events?.Normal(target, reason, message); else _events?.Warning(target, reason, message);
    }

    static long? Rv(V1Service s) => long.TryParse(s.Metadata?.ResourceVersion, out var v) ? v : null;

    void StartWrite(string key, V1Service svc, Decision decision)
    {
        var term = _term.Token;
        int termId = _termId;
        _inFlight[key] = Task.Run(async () =>
        {
            WriteOutcome outcome;
            await _writeSlots.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try { outcome = await WriteStatusAsync(svc, decision, term).ConfigureAwait(false); }
            catch (Exception e) { outcome = new WriteOutcome(WriteResult.Failed, null, decision, e); }
            finally { _writeSlots.Release(); }
            _work.Writer.TryWrite(new WriteDone(key, termId, outcome));
        });
    }

    async Task<WriteOutcome> WriteStatusAsync(V1Service svc, Decision decision, CancellationToken term)
    {
        if (term.IsCancellationRequested) return new WriteOutcome(WriteResult.Abandoned, null, decision);
        var body = new V1Service
        {
            ApiVersion = "v1", Kind = "Service",
            Metadata = new V1ObjectMeta { Name = svc.Metadata.Name, NamespaceProperty = svc.Metadata.NamespaceProperty, ResourceVersion = svc.Metadata.ResourceVersion, Uid = svc.Metadata.Uid },
            Spec = svc.Spec,
            Status = new V1ServiceStatus
            {
                LoadBalancer = new V1LoadBalancerStatus { Ingress = decision.Ips.Select(ip => new V1LoadBalancerIngress { Ip = ip.ToString() }).ToList() },
                Conditions = svc.Status?.Conditions,
            },
        };
        try
        {
            var written = await _client.CoreV1.ReplaceNamespacedServiceStatusAsync(body, svc.Metadata.Name, svc.Metadata.NamespaceProperty, cancellationToken: CancellationToken.None).ConfigureAwait(false);
            return new WriteOutcome(WriteResult.Ok, written, decision);
        }
        catch (HttpOperationException h) when (h.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Someone changed the Service since it was read: read it again and decide again.
            try
            {
                var fresh = await _client.CoreV1.ReadNamespacedServiceAsync(svc.Metadata.Name, svc.Metadata.NamespaceProperty, cancellationToken: CancellationToken.None).ConfigureAwait(false);
                return new WriteOutcome(WriteResult.Conflict, fresh, decision, h);
            }
            catch (HttpOperationException g) when (g.Response.StatusCode == HttpStatusCode.NotFound) { return new WriteOutcome(WriteResult.Gone, null, decision, g); }
            catch (Exception e) { return new WriteOutcome(WriteResult.Failed, null, decision, e); }
        }
        catch (HttpOperationException h) when (h.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return new WriteOutcome(WriteResult.Gone, null, decision, h);
        }
    }

    void OnWriteDone(WriteDone done)
    {
        var key = done.Key;
        if (done.Term != _termId || !_leading || !_inFlight.Remove(key)) return; // a write of an earlier term
        var outcome = done.Outcome;
        var ips = string.Join(", ", outcome.Decision.Ips);
        switch (outcome.Result)
        {
            case WriteResult.Ok:
                Metrics.StatusWrites.WithLabels("ok").Inc();
                _conflicts.Remove(key);
                _failures.Remove(key);
                _log.ForgetPrefix("write:");
                if (Rv(outcome.Fresh!) is { } rv) _written[key] = (rv, ips);
                if (outcome.Decision.Ips.Count > 0)
                {
                    _log.Info("ipAllocated", $"{key}: {ips} from pool {outcome.Decision.Pool}", ("service", key), ("ip", outcome.Decision.Ips.Select(i => i.ToString()).ToList()), ("pool", outcome.Decision.Pool));
                    Event(outcome.Fresh!, "Normal", "IPAllocated", $"Assigned IP [{string.Join(" ", outcome.Decision.Ips.Select(i => $"\"{i}\""))}]");
                    _lastEvent.Remove(key + "|Warning");
                }
                break;
            case WriteResult.Conflict:
                Metrics.StatusWrites.WithLabels("conflict").Inc();
                var n = _conflicts[key] = _conflicts.GetValueOrDefault(key) + 1;
                if (n <= _options.ConflictRetries) { Reconcile(key, outcome.Fresh); return; }
                _conflicts.Remove(key);
                _log.Warning("statusConflict", $"{key}: {n} conflicts in a row writing its status; retrying after a pause", ("service", key));
                Later(key);
                return;
            case WriteResult.Gone:
                Metrics.StatusWrites.WithLabels("gone").Inc();
                Reconcile(key, null);
                return;
            case WriteResult.Abandoned:
                return;
            case WriteResult.Failed:
                Metrics.StatusWrites.WithLabels("error").Inc();
                Metrics.UpdateErrors.Inc();
                var explained = KubeClientFactory.Explain(outcome.Error!, _kube, "update", "services/status", Ns(key));
                _log.Once($"write:{explained.Id}", LogLevel.Error, "statusWriteFailed", $"{key}: cannot write {ips}: {explained.Message} (said once until a write works)", ("errorId", explained.Id.ToString()));
                Later(key);
                return;
        }
        if (_redo.Remove(key)) Reconcile(key, null);
    }

    /// <summary>Retries a Service after a capped, growing pause.</summary>
    void Later(string key)
    {
        var n = _failures[key] = _failures.GetValueOrDefault(key) + 1;
        var delay = TimeSpan.FromMilliseconds(Math.Min(_options.RetryMax.TotalMilliseconds, 250 * Math.Pow(2, Math.Min(n, 16))));
        var term = _term.Token;
        _ = Task.Delay(delay, _time, term).ContinueWith(t => { if (!t.IsCanceled) _work.Writer.TryWrite(new Retry(key)); }, TaskScheduler.Default);
    }

    void Publish()
    {
        if (_inForce is not null) Metrics.Pools(_allocator?.Pools ?? PoolSet.From(_inForce), _allocator);
        Metrics.PendingServices.Set(_pending.Count);
        bool synced = _services?.HasSynced == true && _configMaps?.HasSynced == true;
        bool ready = synced && _inForce is not null && (!_leading || _firstPassDone);
        string detail = !synced ? "waiting for the first list of Services and ConfigMaps"
            : _inForce is null ? $"no valid MetalLB configuration in {_namespace} yet"
            : _leading ? (_firstPassDone ? $"leading; {_allocator?.Count ?? 0} service(s) hold addresses, {_pending.Count} pending{(_staleText is null ? "" : "; the newest configuration is stale")}" : "leading; first pass running")
            : $"standby; the leader is elsewhere";
        _state = new ControllerState(ready, _leading, _inForce is not null, _staleText is not null || _rejectedText is not null, detail, _namespace, _options.ConfigMapName);
    }
}
