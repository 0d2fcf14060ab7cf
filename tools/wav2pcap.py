#!/usr/bin/env python3
"""Make a pcap of RTP from a WAV file, for sipp's `play_pcap_audio`.

    tools/wav2pcap.py IN.wav OUT.pcap [--codec pcmu|pcma] [--dtmf 12#] [--dtmf-pt 101]
                      [--ssrc 0x1234abcd] [--lead-ms 0]

The WAV must be 8 kHz mono: 16-bit PCM, µ-law or A-law (the 8k-ulaw fixtures are). The audio is
carried as G.711 (PCMU payload type 0 or PCMA 8) in 20 ms packets (160 samples, RFC 3551), marker
bit on the first packet. `--dtmf` appends RFC 4733 telephone-events after the audio: per digit,
packets every 20 ms for 100 ms (duration growing, marker on the first), three end packets with
the same timestamp (RFC 4733 §2.5.1.4), then 100 ms of silence. sipp rewrites addresses and ports
when it replays, so the IP and UDP headers here only need to be well formed: Ethernet + IPv4 +
UDP, classic pcap (microsecond timestamps, LINKTYPE_ETHERNET), which is what sipp reads.
"""
import argparse
import struct
import sys

# G.711 encoders, written from the ITU-T G.711 segment tables.
ULAW_BIAS, ULAW_CLIP = 0x84, 32635


def ulaw_encode(s):
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), ULAW_CLIP) + ULAW_BIAS
    exp = max(0, min(7, s.bit_length() - 8))
    mant = (s >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def alaw_encode(s):
    sign, mag = (0x80, s >> 3) if s >= 0 else (0x00, (-s - 1) >> 3)
    if mag < 32:
        code = mag >> 1
    else:
        exp = mag.bit_length() - 5
        code = (exp << 4) | ((mag >> exp) & 0x0F)
    return (sign | code) ^ 0x55


def ulaw_decode(u):
    u = ~u & 0xFF
    exp, mant = (u >> 4) & 7, u & 0x0F
    mag = (((mant << 3) + ULAW_BIAS) << exp) - ULAW_BIAS
    return -mag if u & 0x80 else mag


def alaw_decode(a):
    a ^= 0x55
    exp, mant = (a >> 4) & 7, a & 0x0F
    mag = (mant << 4) + 8 if exp == 0 else ((mant << 4) + 0x108) << (exp - 1)
    return mag if a & 0x80 else -mag


def read_wav_8k_mono(path):
    """Returns 16-bit samples of an 8 kHz mono WAV (PCM16, µ-law or A-law)."""
    data = open(path, "rb").read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        sys.exit(f"{path}: not a WAV file")
    pos, fmt, body = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if cid == b"fmt ":
            fmt = data[pos + 8:pos + 8 + size]
        elif cid == b"data":
            body = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    if fmt is None or body is None:
        sys.exit(f"{path}: no fmt or data chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if rate != 8000 or channels != 1:
        sys.exit(f"{path}: {rate} Hz x{channels}; need 8000 Hz mono (convert with sox first)")
    if tag == 1 and bits == 16:
        return list(struct.unpack(f"<{len(body) // 2}h", body[:len(body) // 2 * 2]))
    if tag == 7:
        return [ulaw_decode(b) for b in body]
    if tag == 6:
        return [alaw_decode(b) for b in body]
    sys.exit(f"{path}: format tag {tag} with {bits} bits; need PCM16, µ-law or A-law")


DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}


def rtp(pt, seq, ts, ssrc, payload, marker=False):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def frame(payload, src=("10.0.0.1", 6000), dst=("10.0.0.2", 6000)):
    """Ethernet + IPv4 + UDP around an RTP packet."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip_src = bytes(int(x) for x in src[0].split("."))
    ip_dst = bytes(int(x) for x in dst[0].split("."))
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, ip_src, ip_dst)
    checksum = sum(struct.unpack("!10H", header))
    while checksum >> 16:
        checksum = (checksum & 0xFFFF) + (checksum >> 16)
    header = header[:10] + struct.pack("!H", ~checksum & 0xFFFF) + header[12:]
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + header + udp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wav")
    ap.add_argument("pcap")
    ap.add_argument("--codec", choices=["pcmu", "pcma"], default="pcmu")
    ap.add_argument("--dtmf", default="", help="digits to send after the audio (0-9 * # A-D)")
    ap.add_argument("--dtmf-pt", type=int, default=101)
    ap.add_argument("--ssrc", type=lambda v: int(v, 0), default=0x5EED1234)
    ap.add_argument("--lead-ms", type=int, default=0, help="silence before the audio")
    args = ap.parse_args()
    bad = [d for d in args.dtmf if d not in DTMF_EVENTS]
    if bad:
        ap.error(f"--dtmf: not a DTMF key: {''.join(bad)}")

    samples = [0] * (args.lead_ms * 8) + read_wav_8k_mono(args.wav)
    encode, pt = (ulaw_encode, 0) if args.codec == "pcmu" else (alaw_encode, 8)
    samples += [0] * (-len(samples) % 160)
    packets = []  # (time in µs, rtp bytes)
    seq, ts, t_us = 1, 0, 0
    for i in range(0, len(samples), 160):
        payload = bytes(encode(s) for s in samples[i:i + 160])
        packets.append((t_us, rtp(pt, seq, ts, args.ssrc, payload, marker=(i == 0))))
        seq, ts, t_us = seq + 1, ts + 160, t_us + 20_000
    for digit in args.dtmf:
        event, start_ts = DTMF_EVENTS[digit], ts
        for n in range(1, 6):  # 5 packets of 20 ms: duration 160, 320, ... 800
            body = struct.pack("!BBH", event, 10, n * 160)  # volume -10 dBm0
            packets.append((t_us, rtp(args.dtmf_pt, seq, start_ts, args.ssrc, body, marker=(n == 1))))
            seq, t_us = seq + 1, t_us + 20_000
        for _ in range(3):  # end packets, same timestamp and duration (RFC 4733 §2.5.1.4)
            body = struct.pack("!BBH", event, 0x80 | 10, 5 * 160)
            packets.append((t_us, rtp(args.dtmf_pt, seq, start_ts, args.ssrc, body)))
            seq = seq + 1
        t_us += 20_000
        ts = start_ts + 5 * 160
        # 100 ms of silence between digits keeps the RTP clock and the packet clock together.
        for _ in range(5):
            packets.append((t_us, rtp(pt, seq, ts, args.ssrc, bytes([encode(0)]) * 160)))
            seq, ts, t_us = seq + 1, ts + 160, t_us + 20_000

    with open(args.pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, pkt in packets:
            data = frame(pkt)
            f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(data), len(data)))
            f.write(data)
    print(f"{args.pcap}: {len(packets)} packets, {t_us / 1e6:.2f} s, {args.codec}"
          + (f", DTMF {args.dtmf}" if args.dtmf else ""))


if __name__ == "__main__":
    main()
