using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace KonvoyLb.Engine.Net.Packets;

/// <summary>Reading and writing the address fields every codec here shares. Writers throw on bad arguments; readers never do.</summary>
internal static class Wire
{
    public const int MacLength = 6;

    public static void WriteMac(Span<byte> destination, PhysicalAddress? mac, string paramName)
    {
        ArgumentNullException.ThrowIfNull(mac, paramName);
        var bytes = mac.GetAddressBytes();
        if (bytes.Length != MacLength)
            throw new ArgumentException($"An Ethernet MAC address has 6 bytes, not {bytes.Length}.", paramName);
        bytes.CopyTo(destination);
    }

    public static PhysicalAddress ReadMac(ReadOnlySpan<byte> source) => new(source[..MacLength].ToArray());

    public static void WriteIPv4(Span<byte> destination, IPAddress? address, string paramName) =>
        Write(destination, address, AddressFamily.InterNetwork, 4, paramName);

    public static void WriteIPv6(Span<byte> destination, IPAddress? address, string paramName) =>
        Write(destination, address, AddressFamily.InterNetworkV6, 16, paramName);

    public static IPAddress ReadIPv4(ReadOnlySpan<byte> source) => new(source[..4]);

    public static IPAddress ReadIPv6(ReadOnlySpan<byte> source) => new(source[..16]);

    public static void RequireIPv6(IPAddress? address, string paramName)
    {
        ArgumentNullException.ThrowIfNull(address, paramName);
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            throw new ArgumentException($"{address} is not an IPv6 address.", paramName);
    }

    static void Write(Span<byte> destination, IPAddress? address, AddressFamily family, int length, string paramName)
    {
        ArgumentNullException.ThrowIfNull(address, paramName);
        if (address.AddressFamily != family)
            throw new ArgumentException(
                $"{address} is not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address.", paramName);
        if (!address.TryWriteBytes(destination[..length], out int written) || written != length)
            throw new ArgumentException($"{address} does not fit {length} bytes.", paramName);
    }
}
