using System.Net;
using KonvoyLb.Tests.Lab;
using Xunit.Abstractions;

namespace KonvoyLb.Tests.Speaker;

/// <summary>
/// Start-LbSpeaker in BGP mode (issue 12, first part) against a real BIRD on the namespace cluster's LAN: a bgp pool's
/// address is announced while its Service has a ready endpoint, with the advertisement's aggregation and communities,
/// withdrawn when that stops, and a clean stop closes the session with a Cease.
/// </summary>
[Collection("speaker lab")]
public sealed class SpeakerBgpLabTests(ITestOutputHelper output)
{
    internal const string Ecmp = """
        peers:
        - peer-address: 192.0.2.1
          peer-asn: 64500
          my-asn: 64512
          hold-time: 9s
        address-pools:
        - name: default
          protocol: layer2
          addresses:
          - 192.0.2.200-192.0.2.239
        - name: routed
          protocol: bgp
          addresses:
          - 203.0.113.0/24
        """;

    /// <summary>The same, with an advertisement that sets communities (one through an alias).</summary>
    const string Config = Ecmp + """

          bgp-advertisements:
          - aggregation-length: 32
            communities:
            - no-export
            - 64512:7
        bgp-communities:
          no-export: 65535:65281
        """;

    [LabFact("bird")]
    public async Task A_bgp_address_reaches_BIRD_with_its_communities_while_an_endpoint_is_ready()
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        var routerHost = lab.Lab.AddHost("router", "02:00:5e:20:00:fe", "192.0.2.1/24");
        using var bird = BgpRouter.Start(lab.Lab, routerHost, new BgpPeerSpec(BgpDaemon.Bird, 64500, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false) { HoldTimeSeconds = 9 });
        lab.SetConfig(Config);
        lab.StartSpeaker("node-1");
        lab.WaitReady("node-1");
        Assert.True(bird.WaitForState("Established", TimeSpan.FromSeconds(20)), lab.Logs("node-1"));

        lab.AddService("routed", ["203.0.113.10"], ["node-2"]);
        var routes = SpeakerLab.Retry(() => bird.Routes(), r => r.Any(x => x.Prefix == "203.0.113.10/32"));
        output.WriteLine(string.Join("\n", routes));
        var route = Assert.Single(routes, r => r.Prefix == "203.0.113.10/32");
        Assert.Equal("192.0.2.11", route.NextHop);
        Assert.Equal([64512u], route.AsPath);
        Assert.Equal(["64512:7", "65535:65281"], route.Communities);
        // The session series are sampled on the speaker's tick (about a second): the route may reach BIRD first.
        var metrics = SpeakerLab.Retry(() => lab.Http("node-1", "/metrics"), m => m.Contains("metallb_bgp_session_up{peer=\"192.0.2.1:179\"} 1", StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        Assert.Contains("metallb_bgp_session_up{peer=\"192.0.2.1:179\"} 1", metrics);
        Assert.Contains("metallb_speaker_announced{service=\"default/routed\",protocol=\"bgp\",node=\"node-1\",ip=\"203.0.113.10\"} 1", metrics);

        Assert.Contains(SpeakerLab.Retry(() => lab.Kube.List("v1", "events", "default"), e => e.Any(x => x["reason"]?.ToString() == "nodeAssigned")),
            e => e["reason"]?.ToString() == "nodeAssigned" && e["message"]!.ToString() == "announcing from node \"node-1\" with protocol \"bgp\"");

        // No ready endpoint any more: withdrawn.
        lab.SetEndpoints("routed", []);
        Assert.DoesNotContain(SpeakerLab.Retry(() => bird.Routes(), r => r.All(x => x.Prefix != "203.0.113.10/32")), r => r.Prefix == "203.0.113.10/32");

        // Back, then a clean stop: the session ends with a Cease, so BIRD drops the route at once.
        lab.SetEndpoints("routed", ["node-3"]);
        SpeakerLab.Retry(() => bird.Routes(), r => r.Any(x => x.Prefix == "203.0.113.10/32"));
        var stopped = lab.Speakers["node-1"].Stop(TimeSpan.FromSeconds(5));
        Assert.Contains("Cease", stopped.StdOut + lab.Logs("node-1"));
        Assert.Empty(SpeakerLab.Retry(() => bird.Routes(), r => r.Count == 0, TimeSpan.FromSeconds(5)));
        output.WriteLine(bird.LastNotificationFromSpeaker() ?? "(no notification)");
        Assert.Contains("Cease", bird.LastNotificationFromSpeaker() ?? "");
    }


    static string NextHop(string node) => $"192.0.2.{11 + (node[^1] - '1')}";

    [LabTheory("bird", "vtysh")]
    [InlineData(BgpDaemon.Bird)]
    [InlineData(BgpDaemon.Frr)]
    public async Task Three_nodes_give_the_router_three_next_hops_and_Local_policy_follows_the_endpoints(BgpDaemon daemon)
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        var routerHost = lab.Lab.AddHost("router", "02:00:5e:20:00:fe", "192.0.2.1/24");
        using var router = BgpRouter.Start(lab.Lab, routerHost, new BgpPeerSpec(daemon, 64500, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false)
        {
            HoldTimeSeconds = 9, MoreSpeakersV4 = [lab.Nodes["node-2"].IPv4!, lab.Nodes["node-3"].IPv4!],
        });
        lab.SetConfig(Ecmp);
        foreach (var node in SpeakerLab.NodeNames) lab.StartSpeaker(node);
        foreach (var node in SpeakerLab.NodeNames) lab.WaitReady(node);

        lab.AddService("cluster", ["203.0.113.20"], ["node-1"]);
        lab.AddService("local", ["203.0.113.21"], ["node-2"], local: true);
        var routes = SpeakerLab.Retry(() => router.Routes(), r => r.Count(x => x.Prefix == "203.0.113.20/32") == 3 && r.Any(x => x.Prefix == "203.0.113.21/32"), TimeSpan.FromSeconds(30));
        output.WriteLine(string.Join("\n", routes));
        Assert.Equal(SpeakerLab.NodeNames.Select(NextHop), routes.Where(r => r.Prefix == "203.0.113.20/32").Select(r => r.NextHop).Order());
        Assert.Equal([NextHop("node-2")], routes.Where(r => r.Prefix == "203.0.113.21/32").Select(r => r.NextHop));

        lab.SetEndpoints("local", ["node-3"]);
        routes = SpeakerLab.Retry(() => router.Routes(), r => r.Where(x => x.Prefix == "203.0.113.21/32").Select(x => x.NextHop).SequenceEqual([NextHop("node-3")]));
        Assert.Equal([NextHop("node-3")], routes.Where(r => r.Prefix == "203.0.113.21/32").Select(r => r.NextHop));
        Assert.Equal(3, routes.Count(r => r.Prefix == "203.0.113.20/32"));

        // node-1's speaker stops cleanly and starts again: its route goes and comes back, the other nodes' never move.
        var others = new[] { NextHop("node-2"), NextHop("node-3") };
        bool OthersThere() => others.All(h => router.Routes().Any(r => r.Prefix == "203.0.113.20/32" && r.NextHop == h));
        lab.Speakers["node-1"].Stop(TimeSpan.FromSeconds(5));
        SpeakerLab.Retry(() => router.Routes(), r => r.Count(x => x.Prefix == "203.0.113.20/32") == 2);
        Assert.True(OthersThere());
        lab.StartSpeaker("node-1");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30) && router.Routes().Count(x => x.Prefix == "203.0.113.20/32") < 3)
            Assert.True(OthersThere(), "another node's route moved while node-1 restarted");
        Assert.Equal(3, router.Routes().Count(x => x.Prefix == "203.0.113.20/32"));
    }

    [LabFact("bird")]
    public async Task Node_selectors_pick_the_nodes_that_peer_and_a_label_change_opens_the_session()
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        var routerHost = lab.Lab.AddHost("router", "02:00:5e:20:00:fe", "192.0.2.1/24");
        using var router = BgpRouter.Start(lab.Lab, routerHost, new BgpPeerSpec(BgpDaemon.Bird, 64500, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false)
        {
            HoldTimeSeconds = 9, MoreSpeakersV4 = [lab.Nodes["node-2"].IPv4!, lab.Nodes["node-3"].IPv4!],
        });
        lab.SetConfig(Ecmp.Replace("  hold-time: 9s\n", "  hold-time: 9s\n  node-selectors:\n  - match-labels:\n      rack: a\n"));
        foreach (var node in new[] { "node-1", "node-2" }) Label(lab, node, "a");
        foreach (var node in SpeakerLab.NodeNames) lab.StartSpeaker(node);
        foreach (var node in SpeakerLab.NodeNames) lab.WaitReady(node);
        lab.AddService("cluster", ["203.0.113.30"], ["node-1"]);
        var routes = SpeakerLab.Retry(() => router.Routes(), r => r.Count(x => x.Prefix == "203.0.113.30/32") == 2);
        Thread.Sleep(1000);
        routes = router.Routes();
        Assert.Equal([NextHop("node-1"), NextHop("node-2")], routes.Where(r => r.Prefix == "203.0.113.30/32").Select(r => r.NextHop).Order());
        Assert.DoesNotContain("bgpSessionStarted", lab.Logs("node-3"));

        Label(lab, "node-3", "a");
        routes = SpeakerLab.Retry(() => router.Routes(), r => r.Count(x => x.Prefix == "203.0.113.30/32") == 3, TimeSpan.FromSeconds(20));
        Assert.Equal(3, routes.Count(r => r.Prefix == "203.0.113.30/32"));
        Label(lab, "node-1", "b");
        routes = SpeakerLab.Retry(() => router.Routes(), r => r.Count(x => x.Prefix == "203.0.113.30/32") == 2, TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(routes, r => r.NextHop == NextHop("node-1"));
        Assert.Contains("no longer in the configuration for this node", lab.Logs("node-1"));
    }

    [LabFact("bird", "vtysh")]
    public async Task A_config_change_touches_only_the_changed_peer_and_routes_survive_an_API_outage_and_router_restarts()
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        using var bird = BgpRouter.Start(lab.Lab, lab.Lab.AddHost("bird", "02:00:5e:20:00:fe", "192.0.2.1/24"),
            new BgpPeerSpec(BgpDaemon.Bird, 64500, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false) { HoldTimeSeconds = 9 });
        using var frr = BgpRouter.Start(lab.Lab, lab.Lab.AddHost("frr", "02:00:5e:20:00:fd", "192.0.2.2/24"),
            new BgpPeerSpec(BgpDaemon.Frr, 64501, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false) { HoldTimeSeconds = 9 });
        string Config(string frrHold, bool withFrr = true) => Ecmp.Replace("  hold-time: 9s\n", "  hold-time: 9s\n" +
            (withFrr ? $"- peer-address: 192.0.2.2\n  peer-asn: 64501\n  my-asn: 64512\n  hold-time: {frrHold}\n" : ""));
        lab.SetConfig(Config("9s"));
        lab.StartSpeaker("node-1");
        lab.WaitReady("node-1");
        lab.AddService("steady", ["203.0.113.40"], ["node-1"]);
        bool Has(BgpRouter r) => r.Routes().Any(x => x.Prefix == "203.0.113.40/32");
        Assert.True(SpeakerLab.Retry(() => Has(bird) && Has(frr), ok => ok), lab.Logs("node-1"));

        int Started(string peer) => lab.Logs("node-1").Split('\n').Count(l => l.Contains("\"bgpSessionStarted\"") && l.Contains(peer));
        // FRR's peer changes: only that session is re-established.
        lab.SetConfig(Config("12s"));
        Assert.Equal(2, SpeakerLab.Retry(() => Started("192.0.2.2:179"), n => n == 2));
        Assert.True(SpeakerLab.Retry(() => Has(frr), ok => ok));
        Assert.Equal(1, Started("192.0.2.1:179"));
        // FRR's peer removed: a Cease, BIRD untouched.
        lab.SetConfig(Config("12s", withFrr: false));
        Assert.Contains("Cease", SpeakerLab.Retry(() => frr.LastNotificationFromSpeaker() ?? "", n => n.Contains("Cease")));
        Assert.Equal(1, Started("192.0.2.1:179"));
        Assert.True(Has(bird));

        // The API server down for longer than the hold time: the routes stay.
        lab.Kube.Faults.Outage = true;
        Thread.Sleep(10_000);
        Assert.True(Has(bird), "the route went during the API outage");
        lab.Kube.Faults.Outage = false;

        // BIRD restarted ten times: the route is back each time (a session that was Established retries after MinBackoff).
        for (int i = 0; i < 10; i++)
        {
            bird.Restart();
            Assert.True(SpeakerLab.Retry(() => Has(bird), ok => ok, TimeSpan.FromSeconds(30)), $"restart {i + 1}: {lab.Logs("node-1")}");
        }
        Assert.False(lab.Speakers["node-1"].HasExited);
    }

    [LabFact("vtysh")]
    public async Task IPv6_addresses_and_iBGP_localpref_and_aggregation_reach_FRR()
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        var routerHost = lab.Lab.AddHost("router", "02:00:5e:20:00:fe", "192.0.2.1/24", "2001:db8::1/64");
        using var frr = BgpRouter.Start(lab.Lab, routerHost, new BgpPeerSpec(BgpDaemon.Frr, 64512, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: true) { HoldTimeSeconds = 9 });
        lab.SetConfig("""
            peers:
            - peer-address: 192.0.2.1
              peer-asn: 64512
              my-asn: 64512
            address-pools:
            - name: routed
              protocol: bgp
              addresses:
              - 203.0.113.0/24
              - 2001:db8:100::/64
              bgp-advertisements:
              - aggregation-length: 28
                aggregation-length-v6: 120
                localpref: 250
            """);
        lab.StartSpeaker("node-1");
        lab.WaitReady("node-1");
        lab.AddService("dual", ["203.0.113.77", "2001:db8:100::77"], ["node-1"]);
        var routes = SpeakerLab.Retry(() => frr.Routes(), r => r.Count >= 2);
        output.WriteLine(string.Join("\n", routes));
        var v4 = Assert.Single(routes, r => r.Prefix == "203.0.113.64/28");
        Assert.Equal(250u, v4.LocalPref);
        Assert.Equal("192.0.2.11", v4.NextHop); // not the IPv6 next hop of an UPDATE it shared (FRR)
        var v6 = Assert.Single(routes, r => r.Prefix == "2001:db8:100::/120");
        Assert.Equal(250u, v6.LocalPref);
        Assert.Equal("2001:db8::11", v6.NextHop);
        Assert.Empty(v4.AsPath); // iBGP: no AS prepended
    }

    static void Label(SpeakerLab lab, string node, string rack)
    {
        var n = lab.Kube.Get("v1", "nodes", null, node)!;
        n["metadata"]!["labels"] = new System.Text.Json.Nodes.JsonObject { ["kubernetes.io/hostname"] = node, ["rack"] = rack };
        lab.Kube.Put("v1", "nodes", null, n);
    }
}
