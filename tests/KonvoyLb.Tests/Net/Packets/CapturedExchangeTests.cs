using System.Net;
using System.Net.NetworkInformation;
using KonvoyLb.Engine.Net.Packets;
using static KonvoyLb.Tests.Net.Packets.CapturedFrames;

namespace KonvoyLb.Tests.Net.Packets;

// Decodes the frames of CapturedFrames field by field, and re-encodes each one the codecs can produce.
public class CapturedExchangeTests
{
    private static readonly PhysicalAddress MacA = PhysicalAddress.Parse("02-00-00-00-00-01");
    private static readonly PhysicalAddress MacB = PhysicalAddress.Parse("02-00-00-00-00-02");
    private static readonly PhysicalAddress Zeros = PhysicalAddress.Parse("00-00-00-00-00-00");
    private static readonly PhysicalAddress Ones = PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF");
    private static readonly IPAddress V4A = IPAddress.Parse("192.0.2.1"), V4B = IPAddress.Parse("192.0.2.2");
    private static readonly IPAddress V6A = IPAddress.Parse("2001:db8::1"), V6B = IPAddress.Parse("2001:db8::2"), V6C = IPAddress.Parse("2001:db8::3");

    private const int ArpEnd = Ethernet.HeaderLength + ArpPacket.Length; // 42: what matters of an ARP frame

    private static ArpPacket ParseArp(string hex, PhysicalAddress destination, PhysicalAddress source, int payloadLength)
    {
        var frame = Bytes(hex);
        Assert.True(Ethernet.TryRead(frame, out var dst, out var src, out var type, out var payload));
        Assert.Equal(destination, dst);
        Assert.Equal(source, src);
        Assert.Equal(Ethernet.TypeArp, type);
        Assert.Equal(payloadLength, payload.Length);
        Assert.True(ArpPacket.TryParseFrame(frame, out var arp));
        return arp;
    }

    /// <summary>Our 60-byte frame matches the captured one in the first 42 bytes, except <paramref name="ignore"/>, and is zero after.</summary>
    private static void AssertSameArpFrame(string capturedHex, byte[] ours, Range? ignore = null)
    {
        var captured = Bytes(capturedHex);
        Assert.Equal(Ethernet.MinimumFrameLength, ours.Length);
        Assert.All(ours[ArpEnd..], b => Assert.Equal(0, b));
        Assert.All(captured[ArpEnd..], b => Assert.Equal(0, b));
        var a = captured[..ArpEnd];
        var b = ours[..ArpEnd];
        if (ignore is { } r) { a.AsSpan(r).Clear(); b.AsSpan(r).Clear(); }
        Assert.Equal(Convert.ToHexString(a), Convert.ToHexString(b));
    }

    // Offset of the target MAC within a frame: Ethernet header, then hardware/protocol/lengths/op (8), sender (10).
    private static readonly Range TargetMacInFrame = (Ethernet.HeaderLength + 18)..(Ethernet.HeaderLength + 24);

    [Fact]
    public void Arping_request_decodes_and_re_encodes()
    {
        var arp = ParseArp(ArpingRequest, Ones, MacA, payloadLength: 44);
        Assert.Equal(new ArpPacket(ArpPacket.Request, MacA, V4A, Zeros, V4B), arp);
        Assert.False(arp.IsProbe);
        Assert.False(arp.IsGratuitous);
        AssertSameArpFrame(ArpingRequest, arp.ToFrame(Ethernet.Broadcast, MacA));
    }

    [Fact]
    public void Kernel_arp_reply_is_what_ReplyTo_builds()
    {
        ArpPacket.TryParseFrame(Bytes(ArpingRequest), out var request);
        var reply = ParseArp(KernelArpReply, MacA, MacB, payloadLength: 28);
        Assert.Equal(new ArpPacket(ArpPacket.Reply, MacB, V4B, MacA, V4A), reply);
        var ours = ArpPacket.ReplyTo(request, MacB);
        Assert.Equal(reply, ours);
        AssertSameArpFrame(KernelArpReply + new string('0', 36), ours.ToFrame(request.SenderMac, MacB));
    }

    [Fact]
    public void Arping_probe_is_exactly_our_probe()
    {
        var probe = ParseArp(ArpingProbe, Ones, MacA, payloadLength: 44);
        Assert.Equal(new ArpPacket(ArpPacket.Request, MacA, IPAddress.Any, Zeros, V4B), probe);
        Assert.True(probe.IsProbe);
        Assert.False(probe.IsGratuitous);
        var ours = ArpPacket.Probe(MacA, V4B);
        Assert.Equal(probe, ours);
        AssertSameArpFrame(ArpingProbe, ours.ToFrame(Ethernet.Broadcast, MacA));
    }

    [Fact]
    public void Kernel_answer_to_a_probe_is_what_ReplyTo_builds()
    {
        var reply = ParseArp(KernelProbeReply, MacA, MacB, payloadLength: 28);
        Assert.Equal(new ArpPacket(ArpPacket.Reply, MacB, V4B, MacA, IPAddress.Any), reply);
        var ours = ArpPacket.ReplyTo(ArpPacket.Probe(MacA, V4B), MacB);
        Assert.Equal(reply, ours);
        AssertSameArpFrame(KernelProbeReply + new string('0', 36), ours.ToFrame(MacA, MacB));
    }

    [Fact]
    public void Arping_unsolicited_request_matches_our_announcement_but_for_the_target_mac()
    {
        var arp = ParseArp(ArpingUnsolicitedRequest, Ones, MacA, payloadLength: 44);
        Assert.Equal(new ArpPacket(ArpPacket.Request, MacA, V4A, Ones, V4A), arp);
        Assert.True(arp.IsGratuitous);
        var (request, _) = ArpPacket.Gratuitous(MacA, V4A);
        // arping puts ff:ff:ff:ff:ff:ff in the ignored target MAC; RFC 5227 §2.3 asks for zeros, which we send.
        Assert.Equal(arp with { TargetMac = Zeros }, request);
        AssertSameArpFrame(ArpingUnsolicitedRequest, request.ToFrame(Ethernet.Broadcast, MacA), TargetMacInFrame);
    }

    [Fact]
    public void Arping_unsolicited_reply_matches_our_gratuitous_reply_but_for_the_target_mac()
    {
        var arp = ParseArp(ArpingUnsolicitedReply, Ones, MacA, payloadLength: 44);
        Assert.Equal(new ArpPacket(ArpPacket.Reply, MacA, V4A, Ones, V4A), arp);
        Assert.True(arp.IsGratuitous);
        Assert.False(arp.IsProbe);
        var (_, reply) = ArpPacket.Gratuitous(MacA, V4A);
        // arping: broadcast; RFC 5944 §4.6: the target MAC of a gratuitous reply is the new MAC, ours.
        Assert.Equal(arp with { TargetMac = MacA }, reply);
        AssertSameArpFrame(ArpingUnsolicitedReply, reply.ToFrame(Ethernet.Broadcast, MacA), TargetMacInFrame);
    }

    private static byte[] Ipv4Packet(string hex, PhysicalAddress destination, PhysicalAddress source)
    {
        var frame = Bytes(hex);
        Assert.True(Ethernet.TryRead(frame, out var dst, out var src, out var type, out var payload));
        Assert.Equal((destination, source, Ethernet.TypeIPv4), (dst, src, type));
        return payload.ToArray();
    }

    [Fact]
    public void Ping_v4_request_decodes_and_re_encodes()
    {
        var packet = Ipv4Packet(PingV4Request, MacB, MacA);
        Assert.True(Ipv4.TryReadHeader(packet, out var source, out var destination, out var protocol, out var offset, out var length));
        Assert.Equal((V4A, V4B, Ipv4.ProtocolIcmp, 20, 32), (source, destination, protocol, offset, length));
        Assert.Equal(0, Icmp.InternetChecksum(packet.AsSpan(0, 20))); // the kernel's header checksum holds

        var icmp = packet.AsSpan(offset, length);
        Assert.True(Icmp.TryParseEchoRequest(icmp, v6: false, out var id, out var seq, out var payload));
        Assert.Equal((29858, 1), (id, seq));
        Assert.Equal("CA01076B0000000074CB0200000000004F594B4F4E564F59", Convert.ToHexString(payload));
        Assert.False(Icmp.TryParseEchoReply(icmp, v6: false, out _, out _));
        Assert.Equal(Convert.ToHexString(icmp), Convert.ToHexString(Icmp.EchoRequestV4(id, seq, payload)));
    }

    [Fact]
    public void Ping_v4_reply_decodes_and_re_encodes()
    {
        var packet = Ipv4Packet(PingV4Reply, MacA, MacB);
        Assert.True(Ipv4.TryReadHeader(packet, out var source, out var protocol, out var offset, out var length));
        Assert.Equal((V4B, Ipv4.ProtocolIcmp, 20, 32), (source, protocol, offset, length));
        Assert.Equal(0, Icmp.InternetChecksum(packet.AsSpan(0, 20)));

        var icmp = packet.AsSpan(offset, length);
        Assert.True(Icmp.TryParseEchoReply(icmp, v6: false, out var id, out var seq));
        Assert.Equal((29858, 1), (id, seq));
        Assert.False(Icmp.TryParseEchoReply(icmp, v6: true, out _, out _));
        Assert.True(Icmp.TryParseEchoReply(icmp, v6: false, out _, out _, out var payload));
        Assert.Equal(Convert.ToHexString(icmp), Convert.ToHexString(Icmp.EchoReplyV4(id, seq, payload)));
    }

    [Fact]
    public void Ipv4_header_checksum_known_answer_from_the_capture()
    {
        var header = Ipv4Packet(PingV4Request, MacB, MacA)[..20];
        Assert.Equal(0x893d, header[10] << 8 | header[11]);
        header[10] = header[11] = 0;
        Assert.Equal(0x893d, Icmp.InternetChecksum(header));
    }

    private static (IPAddress Source, IPAddress Destination, byte HopLimit, byte[] Icmp) Ipv6Packet(string hex, PhysicalAddress destination, PhysicalAddress source)
    {
        var frame = Bytes(hex);
        Assert.True(Ethernet.TryRead(frame, out var dst, out var src, out var type, out var payload));
        Assert.Equal((destination, source, Ethernet.TypeIPv6), (dst, src, type));
        Assert.True(Ipv6.TryReadHeader(payload, out var s, out var d, out var next, out var hops, out var offset, out var length));
        Assert.Equal((Ipv6.NextHeaderIcmpV6, Ipv6.HeaderLength, 32), (next, offset, length));
        var icmp = payload.Slice(offset, length).ToArray();
        Assert.Equal(0, Ndp.Checksum(s, d, icmp)); // the sender's checksum holds
        return (s, d, hops, icmp);
    }

    [Fact]
    public void Ping_v6_request_decodes_and_re_encodes()
    {
        var (source, destination, hops, icmp) = Ipv6Packet(PingV6Request, MacB, MacA);
        Assert.Equal((V6A, V6B, (byte)64), (source, destination, hops));
        Assert.True(Icmp.TryParseEchoRequest(icmp, v6: true, out var id, out var seq, out var payload));
        Assert.Equal((29869, 1), (id, seq));
        Assert.Equal(24, payload.Length);
        Assert.False(Icmp.TryParseEchoReply(icmp, v6: true, out _, out _));

        var withChecksum = Icmp.EchoRequestV6(id, seq, payload, source, destination);
        Assert.Equal(Convert.ToHexString(icmp), Convert.ToHexString(withChecksum));
        var forTheKernel = Icmp.EchoRequestV6(id, seq, payload);
        Assert.Equal(0, forTheKernel[2] << 8 | forTheKernel[3]);
        Assert.Equal(Convert.ToHexString(icmp[4..]), Convert.ToHexString(forTheKernel[4..]));
        Assert.Equal(Convert.ToHexString(icmp[..2]), Convert.ToHexString(forTheKernel[..2]));
    }

    [Fact]
    public void Ping_v6_reply_decodes_and_re_encodes()
    {
        var (source, destination, _, icmp) = Ipv6Packet(PingV6Reply, MacA, MacB);
        Assert.Equal((V6B, V6A), (source, destination));
        Assert.True(Icmp.TryParseEchoReply(icmp, v6: true, out var id, out var seq, out var payload));
        Assert.Equal((29869, 1), (id, seq));
        Assert.False(Icmp.TryParseEchoReply(icmp, v6: false, out _, out _)); // type 129 is no IPv4 reply
        Assert.Equal(Convert.ToHexString(icmp), Convert.ToHexString(Icmp.EchoReplyV6(id, seq, payload, source, destination)));
    }

    [Fact]
    public void Ndisc6_solicitation_decodes_and_re_encodes()
    {
        var solicitedNode = Ndp.SolicitedNodeMulticast(V6B);
        Assert.Equal(IPAddress.Parse("ff02::1:ff00:2"), solicitedNode);
        var (source, destination, hops, icmp) = Ipv6Packet(Ndisc6Solicitation, Ndp.MulticastMac(solicitedNode), MacA);
        Assert.Equal((V6A, solicitedNode, Ndp.HopLimit), (source, destination, hops));
        Assert.True(Ndp.TryParseSolicitation(icmp, out var ns));
        Assert.Equal(new NeighborSolicitation(V6B, MacA), ns);
        Assert.False(Ndp.TryParseAdvertisement(icmp, out _));
        Assert.Equal(Convert.ToHexString(icmp), Convert.ToHexString(Ndp.Solicitation(V6B, MacA, source, destination)));
    }

    [Fact]
    public void Kernel_solicited_advertisement_decodes_and_re_encodes()
    {
        var (source, destination, hops, icmp) = Ipv6Packet(KernelSolicitedAdvertisement, MacA, MacB);
        Assert.Equal((V6B, V6A, Ndp.HopLimit), (source, destination, hops));
        Assert.True(Ndp.TryParseAdvertisement(icmp, out var na));
        Assert.Equal(new NeighborAdvertisement(V6B, MacB, Router: false, Solicited: true, Override: true), na);
        Assert.False(Ndp.TryParseSolicitation(icmp, out _));
        Assert.Equal(Convert.ToHexString(icmp),
            Convert.ToHexString(Ndp.Advertisement(V6B, MacB, solicited: true, @override: true, source, destination)));
    }

    [Fact]
    public void Kernel_dad_probe_skips_the_nonce_option_and_re_encodes_with_it()
    {
        var solicitedNode = Ndp.SolicitedNodeMulticast(V6C);
        var (source, destination, hops, icmp) = Ipv6Packet(KernelDadSolicitation, Ndp.MulticastMac(solicitedNode), MacA);
        Assert.Equal((IPAddress.IPv6Any, solicitedNode, Ndp.HopLimit), (source, destination, hops));
        Assert.True(Ndp.TryParseSolicitation(icmp, out var ns));
        Assert.Equal(new NeighborSolicitation(V6C, SourceMac: null), ns); // the nonce option is no link-layer address

        // Ours has no nonce; with the captured nonce option appended, the checksum comes out as the kernel's.
        var ours = Ndp.Solicitation(V6C, sourceMac: null).Concat(icmp[Ndp.MessageLength..]).ToArray();
        var sum = Ndp.Checksum(source, destination, ours);
        ours[2] = (byte)(sum >> 8);
        ours[3] = (byte)sum;
        Assert.Equal(Convert.ToHexString(icmp), Convert.ToHexString(ours));
    }

    [Fact]
    public void Kernel_unsolicited_advertisement_decodes_and_re_encodes()
    {
        var (source, destination, hops, icmp) = Ipv6Packet(KernelUnsolicitedAdvertisement, Ndp.MulticastMac(Ndp.AllNodes), MacA);
        Assert.Equal((V6C, Ndp.AllNodes, Ndp.HopLimit), (source, destination, hops));
        Assert.True(Ndp.TryParseAdvertisement(icmp, out var na));
        Assert.Equal(new NeighborAdvertisement(V6C, MacA, Router: false, Solicited: false, Override: true), na);
        Assert.Equal(Convert.ToHexString(icmp),
            Convert.ToHexString(Ndp.Advertisement(V6C, MacA, solicited: false, @override: true, source, destination)));
    }

    public static TheoryData<string> AllFrames() =>
    [
        ArpingRequest, KernelArpReply, ArpingProbe, KernelProbeReply, ArpingUnsolicitedRequest, ArpingUnsolicitedReply,
        PingV4Request, PingV4Reply, PingV6Request, PingV6Reply,
        Ndisc6Solicitation, KernelSolicitedAdvertisement, KernelDadSolicitation, KernelUnsolicitedAdvertisement,
    ];

    [Theory]
    [MemberData(nameof(AllFrames))]
    public void Every_truncation_of_a_captured_frame_is_rejected(string hex)
    {
        var frame = Bytes(hex);
        Assert.True(Ethernet.TryRead(frame, out _, out _, out var type, out var payload));
        var whole = payload.ToArray();
        int needed = type switch
        {
            Ethernet.TypeArp => ArpPacket.Length,
            _ => whole.Length, // IP: the header's length field covers the whole payload
        };
        for (int cut = 0; cut < Ethernet.HeaderLength + needed; cut++)
        {
            var part = frame.AsSpan(0, cut);
            Assert.False(ArpPacket.TryParseFrame(part, out _));
            if (cut < Ethernet.HeaderLength) Assert.False(Ethernet.TryRead(part, out _, out _, out _, out _));
        }
        for (int cut = 0; cut < needed; cut++)
        {
            var part = whole.AsSpan(0, cut);
            Assert.False(ArpPacket.TryParse(part, out _));
            Assert.False(Ipv4.TryReadHeader(part, out _, out _, out _, out _));
            Assert.False(Ipv6.TryReadHeader(part, out _, out _, out _, out _, out _, out _));
        }
        if (type == Ethernet.TypeIPv6)
        {
            // Every cut inside the fixed part or inside the option is refused. A cut exactly before the option
            // leaves a well-formed message without it: that one parses, and has no MAC to offer.
            var icmp = whole[Ipv6.HeaderLength..];
            for (int cut = 0; cut < icmp.Length; cut++)
            {
                var part = icmp.AsSpan(0, cut);
                bool ns = Ndp.TryParseSolicitation(part, out var solicitation);
                bool na = Ndp.TryParseAdvertisement(part, out var advertisement);
                if (cut == Ndp.MessageLength && icmp[0] == Ndp.SolicitationType)
                    Assert.True(ns && solicitation.SourceMac is null);
                else if (cut == Ndp.MessageLength && icmp[0] == Ndp.AdvertisementType)
                    Assert.True(na && advertisement.TargetMac is null);
                else
                    Assert.False(ns || na);
            }
        }
    }
}
