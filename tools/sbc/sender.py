"""The caller's media from the SBC peer: µ-law audio as SRTP-protected PCMU at real-time pace,
with bad SRTP and SRTCP mixed in when asked (`--bad-srtp`), and SRTCP sender reports."""
import random
import struct
import time

from g711wav import ULAW_SILENCE

from .rtp import FRAME_SAMPLES, ntp_middle, ntp_now, rtp_header

REPLAY_WINDOW = 128  # libsrtp's, and the worker's, replay window
BAD_EVERY = 10  # --bad-srtp: a bad packet before every 10th packet
BAD_FROM = 25  # ... from this packet on (the stream is established by then)
RTCP_INTERVAL = 2.0
SILENT_FRAME = bytes([ULAW_SILENCE]) * FRAME_SAMPLES


class Sender:
    """Our stream (random SSRC, sequence and timestamp) from `sock` to the worker's media address;
    `rx` (the Receiver) supplies the report block of our sender reports."""

    def __init__(self, sock, args, ip, rx):
        self.sock, self.args, self.ip, self.rx = sock, args, ip, rx
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)
        self.srtp = None
        self.tag_len = None
        self.dest = None
        self.sent = {"packets": 0, "payload_bytes": 0, "rtcp": 0, "bad": {}, "expect_auth_failures": 0, "expect_replays": 0, "expect_malformed": 0}
        self.history = []  # protected packets sent, in order, for replays
        self.rtcp_history = []
        self.srs_sent = set()  # the LSR value of every SR sent

    def start(self, srtp, tag_len, dest):
        """Protect with `srtp` (a pylibsrtp.Session; SRTP tags of `tag_len` bytes), send to `dest`."""
        self.srtp, self.tag_len, self.dest = srtp, tag_len, dest

    def stream(self, audio, lead_frames, poll, hung_up):
        """Streams `audio` (µ-law bytes) at real-time pace, with bad packets when asked; `poll(until)`
        serves the sockets between packets. Returns None, or the number of packets sent when
        `hung_up()` turned true."""
        frames = [SILENT_FRAME] * lead_frames
        for i in range(0, len(audio), FRAME_SAMPLES):
            chunk = audio[i:i + FRAME_SAMPLES]
            frames.append(chunk + bytes([ULAW_SILENCE]) * (FRAME_SAMPLES - len(chunk)))
        frames += [SILENT_FRAME] * (self.args.tail_ms // 20)
        kinds = ["tampered_payload", "tampered_seq", "replayed", "replayed_old", "truncated_short", "truncated_tag", "truncated_header"]
        if not self.args.no_rtcp:
            kinds += ["tampered_rtcp", "replayed_rtcp"]
        bad_turn = 0
        start = time.monotonic()
        next_rtcp = start + 0.5
        for i, payload in enumerate(frames):
            due = start + i * 0.020
            poll(due)
            if hung_up():
                return i
            packet = self.srtp.protect(rtp_header(0, self.seq, self.ts, self.ssrc, i == 0) + payload)
            if self.args.bad_srtp and i >= BAD_FROM and i % BAD_EVERY == 0:
                self.send_bad(kinds[bad_turn % len(kinds)], packet)
                bad_turn += 1
            self.sock.sendto(packet, self.dest)
            self.history.append(packet)
            self.sent["packets"] += 1
            self.sent["payload_bytes"] += len(payload)
            self.seq = (self.seq + 1) & 0xFFFF
            self.ts = (self.ts + FRAME_SAMPLES) & 0xFFFFFFFF
            if not self.args.no_rtcp and time.monotonic() >= next_rtcp:
                self.send_rtcp()
                next_rtcp += RTCP_INTERVAL
        self.sent["duration_ms"] = len(frames) * 20
        return None

    def send_bad(self, kind, next_packet):
        """One bad datagram of `kind`; `next_packet` is the valid packet about to be sent."""
        counts = self.sent["bad"]
        if kind == "replayed_old" and len(self.history) <= REPLAY_WINDOW + 10:
            kind = "replayed"
        if kind in ("tampered_rtcp", "replayed_rtcp") and not self.rtcp_history:
            kind = "tampered_payload"
        pkt = bytearray(next_packet)
        if kind == "tampered_payload":
            pkt[12 + 40] ^= 0x01
            self.sent["expect_auth_failures"] += 1
        elif kind == "tampered_seq":
            # A forged sequence number far ahead: must neither pass nor move the replay window.
            struct.pack_into("!H", pkt, 2, (self.seq + 1000) & 0xFFFF)
            self.sent["expect_auth_failures"] += 1
        elif kind == "replayed":
            pkt = bytearray(self.history[-3])
            self.sent["expect_replays"] += 1
        elif kind == "replayed_old":
            pkt = bytearray(self.history[-(REPLAY_WINDOW + 10)])
            self.sent["expect_replays"] += 1
        elif kind == "truncated_short":
            pkt = pkt[:12 + self.tag_len - 1]  # shorter than header + tag
            self.sent["expect_malformed"] += 1
        elif kind == "truncated_tag":
            pkt = pkt[:-4]  # the last 10 bytes are no longer the tag
            self.sent["expect_auth_failures"] += 1
        elif kind == "truncated_header":
            pkt = pkt[:8]  # not even an RTP header
            self.sent["expect_malformed"] += 1
        elif kind == "tampered_rtcp":
            # A fresh SRTCP index (a tampered copy of one already received is a replay, and
            # replays are checked before authentication, RFC 3711 §3.3 step 2).
            pkt = bytearray(self.srtp.protect_rtcp(self.build_rtcp()))
            pkt[9] ^= 0x40  # inside the (encrypted) sender info
            self.sent["expect_auth_failures"] += 1
        elif kind == "replayed_rtcp":
            pkt = bytearray(self.rtcp_history[-1])
            self.sent["expect_replays"] += 1
        counts[kind] = counts.get(kind, 0) + 1
        self.sock.sendto(bytes(pkt), self.dest)

    def send_rtcp(self):
        packet = self.srtp.protect_rtcp(self.build_rtcp())
        self.sock.sendto(packet, self.dest)
        self.rtcp_history.append(packet)
        self.sent["rtcp"] += 1

    def build_rtcp(self):
        """An RTCP compound: SR (with a report block on the worker's stream) + SDES CNAME."""
        sec, frac = ntp_now()
        blocks = self.rx.report_block()
        rc = len(blocks) // 24
        sr = struct.pack("!BBHIIIIII", 0x80 | rc, 200, (28 + len(blocks)) // 4 - 1, self.ssrc, sec, frac, self.ts, self.sent["packets"], self.sent["payload_bytes"]) + blocks
        cname = b"sbc-peer@" + self.ip.encode()
        item = bytes([1, len(cname)]) + cname + b"\x00"
        item += b"\x00" * (-(4 + len(item)) % 4)
        sdes = struct.pack("!BBHI", 0x81, 202, (4 + len(item)) // 4, self.ssrc) + item
        self.srs_sent.add(ntp_middle(sec, frac))
        return sr + sdes
