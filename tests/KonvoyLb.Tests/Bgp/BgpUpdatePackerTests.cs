using System.Net;
using CsCheck;
using KonvoyLb.Engine.Runtime.Bgp;
using static KonvoyLb.Engine.Runtime.Bgp.BgpPathAttribute;
using static KonvoyLb.Tests.Bgp.BgpTest;

namespace KonvoyLb.Tests.Bgp;

public class BgpUpdatePackerTests
{
    static readonly Gen<PathAttributes> Attributes =
        from ebgp in Gen.Bool
        from localAs in BgpGen.Asn
        from nextHop in BgpGen.HostV4
        from nextHop6 in BgpGen.HostV6
        from linkLocal in Gen.Frequency((3, Gen.Const((IPAddress?)null)), (1, BgpGen.LinkLocal.Select(a => (IPAddress?)a)))
        from med in Gen.Frequency((2, Gen.Const((uint?)null)), (1, Gen.UInt.Select(v => (uint?)v)))
        from communities in Gen.Frequency((2, Gen.UInt.Array[0, 8]), (1, Gen.UInt.Array[60, 400]))
        from large in Gen.Frequency((2, BgpGen.Large.Array[0, 3]), (1, BgpGen.Large.Array[20, 120]))
        from other in BgpGen.UnknownAttribute.Array[0, 2]
        select new PathAttributes
        {
            AsPath = ebgp ? [AsPathSegment.Sequence(localAs)] : [],
            LocalPref = ebgp ? null : 100,
            NextHop = nextHop,
            NextHopIPv6 = nextHop6,
            LinkLocalNextHopIPv6 = linkLocal,
            MultiExitDisc = med,
            Communities = communities,
            LargeCommunities = large,
            Other = other.DistinctBy(o => o.Code).ToArray(),
        };

    /// <summary>Disjoint sets to announce and to withdraw, of sizes from a handful to several messages' worth.</summary>
    static readonly Gen<(BgpPrefix[] Announce, BgpPrefix[] Withdraw)> Prefixes =
        from announce4 in Gen.Frequency((3, BgpGen.PrefixV4.Array[0, 30]), (1, BgpGen.PrefixV4.Array[500, 2500]))
        from announce6 in Gen.Frequency((3, BgpGen.PrefixV6.Array[0, 30]), (1, BgpGen.PrefixV6.Array[200, 900]))
        from withdraw4 in Gen.Frequency((3, BgpGen.PrefixV4.Array[0, 30]), (1, BgpGen.PrefixV4.Array[500, 2000]))
        from withdraw6 in Gen.Frequency((3, BgpGen.PrefixV6.Array[0, 30]), (1, BgpGen.PrefixV6.Array[200, 700]))
        let announce = announce4.Concat(announce6).Distinct().ToArray()
        select (announce, withdraw4.Concat(withdraw6).Distinct().Except(announce).ToArray());

    /// <summary>The UPDATE holding these four groups, built the obvious way and encoded by the encoder,
    /// independently of the packer's own size arithmetic.</summary>
    static int EncodedSize(PathAttributes attrs, BgpEncodeOptions options, List<BgpPrefix> w4, List<BgpPrefix> a4, List<BgpPrefix> a6, List<BgpPrefix> w6)
    {
        var reach = a6.Count > 0 ? new MpReachNlri(attrs.NextHopIPv6!, attrs.LinkLocalNextHopIPv6, a6) : null;
        var unreach = w6.Count > 0 ? new MpUnreachNlri(w6) : null;
        IReadOnlyList<BgpPathAttribute> attributes = a4.Count + a6.Count > 0 ? attrs.ToAttributes(a4.Count > 0, reach, unreach)
            : unreach is null ? [] : [unreach];
        var update = new BgpUpdate(w4, attributes, a4);
        try
        {
            return BgpMessage.Encode(update, options).Length;
        }
        catch (ArgumentException)
        {
            return int.MaxValue; // over 4096
        }
    }

    [Fact]
    public void Packed_updates_fit_carry_every_prefix_once_and_leave_no_room_for_a_later_prefix()
    {
        Gen.Select(Prefixes, Attributes, BgpGen.Options).Sample((prefixes, attrs, options) =>
        {
            var (announce, withdraw) = prefixes;
            var packed = BgpUpdatePacker.Pack(announce, attrs, withdraw, options);
            var groups = new List<(List<BgpPrefix> W4, List<BgpPrefix> A4, List<BgpPrefix> A6, List<BgpPrefix> W6)>();
            foreach (var bytes in packed)
            {
                Assert.InRange(bytes.Length, 24, 4096);
                var update = Decode<BgpUpdate>(bytes, options);
                var a6 = update.Get<MpReachNlri>()?.Prefixes.ToList() ?? [];
                var w6 = update.Get<MpUnreachNlri>()?.Prefixes.ToList() ?? [];
                groups.Add((update.Withdrawn.ToList(), update.Nlri.ToList(), a6, w6));
                if (update.Nlri.Count + a6.Count > 0)
                {
                    var expected = attrs with
                    {
                        NextHop = update.Nlri.Count > 0 ? attrs.NextHop : null,
                        NextHopIPv6 = a6.Count > 0 ? attrs.NextHopIPv6 : null,
                        LinkLocalNextHopIPv6 = a6.Count > 0 ? attrs.LinkLocalNextHopIPv6 : null,
                        Other = attrs.Other.OrderBy(o => o.Code).ToArray(), // sent in type-code order
                    };
                    Assert.Equal(expected, PathAttributes.FromUpdate(update, options));
                }
                else
                {
                    Assert.All(update.Attributes, a => Assert.IsType<MpUnreachNlri>(a));
                }
            }
            var announced = groups.SelectMany(g => g.A4.Concat(g.A6)).ToList();
            var withdrawn = groups.SelectMany(g => g.W4.Concat(g.W6)).ToList();
            Assert.Equal(announce.Length, announced.Count);
            Assert.Equal(announce.ToHashSet(), announced.ToHashSet());
            Assert.Equal(withdraw.Length, withdrawn.Count);
            Assert.Equal(withdraw.ToHashSet(), withdrawn.ToHashSet());

            // Fewest messages: no prefix of a later message fits into an earlier one. The smallest later
            // prefix of each kind stands for all of them, since a longer one never costs less.
            for (int i = 0; i < groups.Count - 1; i++)
            {
                var g = groups[i];
                Assert.Equal(packed[i].Length, EncodedSize(attrs, options, g.W4, g.A4, g.A6, g.W6));
                var later = groups.Skip(i + 1).ToList();
                BgpPrefix? Smallest(Func<(List<BgpPrefix> W4, List<BgpPrefix> A4, List<BgpPrefix> A6, List<BgpPrefix> W6), List<BgpPrefix>> pick) =>
                    later.SelectMany(pick).MinBy(p => p.EncodedLength);
                if (Smallest(x => x.W4) is { } w4) Assert.True(EncodedSize(attrs, options, [.. g.W4, w4], g.A4, g.A6, g.W6) > 4096, $"{w4} fits message {i}");
                if (Smallest(x => x.A4) is { } a4) Assert.True(EncodedSize(attrs, options, g.W4, [.. g.A4, a4], g.A6, g.W6) > 4096, $"{a4} fits message {i}");
                if (Smallest(x => x.A6) is { } a6) Assert.True(EncodedSize(attrs, options, g.W4, g.A4, [.. g.A6, a6], g.W6) > 4096, $"{a6} fits message {i}");
                if (Smallest(x => x.W6) is { } w6) Assert.True(EncodedSize(attrs, options, g.W4, g.A4, g.A6, [.. g.W6, w6]) > 4096, $"{w6} fits message {i}");
            }
        }, iter: 150);
    }

    static readonly PathAttributes Ebgp = PathAttributes.Ebgp(64512, Ip("192.0.2.2"), Ip("2001:db8::2"));

    static List<BgpPrefix> HostRoutes(int count) =>
        Enumerable.Range(0, count).Select(i => new BgpPrefix(new IPAddress([198, 18, (byte)(i >> 8), (byte)i]), 32)).ToList();

    [Fact]
    public void Ten_thousand_ipv4_host_routes_take_thirteen_full_updates()
    {
        // 23 bytes of UPDATE framing, ORIGIN 4, AS_PATH 9, NEXT_HOP 7: 810 prefixes of 5 bytes fit.
        var packed = BgpUpdatePacker.Pack(HostRoutes(10_000), Ebgp, [], Four);
        Assert.Equal(13, packed.Count);
        Assert.Equal(43 + 810 * 5, packed[0].Length);
        Assert.All(packed.SkipLast(1), m => Assert.Equal(4093, m.Length));
        Assert.Equal(10_000 - 12 * 810, Decode<BgpUpdate>(packed[^1], Four).Nlri.Count);
    }

    [Fact]
    public void Ipv6_host_routes_go_in_mp_reach_nlri_with_extended_length()
    {
        var routes = Enumerable.Range(0, 1000).Select(i => new BgpPrefix(new IPAddress([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte)(i >> 8), (byte)i]), 128)).ToList();
        var packed = BgpUpdatePacker.Pack(routes, Ebgp, [], Four);
        // 23 + ORIGIN 4 + AS_PATH 9 + MP_REACH header 4 + AFI/SAFI/length/next hop/reserved 21: 237 of 17 bytes.
        Assert.Equal(5, packed.Count);
        var first = Decode<BgpUpdate>(packed[0], Four);
        Assert.Empty(first.Nlri);
        Assert.Null(first.Get<NextHop>());
        var reach = first.Get<MpReachNlri>()!;
        Assert.Equal(237, reach.Prefixes.Count);
        Assert.Equal(Ip("2001:db8::2"), reach.GlobalNextHop);
        Assert.Equal(61 + 237 * 17, packed[0].Length);
        int extendedAt = 19 + 2 + 2 + 4 + 9;
        Assert.Equal(0x90, packed[0][extendedAt]); // optional + Extended Length
    }

    [Fact]
    public void Withdrawals_share_the_messages_that_announcements_leave_room_in()
    {
        var packed = BgpUpdatePacker.Pack([P("198.51.100.0/24"), P("2001:db8:100::/48")], Ebgp,
            [P("203.0.113.0/24"), P("2001:db8:200::/48")], Four);
        var update = Decode<BgpUpdate>(Assert.Single(packed), Four);
        Assert.Equal([P("203.0.113.0/24")], update.Withdrawn);
        Assert.Equal([P("198.51.100.0/24")], update.Nlri);
        Assert.Equal([P("2001:db8:100::/48")], update.Get<MpReachNlri>()!.Prefixes);
        Assert.Equal([P("2001:db8:200::/48")], update.Get<MpUnreachNlri>()!.Prefixes);
        Assert.Equal(new NextHop(Ip("192.0.2.2")), update.Get<NextHop>());

        var withdrawOnly = Decode<BgpUpdate>(Assert.Single(BgpUpdatePacker.Pack([], Ebgp, [P("203.0.113.0/24")], Four)), Four);
        Assert.Empty(withdrawOnly.Attributes);
        Assert.Empty(BgpUpdatePacker.Pack([], Ebgp, [], Four));
    }

    [Fact]
    public void Duplicates_go_once_and_contradictions_or_missing_next_hops_are_refused()
    {
        var packed = BgpUpdatePacker.Pack([P("198.51.100.0/24"), new BgpPrefix(Ip("198.51.100.7"), 24), P("198.51.100.0/24")], Ebgp, [], Four);
        Assert.Equal([P("198.51.100.0/24")], Decode<BgpUpdate>(Assert.Single(packed), Four).Nlri);

        Assert.Throws<ArgumentException>(() => BgpUpdatePacker.Pack([P("198.51.100.0/24")], Ebgp, [P("198.51.100.0/24")], Four));
        Assert.Throws<ArgumentException>(() => BgpUpdatePacker.Pack([P("198.51.100.0/24")], Ebgp with { NextHop = null }, [], Four));
        Assert.Throws<ArgumentException>(() => BgpUpdatePacker.Pack([P("198.51.100.0/24")], Ebgp with { NextHop = Ip("2001:db8::1") }, [], Four));
        Assert.Throws<ArgumentException>(() => BgpUpdatePacker.Pack([P("2001:db8::/32")], Ebgp with { NextHopIPv6 = null }, [], Four));
        var huge = Ebgp with { Other = [new Unknown(99, new byte[4080])] };
        Assert.Throws<ArgumentException>(() => BgpUpdatePacker.Pack([P("198.51.100.0/24")], huge, [], Four));
    }

    [Fact]
    public void A_four_octet_as_on_a_two_octet_session_adds_as4_path_to_every_update()
    {
        var attrs = PathAttributes.Ebgp(4200000001, Ip("192.0.2.2"));
        var packed = BgpUpdatePacker.Pack(HostRoutes(2000), attrs, [], Two);
        Assert.Equal(3, packed.Count); // 23 + 4 + AS_PATH 7 + NEXT_HOP 7 + AS4_PATH 9 = 50: 809 per message
        foreach (var bytes in packed)
        {
            var update = Decode<BgpUpdate>(bytes, Two);
            Assert.Equal([AsPathSegment.Sequence(BgpOpen.AsTrans)], update.Get<AsPath>()!.Segments);
            Assert.Equal([AsPathSegment.Sequence(4200000001)], update.Get<As4Path>()!.Segments);
            Assert.Equal(attrs.AsPath, PathAttributes.FromUpdate(update, Two).AsPath);
        }
        Assert.Equal(50 + 809 * 5, packed[0].Length);
    }
}
