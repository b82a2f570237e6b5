using System.Net;
using k8s.Models;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Runtime.Controller;

namespace KonvoyLb.Tests.Controller;

/// <summary>
/// The allocator, the request parser and the per-Service decision on their own (no API server): MetalLB 0.9–0.12
/// semantics with pools tried in config order. Every case asserts the exact addresses and decision kinds.
/// </summary>
public sealed class AllocatorTests
{
    const string Legacy = "metallb.universe.tf/", Newer = "metallb.io/";

    // ---- helpers -------------------------------------------------------------------------------------------------

    static V1Service Svc(string name, string ns = "default", string type = "LoadBalancer", string[]? clusterIPs = null,
        string[]? ipFamilies = null, string? lbIP = null, Dictionary<string, string>? annotations = null, string[]? ports = null,
        string? policy = null, Dictionary<string, string>? selector = null, string[]? ingress = null, string? lbClass = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Annotations = annotations },
        Spec = new V1ServiceSpec
        {
            Type = type,
            LoadBalancerClass = lbClass,
            ClusterIPs = (clusterIPs ?? DefaultClusterIps(ipFamilies)).ToList(),
            IpFamilies = ipFamilies?.ToList(),
            LoadBalancerIP = lbIP,
            Ports = (ports ?? ["TCP/80"]).Select(Port).ToList(),
            ExternalTrafficPolicy = policy,
            Selector = selector,
        },
        Status = ingress is null ? null : new V1ServiceStatus
        {
            LoadBalancer = new V1LoadBalancerStatus { Ingress = ingress.Select(i => new V1LoadBalancerIngress { Ip = i }).ToList() },
        },
    };

    static string[] DefaultClusterIps(string[]? families) =>
        families is null ? ["203.0.113.200"] : families.Select(f => f == "IPv6" ? "2001:db8:ffff::200" : "203.0.113.200").ToArray();

    /// <summary>"TCP/80", "UDP/53", or "80" (no protocol: TCP by default).</summary>
    static V1ServicePort Port(string text)
    {
        var parts = text.Split('/');
        return parts.Length == 2
            ? new V1ServicePort { Protocol = parts[0], Port = int.Parse(parts[1]) }
            : new V1ServicePort { Port = int.Parse(parts[0]) };
    }

    static Dictionary<string, string> Share(string key, string prefix = Legacy) => new() { [prefix + "allow-shared-ip"] = key };
    static Dictionary<string, string> InPool(string pool, string prefix = Legacy) => new() { [prefix + "address-pool"] = pool };

    static AddressPool Pool(string name, params string[] addresses) => new() { Name = name, Addresses = addresses.ToList() };
    static AddressPool Pool(string name, bool? autoAssign, bool? avoidBuggy, params string[] addresses) =>
        new() { Name = name, Addresses = addresses.ToList(), AutoAssign = autoAssign, AvoidBuggyIps = avoidBuggy };

    static PoolSet Pools(params AddressPool[] pools) => PoolSet.From(new MetalLbConfig { AddressPools = pools.ToList() });
    static Allocator With(params AddressPool[] pools) => new(Pools(pools));

    static ServiceRequest Req(V1Service s) => ServiceRequest.From(s);
    static IPAddress Ip(string s) => IPAddress.Parse(s);
    static IReadOnlyList<IPAddress> Ips(params string[] s) => s.Select(IPAddress.Parse).ToList();
    static string[] Text(IEnumerable<IPAddress> ips) => ips.Select(i => i.ToString()).ToArray();

    /// <summary>Allocates and returns the addresses; fails the test with the allocator's reason when it gives none.</summary>
    static string[] Give(Allocator a, V1Service s)
    {
        var r = a.Allocate(Req(s));
        Assert.True(r.Ok, $"{s.Metadata.Name}: {r.Error}");
        return Text(r.Allocation!.Ips);
    }

    static string Refused(Allocator a, V1Service s)
    {
        var r = a.Allocate(Req(s));
        Assert.False(r.Ok, $"{s.Metadata.Name} got {r.Allocation}");
        Assert.Null(r.Allocation);
        return r.Error!;
    }

    static Decision Decide(Allocator a, V1Service s, bool allowNew = true) => ServiceDecision.Decide(a, Req(s), allowNew);

    // ---- lowest free first, ranges and pools in config order ---------------------------------------------------------

    [Fact]
    public void Addresses_are_given_lowest_first()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.12"));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s1")));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s2")));
        Assert.Equal(["192.0.2.12"], Give(a, Svc("s3")));
        Assert.Equal("a", a.Get("default/s1")!.Pool);
        Assert.Equal(3, a.InUse("a"));
        Assert.Equal(3, a.Count);
    }

    [Fact]
    public void Ranges_and_cidrs_are_used_in_config_order_not_address_order()
    {
        var a = With(Pool("a", "192.0.2.100-192.0.2.101", "192.0.2.0/31"));
        Assert.Equal(["192.0.2.100"], Give(a, Svc("s1")));
        Assert.Equal(["192.0.2.101"], Give(a, Svc("s2")));
        Assert.Equal(["192.0.2.0"], Give(a, Svc("s3")));
        Assert.Equal(["192.0.2.1"], Give(a, Svc("s4")));
    }

    [Fact]
    public void Pools_are_tried_in_config_order_and_the_next_one_after_exhaustion()
    {
        var a = With(Pool("b", "198.51.100.0/31"), Pool("a", "192.0.2.0/31"));
        Assert.Equal(["198.51.100.0"], Give(a, Svc("s1")));
        Assert.Equal(["198.51.100.1"], Give(a, Svc("s2")));
        Assert.Equal(["192.0.2.0"], Give(a, Svc("s3")));
        Assert.Equal("a", a.Get("default/s3")!.Pool);
        Assert.Equal(2, a.InUse("b"));
        Assert.Equal(1, a.InUse("a"));
    }

    [Fact]
    public void An_exhausted_pool_fails_with_a_reason_naming_the_pool()
    {
        var a = With(Pool("only", "192.0.2.1/32"));
        Assert.Equal(["192.0.2.1"], Give(a, Svc("s1")));
        Assert.Equal("no IPv4 address of pool only is free (1 of 1 in use)", Refused(a, Svc("s2")));
        var d = Decide(a, Svc("s3"));
        Assert.Equal(DecisionKind.Failed, d.Kind);
        Assert.Empty(d.Ips);
        Assert.Contains("pool only", d.Reason);
    }

    [Fact]
    public void Every_exhausted_auto_assign_pool_is_named_in_the_reason()
    {
        var a = With(Pool("p1", "192.0.2.1/32"), Pool("p2", "198.51.100.1/32"));
        Give(a, Svc("s1"));
        Give(a, Svc("s2"));
        Assert.Equal("no IPv4 address of pool p1 is free (1 of 1 in use); no IPv4 address of pool p2 is free (1 of 1 in use)", Refused(a, Svc("s3")));
    }

    [Fact]
    public void A_released_address_is_the_next_one_given()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        foreach (var n in new[] { "s1", "s2", "s3" }) Give(a, Svc(n));
        Assert.True(a.Unassign("default/s2"));
        Assert.False(a.Unassign("default/s2"));
        Assert.Empty(a.HoldersOf(Ip("192.0.2.11")));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s4")));
        Assert.Equal(["192.0.2.13"], Give(a, Svc("s5")));
    }

    [Fact]
    public void A_released_address_of_a_full_range_is_given_again()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.11"));
        Give(a, Svc("s1"));
        Give(a, Svc("s2"));
        Refused(a, Svc("s3"));
        a.Unassign("default/s2");
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s3")));
        a.Unassign("default/s1");
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s4")));
    }

    [Fact]
    public void Reallocating_the_same_service_gives_it_its_lowest_address_again()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s1")));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s1")));
        Assert.Equal(1, a.InUse("a"));
    }

    // ---- requested addresses --------------------------------------------------------------------------------------

    [Fact]
    public void Spec_loadBalancerIP_is_honoured_and_auto_allocation_goes_around_it()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("fixed", lbIP: "192.0.2.10")));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("auto")));
    }

    [Theory]
    [InlineData(Legacy)]
    [InlineData(Newer)]
    public void The_loadBalancerIPs_annotation_is_honoured_under_both_prefixes(string prefix)
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        var s = Svc("s", annotations: new() { [prefix + "loadBalancerIPs"] = "192.0.2.60" });
        Assert.Equal(["192.0.2.60"], Text(Req(s).RequestedIps));
        var d = Decide(a, s);
        Assert.Equal(DecisionKind.Allocated, d.Kind);
        Assert.Equal(["192.0.2.60"], Text(d.Ips));
        Assert.Equal("a", d.Pool);
    }

    [Fact]
    public void Both_spec_loadBalancerIP_and_the_annotation_are_invalid()
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        var s = Svc("s", lbIP: "192.0.2.5", annotations: new() { [Newer + "loadBalancerIPs"] = "192.0.2.6" });
        var d = Decide(a, s);
        Assert.Equal(DecisionKind.Invalid, d.Kind);
        Assert.Empty(d.Ips);
        Assert.StartsWith("both spec.loadBalancerIP (192.0.2.5) and the loadBalancerIPs annotation (192.0.2.6) are set", d.Reason);
        Assert.Equal(0, a.Count);
    }

    [Theory]
    [InlineData("not-an-ip")]
    [InlineData("192.0.2.300")]
    [InlineData("192.0.2.0/24")]
    [InlineData("192.0.2.5,")]
    public void A_malformed_requested_address_is_invalid_with_a_reason(string text)
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        var fromSpec = Decide(a, Svc("s1", lbIP: text));
        Assert.Equal(DecisionKind.Invalid, fromSpec.Kind);
        Assert.Contains("spec.loadBalancerIP holds", fromSpec.Reason);
        Assert.Contains("which is not an IP address", fromSpec.Reason);
        var fromAnnotation = Decide(a, Svc("s2", annotations: new() { [Legacy + "loadBalancerIPs"] = text }));
        Assert.Equal(DecisionKind.Invalid, fromAnnotation.Kind);
        Assert.Contains("the loadBalancerIPs annotation holds", fromAnnotation.Reason);
        Assert.Equal(0, a.Count);
    }

    /// <summary>
    /// MetalLB reads the address with Go's net.ParseIP, which takes only the dotted quad: "192.0.2" (which .NET reads as
    /// 192.0.0.2) and "192.0.2.010" (which .NET may read as octal) must be rejected, not turned into another address.
    /// </summary>
    [Theory]
    [InlineData("192.0.2")]
    [InlineData("3221226001")]
    [InlineData("192.0.2.010")]
    public void Short_numeric_or_leading_zero_IPv4_forms_are_malformed(string text)
    {
        var r = Req(Svc("s", lbIP: text));
        Assert.True(r.RequestedIps.Count == 0, $"\"{text}\" was read as {string.Join(",", r.RequestedIps)}");
        Assert.NotNull(r.Problem);
        Assert.Contains("not an IP address", r.Problem);
    }

    [Fact]
    public void Two_requested_addresses_of_one_family_are_invalid()
    {
        var r = Req(Svc("s", annotations: new() { [Newer + "loadBalancerIPs"] = "192.0.2.1,192.0.2.2" }));
        Assert.Equal("the loadBalancerIPs annotation \"192.0.2.1,192.0.2.2\" names two addresses of one family; at most one IPv4 and one IPv6 address may be requested", r.Problem);
        Assert.Empty(r.RequestedIps);
    }

    [Fact]
    public void A_requested_address_of_another_family_is_invalid()
    {
        var r = Req(Svc("s", lbIP: "2001:db8::5"));
        Assert.Equal("spec.loadBalancerIP \"2001:db8::5\" does not match the service's IP families (IPv4)", r.Problem);
        var dual = Req(Svc("d", ipFamilies: ["IPv4", "IPv6"], annotations: new() { [Legacy + "loadBalancerIPs"] = "192.0.2.5" }));
        Assert.Contains("does not match the service's IP families (IPv4 and IPv6)", dual.Problem);
    }

    [Fact]
    public void A_requested_address_outside_every_pool_fails()
    {
        var a = With(Pool("a", "192.0.2.0/24"), Pool("b", "198.51.100.0/24"));
        var d = Decide(a, Svc("s", lbIP: "203.0.113.9"));
        Assert.Equal(DecisionKind.Failed, d.Kind);
        Assert.Equal("203.0.113.9 is in no address pool (pools: a, b)", d.Reason);
        Assert.Empty(d.Ips);
    }

    [Fact]
    public void A_requested_address_held_by_another_service_fails_naming_the_holder()
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        Assert.Equal(["192.0.2.5"], Give(a, Svc("first", ns: "team1", lbIP: "192.0.2.5")));
        var d = Decide(a, Svc("second", ns: "team2", lbIP: "192.0.2.5"));
        Assert.Equal(DecisionKind.Failed, d.Kind);
        Assert.Equal("192.0.2.5 is held by team1/first, which does not allow sharing", d.Reason);
        Assert.Equal(["team1/first"], a.HoldersOf(Ip("192.0.2.5")));
    }

    [Fact]
    public void The_two_annotation_prefixes_disagreeing_is_invalid()
    {
        var r = Req(Svc("s", annotations: new() { [Legacy + "address-pool"] = "a", [Newer + "address-pool"] = "b" }));
        Assert.Equal("annotations metallb.universe.tf/address-pool (a) and metallb.io/address-pool (b) disagree; keep one", r.Problem);
        var same = Req(Svc("t", annotations: new() { [Legacy + "address-pool"] = "a", [Newer + "address-pool"] = "a" }));
        Assert.Null(same.Problem);
        Assert.Equal("a", same.RequestedPool);
    }

    [Fact]
    public void A_requested_dual_stack_pair_is_assigned_primary_first()
    {
        var a = With(Pool("ds", "192.0.2.0/24", "2001:db8::/120"));
        var s = Svc("s", ipFamilies: ["IPv6", "IPv4"], annotations: new() { [Newer + "loadBalancerIPs"] = "192.0.2.20,2001:db8::20" });
        var d = Decide(a, s);
        var next = Decide(a, Svc("s", ipFamilies: ["IPv6", "IPv4"], annotations: new(s.Metadata.Annotations), ingress: Text(d.Ips)));
        Assert.Equal(DecisionKind.Allocated, d.Kind);
        Assert.Equal(DecisionKind.Keep, next.Kind);
        // The next pass must not reorder the status it just wrote.
        Assert.Equal(Text(next.Ips), Text(d.Ips));
        Assert.Equal(["2001:db8::20", "192.0.2.20"], Text(d.Ips));
    }

    // ---- address-pool annotation and auto-assign -----------------------------------------------------------------

    [Theory]
    [InlineData(Legacy)]
    [InlineData(Newer)]
    public void The_address_pool_annotation_allocates_from_that_pool_even_without_auto_assign(string prefix)
    {
        var a = With(Pool("auto", "192.0.2.0/30"), Pool("manual", autoAssign: false, avoidBuggy: null, "198.51.100.8/30"));
        var d = Decide(a, Svc("s", annotations: InPool("manual", prefix)));
        Assert.Equal(DecisionKind.Allocated, d.Kind);
        Assert.Equal(["198.51.100.8"], Text(d.Ips));
        Assert.Equal("manual", d.Pool);
    }

    [Fact]
    public void An_unknown_pool_fails()
    {
        var a = With(Pool("a", "192.0.2.0/30"), Pool("b", "198.51.100.0/30"));
        var d = Decide(a, Svc("s", annotations: InPool("nope")));
        Assert.Equal(DecisionKind.Failed, d.Kind);
        Assert.Equal("there is no address pool \"nope\" (pools: a, b)", d.Reason);
    }

    [Fact]
    public void Pools_without_auto_assign_are_skipped_for_automatic_allocation()
    {
        var a = With(Pool("manual", autoAssign: false, avoidBuggy: null, "192.0.2.0/30"), Pool("auto", "198.51.100.0/30"));
        Assert.Equal(["198.51.100.0"], Give(a, Svc("s1")));
        Assert.Equal("auto", a.Get("default/s1")!.Pool);
        Assert.Equal(0, a.InUse("manual"));
    }

    [Fact]
    public void Without_an_auto_assign_pool_automatic_allocation_fails()
    {
        var a = With(Pool("manual", autoAssign: false, avoidBuggy: null, "192.0.2.0/30"));
        Assert.StartsWith("no pool has auto-assign on (pools: manual)", Refused(a, Svc("s")));
    }

    [Fact]
    public void A_requested_address_in_another_pool_than_the_named_one_fails()
    {
        var a = With(Pool("a", "192.0.2.0/24"), Pool("b", "198.51.100.0/24"));
        var annotations = InPool("b");
        annotations[Legacy + "loadBalancerIPs"] = "192.0.2.7";
        Assert.Equal("192.0.2.7 is in pool a, not in the requested pool b", Refused(a, Svc("s", annotations: annotations)));
    }

    [Fact]
    public void A_requested_address_of_a_manual_pool_is_given()
    {
        var a = With(Pool("manual", autoAssign: false, avoidBuggy: null, "192.0.2.0/24"));
        Assert.Equal(["192.0.2.9"], Give(a, Svc("s", lbIP: "192.0.2.9")));
        Assert.Equal("manual", a.Get("default/s")!.Pool);
    }

    // ---- avoid-buggy-ips ------------------------------------------------------------------------------------------

    [Fact]
    public void Avoid_buggy_ips_skips_addresses_ending_in_0_and_255()
    {
        var a = With(Pool("a", autoAssign: null, avoidBuggy: true, "192.0.2.254-192.0.3.1"));
        Assert.Equal(["192.0.2.254"], Give(a, Svc("s1")));
        Assert.Equal(["192.0.3.1"], Give(a, Svc("s2")));
        Assert.Equal("no IPv4 address of pool a is free (2 of 2 in use)", Refused(a, Svc("s3")));
    }

    [Fact]
    public void Avoid_buggy_ips_starts_a_slash_24_at_dot_1()
    {
        var a = With(Pool("a", autoAssign: null, avoidBuggy: true, "192.0.2.0/24"));
        Assert.Equal(["192.0.2.1"], Give(a, Svc("s1")));
        var plain = With(Pool("a", "192.0.2.0/24"));
        Assert.Equal(["192.0.2.0"], Give(plain, Svc("s1")));
    }

    [Theory]
    [InlineData("192.0.2.0")]
    [InlineData("192.0.2.255")]
    public void Avoid_buggy_ips_refuses_a_requested_buggy_address(string ip)
    {
        var a = With(Pool("a", autoAssign: null, avoidBuggy: true, "192.0.2.0/24"));
        var d = Decide(a, Svc("s", lbIP: ip));
        Assert.Equal(DecisionKind.Failed, d.Kind);
        Assert.Equal($"{ip} ends in .0 or .255, which pool a avoids (avoid-buggy-ips)", d.Reason);
    }

    [Fact]
    public void A_buggy_address_avoided_by_one_pool_is_given_by_a_later_pool_that_allows_it()
    {
        var a = With(Pool("a", autoAssign: null, avoidBuggy: true, "192.0.2.0/24"), Pool("b", "192.0.2.0/25"));
        Assert.Equal(["192.0.2.0"], Give(a, Svc("s", lbIP: "192.0.2.0")));
        Assert.Equal("b", a.Get("default/s")!.Pool);
    }

    [Fact]
    public void Pool_totals_leave_out_buggy_addresses_only_under_avoid_buggy_ips()
    {
        var pools = Pools(Pool("avoid", autoAssign: null, avoidBuggy: true, "192.0.2.0/24"), Pool("plain", "198.51.100.0/24"),
            Pool("v6", autoAssign: null, avoidBuggy: true, "2001:db8::/120"), Pool("two", autoAssign: null, avoidBuggy: true, "203.0.113.0/24", "192.0.2.0/23"));
        Assert.Equal(254, pools.Find("avoid")!.Total);
        Assert.Equal(256, pools.Find("plain")!.Total);
        Assert.Equal(256, pools.Find("v6")!.Total);
        Assert.Equal(254 + 508, pools.Find("two")!.Total);
    }

    [Fact]
    public void PoolSet_reads_defaults_and_keeps_the_first_of_duplicate_names()
    {
        var pools = Pools(Pool("a", "192.0.2.0/24", "bogus"), Pool("a", "198.51.100.0/24"),
            new AddressPool { Name = "bgp", Protocol = "bgp", AutoAssign = false, AvoidBuggyIps = true, Addresses = ["203.0.113.0/24"] });
        Assert.Equal(["a", "bgp"], pools.Pools.Select(p => p.Name));
        var a = pools.Find("a")!;
        Assert.Equal("layer2", a.Protocol);
        Assert.True(a.AutoAssign);
        Assert.False(a.AvoidBuggyIps);
        Assert.Single(a.Ranges);
        Assert.True(a.Contains(Ip("192.0.2.0")));
        Assert.False(a.Contains(Ip("198.51.100.1")));
        var bgp = pools.Find("bgp")!;
        Assert.Equal("bgp", bgp.Protocol);
        Assert.False(bgp.AutoAssign);
        Assert.False(bgp.Contains(Ip("203.0.113.255")));
        Assert.True(bgp.Contains(Ip("203.0.113.254")));
        Assert.Equal("a, bgp", pools.Names);
        Assert.Equal("none", PoolSet.Empty.Names);
    }

    // ---- sharing --------------------------------------------------------------------------------------------------

    [Fact]
    public void Same_sharing_key_and_different_ports_share_one_address()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("web", annotations: Share("k"), ports: ["TCP/80"])));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("tls", annotations: Share("k", Newer), ports: ["TCP/443"])));
        Assert.Equal(["default/tls", "default/web"], a.HoldersOf(Ip("192.0.2.10")).Order(StringComparer.Ordinal));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("other")));
    }

    [Fact]
    public void Same_sharing_key_and_same_port_get_different_addresses()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"])));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/80"])));
        var direct = a.Assign(Req(Svc("s3", annotations: Share("k"), ports: ["TCP/80"])), Ips("192.0.2.10"));
        Assert.Equal("port TCP/80 of 192.0.2.10 is used by default/s1", direct.Error);
    }

    [Fact]
    public void A_port_without_protocol_collides_with_the_same_TCP_port()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["80"]));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/80"])));
    }

    [Fact]
    public void Same_sharing_key_and_same_port_in_a_one_address_pool_fails()
    {
        var a = With(Pool("a", "192.0.2.10/32"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"]));
        Assert.Equal("no IPv4 address of pool a is free (1 of 1 in use)", Refused(a, Svc("s2", annotations: Share("k"), ports: ["TCP/80"])));
    }

    [Fact]
    public void A_full_pool_still_shares_its_address_with_a_compatible_service()
    {
        var a = With(Pool("a", "192.0.2.10/32"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"]));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/443"])));
        Assert.Equal(1, a.InUse("a"));
    }

    [Fact]
    public void TCP_53_and_UDP_53_share_an_address()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("dns-tcp", annotations: Share("dns"), ports: ["TCP/53"])));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("dns-udp", annotations: Share("dns"), ports: ["UDP/53"])));
    }

    [Fact]
    public void Different_sharing_keys_do_not_share()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k1"), ports: ["TCP/80"]));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s2", annotations: Share("k2"), ports: ["TCP/443"])));
        var direct = a.Assign(Req(Svc("s3", annotations: Share("k2"), ports: ["TCP/8080"])), Ips("192.0.2.10"));
        Assert.Equal("192.0.2.10 is held by default/s1 with sharing key \"k1\", not \"k2\"", direct.Error);
    }

    [Fact]
    public void A_service_without_a_sharing_key_does_not_share()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"]));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s2", ports: ["TCP/443"])));
        var direct = a.Assign(Req(Svc("s3", ports: ["TCP/8080"])), Ips("192.0.2.10"));
        Assert.Equal("192.0.2.10 is held by default/s1; this service has no allow-shared-ip annotation to share it", direct.Error);
    }

    [Fact]
    public void Local_policy_services_with_different_selectors_do_not_share()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"], policy: "Local", selector: new() { ["app"] = "one" }));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/443"], policy: "Local", selector: new() { ["app"] = "two" })));
        var direct = a.Assign(Req(Svc("s3", annotations: Share("k"), ports: ["TCP/8080"], policy: "Local", selector: new() { ["app"] = "two" })), Ips("192.0.2.10"));
        Assert.StartsWith("192.0.2.10 is held by default/s1, whose selector or traffic policy differs", direct.Error);
    }

    [Fact]
    public void Local_policy_services_with_the_same_selector_share()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"], policy: "Local", selector: new() { ["app"] = "x", ["tier"] = "web" }));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/443"], policy: "Local", selector: new() { ["tier"] = "web", ["app"] = "x" })));
        Assert.Equal("app=x,tier=web", Req(Svc("s2", policy: "Local", selector: new() { ["tier"] = "web", ["app"] = "x" })).BackendKey);
    }

    [Fact]
    public void A_Local_policy_service_does_not_share_with_a_Cluster_policy_one()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"], policy: "Cluster", selector: new() { ["app"] = "x" }));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/443"], policy: "Local", selector: new() { ["app"] = "x" })));
        // The selector matters only for Local: two Cluster services with different selectors share.
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s3", annotations: Share("k"), ports: ["TCP/8443"], selector: new() { ["app"] = "y" })));
    }

    [Fact]
    public void A_compatible_shared_address_below_the_lowest_free_one_is_preferred()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("plain"));                                               // .10, not shareable
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"]));      // .11
        Assert.Equal(["192.0.2.11"], Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/443"])));
        Assert.Equal(["192.0.2.12"], Give(a, Svc("s3")));
    }

    [Fact]
    public void A_sole_user_may_change_its_sharing_key()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s1", annotations: Share("k1"), ports: ["TCP/80"])));
        var again = a.Assign(Req(Svc("s1", annotations: Share("k2"), ports: ["TCP/80"])), Ips("192.0.2.10"));
        Assert.True(again.Ok, again.Error);
        Assert.Equal(["192.0.2.11"], Give(a, Svc("old-key", annotations: Share("k1"), ports: ["TCP/443"])));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("new-key", annotations: Share("k2"), ports: ["TCP/443"])));
    }

    [Fact]
    public void A_user_of_a_shared_address_may_not_change_its_sharing_key()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k1"), ports: ["TCP/80"]));
        Give(a, Svc("s2", annotations: Share("k1"), ports: ["TCP/443"]));
        var change = a.Assign(Req(Svc("s1", annotations: Share("k2"), ports: ["TCP/80"])), Ips("192.0.2.10"));
        Assert.Equal("192.0.2.10 is held by default/s2 with sharing key \"k1\", not \"k2\"", change.Error);
        Assert.Equal(["192.0.2.10"], Text(a.Get("default/s1")!.Ips));
    }

    [Fact]
    public void A_shared_address_stays_with_the_remaining_user_when_one_leaves()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"]));
        Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/443"]));
        a.Unassign("default/s1");
        Assert.Equal(["default/s2"], a.HoldersOf(Ip("192.0.2.10")));
        Assert.Equal(1, a.InUse("a"));
        Assert.Equal(["192.0.2.11"], Give(a, Svc("plain")));
        // s1's port is free again on the shared address.
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s3", annotations: Share("k"), ports: ["TCP/80"])));
    }

    [Fact]
    public void InUse_counts_a_shared_address_once()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"]));
        Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/443"]));
        Give(a, Svc("s3", annotations: Share("k"), ports: ["TCP/8080"]));
        Give(a, Svc("s4"));
        Assert.Equal(4, a.Count);
        Assert.Equal(2, a.InUse("a"));
        Assert.Equal(0, a.InUse("nope"));
    }

    // ---- dual stack -----------------------------------------------------------------------------------------------

    [Fact]
    public void A_dual_stack_service_gets_both_families_primary_first()
    {
        var a = With(Pool("ds", "192.0.2.10-192.0.2.11", "2001:db8::10-2001:db8::11"));
        Assert.Equal(["192.0.2.10", "2001:db8::10"], Give(a, Svc("s1", ipFamilies: ["IPv4", "IPv6"])));
        Assert.Equal(["2001:db8::11", "192.0.2.11"], Give(a, Svc("s2", ipFamilies: ["IPv6", "IPv4"])));
        Assert.Equal(4, a.InUse("ds"));
    }

    [Fact]
    public void Families_come_from_cluster_IPs_when_ipFamilies_is_unset()
    {
        var a = With(Pool("ds", "192.0.2.10-192.0.2.11", "2001:db8::10-2001:db8::11"));
        Assert.Equal(["2001:db8::10", "192.0.2.10"], Give(a, Svc("s1", clusterIPs: ["2001:db8:ffff::1", "203.0.113.1"])));
        Assert.Equal(["2001:db8::11"], Give(a, Svc("s2", ipFamilies: ["IPv6"])));
    }

    [Fact]
    public void A_pool_without_IPv6_is_skipped_for_dual_stack_in_favour_of_the_next()
    {
        var a = With(Pool("v4only", "192.0.2.0/30"), Pool("ds", "198.51.100.0/30", "2001:db8:1::/126"));
        Assert.Equal(["198.51.100.0", "2001:db8:1::"], Give(a, Svc("dual", ipFamilies: ["IPv4", "IPv6"])));
        Assert.Equal("ds", a.Get("default/dual")!.Pool);
        Assert.Equal(["192.0.2.0"], Give(a, Svc("single")));
    }

    [Fact]
    public void Dual_stack_fails_when_no_pool_has_both_families()
    {
        var a = With(Pool("v4only", "192.0.2.0/30"));
        Assert.Equal("pool v4only has no IPv6 addresses", Refused(a, Svc("dual", ipFamilies: ["IPv4", "IPv6"])));
        Assert.Equal(0, a.InUse("v4only"));
        Assert.Equal(["192.0.2.0"], Give(a, Svc("single")));
    }

    [Fact]
    public void A_service_that_became_dual_stack_keeps_its_address_and_gets_the_other_family()
    {
        var a = With(Pool("ds", "192.0.2.10-192.0.2.11", "2001:db8::10-2001:db8::11"));
        var s = Svc("s", ipFamilies: ["IPv4", "IPv6"], ingress: ["192.0.2.11"]);
        var waiting = Decide(a, s, allowNew: false);
        Assert.Equal(DecisionKind.Keep, waiting.Kind);
        Assert.Equal(["192.0.2.11"], Text(waiting.Ips));
        var d = Decide(a, s);
        Assert.Equal(DecisionKind.Allocated, d.Kind);
        Assert.Equal(["192.0.2.11", "2001:db8::10"], Text(d.Ips));
        Assert.Equal("ds", d.Pool);
    }

    // ---- what the controller leaves alone -------------------------------------------------------------------------

    [Theory]
    [InlineData("example.com/other")]
    [InlineData("metallb.io/metallb-v2")]
    public void Another_loadBalancerClass_is_ignored(string lbClass)
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        var d = Decide(a, Svc("s", lbClass: lbClass));
        Assert.Equal(DecisionKind.Ignore, d.Kind);
        Assert.Empty(d.Ips);
        Assert.False(d.Released);
        Assert.Equal(0, a.Count);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("metallb.io/metallb")]
    public void No_loadBalancerClass_or_MetalLBs_own_is_served(string? lbClass)
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        var d = Decide(a, Svc("s", lbClass: lbClass));
        Assert.Equal(DecisionKind.Allocated, d.Kind);
        Assert.Equal(["192.0.2.0"], Text(d.Ips));
    }

    [Fact]
    public void A_service_turned_ClusterIP_is_ignored_and_its_address_released()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(DecisionKind.Allocated, Decide(a, Svc("s")).Kind);
        var d = Decide(a, Svc("s", type: "ClusterIP", ingress: ["192.0.2.10"]));
        Assert.Equal(DecisionKind.Ignore, d.Kind);
        Assert.True(d.Released);
        Assert.Empty(d.Ips);
        Assert.Equal(0, a.InUse("a"));
        var again = Decide(a, Svc("s", type: "ClusterIP"));
        Assert.False(again.Released);
        Assert.Equal(["192.0.2.10"], Give(a, Svc("next")));
    }

    [Theory]
    [InlineData("NodePort")]
    [InlineData("ExternalName")]
    public void Other_service_types_are_ignored(string type)
    {
        var r = Req(Svc("s", type: type));
        Assert.Equal($"type {type}, not LoadBalancer", r.Ignored);
    }

    [Fact]
    public void A_service_without_cluster_IP_is_ignored()
    {
        var r = Req(Svc("s", clusterIPs: ["None"]));
        Assert.Equal("no cluster IP yet", r.Ignored);
    }

    // ---- decisions --------------------------------------------------------------------------------------------------

    [Fact]
    public void A_service_keeps_the_address_in_its_status()
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        var d = Decide(a, Svc("s", ingress: ["192.0.2.77"]));
        Assert.Equal(DecisionKind.Keep, d.Kind);
        Assert.Equal(["192.0.2.77"], Text(d.Ips));
        Assert.Equal("a", d.Pool);
        Assert.Null(d.Cleared);
        Assert.Equal(DecisionKind.Keep, Decide(a, Svc("s", ingress: ["192.0.2.77"])).Kind);
        Assert.Equal(1, a.InUse("a"));
    }

    [Fact]
    public void After_a_restart_a_new_service_gets_the_lowest_free_address_never_a_held_one()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        foreach (var (name, ip) in new[] { ("s1", "192.0.2.10"), ("s2", "192.0.2.11"), ("s3", "192.0.2.13") })
        {
            var kept = Decide(a, Svc(name, ingress: [ip]), allowNew: false);
            Assert.Equal(DecisionKind.Keep, kept.Kind);
            Assert.Equal([ip], Text(kept.Ips));
        }
        var deferred = Decide(a, Svc("new1"), allowNew: false);
        Assert.Equal(DecisionKind.Deferred, deferred.Kind);
        Assert.Empty(deferred.Ips);
        Assert.Equal(["192.0.2.12"], Text(Decide(a, Svc("new1")).Ips));
        Assert.Equal(["192.0.2.14"], Text(Decide(a, Svc("new2")).Ips));
    }

    [Fact]
    public void A_held_address_above_the_cursor_is_not_given_again()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("s1")));
        Assert.Equal(DecisionKind.Keep, Decide(a, Svc("late", ingress: ["192.0.2.11"])).Kind);
        Assert.Equal(["192.0.2.12"], Give(a, Svc("s2")));
    }

    [Fact]
    public void Of_two_services_with_the_same_address_the_first_decided_keeps_it()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        var first = Decide(a, Svc("first", ingress: ["192.0.2.10"]));
        Assert.Equal(DecisionKind.Keep, first.Kind);
        Assert.Equal(["192.0.2.10"], Text(first.Ips));
        var second = Decide(a, Svc("second", ingress: ["192.0.2.10"]));
        Assert.Equal(DecisionKind.Allocated, second.Kind);
        Assert.Equal(["192.0.2.11"], Text(second.Ips));
        Assert.Equal("192.0.2.10 is held by default/first, which does not allow sharing", second.Cleared);
        Assert.Equal(["default/first"], a.HoldersOf(Ip("192.0.2.10")));
    }

    [Fact]
    public void Of_two_services_with_the_same_address_the_second_waits_before_the_first_full_pass()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Decide(a, Svc("first", ingress: ["192.0.2.10"]), allowNew: false);
        var second = Decide(a, Svc("second", ingress: ["192.0.2.10"]), allowNew: false);
        Assert.Equal(DecisionKind.Deferred, second.Kind);
        Assert.Contains("default/first", second.Cleared);
        Assert.Null(a.Get("default/second"));
    }

    [Fact]
    public void Services_sharing_an_address_in_their_status_both_keep_it()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(DecisionKind.Keep, Decide(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"], ingress: ["192.0.2.15"])).Kind);
        Assert.Equal(DecisionKind.Keep, Decide(a, Svc("s2", annotations: Share("k"), ports: ["UDP/80"], ingress: ["192.0.2.15"])).Kind);
        Assert.Equal(1, a.InUse("a"));
    }

    [Fact]
    public void Without_allowNew_a_service_without_an_address_is_deferred()
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        var d = Decide(a, Svc("s"), allowNew: false);
        Assert.Equal(new Decision(DecisionKind.Deferred, d.Ips), d with { Ips = d.Ips });
        Assert.Empty(d.Ips);
        Assert.Equal(0, a.Count);
    }

    [Fact]
    public void A_changed_address_pool_annotation_clears_and_reallocates_from_the_new_pool()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"), Pool("b", autoAssign: false, avoidBuggy: null, "198.51.100.0/30"));
        Assert.Equal(DecisionKind.Keep, Decide(a, Svc("s", annotations: InPool("a"), ingress: ["192.0.2.10"])).Kind);
        var d = Decide(a, Svc("s", annotations: InPool("b"), ingress: ["192.0.2.10"]));
        Assert.Equal(DecisionKind.Allocated, d.Kind);
        Assert.Equal(["198.51.100.0"], Text(d.Ips));
        Assert.Equal("b", d.Pool);
        Assert.Equal("the address-pool annotation asks for pool b; 192.0.2.10 is in pool a", d.Cleared);
        Assert.Empty(a.HoldersOf(Ip("192.0.2.10")));
        Assert.Equal(0, a.InUse("a"));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("other")));
    }

    [Fact]
    public void A_changed_requested_address_is_reallocated()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(DecisionKind.Keep, Decide(a, Svc("s", lbIP: "192.0.2.10", ingress: ["192.0.2.10"])).Kind);
        var d = Decide(a, Svc("s", lbIP: "192.0.2.15", ingress: ["192.0.2.10"]));
        Assert.Equal(DecisionKind.Allocated, d.Kind);
        Assert.Equal(["192.0.2.15"], Text(d.Ips));
        Assert.Equal("192.0.2.15 is requested instead of 192.0.2.10", d.Cleared);
        Assert.Empty(a.HoldersOf(Ip("192.0.2.10")));
    }

    [Fact]
    public void A_status_address_outside_the_pools_is_cleared_and_replaced()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        var d = Decide(a, Svc("s", ingress: ["203.0.113.5"]));
        Assert.Equal(DecisionKind.Allocated, d.Kind);
        Assert.Equal(["192.0.2.10"], Text(d.Ips));
        Assert.Equal("203.0.113.5 is in no address pool (pools: a)", d.Cleared);
    }

    [Fact]
    public void A_status_address_of_another_family_is_cleared_and_replaced()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        var d = Decide(a, Svc("s", ingress: ["2001:db8::5"]));
        Assert.Equal(DecisionKind.Allocated, d.Kind);
        Assert.Equal(["192.0.2.10"], Text(d.Ips));
        Assert.Equal("2001:db8::5 is not of the service's IP families (IPv4)", d.Cleared);
    }

    [Fact]
    public void An_invalid_request_keeps_the_held_address()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Assert.Equal(["192.0.2.10"], Text(Decide(a, Svc("s")).Ips));
        var d = Decide(a, Svc("s", lbIP: "nonsense", ingress: ["192.0.2.10"]));
        Assert.Equal(DecisionKind.Invalid, d.Kind);
        Assert.Equal(["192.0.2.10"], Text(d.Ips));
        Assert.Equal("a", d.Pool);
        Assert.Equal(["default/s"], a.HoldersOf(Ip("192.0.2.10")));
    }

    [Fact]
    public void An_invalid_request_after_a_restart_keeps_its_status_address()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        var d = Decide(a, Svc("s", annotations: new() { [Legacy + "loadBalancerIPs"] = "192.0.2.1,192.0.2.2" }, ingress: ["192.0.2.12"]), allowNew: false);
        Assert.Equal(DecisionKind.Invalid, d.Kind);
        Assert.Equal(["192.0.2.12"], Text(d.Ips));
        Assert.Equal(["default/s"], a.HoldersOf(Ip("192.0.2.12")));
        Assert.Equal(["192.0.2.10"], Give(a, Svc("other")));
    }

    // ---- configuration changes --------------------------------------------------------------------------------------

    [Fact]
    public void Removing_a_range_that_holds_an_address_is_incompatible()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20", "198.51.100.0/30"));
        Give(a, Svc("s1"));
        Give(a, Svc("s2", lbIP: "198.51.100.1"));
        var next = Pools(Pool("a", "198.51.100.0/30"));
        var bad = Assert.Single(a.Incompatible(next));
        Assert.Equal("default/s1", bad.Service);
        Assert.Equal(["192.0.2.10"], Text(bad.Allocation.Ips));
        Assert.Equal("192.0.2.10 is in no address pool (pools: a)", bad.Reason);
    }

    [Fact]
    public void A_compatible_change_keeps_addresses_and_counts_them_per_new_pool()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20", "198.51.100.0/30"));
        Give(a, Svc("s1"));
        Give(a, Svc("s2"));
        Give(a, Svc("s3", lbIP: "198.51.100.1"));
        var next = Pools(Pool("a", "192.0.2.0/24"), Pool("b", "198.51.100.0/29"));
        Assert.Empty(a.Incompatible(next));
        Assert.Empty(a.SetPools(next));
        Assert.Equal(["192.0.2.10"], Text(a.Get("default/s1")!.Ips));
        Assert.Equal("a", a.Get("default/s1")!.Pool);
        Assert.Equal("b", a.Get("default/s3")!.Pool);
        Assert.Equal(2, a.InUse("a"));
        Assert.Equal(1, a.InUse("b"));
        // The new pool's lower addresses are given now, the held ones never.
        Assert.Equal(["192.0.2.0"], Give(a, Svc("s4")));
        Assert.Equal(["198.51.100.0"], Give(a, Svc("s5", annotations: InPool("b"))));
        Assert.Equal(["198.51.100.2"], Give(a, Svc("s6", annotations: InPool("b"))));
    }

    [Fact]
    public void A_renamed_pool_moves_the_use_counts()
    {
        var a = With(Pool("old", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("s1", annotations: Share("k"), ports: ["TCP/80"]));
        Give(a, Svc("s2", annotations: Share("k"), ports: ["TCP/443"]));
        Give(a, Svc("s3"));
        a.SetPools(Pools(Pool("new", "192.0.2.10-192.0.2.20")));
        Assert.Equal(0, a.InUse("old"));
        Assert.Equal(2, a.InUse("new"));
        Assert.Equal("new", a.Get("default/s2")!.Pool);
        Assert.Equal(["192.0.2.12"], Give(a, Svc("s4")));
    }

    [Fact]
    public void Turning_on_avoid_buggy_ips_where_a_service_holds_dot_0_is_incompatible()
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        Assert.Equal(["192.0.2.0"], Give(a, Svc("s0")));
        Assert.Equal(["192.0.2.1"], Give(a, Svc("s1")));
        var next = Pools(Pool("a", autoAssign: null, avoidBuggy: true, "192.0.2.0/24"));
        var bad = Assert.Single(a.Incompatible(next));
        Assert.Equal("default/s0", bad.Service);
        Assert.Equal("192.0.2.0 ends in .0 or .255, which pool a avoids (avoid-buggy-ips)", bad.Reason);
    }

    [Fact]
    public void SetPools_drops_the_services_no_new_pool_holds_and_frees_their_addresses()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"), Pool("b", "198.51.100.0/30"));
        Give(a, Svc("s1"));
        Give(a, Svc("s2", annotations: InPool("b")));
        var dropped = a.SetPools(Pools(Pool("b", "198.51.100.0/30"), Pool("c", "192.0.2.100/30")));
        Assert.Equal(["default/s1"], dropped);
        Assert.Null(a.Get("default/s1"));
        Assert.Empty(a.HoldersOf(Ip("192.0.2.10")));
        Assert.Equal(0, a.InUse("a"));
        Assert.Equal(1, a.InUse("b"));
        Assert.Equal(["198.51.100.1"], Give(a, Svc("s3")));
        Assert.Equal(["192.0.2.100"], Give(a, Svc("s4", annotations: InPool("c"))));
    }

    [Fact]
    public void Incompatible_lists_services_in_key_order()
    {
        var a = With(Pool("a", "192.0.2.10-192.0.2.20"));
        Give(a, Svc("zz"));
        Give(a, Svc("aa"));
        Give(a, Svc("mm", ns: "b"));
        var bad = a.Incompatible(PoolSet.Empty);
        Assert.Equal(["b/mm", "default/aa", "default/zz"], bad.Select(b => b.Service));
        Assert.All(bad, b => Assert.EndsWith("is in no address pool (pools: none)", b.Reason));
    }

    // ---- Assign argument checks ---------------------------------------------------------------------------------------

    [Fact]
    public void Assign_refuses_no_address_and_two_of_one_family()
    {
        var a = With(Pool("a", "192.0.2.0/24"));
        var r = Req(Svc("s"));
        Assert.Equal("no address given", a.Assign(r, []).Error);
        Assert.Equal("192.0.2.1, 192.0.2.2: at most one address per family", a.Assign(r, Ips("192.0.2.1", "192.0.2.2")).Error);
        Assert.Equal(0, a.Count);
    }

    [Fact]
    public void Assign_refuses_addresses_not_in_one_pool()
    {
        var a = With(Pool("a", "192.0.2.0/24"), Pool("b", "2001:db8::/120"));
        var r = Req(Svc("s", ipFamilies: ["IPv4", "IPv6"]));
        Assert.Equal("192.0.2.1, 2001:db8::1 are not all in one address pool", a.Assign(r, Ips("192.0.2.1", "2001:db8::1")).Error);
    }
}
