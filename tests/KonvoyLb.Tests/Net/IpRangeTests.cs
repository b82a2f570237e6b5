using System.Net;
using System.Net.Sockets;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Tests.Net;

public class IpRangeTests
{
    private static IpRange R(string first, string last)
    {
        var a = IPAddress.Parse(first);
        return new IpRange(a.AddressFamily, IpRange.ToValue(a), IpRange.ToValue(IPAddress.Parse(last)));
    }

    private static IpRange Parse(string text)
    {
        Assert.True(IpRange.TryParse(text, out var range, out var error), error);
        Assert.Null(error);
        return range;
    }

    private static string ParseError(string? text)
    {
        Assert.False(IpRange.TryParse(text, out _, out var error));
        Assert.NotNull(error);
        return error;
    }

    [Theory]
    [InlineData("192.0.2.0/24", "192.0.2.0", "192.0.2.255")]
    [InlineData("192.0.2.77/24", "192.0.2.0", "192.0.2.255")] // host bits are masked, like Go's net.ParseCIDR
    [InlineData("192.0.2.77/30", "192.0.2.76", "192.0.2.79")]
    [InlineData("192.0.2.1/32", "192.0.2.1", "192.0.2.1")]
    [InlineData("0.0.0.0/0", "0.0.0.0", "255.255.255.255")]
    [InlineData("10.1.2.3/0", "0.0.0.0", "255.255.255.255")]
    [InlineData("192.0.2.10-192.0.2.20", "192.0.2.10", "192.0.2.20")]
    [InlineData("192.0.2.10 - 192.0.2.20", "192.0.2.10", "192.0.2.20")]
    [InlineData("192.0.2.10  -192.0.2.20", "192.0.2.10", "192.0.2.20")]
    [InlineData("192.0.2.10-\t192.0.2.20", "192.0.2.10", "192.0.2.20")]
    [InlineData("192.0.2.5-192.0.2.5", "192.0.2.5", "192.0.2.5")]
    [InlineData("192.0.2.250-192.0.3.4", "192.0.2.250", "192.0.3.4")]
    [InlineData("2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff")]
    [InlineData("2001:DB8::1234/120", "2001:db8::1200", "2001:db8::12ff")]
    [InlineData("2001:db8::1/128", "2001:db8::1", "2001:db8::1")]
    [InlineData("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    [InlineData("2001:db8::1-2001:db8::9", "2001:db8::1", "2001:db8::9")]
    [InlineData("2001:db8::1 - 2001:db8::9", "2001:db8::1", "2001:db8::9")]
    public void TryParse_accepts_cidrs_and_ranges(string text, string first, string last)
    {
        var range = Parse(text);
        Assert.Equal(R(first, last), range);
        Assert.Equal(IPAddress.Parse(first), range.FirstAddress);
        Assert.Equal(IPAddress.Parse(last), range.LastAddress);
    }

    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1/32", "192.0.2.1-192.0.2.1")]
    [InlineData("2001:db8::1", "2001:db8::1/128", "2001:db8::1-2001:db8::1")]
    public void TryParse_rejects_a_bare_address_and_says_how_to_write_it(string text, string asCidr, string asRange)
    {
        var error = ParseError(text);
        Assert.Contains(asCidr, error);
        Assert.Contains(asRange, error);
    }

    [Theory]
    [InlineData("192.0.2.0/33", "/33")]
    [InlineData("192.0.2.0/99999999999", "/99999999999")]
    [InlineData("2001:db8::/129", "/129")]
    public void TryParse_rejects_prefix_length_out_of_range(string text, string prefix)
    {
        var error = ParseError(text);
        Assert.Contains("out of range", error);
        Assert.Contains(prefix, error);
    }

    [Theory]
    [InlineData("192.0.2.0/")]
    [InlineData("192.0.2.0/x")]
    [InlineData("192.0.2.0/+8")]
    [InlineData("192.0.2.0/24 ")]
    public void TryParse_rejects_prefix_length_that_is_not_a_number(string text) =>
        Assert.Contains("not a number", ParseError(text));

    [Theory]
    [InlineData("192.0.2.256/24")]
    [InlineData("192.0.2/24")]
    [InlineData("192.0.2.1.5/32")]
    [InlineData("10.1/8")]             // IPAddress.Parse would read this as 10.0.0.1
    [InlineData("010.0.0.1/32")]       // leading zeros, rejected by Go
    [InlineData("0x0a000001/32")]
    [InlineData("fe80::1%eth0/64")]    // scope ids are not allowed
    [InlineData("[2001:db8::]/64")]
    [InlineData("2001:db8:::1/64")]
    [InlineData("/24")]
    [InlineData(" 192.0.2.0/24")]      // only the halves of a range are trimmed, as in MetalLB
    public void TryParse_rejects_a_cidr_whose_address_is_not_an_ip(string text) =>
        Assert.Contains("is not an IP address", ParseError(text));

    [Theory]
    [InlineData("192.0.2.1-")]
    [InlineData("-192.0.2.1")]
    [InlineData("192.0.2.1-192.0.2")]
    [InlineData("192.0.2.1-192.0.2.9-192.0.2.20")]
    [InlineData("192.0.2.1-192.0.2.9/24")]
    [InlineData("a-b")]
    [InlineData("192.0.2.0/-1")]       // has a '-', so it is read as a range
    public void TryParse_rejects_a_range_with_a_bad_end(string text) =>
        Assert.Contains("is not an IP address", ParseError(text));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void TryParse_rejects_empty_input(string? text) => Assert.Contains("empty", ParseError(text));

    [Theory]
    [InlineData("hello")]
    [InlineData("192.0.2.1 192.0.2.9")]
    public void TryParse_rejects_garbage(string text) => Assert.Contains("is not a CIDR", ParseError(text));

    [Theory]
    [InlineData("192.0.2.20-192.0.2.10", "192.0.2.20", "192.0.2.10")]
    [InlineData("192.0.3.0-192.0.2.255", "192.0.3.0", "192.0.2.255")]
    [InlineData("2001:db8::9-2001:db8::1", "2001:db8::9", "2001:db8::1")]
    public void TryParse_rejects_backwards_range_naming_both_ends(string text, string start, string end)
    {
        var error = ParseError(text);
        Assert.Contains("backwards", error);
        Assert.Contains(start, error);
        Assert.Contains(end, error);
    }

    [Theory]
    [InlineData("192.0.2.1-2001:db8::1")]
    [InlineData("2001:db8::1 - 192.0.2.1")]
    [InlineData("::-0.0.0.0")]
    public void TryParse_rejects_mixed_families(string text) => Assert.Contains("mixes IPv4 and IPv6", ParseError(text));

    [Fact]
    public void TryParse_failure_leaves_default_range()
    {
        Assert.False(IpRange.TryParse("192.0.2.20-192.0.2.10", out var range, out _));
        Assert.Equal(default, range);
    }

    [Fact]
    public void Constructor_rejects_invalid_ranges()
    {
        Assert.Throws<ArgumentException>(() => new IpRange(AddressFamily.InterNetwork, 5, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new IpRange(AddressFamily.InterNetwork, 0, (UInt128)uint.MaxValue + 1));
        Assert.Throws<ArgumentException>(() => new IpRange(AddressFamily.Unspecified, 0, 0));
        Assert.Equal(UInt128.MaxValue, new IpRange(AddressFamily.InterNetworkV6, 0, UInt128.MaxValue).Last);
    }

    [Fact]
    public void FromCidr_masks_host_bits_and_checks_prefix_length()
    {
        Assert.Equal(R("192.0.2.0", "192.0.2.127"), IpRange.FromCidr(IPAddress.Parse("192.0.2.99"), 25));
        Assert.Equal(R("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), IpRange.FromCidr(IPAddress.Parse("2001:db8::1"), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => IpRange.FromCidr(IPAddress.Parse("192.0.2.0"), 33));
        Assert.Throws<ArgumentOutOfRangeException>(() => IpRange.FromCidr(IPAddress.Parse("192.0.2.0"), -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => IpRange.FromCidr(IPAddress.Parse("2001:db8::"), 129));
    }

    [Fact]
    public void Single_and_value_conversions_round_trip()
    {
        Assert.Equal(new IpRange(AddressFamily.InterNetwork, 0xC0000201, 0xC0000201), IpRange.Single(IPAddress.Parse("192.0.2.1")));
        Assert.Equal((UInt128)0xC0000201, IpRange.ToValue(IPAddress.Parse("192.0.2.1")));
        Assert.Equal(new UInt128(0x20010db800000000, 1), IpRange.ToValue(IPAddress.Parse("2001:db8::1")));
        Assert.Equal(IPAddress.Parse("255.255.255.255"), IpRange.ToAddress(AddressFamily.InterNetwork, uint.MaxValue));
        Assert.Equal(IPAddress.Parse("2001:db8::1"), IpRange.ToAddress(AddressFamily.InterNetworkV6, new UInt128(0x20010db800000000, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => IpRange.ToAddress(AddressFamily.InterNetwork, (UInt128)uint.MaxValue + 1));
    }

    [Theory]
    [InlineData("192.0.2.0/24", "256")]
    [InlineData("192.0.2.7/32", "1")]
    [InlineData("192.0.2.10-192.0.2.20", "11")]
    [InlineData("0.0.0.0/0", "4294967296")]
    [InlineData("2001:db8::/64", "18446744073709551616")]
    [InlineData("::/1", "170141183460469231731687303715884105728")]
    [InlineData("::/0", "340282366920938463463374607431768211455")] // 2^128 saturates at UInt128.MaxValue
    [InlineData("::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "340282366920938463463374607431768211455")]
    public void Count(string text, string expected) => Assert.Equal(UInt128.Parse(expected), Parse(text).Count);

    [Theory]
    [InlineData("192.0.2.0/24", 256, 254)]
    [InlineData("192.0.2.0/23", 512, 508)]            // also skips 192.0.2.255 and 192.0.3.0 in the middle
    [InlineData("192.0.2.1-192.0.2.254", 254, 254)]
    [InlineData("192.0.2.255-192.0.3.0", 2, 0)]
    [InlineData("192.0.2.0/32", 1, 0)]
    [InlineData("192.0.2.255/32", 1, 0)]
    [InlineData("192.0.2.128/32", 1, 1)]
    [InlineData("192.0.2.250-192.0.3.5", 12, 10)]
    [InlineData("0.0.0.0/0", 4294967296, 4261412864)]  // 2^32 - 2 * 2^24
    [InlineData("2001:db8::/120", 256, 256)]           // IPv6 is not affected
    [InlineData("2001:db8::/128", 1, 1)]
    public void CountUsable(string text, long all, long avoidingBuggyIps)
    {
        var range = Parse(text);
        Assert.Equal((UInt128)all, range.CountUsable(avoidBuggyIps: false));
        Assert.Equal((UInt128)avoidingBuggyIps, range.CountUsable(avoidBuggyIps: true));
    }

    [Theory]
    [InlineData("192.0.2.10-192.0.2.20", "192.0.2.10/31 192.0.2.12/30 192.0.2.16/30 192.0.2.20/32")]
    [InlineData("192.0.2.0/24", "192.0.2.0/24")]
    [InlineData("192.0.2.0-192.0.3.255", "192.0.2.0/23")]
    [InlineData("192.0.2.255-192.0.3.0", "192.0.2.255/32 192.0.3.0/32")]
    [InlineData("192.0.2.7/32", "192.0.2.7/32")]
    [InlineData("0.0.0.0-255.255.255.255", "0.0.0.0/0")]
    [InlineData("0.0.0.0-255.255.255.254", "0.0.0.0/1 128.0.0.0/2 192.0.0.0/3 224.0.0.0/4 240.0.0.0/5 248.0.0.0/6 252.0.0.0/7 254.0.0.0/8 255.0.0.0/9 255.128.0.0/10 255.192.0.0/11 255.224.0.0/12 255.240.0.0/13 255.248.0.0/14 255.252.0.0/15 255.254.0.0/16 255.255.0.0/17 255.255.128.0/18 255.255.192.0/19 255.255.224.0/20 255.255.240.0/21 255.255.248.0/22 255.255.252.0/23 255.255.254.0/24 255.255.255.0/25 255.255.255.128/26 255.255.255.192/27 255.255.255.224/28 255.255.255.240/29 255.255.255.248/30 255.255.255.252/31 255.255.255.254/32")]
    [InlineData("2001:db8::1-2001:db8::9", "2001:db8::1/128 2001:db8::2/127 2001:db8::4/126 2001:db8::8/127")]
    [InlineData("::/0", "::/0")]
    [InlineData("::-7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/1")]
    public void ToCidrs(string text, string expected)
    {
        var cidrs = Parse(text).ToCidrs().Select(c => $"{c.Network}/{c.PrefixLength}").ToList();
        Assert.Equal(expected.Split(' '), cidrs);
    }

    [Fact]
    public void ToCidrs_of_all_IPv6_but_one_address_has_one_block_per_size()
    {
        var cidrs = Parse("::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").ToCidrs().ToList();
        Assert.Equal(Enumerable.Range(1, 128).Reverse(), cidrs.Select(c => c.PrefixLength));
        Assert.Equal(IPAddress.Parse("::1"), cidrs[0].Network);
        Assert.Equal(IPAddress.Parse("::2"), cidrs[1].Network);
        Assert.Equal(IPAddress.Parse("8000::"), cidrs[^1].Network);
    }

    [Theory]
    [InlineData("192.0.2.0/24", true, 24, "192.0.2.0/24")]
    [InlineData("192.0.2.0-192.0.2.255", true, 24, "192.0.2.0/24")]
    [InlineData("192.0.2.7-192.0.2.7", true, 32, "192.0.2.7/32")]
    [InlineData("192.0.2.10-192.0.2.20", false, 30, "192.0.2.10-192.0.2.20")]
    [InlineData("192.0.2.8-192.0.2.15", true, 29, "192.0.2.8/29")]
    [InlineData("192.0.2.4-192.0.2.11", false, 30, "192.0.2.4-192.0.2.11")] // 8 addresses, but not aligned
    [InlineData("192.0.2.0-192.0.2.2", false, 31, "192.0.2.0-192.0.2.2")]
    [InlineData("0.0.0.1-255.255.255.254", false, 2, "0.0.0.1-255.255.255.254")]
    [InlineData("0.0.0.0/0", true, 0, "0.0.0.0/0")]
    [InlineData("::/0", true, 0, "::/0")]
    [InlineData("2001:db8::/64", true, 64, "2001:db8::/64")]
    [InlineData("2001:db8::1-2001:db8::9", false, 126, "2001:db8::1-2001:db8::9")]
    [InlineData("2001:db8::1/128", true, 128, "2001:db8::1/128")]
    public void IsCidr_PrefixLength_and_ToString(string text, bool isCidr, int prefixLength, string shown)
    {
        var range = Parse(text);
        Assert.Equal(isCidr, range.IsCidr);
        Assert.Equal(prefixLength, range.PrefixLength);
        Assert.Equal(shown, range.ToString());
        Assert.Equal(range, Parse(shown));
    }

    [Fact]
    public void Contains_checks_family_and_bounds()
    {
        var pool = Parse("192.0.2.10-192.0.2.20");
        Assert.True(pool.Contains(IPAddress.Parse("192.0.2.10")));
        Assert.True(pool.Contains(IPAddress.Parse("192.0.2.20")));
        Assert.False(pool.Contains(IPAddress.Parse("192.0.2.9")));
        Assert.False(pool.Contains(IPAddress.Parse("192.0.2.21")));
        Assert.False(pool.Contains(IPAddress.Parse("::ffff:192.0.2.15"))); // an IPv6 address, even if IPv4-mapped
        Assert.False(Parse("::/0").Contains(IPAddress.Parse("192.0.2.15")));
        Assert.True(Parse("::/0").Contains(IPAddress.Parse("::ffff:192.0.2.15")));
    }

    [Theory]
    [InlineData("192.0.2.0-192.0.2.9", "192.0.2.10-192.0.2.20", null)]             // touching, not overlapping
    [InlineData("192.0.2.0-192.0.2.10", "192.0.2.10-192.0.2.20", "192.0.2.10/32")]  // share one address
    [InlineData("192.0.2.0/24", "192.0.2.10-192.0.2.20", "192.0.2.10-192.0.2.20")]  // containment
    [InlineData("192.0.2.10-192.0.2.20", "192.0.2.0/24", "192.0.2.10-192.0.2.20")]
    [InlineData("192.0.2.0/24", "192.0.2.0/24", "192.0.2.0/24")]                    // identical
    [InlineData("192.0.2.5-192.0.2.15", "192.0.2.10-192.0.2.20", "192.0.2.10-192.0.2.15")]
    [InlineData("192.0.2.7/32", "192.0.2.7/32", "192.0.2.7/32")]                    // single addresses
    [InlineData("192.0.2.7/32", "192.0.2.8/32", null)]
    [InlineData("192.0.2.7/32", "192.0.2.0/24", "192.0.2.7/32")]
    [InlineData("192.0.2.0/24", "192.0.3.0/24", null)]
    [InlineData("0.0.0.0/0", "::/0", null)]                                         // families never overlap
    [InlineData("0.0.0.1/32", "::1/128", null)]                                     // even with equal values
    [InlineData("::/0", "2001:db8::5-2001:db8::7", "2001:db8::5-2001:db8::7")]
    [InlineData("2001:db8::1-2001:db8::9", "2001:db8::9-2001:db8::20", "2001:db8::9/128")]
    [InlineData("2001:db8::1-2001:db8::8", "2001:db8::9-2001:db8::20", null)]
    public void Overlaps_and_Intersect(string a, string b, string? expected)
    {
        IpRange x = Parse(a), y = Parse(b);
        IpRange? want = expected is null ? null : Parse(expected);
        Assert.Equal(want, x.Intersect(y));
        Assert.Equal(want, y.Intersect(x));
        Assert.Equal(want is not null, x.Overlaps(y));
        Assert.Equal(want is not null, y.Overlaps(x));
    }
}
