using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Runtime.Bgp;
using Microsoft.Extensions.Time.Testing;

namespace KonvoyLb.Tests.Bgp;

/// <summary>
/// A small peer of the test's own, on loopback, that sends each malformed or unexpected message a
/// router might send, and checks the NOTIFICATION the session answers with, and that it comes back.
/// </summary>
public sealed class HostilePeerTests
{
    const uint PeerAs = 64500, MyAs = 64512;

    /// <summary>One scripted peer connection: accept, then run the script with a framer on the stream.</summary>
    sealed class HostilePeer : IDisposable
    {
        readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
        /// <summary>True when a connection waits to be accepted.</summary>
        public bool Pending => _listener.Pending();
        public HostilePeer() => _listener.Start();
        public void Dispose() => _listener.Stop();

        public async Task<Conversation> AcceptAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var client = await _listener.AcceptTcpClientAsync(cts.Token);
            return new Conversation(client);
        }
    }

    sealed class Conversation(TcpClient client) : IDisposable
    {
        readonly NetworkStream _stream = client.GetStream();
        readonly BgpFramer _framer = new();
        public BgpEncodeOptions Options { get; set; } = BgpEncodeOptions.FourOctet;

        public Task SendAsync(BgpMessage m) => SendRawAsync(BgpMessage.Encode(m, Options));
        public async Task SendRawAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

        public async Task<BgpMessage> ReceiveAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var buffer = new byte[4096];
            while (true)
            {
                if (_framer.TryRead(Options, out var message, out var error))
                    return message ?? throw new InvalidOperationException($"the session sent a malformed message: {error}");
                int n = await _stream.ReadAsync(buffer, cts.Token);
                if (n == 0) throw new EndOfStreamException("the session closed the connection");
                _framer.Append(buffer.AsSpan(0, n));
            }
        }

        /// <summary>Reads until a NOTIFICATION (skipping KEEPALIVEs and UPDATEs).</summary>
        public async Task<BgpNotification> NotificationAsync(TimeSpan timeout)
        {
            var deadline = Stopwatch.StartNew();
            while (true)
                if (await ReceiveAsync(timeout - deadline.Elapsed) is BgpNotification n) return n;
        }

        /// <summary>Plays a well-behaved peer up to Established.</summary>
        public async Task EstablishAsync(ushort hold = 90)
        {
            Assert.IsType<BgpOpen>(await ReceiveAsync(TimeSpan.FromSeconds(5)));
            await SendAsync(PeerOpen(hold));
            await SendAsync(BgpKeepalive.Instance);
            Assert.IsType<BgpKeepalive>(await ReceiveAsync(TimeSpan.FromSeconds(5)));
        }

        public void Dispose() => client.Dispose();
    }

    static BgpOpen PeerOpen(ushort hold = 90, uint asn = PeerAs, string id = "192.0.2.1") => BgpOpen.Create(asn, hold, IPAddress.Parse(id), new BgpCapability[]
    {
        BgpCapability.Multiprotocol.IPv4Unicast, BgpCapability.Multiprotocol.IPv6Unicast,
        new BgpCapability.RouteRefresh(), new BgpCapability.FourOctetAs(asn),
    });

    static BgpPeerSettings Settings(int port, ushort hold = 90) => new()
    {
        PeerAddress = IPAddress.Loopback, Port = (ushort)port, MyAsn = MyAs, PeerAsn = PeerAs, RouterId = IPAddress.Parse("192.0.2.2"),
        HoldTime = TimeSpan.FromSeconds(hold), MinBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromMilliseconds(400),
    };

    static BgpSession Session(int port, ushort hold = 90, TimeProvider? time = null) => new(Settings(port, hold), time: time);

    static void Until(Func<bool> condition, string what) =>
        Assert.True(SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(5)), $"not within 5 s: {what}");

    static byte[] Header(int length, byte type, bool badMarker = false)
    {
        var h = new byte[19];
        Array.Fill(h, (byte)0xFF, 0, 16);
        if (badMarker) h[3] = 0;
        h[16] = (byte)(length >> 8);
        h[17] = (byte)length;
        h[18] = type;
        return h;
    }

    static byte[] WithOpenBytes(Action<byte[]> corrupt)
    {
        var open = BgpMessage.Encode(PeerOpen(), BgpEncodeOptions.FourOctet);
        corrupt(open);
        return open;
    }

    public static IEnumerable<object[]> MalformedDuringOpen() => new[]
    {
        new object[] { "bad marker", Header(19, 4, badMarker: true), 1, 1 },
        new object[] { "length too short", Header(18, 4), 1, 2 },
        new object[] { "length too long", Header(4097, 4), 1, 2 },
        new object[] { "unknown type", Header(19, 9), 1, 3 },
        new object[] { "version 3", WithOpenBytes(b => b[19] = 3), 2, 1 },
        new object[] { "BGP identifier 0", WithOpenBytes(b => { b[24] = b[25] = b[26] = b[27] = 0; }), 2, 3 },
        new object[] { "hold time 2", WithOpenBytes(b => { b[22] = 0; b[23] = 2; }), 2, 6 },
        new object[] { "optional parameters overrun", WithOpenBytes(b => b[28] = (byte)(b[28] + 5)), 2, 0 },
        new object[] { "unsupported optional parameter", OpenWithParameter(1), 2, 4 },
        new object[] { "UPDATE before OPEN", BgpMessage.Encode(BgpUpdate.EndOfRibIPv4, BgpEncodeOptions.FourOctet), 5, 1 },
    };

    static byte[] OpenWithParameter(byte type)
    {
        // version, AS, hold, id, then one optional parameter of an unknown type.
        var body = new byte[] { 4, 0xFB, 0xF4, 0, 90, 192, 0, 2, 1, 3, type, 1, 0 };
        return Header(19 + body.Length, 1).Concat(body).ToArray();
    }

    [Theory]
    [MemberData(nameof(MalformedDuringOpen))]
    public async Task AMalformedMessageGetsTheRightNotificationAndTheSessionComesBack(string what, byte[] bytes, int code, int subcode)
    {
        using var peer = new HostilePeer();
        await using var session = Session(peer.Port);
        await session.StartAsync();
        using (var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.IsType<BgpOpen>(await c.ReceiveAsync(TimeSpan.FromSeconds(5)));
            await c.SendRawAsync(bytes);
            var n = await c.NotificationAsync(TimeSpan.FromSeconds(5));
            Assert.True(n.Code == code && n.Subcode == subcode, $"{what}: got {n.Describe()}");
        }
        // It reconnects by itself, and a well-behaved peer then gets a session.
        using var again = await peer.AcceptAsync(TimeSpan.FromSeconds(5));
        await again.EstablishAsync();
        Assert.True(SpinWait.SpinUntil(() => session.State == BgpSessionState.Established, 2000));
    }

    [Fact]
    public async Task ABadPeerAsIsRefusedWithItsValue()
    {
        using var peer = new HostilePeer();
        await using var session = Session(peer.Port);
        await session.StartAsync();
        using var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5));
        Assert.IsType<BgpOpen>(await c.ReceiveAsync(TimeSpan.FromSeconds(5)));
        await c.SendAsync(PeerOpen(asn: 64999));
        var n = await c.NotificationAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((2, 2), (n.Code, n.Subcode));
        Assert.True(SpinWait.SpinUntil(() => session.Stats.LastError is not null, 2000));
        Assert.Contains("64999", session.Stats.LastError);
    }

    [Fact]
    public async Task UnexpectedMessagesInOpenConfirmAndEstablishedAreFsmErrors()
    {
        using var peer = new HostilePeer();
        await using var session = Session(peer.Port);
        await session.StartAsync();
        using (var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.IsType<BgpOpen>(await c.ReceiveAsync(TimeSpan.FromSeconds(5)));
            await c.SendAsync(PeerOpen());
            await c.SendAsync(BgpUpdate.EndOfRibIPv4); // OpenConfirm expects a KEEPALIVE
            var n = await c.NotificationAsync(TimeSpan.FromSeconds(5));
            Assert.Equal((5, 2), (n.Code, n.Subcode));
        }
        using (var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5)))
        {
            await c.EstablishAsync();
            await c.SendAsync(PeerOpen()); // an OPEN in Established
            var n = await c.NotificationAsync(TimeSpan.FromSeconds(5));
            Assert.Equal((5, 3), (n.Code, n.Subcode));
        }
    }

    [Fact]
    public async Task AMalformedUpdateInEstablishedIsAnUpdateError()
    {
        using var peer = new HostilePeer();
        await using var session = Session(peer.Port);
        await session.StartAsync();
        using var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5));
        await c.EstablishAsync();
        // Withdrawn-routes length claims more bytes than the message has.
        var body = new byte[] { 0, 9, 24, 198, 51, 100, 0, 0 };
        await c.SendRawAsync(Header(19 + body.Length, 2).Concat(body).ToArray());
        var n = await c.NotificationAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3, n.Code);
        Assert.Contains(n.Subcode, new byte[] { 1, 10 });
    }

    [Fact]
    public async Task APeerCheckReportsASessionThatDiesWhileTheTestPrefixIsOut()
    {
        using var peer = new HostilePeer();
        var settings = new BgpPeerSettings
        {
            PeerAddress = IPAddress.Loopback, Port = (ushort)peer.Port, MyAsn = MyAs, PeerAsn = PeerAs, RouterId = IPAddress.Parse("192.0.2.2"),
        };
        var check = BgpPeerCheck.RunAsync(settings, new BgpRoute(new BgpPrefix(IPAddress.Parse("198.51.100.7"), 32)), TimeSpan.FromSeconds(10), default);
        using (var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5)))
        {
            await c.EstablishAsync();
            while (await c.ReceiveAsync(TimeSpan.FromSeconds(5)) is not BgpUpdate { Nlri.Count: > 0 }) { }
            await c.SendAsync(new BgpNotification(6, 4)); // Cease: administrative reset, mid-test
        }
        var result = await check;
        Assert.True(result.Established);
        Assert.Equal("198.51.100.7/32", result.AnnouncedPrefix);
        Assert.Contains("administrative reset", result.Error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task StoppingSendsCeaseWithTheShutdownMessage()
    {
        using var peer = new HostilePeer();
        var session = Session(peer.Port);
        await session.StartAsync();
        using var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5));
        await c.EstablishAsync();
        var stop = session.StopAsync("maintenance window");
        var n = await c.NotificationAsync(TimeSpan.FromSeconds(5));
        await stop;
        Assert.Equal((6, 2), (n.Code, n.Subcode));
        Assert.Equal("maintenance window", n.ShutdownCommunication);
        Assert.Equal(BgpSessionState.Idle, session.State);
    }

    [Fact]
    public async Task ChangesSendOnlyTheDifferencePackedIntoFewUpdates()
    {
        using var peer = new HostilePeer();
        await using var session = Session(peer.Port);
        var routes = Enumerable.Range(0, 1000).Select(i => new BgpRoute(new BgpPrefix(IPAddress.Parse($"198.51.{100 + i / 256}.{i % 256}"), 32), Communities: new uint[] { 0xFFFFFF01 })).ToList();
        session.SetRoutes(routes);
        await session.StartAsync();
        using var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5));
        await c.EstablishAsync();
        var updates = new List<BgpUpdate>();
        while (true)
        {
            var m = await c.ReceiveAsync(TimeSpan.FromSeconds(5));
            if (m is BgpUpdate u) { if (u.IsIPv4EndOfRib) break; updates.Add(u); }
        }
        Assert.Equal(1000, updates.Sum(u => u.Nlri.Count));
        Assert.True(updates.Count <= 2, $"{updates.Count} UPDATEs for 1000 /32s");
        Assert.IsType<BgpUpdate>(await c.ReceiveAsync(TimeSpan.FromSeconds(5))); // IPv6 End-of-RIB

        session.Withdraw(routes[0].Prefix);
        session.Advertise(new BgpRoute(new BgpPrefix(IPAddress.Parse("203.0.113.1"), 32)));
        var seen = new List<BgpUpdate>();
        while (seen.Sum(u => u.Withdrawn.Count + u.Nlri.Count) < 2)
            if (await c.ReceiveAsync(TimeSpan.FromSeconds(5)) is BgpUpdate u) seen.Add(u);
        Assert.Equal(new[] { routes[0].Prefix }, seen.SelectMany(u => u.Withdrawn));
        Assert.Equal(new[] { new BgpPrefix(IPAddress.Parse("203.0.113.1"), 32) }, seen.SelectMany(u => u.Nlri));
        Assert.Equal(1000, session.Stats.PrefixesAdvertised);
    }

    // ---- time: the session runs on a TimeProvider, so its timers are tested without waiting for them -------------

    [Fact]
    public async Task ASilentPeerIsDeclaredDownWhenTheHoldTimeRunsOutOnTheSessionsClock()
    {
        var time = new FakeTimeProvider();
        using var peer = new HostilePeer();
        await using var session = Session(peer.Port, hold: 9, time);
        await session.StartAsync();
        using var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5));
        await c.EstablishAsync(hold: 9);
        Until(() => session.State == BgpSessionState.Established, "Established");

        // Our keepalives go out every 9/3 s (less up to a quarter of jitter) while the peer stays silent...
        time.Advance(TimeSpan.FromSeconds(3));
        while (await c.ReceiveAsync(TimeSpan.FromSeconds(5)) is not BgpKeepalive) { }
        time.Advance(TimeSpan.FromSeconds(6) - TimeSpan.FromMilliseconds(1));
        await Task.Delay(200);
        Assert.Equal(BgpSessionState.Established, session.State);

        // ...and the hold time is counted from the peer's last message, to the millisecond.
        time.Advance(TimeSpan.FromMilliseconds(1));
        var n = await c.NotificationAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((4, 0), (n.Code, n.Subcode));
        Until(() => session.Stats.LastErrorId is not null, "the failure in the stats");
        Assert.Equal(ErrorId.BgpSessionFailed, session.Stats.LastErrorId);
        Assert.Equal("hold timer expired: nothing from the peer for 9 s", session.Stats.LastError);
    }

    [Fact]
    public async Task ARefusingPeerIsRetriedWithADoublingCappedBackoffNotATightLoop()
    {
        var time = new FakeTimeProvider();
        using var peer = new HostilePeer();
        await using var session = new BgpSession(Settings(peer.Port) with { MinBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(4) }, time: time);
        var failures = new ConcurrentQueue<BgpSessionFailure>();
        session.Failed += failures.Enqueue;
        await session.StartAsync();
        var waits = new List<TimeSpan>();
        for (int i = 0; i < 5; i++)
        {
            using (var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5)))
            {
                Assert.IsType<BgpOpen>(await c.ReceiveAsync(TimeSpan.FromSeconds(5)));
                await c.SendAsync(new BgpNotification(6, 5)); // Cease: connection rejected, right after OPEN
            }
            Until(() => session.Stats.RetryIn is not null, $"back-off {i + 1}");
            var wait = session.Stats.RetryIn!.Value;
            waits.Add(wait);
            // Nothing happens until the session's clock has moved by the whole wait.
            time.Advance(wait - TimeSpan.FromMilliseconds(1));
            await Task.Delay(200);
            Assert.False(peer.Pending, $"reconnected before its back-off of {wait} was over");
            time.Advance(TimeSpan.FromMilliseconds(1));
        }
        var ceilings = new[] { 1, 2, 4, 4, 4 };
        for (int i = 0; i < waits.Count; i++)
            Assert.InRange(waits[i].TotalSeconds, ceilings[i] * 0.75, ceilings[i]);
        Assert.Equal(5, failures.Count);
        Assert.All(failures, f => Assert.Equal(ErrorId.BgpOpenRefused, f.Id));
        Assert.Contains("connection rejected", failures.First().Message, StringComparison.OrdinalIgnoreCase);
    }

    // ---- failures are state and events, never a faulted task --------------------------------------------------------

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AFailureBeforeConnectingIsReportedAndRetriedNotThrownIntoATaskNobodyObserves(bool catalogued)
    {
        var time = new FakeTimeProvider();
        int attempts = 0;
        var settings = Settings(179) with
        {
            MinBackoff = TimeSpan.FromSeconds(1),
            // Where the socket is made: a kernel without TCP MD5 throws here (catalogued), and so could a bug (not).
            InNetworkNamespace = _ =>
            {
                Interlocked.Increment(ref attempts);
                throw catalogued
                    ? new LbException(ErrorId.BgpMd5Unsupported, "this kernel has no TCP MD5 support (TCP_MD5SIG)", IPAddress.Loopback)
                    : new InvalidOperationException("a bug");
            },
        };
        var session = new BgpSession(settings, time: time);
        var failures = new ConcurrentQueue<BgpSessionFailure>();
        session.Failed += failures.Enqueue;
        await session.StartAsync();

        Until(() => session.Stats.RetryIn is not null, "the first back-off");
        var failure = Assert.Single(failures);
        Assert.Equal(catalogued ? ErrorId.BgpMd5Unsupported : ErrorId.InternalError, failure.Id);
        Assert.Equal(failure.Id, session.Stats.LastErrorId);
        Assert.Contains(catalogued ? "TCP MD5" : "InvalidOperationException: a bug", session.Stats.LastError);
        Assert.Equal(BgpSessionState.Idle, session.State);

        time.Advance(session.Stats.RetryIn!.Value);
        Until(() => Volatile.Read(ref attempts) == 2 && failures.Count == 2, "a second attempt after the back-off");
        await session.StopAsync(); // completes: nothing was left faulted
    }

    [Fact]
    public async Task APeerCheckThatCannotSignTheConnectionIsAResultWithTheCataloguedId()
    {
        var settings = Settings(179) with
        {
            Password = "secret",
            InNetworkNamespace = _ => throw new LbException(ErrorId.BgpMd5Unsupported, "this kernel has no TCP MD5 support (TCP_MD5SIG)", IPAddress.Loopback),
        };
        var result = await BgpPeerCheck.RunAsync(settings, null, TimeSpan.Zero, default);
        Assert.False(result.Established);
        Assert.False(result.Md5Accepted);
        Assert.Equal(ErrorId.BgpMd5Unsupported, result.ErrorId);
        Assert.Contains("TCP MD5", result.Error);
    }
}
