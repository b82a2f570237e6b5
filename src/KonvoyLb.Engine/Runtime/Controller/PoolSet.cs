using System.Net;
using System.Net.Sockets;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Engine.Runtime.Controller;

/// <summary>An address as the allocator keys it: its family and its value.</summary>
public readonly record struct IpKey(AddressFamily Family, UInt128 Value) : IComparable<IpKey>
{
    public static IpKey Of(IPAddress a) => new(a.AddressFamily, IpRange.ToValue(a));
    public IPAddress Address => IpRange.ToAddress(Family, Value);
    public int CompareTo(IpKey other) => Family != other.Family ? Family.CompareTo(other.Family) : Value.CompareTo(other.Value);
    public override string ToString() => Address.ToString();
}

/// <summary>One address pool as the allocator uses it: its ranges in config order.</summary>
public sealed record AllocatorPool(string Name, string Protocol, bool AutoAssign, bool AvoidBuggyIps, IReadOnlyList<IpRange> Ranges)
{
    /// <summary>Addresses it can hand out (IPv4 .0 and .255 left out under avoid-buggy-ips), as MetalLB's addresses_total counts them.</summary>
    public double Total => Ranges.Sum(r => (double)r.CountUsable(AvoidBuggyIps));

    public bool Contains(IPAddress ip) => (!AvoidBuggyIps || !PoolSet.IsBuggy(ip)) && Ranges.Any(r => r.Contains(ip));

    public bool HasFamily(AddressFamily f) => Ranges.Any(r => r.Family == f);
}

/// <summary>
/// The address pools of a MetalLB configuration, in config order (MetalLB 0.9–0.12 used Go's random map order;
/// config order makes every result reproducible).
/// </summary>
public sealed class PoolSet
{
    public IReadOnlyList<AllocatorPool> Pools { get; }

    public PoolSet(IReadOnlyList<AllocatorPool> pools) => Pools = pools;

    public static readonly PoolSet Empty = new([]);

    /// <summary>The pools of a configuration; an address that does not parse is left out (the validator reports it).</summary>
    public static PoolSet From(MetalLbConfig config) => new((config.AddressPools ?? [])
        .GroupBy(p => p.Name).Select(g => g.First())
        .Select(p => new AllocatorPool(p.Name, p.Protocol ?? "layer2", p.AutoAssign ?? true, p.AvoidBuggyIps ?? false,
            (p.Addresses ?? []).Select(a => IpRange.TryParse(a, out var r, out _) ? r : (IpRange?)null).Where(r => r is not null).Select(r => r!.Value).ToList()))
        .ToList());

    public AllocatorPool? Find(string name) => Pools.FirstOrDefault(p => p.Name == name);

    /// <summary>The first pool holding every one of the addresses, or null.</summary>
    public AllocatorPool? PoolOf(IEnumerable<IPAddress> ips)
    {
        var list = ips as IReadOnlyCollection<IPAddress> ?? ips.ToList();
        return Pools.FirstOrDefault(p => list.All(p.Contains));
    }

    /// <summary>IPv4 addresses ending in .0 or .255, which some old firmwares take for network or broadcast addresses.</summary>
    public static bool IsBuggy(IPAddress ip) => ip.AddressFamily == AddressFamily.InterNetwork && IsBuggy(IpRange.ToValue(ip));

    internal static bool IsBuggy(UInt128 v4) => (byte)v4 is 0 or 255;

    public string Names => Pools.Count == 0 ? "none" : string.Join(", ", Pools.Select(p => p.Name));
}
