using System.Net;
using k8s.Models;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Runtime.Controller;
using KonvoyLb.Engine.Runtime.Speaker;

namespace KonvoyLb.Tests.Speaker;

/// <summary>The layer2 owner choice: MetalLB's hash (table computed with sha256sum), eligibility, Local policy, sharing.</summary>
public sealed class AnnouncerTests
{
    static readonly PoolSet Pools = PoolSet.From(new MetalLbConfig
    {
        AddressPools =
        [
            new AddressPool { Name = "l2", Protocol = "layer2", Addresses = ["192.0.2.0/24", "2001:db8::/120"] },
            new AddressPool { Name = "routed", Protocol = "bgp", Addresses = ["198.51.100.0/24"] },
        ],
    });

    static Dictionary<string, SpeakerNode> Nodes(params SpeakerNode[] nodes) => nodes.ToDictionary(n => n.Name);
    static readonly Dictionary<string, SpeakerNode> Three = Nodes(new("node-1", true), new("node-2", true), new("node-3", true));
    static SpeakerService Svc(string key, string ips, bool local = false, params string[] ready) =>
        new(key, ips.Split(',').Select(IPAddress.Parse).ToList(), local, (ready.Length == 0 ? ["node-1", "node-2", "node-3"] : ready).ToHashSet());

    // Orders by sha256(node + "#" + ip), from: printf '%s' 'node-1#192.0.2.10' | sha256sum (and so on).
    [Theory]
    [InlineData("192.0.2.10", "node-1", "node-2", "node-3")]
    [InlineData("192.0.2.11", "node-2", "node-3", "node-1")]
    [InlineData("192.0.2.12", "node-3", "node-1", "node-2")]
    [InlineData("203.0.113.5", "node-1", "node-3", "node-2")]
    [InlineData("2001:db8::10", "node-3", "node-1", "node-2")]
    public void The_owner_is_the_lowest_hash_and_the_next_one_takes_over(string ip, string first, string second, string third)
    {
        var a = IPAddress.Parse(ip);
        Assert.Equal(first, Announcer.Owner(a, ["node-1", "node-2", "node-3"]));
        Assert.Equal(second, Announcer.Owner(a, new[] { "node-1", "node-2", "node-3" }.Where(n => n != first)));
        Assert.Equal(third, Announcer.Owner(a, [third]));
        Assert.Null(Announcer.Owner(a, []));
    }

    [Fact]
    public void Every_address_of_a_service_goes_to_the_owner_of_its_first_address_and_sharing_services_land_together()
    {
        var all = Announcer.Layer2(Pools, [Svc("ns/dual", "192.0.2.11,2001:db8::10"), Svc("ns/a", "192.0.2.12"), Svc("ns/b", "192.0.2.12")], Three);
        Assert.All(all.Where(a => a.Service == "ns/dual"), a => Assert.Equal("node-2", a.Node));
        Assert.Equal(2, all.Count(a => a.Service == "ns/dual"));
        Assert.Equal(["node-3", "node-3"], all.Where(a => a.Ip.ToString() == "192.0.2.12").Select(a => a.Node));
    }

    [Fact]
    public void Local_policy_picks_among_nodes_with_a_ready_endpoint_and_nobody_without_one()
    {
        // 192.0.2.10 would go to node-1; its only endpoints are on node-2 and node-3.
        var local = Announcer.Layer2(Pools, [Svc("ns/local", "192.0.2.10", local: true, "node-3", "node-2")], Three);
        Assert.Equal("node-2", Assert.Single(local).Node);
        var none = new SpeakerService("ns/none", [IPAddress.Parse("192.0.2.10")], false, new HashSet<string>());
        Assert.Empty(Announcer.Layer2(Pools, [none], Three));
    }

    [Fact]
    public void Dead_speakers_excluded_nodes_and_bgp_pools_are_left_out()
    {
        var nodes = Nodes(new("node-1", false), new("node-2", true, "labelled " + Announcer.ExcludeLabel), new("node-3", true));
        Assert.Equal("node-3", Assert.Single(Announcer.Layer2(Pools, [Svc("ns/a", "192.0.2.10")], nodes)).Node);
        Assert.Empty(Announcer.Layer2(Pools, [Svc("ns/routed", "198.51.100.7")], Three));
        Assert.Empty(Announcer.Layer2(Pools, [Svc("ns/outside", "203.0.113.9")], Three));
    }

    [Fact]
    public void Exclusion_and_readiness_are_read_from_nodes_and_endpoint_slices()
    {
        Assert.NotNull(Announcer.ExcludedBecause(new V1Node { Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { [Announcer.ExcludeLabel] = "" } } }));
        Assert.NotNull(Announcer.ExcludedBecause(new V1Node { Metadata = new V1ObjectMeta(), Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "NetworkUnavailable", Status = "True" }] } }));
        Assert.Null(Announcer.ExcludedBecause(new V1Node { Metadata = new V1ObjectMeta(), Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "NetworkUnavailable", Status = "False" }] } }));
        var slices = new[]
        {
            new V1EndpointSlice { AddressType = "IPv4", Endpoints =
            [
                new V1Endpoint { Addresses = ["10.0.0.1"], NodeName = "node-1", Conditions = new V1EndpointConditions { Ready = true } },
                new V1Endpoint { Addresses = ["10.0.0.2"], NodeName = "node-2", Conditions = new V1EndpointConditions { Ready = false } },
                new V1Endpoint { Addresses = ["10.0.0.3"], NodeName = "node-3" },
            ] },
        };
        Assert.Equal(["node-1", "node-3"], Announcer.ReadyNodes(slices).Order());
    }
}
