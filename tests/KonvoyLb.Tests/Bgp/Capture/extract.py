#!/usr/bin/env python3
"""Splits the TCP streams of a tcpdump capture (Ethernet, port 179) into BGP messages.

    python3 extract.py bgp.pcap > messages.txt

One line per message: time, source > destination, TCP segment number (messages that arrived in
the same segment share it), type, length, hex. Standard library only; no decoding of BGP beyond
the header, so what the tests assert comes from the bytes, not from this script.
"""
import struct
import sys

TYPES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}


def packets(path):
    with open(path, "rb") as f:
        header = f.read(24)
        magic = struct.unpack("<I", header[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _ = struct.unpack(endian + "IIII", rec)
            yield sec + frac / (1e9 if nano else 1e6), f.read(incl)


def tcp_segments(path):
    for ts, frame in packets(path):
        ethertype = struct.unpack(">H", frame[12:14])[0]
        off = 14
        if ethertype == 0x8100:
            ethertype = struct.unpack(">H", frame[16:18])[0]
            off = 18
        if ethertype == 0x0800:
            ihl = (frame[off] & 0x0F) * 4
            total = struct.unpack(">H", frame[off + 2:off + 4])[0]
            if frame[off + 9] != 6:
                continue
            src = ".".join(str(b) for b in frame[off + 12:off + 16])
            dst = ".".join(str(b) for b in frame[off + 16:off + 20])
            ip_end = off + total
            off += ihl
        elif ethertype == 0x86DD:
            if frame[off + 6] != 6:
                continue
            plen = struct.unpack(">H", frame[off + 4:off + 6])[0]
            src = "[" + frame[off + 8:off + 24].hex() + "]"
            dst = "[" + frame[off + 24:off + 40].hex() + "]"
            ip_end = off + 40 + plen
            off += 40
        else:
            continue
        sport, dport, seq = struct.unpack(">HHI", frame[off:off + 8])
        flags = frame[off + 13]
        doff = (frame[off + 12] >> 4) * 4
        payload = frame[off + doff:ip_end]
        yield ts, f"{src}:{sport}", f"{dst}:{dport}", seq, flags, payload


def main(path):
    flows = {}  # (src, dst) -> dict(next=seq, buf=bytearray, pending={seq: payload})
    segno = 0
    for ts, src, dst, seq, flags, payload in tcp_segments(path):
        key = (src, dst)
        if flags & 0x02:  # SYN: a new connection on this 4-tuple
            flows[key] = {"next": (seq + 1) & 0xFFFFFFFF, "buf": bytearray()}
            continue
        flow = flows.get(key)
        if flow is None or not payload:
            continue
        delta = (seq - flow["next"]) & 0xFFFFFFFF
        if delta >= 0x80000000:  # retransmission overlapping what we have
            skip = (flow["next"] - seq) & 0xFFFFFFFF
            if skip >= len(payload):
                continue
            payload, seq = payload[skip:], flow["next"]
        elif delta != 0:
            print(f"# gap in {src} > {dst}: {delta} bytes missing", file=sys.stderr)
            flow["buf"].clear()
        flow["next"] = (seq + len(payload)) & 0xFFFFFFFF
        flow["buf"] += payload
        segno += 1
        buf = flow["buf"]
        while len(buf) >= 19:
            length = struct.unpack(">H", buf[16:18])[0]
            if length < 19 or len(buf) < length:
                break
            msg = bytes(buf[:length])
            del buf[:length]
            kind = TYPES.get(msg[18], f"type{msg[18]}")
            print(f"{ts:.6f} {src} > {dst} seg{segno} {kind} {length} {msg.hex()}")


if __name__ == "__main__":
    main(sys.argv[1])
