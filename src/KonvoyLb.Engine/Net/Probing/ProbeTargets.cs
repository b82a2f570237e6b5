using System.Net;
using KonvoyLb.Engine.Config;

namespace KonvoyLb.Engine.Net.Probing;

/// <summary>Turns pools and address arguments into the list of single addresses to probe, with a guard.</summary>
public static class ProbeTargets
{
    /// <summary>Every allocatable address of the pools (honouring avoid-buggy-ips), in pool order.</summary>
    public static List<ProbeTarget> FromPools(IEnumerable<AddressPool> pools, int maxAddresses) =>
        Expand(pools.SelectMany(p => (p.Addresses ?? new()).Select(a => (Text: a, Pool: (string?)p.Name, AvoidBuggy: p.AvoidBuggyIps == true))), maxAddresses);

    /// <summary>Addresses, CIDRs and ranges as typed on the command line.</summary>
    public static List<ProbeTarget> FromArguments(IEnumerable<string> addresses, int maxAddresses) =>
        Expand(addresses.Select(a => (Text: a, Pool: (string?)null, AvoidBuggy: false)), maxAddresses);

    static List<ProbeTarget> Expand(IEnumerable<(string Text, string? Pool, bool AvoidBuggy)> entries, int maxAddresses)
    {
        var ranges = new List<(IpRange Range, string? Pool, bool AvoidBuggy)>();
        foreach (var (text, pool, avoid) in entries)
        {
            var range = IpRange.ParseArgument(text, pool is null ? "address" : $"pool {pool}: address");
            ranges.Add((range, pool, avoid));
        }
        UInt128 total = 0;
        foreach (var r in ranges) total += r.Range.CountUsable(r.AvoidBuggy);
        if (total > (UInt128)maxAddresses)
            throw new LbException(ErrorId.TooManyAddresses, $"{total} addresses would be probed, more than the limit of {maxAddresses}.", total,
                fix: "Probe fewer (-Pool, a narrower -Address) or raise -MaxAddresses if flooding that many addresses on this LAN is really intended.");
        var list = new List<ProbeTarget>((int)total);
        var seen = new HashSet<IPAddress>();
        foreach (var (range, pool, avoid) in ranges)
            for (UInt128 v = range.First; ; v++)
            {
                bool buggy = avoid && range.Family == System.Net.Sockets.AddressFamily.InterNetwork && (byte)v is 0 or 255;
                var address = IpRange.ToAddress(range.Family, v);
                if (!buggy && seen.Add(address)) list.Add(new ProbeTarget(address, pool));
                if (v == range.Last) break;
            }
        return list;
    }
}
