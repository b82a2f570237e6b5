using System.Net.Sockets;

namespace KonvoyLb.Engine.Net;

/// <summary>
/// Output-sensitive overlap search: sort by (Family, First), then sweep keeping the ranges that are still
/// open in a min-heap on Last. O(n log n + k) for n ranges and k overlapping pairs; never pairwise.
/// </summary>
public static class IpRangeOverlap
{
    /// <summary>Every pair (A &lt; B) of indexes into <paramref name="ranges"/> that overlap, with the overlapping part,
    /// ordered by A, then B.</summary>
    public static List<(int A, int B, IpRange Overlap)> FindOverlaps(IReadOnlyList<IpRange> ranges)
    {
        var entries = new List<Entry>(ranges.Count);
        for (int i = 0; i < ranges.Count; i++)
            entries.Add(new Entry(ranges[i], Side: 0, Index: i));

        var pairs = new List<(int A, int B, IpRange Overlap)>();
        foreach (var (earlier, later) in Sweep(entries, crossSidesOnly: false))
        {
            int a = Math.Min(earlier.Index, later.Index), b = Math.Max(earlier.Index, later.Index);
            pairs.Add((a, b, Overlap(earlier, later)));
        }
        return SortByIndexes(pairs, ranges.Count, ranges.Count);
    }

    /// <summary>Every pair (Left, Right) where <paramref name="left"/>[Left] overlaps <paramref name="right"/>[Right]
    /// (say pools against node addresses), with the overlapping part, ordered by Left, then Right.
    /// Overlaps within one side are not reported.</summary>
    public static List<(int Left, int Right, IpRange Overlap)> FindOverlaps(IReadOnlyList<IpRange> left, IReadOnlyList<IpRange> right)
    {
        var entries = new List<Entry>(left.Count + right.Count);
        for (int i = 0; i < left.Count; i++)
            entries.Add(new Entry(left[i], Side: 0, Index: i));
        for (int i = 0; i < right.Count; i++)
            entries.Add(new Entry(right[i], Side: 1, Index: i));

        var pairs = new List<(int A, int B, IpRange Overlap)>();
        foreach (var (earlier, later) in Sweep(entries, crossSidesOnly: true))
        {
            var (l, r) = earlier.Side == 0 ? (earlier, later) : (later, earlier);
            pairs.Add((l.Index, r.Index, Overlap(l, r)));
        }
        return SortByIndexes(pairs, left.Count, right.Count);
    }

    private readonly record struct Entry(IpRange Range, int Side, int Index);

    // Yields each overlapping pair once, when the one that comes later in sweep order is reached.
    private static IEnumerable<(Entry Earlier, Entry Later)> Sweep(List<Entry> entries, bool crossSidesOnly)
    {
        entries.Sort((x, y) =>
            (x.Range.Family, x.Range.First, x.Side, x.Index).CompareTo((y.Range.Family, y.Range.First, y.Side, y.Index)));

        // Open ranges per side, smallest Last first. Everything left after expiring those that end before
        // the current First starts at or before it, so it overlaps: each pair visited is one reported.
        var open = new[] { new PriorityQueue<Entry, UInt128>(), new PriorityQueue<Entry, UInt128>() };
        AddressFamily? family = null;
        foreach (var current in entries)
        {
            if (current.Range.Family != family)
            {
                family = current.Range.Family;
                open[0].Clear();
                open[1].Clear();
            }
            foreach (var queue in open)
            {
                while (queue.TryPeek(out _, out var last) && last < current.Range.First)
                    queue.Dequeue();
            }

            var partners = crossSidesOnly ? open[1 - current.Side] : open[current.Side];
            foreach (var (other, _) in partners.UnorderedItems)
                yield return (other, current);

            open[current.Side].Enqueue(current, current.Range.Last);
        }
    }

    private static IpRange Overlap(Entry x, Entry y) =>
        x.Range.Intersect(y.Range) ?? throw new InvalidOperationException("Sweep reported a pair that does not overlap.");

    // Two stable counting sorts (by B, then by A) instead of a comparison sort, so ordering the k pairs
    // costs O(n + k) and does not spoil the sweep's bound.
    private static List<(int A, int B, IpRange Overlap)> SortByIndexes(List<(int A, int B, IpRange Overlap)> pairs, int countA, int countB) =>
        StableSortByKey(StableSortByKey(pairs, p => p.B, countB), p => p.A, countA);

    private static List<T> StableSortByKey<T>(List<T> items, Func<T, int> key, int keyCount)
    {
        var next = new int[keyCount + 1];
        foreach (var item in items)
            next[key(item) + 1]++;
        for (int k = 1; k <= keyCount; k++)
            next[k] += next[k - 1];

        var sorted = new T[items.Count];
        foreach (var item in items)
            sorted[next[key(item)]++] = item;
        return [.. sorted];
    }
}
