using System.Net;
using CsCheck;
using KonvoyLb.Engine.Runtime.Bgp;
using static KonvoyLb.Engine.Runtime.Bgp.BgpPathAttribute;

namespace KonvoyLb.Tests.Bgp;

/// <summary>CsCheck generators of valid BGP content.</summary>
internal static class BgpGen
{
    /// <summary>ASNs: 2-octet ones, 4-octet ones, and the edges (AS_TRANS itself, 65535, 65536, 2^32-1).</summary>
    public static readonly Gen<uint> Asn = Gen.Frequency(
        (4, Gen.UInt[1, 65535]),
        (3, Gen.UInt[65536, uint.MaxValue]),
        (1, Gen.OneOfConst(0u, 23456u, 65535u, 65536u, 4200000001u, uint.MaxValue)));

    public static readonly Gen<uint> SmallAsn = Gen.UInt[1, 65535];

    public static readonly Gen<BgpPrefix> PrefixV4 =
        Gen.Select(Gen.UInt, Gen.Frequency((1, Gen.Int[0, 32]), (2, Gen.Int[20, 32])),
            (bits, length) => new BgpPrefix(new IPAddress(BitConverter.GetBytes(bits)), length));

    public static readonly Gen<BgpPrefix> PrefixV6 =
        Gen.Select(Gen.Byte.Array[16], Gen.Frequency((1, Gen.Int[0, 128]), (2, Gen.Int[32, 64]), (1, Gen.Int[120, 128])),
            (bytes, length) => new BgpPrefix(new IPAddress(bytes), length));

    public static readonly Gen<BgpPrefix> Prefix = Gen.Frequency((1, PrefixV4), (1, PrefixV6));

    public static readonly Gen<IPAddress> HostV4 =
        Gen.UInt[0x01000000, 0xDFFFFFFF].Select(v => new IPAddress([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]));

    public static readonly Gen<IPAddress> HostV6 = Gen.Byte.Array[16].Select(b => { b[0] = (byte)(b[0] == 0xFF ? 0x20 : b[0]); return new IPAddress(b); });

    public static readonly Gen<IPAddress> LinkLocal = Gen.Byte.Array[8].Select(b => new IPAddress([0xfe, 0x80, 0, 0, 0, 0, 0, 0, .. b]));

    /// <summary>AS paths: confederation segments only at the start and with 2-octet ASNs, as real
    /// confederations use them (RFC 6793 keeps them out of AS4_PATH).</summary>
    public static readonly Gen<IReadOnlyList<AsPathSegment>> AsPath =
        from confed in Gen.Select(Gen.OneOfConst(AsPathSegmentType.AsConfedSequence, AsPathSegmentType.AsConfedSet), SmallAsn.Array[1, 4],
                (t, a) => new AsPathSegment(t, a)).Array[0, 1]
        from rest in Gen.Select(Gen.OneOfConst(AsPathSegmentType.AsSequence, AsPathSegmentType.AsSet), Asn.Array[1, 12],
                (t, a) => new AsPathSegment(t, a)).Array[0, 4]
        select (IReadOnlyList<AsPathSegment>)[.. confed, .. rest];

    public static readonly Gen<LargeCommunity> Large = Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt, (a, b, c) => new LargeCommunity(a, b, c));

    /// <summary>Unknown optional attributes, sometimes partial, sometimes with a value needing Extended Length.</summary>
    public static readonly Gen<Unknown> UnknownAttribute =
        from code in Gen.OneOfConst<byte>(7, 9, 10, 16, 18, 22, 25, 29, 35, 40, 128, 255)
        from transitive in Gen.Bool
        from partial in Gen.Bool
        from value in Gen.Frequency((4, Gen.Byte.Array[0, 40]), (1, Gen.Byte.Array[250, 300]))
        select new Unknown(code, value)
        {
            Flags = (byte)(OptionalFlag | (transitive ? TransitiveFlag : 0) | (transitive && partial ? PartialFlag : 0)),
        };

    /// <summary>Sometimes sets Extended Length on an attribute whose value would not need it.</summary>
    static Gen<BgpPathAttribute> MaybeExtended(Gen<BgpPathAttribute> gen) =>
        Gen.Select(gen, Gen.Int[0, 3], (a, x) => x == 0 ? a with { Flags = (byte)(a.Flags | ExtendedLengthFlag) } : a);

    /// <summary>A valid UPDATE: the mandatory attributes whenever it announces, each attribute at most once,
    /// in any order, well under 4096 bytes.</summary>
    public static readonly Gen<BgpUpdate> Update =
        from withdrawn in PrefixV4.Array[0, 12]
        from nlri in PrefixV4.Array[0, 12]
        from reachPrefixes in PrefixV6.Array[0, 10]
        from withReach in Gen.Bool
        from unreachPrefixes in PrefixV6.Array[0, 10]
        from withUnreach in Gen.Bool
        from origin in Gen.OneOfConst(BgpOrigin.Igp, BgpOrigin.Egp, BgpOrigin.Incomplete)
        from path in AsPath
        from nextHop in HostV4
        from nextHop6 in HostV6
        from linkLocal in Gen.Frequency((2, Gen.Const((IPAddress?)null)), (1, LinkLocal.Select(a => (IPAddress?)a)))
        from med in Gen.UInt
        from localPref in Gen.UInt
        from communities in Gen.UInt.Array[1, 40]
        from large in Large.Array[1, 12]
        from unknown in UnknownAttribute.Array[0, 3]
        from as4 in AsPath
        from include in Gen.Bool.Array[8]
        from shuffle in Gen.Int.Array[16]
        from extended in Gen.Int[0, 3].Array[16]
        select Build(withdrawn, nlri, withReach ? reachPrefixes : null, withUnreach ? unreachPrefixes : null, origin, path, nextHop,
            nextHop6, linkLocal, med, localPref, communities, large, unknown, as4, include, shuffle, extended);

    static BgpUpdate Build(BgpPrefix[] withdrawn, BgpPrefix[] nlri, BgpPrefix[]? reach, BgpPrefix[]? unreach, BgpOrigin origin,
        IReadOnlyList<AsPathSegment> path, IPAddress nextHop, IPAddress nextHop6, IPAddress? linkLocal, uint med, uint localPref,
        uint[] communities, LargeCommunity[] large, Unknown[] unknown, IReadOnlyList<AsPathSegment> as4, bool[] include, int[] order, int[] extended)
    {
        bool announces = nlri.Length > 0 || reach is not null;
        var list = new List<BgpPathAttribute>();
        if (announces || include[0]) list.Add(new Origin(origin));
        if (announces || include[1]) list.Add(new BgpPathAttribute.AsPath(path));
        if (nlri.Length > 0 || include[2]) list.Add(new NextHop(nextHop));
        if (include[3]) list.Add(new MultiExitDisc(med));
        if (include[4]) list.Add(new LocalPref(localPref));
        if (include[5]) list.Add(new AtomicAggregate());
        if (include[6]) list.Add(new Communities(communities));
        if (include[7]) list.Add(new LargeCommunities(large));
        if (reach is not null) list.Add(new MpReachNlri(nextHop6, linkLocal, reach));
        if (unreach is not null) list.Add(new MpUnreachNlri(unreach));
        if (order[15] % 4 == 0 && as4.Count > 0) list.Add(new As4Path(as4));
        foreach (var u in unknown.DistinctBy(u => u.Code)) list.Add(u);
        for (int i = 0; i < list.Count; i++)
            if (extended[i % extended.Length] == 0 && list[i] is not Unknown { Value.Length: > 255 })
                list[i] = list[i] with { Flags = (byte)(list[i].Flags | ExtendedLengthFlag) };
        var shuffled = list.Select((a, i) => (a, key: order[i % order.Length] ^ i)).OrderBy(x => x.key).Select(x => x.a).ToList();
        return new BgpUpdate(withdrawn, shuffled, nlri);
    }

    public static readonly Gen<BgpCapability> Capability = Gen.Frequency<BgpCapability>(
        (2, Gen.Select(Gen.UShort, Gen.Byte, (afi, safi) => (BgpCapability)new BgpCapability.Multiprotocol(afi, safi))),
        (1, Gen.Const<BgpCapability>(new BgpCapability.RouteRefresh())),
        (2, Asn.Select(a => (BgpCapability)new BgpCapability.FourOctetAs(a))),
        (1, Gen.Select(Gen.Byte[0, 15], Gen.UShort[0, 4095], Gen.Select(Gen.UShort, Gen.Byte, Gen.Byte, (a, s, f) => new GracefulRestartFamily(a, s, f)).Array[0, 3],
            (f, t, fam) => (BgpCapability)new BgpCapability.GracefulRestart(f, t, fam))),
        (2, Gen.Select(Gen.OneOfConst<byte>(0, 5, 6, 9, 69, 70, 71, 73, 128, 255), Gen.Byte.Array[0, 12],
            (c, v) => (BgpCapability)new BgpCapability.Unknown(c, v))));

    public static readonly Gen<BgpOpen> Open =
        from myAs in Gen.UShort
        from hold in Gen.Frequency((1, Gen.Const<ushort>(0)), (4, Gen.UShort[3, ushort.MaxValue]))
        from id in HostV4
        from capabilities in Capability.Array[0, 10]
        select new BgpOpen(4, myAs, hold, id, capabilities);

    public static readonly Gen<BgpNotification> Notification =
        Gen.Select(Gen.Byte, Gen.Byte, Gen.Byte.Array[0, 60], (c, s, d) => new BgpNotification(c, s, d));

    public static readonly Gen<BgpRouteRefresh> RouteRefresh =
        Gen.Select(Gen.UShort, Gen.Byte, Gen.Byte, (a, s, t) => new BgpRouteRefresh(a, s, t));

    public static readonly Gen<BgpMessage> Message = Gen.Frequency<BgpMessage>(
        (2, Open.Select(m => (BgpMessage)m)),
        (5, Update.Select(m => (BgpMessage)m)),
        (1, Gen.Const<BgpMessage>(BgpKeepalive.Instance)),
        (1, Notification.Select(m => (BgpMessage)m)),
        (1, RouteRefresh.Select(m => (BgpMessage)m)));

    public static readonly Gen<BgpEncodeOptions> Options = Gen.Bool.Select(b => new BgpEncodeOptions { FourOctetAs = b });
}
