using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Net;
using KonvoyLb.Engine.Runtime.Controller;
using KonvoyLb.Engine.Runtime.Speaker;

namespace KonvoyLb.Tests.Speaker;

/// <summary>The owner check on the segment (who probes whom, misses, suspicion and its end) and the interface choice.</summary>
public sealed class OwnerCheckTests
{
    static readonly PoolSet Pools = PoolSet.From(new MetalLbConfig
    {
        AddressPools = [new AddressPool { Name = "l2", Protocol = "layer2", Addresses = ["192.0.2.0/24", "2001:db8::/120"] }],
    });
    static readonly Dictionary<string, SpeakerNode> Three = new[] { "node-1", "node-2", "node-3" }.ToDictionary(n => n, n => new SpeakerNode(n, true));
    // 192.0.2.10 ranks node-1, node-2, node-3 (see AnnouncerTests).
    static readonly SpeakerService Svc = new("default/web", [IPAddress.Parse("192.0.2.10")], false, new HashSet<string> { "node-1", "node-2", "node-3" });
    static readonly IPAddress Ip = IPAddress.Parse("192.0.2.10");
    static readonly PhysicalAddress Mac1 = PhysicalAddress.Parse("02-00-5E-00-00-01"), Mac2 = PhysicalAddress.Parse("02-00-5E-00-00-02");

    static List<(string Node, IPAddress Ip)> Checks(string me, params string[] suspected) =>
        Announcer.Checks(Pools, [Svc], Three, suspected.ToHashSet(), me);

    [Fact]
    public void The_two_nodes_behind_the_owner_check_it_and_the_owner_checks_nobody()
    {
        Assert.Empty(Checks("node-1"));
        Assert.Equal([("node-1", Ip)], Checks("node-2"));
        Assert.Equal([("node-1", Ip)], Checks("node-3"));
    }

    [Fact]
    public void A_suspected_owner_stays_checked_and_the_next_owner_is_checked_too()
    {
        // node-2 took over from node-1: it probes node-1 to see it come back.
        Assert.Equal([("node-1", Ip)], Checks("node-2", "node-1"));
        // node-3 suspects node-1 too: it checks it and node-2, the owner now.
        Assert.Equal([("node-1", Ip), ("node-2", Ip)], Checks("node-3", "node-1"));
        // Both ahead suspected: node-3 owns and probes both.
        Assert.Equal([("node-1", Ip), ("node-2", Ip)], Checks("node-3", "node-1", "node-2"));
    }

    [Fact]
    public void No_ready_endpoint_or_a_bgp_address_is_checked_by_nobody()
    {
        var idle = Svc with { ReadyNodes = new HashSet<string>() };
        Assert.Empty(Announcer.Checks(Pools, [idle], Three, new HashSet<string>(), "node-3"));
        var bgp = Svc with { Ips = [IPAddress.Parse("198.51.100.1")] };
        Assert.Empty(Announcer.Checks(Pools, [bgp], Three, new HashSet<string>(), "node-3"));
    }

    [Fact]
    public void Misses_in_a_row_make_a_suspect_and_any_answer_clears_it()
    {
        var check = new OwnerCheck(3);
        check.Check([new CheckTarget("node-1", Ip, 2)]);
        Assert.Single(check.Tick(out var s0)); // first probe: nothing to count yet
        Assert.Empty(s0);
        check.Tick(out var s1);
        check.Tick(out var s2);
        Assert.Empty(s1.Concat(s2));
        check.Answer(Ip, Mac1); // an answer resets the count
        check.Tick(out _);
        check.Tick(out _);
        check.Tick(out _);
        check.Tick(out var s3);
        Assert.Equal(["node-1"], s3);
        Assert.Contains("node-1", check.Suspected);
        check.Tick(out var again);
        Assert.Empty(again); // said once
        Assert.True(check.Answer(Ip, Mac1));
        Assert.Empty(check.Suspected);
    }

    [Fact]
    public void An_answer_from_another_checked_nodes_MAC_does_not_clear_a_suspect()
    {
        var check = new OwnerCheck(1);
        // node-3's view: node-1 suspected, node-2 (the owner now) checked through the same address.
        check.Check([new CheckTarget("node-1", Ip, 2), new CheckTarget("node-2", Ip, 2)]);
        check.Answer(Ip, Mac1);
        check.Answer(Ip, Mac2);
        check.Tick(out _);
        check.Answer(Ip, Mac2);
        check.Tick(out var s);
        Assert.Equal(["node-1"], s);
        Assert.False(check.Answer(Ip, Mac2)); // node-2 answering for the address it took over
        Assert.Equal(["node-1"], check.Suspected);
        Assert.True(check.Answer(Ip, Mac1));
    }

    [Fact]
    public void A_node_whose_MAC_changes_is_known_again_from_its_Lease()
    {
        var check = new OwnerCheck(1);
        check.Check([new CheckTarget("node-3", Ip, 2)]);
        check.Answer(Ip, Mac1);
        check.Tick(out _);
        check.Tick(out _);
        Assert.Contains("node-3", check.Suspected);
        // Its address moved to a bridge with a MAC of its own: unknown, it clears nothing...
        Assert.False(check.Answer(Ip, Mac2));
        // ...until node-3's Lease lists it.
        Assert.True(check.Answer(Ip, Mac2, node: "node-3"));
        Assert.Empty(check.Suspected);
    }

    [Fact]
    public void A_node_no_longer_checked_is_forgotten_with_its_suspicion()
    {
        var check = new OwnerCheck(1);
        check.Check([new CheckTarget("node-1", Ip, 2)]);
        check.Tick(out _);
        check.Tick(out _);
        Assert.Contains("node-1", check.Suspected);
        check.Check([]);
        Assert.Empty(check.Suspected);
        Assert.Empty(check.Tick(out _));
    }

    static NetInterface Link(string name, string cidr, bool up = true, bool noArp = false, int master = 0, bool broadcast = true, bool loopback = false, int index = 2)
    {
        var parts = cidr.Split('/');
        return new NetInterface(index, name, PhysicalAddress.Parse("02-00-5E-00-00-0" + index), up, up, noArp, broadcast, loopback, master, "",
            [(IPAddress.Parse(parts[0]), int.Parse(parts[1])), (IPAddress.Parse("fe80::" + index), 64)]);
    }

    [Theory]
    [InlineData("eth0", "192.0.2.11/24", true, false, 0, true, null)]
    [InlineData("eth0", "192.0.2.11/24", false, false, 0, true, "down")]
    [InlineData("eth0", "192.0.2.11/24", true, true, 0, true, "NOARP")]
    [InlineData("eth0", "192.0.2.11/24", true, false, 7, true, "a member of a bridge or bond (the master answers)")]
    [InlineData("eth0", "192.0.2.11/24", true, false, 0, false, "no broadcast (ARP needs it)")]
    [InlineData("veth12ab", "192.0.2.11/24", true, false, 0, true, "excluded by the pattern ^veth.*")]
    [InlineData("cali0123", "192.0.2.11/24", true, false, 0, true, "excluded by the pattern ^cali.*")]
    [InlineData("kube-ipvs0", "192.0.2.11/24", true, false, 0, true, "excluded by the pattern ^kube-ipvs.*")]
    public void Usable_interfaces_follow_MetalLBs_rules(string name, string cidr, bool up, bool noArp, int master, bool broadcast, string? why)
    {
        Assert.Equal(why, new InterfaceChoice().WhyNot(Link(name, cidr, up, noArp, master, broadcast), AddressFamily.InterNetwork));
    }

    [Fact]
    public void An_address_is_answered_only_where_a_subnet_holds_it_unless_interfaces_are_named()
    {
        var links = new[] { Link("eth0", "192.0.2.11/24", index: 2), Link("eth1", "198.51.100.11/24", index: 3), Link("bond0", "203.0.113.1/32", index: 4) };
        var choice = new InterfaceChoice();
        Assert.Equal(["eth0"], choice.For(IPAddress.Parse("192.0.2.200"), links).Select(l => l.Name));
        Assert.Equal(["eth1"], choice.For(IPAddress.Parse("198.51.100.9"), links).Select(l => l.Name));
        Assert.Empty(choice.For(IPAddress.Parse("203.0.113.1"), links)); // a /32 is no subnet
        Assert.Empty(choice.For(IPAddress.Parse("10.0.0.1"), links));
        Assert.Equal(["eth1"], new InterfaceChoice(only: ["eth1"]).For(IPAddress.Parse("192.0.2.200"), links).Select(l => l.Name));
        Assert.Empty(new InterfaceChoice(excluded: ["^eth0$"]).For(IPAddress.Parse("192.0.2.200"), links));
        // IPv6 needs a link-local address.
        var noLinkLocal = links[0] with { Addresses = [(IPAddress.Parse("2001:db8::11"), 64)] };
        Assert.Equal("no IPv6 link-local address (NDP needs one)", choice.WhyNot(noLinkLocal, AddressFamily.InterNetworkV6));
        Assert.Throws<KonvoyLb.Engine.LbException>(() => InterfaceChoice.CheckPattern("(unclosed"));
    }
}
