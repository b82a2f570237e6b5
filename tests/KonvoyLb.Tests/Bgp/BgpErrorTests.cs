using KonvoyLb.Engine.Runtime.Bgp;
using static KonvoyLb.Tests.Bgp.BgpTest;

namespace KonvoyLb.Tests.Bgp;

// Hand-built malformed messages, one or more for every error the decoder reports, each with the exact
// NOTIFICATION code, subcode and data that RFC 4271 §6 (and RFC 4760, 6793, 7606, 8092) ask for.
public class BgpErrorTests
{
    // Valid pieces to build UPDATEs from.
    const string Origin = "40010100", AsPath4 = "4002060201" + "0000fde8", AsPath2 = "40020402" + "01fde8",
        NextHop = "400304c0000201", Nlri = "18c63364";
    const string Mandatory4 = Origin + AsPath4 + NextHop;

    static byte[] Upd(string withdrawn, string attributes, string nlri) => Update(Hex(withdrawn), Hex(attributes), Hex(nlri));

    static byte[] Open(byte version = 4, string myAs = "fde8", string hold = "005a", string id = "c0000202", string parameters = "")
    {
        var p = Hex(parameters);
        return Message(1, Cat(new[] { version }, Hex(myAs), Hex(hold), Hex(id), new[] { (byte)p.Length }, p));
    }

    /// <summary>name, message, 4-octet session, code, subcode, data.</summary>
    public static TheoryData<string, byte[], bool, byte, byte, string> Cases()
    {
        var header = new TheoryData<string, byte[], bool, byte, byte, string>();
        void Add(string name, byte[] m, byte code, byte sub, string data = "", bool four = true) => header.Add(name, m, four, code, sub, data);

        var keepalive = Message(4);
        // ---- 1/x message header ----
        var badMarker = keepalive.ToArray(); badMarker[7] = 0xFE;
        Add("marker byte 7 is fe", badMarker, 1, 1);
        var zeroMarker = keepalive.ToArray(); zeroMarker.AsSpan(0, 16).Clear();
        Add("all-zero marker", zeroMarker, 1, 1);
        Add("length field 18", Cat(Hex("ffffffffffffffffffffffffffffffff001204")), 1, 2, "0012");
        Add("length field 4097", Cat(Hex("ffffffffffffffffffffffffffffffff100104"), new byte[4097 - 19]), 1, 2, "1001");
        Add("length field 0", Hex("ffffffffffffffffffffffffffffffff000004"), 1, 2, "0000");
        Add("KEEPALIVE of 20 bytes", Message(4, 0), 1, 2, "0014");
        Add("OPEN of 28 bytes", Message(1, Hex("04fde8005ac0000202")), 1, 2, "001c");
        Add("UPDATE of 22 bytes", Message(2, 0, 0, 0), 1, 2, "0016");
        Add("NOTIFICATION of 20 bytes", Message(3, 6), 1, 2, "0014");
        Add("ROUTE-REFRESH of 22 bytes", Message(5, 0, 1, 0), 1, 2, "0016");
        Add("ROUTE-REFRESH of 24 bytes", Message(5, 0, 1, 0, 1, 0), 1, 2, "0018");
        Add("message cut after 10 bytes", keepalive[..10], 1, 2, "000a");
        Add("message cut inside its header", keepalive[..18], 1, 2, "0013");
        Add("header says 23 bytes, 22 arrived", Message(2, 0, 0, 0, 0)[..22], 1, 2, "0017");
        Add("two messages in one span", Cat(keepalive, keepalive), 1, 2, "0013");
        Add("type 6", Message(6), 1, 3, "06");
        Add("type 0", Message(0), 1, 3, "00");
        Add("type 255", Message(255, 1, 2, 3), 1, 3, "ff");

        // ---- 2/x OPEN ----
        Add("version 3", Open(version: 3), 2, 1, "0004");
        Add("version 5", Open(version: 5), 2, 1, "0004");
        Add("BGP identifier 0.0.0.0", Open(id: "00000000"), 2, 3);
        Add("authentication parameter (type 1)", Open(parameters: "0102abcd"), 2, 4);
        Add("capabilities, then parameter type 3", Open(parameters: "020202000300"), 2, 4);
        Add("hold time 1", Open(hold: "0001"), 2, 6);
        Add("hold time 2", Open(hold: "0002"), 2, 6);
        Add("optional parameter length larger than what follows", Message(1, Hex("04fde8005ac0000202" + "05" + "02020200")), 2, 0);
        Add("optional parameter length smaller than what follows", Message(1, Hex("04fde8005ac0000202" + "02" + "02020000")), 2, 0);
        Add("parameter length overruns", Open(parameters: "02050200"), 2, 0);
        Add("one byte where a parameter should be", Open(parameters: "02"), 2, 0);
        Add("capability length overruns its parameter", Open(parameters: "0204410400"), 2, 0);
        Add("one byte where a capability should be", Open(parameters: "020141"), 2, 0);
        Add("multiprotocol capability of 3 bytes", Open(parameters: "020501030001 01".Replace(" ", "")), 2, 0);
        Add("4-octet AS capability of 2 bytes", Open(parameters: "02044102fde8"), 2, 0);
        Add("route refresh capability with a value", Open(parameters: "0203020100"), 2, 0);
        Add("graceful restart capability of 3 bytes", Open(parameters: "020540030078ff"), 2, 0);

        // ---- 3/x UPDATE ----
        Add("withdrawn routes length overruns", Hex("ffffffffffffffffffffffffffffffff001702" + "00050000"), 3, 1);
        Add("total attribute length overruns", Hex("ffffffffffffffffffffffffffffffff001b02" + "0000" + "0010" + "40010100"), 3, 1);
        Add("two bytes where an attribute should be", Upd("", Origin + "4001", ""), 3, 1);
        Add("extended-length header cut", Upd("", Origin + "500200", ""), 3, 1);
        Add("attribute value overruns the block", Upd("", Origin + "40020602010000", ""), 3, 1);
        Add("extended attribute value overruns the block", Upd("", "50010001", ""), 3, 1);
        Add("ORIGIN twice", Upd("", Origin + Origin, ""), 3, 1);
        Add("COMMUNITIES twice", Upd("", "c0080400010002c0080400010003", ""), 3, 1);
        Add("unknown well-known attribute 99", Upd("", Mandatory4 + "406302abcd", Nlri), 3, 2, "406302abcd");
        Add("unknown well-known attribute 7 (AGGREGATOR without the optional bit)", Upd("", "400700", ""), 3, 2, "400700");
        Add("NLRI without ORIGIN", Upd("", AsPath4 + NextHop, Nlri), 3, 3, "01");
        Add("NLRI without AS_PATH", Upd("", Origin + NextHop, Nlri), 3, 3, "02");
        Add("NLRI without NEXT_HOP", Upd("", Origin + AsPath4, Nlri), 3, 3, "03");
        Add("MP_REACH_NLRI without ORIGIN", Upd("", AsPath4 + "800e1c0002011020010db800000000000000000000000100" + "3020010db80001", ""), 3, 3, "01");
        Add("MP_REACH_NLRI without AS_PATH", Upd("", Origin + "800e1c0002011020010db800000000000000000000000100" + "3020010db80001", ""), 3, 3, "02");
        Add("ORIGIN with the optional bit", Upd("", "c0010100", ""), 3, 4, "c0010100");
        Add("ORIGIN with the partial bit", Upd("", "60010100", ""), 3, 4, "60010100");
        Add("AS_PATH not transitive", Upd("", "00020402" + "01fde8", ""), 3, 4, "0002040201fde8", four: false);
        Add("MULTI_EXIT_DISC well-known", Upd("", "40040400000001", ""), 3, 4, "40040400000001");
        Add("MULTI_EXIT_DISC transitive", Upd("", "c0040400000001", ""), 3, 4, "c0040400000001");
        Add("COMMUNITIES non-transitive", Upd("", "80080400010002", ""), 3, 4, "80080400010002");
        Add("LARGE_COMMUNITIES well-known", Upd("", "40200c000000010000000200000003", ""), 3, 4, "40200c000000010000000200000003");
        Add("MP_UNREACH_NLRI transitive", Upd("", "c00f03000201", ""), 3, 4, "c00f03000201");
        Add("ORIGIN of 2 bytes", Upd("", "4001020000", ""), 3, 5, "4001020000");
        Add("ORIGIN of 0 bytes", Upd("", "400100", ""), 3, 5, "400100");
        Add("NEXT_HOP of 5 bytes", Upd("", "400305c000020100", ""), 3, 5, "400305c000020100");
        Add("MULTI_EXIT_DISC of 3 bytes", Upd("", "800403000001", ""), 3, 5, "800403000001");
        Add("LOCAL_PREF of 2 bytes", Upd("", "4005020064", ""), 3, 5, "4005020064");
        Add("ATOMIC_AGGREGATE of 1 byte", Upd("", "40060100", ""), 3, 5, "40060100");
        Add("COMMUNITIES of 6 bytes", Upd("", "c00806000100020003", ""), 3, 5, "c00806000100020003");
        Add("empty COMMUNITIES", Upd("", "c00800", ""), 3, 5, "c00800");
        Add("LARGE_COMMUNITIES of 13 bytes", Upd("", "c0200d00000001000000020000000300", ""), 3, 5, "c0200d00000001000000020000000300");
        Add("empty LARGE_COMMUNITIES", Upd("", "c02000", ""), 3, 5, "c02000");
        Add("MP_REACH_NLRI of 4 bytes", Upd("", "800e0400020110", ""), 3, 5, "800e0400020110");
        Add("MP_REACH_NLRI next hop overruns", Upd("", "800e0800020110" + "20010db8", ""), 3, 5, "800e080002011020010db8");
        Add("MP_UNREACH_NLRI of 2 bytes", Upd("", "800f020002", ""), 3, 5, "800f020002");
        Add("ORIGIN 3", Upd("", "40010103", ""), 3, 6, "40010103");
        Add("ORIGIN 255", Upd("", "400101ff", ""), 3, 6, "400101ff");
        Add("NEXT_HOP 0.0.0.0", Upd("", "40030400000000", ""), 3, 8, "40030400000000");
        Add("NEXT_HOP 255.255.255.255", Upd("", "400304ffffffff", ""), 3, 8, "400304ffffffff");
        Add("NEXT_HOP 224.0.0.5", Upd("", "400304e0000005", ""), 3, 8, "400304e0000005");
        Add("IPv6 next hop of 4 bytes", Upd("", "800e0a00020104c000020100" + "00", ""), 3, 8, "800e0a00020104c00002010000");
        Add("IPv6 next hop ff02::1", Upd("", "800e150002011" + "0ff020000000000000000000000000001" + "00", ""), 3, 8, "800e1500020110ff02000000000000000000000000000100");
        Add("NLRI /33", Upd("", Mandatory4, "21c633640000"), 3, 10);
        Add("NLRI /24 with 2 bytes", Upd("", Mandatory4, "18c633"), 3, 10);
        Add("NLRI /32 after a good prefix, cut", Upd("", Mandatory4, Nlri + "20c63364"), 3, 10);
        Add("withdrawn /40", Upd("28c63364000000", "", ""), 3, 10);
        Add("withdrawn length byte alone", Upd("18", "", ""), 3, 10);
        Add("MP_REACH_NLRI /129", Upd("", Origin + AsPath4 + "800e1a0002011020010db800000000000000000000000100" + "8120010db8", ""), 3, 10);
        Add("MP_UNREACH_NLRI /64 with 4 bytes", Upd("", "800f0800020140" + "20010db8", ""), 3, 10);
        Add("AS_PATH segment type 0", Upd("", Origin + "40020600010000fde8", ""), 3, 11);
        Add("AS_PATH segment type 5", Upd("", Origin + "40020605010000fde8", ""), 3, 11);
        Add("AS_PATH empty segment", Upd("", Origin + "4002020200", ""), 3, 11);
        Add("AS_PATH segment overruns (4-octet)", Upd("", Origin + "4002060202" + "0000fde8", ""), 3, 11);
        Add("AS_PATH 4-octet path read as 2-octet", Upd("", Origin + "40020602010000fde8", ""), 3, 11, four: false);
        Add("AS_PATH 2-octet path read as 4-octet", Upd("", Origin + AsPath2, ""), 3, 11);
        Add("AS_PATH with one byte left over", Upd("", Origin + "40020702010000fde802", ""), 3, 11);
        Add("AS4_PATH empty segment", Upd("", "c011020200", ""), 3, 11, four: false);
        return header;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Malformed_message_gives_the_notification_to_send(string name, byte[] message, bool fourOctet, byte code, byte subcode, string data)
    {
        var error = Error(message, new BgpEncodeOptions { FourOctetAs = fourOctet });
        Assert.True((code, subcode) == (error.Code, error.Subcode), $"{name}: expected {code}/{subcode}, got {error}");
        Assert.Equal(data, ToHex(error.Data));
        Assert.False(string.IsNullOrWhiteSpace(error.Description));

        // The NOTIFICATION it becomes round-trips, and the framer reports the same error.
        var notification = Decode<BgpNotification>(BgpMessage.Encode(error.ToNotification()), default);
        Assert.Equal((code, subcode, data), (notification.Code, notification.Subcode, ToHex(notification.Data)));
        if (name.StartsWith("two messages")) return; // the framer rightly reads them one by one
        var framer = new BgpFramer();
        framer.Append(message);
        if (framer.TryRead(new BgpEncodeOptions { FourOctetAs = fourOctet }, out var framed, out var framerError))
        {
            // A cut message stays in the framer, waiting for the rest; everything else gives the error.
            Assert.Null(framed);
            Assert.Equal((code, subcode), (framerError!.Code, framerError.Subcode));
        }
        else
        {
            Assert.Equal((1, 2), (code, subcode));
        }
    }

    [Fact]
    public void Every_code_and_subcode_the_decoder_promises_is_covered_above()
    {
        var covered = Cases().Select(row => ((byte)row[3], (byte)row[4])).ToHashSet();
        (byte, byte)[] promised =
        [
            (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (2, 3), (2, 4), (2, 6),
            (3, 1), (3, 2), (3, 3), (3, 4), (3, 5), (3, 6), (3, 8), (3, 10), (3, 11),
        ];
        Assert.Empty(promised.Except(covered));
    }

    [Fact]
    public void An_attribute_length_reaching_into_the_next_message_is_an_error_not_a_read()
    {
        // The AS_PATH claims 12 bytes; the message ends after 2, and the next KEEPALIVE in the same
        // buffer would supply them. The decoder must stay inside the first message.
        var first = Update(Hex(""), Hex("40010100" + "40020c0201"), Hex(""));
        var framer = new BgpFramer();
        framer.Append(Cat(first, Message(4), Message(4)));
        Assert.True(framer.TryRead(Four, out var m, out var error));
        Assert.Null(m);
        Assert.Equal((3, 1), (error!.Code, error.Subcode));
        Assert.True(framer.TryRead(Four, out m, out error));
        Assert.IsType<BgpKeepalive>(m);
    }

    [Fact]
    public void Validate_open_reports_2_2_2_3_2_6_and_2_1()
    {
        var caps = new BgpCapability[] { new BgpCapability.FourOctetAs(4200000001) };
        var open = BgpOpen.Create(4200000001, 90, Ip("192.0.2.11"), caps);
        Assert.Equal(BgpOpen.AsTrans, open.MyAs);
        Assert.Null(BgpMessage.ValidateOpen(open, 4200000001, 90));

        var badAs = BgpMessage.ValidateOpen(open, 64500, 90)!;
        Assert.Equal((2, 2, "fa56ea01"), (badAs.Code, badAs.Subcode, ToHex(badAs.Data)));
        Assert.Equal("bad peer AS (2/2): AS 4200000001 is not the expected one", badAs.ToNotification().Describe());

        var small = BgpOpen.Create(64501, 90, Ip("192.0.2.11"), []);
        var badSmall = BgpMessage.ValidateOpen(small, 64500, 90)!;
        Assert.Equal((2, 2, "fbf5"), (badSmall.Code, badSmall.Subcode, ToHex(badSmall.Data)));
        // Without the capability, AS_TRANS in My AS is just AS 23456.
        Assert.NotNull(BgpMessage.ValidateOpen(open with { Capabilities = [] }, 4200000001, 90));

        var zeroId = BgpMessage.ValidateOpen(small with { BgpIdentifier = Ip("0.0.0.0") }, 64501, 90)!;
        Assert.Equal((2, 3), (zeroId.Code, zeroId.Subcode));
        foreach (ushort hold in new ushort[] { 1, 2 })
        {
            var badHold = BgpMessage.ValidateOpen(small with { HoldTime = hold }, 64501, 90)!;
            Assert.Equal((2, 6), (badHold.Code, badHold.Subcode));
        }
        Assert.Null(BgpMessage.ValidateOpen(small with { HoldTime = 0 }, 64501, 90));
        Assert.Null(BgpMessage.ValidateOpen(small with { HoldTime = 3 }, 64501, 0));
        var badVersion = BgpMessage.ValidateOpen(small with { Version = 3 }, 64501, 90)!;
        Assert.Equal((2, 1, "0004"), (badVersion.Code, badVersion.Subcode, ToHex(badVersion.Data)));
        Assert.Throws<ArgumentOutOfRangeException>(() => BgpMessage.ValidateOpen(small, 64501, 2));
        Assert.Equal(3, BgpMessage.NegotiatedHoldTime(small with { HoldTime = 3 }, 90));
        Assert.Equal(0, BgpMessage.NegotiatedHoldTime(small, 0));
    }

    [Fact]
    public void Error_descriptions_name_the_problem()
    {
        Assert.Contains("marker byte 7", Error(Corrupt(Message(4), 7, 0xFE)).Description);
        Assert.Contains("4097", Error(Cat(Hex("ffffffffffffffffffffffffffffffff100104"), new byte[4078])).Description);
        Assert.Contains("AS_PATH", Error(Upd("", "40010100" + "4002020200", "")).Description);
        Assert.Contains("prefix length of 33", Error(Upd("", Mandatory4, "21c633640000"), Four).Description);
        Assert.Equal("bad message length (1/2): length 17", new BgpNotification(1, 2, Hex("0011")).Describe());
        Assert.Equal("bad message type (1/3): type 9", new BgpNotification(1, 3, [9]).Describe());
        Assert.Equal("unsupported version number (2/1): the sender speaks version 4 at most", new BgpNotification(2, 1, Hex("0004")).Describe());
        Assert.Equal("missing well-known attribute (3/3): NEXT_HOP is missing", new BgpNotification(3, 3, [3]).Describe());
        Assert.Equal("invalid ORIGIN attribute (3/6): ORIGIN, flags 40, 40010103", new BgpNotification(3, 6, Hex("40010103")).Describe());
        Assert.Equal("unexpected message in OpenConfirm (5/2)", new BgpNotification(5, 2).Describe());
        Assert.Equal("Cease: maximum number of prefixes reached (6/1): data 000100000064", new BgpNotification(6, 1, Hex("000100000064")).Describe());
        Assert.Equal("error code 9, subcode 9 (9/9): data 01", new BgpNotification(9, 9, [1]).Describe());
        Assert.Equal("UPDATE message error, subcode 42 (3/42)", new BgpNotification(3, 42).Describe());
    }

    static byte[] Corrupt(byte[] m, int index, byte value)
    {
        var copy = m.ToArray();
        copy[index] = value;
        return copy;
    }
}
