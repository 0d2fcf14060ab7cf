"""The worker's media as the SBC peer receives it: SRTP and SRTCP unprotected with the key of the
worker's answer, and every packet checked (payload type, sequence, timestamp step, marker, SSRC,
payload size) with the audio level of each 20 ms frame."""
import math
import struct
import time

from g711wav import ULAW_DECODE

from . import pylibsrtp
from .rtp import CLOCK, FRAME_SAMPLES, ntp_middle, ntp_now, parse_rtcp, parse_rtp

SILENCE_DBFS = -120.0  # what digital silence is reported as (JSON has no -inf)
ULAW_SQUARES = [v * v for v in ULAW_DECODE]


def dbfs(sum_squares, n):
    if n == 0 or sum_squares == 0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, round(10 * math.log10(sum_squares / n / (32768.0 ** 2)), 1))


class Receiver:
    """What the worker sent: SRTP unprotected and checked, audio levels, SRTCP. Datagrams that
    arrive before the answer (no key yet) are kept until `start`."""

    def __init__(self):
        self.srtp = None
        self.answer = None
        self.our_ssrc = None
        self.our_srs = None
        self.early = []
        self.datagrams = 0
        self.not_rtp = 0
        self.unprotect_ok = 0
        self.auth_failed = 0
        self.replay_failed = 0
        self.other_failed = []
        self.audio_packets = 0
        self.dtmf_packets = 0
        self.wrong_pt = {}
        self.ssrcs = []
        self.ssrc_first = None
        self.first_marker = None
        self.markers_after_first = 0
        self.seq_gaps = 0
        self.seq_backwards = 0
        self.ts_errors = 0
        self.payload_len_errors = 0
        self.max_seq = None
        self.base_seq = None
        self.cycles = 0
        self.prev = None
        self.first_ts = None
        self.first_arrival = None
        self.last_arrival = None
        self.max_interarrival = 0.0
        self.last_ts_ext = 0
        self.frame_levels = {}
        self.seconds = {}
        self.rtcp_ok = 0
        self.rtcp_failed = 0
        self.rtcp_types = {}
        self.rtcp_bye = False
        self.last_sr = None
        self.worker_report = None
        self.rtt_ms = None
        self.worker_echoed_our_sr = False
        self.from_addrs = set()
        self.payloads = {}

    def start(self, srtp, answer, our_ssrc, our_srs):
        """From the answer on: unprotect with `srtp` (a pylibsrtp.Session), expect the answer's
        payload types, and look for our SSRC and the SRs we sent (`our_srs`, LSR values) in the
        worker's report blocks."""
        self.srtp, self.answer, self.our_ssrc, self.our_srs = srtp, answer, our_ssrc, our_srs
        for data, addr in self.early:
            self.on_datagram(data, addr)
        self.early = []

    def on_datagram(self, data, addr):
        if self.srtp is None:
            self.early.append((data, addr))
            return
        self.datagrams += 1
        self.from_addrs.add(f"{addr[0]}:{addr[1]}")
        if len(data) < 2 or not 128 <= data[0] <= 191:
            self.not_rtp += 1
            return
        if 192 <= data[1] <= 223:  # RTCP, multiplexed (RFC 5761 §4)
            try:
                plain = self.srtp.unprotect_rtcp(data)
            except pylibsrtp.Error:
                self.rtcp_failed += 1
                return
            self.rtcp_ok += 1
            self.on_rtcp(plain)
            return
        try:
            plain = self.srtp.unprotect(data)
        except pylibsrtp.Error as e:
            msg = str(e)
            if "authentication" in msg:
                self.auth_failed += 1
            elif "replay" in msg:
                self.replay_failed += 1
            else:
                self.other_failed.append(msg)
            return
        self.unprotect_ok += 1
        parsed = parse_rtp(plain)
        if parsed is None:
            self.other_failed.append("malformed RTP after unprotect")
            return
        marker, pt, seq, ts, ssrc, payload = parsed
        if pt == self.answer["telephone_event"]:
            self.dtmf_packets += 1
            return
        if pt != self.answer["payload_type"]:
            self.wrong_pt[str(pt)] = self.wrong_pt.get(str(pt), 0) + 1
            return
        now = time.monotonic()
        if ssrc not in self.ssrcs:
            self.ssrcs.append(ssrc)
        if self.ssrc_first is None:
            self.ssrc_first, self.first_ts, self.first_arrival = ssrc, ts, now
            self.first_marker = marker
            self.max_seq = self.base_seq = seq
        else:
            if marker:
                self.markers_after_first += 1
            prev_seq, prev_ts = self.prev
            delta = (seq - prev_seq) & 0xFFFF
            if delta == 1:
                if (ts - prev_ts) & 0xFFFFFFFF != FRAME_SAMPLES:
                    self.ts_errors += 1
            elif delta == 0 or delta >= 0x8000:
                self.seq_backwards += 1
            else:
                self.seq_gaps += 1
                if (ts - prev_ts) & 0xFFFFFFFF != FRAME_SAMPLES * delta:
                    self.ts_errors += 1
            if delta < 0x8000:
                if seq < self.max_seq:
                    self.cycles += 1
                self.max_seq = seq
            self.max_interarrival = max(self.max_interarrival, now - self.last_arrival)
        self.prev = (seq, ts)
        self.last_arrival = now
        self.audio_packets += 1
        if len(payload) != FRAME_SAMPLES:
            self.payload_len_errors += 1
        offset = (ts - self.first_ts) & 0xFFFFFFFF
        squares = sum(ULAW_SQUARES[b] for b in payload)
        self.frame_levels[offset // FRAME_SAMPLES] = dbfs(squares, len(payload))
        self.payloads[offset // FRAME_SAMPLES] = payload
        sec = self.seconds.setdefault(offset // CLOCK, [0, 0])
        sec[0] += squares
        sec[1] += len(payload)
        self.last_ts_ext = max(self.last_ts_ext, offset)

    def on_rtcp(self, plain):
        try:
            packets = parse_rtcp(plain)
        except ValueError:
            self.other_failed.append("malformed RTCP after unprotect")
            return
        for pt, count, body in packets:
            name = {200: "SR", 201: "RR", 202: "SDES", 203: "BYE", 204: "APP"}.get(pt, str(pt))
            self.rtcp_types[name] = self.rtcp_types.get(name, 0) + 1
            if pt == 203:
                self.rtcp_bye = True
            blocks_at = None
            if pt == 200 and len(body) >= 24:
                sec, frac = struct.unpack_from("!II", body, 4)
                self.last_sr = (ntp_middle(sec, frac), time.monotonic())
                blocks_at = 24
            elif pt == 201 and len(body) >= 4:
                blocks_at = 4
            if blocks_at is None:
                continue
            for i in range(count):
                off = blocks_at + 24 * i
                if off + 24 > len(body):
                    break
                ssrc, lost, ext, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", body, off)
                if ssrc != self.our_ssrc:
                    continue
                cumulative = lost & 0xFFFFFF
                if cumulative & 0x800000:
                    cumulative -= 0x1000000
                self.worker_report = {"fraction_lost": (lost >> 24) / 256, "cumulative_lost": cumulative, "extended_highest_seq": ext, "jitter": jitter, "lsr": lsr, "dlsr": dlsr}
                if lsr and lsr in self.our_srs:
                    self.worker_echoed_our_sr = True
                    now_mid = ntp_middle(*ntp_now())
                    self.rtt_ms = round(((now_mid - lsr - dlsr) & 0xFFFFFFFF) / 65536 * 1000, 2)

    def report_block(self):
        """An RTCP report block on the worker's stream (b"" before its first packet)."""
        if self.ssrc_first is None:
            return b""
        ext = (self.cycles << 16) | self.max_seq
        expected = ext - self.base_seq + 1
        lost = max(0, min(expected - self.audio_packets, 0x7FFFFF))
        lsr, dlsr = 0, 0
        if self.last_sr is not None:
            lsr = self.last_sr[0]
            dlsr = int((time.monotonic() - self.last_sr[1]) * 65536) & 0xFFFFFFFF
        return struct.pack("!IIIIII", self.ssrc_first, lost & 0xFFFFFF, ext & 0xFFFFFFFF, 0, lsr, dlsr)
