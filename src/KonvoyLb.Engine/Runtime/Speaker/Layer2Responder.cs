using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using KonvoyLb.Engine.Net;
using KonvoyLb.Engine.Net.Packets;

namespace KonvoyLb.Engine.Runtime.Speaker;

/// <summary>What a responder reports; called from its receive loops, so it must be quick and thread-safe.</summary>
public interface ILayer2Events : ILayer2Counters
{
    /// <summary>Another MAC answered for <paramref name="ip"/> (<paramref name="claim"/>: it announced it, gratuitous ARP or unsolicited NA).</summary>
    void Seen(IPAddress ip, PhysicalAddress mac, int interfaceIndex, bool claim);
    /// <summary>A receive loop ended with an error (the interface went away, a socket broke).</summary>
    void Failed(int interfaceIndex, Exception error);
}

/// <summary>
/// Answers ARP requests (AF_PACKET) and IPv6 Neighbor Solicitations (a raw ICMPv6 socket bound to the interface) for
/// the addresses it is told to, on one interface, with that interface's MAC; sends gratuitous ARP (request and reply
/// forms) and unsolicited Neighbor Advertisements (Override) on takeover; sends the probes of the owner check. It joins
/// each IPv6 address's solicited-node group, so the kernel sends the MLD reports snooping switches need. The address
/// is never added to the interface. Only requests to broadcast (or multicast) or to its own MAC are answered, and never
/// its own frames. Sockets belong to the network namespace of the thread that creates the responder.
/// </summary>
public sealed class Layer2Responder : IDisposable
{
    const int SolSocket = 1, SoBindToDevice = 25, IpprotoIcmpv6 = 58, Icmp6Filter = 1;

    readonly ILayer2Events _events;
    readonly PacketSocket _arp;
    readonly Socket? _ndp;
    readonly byte[] _mac;
    readonly CancellationTokenSource _stop = new();
    readonly Dictionary<IPAddress, int> _groups = new();
    readonly Task _arpLoop, _ndpLoop;
    volatile HashSet<IPAddress> _answered = [], _watched = [];

    public NetInterface Link { get; }

    /// <summary>Opens the sockets; throws SocketException without CAP_NET_RAW or when the interface is gone.</summary>
    public Layer2Responder(NetInterface link, ILayer2Events events)
    {
        Link = link;
        _events = events;
        _mac = link.Mac.GetAddressBytes();
        _arp = new PacketSocket(link.Index, Ethernet.TypeArp);
        if (link.Addresses.Any(a => a.Address.IsIPv6LinkLocal))
        {
            try
            {
                _ndp = new Socket(AddressFamily.InterNetworkV6, SocketType.Raw, ProtocolType.IcmpV6);
                _ndp.SetRawSocketOption(SolSocket, SoBindToDevice, Encoding.ASCII.GetBytes(link.Name + "\0"));
                _ndp.SetRawSocketOption(IpprotoIcmpv6, Icmp6Filter, PassOnly(Ndp.SolicitationType, Ndp.AdvertisementType));
                _ndp.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, Ndp.HopLimit);
                _ndp.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.IpTimeToLive, Ndp.HopLimit);
                _ndp.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastInterface, link.Index);
                _ndp.Bind(new IPEndPoint(IPAddress.IPv6Any, 0)); // .NET receives from a bound socket only
            }
            catch
            {
                _ndp?.Dispose();
                _arp.Dispose();
                throw;
            }
        }
        // ARP replies are answered from a thread of their own blocked in recv(): no thread-pool hop between the wire and the answer.
        _arpLoop = Task.Factory.StartNew(ArpLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        _ndpLoop = _ndp is null ? Task.CompletedTask : Task.Run(NdpLoop);
    }

    /// <summary>The addresses answered from now on (the previous set is dropped at once) and those whose answers are reported.</summary>
    public void Set(IReadOnlyCollection<IPAddress> answered, IReadOnlyCollection<IPAddress> watched)
    {
        var next = answered.ToHashSet();
        var old = _answered;
        _answered = next;
        _watched = watched.ToHashSet();
        if (_ndp is null) return;
        foreach (var ip in next.Except(old).Where(IsV6)) Group(ip, +1);
        foreach (var ip in old.Except(next).Where(IsV6)) Group(ip, -1);
    }

    /// <summary>One gratuitous round: ARP request and reply to broadcast (IPv4), an unsolicited NA with Override to ff02::1 (IPv6).</summary>
    public void Announce(IPAddress ip)
    {
        if (IsV6(ip))
        {
            if (_ndp is null) return;
            _ndp.SendTo(Ndp.Advertisement(ip, Link.Mac, solicited: false, @override: true), Scoped(Ndp.AllNodes));
        }
        else
        {
            var (request, reply) = ArpPacket.Gratuitous(Link.Mac, ip);
            _arp.Send(request.ToFrame(Ethernet.Broadcast, Link.Mac));
            _arp.Send(reply.ToFrame(Ethernet.Broadcast, Link.Mac));
        }
        _events.Gratuitous(ip);
    }

    /// <summary>Asks who answers for <paramref name="ip"/> (an RFC 5227 ARP probe, or a Neighbor Solicitation to its solicited-node group).</summary>
    public void Probe(IPAddress ip)
    {
        if (IsV6(ip))
        {
            if (_ndp is null) return;
            _ndp.SendTo(Ndp.Solicitation(ip, Link.Mac), Scoped(Ndp.SolicitedNodeMulticast(ip)));
        }
        else _arp.Send(ArpPacket.Probe(Link.Mac, ip).ToFrame(Ethernet.Broadcast, Link.Mac));
    }

    /// <summary>A link-scoped destination (link-local, multicast) needs this interface's index.</summary>
    IPEndPoint Scoped(IPAddress ip) =>
        new(ip.IsIPv6LinkLocal || ip.IsIPv6Multicast ? new IPAddress(ip.GetAddressBytes(), Link.Index) : ip, 0);

    static bool IsV6(IPAddress ip) => ip.AddressFamily == AddressFamily.InterNetworkV6;

    void Group(IPAddress ip, int delta)
    {
        var group = Ndp.SolicitedNodeMulticast(ip);
        lock (_groups)
        {
            _groups.TryGetValue(group, out int count);
            int next = Math.Max(0, count + delta);
            try
            {
                if (count == 0 && next > 0) _ndp!.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(group, Link.Index));
                else if (count > 0 && next == 0) _ndp!.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.DropMembership, new IPv6MulticastOption(group, Link.Index));
            }
            catch (SocketException e) { _events.Failed(Link.Index, e); }
            if (next == 0) _groups.Remove(group); else _groups[group] = next;
        }
    }

    void ArpLoop()
    {
        var buffer = new byte[2048];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                int n = _arp.Receive(buffer, TimeSpan.FromMilliseconds(250));
                if (n > 0) OnArp(buffer.AsSpan(0, n));
            }
        }
        catch (ObjectDisposedException) when (_stop.IsCancellationRequested) { }
        catch (Exception e) when (!_stop.IsCancellationRequested) { _events.Failed(Link.Index, e); }
    }

    void OnArp(ReadOnlySpan<byte> frame)
    {
        if (!Ethernet.TryRead(frame, out var destination, out var source, out ushort type, out var payload) || type != Ethernet.TypeArp) return;
        // An AF_PACKET socket also sees the frames this host sends.
        if (source.GetAddressBytes().AsSpan().SequenceEqual(_mac)) return;
        if (!ArpPacket.TryParse(payload, out var arp)) return;
        var answered = _answered;
        if (arp.IsGratuitous || arp.Operation == ArpPacket.Reply)
        {
            if (answered.Contains(arp.SenderIp) || _watched.Contains(arp.SenderIp))
                _events.Seen(arp.SenderIp, arp.SenderMac, Link.Index, claim: arp.IsGratuitous);
            return;
        }
        if (arp.Operation != ArpPacket.Request || !answered.Contains(arp.TargetIp)) return;
        var to = destination.GetAddressBytes();
        if (!to.AsSpan().SequenceEqual(_mac) && !to.All(b => b == 0xFF)) return;
        // The answer first, the counting after: the requester waits for the one, not the other.
        _arp.Send(ArpPacket.ReplyTo(arp, Link.Mac).ToFrame(arp.SenderMac, Link.Mac));
        _events.Request(arp.TargetIp);
        _events.Response(arp.TargetIp);
    }

    async Task NdpLoop()
    {
        var buffer = new byte[2048];
        var any = new IPEndPoint(IPAddress.IPv6Any, 0);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var r = await _ndp!.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
                OnNdp(buffer.AsSpan(0, r.ReceivedBytes), ((IPEndPoint)r.RemoteEndPoint).Address);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        catch (ObjectDisposedException) when (_stop.IsCancellationRequested) { }
        catch (Exception e) when (!_stop.IsCancellationRequested) { _events.Failed(Link.Index, e); }
    }

    void OnNdp(ReadOnlySpan<byte> message, IPAddress source)
    {
        var answered = _answered;
        if (Ndp.TryParseAdvertisement(message, out var na))
        {
            if (na.TargetMac is { } mac && !mac.GetAddressBytes().AsSpan().SequenceEqual(_mac) && (answered.Contains(na.Target) || _watched.Contains(na.Target)))
                _events.Seen(na.Target, mac, Link.Index, claim: !na.Solicited && na.Override);
            return;
        }
        if (!Ndp.TryParseSolicitation(message, out var ns) || !answered.Contains(ns.Target)) return;
        if (ns.SourceMac is { } from && from.GetAddressBytes().AsSpan().SequenceEqual(_mac)) return;
        // A duplicate address detection probe (from ::) gets an unsolicited advertisement to all nodes (RFC 4861 §7.2.4).
        bool dad = source.Equals(IPAddress.IPv6Any);
        _ndp!.SendTo(Ndp.Advertisement(ns.Target, Link.Mac, solicited: !dad, @override: true), Scoped(dad ? Ndp.AllNodes : source));
        _events.Request(ns.Target);
        _events.Response(ns.Target);
    }

    /// <summary>struct icmp6_filter: a set bit blocks that type; everything is blocked but <paramref name="types"/>.</summary>
    static byte[] PassOnly(params byte[] types)
    {
        var words = Enumerable.Repeat(uint.MaxValue, 8).ToArray();
        foreach (var t in types) words[t >> 5] &= ~(1u << (t & 31));
        return words.SelectMany(BitConverter.GetBytes).ToArray();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _arp.Dispose();
        _ndp?.Dispose();
        try { Task.WaitAll([_arpLoop, _ndpLoop], TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
    }
}
