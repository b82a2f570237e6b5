using System.Buffers.Binary;
using System.Net;

namespace KonvoyLb.Engine.Net.Packets;

/// <summary>The IPv4 header (RFC 791) as a raw IPv4 socket hands it over on Linux: as it was on the wire.</summary>
public static class Ipv4
{
    public const int MinimumHeaderLength = 20;
    public const byte ProtocolIcmp = 1;

    /// <summary>
    /// Reads the header at the start of <paramref name="packet"/>: version 4, IHL at least 5 and within the packet,
    /// total length between the header length and the packet length (bytes past it are ignored), and no fragment
    /// (the kernel reassembles before a raw socket sees the packet, so a fragment cannot be a whole message).
    /// The header checksum is not checked again: the kernel drops packets whose header checksum is wrong.
    /// Never throws.
    /// </summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> packet, out IPAddress source, out byte protocol, out int payloadOffset, out int payloadLength) =>
        TryReadHeader(packet, out source, out _, out protocol, out payloadOffset, out payloadLength);

    /// <inheritdoc cref="TryReadHeader(ReadOnlySpan{byte}, out IPAddress, out byte, out int, out int)"/>
    public static bool TryReadHeader(ReadOnlySpan<byte> packet, out IPAddress source, out IPAddress destination,
        out byte protocol, out int payloadOffset, out int payloadLength)
    {
        source = destination = IPAddress.None;
        protocol = 0;
        payloadOffset = payloadLength = 0;
        if (packet.Length < MinimumHeaderLength || packet[0] >> 4 != 4) return false;
        int headerLength = (packet[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet[2..4]);
        if (headerLength < MinimumHeaderLength || headerLength > packet.Length
            || totalLength < headerLength || totalLength > packet.Length)
            return false;
        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(packet[6..8]);
        if ((fragment & 0x3FFF) != 0) return false; // MF set or an offset: a fragment
        protocol = packet[9];
        source = Wire.ReadIPv4(packet[12..16]);
        destination = Wire.ReadIPv4(packet[16..20]);
        payloadOffset = headerLength;
        payloadLength = totalLength - headerLength;
        return true;
    }
}
