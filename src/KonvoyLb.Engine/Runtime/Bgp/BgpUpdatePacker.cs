using static KonvoyLb.Engine.Runtime.Bgp.BgpPathAttribute;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>
/// Packs prefixes that share one set of attributes into as few UPDATEs as fit BGP's 4096-byte limit:
/// IPv4 in the withdrawn routes and NLRI fields, IPv6 in MP_UNREACH_NLRI and MP_REACH_NLRI, withdrawals
/// filling the room that announcements leave.
/// <para>Each message is filled until no remaining prefix fits, taking the largest prefix that still
/// does, so no prefix of a later message would fit into an earlier one; sizes are computed exactly,
/// Extended Length headers and the AS4_PATH of a 2-octet session included.</para>
/// </summary>
public static class BgpUpdatePacker
{
    const int UpdateOverhead = BgpMessage.HeaderLength + 2 + 2; // header, withdrawn length, attribute length
    const int NextHopAttribute = 3 + 4;

    enum Kind { AnnounceV6, AnnounceV4, WithdrawV6, WithdrawV4 }

    /// <summary>
    /// The UPDATEs, encoded. Duplicates are sent once (prefixes are compared after their host bits are
    /// cleared); a prefix both announced and withdrawn is an <see cref="ArgumentException"/>, as is an
    /// IPv4 announcement without <see cref="PathAttributes.NextHop"/> or an IPv6 one without
    /// <see cref="PathAttributes.NextHopIPv6"/>.
    /// </summary>
    public static List<byte[]> Pack(IReadOnlyList<BgpPrefix> announce, PathAttributes attrs, IReadOnlyList<BgpPrefix> withdraw,
        BgpEncodeOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(announce);
        ArgumentNullException.ThrowIfNull(attrs);
        ArgumentNullException.ThrowIfNull(withdraw);
        var announced = new HashSet<BgpPrefix>(announce);
        var withdrawn = new HashSet<BgpPrefix>(withdraw);
        foreach (var p in withdrawn)
            if (announced.Contains(p))
                throw new ArgumentException($"{p} is both announced and withdrawn.");

        var queues = new Buckets[4];
        queues[(int)Kind.AnnounceV6] = new Buckets(announced.Where(p => p.IsIPv6));
        queues[(int)Kind.AnnounceV4] = new Buckets(announced.Where(p => !p.IsIPv6));
        queues[(int)Kind.WithdrawV6] = new Buckets(withdrawn.Where(p => p.IsIPv6));
        queues[(int)Kind.WithdrawV4] = new Buckets(withdrawn.Where(p => !p.IsIPv6));
        if (queues[(int)Kind.AnnounceV4].Count > 0) attrs.ToAttributes(withNextHop: true); // validates the next hop
        if (queues[(int)Kind.AnnounceV6].Count > 0 && attrs.NextHopIPv6?.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            throw new ArgumentException($"IPv6 prefixes need an IPv6 NextHopIPv6, not {attrs.NextHopIPv6?.ToString() ?? "none"}.");

        // Bytes of the attributes every announcing UPDATE carries (all but NEXT_HOP and the MP ones).
        var scratch = new BgpWriter();
        BgpEncoder.WriteAttributes(scratch, attrs.ToAttributes(withNextHop: false), options);
        int common = scratch.Position;
        int reachFixed = 5 + (attrs.LinkLocalNextHopIPv6 is null ? 16 : 32); // AFI, SAFI, NH length, NH, reserved

        var messages = new List<byte[]>();
        while (queues.Any(q => q.Count > 0))
        {
            var m = new Message(common, reachFixed);
            bool added;
            do
            {
                added = false;
                for (var kind = Kind.AnnounceV6; kind <= Kind.WithdrawV4; kind++)
                {
                    var queue = queues[(int)kind];
                    while (queue.Count > 0 && queue.TakeLargest(len => m.Cost(kind, len) <= BgpMessage.MaxLength - m.Size) is { } prefix)
                    {
                        m.Add(kind, prefix);
                        added = true;
                    }
                }
            } while (added);
            if (m.Size == UpdateOverhead)
                throw new ArgumentException($"The attributes take {common} bytes: not even one prefix fits in a 4096-byte UPDATE.");
            var bytes = BgpMessage.Encode(m.ToUpdate(attrs), options);
            if (bytes.Length != m.Size)
                throw new InvalidOperationException($"Packer bug: planned {m.Size} bytes, encoded {bytes.Length}.");
            messages.Add(bytes);
        }
        return messages;
    }

    /// <summary>One UPDATE being filled, with its exact encoded size.</summary>
    sealed class Message(int common, int reachFixed)
    {
        readonly List<BgpPrefix>[] _prefixes = [[], [], [], []];
        int _reachValue, _unreachValue;

        public int Size { get; private set; } = UpdateOverhead;

        bool Announces => _prefixes[(int)Kind.AnnounceV4].Count + _prefixes[(int)Kind.AnnounceV6].Count > 0;

        static int Header(int valueLength) => valueLength > 255 ? 4 : 3;

        /// <summary>Bytes that adding a prefix of <paramref name="length"/> encoded bytes adds.</summary>
        public int Cost(Kind kind, int length)
        {
            int attributesIfFirst = Announces ? 0 : common;
            switch (kind)
            {
                case Kind.AnnounceV4:
                    return length + attributesIfFirst + (_prefixes[(int)Kind.AnnounceV4].Count == 0 ? NextHopAttribute : 0);
                case Kind.AnnounceV6:
                    if (_prefixes[(int)Kind.AnnounceV6].Count == 0)
                        return attributesIfFirst + Header(reachFixed + length) + reachFixed + length;
                    return length + Header(_reachValue + length) - Header(_reachValue);
                case Kind.WithdrawV6:
                    if (_prefixes[(int)Kind.WithdrawV6].Count == 0) return Header(3 + length) + 3 + length;
                    return length + Header(_unreachValue + length) - Header(_unreachValue);
                default:
                    return length;
            }
        }

        public void Add(Kind kind, BgpPrefix prefix)
        {
            Size += Cost(kind, prefix.EncodedLength);
            if (kind == Kind.AnnounceV6) _reachValue = (_reachValue == 0 ? reachFixed : _reachValue) + prefix.EncodedLength;
            if (kind == Kind.WithdrawV6) _unreachValue = (_unreachValue == 0 ? 3 : _unreachValue) + prefix.EncodedLength;
            _prefixes[(int)kind].Add(prefix);
        }

        public BgpUpdate ToUpdate(PathAttributes attrs)
        {
            var v6 = _prefixes[(int)Kind.AnnounceV6];
            var v6Withdrawn = _prefixes[(int)Kind.WithdrawV6];
            var reach = v6.Count > 0 ? new MpReachNlri(attrs.NextHopIPv6!, attrs.LinkLocalNextHopIPv6, v6) : null;
            var unreach = v6Withdrawn.Count > 0 ? new MpUnreachNlri(v6Withdrawn) : null;
            IReadOnlyList<BgpPathAttribute> attributes = Announces
                ? attrs.ToAttributes(_prefixes[(int)Kind.AnnounceV4].Count > 0, reach, unreach)
                : unreach is null ? [] : [unreach];
            return new BgpUpdate(_prefixes[(int)Kind.WithdrawV4], attributes, _prefixes[(int)Kind.AnnounceV4]);
        }
    }

    /// <summary>Prefixes grouped by encoded length (1 to 17 bytes), each group in input order.</summary>
    sealed class Buckets
    {
        readonly Queue<BgpPrefix>[] _byLength = Enumerable.Range(0, 18).Select(_ => new Queue<BgpPrefix>()).ToArray();

        public Buckets(IEnumerable<BgpPrefix> prefixes)
        {
            foreach (var p in prefixes)
            {
                _byLength[p.EncodedLength].Enqueue(p);
                Count++;
            }
        }

        public int Count { get; private set; }

        /// <summary>The first prefix of the largest encoded length that <paramref name="fits"/> accepts.
        /// Costs grow with the length, so the search stops at the first length that fits.</summary>
        public BgpPrefix? TakeLargest(Func<int, bool> fits)
        {
            for (int length = 17; length >= 1; length--)
            {
                if (_byLength[length].Count == 0) continue;
                if (!fits(length)) continue;
                Count--;
                return _byLength[length].Dequeue();
            }
            return null;
        }
    }
}
