using System.Net;
using KonvoyLb.Engine.Runtime.Bgp;
using static KonvoyLb.Engine.Runtime.Bgp.BgpFsmAction;

namespace KonvoyLb.Tests.Bgp;

/// <summary>
/// The session's state machine and Adj-RIB-Out on their own: no socket, no clock. Each input gives the actions a driver
/// must take, so every transition of RFC 4271 that the announcer uses is checked in microseconds.
/// </summary>
public sealed class BgpFsmTests
{
    const uint PeerAs = 64500, MyAs = 64512;
    static readonly IPAddress Local = IPAddress.Parse("192.0.2.2");

    static BgpFsm Fsm(ushort hold = 90, TimeSpan? keepalive = null, IPAddress? routerId = null) => new(new BgpPeerSettings
    {
        PeerAddress = IPAddress.Parse("192.0.2.1"), MyAsn = MyAs, PeerAsn = PeerAs, HoldTime = TimeSpan.FromSeconds(hold),
        KeepaliveTime = keepalive, RouterId = routerId,
    });

    static BgpOpen PeerOpen(ushort hold = 90, uint asn = PeerAs, bool ipv6 = true) => BgpOpen.Create(asn, hold, IPAddress.Parse("192.0.2.1"),
        ipv6 ? [BgpCapability.Multiprotocol.IPv4Unicast, BgpCapability.Multiprotocol.IPv6Unicast, new BgpCapability.FourOctetAs(asn)]
             : [BgpCapability.Multiprotocol.IPv4Unicast, new BgpCapability.FourOctetAs(asn)]);

    static BgpFsm Established(ushort hold = 90, TimeSpan? keepalive = null)
    {
        var fsm = Fsm(hold, keepalive);
        fsm.Connected(Local);
        fsm.Received(PeerOpen(hold));
        fsm.Received(BgpKeepalive.Instance);
        Assert.Equal(BgpSessionState.Established, fsm.State);
        return fsm;
    }

    static BgpNotification SentNotification(IReadOnlyList<BgpFsmAction> actions) =>
        Assert.IsType<BgpNotification>(Assert.Single(actions.OfType<Send>()).Message);

    static Close Closed(IReadOnlyList<BgpFsmAction> actions) => Assert.IsType<Close>(actions[^1]);

    [Fact]
    public void ConnectedSendsOurOpenAndWaitsForTheirsWithTheLongHoldTime()
    {
        var fsm = Fsm();
        var actions = fsm.Connected(Local);
        var open = Assert.IsType<BgpOpen>(Assert.IsType<Send>(actions[0]).Message);
        Assert.Equal((MyAs, (ushort)90, Local), (open.PeerAs, open.HoldTime, open.BgpIdentifier));
        Assert.Equal(new Arm(BgpTimer.Hold, BgpFsm.OpenSentHold), actions[1]);
        Assert.Equal(BgpSessionState.OpenSent, fsm.State);
    }

    [Fact]
    public void AnIpv6SessionWithoutARouterIdEndsBeforeSendingAnything()
    {
        var actions = Fsm().Connected(IPAddress.Parse("2001:db8::2"));
        Assert.Empty(actions.OfType<Send>());
        Assert.Contains("router-id", Closed(actions).Reason);
        Assert.True(Closed(actions).Failure);
    }

    [Fact]
    public void TheirOpenIsAnsweredWithAKeepaliveAndTheNegotiatedHoldTime()
    {
        var fsm = Fsm(hold: 90);
        fsm.Connected(Local);
        var actions = fsm.Received(PeerOpen(hold: 30, ipv6: false));
        var negotiated = Assert.IsType<Negotiate>(actions[0]).Result;
        Assert.Equal((ushort)30, negotiated.HoldTime);
        Assert.Equal(TimeSpan.FromSeconds(10), negotiated.KeepaliveInterval);
        Assert.True(negotiated.IPv4);
        Assert.False(negotiated.IPv6);
        Assert.True(negotiated.Options.FourOctetAs);
        Assert.IsType<BgpKeepalive>(Assert.IsType<Send>(actions[1]).Message);
        Assert.Equal(new Arm(BgpTimer.Hold, TimeSpan.FromSeconds(30)), actions[2]);
        Assert.Equal(BgpSessionState.OpenConfirm, fsm.State);
    }

    [Fact]
    public void TheirKeepaliveEstablishesStartsBothTimersAndSendsTheRib()
    {
        var fsm = Fsm(hold: 9, keepalive: TimeSpan.FromSeconds(2));
        fsm.Connected(Local);
        fsm.Received(PeerOpen(hold: 9));
        var actions = fsm.Received(BgpKeepalive.Instance);
        Assert.Equal(BgpSessionState.Established, fsm.State);
        Assert.Equal(new BgpFsmAction[]
        {
            new Arm(BgpTimer.Hold, TimeSpan.FromSeconds(9)), new Arm(BgpTimer.Keepalive, TimeSpan.FromSeconds(2)), new SendRib(),
        }, actions);
    }

    [Fact]
    public void AWrongPeerAsIsRefusedWithOpenErrorBadPeerAs()
    {
        var fsm = Fsm();
        fsm.Connected(Local);
        var actions = fsm.Received(PeerOpen(asn: 64999));
        var n = SentNotification(actions);
        Assert.Equal((BgpErrorCode.Open, BgpErrorCode.BadPeerAs), (n.Code, n.Subcode));
        Assert.Contains("64999", Closed(actions).Reason);
        Assert.Equal(BgpSessionState.Idle, fsm.State);
    }

    [Theory]
    [InlineData("OpenSent", BgpErrorCode.FsmUnexpectedInOpenSent)]
    [InlineData("OpenConfirm", BgpErrorCode.FsmUnexpectedInOpenConfirm)]
    [InlineData("Established", BgpErrorCode.FsmUnexpectedInEstablished)]
    public void AMessageTheStateDoesNotExpectIsAnFsmError(string state, byte subcode)
    {
        var fsm = Fsm();
        fsm.Connected(Local);
        if (state != "OpenSent") fsm.Received(PeerOpen());
        if (state == "Established") fsm.Received(BgpKeepalive.Instance);
        BgpMessage unexpected = state == "Established" ? PeerOpen() : BgpUpdate.EndOfRibIPv4;
        var actions = fsm.Received(unexpected);
        var n = SentNotification(actions);
        Assert.Equal((BgpErrorCode.Fsm, subcode), (n.Code, n.Subcode));
        Assert.Contains($"in state {state}", Closed(actions).Reason);
    }

    [Fact]
    public void EveryMessageInEstablishedRestartsTheHoldTimer()
    {
        var fsm = Established(hold: 9);
        Assert.Equal([new Arm(BgpTimer.Hold, TimeSpan.FromSeconds(9))], fsm.Received(BgpKeepalive.Instance));
        Assert.Equal([new Arm(BgpTimer.Hold, TimeSpan.FromSeconds(9))], fsm.Received(BgpUpdate.EndOfRibIPv4));
    }

    [Fact]
    public void TheHoldTimerRunningOutSendsHoldTimerExpiredAndEnds()
    {
        var fsm = Established(hold: 9);
        var actions = fsm.TimerExpired(BgpTimer.Hold);
        var n = SentNotification(actions);
        Assert.Equal((BgpErrorCode.HoldTimerExpired, (byte)0), (n.Code, n.Subcode));
        Assert.Equal("hold timer expired: nothing from the peer for 9 s", Closed(actions).Reason);
        Assert.Contains(new Arm(BgpTimer.Keepalive, Timeout.InfiniteTimeSpan), actions);
    }

    [Fact]
    public void TheKeepaliveTimerSendsAKeepaliveAndRearmsItself()
    {
        var fsm = Established(hold: 90);
        Assert.Equal(new BgpFsmAction[] { new Send(BgpKeepalive.Instance), new Arm(BgpTimer.Keepalive, TimeSpan.FromSeconds(30)) },
            fsm.TimerExpired(BgpTimer.Keepalive));
    }

    [Fact]
    public void HoldTimeZeroMeansNoTimersOnceEstablished()
    {
        var fsm = Fsm(hold: 0);
        fsm.Connected(Local);
        fsm.Received(PeerOpen(hold: 0));
        var actions = fsm.Received(BgpKeepalive.Instance);
        Assert.Contains(new Arm(BgpTimer.Hold, Timeout.InfiniteTimeSpan), actions);
        Assert.Contains(new Arm(BgpTimer.Keepalive, Timeout.InfiniteTimeSpan), actions);
    }

    [Fact]
    public void ARouteRefreshAsksForTheFamilyAgain()
    {
        var fsm = Established();
        Assert.Contains(new Resend(BgpFamily.AfiIPv6), fsm.Received(new BgpRouteRefresh(BgpFamily.AfiIPv6, BgpFamily.SafiUnicast)));
    }

    [Fact]
    public void ANotificationFromThePeerEndsWithoutAnAnswerAndIsKeptInWords()
    {
        var fsm = Established();
        var actions = fsm.Received(new BgpNotification(BgpErrorCode.Cease, BgpErrorCode.AdministrativeReset));
        Assert.Empty(actions.OfType<Send>());
        Assert.Contains("administrative reset", fsm.NotificationReceived, StringComparison.OrdinalIgnoreCase);
        Assert.True(Closed(actions).Failure);
    }

    [Fact]
    public void StoppingSendsCeaseOnlyOnceAnOpenWentOut()
    {
        var before = Fsm().Stop("bye");
        Assert.Empty(before.OfType<Send>());
        Assert.False(Closed(before).Failure);

        var after = Established().Stop("maintenance");
        var n = SentNotification(after);
        Assert.Equal((BgpErrorCode.Cease, BgpErrorCode.AdministrativeShutdown, "maintenance"), (n.Code, n.Subcode, n.ShutdownCommunication));
        Assert.False(Closed(after).Failure);
    }

    [Fact]
    public void AMalformedMessageIsAnsweredWithTheFramersError()
    {
        var fsm = Established();
        var actions = fsm.Malformed(new BgpError(BgpErrorCode.MessageHeader, BgpErrorCode.BadMessageLength, [0, 18], "length 18 is too short"));
        Assert.Equal((BgpErrorCode.MessageHeader, BgpErrorCode.BadMessageLength), (SentNotification(actions).Code, SentNotification(actions).Subcode));
        Assert.Contains("length 18", Closed(actions).Reason);
    }
}

public sealed class AdjRibOutTests
{
    static BgpRoute Route(string ip, int length = 32, uint? localPref = null) =>
        new(new BgpPrefix(IPAddress.Parse(ip), length), localPref);

    static readonly Func<BgpPrefix, bool> Both = _ => true;

    [Fact]
    public void OnlyTheDifferenceIsToSendAndWhatWasSentIsNotSentAgain()
    {
        var rib = new AdjRibOut();
        rib.SetRoutes([Route("198.51.100.1"), Route("198.51.100.2")]);
        var (announce, withdraw) = rib.Difference(Both);
        Assert.Equal(2, announce.Count);
        Assert.Empty(withdraw);
        rib.Sent(announce, withdraw);
        Assert.Equal((2, 0), (rib.SentCount, rib.PendingCount));

        rib.Withdraw(Route("198.51.100.1").Prefix);
        rib.Advertise(Route("198.51.100.3"));
        (announce, withdraw) = rib.Difference(Both);
        Assert.Equal([Route("198.51.100.3")], announce);
        Assert.Equal([Route("198.51.100.1").Prefix], withdraw);
    }

    [Fact]
    public void AChangedAttributeIsAnnouncedAgain()
    {
        var rib = new AdjRibOut();
        rib.Advertise(Route("198.51.100.1", localPref: 100));
        var first = rib.Difference(Both);
        rib.Sent(first.Announce, first.Withdraw);
        rib.Advertise(Route("198.51.100.1", localPref: 200));
        Assert.Equal([Route("198.51.100.1", localPref: 200)], rib.Difference(Both).Announce);
    }

    [Fact]
    public void AFamilyTheSessionDoesNotCarryStaysPendingAndIsWithdrawnIfItWasSent()
    {
        var rib = new AdjRibOut();
        rib.SetRoutes([Route("198.51.100.1"), Route("2001:db8::1", 128)]);
        var v4Only = new Func<BgpPrefix, bool>(p => !p.IsIPv6);
        var d = rib.Difference(v4Only);
        Assert.Equal([Route("198.51.100.1")], d.Announce);
        rib.Sent(d.Announce, d.Withdraw);
        Assert.Equal(1, rib.PendingCount);

        rib.Sent([Route("2001:db8::1", 128)], []);
        Assert.Equal([Route("2001:db8::1", 128).Prefix], rib.Difference(v4Only).Withdraw);
    }

    [Fact]
    public void ANewSessionStartsFromNothingSent()
    {
        var rib = new AdjRibOut();
        rib.Advertise(Route("198.51.100.1"));
        var d = rib.Difference(Both);
        rib.Sent(d.Announce, d.Withdraw);
        rib.SessionEnded();
        Assert.Equal(0, rib.SentCount);
        Assert.Single(rib.Difference(Both).Announce);
        Assert.Empty(rib.SentRoutes(ipv6: false));
    }
}

public sealed class BgpPeerSettingsTests
{
    [Theory]
    [InlineData("10.0.0.300", 64512u, 64500u, null, "InvalidAddress", "peer-address")]
    [InlineData("10.0.0.1", 0u, 64500u, null, "InvalidAsn", "my-asn")]
    [InlineData("10.0.0.1", 64512u, 64500u, "not-an-ip", "InvalidAddress", "router-id")]
    public void AnUnusablePeerIsACataloguedErrorNamingTheField(string address, uint myAsn, uint peerAsn, string? routerId, string id, string field)
    {
        var peer = new KonvoyLb.Engine.Config.BgpPeer { PeerAddress = address, MyAsn = myAsn, PeerAsn = peerAsn, RouterId = routerId };
        var e = Assert.Throws<KonvoyLb.Engine.LbException>(() => BgpPeerSettings.From(peer));
        Assert.Equal(id, e.Id.ToString());
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void APasswordLongerThanTheKernelTakesIsInvalidPasswordNotAnArgumentException()
    {
        var e = Assert.Throws<KonvoyLb.Engine.LbException>(() => KonvoyLb.Engine.Net.TcpMd5.Struct(IPAddress.Loopback, new string('x', 81)));
        Assert.Equal(KonvoyLb.Engine.ErrorId.InvalidPassword, e.Id);
        Assert.Equal(216, KonvoyLb.Engine.Net.TcpMd5.Struct(IPAddress.Loopback, new string('x', 80)).Length);
    }
}
