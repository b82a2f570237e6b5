using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Kube;
using KonvoyLb.Engine.Net;
using KonvoyLb.Engine.Net.Probing;
using KonvoyLb.Engine.Runtime.Controller;
using KonvoyLb.Engine.Runtime.Observability;

namespace KonvoyLb.Engine.Runtime.Speaker;

/// <summary>How a speaker runs. Every default suits a cluster; tests shorten the timings.</summary>
public sealed class LbSpeakerOptions
{
    public required string NodeName { get; init; }
    public string? Namespace { get; init; }
    public string? ConfigMapName { get; init; }
    /// <summary>Answer only on these interfaces (-Interface); null chooses by subnet.</summary>
    public IReadOnlyList<string>? Interfaces { get; init; }
    /// <summary>Name patterns never answered on, besides MetalLB's default list (-ExcludeInterface).</summary>
    public IReadOnlyList<string>? ExcludeInterfaces { get; init; }
    /// <summary>How long this speaker's membership Lease is valid without renewal: the failover bound when the segment check cannot tell.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How often the Lease is renewed: the API writes of one node are one per this period.</summary>
    public TimeSpan LeaseRenew { get; init; } = TimeSpan.FromSeconds(2.5);
    /// <summary>How often the owner this node would replace is probed on the segment.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Probes in a row without an answer before the owner is taken for gone.</summary>
    public int ProbeMisses { get; init; } = 3;
    /// <summary>Gratuitous rounds after a takeover: one at once, then one per interval until this long after it.</summary>
    public TimeSpan GratuitousInterval { get; init; } = TimeSpan.FromSeconds(1.1);
    public TimeSpan GratuitousFor { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How often interfaces are looked at again (appeared, gone, changed, carrier back).</summary>
    public TimeSpan InterfaceScan { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromSeconds(30);
    public TimeProvider Time { get; init; } = TimeProvider.System;
    public ResourceCacheOptions? CacheOptions { get; init; }
    public IReadOnlyList<string> NamespaceCandidates { get; init; } = ["kubeaddons", "metallb-system"];
}

/// <summary>What a running speaker reports (for /readyz, tests and the cmdlet).</summary>
public sealed record SpeakerState(bool Ready, bool ConfigLoaded, int Announced, IReadOnlySet<string> Live, IReadOnlySet<string> Suspected, string Detail);

/// <summary>
/// The layer2 speaker of one node. Every speaker computes the same owner for each address from the same cluster state
/// (<see cref="Announcer"/>); the owner answers ARP and NDP for it on the interface whose subnet holds it
/// (<see cref="InterfaceChoice"/>, <see cref="Layer2Responder"/>) and announces it at once on takeover. Liveness comes
/// from per-node Leases (<see cref="Membership"/>: one write per node every <see cref="LbSpeakerOptions.LeaseRenew"/>),
/// made fast by the owner check on the segment (<see cref="OwnerCheck"/>), which costs the API server nothing.
/// All decisions happen in one loop; receive loops, the Lease writer and the caches only post work to it. Nothing it
/// meets makes it stop: failures become log lines, metrics and state.
/// </summary>
public sealed class LbSpeaker : IRuntimeComponent, ILayer2Events
{
    const string Component = "metallb-speaker";

    abstract record Work;
    sealed record Changed : Work;
    sealed record Tick : Work;
    sealed record SeenOnWire(IPAddress Ip, PhysicalAddress Mac, int Interface, bool Claim) : Work;
    sealed record ResponderFailed(int Interface, Exception Error) : Work;
    sealed record LeaseWritten(DateTimeOffset At) : Work;
    sealed record LeaseFailed(Exception Error) : Work;

    sealed record Owned(string Service, IPAddress Ip, string Pool, IReadOnlyList<int> Interfaces);

    readonly KubeConnection _kube;
    readonly IKubernetes _client;
    readonly LbSpeakerOptions _options;
    readonly RuntimeLog _log;
    readonly TimeProvider _time;
    readonly InterfaceChoice _choice;
    readonly OwnerCheck _check;
    readonly Channel<Work> _work = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    readonly Dictionary<int, Layer2Responder> _responders = new();
    // Per (Service, address): Services sharing an address each have their own series and Event, and are answered once.
    readonly Dictionary<(string Service, IPAddress Ip), Owned> _owned = new();
    readonly Dictionary<IPAddress, (DateTimeOffset Next, DateTimeOffset Until)> _gratuitous = new();
    readonly Dictionary<IPAddress, DateTimeOffset> _reclaimed = new();
    readonly HashSet<IPAddress> _yielded = new();
    readonly Dictionary<string, string> _assignedEvent = new(StringComparer.Ordinal);
    ResourceCache<V1Service>? _services;
    ResourceCache<V1ConfigMap>? _configMaps;
    ResourceCache<V1EndpointSlice>? _slices;
    ResourceCache<V1Endpoints>? _endpoints;
    ResourceCache<V1Node>? _nodes;
    ResourceCache<V1Lease>? _leases;
    EventRecorder? _events;
    List<NetInterface> _links = [];
    PoolSet? _pools;
    MetalLbConfig? _config;
    BgpAnnouncer? _bgp;
    readonly Dictionary<(string Service, IPAddress Ip), string> _bgpAnnounced = new();
    string? _inForceText, _inForceSource, _rejectedText, _namespace;
    DateTimeOffset? _leaseOk, _lastScan, _leaseViewAt;
    IReadOnlySet<string> _live = new HashSet<string>();
    bool _configMissingSaid, _leaseExpiredSaid;
    volatile SpeakerState _state;
    volatile bool _loopAlive = true;

    public LbSpeaker(KubeConnection kube, LbSpeakerOptions options, RuntimeLog log, SpeakerMetrics? metrics = null)
    {
        _kube = kube; _client = kube.Client; _options = options; _log = log; _time = options.Time;
        _choice = new InterfaceChoice(options.Interfaces, options.ExcludeInterfaces);
        _check = new OwnerCheck(options.ProbeMisses);
        Metrics = metrics ?? new SpeakerMetrics();
        _state = new SpeakerState(false, false, 0, new HashSet<string>(), new HashSet<string>(), "starting");
    }

    public SpeakerMetrics Metrics { get; }
    public Prometheus.CollectorRegistry Registry => Metrics.Registry;
    public SpeakerState State => _state;
    public Readiness Readiness => new(_state.Ready, _state.Detail);
    public bool Alive => _loopAlive;
    public string Node => _options.NodeName;

    /// <summary>
    /// Whether this process may open raw sockets (root or CAP_NET_RAW): the one thing the speaker cannot run without,
    /// said once at start. Throws <see cref="ErrorId.NeedsRawSockets"/>.
    /// </summary>
    public static void CheckRawSockets()
    {
        try { using var s = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)0x0608); }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied or SocketError.OperationNotSupported or SocketError.ProtocolNotSupported)
        {
            throw new LbException(ErrorId.NeedsRawSockets, $"the speaker cannot open a raw packet socket ({e.Message}): it answers ARP and NDP itself, which needs root or the CAP_NET_RAW capability.",
                "CAP_NET_RAW", fix: "Run it as root, or give the process CAP_NET_RAW (in a pod: securityContext.capabilities.add: [NET_RAW], with hostNetwork: true).", inner: e);
        }
    }

    /// <summary>Runs until <paramref name="stop"/>, then stops cleanly: the Lease released first (the next owner takes over at once), then silence.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        using var background = new CancellationTokenSource();
        var tasks = new List<Task>();
        try
        {
            _namespace = await RuntimeConfig.ResolveNamespaceAsync(_kube, _options.Namespace, _options.ConfigMapName, _options.NamespaceCandidates, _log,
                e => ApiFailed(e, "list", "configmaps", _options.NamespaceCandidates[0]), _time, _options.RetryMax, stop).ConfigureAwait(false);
            if (_namespace is null) return;
            _log.Info("start", $"speaker on node {Node}: layer2 answers from this node, liveness by Lease {Membership.LeaseName(Node)} in {_namespace}",
                ("node", Node), ("namespace", _namespace), ("leaseSeconds", _options.LeaseDuration.TotalSeconds), ("probeMs", _options.ProbeInterval.TotalMilliseconds));
            var cacheOptions = _options.CacheOptions ?? new ResourceCacheOptions { Time = _time, ResyncPeriod = TimeSpan.FromMinutes(5) };
            _services = ResourceCaches.Services(_client, null, options: cacheOptions);
            _configMaps = ResourceCaches.ConfigMaps(_client, _namespace,
                fieldSelector: _options.ConfigMapName is null ? null : $"metadata.name={_options.ConfigMapName}", options: cacheOptions);
            _nodes = ResourceCaches.Nodes(_client, options: cacheOptions);
            _leases = ResourceCaches.Leases(_client, _namespace, labelSelector: "app=metallb,component=speaker", options: cacheOptions);
            if (await HasEndpointSlicesAsync(stop).ConfigureAwait(false))
                _slices = ResourceCaches.EndpointSlices(_client, null, options: cacheOptions);
            else
            {
                _endpoints = ResourceCaches.Endpoints(_client, null, options: cacheOptions);
                _log.Info("endpoints", "the API has no discovery.k8s.io/v1 EndpointSlices: reading ready endpoints from Endpoints");
            }
            _bgp = new BgpAnnouncer(Node, _log, _time, Metrics.Bgp);
            _events = new EventRecorder(_client, Component, _log, _time, host: Node);
            _events.Failed += _ => Metrics.ApiErrors.WithLabels("events").Inc();

            Watch(_services, "services", null, tasks, background.Token);
            Watch(_configMaps, "configmaps", _namespace, tasks, background.Token);
            Watch(_nodes, "nodes", null, tasks, background.Token);
            Watch(_leases, "leases", _namespace, tasks, background.Token);
            if (_slices is not null) Watch(_slices, "endpointslices", null, tasks, background.Token);
            if (_endpoints is not null) Watch(_endpoints, "endpoints", null, tasks, background.Token);
            tasks.Add(_events.RunAsync(background.Token, _options.StopTimeout));
            tasks.Add(LeaseLoopAsync(background.Token));
            tasks.Add(TickerAsync(background.Token));
            Scan();
            await LoopAsync(stop).ConfigureAwait(false);
        }
        finally
        {
            await ReleaseLeaseAsync().ConfigureAwait(false);
            // Silent the moment the Lease is let go: an answer after it would refresh the clients' entries just when
            // the next owner announces, and Linux ignores a new MAC for an entry refreshed less than a second ago.
            foreach (var r in _responders.Values) r.Set([], []);
            foreach (var r in _responders.Values) r.Dispose();
            if (_bgp is not null)
            {
                if (_bgp.Sessions > 0) _log.Info("stopping", $"closing {_bgp.Sessions} BGP session(s) (Cease): the routers withdraw this node's routes");
                await _bgp.DisposeAsync().ConfigureAwait(false);
            }
            _responders.Clear();
            if (_owned.Count > 0) _log.Info("stopping", $"stopped answering for {OwnedIps().Count} address(es)");
            background.Cancel();
            try { await Task.WhenAll(tasks).WaitAsync(_options.StopTimeout).ConfigureAwait(false); }
            catch (Exception) { /* stopping */ }
            _loopAlive = false;
            _log.Info("stop", "speaker stopped");
        }
    }

    void Watch<T>(ResourceCache<T> cache, string resource, string? ns, List<Task> tasks, CancellationToken cancel) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        cache.Failed += e => ApiFailed(e, "list/watch", resource, ns);
        tasks.Add(cache.RunAsync(cancel));
        tasks.Add(Pump(cache, cancel));
    }

    async Task Pump<T>(ResourceCache<T> cache, CancellationToken cancel) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        try
        {
            _ = cache.WaitForSyncAsync(cancel).ContinueWith(_ => _work.Writer.TryWrite(new Changed()), TaskScheduler.Default);
            await foreach (var _ in cache.Changes.ReadAllAsync(cancel).ConfigureAwait(false))
            {
                Metrics.Updates.Inc();
                _work.Writer.TryWrite(new Changed());
            }
        }
        catch (OperationCanceledException) { }
    }

    async Task<bool> HasEndpointSlicesAsync(CancellationToken stop)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        while (true)
        {
            try
            {
                await _client.DiscoveryV1.ListEndpointSliceForAllNamespacesAsync(limit: 1, cancellationToken: stop).ConfigureAwait(false);
                return true;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return false; }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return true; }
            catch (Exception e)
            {
                ApiFailed(e, "list", "endpointslices", null);
                try { await Task.Delay(delay, _time, stop).ConfigureAwait(false); } catch (OperationCanceledException) { return true; }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.RetryMax.Ticks));
            }
        }
    }

    void ApiFailed(Exception e, string verb, string resource, string? ns)
    {
        Metrics.ApiErrors.WithLabels(resource).Inc();
        var explained = KubeClientFactory.Explain(e, _kube, verb.Split('/')[0], resource, ns);
        _log.Once($"api:{resource}:{explained.Id}", LogLevel.Error, "apiError", explained.Message, ("errorId", explained.Id.ToString()));
    }

    async Task TickerAsync(CancellationToken cancel)
    {
        using var timer = new PeriodicTimer(_options.ProbeInterval, _time);
        try { while (await timer.WaitForNextTickAsync(cancel).ConfigureAwait(false)) _work.Writer.TryWrite(new Tick()); }
        catch (OperationCanceledException) { }
    }

    // ---- the membership Lease ---------------------------------------------------------------------

    V1Lease? _lease;
    volatile string[] _macs = [];

    async Task LeaseLoopAsync(CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                await WriteLeaseAsync(cancel).ConfigureAwait(false);
                Metrics.LeaseWrites.WithLabels("ok").Inc();
                _work.Writer.TryWrite(new LeaseWritten(_time.GetUtcNow()));
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                _lease = null; // read it again next time
                Metrics.LeaseWrites.WithLabels("error").Inc();
                _work.Writer.TryWrite(new LeaseFailed(e));
            }
            try { await Task.Delay(_options.LeaseRenew, _time, cancel).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>Renews (or creates) the Lease: one update from the copy of the last write; a read first only after a conflict or a failure.</summary>
    async Task WriteLeaseAsync(CancellationToken cancel)
    {
        var name = Membership.LeaseName(Node);
        if (_lease is null)
        {
            try { _lease = await _client.CoordinationV1.ReadNamespacedLeaseAsync(name, _namespace, cancellationToken: cancel).ConfigureAwait(false); }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                _lease = await _client.CoordinationV1.CreateNamespacedLeaseAsync(Membership.For(Node, _namespace!, _options.LeaseDuration, _time.GetUtcNow(), macs: _macs), _namespace,
                    cancellationToken: cancel).ConfigureAwait(false);
                return;
            }
        }
        var next = Membership.For(Node, _namespace!, _options.LeaseDuration, _time.GetUtcNow(), _lease, _macs);
        _lease = await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(next, name, _namespace, cancellationToken: cancel).ConfigureAwait(false);
    }

    async Task ReleaseLeaseAsync()
    {
        if (_lease is null || _namespace is null) return;
        try
        {
            using var timeout = new CancellationTokenSource(_options.StopTimeout);
            await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(Membership.Released(_lease, _time.GetUtcNow()), _lease.Metadata.Name, _namespace,
                cancellationToken: timeout.Token).ConfigureAwait(false);
            _log.Info("leaseReleased", $"Lease {_namespace}/{_lease.Metadata.Name} released: the other speakers take over at once");
        }
        catch (Exception e)
        {
            _log.Warning("leaseReleased", $"could not release Lease {_namespace}/{_lease.Metadata.Name} ({e.Message}); the other speakers take over when it expires or when the owner check misses this node");
        }
    }

    /// <summary>My Lease is valid: renewed within its duration (before the first write it counts as valid, so a start is not a failover).</summary>
    bool LeaseValid(DateTimeOffset now) => _leaseOk is null || now - _leaseOk.Value < _options.LeaseDuration;

    // ---- the loop ---------------------------------------------------------------------------------

    async Task LoopAsync(CancellationToken stop)
    {
        try
        {
            while (await _work.Reader.WaitToReadAsync(stop).ConfigureAwait(false))
            {
                bool recompute = false;
                while (_work.Reader.TryRead(out var work))
                {
                    try { recompute |= Handle(work); }
                    catch (Exception e) { Bug(e, work.GetType().Name); }
                }
                try { if (recompute) Recompute(); }
                catch (Exception e) { Bug(e, "recompute"); }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    void Bug(Exception e, string where)
    {
        Metrics.UpdateErrors.Inc();
        _log.Error("internalError", $"unexpected failure in {where}: {e.GetType().Name}: {e.Message}; the speaker goes on", ("stack", e.StackTrace));
    }

    bool Handle(Work work)
    {
        var now = _time.GetUtcNow();
        switch (work)
        {
            case Changed:
                OnConfig();
                return true;
            case Tick:
                return OnTick(now);
            case SeenOnWire s:
                return OnSeen(s, now);
            case ResponderFailed f:
                Metrics.InterfaceErrors.Inc();
                _log.Warning("interfaceError", $"answering on interface {Name(f.Interface)} failed: {f.Error.Message}; it is looked at again", ("interface", Name(f.Interface)));
                if (_responders.Remove(f.Interface, out var broken)) broken.Dispose();
                _lastScan = null;
                return false;
            case LeaseWritten w:
                bool wasExpired = _leaseOk is not null && !LeaseValid(w.At);
                _leaseOk = w.At;
                _log.ForgetPrefix("api:leases:");
                if (wasExpired || _leaseExpiredSaid)
                {
                    _leaseExpiredSaid = false;
                    _log.Info("leaseRenewed", $"Lease {Membership.LeaseName(Node)} renewed again: this node takes part again");
                }
                bool yielded = _yielded.Count > 0;
                _yielded.Clear();
                return yielded || wasExpired;
            case LeaseFailed f:
                ApiFailed(f.Error, "update", "leases", _namespace);
                return false;
        }
        return false;
    }

    string Name(int index) => _links.FirstOrDefault(l => l.Index == index)?.Name ?? $"#{index}";

    bool OnTick(DateTimeOffset now)
    {
        bool recompute = false;
        if (_lastScan is null || now - _lastScan.Value >= _options.InterfaceScan) recompute |= Scan();

        var probes = _check.Tick(out var newly);
        foreach (var node in newly)
        {
            var target = _check.Targets.First(t => t.Node == node);
            _log.Warning("ownerSilent", $"the speaker on node {node} did not answer {_check.MissLimit} probes for {target.Ip} on {Name(target.InterfaceIndex)}: taking its addresses over until it answers again",
                ("peerNode", node), ("ip", target.Ip.ToString()));
            recompute = true;
        }
        foreach (var p in probes)
            if (_responders.TryGetValue(p.InterfaceIndex, out var r))
            {
                try { r.Probe(p.Ip); Metrics.OwnerProbes.Inc(); }
                catch (Exception e) { Failed(p.InterfaceIndex, e); }
            }

        // Leases run out with time, not with events.
        var live = LiveByLease(now);
        if (!live.SetEquals(_live)) recompute = true;

        if (!LeaseValid(now) && !_leaseExpiredSaid && _owned.Count > 0)
        {
            _leaseExpiredSaid = true;
            _log.Warning("leaseExpired", $"Lease {Membership.LeaseName(Node)} could not be renewed for {_options.LeaseDuration.TotalSeconds:0.#} s: still answering for {OwnedIps().Count} address(es), each given up as soon as another node announces it");
        }
        SendGratuitous(now);
        _bgp?.Publish();
        return recompute;
    }

    bool OnSeen(SeenOnWire s, DateTimeOffset now)
    {
        bool recompute = false;
        var node = _leases is null ? null : Membership.MacOwners(_leases.Snapshot.Values).GetValueOrDefault(VipProber.FormatMac(s.Mac));
        if (_check.Answer(s.Ip, s.Mac, node))
        {
            _log.Info("ownerBack", $"{VipProber.FormatMac(s.Mac)}{(node is null ? "" : $" ({node})")} answers for {s.Ip} on {Name(s.Interface)} again: its node announces it again", ("ip", s.Ip.ToString()), ("mac", VipProber.FormatMac(s.Mac)));
            recompute = true;
        }
        if (!s.Claim || InterfacesOf(s.Ip) is null) return recompute;
        if (!LeaseValid(now))
        {
            // Cut off from the API: the others have taken this node for gone, and one of them has the address now.
            _yielded.Add(s.Ip);
            _log.Warning("yielded", $"{VipProber.FormatMac(s.Mac)} announced {s.Ip} while this node's Lease is expired: stopped answering for it", ("ip", s.Ip.ToString()));
            return true;
        }
        // Somebody else claims an address this node owns (a speaker that took it over while this node was unreachable,
        // a stray announcement): claim it back, at most twice a second, so the segment follows the owner.
        if (!_reclaimed.TryGetValue(s.Ip, out var last) || now - last >= TimeSpan.FromMilliseconds(500))
        {
            _reclaimed[s.Ip] = now;
            _log.Info("reclaimed", $"{VipProber.FormatMac(s.Mac)} announced {s.Ip}, which this node owns: announcing it again", ("ip", s.Ip.ToString()), ("mac", VipProber.FormatMac(s.Mac)));
            StartGratuitous(s.Ip, now);
        }
        return recompute;
    }

    // ---- configuration ----------------------------------------------------------------------------

    void OnConfig()
    {
        if (_configMaps is null || !_configMaps.HasSynced) return;
        var found = RuntimeConfig.Find(_configMaps.Snapshot.Values, _options.ConfigMapName, _namespace, _log);
        if (found is null)
        {
            if (!_configMissingSaid)
                _log.Warning("configMissing", _pools is null
                    ? $"no ConfigMap in {_namespace} holds a MetalLB configuration; nothing is announced until there is one"
                    : $"the MetalLB ConfigMap is gone from {_namespace}; the last configuration ({_inForceSource}) stays in force");
            _configMissingSaid = true;
            return;
        }
        _configMissingSaid = false;
        var (map, doc, text) = found.Value;
        if (text == _inForceText) { _rejectedText = null; Metrics.ConfigStale.Set(0); return; }
        if (text == _rejectedText) return;
        var source = RuntimeConfig.Source(map);
        var errors = RuntimeConfig.Errors(doc);
        if (errors.Count > 0)
        {
            _rejectedText = text;
            Metrics.ConfigStale.Set(1);
            Metrics.UpdateErrors.Inc();
            RuntimeConfig.LogRefused(_log, source, errors, _inForceSource);
            return;
        }
        _rejectedText = null;
        _pools = PoolSet.From(doc.Config);
        _config = doc.Config;
        _log.Info(_inForceText is null ? "configLoaded" : "configApplied", $"{source}: {_pools.Pools.Count} pool(s) ({_pools.Names})");
        _inForceText = text;
        _inForceSource = source;
        Metrics.ConfigLoaded.Set(1);
        Metrics.ConfigStale.Set(0);
    }

    // ---- interfaces -------------------------------------------------------------------------------

    /// <summary>Reads the interfaces; opens, reopens or closes responders; announces again where a carrier came back. True when anything changed.</summary>
    bool Scan()
    {
        _lastScan = _time.GetUtcNow();
        List<NetInterface> links;
        try { using var netlink = new Netlink(); links = netlink.GetInterfaces(); }
        catch (Exception e)
        {
            _log.Once("netlink", LogLevel.Error, "interfaceError", $"cannot read the interfaces: {e.Message}");
            return false;
        }
        _log.Forget("netlink");
        var before = _links.ToDictionary(l => l.Index);
        bool changed = links.Count != _links.Count || links.Any(l => !before.TryGetValue(l.Index, out var b) || !Same(b, l));
        _links = links;
        var usable = links.Where(l => _choice.WhyNot(l, AddressFamily.InterNetwork) is null || _choice.WhyNot(l, AddressFamily.InterNetworkV6) is null)
            .ToDictionary(l => l.Index);
        foreach (var index in _responders.Keys.ToList())
            if (!usable.TryGetValue(index, out var link) || !SameIdentity(_responders[index].Link, link))
            {
                _responders.Remove(index, out var gone);
                gone!.Dispose();
                _log.Info("interfaceGone", $"interface {gone.Link.Name} is {(link is null ? "gone or no longer usable" : "changed")}: no longer answering on it");
                changed = true;
            }
        foreach (var link in usable.Values.Where(l => !_responders.ContainsKey(l.Index)))
        {
            try
            {
                _responders[link.Index] = new Layer2Responder(link, this);
                _log.Forget($"open:{link.Name}");
                changed = true;
            }
            catch (Exception e)
            {
                Metrics.InterfaceErrors.Inc();
                _log.Once($"open:{link.Name}", LogLevel.Error, "interfaceError", $"cannot answer on interface {link.Name}: {e.Message}");
            }
        }
        _macs = _responders.Values.Select(r => VipProber.FormatMac(r.Link.Mac)).Distinct().Order(StringComparer.Ordinal).ToArray();
        // A carrier that comes back (a cable plugged in, a switch port up): the segment may have moved on meanwhile.
        var now = _time.GetUtcNow();
        foreach (var link in links.Where(l => l.Carrier && before.TryGetValue(l.Index, out var b) && !b.Carrier))
        {
            var ips = OwnedIps(link.Index);
            if (ips.Count > 0) _log.Info("linkUp", $"carrier back on {link.Name}: announcing {ips.Count} address(es) again");
            foreach (var ip in ips) StartGratuitous(ip, now);
        }
        return changed;
    }

    static bool SameIdentity(NetInterface a, NetInterface b) => a.Name == b.Name && a.Mac.Equals(b.Mac);

    static bool Same(NetInterface a, NetInterface b) =>
        SameIdentity(a, b) && a.Up == b.Up && a.Carrier == b.Carrier && a.NoArp == b.NoArp && a.Master == b.Master
        && a.Addresses.Count == b.Addresses.Count && a.Addresses.Zip(b.Addresses).All(p => p.First.Address.Equals(p.Second.Address) && p.First.PrefixLength == p.Second.PrefixLength);

    // ---- who announces what -----------------------------------------------------------------------

    IReadOnlySet<string> LiveByLease(DateTimeOffset now)
    {
        // The others' Leases are judged no later than one renewal period after the Lease cache was last known current
        // and after this node's own last successful write: a live speaker renews every period, so cut off from the API
        // (or while the cache lists again after an outage) the view freezes instead of failing everything over.
        if (_leases is { HasSynced: true, FailuresInRow: 0 }) _leaseViewAt = now;
        var judgeAt = now;
        foreach (var known in new[] { _leaseViewAt, _leaseOk })
            if (known is { } at && judgeAt > at + _options.LeaseRenew) judgeAt = at + _options.LeaseRenew;
        var live = new HashSet<string>(Membership.Live(_leases?.Snapshot.Values ?? [], judgeAt), StringComparer.Ordinal) { Node };
        return live;
    }

    List<SpeakerService> Services()
    {
        var ready = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        if (_slices is not null)
            foreach (var slice in _slices.Snapshot.Values)
                if (slice.Metadata.Labels?.TryGetValue("kubernetes.io/service-name", out var svc) == true)
                {
                    var key = $"{slice.Metadata.NamespaceProperty}/{svc}";
                    if (!ready.TryGetValue(key, out var set)) ready[key] = set = new HashSet<string>(StringComparer.Ordinal);
                    set.UnionWith(Announcer.ReadyNodes([slice]));
                }
        if (_endpoints is not null)
            foreach (var ep in _endpoints.Snapshot.Values)
                ready[$"{ep.Metadata.NamespaceProperty}/{ep.Metadata.Name}"] = (ep.Subsets ?? []).SelectMany(s => s.Addresses ?? [])
                    .Where(a => !string.IsNullOrEmpty(a.NodeName)).Select(a => a.NodeName).ToHashSet(StringComparer.Ordinal);
        var result = new List<SpeakerService>();
        foreach (var svc in _services?.Snapshot.Values ?? [])
        {
            var request = ServiceRequest.From(svc);
            if (request.Ignored is not null || request.CurrentIps.Count == 0) continue;
            result.Add(new SpeakerService(request.Key, request.CurrentIps, svc.Spec?.ExternalTrafficPolicy == "Local",
                ready.TryGetValue(request.Key, out var nodes) ? nodes : new HashSet<string>()));
        }
        return result;
    }

    Dictionary<string, SpeakerNode> Nodes(IReadOnlySet<string> live, IReadOnlySet<string> suspected)
    {
        var result = new Dictionary<string, SpeakerNode>(StringComparer.Ordinal);
        // A speaker whose Node object is not (yet) in the cache still takes part: its Lease says it runs.
        foreach (var name in live) result[name] = new SpeakerNode(name, !suspected.Contains(name));
        foreach (var node in _nodes?.Snapshot.Values ?? [])
        {
            var name = node.Metadata.Name;
            result[name] = new SpeakerNode(name, live.Contains(name) && !suspected.Contains(name), Announcer.ExcludedBecause(node));
        }
        return result;
    }

    void Recompute()
    {
        var now = _time.GetUtcNow();
        _live = LiveByLease(now);
        var suspected = _check.Suspected;
        var services = _pools is null ? [] : Services();
        var wanted = new Dictionary<(string Service, IPAddress Ip), Owned>();
        var byKey = new Dictionary<string, SpeakerService>(StringComparer.Ordinal);
        // Nothing is announced before the Leases are known: alone in an empty view, this node would take everything.
        if (_pools is not null && _services?.HasSynced == true && _leases?.HasSynced == true)
        {
            var nodes = Nodes(_live, suspected);
            if (nodes.TryGetValue(Node, out var me) && me.Excluded is { } why)
                _log.Once($"excluded:{why}", LogLevel.Warning, "nodeExcluded", $"node {Node} is {why}: it announces nothing");
            else _log.ForgetPrefix("excluded:");
            foreach (var a in Announcer.Layer2(_pools, services, nodes))
            {
                if (a.Node != Node || _yielded.Contains(a.Ip)) continue;
                var interfaces = _choice.For(a.Ip, _links).Where(l => _responders.ContainsKey(l.Index)).Select(l => l.Index).ToList();
                if (interfaces.Count == 0)
                {
                    _log.Once($"noInterface:{a.Ip}", LogLevel.Warning, "noInterface",
                        $"{a.Service}: this node owns {a.Ip} but no usable interface has a subnet holding it, so nobody can reach it from here: give the interface with -Interface, or check its addresses",
                        ("ip", a.Ip.ToString()), ("interfaces", _links.Select(l => $"{l.Name}: {_choice.WhyNot(l, a.Ip.AddressFamily) ?? "subnet does not hold it"}").ToList()));
                    continue;
                }
                _log.Forget($"noInterface:{a.Ip}");
                wanted[(a.Service, a.Ip)] = new Owned(a.Service, a.Ip, a.Pool, interfaces);
            }
            foreach (var s in services) byKey[s.Key] = s;
            AnnounceBgp(services, me);

            var checks = Announcer.Checks(_pools, services, Nodes(_live, new HashSet<string>()), suspected, Node)
                .Select(c => (c.Node, c.Ip, Interface: _choice.For(c.Ip, _links).FirstOrDefault(l => _responders.ContainsKey(l.Index))?.Index))
                .Where(c => c.Interface is not null)
                .Select(c => new CheckTarget(c.Node, c.Ip, c.Interface!.Value)).ToList();
            _check.Check(checks);
        }
        else _check.Check([]);

        foreach (var (key, old) in _owned.ToList())
        {
            if (wanted.ContainsKey(key)) continue;
            _owned.Remove(key);
            if (InterfacesOf(key.Ip) is null) _gratuitous.Remove(key.Ip);
            Metrics.Withdraw(old.Service, "layer2", Node, key.Ip);
            _log.Info("withdrawn", $"{old.Service}: {key.Ip} is no longer announced from {Node}", ("service", old.Service), ("ip", key.Ip.ToString()));
        }
        foreach (var (key, owned) in wanted)
        {
            var ip = key.Ip;
            bool fresh = !_owned.TryGetValue(key, out var old);
            _owned[key] = owned;
            if (fresh)
            {
                Metrics.Announce(owned.Service, "layer2", Node, ip);
                _log.Info("announcing", $"{owned.Service}: announcing {ip} from {Node} on {string.Join(", ", owned.Interfaces.Select(Name))}",
                    ("service", owned.Service), ("ip", ip.ToString()), ("pool", owned.Pool));
                StartGratuitous(ip, now);
            }
            else if (!old!.Interfaces.SequenceEqual(owned.Interfaces)) StartGratuitous(ip, now);
        }
        NodeAssigned(byKey);
        Push();
        Metrics.SuspectedNodes.Set(suspected.Count);
        Metrics.LiveSpeakers.Set(_live.Count(n => !suspected.Contains(n)));
        Publish(suspected);
    }

    /// <summary>BGP mode: every address of a bgp pool this node may announce goes to every session whose peer selects this node.</summary>
    void AnnounceBgp(List<SpeakerService> services, SpeakerNode? me)
    {
        if (_config is null || _pools is null || _bgp is null) return;
        var labels = _nodes?.Get(null, Node)?.Metadata?.Labels ?? new Dictionary<string, string>();
        var announcements = BgpAnnouncer.Announcements(_config, _pools, services, Node, me?.Excluded is not null);
        // Services sharing an address, or aggregated into one prefix, make one route.
        var routes = announcements.SelectMany(a => a.Routes).GroupBy(r => r.Prefix).Select(g => g.First()).ToList();
        _bgp.Apply(_config, new Dictionary<string, string>(labels), routes);
        var now = announcements.ToDictionary(a => (a.Service, a.Ip), a => a.Pool);
        foreach (var (key, _) in _bgpAnnounced.ToList())
            if (!now.ContainsKey(key))
            {
                _bgpAnnounced.Remove(key);
                Metrics.Withdraw(key.Service, "bgp", Node, key.Ip);
                _log.Info("withdrawn", $"{key.Service}: {key.Ip} is no longer announced by BGP from {Node}", ("service", key.Service), ("ip", key.Ip.ToString()));
            }
        foreach (var (key, pool) in now)
            if (_bgpAnnounced.TryAdd(key, pool))
            {
                Metrics.Announce(key.Service, "bgp", Node, key.Ip);
                _log.Info("announcing", $"{key.Service}: announcing {key.Ip} by BGP from {Node} to {_bgp.Sessions} peer(s)", ("service", key.Service), ("ip", key.Ip.ToString()), ("pool", pool));
            }
    }

    /// <summary>One nodeAssigned Event per Service when this node starts announcing it (MetalLB's message).</summary>
    void NodeAssigned(Dictionary<string, SpeakerService> services)
    {
        var mine = _owned.Values.Select(o => (o.Service, Protocol: "layer2")).Concat(_bgpAnnounced.Keys.Select(k => (k.Service, Protocol: "bgp")))
            .GroupBy(x => x.Service, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Protocol, StringComparer.Ordinal);
        foreach (var key in _assignedEvent.Keys.Where(k => !mine.ContainsKey(k)).ToList()) _assignedEvent.Remove(key);
        foreach (var (key, protocol) in mine)
        {
            if (_assignedEvent.ContainsKey(key)) continue;
            var slash = key.IndexOf('/');
            if (_services?.Get(key[..slash], key[(slash + 1)..]) is not { } svc) continue;
            _assignedEvent[key] = Node;
            _events?.Normal(EventRecorder.Reference(svc), "nodeAssigned", $"announcing from node \"{Node}\" with protocol \"{protocol}\"");
        }
    }

    /// <summary>Tells each responder what to answer and what to report.</summary>
    void Push()
    {
        var watched = _check.Targets;
        foreach (var (index, responder) in _responders)
            responder.Set(OwnedIps(index),
                watched.Where(t => t.InterfaceIndex == index).Select(t => t.Ip).ToList());
    }

    /// <summary>The layer2 addresses this node answers for (on one interface, or anywhere).</summary>
    List<IPAddress> OwnedIps(int? interfaceIndex = null) =>
        _owned.Values.Where(o => interfaceIndex is null || o.Interfaces.Contains(interfaceIndex.Value)).Select(o => o.Ip).Distinct().ToList();

    /// <summary>Where this node answers for <paramref name="ip"/>, or null when it does not.</summary>
    IReadOnlyList<int>? InterfacesOf(IPAddress ip) => _owned.Values.FirstOrDefault(o => o.Ip.Equals(ip))?.Interfaces;

    void StartGratuitous(IPAddress ip, DateTimeOffset now)
    {
        _gratuitous[ip] = (now, now + _options.GratuitousFor);
        SendGratuitous(now);
    }

    void SendGratuitous(DateTimeOffset now)
    {
        foreach (var (ip, (next, until)) in _gratuitous.ToList())
        {
            if (next > now) continue;
            if (InterfacesOf(ip) is not { } interfaces || now > until) { _gratuitous.Remove(ip); continue; }
            foreach (var index in interfaces)
                if (_responders.TryGetValue(index, out var r))
                {
                    try { r.Announce(ip); }
                    catch (Exception e) { Failed(index, e); }
                }
            _gratuitous[ip] = (next + _options.GratuitousInterval, until);
        }
    }

    void Publish(IReadOnlySet<string> suspected)
    {
        bool synced = _services?.HasSynced == true && _configMaps?.HasSynced == true && _nodes?.HasSynced == true && _leases?.HasSynced == true
            && (_slices?.HasSynced ?? true) && (_endpoints?.HasSynced ?? true);
        bool ready = synced && _pools is not null && _leaseOk is not null;
        string detail = !synced ? "waiting for the first lists of Services, endpoints, Nodes, Leases and ConfigMaps"
            : _pools is null ? $"no valid MetalLB configuration in {_namespace} yet"
            : _leaseOk is null ? $"writing Lease {Membership.LeaseName(Node)}"
            : $"announcing {OwnedIps().Count} address(es) by layer2 and {_bgpAnnounced.Count} by BGP ({_bgp?.Sessions ?? 0} session(s)); {_live.Count} speaker(s) live{(suspected.Count > 0 ? $", {suspected.Count} not answering on the segment" : "")}";
        _state = new SpeakerState(ready, _pools is not null, OwnedIps().Count + _bgpAnnounced.Count, _live, suspected, detail);
    }

    // ---- ILayer2Events: called from the receive loops ---------------------------------------------

    public void Request(IPAddress ip) => Metrics.Request(ip);
    public void Response(IPAddress ip) => Metrics.Response(ip);
    public void Gratuitous(IPAddress ip) => Metrics.Gratuitous(ip);
    public void Seen(IPAddress ip, PhysicalAddress mac, int interfaceIndex, bool claim) => _work.Writer.TryWrite(new SeenOnWire(ip, mac, interfaceIndex, claim));
    public void Failed(int interfaceIndex, Exception error) => _work.Writer.TryWrite(new ResponderFailed(interfaceIndex, error));
}
