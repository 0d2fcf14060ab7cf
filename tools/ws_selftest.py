#!/usr/bin/env python3
"""Self-test of tools/ws_sequences.py and tools/ws_replay.py against a small fake worker (a
websockets server in this process), so the test clients are known to work before any real
server is involved:

    python3 tools/ws_selftest.py      (about 25 s; prints one line per check, exit 1 on failure)

The fake worker speaks just enough of each protocol: it answers Twilio with paced and burst
`media`, `mark`s and a `clear` on a DTMF digit, ACS with PascalCase AudioData and StopAudio,
the relay with binary frames, a `callControl` message and a `hangup`; it closes with 1007 on
invalid JSON or base64, 1003 on binary on a JSON protocol, 1008 on media before start, 1009 on
a message over 64 KiB, and refuses the upgrade with 401 / 403 under /auth/ without the right
bearer token. It checks what the replay sends (sequence numbers, mark echo timing).
"""
import asyncio
import base64
import http
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ws_replay  # noqa: E402
import ws_sequences  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

TOKEN = "good-token"
SEEN = {}  # per connection path: what the fake worker observed


def tone_ulaw(frames):
    import math
    out = []
    for f in range(frames):
        out.append(bytes(ws_sequences.ulaw_encode(int(3000 * math.sin(2 * math.pi * 440 * (f * 160 + i) / 8000))) for i in range(160)))
    return out


async def twilio(ws, seen):
    frames = tone_ulaw(100)
    started, last_seq = False, 0
    sent_marks = {}
    async for msg in ws:
        if isinstance(msg, bytes):
            await ws.close(1003, "binary message on a JSON protocol")
            return
        try:
            obj = json.loads(msg)
        except ValueError:
            await ws.close(1007, "invalid JSON")
            return
        ev = obj.get("event")
        if "sequenceNumber" in obj:
            n = int(obj["sequenceNumber"])
            if n == last_seq:
                seen["duplicates"] = seen.get("duplicates", 0) + 1
            elif n != last_seq + 1:
                seen.setdefault("seq_jumps", []).append((last_seq, n))
            last_seq = max(last_seq, n)
        if ev == "start":
            started = True
            seen["custom"] = obj["start"]["customParameters"]
            sid = obj["streamSid"]
            # A burst of 2 s of audio with marks after 1 s and 2 s of it: the echoes must wait.
            for i, payload in enumerate(frames):
                await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": base64.b64encode(payload).decode()}}))
                if i in (49, 99):
                    await ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": f"m{i // 50 + 1}"}}))
                    sent_marks[f"m{i // 50 + 1}"] = time.monotonic()
        elif ev == "media":
            if not started:
                await ws.close(1008, "media before start")
                return
            try:
                base64.b64decode(obj["media"]["payload"], validate=True)
            except ValueError:
                await ws.close(1007, "media payload is not base64")
                return
            seen["media"] = seen.get("media", 0) + 1
            chunk, ts = int(obj["media"]["chunk"]), int(obj["media"]["timestamp"])
            if "last_chunk" in seen and (chunk, ts) != (seen["last_chunk"] + 1, seen["last_ts"] + 20) and chunk != seen["last_chunk"]:
                seen.setdefault("media_jumps", []).append((seen["last_chunk"], chunk, seen["last_ts"], ts))
            seen["last_chunk"], seen["last_ts"] = chunk, ts
        elif ev == "dtmf":
            seen["dtmf"] = seen.get("dtmf", "") + obj["dtmf"]["digit"]
            for payload in frames:
                await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": base64.b64encode(payload).decode()}}))
            await ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "m3"}}))
            sent_marks["m3"] = time.monotonic()
            await ws.send(json.dumps({"event": "clear", "streamSid": sid}))
        elif ev == "mark":
            name = obj["mark"]["name"]
            seen.setdefault("mark_delay_s", {})[name] = round(time.monotonic() - sent_marks[name], 3)
        elif ev == "stop":
            await ws.close(1000, "stream stopped")
            return


async def acs(ws, seen):
    meta = None
    async for msg in ws:
        if isinstance(msg, bytes):
            await ws.close(1003, "binary message on a JSON protocol")
            return
        try:
            obj = json.loads(msg)
        except ValueError:
            await ws.close(1007, "invalid JSON")
            return
        kind = str(ws_replay.ci_get(obj, "kind")).lower()
        if kind == "audiometadata":
            meta = ws_replay.ci_get(obj, "audioMetadata")
            seen["rate"] = ws_replay.ci_get(meta, "sampleRate")
            for _ in range(50):
                pcm = bytes(seen["rate"] // 50 * 2)
                await ws.send(json.dumps({"Kind": "AudioData", "AudioData": {"Data": base64.b64encode(pcm).decode()}, "StopAudio": None}))
        elif kind == "audiodata":
            if meta is None:
                await ws.close(1008, "AudioData before AudioMetadata")
                return
            data = ws_replay.ci_get(obj, "audioData")
            who = ws_replay.ci_get(data, "participantRawID")
            seen.setdefault("participants", {})[who] = seen.setdefault("participants", {}).get(who, 0) + 1
            if ws_replay.ci_get(data, "silent"):
                seen["silent"] = seen.get("silent", 0) + 1
            if who == "8:acs:caller":
                import datetime
                ts = datetime.datetime.fromisoformat(ws_replay.ci_get(data, "timestamp").replace("Z", "+00:00"))
                last = seen.get("last_ts")
                if last is not None and (ts - last).total_seconds() * 1000 != 20:
                    seen.setdefault("ts_jumps", []).append(str(ts - last))
                seen["last_ts"] = ts
        elif kind == "dtmfdata":
            seen["dtmf"] = seen.get("dtmf", "") + ws_replay.ci_get(ws_replay.ci_get(obj, "dtmfData"), "data")
            await ws.send(json.dumps({"Kind": "StopAudio", "AudioData": None, "StopAudio": {}}))
            for _ in range(25):  # the next prompt, half a second of it
                pcm = bytes(seen["rate"] // 50 * 2)
                await ws.send(json.dumps({"kind": "AudioData", "audioData": {"data": base64.b64encode(pcm).decode()}}))
        else:
            seen.setdefault("unknown", []).append(kind)


async def relay(ws, seen):
    started = False
    async for msg in ws:
        if isinstance(msg, bytes):
            if not started:
                await ws.close(1008, "audio before start")
                return
            seen.setdefault("frame_sizes", set()).add(len(msg))
            continue
        obj = json.loads(msg)
        if obj["type"] == "start":
            started = True
            for _ in range(25):
                await ws.send(bytes(640))
        elif obj["type"] == "dtmf":
            seen["dtmf"] = seen.get("dtmf", "") + obj["digit"]
            for _ in range(25):
                await ws.send(bytes(640))
        elif obj["type"] == "hangup":
            body = {"transferTarget": {"endpointType": "default", "identity": {"user": {"id": "alice-oid"}}}}
            await ws.send(json.dumps({"type": "callControl", "action": "transfer", "graph": {"method": "POST", "body": body}}))
            await ws.send(json.dumps({"type": "hangup", "reason": "decision sent"}))
            await ws.close(1000, "call over")
            return


def process_request(connection, request):
    if request.path.startswith("/auth/"):
        auth = request.headers.get("Authorization")
        if auth is None:
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing bearer token\n")
        if auth != f"Bearer {TOKEN}":
            return connection.respond(http.HTTPStatus.FORBIDDEN, "wrong token\n")
    return None


async def handler(ws):
    path = ws.request.path
    seen = SEEN.setdefault(path.split("?")[1] if "?" in path else path, {})
    kind = path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    try:
        await {"acs": acs, "twilio": twilio, "relay": relay}[kind](ws, seen)
    except ConnectionClosed:
        pass


def sequence(tmp, name, argv):
    lines, summary = ws_sequences.build(ws_sequences.parser().parse_args(argv))
    path = os.path.join(tmp, f"{name}.jsonl")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, summary


async def replay(url, seq, *extra):
    args = ws_replay.parser().parse_args([url, seq, "--linger-s", "3", *extra])
    seq_data = ws_replay.load_sequence(seq)
    results = await ws_replay.run_all(args, seq_data)
    return results[0] if len(results) == 1 else results


async def main():
    import tempfile
    failures = []

    def check(name, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {json.dumps(detail, default=str)[:1500]}"))
        if not ok:
            failures.append(name)

    tmp = tempfile.mkdtemp(prefix="ws-selftest-")
    async with serve(handler, "127.0.0.1", 0, process_request=process_request, max_size=64 * 1024, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        base = f"ws://127.0.0.1:{port}"
        wav = "assistant/yes.wav"
        # Twilio: marks echoed after the burst's play-out time, at once on clear; renumbered.
        seq, _ = sequence(tmp, "twilio", ["twilio", wav, "--lead-ms", "200", "--tail-silence-ms", "1500",
                                          "--dtmf-at", "2600:5", "--param", "tenant=acme"])
        twilio_run = replay(f"{base}/v1/media/twilio?t1", seq)
        # ACS 24 kHz unmixed and PascalCase with a digit, concurrently.
        seq_acs, acs_summary = sequence(tmp, "acs", ["acs", wav, "--rate", "24000", "--unmixed", "--second-wav", "assistant/no.wav",
                                                     "--second-at", "300", "--pascal-case",
                                                     "--dtmf-at", "500:3", "--tail-silence-ms", "500"])
        acs_run = replay(f"{base}/v1/media/acs?a1", seq_acs)
        seq_relay, _ = sequence(tmp, "relay", ["relay", wav, "--dtmf-at", "300:12", "--tail-silence-ms", "300"])
        relay_run = replay(f"{base}/v1/media/relay?r1", seq_relay)
        t, a, r = await asyncio.gather(twilio_run, acs_run, relay_run)
        seen = SEEN["t1"]
        check("twilio: 200 media and 3 marks received", t["received"]["counts"]["audio"] == 200 and t["received"]["marks"] == ["m1", "m2", "m3"], t)
        check("twilio: clear counted", t["received"]["counts"]["clear"] == 1, t)
        delays = seen.get("mark_delay_s", {})
        check("twilio: marks echoed after the audio before them played (1 s, 2 s)",
              0.9 <= delays.get("m1", 0) <= 1.3 and 1.9 <= delays.get("m2", 0) <= 2.3, seen)
        check("twilio: a cleared mark comes back at once", delays.get("m3", 9) < 0.2, seen)
        check("twilio: sequence numbers consecutive across the echoes", not seen.get("seq_jumps") and not seen.get("duplicates"), seen)
        check("twilio: dtmf and customParameters arrived", seen.get("dtmf") == "5" and seen.get("custom") == {"tenant": "acme"}, seen)
        check("twilio: stop -> server closed 1000", t["close"] == {"code": 1000, "reason": "stream stopped", "by": "server"}, t["close"])
        check("twilio: outbound audio 4 s, 2 s of it above -50 dBFS",
              t["received"]["audio_ms"] == 4000 and t["received"]["audio_active_ms"] == 4000, t["received"])
        seen = SEEN["a1"]
        parts = seen.get("participants", {})
        check("acs: both participants' frames, 24 kHz metadata",
              seen.get("rate") == 24000 and parts.get("8:acs:caller") == parts.get("8:acs:agent-bot") == acs_summary["audio_frames"], seen)
        check("acs: silent frames flagged", seen.get("silent", 0) > 0, seen)
        check("acs: PascalCase DtmfData parsed, StopAudio counted", seen.get("dtmf") == "3" and a["received"]["counts"]["clear"] == 1, a)
        check("acs: 75 AudioData = 1500 ms", a["received"]["counts"]["audio"] == 75 and a["received"]["audio_ms"] == 1500.0, a["received"])
        check("acs: client closed after the linger", a["close"]["by"] == "client" and a["close"]["code"] == 1000, a["close"])
        seen = SEEN["r1"]
        check("relay: 640-byte frames, digits", seen.get("frame_sizes") == {640} and seen.get("dtmf") == "12", seen)
        check("relay: callControl in full, hangup, 1.5 s of audio",
              r["received"]["call_control"][0]["graph"]["body"]["transferTarget"]["identity"]["user"]["id"] == "alice-oid"
              and r["received"]["counts"]["hangup"] == 1 and r["received"]["audio_ms"] == 1500.0, r["received"])
        check("twilio/acs: media numbered without jumps", not SEEN["t1"].get("media_jumps") and not SEEN["a1"].get("ts_jumps"), [SEEN["t1"], SEEN["a1"]])
        # Waits: the next utterance once the worker's prompt (here the burst after a key) is over.
        waits = {}
        for proto in ("twilio", "acs", "relay"):
            s, summary = sequence(tmp, f"{proto}-wait", [proto, wav, "--turn", "keys=5@300", "--turn", "say@prompt", "--tail-silence-ms", "200"])
            waits[proto] = (summary, await replay(f"{base}/v1/media/{proto}?{proto}-wait", s, "--linger-s", "0.5"))
        tw, ac = waits["twilio"][1], waits["acs"][1]
        seen = SEEN["twilio-wait"]
        w = tw["sent"]["waits"]
        # Twilio: 2 s of audio in a burst, then a clear at once: the prompt is over 1 s (quiet) later.
        check("twilio wait: held until the prompt was over, fill sent", len(w) == 1 and w[0]["prompt_seen"] and not w[0]["timed_out"]
              and 600 <= w[0]["waited_ms"] <= 1600 and tw["sent"]["fill"] >= 25, tw["sent"])
        check("twilio wait: sequence numbers, chunks and timestamps continuous across the fill",
              not seen.get("seq_jumps") and not seen.get("duplicates") and not seen.get("media_jumps")
              and seen.get("media") == waits["twilio"][0]["audio_frames"] + tw["sent"]["fill"], seen)
        seen = SEEN["acs-wait"]
        w = ac["sent"]["waits"]
        # ACS: StopAudio and half a second of audio on the key: over 1 s after it arrived.
        check("acs wait: held until the prompt was over", len(w) == 1 and w[0]["prompt_seen"] and 600 <= w[0]["waited_ms"] <= 1600, ac["sent"])
        check("acs wait: timestamps continuous across the fill", not seen.get("ts_jumps"), seen)
        rl = waits["relay"][1]
        w = rl["sent"]["waits"]
        check("relay wait: held until the prompt was over, zero frames sent", len(w) == 1 and w[0]["prompt_seen"]
              and 600 <= w[0]["waited_ms"] <= 1600 and rl["sent"]["fill"] >= 25 and SEEN["relay-wait"].get("frame_sizes") == {640}, rl["sent"])
        # Auth: refused upgrades report their HTTP status.
        none = await replay(f"{base}/auth/v1/media/relay", seq_relay)
        wrong = await replay(f"{base}/auth/v1/media/relay", seq_relay, "--bearer", "nope")
        right = await replay(f"{base}/auth/v1/media/relay?r2", seq_relay, "--bearer", TOKEN)
        check("auth: 401 without a token, 403 with a wrong one",
              (none["handshake_status"], wrong["handshake_status"], none["opened"]) == (401, 403, False), [none, wrong])
        check("auth: the right token is upgraded", right["opened"] and right["close"]["code"] == 1000, right)
        # Malformed: closed by the server with the code and reason.
        cases = [("twilio", "invalid-json", 1007), ("twilio", "bad-base64", 1007), ("twilio", "media-before-start", 1008),
                 ("twilio", "binary-on-json", 1003), ("twilio", "oversized", 1009), ("acs", "media-before-start", 1008),
                 ("acs", "invalid-json", 1007), ("relay", "media-before-start", 1008), ("relay", "oversized", 1009)]
        runs = []
        for proto, case, _ in cases:
            s, _ = sequence(tmp, f"{proto}-{case}", [proto, wav, "--case", case, "--tail-silence-ms", "200"])
            runs.append(replay(f"{base}/v1/media/{proto}?{proto}-{case}", s))
        for (proto, case, code), result in zip(cases, await asyncio.gather(*runs)):
            check(f"{proto} {case}: closed by the server with {code}",
                  result["close"]["by"] == "server" and result["close"]["code"] == code and not result["sent"]["sequence_complete"],
                  result["close"])
        # Duplicate and gap are sent as asked (the fake worker counts them).
        for case in ("duplicate", "gap"):
            s, _ = sequence(tmp, f"twilio-{case}", ["twilio", wav, "--case", case, "--tail-silence-ms", "200"])
            result = await replay(f"{base}/v1/media/twilio?twilio-{case}", s)
            seen = SEEN[f"twilio-{case}"]
            want = {"duplicates": 1} if case == "duplicate" else {"seq_jumps": [[seen.get("seq_jumps", [[0]])[0][0], seen.get("seq_jumps", [[0]])[0][0] + 51]]}
            ok = (seen.get("duplicates") == 1) if case == "duplicate" else (len(seen.get("seq_jumps", [])) == 1 and seen["seq_jumps"][0][1] - seen["seq_jumps"][0][0] == 51)
            check(f"twilio {case}: sent, call not ended by it", ok and result["close"]["code"] == 1000, [seen, want, result["close"]])
        # Flood: the sequence's burst, and --speed, send faster than real time.
        s, summary = sequence(tmp, "twilio-flood", ["twilio", wav, "--case", "flood", "--flood-ms", "60000", "--no-end"])
        t0 = time.monotonic()
        flood = await replay(f"{base}/v1/media/twilio?flood", s, "--linger-s", "0.1")
        took = time.monotonic() - t0
        check("flood: the whole call's audio at once", took < 1.0 and flood["sent"]["sequence_complete"]
              and SEEN["flood"].get("media") == summary["audio_frames"], {"took": took, "seen": SEEN["flood"], "summary": summary})
        t0 = time.monotonic()
        conc = await replay(f"{base}/v1/media/twilio?speed", s, "--speed", "20", "--concurrent", "3")
        took = time.monotonic() - t0
        check("--speed 20 --concurrent 3", took < 3.5 and len(conc) == 3 and all(c["opened"] for c in conc), {"took": took})
        agg = ws_replay.aggregate(conc)
        check("aggregate: jitter of the server's audio reported", agg["gap_max_ms"] is not None and agg["opened"] == 3, agg)
    print(f"{len(failures)} failed" if failures else "all ws tool checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
