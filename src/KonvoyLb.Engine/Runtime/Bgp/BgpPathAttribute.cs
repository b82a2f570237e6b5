using System.Net;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>
/// One path attribute of an UPDATE. <see cref="Flags"/> holds the wire flags: each type starts with the
/// flags RFC 4271 gives it, and a decoded attribute keeps what the peer sent (the Partial bit, and the
/// Extended Length bit when it was set on a value short enough not to need it), so decoding and encoding
/// again gives the same bytes. Encoders set Extended Length by themselves when a value exceeds 255 bytes.
/// </summary>
public abstract record BgpPathAttribute
{
    private protected BgpPathAttribute(byte typeCode, byte flags)
    {
        TypeCode = typeCode;
        Flags = flags;
    }

    public byte TypeCode { get; }
    public byte Flags { get; init; }

    public const byte OptionalFlag = 0x80, TransitiveFlag = 0x40, PartialFlag = 0x20, ExtendedLengthFlag = 0x10;
    public const byte WellKnown = TransitiveFlag, OptionalTransitive = OptionalFlag | TransitiveFlag, OptionalNonTransitive = OptionalFlag;

    public const byte OriginCode = 1, AsPathCode = 2, NextHopCode = 3, MultiExitDiscCode = 4, LocalPrefCode = 5,
        AtomicAggregateCode = 6, AggregatorCode = 7, CommunitiesCode = 8, MpReachNlriCode = 14, MpUnreachNlriCode = 15,
        As4PathCode = 17, LargeCommunitiesCode = 32;

    public static string Name(byte typeCode) => typeCode switch
    {
        OriginCode => "ORIGIN",
        AsPathCode => "AS_PATH",
        NextHopCode => "NEXT_HOP",
        MultiExitDiscCode => "MULTI_EXIT_DISC",
        LocalPrefCode => "LOCAL_PREF",
        AtomicAggregateCode => "ATOMIC_AGGREGATE",
        AggregatorCode => "AGGREGATOR",
        CommunitiesCode => "COMMUNITIES",
        MpReachNlriCode => "MP_REACH_NLRI",
        MpUnreachNlriCode => "MP_UNREACH_NLRI",
        As4PathCode => "AS4_PATH",
        LargeCommunitiesCode => "LARGE_COMMUNITIES",
        _ => $"attribute {typeCode}",
    };

    /// <summary>ORIGIN (type 1, well-known mandatory).</summary>
    public sealed record Origin(BgpOrigin Value) : BgpPathAttribute(OriginCode, WellKnown);

    /// <summary>AS_PATH (type 2, well-known mandatory). Holds real ASNs; on a 2-octet session the encoder
    /// writes AS_TRANS for ASNs above 65535 and adds AS4_PATH, and the decoder returns what was on the wire.</summary>
    public sealed record AsPath(IReadOnlyList<AsPathSegment> Segments) : BgpPathAttribute(AsPathCode, WellKnown)
    {
        public bool Equals(AsPath? other) => other is not null && Flags == other.Flags && Seq.Equal(Segments, other.Segments);
        public override int GetHashCode() => HashCode.Combine(Flags, Seq.Hash(Segments));
        public override string ToString() => $"AS_PATH {string.Join(' ', Segments)}";
    }

    /// <summary>NEXT_HOP (type 3, well-known): the IPv4 next hop of the IPv4 NLRI.</summary>
    public sealed record NextHop(IPAddress Address) : BgpPathAttribute(NextHopCode, WellKnown);

    /// <summary>MULTI_EXIT_DISC (type 4, optional non-transitive).</summary>
    public sealed record MultiExitDisc(uint Value) : BgpPathAttribute(MultiExitDiscCode, OptionalNonTransitive);

    /// <summary>LOCAL_PREF (type 5, well-known; sent to iBGP peers only).</summary>
    public sealed record LocalPref(uint Value) : BgpPathAttribute(LocalPrefCode, WellKnown);

    /// <summary>ATOMIC_AGGREGATE (type 6, well-known discretionary, no value).</summary>
    public sealed record AtomicAggregate() : BgpPathAttribute(AtomicAggregateCode, WellKnown);

    /// <summary>COMMUNITIES (type 8, optional transitive, RFC 1997): at least one.</summary>
    public sealed record Communities(IReadOnlyList<uint> Values) : BgpPathAttribute(CommunitiesCode, OptionalTransitive)
    {
        public bool Equals(Communities? other) => other is not null && Flags == other.Flags && Seq.Equal(Values, other.Values);
        public override int GetHashCode() => HashCode.Combine(Flags, Seq.Hash(Values));
        public override string ToString() => $"COMMUNITIES {string.Join(' ', Values.Select(BgpCommunity.Format))}";
    }

    /// <summary>MP_REACH_NLRI (type 14, optional non-transitive, RFC 4760) for IPv6 unicast (2/1): a global
    /// next hop, optionally followed by a link-local one (next hop length 32), and the announced prefixes.
    /// MP_REACH_NLRI of other families is kept as <see cref="Unknown"/>.</summary>
    public sealed record MpReachNlri(IPAddress GlobalNextHop, IPAddress? LinkLocalNextHop, IReadOnlyList<BgpPrefix> Prefixes)
        : BgpPathAttribute(MpReachNlriCode, OptionalNonTransitive)
    {
        public MpReachNlri(IPAddress nextHop, IReadOnlyList<BgpPrefix> prefixes) : this(nextHop, null, prefixes) { }

        public bool Equals(MpReachNlri? other) =>
            other is not null && Flags == other.Flags && GlobalNextHop.Equals(other.GlobalNextHop) &&
            Equals(LinkLocalNextHop, other.LinkLocalNextHop) && Seq.Equal(Prefixes, other.Prefixes);

        public override int GetHashCode() => HashCode.Combine(Flags, GlobalNextHop, LinkLocalNextHop, Seq.Hash(Prefixes));

        public override string ToString() =>
            $"MP_REACH_NLRI 2/1 via {GlobalNextHop}{(LinkLocalNextHop is null ? "" : $" {LinkLocalNextHop}")}: {string.Join(' ', Prefixes)}";
    }

    /// <summary>MP_UNREACH_NLRI (type 15, optional non-transitive) for IPv6 unicast (2/1). With no prefixes
    /// it is the IPv6 End-of-RIB marker (RFC 4724).</summary>
    public sealed record MpUnreachNlri(IReadOnlyList<BgpPrefix> Prefixes) : BgpPathAttribute(MpUnreachNlriCode, OptionalNonTransitive)
    {
        public bool Equals(MpUnreachNlri? other) => other is not null && Flags == other.Flags && Seq.Equal(Prefixes, other.Prefixes);
        public override int GetHashCode() => HashCode.Combine(Flags, Seq.Hash(Prefixes));
        public override string ToString() => $"MP_UNREACH_NLRI 2/1: {string.Join(' ', Prefixes)}";
    }

    /// <summary>AS4_PATH (type 17, optional transitive, RFC 6793): the real path next to a 2-octet AS_PATH.
    /// Always 4-octet ASNs.</summary>
    public sealed record As4Path(IReadOnlyList<AsPathSegment> Segments) : BgpPathAttribute(As4PathCode, OptionalTransitive)
    {
        public bool Equals(As4Path? other) => other is not null && Flags == other.Flags && Seq.Equal(Segments, other.Segments);
        public override int GetHashCode() => HashCode.Combine(Flags, Seq.Hash(Segments));
        public override string ToString() => $"AS4_PATH {string.Join(' ', Segments)}";
    }

    /// <summary>LARGE_COMMUNITIES (type 32, optional transitive, RFC 8092): at least one.</summary>
    public sealed record LargeCommunities(IReadOnlyList<LargeCommunity> Values) : BgpPathAttribute(LargeCommunitiesCode, OptionalTransitive)
    {
        public bool Equals(LargeCommunities? other) => other is not null && Flags == other.Flags && Seq.Equal(Values, other.Values);
        public override int GetHashCode() => HashCode.Combine(Flags, Seq.Hash(Values));
        public override string ToString() => $"LARGE_COMMUNITIES {string.Join(' ', Values)}";
    }

    /// <summary>Any other attribute (and MP_REACH/MP_UNREACH of families other than 2/1), kept as type
    /// code, flags and value.</summary>
    public sealed record Unknown(byte Code, byte[] Value) : BgpPathAttribute(Code, OptionalTransitive)
    {
        public bool Equals(Unknown? other) => other is not null && Code == other.Code && Flags == other.Flags && Seq.Equal(Value, other.Value);
        public override int GetHashCode() => HashCode.Combine(Code, Flags, Seq.Hash(Value));
        public override string ToString() => $"{Name(Code)} flags {Flags:x2} {Seq.Hex(Value)}";
    }
}
