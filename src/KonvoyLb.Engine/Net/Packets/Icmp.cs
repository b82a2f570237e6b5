using System.Buffers.Binary;
using System.Net;

namespace KonvoyLb.Engine.Net.Packets;

/// <summary>ICMP and ICMPv6 echo messages (RFC 792, RFC 4443 §4) and the Internet checksum (RFC 1071).</summary>
public static class Icmp
{
    public const byte EchoReplyV4Type = 0, EchoRequestV4Type = 8;
    public const byte EchoRequestV6Type = 128, EchoReplyV6Type = 129;

    /// <summary>Type, code, checksum, identifier, sequence number.</summary>
    public const int EchoHeaderLength = 8;

    /// <summary>ICMP echo request (type 8) with its checksum filled in.</summary>
    public static byte[] EchoRequestV4(ushort id, ushort sequence, ReadOnlySpan<byte> payload) =>
        EchoV4(EchoRequestV4Type, id, sequence, payload);

    /// <summary>ICMP echo reply (type 0) with its checksum filled in.</summary>
    public static byte[] EchoReplyV4(ushort id, ushort sequence, ReadOnlySpan<byte> payload) =>
        EchoV4(EchoReplyV4Type, id, sequence, payload);

    /// <summary>
    /// ICMPv6 echo request (type 128). The checksum covers an IPv6 pseudo-header, so it is filled only when
    /// <paramref name="source"/> and <paramref name="destination"/> are both given; otherwise it stays 0 and the
    /// kernel fills it (raw ICMPv6 sockets always do). Giving only one of the two throws.
    /// </summary>
    public static byte[] EchoRequestV6(ushort id, ushort sequence, ReadOnlySpan<byte> payload,
        IPAddress? source = null, IPAddress? destination = null) =>
        EchoV6(EchoRequestV6Type, id, sequence, payload, source, destination);

    /// <summary>ICMPv6 echo reply (type 129); checksum as for <see cref="EchoRequestV6"/>.</summary>
    public static byte[] EchoReplyV6(ushort id, ushort sequence, ReadOnlySpan<byte> payload,
        IPAddress? source = null, IPAddress? destination = null) =>
        EchoV6(EchoReplyV6Type, id, sequence, payload, source, destination);

    /// <summary>
    /// An echo reply: type 0 (IPv4) or 129 (IPv6), code 0, at least 8 bytes. For IPv4 the checksum must hold,
    /// since raw IPv4 sockets pass on ICMP messages the kernel has not checked; for IPv6 it cannot be checked
    /// without the addresses (the kernel verifies it for raw ICMPv6 sockets). Never throws.
    /// </summary>
    public static bool TryParseEchoReply(ReadOnlySpan<byte> icmp, bool v6, out ushort id, out ushort sequence) =>
        TryParseEcho(icmp, v6 ? EchoReplyV6Type : EchoReplyV4Type, !v6, out id, out sequence, out _);

    /// <inheritdoc cref="TryParseEchoReply(ReadOnlySpan{byte}, bool, out ushort, out ushort)"/>
    public static bool TryParseEchoReply(ReadOnlySpan<byte> icmp, bool v6, out ushort id, out ushort sequence, out ReadOnlySpan<byte> payload) =>
        TryParseEcho(icmp, v6 ? EchoReplyV6Type : EchoReplyV4Type, !v6, out id, out sequence, out payload);

    /// <summary>An echo request, type 8 (IPv4) or 128 (IPv6); otherwise as <see cref="TryParseEchoReply(ReadOnlySpan{byte}, bool, out ushort, out ushort)"/>.</summary>
    public static bool TryParseEchoRequest(ReadOnlySpan<byte> icmp, bool v6, out ushort id, out ushort sequence, out ReadOnlySpan<byte> payload) =>
        TryParseEcho(icmp, v6 ? EchoRequestV6Type : EchoRequestV4Type, !v6, out id, out sequence, out payload);

    /// <summary>
    /// RFC 1071: the one's complement of the one's complement sum of the data as big-endian 16-bit words, an odd
    /// last byte padded with zero. Over a message whose checksum field is 0 it is the value for that field; over a
    /// message with a correct checksum it is 0.
    /// </summary>
    public static ushort InternetChecksum(ReadOnlySpan<byte> data) => Finish(Sum(data, 0));

    /// <summary>RFC 4443 §2.3 / RFC 8200 §8.1: the checksum over the IPv6 pseudo-header (next header 58) and the ICMPv6 message.</summary>
    internal static ushort ChecksumV6(IPAddress source, IPAddress destination, ReadOnlySpan<byte> icmpv6)
    {
        Span<byte> pseudo = stackalloc byte[40];
        Wire.WriteIPv6(pseudo[..16], source, nameof(source));
        Wire.WriteIPv6(pseudo[16..32], destination, nameof(destination));
        BinaryPrimitives.WriteUInt32BigEndian(pseudo[32..36], (uint)icmpv6.Length);
        pseudo[36] = pseudo[37] = pseudo[38] = 0;
        pseudo[39] = Ipv6.NextHeaderIcmpV6;
        return Finish(Sum(icmpv6, Sum(pseudo, 0)));
    }

    /// <summary>Fills bytes 2-3 of an ICMPv6 message when both addresses are given; throws when only one is.</summary>
    internal static void FillChecksumV6(byte[] icmpv6, IPAddress? source, IPAddress? destination)
    {
        if (source is null && destination is null) return;
        if (source is null || destination is null)
            throw new ArgumentException("The ICMPv6 checksum needs both the source and the destination address, or neither.",
                source is null ? nameof(source) : nameof(destination));
        icmpv6[2] = icmpv6[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmpv6.AsSpan(2, 2), ChecksumV6(source, destination, icmpv6));
    }

    private static ulong Sum(ReadOnlySpan<byte> data, ulong sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length)
            sum += (uint)(data[i] << 8);
        return sum;
    }

    private static ushort Finish(ulong sum)
    {
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    private static byte[] Echo(byte type, ushort id, ushort sequence, ReadOnlySpan<byte> payload)
    {
        var message = new byte[EchoHeaderLength + payload.Length];
        message[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(4, 2), id);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6, 2), sequence);
        payload.CopyTo(message.AsSpan(EchoHeaderLength));
        return message;
    }

    private static byte[] EchoV4(byte type, ushort id, ushort sequence, ReadOnlySpan<byte> payload)
    {
        var message = Echo(type, id, sequence, payload);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2, 2), InternetChecksum(message));
        return message;
    }

    private static byte[] EchoV6(byte type, ushort id, ushort sequence, ReadOnlySpan<byte> payload, IPAddress? source, IPAddress? destination)
    {
        var message = Echo(type, id, sequence, payload);
        FillChecksumV6(message, source, destination);
        return message;
    }

    private static bool TryParseEcho(ReadOnlySpan<byte> icmp, byte type, bool checkSum,
        out ushort id, out ushort sequence, out ReadOnlySpan<byte> payload)
    {
        id = sequence = 0;
        payload = default;
        if (icmp.Length < EchoHeaderLength || icmp[0] != type || icmp[1] != 0) return false;
        if (checkSum && InternetChecksum(icmp) != 0) return false;
        id = BinaryPrimitives.ReadUInt16BigEndian(icmp[4..6]);
        sequence = BinaryPrimitives.ReadUInt16BigEndian(icmp[6..8]);
        payload = icmp[EchoHeaderLength..];
        return true;
    }
}
