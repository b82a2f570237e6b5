using System.Net;
using KonvoyLb.Engine.Config;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>One BGP peer as the speaker dials it: MetalLB's legacy peer fields, parsed.</summary>
public sealed record BgpPeerSettings
{
    public required IPAddress PeerAddress { get; init; }
    public required uint MyAsn { get; init; }
    public required uint PeerAsn { get; init; }
    public ushort Port { get; init; } = 179;
    public IPAddress? SourceAddress { get; init; }
    /// <summary>Proposed hold time: 0 (no keepalives) or at least 3 s.</summary>
    public TimeSpan HoldTime { get; init; } = TimeSpan.FromSeconds(90);
    /// <summary>Keepalive interval when set (else a third of the negotiated hold time).</summary>
    public TimeSpan? KeepaliveTime { get; init; }
    public IPAddress? RouterId { get; init; }
    public string? Password { get; init; }
    public bool EbgpMultihop { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Reconnect back-off: first and longest wait.</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>
    /// Runs socket creation and interface look-ups inside another network namespace (a test lab);
    /// null runs them in the process's own, as a speaker in its pod does.
    /// </summary>
    public Action<Action>? InNetworkNamespace { get; init; }

    public bool IsIbgp => MyAsn == PeerAsn;

    /// <summary>
    /// TTL of the session's packets: 255 with ebgp-multihop, 1 for a directly connected eBGP peer
    /// (as routers expect), the system default for iBGP.
    /// </summary>
    public int? Ttl => EbgpMultihop ? 255 : IsIbgp ? null : 1;

    public override string ToString() => $"{PeerAddress}:{Port} AS{PeerAsn} (us AS{MyAsn})";

    /// <summary>
    /// The settings of a peer of the legacy configuration. Validate it first (<see cref="ConfigValidator"/>); what is
    /// still unusable here is an <see cref="LbException"/> naming the field, never a raw exception.
    /// </summary>
    public static BgpPeerSettings From(BgpPeer peer)
    {
        string who = peer.PeerAddress ?? "without peer-address";
        TimeSpan Duration(string? text, TimeSpan fallback) =>
            text is not null && GoDuration.TryParse(text, out var d) ? TimeSpan.FromSeconds(Math.Truncate(d.TotalSeconds)) : fallback;
        IPAddress? Address(string? text, string field) => text is null ? null : IPAddress.TryParse(text, out var a) ? a
            : throw new LbException(ErrorId.InvalidAddress, $"BGP peer {who}: {field} '{text}' is not an IP address.", text,
                fix: $"Write {field} as a plain IPv4 or IPv6 address.");
        uint Asn(uint? value, string field) => value is > 0 ? value.Value
            : throw new LbException(ErrorId.InvalidAsn, $"BGP peer {who}: {field} is missing or 0.", who, fix: $"Give {field}, 1 to 4294967295.");
        return new BgpPeerSettings
        {
            PeerAddress = Address(peer.PeerAddress, "peer-address")
                ?? throw new LbException(ErrorId.MissingField, "a BGP peer has no peer-address.", null, fix: "Give every peer its peer-address."),
            MyAsn = Asn(peer.MyAsn, "my-asn"),
            PeerAsn = Asn(peer.PeerAsn, "peer-asn"),
            Port = peer.PeerPort ?? 179,
            SourceAddress = Address(peer.SourceAddress, "source-address"),
            HoldTime = Duration(peer.HoldTime, TimeSpan.FromSeconds(90)),
            KeepaliveTime = peer.KeepaliveTime is null ? null : Duration(peer.KeepaliveTime, TimeSpan.FromSeconds(30)),
            RouterId = Address(peer.RouterId, "router-id"),
            Password = peer.RevealPassword(),
            EbgpMultihop = peer.EbgpMultihop == true,
        };
    }
}

/// <summary>One route to announce: a prefix and its attributes (the next hop is the session's own address).</summary>
public sealed record BgpRoute(BgpPrefix Prefix, uint? LocalPref = null, IReadOnlyList<uint>? Communities = null, IReadOnlyList<LargeCommunity>? LargeCommunities = null)
{
    public IReadOnlyList<uint> CommunityList => Communities ?? Array.Empty<uint>();
    public IReadOnlyList<LargeCommunity> LargeCommunityList => LargeCommunities ?? Array.Empty<LargeCommunity>();

    /// <summary>Routes with the same key can travel in one UPDATE.</summary>
    internal string AttributeKey => $"{LocalPref}|{string.Join(",", CommunityList)}|{string.Join(",", LargeCommunityList)}";
}

/// <summary>What MetalLB announces for a service IP: one route per bgp-advertisement of its pool.</summary>
public static class BgpAdvertisements
{
    public static List<BgpRoute> RoutesFor(IPAddress ip, AddressPool pool, IReadOnlyList<Config.BgpCommunity>? aliases)
    {
        var ads = pool.BgpAdvertisements is { Count: > 0 } list ? list : new List<Config.BgpAdvertisement> { new() };
        var alias = (aliases ?? Array.Empty<Config.BgpCommunity>()).GroupBy(a => a.Name).ToDictionary(g => g.Key, g => g.First().Value);
        return ads.Select(ad =>
        {
            bool v6 = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
            int length = v6 ? ad.AggregationLengthV6 ?? 128 : ad.AggregationLength ?? 32;
            var communities = (ad.Communities ?? new()).Select(c =>
            {
                var value = alias.TryGetValue(c, out var v) ? v : c;
                // Validated before (ConfigValidator); an invalid one is never announced.
                return ConfigValidator.TryParseCommunity(value, out var community) ? community : (uint?)null;
            }).ToList();
            return new BgpRoute(new BgpPrefix(ip, length), ad.LocalPref, communities.OfType<uint>().ToList());
        }).ToList();
    }
}
