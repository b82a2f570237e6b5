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
    const string Config = """
        peers:
        - peer-address: 192.0.2.1
          peer-asn: 64500
          my-asn: 64512
          hold-time: 9s
        bgp-communities:
          no-export: 65535:65281
        address-pools:
        - name: default
          protocol: layer2
          addresses:
          - 192.0.2.200-192.0.2.239
        - name: routed
          protocol: bgp
          addresses:
          - 203.0.113.0/24
          bgp-advertisements:
          - aggregation-length: 32
            communities:
            - no-export
            - 64512:7
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
        var routes = Retry(() => bird.Routes(), r => r.Any(x => x.Prefix == "203.0.113.10/32"));
        output.WriteLine(string.Join("\n", routes));
        var route = Assert.Single(routes, r => r.Prefix == "203.0.113.10/32");
        Assert.Equal("192.0.2.11", route.NextHop);
        Assert.Equal([64512u], route.AsPath);
        Assert.Equal(["64512:7", "65535:65281"], route.Communities);
        var metrics = lab.Http("node-1", "/metrics");
        Assert.Contains("metallb_bgp_session_up{peer=\"192.0.2.1:179\"} 1", metrics);
        Assert.Contains("metallb_speaker_announced{service=\"default/routed\",protocol=\"bgp\",node=\"node-1\",ip=\"203.0.113.10\"} 1", metrics);

        // No ready endpoint any more: withdrawn.
        lab.SetEndpoints("routed", []);
        Assert.DoesNotContain(Retry(() => bird.Routes(), r => r.All(x => x.Prefix != "203.0.113.10/32")), r => r.Prefix == "203.0.113.10/32");

        // Back, then a clean stop: the session ends with a Cease, so BIRD drops the route at once.
        lab.SetEndpoints("routed", ["node-3"]);
        Retry(() => bird.Routes(), r => r.Any(x => x.Prefix == "203.0.113.10/32"));
        var stopped = lab.Speakers["node-1"].Stop(TimeSpan.FromSeconds(5));
        Assert.Contains("Cease", stopped.StdOut + lab.Logs("node-1"));
        Assert.Empty(Retry(() => bird.Routes(), r => r.Count == 0, TimeSpan.FromSeconds(5)));
        output.WriteLine(bird.LastNotificationFromSpeaker() ?? "(no notification)");
        Assert.Contains("Cease", bird.LastNotificationFromSpeaker() ?? "");
    }

    static T Retry<T>(Func<T> get, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        T value = get();
        while (!done(value) && clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(15)))
        {
            Thread.Sleep(200);
            value = get();
        }
        return value;
    }
}
