using System.Net;

namespace KonvoyLb.Engine.Net.Probing;

/// <summary>
/// What was seen for one address from one place (this computer, or a host over SSH): the route, the MACs that
/// answered the ARP/NDP probe, the ICMP round trip, the TCP result; or a status decided before any probe (Early).
/// </summary>
public sealed record VipEvidence(
    ProbeTarget Target, RouteInfo Route, string? Interface, IReadOnlyList<string> Macs, bool Probed, double? Rtt, TcpResult? Tcp,
    VipStatus? Early = null, string? EarlyAdvice = null, string NotProbedReason = "", string? Source = null);

/// <summary>The one rule that turns evidence into a status and advice, wherever the probes ran.</summary>
public static class VipJudgement
{
    /// <param name="nodeMacs">MAC → node address, learnt by probing the nodes too: an answer from a node is told from a foreign one.</param>
    public static VipProbeResult Judge(VipEvidence e, IReadOnlyDictionary<string, string> nodeMacs, bool inventoryKnown)
    {
        var (route, macs, tcp) = (e.Route, e.Macs, e.Tcp);
        VipProbeResult Result(VipStatus status, string advice) => new()
        {
            Address = e.Target.Address, Pool = e.Target.Pool, Source = e.Source ?? Environment.MachineName, Interface = e.Interface,
            Route = route.Kind, Gateway = route.Gateway, SourceAddress = route.Source, Status = status, Advice = advice, AnsweringMacs = macs,
            AnsweredByNode = macs.Select(m => nodeMacs.GetValueOrDefault(m)).FirstOrDefault(n => n is not null),
            IcmpReply = e.Early is not null || !e.Probed ? null : e.Rtt is not null, RttMilliseconds = e.Rtt, Tcp = tcp,
        };
        if (e.Early is { } early) return Result(early, e.EarlyAdvice!);

        bool tcpAnswered = tcp is TcpResult.Open or TcpResult.Refused;
        // Without ICMP, a link-layer answer is still evidence; with neither, nothing is known.
        if (!e.Probed && macs.Count == 0)
            return Result(tcp is null ? VipStatus.Untested : tcpAnswered ? VipStatus.Reachable : VipStatus.Unreachable,
                $"route {(route.Kind == RouteKind.OnLink ? $"on-link on {e.Interface}" : $"via {route.Gateway}")}; link-layer and ICMP probes did not run ({e.NotProbedReason})");
        if (route.Kind == RouteKind.ViaGateway)
            return e.Rtt is not null || tcpAnswered
                ? Result(VipStatus.Reachable, $"routed via {route.Gateway}; something answers there already")
                : Result(VipStatus.Unreachable, $"routed via {route.Gateway} and nothing answers: fine for an unused VIP, but only if the router sends it to the nodes (a route, or BGP)");
        if (macs.Count == 0)
            return e.Rtt is not null || tcpAnswered
                ? Result(VipStatus.Owned, "no link-layer answer, but the address answers: a host uses it")
                : Result(VipStatus.Free, $"nobody answers on {e.Interface}: free for MetalLB to take");
        if (macs.Count > 1)
        {
            var who = macs.Select(m => nodeMacs.TryGetValue(m, out var n) ? $"{m} (node {n})" : m);
            return Result(VipStatus.Conflict, $"answered by {macs.Count} MACs ({string.Join(", ", who)}): more than one host uses this address; remove it from the pool or free it");
        }
        return nodeMacs.TryGetValue(macs[0], out var node)
            ? Result(VipStatus.Owned, $"answered with the MAC of node {node}: MetalLB (or the node itself) holds it")
            : Result(VipStatus.Owned, inventoryKnown
                ? $"answered by {macs[0]}, which is not a node: another host uses this address; remove it from the pool"
                : $"answered by {macs[0]}: something uses this address (give -InventoryPath to tell whether it is a node)");
    }
}

/// <summary>One address seen from every host that was probed: how many saw it in each state, and which hosts saw it free.</summary>
public sealed class VipReachabilitySummary
{
    public IPAddress Address { get; init; } = IPAddress.None;
    public string? Pool { get; init; }
    /// <summary>Hosts whose results are in (the others had a fault).</summary>
    public int Hosts { get; init; }
    public int Free { get; init; }
    public int Owned { get; init; }
    public int Conflict { get; init; }
    public int Reachable { get; init; }
    public int Unreachable { get; init; }
    public int NoRoute { get; init; }
    public int Untested { get; init; }
    /// <summary>Owned or Conflict anywhere wins; then NoRoute anywhere; else the state every host agrees on, or Mixed.</summary>
    public string Status { get; init; } = "";
    /// <summary>The hosts that saw something other than Free, with what they saw: "192.168.25.133=NoRoute".</summary>
    public IReadOnlyList<string> Exceptions { get; init; } = [];

    public static IEnumerable<VipReachabilitySummary> Of(IEnumerable<ProbeTarget> targets, IReadOnlyList<VipProbeResult> results, int hosts) =>
        targets.Select(t =>
        {
            var mine = results.Where(r => r.Address.Equals(t.Address)).ToList();
            int N(VipStatus s) => mine.Count(r => r.Status == s);
            var statuses = mine.Select(r => r.Status).Distinct().ToList();
            string status = N(VipStatus.Conflict) > 0 ? "Conflict" : N(VipStatus.Owned) > 0 ? "Owned" : N(VipStatus.NoRoute) > 0 ? "NoRoute"
                : statuses.Count == 1 ? statuses[0].ToString() : statuses.Count == 0 ? "Untested" : "Mixed";
            return new VipReachabilitySummary
            {
                Address = t.Address, Pool = t.Pool, Hosts = hosts,
                Free = N(VipStatus.Free), Owned = N(VipStatus.Owned), Conflict = N(VipStatus.Conflict), Reachable = N(VipStatus.Reachable),
                Unreachable = N(VipStatus.Unreachable), NoRoute = N(VipStatus.NoRoute), Untested = N(VipStatus.Untested), Status = status,
                Exceptions = mine.Where(r => r.Status != VipStatus.Free).Select(r => $"{r.Source}={r.Status}").ToList(),
            };
        });
}
