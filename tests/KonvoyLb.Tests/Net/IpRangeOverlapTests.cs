using System.Net.Sockets;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Tests.Net;

public class IpRangeOverlapTests
{
    private static IpRange P(string text)
    {
        Assert.True(IpRange.TryParse(text, out var range, out var error), error);
        return range;
    }

    private static IpRange[] Ps(params string[] texts) => texts.Select(P).ToArray();

    [Fact]
    public void FindOverlaps_of_nothing_is_empty()
    {
        Assert.Empty(IpRangeOverlap.FindOverlaps([]));
        Assert.Empty(IpRangeOverlap.FindOverlaps([], []));
        Assert.Empty(IpRangeOverlap.FindOverlaps(Ps("192.0.2.0/24"), []));
        Assert.Empty(IpRangeOverlap.FindOverlaps([], Ps("192.0.2.0/24")));
    }

    [Fact]
    public void FindOverlaps_reports_each_overlapping_pair_once_ordered_by_index()
    {
        var ranges = Ps(
            "192.0.2.20-192.0.3.5",   // 0
            "192.0.2.10-192.0.2.20",  // 1
            "192.0.3.0/24",           // 2
            "2001:db8::/64",          // 3
            "192.0.2.0/24",           // 4
            "2001:db8::5/128",        // 5
            "192.0.2.255/32",         // 6
            "192.0.2.0-192.0.2.9",    // 7: touches 1 without overlapping it
            "::c000:200/120");        // 8: same numbers as 192.0.2.0/24, other family

        var expected = new List<(int, int, IpRange)>
        {
            (0, 1, P("192.0.2.20/32")),
            (0, 2, P("192.0.3.0-192.0.3.5")),
            (0, 4, P("192.0.2.20-192.0.2.255")),
            (0, 6, P("192.0.2.255/32")),
            (1, 4, P("192.0.2.10-192.0.2.20")),
            (3, 5, P("2001:db8::5/128")),
            (4, 6, P("192.0.2.255/32")),
            (4, 7, P("192.0.2.0-192.0.2.9")),
        };
        Assert.Equal(expected, IpRangeOverlap.FindOverlaps(ranges));
    }

    [Fact]
    public void FindOverlaps_reports_every_pair_of_identical_ranges()
    {
        var ranges = Ps("192.0.2.7/32", "192.0.2.7/32", "192.0.2.7/32");
        var seven = P("192.0.2.7/32");
        Assert.Equal([(0, 1, seven), (0, 2, seven), (1, 2, seven)], IpRangeOverlap.FindOverlaps(ranges));
    }

    [Fact]
    public void FindOverlaps_between_two_lists_ignores_overlaps_within_a_list()
    {
        var pools = Ps("192.0.2.0/24", "2001:db8::/64", "192.0.3.0/24", "192.0.2.0/23");
        var nodes = Ps("192.0.2.5/32", "192.0.3.255/32", "10.0.0.1/32", "2001:db8::1/128", "192.0.2.7/32", "192.0.2.5/32");

        var expected = new List<(int, int, IpRange)>
        {
            (0, 0, P("192.0.2.5/32")),
            (0, 4, P("192.0.2.7/32")),
            (0, 5, P("192.0.2.5/32")),
            (1, 3, P("2001:db8::1/128")),
            (2, 1, P("192.0.3.255/32")),
            (3, 0, P("192.0.2.5/32")),
            (3, 1, P("192.0.3.255/32")),
            (3, 4, P("192.0.2.7/32")),
            (3, 5, P("192.0.2.5/32")),
        };
        Assert.Equal(expected, IpRangeOverlap.FindOverlaps(pools, nodes));

        var swapped = expected.Select(e => (e.Item2, e.Item1, e.Item3)).OrderBy(e => e.Item1).ThenBy(e => e.Item2);
        Assert.Equal(swapped, IpRangeOverlap.FindOverlaps(nodes, pools));
    }

    [Fact]
    public void FindOverlaps_handles_many_scrambled_disjoint_ranges()
    {
        // Speed is measured by the Bench task, not here; this checks the sweep on a large scrambled input.
        const int n = 100_000;
        var ranges = new IpRange[n + 1];
        for (int i = 0; i < n; i++)
        {
            // Scrambled order, so the sweep really has to sort.
            UInt128 first = (UInt128)(uint)((i * 7919L) % n) * 4;
            ranges[i] = new IpRange(AddressFamily.InterNetwork, first, first + 2);
        }
        ranges[n] = new IpRange(AddressFamily.InterNetworkV6, 0, 3);

        var none = IpRangeOverlap.FindOverlaps(ranges);
        var cross = IpRangeOverlap.FindOverlaps(ranges, [P("0.0.0.0/0")]);

        Assert.Empty(none);
        Assert.Equal(n, cross.Count);
        Assert.Equal(Enumerable.Range(0, n), cross.Select(c => c.Left));
    }
}
