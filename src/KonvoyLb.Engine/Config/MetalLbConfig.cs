using System.Security;

namespace KonvoyLb.Engine.Config;

/// <summary>
/// MetalLB's legacy configuration (configInline / ConfigMap key "config"). Optional fields are null
/// when the file does not set them, so that writing the model back never adds a key nobody asked for.
/// </summary>
public sealed class MetalLbConfig
{
    public List<BgpPeer>? Peers { get; set; }
    public List<BgpCommunity>? BgpCommunities { get; set; }
    public List<AddressPool>? AddressPools { get; set; }
    public List<BfdProfile>? BfdProfiles { get; set; }

    public MetalLbConfig Clone() => new()
    {
        Peers = Peers?.Select(p => p.Clone()).ToList(),
        BgpCommunities = BgpCommunities?.Select(c => c with { }).ToList(),
        AddressPools = AddressPools?.Select(p => p.Clone()).ToList(),
        BfdProfiles = BfdProfiles?.Select(b => b.Clone()).ToList(),
    };
}

public sealed class AddressPool
{
    public string Name { get; set; } = "";
    public string? Protocol { get; set; }
    public List<string>? Addresses { get; set; }
    public bool? AutoAssign { get; set; }
    public bool? AvoidBuggyIps { get; set; }
    public List<BgpAdvertisement>? BgpAdvertisements { get; set; }

    public AddressPool Clone() => new()
    {
        Name = Name, Protocol = Protocol, Addresses = Addresses?.ToList(), AutoAssign = AutoAssign,
        AvoidBuggyIps = AvoidBuggyIps, BgpAdvertisements = BgpAdvertisements?.Select(a => a.Clone()).ToList(),
    };
}

public sealed class BgpAdvertisement
{
    public int? AggregationLength { get; set; }
    public int? AggregationLengthV6 { get; set; }
    public uint? LocalPref { get; set; }
    public List<string>? Communities { get; set; }

    public BgpAdvertisement Clone() => new()
    {
        AggregationLength = AggregationLength, AggregationLengthV6 = AggregationLengthV6, LocalPref = LocalPref,
        Communities = Communities?.ToList(),
    };

    public override string ToString()
    {
        var parts = new List<string>();
        if (AggregationLength is { } a) parts.Add($"/{a}");
        if (AggregationLengthV6 is { } a6) parts.Add($"v6 /{a6}");
        if (LocalPref is { } lp) parts.Add($"localpref {lp}");
        if (Communities is { Count: > 0 } c) parts.Add(string.Join(",", c));
        return parts.Count == 0 ? "(defaults)" : string.Join(" ", parts);
    }
}

public sealed class BgpPeer
{
    public uint? MyAsn { get; set; }
    public uint? PeerAsn { get; set; }
    public string? PeerAddress { get; set; }
    public ushort? PeerPort { get; set; }
    public string? SourceAddress { get; set; }
    public string? HoldTime { get; set; }
    public string? KeepaliveTime { get; set; }
    public string? RouterId { get; set; }
    /// <summary>The TCP MD5 password, as a SecureString so that no default view ever prints it.</summary>
    public SecureString? Password => PasswordText is null ? null : Secrets.ToSecureString(PasswordText);
    public bool HasPassword => PasswordText is not null;
    public string? BfdProfile { get; set; }
    public bool? EbgpMultihop { get; set; }
    public List<NodeSelector>? NodeSelectors { get; set; }

    /// <summary>The password in clear text: internal so that PowerShell never shows it.</summary>
    internal string? PasswordText { get; set; }
    public void SetPassword(string? clearText) => PasswordText = clearText;
    public string? RevealPassword() => PasswordText;

    public BgpPeer Clone() => new()
    {
        MyAsn = MyAsn, PeerAsn = PeerAsn, PeerAddress = PeerAddress, PeerPort = PeerPort, SourceAddress = SourceAddress,
        HoldTime = HoldTime, KeepaliveTime = KeepaliveTime, RouterId = RouterId, PasswordText = PasswordText,
        BfdProfile = BfdProfile, EbgpMultihop = EbgpMultihop, NodeSelectors = NodeSelectors?.Select(n => n.Clone()).ToList(),
    };
}

public sealed class NodeSelector
{
    public List<KeyValuePair<string, string>>? MatchLabels { get; set; }
    public List<MatchExpression>? MatchExpressions { get; set; }

    public NodeSelector Clone() => new()
    {
        MatchLabels = MatchLabels?.ToList(),
        MatchExpressions = MatchExpressions?.Select(e => e with { Values = e.Values?.ToList() }).ToList(),
    };

    public override string ToString()
    {
        var parts = (MatchLabels ?? new()).Select(l => $"{l.Key}={l.Value}")
            .Concat((MatchExpressions ?? new()).Select(e => e.ToString()));
        return string.Join(",", parts);
    }
}

public sealed record MatchExpression(string Key, string Operator, List<string>? Values)
{
    public override string ToString() => Values is { Count: > 0 } ? $"{Key} {Operator} ({string.Join(",", Values)})" : $"{Key} {Operator}";
}

/// <summary>An entry of bgp-communities: an alias for a community value "A:B".</summary>
public sealed record BgpCommunity(string Name, string Value);

public sealed class BfdProfile
{
    public string Name { get; set; } = "";
    public uint? ReceiveInterval { get; set; }
    public uint? TransmitInterval { get; set; }
    public uint? DetectMultiplier { get; set; }
    public uint? EchoInterval { get; set; }
    public bool? EchoMode { get; set; }
    public bool? PassiveMode { get; set; }
    public uint? MinimumTtl { get; set; }

    public BfdProfile Clone() => (BfdProfile)MemberwiseClone();
}

static class Secrets
{
    public static SecureString ToSecureString(string s)
    {
        var secure = new SecureString();
        foreach (var c in s) secure.AppendChar(c);
        secure.MakeReadOnly();
        return secure;
    }
}
