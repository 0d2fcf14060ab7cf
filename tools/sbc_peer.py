#!/usr/bin/env python3
"""An SBC that places one SDES-SRTP call to `attendant serve` over UDP, and reports what it saw.

    tools/sbc_peer.py HOST:PORT [--wav 8k-ulaw.wav] [--bad-srtp] [--lead-ms 400] [--tail-ms 2000]

It plays the part of a Teams Direct Routing SBC toward a contact-center platform:

1. INVITE with an SDES offer: `m=audio PORT RTP/SAVP 0 101`, PCMU and telephone-event,
   `a=rtcp-mux`, and `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<30 random bytes>` (RFC 4568).
   The INVITE is retransmitted on timer A until a response arrives (RFC 3261 §17.1.1.2).
2. 100/180/200 are recorded. The 200's SDP answer is checked: RTP/SAVP, one payload type we
   offered, an `a=crypto` line whose tag is one we offered and whose key is the worker's own.
3. ACK to the remote target (the 200's Contact) with the route set (the 200's Record-Route,
   reversed) and the To tag of the 200. A retransmitted 200 is ACKed again.
4. The WAV (8 kHz mono, µ-law or 16-bit PCM) is sent as SRTP-protected PCMU, 160 samples every
   20 ms, marker bit on the first packet, after `--lead-ms` of silence and followed by
   `--tail-ms` of silence. An SRTCP sender report goes out every 2 s (rtcp-mux). With
   `--bad-srtp`, every 10th packet is preceded by a bad one, in turn: payload bit flipped,
   sequence number changed, exact replay of a recent packet, replay of one older than the
   128-packet window, cut shorter than header + tag, tag cut short, cut to 8 bytes, tampered
   SRTCP (fresh index), replayed SRTCP. The worker must drop them all and play the call as if
   they were never sent; `sent.expect_auth_failures`, `expect_replays` and `expect_malformed`
   say how the worker should count them (libsrtp's and RFC 3711's order: replay check first).
5. Meanwhile the worker's SRTP on the media socket is unprotected with the key of its answer and
   checked: payload type, sequence continuity, timestamp step (160 per 20 ms), marker bit on the
   first packet, one SSRC, payload size; the µ-law is decoded and its RMS level measured per
   20 ms frame and per second of RTP time. SRTCP from the worker is unprotected and parsed too.
6. BYE (retransmitted on timer E) and its 200; then a short wait for the worker's RTCP BYE.

A JSON summary goes to stdout. Exit status: 0 when the call went through cleanly, 1 on a
protocol failure (listed in `failures`), 2 on bad arguments or input files.

Needs `pylibsrtp` (PyPI; wraps libsrtp), which the tests install with pip.
"""
import argparse
import base64
import json
import math
import os
import random
import re
import select
import socket
import struct
import sys
import time

try:
    import pylibsrtp
except ImportError:  # pragma: no cover - reported as a usage error
    pylibsrtp = None

T1 = 0.5  # RFC 3261 timer T1
TIMER_B = 32.0  # INVITE and non-INVITE transaction timeout (64*T1)
CLOCK = 8000  # PCMU RTP clock
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
SILENCE_DBFS = -120.0  # what digital silence is reported as (JSON has no -inf)
ACTIVE_DBFS = -50.0  # frames above this level count as sound
REPLAY_WINDOW = 128  # libsrtp's, and the worker's, replay window
BAD_EVERY = 10  # --bad-srtp: a bad packet before every 10th packet
BAD_FROM = 25  # ... from this packet on (the stream is established by then)
RTCP_INTERVAL = 2.0
# SDES suite name -> libsrtp profile (both with an 80-bit SRTCP tag; the SRTP tag is 80 or 32 bits)
SUITES = {"AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80", "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32"}
NTP_EPOCH_OFFSET = 2_208_988_800

# ---------------------------------------------------------------------------------------------
# G.711 µ-law (ITU-T G.711 segment tables)

ULAW_BIAS, ULAW_CLIP = 0x84, 32635


def ulaw_encode(s):
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), ULAW_CLIP) + ULAW_BIAS
    exp = max(0, min(7, s.bit_length() - 8))
    mant = (s >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def ulaw_decode(u):
    u = ~u & 0xFF
    exp, mant = (u >> 4) & 7, u & 0x0F
    mag = (((mant << 3) + ULAW_BIAS) << exp) - ULAW_BIAS
    return -mag if u & 0x80 else mag


ULAW_SQUARES = [ulaw_decode(b) ** 2 for b in range(256)]
ULAW_SILENCE = ulaw_encode(0)


def read_wav_ulaw(path):
    """The µ-law bytes of an 8 kHz mono WAV (µ-law, or 16-bit PCM encoded here)."""
    data = open(path, "rb").read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    pos, fmt, body = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if cid == b"fmt ":
            fmt = data[pos + 8:pos + 8 + size]
        elif cid == b"data":
            body = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    if fmt is None or body is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if rate != CLOCK or channels != 1:
        raise ValueError(f"{path}: {rate} Hz x{channels}; need 8000 Hz mono")
    if tag == 7 and bits == 8:
        return bytes(body)
    if tag == 1 and bits == 16:
        samples = struct.unpack(f"<{len(body) // 2}h", body[:len(body) // 2 * 2])
        return bytes(ulaw_encode(s) for s in samples)
    raise ValueError(f"{path}: format tag {tag} with {bits} bits; need µ-law or 16-bit PCM")


def dbfs(sum_squares, n):
    if n == 0 or sum_squares == 0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, round(10 * math.log10(sum_squares / n / (32768.0 ** 2)), 1))


# ---------------------------------------------------------------------------------------------
# SIP messages

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length", "c": "content-type", "k": "supported"}


class Message:
    """A parsed SIP message: start line, headers (lower-case names, in order), body."""

    def __init__(self, data):
        text = data.decode("utf-8", "replace")
        head, _, body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:  # folded header line
                name, value = self.headers[-1]
                self.headers[-1] = (name, value + " " + line.strip())
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"bad header line {line!r}")
            name = name.strip().lower()
            self.headers.append((COMPACT.get(name, name), value.strip()))
        length = self.get("content-length")
        self.body = body[:int(length)] if length and length.isdigit() else body
        self.is_response = self.start.startswith("SIP/2.0 ")
        if self.is_response:
            parts = self.start.split(" ", 2)
            self.status, self.reason = int(parts[1]), (parts[2] if len(parts) > 2 else "")
            self.method = None
        else:
            self.method = self.start.split(" ", 1)[0]
            self.status = None

    def get(self, name):
        for n, v in self.headers:
            if n == name:
                return v
        return None

    def get_all(self, name):
        """Every value of a header that may be a comma-separated list (Via, Record-Route)."""
        out = []
        for n, v in self.headers:
            if n == name:
                out.extend(split_list(v))
        return out

    def cseq(self):
        num, _, method = (self.get("cseq") or "0 ?").partition(" ")
        return int(num), method.strip()

    def branch(self):
        via = self.get_all("via")
        m = re.search(r";\s*branch=([^;,\s]+)", via[0]) if via else None
        return m.group(1) if m else None


def split_list(value):
    """Splits a header value on commas outside <...> and quotes."""
    items, cur, depth, quoted = [], "", 0, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        items.append(cur.strip())
    return items


def tag_of(value):
    m = re.search(r";\s*tag=([^;>\s]+)", value or "")
    return m.group(1) if m else None


def uri_of(value):
    """The URI of a name-addr (<...>) or addr-spec header value."""
    m = re.search(r"<([^>]*)>", value or "")
    if m:
        return m.group(1)
    return (value or "").split(";", 1)[0].strip()


def new_branch():
    return "z9hG4bK" + os.urandom(8).hex()


def build(start, headers, body=""):
    lines = [start] + [f"{n}: {v}" for n, v in headers]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


# ---------------------------------------------------------------------------------------------
# SDP


def parse_sdp(text):
    """The first audio stream of an SDP: address, port, protocol, formats and attributes."""
    session_c, media = None, None
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            if media is not None:
                break  # only the first m= line matters here
            parts = value.split()
            media = {"media": parts[0], "port": int(parts[1].split("/")[0]), "protocol": parts[2], "formats": parts[3:], "attrs": [], "c": None}
        elif kind == "c":
            addr = value.split()[-1].split("/")[0]
            if media is None:
                session_c = addr
            else:
                media["c"] = addr
        elif kind == "a" and media is not None:
            name, _, val = value.partition(":")
            media["attrs"].append((name, val))
    if media is None:
        raise ValueError("no m= line in the answer")
    media["address"] = media["c"] or session_c
    return media


CRYPTO_RE = re.compile(r"^(\d{1,9})\s+(\S+)\s+inline:([A-Za-z0-9+/=]+)(\|\S*)?(\s.*)?$")


# ---------------------------------------------------------------------------------------------
# RTP / RTCP


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


# ---------------------------------------------------------------------------------------------
# The call


class ProtocolFailure(Exception):
    pass


class Peer:
    def __init__(self, args):
        self.args = args
        host, _, port = args.worker.rpartition(":")
        self.worker = (socket.gethostbyname(host.strip("[]") or "127.0.0.1"), int(port))
        self.ip = args.local_ip
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((self.ip, args.sip_port))
        self.sip_port = self.sip.getsockname()[1]
        self.media, self.media_port = self.bind_media(args.rtp_port)
        self.call_id = f"{os.urandom(8).hex()}@{self.ip}"
        self.from_tag = os.urandom(5).hex()
        self.to_tag = None
        self.cseq = 1
        self.invite_branch = new_branch()
        self.remote_target = None
        self.route_set = []
        self.suites = args.suites
        self.keys = {i + 1: os.urandom(30) for i in range(len(self.suites))}
        self.failures = []
        self.sip_log = {"invite_responses": [], "bye_responses": [], "requests_received": [], "invite_retransmissions": 0, "ack_sent": 0, "remote_bye": False}
        self.answer = None
        self.srtp_out = None
        self.srtp_in = None
        self.early_media = []
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)
        self.sent = {"packets": 0, "payload_bytes": 0, "rtcp": 0, "bad": {}, "expect_auth_failures": 0, "expect_replays": 0, "expect_malformed": 0}
        self.history = []  # protected packets sent, in order, for replays
        self.rtcp_history = []
        self.srs_sent = set()
        self.rx = Receiver()

    def bind_media(self, port):
        if port:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((self.ip, port))
            return s, port
        for _ in range(100):  # RTP on an even port (RFC 3550 §11)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((self.ip, 0))
            p = s.getsockname()[1]
            if p % 2 == 0:
                return s, p
            s.close()
        raise OSError("no even media port")

    def fail(self, what):
        self.failures.append(what)

    # -- SIP ----------------------------------------------------------------------------------

    def common_headers(self, branch, method, cseq, to_tag):
        to = f"<sip:{self.args.user}@{self.worker[0]}:{self.worker[1]}>"
        if to_tag:
            to += f";tag={to_tag}"
        return [
            ("Via", f"SIP/2.0/UDP {self.ip}:{self.sip_port};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f'"SBC peer" <sip:{self.args.caller}@sbc.example.net>;tag={self.from_tag}'),
            ("To", to),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
        ]

    def offer(self):
        lines = [
            "v=0",
            f"o=sbc {random.getrandbits(31)} 1 IN IP4 {self.ip}",
            "s=-",
            f"c=IN IP4 {self.ip}",
            "t=0 0",
            f"m=audio {self.media_port} RTP/SAVP 0 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
            "a=rtcp-mux",
        ]
        for tag, suite in enumerate(self.suites, 1):
            lines.append(f"a=crypto:{tag} {suite} inline:{base64.b64encode(self.keys[tag]).decode()}")
        return "\r\n".join(lines) + "\r\n"

    def invite(self):
        headers = self.common_headers(self.invite_branch, "INVITE", 1, None)
        if self.args.record_route:
            headers.append(("Record-Route", f"<sip:{self.ip}:{self.sip_port};lr>"))
        headers += [
            ("Contact", f"<sip:{self.args.caller}@{self.ip}:{self.sip_port};transport=udp>"),
            ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"),
            ("User-Agent", "attendant-sbc-peer"),
            ("Content-Type", "application/sdp"),
        ]
        return build(f"INVITE sip:{self.args.user}@{self.worker[0]}:{self.worker[1]} SIP/2.0", headers, self.offer())

    def in_dialog(self, method, cseq, branch):
        headers = self.common_headers(branch, method, cseq, self.to_tag)
        headers += [("Route", r) for r in self.route_set]
        headers.append(("Contact", f"<sip:{self.args.caller}@{self.ip}:{self.sip_port};transport=udp>"))
        return build(f"{method} {self.remote_target} SIP/2.0", headers)

    def send_sip(self, data):
        self.sip.sendto(data, self.worker)

    def reply(self, req, status, reason):
        names = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq"}
        headers = [(names[n], v) for n, v in req.headers if n in names]
        if req.method != "ACK":
            headers = [(n, v + (f";tag={self.from_tag}" if n == "To" and not tag_of(v) else "")) for n, v in headers]
            self.sip.sendto(build(f"SIP/2.0 {status} {reason}", headers), self.worker)

    def on_sip(self, data):
        """Handles a datagram on the SIP socket; returns the message when it is a response."""
        try:
            msg = Message(data)
        except ValueError as e:
            self.fail(f"unparseable SIP from the worker: {e}")
            return None
        if msg.is_response:
            return msg
        self.sip_log["requests_received"].append(msg.method)
        if msg.method == "BYE":
            self.sip_log["remote_bye"] = True
            self.reply(msg, 200, "OK")
        elif msg.method in ("OPTIONS", "NOTIFY"):
            self.reply(msg, 200, "OK")
        elif msg.method != "ACK":
            self.reply(msg, 501, "Not Implemented")
        return None

    def poll(self, until, want_response=None):
        """Serves both sockets until `until` (monotonic) or a response matching `want_response`."""
        while True:
            timeout = until - time.monotonic()
            if timeout <= 0:
                return None
            ready, _, _ = select.select([self.sip, self.media], [], [], timeout)
            for s in ready:
                try:
                    data, addr = s.recvfrom(4096)
                except OSError:  # an ICMP error surfaced by the socket
                    continue
                if s is self.media:
                    self.on_media(data, addr)
                    continue
                msg = self.on_sip(data)
                if msg is None:
                    continue
                if want_response and want_response(msg):
                    return msg
                self.stray_response(msg)

    def stray_response(self, msg):
        # A retransmitted 200 to the INVITE means our ACK was lost: ACK again.
        if msg.cseq() == (1, "INVITE") and 200 <= msg.status < 300 and self.remote_target:
            self.send_ack()

    def call(self):
        """INVITE until a final response; returns the 2xx."""
        self.send_sip(self.invite())
        start = time.monotonic()
        interval, next_retx, provisional = T1, start + T1, False
        is_ours = lambda m: m.cseq() == (1, "INVITE") and m.branch() == self.invite_branch
        while True:
            now = time.monotonic()
            if now - start > TIMER_B:
                raise ProtocolFailure("INVITE timed out (timer B) without a final response")
            deadline = start + TIMER_B if provisional else min(next_retx, start + TIMER_B)
            msg = self.poll(deadline, is_ours)
            if msg is None:
                if not provisional and time.monotonic() >= next_retx:
                    self.send_sip(self.invite())
                    self.sip_log["invite_retransmissions"] += 1
                    interval = min(interval * 2, 4.0)
                    next_retx = time.monotonic() + interval
                continue
            self.sip_log["invite_responses"].append(f"{msg.status} {msg.reason}")
            if msg.status < 200:
                provisional = True
                continue
            if msg.status >= 300:
                # ACK for a non-2xx final response: same branch, hop by hop (RFC 3261 §17.1.1.3).
                headers = self.common_headers(self.invite_branch, "ACK", 1, tag_of(msg.get("to")))
                self.send_sip(build(f"ACK sip:{self.args.user}@{self.worker[0]}:{self.worker[1]} SIP/2.0", headers))
                self.sip_log["ack_sent"] += 1
                raise ProtocolFailure(f"call refused: {msg.status} {msg.reason}")
            return msg

    def on_answer(self, ok):
        self.to_tag = tag_of(ok.get("to"))
        if not self.to_tag:
            self.fail("200 OK to the INVITE has no To tag")
        contact = ok.get("contact")
        if not contact:
            raise ProtocolFailure("200 OK to the INVITE has no Contact")
        self.remote_target = uri_of(contact)
        record_route = ok.get_all("record-route")
        # UAC route set: the 2xx's Record-Route in reverse order (RFC 3261 §12.1.2).
        self.route_set = list(reversed(record_route))
        ours = f"<sip:{self.ip}:{self.sip_port};lr>"
        self.sip_log.update({
            "to_tag": self.to_tag,
            "remote_target": self.remote_target,
            "route_set": self.route_set,
            "record_route_echoed": ours in record_route if self.args.record_route else None,
        })
        if self.args.record_route and ours not in record_route:
            self.fail(f"200 OK did not echo our Record-Route {ours}: {record_route}")
        if not (ok.get("content-type") or "").lower().startswith("application/sdp"):
            raise ProtocolFailure(f"200 OK has no SDP answer (Content-Type {ok.get('content-type')!r})")
        try:
            m = parse_sdp(ok.body)
        except (ValueError, IndexError) as e:
            raise ProtocolFailure(f"bad SDP answer: {e}")
        rtpmaps = {v.split()[0]: v.split()[1] for n, v in m["attrs"] if n == "rtpmap" and len(v.split()) > 1}
        formats = [int(f) for f in m["formats"] if f.isdigit()]
        audio = [pt for pt in formats if pt != 101 and not rtpmaps.get(str(pt), "").lower().startswith("telephone-event")]
        te = [pt for pt in formats if rtpmaps.get(str(pt), "").lower().startswith("telephone-event")]
        cryptos = [v for n, v in m["attrs"] if n == "crypto"]
        answer = {
            "address": m["address"],
            "port": m["port"],
            "protocol": m["protocol"],
            "payload_type": audio[0] if audio else None,
            "telephone_event": te[0] if te else None,
            "rtcp_mux": any(n == "rtcp-mux" for n, _ in m["attrs"]),
            "crypto": cryptos,
            "crypto_tag": None,
            "crypto_suite": None,
            "key_differs": None,
            "sdp": ok.body,
        }
        self.answer = answer
        if m["protocol"].upper() != "RTP/SAVP":
            raise ProtocolFailure(f"answer protocol is {m['protocol']}, not RTP/SAVP")
        if m["port"] == 0:
            raise ProtocolFailure("the worker rejected the audio stream (port 0)")
        if answer["payload_type"] != 0:
            self.fail(f"answer payload type {answer['payload_type']}, expected 0 (PCMU)")
        if len(cryptos) != 1:
            raise ProtocolFailure(f"answer has {len(cryptos)} a=crypto lines, expected 1")
        c = CRYPTO_RE.match(cryptos[0].strip())
        if not c:
            raise ProtocolFailure(f"unparseable a=crypto in the answer: {cryptos[0]!r}")
        tag, suite = int(c.group(1)), c.group(2)
        try:
            key = base64.b64decode(c.group(3), validate=True)
        except ValueError:
            raise ProtocolFailure(f"a=crypto key is not base64: {cryptos[0]!r}")
        answer.update({"crypto_tag": tag, "crypto_suite": suite})
        if tag not in self.keys or self.suites[tag - 1] != suite:
            raise ProtocolFailure(f"answer crypto tag {tag} / suite {suite} is not one we offered")
        if len(key) != 30:
            raise ProtocolFailure(f"answer key||salt is {len(key)} bytes, expected 30")
        answer["key_differs"] = key != self.keys[tag]
        if key == self.keys[tag]:
            self.fail("the worker answered with our own SRTP key")
        profile = getattr(pylibsrtp.Policy, SUITES[suite])
        self.srtp_out = pylibsrtp.Session(pylibsrtp.Policy(key=self.keys[tag], ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
        self.tag_len = 10 if suite.endswith("_80") else 4
        self.srtp_in = pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
        self.rtp_dest = (m["address"], m["port"])
        for data, addr in self.early_media:
            self.on_media(data, addr)
        self.early_media = []

    def send_ack(self):
        self.send_sip(self.in_dialog("ACK", 1, new_branch()))
        self.sip_log["ack_sent"] += 1

    def bye(self):
        self.cseq += 1
        cseq, branch = self.cseq, new_branch()
        request = self.in_dialog("BYE", cseq, branch)
        self.send_sip(request)
        start = time.monotonic()
        interval, next_retx = T1, start + T1
        is_ours = lambda m: m.cseq() == (cseq, "BYE") and m.branch() == branch
        while time.monotonic() - start < TIMER_B:
            msg = self.poll(min(next_retx, start + TIMER_B), is_ours)
            if msg is None:
                if time.monotonic() >= next_retx:
                    self.send_sip(request)
                    interval = min(interval * 2, 4.0)
                    next_retx = time.monotonic() + interval
                continue
            self.sip_log["bye_responses"].append(f"{msg.status} {msg.reason}")
            if msg.status >= 200:
                self.sip_log["bye_status"] = msg.status
                if msg.status != 200:
                    self.fail(f"BYE answered {msg.status} {msg.reason}")
                return
        self.sip_log["bye_status"] = None
        self.fail("BYE timed out (timer F)")

    # -- media out ----------------------------------------------------------------------------

    def protect(self, plain):
        return self.srtp_out.protect(plain)

    def send_media(self, audio, lead_frames):
        """Streams `audio` (µ-law bytes) at real-time pace, with bad packets when asked."""
        frames = [bytes([ULAW_SILENCE]) * FRAME_SAMPLES] * lead_frames
        for i in range(0, len(audio), FRAME_SAMPLES):
            chunk = audio[i:i + FRAME_SAMPLES]
            frames.append(chunk + bytes([ULAW_SILENCE]) * (FRAME_SAMPLES - len(chunk)))
        frames += [bytes([ULAW_SILENCE]) * FRAME_SAMPLES] * (self.args.tail_ms // 20)
        kinds = ["tampered_payload", "tampered_seq", "replayed", "replayed_old", "truncated_short", "truncated_tag", "truncated_header"]
        if not self.args.no_rtcp:
            kinds += ["tampered_rtcp", "replayed_rtcp"]
        bad_turn = 0
        start = time.monotonic()
        next_rtcp = start + 0.5
        for i, payload in enumerate(frames):
            due = start + i * 0.020
            self.poll(due)
            if self.sip_log["remote_bye"]:
                self.fail(f"the worker hung up after {i} packets")
                return
            packet = self.protect(rtp_header(0, self.seq, self.ts, self.ssrc, i == 0) + payload)
            if self.args.bad_srtp and i >= BAD_FROM and i % BAD_EVERY == 0:
                self.send_bad(kinds[bad_turn % len(kinds)], packet)
                bad_turn += 1
            self.media.sendto(packet, self.rtp_dest)
            self.history.append(packet)
            self.sent["packets"] += 1
            self.sent["payload_bytes"] += len(payload)
            self.seq = (self.seq + 1) & 0xFFFF
            self.ts = (self.ts + FRAME_SAMPLES) & 0xFFFFFFFF
            if not self.args.no_rtcp and time.monotonic() >= next_rtcp:
                self.send_rtcp()
                next_rtcp += RTCP_INTERVAL
        self.sent["duration_ms"] = len(frames) * 20

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
            pkt = bytearray(self.srtp_out.protect_rtcp(self.build_rtcp()))
            pkt[9] ^= 0x40  # inside the (encrypted) sender info
            self.sent["expect_auth_failures"] += 1
        elif kind == "replayed_rtcp":
            pkt = bytearray(self.rtcp_history[-1])
            self.sent["expect_replays"] += 1
        counts[kind] = counts.get(kind, 0) + 1
        self.media.sendto(bytes(pkt), self.rtp_dest)

    def send_rtcp(self):
        packet = self.srtp_out.protect_rtcp(self.build_rtcp())
        self.media.sendto(packet, self.rtp_dest)
        self.rtcp_history.append(packet)
        self.sent["rtcp"] += 1

    def build_rtcp(self):
        """An RTCP compound: SR (with a report block on the worker's stream) + SDES CNAME."""
        sec, frac = ntp_now()
        blocks = b""
        rx = self.rx
        if rx.ssrc_first is not None:
            ext = (rx.cycles << 16) | rx.max_seq
            expected = ext - rx.base_seq + 1
            lost = max(0, min(expected - rx.audio_packets, 0x7FFFFF))
            lsr, dlsr = 0, 0
            if rx.last_sr is not None:
                lsr = rx.last_sr[0]
                dlsr = int((time.monotonic() - rx.last_sr[1]) * 65536) & 0xFFFFFFFF
            blocks = struct.pack("!IIIIII", rx.ssrc_first, lost & 0xFFFFFF, ext & 0xFFFFFFFF, 0, lsr, dlsr)
        rc = len(blocks) // 24
        sr = struct.pack("!BBHIIIIII", 0x80 | rc, 200, (28 + len(blocks)) // 4 - 1, self.ssrc, sec, frac, self.ts, self.sent["packets"], self.sent["payload_bytes"]) + blocks
        cname = b"sbc-peer@" + self.ip.encode()
        item = bytes([1, len(cname)]) + cname + b"\x00"
        item += b"\x00" * (-(4 + len(item)) % 4)
        sdes = struct.pack("!BBHI", 0x81, 202, (4 + len(item)) // 4, self.ssrc) + item
        self.srs_sent.add(((sec & 0xFFFF) << 16) | (frac >> 16))
        return sr + sdes

    # -- media in -----------------------------------------------------------------------------

    def on_media(self, data, addr):
        if self.srtp_in is None:
            self.early_media.append((data, addr))
            return
        self.rx.on_datagram(data, addr, self)


class Receiver:
    """What the worker sent: SRTP unprotected and checked, audio levels, SRTCP."""

    def __init__(self):
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

    def on_datagram(self, data, addr, peer):
        self.datagrams += 1
        self.from_addrs.add(f"{addr[0]}:{addr[1]}")
        if len(data) < 2 or not 128 <= data[0] <= 191:
            self.not_rtp += 1
            return
        if 192 <= data[1] <= 223:  # RTCP, multiplexed (RFC 5761 §4)
            try:
                plain = peer.srtp_in.unprotect_rtcp(data)
            except pylibsrtp.Error:
                self.rtcp_failed += 1
                return
            self.rtcp_ok += 1
            self.on_rtcp(plain, peer)
            return
        try:
            plain = peer.srtp_in.unprotect(data)
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
        answer = peer.answer
        if pt == answer["telephone_event"]:
            self.dtmf_packets += 1
            return
        if pt != answer["payload_type"]:
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

    def on_rtcp(self, plain, peer):
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
                self.last_sr = ((((sec & 0xFFFF) << 16) | (frac >> 16)), time.monotonic())
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
                if ssrc != peer.ssrc:
                    continue
                cumulative = lost & 0xFFFFFF
                if cumulative & 0x800000:
                    cumulative -= 0x1000000
                self.worker_report = {"fraction_lost": (lost >> 24) / 256, "cumulative_lost": cumulative, "extended_highest_seq": ext, "jitter": jitter, "lsr": lsr, "dlsr": dlsr}
                if lsr and lsr in peer.srs_sent:
                    self.worker_echoed_our_sr = True
                    sec_now, frac_now = ntp_now()
                    now_mid = ((sec_now & 0xFFFF) << 16) | (frac_now >> 16)
                    self.rtt_ms = round(((now_mid - lsr - dlsr) & 0xFFFFFFFF) / 65536 * 1000, 2)

    def summary(self):
        seconds = [dbfs(*self.seconds[k]) for k in sorted(self.seconds)]
        frames = [self.frame_levels.get(i, None) for i in range(max(self.frame_levels) + 1)] if self.frame_levels else []
        active = [i for i, v in enumerate(frames) if v is not None and v > ACTIVE_DBFS]
        wall = (self.last_arrival - self.first_arrival) * 1000 if self.first_arrival is not None else 0.0
        return {
            "datagrams": self.datagrams,
            "from": sorted(self.from_addrs),
            "not_rtp": self.not_rtp,
            "unprotect_ok": self.unprotect_ok,
            "auth_failed": self.auth_failed,
            "replay_failed": self.replay_failed,
            "other_failed": self.other_failed[:10],
            "audio_packets": self.audio_packets,
            "dtmf_packets": self.dtmf_packets,
            "wrong_pt": self.wrong_pt,
            "ssrcs": self.ssrcs,
            "ssrc_constant": len(self.ssrcs) <= 1,
            "first_marker": self.first_marker,
            "markers_after_first": self.markers_after_first,
            "seq_gaps": self.seq_gaps,
            "seq_backwards": self.seq_backwards,
            "ts_step": FRAME_SAMPLES,
            "ts_errors": self.ts_errors,
            "payload_len_errors": self.payload_len_errors,
            "media_span_ms": round(self.last_ts_ext / CLOCK * 1000, 1),
            "wall_span_ms": round(wall, 1),
            "max_interarrival_ms": round(self.max_interarrival * 1000, 1),
            "level_dbfs_per_second": seconds,
            "frame_level_dbfs": frames,
            "active_dbfs_threshold": ACTIVE_DBFS,
            "first_active_ms": active[0] * 20 if active else None,
            "last_active_ms": active[-1] * 20 + 20 if active else None,
            "active_frames": len(active),
            "rtcp_ok": self.rtcp_ok,
            "rtcp_failed": self.rtcp_failed,
            "rtcp_types": self.rtcp_types,
            "rtcp_bye": self.rtcp_bye,
            "worker_report": self.worker_report,
            "worker_echoed_our_sr": self.worker_echoed_our_sr,
            "rtt_ms": self.rtt_ms,
        }

    def compare(self, reference):
        """Best normalized cross-correlation of what was received with `reference` (µ-law),
        over lags of -5 to +20 ms (the worker's resampler delays a little)."""
        if not self.payloads:
            return {"correlation": None, "lag_ms": None}
        silence = bytes([ULAW_SILENCE]) * FRAME_SAMPLES
        got = [ulaw_decode(b) for i in range(max(self.payloads) + 1) for b in self.payloads.get(i, silence)]
        ref = [ulaw_decode(b) for b in reference]
        ref_energy = sum(x * x for x in ref)
        best = (-2.0, 0)
        for lag in range(-40, 161):
            a = got[max(0, lag):max(0, lag) + len(ref)]
            b = ref[max(0, -lag):max(0, -lag) + len(a)]
            energy = sum(x * x for x in a)
            if not energy or not ref_energy:
                continue
            c = sum(map(int.__mul__, a, b)) / math.sqrt(energy * ref_energy)
            best = max(best, (c, lag))
        return {"correlation": round(best[0], 4), "lag_ms": best[1] / 8}


def run(args):
    peer = Peer(args)
    audio = read_wav_ulaw(args.wav) if args.wav else b""
    summary = {"ok": False, "failures": peer.failures, "call_id": peer.call_id, "local": {"sip": f"{peer.ip}:{peer.sip_port}", "rtp": f"{peer.ip}:{peer.media_port}", "ssrc": peer.ssrc}}
    try:
        ok = peer.call()
        peer.on_answer(ok)
        peer.send_ack()
        peer.send_media(audio, args.lead_ms // 20)
        if not peer.sip_log["remote_bye"]:
            peer.poll(time.monotonic() + args.drain_ms / 1000)
            peer.bye()
            # The worker's RTCP BYE follows the end of the call.
            until = time.monotonic() + 1.0
            while time.monotonic() < until and not peer.rx.rtcp_bye:
                peer.poll(min(until, time.monotonic() + 0.05))
    except ProtocolFailure as e:
        peer.fail(str(e))
    rx = peer.rx.summary()
    if args.reference:
        rx["reference"] = dict(peer.rx.compare(read_wav_ulaw(args.reference)), file=args.reference)
    summary.update({"sip": peer.sip_log, "answer": peer.answer, "sent": peer.sent, "received": rx})
    if peer.answer is not None and peer.srtp_in is not None:
        checks = [
            (rx["audio_packets"] > 0, "no audio packets received from the worker"),
            (rx["auth_failed"] == 0, f"{rx['auth_failed']} packets from the worker failed SRTP authentication"),
            (rx["replay_failed"] == 0, f"{rx['replay_failed']} packets from the worker were replays"),
            (not rx["other_failed"], f"unprotect errors: {rx['other_failed']}"),
            (rx["rtcp_failed"] == 0, f"{rx['rtcp_failed']} SRTCP packets from the worker failed"),
            (not rx["wrong_pt"], f"unexpected payload types {rx['wrong_pt']}"),
            (rx["ssrc_constant"], f"SSRC changed: {rx['ssrcs']}"),
            (rx["first_marker"] is not False, "first packet from the worker has no marker bit"),
            (rx["ts_errors"] == 0, f"{rx['ts_errors']} timestamp steps other than {FRAME_SAMPLES} per packet"),
            (rx["seq_backwards"] == 0, f"{rx['seq_backwards']} packets out of order or duplicated"),
            (rx["payload_len_errors"] == 0, f"{rx['payload_len_errors']} payloads not {FRAME_SAMPLES} bytes"),
        ]
        for good, what in checks:
            if not good:
                peer.fail(what)
    summary["ok"] = not peer.failures
    return summary


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("worker", metavar="HOST:PORT", help="the worker's SIP UDP address")
    p.add_argument("--wav", help="8 kHz mono WAV (µ-law or 16-bit PCM) to send as the caller's audio")
    p.add_argument("--lead-ms", type=int, default=400, help="silence sent before the WAV (default 400)")
    p.add_argument("--tail-ms", type=int, default=2000, help="silence sent after the WAV (default 2000)")
    p.add_argument("--drain-ms", type=int, default=200, help="wait after the last packet before BYE (default 200)")
    p.add_argument("--bad-srtp", action="store_true", help="interleave tampered, replayed and truncated SRTP/SRTCP")
    p.add_argument("--no-rtcp", action="store_true", help="send no SRTCP")
    p.add_argument("--suites", default="AES_CM_128_HMAC_SHA1_80", help="crypto suites to offer, comma-separated, in order (default AES_CM_128_HMAC_SHA1_80)")
    p.add_argument("--no-record-route", dest="record_route", action="store_false", help="send the INVITE without a Record-Route")
    p.add_argument("--local-ip", default="127.0.0.1", help="address for the SIP and media sockets (default 127.0.0.1)")
    p.add_argument("--sip-port", type=int, default=0, help="local SIP port (default any)")
    p.add_argument("--rtp-port", type=int, default=0, help="local media port (default any even port)")
    p.add_argument("--user", default="ivr", help="user part of the Request-URI (default ivr)")
    p.add_argument("--caller", default="+15551230001", help="user part of From and Contact")
    p.add_argument("--reference", help="8 kHz mono WAV the received audio is expected to start with (a prompt): report the correlation")
    p.add_argument("--compact", action="store_true", help="print the summary on one line")
    args = p.parse_args()
    args.suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    if pylibsrtp is None:
        p.error("pylibsrtp is not installed: python3 -m pip install pylibsrtp")
    for s in args.suites:
        if s not in SUITES:
            p.error(f"unsupported suite {s}; choose from {', '.join(SUITES)}")
    for wav in (args.wav, args.reference):
        try:
            if wav:
                read_wav_ulaw(wav)
        except (OSError, ValueError) as e:
            p.error(str(e))
    summary = run(args)
    print(json.dumps(summary, indent=None if args.compact else 1))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
