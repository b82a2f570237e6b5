using System.Net;
using System.Net.Sockets;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>The TCP connection did not come up; the message says why in words.</summary>
public sealed class BgpConnectException(string message) : Exception(message);

/// <summary>
/// The TCP side of one BGP session: dials the peer (source address, TTL, TCP MD5, another network namespace), frames
/// what it reads into messages, and writes batches of encoded messages. No BGP logic.
/// </summary>
public sealed class BgpTransport : IDisposable
{
    readonly Socket _socket;
    readonly NetworkStream _stream;
    readonly BgpFramer _framer = new();
    readonly byte[] _buffer = new byte[8192];
    BgpEncodeOptions _options;

    BgpTransport(Socket socket, IPAddress local, IPAddress? nextHopV4, IPAddress? nextHopV6)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        Local = local;
        NextHopV4 = nextHopV4;
        NextHopV6 = nextHopV6;
    }

    public IPAddress Local { get; }

    /// <summary>Next hops for each family: the session's own address, or another address of the same interface.</summary>
    public IPAddress? NextHopV4 { get; }
    public IPAddress? NextHopV6 { get; }

    /// <summary>How messages are encoded and decoded (two- or four-octet AS numbers); set once the peer's OPEN is accepted.</summary>
    public BgpEncodeOptions Options { get => _options; set => _options = value; }

    /// <summary>
    /// Connects within the settings' connect timeout. A refusal is retried inside that window: routers refuse for a
    /// moment after an error (BIRD's error wait, GoBGP's idle hold) and accept right after. Throws
    /// <see cref="BgpConnectException"/>, or <see cref="LbException"/> (BgpMd5Unsupported) for a kernel without TCP MD5.
    /// </summary>
    public static async Task<BgpTransport> ConnectAsync(BgpPeerSettings s, TimeProvider time, CancellationToken cancel)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            try { return await ConnectOnceAsync(s, time, cancel).ConfigureAwait(false); }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused
                && time.GetElapsedTime(started) + RefusedRetry < s.ConnectTimeout)
            {
                await Task.Delay(RefusedRetry, time, cancel).ConfigureAwait(false);
            }
            catch (SocketException e) { throw new BgpConnectException(Describe(s, e)); }
        }
    }

    static readonly TimeSpan RefusedRetry = TimeSpan.FromMilliseconds(250);

    static async Task<BgpTransport> ConnectOnceAsync(BgpPeerSettings s, TimeProvider time, CancellationToken cancel)
    {
        Socket socket = null!;
        InNamespace(s, () => socket = new Socket(s.PeerAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });
        try
        {
            if (s.Ttl is { } ttl) socket.Ttl = (short)ttl;
            if (s.SourceAddress is { } source) socket.Bind(new IPEndPoint(source, 0));
            if (s.Password is { Length: > 0 } password) TcpMd5.Apply(socket, s.PeerAddress, password);
            using var timeout = new CancellationTokenSource(s.ConnectTimeout, time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancel, timeout.Token);
            try { await socket.ConnectAsync(new IPEndPoint(s.PeerAddress, s.Port), either.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                throw new BgpConnectException($"no TCP answer from {s.PeerAddress}:{s.Port} within {s.ConnectTimeout.TotalSeconds:F0} s" +
                    (s.Password is null ? ": the peer is unreachable or drops the connection"
                        : ": the peer is unreachable, or the TCP MD5 passwords differ (a mismatch makes connect hang silently)"));
            }
            var local = ((IPEndPoint)socket.LocalEndPoint!).Address;
            (IPAddress? V4, IPAddress? V6) hops = default;
            InNamespace(s, () => hops = NextHops(local));
            return new BgpTransport(socket, local,
                hops.V4 ?? (s.SourceAddress?.AddressFamily == AddressFamily.InterNetwork ? s.SourceAddress : null), hops.V6);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    static string Describe(BgpPeerSettings s, SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => $"{s.PeerAddress}:{s.Port} refused the TCP connection: nothing listens there, or the router does not accept this peer",
        SocketError.NetworkUnreachable or SocketError.HostUnreachable => $"{s.PeerAddress} is unreachable from here ({e.Message})",
        SocketError.AddressNotAvailable => $"source-address {s.SourceAddress} is not an address of this computer",
        _ => $"cannot connect to {s.PeerAddress}:{s.Port}: {e.Message}",
    };

    static void InNamespace(BgpPeerSettings s, Action work)
    {
        if (s.InNetworkNamespace is { } run) run(work); else work();
    }

    /// <summary>
    /// The other family's address on the interface that carries the session: IPv6 routes over an IPv4
    /// session need an IPv6 next hop the peer can reach (an IPv4-mapped one is refused), and vice versa.
    /// </summary>
    static (IPAddress? V4, IPAddress? V6) NextHops(IPAddress local)
    {
        var nic = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .FirstOrDefault(n => n.GetIPProperties().UnicastAddresses.Any(u => u.Address.Equals(local)));
        var addresses = nic?.GetIPProperties().UnicastAddresses.Select(u => u.Address).ToList() ?? new List<IPAddress>();
        var v4 = local.AddressFamily == AddressFamily.InterNetwork ? local : addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork);
        var v6 = local.AddressFamily == AddressFamily.InterNetworkV6 ? local
            : addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6 && !a.IsIPv6LinkLocal);
        return (v4, v6 is null ? null : new IPAddress(v6.GetAddressBytes()));
    }

    /// <summary>
    /// The next message, or the framer's error for a malformed one; (null, null) when the peer closed the connection.
    /// Throws IOException/SocketException when it broke.
    /// </summary>
    public async Task<(BgpMessage? Message, BgpError? Error)> ReceiveAsync(CancellationToken cancel)
    {
        while (true)
        {
            if (_framer.TryRead(_options, out var message, out var error)) return (message, error);
            int read = await _stream.ReadAsync(_buffer, cancel).ConfigureAwait(false);
            if (read == 0) return (null, null);
            _framer.Append(_buffer.AsSpan(0, read));
        }
    }

    /// <summary>Writes the messages in one go: fewer segments, and the peer reads them together.</summary>
    public async Task WriteAsync(IReadOnlyList<byte[]> messages, CancellationToken cancel)
    {
        if (messages.Count == 0) return;
        var batch = new byte[messages.Sum(m => m.Length)];
        int offset = 0;
        foreach (var m in messages) { m.CopyTo(batch, offset); offset += m.Length; }
        await _stream.WriteAsync(batch, cancel).ConfigureAwait(false);
    }

    /// <summary>Half-closes: the peer reads what was sent (a NOTIFICATION), then sees the end.</summary>
    public void ShutdownSend()
    {
        try { _socket.Shutdown(SocketShutdown.Send); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _socket.Dispose();
    }
}
