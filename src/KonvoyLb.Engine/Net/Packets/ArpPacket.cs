using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;

namespace KonvoyLb.Engine.Net.Packets;

/// <summary>
/// An ARP message for IPv4 over Ethernet (RFC 826): hardware type 1, protocol type 0x0800, address lengths 6 and 4.
/// The builders follow RFC 5227 (probes, announcements) and RFC 5944 §4.6 (gratuitous replies).
/// </summary>
public readonly record struct ArpPacket(ushort Operation, PhysicalAddress SenderMac, IPAddress SenderIp, PhysicalAddress TargetMac, IPAddress TargetIp)
{
    public const ushort Request = 1, Reply = 2;

    /// <summary>The ARP message without Ethernet header or padding.</summary>
    public const int Length = 28;

    public const ushort HardwareTypeEthernet = 1;

    /// <summary>
    /// RFC 5227 §2.1.1 probe asking who holds <paramref name="target"/> without claiming any address:
    /// sender IP 0.0.0.0, target MAC all zeros. Send it to <see cref="Ethernet.Broadcast"/>.
    /// </summary>
    public static ArpPacket Probe(PhysicalAddress ourMac, IPAddress target) =>
        new(Request, ourMac, IPAddress.Any, Ethernet.Zero, target);

    /// <summary>
    /// The reply to <paramref name="request"/> saying its target IP is at <paramref name="ourMac"/>. Goes back to
    /// <c>request.SenderMac</c>. The reply to a probe carries target IP 0.0.0.0, as Linux answers probes.
    /// </summary>
    public static ArpPacket ReplyTo(ArpPacket request, PhysicalAddress ourMac) =>
        new(Reply, ourMac, request.TargetIp, request.SenderMac, request.SenderIp);

    /// <summary>
    /// The pair sent to broadcast when <paramref name="vip"/> moves to <paramref name="ourMac"/>; sender IP = target IP = VIP in both.
    /// The request is an RFC 5227 §2.3 announcement (target MAC zeros); the reply follows RFC 5944 §4.6 (target MAC = our MAC).
    /// </summary>
    public static (ArpPacket Request, ArpPacket Reply) Gratuitous(PhysicalAddress ourMac, IPAddress vip) =>
        (new(Request, ourMac, vip, Ethernet.Zero, vip), new(Reply, ourMac, vip, ourMac, vip));

    /// <summary>A request from nobody (sender IP 0.0.0.0): somebody checking whether an address is taken (RFC 5227).</summary>
    public bool IsProbe => Operation == Request && IPAddress.Any.Equals(SenderIp);

    /// <summary>Sender IP equals target IP and is not 0.0.0.0: an announcement or gratuitous ARP.</summary>
    public bool IsGratuitous => SenderIp is not null && SenderIp.Equals(TargetIp) && !IPAddress.Any.Equals(SenderIp);

    /// <summary>The 28-byte ARP message. Throws when a MAC is not 6 bytes or an address is not IPv4.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[Length];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Ethernet header plus ARP message, zero-padded to the 60-byte minimum frame.</summary>
    public byte[] ToFrame(PhysicalAddress destination, PhysicalAddress source)
    {
        var frame = new byte[Ethernet.MinimumFrameLength];
        Ethernet.WriteHeader(frame, destination, source, Ethernet.TypeArp);
        WriteTo(frame.AsSpan(Ethernet.HeaderLength));
        return frame;
    }

    private void WriteTo(Span<byte> arp)
    {
        BinaryPrimitives.WriteUInt16BigEndian(arp[0..2], HardwareTypeEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..4], Ethernet.TypeIPv4);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..8], Operation);
        Wire.WriteMac(arp[8..14], SenderMac, nameof(SenderMac));
        Wire.WriteIPv4(arp[14..18], SenderIp, nameof(SenderIp));
        Wire.WriteMac(arp[18..24], TargetMac, nameof(TargetMac));
        Wire.WriteIPv4(arp[24..28], TargetIp, nameof(TargetIp));
    }

    /// <summary>
    /// Parses an ARP message (no Ethernet header); bytes past the 28 (padding) are ignored. False unless it is
    /// Ethernet/IPv4 ARP. Any operation code is accepted: the caller decides. Never throws.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> arp, out ArpPacket packet)
    {
        packet = default;
        if (arp.Length < Length
            || BinaryPrimitives.ReadUInt16BigEndian(arp[0..2]) != HardwareTypeEthernet
            || BinaryPrimitives.ReadUInt16BigEndian(arp[2..4]) != Ethernet.TypeIPv4
            || arp[4] != 6 || arp[5] != 4)
            return false;
        packet = new ArpPacket(BinaryPrimitives.ReadUInt16BigEndian(arp[6..8]),
            Wire.ReadMac(arp[8..14]), Wire.ReadIPv4(arp[14..18]),
            Wire.ReadMac(arp[18..24]), Wire.ReadIPv4(arp[24..28]));
        return true;
    }

    /// <summary>Parses an Ethernet frame of type 0x0806 carrying Ethernet/IPv4 ARP. False on anything else. Never throws.</summary>
    public static bool TryParseFrame(ReadOnlySpan<byte> frame, out ArpPacket packet)
    {
        packet = default;
        return Ethernet.TryRead(frame, out _, out _, out ushort type, out var payload)
            && type == Ethernet.TypeArp
            && TryParse(payload, out packet);
    }
}
