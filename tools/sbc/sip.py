"""SIP over UDP for the SBC peer: messages, and the UAC side of its one dialog (RFC 3261)."""
import os
import re
import time

from . import ProtocolFailure

T1 = 0.5  # RFC 3261 timer T1
TIMER_B = 32.0  # INVITE and non-INVITE transaction timeout (64*T1)

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


class Dialog:
    """The SBC's side of the call's dialog: INVITE, ACK and BYE transactions, and the requests
    the worker sends. `poll(until, want_response)` serves the sockets (the peer's) until a
    deadline or a response `want_response` accepts; `fail(what)` records a failure."""

    def __init__(self, sock, worker, args, poll, fail):
        self.sock, self.worker, self.args, self.poll, self.fail = sock, worker, args, poll, fail
        self.ip, self.port = args.local_ip, sock.getsockname()[1]
        self.call_id = f"{os.urandom(8).hex()}@{self.ip}"
        self.from_tag = os.urandom(5).hex()
        self.to_tag = None
        self.cseq = 1
        self.invite_branch = new_branch()
        self.remote_target = None
        self.route_set = []
        self.log = {"invite_responses": [], "bye_responses": [], "requests_received": [], "invite_retransmissions": 0, "ack_sent": 0, "remote_bye": False}

    def common_headers(self, branch, method, cseq, to_tag):
        to = f"<sip:{self.args.user}@{self.worker[0]}:{self.worker[1]}>"
        if to_tag:
            to += f";tag={to_tag}"
        return [
            ("Via", f"SIP/2.0/UDP {self.ip}:{self.port};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f'"SBC peer" <sip:{self.args.caller}@sbc.example.net>;tag={self.from_tag}'),
            ("To", to),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
        ]

    def invite(self, sdp):
        headers = self.common_headers(self.invite_branch, "INVITE", 1, None)
        if self.args.record_route:
            headers.append(("Record-Route", f"<sip:{self.ip}:{self.port};lr>"))
        headers += [
            ("Contact", f"<sip:{self.args.caller}@{self.ip}:{self.port};transport=udp>"),
            ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"),
            ("User-Agent", "attendant-sbc-peer"),
            ("Content-Type", "application/sdp"),
        ]
        return build(f"INVITE sip:{self.args.user}@{self.worker[0]}:{self.worker[1]} SIP/2.0", headers, sdp)

    def in_dialog(self, method, cseq, branch):
        headers = self.common_headers(branch, method, cseq, self.to_tag)
        headers += [("Route", r) for r in self.route_set]
        headers.append(("Contact", f"<sip:{self.args.caller}@{self.ip}:{self.port};transport=udp>"))
        return build(f"{method} {self.remote_target} SIP/2.0", headers)

    def send(self, data):
        self.sock.sendto(data, self.worker)

    def reply(self, req, status, reason):
        names = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq"}
        headers = [(names[n], v) for n, v in req.headers if n in names]
        if req.method != "ACK":
            headers = [(n, v + (f";tag={self.from_tag}" if n == "To" and not tag_of(v) else "")) for n, v in headers]
            self.send(build(f"SIP/2.0 {status} {reason}", headers))

    def on_datagram(self, data):
        """Handles a datagram on the SIP socket; returns the message when it is a response."""
        try:
            msg = Message(data)
        except ValueError as e:
            self.fail(f"unparseable SIP from the worker: {e}")
            return None
        if msg.is_response:
            return msg
        self.log["requests_received"].append(msg.method)
        if msg.method == "BYE":
            self.log["remote_bye"] = True
            self.reply(msg, 200, "OK")
        elif msg.method in ("OPTIONS", "NOTIFY"):
            self.reply(msg, 200, "OK")
        elif msg.method != "ACK":
            self.reply(msg, 501, "Not Implemented")
        return None

    def stray_response(self, msg):
        # A retransmitted 200 to the INVITE means our ACK was lost: ACK again.
        if msg.cseq() == (1, "INVITE") and 200 <= msg.status < 300 and self.remote_target:
            self.send_ack()

    def call(self, offer):
        """INVITE (with the SDP `offer()` makes) until a final response; returns the 2xx."""
        self.send(self.invite(offer()))
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
                    self.send(self.invite(offer()))
                    self.log["invite_retransmissions"] += 1
                    interval = min(interval * 2, 4.0)
                    next_retx = time.monotonic() + interval
                continue
            self.log["invite_responses"].append(f"{msg.status} {msg.reason}")
            if msg.status < 200:
                provisional = True
                continue
            if msg.status >= 300:
                # ACK for a non-2xx final response: same branch, hop by hop (RFC 3261 §17.1.1.3).
                headers = self.common_headers(self.invite_branch, "ACK", 1, tag_of(msg.get("to")))
                self.send(build(f"ACK sip:{self.args.user}@{self.worker[0]}:{self.worker[1]} SIP/2.0", headers))
                self.log["ack_sent"] += 1
                raise ProtocolFailure(f"call refused: {msg.status} {msg.reason}")
            return msg

    def establish(self, ok):
        """The dialog from the 2xx to the INVITE: To tag, remote target, route set."""
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
        ours = f"<sip:{self.ip}:{self.port};lr>"
        self.log.update({
            "to_tag": self.to_tag,
            "remote_target": self.remote_target,
            "route_set": self.route_set,
            "record_route_echoed": ours in record_route if self.args.record_route else None,
        })
        if self.args.record_route and ours not in record_route:
            self.fail(f"200 OK did not echo our Record-Route {ours}: {record_route}")

    def send_ack(self):
        self.send(self.in_dialog("ACK", 1, new_branch()))
        self.log["ack_sent"] += 1

    def bye(self):
        self.cseq += 1
        cseq, branch = self.cseq, new_branch()
        request = self.in_dialog("BYE", cseq, branch)
        self.send(request)
        start = time.monotonic()
        interval, next_retx = T1, start + T1
        is_ours = lambda m: m.cseq() == (cseq, "BYE") and m.branch() == branch
        while time.monotonic() - start < TIMER_B:
            msg = self.poll(min(next_retx, start + TIMER_B), is_ours)
            if msg is None:
                if time.monotonic() >= next_retx:
                    self.send(request)
                    interval = min(interval * 2, 4.0)
                    next_retx = time.monotonic() + interval
                continue
            self.log["bye_responses"].append(f"{msg.status} {msg.reason}")
            if msg.status >= 200:
                self.log["bye_status"] = msg.status
                if msg.status != 200:
                    self.fail(f"BYE answered {msg.status} {msg.reason}")
                return
        self.log["bye_status"] = None
        self.fail("BYE timed out (timer F)")
