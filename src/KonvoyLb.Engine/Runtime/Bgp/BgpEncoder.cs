using System.Net.Sockets;
using static KonvoyLb.Engine.Runtime.Bgp.BgpPathAttribute;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>Writes messages. Content that no valid message can hold is an <see cref="ArgumentException"/>:
/// this side only encodes what it built itself.</summary>
internal static class BgpEncoder
{
    public static byte[] Encode(BgpMessage message, BgpEncodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(message);
        var w = new BgpWriter(message is BgpUpdate ? 1024 : 64);
        Write(w, message, options);
        return w.ToArray();
    }

    /// <summary>Appends one message to <paramref name="w"/> and returns its length.</summary>
    public static int Write(BgpWriter w, BgpMessage message, BgpEncodeOptions options)
    {
        int start = w.Position;
        w.Fill(0xFF, BgpMessage.MarkerLength);
        w.U16(0);
        w.U8((byte)message.Type);
        switch (message)
        {
            case BgpOpen open: WriteOpen(w, open); break;
            case BgpUpdate update: WriteUpdate(w, update, options); break;
            case BgpNotification n:
                w.U8(n.Code);
                w.U8(n.Subcode);
                w.Bytes(n.Data ?? []);
                break;
            case BgpKeepalive: break;
            case BgpRouteRefresh rr:
                w.U16(rr.Afi);
                w.U8(rr.Subtype);
                w.U8(rr.Safi);
                break;
            default: throw new ArgumentException($"Cannot encode {message.GetType().Name}.", nameof(message));
        }
        int length = w.Position - start;
        if (length > BgpMessage.MaxLength)
            throw new ArgumentException($"The {message.Type} message would have {length} bytes; BGP allows 4096.", nameof(message));
        w.PatchU16(start + BgpMessage.MarkerLength, length);
        return length;
    }

    static void WriteOpen(BgpWriter w, BgpOpen open)
    {
        w.U8(open.Version);
        w.U16(open.MyAs);
        w.U16(open.HoldTime);
        w.Address(open.BgpIdentifier, AddressFamily.InterNetwork, "The BGP identifier");
        int optLengthAt = w.Position;
        w.U8(0);
        if (open.Capabilities.Count == 0) return;
        w.U8(2); // one Capabilities optional parameter holds them all
        int paramLengthAt = w.Position;
        w.U8(0);
        foreach (var capability in open.Capabilities)
        {
            w.U8(capability.Code);
            int capLengthAt = w.Position;
            w.U8(0);
            switch (capability)
            {
                case BgpCapability.Multiprotocol mp:
                    w.U16(mp.Afi);
                    w.U8(0);
                    w.U8(mp.Safi);
                    break;
                case BgpCapability.RouteRefresh:
                    break;
                case BgpCapability.FourOctetAs four:
                    w.U32(four.Asn);
                    break;
                case BgpCapability.GracefulRestart gr:
                    if (gr.Flags > 15) throw new ArgumentException($"Graceful restart flags are 4 bits, not {gr.Flags}.");
                    if (gr.RestartTime > 4095) throw new ArgumentException($"A graceful restart time is 12 bits, at most 4095 s, not {gr.RestartTime}.");
                    w.U16(gr.Flags << 12 | gr.RestartTime);
                    foreach (var f in gr.Families)
                    {
                        w.U16(f.Afi);
                        w.U8(f.Safi);
                        w.U8(f.Flags);
                    }
                    break;
                case BgpCapability.Unknown unknown:
                    w.Bytes(unknown.Value);
                    break;
                default:
                    throw new ArgumentException($"Cannot encode capability {capability.GetType().Name}.");
            }
            int capLength = w.Position - capLengthAt - 1;
            if (capLength > 255) throw new ArgumentException($"Capability {capability.Code} has {capLength} bytes; at most 255 fit.");
            w.PatchU8(capLengthAt, (byte)capLength);
        }
        int paramLength = w.Position - paramLengthAt - 1;
        if (paramLength > 253)
            throw new ArgumentException($"The capabilities take {paramLength} bytes; an OPEN's optional parameters hold 255 at most.");
        w.PatchU8(paramLengthAt, (byte)paramLength);
        w.PatchU8(optLengthAt, (byte)(paramLength + 2));
    }

    static void WriteUpdate(BgpWriter w, BgpUpdate update, BgpEncodeOptions options)
    {
        int withdrawnAt = w.Position;
        w.U16(0);
        foreach (var prefix in update.Withdrawn) w.Prefix(prefix, false, "withdrawn routes");
        w.PatchU16(withdrawnAt, w.Position - withdrawnAt - 2);

        int attributesAt = w.Position;
        w.U16(0);
        WriteAttributes(w, update.Attributes, options);
        w.PatchU16(attributesAt, w.Position - attributesAt - 2);

        foreach (var prefix in update.Nlri) w.Prefix(prefix, false, "NLRI");
    }

    public static void WriteAttributes(BgpWriter w, IReadOnlyList<BgpPathAttribute> attributes, BgpEncodeOptions options)
    {
        // On a 2-octet session a path with ASNs above 65535 carries AS_TRANS in AS_PATH and the real path
        // in AS4_PATH (RFC 6793 §4.2.2), placed in type-code order unless the caller gave one already.
        As4Path? as4 = null;
        if (!options.FourOctetAs && !attributes.Any(a => a is As4Path) &&
            attributes.OfType<AsPath>().FirstOrDefault() is { } path &&
            path.Segments.Any(s => s.PathLength > 0 && s.Asns.Any(asn => asn > ushort.MaxValue)))
        {
            // Confederation segments stay out of AS4_PATH (RFC 6793 §3).
            as4 = new As4Path(path.Segments.Where(s => s.PathLength > 0).ToArray());
        }
        foreach (var attribute in attributes)
        {
            if (as4 is not null && attribute.TypeCode > As4PathCode)
            {
                WriteAttribute(w, as4, options);
                as4 = null;
            }
            WriteAttribute(w, attribute, options);
        }
        if (as4 is not null) WriteAttribute(w, as4, options);
    }

    static void WriteAttribute(BgpWriter w, BgpPathAttribute attribute, BgpEncodeOptions options)
    {
        byte type = attribute is Unknown u ? u.Code : attribute.TypeCode;
        int start = w.Position;
        w.U8(attribute.Flags);
        w.U8(type);
        w.U16(0); // room for an extended length; shrunk below when one byte does
        int valueAt = w.Position;
        switch (attribute)
        {
            case Origin origin:
                w.U8((byte)origin.Value);
                break;
            case AsPath asPath:
                WriteSegments(w, asPath.Segments, options.FourOctetAs, "AS_PATH");
                break;
            case As4Path as4Path:
                WriteSegments(w, as4Path.Segments, true, "AS4_PATH");
                break;
            case NextHop nextHop:
                w.Address(nextHop.Address, AddressFamily.InterNetwork, "NEXT_HOP");
                break;
            case MultiExitDisc med:
                w.U32(med.Value);
                break;
            case LocalPref localPref:
                w.U32(localPref.Value);
                break;
            case AtomicAggregate:
                break;
            case Communities communities:
                if (communities.Values.Count == 0) throw new ArgumentException("COMMUNITIES needs at least one community (RFC 7606 §7.8).");
                foreach (uint c in communities.Values) w.U32(c);
                break;
            case LargeCommunities large:
                if (large.Values.Count == 0) throw new ArgumentException("LARGE_COMMUNITIES needs at least one large community.");
                foreach (var c in large.Values)
                {
                    w.U32(c.GlobalAdministrator);
                    w.U32(c.LocalData1);
                    w.U32(c.LocalData2);
                }
                break;
            case MpReachNlri reach:
                w.U16(BgpFamily.AfiIPv6);
                w.U8(BgpFamily.SafiUnicast);
                w.U8((byte)(reach.LinkLocalNextHop is null ? 16 : 32));
                w.Address(reach.GlobalNextHop, AddressFamily.InterNetworkV6, "The MP_REACH_NLRI next hop");
                if (reach.LinkLocalNextHop is not null)
                    w.Address(reach.LinkLocalNextHop, AddressFamily.InterNetworkV6, "The MP_REACH_NLRI link-local next hop");
                w.U8(0); // reserved
                foreach (var prefix in reach.Prefixes) w.Prefix(prefix, true, "MP_REACH_NLRI");
                break;
            case MpUnreachNlri unreach:
                w.U16(BgpFamily.AfiIPv6);
                w.U8(BgpFamily.SafiUnicast);
                foreach (var prefix in unreach.Prefixes) w.Prefix(prefix, true, "MP_UNREACH_NLRI");
                break;
            case Unknown unknown:
                w.Bytes(unknown.Value);
                break;
            default:
                throw new ArgumentException($"Cannot encode attribute {attribute.GetType().Name}.");
        }
        int valueLength = w.Position - valueAt;
        if (valueLength > ushort.MaxValue) throw new ArgumentException($"{Name(type)} has {valueLength} bytes.");
        if (valueLength > 255 || (attribute.Flags & ExtendedLengthFlag) != 0)
        {
            w.PatchU8(start, (byte)(attribute.Flags | ExtendedLengthFlag));
            w.PatchU16(start + 2, valueLength);
        }
        else
        {
            w.PatchU8(start + 2, (byte)valueLength);
            w.RemoveAt(start + 3);
        }
    }

    static void WriteSegments(BgpWriter w, IReadOnlyList<AsPathSegment> segments, bool fourOctet, string name)
    {
        foreach (var segment in segments)
        {
            if (segment.Asns.Count is 0 or > 255)
                throw new ArgumentException($"An {name} segment holds 1 to 255 ASNs, not {segment.Asns.Count}.");
            if (!Enum.IsDefined(segment.Type))
                throw new ArgumentException($"{name} segment type {(byte)segment.Type} does not exist.");
            w.U8((byte)segment.Type);
            w.U8((byte)segment.Asns.Count);
            foreach (uint asn in segment.Asns)
            {
                if (fourOctet) w.U32(asn);
                else w.U16(asn > ushort.MaxValue ? BgpOpen.AsTrans : (int)asn);
            }
        }
    }
}
