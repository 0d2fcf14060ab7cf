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
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # g711wav.py sits next to this file
from g711wav import WavError, alaw_encode, read_wav_8k_mono, ulaw_encode  # noqa: E402


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

    try:
        samples = [0] * (args.lead_ms * 8) + read_wav_8k_mono(args.wav)
    except WavError as e:
        sys.exit(str(e))
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
