using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Engine.Runtime.Bgp;

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
    /// <summary>The catalogued id of <see cref="LastError"/>: BgpConnectFailed, BgpOpenRefused, BgpSessionFailed, BgpMd5Unsupported or InternalError.</summary>
    public ErrorId? LastErrorId { get; init; }
    /// <summary>While waiting to reconnect: how long the back-off is.</summary>
    public TimeSpan? RetryIn { get; init; }
}

/// <summary>Why a session ended or could not start: raised as <see cref="BgpSession.Failed"/> and kept in the stats.</summary>
public sealed record BgpSessionFailure(ErrorId Id, string Message, BgpSessionState ReachedState);

/// <summary>
/// One BGP session as an active announcer. It dials out (never listens) through a <see cref="BgpTransport"/>, lets a
/// <see cref="BgpFsm"/> decide every step, and keeps an <see cref="AdjRibOut"/> in step with the wanted routes: only the
/// difference is sent, packed into as few UPDATEs as fit. Whatever the session waits for (messages, timers, route
/// changes, stop) arrives in one inbox read by one loop, so the state machine sees one input at a time. Reconnects back
/// off exponentially and do not reset for a session that fails right after OPEN; stopping sends Cease (administrative
/// shutdown). Time comes from a <see cref="TimeProvider"/>. Nothing escapes <see cref="StartAsync"/>: every failure
/// becomes state (<see cref="Stats"/>) and an event (<see cref="Failed"/>), and the session tries again.
/// </summary>
public sealed class BgpSession : IAsyncDisposable
{
    static readonly TimeSpan CeaseTimeout = TimeSpan.FromSeconds(2);

    readonly BgpPeerSettings _s;
    readonly Action<string>? _log;
    readonly TimeProvider _time;
    readonly AdjRibOut _rib = new();
    readonly object _gate = new();
    readonly CancellationTokenSource _stop = new();
    string? _stopMessage;
    Task? _run;
    ChannelWriter<Signal>? _inbox;
    int _routesDirty;
    volatile BgpSessionState _state;
    BgpSessionStats _stats = new();

    public BgpSession(BgpPeerSettings settings, Action<string>? log = null, TimeProvider? time = null)
    {
        _s = settings;
        _log = log;
        _time = time ?? TimeProvider.System;
    }

    public BgpPeerSettings Settings => _s;
    public BgpSessionState State => _state;
    public BgpSessionStats Stats { get { lock (_gate) return _stats with { State = _state }; } }

    /// <summary>Raised on every state change. Handlers must be quick; what they throw is ignored.</summary>
    public event Action<BgpSessionState>? StateChanged;

    /// <summary>Raised when a connection attempt or an established session ends for a reason worth reporting.</summary>
    public event Action<BgpSessionFailure>? Failed;

    // ---- desired state ------------------------------------------------------------------------------

    public void Advertise(BgpRoute route) { _rib.Advertise(route); RoutesChanged(); }
    public void Withdraw(BgpPrefix prefix) { _rib.Withdraw(prefix); RoutesChanged(); }
    public void SetRoutes(IEnumerable<BgpRoute> routes) { _rib.SetRoutes(routes); RoutesChanged(); }

    /// <summary>Wakes the connection's loop once however many changes come in before it syncs.</summary>
    void RoutesChanged()
    {
        if (Interlocked.Exchange(ref _routesDirty, 1) == 0) Volatile.Read(ref _inbox)?.TryWrite(new Signal.Routes());
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
        TimeSpan? backoff = null;
        while (!_stop.IsCancellationRequested)
        {
            var established = await ConnectAndServeAsync(null, _stop.Token).ConfigureAwait(false);
            if (_stop.IsCancellationRequested) break;
            // A session that reached Established (a router restarted, a link came back) starts over at the shortest wait,
            // which still keeps a flapping peer to one attempt a MinBackoff; one that never got there (a peer refusing us) doubles it.
            backoff = backoff is null || established > TimeSpan.Zero ? _s.MinBackoff
                : TimeSpan.FromTicks(Math.Min(_s.MaxBackoff.Ticks, backoff.Value.Ticks * 2));
            var wait = TimeSpan.FromTicks((long)(backoff.Value.Ticks * (0.75 + Random.Shared.NextDouble() * 0.25)));
            // The timer starts before the wait is shown, so whoever sees RetryIn can count on it (tests move a fake clock by it).
            var delay = Task.Delay(wait, _time, _stop.Token);
            Update(s => s with { RetryIn = wait });
            _log?.Invoke($"{_s}: reconnecting in {wait.TotalSeconds:F1} s");
            try { await delay.ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>
    /// One attempt, for Test-LbBgpPeer: connect, and once Established run <paramref name="whileEstablished"/>
    /// (e.g. announce, wait, withdraw), then close with Cease. Returns the session's stats; never throws.
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
        try { StateChanged?.Invoke(state); }
        catch (Exception) { /* a subscriber must not break the session */ }
    }

    void Update(Func<BgpSessionStats, BgpSessionStats> f) { lock (_gate) _stats = f(_stats); }

    void Report(ErrorId id, string message, BgpSessionState reached)
    {
        Update(s => s with { LastError = message, LastErrorId = id });
        _log?.Invoke($"{_s}: {message}");
        try { Failed?.Invoke(new BgpSessionFailure(id, message, reached)); }
        catch (Exception) { /* a subscriber must not break the session */ }
    }

    void UpdateCounts()
    {
        int sent = _rib.SentCount, pending = _rib.PendingCount;
        Update(s => s with { PrefixesAdvertised = sent, PendingPrefixes = pending });
    }

    // ---- one connection ----------------------------------------------------------------------------

    /// <summary>Everything one connection's loop waits for.</summary>
    abstract record Signal
    {
        public sealed record Message(BgpMessage Value) : Signal;
        public sealed record Malformed(BgpError Error) : Signal;
        public sealed record TransportEnded(Exception? Error) : Signal;
        public sealed record Timer(BgpTimer Which, long Generation) : Signal;
        public sealed record Routes : Signal;
        public sealed record WorkDone : Signal;
    }

    /// <summary>The FSM's timers on the session's clock; an expiry is a signal, and a re-armed timer's stale expiry is ignored.</summary>
    sealed class Timers(TimeProvider time, ChannelWriter<Signal> inbox) : IDisposable
    {
        readonly ITimer?[] _timers = new ITimer?[2];
        readonly long[] _generation = new long[2];

        public void Arm(BgpTimer which, TimeSpan due)
        {
            int i = (int)which;
            _timers[i]?.Dispose();
            _timers[i] = null;
            long generation = ++_generation[i];
            if (due == Timeout.InfiniteTimeSpan) return;
            _timers[i] = time.CreateTimer(_ => inbox.TryWrite(new Signal.Timer(which, generation)), null, due, Timeout.InfiniteTimeSpan);
        }

        public bool IsCurrent(Signal.Timer t) => _generation[(int)t.Which] == t.Generation;

        public void Dispose()
        {
            foreach (var t in _timers) t?.Dispose();
        }
    }

    /// <summary>Connects and serves until the session ends; returns how long it was Established. Never throws.</summary>
    async Task<TimeSpan> ConnectAndServeAsync(Func<CancellationToken, Task>? work, CancellationToken cancel)
    {
        _connectStarted = _time.GetTimestamp();
        long establishedAt = 0;
        var reached = BgpSessionState.Connect;
        var fsm = new BgpFsm(_s);
        var inbox = Channel.CreateUnbounded<Signal>(new UnboundedChannelOptions { SingleReader = true });
        using var timers = new Timers(_time, inbox.Writer);
        using var connection = new CancellationTokenSource();
        BgpTransport? transport = null;
        CancellationTokenSource? cease = null;
        Task reader = Task.CompletedTask;
        Update(s => s with { Connects = s.Connects + 1, TcpConnected = false, LastNotificationReceived = null, RetryIn = null });
        SetState(BgpSessionState.Connect);
        try
        {
            transport = await BgpTransport.ConnectAsync(_s, _time, cancel).ConfigureAwait(false);
            Update(s => s with { TcpConnected = true, LocalAddress = transport.Local });
            Volatile.Write(ref _inbox, inbox.Writer);
            var t = transport;
            reader = Task.Run(() => ReadLoopAsync(t, inbox.Writer, connection.Token));
            var actions = fsm.Connected(t.Local);
            var token = connection.Token;
            while (true)
            {
                var close = await ExecuteAsync(t, fsm, timers, actions, token).ConfigureAwait(false);
                if (fsm.State > reached) reached = fsm.State;
                if (reached == BgpSessionState.Established && establishedAt == 0)
                {
                    establishedAt = _time.GetTimestamp();
                    if (work is not null) _ = RunWorkAsync(work, inbox.Writer, connection.Token);
                }
                if (close is not null)
                {
                    if (close.Failure) Report(reached == BgpSessionState.Established ? ErrorId.BgpSessionFailed : ErrorId.BgpOpenRefused, close.Reason, reached);
                    break;
                }
                SetState(fsm.State);

                Signal next;
                try { next = await inbox.Reader.ReadAsync(cancel).ConfigureAwait(false); }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested)
                {
                    // Stopping: the Cease still goes out, within a short time of its own.
                    cease = new CancellationTokenSource(CeaseTimeout, _time);
                    token = cease.Token;
                    actions = fsm.Stop(_stopMessage);
                    continue;
                }
                if (next is Signal.Routes)
                {
                    if (fsm.State == BgpSessionState.Established) await SyncAsync(t, fsm.Negotiated!, endOfRib: false, token).ConfigureAwait(false);
                    actions = [];
                    continue;
                }
                actions = next switch
                {
                    Signal.Message m => Received(fsm, m.Value),
                    Signal.Malformed m => fsm.Malformed(m.Error),
                    Signal.TransportEnded { Error: null } => fsm.TransportEnded("the peer closed the TCP connection"),
                    Signal.TransportEnded e => fsm.TransportEnded($"the connection broke: {e.Error.Message}"),
                    Signal.Timer timer when timers.IsCurrent(timer) => fsm.TimerExpired(timer.Which),
                    Signal.WorkDone => fsm.Stop(_stopMessage),
                    _ => [],
                };
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested) { }
        catch (BgpConnectException e) { Report(ErrorId.BgpConnectFailed, e.Message, reached); }
        catch (LbException e) { Report(e.Id, e.Message, reached); }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Report(reached == BgpSessionState.Established ? ErrorId.BgpSessionFailed : ErrorId.BgpOpenRefused, $"the connection broke: {e.Message}", reached);
        }
        catch (Exception e)
        {
            // A bug here must not end a speaker's sessions for good: it is reported and the session tries again.
            Report(ErrorId.InternalError, $"the session failed unexpectedly: {e.GetType().Name}: {e.Message}", reached);
        }
        finally
        {
            Volatile.Write(ref _inbox, null);
            connection.Cancel();
            cease?.Dispose();
            if (transport is not null)
            {
                transport.ShutdownSend();
                transport.Dispose();
            }
            try { await reader.ConfigureAwait(false); } catch (Exception) { /* ended with the connection */ }
            _rib.SessionEnded();
            UpdateCounts();
            SetState(BgpSessionState.Idle);
        }
        return establishedAt == 0 ? TimeSpan.Zero : _time.GetElapsedTime(establishedAt);

        IReadOnlyList<BgpFsmAction> Received(BgpFsm fsm, BgpMessage message)
        {
            var actions = fsm.Received(message);
            Update(s => s with { MessagesReceived = s.MessagesReceived + 1, LastNotificationReceived = fsm.NotificationReceived ?? s.LastNotificationReceived });
            return actions;
        }
    }

    /// <summary>Test-LbBgpPeer's work while Established; when it ends, the session stops.</summary>
    static async Task RunWorkAsync(Func<CancellationToken, Task> work, ChannelWriter<Signal> inbox, CancellationToken cancel)
    {
        try { await Task.Run(() => work(cancel), cancel).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        finally { inbox.TryWrite(new Signal.WorkDone()); }
    }

    /// <summary>Hands every message the peer sends to the loop, in order, until the connection ends.</summary>
    static async Task ReadLoopAsync(BgpTransport transport, ChannelWriter<Signal> inbox, CancellationToken cancel)
    {
        try
        {
            while (true)
            {
                var (message, error) = await transport.ReceiveAsync(cancel).ConfigureAwait(false);
                if (error is not null) { inbox.TryWrite(new Signal.Malformed(error)); return; }
                if (message is null) { inbox.TryWrite(new Signal.TransportEnded(null)); return; }
                inbox.TryWrite(new Signal.Message(message));
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested) { }
        catch (Exception e) { inbox.TryWrite(new Signal.TransportEnded(e)); }
    }

    /// <summary>Does what the FSM decided, in order; returns its Close when the session is over.</summary>
    async Task<BgpFsmAction.Close?> ExecuteAsync(BgpTransport t, BgpFsm fsm, Timers timers, IReadOnlyList<BgpFsmAction> actions, CancellationToken cancel)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case BgpFsmAction.Send send:
                    await WriteAsync(t, [BgpMessage.Encode(send.Message, t.Options)], send.Message is BgpUpdate ? 1 : 0, cancel).ConfigureAwait(false);
                    break;
                case BgpFsmAction.Arm arm:
                    timers.Arm(arm.Timer, arm.Timer == BgpTimer.Keepalive ? Jittered(arm.Duration) : arm.Duration);
                    break;
                case BgpFsmAction.Negotiate n:
                    t.Options = n.Result.Options;
                    var open = n.Result.PeerOpen;
                    Update(s => s with
                    {
                        PeerRouterId = open.BgpIdentifier, NegotiatedHoldTime = n.Result.HoldTime, FourOctetAs = open.SupportsFourOctetAs,
                        IPv4 = n.Result.IPv4, IPv6 = n.Result.IPv6, RouteRefresh = open.SupportsRouteRefresh, GracefulRestart = open.SupportsGracefulRestart,
                        PeerCapabilities = open.Capabilities.Select(x => x.ToString() ?? "").ToList(),
                    });
                    break;
                case BgpFsmAction.SendRib:
                    Update(s => s with { TimeToEstablished = _time.GetElapsedTime(_connectStarted), EstablishedAt = _time.GetUtcNow(), LastError = null, LastErrorId = null });
                    SetState(BgpSessionState.Established);
                    await SyncAsync(t, fsm.Negotiated!, endOfRib: true, cancel).ConfigureAwait(false);
                    break;
                case BgpFsmAction.Resend r:
                    await WriteAsync(t, Pack(t, _rib.SentRoutes(ipv6: r.Afi == BgpFamily.AfiIPv6), []), 0, cancel).ConfigureAwait(false);
                    break;
                case BgpFsmAction.Close close:
                    return close;
            }
        }
        return null;
    }

    /// <summary>When the current connection attempt began (for TimeToEstablished).</summary>
    long _connectStarted;

    /// <summary>A keepalive interval shortened by up to a quarter, at least 1 s, so sessions started together do not send in step.</summary>
    static TimeSpan Jittered(TimeSpan interval) => interval == Timeout.InfiniteTimeSpan ? interval
        : TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, (long)(interval.Ticks * (0.75 + Random.Shared.NextDouble() * 0.25))));

    async Task WriteAsync(BgpTransport t, IReadOnlyList<byte[]> messages, int updates, CancellationToken cancel)
    {
        if (messages.Count == 0) return;
        await t.WriteAsync(messages, cancel).ConfigureAwait(false);
        Update(s => s with { MessagesSent = s.MessagesSent + messages.Count, UpdatesSent = s.UpdatesSent + updates });
    }

    // ---- Established -------------------------------------------------------------------------------

    /// <summary>Sends what changed between the wanted routes and the Adj-RIB-Out (all of it on the first call, then End-of-RIB).</summary>
    async Task SyncAsync(BgpTransport t, BgpNegotiated n, bool endOfRib, CancellationToken cancel)
    {
        Interlocked.Exchange(ref _routesDirty, 0);
        // A family goes out only where it was negotiated and a next hop of that family exists.
        bool Carried(BgpPrefix p) => p.IsIPv6 ? n.IPv6 && t.NextHopV6 is not null : n.IPv4 && t.NextHopV4 is not null;
        var (announce, withdraw) = _rib.Difference(Carried);
        if (n.IPv6 && t.NextHopV6 is null && _rib.AnyWanted(p => p.IsIPv6))
            Update(s => s with { LastError = "IPv6 routes are not announced: the interface of this IPv4 session has no global IPv6 address to use as next hop" });
        var messages = Pack(t, announce, withdraw);
        if (endOfRib)
        {
            if (n.IPv4) messages.Add(BgpMessage.Encode(BgpUpdate.EndOfRibIPv4, t.Options));
            if (n.IPv6) messages.Add(BgpMessage.Encode(BgpUpdate.EndOfRibIPv6, t.Options));
        }
        await WriteAsync(t, messages, messages.Count, cancel).ConfigureAwait(false);
        _rib.Sent(announce, withdraw);
        UpdateCounts();
    }

    /// <summary>
    /// UPDATEs for these routes, one packing per set of identical attributes and per family; withdrawals ride with the
    /// first. IPv4 and IPv6 never share an UPDATE: FRR applies an MP_REACH next hop to the classic NLRI beside it, so an
    /// IPv4 route would arrive with the IPv6 next hop (seen in the speaker's lab).
    /// </summary>
    List<byte[]> Pack(BgpTransport t, List<BgpRoute> announce, List<BgpPrefix> withdraw)
    {
        var groups = announce.GroupBy(r => (r.AttributeKey, r.Prefix.IsIPv6)).ToList();
        if (groups.Count == 0)
            return withdraw.Count == 0 ? [] : BgpUpdatePacker.Pack([], Attributes(t, null), withdraw, t.Options);
        var messages = new List<byte[]>();
        bool first = true;
        foreach (var g in groups)
        {
            messages.AddRange(BgpUpdatePacker.Pack(g.Select(r => r.Prefix).ToList(), Attributes(t, g.First()), first ? withdraw : [], t.Options));
            first = false;
        }
        return messages;
    }

    PathAttributes Attributes(BgpTransport t, BgpRoute? route) => new()
    {
        Origin = BgpOrigin.Incomplete,
        AsPath = _s.IsIbgp ? [] : [AsPathSegment.Sequence(_s.MyAsn)],
        NextHop = t.NextHopV4,
        NextHopIPv6 = t.NextHopV6,
        LocalPref = _s.IsIbgp ? route?.LocalPref ?? 100 : null,
        Communities = route?.CommunityList ?? [],
        LargeCommunities = route?.LargeCommunityList ?? [],
    };
}
