using System.Net;
using System.Net.NetworkInformation;
using KonvoyLb.Engine.Net.Packets;

namespace KonvoyLb.Tests.Net.Packets;

// Values printed in RFCs, and checksums worked out by hand.
public class KnownAnswerTests
{
    [Fact]
    public void Rfc1071_numerical_example()
    {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 2ddf0, folded ddf2; the checksum is its complement.
        Assert.Equal(0x220d, Icmp.InternetChecksum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]));
        // Byte order independence (RFC 1071 §2 B): the swapped bytes give the swapped sum.
        Assert.Equal(0x0d22, Icmp.InternetChecksum([0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6]));
        // With the checksum appended, the data sums to all ones: the check gives 0.
        Assert.Equal(0, Icmp.InternetChecksum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x22, 0x0d]));
    }

    [Theory]
    [InlineData("", 0xffff)]
    [InlineData("01", 0xfeff)]             // an odd last byte is the high byte of a word padded with zero
    [InlineData("0001f2", 0x0dfe)]         // 0001 + f200 = f201
    [InlineData("ffff", 0x0000)]
    [InlineData("ffffffff", 0x0000)]       // 1fffe folds to ffff
    [InlineData("8000800080008000", 0xfffd)] // 20000 folds to 2: carries wrap around
    public void Internet_checksum_by_hand(string hex, int expected) =>
        Assert.Equal(expected, Icmp.InternetChecksum(Convert.FromHexString(hex)));

    [Fact]
    public void Internet_checksum_of_a_long_buffer_folds_every_carry()
    {
        var data = Enumerable.Repeat((byte)0xff, 200_001).ToArray();
        // 100000 words of ffff fold to ffff, the last ff00 adds to 1feff -> feff + 1 = ff00; complement 00ff.
        Assert.Equal(0x00ff, Icmp.InternetChecksum(data));
    }

    [Fact]
    public void Rfc4291_solicited_node_example()
    {
        // RFC 4291 §2.7.1: "the Solicited-Node multicast address corresponding to the IPv6 address
        // 4037::01:800:200E:8C6C is FF02::1:FF0E:8C6C".
        Assert.Equal(IPAddress.Parse("FF02::1:FF0E:8C6C"), Ndp.SolicitedNodeMulticast(IPAddress.Parse("4037::01:800:200E:8C6C")));
        Assert.Equal(IPAddress.Parse("ff02::1:ffab:cdef"), Ndp.SolicitedNodeMulticast(IPAddress.Parse("2001:db8:ffff:ffff:ffff:ffff:ffab:cdef")));
        Assert.Equal(IPAddress.Parse("ff02::1:ff00:0"), Ndp.SolicitedNodeMulticast(IPAddress.IPv6Any));
    }

    [Fact]
    public void Rfc2464_multicast_mac_is_3333_and_the_last_four_bytes()
    {
        // RFC 2464 §7: 33-33 followed by DST[13]..DST[16].
        Assert.Equal(PhysicalAddress.Parse("33-33-FF-0E-8C-6C"), Ndp.MulticastMac(IPAddress.Parse("FF02::1:FF0E:8C6C")));
        Assert.Equal(PhysicalAddress.Parse("33-33-00-00-00-01"), Ndp.MulticastMac(Ndp.AllNodes));
        Assert.Equal(PhysicalAddress.Parse("33-33-00-00-00-02"), Ndp.MulticastMac(IPAddress.Parse("ff02::2")));
        Assert.Equal(PhysicalAddress.Parse("33-33-12-34-56-78"), Ndp.MulticastMac(IPAddress.Parse("ff05::1234:5678")));
    }

    [Fact]
    public void Rfc4443_pseudo_header_checksum_by_hand()
    {
        // An echo request ::1 -> ::1, id 0, seq 0, no payload. Pseudo-header words: 0001 (source), 0001
        // (destination), 0008 (length), 003a (next header); message: 8000. Sum 0x8044, checksum 0x7fbb.
        var message = Icmp.EchoRequestV6(0, 0, [], IPAddress.IPv6Loopback, IPAddress.IPv6Loopback);
        Assert.Equal("80007FBB00000000", Convert.ToHexString(message));
        Assert.Equal(0x7fbb, Ndp.Checksum(IPAddress.IPv6Loopback, IPAddress.IPv6Loopback, Icmp.EchoRequestV6(0, 0, [])));
    }

    [Fact]
    public void Echo_v4_by_hand()
    {
        // 0800 0000 1234 0001 + "hi" (6869): sum 0800+1234+0001+6869 = 829e, checksum 7d61.
        Assert.Equal("08007D61123400016869", Convert.ToHexString(Icmp.EchoRequestV4(0x1234, 1, "hi"u8)));
        Assert.Equal("00008561123400016869", Convert.ToHexString(Icmp.EchoReplyV4(0x1234, 1, "hi"u8)));
    }

    [Fact]
    public void Rfc826_layout_by_hand()
    {
        var packet = new ArpPacket(ArpPacket.Request, PhysicalAddress.Parse("02-00-00-00-00-0A"), IPAddress.Parse("192.0.2.10"),
            PhysicalAddress.Parse("00-00-00-00-00-00"), IPAddress.Parse("192.0.2.20"));
        // ar$hrd 1, ar$pro 0800, ar$hln 6, ar$pln 4, ar$op 1, sha, spa, tha, tpa.
        Assert.Equal("0001080006040001" + "02000000000A" + "C000020A" + "000000000000" + "C0000214", Convert.ToHexString(packet.ToBytes()));
    }
}
