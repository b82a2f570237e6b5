using System.Buffers.Binary;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>The sentences of <see cref="BgpNotification.Describe"/>.</summary>
internal static class BgpDescriptions
{
    public static string Describe(byte code, byte subcode, byte[] data)
    {
        var (codeName, subName) = BgpErrorCode.Names(code, subcode);
        string head = code switch
        {
            BgpErrorCode.HoldTimerExpired when subcode == 0 => $"hold timer expired (4/0)",
            BgpErrorCode.Cease => $"Cease: {subName ?? $"subcode {subcode}"} ({code}/{subcode})",
            _ when subName is not null => $"{subName} ({code}/{subcode})",
            _ => $"{codeName}, subcode {subcode} ({code}/{subcode})",
        };
        string? detail = Detail(code, subcode, data);
        return detail is null ? head : $"{head}: {detail}";
    }

    static string? Detail(byte code, byte subcode, byte[] data)
    {
        switch (code, subcode)
        {
            case (1, 2) when data.Length == 2:
                return $"length {BinaryPrimitives.ReadUInt16BigEndian(data)}";
            case (1, 3) when data.Length == 1:
                return $"type {data[0]}";
            case (2, 1) when data.Length == 2:
                return $"the sender speaks version {BinaryPrimitives.ReadUInt16BigEndian(data)} at most";
            case (2, 2) when data.Length is 2 or 4:
                // BIRD (4 bytes) and FRR (2 bytes) return the AS they received in the OPEN.
                uint asn = data.Length == 2 ? BinaryPrimitives.ReadUInt16BigEndian(data) : BinaryPrimitives.ReadUInt32BigEndian(data);
                return $"AS {asn} is not the expected one";
            case (3, 3) when data.Length == 1:
                return $"{BgpPathAttribute.Name(data[0])} is missing";
            case (3, 2 or 4 or 5 or 6 or 8 or 9) when data.Length >= 2:
                return $"{BgpPathAttribute.Name(data[1])}, flags {data[0]:x2}, {Seq.Hex(data)}";
            case (6, 2 or 4):
                var note = new BgpNotification(code, subcode, data).ShutdownCommunication;
                if (note is not null) return $"'{Printable(note)}'";
                break;
        }
        return data.Length == 0 ? null : $"data {Seq.Hex(data)}";
    }

    // A shutdown communication comes from the peer's operator: no control characters in a log line.
    static string Printable(string text) =>
        string.Concat(text.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
}
