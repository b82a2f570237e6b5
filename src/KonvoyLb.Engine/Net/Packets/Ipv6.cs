using System.Buffers.Binary;
using System.Net;

namespace KonvoyLb.Engine.Net.Packets;

/// <summary>The fixed IPv6 header (RFC 8200 §3), for frames read from a packet socket. Extension headers are not walked.</summary>
public static class Ipv6
{
    public const int HeaderLength = 40;
    public const byte NextHeaderIcmpV6 = 58;

    /// <summary>
    /// Reads the fixed header at the start of <paramref name="packet"/>: version 6 and a payload length that fits
    /// the packet (bytes past it are ignored; a jumbogram's payload length 0 reads as an empty payload).
    /// <paramref name="nextHeader"/> is the base header's field. Never throws.
    /// </summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> packet, out IPAddress source, out IPAddress destination,
        out byte nextHeader, out byte hopLimit, out int payloadOffset, out int payloadLength)
    {
        source = destination = IPAddress.IPv6None;
        nextHeader = hopLimit = 0;
        payloadOffset = payloadLength = 0;
        if (packet.Length < HeaderLength || packet[0] >> 4 != 6) return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(packet[4..6]);
        if (length > packet.Length - HeaderLength) return false;
        nextHeader = packet[6];
        hopLimit = packet[7];
        source = Wire.ReadIPv6(packet[8..24]);
        destination = Wire.ReadIPv6(packet[24..40]);
        payloadOffset = HeaderLength;
        payloadLength = length;
        return true;
    }
}
