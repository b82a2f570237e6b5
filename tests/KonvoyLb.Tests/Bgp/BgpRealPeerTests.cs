using System.Diagnostics;
using System.Net;
using KonvoyLb.Engine.Runtime.Bgp;
using KonvoyLb.Tests.Lab;

namespace KonvoyLb.Tests.Bgp;

/// <summary>
/// BIRD 2, FRR and GoBGP as passive routers in network namespaces, and the speaker's BGP session in
/// another one: routes arrive with the right attributes, withdraws remove them, and the session
/// survives what real routers do (restart, a silent link, a wrong password).
/// </summary>
public sealed class BgpRealPeers : IDisposable
{
    public NetLab Lab { get; } = null!;
    public LabHost Speaker { get; } = null!;
    public Dictionary<BgpDaemon, BgpRouter> Routers { get; } = new();
    public static readonly IPAddress SpeakerV4 = IPAddress.Parse("192.0.2.20"), SpeakerV6 = IPAddress.Parse("2001:db8:1::20");
    public const uint SpeakerAsn = 64512;

    public BgpRealPeers()
    {
        if (NetLab.SkipReason("bird", "vtysh", "gobgpd") is not null && !NetLab.InCI) return;
        Lab = NetLab.Create();
        try
        {
            Speaker = Lab.AddHost("spk", "02:00:00:00:00:20", "192.0.2.20/24", "2001:db8:1::20/64");
            var hosts = new[] { (BgpDaemon.Bird, "bird", 11u, 64500u), (BgpDaemon.Frr, "frr", 12u, 64501u), (BgpDaemon.GoBgp, "gobgp", 13u, 64502u) };
            foreach (var (daemon, name, n, asn) in hosts)
            {
                var host = Lab.AddHost(name, $"02:00:00:00:00:{n:x2}", $"192.0.2.{n}/24", $"2001:db8:1::{n:x}/64");
                Routers[daemon] = BgpRouter.Start(Lab, host, new BgpPeerSpec(daemon, asn, SpeakerAsn, SpeakerV4));
            }
        }
        catch
        {
            Lab.Dispose();
            throw;
        }
    }

    public IPAddress AddressOf(BgpRouter r) => r.Host.IPv4!;

    /// <summary>A session from the speaker's namespace to a router, as the speaker runs it.</summary>
    public BgpSession Session(BgpRouter router, uint? myAsn = null, string? password = null, int hold = 9) => new(new BgpPeerSettings
    {
        PeerAddress = AddressOf(router), MyAsn = myAsn ?? SpeakerAsn, PeerAsn = router.Spec.LocalAsn, RouterId = SpeakerV4,
        Password = password, HoldTime = TimeSpan.FromSeconds(hold), ConnectTimeout = TimeSpan.FromSeconds(2),
        MinBackoff = TimeSpan.FromMilliseconds(300), MaxBackoff = TimeSpan.FromSeconds(2),
        InNetworkNamespace = work => Lab.RunIn(Speaker, work),
    });

    public void Dispose()
    {
        foreach (var r in Routers.Values) r.Dispose();
        Lab?.Dispose();
    }
}

public sealed class BgpRealPeerTests : IClassFixture<BgpRealPeers>
{
    readonly BgpRealPeers _peers;
    public BgpRealPeerTests(BgpRealPeers peers) => _peers = peers;

    static bool Until(Func<bool> condition, TimeSpan timeout) => SpinWait.SpinUntil(condition, timeout);

    static readonly BgpRoute V4 = new(new BgpPrefix(IPAddress.Parse("198.51.100.1"), 32),
        Communities: new uint[] { 0xFFFFFF01 }, LargeCommunities: new[] { new LargeCommunity(64512, 1, 2) });
    static readonly BgpRoute V6 = new(new BgpPrefix(IPAddress.Parse("2001:db8:100::1"), 128), Communities: new uint[] { 64512u << 16 | 7 });

    [LabTheory("bird", "vtysh", "gobgpd")]
    [InlineData(BgpDaemon.Bird)]
    [InlineData(BgpDaemon.Frr)]
    [InlineData(BgpDaemon.GoBgp)]
    public async Task Ipv4AndIpv6RoutesArriveWithTheirAttributesAndWithdrawsRemoveThem(BgpDaemon daemon)
    {
        var router = _peers.Routers[daemon];
        var session = _peers.Session(router);
        session.SetRoutes(new[] { V4, V6 });
        await session.StartAsync();
        try
        {
            Assert.True(Until(() => session.State == BgpSessionState.Established, TimeSpan.FromSeconds(15)), session.Stats.LastError ?? session.State.ToString());
            Assert.True(router.WaitForRouteCount(2, TimeSpan.FromSeconds(15), out _), $"{daemon} has {router.RouteCount()} routes");
            var routes = router.Routes().ToDictionary(r => r.Prefix);
            var v4 = routes["198.51.100.1/32"];
            Assert.Equal("192.0.2.20", v4.NextHop);
            Assert.Equal(new[] { BgpRealPeers.SpeakerAsn }, v4.AsPath);
            Assert.Equal(new[] { "65535:65281" }, v4.Communities);
            Assert.Equal(new[] { "64512:1:2" }, v4.LargeCommunities);
            var v6 = routes["2001:db8:100::1/128"];
            Assert.Equal("2001:db8:1::20", v6.NextHop);
            Assert.Equal(new[] { "64512:7" }, v6.Communities);

            session.Withdraw(V6.Prefix);
            Assert.True(Until(() => router.RouteCount() == 1, TimeSpan.FromSeconds(10)), $"{daemon} still has {router.RouteCount()} routes");
            Assert.Equal(new[] { "198.51.100.1/32" }, router.Routes().Select(r => r.Prefix));
        }
        finally { await session.StopAsync("test over"); }
        Assert.True(Until(() => router.RouteCount() == 0, TimeSpan.FromSeconds(10)));
        Assert.True(Until(() => (router.LastNotificationFromSpeaker() ?? "").Contains("hutdown", StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(5)),
            $"{daemon} saw: {router.LastNotificationFromSpeaker()}");
    }

    [LabFact("bird", "vtysh", "gobgpd")]
    public async Task IbgpCarriesLocalPrefAndAnEmptyPath()
    {
        using var ibgp = BgpRouter.Start(_peers.Lab, _peers.Lab.AddHost("ibgp", "02:00:00:00:00:31", "192.0.2.31/24"),
            new BgpPeerSpec(BgpDaemon.Bird, BgpRealPeers.SpeakerAsn, BgpRealPeers.SpeakerAsn, BgpRealPeers.SpeakerV4, Ipv6: false));
        await using var session = _peers.Session(ibgp);
        session.Advertise(V4 with { LocalPref = 250 });
        await session.StartAsync();
        Assert.True(ibgp.WaitForRouteCount(1, TimeSpan.FromSeconds(15), out _), session.Stats.LastError);
        var route = ibgp.Routes().Single();
        Assert.Empty(route.AsPath);
        Assert.Equal(250u, route.LocalPref);
    }

    [LabFact("bird", "vtysh", "gobgpd")]
    public async Task AFourOctetAsnIsSentWhole()
    {
        using var bird = BgpRouter.Start(_peers.Lab, _peers.Lab.AddHost("as4", "02:00:00:00:00:32", "192.0.2.32/24"),
            new BgpPeerSpec(BgpDaemon.Bird, 64500, 4200000001, BgpRealPeers.SpeakerV4, Ipv6: false));
        await using var session = _peers.Session(bird, myAsn: 4200000001);
        session.Advertise(V4);
        await session.StartAsync();
        Assert.True(bird.WaitForRouteCount(1, TimeSpan.FromSeconds(15), out _), session.Stats.LastError);
        Assert.Equal(new[] { 4200000001u }, bird.Routes().Single().AsPath);
        Assert.True(session.Stats.FourOctetAs);
    }

    [LabFact("bird", "vtysh", "gobgpd")]
    public async Task Md5RightIsEstablishedAndMd5WrongNeverIs()
    {
        using var bird = BgpRouter.Start(_peers.Lab, _peers.Lab.AddHost("md5", "02:00:00:00:00:33", "192.0.2.33/24"),
            new BgpPeerSpec(BgpDaemon.Bird, 64500, BgpRealPeers.SpeakerAsn, BgpRealPeers.SpeakerV4, Password: "s3cretKey", Ipv6: false));
        await using (var wrong = _peers.Session(bird, password: "not-the-key"))
        {
            await wrong.StartAsync();
            Assert.False(Until(() => wrong.State == BgpSessionState.Established, TimeSpan.FromSeconds(3)));
            Assert.Contains("TCP MD5", wrong.Stats.LastError);
        }
        await using var right = _peers.Session(bird, password: "s3cretKey");
        right.Advertise(V4);
        await right.StartAsync();
        Assert.True(bird.WaitForRouteCount(1, TimeSpan.FromSeconds(15), out _), right.Stats.LastError);
    }

    [LabFact("bird", "vtysh", "gobgpd")]
    public async Task ASilentPeerIsDeclaredDownWithinTheHoldTimeAndTheSessionComesBack()
    {
        var host = _peers.Lab.AddHost("silent", "02:00:00:00:00:34", "192.0.2.34/24");
        using var frr = BgpRouter.Start(_peers.Lab, host, new BgpPeerSpec(BgpDaemon.Frr, 64503, BgpRealPeers.SpeakerAsn, BgpRealPeers.SpeakerV4, HoldTimeSeconds: 3, Ipv6: false));
        await using var session = _peers.Session(frr, hold: 3);
        session.Advertise(V4);
        await session.StartAsync();
        Assert.True(frr.WaitForRouteCount(1, TimeSpan.FromSeconds(15), out _), session.Stats.LastError);
        Assert.Equal((ushort)3, session.Stats.NegotiatedHoldTime);

        // Freeze the peer's link (not its process): it can no longer send anything.
        var clock = Stopwatch.StartNew();
        _peers.Lab.SetLinkDown(host);
        Assert.True(Until(() => session.State != BgpSessionState.Established, TimeSpan.FromSeconds(6)));
        var detected = clock.Elapsed;
        Assert.True(detected <= TimeSpan.FromSeconds(3.5), $"took {detected.TotalSeconds:F2} s");
        Assert.True(Until(() => session.Stats.LastError is not null, TimeSpan.FromSeconds(2)));
        Assert.Contains("hold timer expired", session.Stats.LastError);

        _peers.Lab.SetLinkUp(host);
        Assert.True(Until(() => session.State == BgpSessionState.Established, TimeSpan.FromSeconds(20)), session.Stats.LastError);
        Assert.True(frr.WaitForRouteCount(1, TimeSpan.FromSeconds(15), out _));
    }

    [LabTheory("bird", "vtysh", "gobgpd")]
    [InlineData(BgpDaemon.Bird)]
    [InlineData(BgpDaemon.GoBgp)]
    public async Task APeerRestartBringsTheSessionAndTheRoutesBack(BgpDaemon daemon)
    {
        var router = _peers.Routers[daemon];
        await using var session = _peers.Session(router);
        session.Advertise(V4);
        await session.StartAsync();
        Assert.True(router.WaitForRouteCount(1, TimeSpan.FromSeconds(15), out _), session.Stats.LastError);
        int connects = session.Stats.Connects;
        router.Restart();
        Assert.True(Until(() => session.Stats.Connects > connects && session.State == BgpSessionState.Established, TimeSpan.FromSeconds(30)),
            session.Stats.LastError ?? session.State.ToString());
        Assert.True(router.WaitForRouteCount(1, TimeSpan.FromSeconds(15), out _));
    }
}
