using System.Buffers.Binary;
using System.Net.NetworkInformation;

namespace KonvoyLb.Engine.Net.Packets;

/// <summary>Ethernet II headers: destination MAC, source MAC, EtherType. No 802.1Q tag (a packet socket hands frames untagged).</summary>
public static class Ethernet
{
    public const int HeaderLength = 14;

    /// <summary>The shortest frame on the wire without its 4-byte FCS; shorter ones are padded with zeros.</summary>
    public const int MinimumFrameLength = 60;

    public const ushort TypeArp = 0x0806, TypeIPv4 = 0x0800, TypeIPv6 = 0x86DD;

    /// <summary>EtherType values start here; a smaller value in that field is an IEEE 802.3 length.</summary>
    public const ushort MinimumEtherType = 0x0600;

    private static readonly byte[] BroadcastBytes = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    private static readonly byte[] ZeroBytes = new byte[6];

    /// <summary>ff:ff:ff:ff:ff:ff. A new instance each time, so no caller can share state through it.</summary>
    public static PhysicalAddress Broadcast => new(BroadcastBytes.ToArray());

    /// <summary>00:00:00:00:00:00, the "unknown" hardware address of ARP probes and announcements.</summary>
    public static PhysicalAddress Zero => new(ZeroBytes.ToArray());

    /// <summary>Writes the 14-byte header at the start of <paramref name="frame"/>. Throws on a frame shorter than that or MACs that are not 6 bytes.</summary>
    public static void WriteHeader(Span<byte> frame, PhysicalAddress destination, PhysicalAddress source, ushort etherType)
    {
        if (frame.Length < HeaderLength)
            throw new ArgumentException($"An Ethernet header needs {HeaderLength} bytes, the frame has {frame.Length}.", nameof(frame));
        Wire.WriteMac(frame[..6], destination, nameof(destination));
        Wire.WriteMac(frame[6..12], source, nameof(source));
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..14], etherType);
    }

    /// <summary>
    /// Splits an Ethernet II frame. False when it is shorter than a header or its type field is an 802.3 length
    /// (below 0x0600). <paramref name="payload"/> runs to the end of the frame, padding included. Never throws.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out PhysicalAddress destination, out PhysicalAddress source,
        out ushort etherType, out ReadOnlySpan<byte> payload)
    {
        destination = source = PhysicalAddress.None;
        etherType = 0;
        payload = default;
        if (frame.Length < HeaderLength) return false;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..14]);
        if (type < MinimumEtherType) return false;
        destination = Wire.ReadMac(frame[..6]);
        source = Wire.ReadMac(frame[6..12]);
        etherType = type;
        payload = frame[HeaderLength..];
        return true;
    }
}
