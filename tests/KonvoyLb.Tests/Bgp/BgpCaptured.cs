namespace KonvoyLb.Tests.Bgp;

/// <summary>
/// BGP messages captured from real peers: BIRD 2.0.12, FRR 8.4.4 and GoBGP 3.10.0 (Debian 12 packages)
/// peering with each other in network namespaces on one bridge, recorded with `tcpdump -i br0 -w` and
/// cut into messages by Capture/extract.py (Capture/capture.sh sets it all up; Capture/messages.txt is
/// the run these come from, one line per message with source, destination and TCP segment number).
///   BIRD  192.0.2.11  AS 4200000001 towards GoBGP (4-octet session), AS 64510 with `enable as4 off`
///                     towards FRR (2-octet session: AS_PATH with AS_TRANS plus AS4_PATH);
///                     192.0.2.21/.22/.23 are extra BIRD sessions configured with a wrong AS somewhere.
///   GoBGP 192.0.2.12  AS 64500, graceful restart with families, routes added with `gobgp global rib add`.
///   FRR   192.0.2.13  AS 64501, route-map setting community 64501:300, large community 64501:3:4 and
///                     prepending 4200000005.
/// Kept free of xunit: the fuzz benchmark compiles this file too.
/// </summary>
public static class BgpCaptured
{
    // ---- OPEN ----------------------------------------------------------------------------------------
    /// <summary>BIRD to GoBGP (seg8): My AS = AS_TRANS, 4-octet AS 4200000001, hold 9, GR without families,
    /// enhanced route refresh (70) and long-lived GR (71) as unknown capabilities; all in one parameter.</summary>
    public const string BirdOpen = "ffffffffffffffffffffffffffffffff003b01045ba00009c000020b1e021c0104000100010104000200010200400200784104fa56ea0146004700";

    /// <summary>GoBGP to BIRD (seg9): AS 64500, hold 9, FQDN (73) "vm", GR 120 s with 1/1 and 2/1, extended next hop (5).</summary>
    public const string GobgpOpen = "ffffffffffffffffffffffffffffffff004d0104fbf40009c000020c30022e0200490402766d0001040001000101040002000141040000fbf4400a007800010100000201000506000100010002";

    /// <summary>FRR to BIRD (seg21): AS 64501, hold 9, one optional parameter per capability (11 of them).</summary>
    public const string FrrOpen = "ffffffffffffffffffffffffffffffff00720104fbf50009c000020d5502060104000100010206010400020001020280000202020002024600020641040000fbf502020600020a4508000101010002010102074905036672720002044002c0780210470e0001018000000000020180000000";

    /// <summary>BIRD to FRR with `enable as4 off` (seg213): AS 64510, no 4-octet AS capability.</summary>
    public const string BirdOpenNoAs4 = "ffffffffffffffffffffffffffffffff00350104fbfe0009c000020b18021601040001000101040002000102004002007846004700";

    /// <summary>BIRD 192.0.2.23 as AS 4200000009 to GoBGP, which expects 64997 (seg174): hold 240.</summary>
    public const string BirdOpenAs4200000009 = "ffffffffffffffffffffffffffffffff003501045ba000f0c000020b1802160104000100010200400200784104fa56ea0946004700";

    // ---- UPDATE --------------------------------------------------------------------------------------
    /// <summary>BIRD to GoBGP, 4-octet (seg16): 198.51.100.0/24, 203.0.113.128/25, 198.51.100.7/32 with
    /// AS_PATH 4200000001, NEXT_HOP 192.0.2.11, community 64500:100, large community 4200000001:1:2.</summary>
    public const string BirdUpdateIPv4 = "ffffffffffffffffffffffffffffffff004f020000002a400101004002060201fa56ea01400304c000020bc00804fbf40064c0200cfa56ea01000000010000000218c6336419cb00718020c6336407";

    /// <summary>BIRD to GoBGP, 4-octet (seg24): MP_REACH_NLRI (flags 0x90) with a 32-byte next hop
    /// 2001:db8::11 + fe80::ff:fe00:11, prefixes 2001:db8:100::/48 and 2001:db8:200:1::/64.</summary>
    public const string BirdUpdateIPv6 = "ffffffffffffffffffffffffffffffff0073020000005c900e00350002012020010db8000000000000000000000011fe80000000000000000000fffe000011003020010db801004020010db802000001400101004002060201fa56ea01c00804fbf40064c0200cfa56ea010000000100000002";

    /// <summary>GoBGP to BIRD, 4-octet (seg14): FRR's 2001:db8:400::/48 passed on, next hop ::ffff:192.0.2.12
    /// (GoBGP's IPv4-mapped self), MP_REACH_NLRI last and 16-byte next hop, flags 0x80.</summary>
    public const string GobgpUpdateIPv6Mapped = "ffffffffffffffffffffffffffffffff0061020000004a4001010040020e02030000fbf40000fbf5fa56ea05c00804fbf5012cc0200c0000fbf50000000300000004800e1c0002011000000000000000000000ffffc000020c003020010db80400";

    /// <summary>GoBGP to FRR (seg41): `gobgp global rib add 203.0.113.0/26 ... med 10`: ORIGIN incomplete, MED 10.</summary>
    public const string GobgpUpdateMed = "ffffffffffffffffffffffffffffffff004d02000000314001010240020602010000fbf4400304c000020c8004040000000ac00804fbf400c8c0200c0000fbf400000001000000011acb007100";

    /// <summary>FRR to BIRD, 2-octet session (seg29): AS_PATH 64501 23456 64500 23456 with the Extended
    /// Length flag on a short value (0x50), AS4_PATH 64501 4200000005 64500 4200000001 (flags 0xd0).</summary>
    public const string FrrUpdateTwoOctet = "ffffffffffffffffffffffffffffffff006a0200000045400101005002000a0204fbf55ba0fbf45ba0400304c000020cc00804fbf5012cc0200c0000fbf50000000300000004d011001202040000fbf5fa56ea050000fbf4fa56ea0118c6336419cb00718020c6336407";

    /// <summary>BIRD to FRR, 2-octet session (seg33): AS_PATH 64510 23456, AS4_PATH 64510 4200000001, community 64510:7.</summary>
    public const string BirdUpdateTwoOctet = "ffffffffffffffffffffffffffffffff004d0200000028400101004002060202fbfe5ba0400304c000020bc00804fbfe0007c0110a02020000fbfefa56ea0118c6336419cb00718020c6336407";

    /// <summary>BIRD to GoBGP (seg55) after `disable s4b`: withdrawn 198.51.100.7/32.</summary>
    public const string BirdWithdrawIPv4 = "ffffffffffffffffffffffffffffffff001c02000520c63364070000";

    /// <summary>GoBGP to BIRD (seg73) after `gobgp global rib -a ipv6 del 2001:db8:300::/48`: MP_UNREACH_NLRI.</summary>
    public const string GobgpWithdrawIPv6 = "ffffffffffffffffffffffffffffffff0024020000000d800f0a0002013020010db80300";

    /// <summary>BIRD to FRR (seg59) after `disable s6b`: MP_UNREACH_NLRI with flags 0x90.</summary>
    public const string BirdWithdrawIPv6 = "ffffffffffffffffffffffffffffffff00270200000010900f000c0002014020010db802000001";

    /// <summary>GoBGP's End-of-RIB markers (seg13, seg15); BIRD and FRR send the same bytes.</summary>
    public const string EndOfRibIPv4 = "ffffffffffffffffffffffffffffffff00170200000000";
    public const string EndOfRibIPv6 = "ffffffffffffffffffffffffffffffff001d0200000006800f03000201";

    /// <summary>One TCP segment from FRR to BIRD (seg221): four UPDATEs and both End-of-RIBs.</summary>
    public static readonly string[] FrrSegment =
    [
        "ffffffffffffffffffffffffffffffff00650200000045400101005002000a0204fbf55ba0fbf45ba0400304c000020cc00804fbf5012cc0200c0000fbf50000000300000004d011001202040000fbf5fa56ea050000fbf4fa56ea0118c6336419cb007180",
        "ffffffffffffffffffffffffffffffff0085020000006e900e002c0002012020010db8000000000000000000000013fe80000000000000000000fffe000013003020010db80100400101005002000a0204fbf55ba0fbf45ba0c00804fbf5012cc0200c0000fbf50000000300000004d011001202040000fbf5fa56ea050000fbf4fa56ea01",
        "ffffffffffffffffffffffffffffffff005c020000004040010100500200060202fbf55ba0400304c000020d80040400000000c00804fbf5012cc0200c0000fbf50000000300000004d011000a02020000fbf5fa56ea051acb007140",
        "ffffffffffffffffffffffffffffffff00800200000069900e002c0002012020010db8000000000000000000000013fe80000000000000000000fffe000013003020010db8040040010100500200060202fbf55ba080040400000000c00804fbf5012cc0200c0000fbf50000000300000004d011000a02020000fbf5fa56ea05",
        EndOfRibIPv4,
        EndOfRibIPv6,
    ];

    // ---- KEEPALIVE, NOTIFICATION, ROUTE-REFRESH -------------------------------------------------------
    public const string Keepalive = "ffffffffffffffffffffffffffffffff001304";

    /// <summary>BIRD (seg100) and FRR (seg97) when GoBGP was frozen with SIGSTOP past the 9 s hold time.</summary>
    public const string HoldTimerExpired = "ffffffffffffffffffffffffffffffff0015030400";

    /// <summary>BIRD 192.0.2.21 expecting AS 64999 from FRR (seg185): 2/2 with the AS it received, 4 bytes.</summary>
    public const string BirdBadPeerAs = "ffffffffffffffffffffffffffffffff00190302020000fbf5";

    /// <summary>FRR expecting AS 64998 from BIRD 192.0.2.22, which is 64522 (seg204): 2/2 with the AS received, 2 bytes.</summary>
    public const string FrrBadPeerAs = "ffffffffffffffffffffffffffffffff0017030202fc0a";

    /// <summary>GoBGP expecting 64997 from BIRD's AS 4200000009 (seg177): 2/2 without data.</summary>
    public const string GobgpBadPeerAs = "ffffffffffffffffffffffffffffffff0015030202";

    /// <summary>FRR `neighbor 192.0.2.12 shutdown message frr maintenance` (seg165).</summary>
    public const string FrrShutdown = "ffffffffffffffffffffffffffffffff00250306020f667272206d61696e74656e616e6365";

    /// <summary>BIRD `disable frr "bird going away"` (seg293).</summary>
    public const string BirdShutdown = "ffffffffffffffffffffffffffffffff00250306020f6269726420676f696e672061776179";

    /// <summary>GoBGP `neighbor 192.0.2.11 disable` (seg169): 6/2 without a communication.</summary>
    public const string GobgpShutdown = "ffffffffffffffffffffffffffffffff0015030602";

    /// <summary>FRR `clear bgp 192.0.2.11` (seg172) and GoBGP `neighbor 192.0.2.13 reset` (seg225).</summary>
    public const string AdministrativeReset = "ffffffffffffffffffffffffffffffff0015030604";

    /// <summary>FRR `clear bgp 192.0.2.12 soft in` (seg133): ROUTE-REFRESH 1/1 and 2/1.</summary>
    public const string RouteRefreshIPv4 = "ffffffffffffffffffffffffffffffff00170500010001";
    public const string RouteRefreshIPv6 = "ffffffffffffffffffffffffffffffff00170500020001";

    /// <summary>BIRD answering FRR's refresh with enhanced route refresh (RFC 7313, seg152/154): begin and end of 1/1.</summary>
    public const string BirdBeginRouteRefresh = "ffffffffffffffffffffffffffffffff00170500010101";
    public const string BirdEndRouteRefresh = "ffffffffffffffffffffffffffffffff00170500010201";

    /// <summary>Every captured message, for corpora.</summary>
    public static IEnumerable<(string Name, string Hex, bool FourOctet)> All =>
    [
        (nameof(BirdOpen), BirdOpen, true), (nameof(GobgpOpen), GobgpOpen, true), (nameof(FrrOpen), FrrOpen, true),
        (nameof(BirdOpenNoAs4), BirdOpenNoAs4, false), (nameof(BirdOpenAs4200000009), BirdOpenAs4200000009, true),
        (nameof(BirdUpdateIPv4), BirdUpdateIPv4, true), (nameof(BirdUpdateIPv6), BirdUpdateIPv6, true),
        (nameof(GobgpUpdateIPv6Mapped), GobgpUpdateIPv6Mapped, true), (nameof(GobgpUpdateMed), GobgpUpdateMed, true),
        (nameof(FrrUpdateTwoOctet), FrrUpdateTwoOctet, false), (nameof(BirdUpdateTwoOctet), BirdUpdateTwoOctet, false),
        (nameof(BirdWithdrawIPv4), BirdWithdrawIPv4, true), (nameof(GobgpWithdrawIPv6), GobgpWithdrawIPv6, true),
        (nameof(BirdWithdrawIPv6), BirdWithdrawIPv6, false), (nameof(EndOfRibIPv4), EndOfRibIPv4, true),
        (nameof(EndOfRibIPv6), EndOfRibIPv6, true), (nameof(Keepalive), Keepalive, true),
        (nameof(HoldTimerExpired), HoldTimerExpired, true), (nameof(BirdBadPeerAs), BirdBadPeerAs, true),
        (nameof(FrrBadPeerAs), FrrBadPeerAs, true), (nameof(GobgpBadPeerAs), GobgpBadPeerAs, true),
        (nameof(FrrShutdown), FrrShutdown, true), (nameof(BirdShutdown), BirdShutdown, true),
        (nameof(GobgpShutdown), GobgpShutdown, true), (nameof(AdministrativeReset), AdministrativeReset, true),
        (nameof(RouteRefreshIPv4), RouteRefreshIPv4, true), (nameof(RouteRefreshIPv6), RouteRefreshIPv6, true),
        (nameof(BirdBeginRouteRefresh), BirdBeginRouteRefresh, true), (nameof(BirdEndRouteRefresh), BirdEndRouteRefresh, true),
    ];
}
