using KonvoyLb.Engine.Runtime.Bgp;
using static KonvoyLb.Engine.Runtime.Bgp.BgpPathAttribute;
using static KonvoyLb.Tests.Bgp.BgpTest;
using C = KonvoyLb.Tests.Bgp.BgpCaptured;

namespace KonvoyLb.Tests.Bgp;

// Messages captured from BIRD, FRR and GoBGP (see BgpCaptured for how): every field decoded and
// checked, and re-encoded to the same bytes wherever the peer's encoding is the canonical one or
// differs only in flags the codec keeps.
public class BgpCapturedVectorTests
{
    static void ReencodesExactly(string hex, BgpEncodeOptions options)
    {
        var message = Decode<BgpMessage>(hex, options);
        Assert.Equal(hex, ToHex(BgpMessage.Encode(message, options)));
    }

    [Fact]
    public void Bird_open_with_four_octet_as()
    {
        var open = Decode<BgpOpen>(C.BirdOpen, Four);
        Assert.Equal(4, open.Version);
        Assert.Equal(BgpOpen.AsTrans, open.MyAs);
        Assert.Equal(9, open.HoldTime);
        Assert.Equal(Ip("192.0.2.11"), open.BgpIdentifier);
        Assert.Equal(new BgpCapability[]
        {
            BgpCapability.Multiprotocol.IPv4Unicast,
            BgpCapability.Multiprotocol.IPv6Unicast,
            new BgpCapability.RouteRefresh(),
            new BgpCapability.GracefulRestart(0, 120),
            new BgpCapability.FourOctetAs(4200000001),
            new BgpCapability.Unknown(70, []),
            new BgpCapability.Unknown(71, []),
        }, open.Capabilities);
        Assert.Equal(4200000001u, open.PeerAs);
        Assert.True(open.SupportsFourOctetAs && open.SupportsRouteRefresh && open.SupportsGracefulRestart);
        Assert.True(open.SupportsFamily(2, 1));
        Assert.Null(BgpMessage.ValidateOpen(open, 4200000001, 90));
        ReencodesExactly(C.BirdOpen, Four);
    }

    [Fact]
    public void Gobgp_open_with_graceful_restart_families_and_unknown_capabilities()
    {
        var open = Decode<BgpOpen>(C.GobgpOpen, Four);
        Assert.Equal((4, (ushort)64500, (ushort)9), (open.Version, open.MyAs, open.HoldTime));
        Assert.Equal(Ip("192.0.2.12"), open.BgpIdentifier);
        Assert.Equal(new BgpCapability[]
        {
            new BgpCapability.RouteRefresh(),
            new BgpCapability.Unknown(73, [0x02, (byte)'v', (byte)'m', 0x00]), // FQDN: hostname "vm", no domain
            BgpCapability.Multiprotocol.IPv4Unicast,
            BgpCapability.Multiprotocol.IPv6Unicast,
            new BgpCapability.FourOctetAs(64500),
            new BgpCapability.GracefulRestart(0, 120, [new(1, 1, 0), new(2, 1, 0)]),
            new BgpCapability.Unknown(5, [0x00, 0x01, 0x00, 0x01, 0x00, 0x02]), // extended next hop 1/1 via 2
        }, open.Capabilities);
        Assert.Equal(64500u, open.PeerAs);
        ReencodesExactly(C.GobgpOpen, Four);
    }

    [Fact]
    public void Frr_open_with_one_parameter_per_capability()
    {
        var open = Decode<BgpOpen>(C.FrrOpen, Four);
        Assert.Equal((4, (ushort)64501, (ushort)9), (open.Version, open.MyAs, open.HoldTime));
        Assert.Equal(Ip("192.0.2.13"), open.BgpIdentifier);
        Assert.Equal(new BgpCapability[]
        {
            BgpCapability.Multiprotocol.IPv4Unicast,
            BgpCapability.Multiprotocol.IPv6Unicast,
            new BgpCapability.Unknown(128, []), // Cisco's pre-standard route refresh
            new BgpCapability.RouteRefresh(),
            new BgpCapability.Unknown(70, []),
            new BgpCapability.FourOctetAs(64501),
            new BgpCapability.Unknown(6, []), // extended messages
            new BgpCapability.Unknown(69, Hex("0001010100020101")), // add-path receive for 1/1 and 2/1
            new BgpCapability.Unknown(73, Hex("0366727200")), // FQDN "frr"
            new BgpCapability.GracefulRestart(0xC, 120), // restart state + notification (RFC 8538)
            new BgpCapability.Unknown(71, Hex("0001018000000000020180000000")),
        }, open.Capabilities);

        // Not canonical (this encoder puts every capability in one parameter), but the same OPEN.
        var again = BgpMessage.Encode(open, Four);
        Assert.Equal(114 - 11 * 2 + 2, again.Length);
        Assert.Equal(open, Decode<BgpOpen>(again, Four));
    }

    [Fact]
    public void Bird_open_without_four_octet_as()
    {
        var open = Decode<BgpOpen>(C.BirdOpenNoAs4, Two);
        Assert.Equal(64510, open.MyAs);
        Assert.False(open.SupportsFourOctetAs);
        Assert.Equal(64510u, open.PeerAs);
        Assert.Equal(6, open.Capabilities.Count);
        ReencodesExactly(C.BirdOpenNoAs4, Two);
    }

    [Fact]
    public void Validating_captured_opens_against_the_wrong_as_gives_bad_peer_as_with_the_as_received()
    {
        var bird = Decode<BgpOpen>(C.BirdOpenAs4200000009, Four);
        Assert.Equal((BgpOpen.AsTrans, (ushort)240), (bird.MyAs, bird.HoldTime));
        var error = BgpMessage.ValidateOpen(bird, 64997, 90);
        Assert.NotNull(error);
        Assert.Equal((2, 2), (error.Code, error.Subcode));
        Assert.Equal("fa56ea09", ToHex(error.Data)); // 4200000009, as BIRD itself sends a received AS

        var frr = Decode<BgpOpen>(C.FrrOpen, Four);
        error = BgpMessage.ValidateOpen(frr, 64998, 90)!;
        Assert.Equal((2, 2), (error.Code, error.Subcode));
        Assert.Equal("fbf5", ToHex(error.Data)); // 64501 in two bytes, as FRR sends it
    }

    [Fact]
    public void Bird_ipv4_update_with_communities_and_large_communities()
    {
        var update = Decode<BgpUpdate>(C.BirdUpdateIPv4, Four);
        Assert.Empty(update.Withdrawn);
        Assert.Equal(new BgpPathAttribute[]
        {
            new Origin(BgpOrigin.Igp),
            new AsPath([AsPathSegment.Sequence(4200000001)]),
            new NextHop(Ip("192.0.2.11")),
            new Communities([BgpCommunity.From(64500, 100)]),
            new LargeCommunities([new LargeCommunity(4200000001, 1, 2)]),
        }, update.Attributes);
        Assert.Equal([P("198.51.100.0/24"), P("203.0.113.128/25"), P("198.51.100.7/32")], update.Nlri);
        Assert.False(update.IsEndOfRib(out _, out _));
        ReencodesExactly(C.BirdUpdateIPv4, Four);

        // The same UPDATE built from the speaker's view of the route gives BIRD's bytes.
        var attrs = new PathAttributes
        {
            AsPath = [AsPathSegment.Sequence(4200000001)],
            NextHop = Ip("192.0.2.11"),
            Communities = [BgpCommunity.From(64500, 100)],
            LargeCommunities = [new LargeCommunity(4200000001, 1, 2)],
        };
        var built = new BgpUpdate([], attrs.ToAttributes(withNextHop: true), update.Nlri);
        Assert.Equal(C.BirdUpdateIPv4, ToHex(BgpMessage.Encode(built, Four)));
        Assert.Equal(attrs, PathAttributes.FromUpdate(update, Four));
    }

    [Fact]
    public void Bird_ipv6_update_with_global_and_link_local_next_hop()
    {
        var update = Decode<BgpUpdate>(C.BirdUpdateIPv6, Four);
        Assert.Empty(update.Withdrawn);
        Assert.Empty(update.Nlri);
        var reach = update.Get<MpReachNlri>()!;
        Assert.Equal(0x90, reach.Flags); // BIRD sets Extended Length on a 53-byte value: kept
        Assert.Equal(Ip("2001:db8::11"), reach.GlobalNextHop);
        Assert.Equal(Ip("fe80::ff:fe00:11"), reach.LinkLocalNextHop);
        Assert.Equal([P("2001:db8:100::/48"), P("2001:db8:200:1::/64")], reach.Prefixes);
        Assert.Equal(new BgpPathAttribute[]
        {
            reach,
            new Origin(BgpOrigin.Igp),
            new AsPath([AsPathSegment.Sequence(4200000001)]),
            new Communities([BgpCommunity.From(64500, 100)]),
            new LargeCommunities([new LargeCommunity(4200000001, 1, 2)]),
        }, update.Attributes);
        Assert.Equal([P("2001:db8:100::/48"), P("2001:db8:200:1::/64")], update.Announced);
        ReencodesExactly(C.BirdUpdateIPv6, Four);
    }

    [Fact]
    public void Gobgp_ipv6_update_with_an_ipv4_mapped_next_hop()
    {
        var update = Decode<BgpUpdate>(C.GobgpUpdateIPv6Mapped, Four);
        Assert.Equal(new BgpPathAttribute[]
        {
            new Origin(BgpOrigin.Igp),
            new AsPath([AsPathSegment.Sequence(64500, 64501, 4200000005)]),
            new Communities([BgpCommunity.From(64501, 300)]),
            new LargeCommunities([new LargeCommunity(64501, 3, 4)]),
            new MpReachNlri(Ip("::ffff:192.0.2.12"), [P("2001:db8:400::/48")]),
        }, update.Attributes);
        ReencodesExactly(C.GobgpUpdateIPv6Mapped, Four);
    }

    [Fact]
    public void Gobgp_update_with_med_and_incomplete_origin()
    {
        var update = Decode<BgpUpdate>(C.GobgpUpdateMed, Four);
        Assert.Equal(new BgpPathAttribute[]
        {
            new Origin(BgpOrigin.Incomplete),
            new AsPath([AsPathSegment.Sequence(64500)]),
            new NextHop(Ip("192.0.2.12")),
            new MultiExitDisc(10),
            new Communities([BgpCommunity.From(64500, 200)]),
            new LargeCommunities([new LargeCommunity(64500, 1, 1)]),
        }, update.Attributes);
        Assert.Equal([P("203.0.113.0/26")], update.Nlri);
        ReencodesExactly(C.GobgpUpdateMed, Four);
    }

    [Fact]
    public void Frr_two_octet_update_with_as4_path_and_extended_length_flags()
    {
        var update = Decode<BgpUpdate>(C.FrrUpdateTwoOctet, Two);
        var asPath = update.Get<AsPath>()!;
        Assert.Equal(0x50, asPath.Flags);
        Assert.Equal([AsPathSegment.Sequence(64501, BgpOpen.AsTrans, 64500, BgpOpen.AsTrans)], asPath.Segments);
        var as4 = update.Get<As4Path>()!;
        Assert.Equal(0xd0, as4.Flags);
        Assert.Equal([AsPathSegment.Sequence(64501, 4200000005, 64500, 4200000001)], as4.Segments);
        Assert.Equal(new NextHop(Ip("192.0.2.12")), update.Get<NextHop>());
        Assert.Equal([P("198.51.100.0/24"), P("203.0.113.128/25"), P("198.51.100.7/32")], update.Nlri);
        Assert.Equal([AsPathSegment.Sequence(64501, 4200000005, 64500, 4200000001)], PathAttributes.FromUpdate(update, Two).AsPath);
        ReencodesExactly(C.FrrUpdateTwoOctet, Two);
    }

    [Fact]
    public void Bird_two_octet_update_is_what_this_encoder_writes_for_a_four_octet_path()
    {
        var update = Decode<BgpUpdate>(C.BirdUpdateTwoOctet, Two);
        Assert.Equal(new BgpPathAttribute[]
        {
            new Origin(BgpOrigin.Igp),
            new AsPath([AsPathSegment.Sequence(64510, BgpOpen.AsTrans)]),
            new NextHop(Ip("192.0.2.11")),
            new Communities([BgpCommunity.From(64510, 7)]),
            new As4Path([AsPathSegment.Sequence(64510, 4200000001)]),
        }, update.Attributes);
        ReencodesExactly(C.BirdUpdateTwoOctet, Two);

        // Real ASNs in, 2-octet session: AS_TRANS in AS_PATH and an AS4_PATH, byte for byte as BIRD did it.
        var attrs = new PathAttributes
        {
            AsPath = [AsPathSegment.Sequence(64510, 4200000001)],
            NextHop = Ip("192.0.2.11"),
            Communities = [BgpCommunity.From(64510, 7)],
        };
        Assert.Equal(attrs, PathAttributes.FromUpdate(update, Two));
        var built = new BgpUpdate([], attrs.ToAttributes(withNextHop: true), update.Nlri);
        Assert.Equal(C.BirdUpdateTwoOctet, ToHex(BgpMessage.Encode(built, Two)));
    }

    [Fact]
    public void Withdrawals_from_bird_and_gobgp()
    {
        var v4 = Decode<BgpUpdate>(C.BirdWithdrawIPv4, Four);
        Assert.Equal([P("198.51.100.7/32")], v4.Withdrawn);
        Assert.Empty(v4.Attributes);
        Assert.Empty(v4.Nlri);
        ReencodesExactly(C.BirdWithdrawIPv4, Four);

        var gobgp = Decode<BgpUpdate>(C.GobgpWithdrawIPv6, Four);
        Assert.Equal([new MpUnreachNlri([P("2001:db8:300::/48")])], gobgp.Attributes);
        Assert.Equal([P("2001:db8:300::/48")], gobgp.AllWithdrawn);
        Assert.False(gobgp.IsIPv6EndOfRib);
        ReencodesExactly(C.GobgpWithdrawIPv6, Four);

        var bird = Decode<BgpUpdate>(C.BirdWithdrawIPv6, Two);
        var unreach = Assert.IsType<MpUnreachNlri>(Assert.Single(bird.Attributes));
        Assert.Equal(0x90, unreach.Flags);
        Assert.Equal([P("2001:db8:200:1::/64")], unreach.Prefixes);
        ReencodesExactly(C.BirdWithdrawIPv6, Two);
    }

    [Fact]
    public void End_of_rib_markers_are_recognised_and_built_identically()
    {
        var v4 = Decode<BgpUpdate>(C.EndOfRibIPv4, Four);
        Assert.True(v4.IsIPv4EndOfRib);
        Assert.False(v4.IsIPv6EndOfRib);
        Assert.Equal(C.EndOfRibIPv4, ToHex(BgpMessage.Encode(BgpUpdate.EndOfRibIPv4, Four)));

        var v6 = Decode<BgpUpdate>(C.EndOfRibIPv6, Four);
        Assert.True(v6.IsEndOfRib(out ushort afi, out byte safi));
        Assert.Equal((2, 1), (afi, safi));
        Assert.True(v6.IsIPv6EndOfRib);
        Assert.Equal(C.EndOfRibIPv6, ToHex(BgpMessage.Encode(BgpUpdate.EndOfRibIPv6, Four)));
    }

    [Fact]
    public void Keepalive_and_route_refresh()
    {
        Assert.Same(BgpKeepalive.Instance, Decode<BgpKeepalive>(C.Keepalive, Four));
        Assert.Equal(C.Keepalive, ToHex(BgpMessage.Encode(BgpKeepalive.Instance)));

        Assert.Equal(new BgpRouteRefresh(1, 1), Decode<BgpRouteRefresh>(C.RouteRefreshIPv4, Four));
        Assert.Equal(new BgpRouteRefresh(2, 1), Decode<BgpRouteRefresh>(C.RouteRefreshIPv6, Four));
        Assert.Equal(new BgpRouteRefresh(1, 1, 1), Decode<BgpRouteRefresh>(C.BirdBeginRouteRefresh, Four));
        Assert.Equal(new BgpRouteRefresh(1, 1, 2), Decode<BgpRouteRefresh>(C.BirdEndRouteRefresh, Four));
        foreach (var hex in new[] { C.RouteRefreshIPv4, C.RouteRefreshIPv6, C.BirdBeginRouteRefresh, C.BirdEndRouteRefresh })
            ReencodesExactly(hex, Four);
    }

    [Fact]
    public void Hold_timer_expired_from_bird_and_frr()
    {
        var n = Decode<BgpNotification>(C.HoldTimerExpired, Four);
        Assert.Equal((4, 0), (n.Code, n.Subcode));
        Assert.Empty(n.Data);
        Assert.Equal("hold timer expired (4/0)", n.Describe());
        Assert.Equal(C.HoldTimerExpired, ToHex(BgpMessage.Encode(new BgpNotification(4, 0))));
    }

    [Fact]
    public void Bad_peer_as_from_bird_frr_and_gobgp()
    {
        var bird = Decode<BgpNotification>(C.BirdBadPeerAs, Four);
        Assert.Equal((2, 2), (bird.Code, bird.Subcode));
        Assert.Equal("0000fbf5", ToHex(bird.Data));
        Assert.Equal("bad peer AS (2/2): AS 64501 is not the expected one", bird.Describe());

        var frr = Decode<BgpNotification>(C.FrrBadPeerAs, Four);
        Assert.Equal("fc0a", ToHex(frr.Data));
        Assert.Equal("bad peer AS (2/2): AS 64522 is not the expected one", frr.Describe());

        var gobgp = Decode<BgpNotification>(C.GobgpBadPeerAs, Four);
        Assert.Empty(gobgp.Data);
        Assert.Equal("bad peer AS (2/2)", gobgp.Describe());
        foreach (var hex in new[] { C.BirdBadPeerAs, C.FrrBadPeerAs, C.GobgpBadPeerAs }) ReencodesExactly(hex, Four);
    }

    [Fact]
    public void Shutdown_communications_from_frr_and_bird()
    {
        var frr = Decode<BgpNotification>(C.FrrShutdown, Four);
        Assert.Equal((6, 2), (frr.Code, frr.Subcode));
        Assert.Equal("frr maintenance", frr.ShutdownCommunication);
        Assert.Equal("Cease: administrative shutdown (6/2): 'frr maintenance'", frr.Describe());
        Assert.Equal(C.FrrShutdown, ToHex(BgpMessage.Encode(BgpNotification.Shutdown("frr maintenance"))));

        var bird = Decode<BgpNotification>(C.BirdShutdown, Four);
        Assert.Equal("bird going away", bird.ShutdownCommunication);
        Assert.Equal(C.BirdShutdown, ToHex(BgpMessage.Encode(BgpNotification.Shutdown("bird going away"))));

        var gobgp = Decode<BgpNotification>(C.GobgpShutdown, Four);
        Assert.Null(gobgp.ShutdownCommunication);
        Assert.Equal("Cease: administrative shutdown (6/2)", gobgp.Describe());
        Assert.Equal(C.GobgpShutdown, ToHex(BgpMessage.Encode(BgpNotification.Shutdown())));

        var reset = Decode<BgpNotification>(C.AdministrativeReset, Four);
        Assert.Equal("Cease: administrative reset (6/4)", reset.Describe());
        Assert.Equal(C.AdministrativeReset, ToHex(BgpMessage.Encode(BgpNotification.Reset())));
    }

    [Fact]
    public void Frr_segment_with_six_messages_is_framed_and_decoded_in_one_read()
    {
        var framer = new BgpFramer();
        framer.Append(Cat(C.FrrSegment.Select(Hex).ToArray()));
        var messages = new List<BgpMessage>();
        while (framer.TryRead(Two, out var message, out var error))
        {
            Assert.Null(error);
            messages.Add(message!);
        }
        Assert.Equal(0, framer.Buffered);
        Assert.Equal(6, messages.Count);
        var updates = messages.Cast<BgpUpdate>().ToList();
        Assert.Equal([P("198.51.100.0/24"), P("203.0.113.128/25")], updates[0].Nlri);
        Assert.Equal([P("2001:db8:100::/48")], updates[1].Announced);
        Assert.Equal([P("203.0.113.64/26")], updates[2].Nlri);
        Assert.Equal(new MultiExitDisc(0), updates[2].Get<MultiExitDisc>());
        Assert.Equal([P("2001:db8:400::/48")], updates[3].Announced);
        Assert.True(updates[4].IsIPv4EndOfRib);
        Assert.True(updates[5].IsIPv6EndOfRib);
        for (int i = 0; i < 6; i++) Assert.Equal(C.FrrSegment[i], ToHex(BgpMessage.Encode(messages[i], Two)));
    }

    [Fact]
    public void Every_captured_message_decodes()
    {
        foreach (var (name, hex, fourOctet) in C.All)
        {
            bool ok = BgpMessage.TryDecode(Hex(hex), new BgpEncodeOptions { FourOctetAs = fourOctet }, out var message, out var error);
            Assert.True(ok, $"{name}: {error}");
            Assert.NotNull(message);
        }
    }
}
