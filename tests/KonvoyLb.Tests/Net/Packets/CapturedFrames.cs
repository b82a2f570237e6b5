namespace KonvoyLb.Tests.Net.Packets;

/// <summary>
/// Ethernet frames captured from real exchanges, pasted from <c>tcpdump -xx -r</c>. The lab is capture-lab.sh
/// beside this file (run as root on Debian 12, kernel 6.18): two network namespaces joined by a veth pair,
/// <c>va</c> = 02:00:00:00:00:01, 192.0.2.1/24, 2001:db8::1/64 (nodad) and <c>vb</c> = 02:00:00:00:00:02,
/// 192.0.2.2/24, 2001:db8::2/64 (nodad), no link-local addresses. Every frame was captured on <c>va</c> with
/// <c>tcpdump -i va -U -s 0 -c N -w file.pcap FILTER</c>. Frames sent by Debian's arping (Thomas Habets'
/// ARPing 2.23) carry a 44-byte ARP message (16 zero bytes after the 28); frames sent by the kernel on a veth
/// carry no padding at all (a real NIC pads to 60 in hardware).
/// </summary>
internal static class CapturedFrames
{
    public static byte[] Bytes(string hex) => Convert.FromHexString(hex);

    // `arping -c 1 -w 2 -i va 192.0.2.2` (filter: arp): the request arping broadcasts...
    public const string ArpingRequest =
        "ffffffffffff0200000000010806" +
        "0001080006040001020000000001c0000201000000000000c0000202" +
        "00000000000000000000000000000000";

    // ...and the reply the kernel in vb's namespace sends back (42 bytes).
    public const string KernelArpReply =
        "0200000000010200000000020806" +
        "0001080006040002020000000002c0000202020000000001c0000201";

    // `arping -0 -c 1 -w 2 -i va 192.0.2.2` (filter: arp): a probe, sender IP 0.0.0.0, target MAC zeros...
    public const string ArpingProbe =
        "ffffffffffff0200000000010806" +
        "000108000604000102000000000100000000000000000000c0000202" +
        "00000000000000000000000000000000";

    // ...and the kernel's reply to a probe: target IP 0.0.0.0, the prober's MAC.
    public const string KernelProbeReply =
        "0200000000010200000000020806" +
        "0001080006040002020000000002c000020202000000000100000000";

    // `arping -U -c 1 -w 1 -i va 192.0.2.1` (filter: arp): unsolicited request, sender IP = target IP, target MAC ff:ff:ff:ff:ff:ff.
    public const string ArpingUnsolicitedRequest =
        "ffffffffffff0200000000010806" +
        "0001080006040001020000000001c0000201ffffffffffffc0000201" +
        "00000000000000000000000000000000";

    // `arping -U -P -c 1 -w 1 -i va 192.0.2.1` (filter: arp): unsolicited reply, target MAC ff:ff:ff:ff:ff:ff.
    public const string ArpingUnsolicitedReply =
        "ffffffffffff0200000000010806" +
        "0001080006040002020000000001c0000201ffffffffffffc0000201" +
        "00000000000000000000000000000000";

    // `ping -c 1 -s 24 -p 4b4f4e564f59 192.0.2.2` (filter: icmp): echo request, id 29858 (0x74a2), seq 1,
    // 24-byte payload (16-byte timestamp, then the pattern)...
    public const string PingV4Request =
        "0200000000020200000000010800" +
        "450000342d8840004001893dc0000201c0000202" +
        "080002cc74a20001ca01076b0000000074cb0200000000004f594b4f4e564f59";

    // ...and the kernel's echo reply.
    public const string PingV4Reply =
        "0200000000010200000000020800" +
        "4500003400b300004001f612c0000202c0000201" +
        "00000acc74a20001ca01076b0000000074cb0200000000004f594b4f4e564f59";

    // `ping -6 -c 1 -s 24 -p 4b4f4e564f59 2001:db8::2` (filter: icmp6 echo request/reply): id 29869 (0x74ad), seq 1...
    public const string PingV6Request =
        "02000000000202000000000186dd" +
        "6003cad900203a4020010db800000000000000000000000120010db8000000000000000000000002" +
        "8000a86174ad0001cb01076b00000000f95a0300000000004f594b4f4e564f59";

    // ...and the kernel's echo reply.
    public const string PingV6Reply =
        "02000000000102000000000286dd" +
        "600a61c600203a4020010db800000000000000000000000220010db8000000000000000000000001" +
        "8100a76174ad0001cb01076b00000000f95a0300000000004f594b4f4e564f59";

    // `ndisc6 -1 -r 1 2001:db8::2 va` after `ip neigh flush` (filter: icmp6 types 135/136): the solicitation
    // ndisc6 sends to ff02::1:ff00:2 with a Source Link-Layer Address option...
    public const string Ndisc6Solicitation =
        "3333ff00000202000000000186dd" +
        "6007745e00203aff20010db8000000000000000000000001ff0200000000000000000001ff000002" +
        "87001c270000000020010db8000000000000000000000002" + "0101020000000001";

    // ...and the kernel's solicited advertisement (S and O set, Target Link-Layer Address option).
    public const string KernelSolicitedAdvertisement =
        "02000000000102000000000286dd" +
        "6000000000203aff20010db800000000000000000000000220010db8000000000000000000000001" +
        "88008a716000000020010db8000000000000000000000002" + "0201020000000002";

    // `ip addr add 2001:db8::3/64 dev va` (with DAD) after `sysctl net.ipv6.conf.va.ndisc_notify=1`
    // (filter: icmp6 types 135/136): the kernel's DAD probe from :: carrying a Nonce option (RFC 7527, type 14)...
    public const string KernelDadSolicitation =
        "3333ff00000302000000000186dd" +
        "6000000000203aff00000000000000000000000000000000ff0200000000000000000001ff000003" +
        "870049d80000000020010db8000000000000000000000003" + "0e01023a1c6cd661";

    // ...and, DAD done, its unsolicited advertisement to ff02::1 (O set, S clear).
    public const string KernelUnsolicitedAdvertisement =
        "33330000000102000000000186dd" +
        "6000000000203aff20010db8000000000000000000000003ff020000000000000000000000000001" +
        "8800f9262000000020010db8000000000000000000000003" + "0201020000000001";
}
