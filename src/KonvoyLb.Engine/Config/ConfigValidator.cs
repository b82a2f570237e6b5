using System.Globalization;
using System.Net;
using System.Net.Sockets;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Engine.Config;

/// <summary>
/// MetalLB's own validation rules for the legacy configuration, all of them, every problem reported.
/// Locations come from a path locator ("address-pools/0/addresses/1") so the same rules serve files
/// on disk and planned edits.
/// </summary>
public sealed class ConfigValidator
{
    readonly Func<string, SourceLocation?> _locate;
    readonly List<Finding> _findings = new();

    ConfigValidator(Func<string, SourceLocation?> locate) => _locate = locate;

    public static List<Finding> Validate(MetalLbConfig config, Func<string, SourceLocation?>? locate = null)
    {
        var v = new ConfigValidator(locate ?? (_ => null));
        v.Run(config);
        return v._findings;
    }

    void Error(ErrorId id, string path, string subject, string message) =>
        _findings.Add(new Finding(Severity.Error, id, message, subject, _locate(path)));

    void Run(MetalLbConfig c)
    {
        var bfdNames = CheckBfdProfiles(c.BfdProfiles ?? new());
        var communities = CheckCommunities(c.BgpCommunities ?? new());
        CheckPeers(c.Peers ?? new(), bfdNames);
        CheckPools(c.AddressPools ?? new(), communities);
    }

    HashSet<string> CheckBfdProfiles(List<BfdProfile> profiles)
    {
        var names = new HashSet<string>();
        for (int i = 0; i < profiles.Count; i++)
        {
            var b = profiles[i];
            string path = $"bfd-profiles/{i}", subject = $"bfd-profile {b.Name}";
            if (b.Name.Length == 0) Error(ErrorId.MissingField, path, $"bfd-profile #{i + 1}", "a BFD profile needs a name");
            else if (!names.Add(b.Name)) Error(ErrorId.DuplicateBfdProfile, path + "/name", subject, $"the BFD profile name '{b.Name}' is used twice");
            Range(b.ReceiveInterval, 10, 60000, "receive-interval", "ms");
            Range(b.TransmitInterval, 10, 60000, "transmit-interval", "ms");
            Range(b.EchoInterval, 10, 60000, "echo-interval", "ms");
            Range(b.DetectMultiplier, 2, 255, "detect-multiplier", "");
            Range(b.MinimumTtl, 1, 254, "minimum-ttl", "");

            void Range(uint? value, uint min, uint max, string key, string unit)
            {
                if (value is { } x && (x < min || x > max))
                    Error(ErrorId.InvalidBfdProfile, $"{path}/{key}", subject, $"{key} is {x}{unit}; it must be between {min} and {max}{unit}");
            }
        }
        return names;
    }

    Dictionary<string, string> CheckCommunities(List<BgpCommunity> communities)
    {
        var map = new Dictionary<string, string>();
        foreach (var c in communities)
        {
            if (!IsCommunity(c.Value))
                Error(ErrorId.InvalidCommunity, $"bgp-communities/{c.Name}", $"community {c.Name}",
                    $"'{c.Value}' is not a BGP community: write two numbers from 0 to 65535 separated by a colon, like 65535:65281");
            map[c.Name] = c.Value;
        }
        return map;
    }

    static bool IsCommunity(string value) => TryParseCommunity(value, out _);

    /// <summary>A BGP community written as MetalLB writes it, "65535:65281", as its 32-bit value.</summary>
    public static bool TryParseCommunity(string value, out uint community)
    {
        var parts = value.Split(':');
        community = 0;
        if (parts.Length != 2 || !ushort.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var high)
            || !ushort.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var low)) return false;
        community = (uint)high << 16 | low;
        return true;
    }

    void CheckPeers(List<BgpPeer> peers, HashSet<string> bfdNames)
    {
        var seen = new List<string>();
        for (int i = 0; i < peers.Count; i++)
        {
            var p = peers[i];
            string path = $"peers/{i}", subject = p.PeerAddress is null ? $"peer #{i + 1}" : $"peer {p.PeerAddress}";
            if (p.MyAsn is null or 0) Error(ErrorId.InvalidAsn, path + (p.MyAsn is null ? "" : "/my-asn"), subject, "my-asn is missing or 0: give the AS number MetalLB speaks as (1 to 4294967295)");
            if (p.PeerAsn is null or 0) Error(ErrorId.InvalidAsn, path + (p.PeerAsn is null ? "" : "/peer-asn"), subject, "peer-asn is missing or 0: give the router's AS number (1 to 4294967295)");
            if (p.PeerAddress is null) Error(ErrorId.MissingField, path, subject, "peer-address is missing: give the router's IP address");
            else if (!IPAddress.TryParse(p.PeerAddress, out _)) Error(ErrorId.InvalidAddress, path + "/peer-address", subject, $"peer-address '{p.PeerAddress}' is not an IP address");
            if (p.SourceAddress is not null && !IPAddress.TryParse(p.SourceAddress, out _))
                Error(ErrorId.InvalidAddress, path + "/source-address", subject, $"source-address '{p.SourceAddress}' is not an IP address");
            if (p.RouterId is not null && !(IPAddress.TryParse(p.RouterId, out var rid) && rid.AddressFamily == AddressFamily.InterNetwork))
                Error(ErrorId.InvalidAddress, path + "/router-id", subject, $"router-id '{p.RouterId}' is not an IPv4 address (BGP identifiers are IPv4-shaped)");

            if (p.RevealPassword() is { } password && System.Text.Encoding.UTF8.GetByteCount(password) > Net.TcpMd5.MaxKeyBytes)
                Error(ErrorId.InvalidPassword, path + "/password", subject,
                    $"the password has {System.Text.Encoding.UTF8.GetByteCount(password)} bytes; TCP MD5 (RFC 2385, Linux TCP_MD5SIG) takes at most {Net.TcpMd5.MaxKeyBytes}: use a shorter password on both sides");
            TimeSpan hold = TimeSpan.FromSeconds(90);
            if (p.HoldTime is not null)
            {
                if (GoDuration.TryParse(p.HoldTime, out var h))
                {
                    hold = TimeSpan.FromSeconds(Math.Truncate(h.TotalSeconds));
                    if (hold < TimeSpan.Zero || (hold > TimeSpan.Zero && hold < TimeSpan.FromSeconds(3)))
                        Error(ErrorId.InvalidHoldTime, path + "/hold-time", subject, $"hold-time {p.HoldTime} is invalid: use 0 (no keepalives) or at least 3s (RFC 4271)");
                }
                else Error(ErrorId.InvalidDuration, path + "/hold-time", subject, $"hold-time '{p.HoldTime}' is not a duration: write it like 90s or 1m30s");
            }
            if (p.KeepaliveTime is not null)
            {
                if (!GoDuration.TryParse(p.KeepaliveTime, out var k))
                    Error(ErrorId.InvalidDuration, path + "/keepalive-time", subject, $"keepalive-time '{p.KeepaliveTime}' is not a duration: write it like 30s");
                else if (k > hold)
                    Error(ErrorId.KeepaliveAboveHoldTime, path + "/keepalive-time", subject, $"keepalive-time {p.KeepaliveTime} is longer than the hold time {hold.TotalSeconds}s: make it at most a third of the hold time");
            }
            if (p.BfdProfile is not null && !bfdNames.Contains(p.BfdProfile))
                Error(ErrorId.UnknownBfdProfile, path + "/bfd-profile", subject, $"bfd-profile '{p.BfdProfile}' is not defined under bfd-profiles");
            if (p.EbgpMultihop == true && p.MyAsn is not null && p.MyAsn == p.PeerAsn)
                Error(ErrorId.EbgpMultihopOnIbgp, path + "/ebgp-multihop", subject, "ebgp-multihop is set on an iBGP session (my-asn equals peer-asn): remove it");
            for (int s = 0; s < (p.NodeSelectors?.Count ?? 0); s++)
                CheckSelector(p.NodeSelectors![s], $"{path}/node-selectors/{s}", subject);

            // MetalLB refuses a peer that is an exact copy of an earlier one.
            string fingerprint = ConfigWriter.Peer(p).ToFlow();
            if (seen.Contains(fingerprint)) Error(ErrorId.DuplicatePeer, path, subject, "this peer is an exact duplicate of an earlier one: remove one of them");
            seen.Add(fingerprint);
        }
    }

    void CheckSelector(NodeSelector sel, string path, string subject)
    {
        foreach (var l in sel.MatchLabels ?? new())
            if (l.Key.Length == 0) Error(ErrorId.InvalidNodeSelector, path + "/match-labels", subject, "a label in match-labels has an empty name");
        for (int i = 0; i < (sel.MatchExpressions?.Count ?? 0); i++)
        {
            var e = sel.MatchExpressions![i];
            string at = $"{path}/match-expressions/{i}";
            bool hasValues = e.Values is { Count: > 0 };
            string? problem = e.Operator switch
            {
                _ when e.Key.Length == 0 => "a match expression needs a key",
                "In" or "NotIn" when !hasValues => $"operator {e.Operator} needs at least one value",
                "Exists" or "DoesNotExist" when hasValues => $"operator {e.Operator} takes no values",
                "In" or "NotIn" or "Exists" or "DoesNotExist" => null,
                _ => $"operator '{e.Operator}' is unknown: use In, NotIn, Exists or DoesNotExist",
            };
            if (problem is not null) Error(ErrorId.InvalidNodeSelector, at, subject, problem);
        }
    }

    void CheckPools(List<AddressPool> pools, Dictionary<string, string> communities)
    {
        var names = new HashSet<string>();
        var ranges = new List<IpRange>();
        var owners = new List<(string Pool, string Text, string Path)>();
        for (int i = 0; i < pools.Count; i++)
        {
            var p = pools[i];
            string path = $"address-pools/{i}", subject = p.Name.Length == 0 ? $"pool #{i + 1}" : $"pool {p.Name}";
            if (p.Name.Length == 0) Error(ErrorId.MissingField, path, subject, "a pool needs a name");
            else if (!names.Add(p.Name)) Error(ErrorId.DuplicatePoolName, path + "/name", subject, $"the pool name '{p.Name}' is used twice: names must be unique");
            if (p.Protocol is null) Error(ErrorId.MissingField, path, subject, "protocol is missing: use layer2 or bgp");
            else if (p.Protocol is not ("layer2" or "bgp")) Error(ErrorId.UnknownProtocol, path + "/protocol", subject, $"protocol '{p.Protocol}' is unknown: use layer2 or bgp");
            if (p.Addresses is null or { Count: 0 })
                Error(ErrorId.EmptyPool, path + (p.Addresses is null ? "" : "/addresses"), subject,
                    $"the pool has no addresses, and MetalLB refuses a pool without any: add some (Set-LbAddressPool -Name {p.Name} -AddAddress 192.0.2.10-192.0.2.20)");

            var poolRanges = new List<IpRange>();
            for (int a = 0; a < (p.Addresses?.Count ?? 0); a++)
            {
                string text = p.Addresses![a];
                if (IpRange.TryParse(text, out var r, out var error))
                {
                    poolRanges.Add(r);
                    ranges.Add(r);
                    owners.Add((p.Name, text, $"{path}/addresses/{a}"));
                }
                else Error(text.Contains('-') ? ErrorId.InvalidRange : ErrorId.InvalidAddress, $"{path}/addresses/{a}", subject, $"'{text}': {error}");
            }

            if (p.BgpAdvertisements is { Count: > 0 } ads && p.Protocol == "layer2")
                Error(ErrorId.AdvertisementOnLayer2Pool, path + "/bgp-advertisements", subject, "bgp-advertisements only apply to bgp pools: remove them or set protocol: bgp");
            for (int a = 0; a < (p.BgpAdvertisements?.Count ?? 0); a++)
                CheckAdvertisement(p.BgpAdvertisements![a], $"{path}/bgp-advertisements/{a}", subject, poolRanges, communities);
        }

        foreach (var (a, b, overlap) in IpRangeOverlap.FindOverlaps(ranges))
        {
            var (first, second) = (owners[a], owners[b]);
            string where = first.Pool == second.Pool ? $"inside pool {first.Pool}" : $"pools {first.Pool} and {second.Pool}";
            _findings.Add(new Finding(Severity.Error, ErrorId.OverlappingAddresses,
                $"'{second.Text}' overlaps '{first.Text}' ({where}) at {overlap}: MetalLB refuses overlapping addresses; make the ranges disjoint",
                $"pool {second.Pool}", _locate(second.Path))
            { Range = ranges[b].ToString(), OtherRange = ranges[a].ToString(), Overlap = overlap.ToString() });
        }
    }

    void CheckAdvertisement(BgpAdvertisement ad, string path, string subject, List<IpRange> poolRanges, Dictionary<string, string> communities)
    {
        int v4 = ad.AggregationLength ?? 32, v6 = ad.AggregationLengthV6 ?? 128;
        if (v4 > 32) Error(ErrorId.InvalidAggregationLength, path + "/aggregation-length", subject, $"aggregation-length {v4} is longer than 32");
        if (v6 > 128) Error(ErrorId.InvalidAggregationLength, path + "/aggregation-length-v6", subject, $"aggregation-length-v6 {v6} is longer than 128");
        foreach (var r in poolRanges)
        {
            bool isV4 = r.Family == AddressFamily.InterNetwork;
            int length = isV4 ? v4 : v6;
            if (length < r.PrefixLength && length <= (isV4 ? 32 : 128))
                Error(ErrorId.InvalidAggregationLength, path + (isV4 ? "/aggregation-length" : "/aggregation-length-v6"), subject,
                    $"aggregation length {length} is shorter than the /{r.PrefixLength} of {r} in this pool: use at least {r.PrefixLength}");
        }
        var seen = new HashSet<string>();
        for (int i = 0; i < (ad.Communities?.Count ?? 0); i++)
        {
            string c = ad.Communities![i];
            string value = communities.TryGetValue(c, out var aliased) ? aliased : c;
            if (!IsCommunity(value))
                Error(ErrorId.InvalidCommunity, $"{path}/communities/{i}", subject,
                    $"community '{c}' is neither an alias from bgp-communities nor a value like 64512:100");
            else if (!seen.Add(value))
                Error(ErrorId.InvalidCommunity, $"{path}/communities/{i}", subject, $"community '{c}' is listed twice");
        }
    }
}

/// <summary>Go's time.ParseDuration, which MetalLB uses for hold-time and keepalive-time.</summary>
public static class GoDuration
{
    static readonly (string Unit, double Seconds)[] Units =
        { ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600) };

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var s = text.AsSpan();
        bool negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+')) { negative = s[0] == '-'; s = s[1..]; }
        if (s.SequenceEqual("0")) return true;
        if (s.Length == 0) return false;
        double total = 0;
        while (s.Length > 0)
        {
            int n = 0;
            while (n < s.Length && (char.IsAsciiDigit(s[n]) || s[n] == '.')) n++;
            if (n == 0 || !double.TryParse(s[..n], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) return false;
            s = s[n..];
            (string Unit, double Seconds) unit = default;
            foreach (var u in Units)
                if (s.StartsWith(u.Unit) && u.Unit.Length > (unit.Unit?.Length ?? 0)) unit = u;
            if (unit.Unit is null) return false;
            total += number * unit.Seconds;
            s = s[unit.Unit.Length..];
        }
        value = TimeSpan.FromSeconds(negative ? -total : total);
        return true;
    }
}
