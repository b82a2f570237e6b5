using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KonvoyLb.Engine.Net;

/// <summary>
/// A contiguous, inclusive range of addresses of one family. Addresses are held as <see cref="UInt128"/>
/// (IPv4 in the low 32 bits). The constructor rejects unknown families, values beyond the family's
/// width and <c>First &gt; Last</c>; only <c>default(IpRange)</c> bypasses that and is not a usable range.
/// </summary>
public readonly record struct IpRange(AddressFamily Family, UInt128 First, UInt128 Last)
{
    public AddressFamily Family { get; } = CheckFamily(Family);
    public UInt128 First { get; } = First;
    public UInt128 Last { get; } = CheckBounds(Family, First, Last);

    public static IpRange Single(IPAddress a)
    {
        var v = ToValue(a);
        return new IpRange(a.AddressFamily, v, v);
    }

    /// <summary>The CIDR block <paramref name="network"/>/<paramref name="prefixLength"/>; host bits are masked off.</summary>
    public static IpRange FromCidr(IPAddress network, int prefixLength)
    {
        int bits = Bits(network.AddressFamily);
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, bits);
        var hostMask = HostMask(bits - prefixLength);
        var first = ToValue(network) & ~hostMask;
        return new IpRange(network.AddressFamily, first, first | hostMask);
    }

    /// <summary>
    /// Parses MetalLB legacy pool syntax: a CIDR ("192.0.2.0/24", host bits masked like Go's net.ParseCIDR)
    /// or a range ("192.0.2.10-192.0.2.20", optional spaces around '-'). IPv6 likewise.
    /// A bare address is rejected, as MetalLB does. Never throws; on failure <paramref name="error"/> says why.
    /// </summary>
    public static bool TryParse(string? text, out IpRange range, [NotNullWhen(false)] out string? error)
    {
        error = Parse(text, out range);
        return error is null;
    }

    /// <summary>
    /// What people type on a command line: a bare address (as the one-address CIDR it stands for, parsed as
    /// strictly as pool entries: no "10.1", "0x0a000001", "fe80::1%eth0"), a CIDR or a first-last range.
    /// </summary>
    public static bool TryParseAddressOrRange(string text, out IpRange range, [NotNullWhen(false)] out string? error)
    {
        string t = text.Trim();
        if (!t.Contains('/') && !t.Contains('-') && TryParse($"{t}/{(t.Contains(':') ? 128 : 32)}", out range, out _))
        {
            error = null;
            return true;
        }
        return TryParse(text, out range, out error);
    }

    /// <summary>
    /// A command-line argument (<see cref="TryParseAddressOrRange"/>), or the catalogued error naming
    /// <paramref name="what"/> (a parameter such as "-NodeSubnet", or a pool) and how to write it.
    /// </summary>
    public static IpRange ParseArgument(string text, string what)
    {
        if (TryParseAddressOrRange(text, out var range, out var error)) return range;
        throw new LbException(text.Contains('-') ? ErrorId.InvalidRange : ErrorId.InvalidAddress,
            $"{what} '{text}' is not an address, CIDR or range: {error}", text,
            fix: "Write an address, a CIDR or a first-last range of one family, first before last: 192.0.2.1, 192.0.2.0/24, 192.0.2.10-192.0.2.20.");
    }

    public bool IsCidr
    {
        get
        {
            // A block has 2^k addresses (span = 2^k - 1, all ones) and starts on a multiple of 2^k.
            var span = Last - First;
            return (span & (span + 1)) == 0 && (First & span) == 0;
        }
    }

    /// <summary>For a CIDR its prefix length; for any range the smallest prefix length among <see cref="ToCidrs"/>.</summary>
    public int PrefixLength => ToCidrs().Min(c => c.PrefixLength);

    /// <summary>Number of addresses; ::/0 has 2^128, which saturates at <see cref="UInt128.MaxValue"/>.</summary>
    public UInt128 Count => Last - First == UInt128.MaxValue ? UInt128.MaxValue : Last - First + 1;

    public IPAddress FirstAddress => ToAddress(Family, First);
    public IPAddress LastAddress => ToAddress(Family, Last);

    /// <summary>
    /// Addresses MetalLB may hand out. With <paramref name="avoidBuggyIps"/> it skips every IPv4 address whose
    /// last octet is 0 or 255 (not only a block's network and broadcast addresses); IPv6 is unaffected.
    /// </summary>
    public UInt128 CountUsable(bool avoidBuggyIps)
    {
        if (!avoidBuggyIps || Family != AddressFamily.InterNetwork)
            return Count;
        return Count - CountEndingIn(0) - CountEndingIn(255);
    }

    public bool Contains(IPAddress a)
    {
        if (a.AddressFamily != Family)
            return false;
        var v = ToValue(a);
        return First <= v && v <= Last;
    }

    public bool Overlaps(IpRange other) =>
        Family == other.Family && First <= other.Last && other.First <= Last;

    public IpRange? Intersect(IpRange other) =>
        Overlaps(other)
            ? new IpRange(Family, UInt128.Max(First, other.First), UInt128.Min(Last, other.Last))
            : null;

    /// <summary>The fewest CIDR blocks that exactly cover the range, in ascending order.</summary>
    public IEnumerable<(IPAddress Network, int PrefixLength)> ToCidrs()
    {
        int bits = Bits(Family);
        var start = First;
        while (true)
        {
            // Greedy: take the largest block that is aligned at `start` and does not run past Last.
            int alignBits = start == 0 ? bits : Math.Min(bits, (int)UInt128.TrailingZeroCount(start));
            var remaining = Last - start;
            int fitBits = remaining == UInt128.MaxValue ? 128 : (int)UInt128.Log2(remaining + 1);
            int hostBits = Math.Min(alignBits, fitBits);
            yield return (ToAddress(Family, start), bits - hostBits);

            var blockLast = start + HostMask(hostBits);
            if (blockLast == Last)
                yield break;
            start = blockLast + 1;
        }
    }

    /// <summary>"a/n" when the range is one CIDR block (so a single address is "a/32" or "a/128"), else "first-last".
    /// Either form parses back with <see cref="TryParse"/>.</summary>
    public override string ToString() =>
        IsCidr ? $"{FirstAddress}/{PrefixLength}" : $"{FirstAddress}-{LastAddress}";

    public static IPAddress ToAddress(AddressFamily f, UInt128 v)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(v, HostMask(Bits(f)));
        if (f == AddressFamily.InterNetwork)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)v);
            return new IPAddress(bytes);
        }
        else
        {
            var bytes = new byte[16];
            BinaryPrimitives.WriteUInt128BigEndian(bytes, v);
            return new IPAddress(bytes);
        }
    }

    /// <summary>The address as a number; an IPv6 scope id is ignored.</summary>
    public static UInt128 ToValue(IPAddress a)
    {
        CheckFamily(a.AddressFamily);
        Span<byte> bytes = stackalloc byte[16];
        a.TryWriteBytes(bytes, out int written);
        return written == 4
            ? BinaryPrimitives.ReadUInt32BigEndian(bytes)
            : BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    private static int Bits(AddressFamily f) => f switch
    {
        AddressFamily.InterNetwork => 32,
        AddressFamily.InterNetworkV6 => 128,
        _ => throw new ArgumentException($"Address family {f} is not IPv4 or IPv6.", nameof(f)),
    };

    private static AddressFamily CheckFamily(AddressFamily f)
    {
        _ = Bits(f);
        return f;
    }

    private static UInt128 HostMask(int hostBits) =>
        hostBits >= 128 ? UInt128.MaxValue : (UInt128.One << hostBits) - 1;

    private static UInt128 CheckBounds(AddressFamily f, UInt128 first, UInt128 last)
    {
        var max = HostMask(Bits(f));
        if (last > max)
            throw new ArgumentOutOfRangeException(nameof(last), $"Value {last} is beyond the {f} address space.");
        if (first > last)
            throw new ArgumentException($"Range start {first} is after its end {last}.", nameof(first));
        return last;
    }

    private UInt128 CountEndingIn(byte octet) =>
        CountUpTo(Last, octet) - (First == 0 ? 0 : CountUpTo(First - 1, octet));

    // How many v in [0, x] have v % 256 == octet.
    private static UInt128 CountUpTo(UInt128 x, byte octet) => x < octet ? 0 : (x - octet) / 256 + 1;

    private static string? Parse(string? text, out IpRange range)
    {
        range = default;
        if (string.IsNullOrWhiteSpace(text))
            return "The address pool entry is empty.";

        // Like MetalLB: anything with a '-' is a range, everything else must be a CIDR.
        int dash = text.IndexOf('-');
        if (dash >= 0)
        {
            string startText = text[..dash].Trim(), endText = text[(dash + 1)..].Trim();
            if (!TryParseAddress(startText, out var start))
                return $"\"{startText}\" in range \"{text}\" is not an IP address.";
            if (!TryParseAddress(endText, out var end))
                return $"\"{endText}\" in range \"{text}\" is not an IP address.";
            if (start.AddressFamily != end.AddressFamily)
                return $"Range \"{text}\" mixes IPv4 and IPv6 addresses.";
            UInt128 first = ToValue(start), last = ToValue(end);
            if (first > last)
                return $"Range \"{text}\" is backwards: its start {start} is after its end {end}.";
            range = new IpRange(start.AddressFamily, first, last);
            return null;
        }

        int slash = text.IndexOf('/');
        if (slash < 0)
        {
            return TryParseAddress(text, out var bare)
                ? $"\"{text}\" is a single address without a prefix length; write it as {bare}/{Bits(bare.AddressFamily)} or as the range {bare}-{bare}."
                : $"\"{text}\" is not a CIDR (like 192.0.2.0/24) or an address range (like 192.0.2.10-192.0.2.20).";
        }

        string addressText = text[..slash], prefixText = text[(slash + 1)..];
        if (!TryParseAddress(addressText, out var network))
            return $"\"{addressText}\" in CIDR \"{text}\" is not an IP address.";
        int bits = Bits(network.AddressFamily);
        if (prefixText.Length == 0 || !prefixText.All(char.IsAsciiDigit))
            return $"The prefix length \"{prefixText}\" in CIDR \"{text}\" is not a number.";
        if (!int.TryParse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture, out int prefixLength) || prefixLength > bits)
            return $"The prefix length /{prefixText} in CIDR \"{text}\" is out of range; {FamilyName(network.AddressFamily)} allows /0 to /{bits}.";
        range = FromCidr(network, prefixLength);
        return null;
    }

    private static string FamilyName(AddressFamily f) => f == AddressFamily.InterNetwork ? "IPv4" : "IPv6";

    // Stricter than IPAddress.TryParse, which also takes "10.1", "0x0a000001", "[::1]:80" and scope ids,
    // none of which Go's parser (and so MetalLB) accepts.
    public static bool TryParseAddress(string s, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (s.Contains(':'))
        {
            return s.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.')
                && IPAddress.TryParse(s, out address)
                && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        var parts = s.Split('.');
        if (parts.Length != 4)
            return false;
        var bytes = new byte[4];
        for (int i = 0; i < 4; i++)
        {
            var p = parts[i];
            // Go rejects leading zeros since they once meant octal.
            bool wellFormed = p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit) && (p.Length == 1 || p[0] != '0');
            if (!wellFormed || !byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out bytes[i]))
                return false;
        }
        address = new IPAddress(bytes);
        return true;
    }
}
