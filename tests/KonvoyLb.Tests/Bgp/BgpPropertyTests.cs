using CsCheck;
using KonvoyLb.Engine.Runtime.Bgp;
using static KonvoyLb.Engine.Runtime.Bgp.BgpPathAttribute;
using static KonvoyLb.Tests.Bgp.BgpTest;

namespace KonvoyLb.Tests.Bgp;

public class BgpPropertyTests
{
    /// <summary>What decoding an encoded UPDATE gives: on a 2-octet session, AS_PATH carries AS_TRANS for
    /// larger ASNs, and an AS4_PATH with the real path appears in type-code order unless one was given.</summary>
    static BgpMessage Expected(BgpMessage message, BgpEncodeOptions options)
    {
        if (options.FourOctetAs || message is not BgpUpdate update) return message;
        var attributes = update.Attributes.ToList();
        int i = attributes.FindIndex(a => a is AsPath);
        if (i < 0) return message;
        var path = (AsPath)attributes[i];
        attributes[i] = path with
        {
            Segments = path.Segments.Select(s => new AsPathSegment(s.Type, s.Asns.Select(a => a > 65535 ? 23456u : a).ToArray())).ToArray(),
        };
        bool fourOctetAsns = path.Segments.Any(s => s.PathLength > 0 && s.Asns.Any(a => a > 65535));
        if (fourOctetAsns && !attributes.Any(a => a is As4Path))
        {
            var as4 = new As4Path(path.Segments.Where(s => s.Type is AsPathSegmentType.AsSequence or AsPathSegmentType.AsSet).ToArray());
            int at = attributes.FindIndex(a => a.TypeCode > As4PathCode);
            attributes.Insert(at < 0 ? attributes.Count : at, as4);
        }
        return update with { Attributes = attributes };
    }

    [Fact]
    public void Every_message_type_survives_encode_and_decode()
    {
        Gen.Select(BgpGen.Message, BgpGen.Options).Sample((message, options) =>
        {
            var bytes = BgpMessage.Encode(message, options);
            Assert.InRange(bytes.Length, 19, 4096);
            Assert.Equal(bytes.Length, bytes[16] << 8 | bytes[17]);
            var decoded = Decode<BgpMessage>(bytes, options);
            Assert.Equal(Expected(message, options), decoded);
            Assert.Equal(bytes, BgpMessage.Encode(decoded, options));
        }, iter: 3000);
    }

    [Fact]
    public void Two_octet_sessions_carry_the_real_path_in_as4_path()
    {
        Gen.Select(BgpGen.AsPath, BgpGen.HostV4, BgpGen.PrefixV4.Array[1, 5]).Sample((path, nextHop, nlri) =>
        {
            var attrs = new PathAttributes { AsPath = path, NextHop = nextHop };
            var update = new BgpUpdate([], attrs.ToAttributes(withNextHop: true), nlri);
            foreach (var options in new[] { Two, Four })
            {
                var decoded = Decode<BgpUpdate>(BgpMessage.Encode(update, options), options);
                Assert.Equal(path, PathAttributes.FromUpdate(decoded, options).AsPath);
                bool needsAs4 = !options.FourOctetAs && path.Any(s => s.PathLength > 0 && s.Asns.Any(a => a > 65535));
                Assert.Equal(needsAs4, decoded.Get<As4Path>() is not null);
                Assert.All(decoded.Get<AsPath>()!.Segments, s => Assert.All(s.Asns, a => Assert.True(options.FourOctetAs || a <= 65535)));
            }
        }, iter: 1000);
    }

    /// <summary>Mostly arbitrary bytes: pure noise, or noise behind a valid marker and length, so the
    /// decoder's inner checks get reached too.</summary>
    static readonly Gen<byte[]> Noise = Gen.Frequency(
        (1, Gen.Byte.Array[0, 60]),
        (3, Gen.Select(Gen.Byte[0, 7], Gen.Byte.Array[0, 300], (type, body) =>
        {
            var m = Message(type, body);
            return m;
        })),
        (3, Gen.Select(Gen.Byte.Array[0, 120], Gen.Byte.Array[0, 80], Gen.Byte.Array[0, 40], Gen.Bool, (w, a, n, valid) =>
        {
            if (valid) a = [0x40, 1, 1, 0, .. a];
            return Update(w, a, n);
        })));

    [Fact]
    public void Arbitrary_bytes_never_throw_and_only_give_the_decoder_codes()
    {
        Gen.Select(Noise, BgpGen.Options).Sample((bytes, options) =>
        {
            if (BgpMessage.TryDecode(bytes, options, out var message, out var error))
            {
                Assert.Null(error);
                var again = Decode<BgpMessage>(BgpMessage.Encode(message!, options), options);
                Assert.Equal(message, again);
            }
            else
            {
                Assert.Null(message);
                Assert.Contains((error!.Code, error.Subcode), BgpFuzz.DecoderErrors);
            }
        }, iter: 20000);
    }

    [Fact]
    public void A_truncated_message_is_always_an_error()
    {
        Gen.Select(BgpGen.Message, BgpGen.Options, Gen.Double[0, 1]).Sample((message, options, where) =>
        {
            var bytes = BgpMessage.Encode(message, options);
            int cut = (int)(where * bytes.Length);
            if (cut == bytes.Length) cut--;
            var error = Error(bytes[..cut], options);
            Assert.Equal((1, 2), (error.Code, error.Subcode));

            // With the header's length made to match, the rest of the message is checked: never an
            // exception, and only the decoder's codes.
            if (cut < 19) return;
            var patched = bytes[..cut];
            patched[16] = (byte)(cut >> 8);
            patched[17] = (byte)cut;
            if (!BgpMessage.TryDecode(patched, options, out _, out var inner))
                Assert.Contains((inner!.Code, inner.Subcode), BgpFuzz.DecoderErrors);
        }, iter: 3000);
    }

    [Fact]
    public void Every_prefix_of_every_message_is_an_error()
    {
        foreach (var (_, hex, fourOctet) in BgpCaptured.All)
        {
            var bytes = Hex(hex);
            var options = new BgpEncodeOptions { FourOctetAs = fourOctet };
            for (int cut = 0; cut < bytes.Length; cut++)
                Assert.Equal((1, 2), (Error(bytes[..cut], options).Code, Error(bytes[..cut], options).Subcode));
        }
    }

    [Fact]
    public void The_framer_reassembles_any_split_of_a_stream()
    {
        Gen.Select(Gen.Select(BgpGen.Message, BgpGen.Options).Array[1, 8], Gen.Int[1, 700].Array[1, 40]).Sample((items, cuts) =>
        {
            var options = items[0].Item2;
            var messages = items.Select(x => x.Item1).ToList();
            var stream = messages.SelectMany(m => BgpMessage.Encode(m, options)).ToArray();
            var framer = new BgpFramer(19);
            var read = new List<BgpMessage>();
            int at = 0, c = 0;
            while (at < stream.Length)
            {
                int chunk = Math.Min(cuts[c++ % cuts.Length], stream.Length - at);
                framer.Append(stream.AsSpan(at, chunk));
                at += chunk;
                while (framer.TryRead(options, out var m, out var e))
                {
                    Assert.Null(e);
                    read.Add(m!);
                }
            }
            Assert.Equal(0, framer.Buffered);
            Assert.Equal(messages.Select(m => Expected(m, options)), read);
        }, iter: 500);
    }

    [Fact]
    public void Prefixes_keep_the_network_bits_and_clear_the_host_bits()
    {
        BgpGen.Prefix.Sample(prefix =>
        {
            var bytes = prefix.Address.GetAddressBytes();
            for (int bit = prefix.Length; bit < bytes.Length * 8; bit++)
                Assert.Equal(0, bytes[bit / 8] & (0x80 >> (bit % 8)));
            var again = new BgpPrefix(prefix.Address, prefix.Length);
            Assert.Equal(prefix, again);
            Assert.Equal(prefix, BgpPrefix.Parse(prefix.ToString()));
        }, iter: 2000);
    }
}
