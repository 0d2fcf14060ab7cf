"""The SBC peer's call: its SIP and media sockets, and one call from INVITE to BYE."""
import os
import select
import socket
import time

from g711wav import read_wav_ulaw

from . import ProtocolFailure, pylibsrtp, report, sdp
from .receiver import Receiver
from .sender import Sender
from .sip import Dialog


class Peer:
    def __init__(self, args):
        self.args = args
        host, _, port = args.worker.rpartition(":")
        self.worker = (socket.gethostbyname(host.strip("[]") or "127.0.0.1"), int(port))
        self.ip = args.local_ip
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((self.ip, args.sip_port))
        self.media, self.media_port = self.bind_media(args.rtp_port)
        self.failures = []
        self.dialog = Dialog(self.sip, self.worker, args, self.poll, self.fail)
        self.suites = args.suites
        self.keys = {i + 1: os.urandom(30) for i in range(len(self.suites))}
        self.answer = None
        self.rx = Receiver()
        self.tx = Sender(self.media, args, self.ip, self.rx)

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
                    self.rx.on_datagram(data, addr)
                    continue
                msg = self.dialog.on_datagram(data)
                if msg is None:
                    continue
                if want_response and want_response(msg):
                    return msg
                self.dialog.stray_response(msg)

    def offer(self):
        return sdp.offer(self.ip, self.media_port, self.suites, self.keys)

    def on_answer(self, ok):
        """The 2xx to the INVITE: the dialog, the SDP answer checked, SRTP both ways."""
        self.dialog.establish(ok)
        if not (ok.get("content-type") or "").lower().startswith("application/sdp"):
            raise ProtocolFailure(f"200 OK has no SDP answer (Content-Type {ok.get('content-type')!r})")
        self.answer = sdp.read_answer(ok.body)
        tag, suite, key = sdp.check_answer(self.answer, self.suites, self.keys, self.fail)
        profile = getattr(pylibsrtp.Policy, sdp.SUITES[suite])
        srtp_out = pylibsrtp.Session(pylibsrtp.Policy(key=self.keys[tag], ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
        srtp_in = pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
        self.tx.start(srtp_out, 10 if suite.endswith("_80") else 4, (self.answer["address"], self.answer["port"]))
        self.rx.start(srtp_in, self.answer, self.tx.ssrc, self.tx.srs_sent)


def run(args):
    """Places the call; returns the JSON summary."""
    peer = Peer(args)
    dialog = peer.dialog
    audio = read_wav_ulaw(args.wav) if args.wav else b""
    summary = {"ok": False, "failures": peer.failures, "call_id": dialog.call_id, "local": {"sip": f"{peer.ip}:{dialog.port}", "rtp": f"{peer.ip}:{peer.media_port}", "ssrc": peer.tx.ssrc}}
    hung_up = lambda: dialog.log["remote_bye"]
    try:
        ok = dialog.call(peer.offer)
        peer.on_answer(ok)
        dialog.send_ack()
        sent = peer.tx.stream(audio, args.lead_ms // 20, peer.poll, hung_up)
        if sent is not None:
            peer.fail(f"the worker hung up after {sent} packets")
        if not hung_up():
            peer.poll(time.monotonic() + args.drain_ms / 1000)
            dialog.bye()
            # The worker's RTCP BYE follows the end of the call.
            until = time.monotonic() + 1.0
            while time.monotonic() < until and not peer.rx.rtcp_bye:
                peer.poll(min(until, time.monotonic() + 0.05))
    except ProtocolFailure as e:
        peer.fail(str(e))
    rx = report.summary(peer.rx)
    if args.reference:
        rx["reference"] = dict(report.compare(peer.rx, read_wav_ulaw(args.reference)), file=args.reference)
    summary.update({"sip": dialog.log, "answer": peer.answer, "sent": peer.tx.sent, "received": rx})
    if peer.answer is not None and peer.rx.srtp is not None:
        for what in report.failures(rx):
            peer.fail(what)
    summary["ok"] = not peer.failures
    return summary
