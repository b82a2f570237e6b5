using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using KonvoyLb.Engine.Net.Packets;

namespace KonvoyLb.Engine.Net.Probing;

public enum VipStatus { Free, Owned, Conflict, Reachable, Unreachable, NoRoute, Untested }

public enum TcpResult { Open, Refused, Timeout }

/// <summary>An address to probe, and the pool it comes from (if any).</summary>
public sealed record ProbeTarget(IPAddress Address, string? Pool);

public sealed record ProbeOptions
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Addresses probed at the same time.</summary>
    public int ThrottleLimit { get; init; } = 256;
    /// <summary>Packets sent per second at most, all probes together.</summary>
    public int MaxPacketsPerSecond { get; init; } = 1000;
    public int? TcpPort { get; init; }
}

/// <summary>What one address looked like from this computer.</summary>
public sealed class VipProbeResult
{
    public IPAddress Address { get; init; } = IPAddress.None;
    public string? Pool { get; init; }
    public string Source { get; init; } = Environment.MachineName;
    public string? Interface { get; init; }
    public RouteKind Route { get; init; }
    public IPAddress? Gateway { get; init; }
    public IPAddress? SourceAddress { get; init; }
    public IReadOnlyList<string> AnsweringMacs { get; init; } = Array.Empty<string>();
    /// <summary>The node whose MAC answered, when the answer came from a node of the inventory.</summary>
    public string? AnsweredByNode { get; init; }
    public bool? IcmpReply { get; init; }
    public double? RttMilliseconds { get; init; }
    public TcpResult? Tcp { get; init; }
    public VipStatus Status { get; init; }
    public string Advice { get; init; } = "";
}

/// <summary>
/// Probes addresses from this computer: route look-up through netlink, then in parallel an ARP probe
/// (RFC 5227: sender 0.0.0.0, so no neighbour cache learns anything) or an IPv6 Neighbor Solicitation
/// on the outgoing interface, an ICMP echo, and optionally a TCP connect. One receive loop per socket
/// collects every answer; each address waits one timeout from its own send, so N addresses take about
/// one timeout plus the pacing time, not N timeouts.
/// </summary>
public sealed class VipProber : IDisposable
{
    readonly ProbeOptions _options;
    readonly Netlink _netlink;
    readonly Socket? _icmp4, _icmp6;
    readonly Dictionary<int, PacketSocket> _arp = new();
    readonly Dictionary<int, LinkInfo?> _links = new();
    readonly ConcurrentDictionary<IPAddress, Pending> _pending = new();
    readonly ushort _echoId = (ushort)Random.Shared.Next(1, ushort.MaxValue);
    readonly CancellationTokenSource _stop = new();
    readonly List<Task> _loops = new();
    readonly SemaphoreSlim _sendLock = new(1, 1);
    long _nextSendTicks;

    /// <summary>Why link-layer and ICMP probes cannot run here (no root, no CAP_NET_RAW), or null.</summary>
    public string? RawSocketError { get; }

    sealed class Pending
    {
        public readonly ConcurrentDictionary<string, byte> Macs = new();
        public ushort Sequence;
        public long SentTicks;
        public double? Rtt;
    }

    /// <summary>A route and interface per target, decided before any packet goes out.</summary>
    public sealed record Plan(IReadOnlyList<(ProbeTarget Target, RouteInfo Route, LinkInfo? Link)> Items);

    /// <summary>Opens every socket on the calling thread, so they all belong to its network namespace.</summary>
    public VipProber(ProbeOptions options)
    {
        _options = options;
        try { _netlink = new Netlink(); }
        catch (IOException e)
        {
            throw LbErrors.ProbeFailed("asking the kernel for routes", null, e, "Test-LbVipReachability needs Linux and its rtnetlink socket.");
        }
        try
        {
            _icmp4 = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
            _icmp6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Raw, ProtocolType.IcmpV6);
            // Bound before the receive loops start: .NET refuses ReceiveFrom on an unbound socket.
            _icmp4.Bind(new IPEndPoint(IPAddress.Any, 0));
            _icmp6.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
            // Neighbor Discovery demands hop limit 255 (RFC 4861), or receivers drop the solicitation.
            _icmp6.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, 255);
            _icmp6.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.IpTimeToLive, 255);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied or SocketError.OperationNotSupported or SocketError.ProtocolNotSupported)
        {
            _icmp4?.Dispose();
            _icmp6?.Dispose();
            _icmp4 = _icmp6 = null;
            RawSocketError = "ARP/NDP and ICMP probes need raw sockets, which need root or the CAP_NET_RAW capability; " +
                "only the route checks ran. Run as root (sudo pwsh), or grant the capability to the program running PowerShell " +
                "(sudo setcap cap_net_raw+ep \"$(readlink -f $(command -v pwsh))\").";
        }
    }

    /// <summary>Looks up routes and interfaces and opens the ARP sockets needed (on the calling thread).</summary>
    public Plan Prepare(IEnumerable<ProbeTarget> targets)
    {
        var items = new List<(ProbeTarget, RouteInfo, LinkInfo?)>();
        foreach (var t in targets)
        {
            RouteInfo route;
            try { route = _netlink.GetRoute(t.Address); }
            catch (IOException e)
            {
                throw LbErrors.ProbeFailed($"the route look-up for {t.Address}", t.Address, e);
            }
            LinkInfo? link = null;
            if (route.InterfaceIndex > 0)
            {
                if (!_links.TryGetValue(route.InterfaceIndex, out link)) _links[route.InterfaceIndex] = link = _netlink.GetLink(route.InterfaceIndex);
                if (RawSocketError is null && link is { IsUp: true } && route.Kind == RouteKind.OnLink
                    && t.Address.AddressFamily == AddressFamily.InterNetwork && !_arp.ContainsKey(link.Index))
                    _arp[link.Index] = new PacketSocket(link.Index, Ethernet.TypeArp);
            }
            items.Add((t, route, link));
        }
        return new Plan(items);
    }

    /// <summary>What was seen for one address, before judging it.</summary>
    sealed record Observation(ProbeTarget Target, RouteInfo Route, LinkInfo? Link, Pending? Seen, TcpResult? Tcp, VipStatus? Early, string? EarlyAdvice);

    /// <summary>
    /// Probes every planned address in one round; results come in plan order, without the
    /// <paramref name="nodes"/>, which are probed only to learn their MACs (so that an answer from a node
    /// can be told from a foreign one). Cancel to stop at once.
    /// </summary>
    public async Task<VipProbeResult[]> RunAsync(Plan plan, IReadOnlySet<IPAddress> nodes, IProgress<int>? progress, CancellationToken cancel)
    {
        StartReceiveLoops();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel, _stop.Token);
        var throttle = new SemaphoreSlim(Math.Max(1, _options.ThrottleLimit));
        int done = 0;
        Observation[] observations;
        try
        {
            observations = await Task.WhenAll(plan.Items.Select(async (item, index) =>
            {
                await throttle.WaitAsync(linked.Token).ConfigureAwait(false);
                try { return await ProbeOne(item.Target, item.Route, item.Link, (ushort)index, linked.Token).ConfigureAwait(false); }
                finally
                {
                    throttle.Release();
                    progress?.Report(Interlocked.Increment(ref done));
                }
            })).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not (OperationCanceledException or LbException))
        {
            throw LbErrors.ProbeFailed("sending the probes", null, e);
        }

        if (_loopFailure is { } failure)
            throw LbErrors.ProbeFailed("listening for answers", null, failure);
        var nodeMacs = new Dictionary<string, string>();
        foreach (var o in observations.Where(o => nodes.Contains(o.Target.Address) && o.Seen is not null))
            foreach (var mac in o.Seen!.Macs.Keys) nodeMacs.TryAdd(mac, o.Target.Address.ToString());
        return observations.Where(o => !nodes.Contains(o.Target.Address))
            .Select(o => Judge(o, nodeMacs, inventoryKnown: nodes.Count > 0)).ToArray();
    }

    async Task<Observation> ProbeOne(ProbeTarget target, RouteInfo route, LinkInfo? link, ushort sequence, CancellationToken cancel)
    {
        Observation Early(VipStatus status, string advice) => new(target, route, link, null, null, status, advice);
        if (route.Kind == RouteKind.NoRoute)
            return Early(VipStatus.NoRoute, $"no route from this computer ({route.Reason}): add a route to the nodes' network, or announce the pool over BGP");
        if (route.Kind == RouteKind.Local)
            return Early(VipStatus.Owned, "this computer itself has this address");
        if (link is { IsUp: false })
            return Early(VipStatus.NoRoute, $"the route leaves through interface {link.Name}, which is down: bring it up");

        var pending = new Pending { Sequence = sequence };
        if (!_pending.TryAdd(target.Address, pending)) return Early(VipStatus.Untested, "the address was listed twice; probed once");
        try
        {
            Task<TcpResult?> tcp = _options.TcpPort is { } port ? ConnectAsync(target.Address, port, cancel) : Task.FromResult<TcpResult?>(null);
            if (RawSocketError is null)
            {
                try
                {
                    if (route.Kind == RouteKind.OnLink && link is not null) await SendLinkProbe(target.Address, link, cancel).ConfigureAwait(false);
                    await SendEcho(target.Address, pending, cancel).ConfigureAwait(false);
                }
                catch (SocketException e)
                {
                    // The kernel refuses some destinations outright (a subnet's broadcast address: EACCES).
                    return Early(VipStatus.Untested, $"the kernel refused to send a probe ({e.Message})" +
                        (e.SocketErrorCode == SocketError.AccessDenied ? ": it is a broadcast address, which no service can use" : ""));
                }
                await Task.Delay(_options.Timeout, cancel).ConfigureAwait(false);
            }
            return new Observation(target, route, link, pending, await tcp.ConfigureAwait(false), null, null);
        }
        finally { _pending.TryRemove(target.Address, out _); }
    }

    VipProbeResult Judge(Observation o, IReadOnlyDictionary<string, string> nodeMacs, bool inventoryKnown) =>
        VipJudgement.Judge(new VipEvidence(o.Target, o.Route, o.Link?.Name, o.Seen?.Macs.Keys.Order().ToList() ?? [],
            Probed: RawSocketError is null, o.Seen?.Rtt, o.Tcp, o.Early, o.EarlyAdvice, NotProbedReason: "no raw sockets"), nodeMacs, inventoryKnown);

    async Task SendLinkProbe(IPAddress address, LinkInfo link, CancellationToken cancel)
    {
        await PaceAsync(cancel).ConfigureAwait(false);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            if (_arp.TryGetValue(link.Index, out var socket))
                socket.Send(ArpPacket.Probe(link.Mac, address).ToFrame(Ethernet.Broadcast, link.Mac));
        }
        else
        {
            var group = Ndp.SolicitedNodeMulticast(address);
            var destination = new IPAddress(group.GetAddressBytes(), link.Index);
            await _icmp6!.SendToAsync(Ndp.Solicitation(address, link.Mac), SocketFlags.None, new IPEndPoint(destination, 0), cancel).ConfigureAwait(false);
        }
    }

    async Task SendEcho(IPAddress address, Pending p, CancellationToken cancel)
    {
        await PaceAsync(cancel).ConfigureAwait(false);
        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        var payload = BitConverter.GetBytes(Stopwatch.GetTimestamp());
        var packet = v6 ? Icmp.EchoRequestV6(_echoId, p.Sequence, payload) : Icmp.EchoRequestV4(_echoId, p.Sequence, payload);
        p.SentTicks = Stopwatch.GetTimestamp();
        await (v6 ? _icmp6! : _icmp4!).SendToAsync(packet, SocketFlags.None, new IPEndPoint(address, 0), cancel).ConfigureAwait(false);
    }

    async Task<TcpResult?> ConnectAsync(IPAddress address, int port, CancellationToken cancel)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            await socket.ConnectAsync(address, port, timeout.Token).ConfigureAwait(false);
            return TcpResult.Open;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused) { return TcpResult.Refused; }
        catch (SocketException) { return TcpResult.Timeout; }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { return TcpResult.Timeout; }
    }

    /// <summary>Spaces packets so that all probes together stay under MaxPacketsPerSecond.</summary>
    async Task PaceAsync(CancellationToken cancel)
    {
        long interval = Stopwatch.Frequency / Math.Max(1, _options.MaxPacketsPerSecond);
        long wait;
        await _sendLock.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            long now = Stopwatch.GetTimestamp();
            _nextSendTicks = Math.Max(_nextSendTicks + interval, now);
            wait = _nextSendTicks - now;
        }
        finally { _sendLock.Release(); }
        if (wait > Stopwatch.Frequency / 1000) await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), cancel).ConfigureAwait(false);
    }

    void StartReceiveLoops()
    {
        if (_loops.Count > 0 || RawSocketError is not null) return;
        foreach (var socket in _arp.Values) _loops.Add(Guard(() => ArpLoop(socket)));
        _loops.Add(Guard(() => IcmpLoop(_icmp4!, v6: false)));
        _loops.Add(Guard(() => IcmpLoop(_icmp6!, v6: true)));
    }

    volatile Exception? _loopFailure;

    /// <summary>
    /// A receive loop that dies would make every address look free: only a loop ended by
    /// <see cref="Dispose"/> ends quietly; any other end (a socket error, a socket closed under it)
    /// is remembered and fails the run.
    /// </summary>
    Task Guard(Func<Task> loop) => Task.Run(async () =>
    {
        try
        {
            await loop().ConfigureAwait(false);
            if (!_stop.IsCancellationRequested) _loopFailure ??= new IOException("a receive loop ended before the probes were done");
        }
        catch (Exception) when (_stop.IsCancellationRequested) { }
        catch (Exception e) { _loopFailure ??= e; }
    });

    /// <summary>For tests: closes the receive sockets under the running loops, as a failing socket would.</summary>
    internal void BreakReceiveSocketsForTest()
    {
        foreach (var s in _arp.Values) s.Dispose();
        _icmp4?.Dispose();
        _icmp6?.Dispose();
    }

    async Task ArpLoop(PacketSocket socket)
    {
        var buffer = new byte[2048];
        while (!_stop.IsCancellationRequested)
        {
            int n = await socket.ReceiveAsync(buffer, _stop.Token).ConfigureAwait(false);
            if (ArpPacket.TryParseFrame(buffer.AsSpan(0, n), out var arp) && arp.Operation == ArpPacket.Reply
                && _pending.TryGetValue(arp.SenderIp, out var p))
                p.Macs.TryAdd(FormatMac(arp.SenderMac), 0);
        }
    }

    async Task IcmpLoop(Socket socket, bool v6)
    {
        var buffer = new byte[4096];
        EndPoint any = new IPEndPoint(v6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
            long now = Stopwatch.GetTimestamp();
            var from = ((IPEndPoint)r.RemoteEndPoint).Address;
            ReadOnlySpan<byte> icmp = buffer.AsSpan(0, r.ReceivedBytes);
            if (!v6)
            {
                if (!Ipv4.TryReadHeader(icmp, out from, out _, out int offset, out int length)) continue;
                icmp = icmp.Slice(offset, length);
            }
            else if (from.IsIPv6LinkLocal || from.ScopeId != 0) from = new IPAddress(from.GetAddressBytes());
            if (v6 && Ndp.TryParseAdvertisement(icmp, out var na))
            {
                if (_pending.TryGetValue(na.Target, out var target) && na.TargetMac is { } mac) target.Macs.TryAdd(FormatMac(mac), 0);
                continue;
            }
            if (Icmp.TryParseEchoReply(icmp, v6, out ushort id, out ushort seq) && id == _echoId
                && _pending.TryGetValue(from, out var p) && p.Sequence == seq && p.Rtt is null)
                p.Rtt = (now - p.SentTicks) * 1000.0 / Stopwatch.Frequency;
        }
    }

    public static string FormatMac(PhysicalAddress mac) => string.Join(":", mac.GetAddressBytes().Select(b => b.ToString("x2")));

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var s in _arp.Values) s.Dispose();
        _icmp4?.Dispose();
        _icmp6?.Dispose();
        try { Task.WaitAll(_loops.ToArray(), TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _netlink.Dispose();
        _stop.Dispose();
    }
}
