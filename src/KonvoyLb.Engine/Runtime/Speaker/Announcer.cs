using System.Net;
using System.Security.Cryptography;
using System.Text;
using k8s.Models;
using KonvoyLb.Engine.Runtime.Controller;

namespace KonvoyLb.Engine.Runtime.Speaker;

/// <summary>What the speaker knows of a Service: its addresses, its traffic policy and the nodes with a ready endpoint.</summary>
public sealed record SpeakerService(string Key, IReadOnlyList<IPAddress> Ips, bool LocalPolicy, IReadOnlySet<string> ReadyNodes);

/// <summary>A node as the speakers see it: whether a speaker lives there, and whether it is kept out of load balancing.</summary>
public sealed record SpeakerNode(string Name, bool SpeakerLive, string? Excluded = null);

/// <summary>One address announced by one node for one Service.</summary>
public sealed record Announcement(string Service, IPAddress Ip, string Protocol, string Pool, string Node);

/// <summary>
/// Which node announces what (pure): every speaker computes the same answer from the same state. For layer2 the owner
/// of a Service's addresses is, among the eligible nodes, the one with the lowest sha256(node + "#" + first address)
/// (MetalLB 0.11+: services sharing an address land on one node). Eligible: a live speaker, not excluded (the
/// exclude-from-external-load-balancers label, NetworkUnavailable), and for externalTrafficPolicy Local a ready endpoint
/// on the node. A Service without a ready endpoint anywhere is announced by nobody.
/// </summary>
public static class Announcer
{
    public const string ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers";

    /// <summary>The node with the lowest sha256(node + "#" + key), or null when there is none.</summary>
    public static string? Owner(IPAddress key, IEnumerable<string> eligible) => Ranking(key, eligible).FirstOrDefault();

    /// <summary>The nodes in the order they would announce the key: lowest sha256(node + "#" + key) first (ties by name).</summary>
    public static List<string> Ranking(IPAddress key, IEnumerable<string> eligible) =>
        eligible.Select(node => (node, hash: SHA256.HashData(Encoding.UTF8.GetBytes(node + "#" + key))))
            .OrderBy(x => x.hash, HashOrder.Instance).ThenBy(x => x.node, StringComparer.Ordinal)
            .Select(x => x.node).ToList();

    sealed class HashOrder : IComparer<byte[]>
    {
        public static readonly HashOrder Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }

    /// <summary>How many nodes behind an owner check it: the next in line, and one more so that a second failure soon after a first is as fast.</summary>
    public const int CheckersPerOwner = 2;

    /// <summary>
    /// What <paramref name="me"/> checks on the segment (see <see cref="OwnerCheck"/>), from the nodes whose Lease is live
    /// (suspected ones included) and the suspicion so far. For each layer2 Service: when the first unsuspected node of its
    /// ranking is another node and fewer than <see cref="CheckersPerOwner"/> unsuspected nodes stand between it and me,
    /// I check that owner through the Service's first layer2 IPv4 address (else IPv6); when I am the owner only because
    /// the nodes ahead of me are suspected, I check those, so that their return is seen (and so the suspected nodes ahead
    /// of any owner). Each owner is so probed by at
    /// most two nodes, whatever the size of the cluster.
    /// </summary>
    public static List<(string Node, IPAddress Ip)> Checks(PoolSet pools, IEnumerable<SpeakerService> services,
        IReadOnlyDictionary<string, SpeakerNode> leaseLive, IReadOnlySet<string> suspected, string me)
    {
        var result = new List<(string, IPAddress)>();
        foreach (var service in services.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var layer2 = service.Ips.Where(ip => pools.PoolOf([ip]) is { Protocol: "layer2" }).ToList();
            if (layer2.Count == 0) continue;
            var probe = layer2.FirstOrDefault(ip => ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? layer2[0];
            var ranking = Ranking(service.Ips[0], Eligible(service, leaseLive));
            int mine = ranking.IndexOf(me);
            if (mine <= 0) continue;
            int owner = ranking.FindIndex(n => n == me || !suspected.Contains(n));
            // The nodes ahead of the owner are the ones I suspect: probed on, so that their return is seen.
            result.AddRange(ranking.Take(owner).Select(n => (n, probe)));
            if (owner != mine && ranking.Skip(owner + 1).Take(mine - owner - 1).Count(n => !suspected.Contains(n)) < CheckersPerOwner)
                result.Add((ranking[owner], probe));
        }
        return result;
    }

    /// <summary>The nodes eligible to announce a Service, in name order.</summary>
    public static IEnumerable<string> Eligible(SpeakerService service, IReadOnlyDictionary<string, SpeakerNode> nodes) =>
        service.ReadyNodes.Count == 0 ? [] : nodes.Values
            .Where(n => n.SpeakerLive && n.Excluded is null && (!service.LocalPolicy || service.ReadyNodes.Contains(n.Name)))
            .Select(n => n.Name).OrderBy(n => n, StringComparer.Ordinal);

    /// <summary>Every layer2 announcement of the cluster (each address with its owner).</summary>
    public static List<Announcement> Layer2(PoolSet pools, IEnumerable<SpeakerService> services, IReadOnlyDictionary<string, SpeakerNode> nodes)
    {
        var result = new List<Announcement>();
        foreach (var service in services.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            // Hashing is the cost: only Services with a layer2 address get that far.
            var layer2 = service.Ips.Select(ip => (ip, pool: pools.PoolOf([ip]))).Where(x => x.pool is { Protocol: "layer2" }).ToList();
            if (layer2.Count == 0) continue;
            var owner = Owner(service.Ips[0], Eligible(service, nodes));
            if (owner is null) continue;
            foreach (var (ip, pool) in layer2) result.Add(new Announcement(service.Key, ip, "layer2", pool!.Name, owner));
        }
        return result;
    }

    /// <summary>The nodes that do not take part, and why (the label, or the NetworkUnavailable condition).</summary>
    public static string? ExcludedBecause(V1Node node)
    {
        if (node.Metadata?.Labels?.ContainsKey(ExcludeLabel) == true) return $"labelled {ExcludeLabel}";
        if (node.Status?.Conditions?.Any(c => c.Type == "NetworkUnavailable" && c.Status == "True") == true) return "condition NetworkUnavailable";
        return null;
    }

    /// <summary>The nodes holding a ready endpoint of a Service, from its EndpointSlices (ready unset counts as ready, as in the API).</summary>
    public static IReadOnlySet<string> ReadyNodes(IEnumerable<V1EndpointSlice> slices) =>
        slices.SelectMany(s => s.Endpoints ?? [])
            .Where(e => e.Conditions?.Ready != false && !string.IsNullOrEmpty(e.NodeName))
            .Select(e => e.NodeName!).ToHashSet(StringComparer.Ordinal);
}
