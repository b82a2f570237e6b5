using System.Text;
using System.Text.RegularExpressions;
using KonvoyLb.Engine.Config.Yaml;

namespace KonvoyLb.Engine.Config;

/// <summary>
/// Translates the legacy configuration into MetalLB 0.13+ custom resources: IPAddressPool,
/// L2Advertisement, BGPAdvertisement, BGPPeer (v1beta2), Community and BFDProfile. Nothing is dropped:
/// what cannot be translated is refused with a finding, and so is a configuration MetalLB refuses.
/// </summary>
public static partial class CrdConverter
{
    const string V1Beta1 = "metallb.io/v1beta1";
    const string V1Beta2 = "metallb.io/v1beta2";

    public static string Convert(ConfigDocument doc, string ns)
    {
        var problems = doc.Validate().Where(f => f.Severity == Severity.Error).ToList();
        var c = doc.Config;
        var objects = new List<DMap>();
        var names = new Dictionary<(string Kind, string Name), string>();

        string Name(string kind, string original, string path)
        {
            string name = KubernetesName(original);
            if (names.TryGetValue((kind, name), out var other))
                problems.Add(new Finding(Severity.Error, ErrorId.CannotConvert,
                    $"'{original}' and '{other}' both become the {kind} name '{name}': rename one of them", original, doc.LocatePath(path)));
            names[(kind, name)] = original;
            return name;
        }

        var pools = c.AddressPools ?? new();
        for (int i = 0; i < pools.Count; i++)
        {
            var p = pools[i];
            string name = Name("IPAddressPool", p.Name, $"address-pools/{i}/name");
            objects.Add(Resource(V1Beta1, "IPAddressPool", name, ns, new DMapBuilder()
                .Add("addresses", new DSeq((p.Addresses ?? new()).Select(a => (DNode)DNode.Str(a.Replace(" ", ""))).ToList()))
                .Add("autoAssign", p.AutoAssign)
                .Add("avoidBuggyIPs", p.AvoidBuggyIps)
                .Build()));
            var poolRef = new DSeq(new[] { DNode.Str(name) });
            if (p.Protocol == "layer2")
            {
                objects.Add(Resource(V1Beta1, "L2Advertisement", Name("L2Advertisement", p.Name, $"address-pools/{i}"), ns,
                    new DMapBuilder().Add("ipAddressPools", poolRef).Build()));
                continue;
            }
            var ads = p.BgpAdvertisements is { Count: > 0 } a ? a : new List<BgpAdvertisement> { new() };
            for (int j = 0; j < ads.Count; j++)
            {
                var ad = ads[j];
                string adName = Name("BGPAdvertisement", ads.Count == 1 ? p.Name : $"{p.Name}-{j + 1}", $"address-pools/{i}/bgp-advertisements/{j}");
                objects.Add(Resource(V1Beta1, "BGPAdvertisement", adName, ns, new DMapBuilder()
                    .Add("ipAddressPools", poolRef)
                    .Add("aggregationLength", ad.AggregationLength)
                    .Add("aggregationLengthV6", ad.AggregationLengthV6)
                    .Add("localPref", ad.LocalPref)
                    .Add("communities", ad.Communities is null ? null : new DSeq(ad.Communities.Select(x => (DNode)DNode.Str(x)).ToList()))
                    .Build()));
            }
        }

        if (c.BgpCommunities is { Count: > 0 } communities)
            objects.Add(Resource(V1Beta1, "Community", "communities", ns, new DMapBuilder()
                .Add("communities", new DSeq(communities.Select(x => (DNode)new DMapBuilder().Add("name", x.Name).Add("value", x.Value).Build()).ToList()))
                .Build()));

        var peers = c.Peers ?? new();
        for (int i = 0; i < peers.Count; i++)
        {
            var p = peers[i];
            string baseName = "peer-" + (p.PeerAddress ?? $"{i + 1}") + (p.PeerPort is { } port and not 179 ? $"-{port}" : "");
            if (peers.Take(i).Any(q => q.PeerAddress == p.PeerAddress && q.PeerPort == p.PeerPort)) baseName += $"-{i + 1}";
            objects.Add(Resource(V1Beta2, "BGPPeer", Name("BGPPeer", baseName, $"peers/{i}"), ns, new DMapBuilder()
                .Add("myASN", p.MyAsn)
                .Add("peerASN", p.PeerAsn)
                .Add("peerAddress", p.PeerAddress)
                .Add("peerPort", p.PeerPort)
                .Add("sourceAddress", p.SourceAddress)
                .Add("holdTime", p.HoldTime)
                .Add("keepaliveTime", p.KeepaliveTime)
                .Add("routerID", p.RouterId)
                .Add("password", p.PasswordText)
                // The BFDProfile object gets the Kubernetes form of the name; the reference must use the same.
                .Add("bfdProfile", p.BfdProfile is null ? null : KubernetesName(p.BfdProfile))
                .Add("ebgpMultiHop", p.EbgpMultihop)
                .Add("nodeSelectors", p.NodeSelectors is null ? null : new DSeq(p.NodeSelectors.Select(Selector).ToList()))
                .Build()));
        }

        var bfds = c.BfdProfiles ?? new();
        for (int i = 0; i < bfds.Count; i++)
        {
            var b = bfds[i];
            objects.Add(Resource(V1Beta1, "BFDProfile", Name("BFDProfile", b.Name, $"bfd-profiles/{i}/name"), ns, new DMapBuilder()
                .Add("receiveInterval", b.ReceiveInterval)
                .Add("transmitInterval", b.TransmitInterval)
                .Add("detectMultiplier", b.DetectMultiplier)
                .Add("echoInterval", b.EchoInterval)
                .Add("echoMode", b.EchoMode)
                .Add("passiveMode", b.PassiveMode)
                .Add("minimumTtl", b.MinimumTtl)
                .Build()));
        }

        if (problems.Count > 0)
            throw new LbException(ErrorId.CannotConvert, $"the configuration cannot be translated ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}); nothing was written:"
                + string.Concat(problems.Select(f => "\n  " + f)), null, findings: problems);

        var render = new YamlEditor("", IndentStyle.Default, "\n");
        var sb = new StringBuilder();
        foreach (var o in objects) sb.Append("---\n").Append(render.RenderMapBody(o, 0)).Append('\n');
        return sb.ToString();
    }

    static DNode Selector(NodeSelector s) => new DMapBuilder()
        .Add("matchLabels", s.MatchLabels is null ? null
            : new DMap(s.MatchLabels.Select(l => new KeyValuePair<string, DNode>(l.Key, DNode.Str(l.Value))).ToList()))
        .Add("matchExpressions", s.MatchExpressions is null ? null : new DSeq(s.MatchExpressions.Select(e => (DNode)new DMapBuilder()
            .Add("key", e.Key).Add("operator", e.Operator)
            .Add("values", e.Values is null ? null : new DSeq(e.Values.Select(v => (DNode)DNode.Str(v)).ToList())).Build()).ToList()))
        .Build();

    static DMap Resource(string apiVersion, string kind, string name, string ns, DMap spec) => new DMapBuilder()
        .Add("apiVersion", apiVersion)
        .Add("kind", kind)
        .Add("metadata", new DMapBuilder().Add("name", name).Add("namespace", ns).Build())
        .Add("spec", spec)
        .Build();

    /// <summary>A valid Kubernetes object name (RFC 1123 subdomain): lower case, [a-z0-9.-], alphanumeric at both ends.</summary>
    public static string KubernetesName(string name)
    {
        var s = InvalidChars().Replace(name.ToLowerInvariant(), "-").Trim('-', '.');
        if (s.Length > 253) s = s[..253].Trim('-', '.');
        return s.Length == 0 ? "unnamed" : s;
    }

    [GeneratedRegex("[^a-z0-9.-]+")]
    private static partial Regex InvalidChars();
}
