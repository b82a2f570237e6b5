using System.Net;
using System.Net.Sockets;

namespace KonvoyLb.Engine.Runtime.Bgp;

public enum BgpSessionState { Idle, Connect, OpenSent, OpenConfirm, Established }

/// <summary>The timers of a session; the driver runs them and reports their expiry back to the FSM.</summary>
public enum BgpTimer { Hold, Keepalive }

/// <summary>What was agreed with the peer once its OPEN was accepted.</summary>
public sealed record BgpNegotiated(BgpOpen PeerOpen, ushort HoldTime, TimeSpan KeepaliveInterval, bool IPv4, bool IPv6)
{
    public BgpEncodeOptions Options => new() { FourOctetAs = PeerOpen.SupportsFourOctetAs };
}

/// <summary>One thing the driver of a <see cref="BgpFsm"/> must do, in the order given.</summary>
public abstract record BgpFsmAction
{
    public sealed record Send(BgpMessage Message) : BgpFsmAction;
    /// <summary>(Re)start a timer; <see cref="Timeout.InfiniteTimeSpan"/> stops it.</summary>
    public sealed record Arm(BgpTimer Timer, TimeSpan Duration) : BgpFsmAction;
    /// <summary>The peer's OPEN is accepted: encode with these options from now on.</summary>
    public sealed record Negotiate(BgpNegotiated Result) : BgpFsmAction;
    /// <summary>Established: send the whole Adj-RIB-Out, then End-of-RIB.</summary>
    public sealed record SendRib : BgpFsmAction;
    /// <summary>ROUTE-REFRESH: send every route of this family again.</summary>
    public sealed record Resend(ushort Afi) : BgpFsmAction;
    /// <summary>The session is over; <paramref name="Failure"/> when it ended for a reason worth reporting.</summary>
    public sealed record Close(string Reason, bool Failure) : BgpFsmAction;
}

/// <summary>
/// The RFC 4271 state machine of an active announcer (Idle → Connect → OpenSent → OpenConfirm → Established), with no
/// I/O and no clock: each input (connected, a message, a malformed message, a timer's expiry, stop) returns the actions
/// to take. One instance serves one connection.
/// </summary>
public sealed class BgpFsm
{
    /// <summary>RFC 4271's suggested hold time while waiting for the peer's OPEN.</summary>
    public static readonly TimeSpan OpenSentHold = TimeSpan.FromSeconds(240);
    const ushort GracefulRestartTime = 120;

    readonly BgpPeerSettings _s;

    public BgpFsm(BgpPeerSettings settings) => _s = settings;

    public BgpSessionState State { get; private set; } = BgpSessionState.Connect;
    public BgpNegotiated? Negotiated { get; private set; }
    /// <summary>The NOTIFICATION the peer sent, in words.</summary>
    public string? NotificationReceived { get; private set; }

    ushort ProposedHold => (ushort)_s.HoldTime.TotalSeconds;

    /// <summary>TCP is up: send OPEN and wait for the peer's (RFC 4271 §8.2.2, Connect state).</summary>
    public IReadOnlyList<BgpFsmAction> Connected(IPAddress local)
    {
        var routerId = _s.RouterId ?? (local.AddressFamily == AddressFamily.InterNetwork ? local : null);
        if (routerId is null)
            return [new BgpFsmAction.Close("an IPv6 session needs a router-id (an IPv4-shaped BGP identifier): set router-id for this peer", true)];
        var open = BgpOpen.Create(_s.MyAsn, ProposedHold, routerId,
        [
            BgpCapability.Multiprotocol.IPv4Unicast, BgpCapability.Multiprotocol.IPv6Unicast,
            new BgpCapability.RouteRefresh(), new BgpCapability.FourOctetAs(_s.MyAsn),
            new BgpCapability.GracefulRestart(0, GracefulRestartTime),
        ]);
        State = BgpSessionState.OpenSent;
        return [new BgpFsmAction.Send(open), new BgpFsmAction.Arm(BgpTimer.Hold, OpenSentHold)];
    }

    public IReadOnlyList<BgpFsmAction> Received(BgpMessage message)
    {
        if (message is BgpNotification n)
        {
            NotificationReceived = n.Describe();
            return End($"the peer closed the session: {NotificationReceived}");
        }
        return (State, message) switch
        {
            (BgpSessionState.OpenSent, BgpOpen open) => Accept(open),
            (BgpSessionState.OpenSent, _) => Unexpected(message, BgpErrorCode.FsmUnexpectedInOpenSent),
            (BgpSessionState.OpenConfirm, BgpKeepalive) => Establish(),
            (BgpSessionState.OpenConfirm, _) => Unexpected(message, BgpErrorCode.FsmUnexpectedInOpenConfirm),
            (BgpSessionState.Established, BgpOpen) => Unexpected(message, BgpErrorCode.FsmUnexpectedInEstablished),
            (BgpSessionState.Established, BgpRouteRefresh rr) => [RestartHold(), new BgpFsmAction.Resend(rr.Afi)],
            // KEEPALIVE, and UPDATEs (peers echo routes back; the decoder has checked them): the peer is alive.
            (BgpSessionState.Established, _) => [RestartHold()],
            _ => [],
        };
    }

    /// <summary>The framer found a malformed message: tell the peer why, and end.</summary>
    public IReadOnlyList<BgpFsmAction> Malformed(BgpError error) =>
        NotifyAndEnd(new BgpNotification(error.Code, error.Subcode, error.Data), $"the peer sent a malformed message: {error.Description}");

    public IReadOnlyList<BgpFsmAction> TimerExpired(BgpTimer timer) => timer switch
    {
        BgpTimer.Hold => NotifyAndEnd(new BgpNotification(BgpErrorCode.HoldTimerExpired, 0),
            $"hold timer expired: nothing from the peer for {HoldDuration().TotalSeconds:F0} s"),
        BgpTimer.Keepalive when State == BgpSessionState.Established && Negotiated is { } n =>
            [new BgpFsmAction.Send(BgpKeepalive.Instance), new BgpFsmAction.Arm(BgpTimer.Keepalive, n.KeepaliveInterval)],
        _ => [],
    };

    /// <summary>An administrative stop: Cease (with the RFC 8203 message) once an OPEN went out, then end.</summary>
    public IReadOnlyList<BgpFsmAction> Stop(string? message) => State >= BgpSessionState.OpenSent
        ? NotifyAndEnd(BgpNotification.Shutdown(message), "stopped", failure: false)
        : End("stopped", failure: false);

    /// <summary>The transport ended under the session (closed by the peer, or broken).</summary>
    public IReadOnlyList<BgpFsmAction> TransportEnded(string why) => End(why);

    IReadOnlyList<BgpFsmAction> Accept(BgpOpen open)
    {
        if (BgpMessage.ValidateOpen(open, _s.PeerAsn, ProposedHold) is { } error)
            return NotifyAndEnd(new BgpNotification(error.Code, error.Subcode, error.Data), $"the peer's OPEN is not acceptable: {error.Description}");
        var hold = BgpMessage.NegotiatedHoldTime(open, ProposedHold);
        bool multiprotocol = open.Capabilities.Any(c => c is BgpCapability.Multiprotocol);
        var keepalive = hold == 0 ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromSeconds(Math.Max(1, Math.Min(_s.KeepaliveTime?.TotalSeconds ?? double.MaxValue, hold / 3.0)));
        Negotiated = new BgpNegotiated(open, hold, keepalive,
            IPv4: !multiprotocol || open.SupportsFamily(BgpFamily.AfiIPv4, BgpFamily.SafiUnicast),
            IPv6: open.SupportsFamily(BgpFamily.AfiIPv6, BgpFamily.SafiUnicast));
        State = BgpSessionState.OpenConfirm;
        return [new BgpFsmAction.Negotiate(Negotiated), new BgpFsmAction.Send(BgpKeepalive.Instance), RestartHold()];
    }

    IReadOnlyList<BgpFsmAction> Establish()
    {
        State = BgpSessionState.Established;
        return [RestartHold(), new BgpFsmAction.Arm(BgpTimer.Keepalive, Negotiated!.KeepaliveInterval), new BgpFsmAction.SendRib()];
    }

    /// <summary>The hold time that applies now: 240 s before the peer's OPEN, then the negotiated one (0: none once Established).</summary>
    TimeSpan HoldDuration() => Negotiated is not { } n ? OpenSentHold
        : n.HoldTime != 0 ? TimeSpan.FromSeconds(n.HoldTime)
        : State == BgpSessionState.Established ? Timeout.InfiniteTimeSpan : OpenSentHold;

    BgpFsmAction RestartHold() => new BgpFsmAction.Arm(BgpTimer.Hold, HoldDuration());

    IReadOnlyList<BgpFsmAction> Unexpected(BgpMessage message, byte subcode) =>
        NotifyAndEnd(new BgpNotification(BgpErrorCode.Fsm, subcode), $"unexpected {message.Type} in state {State}");

    IReadOnlyList<BgpFsmAction> NotifyAndEnd(BgpNotification notification, string reason, bool failure = true)
    {
        var end = End(reason, failure);
        return [new BgpFsmAction.Send(notification), .. end];
    }

    IReadOnlyList<BgpFsmAction> End(string reason, bool failure = true)
    {
        State = BgpSessionState.Idle;
        return [new BgpFsmAction.Arm(BgpTimer.Hold, Timeout.InfiniteTimeSpan), new BgpFsmAction.Arm(BgpTimer.Keepalive, Timeout.InfiniteTimeSpan),
            new BgpFsmAction.Close(reason, failure)];
    }
}
