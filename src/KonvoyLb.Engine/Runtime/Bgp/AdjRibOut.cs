namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>
/// The routes a session should announce (desired state, changed from any thread) and the routes the peer was sent
/// (RFC 4271's Adj-RIB-Out). <see cref="Difference"/> is what a sync must send; <see cref="Sent"/> records that it went
/// out. No I/O: the session encodes and writes.
/// </summary>
public sealed class AdjRibOut
{
    readonly object _gate = new();
    readonly Dictionary<BgpPrefix, BgpRoute> _desired = new();
    readonly Dictionary<BgpPrefix, BgpRoute> _sent = new();

    /// <summary>Routes wanted (whether or not the session carries their family).</summary>
    public int DesiredCount { get { lock (_gate) return _desired.Count; } }

    /// <summary>Routes the peer holds from us.</summary>
    public int SentCount { get { lock (_gate) return _sent.Count; } }

    /// <summary>Routes wanted but not (yet) at the peer.</summary>
    public int PendingCount { get { lock (_gate) return _desired.Keys.Count(p => !_sent.ContainsKey(p)); } }

    public void Advertise(BgpRoute route) { lock (_gate) _desired[route.Prefix] = route; }

    public void Withdraw(BgpPrefix prefix) { lock (_gate) _desired.Remove(prefix); }

    public void SetRoutes(IEnumerable<BgpRoute> routes)
    {
        lock (_gate)
        {
            _desired.Clear();
            foreach (var r in routes) _desired[r.Prefix] = r;
        }
    }

    /// <summary>
    /// What to send so the peer holds exactly the wanted routes that <paramref name="carried"/> accepts: new routes and
    /// routes whose attributes changed, and withdrawals of everything else it holds.
    /// </summary>
    public (List<BgpRoute> Announce, List<BgpPrefix> Withdraw) Difference(Func<BgpPrefix, bool> carried)
    {
        lock (_gate)
        {
            var announce = _desired.Values
                .Where(r => carried(r.Prefix) && !(_sent.TryGetValue(r.Prefix, out var sent) && sent.AttributeKey == r.AttributeKey))
                .ToList();
            var withdraw = _sent.Keys.Where(p => !_desired.ContainsKey(p) || !carried(p)).ToList();
            return (announce, withdraw);
        }
    }

    /// <summary>Records that a <see cref="Difference"/> reached the peer.</summary>
    public void Sent(IEnumerable<BgpRoute> announced, IEnumerable<BgpPrefix> withdrawn)
    {
        lock (_gate)
        {
            foreach (var p in withdrawn) _sent.Remove(p);
            foreach (var r in announced) _sent[r.Prefix] = r;
        }
    }

    /// <summary>True when a wanted route's prefix matches.</summary>
    public bool AnyWanted(Func<BgpPrefix, bool> match) { lock (_gate) return _desired.Keys.Any(match); }

    /// <summary>Every route the peer holds of one family (for ROUTE-REFRESH).</summary>
    public List<BgpRoute> SentRoutes(bool ipv6) { lock (_gate) return _sent.Values.Where(r => r.Prefix.IsIPv6 == ipv6).ToList(); }

    /// <summary>The session ended: the peer holds nothing from us any more.</summary>
    public void SessionEnded() { lock (_gate) _sent.Clear(); }
}
