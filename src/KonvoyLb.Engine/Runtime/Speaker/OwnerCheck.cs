using System.Net;

namespace KonvoyLb.Engine.Runtime.Speaker;

/// <summary>One node this speaker checks: the address it probes for it and the interface to probe on.</summary>
public sealed record CheckTarget(string Node, IPAddress Ip, int InterfaceIndex);

/// <summary>
/// The direct check on the segment that makes layer2 failover fast without writing to the API server (pure; the
/// caller sends the probes and reports the answers). A Lease says a speaker is alive within its duration; this says so
/// within a few probe intervals. The node next in line for an address probes that address (an ARP probe, or a
/// Neighbor Solicitation) every interval; the owner's speaker answers it. After <c>misses</c> intervals in a row
/// without any answer from another MAC the owner is suspected, and every speaker that suspects it treats it as gone
/// for the addresses it would take. A suspected node is probed on: any answer or announcement from it clears the
/// suspicion at once (a restarted speaker, a link plugged back in).
/// </summary>
public sealed class OwnerCheck(int misses)
{
    sealed class State(CheckTarget target)
    {
        public CheckTarget Target = target;
        public int Misses;
        public System.Net.NetworkInformation.PhysicalAddress? Mac;
        public bool Probed, Answered, Suspected;
    }

    readonly Dictionary<string, State> _nodes = new(StringComparer.Ordinal);

    public int MissLimit { get; } = Math.Max(1, misses);

    /// <summary>The nodes suspected now.</summary>
    public IReadOnlySet<string> Suspected => _nodes.Values.Where(s => s.Suspected).Select(s => s.Target.Node).ToHashSet(StringComparer.Ordinal);

    /// <summary>The nodes checked now, with what is probed for each.</summary>
    public IReadOnlyList<CheckTarget> Targets => _nodes.Values.Select(s => s.Target).ToList();

    /// <summary>
    /// Replaces what is checked. A node that stays keeps its count and suspicion (a new address for it starts a fresh
    /// probe); a node dropped is forgotten, suspicion included.
    /// </summary>
    public void Check(IEnumerable<CheckTarget> targets)
    {
        var next = targets.GroupBy(t => t.Node, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var node in _nodes.Keys.Where(n => !next.ContainsKey(n)).ToList()) _nodes.Remove(node);
        foreach (var (node, target) in next)
        {
            if (!_nodes.TryGetValue(node, out var state)) _nodes[node] = new State(target);
            else if (state.Target != target) { state.Target = target; state.Probed = false; }
        }
    }

    /// <summary>
    /// <paramref name="mac"/> (not ours) answered for <paramref name="ip"/>. When the MAC's node is known (the speakers
    /// list their MACs in their Leases) that node is there, whatever address it answered for. Otherwise the node checked
    /// through the address is taken to be there, and its MAC is learnt from its first answer, so that when several nodes
    /// are checked through one address only the one that answers is cleared. True when that cleared a suspicion.
    /// </summary>
    public bool Answer(IPAddress ip, System.Net.NetworkInformation.PhysicalAddress mac, string? node = null)
    {
        bool cleared = false;
        var states = node is not null ? _nodes.Values.Where(s => s.Target.Node == node) : _nodes.Values.Where(s => s.Target.Ip.Equals(ip));
        foreach (var s in states.ToList())
        {
            if (node is null)
            {
                if (s.Mac is not null && !s.Mac.Equals(mac)) continue;
                // An answer from a MAC already known as another node's says nothing of this one.
                if (s.Mac is null && _nodes.Values.Any(o => o != s && mac.Equals(o.Mac))) continue;
            }
            s.Mac = mac;
            s.Answered = true;
            s.Misses = 0;
            if (s.Suspected) { s.Suspected = false; cleared = true; }
        }
        return cleared;
    }

    /// <summary>
    /// One probe interval has passed: counts a miss for each node probed and not answered since, suspects those at the
    /// limit, and returns the probes to send now. <paramref name="newlySuspected"/> lists the nodes suspected by this tick.
    /// </summary>
    public List<CheckTarget> Tick(out List<string> newlySuspected)
    {
        newlySuspected = [];
        foreach (var s in _nodes.Values)
        {
            if (s.Probed && !s.Answered && !s.Suspected && ++s.Misses >= MissLimit)
            {
                s.Suspected = true;
                newlySuspected.Add(s.Target.Node);
            }
            s.Probed = true;
            s.Answered = false;
        }
        return _nodes.Values.Select(s => s.Target).ToList();
    }
}
