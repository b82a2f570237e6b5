using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>A growing byte buffer with big-endian writes and length fields patched afterwards.</summary>
internal sealed class BgpWriter
{
    byte[] _buffer;

    public BgpWriter(int capacity = 256) => _buffer = new byte[capacity];

    public int Position { get; private set; }

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Position);

    public byte[] ToArray() => _buffer.AsSpan(0, Position).ToArray();

    public void Reset() => Position = 0;

    Span<byte> Take(int count)
    {
        if (Position + count > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Position + count));
        var span = _buffer.AsSpan(Position, count);
        Position += count;
        return span;
    }

    public void U8(byte value) => Take(1)[0] = value;
    public void U16(int value) => BinaryPrimitives.WriteUInt16BigEndian(Take(2), (ushort)value);
    public void U32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Take(4), value);
    public void Bytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));
    public void Fill(byte value, int count) => Take(count).Fill(value);

    public void PatchU8(int position, byte value) => _buffer[position] = value;
    public void PatchU16(int position, int value) => BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(position, 2), (ushort)value);

    /// <summary>Removes one byte at <paramref name="position"/>, moving what follows down.</summary>
    public void RemoveAt(int position)
    {
        _buffer.AsSpan(position + 1, Position - position - 1).CopyTo(_buffer.AsSpan(position));
        Position--;
    }

    public void Address(IPAddress address, AddressFamily family, string what)
    {
        if (address.AddressFamily != family)
            throw new ArgumentException($"{what} {address} is not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address.");
        address.TryWriteBytes(Take(family == AddressFamily.InterNetwork ? 4 : 16), out _);
    }

    /// <summary>A prefix in NLRI form: length byte, then the minimal octets (host bits are already zero).</summary>
    public void Prefix(BgpPrefix prefix, bool ipv6, string field)
    {
        if (prefix.IsIPv6 != ipv6)
            throw new ArgumentException(ipv6
                ? $"{prefix} in {field}: only IPv6 prefixes go there."
                : $"{prefix} in {field}: IPv6 prefixes go in MP_REACH_NLRI / MP_UNREACH_NLRI.");
        Span<byte> bytes = stackalloc byte[16];
        prefix.Address.TryWriteBytes(bytes, out _);
        U8((byte)prefix.Length);
        Bytes(bytes[..((prefix.Length + 7) / 8)]);
    }
}
