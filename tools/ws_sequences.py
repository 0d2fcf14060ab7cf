#!/usr/bin/env python3
"""Build WebSocket media message sequences from fixture WAVs, for tools/ws_replay.py.

    tools/ws_sequences.py PROTOCOL WAV [-o OUT.jsonl] [options]

PROTOCOL is `acs` (Azure Communication Services media streaming), `twilio` (Twilio Media
Streams) or `relay` (the Graph media bot relay, docs/relay-protocol.md). WAV is a path, or a
fixture path under testdata/ (`assistant/calls/billing-digits-yes.wav`). The output is JSON
lines, one message per line, in sending order:

    {"at_ms": 0, "type": "text", "data": "{\\"kind\\":\\"AudioMetadata\\", ...}"}
    {"at_ms": 20, "type": "binary", "data": "<base64 of the frame>"}

`at_ms` is when the message is sent, from the moment the connection is open. A summary (message
counts, duration, where each utterance was placed) is printed to standard output when `-o` is
given, to standard error otherwise.

The call: `--lead-ms` of silence, then the WAV (or, with `--utterance-at`, each of its
utterances at the given call times; `--utterances N` keeps the first N, `--pick 3` only the
third), then `--tail-silence-ms` of silence so the endpointer and
the dialogue's prompts have time after the last word. Utterances are the WAV's turns in
testdata/fixtures.json (padded 150 ms before and 250 ms after), else found by level. Audio goes
out as 20 ms frames in real time:

- acs: AudioMetadata, then AudioData every 20 ms (base64 s16le at `--rate` 16000 or 24000,
  ISO 8601 timestamp, participantRawID, `silent` true for all-zero frames); DtmfData for
  `--dtmf-at`. `--unmixed` adds a second participant (`--second-id`) whose AudioData frames
  (low-level noise, or `--second-wav`) are interleaved with the caller's. `--pascal-case` writes
  every key in PascalCase (Kind, AudioData, Data, ...), as Microsoft's samples do.
- twilio: connected, start (streamSid, callSid, customParameters, mediaFormat audio/x-mulaw
  8000 1), media every 20 ms (sequenceNumber, chunk and timestamp as strings, 160 bytes of
  µ-law), dtmf, stop. The `mark` replies are the client's (ws_replay.py echoes the server's).
- relay: {"type":"start","version":1,"callId","from","to","format":{"encoding":"L16",
  "sampleRate":16000,"channels":1}} (and tenantId, token, custom when given), binary frames of
  640 bytes (s16le 16 kHz mono, 20 ms), {"type":"dtmf","digit"}, {"type":"hangup","reason"}.

`--turn` scripts the caller instead, in order: `--turn say@4000 --turn keys=55123456@prompt
--turn say@prompt` says the first utterance 4 s into the call (over the greeting or menu), keys
the digits once the worker's next prompt has played, then says the next utterance after the
prompt after that. `@prompt` writes a wait line,
    {"at_ms": 9140, "type": "wait", "for": "prompt", "since_ms": 8960, "quiet_ms": 1000,
     "max_ms": 45000, "fill": {"type": "text", "data": "<a silent audio message>"}}
at which ws_replay.py holds the rest of the sequence until audio from the worker has arrived
after `since_ms` (the end of the previous utterance, the last key) and then stopped for
`quiet_ms` (or `max_ms` passed), sending the fill (renumbered) every 20
ms meanwhile, and shifts everything after by the time waited: a caller who answers when asked,
however long the worker took to ask.

`--case` turns the call into a malformed or out-of-order one, the problem at `--case-at` ms:
  media-before-start  audio before the message that starts the stream (AudioMetadata / start)
  invalid-json        a text message that is not JSON
  bad-base64          an audio message whose payload is not base64
  unknown-event       a well-formed message of a kind the protocol does not have
  binary-on-json      a binary message on a JSON protocol (acs, twilio)
  oversized           a 1 MiB message (`--oversize-bytes`)
  bad-frame           relay: a binary frame of 641 bytes
  duplicate           acs/twilio: one audio message sent twice (same timestamp / sequenceNumber)
  gap                 acs/twilio: timestamps (and Twilio sequence numbers and chunks) jump by
                      `--gap-ms` with no audio lost
  flood               `--flood-ms` of audio sent at once, faster than real time
`duplicate` and `gap` must not end the call; the others should.

Resampling (8 kHz fixtures to 16/24 kHz) is a windowed-sinc polyphase filter in plain Python
(numpy is not needed): 16 taps per phase, Blackman window, cutoff at 92% of the lower Nyquist.
µ-law comes from tools/g711wav.py (the G.711 tables; no audioop, which Python 3.13 dropped).
"""
import argparse
import base64
import datetime
import json
import math
import os
import random
import struct
import sys
from math import gcd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # g711wav.py sits next to this file
from g711wav import ULAW_DECODE, WAVE_ALAW, WAVE_PCM, WAVE_ULAW, ALAW_DECODE, ulaw_encode  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAME_MS = 20
CASES = ["media-before-start", "invalid-json", "bad-base64", "unknown-event", "binary-on-json", "oversized",
         "bad-frame", "duplicate", "gap", "flood"]
DTMF_KEYS = set("0123456789*#ABCD")


# ---- audio ---------------------------------------------------------------------------------

class Audio:
    """A mono recording: 16-bit samples at `rate`, and its µ-law bytes when it is 8 kHz µ-law."""

    def __init__(self, samples, rate, ulaw=None):
        self.samples, self.rate, self.ulaw = samples, rate, ulaw


def read_wav(path):
    """Mono 16-bit PCM, µ-law or A-law at any rate (stereo is averaged)."""
    with open(path, "rb") as f:
        data = f.read()
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
    if fmt is None or body is None or len(fmt) < 16:
        raise ValueError(f"{path}: no usable fmt or data chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == 0xFFFE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
    if (tag, bits) == (WAVE_ULAW, 8):
        samples = [ULAW_DECODE[b] for b in body]
    elif (tag, bits) == (WAVE_ALAW, 8):
        samples = [ALAW_DECODE[b] for b in body]
    elif (tag, bits) == (WAVE_PCM, 16):
        samples = list(struct.unpack(f"<{len(body) // 2}h", body[:len(body) // 2 * 2]))
    else:
        raise ValueError(f"{path}: format tag {tag} with {bits} bits; need 16-bit PCM, µ-law or A-law")
    if channels > 1:
        samples = [sum(samples[i:i + channels]) // channels for i in range(0, len(samples) - channels + 1, channels)]
    ulaw = bytes(body) if (tag, rate, channels) == (WAVE_ULAW, 8000, 1) else None
    return Audio(samples, rate, ulaw)


def _blackman(x):
    """Blackman window over x in [-1, 1]."""
    return 0.42 + 0.5 * math.cos(math.pi * x) + 0.08 * math.cos(2 * math.pi * x)


def resample(x, rate_in, rate_out, half=8):
    """Windowed-sinc polyphase resampling (2*half taps per output sample), no delay."""
    if rate_in == rate_out:
        return list(x)
    g = gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    cutoff = 0.92 * min(1.0, rate_out / rate_in)  # of the input's Nyquist
    phases = []
    for p in range(up):
        frac = p / up  # output position past the input sample just before it
        w = []
        for k in range(-half + 1, half + 1):
            t = frac - k
            s = cutoff * (1.0 if t == 0 else math.sin(math.pi * cutoff * t) / (math.pi * cutoff * t))
            w.append(s * _blackman(t / half) if abs(t) < half else 0.0)
        total = sum(w)
        phases.append([v / total for v in w])
    padded = [0] * half + list(x) + [0] * half
    n_out = len(x) * up // down
    out = []
    for n in range(n_out):
        i, p = divmod(n * down, up)
        # taps at input samples i-half+1 .. i+half, i.e. padded[i+1 .. i+2*half]
        acc = sum(map(float.__mul__, phases[p], map(float, padded[i + 1:i + 1 + 2 * half])))
        out.append(max(-32768, min(32767, int(round(acc)))))
    return out


def find_utterances(audio, threshold_dbfs=-40.0, merge_ms=600):
    """(start, end) sample ranges of speech by 20 ms frame level, gaps under merge_ms bridged."""
    n = audio.rate * FRAME_MS // 1000
    limit = 32768 * 10 ** (threshold_dbfs / 20)
    loud = []
    for i in range(0, len(audio.samples) - n + 1, n):
        frame = audio.samples[i:i + n]
        loud.append(math.sqrt(sum(s * s for s in frame) / n) > limit)
    spans, start = [], None
    for f, on in enumerate(loud + [False]):
        if on and start is None:
            start = f
        elif not on and start is not None:
            spans.append([start, f])
            start = None
    merged = []
    for s, e in spans:
        if merged and (s - merged[-1][1]) * FRAME_MS < merge_ms:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s * n, e * n) for s, e in merged]


def fixture_turns(wav_path):
    """The fixture's turns (ms) from testdata/fixtures.json, or None."""
    try:
        with open(os.path.join(ROOT, "testdata/fixtures.json")) as f:
            files = json.load(f)["files"]
    except (OSError, ValueError, KeyError):
        return None
    real = os.path.realpath(wav_path)
    for entry in files:
        if os.path.realpath(os.path.join(ROOT, "testdata", entry["path"])) == real and entry.get("turns"):
            return [(t["start_ms"], t["end_ms"]) for t in entry["turns"]]
    return None


def utterances(audio, wav_path, pad_before_ms=150, pad_after_ms=250):
    """Utterances as (start, end) sample ranges: the fixture's turns padded, else by level."""
    ms = audio.rate // 1000
    turns = fixture_turns(wav_path)
    if turns:
        spans = [(s * ms, e * ms) for s, e in turns]
    else:
        spans = find_utterances(audio)
    out = []
    for i, (s, e) in enumerate(spans):
        lo = max(0, s - pad_before_ms * ms, out[-1][1] if out else 0)
        hi = min(len(audio.samples), e + pad_after_ms * ms)
        if i + 1 < len(spans):
            hi = min(hi, (e + spans[i + 1][0]) // 2)
        out.append((lo, hi))
    return out


# ---- the call's audio ----------------------------------------------------------------------

def select_spans(audio, args):
    """The WAV's utterances the call uses: `--pick` ones, else the first `--utterances`, else all."""
    spans = utterances(audio, args.wav_path)
    if args.pick:
        bad = [i for i in args.pick if not 1 <= i <= len(spans)]
        if bad:
            raise SystemExit(f"--pick {bad}: {args.wav_path} has utterances 1 to {len(spans)}")
        return [spans[i - 1] for i in args.pick]
    return spans[:args.utterances or None]


def frame_ceil(ms):
    return -(-ms // FRAME_MS) * FRAME_MS


class Plan:
    """Where the caller's audio goes (placements: call ms, source start, end), the keys
    (dtmf: ms, digit), the points where the replay waits for the worker's next prompt, and the
    call's end (ms). Times are nominal: as if every wait were over at once."""

    def __init__(self, audio, args):
        ms = audio.rate // 1000
        self.placements, self.dtmf, self.waits = [], [], []  # waits: (ms, since ms)
        if args.turn:
            spans, t, since = select_spans(audio, args), 0, 0
            for spec in args.turn:
                what, _, when = spec.partition("@")
                when = when or "prompt"
                if when == "prompt":
                    w = frame_ceil(t + 100)
                    self.waits.append((w, since))
                    start = w + args.after_prompt_ms
                elif when.startswith("+") and when[1:].isdigit():
                    start = t + int(when[1:])
                elif when.isdigit() and int(when) >= t:
                    start = int(when)
                else:
                    raise SystemExit(f"--turn {spec!r}: want say|keys=DIGITS, then @MS (not before the previous turn's end, {t} ms), "
                                     "@+MS or @prompt")
                if what == "say":
                    if not spans:
                        raise SystemExit(f"--turn {spec!r}: no utterance left in {args.wav_path}")
                    s, e = spans.pop(0)
                    self.placements.append((start, s, e))
                    t = since = start + (e - s) // ms
                elif what.startswith("keys=") and what[5:] and all(d in DTMF_KEYS for d in what[5:]):
                    digits = what[5:]
                    self.dtmf += [(start + i * args.dtmf_interval_ms, d) for i, d in enumerate(digits)]
                    since = start + (len(digits) - 1) * args.dtmf_interval_ms
                    t = since + 100
                else:
                    raise SystemExit(f"--turn {spec!r}: want say or keys=DIGITS (0-9 * # A-D)")
            self.end_ms = t + args.tail_silence_ms
            return
        self.dtmf = dtmf_events(args)
        if args.pick:
            spans = select_spans(audio, args)
            if len(args.utterance_at or []) != len(spans):
                raise SystemExit("--pick needs one --utterance-at time per picked utterance")
            self.placements = [(at, s, e) for at, (s, e) in zip(args.utterance_at, spans)]
        elif args.utterance_at:
            spans = select_spans(audio, args)
            for i, (s, e) in enumerate(spans):
                if i < len(args.utterance_at):
                    at = args.utterance_at[i]
                else:  # after the last given time: the recording's own spacing
                    prev_at, (ps, _) = self.placements[-1][0], spans[i - 1]
                    at = prev_at + (s - ps) // ms
                self.placements.append((at, s, e))
        elif args.utterances:
            self.placements = [(args.lead_ms + s // ms, s, e) for s, e in select_spans(audio, args)]
        else:
            self.placements = [(args.lead_ms, 0, len(audio.samples))]
        last = max([at + (e - s) // ms for at, s, e in self.placements] + [ms_ + 100 for ms_, _ in self.dtmf])
        self.end_ms = last + args.tail_silence_ms


class CallAudio:
    """The caller's audio for the whole call: 16-bit samples at `rate` (or µ-law bytes)."""

    def __init__(self, audio, rate, placements, end_ms, ulaw=False):
        self.rate = rate
        ms = audio.rate // 1000
        self.frames = -(-end_ms // FRAME_MS)
        self.placements = [{"at_ms": at, "end_ms": at + (e - s) // ms, "source_ms": [s // ms, e // ms]} for at, s, e in placements]
        per_frame = rate * FRAME_MS // 1000
        if ulaw and rate == 8000 and audio.ulaw is not None:  # the recording's own µ-law bytes
            silence = ulaw_encode(0)
            buf = bytearray([silence]) * (self.frames * per_frame)
            for at, s, e in placements:
                o = at * 8
                chunk = audio.ulaw[s:e][:max(0, len(buf) - o)]
                buf[o:o + len(chunk)] = chunk
            self.ulaw, self.samples = bytes(buf), None
            return
        samples = [0] * (self.frames * per_frame)
        for at, s, e in placements:
            seg = resample(audio.samples[s:e], audio.rate, rate)
            o = at * rate // 1000
            for j, v in enumerate(seg[:max(0, len(samples) - o)]):
                samples[o + j] = max(-32768, min(32767, samples[o + j] + v))
        self.samples, self.ulaw = samples, None

    def frame_pcm(self, f):
        n = self.rate * FRAME_MS // 1000
        chunk = self.samples[f * n:(f + 1) * n]
        return struct.pack(f"<{n}h", *chunk), not any(chunk)

    def frame_ulaw(self, f):
        if self.ulaw is not None:
            return self.ulaw[f * 160:(f + 1) * 160]
        return bytes(ulaw_encode(s) for s in self.samples[f * 160:(f + 1) * 160])


def noise_frames(count, rate, dbfs, seed):
    rng = random.Random(seed)
    sigma = 32768 * 10 ** (dbfs / 20)
    n = rate * FRAME_MS // 1000
    for _ in range(count):
        chunk = [max(-32768, min(32767, int(rng.gauss(0, sigma)))) for _ in range(n)]
        yield struct.pack(f"<{n}h", *chunk), False


def b64(data):
    return base64.b64encode(data).decode("ascii")


def pascal(value):
    """Every object key with its first letter upper-cased (audioData -> AudioData)."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v) for v in value]
    return value


class Sequence:
    def __init__(self):
        self.messages = []  # [at_ms, order, type, data, note]

    def text(self, at, obj, note=None):
        data = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
        self.messages.append([at, len(self.messages), "text", data, note])

    def binary(self, at, data, note=None):
        self.messages.append([at, len(self.messages), "binary", b64(data), note])

    def wait(self, at, since, args, fill_type, fill):
        """The replay holds the rest until the worker's next prompt (audio arriving after `since`,
        the end of the caller's previous turn) has played, sending `fill` (a silent frame;
        ws_replay.py numbers it) every 20 ms meanwhile."""
        if fill_type == "binary":
            data = b64(fill)
        else:
            data = fill if isinstance(fill, str) else json.dumps(fill, separators=(",", ":"))
        wait = {"for": "prompt", "since_ms": since, "quiet_ms": args.prompt_quiet_ms, "max_ms": args.prompt_wait_max_ms,
                "fill": {"type": fill_type, "data": data}}
        self.messages.append([at, -1, "wait", wait, None])

    def lines(self):
        for at, _, kind, data, note in sorted(self.messages, key=lambda m: (m[0], m[1])):
            if kind == "wait":
                yield json.dumps({"at_ms": at, "type": "wait", **data}, separators=(",", ":"))
                continue
            line = {"at_ms": at, "type": kind, "data": data}
            if note:
                line["note"] = note
            yield json.dumps(line, separators=(",", ":"))


def dtmf_events(args):
    """(ms, digit) for every --dtmf-at MS:DIGITS, digits --dtmf-interval-ms apart."""
    out = []
    for spec in args.dtmf_at:
        ms, _, digits = spec.partition(":")
        for i, d in enumerate(digits):
            out.append((int(ms) + i * args.dtmf_interval_ms, d))
    return out


# ---- protocols -----------------------------------------------------------------------------

def iso(base, ms):
    t = base + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def build_acs(args, call, plan, seq):
    base = datetime.datetime(2025, 6, 2, 15, 4, 5, tzinfo=datetime.timezone.utc)
    case, case_at = args.case, args.case_at
    key = pascal if args.pascal_case else (lambda v: v)
    per_frame_bytes = args.rate * FRAME_MS // 1000 * 2
    start = 0
    meta = {"kind": "AudioMetadata", "audioMetadata": {"subscriptionId": args.subscription_id, "encoding": "PCM",
                                                       "sampleRate": args.rate, "channels": 1, "length": per_frame_bytes}}

    def audio_msg(participant, pcm, silent, ts_ms, payload=None):
        return key({"kind": "AudioData", "audioData": {"timestamp": iso(base, ts_ms), "participantRawID": participant,
                                                       "data": payload if payload is not None else b64(pcm), "silent": silent}})

    if case == "media-before-start":
        pcm, silent = call.frame_pcm(0)
        for i in range(3):
            seq.text(0, audio_msg(args.participant, pcm, silent, i * FRAME_MS), note="audio before AudioMetadata")
        start = FRAME_MS * 3
    seq.text(start, key(meta))
    second = None
    if args.unmixed:
        if args.second_wav:
            second_audio = read_wav(args.second_wav)
            n = len(second_audio.samples)
            other = CallAudio(second_audio, args.rate, [(args.second_at, 0, n)], args.second_at + n * 1000 // second_audio.rate)
            silence = (bytes(per_frame_bytes), True)
            second = [other.frame_pcm(f) if f < other.frames else silence for f in range(call.frames)]
        else:
            second = list(noise_frames(call.frames, args.rate, args.second_level_dbfs, seed=7))
    ts_shift = 0
    flood_until = case_at + args.flood_ms if case == "flood" else -1
    for f in range(call.frames):
        media_ms = f * FRAME_MS
        at = start + FRAME_MS + media_ms
        if case == "flood" and case_at <= media_ms < flood_until:
            at = start + FRAME_MS + case_at
        if case == "gap" and media_ms == case_at:
            ts_shift = args.gap_ms
        pcm, silent = call.frame_pcm(f)
        msg = audio_msg(args.participant, pcm, silent, media_ms + ts_shift)
        seq.text(at, msg)
        if case == "duplicate" and media_ms == case_at:
            seq.text(at, msg, note="duplicate AudioData (same timestamp)")
        if second is not None:
            pcm2, silent2 = second[f]
            seq.text(at, audio_msg(args.second_id, pcm2, silent2, media_ms + ts_shift))
        if media_ms == case_at:
            # Not flagged silent: a peer may skip the data of a silent frame.
            inject_bad(args, seq, at, audio_msg(args.participant, pcm, False, media_ms, payload="%%%not base64%%%"),
                       key({"kind": "SomethingNew", "somethingNew": {"value": 1}}),
                       audio_msg(args.participant, b"", False, media_ms, payload="A" * args.oversize_bytes))
    for ms, d in plan.dtmf:
        seq.text(start + FRAME_MS + ms, key({"kind": "DtmfData", "dtmfData": {"data": d}}))
    for w, since in plan.waits:
        seq.wait(start + FRAME_MS + w, start + FRAME_MS + since, args, "text", audio_msg(args.participant, bytes(per_frame_bytes), True, w))


def build_twilio(args, call, plan, seq):
    case, case_at = args.case, args.case_at
    sid, call_sid, account = args.stream_sid, args.call_sid, args.account_sid
    counter = {"seq": 0}

    def next_seq():
        counter["seq"] += 1
        return str(counter["seq"])

    def media(chunk, ts_ms, payload, number=None):
        return {"event": "media", "sequenceNumber": number or next_seq(), "streamSid": sid,
                "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(ts_ms), "payload": payload}}

    seq.text(0, {"event": "connected", "protocol": "Call", "version": "1.0.0"})
    start_at = 0
    if case == "media-before-start":
        for i in range(3):
            seq.text(0, {"event": "media", "streamSid": sid, "sequenceNumber": str(i + 1),
                         "media": {"track": "inbound", "chunk": str(i + 1), "timestamp": str(i * FRAME_MS),
                                   "payload": b64(call.frame_ulaw(0))}}, note="media before start")
        start_at = FRAME_MS * 3
        counter["seq"] = 3
    params = dict(kv.split("=", 1) for kv in args.param)
    seq.text(start_at, {"event": "start", "sequenceNumber": next_seq(), "streamSid": sid,
                        "start": {"accountSid": account, "streamSid": sid, "callSid": call_sid, "tracks": ["inbound"],
                                  "customParameters": params,
                                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
    # Media and DTMF share the sequence counter, in sending order.
    events = [(start_at + FRAME_MS + f * FRAME_MS, 0, "media", f) for f in range(call.frames)]
    events += [(start_at + FRAME_MS + ms, 1, "dtmf", d) for ms, d in plan.dtmf]
    for w, since in plan.waits:
        seq.wait(start_at + FRAME_MS + w, start_at + FRAME_MS + since, args, "text",
                 media(0, 0, b64(bytes([ulaw_encode(0)]) * 160), number="0"))
    events.sort()
    chunk, shift = 0, 0
    flood_until = case_at + args.flood_ms if case == "flood" else -1
    for at, _, kind, value in events:
        if kind == "dtmf":
            seq.text(at, {"event": "dtmf", "streamSid": sid, "sequenceNumber": next_seq(),
                          "dtmf": {"track": "inbound_track", "digit": value}})
            continue
        media_ms = value * FRAME_MS
        if case == "flood" and case_at <= media_ms < flood_until:
            at = start_at + FRAME_MS + case_at
        if case == "gap" and media_ms == case_at:
            skipped = args.gap_ms // FRAME_MS  # as if Twilio had lost these messages
            counter["seq"] += skipped
            chunk += skipped
            shift += args.gap_ms
        chunk += 1
        payload = b64(call.frame_ulaw(value))
        msg = media(chunk, media_ms + shift, payload)
        seq.text(at, msg)
        if case == "duplicate" and media_ms == case_at:
            seq.text(at, msg, note="duplicate media (same sequenceNumber)")
        if media_ms == case_at:
            inject_bad(args, seq, at, media(chunk, media_ms + shift, "%%%not base64%%%", number=msg["sequenceNumber"]),
                       {"event": "somethingNew", "streamSid": sid, "sequenceNumber": msg["sequenceNumber"]},
                       media(chunk, media_ms + shift, "A" * args.oversize_bytes, number=msg["sequenceNumber"]))
    end = start_at + FRAME_MS + call.frames * FRAME_MS
    if not args.no_end:
        seq.text(end, {"event": "stop", "sequenceNumber": next_seq(), "streamSid": sid,
                       "stop": {"accountSid": account, "callSid": call_sid}})


def build_relay(args, call, plan, seq):
    case, case_at = args.case, args.case_at
    start = 0
    if case == "media-before-start":
        for _ in range(3):
            seq.binary(0, call.frame_pcm(0)[0], note="audio before start")
        start = FRAME_MS * 3
    start_msg = {"type": "start", "version": 1, "callId": args.call_id, "from": args.caller_number, "to": args.called_number,
                 "format": {"encoding": "L16", "sampleRate": 16000, "channels": 1}}
    if args.tenant_id:
        start_msg["tenantId"] = args.tenant_id
    if args.relay_token:
        start_msg["token"] = args.relay_token
    if args.param:
        start_msg["custom"] = dict(kv.split("=", 1) for kv in args.param)
    seq.text(start, start_msg)
    flood_until = case_at + args.flood_ms if case == "flood" else -1
    for f in range(call.frames):
        media_ms = f * FRAME_MS
        at = start + FRAME_MS + media_ms
        if case == "flood" and case_at <= media_ms < flood_until:
            at = start + FRAME_MS + case_at
        pcm = call.frame_pcm(f)[0]
        seq.binary(at, pcm)
        if media_ms == case_at:
            if case == "bad-frame":
                seq.binary(at, pcm + b"\x00", note="641-byte frame")
            elif case == "oversized":
                seq.binary(at, bytes(args.oversize_bytes), note="oversized binary message")
            else:
                inject_bad(args, seq, at, None, {"type": "somethingNew"}, None)
    for ms, d in plan.dtmf:
        seq.text(start + FRAME_MS + ms, {"type": "dtmf", "digit": d})
    for w, since in plan.waits:
        seq.wait(start + FRAME_MS + w, start + FRAME_MS + since, args, "binary", bytes(640))
    if not args.no_end:
        seq.text(start + FRAME_MS + call.frames * FRAME_MS, {"type": "hangup", "reason": "caller hung up"})


def inject_bad(args, seq, at, bad_b64_msg, unknown_msg, oversized_msg):
    case = args.case
    if case == "invalid-json":
        seq.text(at, '{"event":"media","media":{"payload":', note="invalid JSON")
    elif case == "bad-base64" and bad_b64_msg is not None:
        seq.text(at, bad_b64_msg, note="payload not base64")
    elif case == "unknown-event":
        seq.text(at, unknown_msg, note="unknown event")
    elif case == "binary-on-json":
        seq.binary(at, bytes(640), note="binary message on a JSON protocol")
    elif case == "oversized" and oversized_msg is not None:
        seq.text(at, oversized_msg, note="oversized text message")


# ---- command line --------------------------------------------------------------------------

def parse_ms_list(value):
    return [int(v) for v in value.split(",") if v.strip()]


def resolve_wav(path):
    if os.path.exists(path):
        return path
    candidate = os.path.join(ROOT, "testdata", path)
    if os.path.exists(candidate):
        return candidate
    raise SystemExit(f"{path}: no such file (nor under testdata/)")


def build(args):
    """The sequence (a list of JSON lines) and its summary for parsed `args`."""
    args.wav_path = resolve_wav(args.wav)
    if args.second_wav:
        args.second_wav = resolve_wav(args.second_wav)
    rate = {"acs": args.rate, "twilio": 8000, "relay": 16000}[args.protocol]
    problems = []
    if args.protocol == "acs" and args.rate not in (16000, 24000):
        problems.append("--rate: ACS streams 16000 or 24000 Hz")
    if args.unmixed and args.protocol != "acs":
        problems.append("--unmixed is ACS only")
    if args.pascal_case and args.protocol != "acs":
        problems.append("--pascal-case is ACS only")
    if args.case in ("duplicate", "gap") and args.protocol == "relay":
        problems.append(f"--case {args.case}: relay frames carry no sequence numbers or timestamps")
    if args.case == "binary-on-json" and args.protocol == "relay":
        problems.append("--case binary-on-json: the relay carries audio as binary messages")
    if args.case == "bad-frame" and args.protocol != "relay":
        problems.append("--case bad-frame is relay only")
    if args.case_at % FRAME_MS or args.gap_ms % FRAME_MS:
        problems.append("--case-at and --gap-ms must be multiples of 20")
    for spec in args.dtmf_at:
        ms, sep, digits = spec.partition(":")
        if not sep or not ms.isdigit() or not digits or any(d not in DTMF_KEYS for d in digits):
            problems.append(f"--dtmf-at {spec!r}: want MS:DIGITS with digits from 0-9 * # A-D")
    if problems:
        raise SystemExit("\n".join(problems))
    if args.turn and (args.utterance_at or args.dtmf_at):
        raise SystemExit("--turn replaces --utterance-at and --dtmf-at")
    audio = read_wav(args.wav_path)
    plan = Plan(audio, args)
    call = CallAudio(audio, rate, plan.placements, plan.end_ms, ulaw=args.protocol == "twilio")
    seq = Sequence()
    {"acs": build_acs, "twilio": build_twilio, "relay": build_relay}[args.protocol](args, call, plan, seq)
    lines = list(seq.lines())
    kinds = {}
    for m in seq.messages:
        kinds[m[2]] = kinds.get(m[2], 0) + 1
    last = max(m[0] for m in seq.messages)
    summary = {"protocol": args.protocol, "wav": os.path.relpath(args.wav_path, ROOT), "rate": rate, "messages": len(lines),
               "by_type": kinds, "duration_ms": last, "audio_frames": call.frames, "utterances": call.placements,
               "dtmf": [[ms, d] for ms, d in plan.dtmf], "waits_at_ms": [w for w, _ in plan.waits], "case": args.case, "case_at_ms": args.case_at if args.case else None,
               "resampler": "windowed-sinc polyphase, plain Python" if rate != audio.rate else "none"}
    return lines, summary


def parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("protocol", choices=["acs", "twilio", "relay"])
    ap.add_argument("wav", help="WAV file, or a fixture path under testdata/")
    ap.add_argument("-o", "--output", help="JSONL file (default standard output)")
    ap.add_argument("--rate", type=int, default=16000, help="ACS sample rate: 16000 or 24000")
    ap.add_argument("--lead-ms", type=int, default=500, help="silence before the audio (default 500)")
    ap.add_argument("--tail-silence-ms", type=int, default=3000, help="silence after the last word (default 3000)")
    ap.add_argument("--utterance-at", type=parse_ms_list, default=None, metavar="MS,MS,...",
                    help="call times (ms) at which the WAV's utterances start; later ones keep the recording's spacing")
    ap.add_argument("--utterances", type=int, default=0, metavar="N", help="only the first N utterances")
    ap.add_argument("--pick", type=parse_ms_list, default=None, metavar="I,J,...",
                    help="only these utterances (1-based), each at its --utterance-at time")
    ap.add_argument("--dtmf-at", action="append", default=[], metavar="MS:DIGITS", help="digits keyed from MS (repeatable)")
    ap.add_argument("--dtmf-interval-ms", type=int, default=300, help="between the digits of one --dtmf-at (default 300)")
    ap.add_argument("--turn", action="append", default=[], metavar="say|keys=DIGITS[@WHEN]",
                    help="the caller's turns in order (replaces --utterance-at and --dtmf-at): `say` is the next utterance, "
                         "`keys=123#` digits; WHEN is MS (call time), +MS (after the previous turn) or prompt (default: "
                         "once the worker's next prompt has played)")
    ap.add_argument("--after-prompt-ms", type=int, default=400, help="@prompt turns start this long after the prompt (default 400)")
    ap.add_argument("--prompt-quiet-ms", type=int, default=1000,
                    help="a prompt is over when no audio has come for this long (default 1000)")
    ap.add_argument("--prompt-wait-max-ms", type=int, default=45000, help="longest wait for a prompt (default 45000)")
    ap.add_argument("--no-end", action="store_true", help="no Twilio stop / relay hangup at the end")
    ap.add_argument("--case", choices=CASES, help="a malformed or out-of-order call (see above)")
    ap.add_argument("--case-at", type=int, default=200, metavar="MS", help="audio time of the --case problem (default 200)")
    ap.add_argument("--gap-ms", type=int, default=1000, help="--case gap: the jump (default 1000)")
    ap.add_argument("--flood-ms", type=int, default=10000, help="--case flood: audio sent at once (default 10000)")
    ap.add_argument("--oversize-bytes", type=int, default=1 << 20, help="--case oversized: payload size (default 1 MiB)")
    g = ap.add_argument_group("ACS")
    g.add_argument("--participant", default="8:acs:caller", help="the caller's participantRawID")
    g.add_argument("--unmixed", action="store_true", help="a second participant's frames interleaved")
    g.add_argument("--second-id", default="8:acs:agent-bot", help="the second participant's participantRawID")
    g.add_argument("--second-wav", help="the second participant's audio (default low-level noise)")
    g.add_argument("--second-at", type=int, default=0, help="where --second-wav starts (ms)")
    g.add_argument("--second-level-dbfs", type=float, default=-50.0, help="the second participant's noise level")
    g.add_argument("--pascal-case", action="store_true", help="PascalCase keys (Kind, AudioData, Data)")
    g.add_argument("--subscription-id", default="b2c3d4e5-0000-4000-8000-00000000acs0")
    g = ap.add_argument_group("Twilio")
    g.add_argument("--stream-sid", default="MZ00000000000000000000000000000001")
    g.add_argument("--call-sid", default="CA00000000000000000000000000000001")
    g.add_argument("--account-sid", default="AC00000000000000000000000000000001")
    g.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="Twilio customParameters / relay custom entry (repeatable; token=... carries a media token)")
    g = ap.add_argument_group("relay (docs/relay-protocol.md)")
    g.add_argument("--call-id", default="relay-call-1", help="start.callId: the Graph call id")
    g.add_argument("--tenant-id", help="start.tenantId (the Entra tenant)")
    g.add_argument("--relay-token", help="start.token: a media token carried in the start message")
    g.add_argument("--caller-number", default="+14255550123", help="start.from")
    g.add_argument("--called-number", default="+14255550100", help="start.to")
    return ap


def main(argv=None):
    args = parser().parse_args(argv)
    lines, summary = build(args)
    text = "\n".join(lines) + "\n"
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        print(json.dumps(summary))
    else:
        sys.stdout.write(text)
        print(json.dumps(summary), file=sys.stderr)


if __name__ == "__main__":
    main()
