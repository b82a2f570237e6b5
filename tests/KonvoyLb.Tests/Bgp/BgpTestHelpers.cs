using System.Net;
using KonvoyLb.Engine.Runtime.Bgp;

namespace KonvoyLb.Tests.Bgp;

internal static class BgpTest
{
    public static readonly BgpEncodeOptions Four = BgpEncodeOptions.FourOctet;
    public static readonly BgpEncodeOptions Two = BgpEncodeOptions.TwoOctet;

    public static byte[] Hex(string hex) => Convert.FromHexString(hex);

    public static string ToHex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    public static IPAddress Ip(string text) => IPAddress.Parse(text);

    public static BgpPrefix P(string text) => BgpPrefix.Parse(text);

    public static T Decode<T>(string hex, BgpEncodeOptions options) where T : BgpMessage => Decode<T>(Hex(hex), options);

    public static T Decode<T>(byte[] bytes, BgpEncodeOptions options) where T : BgpMessage
    {
        bool ok = BgpMessage.TryDecode(bytes, options, out var message, out var error);
        Assert.True(ok, $"decoding failed: {error}");
        Assert.Null(error);
        return Assert.IsAssignableFrom<T>(message);
    }

    public static BgpError Error(byte[] bytes, BgpEncodeOptions options = default)
    {
        bool ok = BgpMessage.TryDecode(bytes, options, out var message, out var error);
        Assert.False(ok, $"decoded as {message}");
        Assert.Null(message);
        return Assert.IsType<BgpError>(error);
    }

    /// <summary>A message with the all-ones marker, the right length and the given type and body.</summary>
    public static byte[] Message(byte type, params byte[] body)
    {
        var m = new byte[19 + body.Length];
        m.AsSpan(0, 16).Fill(0xFF);
        m[16] = (byte)(m.Length >> 8);
        m[17] = (byte)m.Length;
        m[18] = type;
        body.CopyTo(m, 19);
        return m;
    }

    /// <summary>An UPDATE body from its three fields.</summary>
    public static byte[] Update(byte[] withdrawn, byte[] attributes, byte[] nlri)
    {
        var body = new List<byte> { (byte)(withdrawn.Length >> 8), (byte)withdrawn.Length };
        body.AddRange(withdrawn);
        body.Add((byte)(attributes.Length >> 8));
        body.Add((byte)attributes.Length);
        body.AddRange(attributes);
        body.AddRange(nlri);
        return Message(2, body.ToArray());
    }

    public static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
