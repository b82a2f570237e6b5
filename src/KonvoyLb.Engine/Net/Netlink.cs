using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace KonvoyLb.Engine.Net;

public enum RouteKind { OnLink, ViaGateway, Local, NoRoute }

/// <summary>What the kernel would do with a packet to an address: interface, source, gateway, or no route.</summary>
public sealed record RouteInfo(IPAddress Destination, RouteKind Kind, int InterfaceIndex, IPAddress? Gateway, IPAddress? Source, string? Reason);

/// <summary>An interface as netlink describes it.</summary>
public sealed record LinkInfo(int Index, string Name, PhysicalAddress Mac, bool IsUp);

/// <summary>
/// An interface with what the speaker needs to judge it: administratively up, carrier (IFF_LOWER_UP), NOARP,
/// BROADCAST, loopback, enslaved to a bridge or bond (IFLA_MASTER), its kind ("bridge", "bond", "veth"; empty for
/// a plain device) and its addresses with prefix lengths.
/// </summary>
public sealed record NetInterface(int Index, string Name, PhysicalAddress Mac, bool Up, bool Carrier, bool NoArp, bool Broadcast,
    bool Loopback, int Master, string Kind, IReadOnlyList<(IPAddress Address, int PrefixLength)> Addresses)
{
    public bool Enslaved => Master != 0;
}

/// <summary>
/// Route and link look-ups over an rtnetlink socket (RTM_GETROUTE, RTM_GETLINK), the same questions
/// `ip route get` asks, without running or parsing any command. The socket belongs to the network
/// namespace of the thread that opened it.
/// </summary>
public sealed unsafe class Netlink : IDisposable
{
    const int NetlinkRoute = 0;
    const ushort RtmNewLink = 16, RtmGetLink = 18, RtmNewAddr = 20, RtmGetAddr = 22, RtmNewRoute = 24, RtmGetRoute = 26, NlmsgError = 2, NlmsgDone = 3;
    const ushort NlmFRequest = 1, NlmFDump = 0x300;
    const ushort RtaDst = 1, RtaOif = 4, RtaGateway = 5, RtaPrefSrc = 7;
    const ushort IflaAddress = 1, IflaIfname = 3, IflaMaster = 10, IflaOperstate = 16, IflaLinkinfo = 18, IflaInfoKind = 1;
    const ushort IfaAddress = 1, IfaLocal = 2;
    const uint IffBroadcast = 2, IffLoopback = 8, IffNoArp = 0x80, IffLowerUp = 0x10000;
    const byte RtnUnicast = 1, RtnLocal = 2, RtnBlackhole = 6, RtnUnreachable = 7, RtnProhibit = 8;
    const int IffUp = 1;

    readonly int _fd;
    uint _sequence;
    readonly byte[] _buffer = new byte[16384];

    [StructLayout(LayoutKind.Sequential)]
    struct SockaddrNl { public ushort Family; public ushort Pad; public uint Pid; public uint Groups; }

    public Netlink()
    {
        _fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NetlinkRoute);
        if (_fd < 0) throw new IOException($"cannot open a netlink socket (errno {errno})");
        var address = new SockaddrNl { Family = (ushort)AF_NETLINK };
        if (bind(_fd, (sockaddr*)&address, (socklen_t)sizeof(SockaddrNl)) < 0)
        {
            int e = errno;
            close(_fd);
            throw new IOException($"cannot bind the netlink socket (errno {e})");
        }
    }

    public void Dispose() => close(_fd);

    /// <summary>The route the kernel picks for <paramref name="destination"/>.</summary>
    public RouteInfo GetRoute(IPAddress destination)
    {
        var addr = destination.GetAddressBytes();
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags(u32)
        Span<byte> body = stackalloc byte[12 + 4 + 16];
        body.Clear();
        body[0] = (byte)(destination.AddressFamily == AddressFamily.InterNetwork ? AF_INET : AF_INET6);
        body[1] = (byte)(addr.Length * 8);
        int length = 12 + WriteAttribute(body[12..], RtaDst, addr);
        var reply = Request(RtmGetRoute, body[..length]);
        if (reply.Error is { } error)
            return new RouteInfo(destination, RouteKind.NoRoute, 0, null, null, RouteError(error));
        if (reply.Type != RtmNewRoute) return new RouteInfo(destination, RouteKind.NoRoute, 0, null, null, "the kernel gave no route");

        var msg = reply.Body;
        byte type = msg[7];
        int oif = 0;
        IPAddress? gateway = null, source = null;
        foreach (var (attrType, value) in Attributes(msg[12..]))
        {
            if (attrType == RtaOif && value.Length >= 4) oif = BinaryPrimitives.ReadInt32LittleEndian(value);
            else if (attrType == RtaGateway) gateway = new IPAddress(value);
            else if (attrType == RtaPrefSrc) source = new IPAddress(value);
        }
        return type switch
        {
            RtnLocal => new RouteInfo(destination, RouteKind.Local, oif, null, source, "the address belongs to this computer"),
            RtnUnreachable or RtnBlackhole or RtnProhibit => new RouteInfo(destination, RouteKind.NoRoute, 0, null, null,
                type == RtnUnreachable ? "an unreachable route covers it" : type == RtnBlackhole ? "a blackhole route covers it" : "a prohibit route covers it"),
            _ => new RouteInfo(destination, gateway is null ? RouteKind.OnLink : RouteKind.ViaGateway, oif, gateway, source, null),
        };
    }

    /// <summary>The interface with this index, or null when there is none.</summary>
    public LinkInfo? GetLink(int index)
    {
        // ifinfomsg: family(u8), pad(u8), type(u16), index(i32), flags(u32), change(u32)
        Span<byte> body = stackalloc byte[16];
        body.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(body[4..], index);
        var reply = Request(RtmGetLink, body);
        if (reply.Error is not null || reply.Type != RtmNewLink) return null;
        var msg = reply.Body;
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(msg[8..]);
        string name = $"if{index}";
        var mac = PhysicalAddress.None;
        byte operState = 0;
        foreach (var (attrType, value) in Attributes(msg[16..]))
        {
            if (attrType == IflaIfname) name = System.Text.Encoding.ASCII.GetString(value).TrimEnd('\0');
            else if (attrType == IflaAddress) mac = new PhysicalAddress(value);
            else if (attrType == IflaOperstate && value.Length > 0) operState = value[0];
        }
        // IFF_UP and an operational state of up (6) or unknown (0, e.g. veth peers in some kernels).
        bool up = (flags & IffUp) != 0 && operState is 6 or 0;
        return new LinkInfo(index, name, mac, up);
    }

    /// <summary>Every interface of the namespace with its IPv4 and IPv6 addresses (RTM_GETLINK and RTM_GETADDR dumps).</summary>
    public List<NetInterface> GetInterfaces()
    {
        var addresses = new Dictionary<int, List<(IPAddress, int)>>();
        foreach (var family in new[] { (byte)AF_INET, (byte)AF_INET6 })
        {
            // ifaddrmsg: family(u8), prefixlen(u8), flags(u8), scope(u8), index(u32)
            Span<byte> request = stackalloc byte[8];
            request.Clear();
            request[0] = family;
            foreach (var (type, msg) in Dump(RtmGetAddr, request))
            {
                if (type != RtmNewAddr || msg.Length < 8) continue;
                int index = (int)BinaryPrimitives.ReadUInt32LittleEndian(msg.AsSpan(4));
                byte[]? address = null, local = null;
                foreach (var (attrType, value) in Attributes(msg.AsSpan(8)))
                {
                    if (attrType == IfaAddress) address = value;
                    else if (attrType == IfaLocal) local = value;
                }
                // IPv4 point-to-point links give the peer in IFA_ADDRESS and ours in IFA_LOCAL.
                var ours = local ?? address;
                if (ours is null || ours.Length is not (4 or 16)) continue;
                if (!addresses.TryGetValue(index, out var list)) addresses[index] = list = [];
                list.Add((new IPAddress(ours), msg[1]));
            }
        }
        Span<byte> linkRequest = stackalloc byte[16];
        linkRequest.Clear();
        var result = new List<NetInterface>();
        foreach (var (type, msg) in Dump(RtmGetLink, linkRequest))
        {
            if (type != RtmNewLink || msg.Length < 16) continue;
            int index = BinaryPrimitives.ReadInt32LittleEndian(msg.AsSpan(4));
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(msg.AsSpan(8));
            string name = $"if{index}", kind = "";
            var mac = PhysicalAddress.None;
            int master = 0;
            foreach (var (attrType, value) in Attributes(msg.AsSpan(16)))
            {
                if (attrType == IflaIfname) name = System.Text.Encoding.ASCII.GetString(value).TrimEnd('\0');
                else if (attrType == IflaAddress) mac = new PhysicalAddress(value);
                else if (attrType == IflaMaster && value.Length >= 4) master = BinaryPrimitives.ReadInt32LittleEndian(value);
                else if (attrType == IflaLinkinfo)
                    foreach (var (infoType, info) in Attributes(value))
                        if (infoType == IflaInfoKind) kind = System.Text.Encoding.ASCII.GetString(info).TrimEnd('\0');
            }
            result.Add(new NetInterface(index, name, mac, (flags & IffUp) != 0, (flags & IffLowerUp) != 0, (flags & IffNoArp) != 0,
                (flags & IffBroadcast) != 0, (flags & IffLoopback) != 0, master, kind,
                addresses.TryGetValue(index, out var own) ? own : []));
        }
        return result;
    }

    static string RouteError(int errno) => errno switch
    {
        101 => "no route to the network (ENETUNREACH)",
        113 => "no route to the host (EHOSTUNREACH)",
        22 => "the kernel refused the question (EINVAL)",
        _ => $"the kernel answered with errno {errno}",
    };

    readonly record struct Reply(ushort Type, byte[] Body, int? Error);

    uint Send(ushort type, ushort flags, ReadOnlySpan<byte> body)
    {
        uint seq = ++_sequence;
        int length = 16 + body.Length;
        var message = new byte[length];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), seq);
        body.CopyTo(message.AsSpan(16));
        fixed (byte* p = message)
            if ((long)send(_fd, p, (size_t)message.Length, 0) < 0) throw new IOException($"netlink send failed (errno {errno})");
        return seq;
    }

    /// <summary>A dump request: every message of the answer until NLMSG_DONE, as (type, body).</summary>
    List<(ushort Type, byte[] Body)> Dump(ushort type, ReadOnlySpan<byte> body)
    {
        var messages = new List<(ushort, byte[])>();
        Receive(Send(type, NlmFRequest | NlmFDump, body), (msgType, payload) =>
        {
            if (msgType == NlmsgDone) return true;
            if (msgType == NlmsgError)
            {
                int error = -BinaryPrimitives.ReadInt32LittleEndian(payload);
                if (error != 0) throw new IOException($"netlink dump refused (errno {error})");
            }
            else messages.Add((msgType, payload));
            return false;
        });
        return messages;
    }

    Reply Request(ushort type, ReadOnlySpan<byte> body)
    {
        Reply reply = default;
        Receive(Send(type, NlmFRequest, body), (msgType, payload) =>
        {
            int? error = msgType == NlmsgError ? -BinaryPrimitives.ReadInt32LittleEndian(payload) : null;
            reply = new Reply(msgType, payload, error == 0 ? null : error);
            return true;
        });
        return reply;
    }

    /// <summary>Hands each message answering <paramref name="seq"/> to <paramref name="take"/> until it returns true.</summary>
    void Receive(uint seq, Func<ushort, byte[], bool> take)
    {
        while (true)
        {
            long received;
            fixed (byte* p = _buffer) received = recv(_fd, p, (size_t)_buffer.Length, 0);
            if (received < 0) throw new IOException($"netlink receive failed (errno {errno})");
            int offset = 0;
            while (offset + 16 <= received)
            {
                var header = _buffer.AsSpan(offset);
                int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(header);
                ushort msgType = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
                uint msgSeq = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
                if (len < 16 || offset + len > received) break;
                if (msgSeq == seq && take(msgType, _buffer.AsSpan(offset + 16, len - 16).ToArray())) return;
                offset += (len + 3) & ~3;
            }
        }
    }

    static int WriteAttribute(Span<byte> target, ushort type, ReadOnlySpan<byte> value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(target, (ushort)(4 + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(target[2..], type);
        value.CopyTo(target[4..]);
        return (4 + value.Length + 3) & ~3;
    }

    static List<(ushort Type, byte[] Value)> Attributes(ReadOnlySpan<byte> data)
    {
        var list = new List<(ushort, byte[])>();
        while (data.Length >= 4)
        {
            ushort len = BinaryPrimitives.ReadUInt16LittleEndian(data);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(data[2..]) & 0x3FFF);
            if (len < 4 || len > data.Length) break;
            list.Add((type, data[4..len].ToArray()));
            int next = (len + 3) & ~3;
            if (next >= data.Length) break;
            data = data[next..];
        }
        return list;
    }
}
