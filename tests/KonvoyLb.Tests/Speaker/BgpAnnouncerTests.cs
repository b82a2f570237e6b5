using System.Net;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Runtime.Bgp;
using KonvoyLb.Engine.Runtime.Controller;
using KonvoyLb.Engine.Runtime.Speaker;

namespace KonvoyLb.Tests.Speaker;

/// <summary>BGP mode's pure parts: which peers select a node, and what a node announces.</summary>
public sealed class BgpAnnouncerTests
{
    static readonly Dictionary<string, string> Labels = new() { ["rack"] = "a", ["zone"] = "z1", ["gpu"] = "" };

    static BgpPeer Peer(params NodeSelector[] selectors) => new() { PeerAddress = "192.0.2.1", MyAsn = 64512, PeerAsn = 64500, NodeSelectors = selectors.ToList() };

    [Fact]
    public void Node_selectors_match_labels_and_expressions_like_Kubernetes()
    {
        Assert.True(BgpAnnouncer.Selects(Peer(), Labels));
        Assert.True(BgpAnnouncer.Selects(Peer(new NodeSelector { MatchLabels = [new("rack", "a")] }), Labels));
        Assert.False(BgpAnnouncer.Selects(Peer(new NodeSelector { MatchLabels = [new("rack", "b")] }), Labels));
        // Several selectors: any of them.
        Assert.True(BgpAnnouncer.Selects(Peer(new NodeSelector { MatchLabels = [new("rack", "b")] }, new NodeSelector { MatchLabels = [new("zone", "z1")] }), Labels));
        Assert.True(BgpAnnouncer.Selects(Peer(new NodeSelector { MatchExpressions = [new("zone", "In", ["z1", "z2"])] }), Labels));
        Assert.False(BgpAnnouncer.Selects(Peer(new NodeSelector { MatchExpressions = [new("zone", "NotIn", ["z1"])] }), Labels));
        Assert.True(BgpAnnouncer.Selects(Peer(new NodeSelector { MatchExpressions = [new("gpu", "Exists", null)] }), Labels));
        Assert.True(BgpAnnouncer.Selects(Peer(new NodeSelector { MatchExpressions = [new("spot", "DoesNotExist", null)] }), Labels));
        // Within one selector every term must hold.
        Assert.False(BgpAnnouncer.Selects(Peer(new NodeSelector { MatchLabels = [new("rack", "a")], MatchExpressions = [new("zone", "In", ["z9"])] }), Labels));
    }

    static readonly MetalLbConfig Config = new()
    {
        BgpCommunities = [new("no-export", "65535:65281")],
        AddressPools =
        [
            new AddressPool { Name = "l2", Protocol = "layer2", Addresses = ["192.0.2.0/24"] },
            new AddressPool
            {
                Name = "routed", Protocol = "bgp", Addresses = ["203.0.113.0/24"],
                BgpAdvertisements = [new BgpAdvertisement { AggregationLength = 24, LocalPref = 200, Communities = ["no-export"] }],
            },
        ],
    };

    static SpeakerService Svc(string key, string ip, bool local, params string[] ready) => new(key, [IPAddress.Parse(ip)], local, ready.ToHashSet());

    [Fact]
    public void A_node_announces_bgp_addresses_with_a_ready_endpoint_anywhere_or_for_Local_on_itself()
    {
        var services = new[]
        {
            Svc("default/a", "203.0.113.10", false, "node-2"),
            Svc("default/b", "203.0.113.11", true, "node-2"),
            Svc("default/c", "203.0.113.12", true, "node-1"),
            Svc("default/d", "203.0.113.13", false),
            Svc("default/e", "192.0.2.10", false, "node-1"),
        };
        var mine = BgpAnnouncer.Announcements(Config, PoolSet.From(Config), services, "node-1", excluded: false);
        Assert.Equal(["default/a", "default/c"], mine.Select(a => a.Service));
        var route = Assert.Single(mine[0].Routes);
        Assert.Equal(new BgpPrefix(IPAddress.Parse("203.0.113.0"), 24), route.Prefix);
        Assert.Equal(200u, route.LocalPref);
        Assert.Equal([0xFFFFFF01u], route.CommunityList);
        Assert.Empty(BgpAnnouncer.Announcements(Config, PoolSet.From(Config), services, "node-1", excluded: true));
    }
}
