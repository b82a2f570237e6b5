using System.Net;
using System.Net.Sockets;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>What the session negotiated that changes the wire format.</summary>
public readonly record struct BgpEncodeOptions
{
    /// <summary>Both sides sent the 4-octet AS capability (RFC 6793): AS_PATH carries 4-octet ASNs.
    /// When false, AS_PATH carries 2-octet ASNs, larger ones as AS_TRANS, and the real path goes into AS4_PATH.</summary>
    public bool FourOctetAs { get; init; }

    public static BgpEncodeOptions TwoOctet => default;
    public static BgpEncodeOptions FourOctet => new() { FourOctetAs = true };
}

public enum BgpMessageType : byte
{
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    RouteRefresh = 5,
}

/// <summary>Address family identifiers and subsequent address family identifiers used here (RFC 4760).</summary>
public static class BgpFamily
{
    public const ushort AfiIPv4 = 1;
    public const ushort AfiIPv6 = 2;
    public const byte SafiUnicast = 1;
}

/// <summary>The ORIGIN attribute's values (RFC 4271 §5.1.1).</summary>
public enum BgpOrigin : byte
{
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// <summary>AS_PATH segment types: RFC 4271 (1, 2) and RFC 5065 confederations (3, 4).</summary>
public enum AsPathSegmentType : byte
{
    AsSet = 1,
    AsSequence = 2,
    AsConfedSequence = 3,
    AsConfedSet = 4,
}

/// <summary>A large community (RFC 8092): global administrator, then two local data parts.</summary>
public readonly record struct LargeCommunity(uint GlobalAdministrator, uint LocalData1, uint LocalData2)
{
    public override string ToString() => $"{GlobalAdministrator}:{LocalData1}:{LocalData2}";
}

/// <summary>RFC 1997 community helpers: a community is a 32-bit value, written ASN:value.</summary>
public static class BgpCommunity
{
    public static uint From(ushort asn, ushort value) => (uint)asn << 16 | value;
    public static string Format(uint community) => $"{community >> 16}:{community & 0xFFFF}";
}

/// <summary>One AS_PATH or AS4_PATH segment. Encoders reject segments with no ASN or more than 255.</summary>
public sealed record AsPathSegment(AsPathSegmentType Type, IReadOnlyList<uint> Asns)
{
    public static AsPathSegment Sequence(params uint[] asns) => new(AsPathSegmentType.AsSequence, asns);
    public static AsPathSegment Set(params uint[] asns) => new(AsPathSegmentType.AsSet, asns);

    /// <summary>How many ASNs the segment adds to the path length (RFC 4271 §9.1.2.2, RFC 5065 §5.3).</summary>
    public int PathLength => Type switch
    {
        AsPathSegmentType.AsSequence => Asns.Count,
        AsPathSegmentType.AsSet => 1,
        _ => 0,
    };

    public bool Equals(AsPathSegment? other) =>
        other is not null && Type == other.Type && Seq.Equal(Asns, other.Asns);

    public override int GetHashCode() => HashCode.Combine(Type, Seq.Hash(Asns));

    public override string ToString() => Type switch
    {
        AsPathSegmentType.AsSequence => string.Join(' ', Asns),
        AsPathSegmentType.AsSet => "{" + string.Join(',', Asns) + "}",
        AsPathSegmentType.AsConfedSequence => "(" + string.Join(' ', Asns) + ")",
        _ => "[" + string.Join(',', Asns) + "]",
    };

    /// <summary>The real path of a route received from a 2-octet session: RFC 6793 §4.2.3. When AS_PATH
    /// holds fewer ASNs than AS4_PATH, AS4_PATH is ignored; otherwise the leading ASNs of AS_PATH that
    /// AS4_PATH does not cover are kept and AS4_PATH follows.</summary>
    public static IReadOnlyList<AsPathSegment> Merge(IReadOnlyList<AsPathSegment> asPath, IReadOnlyList<AsPathSegment>? as4Path)
    {
        if (as4Path is null || as4Path.Count == 0) return asPath;
        int length = asPath.Sum(s => s.PathLength), length4 = as4Path.Sum(s => s.PathLength);
        if (length < length4) return asPath;
        int keep = length - length4;
        var merged = new List<AsPathSegment>();
        foreach (var segment in asPath)
        {
            // Confederation segments count as no ASN: kept while they lead or follow a kept segment.
            if (keep == 0 && segment.PathLength > 0) break;
            if (segment.Type == AsPathSegmentType.AsSequence && segment.Asns.Count > keep)
            {
                merged.Add(new AsPathSegment(segment.Type, segment.Asns.Take(keep).ToArray()));
                keep = 0;
                break;
            }
            merged.Add(segment);
            keep -= segment.PathLength;
        }
        merged.AddRange(as4Path);
        return merged;
    }
}

/// <summary>An IPv4 or IPv6 prefix as NLRI carries it. Host bits are cleared on construction, so
/// 198.51.100.7/24 and 198.51.100.0/24 are the same prefix and encode the same way.</summary>
public sealed record BgpPrefix
{
    public BgpPrefix(IPAddress address, int length)
    {
        ArgumentNullException.ThrowIfNull(address);
        int max = address.AddressFamily switch
        {
            AddressFamily.InterNetwork => 32,
            AddressFamily.InterNetworkV6 => 128,
            _ => throw new ArgumentException($"{address} is neither IPv4 nor IPv6.", nameof(address)),
        };
        if (length < 0 || length > max)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"An {(max == 32 ? "IPv4" : "IPv6")} prefix length is 0 to {max}.");
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int size);
        Mask(bytes[..size], length);
        Address = new IPAddress(bytes[..size]);
        Length = length;
    }

    public IPAddress Address { get; }
    public int Length { get; }
    public bool IsIPv6 => Address.AddressFamily == AddressFamily.InterNetworkV6;
    public int MaxLength => IsIPv6 ? 128 : 32;

    /// <summary>Bytes in NLRI form: one length byte and the minimal number of address octets.</summary>
    public int EncodedLength => 1 + (Length + 7) / 8;

    public void Deconstruct(out IPAddress address, out int length) => (address, length) = (Address, Length);

    public static BgpPrefix Parse(string text)
    {
        int slash = text.IndexOf('/');
        if (slash < 0) throw new FormatException($"'{text}' is not ADDRESS/LENGTH.");
        return new BgpPrefix(IPAddress.Parse(text[..slash]), int.Parse(text[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    public override string ToString() => $"{Address}/{Length}";

    internal static void Mask(Span<byte> bytes, int length)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            int bits = length - i * 8;
            if (bits >= 8) continue;
            bytes[i] &= bits <= 0 ? (byte)0 : (byte)(0xFF << (8 - bits));
        }
    }
}

/// <summary>Value equality for the lists inside the message records.</summary>
internal static class Seq
{
    public static bool Equal<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null || a.Count != b.Count) return false;
        var comparer = EqualityComparer<T>.Default;
        for (int i = 0; i < a.Count; i++)
            if (!comparer.Equals(a[i], b[i])) return false;
        return true;
    }

    public static bool Equal(byte[]? a, byte[]? b) =>
        ReferenceEquals(a, b) || (a is not null && b is not null && a.AsSpan().SequenceEqual(b));

    public static int Hash<T>(IReadOnlyList<T>? list)
    {
        if (list is null) return 0;
        var hash = new HashCode();
        hash.Add(list.Count);
        foreach (var item in list) hash.Add(item);
        return hash.ToHashCode();
    }

    public static int Hash(byte[]? bytes)
    {
        if (bytes is null) return 0;
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }

    public static string Hex(ReadOnlySpan<byte> bytes, int max = 32) =>
        bytes.Length <= max ? Convert.ToHexString(bytes).ToLowerInvariant()
            : Convert.ToHexString(bytes[..max]).ToLowerInvariant() + $"… ({bytes.Length} bytes)";
}
