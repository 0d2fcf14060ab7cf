"""RTP and RTCP packet formats (RFC 3550) for the SBC peer, and its media timing."""
import struct
import time

CLOCK = 8000  # PCMU RTP clock
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
NTP_EPOCH_OFFSET = 2_208_988_800


def rtp_header(pt, seq, ts, ssrc, marker):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)


def parse_rtp(pkt):
    """(marker, pt, seq, ts, ssrc, payload) of a plain RTP packet, or None when malformed."""
    if len(pkt) < 12 or pkt[0] >> 6 != 2:
        return None
    cc, ext, pad = pkt[0] & 0x0F, pkt[0] & 0x10, pkt[0] & 0x20
    marker, pt = bool(pkt[1] & 0x80), pkt[1] & 0x7F
    seq, ts, ssrc = struct.unpack_from("!HII", pkt, 2)
    off = 12 + 4 * cc
    if ext:
        if len(pkt) < off + 4:
            return None
        off += 4 + 4 * struct.unpack_from("!H", pkt, off + 2)[0]
    end = len(pkt)
    if pad and end > off:
        end -= pkt[-1]
    if off > end:
        return None
    return marker, pt, seq, ts, ssrc, pkt[off:end]


def ntp_now():
    t = time.time() + NTP_EPOCH_OFFSET
    sec = int(t)
    return sec & 0xFFFFFFFF, int((t - sec) * (1 << 32)) & 0xFFFFFFFF


def ntp_middle(sec, frac):
    """The middle 32 bits of an NTP timestamp, as in LSR (RFC 3550 §6.4.1)."""
    return ((sec & 0xFFFF) << 16) | (frac >> 16)


def parse_rtcp(pkt):
    """The packets of a plain compound RTCP datagram: list of (pt, count, body)."""
    out, off = [], 0
    while off + 4 <= len(pkt):
        b0, pt, length = struct.unpack_from("!BBH", pkt, off)
        end = off + 4 * (length + 1)
        if b0 >> 6 != 2 or end > len(pkt):
            raise ValueError("malformed RTCP")
        out.append((pt, b0 & 0x1F, pkt[off + 4:end]))
        off = end
    return out
