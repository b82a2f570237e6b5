using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KonvoyLb.Engine.Runtime.Bgp;

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

    static BgpSession Session(int port, ushort hold = 90) => new(new BgpPeerSettings
    {
        PeerAddress = IPAddress.Loopback, Port = (ushort)port, MyAsn = MyAs, PeerAsn = PeerAs, RouterId = IPAddress.Parse("192.0.2.2"),
        HoldTime = TimeSpan.FromSeconds(hold), MinBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromMilliseconds(400),
    });

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
    public async Task ASilentPeerIsDeclaredDownWhenTheHoldTimeRunsOut()
    {
        using var peer = new HostilePeer();
        await using var session = Session(peer.Port, hold: 3);
        await session.StartAsync();
        using var c = await peer.AcceptAsync(TimeSpan.FromSeconds(5));
        await c.EstablishAsync(hold: 3);
        var clock = Stopwatch.StartNew();
        // The peer now says nothing at all; the session must notice within the hold time.
        var n = await c.NotificationAsync(TimeSpan.FromSeconds(10));
        var elapsed = clock.Elapsed;
        Assert.Equal((4, 0), (n.Code, n.Subcode));
        Assert.InRange(elapsed.TotalSeconds, 2.5, 3.6);
        Assert.True(SpinWait.SpinUntil(() => session.Stats.LastError is not null, 2000));
        Assert.Contains("hold timer expired", session.Stats.LastError);
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
    public async Task ARefusingPeerIsRetriedWithAGrowingBackoffNotATightLoop()
    {
        using var peer = new HostilePeer();
        await using var session = new BgpSession(new BgpPeerSettings
        {
            PeerAddress = IPAddress.Loopback, Port = (ushort)peer.Port, MyAsn = MyAs, PeerAsn = PeerAs, RouterId = IPAddress.Parse("192.0.2.2"),
            MinBackoff = TimeSpan.FromMilliseconds(200), MaxBackoff = TimeSpan.FromSeconds(5),
        });
        await session.StartAsync();
        var accepts = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 4; i++)
        {
            using var c = await peer.AcceptAsync(TimeSpan.FromSeconds(10));
            accepts.Add(clock.Elapsed);
            Assert.IsType<BgpOpen>(await c.ReceiveAsync(TimeSpan.FromSeconds(5)));
            await c.SendAsync(new BgpNotification(6, 5)); // Cease: connection rejected, right after OPEN
        }
        var gaps = accepts.Zip(accepts.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToList();
        // Jitter (0.75-1.0) can make two neighbouring gaps look alike; over three it must have doubled at least once.
        string shown = string.Join(", ", gaps.Select(g => g.ToString("F0")));
        Assert.True(gaps.All(g => g >= 150), $"a tight loop: gaps {shown} ms");
        Assert.True(gaps[2] > gaps[0] * 1.5, $"no growing back-off: gaps {shown} ms");
        Assert.Contains("connection rejected", session.Stats.LastNotificationReceived, StringComparison.OrdinalIgnoreCase);
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
}
