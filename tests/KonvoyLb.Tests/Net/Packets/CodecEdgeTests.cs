using System.Net;
using System.Net.NetworkInformation;
using KonvoyLb.Engine.Net.Packets;

namespace KonvoyLb.Tests.Net.Packets;

// Malformed input the parsers must refuse, and arguments the builders must refuse.
public class CodecEdgeTests
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("02-00-00-00-00-01");
    private static readonly IPAddress Target = IPAddress.Parse("2001:db8::2");

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Fact]
    public void Ethernet_header_round_trip_and_limits()
    {
        var frame = new byte[20];
        Ethernet.WriteHeader(frame, Ethernet.Broadcast, Mac, Ethernet.TypeIPv6);
        Assert.Equal("FFFFFFFFFFFF02000000000186DD", Convert.ToHexString(frame, 0, 14));
        Assert.True(Ethernet.TryRead(frame, out var dst, out var src, out var type, out var payload));
        Assert.Equal((Ethernet.Broadcast, Mac, Ethernet.TypeIPv6, 6), (dst, src, type, payload.Length));

        Assert.True(Ethernet.TryRead(frame.AsSpan(0, 14), out _, out _, out _, out var empty));
        Assert.True(empty.IsEmpty);
        Assert.False(Ethernet.TryRead(frame.AsSpan(0, 13), out _, out _, out _, out _));
        frame[12] = 0x05; frame[13] = 0xDC; // 1500: an 802.3 length, not an EtherType
        Assert.False(Ethernet.TryRead(frame, out _, out _, out _, out _));
        frame[13] = 0xFF; frame[12] = 0x05; // 0x05FF, still a length
        Assert.False(Ethernet.TryRead(frame, out _, out _, out _, out _));
        frame[12] = 0x06; frame[13] = 0x00;
        Assert.True(Ethernet.TryRead(frame, out _, out _, out _, out _));
    }

    [Fact]
    public void Ethernet_writer_refuses_bad_arguments()
    {
        Assert.Throws<ArgumentException>(() => Ethernet.WriteHeader(new byte[13], Mac, Mac, 0x0800));
        Assert.Throws<ArgumentException>(() => Ethernet.WriteHeader(new byte[14], PhysicalAddress.None, Mac, 0x0800));
        Assert.Throws<ArgumentException>(() => Ethernet.WriteHeader(new byte[14], Mac, new PhysicalAddress(new byte[8]), 0x0800));
        Assert.Throws<ArgumentNullException>(() => Ethernet.WriteHeader(new byte[14], null!, Mac, 0x0800));
    }

    [Fact]
    public void Broadcast_and_zero_cannot_be_changed_through_a_copy()
    {
        var b = Ethernet.Broadcast;
        b.GetAddressBytes()[0] = 0; // GetAddressBytes copies; and every call makes a new instance anyway
        Assert.Equal("FFFFFFFFFFFF", Ethernet.Broadcast.ToString());
        Assert.Equal("000000000000", Ethernet.Zero.ToString());
    }

    private const string ValidArpFrame =
        "ffffffffffff0200000000010806" + "0001080006040001020000000001c0000201000000000000c0000202";

    [Theory]
    [InlineData(12, 0x86)] // EtherType 0x8606
    [InlineData(13, 0x00)] // EtherType 0x0800: IPv4, not ARP
    [InlineData(14, 0x01)] // hardware type 0x0101
    [InlineData(15, 0x06)] // hardware type 6 (IEEE 802)
    [InlineData(16, 0x86)] // protocol type 0x8600
    [InlineData(17, 0xDD)] // protocol type 0x08DD
    [InlineData(18, 0x08)] // hardware address length 8
    [InlineData(19, 0x10)] // protocol address length 16
    public void Arp_parser_refuses_other_fixed_fields(int offset, byte value)
    {
        var frame = Hex(ValidArpFrame);
        Assert.True(ArpPacket.TryParseFrame(frame, out _));
        frame[offset] = value;
        Assert.False(ArpPacket.TryParseFrame(frame, out _));
    }

    [Fact]
    public void Arp_parser_accepts_any_operation_and_ignores_trailing_bytes()
    {
        var frame = Hex(ValidArpFrame + "deadbeef");
        frame[14 + 7] = 9;
        Assert.True(ArpPacket.TryParseFrame(frame, out var arp));
        Assert.Equal(9, arp.Operation);
        Assert.Equal(Hex(ValidArpFrame)[14..], arp.ToBytes()[..].Select((b, i) => i == 7 ? (byte)1 : b).ToArray());
    }

    [Fact]
    public void Arp_writer_refuses_bad_fields()
    {
        var good = ArpPacket.Probe(Mac, IPAddress.Parse("192.0.2.1"));
        Assert.Throws<ArgumentException>(() => (good with { TargetIp = IPAddress.Parse("2001:db8::1") }).ToBytes());
        Assert.Throws<ArgumentException>(() => (good with { SenderIp = IPAddress.Parse("::ffff:192.0.2.1") }).ToBytes());
        Assert.Throws<ArgumentException>(() => (good with { SenderMac = PhysicalAddress.None }).ToBytes());
        Assert.Throws<ArgumentNullException>(() => default(ArpPacket).ToBytes());
        Assert.Throws<ArgumentException>(() => good.ToFrame(PhysicalAddress.None, Mac));
    }

    [Fact]
    public void Arp_frame_is_padded_to_60_bytes_with_zeros()
    {
        var frame = ArpPacket.Probe(Mac, IPAddress.Parse("192.0.2.1")).ToFrame(Ethernet.Broadcast, Mac);
        Assert.Equal(60, frame.Length);
        Assert.All(frame[42..], b => Assert.Equal(0, b));
    }

    // An NA for 2001:db8::2 with the S and O flags, checksum 0, then options.
    private const string NaHeader = "880000006000000020010db8000000000000000000000002";
    private const string NsHeader = "870000000000000020010db8000000000000000000000002";

    [Theory]
    [InlineData("", true)]
    [InlineData("0201020000000002", true)]
    [InlineData("0200020000000002", false)]             // option length 0: invalid, would loop forever
    [InlineData("0202020000000002", false)]             // claims 16 bytes, has 8
    [InlineData("02", false)]                           // a lone type byte
    [InlineData("0201020000000002" + "05", false)]      // a trailing byte after a good option
    [InlineData("0101020000000002" + "0300", false)]    // length 0 in a later option
    [InlineData("0e01aabbccddeeff" + "0201020000000002", true)]
    public void Option_walk(string options, bool valid)
    {
        Assert.Equal(valid, Ndp.TryParseAdvertisement(Hex(NaHeader + options), out _));
        Assert.Equal(valid, Ndp.TryParseSolicitation(Hex(NsHeader + options), out _));
    }

    [Fact]
    public void Link_layer_option_rules()
    {
        // The first target link-layer option of Ethernet size wins; a longer one (another link type) is skipped.
        Assert.True(Ndp.TryParseAdvertisement(Hex(NaHeader + "02020a0a0a0a0a0a0a0a0a0a0a0a0a0a" + "0201020000000003" + "0201020000000004"), out var na));
        Assert.Equal(PhysicalAddress.Parse("02-00-00-00-00-03"), na.TargetMac);
        Assert.Equal(new NeighborAdvertisement(Target, null, false, true, true) with { TargetMac = na.TargetMac }, na);
        // A source link-layer option in an NA (or a target one in an NS) is no answer.
        Assert.True(Ndp.TryParseAdvertisement(Hex(NaHeader + "0101020000000002"), out na));
        Assert.Null(na.TargetMac);
        Assert.True(Ndp.TryParseSolicitation(Hex(NsHeader + "0201020000000002"), out var ns));
        Assert.Null(ns.SourceMac);
    }

    [Fact]
    public void Nd_header_checks()
    {
        Assert.True(Ndp.TryParseAdvertisement(Hex(NaHeader), out var na));
        Assert.Equal(new NeighborAdvertisement(Target, null, Router: false, Solicited: true, Override: true), na);
        var code1 = Hex(NaHeader); code1[1] = 1;
        Assert.False(Ndp.TryParseAdvertisement(code1, out _));
        var multicastTarget = Hex(NaHeader); multicastTarget[8] = 0xff;
        Assert.False(Ndp.TryParseAdvertisement(multicastTarget, out _));
        Assert.False(Ndp.TryParseSolicitation(Hex(NaHeader), out _));
        Assert.False(Ndp.TryParseAdvertisement(Hex(NsHeader), out _));
        var allFlags = Hex(NaHeader); allFlags[4] = 0xff; // reserved bits are ignored
        Assert.True(Ndp.TryParseAdvertisement(allFlags, out na));
        Assert.True(na.Router && na.Solicited && na.Override);
    }

    [Fact]
    public void Nd_builders_refuse_bad_arguments()
    {
        var v6 = IPAddress.Parse("2001:db8::1");
        Assert.Throws<ArgumentException>(() => Ndp.Solicitation(IPAddress.Parse("192.0.2.1"), Mac));
        Assert.Throws<ArgumentException>(() => Ndp.Solicitation(IPAddress.Parse("ff02::1"), Mac));
        Assert.Throws<ArgumentException>(() => Ndp.Solicitation(Target, Mac, source: v6));
        Assert.Throws<ArgumentException>(() => Ndp.Solicitation(Target, Mac, destination: v6));
        Assert.Throws<ArgumentException>(() => Ndp.Solicitation(Target, Mac, IPAddress.IPv6Any, Ndp.SolicitedNodeMulticast(Target)));
        Assert.Throws<ArgumentException>(() => Ndp.Solicitation(Target, Mac, IPAddress.Parse("192.0.2.1"), IPAddress.Parse("192.0.2.2")));
        Assert.Throws<ArgumentException>(() => Ndp.Solicitation(Target, new PhysicalAddress(new byte[8])));
        Assert.Throws<ArgumentException>(() => Ndp.Advertisement(Target, Mac, solicited: true, @override: true, v6, Ndp.AllNodes));
        Assert.Throws<ArgumentNullException>(() => Ndp.Advertisement(Target, null!, solicited: false, @override: true));
        Assert.Throws<ArgumentException>(() => Ndp.SolicitedNodeMulticast(IPAddress.Parse("192.0.2.1")));
        Assert.Throws<ArgumentException>(() => Ndp.MulticastMac(v6));
        Assert.Throws<ArgumentException>(() => Ndp.MulticastMac(IPAddress.Parse("224.0.0.1")));
        Assert.Throws<ArgumentException>(() => Icmp.EchoRequestV6(1, 1, [], source: v6));

        // The DAD probe itself is fine: from ::, no MAC.
        var dad = Ndp.Solicitation(Target, null, IPAddress.IPv6Any, Ndp.SolicitedNodeMulticast(Target));
        Assert.Equal(24, dad.Length);
    }

    [Fact]
    public void Nd_messages_without_addresses_leave_the_checksum_to_the_kernel()
    {
        var na = Ndp.Advertisement(Target, Mac, solicited: false, @override: true);
        Assert.Equal("880000002000000020010DB8000000000000000000000002" + "0201020000000001", Convert.ToHexString(na));
        var ns = Ndp.Solicitation(Target, Mac);
        Assert.Equal("870000000000000020010DB8000000000000000000000002" + "0101020000000001", Convert.ToHexString(ns));
        var router = Ndp.Advertisement(new NeighborAdvertisement(Target, null, Router: true, Solicited: false, Override: false));
        Assert.Equal("880000008000000020010DB8000000000000000000000002", Convert.ToHexString(router));
    }

    [Fact]
    public void Echo_parser_checks()
    {
        var request = Icmp.EchoRequestV4(7, 9, "payload"u8);
        Assert.True(Icmp.TryParseEchoRequest(request, false, out var id, out var seq, out var payload));
        Assert.Equal((7, 9, "payload"), (id, seq, System.Text.Encoding.ASCII.GetString(payload)));
        Assert.False(Icmp.TryParseEchoReply(request, false, out _, out _));

        var reply = Icmp.EchoReplyV4(7, 9, "payload"u8);
        Assert.True(Icmp.TryParseEchoReply(reply, false, out _, out _));
        reply[10] ^= 0x01; // corrupted in transit: a raw IPv4 socket hands it over anyway
        Assert.False(Icmp.TryParseEchoReply(reply, false, out _, out _));
        var code = Icmp.EchoReplyV4(7, 9, []); code[1] = 1;
        Assert.False(Icmp.TryParseEchoReply(code, false, out _, out _));

        var v6 = Icmp.EchoReplyV6(7, 9, "x"u8); // checksum 0: left to the kernel, not checked here
        Assert.True(Icmp.TryParseEchoReply(v6, true, out id, out seq));
        Assert.Equal((7, 9), (id, seq));
        Assert.False(Icmp.TryParseEchoReply(v6.AsSpan(0, 7), true, out _, out _));
        Assert.True(Icmp.TryParseEchoReply(v6.AsSpan(0, 8), true, out _, out _)); // an empty payload is fine
    }

    // version 4, IHL 5, total 28, DF, TTL 64, ICMP, 192.0.2.1 -> 192.0.2.2, then an 8-byte echo reply.
    private const string Ipv4Packet = "4500001c000040004001b6ddc0000201c0000202" + "0000ffff00000000";

    [Fact]
    public void Ipv4_header_checks()
    {
        var packet = Hex(Ipv4Packet);
        Assert.Equal(0, Icmp.InternetChecksum(packet.AsSpan(0, 20)));
        Assert.True(Ipv4.TryReadHeader(packet, out var source, out var protocol, out var offset, out var length));
        Assert.Equal((IPAddress.Parse("192.0.2.1"), (byte)1, 20, 8), (source, protocol, offset, length));
        Assert.True(Icmp.TryParseEchoReply(packet.AsSpan(offset, length), false, out _, out _));

        Assert.True(Ipv4.TryReadHeader(Hex(Ipv4Packet + "0000"), out _, out _, out _, out length)); // trailing padding
        Assert.Equal(8, length);

        void Refused(int index, byte value)
        {
            var p = Hex(Ipv4Packet);
            p[index] = value;
            Assert.False(Ipv4.TryReadHeader(p, out _, out _, out _, out _));
        }
        Refused(0, 0x65); // version 6
        Refused(0, 0x44); // IHL 4
        Refused(0, 0x48); // IHL 8: 32 bytes of header, total length 28
        Refused(0, 0x4F); // IHL 15: beyond the packet
        Refused(3, 0x13); // total length 19: shorter than the header
        Refused(3, 0x1d); // total length 29: longer than the packet
        Refused(6, 0x60); // DF and MF: a first fragment
        Refused(7, 0x01); // fragment offset 8

        // Options: IHL 6 moves the payload.
        var withOptions = Hex("46000020000040004001" + "0000" + "c0000201c0000202" + "01010100" + "0000ffff00000000");
        Assert.True(Ipv4.TryReadHeader(withOptions, out _, out _, out offset, out length));
        Assert.Equal((24, 8), (offset, length));
    }

    [Fact]
    public void Ipv6_header_checks()
    {
        var packet = Hex("6000000000083aff" + "20010db8000000000000000000000001" + "ff020000000000000000000000000001" + "8100000000000000");
        Assert.True(Ipv6.TryReadHeader(packet, out var s, out var d, out var next, out var hops, out var offset, out var length));
        Assert.Equal((IPAddress.Parse("2001:db8::1"), Ndp.AllNodes, (byte)58, (byte)255, 40, 8), (s, d, next, hops, offset, length));
        packet[5] = 9;
        Assert.False(Ipv6.TryReadHeader(packet, out _, out _, out _, out _, out _, out _));
        packet[5] = 8; packet[0] = 0x40;
        Assert.False(Ipv6.TryReadHeader(packet, out _, out _, out _, out _, out _, out _));
    }
}
