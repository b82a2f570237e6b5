using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>
/// A BGP-4 message (RFC 4271 §4). <see cref="Encode"/> writes one with its 19-byte header;
/// <see cref="TryDecode"/> reads exactly one and turns every malformation into a <see cref="BgpError"/>.
/// </summary>
public abstract record BgpMessage
{
    private protected BgpMessage() { }

    public const int HeaderLength = 19, MaxLength = 4096, MarkerLength = 16;

    public abstract BgpMessageType Type { get; }

    /// <summary>The message with its header. Throws <see cref="ArgumentException"/> when the content cannot
    /// be a valid message (over 4096 bytes, a segment of 256 ASNs, capabilities over 255 bytes, ...).</summary>
    public static byte[] Encode(BgpMessage message, BgpEncodeOptions options = default) => BgpEncoder.Encode(message, options);

    /// <summary>Decodes one whole message (header included). Never throws and never reads past the
    /// declared lengths: on malformed input <paramref name="error"/> carries the NOTIFICATION to send.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> message, BgpEncodeOptions options,
        [NotNullWhen(true)] out BgpMessage? msg, [NotNullWhen(false)] out BgpError? error) =>
        BgpDecoder.TryDecode(message, options, out msg, out error);

    /// <summary>
    /// Checks a peer's OPEN against the session's configuration: version 4 (2/1, data 0004), the peer's
    /// AS — from the 4-octet AS capability when present — equal to <paramref name="expectedPeerAs"/>
    /// (2/2, data = the AS the peer announced, as BIRD and FRR send it), a non-zero BGP identifier (2/3)
    /// and a hold time of 0 or at least 3 seconds (2/6). Null when acceptable.
    /// </summary>
    public static BgpError? ValidateOpen(BgpOpen open, uint expectedPeerAs, ushort localHoldTime)
    {
        ArgumentNullException.ThrowIfNull(open);
        if (localHoldTime is 1 or 2)
            throw new ArgumentOutOfRangeException(nameof(localHoldTime), localHoldTime, "A hold time is 0 or at least 3 seconds.");
        if (open.Version != 4)
            return BgpError.Of(2, 1, BgpError.U16(4), $"the peer speaks BGP version {open.Version}; this speaker speaks version 4");
        uint peerAs = open.PeerAs;
        if (peerAs != expectedPeerAs)
        {
            byte[] data = peerAs <= ushort.MaxValue ? BgpError.U16((int)peerAs) : [(byte)(peerAs >> 24), (byte)(peerAs >> 16), (byte)(peerAs >> 8), (byte)peerAs];
            return new BgpError(2, 2, data, $"the peer is AS {peerAs}, configured as AS {expectedPeerAs}");
        }
        if (BgpDecoder.IsZero(open.BgpIdentifier))
            return BgpError.Of(2, 3, "the peer's BGP identifier is 0.0.0.0");
        if (open.HoldTime is 1 or 2)
            return BgpError.Of(2, 6, $"the peer's hold time {open.HoldTime} s is neither 0 nor at least 3 s");
        return null;
    }

    /// <summary>The hold time both sides use: the smaller of the two, 0 meaning no keepalives (RFC 4271 §4.2).</summary>
    public static ushort NegotiatedHoldTime(BgpOpen peer, ushort localHoldTime) => Math.Min(peer.HoldTime, localHoldTime);
}

/// <summary>OPEN (RFC 4271 §4.2). <paramref name="MyAs"/> is the 2-octet field; the real AS of a speaker
/// whose AS does not fit is in its <see cref="BgpCapability.FourOctetAs"/> capability, and the field says
/// AS_TRANS (23456). Capabilities from several optional parameters come as one list; unknown ones are kept.</summary>
public sealed record BgpOpen(byte Version, ushort MyAs, ushort HoldTime, IPAddress BgpIdentifier, IReadOnlyList<BgpCapability> Capabilities)
    : BgpMessage
{
    public const ushort AsTrans = 23456;

    public override BgpMessageType Type => BgpMessageType.Open;

    /// <summary>An OPEN for <paramref name="asn"/>: version 4, My AS = the AS or AS_TRANS when it does not fit
    /// 16 bits. Add a <see cref="BgpCapability.FourOctetAs"/> to <paramref name="capabilities"/> to announce it.</summary>
    public static BgpOpen Create(uint asn, ushort holdTime, IPAddress bgpIdentifier, IEnumerable<BgpCapability> capabilities) =>
        new(4, asn <= ushort.MaxValue ? (ushort)asn : AsTrans, holdTime, bgpIdentifier, capabilities.ToArray());

    /// <summary>The sender's AS: the 4-octet capability's when it has one, else My AS.</summary>
    public uint PeerAs => Capabilities.OfType<BgpCapability.FourOctetAs>().FirstOrDefault()?.Asn ?? MyAs;

    public bool SupportsFourOctetAs => Capabilities.Any(c => c is BgpCapability.FourOctetAs);
    public bool SupportsRouteRefresh => Capabilities.Any(c => c is BgpCapability.RouteRefresh);
    public bool SupportsGracefulRestart => Capabilities.Any(c => c is BgpCapability.GracefulRestart);

    /// <summary>Whether the OPEN names the family in a multiprotocol capability. An OPEN without any
    /// multiprotocol capability implies IPv4 unicast only (RFC 4760 §8).</summary>
    public bool SupportsFamily(ushort afi, byte safi)
    {
        var families = Capabilities.OfType<BgpCapability.Multiprotocol>().ToList();
        return families.Count == 0 ? afi == BgpFamily.AfiIPv4 && safi == BgpFamily.SafiUnicast
            : families.Any(f => f.Afi == afi && f.Safi == safi);
    }

    public bool Equals(BgpOpen? other) =>
        other is not null && Version == other.Version && MyAs == other.MyAs && HoldTime == other.HoldTime &&
        BgpIdentifier.Equals(other.BgpIdentifier) && Seq.Equal(Capabilities, other.Capabilities);

    public override int GetHashCode() => HashCode.Combine(Version, MyAs, HoldTime, BgpIdentifier, Seq.Hash(Capabilities));

    public override string ToString() =>
        $"OPEN v{Version} AS {PeerAs} hold {HoldTime} id {BgpIdentifier} [{string.Join(", ", Capabilities)}]";
}

/// <summary>UPDATE (RFC 4271 §4.3): withdrawn IPv4 prefixes, path attributes in wire order, IPv4 NLRI.
/// IPv6 prefixes travel inside <see cref="BgpPathAttribute.MpReachNlri"/> and <see cref="BgpPathAttribute.MpUnreachNlri"/>.</summary>
public sealed record BgpUpdate(IReadOnlyList<BgpPrefix> Withdrawn, IReadOnlyList<BgpPathAttribute> Attributes, IReadOnlyList<BgpPrefix> Nlri)
    : BgpMessage
{
    public override BgpMessageType Type => BgpMessageType.Update;

    /// <summary>The IPv4 unicast End-of-RIB marker: an UPDATE with nothing in it (RFC 4724 §2).</summary>
    public static BgpUpdate EndOfRibIPv4 => new([], [], []);

    /// <summary>The End-of-RIB marker of another family: only an empty MP_UNREACH_NLRI.</summary>
    public static BgpUpdate EndOfRib(ushort afi, byte safi) =>
        afi == BgpFamily.AfiIPv4 && safi == BgpFamily.SafiUnicast ? EndOfRibIPv4
        : afi == BgpFamily.AfiIPv6 && safi == BgpFamily.SafiUnicast ? new([], [new BgpPathAttribute.MpUnreachNlri([])], [])
        : new([], [new BgpPathAttribute.Unknown(BgpPathAttribute.MpUnreachNlriCode, [(byte)(afi >> 8), (byte)afi, safi]) { Flags = BgpPathAttribute.OptionalNonTransitive }], []);

    public static BgpUpdate EndOfRibIPv6 => EndOfRib(BgpFamily.AfiIPv6, BgpFamily.SafiUnicast);

    public T? Get<T>() where T : BgpPathAttribute => Attributes.OfType<T>().FirstOrDefault();

    /// <summary>Whether this is an End-of-RIB marker, and of which family.</summary>
    public bool IsEndOfRib(out ushort afi, out byte safi)
    {
        (afi, safi) = (0, 0);
        if (Withdrawn.Count != 0 || Nlri.Count != 0) return false;
        if (Attributes.Count == 0)
        {
            (afi, safi) = (BgpFamily.AfiIPv4, BgpFamily.SafiUnicast);
            return true;
        }
        if (Attributes.Count != 1) return false;
        switch (Attributes[0])
        {
            case BgpPathAttribute.MpUnreachNlri { Prefixes.Count: 0 }:
                (afi, safi) = (BgpFamily.AfiIPv6, BgpFamily.SafiUnicast);
                return true;
            case BgpPathAttribute.Unknown { Code: BgpPathAttribute.MpUnreachNlriCode, Value.Length: 3 } raw:
                (afi, safi) = ((ushort)(raw.Value[0] << 8 | raw.Value[1]), raw.Value[2]);
                return true;
            default:
                return false;
        }
    }

    public bool IsIPv4EndOfRib => IsEndOfRib(out var afi, out var safi) && afi == BgpFamily.AfiIPv4 && safi == BgpFamily.SafiUnicast;
    public bool IsIPv6EndOfRib => IsEndOfRib(out var afi, out var safi) && afi == BgpFamily.AfiIPv6 && safi == BgpFamily.SafiUnicast;

    /// <summary>Every prefix announced: IPv4 NLRI, then the IPv6 ones of MP_REACH_NLRI.</summary>
    public IEnumerable<BgpPrefix> Announced => Nlri.Concat(Get<BgpPathAttribute.MpReachNlri>()?.Prefixes ?? []);

    /// <summary>Every prefix withdrawn: IPv4 withdrawn routes, then the IPv6 ones of MP_UNREACH_NLRI.</summary>
    public IEnumerable<BgpPrefix> AllWithdrawn => Withdrawn.Concat(Get<BgpPathAttribute.MpUnreachNlri>()?.Prefixes ?? []);

    public bool Equals(BgpUpdate? other) =>
        other is not null && Seq.Equal(Withdrawn, other.Withdrawn) && Seq.Equal(Attributes, other.Attributes) && Seq.Equal(Nlri, other.Nlri);

    public override int GetHashCode() => HashCode.Combine(Seq.Hash(Withdrawn), Seq.Hash(Attributes), Seq.Hash(Nlri));

    public override string ToString() =>
        IsEndOfRib(out var afi, out var safi) ? $"UPDATE End-of-RIB {afi}/{safi}"
            : $"UPDATE withdraw [{string.Join(' ', Withdrawn)}] attributes [{string.Join("; ", Attributes)}] nlri [{string.Join(' ', Nlri)}]";
}

/// <summary>KEEPALIVE: the header alone.</summary>
public sealed record BgpKeepalive : BgpMessage
{
    public static readonly BgpKeepalive Instance = new();
    public override BgpMessageType Type => BgpMessageType.Keepalive;
    public override string ToString() => "KEEPALIVE";
}

/// <summary>ROUTE-REFRESH (RFC 2918): asks the peer to send its routes of one family again.
/// <paramref name="Subtype"/> is the reserved byte, which RFC 7313 uses (1 = begin, 2 = end of a refresh).</summary>
public sealed record BgpRouteRefresh(ushort Afi, byte Safi, byte Subtype = 0) : BgpMessage
{
    public override BgpMessageType Type => BgpMessageType.RouteRefresh;
    public override string ToString() => $"ROUTE-REFRESH {Afi}/{Safi}" + (Subtype == 0 ? "" : $" subtype {Subtype}");
}

/// <summary>NOTIFICATION (RFC 4271 §4.5): code, subcode and data; the connection closes after it.</summary>
public sealed record BgpNotification(byte Code, byte Subcode, byte[] Data) : BgpMessage
{
    public BgpNotification(byte code, byte subcode) : this(code, subcode, []) { }

    /// <summary>RFC 8203 as updated by RFC 9003: at most 255 bytes of UTF-8.</summary>
    public const int MaxShutdownCommunicationBytes = 255;

    public override BgpMessageType Type => BgpMessageType.Notification;

    /// <summary>Cease 6/2, administrative shutdown, with an optional shutdown communication (RFC 8203).</summary>
    public static BgpNotification Shutdown(string? message = null) => Cease(BgpErrorCode.AdministrativeShutdown, message);

    /// <summary>Cease 6/4, administrative reset, with an optional shutdown communication (RFC 8203).</summary>
    public static BgpNotification Reset(string? message = null) => Cease(BgpErrorCode.AdministrativeReset, message);

    /// <summary>A Cease. Subcodes 2 and 4 carry <paramref name="message"/> as a length byte and UTF-8,
    /// cut at a character boundary to 255 bytes; other subcodes carry no data.</summary>
    public static BgpNotification Cease(byte subcode, string? message = null)
    {
        if (string.IsNullOrEmpty(message) || subcode is not (BgpErrorCode.AdministrativeShutdown or BgpErrorCode.AdministrativeReset))
            return new(BgpErrorCode.Cease, subcode, []);
        var bytes = Encoding.UTF8.GetBytes(message);
        int length = bytes.Length;
        if (length > MaxShutdownCommunicationBytes)
        {
            length = MaxShutdownCommunicationBytes;
            while (length > 0 && (bytes[length] & 0xC0) == 0x80) length--; // do not split a character
        }
        var data = new byte[1 + length];
        data[0] = (byte)length;
        bytes.AsSpan(0, length).CopyTo(data.AsSpan(1));
        return new(BgpErrorCode.Cease, subcode, data);
    }

    /// <summary>The shutdown communication of a Cease 6/2 or 6/4 (RFC 8203): null when there is none or
    /// the data is not a length byte followed by that much valid UTF-8.</summary>
    public string? ShutdownCommunication
    {
        get
        {
            if (Code != BgpErrorCode.Cease || Subcode is not (BgpErrorCode.AdministrativeShutdown or BgpErrorCode.AdministrativeReset)
                || Data.Length == 0 || Data[0] == 0 || Data[0] > Data.Length - 1)
                return null;
            try
            {
                return new UTF8Encoding(false, true).GetString(Data, 1, Data[0]);
            }
            catch (DecoderFallbackException)
            {
                return null;
            }
        }
    }

    /// <summary>For people: "Cease: administrative shutdown (6/2): 'maintenance'", "bad peer AS (2/2): AS 64501
    /// is not the expected one", "hold timer expired (4/0)".</summary>
    public string Describe() => BgpDescriptions.Describe(Code, Subcode, Data);

    public bool Equals(BgpNotification? other) =>
        other is not null && Code == other.Code && Subcode == other.Subcode && Seq.Equal(Data, other.Data);

    public override int GetHashCode() => HashCode.Combine(Code, Subcode, Seq.Hash(Data));

    public override string ToString() => $"NOTIFICATION {Describe()}";
}
