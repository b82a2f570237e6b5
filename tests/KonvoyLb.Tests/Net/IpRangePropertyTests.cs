using System.Net;
using System.Net.Sockets;
using CsCheck;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Tests.Net;

// Random ranges checked against a naive oracle that works address by address.
public class IpRangePropertyTests
{
    private static readonly UInt128 V4Base = IpRange.ToValue(IPAddress.Parse("192.0.2.0"));

    // Small universes so that random ranges collide often. The IPv4 one (192.0.2.0/23) crosses a .255/.0
    // boundary for CountUsable. The last IPv6 one holds the same numbers as the IPv4 one (::c000:200/119),
    // so treating equal values of different families as overlapping would show.
    private static readonly (AddressFamily Family, UInt128 Base, int Size)[] Universes =
    [
        (AddressFamily.InterNetwork, V4Base, 512),
        (AddressFamily.InterNetworkV6, IpRange.ToValue(IPAddress.Parse("2001:db8::")), 256),
        (AddressFamily.InterNetworkV6, V4Base, 512),
    ];

    private static readonly Gen<IpRange> SmallRange =
        Gen.Select(Gen.Int[0, Universes.Length - 1], Gen.Int[0, 511], Gen.OneOf(Gen.Int[0, 3], Gen.Int[0, 40], Gen.Int[0, 511]),
            (u, start, length) =>
            {
                var (family, @base, size) = Universes[u];
                int first = start % size, last = Math.Min(first + length, size - 1);
                return new IpRange(family, @base + (UInt128)first, @base + (UInt128)last);
            });

    private static readonly Gen<IPAddress> SmallAddress =
        Gen.Select(Gen.Int[0, Universes.Length - 1], Gen.Int[0, 511], (u, offset) =>
        {
            var (family, @base, size) = Universes[u];
            return IpRange.ToAddress(family, @base + (UInt128)(offset % size));
        });

    // A value of the family's width, often with its low bits all cleared or all set, so that
    // ranges start and end on block boundaries of every size.
    private static Gen<UInt128> Value(int bits) =>
        Gen.Select(Gen.ULong, Gen.ULong, Gen.Int[0, bits], Gen.Int[0, 2], (hi, lo, hostBits, shape) =>
        {
            var v = new UInt128(hi, lo) & Mask(bits);
            return shape switch { 0 => v & ~Mask(hostBits), 1 => v | Mask(hostBits), _ => v };
        });

    private static readonly Gen<IpRange> AnyRange = Gen.OneOf(
        Gen.Select(Value(32), Value(32), (a, b) => new IpRange(AddressFamily.InterNetwork, UInt128.Min(a, b), UInt128.Max(a, b))),
        Gen.Select(Value(128), Value(128), (a, b) => new IpRange(AddressFamily.InterNetworkV6, UInt128.Min(a, b), UInt128.Max(a, b))));

    // Anywhere in the address space but short enough to enumerate.
    private static readonly Gen<IpRange> ShortRange = Gen.OneOf(
        Gen.Select(Value(32), Gen.Int[0, 1500], (a, n) => new IpRange(AddressFamily.InterNetwork, a, UInt128.Min(a + (UInt128)n, uint.MaxValue))),
        Gen.Select(Value(128), Gen.Int[0, 1500], (a, n) => new IpRange(AddressFamily.InterNetworkV6, a, UInt128.MaxValue - a < (UInt128)n ? UInt128.MaxValue : a + (UInt128)n)),
        SmallRange);

    private static UInt128 Mask(int bits) => bits >= 128 ? UInt128.MaxValue : (UInt128.One << bits) - 1;

    private static List<(AddressFamily Family, UInt128 Value)> Addresses(IpRange r)
    {
        var all = new List<(AddressFamily, UInt128)>();
        for (var v = r.First; ; v++)
        {
            all.Add((r.Family, v));
            if (v == r.Last)
                return all;
        }
    }

    private static IpRange? NaiveIntersect(HashSet<(AddressFamily Family, UInt128 Value)> a, HashSet<(AddressFamily Family, UInt128 Value)> b)
    {
        var common = a.Intersect(b).ToList();
        if (common.Count == 0)
            return null;
        var overlap = new IpRange(common[0].Family, common.Min(x => x.Value), common.Max(x => x.Value));
        Assert.Equal((UInt128)common.Count, overlap.Count); // the overlap of two ranges has no gaps
        return overlap;
    }

    private static List<(int, int, IpRange)> NaiveOverlaps(IReadOnlyList<IpRange> left, IReadOnlyList<IpRange> right, bool sameList)
    {
        var leftSets = left.Select(r => Addresses(r).ToHashSet()).ToList();
        var rightSets = right.Select(r => Addresses(r).ToHashSet()).ToList();
        var pairs = new List<(int, int, IpRange)>();
        for (int i = 0; i < left.Count; i++)
        {
            for (int j = sameList ? i + 1 : 0; j < right.Count; j++)
            {
                if (NaiveIntersect(leftSets[i], rightSets[j]) is { } overlap)
                    pairs.Add((i, j, overlap));
            }
        }
        return pairs;
    }

    [Fact]
    public void FindOverlaps_matches_the_naive_oracle() =>
        SmallRange.Array[0, 16].Sample(ranges =>
            Assert.Equal(NaiveOverlaps(ranges, ranges, sameList: true), IpRangeOverlap.FindOverlaps(ranges)),
            iter: 400);

    [Fact]
    public void FindOverlaps_between_two_lists_matches_the_naive_oracle() =>
        Gen.Select(SmallRange.Array[0, 12], SmallRange.Array[0, 12]).Sample((left, right) =>
            Assert.Equal(NaiveOverlaps(left, right, sameList: false), IpRangeOverlap.FindOverlaps(left, right)),
            iter: 400);

    [Fact]
    public void Intersect_and_Overlaps_match_the_naive_oracle() =>
        Gen.Select(SmallRange, SmallRange).Sample((a, b) =>
        {
            var expected = NaiveIntersect(Addresses(a).ToHashSet(), Addresses(b).ToHashSet());
            Assert.Equal(expected, a.Intersect(b));
            Assert.Equal(expected is not null, a.Overlaps(b));
        }, iter: 2000);

    [Fact]
    public void Contains_matches_the_naive_oracle() =>
        Gen.Select(SmallRange, SmallAddress).Sample((r, address) =>
            Assert.Equal(Addresses(r).Contains((address.AddressFamily, IpRange.ToValue(address))), r.Contains(address)),
            iter: 2000);

    [Fact]
    public void Count_and_CountUsable_match_the_naive_oracle() =>
        ShortRange.Sample(r =>
        {
            var all = Addresses(r);
            var usable = all.Count(a => a.Family != AddressFamily.InterNetwork || (byte)a.Value is not (0 or 255));
            Assert.Equal((UInt128)all.Count, r.Count);
            Assert.Equal((UInt128)all.Count, r.CountUsable(avoidBuggyIps: false));
            Assert.Equal((UInt128)usable, r.CountUsable(avoidBuggyIps: true));
        }, iter: 1000);

    [Fact]
    public void ToCidrs_is_the_minimal_exact_cover() =>
        Gen.OneOf(AnyRange, ShortRange).Sample(r =>
        {
            int bits = r.Family == AddressFamily.InterNetwork ? 32 : 128;
            var cidrs = r.ToCidrs().ToList();
            var next = r.First;
            for (int i = 0; i < cidrs.Count; i++)
            {
                var (network, prefixLength) = cidrs[i];
                Assert.Equal(r.Family, network.AddressFamily);
                Assert.InRange(prefixLength, 0, bits);
                var start = IpRange.ToValue(network);
                var hostMask = Mask(bits - prefixLength);
                Assert.Equal(next, start);                      // in order, no gap, no overlap
                Assert.Equal(UInt128.Zero, start & hostMask);   // a real CIDR block
                var end = start + hostMask;
                Assert.True(end <= r.Last);
                // Minimal: the block twice as big at this start would be misaligned or run past Last.
                // Only the greedy cover satisfies this everywhere, and the greedy cover is the smallest.
                if (prefixLength > 0)
                {
                    var doubled = (hostMask << 1) | 1;
                    Assert.True((start & doubled) != 0 || start + doubled > r.Last);
                }
                if (i == cidrs.Count - 1)
                    Assert.Equal(r.Last, end);
                else
                    next = end + 1;
            }
            Assert.Equal(cidrs.Count == 1, r.IsCidr);
            Assert.Equal(cidrs.Min(c => c.PrefixLength), r.PrefixLength);
        }, iter: 2000);

    [Fact]
    public void ToString_parses_back_to_the_same_range() =>
        Gen.OneOf(AnyRange, ShortRange).Sample(r =>
        {
            Assert.True(IpRange.TryParse(r.ToString(), out var parsed, out var error), error);
            Assert.Equal(r, parsed);
        }, iter: 2000);
}
