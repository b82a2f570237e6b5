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
    public static string? Owner(IPAddress key, IEnumerable<string> eligible)
    {
        string? best = null;
        byte[]? bestHash = null;
        foreach (var node in eligible)
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(node + "#" + key));
            if (bestHash is null || hash.AsSpan().SequenceCompareTo(bestHash) < 0 || (hash.AsSpan().SequenceEqual(bestHash) && string.CompareOrdinal(node, best) < 0))
            {
                best = node;
                bestHash = hash;
            }
        }
        return best;
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
            if (service.Ips.Count == 0) continue;
            var owner = Owner(service.Ips[0], Eligible(service, nodes));
            if (owner is null) continue;
            foreach (var ip in service.Ips)
                if (pools.PoolOf([ip]) is { Protocol: "layer2" } pool) result.Add(new Announcement(service.Key, ip, "layer2", pool.Name, owner));
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
