using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace KonvoyLb.Engine.Net;

/// <summary>
/// A raw AF_PACKET socket on one interface for one EtherType (ARP here): whole Ethernet frames in and
/// out. Needs root or CAP_NET_RAW; opening it is where a missing privilege shows.
/// </summary>
public sealed class PacketSocket : IDisposable
{
    readonly Socket _socket;
    public int InterfaceIndex { get; }

    public PacketSocket(int interfaceIndex, ushort etherType)
    {
        InterfaceIndex = interfaceIndex;
        _socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness(etherType));
        _socket.Bind(new LinkLayerEndPoint(interfaceIndex, etherType));
    }

    public void Send(ReadOnlySpan<byte> frame) => _socket.Send(frame);

    /// <summary>Blocks until a frame arrives or <paramref name="timeout"/> passes (then 0): for a dedicated receive thread, the shortest path from the wire.</summary>
    public int Receive(Span<byte> buffer, TimeSpan timeout)
    {
        if (_socket.ReceiveTimeout != (int)timeout.TotalMilliseconds) _socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        try { return _socket.Receive(buffer); }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock) { return 0; }
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    public void Dispose() => _socket.Dispose();

    /// <summary>struct sockaddr_ll: family, protocol (network order), ifindex; the rest zero.</summary>
    sealed class LinkLayerEndPoint(int interfaceIndex, ushort etherType) : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Packet;

        public override SocketAddress Serialize()
        {
            var address = new SocketAddress(AddressFamily.Packet, 20);
            address[2] = (byte)(etherType >> 8);
            address[3] = (byte)etherType;
            var index = BitConverter.GetBytes(interfaceIndex);
            for (int i = 0; i < 4; i++) address[4 + i] = index[i];
            return address;
        }

        public override EndPoint Create(SocketAddress socketAddress) => this;
    }
}
