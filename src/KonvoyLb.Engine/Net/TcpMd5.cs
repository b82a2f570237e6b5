using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KonvoyLb.Engine.Net;

/// <summary>RFC 2385 TCP MD5 signatures on a socket, set before connect (TCP_MD5SIG).</summary>
public static class TcpMd5
{
    const int IpProtoTcp = 6, TcpMd5Sig = 14, StructSize = 216;
    /// <summary>The longest key the kernel takes (TCP_MD5SIG_MAXKEYLEN).</summary>
    public const int MaxKeyBytes = 80;

    /// <summary>The 216-byte struct tcp_md5sig for a peer and key.</summary>
    public static byte[] Struct(IPAddress peer, string key)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        if (keyBytes.Length > MaxKeyBytes)
            throw new LbException(ErrorId.InvalidPassword, $"the BGP password for {peer} has {keyBytes.Length} bytes; TCP MD5 keys have at most {MaxKeyBytes}.", peer,
                fix: $"Use a password of at most {MaxKeyBytes} bytes on both sides.");
        var s = new byte[StructSize];
        var address = peer.GetAddressBytes();
        if (peer.AddressFamily == AddressFamily.InterNetwork)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(s, 2); // AF_INET, host order
            address.CopyTo(s, 4);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(s, 10); // AF_INET6
            address.CopyTo(s, 8);
        }
        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(130), (ushort)keyBytes.Length);
        keyBytes.CopyTo(s, 136);
        return s;
    }

    /// <summary>Signs every segment to and from <paramref name="peer"/>; a kernel without TCP MD5 is said in words.</summary>
    public static void Apply(Socket socket, IPAddress peer, string key)
    {
        try { socket.SetRawSocketOption(IpProtoTcp, TcpMd5Sig, Struct(peer, key)); }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ProtocolOption or SocketError.OperationNotSupported or SocketError.ProtocolNotSupported)
        {
            throw new LbException(ErrorId.BgpMd5Unsupported, "this kernel has no TCP MD5 support (TCP_MD5SIG), so the peer's password cannot be used.", peer,
                fix: "Use a kernel built with CONFIG_TCP_MD5SIG (every major distribution's is), or remove the password on both sides.", inner: e);
        }
    }
}
