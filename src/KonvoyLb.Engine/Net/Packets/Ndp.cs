using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;

namespace KonvoyLb.Engine.Net.Packets;

/// <summary>A Neighbor Advertisement (RFC 4861 §4.4). <see cref="TargetMac"/> is the Target Link-Layer Address option, when present.</summary>
public readonly record struct NeighborAdvertisement(IPAddress Target, PhysicalAddress? TargetMac, bool Router, bool Solicited, bool Override);

/// <summary>A Neighbor Solicitation (RFC 4861 §4.3). <see cref="SourceMac"/> is the Source Link-Layer Address option, when present.</summary>
public readonly record struct NeighborSolicitation(IPAddress Target, PhysicalAddress? SourceMac);

/// <summary>
/// IPv6 Neighbor Discovery messages for Ethernet (RFC 4861, RFC 2464). Messages are ICMPv6 bodies starting at
/// the type byte, as a raw ICMPv6 socket sends and receives them; sent with hop limit 255.
/// </summary>
public static class Ndp
{
    public const byte SolicitationType = 135, AdvertisementType = 136;
    public const byte OptionSourceLinkLayerAddress = 1, OptionTargetLinkLayerAddress = 2;

    /// <summary>Type, code, checksum, flags/reserved, target address: the part before any option.</summary>
    public const int MessageLength = 24;

    /// <summary>ND messages must arrive with this hop limit (RFC 4861 §7.1), proving they were not routed.</summary>
    public const byte HopLimit = 255;

    public const byte FlagRouter = 0x80, FlagSolicited = 0x40, FlagOverride = 0x20;

    /// <summary>ff02::1, where unsolicited advertisements go.</summary>
    public static IPAddress AllNodes => IPAddress.Parse("ff02::1");

    private const int LinkLayerOptionLength = 8; // type, length (in 8-byte units: 1), 6-byte MAC

    /// <summary>RFC 4291 §2.7.1: ff02::1:ff00:0/104 followed by the low 24 bits of <paramref name="target"/>.</summary>
    public static IPAddress SolicitedNodeMulticast(IPAddress target)
    {
        Wire.RequireIPv6(target, nameof(target));
        Span<byte> bytes = stackalloc byte[16];
        target.TryWriteBytes(bytes, out _);
        Span<byte> result = stackalloc byte[16];
        result[0] = 0xFF;
        result[1] = 0x02;
        result[11] = 0x01;
        result[12] = 0xFF;
        bytes[13..].CopyTo(result[13..]);
        return new IPAddress(result);
    }

    /// <summary>RFC 2464 §7: 33:33 followed by the low 32 bits of the IPv6 multicast address.</summary>
    public static PhysicalAddress MulticastMac(IPAddress ipv6Multicast)
    {
        Wire.RequireIPv6(ipv6Multicast, nameof(ipv6Multicast));
        if (!ipv6Multicast.IsIPv6Multicast)
            throw new ArgumentException($"{ipv6Multicast} is not a multicast address.", nameof(ipv6Multicast));
        Span<byte> bytes = stackalloc byte[16];
        ipv6Multicast.TryWriteBytes(bytes, out _);
        return new PhysicalAddress([0x33, 0x33, bytes[12], bytes[13], bytes[14], bytes[15]]);
    }

    /// <summary>
    /// A Neighbor Solicitation for <paramref name="target"/>, with a Source Link-Layer Address option when
    /// <paramref name="sourceMac"/> is given. The checksum is filled when both <paramref name="source"/> and
    /// <paramref name="destination"/> are given, else left 0 (the kernel fills it on a raw ICMPv6 socket);
    /// only one of them throws. A DAD probe comes from :: and must carry no MAC (RFC 4861 §7.2.2), so that throws too.
    /// Usual destination: <see cref="SolicitedNodeMulticast"/> of the target.
    /// </summary>
    public static byte[] Solicitation(IPAddress target, PhysicalAddress? sourceMac, IPAddress? source = null, IPAddress? destination = null)
    {
        if (sourceMac is not null && IPAddress.IPv6Any.Equals(source))
            throw new ArgumentException("A solicitation from the unspecified address must not carry a source link-layer address.", nameof(sourceMac));
        var message = Message(SolicitationType, 0, target, sourceMac, OptionSourceLinkLayerAddress, nameof(sourceMac));
        Icmp.FillChecksumV6(message, source, destination);
        return message;
    }

    /// <inheritdoc cref="Solicitation(IPAddress, PhysicalAddress?, IPAddress?, IPAddress?)"/>
    public static byte[] Solicitation(NeighborSolicitation ns, IPAddress? source = null, IPAddress? destination = null) =>
        Solicitation(ns.Target, ns.SourceMac, source, destination);

    /// <summary>
    /// A Neighbor Advertisement saying <paramref name="target"/> is at <paramref name="targetMac"/> (Target
    /// Link-Layer Address option), Router flag clear. Checksum as for <see cref="Solicitation(IPAddress, PhysicalAddress?, IPAddress?, IPAddress?)"/>.
    /// An unsolicited one (to <see cref="AllNodes"/>) has <paramref name="solicited"/> false; a multicast
    /// <paramref name="destination"/> with <paramref name="solicited"/> true throws (RFC 4861 §7.1.2).
    /// </summary>
    public static byte[] Advertisement(IPAddress target, PhysicalAddress targetMac, bool solicited, bool @override,
        IPAddress? source = null, IPAddress? destination = null)
    {
        ArgumentNullException.ThrowIfNull(targetMac);
        return Advertisement(new NeighborAdvertisement(target, targetMac, Router: false, solicited, @override), source, destination);
    }

    /// <summary>As the other overload, from a record: the Router flag is taken from it and a null MAC leaves the option out.</summary>
    public static byte[] Advertisement(NeighborAdvertisement na, IPAddress? source = null, IPAddress? destination = null)
    {
        if (na.Solicited && destination is not null && destination.IsIPv6Multicast)
            throw new ArgumentException("A solicited advertisement cannot go to a multicast address.", nameof(destination));
        byte flags = (byte)((na.Router ? FlagRouter : 0) | (na.Solicited ? FlagSolicited : 0) | (na.Override ? FlagOverride : 0));
        var message = Message(AdvertisementType, flags, na.Target, na.TargetMac, OptionTargetLinkLayerAddress, nameof(na.TargetMac));
        Icmp.FillChecksumV6(message, source, destination);
        return message;
    }

    /// <summary>
    /// Parses a Neighbor Advertisement per RFC 4861 §7.1.2 as far as the ICMPv6 body shows: type 136, code 0,
    /// at least 24 bytes, target not multicast, every option inside the message with a length above 0. The first
    /// Target Link-Layer Address option of Ethernet size (length 1) gives <c>TargetMac</c>; other options are skipped.
    /// The checksum and hop limit are the socket's to check (<see cref="Checksum"/>). Never throws.
    /// </summary>
    public static bool TryParseAdvertisement(ReadOnlySpan<byte> icmpv6, out NeighborAdvertisement na)
    {
        na = default;
        if (!TryParse(icmpv6, AdvertisementType, OptionTargetLinkLayerAddress, out var target, out var mac)) return false;
        byte flags = icmpv6[4];
        na = new NeighborAdvertisement(target, mac, (flags & FlagRouter) != 0, (flags & FlagSolicited) != 0, (flags & FlagOverride) != 0);
        return true;
    }

    /// <summary>As <see cref="TryParseAdvertisement"/> for a Neighbor Solicitation (type 135, Source Link-Layer Address option). Never throws.</summary>
    public static bool TryParseSolicitation(ReadOnlySpan<byte> icmpv6, out NeighborSolicitation ns)
    {
        ns = default;
        if (!TryParse(icmpv6, SolicitationType, OptionSourceLinkLayerAddress, out var target, out var mac)) return false;
        ns = new NeighborSolicitation(target, mac);
        return true;
    }

    /// <summary>
    /// RFC 4443 §2.3: the Internet checksum over the IPv6 pseudo-header (source, destination, length, next header 58)
    /// and the message as given. With the checksum field 0 it is the value to put there; over a received message it is 0 when intact.
    /// </summary>
    public static ushort Checksum(IPAddress source, IPAddress destination, ReadOnlySpan<byte> icmpv6) =>
        Icmp.ChecksumV6(source, destination, icmpv6);

    private static byte[] Message(byte type, byte flags, IPAddress target, PhysicalAddress? mac, byte optionType, string macParam)
    {
        Wire.RequireIPv6(target, nameof(target));
        if (target.IsIPv6Multicast)
            throw new ArgumentException($"The target {target} is a multicast address.", nameof(target));
        var message = new byte[MessageLength + (mac is null ? 0 : LinkLayerOptionLength)];
        message[0] = type;
        message[4] = flags;
        Wire.WriteIPv6(message.AsSpan(8, 16), target, nameof(target));
        if (mac is not null)
        {
            message[MessageLength] = optionType;
            message[MessageLength + 1] = LinkLayerOptionLength / 8;
            Wire.WriteMac(message.AsSpan(MessageLength + 2, 6), mac, macParam);
        }
        return message;
    }

    private static bool TryParse(ReadOnlySpan<byte> message, byte type, byte macOption, out IPAddress target, out PhysicalAddress? mac)
    {
        target = IPAddress.IPv6None;
        mac = null;
        if (message.Length < MessageLength || message[0] != type || message[1] != 0) return false;
        var options = message[MessageLength..];
        while (!options.IsEmpty)
        {
            if (options.Length < 2) return false;
            int length = options[1] * 8;
            if (length == 0 || length > options.Length) return false;
            if (options[0] == macOption && length == LinkLayerOptionLength && mac is null)
                mac = Wire.ReadMac(options[2..8]);
            options = options[length..];
        }
        if (message[8] == 0xFF) { mac = null; return false; } // multicast target
        target = Wire.ReadIPv6(message[8..24]);
        return true;
    }
}
