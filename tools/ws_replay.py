#!/usr/bin/env python3
"""Replay a WebSocket media sequence (tools/ws_sequences.py) against a server, as ACS, Twilio or
the Graph bot relay would, and summarize what the server sent back.

    tools/ws_replay.py URL SEQUENCE.jsonl [--bearer TOKEN] [--header 'Name: value']...
                       [--correlation-id ID] [--speed F] [--linger-s S] [--concurrent N]
                       [--protocol acs|twilio|relay] [--compact]

Needs PyPI `websockets` (17; tools/test.sh installs it). The sequence is sent in real time, each
message at its `at_ms` from the moment the connection opened (`--speed 10` sends ten times
faster: a flood), while everything the server sends is read concurrently:

- Twilio: the server's `mark` messages are echoed back once the audio queued before them would
  have played (play-out modelled in real time from the `media` messages received), or at once
  when a `clear` empties the queue; that is what Twilio does. The echoes take the next
  `sequenceNumber` and the replayed messages after them are renumbered to follow. The relay's
  {"type":"mark","name"} is echoed the same way.
- Credentials: `--bearer TOKEN`, or a signed token minted here from `--hmac-key` and
  `--hmac-tenant` (`v1.<tenant>.<expiry>.<hex HMAC-SHA256(key, "v1.<tenant>.<expiry>")>`, the
  worker's format), in the Authorization header or with `--token-in-query` as `?token=`.
- ACS `StopAudio` and Twilio `clear` flush the modelled queue.
- A `wait` line (ws_sequences.py `--turn ...@prompt`) holds the rest of the sequence until the
  worker's next prompt has played (audio arrived after the line's `since_ms`, the end of the
  caller's previous turn, then nothing for `quiet_ms`), sending the
  line's silent `fill` frame every 20 ms meanwhile (Twilio sequenceNumber, chunk and
  timestamp, ACS timestamp numbered on from what was sent), then shifts the rest by the wait.

After the sequence the client keeps reading until the server closes or `--linger-s` (default 5)
passes, then closes with 1000. The JSON summary on standard output has: the handshake status if
the upgrade was refused (`handshake_status`, e.g. 401), the close code and reason and who closed
(`close.by`: server or client), what was sent (`sent.sequence_complete` false when the server
closed first), and what was received: counts per outbound kind (`received.counts`: audio
[media / AudioData / binary], clear [clear / StopAudio], mark, callControl, hangup, other) and
per raw kind, total outbound audio ms and the part above -50 dBFS, the times of clears, the mark
names, relay `callControl` and `hangup` messages in full, and the inter-arrival gaps of the
server's audio messages (p50 / p99 / max ms). `--concurrent N` runs N copies at once, each on
its own connection (`@CONN@` in the sequence's text and in header values becomes the copy's
index), and prints `{"connections": [...], "aggregate": {...}}`.

Exit code 0 when every connection opened and ran (whatever the server then did), 1 when a
handshake was refused or a connection failed, 2 for bad arguments.
"""
import argparse
import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import math
import os
import sys
import time
import urllib.parse

try:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
except ImportError:  # pragma: no cover
    sys.exit("PyPI websockets is not installed: python3 -m pip install 'websockets==17.4'")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # g711wav.py sits next to this file
from g711wav import ULAW_DECODE  # noqa: E402

FRAME_MS = 20
AUDIO_KINDS = {"media", "audiodata", "audio"}
CLEAR_KINDS = {"clear", "stopaudio"}
ACTIVE_DBFS = -50.0


def load_sequence(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            m = json.loads(line)
            if m.get("type") not in ("text", "binary", "wait") or not isinstance(m.get("at_ms"), int):
                raise ValueError(f"{path}:{n}: want {{at_ms: int, type: text|binary|wait, ...}}")
            if m["type"] == "wait":
                fill = m.get("fill") or {}
                if fill.get("type") == "binary":
                    fill = {"type": "binary", "data": base64.b64decode(fill["data"])}
                out.append((m["at_ms"], "wait", {**m, "fill": fill}))
                continue
            data = m["data"] if m["type"] == "text" else base64.b64decode(m["data"])
            out.append((m["at_ms"], m["type"], data))
    return out


def ci_get(obj, key):
    """obj[key] with the key matched ignoring ASCII case (ACS is PascalCase or camelCase)."""
    if not isinstance(obj, dict):
        return None
    if key in obj:
        return obj[key]
    low = key.lower()
    for k, v in obj.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return None


def detect_protocol(url, sequence):
    for name in ("acs", "twilio", "relay"):
        if f"/{name}" in url.split("?")[0]:
            return name
    for _, kind, data in sequence:
        if kind == "text":
            try:
                obj = json.loads(data)
            except ValueError:
                continue
            if ci_get(obj, "kind") is not None:
                return "acs"
            if "event" in obj:
                return "twilio"
            if "type" in obj:
                return "relay"
    return "relay"


def acs_rate(sequence):
    for _, kind, data in sequence:
        if kind == "text":
            try:
                obj = json.loads(data)
            except ValueError:
                continue
            if str(ci_get(obj, "kind")).lower() == "audiometadata":
                rate = ci_get(ci_get(obj, "audioMetadata"), "sampleRate")
                if isinstance(rate, int) and rate > 0:
                    return rate
    return 16000


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return round(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo), 2)


def gap_stats(times_ms):
    gaps = sorted(b - a for a, b in zip(times_ms, times_ms[1:]))
    if not gaps:
        return {"count": 0, "p50": None, "p99": None, "max": None}
    return {"count": len(gaps), "p50": percentile(gaps, 50), "p99": percentile(gaps, 99), "max": round(gaps[-1], 2)}


class Playout:
    """The peer's playback queue in real time: what has been queued plays from when it arrived."""

    def __init__(self, clock):
        self.clock = clock
        self.until = 0.0  # when the last queued audio ends (clock seconds)

    def queue(self, seconds):
        self.until = max(self.until, self.clock()) + seconds

    def flush(self):
        self.until = self.clock()


class Replay:
    def __init__(self, args, index, sequence):
        self.args, self.index = args, index
        self.sequence = sequence
        self.protocol = args.protocol or detect_protocol(args.url, sequence)
        self.rate = acs_rate(sequence) if self.protocol == "acs" else (8000 if self.protocol == "twilio" else 16000)
        self.loop = None
        self.t0 = None
        self.ws = None
        self.playout = Playout(self.now)
        self.pending_marks = []  # (play-out time, task)
        # Numbering of what is sent after fill frames and mark echoes (see renumber()).
        self.seq_offset = 0
        self.last_seq = 0
        self.chunk_offset = 0
        self.ts_offset_ms = 0
        self.last_chunk = 0
        self.last_ts_ms = 0
        self.acs_last_ts = None
        self.stream_sid = None
        self.shift = 0.0  # seconds the sequence has been held back by waits
        self.last_audio_at = None
        self.summary = {
            "connection": index, "url": args.url, "protocol": self.protocol, "opened": False, "handshake_status": None,
            "handshake_body": None, "error": None, "close": {"code": None, "reason": None, "by": None},
            "duration_ms": None,
            "sent": {"messages": 0, "text": 0, "binary": 0, "marks_echoed": 0, "fill": 0, "of": len(sequence),
                     "sequence_complete": False, "last_at_ms": None, "waits": []},
            "received": {"messages": 0, "counts": {k: 0 for k in ("audio", "clear", "mark", "callControl", "hangup", "other")},
                         "kinds": {}, "audio_ms": 0.0, "audio_active_ms": 0.0, "first_audio_ms": None, "first_active_ms": None,
                         "clears_at_ms": [], "marks": [], "call_control": [], "hangup": [], "other": [], "not_json": 0,
                         "gaps_ms": None},
        }
        self.audio_times = []

    def now(self):
        return self.loop.time()

    def ms(self):
        return round((self.now() - self.t0) * 1000, 1)

    def sub(self, text):
        return text.replace("@CONN@", str(self.index)) if "@CONN@" in text else text

    # -- sending ----------------------------------------------------------------------------

    def renumber(self, text):
        """The replayed message with the numbering it has after the mark echoes and fill frames
        sent so far: Twilio sequenceNumber (and media chunk and timestamp), ACS timestamp."""
        if self.protocol == "acs":
            return self.acs_retime(text)
        if self.protocol != "twilio" or '"sequenceNumber"' not in text:
            return text
        try:
            obj = json.loads(text)
            n = int(obj["sequenceNumber"])
        except (ValueError, KeyError, TypeError):
            return text
        changed = False
        if self.seq_offset:
            obj["sequenceNumber"] = str(n + self.seq_offset)
            changed = True
        media = obj.get("media") if obj.get("event") == "media" else None
        if isinstance(media, dict):
            try:
                chunk, ts = int(media["chunk"]) + self.chunk_offset, int(media["timestamp"]) + self.ts_offset_ms
            except (KeyError, TypeError, ValueError):
                chunk = ts = None
            if chunk is not None:
                if self.chunk_offset or self.ts_offset_ms:
                    media["chunk"], media["timestamp"] = str(chunk), str(ts)
                    changed = True
                self.last_chunk, self.last_ts_ms = max(self.last_chunk, chunk), max(self.last_ts_ms, ts)
        if changed:
            text = json.dumps(obj, separators=(",", ":"))
        self.last_seq = max(self.last_seq, n + self.seq_offset)
        if self.stream_sid is None and isinstance(obj.get("streamSid"), str):
            self.stream_sid = obj["streamSid"]
        return text

    def acs_retime(self, text, fill=False):
        """ACS AudioData: the timestamp moved on by the fill sent so far (a fill frame: 20 ms after
        the last one sent)."""
        if "timestamp" not in text.lower():
            return text
        try:
            obj = json.loads(text)
            data = ci_get(obj, "audioData")
            key = next(k for k in data if k.lower() == "timestamp")
            ts = datetime.datetime.fromisoformat(data[key].replace("Z", "+00:00"))
        except (ValueError, TypeError, StopIteration, AttributeError):
            return text
        if fill:
            ts = (self.acs_last_ts or ts) + datetime.timedelta(milliseconds=FRAME_MS)
            self.ts_offset_ms += FRAME_MS
        else:
            ts += datetime.timedelta(milliseconds=self.ts_offset_ms)
        self.acs_last_ts = max(self.acs_last_ts or ts, ts)
        if not fill and not self.ts_offset_ms:
            return text
        data[key] = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
        return json.dumps(obj, separators=(",", ":"))

    def fill_frame(self, fill):
        """One silent frame for a wait, numbered after what was sent before it."""
        if fill.get("type") == "binary":
            return fill["data"]
        text = fill.get("data", "")
        if self.protocol == "acs":
            return self.acs_retime(text, fill=True)
        if self.protocol == "twilio":
            obj = json.loads(text)
            self.seq_offset += 1
            self.last_seq += 1
            self.chunk_offset += 1
            self.ts_offset_ms += FRAME_MS
            self.last_chunk += 1
            self.last_ts_ms += FRAME_MS
            obj["sequenceNumber"] = str(self.last_seq)
            obj["media"]["chunk"], obj["media"]["timestamp"] = str(self.last_chunk), str(self.last_ts_ms)
            return json.dumps(obj, separators=(",", ":"))
        return text

    async def wait_for_prompt(self, at_ms, wait):
        """Holds the sequence until the worker's next prompt has played (see ws_sequences.py),
        sending the fill frame every 20 ms; the sequence after it is shifted by the time taken."""
        started = self.now()
        # The prompt is audio that arrived after the caller's previous turn ended.
        since = self.t0 + self.shift + wait.get("since_ms", at_ms) / 1000 / self.args.speed
        quiet = wait.get("quiet_ms", 1000) / 1000
        limit = started + wait.get("max_ms", 45000) / 1000
        prompt_seen = wait.get("for") != "prompt"
        next_fill = started
        while True:
            now = self.now()
            if not prompt_seen and self.last_audio_at is not None and self.last_audio_at >= since:
                prompt_seen = True
            if prompt_seen and self.playout.until <= now and (self.last_audio_at is None or now - self.last_audio_at >= quiet):
                break
            if now >= limit:
                break
            if wait.get("fill"):
                await self.ws.send(self.fill_frame(wait["fill"]))
                self.summary["sent"]["fill"] += 1
            next_fill += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, next_fill - self.now()))
        waited = self.now() - started
        self.shift += waited
        self.summary["sent"]["waits"].append({"at_ms": at_ms, "waited_ms": round(waited * 1000), "prompt_seen": prompt_seen,
                                              "timed_out": self.now() >= limit})

    async def send_sequence(self):
        sent = self.summary["sent"]
        speed = self.args.speed
        for at_ms, kind, data in self.sequence:
            delay = self.t0 + self.shift + at_ms / 1000 / speed - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            if kind == "wait":
                await self.wait_for_prompt(at_ms, data)
                continue
            payload = self.renumber(self.sub(data)) if kind == "text" else data
            await self.ws.send(payload)
            sent["messages"] += 1
            sent[kind] += 1
            sent["last_at_ms"] = at_ms
        sent["sequence_complete"] = True

    async def echo_mark(self, name, at):
        delay = at - self.now()
        if delay > 0:
            await asyncio.sleep(delay)
        if self.protocol == "relay":
            msg = {"type": "mark", "name": name}
        else:
            self.seq_offset += 1
            self.last_seq += 1
            msg = {"event": "mark", "sequenceNumber": str(self.last_seq), "streamSid": self.stream_sid, "mark": {"name": name}}
        try:
            await self.ws.send(json.dumps(msg, separators=(",", ":")))
            self.summary["sent"]["marks_echoed"] += 1
        except ConnectionClosed:
            pass

    # -- receiving --------------------------------------------------------------------------

    def audio(self, pcm_seconds, level_dbfs):
        r = self.summary["received"]
        t = self.ms()
        r["counts"]["audio"] += 1
        r["audio_ms"] = round(r["audio_ms"] + pcm_seconds * 1000, 1)
        if r["first_audio_ms"] is None:
            r["first_audio_ms"] = t
        if level_dbfs > ACTIVE_DBFS:
            r["audio_active_ms"] = round(r["audio_active_ms"] + pcm_seconds * 1000, 1)
            if r["first_active_ms"] is None:
                r["first_active_ms"] = t
        self.audio_times.append(t)
        self.last_audio_at = self.now()
        self.playout.queue(pcm_seconds)

    def clear(self):
        r = self.summary["received"]
        r["counts"]["clear"] += 1
        r["clears_at_ms"].append(self.ms())
        self.playout.flush()
        # Twilio returns every mark still queued when the queue is cleared, at once.
        now, keep = self.now(), []
        for at, task in self.pending_marks:
            if not task.done() and at > now:
                task.cancel()
                keep.append((now, self.spawn_mark(task.mark_name, now)))
            else:
                keep.append((at, task))
        self.pending_marks = keep

    def spawn_mark(self, name, at):
        task = asyncio.ensure_future(self.echo_mark(name, at))
        task.mark_name = name
        return task

    def on_text(self, text):
        r = self.summary["received"]
        try:
            obj = json.loads(text)
        except ValueError:
            r["not_json"] += 1
            r["counts"]["other"] += 1
            if len(r["other"]) < 5:
                r["other"].append(text[:300])
            return
        kind = None
        for key in ("event", "kind", "type"):
            value = ci_get(obj, key)
            if isinstance(value, str):
                kind = value
                break
        kind = kind or "?"
        r["kinds"][kind] = r["kinds"].get(kind, 0) + 1
        low = kind.lower()
        if low in AUDIO_KINDS:
            self.on_json_audio(obj)
        elif low in CLEAR_KINDS:
            self.clear()
        elif low == "mark":
            r["counts"]["mark"] += 1
            name = ci_get(ci_get(obj, "mark"), "name") or ci_get(obj, "name")
            r["marks"].append(name)
            if self.protocol in ("twilio", "relay") and not self.args.no_mark_echo:
                at = max(self.playout.until, self.now())
                self.pending_marks.append((at, self.spawn_mark(name, at)))
        elif low == "callcontrol":
            r["counts"]["callControl"] += 1
            r["call_control"].append(obj)
        elif low == "hangup":
            r["counts"]["hangup"] += 1
            r["hangup"].append(obj)
        else:
            r["counts"]["other"] += 1
            if len(r["other"]) < 5:
                r["other"].append(obj)

    def on_json_audio(self, obj):
        if self.protocol == "twilio":
            payload = ci_get(ci_get(obj, "media"), "payload")
            raw = self.b64(payload)
            samples = [ULAW_DECODE[b] for b in raw]
            self.audio(len(raw) / 8000, level(samples))
        else:
            payload = ci_get(ci_get(obj, "audioData"), "data")
            raw = self.b64(payload)
            n = len(raw) // 2
            samples = memoryview(raw[:n * 2]).cast("h") if n else []
            self.audio(n / self.rate, level(samples))

    def b64(self, payload):
        try:
            return base64.b64decode(payload or "", validate=True)
        except (ValueError, TypeError):
            self.summary["received"]["other"].append("audio message with a payload that is not base64")
            return b""

    def on_binary(self, data):
        r = self.summary["received"]
        r["kinds"]["binary"] = r["kinds"].get("binary", 0) + 1
        n = len(data) // 2
        self.audio(n / 16000, level(memoryview(data[:n * 2]).cast("h") if n else []))

    async def receive(self):
        async for message in self.ws:
            self.summary["received"]["messages"] += 1
            if isinstance(message, str):
                self.on_text(message)
            else:
                self.on_binary(message)

    # -- the connection ---------------------------------------------------------------------

    def token(self):
        if self.args.hmac_key:
            expires = int(time.time()) + self.args.hmac_expires_in
            signed = f"v1.{self.args.hmac_tenant}.{expires}"
            digest = hmac.new(self.args.hmac_key.encode(), signed.encode(), hashlib.sha256).hexdigest()
            return f"{signed}.{digest}"
        return self.sub(self.args.bearer) if self.args.bearer else None

    def url(self):
        url = self.sub(self.args.url)
        token = self.token()
        if token and self.args.token_in_query:
            url += ("&" if "?" in url else "?") + "token=" + urllib.parse.quote(token, safe="")
        return url

    def headers(self):
        h = []
        token = self.token()
        if token and not self.args.token_in_query:
            h.append(("Authorization", f"Bearer {token}"))
        if self.args.correlation_id:
            h.append(("x-ms-call-correlation-id", self.sub(self.args.correlation_id)))
        if self.args.connection_id:
            h.append(("x-ms-call-connection-id", self.sub(self.args.connection_id)))
        for spec in self.args.header:
            name, sep, value = spec.partition(":")
            if not sep:
                raise SystemExit(f"--header {spec!r}: want 'Name: value'")
            h.append((name.strip(), self.sub(value.strip())))
        return h

    async def run(self):
        self.loop = asyncio.get_running_loop()
        started = time.monotonic()
        s = self.summary
        try:
            self.ws = await connect(self.url(), additional_headers=self.headers(), compression=None, proxy=None,
                                    max_size=None, ping_interval=None, open_timeout=self.args.open_timeout,
                                    close_timeout=5, user_agent_header="attendant-ws-replay")
        except InvalidStatus as e:
            s["handshake_status"] = e.response.status_code
            s["handshake_body"] = (e.response.body or b"")[:300].decode("utf-8", "replace")
            s["error"] = f"handshake refused: {e}"
            return s
        except (InvalidHandshake, OSError, asyncio.TimeoutError) as e:
            s["error"] = f"connect failed: {type(e).__name__}: {e}"
            return s
        s["opened"] = True
        self.t0 = self.now()
        receiver = asyncio.ensure_future(self.receive())
        sender = asyncio.ensure_future(self.send_sequence())
        try:
            done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done and not receiver.done():
                # The sequence is sent: keep reading (and echoing marks) until the server closes.
                await asyncio.wait({receiver}, timeout=self.args.linger_s)
            for task in (sender, receiver):
                if task.done() and not task.cancelled() and task.exception() is not None:
                    exc = task.exception()
                    if not isinstance(exc, ConnectionClosed):
                        s["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            for _, task in self.pending_marks:
                task.cancel()
            sender.cancel()
            await self.ws.close(1000, "replay done")
            receiver.cancel()
            await asyncio.gather(sender, receiver, *[t for _, t in self.pending_marks], return_exceptions=True)
        rcvd, sent = self.ws.protocol.close_rcvd, self.ws.protocol.close_sent
        rcvd_first = self.ws.protocol.close_rcvd_then_sent
        if rcvd is not None and (sent is None or rcvd_first):
            s["close"] = {"code": rcvd.code, "reason": rcvd.reason, "by": "server"}
        elif sent is not None:
            s["close"] = {"code": sent.code, "reason": sent.reason, "by": "client",
                          "server_code": rcvd.code if rcvd else None}
        else:
            s["close"] = {"code": 1006, "reason": "connection lost without a close frame", "by": "server"}
        s["duration_ms"] = round((time.monotonic() - started) * 1000)
        s["received"]["gaps_ms"] = gap_stats(self.audio_times)
        return s


def level(samples):
    """RMS level in dBFS of 16-bit samples (-120 for silence or nothing)."""
    n = len(samples)
    if not n:
        return -120.0
    energy = sum(v * v for v in samples) / n
    return 10 * math.log10(energy / 32768 ** 2) if energy > 0 else -120.0


def aggregate(summaries):
    times_gaps = [s["received"]["gaps_ms"] for s in summaries if s["received"]["gaps_ms"] and s["received"]["gaps_ms"]["count"]]
    closes = {}
    for s in summaries:
        key = str(s["close"]["code"]) if s["opened"] else f"refused {s['handshake_status']}" if s["handshake_status"] else "failed"
        closes[key] = closes.get(key, 0) + 1
    counts = {}
    for s in summaries:
        for k, v in s["received"]["counts"].items():
            counts[k] = counts.get(k, 0) + v
    return {
        "connections": len(summaries), "opened": sum(s["opened"] for s in summaries), "closes": closes, "counts": counts,
        "audio_ms": round(sum(s["received"]["audio_ms"] for s in summaries), 1),
        "gap_p50_ms_worst": max((g["p50"] for g in times_gaps), default=None),
        "gap_p99_ms_worst": max((g["p99"] for g in times_gaps), default=None),
        "gap_max_ms": max((g["max"] for g in times_gaps), default=None),
    }


async def run_all(args, sequence):
    async def one(i):
        if args.stagger_ms:
            await asyncio.sleep(i * args.stagger_ms / 1000)
        return await Replay(args, i, sequence).run()
    return await asyncio.gather(*(one(i) for i in range(args.concurrent)))


def parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("url", help="ws://host:port/v1/media/acs (twilio, relay)")
    ap.add_argument("sequence", help="JSONL from tools/ws_sequences.py")
    ap.add_argument("--protocol", choices=["acs", "twilio", "relay"], help="default: from the URL, else the sequence")
    ap.add_argument("--bearer", help="Authorization: Bearer TOKEN")
    ap.add_argument("--hmac-key", help="mint a signed media token v1.<tenant>.<expiry>.<hex HMAC-SHA256> with this key")
    ap.add_argument("--hmac-tenant", help="the tenant named in the signed token")
    ap.add_argument("--hmac-expires-in", type=int, default=300, metavar="S", help="signed token lifetime (negative: expired)")
    ap.add_argument("--token-in-query", action="store_true", help="send the token as ?token= instead of the header")
    ap.add_argument("--correlation-id", help="x-ms-call-correlation-id")
    ap.add_argument("--connection-id", help="x-ms-call-connection-id")
    ap.add_argument("--header", action="append", default=[], metavar="'Name: value'")
    ap.add_argument("--speed", type=float, default=1.0, help="pace factor: 10 sends ten times faster than real time")
    ap.add_argument("--linger-s", type=float, default=5.0, help="read this long after the sequence (default 5)")
    ap.add_argument("--open-timeout", type=float, default=10.0, help="handshake timeout, seconds")
    ap.add_argument("--concurrent", type=int, default=1, metavar="N", help="N copies at once, one connection each")
    ap.add_argument("--stagger-ms", type=int, default=0, help="start copy i after i times this")
    ap.add_argument("--no-mark-echo", action="store_true", help="never echo Twilio marks")
    ap.add_argument("--compact", action="store_true", help="one-line JSON")
    return ap


def main(argv=None):
    args = parser().parse_args(argv)
    if args.speed <= 0 or args.concurrent < 1:
        parser().error("--speed must be > 0 and --concurrent >= 1")
    if bool(args.hmac_key) != bool(args.hmac_tenant):
        parser().error("--hmac-key and --hmac-tenant go together")
    try:
        sequence = load_sequence(args.sequence)
    except (OSError, ValueError) as e:
        parser().error(str(e))
    summaries = asyncio.run(run_all(args, sequence))
    out = summaries[0] if args.concurrent == 1 else {"connections": summaries, "aggregate": aggregate(summaries)}
    print(json.dumps(out, indent=None if args.compact else 2))
    return 0 if all(s["opened"] and not s["error"] for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
