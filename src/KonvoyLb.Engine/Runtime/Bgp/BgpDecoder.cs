using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using static KonvoyLb.Engine.Runtime.Bgp.BgpPathAttribute;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>
/// Reads messages. Every read is bounded by a span cut to the length the message itself declares, and
/// every malformation becomes the <see cref="BgpError"/> of RFC 4271 §6 (with RFC 4760, 6793, 8092 for
/// the newer attributes): no exceptions, no reads past the declared lengths.
/// </summary>
internal static class BgpDecoder
{
    /// <summary>Checks the part of a header that has arrived: the marker (1/1) and, once its two bytes are
    /// here, the length field (1/2 outside 19..4096).</summary>
    public static BgpError? CheckHeader(ReadOnlySpan<byte> available)
    {
        int markerBytes = Math.Min(available.Length, BgpMessage.MarkerLength);
        int bad = available[..markerBytes].IndexOfAnyExcept((byte)0xFF);
        if (bad >= 0)
            return BgpError.Of(1, 1, $"connection not synchronized: marker byte {bad} is {available[bad]:x2}, not ff");
        if (available.Length >= 18)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(available[16..]);
            if (length < BgpMessage.HeaderLength || length > BgpMessage.MaxLength)
                return BgpError.Of(1, 2, available.Slice(16, 2), $"bad message length {length}: a message has 19 to 4096 bytes");
        }
        return null;
    }

    public static bool TryDecode(ReadOnlySpan<byte> m, BgpEncodeOptions options, out BgpMessage? msg, out BgpError? error)
    {
        msg = null;
        error = CheckHeader(m);
        if (error is not null) return false;
        if (m.Length < BgpMessage.HeaderLength)
        {
            error = m.Length >= 18
                ? BgpError.Of(1, 2, m.Slice(16, 2), $"bad message length: the header says {BinaryPrimitives.ReadUInt16BigEndian(m[16..])} bytes, {m.Length} arrived")
                : BgpError.Of(1, 2, BgpError.U16(m.Length), $"bad message length: {m.Length} bytes cannot hold the 19-byte header");
            return false;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(m[16..]);
        if (length != m.Length)
        {
            error = BgpError.Of(1, 2, m.Slice(16, 2), $"bad message length: the header says {length} bytes, {m.Length} arrived");
            return false;
        }
        byte type = m[18];
        var body = m[BgpMessage.HeaderLength..];
        switch ((BgpMessageType)type)
        {
            case BgpMessageType.Open:
                if (length < 29) { error = LengthError(m, "an OPEN has at least 29 bytes"); return false; }
                error = DecodeOpen(body, out msg);
                break;
            case BgpMessageType.Update:
                if (length < 23) { error = LengthError(m, "an UPDATE has at least 23 bytes"); return false; }
                error = DecodeUpdate(body, options, out msg);
                break;
            case BgpMessageType.Notification:
                if (length < 21) { error = LengthError(m, "a NOTIFICATION has at least 21 bytes"); return false; }
                msg = new BgpNotification(body[0], body[1], body[2..].ToArray());
                break;
            case BgpMessageType.Keepalive:
                if (length != 19) { error = LengthError(m, "a KEEPALIVE has 19 bytes"); return false; }
                msg = BgpKeepalive.Instance;
                break;
            case BgpMessageType.RouteRefresh:
                if (length != 23) { error = LengthError(m, "a ROUTE-REFRESH has 23 bytes"); return false; }
                msg = new BgpRouteRefresh(BinaryPrimitives.ReadUInt16BigEndian(body), body[3], body[2]);
                break;
            default:
                error = BgpError.Of(1, 3, [type], $"bad message type {type}");
                return false;
        }
        return error is null;
    }

    static BgpError LengthError(ReadOnlySpan<byte> m, string rule) =>
        BgpError.Of(1, 2, m.Slice(16, 2), $"bad message length {BinaryPrimitives.ReadUInt16BigEndian(m[16..])}: {rule}");

    // ---- OPEN ------------------------------------------------------------------------------------------

    static BgpError? DecodeOpen(ReadOnlySpan<byte> body, out BgpMessage? msg)
    {
        msg = null;
        byte version = body[0];
        if (version != 4)
            return BgpError.Of(2, 1, BgpError.U16(4), $"unsupported version number {version}: this speaker speaks BGP-4");
        ushort myAs = BinaryPrimitives.ReadUInt16BigEndian(body[1..]);
        ushort hold = BinaryPrimitives.ReadUInt16BigEndian(body[3..]);
        var id = body.Slice(5, 4);
        int optLength = body[9];
        var parameters = body[10..];
        if (optLength != parameters.Length)
            return BgpError.Of(2, 0, $"malformed optional parameters: their length field says {optLength} bytes, {parameters.Length} follow");
        if (hold is 1 or 2)
            return BgpError.Of(2, 6, $"unacceptable hold time {hold} s: it is 0 or at least 3 s");
        if (id.IndexOfAnyExcept((byte)0) < 0)
            return BgpError.Of(2, 3, "bad BGP identifier 0.0.0.0");

        var capabilities = new List<BgpCapability>();
        for (int i = 0; i < parameters.Length;)
        {
            if (parameters.Length - i < 2)
                return BgpError.Of(2, 0, $"malformed optional parameter at byte {i}: one byte where a type and a length should be");
            byte paramType = parameters[i];
            int paramLength = parameters[i + 1];
            if (i + 2 + paramLength > parameters.Length)
                return BgpError.Of(2, 0, $"malformed optional parameter {paramType}: {paramLength} bytes declared, {parameters.Length - i - 2} left");
            if (paramType != 2)
                return BgpError.Of(2, 4, $"unsupported optional parameter type {paramType}: only capabilities (2) are");
            var caps = parameters.Slice(i + 2, paramLength);
            for (int j = 0; j < caps.Length;)
            {
                if (caps.Length - j < 2)
                    return BgpError.Of(2, 0, "malformed capability: one byte where a code and a length should be");
                byte code = caps[j];
                int capLength = caps[j + 1];
                if (j + 2 + capLength > caps.Length)
                    return BgpError.Of(2, 0, $"malformed capability {code}: {capLength} bytes declared, {caps.Length - j - 2} left in its parameter");
                var value = caps.Slice(j + 2, capLength);
                var (capability, problem) = DecodeCapability(code, value);
                if (capability is null)
                    return BgpError.Of(2, 0, $"malformed capability {code}: {problem}");
                capabilities.Add(capability);
                j += 2 + capLength;
            }
            i += 2 + paramLength;
        }
        msg = new BgpOpen(version, myAs, hold, new IPAddress(id), capabilities);
        return null;
    }

    static (BgpCapability? Capability, string? Problem) DecodeCapability(byte code, ReadOnlySpan<byte> value)
    {
        switch (code)
        {
            case BgpCapability.MultiprotocolCode:
                return value.Length == 4
                    ? (new BgpCapability.Multiprotocol(BinaryPrimitives.ReadUInt16BigEndian(value), value[3]), null)
                    : (null, $"multiprotocol has 4 bytes, not {value.Length}");
            case BgpCapability.RouteRefreshCode:
                return value.Length == 0 ? (new BgpCapability.RouteRefresh(), null) : (null, $"route refresh has no value, not {value.Length} bytes");
            case BgpCapability.FourOctetAsCode:
                return value.Length == 4
                    ? (new BgpCapability.FourOctetAs(BinaryPrimitives.ReadUInt32BigEndian(value)), null)
                    : (null, $"4-octet AS has 4 bytes, not {value.Length}");
            case BgpCapability.GracefulRestartCode:
                if (value.Length < 2 || (value.Length - 2) % 4 != 0)
                    return (null, $"graceful restart has 2 bytes and 4 per family, not {value.Length}");
                ushort word = BinaryPrimitives.ReadUInt16BigEndian(value);
                var families = new GracefulRestartFamily[(value.Length - 2) / 4];
                for (int k = 0; k < families.Length; k++)
                {
                    var f = value.Slice(2 + 4 * k, 4);
                    families[k] = new GracefulRestartFamily(BinaryPrimitives.ReadUInt16BigEndian(f), f[2], f[3]);
                }
                return (new BgpCapability.GracefulRestart((byte)(word >> 12), (ushort)(word & 0x0FFF), families), null);
            default:
                return (new BgpCapability.Unknown(code, value.ToArray()), null);
        }
    }

    // ---- UPDATE ----------------------------------------------------------------------------------------

    static BgpError? DecodeUpdate(ReadOnlySpan<byte> body, BgpEncodeOptions options, out BgpMessage? msg)
    {
        msg = null;
        int withdrawnLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        if (2 + withdrawnLength + 2 > body.Length)
            return BgpError.Of(3, 1, $"malformed attribute list: withdrawn routes length {withdrawnLength} overruns the {body.Length}-byte UPDATE body");
        int attributesLength = BinaryPrimitives.ReadUInt16BigEndian(body[(2 + withdrawnLength)..]);
        if (4 + withdrawnLength + attributesLength > body.Length)
            return BgpError.Of(3, 1, $"malformed attribute list: total path attribute length {attributesLength} overruns the UPDATE");
        var withdrawnField = body.Slice(2, withdrawnLength);
        var attributeField = body.Slice(4 + withdrawnLength, attributesLength);
        var nlriField = body[(4 + withdrawnLength + attributesLength)..];

        var error = DecodePrefixes(withdrawnField, false, "withdrawn routes", out var withdrawn);
        if (error is not null) return error;

        var attributes = new List<BgpPathAttribute>();
        Span<bool> seen = stackalloc bool[256];
        for (int i = 0; i < attributeField.Length;)
        {
            var rest = attributeField[i..];
            if (rest.Length < 3)
                return BgpError.Of(3, 1, $"malformed attribute list: {rest.Length} bytes left where an attribute header should be");
            byte flags = rest[0], type = rest[1];
            bool extended = (flags & ExtendedLengthFlag) != 0;
            if (extended && rest.Length < 4)
                return BgpError.Of(3, 1, $"malformed attribute list: the extended-length header of {Name(type)} is cut");
            int headerLength = extended ? 4 : 3;
            int valueLength = extended ? BinaryPrimitives.ReadUInt16BigEndian(rest[2..]) : rest[2];
            if (headerLength + valueLength > rest.Length)
                return BgpError.Of(3, 1, $"malformed attribute list: {Name(type)} declares {valueLength} bytes, {rest.Length - headerLength} are left");
            var whole = rest[..(headerLength + valueLength)];
            if (seen[type])
                return BgpError.Of(3, 1, $"malformed attribute list: {Name(type)} appears twice");
            seen[type] = true;
            // The Extended Length bit is kept only where the encoder would not set it by itself.
            byte keptFlags = extended && valueLength > 255 ? (byte)(flags & ~ExtendedLengthFlag) : flags;
            error = DecodeAttribute(flags, type, whole[headerLength..], whole, options, out var attribute);
            if (error is not null) return error;
            attributes.Add(attribute! with { Flags = keptFlags });
            i += whole.Length;
        }

        error = DecodePrefixes(nlriField, false, "NLRI", out var nlri);
        if (error is not null) return error;

        if (nlri.Count > 0 || seen[MpReachNlriCode])
        {
            foreach (byte required in (ReadOnlySpan<byte>)[OriginCode, AsPathCode, NextHopCode])
            {
                if (required == NextHopCode && nlri.Count == 0) continue;
                if (!seen[required])
                    return BgpError.Of(3, 3, [required], $"missing well-known attribute {Name(required)} in an UPDATE that announces routes");
            }
        }
        msg = new BgpUpdate(withdrawn, attributes, nlri);
        return null;
    }

    static BgpError? DecodePrefixes(ReadOnlySpan<byte> field, bool ipv6, string what, out List<BgpPrefix> prefixes)
    {
        prefixes = [];
        int max = ipv6 ? 128 : 32;
        Span<byte> address = stackalloc byte[ipv6 ? 16 : 4];
        for (int i = 0; i < field.Length;)
        {
            int length = field[i];
            if (length > max)
                return BgpError.Of(3, 10, $"invalid network field: a prefix length of {length} in the {what} ({(ipv6 ? "IPv6" : "IPv4")} allows {max})");
            int octets = (length + 7) / 8;
            if (i + 1 + octets > field.Length)
                return BgpError.Of(3, 10, $"invalid network field: a /{length} in the {what} needs {octets} bytes, {field.Length - i - 1} are left");
            address.Clear();
            field.Slice(i + 1, octets).CopyTo(address);
            prefixes.Add(new BgpPrefix(new IPAddress(address), length));
            i += 1 + octets;
        }
        return null;
    }

    enum Kind { WellKnown, OptionalTransitive, OptionalNonTransitive }

    static bool FlagsFit(byte flags, Kind kind) => kind switch
    {
        Kind.WellKnown => (flags & (OptionalFlag | TransitiveFlag | PartialFlag)) == TransitiveFlag,
        Kind.OptionalTransitive => (flags & (OptionalFlag | TransitiveFlag)) == (OptionalFlag | TransitiveFlag),
        _ => (flags & (OptionalFlag | TransitiveFlag | PartialFlag)) == OptionalFlag,
    };

    static BgpError? DecodeAttribute(byte flags, byte type, ReadOnlySpan<byte> value, ReadOnlySpan<byte> whole,
        BgpEncodeOptions options, out BgpPathAttribute? attribute)
    {
        attribute = null;
        Kind? kind = type switch
        {
            OriginCode or AsPathCode or NextHopCode or LocalPrefCode or AtomicAggregateCode => Kind.WellKnown,
            CommunitiesCode or As4PathCode or LargeCommunitiesCode => Kind.OptionalTransitive,
            MultiExitDiscCode or MpReachNlriCode or MpUnreachNlriCode => Kind.OptionalNonTransitive,
            _ => null,
        };
        if (kind is null)
        {
            if ((flags & OptionalFlag) == 0)
                return BgpError.Of(3, 2, whole, $"unrecognized well-known attribute {type}");
            attribute = new Unknown(type, value.ToArray());
            return null;
        }
        if (!FlagsFit(flags, kind.Value))
            return BgpError.Of(3, 4, whole, $"attribute flags error: {Name(type)} with flags {flags:x2}");


        switch (type)
        {
            case OriginCode:
                if (value.Length != 1) return AttributeLengthError(type, whole, value.Length, "has 1 byte");
                if (value[0] > 2) return BgpError.Of(3, 6, whole, $"invalid ORIGIN {value[0]}");
                attribute = new Origin((BgpOrigin)value[0]);
                return null;
            case AsPathCode:
            {
                var error = DecodeSegments(value, options.FourOctetAs ? 4 : 2, "AS_PATH", out var segments);
                attribute = error is null ? new AsPath(segments) : null;
                return error;
            }
            case As4PathCode:
            {
                var error = DecodeSegments(value, 4, "AS4_PATH", out var segments);
                attribute = error is null ? new As4Path(segments) : null;
                return error;
            }
            case NextHopCode:
            {
                if (value.Length != 4) return AttributeLengthError(type, whole, value.Length, "has 4 bytes");
                var address = new IPAddress(value);
                if (!IsValidIPv4NextHop(value))
                    return BgpError.Of(3, 8, whole, $"invalid NEXT_HOP {address}: not a host address");
                attribute = new NextHop(address);
                return null;
            }
            case MultiExitDiscCode:
                if (value.Length != 4) return AttributeLengthError(type, whole, value.Length, "has 4 bytes");
                attribute = new MultiExitDisc(BinaryPrimitives.ReadUInt32BigEndian(value));
                return null;
            case LocalPrefCode:
                if (value.Length != 4) return AttributeLengthError(type, whole, value.Length, "has 4 bytes");
                attribute = new LocalPref(BinaryPrimitives.ReadUInt32BigEndian(value));
                return null;
            case AtomicAggregateCode:
                if (value.Length != 0) return AttributeLengthError(type, whole, value.Length, "has no value");
                attribute = new AtomicAggregate();
                return null;
            case CommunitiesCode:
            {
                if (value.Length == 0 || value.Length % 4 != 0) return AttributeLengthError(type, whole, value.Length, "has a non-zero multiple of 4 bytes");
                var values = new uint[value.Length / 4];
                for (int k = 0; k < values.Length; k++) values[k] = BinaryPrimitives.ReadUInt32BigEndian(value[(4 * k)..]);
                attribute = new Communities(values);
                return null;
            }
            case LargeCommunitiesCode:
            {
                if (value.Length == 0 || value.Length % 12 != 0) return AttributeLengthError(type, whole, value.Length, "has a non-zero multiple of 12 bytes");
                var values = new LargeCommunity[value.Length / 12];
                for (int k = 0; k < values.Length; k++)
                {
                    var v = value[(12 * k)..];
                    values[k] = new LargeCommunity(BinaryPrimitives.ReadUInt32BigEndian(v),
                        BinaryPrimitives.ReadUInt32BigEndian(v[4..]), BinaryPrimitives.ReadUInt32BigEndian(v[8..]));
                }
                attribute = new LargeCommunities(values);
                return null;
            }
            case MpReachNlriCode:
            {
                if (value.Length < 5) return AttributeLengthError(type, whole, value.Length, "has at least 5 bytes");
                ushort afi = BinaryPrimitives.ReadUInt16BigEndian(value);
                byte safi = value[2];
                int nextHopLength = value[3];
                if (4 + nextHopLength + 1 > value.Length)
                    return BgpError.Of(3, 5, whole, $"attribute length error: MP_REACH_NLRI's next hop of {nextHopLength} bytes overruns its {value.Length} bytes");
                if (afi != BgpFamily.AfiIPv6 || safi != BgpFamily.SafiUnicast)
                {
                    attribute = new Unknown(type, value.ToArray());
                    return null;
                }
                if (nextHopLength is not (16 or 32))
                    return BgpError.Of(3, 8, whole, $"invalid NEXT_HOP: an IPv6 next hop has 16 or 32 bytes, not {nextHopLength}");
                var global = value.Slice(4, 16);
                if (global[0] == 0xFF)
                    return BgpError.Of(3, 8, whole, $"invalid NEXT_HOP {new IPAddress(global)}: a multicast address");
                var error = DecodePrefixes(value[(5 + nextHopLength)..], true, "MP_REACH_NLRI", out var prefixes);
                if (error is not null) return error;
                attribute = new MpReachNlri(new IPAddress(global), nextHopLength == 32 ? new IPAddress(value.Slice(20, 16)) : null, prefixes);
                return null;
            }
            case MpUnreachNlriCode:
            {
                if (value.Length < 3) return AttributeLengthError(type, whole, value.Length, "has at least 3 bytes");
                ushort afi = BinaryPrimitives.ReadUInt16BigEndian(value);
                if (afi != BgpFamily.AfiIPv6 || value[2] != BgpFamily.SafiUnicast)
                {
                    attribute = new Unknown(type, value.ToArray());
                    return null;
                }
                var error = DecodePrefixes(value[3..], true, "MP_UNREACH_NLRI", out var prefixes);
                if (error is not null) return error;
                attribute = new MpUnreachNlri(prefixes);
                return null;
            }
        }
        return BgpError.Of(3, 1, whole, $"attribute {type} is not handled"); // not reached: every kind above has a case
    }

    static BgpError AttributeLengthError(byte type, ReadOnlySpan<byte> whole, int length, string rule) =>
        BgpError.Of(3, 5, whole, $"attribute length error: {Name(type)} {rule}, not {length}");

    static BgpError? DecodeSegments(ReadOnlySpan<byte> value, int width, string name, out List<AsPathSegment> segments)
    {
        segments = [];
        for (int i = 0; i < value.Length;)
        {
            if (value.Length - i < 2)
                return BgpError.Of(3, 11, $"malformed {name}: one byte left where a segment header should be");
            byte type = value[i];
            int count = value[i + 1];
            if (type is < 1 or > 4)
                return BgpError.Of(3, 11, $"malformed {name}: segment type {type}");
            if (count == 0)
                return BgpError.Of(3, 11, $"malformed {name}: an empty segment");
            if (i + 2 + count * width > value.Length)
                return BgpError.Of(3, 11, $"malformed {name}: a segment of {count} {width}-octet ASNs overruns its {value.Length} bytes");
            var asns = new uint[count];
            var data = value.Slice(i + 2, count * width);
            for (int k = 0; k < count; k++)
                asns[k] = width == 4 ? BinaryPrimitives.ReadUInt32BigEndian(data[(4 * k)..]) : BinaryPrimitives.ReadUInt16BigEndian(data[(2 * k)..]);
            segments.Add(new AsPathSegment((AsPathSegmentType)type, asns));
            i += 2 + count * width;
        }
        return null;
    }

    /// <summary>A NEXT_HOP must be a host address: not 0.0.0.0, not broadcast, not multicast (RFC 4271 §6.3).</summary>
    static bool IsValidIPv4NextHop(ReadOnlySpan<byte> v) =>
        v.IndexOfAnyExcept((byte)0) >= 0 && v.IndexOfAnyExcept((byte)0xFF) >= 0 && (v[0] & 0xF0) != 0xE0;

    public static bool IsZero(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        return address.TryWriteBytes(bytes, out int n) && bytes[..n].IndexOfAnyExcept((byte)0) < 0;
    }
}
