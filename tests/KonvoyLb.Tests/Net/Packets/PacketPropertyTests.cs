using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using CsCheck;
using KonvoyLb.Engine.Net.Packets;

namespace KonvoyLb.Tests.Net.Packets;

// Random packets: encode -> parse round trips, truncations, and random or mutated bytes that must never throw.
public class PacketPropertyTests
{
    private static readonly Gen<PhysicalAddress> Mac = Gen.Byte.Array[6].Select(b => new PhysicalAddress(b));
    private static readonly Gen<PhysicalAddress?> MaybeMac = Gen.Select(Gen.Bool, Mac, (has, mac) => has ? mac : null);
    private static readonly Gen<IPAddress> V4 = Gen.Byte.Array[4].Select(b => new IPAddress(b));
    private static readonly Gen<IPAddress> V6 = Gen.Byte.Array[16].Select(b => new IPAddress(b));
    private static readonly Gen<IPAddress> V6Unicast = Gen.Byte.Array[16].Where(b => b[0] != 0xFF).Select(b => new IPAddress(b));
    private static readonly Gen<byte[]> Payload = Gen.Byte.Array[0, 64];

    private static readonly Gen<ArpPacket> Arp = Gen.Select(Gen.OneOf(Gen.Const(ArpPacket.Request), Gen.Const(ArpPacket.Reply), Gen.UShort),
        Mac, V4, Mac, V4, (op, sm, si, tm, ti) => new ArpPacket(op, sm, si, tm, ti));

    private static readonly Gen<NeighborSolicitation> Ns = Gen.Select(V6Unicast, MaybeMac, (t, m) => new NeighborSolicitation(t, m));

    private static readonly Gen<NeighborAdvertisement> Na = Gen.Select(V6Unicast, MaybeMac, Gen.Bool, Gen.Bool, Gen.Bool,
        (t, m, r, s, o) => new NeighborAdvertisement(t, m, r, s, o));

    /// <summary>Source and destination for the checksum, or neither.</summary>
    private static readonly Gen<(IPAddress? Source, IPAddress? Destination)> Addresses =
        Gen.Select(Gen.Bool, V6Unicast, V6Unicast, (has, s, d) => has ? ((IPAddress?)s, (IPAddress?)d) : (null, null));

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    [Fact]
    public void Arp_round_trip() =>
        Gen.Select(Arp, Mac, Mac).Sample((arp, destination, source) =>
        {
            var frame = arp.ToFrame(destination, source);
            Assert.Equal(60, frame.Length);
            Assert.True(ArpPacket.TryParseFrame(frame, out var parsed));
            Assert.Equal(arp, parsed);
            Assert.True(Ethernet.TryRead(frame, out var d, out var s, out var type, out var payload));
            Assert.Equal((destination, source, Ethernet.TypeArp, 46), (d, s, type, payload.Length));
            Assert.True(ArpPacket.TryParse(arp.ToBytes(), out parsed));
            Assert.Equal(arp, parsed);
        }, iter: 500);

    [Fact]
    public void Arp_builders_produce_what_they_promise() =>
        Gen.Select(Mac, Mac, V4, V4).Sample((ours, theirs, vip, asker) =>
        {
            var probe = ArpPacket.Probe(ours, vip);
            Assert.True(probe.IsProbe);
            Assert.Equal((ours, IPAddress.Any, Ethernet.Zero, vip), (probe.SenderMac, probe.SenderIp, probe.TargetMac, probe.TargetIp));

            var request = new ArpPacket(ArpPacket.Request, theirs, asker, Ethernet.Zero, vip);
            var reply = ArpPacket.ReplyTo(request, ours);
            Assert.Equal(new ArpPacket(ArpPacket.Reply, ours, vip, theirs, asker), reply);

            var (announce, gratuitousReply) = ArpPacket.Gratuitous(ours, vip);
            Assert.Equal(new ArpPacket(ArpPacket.Request, ours, vip, Ethernet.Zero, vip), announce);
            Assert.Equal(new ArpPacket(ArpPacket.Reply, ours, vip, ours, vip), gratuitousReply);
            Assert.Equal(!vip.Equals(IPAddress.Any), announce.IsGratuitous);
        }, iter: 300);

    [Fact]
    public void Arp_truncations_are_refused_and_padding_is_optional() =>
        Gen.Select(Arp, Mac, Mac).Sample((arp, destination, source) =>
        {
            var frame = arp.ToFrame(destination, source);
            for (int cut = 0; cut < 42; cut++)
                Assert.False(ArpPacket.TryParseFrame(frame.AsSpan(0, cut), out _));
            for (int cut = 42; cut <= 60; cut++)
                Assert.True(ArpPacket.TryParseFrame(frame.AsSpan(0, cut), out _));
        }, iter: 200);

    [Fact]
    public void Solicitation_round_trip() =>
        Gen.Select(Ns, Addresses).Sample((ns, addresses) =>
        {
            var message = Ndp.Solicitation(ns, addresses.Source, addresses.Destination);
            Assert.Equal(ns.SourceMac is null ? 24 : 32, message.Length);
            Assert.True(Ndp.TryParseSolicitation(message, out var parsed));
            Assert.Equal(ns, parsed);
            Assert.False(Ndp.TryParseAdvertisement(message, out _));
            CheckChecksum(message, addresses);
        }, iter: 500);

    [Fact]
    public void Advertisement_round_trip() =>
        Gen.Select(Na, Addresses).Sample((na, addresses) =>
        {
            var message = Ndp.Advertisement(na, addresses.Source, addresses.Destination);
            Assert.True(Ndp.TryParseAdvertisement(message, out var parsed));
            Assert.Equal(na, parsed);
            Assert.False(Ndp.TryParseSolicitation(message, out _));
            CheckChecksum(message, addresses);
            if (na.TargetMac is not null && !na.Router)
                Assert.Equal(Hex(message), Hex(Ndp.Advertisement(na.Target, na.TargetMac, na.Solicited, na.Override, addresses.Source, addresses.Destination)));
        }, iter: 500);

    private static void CheckChecksum(byte[] message, (IPAddress? Source, IPAddress? Destination) addresses)
    {
        if (addresses.Source is { } s && addresses.Destination is { } d)
            Assert.Equal(0, Ndp.Checksum(s, d, message));
        else
            Assert.Equal(0, message[2] | message[3]);
    }

    [Fact]
    public void Nd_truncations_are_refused_except_exactly_before_the_option() =>
        Gen.Select(Ns, Na).Sample((ns, na) =>
        {
            foreach (var message in new[] { Ndp.Solicitation(ns), Ndp.Advertisement(na) })
                for (int cut = 0; cut < message.Length; cut++)
                {
                    var part = message.AsSpan(0, cut);
                    bool ok = Ndp.TryParseSolicitation(part, out var s) | Ndp.TryParseAdvertisement(part, out var a);
                    Assert.Equal(cut == 24, ok);
                    if (ok) Assert.True(s.SourceMac is null && a.TargetMac is null);
                }
        }, iter: 200);

    /// <summary>Options as (type, length in 8-byte units, body): a well-formed chain after the fixed 24 bytes.</summary>
    private static readonly Gen<(byte Type, byte[] Bytes)[]> OptionChain =
        Gen.Select(Gen.OneOf(Gen.Const((byte)1), Gen.Const((byte)2), Gen.Byte), Gen.Int[1, 3], Gen.Byte.Array[22])
            .Select((type, units, body) =>
            {
                var option = new byte[units * 8];
                option[0] = type;
                option[1] = (byte)units;
                body.AsSpan(0, option.Length - 2).CopyTo(option.AsSpan(2));
                return (type, option);
            }).Array[0, 5];

    [Fact]
    public void Option_walk_finds_the_first_ethernet_link_layer_option_and_refuses_a_zero_length() =>
        Gen.Select(Na, OptionChain, Gen.Int[0, 100]).Sample((na, options, broken) =>
        {
            var header = Ndp.Advertisement(na with { TargetMac = null });
            var message = header.Concat(options.SelectMany(o => o.Bytes)).ToArray();
            var first = options.FirstOrDefault(o => o.Type == Ndp.OptionTargetLinkLayerAddress && o.Bytes.Length == 8);
            Assert.True(Ndp.TryParseAdvertisement(message, out var parsed));
            Assert.Equal(first.Bytes is null ? null : new PhysicalAddress(first.Bytes[2..8]), parsed.TargetMac);

            if (options.Length == 0) return;
            int offset = 24 + options.Take(broken % options.Length).Sum(o => o.Bytes.Length);
            message[offset + 1] = 0;
            Assert.False(Ndp.TryParseAdvertisement(message, out _));
            message[offset + 1] = 32; // now too long for what is left
            Assert.False(Ndp.TryParseAdvertisement(message, out _));
        }, iter: 500);

    [Fact]
    public void Echo_round_trip() =>
        Gen.Select(Gen.UShort, Gen.UShort, Payload, Addresses).Sample((id, seq, payload, addresses) =>
        {
            foreach (var (message, v6, reply) in new[]
            {
                (Icmp.EchoRequestV4(id, seq, payload), false, false),
                (Icmp.EchoReplyV4(id, seq, payload), false, true),
                (Icmp.EchoRequestV6(id, seq, payload, addresses.Source, addresses.Destination), true, false),
                (Icmp.EchoReplyV6(id, seq, payload, addresses.Source, addresses.Destination), true, true),
            })
            {
                Assert.Equal(8 + payload.Length, message.Length);
                if (!v6) Assert.Equal(0, Icmp.InternetChecksum(message));
                else CheckChecksum(message, addresses);

                Assert.Equal(reply, Icmp.TryParseEchoReply(message, v6, out var i, out var s, out var p));
                Assert.Equal(!reply, Icmp.TryParseEchoRequest(message, v6, out var i2, out var s2, out var p2));
                Assert.False(Icmp.TryParseEchoReply(message, !v6, out _, out _));
                Assert.Equal((id, seq, Hex(payload)), reply ? (i, s, Hex(p)) : (i2, s2, Hex(p2)));
                for (int cut = 0; cut < 8; cut++)
                    Assert.False(Icmp.TryParseEchoReply(message.AsSpan(0, cut), v6, out _, out _));
            }
        }, iter: 500);

    /// <summary>An IPv4 packet built by hand: header with <paramref name="optionWords"/> words of options, checksum, payload.</summary>
    private static byte[] Ipv4Packet(IPAddress source, IPAddress destination, byte protocol, int optionWords, byte[] payload)
    {
        int headerLength = 20 + optionWords * 4;
        var packet = new byte[headerLength + payload.Length];
        packet[0] = (byte)(0x40 | headerLength / 4);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[6] = 0x40; // DF
        packet[8] = 64;
        packet[9] = protocol;
        source.TryWriteBytes(packet.AsSpan(12, 4), out _);
        destination.TryWriteBytes(packet.AsSpan(16, 4), out _);
        packet.AsSpan(20, optionWords * 4).Fill(1); // NOP options
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Icmp.InternetChecksum(packet.AsSpan(0, headerLength)));
        payload.CopyTo(packet, headerLength);
        return packet;
    }

    [Fact]
    public void Ipv4_header_round_trip_and_truncations() =>
        Gen.Select(V4, V4, Gen.Byte, Gen.Int[0, 10], Payload, Gen.Byte.Array[0, 4]).Sample((source, destination, protocol, words, payload, trailer) =>
        {
            var packet = Ipv4Packet(source, destination, protocol, words, payload);
            var padded = packet.Concat(trailer).ToArray(); // bytes past the total length are not the payload's
            Assert.True(Ipv4.TryReadHeader(padded, out var s, out var d, out var p, out var offset, out var length));
            Assert.Equal((source, destination, protocol, 20 + words * 4, payload.Length), (s, d, p, offset, length));
            for (int cut = 0; cut < packet.Length; cut++)
                Assert.False(Ipv4.TryReadHeader(packet.AsSpan(0, cut), out _, out _, out _, out _));
        }, iter: 300);

    // ---- arbitrary bytes never throw, and whatever parses is consistent with what the builders make ----

    private static readonly Gen<byte[]> ValidPacket = Gen.OneOf(
        Gen.Select(Arp, Mac, Mac, (a, d, s) => a.ToFrame(d, s)),
        Gen.Select(Arp, a => a.ToBytes()),
        Gen.Select(Ns, Addresses, (ns, a) => Ndp.Solicitation(ns, a.Source, a.Destination)),
        Gen.Select(Na, Addresses, (na, a) => Ndp.Advertisement(na, a.Source, a.Destination)),
        Gen.Select(Na, OptionChain, (na, o) => Ndp.Advertisement(na).Concat(o.SelectMany(x => x.Bytes)).ToArray()),
        Gen.Select(Gen.UShort, Gen.UShort, Payload, (i, s, p) => Icmp.EchoReplyV4(i, s, p)),
        Gen.Select(Gen.UShort, Gen.UShort, Payload, (i, s, p) => Icmp.EchoReplyV6(i, s, p)),
        Gen.Select(V4, V4, Gen.Int[0, 10], Payload, (s, d, w, p) => Ipv4Packet(s, d, 1, w, p)),
        Gen.Select(V6, V6, Na, (s, d, na) =>
        {
            var icmp = Ndp.Advertisement(na);
            var header = new byte[40];
            header[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), (ushort)icmp.Length);
            header[6] = 58;
            header[7] = 255;
            s.TryWriteBytes(header.AsSpan(8), out _);
            d.TryWriteBytes(header.AsSpan(24), out _);
            return header.Concat(icmp).ToArray();
        }));

    /// <summary>A valid packet with a few bytes overwritten, then cut or extended.</summary>
    private static readonly Gen<byte[]> Mutated =
        Gen.Select(ValidPacket, Gen.Select(Gen.Int[0, 1000], Gen.Byte).Array[0, 4], Gen.Int[-10, 6], Gen.Byte)
            .Select((packet, writes, resize, fill) =>
            {
                foreach (var (at, value) in writes)
                    if (packet.Length > 0) packet[at % packet.Length] = value;
                int length = Math.Max(0, packet.Length + resize);
                var result = new byte[length];
                packet.AsSpan(0, Math.Min(length, packet.Length)).CopyTo(result);
                result.AsSpan(Math.Min(length, packet.Length)).Fill(fill);
                return result;
            });

    [Fact]
    public void Random_bytes_never_throw() => Gen.Byte.Array[0, 128].Sample(ParseEverything, iter: 5000);

    [Fact]
    public void Mutated_packets_never_throw() => Mutated.Sample(ParseEverything, iter: 5000);

    [Fact]
    public void Valid_packets_parse_consistently() => ValidPacket.Sample(ParseEverything, iter: 1000);

    private static void ParseEverything(byte[] bytes)
    {
        if (Ethernet.TryRead(bytes, out var dst, out var src, out var type, out var payload))
        {
            var header = new byte[14];
            Ethernet.WriteHeader(header, dst, src, type);
            Assert.Equal(Hex(bytes.AsSpan(0, 14)), Hex(header));
            Assert.Equal(bytes.Length - 14, payload.Length);

            if (ArpPacket.TryParseFrame(bytes, out var framed))
                Assert.Equal(Hex(bytes.AsSpan(0, 42)), Hex(framed.ToFrame(dst, src).AsSpan(0, 42)));
        }
        else
        {
            Assert.True(bytes.Length < 14 || bytes[12] < 6);
            Assert.False(ArpPacket.TryParseFrame(bytes, out _));
        }

        if (ArpPacket.TryParse(bytes, out var arp))
            Assert.Equal(Hex(bytes.AsSpan(0, 28)), Hex(arp.ToBytes()));

        if (Ndp.TryParseSolicitation(bytes, out var ns))
        {
            var again = Ndp.Solicitation(ns);
            Assert.Equal(Hex(bytes.AsSpan(0, 2)), Hex(again.AsSpan(0, 2)));
            Assert.Equal(Hex(bytes.AsSpan(8, 16)), Hex(again.AsSpan(8, 16)));
            if (ns.SourceMac is not null) Assert.Contains(Hex(again.AsSpan(24)), Hex(bytes.AsSpan(24)));
        }

        if (Ndp.TryParseAdvertisement(bytes, out var na))
        {
            var again = Ndp.Advertisement(na);
            Assert.Equal(Hex(bytes.AsSpan(0, 2)), Hex(again.AsSpan(0, 2)));
            Assert.Equal(bytes[4] & 0xE0, again[4]);
            Assert.Equal(Hex(bytes.AsSpan(8, 16)), Hex(again.AsSpan(8, 16)));
            if (na.TargetMac is not null) Assert.Contains(Hex(again.AsSpan(24)), Hex(bytes.AsSpan(24)));
        }

        foreach (bool v6 in new[] { false, true })
        {
            if (Icmp.TryParseEchoReply(bytes, v6, out var id, out var seq, out var echoPayload))
            {
                var again = v6 ? Icmp.EchoReplyV6(id, seq, echoPayload) : Icmp.EchoReplyV4(id, seq, echoPayload);
                AssertSameEcho(bytes, again, v6);
                Assert.True(Icmp.TryParseEchoReply(bytes, v6, out var id2, out var seq2));
                Assert.Equal((id, seq), (id2, seq2));
            }
            if (Icmp.TryParseEchoRequest(bytes, v6, out id, out seq, out echoPayload))
                AssertSameEcho(bytes, v6 ? Icmp.EchoRequestV6(id, seq, echoPayload) : Icmp.EchoRequestV4(id, seq, echoPayload), v6);
        }

        if (Ipv4.TryReadHeader(bytes, out var source, out var destination, out _, out var offset, out var length))
        {
            Assert.Equal(4, bytes[0] >> 4);
            Assert.Equal((bytes[0] & 15) * 4, offset);
            Assert.InRange(offset + length, 20, bytes.Length);
            Assert.Equal(Hex(bytes.AsSpan(12, 8)), Hex(source.GetAddressBytes().Concat(destination.GetAddressBytes()).ToArray()));
            Assert.True(Ipv4.TryReadHeader(bytes, out var source2, out _, out _, out _));
            Assert.Equal(source, source2);
        }

        if (Ipv6.TryReadHeader(bytes, out source, out destination, out var next, out var hops, out offset, out length))
        {
            Assert.Equal((6, 40, bytes[6], bytes[7]), (bytes[0] >> 4, offset, next, hops));
            Assert.InRange(length, 0, bytes.Length - 40);
            Assert.Equal(Hex(bytes.AsSpan(8, 32)), Hex(source.GetAddressBytes().Concat(destination.GetAddressBytes()).ToArray()));
        }
    }

    /// <summary>Same message but for the checksum field; and for IPv4 the received checksum holds (0000 and ffff both do).</summary>
    private static void AssertSameEcho(byte[] received, byte[] built, bool v6)
    {
        Assert.Equal(received.Length, built.Length);
        Assert.Equal(Hex(received.AsSpan(0, 2)), Hex(built.AsSpan(0, 2)));
        Assert.Equal(Hex(received.AsSpan(4)), Hex(built.AsSpan(4)));
        if (!v6) Assert.Equal(0, Icmp.InternetChecksum(received));
    }
}
