using System.Net;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>What Test-LbBgpPeer found for one peer.</summary>
public sealed class BgpPeerCheckResult
{
    public IPAddress PeerAddress { get; init; } = IPAddress.None;
    public ushort PeerPort { get; init; }
    public uint MyAsn { get; init; }
    public uint PeerAsn { get; init; }
    public bool TcpReached { get; init; }
    /// <summary>Null without a password; true when the signed TCP connection came up.</summary>
    public bool? Md5Accepted { get; init; }
    public bool OpenAccepted { get; init; }
    public bool Established { get; init; }
    /// <summary>The NOTIFICATION the peer sent, in words ("peer says bad peer AS ...").</summary>
    public string? PeerNotification { get; init; }
    public ushort? NegotiatedHoldTime { get; init; }
    public IReadOnlyList<string> PeerCapabilities { get; init; } = Array.Empty<string>();
    public bool FourOctetAs { get; init; }
    public bool IPv4 { get; init; }
    public bool IPv6 { get; init; }
    public double? MillisecondsToEstablished { get; init; }
    public string? AnnouncedPrefix { get; init; }
    public IPAddress? LocalAddress { get; init; }
    public string? Error { get; init; }
    /// <summary>The catalogued id of <see cref="Error"/> (BgpConnectFailed, BgpOpenRefused, BgpSessionFailed, BgpMd5Unsupported, ...).</summary>
    public ErrorId? ErrorId { get; init; }
}

/// <summary>
/// Opens one session to a peer exactly as the speaker would (ASNs, password, port, hold time, source
/// address), reports how far it got, optionally announces a test prefix for a while, withdraws it and
/// closes with Cease.
/// </summary>
public static class BgpPeerCheck
{
    public static async Task<BgpPeerCheckResult> RunAsync(BgpPeerSettings settings, BgpRoute? testRoute, TimeSpan announceFor, CancellationToken cancel)
    {
        await using var session = new BgpSession(settings with { MaxBackoff = TimeSpan.Zero });
        string? announced = null;
        var stats = await session.TryOnceAsync(testRoute is null ? null : async ct =>
        {
            session.Advertise(testRoute);
            announced = testRoute.Prefix.ToString();
            await Task.Delay(announceFor, ct).ConfigureAwait(false);
            session.Withdraw(testRoute.Prefix);
            await Task.Delay(TimeSpan.FromMilliseconds(300), ct).ConfigureAwait(false); // let the withdrawal leave before Cease
        }, "KonvoyLb Test-LbBgpPeer finished", cancel).ConfigureAwait(false);

        bool established = stats.TimeToEstablished is not null;
        return new BgpPeerCheckResult
        {
            PeerAddress = settings.PeerAddress, PeerPort = settings.Port, MyAsn = settings.MyAsn, PeerAsn = settings.PeerAsn,
            TcpReached = stats.TcpConnected || established,
            Md5Accepted = settings.Password is null ? null : stats.TcpConnected || established,
            OpenAccepted = established,
            Established = established,
            PeerNotification = stats.LastNotificationReceived is { } n ? "peer says " + n : null,
            NegotiatedHoldTime = stats.NegotiatedHoldTime, PeerCapabilities = stats.PeerCapabilities,
            FourOctetAs = stats.FourOctetAs, IPv4 = stats.IPv4, IPv6 = stats.IPv6,
            MillisecondsToEstablished = stats.TimeToEstablished?.TotalMilliseconds,
            AnnouncedPrefix = announced, LocalAddress = stats.LocalAddress,
            // Also after Established: a session that dies while the test prefix is out is not a success.
            Error = stats.LastError,
            ErrorId = stats.LastErrorId ?? (stats.LastError is null ? null : established ? Engine.ErrorId.BgpSessionFailed : Engine.ErrorId.BgpOpenRefused),
        };
    }
}
