using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Engine.Runtime.Bgp;

public enum BgpSessionState { Idle, Connect, OpenSent, OpenConfirm, Established }

/// <summary>A snapshot of a session, for cmdlets and metrics.</summary>
public sealed record BgpSessionStats
{
    public BgpSessionState State { get; init; }
    public bool TcpConnected { get; init; }
    public IPAddress? LocalAddress { get; init; }
    public IPAddress? PeerRouterId { get; init; }
    public IReadOnlyList<string> PeerCapabilities { get; init; } = Array.Empty<string>();
    public ushort? NegotiatedHoldTime { get; init; }
    public bool FourOctetAs { get; init; }
    public bool IPv4 { get; init; }
    public bool IPv6 { get; init; }
    public bool RouteRefresh { get; init; }
    public bool GracefulRestart { get; init; }
    public long MessagesSent { get; init; }
    public long MessagesReceived { get; init; }
    public long UpdatesSent { get; init; }
    public int PrefixesAdvertised { get; init; }
    public int PendingPrefixes { get; init; }
    public int Connects { get; init; }
    public TimeSpan? TimeToEstablished { get; init; }
    public DateTimeOffset? EstablishedAt { get; init; }
    /// <summary>The NOTIFICATION the peer sent last, in words.</summary>
    public string? LastNotificationReceived { get; init; }
    public string? LastError { get; init; }
}

/// <summary>
/// One BGP session as an active announcer (RFC 4271 FSM: Idle → Connect → OpenSent → OpenConfirm →
/// Established). It dials out (never listens), enforces the hold timer on what it receives, sends
/// keepalives with jitter, and keeps an Adj-RIB-Out: the wanted routes are desired state, and only the
/// difference is sent, packed into as few UPDATEs as fit. Reconnects back off exponentially and do not
/// reset on a session that fails right after OPEN. Stopping sends Cease (administrative shutdown).
/// </summary>
public sealed class BgpSession : IAsyncDisposable
{
    static readonly TimeSpan OpenSentHold = TimeSpan.FromSeconds(240);
    static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(30);
    const ushort GracefulRestartTime = 120;

    readonly BgpPeerSettings _s;
    readonly Action<string>? _log;
    readonly object _gate = new();
    readonly Dictionary<BgpPrefix, BgpRoute> _desired = new();
    readonly Dictionary<BgpPrefix, BgpRoute> _ribOut = new();
    readonly SemaphoreSlim _changed = new(0, 1);
    readonly CancellationTokenSource _stop = new();
    string? _stopMessage;
    Task? _run;

    // Observable state (written by the session task, read by anyone).
    volatile BgpSessionState _state;
    BgpSessionStats _stats = new();

    public BgpSession(BgpPeerSettings settings, Action<string>? log = null)
    {
        _s = settings;
        _log = log;
    }

    public BgpPeerSettings Settings => _s;
    public BgpSessionState State => _state;
    public BgpSessionStats Stats => _stats with { State = _state };
    public event Action<BgpSessionState>? StateChanged;

    // ---- desired state ------------------------------------------------------------------------------

    public void Advertise(BgpRoute route) => Change(() => _desired[route.Prefix] = route);
    public void Withdraw(BgpPrefix prefix) => Change(() => _desired.Remove(prefix));
    public void SetRoutes(IEnumerable<BgpRoute> routes) => Change(() =>
    {
        _desired.Clear();
        foreach (var r in routes) _desired[r.Prefix] = r;
    });

    void Change(Action change)
    {
        lock (_gate) change();
        try { _changed.Release(); } catch (SemaphoreFullException) { }
    }

    // ---- lifecycle ---------------------------------------------------------------------------------

    /// <summary>Runs the session until <see cref="StopAsync"/>: connects, serves, and reconnects with back-off.</summary>
    public Task StartAsync()
    {
        _run ??= Task.Run(RunAsync);
        return Task.CompletedTask;
    }

    async Task RunAsync()
    {
        var backoff = _s.MinBackoff;
        while (!_stop.IsCancellationRequested)
        {
            var (established, _) = await ConnectAndServeAsync(null, _stop.Token).ConfigureAwait(false);
            if (_stop.IsCancellationRequested) break;
            // A session that stayed up resets the back-off; one that died at once (a peer refusing us) does not.
            backoff = established >= StableAfter ? _s.MinBackoff : TimeSpan.FromTicks(Math.Min(_s.MaxBackoff.Ticks, backoff.Ticks * 2));
            var wait = TimeSpan.FromTicks((long)(backoff.Ticks * (0.75 + Random.Shared.NextDouble() * 0.25)));
            _log?.Invoke($"{_s}: reconnecting in {wait.TotalSeconds:F1} s");
            try { await Task.Delay(wait, _stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>
    /// One attempt, for Test-LbBgpPeer: connect, and once Established run <paramref name="whileEstablished"/>
    /// (e.g. announce, wait, withdraw), then close with Cease. Returns the session's stats.
    /// </summary>
    public async Task<BgpSessionStats> TryOnceAsync(Func<CancellationToken, Task>? whileEstablished, string? ceaseMessage, CancellationToken cancel)
    {
        _stopMessage = ceaseMessage;
        await ConnectAndServeAsync(whileEstablished ?? (_ => Task.CompletedTask), cancel).ConfigureAwait(false);
        return Stats;
    }

    /// <summary>Closes the session with NOTIFICATION Cease/administrative shutdown (RFC 8203 message).</summary>
    public async Task StopAsync(string? message = null)
    {
        _stopMessage = message;
        _stop.Cancel();
        if (_run is not null) await _run.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(_stopMessage).ConfigureAwait(false);
        _stop.Dispose();
    }

    void SetState(BgpSessionState state)
    {
        if (_state == state) return;
        _state = state;
        _log?.Invoke($"{_s}: {state}");
        StateChanged?.Invoke(state);
    }

    void Update(Func<BgpSessionStats, BgpSessionStats> f) { lock (_gate) _stats = f(_stats); }

    // ---- one connection ----------------------------------------------------------------------------

    sealed class Connection(Socket socket, NetworkStream stream)
    {
        public readonly Socket Socket = socket;
        public readonly NetworkStream Stream = stream;
        public readonly BgpFramer Framer = new();
        public readonly SemaphoreSlim WriteLock = new(1, 1);
        public BgpEncodeOptions Options;
        public bool V4 = true, V6;
        public IPAddress Local = IPAddress.None;
        /// <summary>Next hops for each family: the session's own address, or another address of the same interface.</summary>
        public IPAddress? NextHopV4, NextHopV6;
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

    /// <summary>Connects and serves until the session ends; returns how long it was Established.</summary>
    async Task<(TimeSpan Established, bool Ok)> ConnectAndServeAsync(Func<CancellationToken, Task>? once, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        Update(s => s with { Connects = s.Connects + 1, TcpConnected = false, LastNotificationReceived = null });
        SetState(BgpSessionState.Connect);
        Connection? c = null;
        var establishedAt = TimeSpan.Zero;
        try
        {
            c = await ConnectAsync(cancel).ConfigureAwait(false);
            Update(s => s with { TcpConnected = true, LocalAddress = c.Local });

            var routerId = _s.RouterId ?? (c.Local.AddressFamily == AddressFamily.InterNetwork ? c.Local : null)
                ?? throw Fail("an IPv6 session needs a router-id (an IPv4-shaped BGP identifier): set router-id for this peer");
            ushort hold = (ushort)_s.HoldTime.TotalSeconds;
            var open = BgpOpen.Create(_s.MyAsn, hold, routerId, new BgpCapability[]
            {
                BgpCapability.Multiprotocol.IPv4Unicast, BgpCapability.Multiprotocol.IPv6Unicast,
                new BgpCapability.RouteRefresh(), new BgpCapability.FourOctetAs(_s.MyAsn),
                new BgpCapability.GracefulRestart(0, GracefulRestartTime),
            });
            await SendAsync(c, open, cancel).ConfigureAwait(false);
            SetState(BgpSessionState.OpenSent);

            var peerOpen = await ReceiveAsync(c, OpenSentHold, cancel).ConfigureAwait(false) switch
            {
                BgpOpen o => o,
                var other => throw await UnexpectedAsync(c, other, BgpErrorCode.FsmUnexpectedInOpenSent, cancel).ConfigureAwait(false),
            };
            if (BgpMessage.ValidateOpen(peerOpen, _s.PeerAsn, hold) is { } openError)
            {
                await NotifyAsync(c, new BgpNotification(openError.Code, openError.Subcode, openError.Data), cancel).ConfigureAwait(false);
                throw Fail($"the peer's OPEN is not acceptable: {openError.Description}");
            }
            c.Options = new BgpEncodeOptions { FourOctetAs = peerOpen.SupportsFourOctetAs };
            bool hasMp = peerOpen.Capabilities.Any(x => x is BgpCapability.Multiprotocol);
            c.V4 = !hasMp || peerOpen.SupportsFamily(BgpFamily.AfiIPv4, BgpFamily.SafiUnicast);
            c.V6 = peerOpen.SupportsFamily(BgpFamily.AfiIPv6, BgpFamily.SafiUnicast);
            ushort negotiated = BgpMessage.NegotiatedHoldTime(peerOpen, hold);
            Update(s => s with
            {
                PeerRouterId = peerOpen.BgpIdentifier, NegotiatedHoldTime = negotiated, FourOctetAs = peerOpen.SupportsFourOctetAs,
                IPv4 = c.V4, IPv6 = c.V6, RouteRefresh = peerOpen.SupportsRouteRefresh, GracefulRestart = peerOpen.SupportsGracefulRestart,
                PeerCapabilities = peerOpen.Capabilities.Select(x => x.ToString() ?? "").ToList(),
            });

            await SendAsync(c, BgpKeepalive.Instance, cancel).ConfigureAwait(false);
            SetState(BgpSessionState.OpenConfirm);
            var holdTime = negotiated == 0 ? OpenSentHold : TimeSpan.FromSeconds(negotiated);
            switch (await ReceiveAsync(c, holdTime, cancel).ConfigureAwait(false))
            {
                case BgpKeepalive: break;
                case var other: throw await UnexpectedAsync(c, other, BgpErrorCode.FsmUnexpectedInOpenConfirm, cancel).ConfigureAwait(false);
            }
            establishedAt = clock.Elapsed;
            Update(s => s with { TimeToEstablished = clock.Elapsed, EstablishedAt = DateTimeOffset.UtcNow, LastError = null });
            SetState(BgpSessionState.Established);

            await ServeAsync(c, negotiated, once, cancel).ConfigureAwait(false);
            return (clock.Elapsed - establishedAt, true);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            if (c is not null && _state >= BgpSessionState.OpenSent)
                await NotifyQuietly(c, BgpNotification.Shutdown(_stopMessage)).ConfigureAwait(false);
            return (establishedAt == TimeSpan.Zero ? TimeSpan.Zero : clock.Elapsed - establishedAt, true);
        }
        catch (SessionEnded e)
        {
            Update(s => s with { LastError = e.Message });
            _log?.Invoke($"{_s}: {e.Message}");
            return (establishedAt == TimeSpan.Zero ? TimeSpan.Zero : clock.Elapsed - establishedAt, false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Update(s => s with { LastError = $"the connection broke: {e.Message}" });
            return (establishedAt == TimeSpan.Zero ? TimeSpan.Zero : clock.Elapsed - establishedAt, false);
        }
        finally
        {
            lock (_gate) _ribOut.Clear();
            Update(s => s with { PrefixesAdvertised = 0 });
            c?.Socket.Dispose();
            SetState(BgpSessionState.Idle);
        }
    }

    /// <summary>A session that ended for a reason worth reporting.</summary>
    sealed class SessionEnded(string message) : Exception(message);

    static SessionEnded Fail(string message) => new(message);

    /// <summary>
    /// Connects within the connect timeout. A refusal is retried inside that window: routers refuse for a
    /// moment after an error (BIRD's error wait, GoBGP's idle hold) and accept right after.
    /// </summary>
    async Task<Connection> ConnectAsync(CancellationToken cancel)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try { return await ConnectOnceAsync(cancel).ConfigureAwait(false); }
            catch (SessionEnded) when (_lastConnectRefused && deadline.Elapsed + TimeSpan.FromMilliseconds(250) < _s.ConnectTimeout)
            {
                await Task.Delay(250, cancel).ConfigureAwait(false);
            }
        }
    }

    bool _lastConnectRefused;

    async Task<Connection> ConnectOnceAsync(CancellationToken cancel)
    {
        _lastConnectRefused = false;
        Socket socket = null!;
        InNamespace(() => socket = new Socket(_s.PeerAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });
        try
        {
            if (_s.Ttl is { } ttl) socket.Ttl = (short)ttl;
            if (_s.SourceAddress is { } source) socket.Bind(new IPEndPoint(source, 0));
            if (_s.Password is { Length: > 0 } password) TcpMd5.Apply(socket, _s.PeerAddress, password);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(_s.ConnectTimeout);
            try { await socket.ConnectAsync(new IPEndPoint(_s.PeerAddress, _s.Port), timeout.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                throw Fail($"no TCP answer from {_s.PeerAddress}:{_s.Port} within {_s.ConnectTimeout.TotalSeconds:F0} s" +
                    (_s.Password is null ? ": the peer is unreachable or drops the connection" : ": the peer is unreachable, or the TCP MD5 passwords differ (a mismatch makes connect hang silently)"));
            }
            catch (SocketException e)
            {
                _lastConnectRefused = e.SocketErrorCode == SocketError.ConnectionRefused;
                throw Fail(e.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => $"{_s.PeerAddress}:{_s.Port} refused the TCP connection: nothing listens there, or the router does not accept this peer",
                    SocketError.NetworkUnreachable or SocketError.HostUnreachable => $"{_s.PeerAddress} is unreachable from here ({e.Message})",
                    SocketError.AddressNotAvailable => $"source-address {_s.SourceAddress} is not an address of this computer",
                    _ => $"cannot connect to {_s.PeerAddress}:{_s.Port}: {e.Message}",
                });
            }
            var local = ((IPEndPoint)socket.LocalEndPoint!).Address;
            (IPAddress? V4, IPAddress? V6) hops = default;
            InNamespace(() => hops = NextHops(local));
            var (v4, v6) = hops;
            return new Connection(socket, new NetworkStream(socket, ownsSocket: false))
            {
                Local = local,
                NextHopV4 = v4 ?? (_s.SourceAddress?.AddressFamily == AddressFamily.InterNetwork ? _s.SourceAddress : null),
                NextHopV6 = v6,
            };
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    void InNamespace(Action work)
    {
        if (_s.InNetworkNamespace is { } run) run(work); else work();
    }

    /// <summary>The next message; the hold timer runs while waiting. A NOTIFICATION from the peer ends the session.</summary>
    async Task<BgpMessage> ReceiveAsync(Connection c, TimeSpan hold, CancellationToken cancel)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timer.CancelAfter(hold);
        var buffer = new byte[8192];
        while (true)
        {
            if (c.Framer.TryRead(c.Options, out var message, out var error))
            {
                if (error is not null)
                {
                    await NotifyAsync(c, new BgpNotification(error.Code, error.Subcode, error.Data), cancel).ConfigureAwait(false);
                    throw Fail($"the peer sent a malformed message: {error.Description}");
                }
                Update(s => s with { MessagesReceived = s.MessagesReceived + 1 });
                if (message is BgpNotification n)
                {
                    Update(s => s with { LastNotificationReceived = n.Describe() });
                    throw Fail($"the peer closed the session: {n.Describe()}");
                }
                return message!;
            }
            int read;
            try { read = await c.Stream.ReadAsync(buffer, timer.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                await NotifyAsync(c, new BgpNotification(BgpErrorCode.HoldTimerExpired, 0), cancel).ConfigureAwait(false);
                throw Fail($"hold timer expired: nothing from the peer for {hold.TotalSeconds:F0} s");
            }
            if (read == 0) throw Fail("the peer closed the TCP connection");
            c.Framer.Append(buffer.AsSpan(0, read));
        }
    }

    async Task<Exception> UnexpectedAsync(Connection c, BgpMessage message, byte subcode, CancellationToken cancel)
    {
        await NotifyAsync(c, new BgpNotification(BgpErrorCode.Fsm, subcode), cancel).ConfigureAwait(false);
        return Fail($"unexpected {message.Type} in state {_state}");
    }

    async Task SendAsync(Connection c, BgpMessage message, CancellationToken cancel) =>
        await WriteAsync(c, new[] { BgpMessage.Encode(message, c.Options) }, cancel, updates: message is BgpUpdate ? 1 : 0).ConfigureAwait(false);

    async Task WriteAsync(Connection c, IReadOnlyList<byte[]> messages, CancellationToken cancel, int updates = 0)
    {
        if (messages.Count == 0) return;
        await c.WriteLock.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            // One write for many messages: fewer segments, and the peer reads them in one go.
            int total = messages.Sum(m => m.Length);
            var batch = new byte[total];
            int offset = 0;
            foreach (var m in messages) { m.CopyTo(batch, offset); offset += m.Length; }
            await c.Stream.WriteAsync(batch, cancel).ConfigureAwait(false);
        }
        finally { c.WriteLock.Release(); }
        Update(s => s with { MessagesSent = s.MessagesSent + messages.Count, UpdatesSent = s.UpdatesSent + updates });
    }

    async Task NotifyAsync(Connection c, BgpNotification n, CancellationToken cancel)
    {
        try { await SendAsync(c, n, cancel).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
    }

    async Task NotifyQuietly(Connection c, BgpNotification n)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await NotifyAsync(c, n, timeout.Token).ConfigureAwait(false);
        try { c.Socket.Shutdown(SocketShutdown.Send); } catch (SocketException) { } catch (ObjectDisposedException) { }
    }

    // ---- Established -------------------------------------------------------------------------------

    async Task ServeAsync(Connection c, ushort negotiatedHold, Func<CancellationToken, Task>? once, CancellationToken cancel)
    {
        using var session = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var inbox = Channel.CreateUnbounded<BgpMessage>();
        var hold = negotiatedHold == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(negotiatedHold);
        var keepalive = negotiatedHold == 0 ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromSeconds(Math.Max(1, Math.Min(_s.KeepaliveTime?.TotalSeconds ?? double.MaxValue, negotiatedHold / 3.0)));

        // The reader enforces the hold timer on what it receives and hands every message over.
        var reader = Task.Run(async () =>
        {
            try
            {
                while (true) await inbox.Writer.WriteAsync(await ReceiveAsync(c, hold == Timeout.InfiniteTimeSpan ? TimeSpan.FromDays(365) : hold, session.Token).ConfigureAwait(false), session.Token).ConfigureAwait(false);
            }
            catch (Exception e) { inbox.Writer.TryComplete(e); }
        });
        var keepaliveLoop = keepalive == Timeout.InfiniteTimeSpan ? Task.CompletedTask : Task.Run(async () =>
        {
            while (!session.IsCancellationRequested)
            {
                var jittered = TimeSpan.FromTicks((long)(keepalive.Ticks * (0.75 + Random.Shared.NextDouble() * 0.25)));
                await Task.Delay(TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, jittered.Ticks)), session.Token).ConfigureAwait(false);
                await SendAsync(c, BgpKeepalive.Instance, session.Token).ConfigureAwait(false);
            }
        });

        try
        {
            await SyncAsync(c, endOfRib: true, session.Token).ConfigureAwait(false);
            Task? onceTask = once is null ? null : Task.Run(() => once(session.Token));
            var changed = _changed.WaitAsync(session.Token);
            while (true)
            {
                var read = inbox.Reader.WaitToReadAsync(session.Token).AsTask();
                var done = await Task.WhenAny(read, changed, keepaliveLoop, onceTask ?? Task.Delay(Timeout.Infinite, session.Token)).ConfigureAwait(false);
                if (done == onceTask)
                {
                    await onceTask.ConfigureAwait(false);
                    await NotifyQuietly(c, BgpNotification.Shutdown(_stopMessage)).ConfigureAwait(false);
                    return;
                }
                if (done == keepaliveLoop) await keepaliveLoop.ConfigureAwait(false); // surfaces a write failure
                if (done == changed)
                {
                    await changed.ConfigureAwait(false);
                    await SyncAsync(c, endOfRib: false, session.Token).ConfigureAwait(false);
                    changed = _changed.WaitAsync(session.Token);
                    continue;
                }
                if (!await read.ConfigureAwait(false))
                {
                    await inbox.Reader.Completion.ConfigureAwait(false); // rethrows why the reader stopped
                    throw Fail("the connection ended");
                }
                while (inbox.Reader.TryRead(out var message))
                {
                    switch (message)
                    {
                        case BgpRouteRefresh rr:
                            await ResendAsync(c, rr.Afi, session.Token).ConfigureAwait(false);
                            break;
                        case BgpOpen:
                            throw await UnexpectedAsync(c, message, BgpErrorCode.FsmUnexpectedInEstablished, session.Token).ConfigureAwait(false);
                        // KEEPALIVE and UPDATE (peers echo routes back): already checked by the decoder, nothing to do.
                    }
                }
            }
        }
        finally
        {
            session.Cancel();
            try { await Task.WhenAll(reader, keepaliveLoop.ContinueWith(_ => { })).ConfigureAwait(false); } catch { /* ended with the session */ }
        }
    }

    /// <summary>Sends what changed between the wanted routes and the Adj-RIB-Out (all of it on the first call).</summary>
    async Task SyncAsync(Connection c, bool endOfRib, CancellationToken cancel)
    {
        List<BgpRoute> announce;
        List<BgpPrefix> withdraw;
        lock (_gate)
        {
            // A family goes out only where it was negotiated and a next hop of that family exists.
            var wanted = _desired.Values.Where(r => r.Prefix.IsIPv6 ? c.V6 && c.NextHopV6 is not null : c.V4 && c.NextHopV4 is not null)
                .ToDictionary(r => r.Prefix);
            if (_desired.Values.Any(r => r.Prefix.IsIPv6 && c.V6 && c.NextHopV6 is null))
                Update(s => s with { LastError = "IPv6 routes are not announced: the interface of this IPv4 session has no global IPv6 address to use as next hop" });
            withdraw = _ribOut.Keys.Where(p => !wanted.ContainsKey(p)).ToList();
            announce = wanted.Values.Where(r => !_ribOut.TryGetValue(r.Prefix, out var sent) || sent.AttributeKey != r.AttributeKey).ToList();
        }
        var messages = Pack(c, announce, withdraw);
        if (endOfRib)
        {
            if (c.V4) messages.Add(BgpMessage.Encode(BgpUpdate.EndOfRibIPv4, c.Options));
            if (c.V6) messages.Add(BgpMessage.Encode(BgpUpdate.EndOfRibIPv6, c.Options));
        }
        await WriteAsync(c, messages, cancel, updates: messages.Count).ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var p in withdraw) _ribOut.Remove(p);
            foreach (var r in announce) _ribOut[r.Prefix] = r;
            int pending = _desired.Count - _ribOut.Count;
            Update(s => s with { PrefixesAdvertised = _ribOut.Count, PendingPrefixes = Math.Max(0, pending) });
        }
    }

    /// <summary>ROUTE-REFRESH: everything of that family again.</summary>
    async Task ResendAsync(Connection c, ushort afi, CancellationToken cancel)
    {
        List<BgpRoute> routes;
        lock (_gate) routes = _ribOut.Values.Where(r => r.Prefix.IsIPv6 == (afi == BgpFamily.AfiIPv6)).ToList();
        await WriteAsync(c, Pack(c, routes, new List<BgpPrefix>()), cancel).ConfigureAwait(false);
    }

    /// <summary>UPDATEs for these routes, one packing per set of identical attributes; withdrawals ride with the first.</summary>
    List<byte[]> Pack(Connection c, List<BgpRoute> announce, List<BgpPrefix> withdraw)
    {
        var messages = new List<byte[]>();
        var groups = announce.GroupBy(r => r.AttributeKey).ToList();
        if (groups.Count == 0 && withdraw.Count > 0)
            return BgpUpdatePacker.Pack(Array.Empty<BgpPrefix>(), Attributes(c, null), withdraw, c.Options);
        bool first = true;
        foreach (var g in groups)
        {
            messages.AddRange(BgpUpdatePacker.Pack(g.Select(r => r.Prefix).ToList(), Attributes(c, g.First()), first ? withdraw : new List<BgpPrefix>(), c.Options));
            first = false;
        }
        return messages;
    }

    PathAttributes Attributes(Connection c, BgpRoute? route)
    {
        return new PathAttributes
        {
            Origin = BgpOrigin.Incomplete,
            AsPath = _s.IsIbgp ? Array.Empty<AsPathSegment>() : new[] { AsPathSegment.Sequence(_s.MyAsn) },
            NextHop = c.NextHopV4,
            NextHopIPv6 = c.NextHopV6,
            LocalPref = _s.IsIbgp ? route?.LocalPref ?? 100 : null,
            Communities = route?.CommunityList ?? Array.Empty<uint>(),
            LargeCommunities = route?.LargeCommunityList ?? Array.Empty<LargeCommunity>(),
        };
    }
}
