using System.Net;
using System.Net.Sockets;
using static KonvoyLb.Engine.Runtime.Bgp.BgpPathAttribute;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>
/// The attributes that a set of announced prefixes shares, as the speaker thinks of them. The packer
/// turns them into UPDATE attributes: NEXT_HOP for IPv4 NLRI, MP_REACH_NLRI with <see cref="NextHopIPv6"/>
/// for IPv6, everything in type-code order. <see cref="AsPath"/> holds real ASNs; on a 2-octet session the
/// encoder writes AS_TRANS and AS4_PATH.
/// </summary>
public sealed record PathAttributes
{
    public BgpOrigin Origin { get; init; } = BgpOrigin.Igp;

    /// <summary>Empty for iBGP; one AS_SEQUENCE of the own AS for eBGP.</summary>
    public IReadOnlyList<AsPathSegment> AsPath { get; init; } = [];

    /// <summary>The IPv4 next hop of IPv4 NLRI: the session's local address.</summary>
    public IPAddress? NextHop { get; init; }

    /// <summary>The global IPv6 next hop of IPv6 prefixes in MP_REACH_NLRI.</summary>
    public IPAddress? NextHopIPv6 { get; init; }

    /// <summary>An optional link-local IPv6 next hop (sent as the second half of a 32-byte next hop).</summary>
    public IPAddress? LinkLocalNextHopIPv6 { get; init; }

    public uint? MultiExitDisc { get; init; }

    /// <summary>For iBGP sessions only.</summary>
    public uint? LocalPref { get; init; }

    public bool AtomicAggregate { get; init; }
    public IReadOnlyList<uint> Communities { get; init; } = [];
    public IReadOnlyList<LargeCommunity> LargeCommunities { get; init; } = [];

    /// <summary>Further optional attributes sent as they are; none may have a type code the fields above cover.</summary>
    public IReadOnlyList<Unknown> Other { get; init; } = [];

    /// <summary>eBGP: AS_PATH is one AS_SEQUENCE holding the local AS.</summary>
    public static PathAttributes Ebgp(uint localAs, IPAddress? nextHop, IPAddress? nextHopIPv6 = null) =>
        new() { AsPath = [AsPathSegment.Sequence(localAs)], NextHop = nextHop, NextHopIPv6 = nextHopIPv6 };

    /// <summary>iBGP: empty AS_PATH and a LOCAL_PREF.</summary>
    public static PathAttributes Ibgp(IPAddress? nextHop, IPAddress? nextHopIPv6 = null, uint localPref = 100) =>
        new() { NextHop = nextHop, NextHopIPv6 = nextHopIPv6, LocalPref = localPref };

    static readonly HashSet<byte> TypedCodes =
        [OriginCode, AsPathCode, NextHopCode, MultiExitDiscCode, LocalPrefCode, AtomicAggregateCode, CommunitiesCode,
         MpReachNlriCode, MpUnreachNlriCode, As4PathCode, LargeCommunitiesCode];

    /// <summary>The UPDATE attributes in type-code order: NEXT_HOP when <paramref name="withNextHop"/>,
    /// then MP_REACH_NLRI / MP_UNREACH_NLRI when given.</summary>
    public List<BgpPathAttribute> ToAttributes(bool withNextHop, MpReachNlri? reach = null, MpUnreachNlri? unreach = null)
    {
        foreach (var other in Other)
            if (TypedCodes.Contains(other.Code))
                throw new ArgumentException($"{Name(other.Code)} has its own field in PathAttributes; it cannot be in Other.");
        var list = new List<BgpPathAttribute> { new Origin(Origin), new BgpPathAttribute.AsPath(AsPath) };
        if (withNextHop)
        {
            if (NextHop is null || NextHop.AddressFamily != AddressFamily.InterNetwork)
                throw new ArgumentException($"IPv4 prefixes need an IPv4 NextHop, not {NextHop?.ToString() ?? "none"}.");
            list.Add(new BgpPathAttribute.NextHop(NextHop));
        }
        if (MultiExitDisc is { } med) list.Add(new BgpPathAttribute.MultiExitDisc(med));
        if (LocalPref is { } pref) list.Add(new BgpPathAttribute.LocalPref(pref));
        if (AtomicAggregate) list.Add(new BgpPathAttribute.AtomicAggregate());
        if (Communities.Count > 0) list.Add(new BgpPathAttribute.Communities(Communities.ToArray()));
        if (reach is not null) list.Add(reach);
        if (unreach is not null) list.Add(unreach);
        if (LargeCommunities.Count > 0) list.Add(new BgpPathAttribute.LargeCommunities(LargeCommunities.ToArray()));
        list.AddRange(Other);
        // Stable: equal codes cannot occur, so this only moves Other into place.
        return list.OrderBy(a => a is Unknown u ? u.Code : a.TypeCode).ToList();
    }

    /// <summary>What an UPDATE says about its routes. On a 2-octet session AS4_PATH is merged into the
    /// AS path (RFC 6793 §4.2.3); on a 4-octet one it is ignored, as a NEW speaker ignores it.</summary>
    public static PathAttributes FromUpdate(BgpUpdate update, BgpEncodeOptions options)
    {
        var path = update.Get<BgpPathAttribute.AsPath>()?.Segments ?? [];
        if (!options.FourOctetAs && update.Get<As4Path>() is { } as4)
            path = AsPathSegment.Merge(path, as4.Segments);
        var reach = update.Get<MpReachNlri>();
        return new PathAttributes
        {
            Origin = update.Get<BgpPathAttribute.Origin>()?.Value ?? BgpOrigin.Igp,
            AsPath = path,
            NextHop = update.Get<BgpPathAttribute.NextHop>()?.Address,
            NextHopIPv6 = reach?.GlobalNextHop,
            LinkLocalNextHopIPv6 = reach?.LinkLocalNextHop,
            MultiExitDisc = update.Get<BgpPathAttribute.MultiExitDisc>()?.Value,
            LocalPref = update.Get<BgpPathAttribute.LocalPref>()?.Value,
            AtomicAggregate = update.Get<BgpPathAttribute.AtomicAggregate>() is not null,
            Communities = update.Get<BgpPathAttribute.Communities>()?.Values ?? [],
            LargeCommunities = update.Get<BgpPathAttribute.LargeCommunities>()?.Values ?? [],
            Other = update.Attributes.OfType<Unknown>().Where(u => u.Code is not (MpReachNlriCode or MpUnreachNlriCode)).ToArray(),
        };
    }

    public bool Equals(PathAttributes? other) =>
        other is not null && Origin == other.Origin && Seq.Equal(AsPath, other.AsPath) &&
        Equals(NextHop, other.NextHop) && Equals(NextHopIPv6, other.NextHopIPv6) &&
        Equals(LinkLocalNextHopIPv6, other.LinkLocalNextHopIPv6) && MultiExitDisc == other.MultiExitDisc &&
        LocalPref == other.LocalPref && AtomicAggregate == other.AtomicAggregate &&
        Seq.Equal(Communities, other.Communities) && Seq.Equal(LargeCommunities, other.LargeCommunities) &&
        Seq.Equal(Other, other.Other);

    bool PrintMembers(System.Text.StringBuilder sb)
    {
        sb.Append($"Origin = {Origin}, AsPath = [{string.Join(' ', AsPath)}]");
        if (NextHop is not null) sb.Append($", NextHop = {NextHop}");
        if (NextHopIPv6 is not null) sb.Append($", NextHopIPv6 = {NextHopIPv6}");
        if (LinkLocalNextHopIPv6 is not null) sb.Append($", LinkLocalNextHopIPv6 = {LinkLocalNextHopIPv6}");
        if (MultiExitDisc is not null) sb.Append($", MultiExitDisc = {MultiExitDisc}");
        if (LocalPref is not null) sb.Append($", LocalPref = {LocalPref}");
        if (AtomicAggregate) sb.Append(", AtomicAggregate");
        if (Communities.Count > 0) sb.Append($", Communities = [{string.Join(' ', Communities.Select(BgpCommunity.Format))}]");
        if (LargeCommunities.Count > 0) sb.Append($", LargeCommunities = [{string.Join(' ', LargeCommunities)}]");
        if (Other.Count > 0) sb.Append($", Other = [{string.Join("; ", Other)}]");
        return true;
    }

    public override int GetHashCode() =>
        HashCode.Combine(Origin, Seq.Hash(AsPath), NextHop, NextHopIPv6, MultiExitDisc, LocalPref, Seq.Hash(Communities), Seq.Hash(LargeCommunities));
}
