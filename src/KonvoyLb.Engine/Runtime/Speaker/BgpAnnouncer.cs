using System.Net;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Runtime.Bgp;
using KonvoyLb.Engine.Runtime.Controller;
using KonvoyLb.Engine.Runtime.Observability;
using Prometheus;

namespace KonvoyLb.Engine.Runtime.Speaker;

/// <summary>One address this node announces by BGP, and the routes that carry it.</summary>
public sealed record BgpAnnouncement(string Service, IPAddress Ip, string Pool, IReadOnlyList<BgpRoute> Routes);

/// <summary>
/// The speaker's BGP mode: one <see cref="BgpSession"/> per peer of the configuration whose node-selectors match this
/// node's labels, each given every route this node announces (the session sends only the difference). A changed peer is
/// re-established, a removed one gets a Cease, the others stay up. Decisions come from the speaker's loop; sessions
/// reconnect with their own back-off and report failures as state, never as exceptions.
/// </summary>
public sealed class BgpAnnouncer(string node, RuntimeLog log, TimeProvider time, BgpMetrics metrics) : IAsyncDisposable
{
    readonly Dictionary<string, (BgpPeerSettings Settings, BgpSession Session)> _sessions = new(StringComparer.Ordinal);
    readonly List<Task> _stopping = [];

    /// <summary>Whether a peer's node-selectors pick this node (none: every node; several: any of them).</summary>
    public static bool Selects(BgpPeer peer, IReadOnlyDictionary<string, string> labels) =>
        peer.NodeSelectors is not { Count: > 0 } selectors || selectors.Any(s => Matches(s, labels));

    static bool Matches(NodeSelector selector, IReadOnlyDictionary<string, string> labels) =>
        (selector.MatchLabels ?? []).All(l => labels.TryGetValue(l.Key, out var v) && v == l.Value)
        && (selector.MatchExpressions ?? []).All(e => e.Operator.ToLowerInvariant() switch
        {
            "in" => labels.TryGetValue(e.Key, out var v) && (e.Values ?? []).Contains(v),
            "notin" => !labels.TryGetValue(e.Key, out var v) || !(e.Values ?? []).Contains(v),
            "exists" => labels.ContainsKey(e.Key),
            "doesnotexist" => !labels.ContainsKey(e.Key),
            _ => false,
        });

    /// <summary>
    /// What this node announces by BGP (pure): every address of a bgp pool held by a Service with a ready endpoint
    /// (Cluster policy: anywhere; Local: on this node), with one route per bgp-advertisement of its pool.
    /// </summary>
    public static List<BgpAnnouncement> Announcements(MetalLbConfig config, PoolSet pools, IEnumerable<SpeakerService> services, string me, bool excluded)
    {
        var result = new List<BgpAnnouncement>();
        if (excluded) return result;
        foreach (var service in services.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            bool ready = service.LocalPolicy ? service.ReadyNodes.Contains(me) : service.ReadyNodes.Count > 0;
            if (!ready) continue;
            foreach (var ip in service.Ips)
                if (pools.PoolOf([ip]) is { Protocol: "bgp" } pool && config.AddressPools?.FirstOrDefault(p => p.Name == pool.Name) is { } configured)
                    result.Add(new BgpAnnouncement(service.Key, ip, pool.Name, BgpAdvertisements.RoutesFor(ip, configured, config.BgpCommunities)));
        }
        return result;
    }

    /// <summary>The sessions this node wants and the routes they carry; what changed is all that happens.</summary>
    public void Apply(MetalLbConfig config, IReadOnlyDictionary<string, string> labels, IReadOnlyList<BgpRoute> routes)
    {
        var wanted = new Dictionary<string, BgpPeerSettings>(StringComparer.Ordinal);
        foreach (var peer in config.Peers ?? [])
        {
            if (!Selects(peer, labels)) continue;
            try
            {
                var settings = BgpPeerSettings.From(peer);
                wanted[Key(settings)] = settings;
                log.Forget($"peer:{peer.PeerAddress}");
            }
            catch (LbException e)
            {
                log.Once($"peer:{peer.PeerAddress}", LogLevel.Error, "bgpPeerInvalid", e.Message, ("errorId", e.Id.ToString()));
            }
        }
        foreach (var (key, (settings, session)) in _sessions.ToList())
        {
            if (wanted.TryGetValue(key, out var want) && want == settings) continue;
            _sessions.Remove(key);
            metrics.Remove(key);
            log.Info("bgpSessionStopped", $"BGP peer {settings}: {(want is null ? "no longer in the configuration for this node" : "changed")}; closing the session (Cease)", ("peer", key));
            _stopping.Add(StopAsync(session, want is null ? "peer removed from the configuration" : "peer configuration changed"));
        }
        foreach (var (key, settings) in wanted)
        {
            if (_sessions.ContainsKey(key)) continue;
            var session = new BgpSession(settings, line => log.Debug("bgp", line, ("peer", key)), time);
            session.Failed += f => log.Once($"bgpFailed:{key}:{f.Id}", LogLevel.Warning, "bgpSessionFailed", $"BGP peer {settings}: {f.Message}", ("peer", key), ("errorId", f.Id.ToString()));
            session.StateChanged += s =>
            {
                if (s == BgpSessionState.Established)
                {
                    log.ForgetPrefix($"bgpFailed:{key}:");
                    log.Info("bgpSessionUp", $"BGP session to {settings} established", ("peer", key));
                }
            };
            _sessions[key] = (settings, session);
            log.Info("bgpSessionStarted", $"BGP peer {settings}: opening a session from node {node}", ("peer", key));
            _ = session.StartAsync();
        }
        foreach (var (_, session) in _sessions.Values) session.SetRoutes(routes);
    }

    /// <summary>Sessions' state into the metrics (called on the speaker's tick).</summary>
    public void Publish()
    {
        foreach (var (key, (_, session)) in _sessions) metrics.Set(key, session.Stats);
    }

    public int Sessions => _sessions.Count;

    /// <summary>Every session: withdraw everything and Cease (a clean stop).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var (key, (_, session)) in _sessions)
        {
            metrics.Remove(key);
            _stopping.Add(StopAsync(session, "speaker stopping"));
        }
        _sessions.Clear();
        try { await Task.WhenAll(_stopping).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
        catch (Exception) { /* stopping */ }
    }

    static string Key(BgpPeerSettings s) => new IPEndPoint(s.PeerAddress, s.Port).ToString();

    static async Task StopAsync(BgpSession session, string why)
    {
        try
        {
            session.SetRoutes([]);
            await session.StopAsync(why).ConfigureAwait(false);
        }
        catch (Exception) { /* a session that cannot say goodbye is gone anyway */ }
        finally { await session.DisposeAsync().ConfigureAwait(false); }
    }
}

/// <summary>MetalLB's BGP series, peer = "ip:port".</summary>
public sealed class BgpMetrics
{
    readonly Gauge _up, _announced, _pending;
    readonly Counter _updates;

    public BgpMetrics(IMetricFactory f)
    {
        var labels = new GaugeConfiguration { LabelNames = ["peer"] };
        _up = f.CreateGauge("metallb_bgp_session_up", "BGP session state (1 is up, 0 is down)", labels);
        _announced = f.CreateGauge("metallb_bgp_announced_prefixes_total", "Number of prefixes currently being advertised on the BGP session", labels);
        _pending = f.CreateGauge("metallb_bgp_pending_prefixes_total", "Number of prefixes that should be advertised on the BGP session", labels);
        _updates = f.CreateCounter("metallb_bgp_updates_total", "Number of BGP UPDATE messages sent", new CounterConfiguration { LabelNames = ["peer"] });
    }

    public void Set(string peer, BgpSessionStats stats)
    {
        _up.WithLabels(peer).Set(stats.State == BgpSessionState.Established ? 1 : 0);
        _announced.WithLabels(peer).Set(stats.PrefixesAdvertised);
        _pending.WithLabels(peer).Set(stats.PendingPrefixes);
        _updates.WithLabels(peer).IncTo(stats.UpdatesSent);
    }

    public void Remove(string peer)
    {
        _up.RemoveLabelled(peer);
        _announced.RemoveLabelled(peer);
        _pending.RemoveLabelled(peer);
        _updates.RemoveLabelled(peer);
    }
}
