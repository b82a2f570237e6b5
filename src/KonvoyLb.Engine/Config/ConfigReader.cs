using System.Globalization;
using KonvoyLb.Engine.Config.Yaml;

namespace KonvoyLb.Engine.Config;

/// <summary>
/// Reads MetalLB's legacy configuration the way MetalLB does (strict keys, Go types), but keeps going
/// after a problem so that every problem is reported, each with its place.
/// </summary>
public sealed class ConfigReader
{
    readonly Func<YNode, SourceLocation> _locate;
    public List<Finding> Findings { get; } = new();

    public ConfigReader(Func<YNode, SourceLocation> locate) => _locate = locate;

    public static (MetalLbConfig Config, List<Finding> Findings) Read(YNode? node, Func<YNode, SourceLocation> locate)
    {
        var reader = new ConfigReader(locate);
        return (reader.ReadConfig(node), reader.Findings);
    }

    void Error(ErrorId id, YNode node, string subject, string message) =>
        Findings.Add(new Finding(Severity.Error, id, message, subject, _locate(node)));

    /// <summary>Walks a map, rejecting keys MetalLB does not know (its parser is strict).</summary>
    void Fields(YNode node, string subject, string what, IReadOnlyDictionary<string, Action<YNode>> fields)
    {
        if (node is YScalar { IsNull: true }) return;
        if (node is not YMap map) { Error(ErrorId.WrongType, node, subject, $"{what} must be a mapping of keys to values"); return; }
        var seen = new HashSet<string>();
        foreach (var (key, value) in map.Entries)
        {
            if (!seen.Add(key.Value)) Error(ErrorId.UnknownKey, key, subject, $"key '{key.Value}' appears twice in {what}");
            else if (fields.TryGetValue(key.Value, out var read)) read(value);
            else
            {
                var near = fields.Keys.OrderBy(k => Distance(k, key.Value)).First();
                Error(ErrorId.UnknownKey, key, subject,
                    $"unknown key '{key.Value}' in {what}; MetalLB rejects the whole configuration." +
                    (Distance(near, key.Value) <= 3 ? $" Did you mean '{near}'?" : $" Known keys: {string.Join(", ", fields.Keys)}."));
            }
        }
    }

    List<T>? List<T>(YNode node, string subject, string what, Func<YNode, int, T?> item) where T : class
    {
        if (node is YScalar { IsNull: true }) return null;
        if (node is not YSeq seq) { Error(ErrorId.WrongType, node, subject, $"{what} must be a list"); return null; }
        var list = new List<T>();
        for (int i = 0; i < seq.Items.Count; i++)
            if (item(seq.Items[i], i) is { } v) list.Add(v);
        return list;
    }

    string? Str(YNode node, string subject, string key)
    {
        if (node is YScalar s && !s.IsNull) return s.Value;
        if (node is YScalar) return null;
        Error(ErrorId.WrongType, node, subject, $"'{key}' must be a single value, not a {(node is YSeq ? "list" : "mapping")}");
        return null;
    }

    ulong? Unsigned(YNode node, string subject, string key, ulong max)
    {
        if (Str(node, subject, key) is not { } text) return null;
        if (node is YScalar { IsPlain: false })
        {
            Error(ErrorId.WrongType, node, subject, $"'{key}' must be a number, but it is quoted (\"{text}\"): remove the quotes");
            return null;
        }
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > max)
        {
            Error(ErrorId.WrongType, node, subject, $"'{key}' must be a whole number from 0 to {max}, not '{text}'");
            return null;
        }
        return n;
    }

    bool? Bool(YNode node, string subject, string key)
    {
        if (Str(node, subject, key) is not { } text) return null;
        if (node is YScalar { IsPlain: true } && ScalarText.ParseBool(text) is { } b) return b;
        Error(ErrorId.WrongType, node, subject, $"'{key}' must be true or false, not '{text}'");
        return null;
    }

    List<string>? Strings(YNode node, string subject, string key) =>
        List(node, subject, $"'{key}'", (item, _) => Str(item, subject, key));

    MetalLbConfig ReadConfig(YNode? node)
    {
        var config = new MetalLbConfig();
        if (node is null) return config;
        Fields(node, "configInline", "the MetalLB configuration", new Dictionary<string, Action<YNode>>
        {
            ["peers"] = v => config.Peers = List(v, "peers", "'peers'", ReadPeer),
            ["bgp-communities"] = v => config.BgpCommunities = ReadCommunities(v),
            ["address-pools"] = v => config.AddressPools = List(v, "address-pools", "'address-pools'", ReadPool),
            ["bfd-profiles"] = v => config.BfdProfiles = List(v, "bfd-profiles", "'bfd-profiles'", ReadBfd),
        });
        return config;
    }

    List<BgpCommunity>? ReadCommunities(YNode node)
    {
        if (node is YScalar { IsNull: true }) return null;
        if (node is not YMap map) { Error(ErrorId.WrongType, node, "bgp-communities", "'bgp-communities' must map alias names to values like 65535:65281"); return null; }
        return map.Entries.Select(e => new BgpCommunity(e.Key.Value, Str(e.Value, $"community {e.Key.Value}", e.Key.Value) ?? "")).ToList();
    }

    AddressPool? ReadPool(YNode node, int index)
    {
        var pool = new AddressPool();
        string subject = node is YMap m && m["name"] is YScalar n ? $"pool {n.Value}" : $"pool #{index + 1}";
        Fields(node, subject, "an address pool", new Dictionary<string, Action<YNode>>
        {
            ["name"] = v => pool.Name = Str(v, subject, "name") ?? "",
            ["protocol"] = v => pool.Protocol = Str(v, subject, "protocol"),
            ["addresses"] = v => pool.Addresses = Strings(v, subject, "addresses"),
            ["auto-assign"] = v => pool.AutoAssign = Bool(v, subject, "auto-assign"),
            ["avoid-buggy-ips"] = v => pool.AvoidBuggyIps = Bool(v, subject, "avoid-buggy-ips"),
            ["bgp-advertisements"] = v => pool.BgpAdvertisements = List(v, subject, "'bgp-advertisements'", (a, _) => ReadAdvertisement(a, subject)),
        });
        return pool;
    }

    BgpAdvertisement ReadAdvertisement(YNode node, string subject)
    {
        var adv = new BgpAdvertisement();
        Fields(node, subject, "a BGP advertisement", new Dictionary<string, Action<YNode>>
        {
            ["aggregation-length"] = v => adv.AggregationLength = (int?)Unsigned(v, subject, "aggregation-length", int.MaxValue),
            ["aggregation-length-v6"] = v => adv.AggregationLengthV6 = (int?)Unsigned(v, subject, "aggregation-length-v6", int.MaxValue),
            ["localpref"] = v => adv.LocalPref = (uint?)Unsigned(v, subject, "localpref", uint.MaxValue),
            ["communities"] = v => adv.Communities = Strings(v, subject, "communities"),
        });
        return adv;
    }

    BgpPeer? ReadPeer(YNode node, int index)
    {
        var peer = new BgpPeer();
        string subject = node is YMap m && m["peer-address"] is YScalar a ? $"peer {a.Value}" : $"peer #{index + 1}";
        Fields(node, subject, "a BGP peer", new Dictionary<string, Action<YNode>>
        {
            ["my-asn"] = v => peer.MyAsn = (uint?)Unsigned(v, subject, "my-asn", uint.MaxValue),
            ["peer-asn"] = v => peer.PeerAsn = (uint?)Unsigned(v, subject, "peer-asn", uint.MaxValue),
            ["peer-address"] = v => peer.PeerAddress = Str(v, subject, "peer-address"),
            ["peer-port"] = v => peer.PeerPort = (ushort?)Unsigned(v, subject, "peer-port", ushort.MaxValue),
            ["source-address"] = v => peer.SourceAddress = Str(v, subject, "source-address"),
            ["hold-time"] = v => peer.HoldTime = Str(v, subject, "hold-time"),
            ["keepalive-time"] = v => peer.KeepaliveTime = Str(v, subject, "keepalive-time"),
            ["router-id"] = v => peer.RouterId = Str(v, subject, "router-id"),
            ["password"] = v => peer.PasswordText = Str(v, subject, "password"),
            ["bfd-profile"] = v => peer.BfdProfile = Str(v, subject, "bfd-profile"),
            ["ebgp-multihop"] = v => peer.EbgpMultihop = Bool(v, subject, "ebgp-multihop"),
            ["node-selectors"] = v => peer.NodeSelectors = List(v, subject, "'node-selectors'", (s, _) => ReadSelector(s, subject)),
        });
        return peer;
    }

    NodeSelector ReadSelector(YNode node, string subject)
    {
        var sel = new NodeSelector();
        Fields(node, subject, "a node selector", new Dictionary<string, Action<YNode>>
        {
            ["match-labels"] = v =>
            {
                if (v is YMap labels)
                    sel.MatchLabels = labels.Entries.Select(e => new KeyValuePair<string, string>(e.Key.Value, Str(e.Value, subject, e.Key.Value) ?? "")).ToList();
                else if (v is not YScalar { IsNull: true })
                    Error(ErrorId.WrongType, v, subject, "'match-labels' must map label names to values");
            },
            ["match-expressions"] = v => sel.MatchExpressions = List(v, subject, "'match-expressions'", (e, _) => ReadExpression(e, subject)),
        });
        return sel;
    }

    MatchExpression ReadExpression(YNode node, string subject)
    {
        string key = "", op = "";
        List<string>? values = null;
        Fields(node, subject, "a match expression", new Dictionary<string, Action<YNode>>
        {
            ["key"] = v => key = Str(v, subject, "key") ?? "",
            ["operator"] = v => op = Str(v, subject, "operator") ?? "",
            ["values"] = v => values = Strings(v, subject, "values"),
        });
        return new MatchExpression(key, op, values);
    }

    BfdProfile? ReadBfd(YNode node, int index)
    {
        var bfd = new BfdProfile();
        string subject = node is YMap m && m["name"] is YScalar n ? $"bfd-profile {n.Value}" : $"bfd-profile #{index + 1}";
        Fields(node, subject, "a BFD profile", new Dictionary<string, Action<YNode>>
        {
            ["name"] = v => bfd.Name = Str(v, subject, "name") ?? "",
            ["receive-interval"] = v => bfd.ReceiveInterval = (uint?)Unsigned(v, subject, "receive-interval", uint.MaxValue),
            ["transmit-interval"] = v => bfd.TransmitInterval = (uint?)Unsigned(v, subject, "transmit-interval", uint.MaxValue),
            ["detect-multiplier"] = v => bfd.DetectMultiplier = (uint?)Unsigned(v, subject, "detect-multiplier", uint.MaxValue),
            ["echo-interval"] = v => bfd.EchoInterval = (uint?)Unsigned(v, subject, "echo-interval", uint.MaxValue),
            ["echo-mode"] = v => bfd.EchoMode = Bool(v, subject, "echo-mode"),
            ["passive-mode"] = v => bfd.PassiveMode = Bool(v, subject, "passive-mode"),
            ["minimum-ttl"] = v => bfd.MinimumTtl = (uint?)Unsigned(v, subject, "minimum-ttl", uint.MaxValue),
        });
        return bfd;
    }

    static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
