using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>
/// What Test-LbBgpPeer decides before it dials: whether a peer can be tested (MetalLB's rules on it
/// alone), the session settings, and the test prefix with the attributes its pool would give it.
/// </summary>
public static class BgpTestPeer
{
    /// <summary>The settings to dial <paramref name="peer"/> with, or InvalidConfig with every problem of that peer.</summary>
    public static BgpPeerSettings Settings(Config.BgpPeer peer, MetalLbConfig config, TimeSpan connectTimeout)
    {
        var problems = ConfigValidator.Validate(new MetalLbConfig { Peers = new() { peer }, BfdProfiles = config.BfdProfiles })
            .Where(f => f.Severity == Severity.Error).ToList();
        if (problems.Count > 0)
            throw new LbException(ErrorId.InvalidConfig,
                $"peer {peer.PeerAddress} cannot be tested: {string.Join("; ", problems.Select(p => p.Message))}", peer.PeerAddress, findings: problems);
        return BgpPeerSettings.From(peer) with { ConnectTimeout = connectTimeout };
    }

    /// <summary>A prefix as typed (198.51.100.7/32, or a bare address for its host route).</summary>
    public static BgpPrefix ParsePrefix(string text)
    {
        if (!text.Contains('-') && IpRange.TryParseAddressOrRange(text, out var range, out _) && range.IsCidr)
            return new BgpPrefix(range.FirstAddress, range.PrefixLength);
        throw new LbException(ErrorId.InvalidArgument, $"-AnnounceTestPrefix '{text}' is not a prefix.", text,
            fix: "Write it like 198.51.100.7/32 or 2001:db8::7/128.");
    }

    /// <summary>The test route: the attributes of the first advertisement of the BGP pool that holds the prefix, if any.</summary>
    public static BgpRoute Route(BgpPrefix prefix, MetalLbConfig config)
    {
        var pool = config.AddressPools?.FirstOrDefault(p => p.Protocol == "bgp" && (p.Addresses ?? new()).Any(a =>
            IpRange.TryParse(a, out var r, out _) && r.Contains(prefix.Address)));
        return pool is null ? new BgpRoute(prefix)
            : BgpAdvertisements.RoutesFor(prefix.Address, pool, config.BgpCommunities)[0] with { Prefix = prefix };
    }
}
