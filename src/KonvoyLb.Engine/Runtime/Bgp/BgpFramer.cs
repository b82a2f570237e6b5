using System.Buffers.Binary;

namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>
/// Cuts a TCP byte stream into BGP messages. <see cref="Append"/> what a read returned, in any pieces,
/// then call <see cref="TryRead"/> (or <see cref="TryReadFrame"/>) until it returns false: one read often
/// holds several messages (FRR sends End-of-RIBs and echoed routes in one segment).
/// <para>A bad marker or length in a header leaves no way to find the next message: the framer reports
/// that error once, keeps it in <see cref="Fault"/> and ignores everything after. A message that frames
/// correctly but does not decode is reported and skipped; the session closes on it anyway.</para>
/// </summary>
public sealed class BgpFramer
{
    byte[] _buffer;
    int _start, _end;
    bool _faultReported;

    public BgpFramer(int initialCapacity = 2 * BgpMessage.MaxLength) => _buffer = new byte[Math.Max(initialCapacity, BgpMessage.HeaderLength)];

    /// <summary>Bytes received and not yet returned as messages.</summary>
    public int Buffered => _end - _start;

    /// <summary>The framing error that stopped this framer, if any.</summary>
    public BgpError? Fault { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (Fault is not null || data.IsEmpty) return;
        if (_end + data.Length > _buffer.Length)
        {
            int pending = _end - _start;
            if (pending + data.Length > _buffer.Length)
            {
                var bigger = new byte[Math.Max(_buffer.Length * 2, pending + data.Length)];
                _buffer.AsSpan(_start, pending).CopyTo(bigger);
                _buffer = bigger;
            }
            else
            {
                _buffer.AsSpan(_start, pending).CopyTo(_buffer);
            }
            _start = 0;
            _end = pending;
        }
        data.CopyTo(_buffer.AsSpan(_end));
        _end += data.Length;
    }

    /// <summary>The next complete message, decoded with <paramref name="options"/> (which may change after
    /// the OPENs are exchanged). True when it produced a message or an error; false when it needs more bytes.</summary>
    public bool TryRead(BgpEncodeOptions options, out BgpMessage? message, out BgpError? error)
    {
        message = null;
        if (!TryNext(out var frame, out error)) return false;
        if (error is null) BgpMessage.TryDecode(frame, options, out message, out error);
        return true;
    }

    /// <summary>The bytes of the next complete message (header included), or a framing error.</summary>
    public bool TryReadFrame(out byte[]? frame, out BgpError? error)
    {
        frame = null;
        if (!TryNext(out var span, out error)) return false;
        if (error is null) frame = span.ToArray();
        return true;
    }

    bool TryNext(out ReadOnlySpan<byte> frame, out BgpError? error)
    {
        frame = default;
        error = null;
        if (Fault is not null)
        {
            if (_faultReported) return false;
            _faultReported = true;
            error = Fault;
            return true;
        }
        var available = _buffer.AsSpan(_start, _end - _start);
        var headerError = BgpDecoder.CheckHeader(available);
        if (headerError is not null)
        {
            Fault = headerError;
            _faultReported = true;
            _start = _end = 0;
            error = headerError;
            return true;
        }
        if (available.Length < BgpMessage.HeaderLength) return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(available[BgpMessage.MarkerLength..]);
        if (available.Length < length) return false;
        frame = available[..length];
        _start += length;
        if (_start == _end) _start = _end = 0;
        return true;
    }
}
