using KonvoyLb.Engine.Config.Yaml;

namespace KonvoyLb.Engine.Config;

/// <summary>The model as the YAML it stands for, keys in MetalLB's documented order.</summary>
public static class ConfigWriter
{
    public static DMap ToTree(MetalLbConfig c) => new DMapBuilder()
        .Add("peers", Seq(c.Peers, Peer))
        .Add("bgp-communities", c.BgpCommunities is null ? null
            : new DMap(c.BgpCommunities.Select(x => new KeyValuePair<string, DNode>(x.Name, DNode.Str(x.Value))).ToList()))
        .Add("address-pools", Seq(c.AddressPools, Pool))
        .Add("bfd-profiles", Seq(c.BfdProfiles, Bfd))
        .Build();

    static DSeq? Seq<T>(List<T>? items, Func<T, DNode> map) => items is null ? null : new DSeq(items.Select(map).ToList());
    static DSeq? Strings(List<string>? items) => Seq(items, s => DNode.Str(s));

    public static DMap Pool(AddressPool p) => new DMapBuilder()
        .Add("name", p.Name)
        .Add("protocol", p.Protocol)
        .Add("addresses", Strings(p.Addresses))
        .Add("auto-assign", p.AutoAssign)
        .Add("avoid-buggy-ips", p.AvoidBuggyIps)
        .Add("bgp-advertisements", Seq(p.BgpAdvertisements, Advertisement))
        .Build();

    static DMap Advertisement(BgpAdvertisement a) => new DMapBuilder()
        .Add("aggregation-length", a.AggregationLength)
        .Add("aggregation-length-v6", a.AggregationLengthV6)
        .Add("localpref", a.LocalPref)
        .Add("communities", Strings(a.Communities))
        .Build();

    public static DMap Peer(BgpPeer p) => new DMapBuilder()
        .Add("my-asn", p.MyAsn)
        .Add("peer-asn", p.PeerAsn)
        .Add("peer-address", p.PeerAddress)
        .Add("peer-port", p.PeerPort)
        .Add("source-address", p.SourceAddress)
        .Add("hold-time", p.HoldTime)
        .Add("keepalive-time", p.KeepaliveTime)
        .Add("router-id", p.RouterId)
        .Add("password", p.PasswordText)
        .Add("bfd-profile", p.BfdProfile)
        .Add("ebgp-multihop", p.EbgpMultihop)
        .Add("node-selectors", Seq(p.NodeSelectors, Selector))
        .Build();

    static DMap Selector(NodeSelector s) => new DMapBuilder()
        .Add("match-labels", s.MatchLabels is null ? null
            : new DMap(s.MatchLabels.Select(l => new KeyValuePair<string, DNode>(l.Key, DNode.Str(l.Value))).ToList()))
        .Add("match-expressions", Seq(s.MatchExpressions, e => new DMapBuilder()
            .Add("key", e.Key).Add("operator", e.Operator).Add("values", Strings(e.Values)).Build()))
        .Build();

    static DMap Bfd(BfdProfile b) => new DMapBuilder()
        .Add("name", b.Name)
        .Add("receive-interval", b.ReceiveInterval)
        .Add("transmit-interval", b.TransmitInterval)
        .Add("detect-multiplier", b.DetectMultiplier)
        .Add("echo-interval", b.EchoInterval)
        .Add("echo-mode", b.EchoMode)
        .Add("passive-mode", b.PassiveMode)
        .Add("minimum-ttl", b.MinimumTtl)
        .Build();
}
