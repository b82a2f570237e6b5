using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text;
using KonvoyLb.Engine.Runtime.Bgp;
using static KonvoyLb.Engine.Runtime.Bgp.BgpPathAttribute;

namespace KonvoyLb.Tests.Bgp;

/// <summary>
/// Feeds mutated messages through <see cref="BgpMessage.TryDecode"/> and <see cref="BgpFramer"/>: bit flips,
/// truncations, length-field tweaks, splices, insertions and deletions of valid messages (captured from
/// BIRD, FRR and GoBGP, and built by the encoder and the packer), and random bytes. Fails on any exception,
/// on an error outside the decoder's codes, and on a decoded message that does not survive encode + decode.
/// Used by a test with a few thousand inputs and by the benchmark (`KonvoyLb.Bench bgp-fuzz`) with a million.
/// Kept free of xunit: the benchmark compiles this file too.
/// </summary>
public static class BgpFuzz
{
    /// <summary>Every (code, subcode) the decoder and the framer may report.</summary>
    public static readonly IReadOnlySet<(byte Code, byte Subcode)> DecoderErrors = new HashSet<(byte, byte)>
    {
        (1, 1), (1, 2), (1, 3),
        (2, 0), (2, 1), (2, 3), (2, 4), (2, 6),
        (3, 1), (3, 2), (3, 3), (3, 4), (3, 5), (3, 6), (3, 8), (3, 10), (3, 11),
    };

    public sealed record Report(long Inputs, long Decoded, long Errors, long FramedMessages, long FramerErrors,
        IReadOnlyDictionary<(byte Code, byte Subcode), long> ErrorCounts, IReadOnlyDictionary<string, long> Mutations, TimeSpan Elapsed)
    {
        public double InputsPerSecond => Inputs / Math.Max(Elapsed.TotalSeconds, 1e-9);

        public string ToMarkdown()
        {
            var sb = new StringBuilder();
            sb.AppendLine("| BGP codec fuzzing | |");
            sb.AppendLine("|---|---:|");
            sb.AppendLine($"| inputs (decoder and framer each) | {Inputs:N0} |");
            sb.AppendLine($"| time (s) | {Elapsed.TotalSeconds:F1} |");
            sb.AppendLine($"| **inputs/s** | **{InputsPerSecond:N0}** |");
            sb.AppendLine($"| decoded as messages (then re-encoded and decoded again) | {Decoded:N0} |");
            sb.AppendLine($"| rejected with a NOTIFICATION error | {Errors:N0} |");
            sb.AppendLine($"| framer: messages / errors | {FramedMessages:N0} / {FramerErrors:N0} |");
            sb.AppendLine($"| exceptions | 0 |");
            sb.AppendLine();
            sb.AppendLine("| decoder error | count |");
            sb.AppendLine("|---|---:|");
            foreach (var ((code, subcode), count) in ErrorCounts.OrderBy(e => e.Key))
                sb.AppendLine($"| {code}/{subcode} {BgpErrorCode.Names(code, subcode).Subcode ?? BgpErrorCode.Names(code, subcode).Code} | {count:N0} |");
            sb.AppendLine();
            sb.AppendLine("| mutation | inputs |");
            sb.AppendLine("|---|---:|");
            foreach (var (name, count) in Mutations.OrderBy(m => m.Key)) sb.AppendLine($"| {name} | {count:N0} |");
            return sb.ToString();
        }
    }

    public sealed class FuzzFailure(string message, Exception? inner = null) : Exception(message, inner);

    static readonly string[] MutationNames =
        ["bit flips", "truncation", "truncation, length fixed", "length-field tweak", "random bytes", "random body behind a valid header",
         "splice of two messages", "insertion or deletion", "unchanged"];

    public static Report Run(long inputs, int seed)
    {
        var random = new Random(seed);
        var corpus = Corpus(random);
        var errorCounts = new Dictionary<(byte, byte), long>();
        var mutations = new long[MutationNames.Length];
        long decoded = 0, errors = 0, framed = 0, framerErrors = 0;
        var stopwatch = Stopwatch.StartNew();
        for (long n = 0; n < inputs; n++)
        {
            int kind = random.Next(MutationNames.Length);
            mutations[kind]++;
            var (input, fourOctet) = Mutate(random, corpus, kind);
            var options = new BgpEncodeOptions { FourOctetAs = random.Next(4) == 0 ? !fourOctet : fourOctet };
            try
            {
                if (BgpMessage.TryDecode(input, options, out var message, out var error))
                {
                    decoded++;
                    var again = BgpMessage.Encode(message!, options);
                    if (!BgpMessage.TryDecode(again, options, out var second, out var secondError))
                        throw new FuzzFailure($"re-encoded {message} does not decode: {secondError}");
                    if (!second!.Equals(message))
                        throw new FuzzFailure($"re-encoded message differs: {message} became {second}");
                }
                else
                {
                    errors++;
                    Count(errorCounts, error!);
                }

                var framer = new BgpFramer(64);
                for (int at = 0; at < input.Length;)
                {
                    int chunk = Math.Min(input.Length - at, 1 + random.Next(random.Next(2) == 0 ? 8 : 600));
                    framer.Append(input.AsSpan(at, chunk));
                    at += chunk;
                    while (framer.TryRead(options, out var m, out var e))
                    {
                        if (e is not null)
                        {
                            framerErrors++;
                            Check(e);
                        }
                        else if (m is null) throw new FuzzFailure("the framer returned neither a message nor an error");
                        else framed++;
                    }
                }
            }
            catch (Exception e) when (e is not FuzzFailure)
            {
                throw new FuzzFailure($"input {n} of seed {seed} ({MutationNames[kind]}, 4-octet {options.FourOctetAs}) threw: {Convert.ToHexString(input)}", e);
            }
            catch (FuzzFailure e)
            {
                throw new FuzzFailure($"input {n} of seed {seed} ({MutationNames[kind]}, 4-octet {options.FourOctetAs}): {e.Message}: {Convert.ToHexString(input)}", e.InnerException);
            }
        }
        stopwatch.Stop();
        return new Report(inputs, decoded, errors, framed, framerErrors, errorCounts,
            MutationNames.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => mutations[x.i]), stopwatch.Elapsed);
    }

    static void Count(Dictionary<(byte, byte), long> counts, BgpError error)
    {
        Check(error);
        var key = (error.Code, error.Subcode);
        counts[key] = counts.GetValueOrDefault(key) + 1;
    }

    static void Check(BgpError error)
    {
        if (!DecoderErrors.Contains((error.Code, error.Subcode)))
            throw new FuzzFailure($"error {error.Code}/{error.Subcode} is not one the decoder may report: {error.Description}");
        if (string.IsNullOrEmpty(error.Description)) throw new FuzzFailure("an error without a description");
    }

    // ---- inputs ----------------------------------------------------------------------------------------

    static (byte[] Input, bool FourOctet) Mutate(Random r, List<(byte[] Bytes, bool FourOctet)> corpus, int kind)
    {
        var (seed, four) = corpus[r.Next(corpus.Count)];
        var m = seed.ToArray();
        switch (kind)
        {
            case 0:
                for (int i = 1 + r.Next(8); i > 0; i--) m[r.Next(m.Length)] ^= (byte)(1 << r.Next(8));
                return (m, four);
            case 1:
                return (m[..r.Next(m.Length)], four);
            case 2:
                m = m[..Math.Max(19, r.Next(m.Length))];
                FixLength(m);
                return (m, four);
            case 3:
                TweakLengthField(r, m);
                return (m, four);
            case 4:
                var noise = new byte[r.Next(80)];
                r.NextBytes(noise);
                return (noise, four);
            case 5:
                var body = new byte[r.Next(r.Next(2) == 0 ? 40 : 400)];
                r.NextBytes(body);
                var framedNoise = new byte[19 + body.Length];
                framedNoise.AsSpan(0, 16).Fill(0xFF);
                framedNoise[18] = (byte)(r.Next(8) == 0 ? r.Next(256) : 1 + r.Next(5));
                body.CopyTo(framedNoise, 19);
                FixLength(framedNoise);
                return (framedNoise, four);
            case 6:
                var (other, _) = corpus[r.Next(corpus.Count)];
                var spliced = m[..r.Next(m.Length + 1)].Concat(other[r.Next(other.Length + 1)..]).ToArray();
                if (spliced.Length >= 19 && r.Next(2) == 0) FixLength(spliced);
                return (spliced, four);
            case 7:
                var list = m.ToList();
                int at = 19 + r.Next(Math.Max(1, m.Length - 18));
                if (r.Next(2) == 0 || list.Count <= 19)
                {
                    var extra = new byte[1 + r.Next(6)];
                    r.NextBytes(extra);
                    list.InsertRange(Math.Min(at, list.Count), extra);
                }
                else
                {
                    at = Math.Min(at, list.Count - 1);
                    list.RemoveRange(at, Math.Min(1 + r.Next(6), list.Count - at));
                }
                m = list.ToArray();
                if (m.Length >= 19 && m.Length <= 4096) FixLength(m);
                return (m, four);
            default:
                return (m, four);
        }
    }

    static void FixLength(byte[] m) => BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(16), (ushort)m.Length);

    /// <summary>Changes one length field: the header's, or one inside an OPEN or UPDATE.</summary>
    static void TweakLengthField(Random r, byte[] m)
    {
        var fields = new List<(int Offset, int Size)> { (16, 2) };
        if (m.Length >= 19)
        {
            if (m[18] == 1 && m.Length >= 29)
            {
                fields.Add((28, 1));
                for (int i = 29; i + 1 < m.Length;)
                {
                    fields.Add((i + 1, 1));
                    if (m[i] == 2)
                        for (int j = i + 2; j + 1 < Math.Min(m.Length, i + 2 + m[i + 1]); j += 2 + m[j + 1]) fields.Add((j + 1, 1));
                    i += 2 + m[i + 1];
                }
            }
            else if (m[18] == 2 && m.Length >= 23)
            {
                int withdrawn = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(19));
                fields.Add((19, 2));
                int attrAt = 21 + withdrawn;
                if (attrAt + 2 <= m.Length)
                {
                    fields.Add((attrAt, 2));
                    int end = Math.Min(m.Length, attrAt + 2 + BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(attrAt)));
                    for (int i = attrAt + 2; i + 3 <= end;)
                    {
                        bool extended = (m[i] & 0x10) != 0;
                        if (extended && i + 4 > end) break;
                        fields.Add((i + 2, extended ? 2 : 1));
                        int length = extended ? BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(i + 2)) : m[i + 2];
                        int valueAt = i + (extended ? 4 : 3);
                        if (m[i + 1] is 14 && valueAt + 4 <= end) fields.Add((valueAt + 3, 1)); // next hop length
                        if (m[i + 1] is 2 or 17 && valueAt + 2 <= end) fields.Add((valueAt + 1, 1)); // first segment count
                        i = valueAt + length;
                    }
                }
            }
        }
        var (offset, size) = fields[r.Next(fields.Count)];
        if (offset + size > m.Length) return;
        int value = size == 2 ? BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(offset)) : m[offset];
        int max = size == 2 ? ushort.MaxValue : byte.MaxValue;
        value = r.Next(6) switch
        {
            0 => value + 1,
            1 => value - 1,
            2 => value + r.Next(-20, 21),
            3 => 0,
            4 => max,
            _ => r.Next(max + 1),
        };
        value = Math.Clamp(value, 0, max);
        if (size == 2) BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(offset), (ushort)value);
        else m[offset] = (byte)value;
    }

    /// <summary>Valid messages to mutate: the captured ones and encoder output covering every attribute.</summary>
    static List<(byte[], bool)> Corpus(Random r)
    {
        var corpus = BgpCaptured.All.Select(c => (Convert.FromHexString(c.Hex), c.FourOctet))
            .Concat(BgpCaptured.FrrSegment.Select(h => (Convert.FromHexString(h), false))).ToList();

        IPAddress V4() => new(BitConverter.GetBytes((uint)r.Next()));
        IPAddress V6()
        {
            var b = new byte[16];
            r.NextBytes(b);
            b[0] = 0x20;
            return new IPAddress(b);
        }
        BgpPrefix P4() => new(V4(), r.Next(33));
        BgpPrefix P6() => new(V6(), r.Next(129));

        foreach (bool four in new[] { true, false })
        {
            var options = new BgpEncodeOptions { FourOctetAs = four };
            for (int i = 0; i < 12; i++)
            {
                var attrs = new PathAttributes
                {
                    Origin = (BgpOrigin)r.Next(3),
                    AsPath = i % 3 == 0 ? [] : [AsPathSegment.Sequence(64512, 4200000000u + (uint)i), AsPathSegment.Set(65001, 65002)],
                    NextHop = IPAddress.Parse("192.0.2.2"),
                    NextHopIPv6 = IPAddress.Parse("2001:db8::2"),
                    LinkLocalNextHopIPv6 = i % 2 == 0 ? IPAddress.Parse("fe80::2") : null,
                    MultiExitDisc = i % 4 == 0 ? (uint)i : null,
                    LocalPref = i % 3 == 0 ? 100u : null,
                    AtomicAggregate = i % 5 == 0,
                    Communities = Enumerable.Range(0, i % 4 == 1 ? 70 : 3).Select(k => (uint)(64512 << 16 | k)).ToArray(),
                    LargeCommunities = i % 2 == 0 ? [new LargeCommunity(4200000001, 1, (uint)i)] : [],
                    Other = i % 3 == 1 ? [new Unknown(16, new byte[i % 2 == 0 ? 8 : 300])] : [],
                };
                var announce = Enumerable.Range(0, r.Next(1, i % 6 == 0 ? 900 : 20)).Select(_ => r.Next(2) == 0 ? P4() : P6());
                var withdraw = Enumerable.Range(0, r.Next(0, 10)).Select(_ => r.Next(2) == 0 ? P4() : P6());
                var announced = announce.Distinct().ToList();
                foreach (var m in BgpUpdatePacker.Pack(announced, attrs, withdraw.Distinct().Except(announced).ToList(), options).Take(3))
                    corpus.Add((m, four));
            }
            corpus.Add((BgpMessage.Encode(BgpUpdate.EndOfRib(1, 2), options), four));
            corpus.Add((BgpMessage.Encode(new BgpUpdate([], [new Origin(BgpOrigin.Igp),
                new BgpPathAttribute.AsPath([new AsPathSegment(AsPathSegmentType.AsConfedSequence, [65001]), AsPathSegment.Sequence(4200000001, 64500)]),
                new NextHop(IPAddress.Parse("192.0.2.2")), new As4Path([AsPathSegment.Sequence(4200000001, 64500)]) { Flags = 0xF0 }],
                [BgpPrefix.Parse("0.0.0.0/0"), BgpPrefix.Parse("198.51.100.0/31")]), options), four));
        }
        corpus.Add((BgpMessage.Encode(BgpOpen.Create(4200000001, 90, IPAddress.Parse("192.0.2.2"),
            [BgpCapability.Multiprotocol.IPv4Unicast, BgpCapability.Multiprotocol.IPv6Unicast, new BgpCapability.RouteRefresh(),
             new BgpCapability.FourOctetAs(4200000001), new BgpCapability.GracefulRestart(8, 120, [new(1, 1, 0x80)]),
             new BgpCapability.Unknown(73, [3, 0x6b, 0x6c, 0x62, 0])])), true));
        corpus.Add((BgpMessage.Encode(BgpNotification.Shutdown("maintenance: back in 10 minutes ✓")), true));
        corpus.Add((BgpMessage.Encode(new BgpNotification(3, 5, Convert.FromHexString("c00806000100020003"))), true));
        corpus.Add((BgpMessage.Encode(new BgpRouteRefresh(2, 1)), true));
        return corpus;
    }
}
