#!/usr/bin/env python3
"""Intent accuracy and decision latency of calls that arrive as WebSocket media streams.

Every single-utterance assistant fixture of testdata/fixtures.json (the blind set the assistant
test scores from audio: in-domain intents and out-of-domain requests) becomes one call to a
running `attendant serve`: the caller waits for the greeting and menu to finish, says the
fixture, and stays on the line. The menu's outcome (the first `intent_recognized` or `no_match`
flow event of the call) is scored against the fixture's intent exactly as
crates/worker/tests/worker/assistant.rs scores the SIP/file path, and each decision's
`timings.last_word_to_decision_ms` is collected.

    python3 tools/ws_intent_eval.py [--protocol twilio|acs|relay] [--jobs 6] [--limit N]

It starts its own worker (target/release/attendant, or ATTENDANT_BIN) on free loopback ports
with the sample tenant (config/contoso.flow.toml with business hours off), replays the calls
with tools/ws_replay.py, and prints accuracy, no-match precision, out-of-domain rejection and
the decision latency median. `--json` prints the same as one object.
"""

import argparse
import concurrent.futures
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def category(f):
    # As the Rust test: an intent, else by slot, else out of domain.
    if f.get("intent"):
        return "intent"
    slots = f.get("slots") or {}
    if "digits" in slots:
        return "digits"
    if "yes_no" in slots:
        return "yes_no"
    return "out_of_domain"


def start_worker(work, binary):
    flow = open(os.path.join(ROOT, "config/contoso.flow.toml")).read()
    if "always_open = false" not in flow:
        sys.exit("ws_intent_eval: the sample flow's hours switch moved")
    flow_path = os.path.join(work, "contoso.flow.toml")
    open(flow_path, "w").write(flow.replace("always_open = false", "always_open = true"))
    http = free_port()
    events = os.path.join(work, "events.jsonl")
    sip = free_port(socket.SOCK_DGRAM)
    rtp = 40000 + (os.getpid() % 500) * 20
    config = f"""
[sip]
udp = ["127.0.0.1:{sip}"]
tcp = ["127.0.0.1:{sip}"]
[rtp]
address = "127.0.0.1"
port_min = {rtp}
port_max = {rtp + 18}
[events]
file = "{events}"
stdout = false
[http]
listen = "127.0.0.1:{http}"
[[tenants]]
name = "contoso"
sources = ["127.0.0.0/8"]
max_calls = 200
assistant = "{flow_path}"
"""
    config_path = os.path.join(work, "worker.toml")
    open(config_path, "w").write(config)
    log = open(os.path.join(work, "worker.log"), "w")
    worker = subprocess.Popen([binary, "serve", "--config", config_path], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if worker.poll() is not None:
            sys.exit(f"ws_intent_eval: the worker exited: {open(log.name).read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=1) as r:
                if r.status == 200:
                    return worker, http, events
        except OSError:
            time.sleep(0.3)
    worker.kill()
    sys.exit("ws_intent_eval: the worker did not become ready in 120 s")


def run_call(work, http, protocol, index, fixture):
    sid = f"CAeval{index:04d}"
    seq = os.path.join(work, f"call-{index}.jsonl")
    build = [sys.executable, os.path.join(ROOT, "tools/ws_sequences.py"), protocol, fixture["path"], "-o", seq,
             "--turn", "say@prompt", "--tail-silence-ms", "6000", "--call-sid", sid, "--call-id", sid]
    if protocol == "acs":
        build += ["--subscription-id", sid]
    subprocess.run(build, check=True, capture_output=True, cwd=ROOT)
    replay = [sys.executable, os.path.join(ROOT, "tools/ws_replay.py"), f"ws://127.0.0.1:{http}/v1/media/{protocol}", seq,
              "--linger-s", "8", "--compact"]
    if protocol == "acs":
        replay += ["--correlation-id", sid]
    done = subprocess.run(replay, capture_output=True, text=True, cwd=ROOT)
    return sid, done.returncode, done.stdout.strip()[-400:]


def outcomes(events_path):
    """Per peer call id: the menu's outcome, and the decision's latency from the last word."""
    by_call, peer = {}, {}
    for line in open(events_path):
        e = json.loads(line)
        cid = e.get("call_id")
        if e.get("event") == "call_started" and e.get("peer_call_id"):
            peer[cid] = e["peer_call_id"]
        r = by_call.setdefault(cid, {})
        if e.get("event") == "flow" and "outcome" not in r:
            if e.get("flow") == "intent_recognized":
                r["outcome"] = e.get("intent")
                r["text"] = e.get("text")
            elif e.get("flow") == "no_match" and e.get("step") == "menu":
                r["outcome"] = None
                r["text"] = e.get("text")
        if e.get("event") == "decision":
            r["latency"] = (e.get("timings") or {}).get("last_word_to_decision_ms")
    return {peer[c]: r for c, r in by_call.items() if c in peer}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--protocol", choices=["twilio", "acs", "relay"], default="twilio")
    ap.add_argument("--jobs", type=int, default=6, help="calls at once (default 6)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N fixtures")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    binary = os.environ.get("ATTENDANT_BIN", os.path.join(ROOT, "target/release/attendant"))
    manifest = json.load(open(os.path.join(ROOT, "testdata/fixtures.json")))["files"]
    chosen = [f for f in manifest if f["kind"] == "assistant" and category(f) in ("intent", "out_of_domain")]
    if args.limit:
        chosen = chosen[: args.limit]
    work = tempfile.mkdtemp(prefix="attendant-wseval-")
    worker, http, events = start_worker(work, binary)
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(lambda p: run_call(work, http, args.protocol, *p), enumerate(chosen)))
        time.sleep(2)
    finally:
        worker.terminate()
        worker.wait(10)
    got = outcomes(events)
    in_domain = correct = predicted_none = predicted_none_right = ood = ood_rejected = missing = 0
    latencies, misses = [], []
    for (sid, code, _), f in zip(runs, chosen):
        r = got.get(sid)
        if r is None or "outcome" not in r:
            missing += 1
            misses.append(f"{f['path']}: no menu outcome (replay exit {code})")
            continue
        expected = f.get("intent")
        if r["outcome"] is None:
            predicted_none += 1
            predicted_none_right += expected is None
        if category(f) == "intent":
            in_domain += 1
            correct += r["outcome"] == expected
        else:
            ood += 1
            ood_rejected += r["outcome"] is None
        if r["outcome"] != expected:
            misses.append(f"{f['path']}: expected {expected}, got {r['outcome']} from {r.get('text')!r}")
        if r.get("latency") is not None and r["outcome"] == expected and expected is not None:
            latencies.append(r["latency"])
    report = {
        "protocol": args.protocol,
        "calls": len(chosen),
        "no_outcome": missing,
        "intent_accuracy": [correct, in_domain],
        "no_match_precision": [predicted_none_right, predicted_none],
        "out_of_domain_rejected": [ood_rejected, ood],
        "decision_latency_ms": {"median": statistics.median(latencies) if latencies else None, "n": len(latencies),
                                "p90": sorted(latencies)[int(0.9 * (len(latencies) - 1))] if latencies else None},
        "misses": misses,
        "work": work,
    }
    if args.json:
        print(json.dumps(report))
    else:
        def ratio(pair):
            return f"{pair[0]}/{pair[1]} = {pair[0] / pair[1]:.3f}" if pair[1] else "n/a"
        print(f"{args.protocol}: {len(chosen)} calls, {missing} without a menu outcome")
        print(f"intent accuracy {ratio(report['intent_accuracy'])}; no-match precision {ratio(report['no_match_precision'])}; "
              f"out-of-domain rejected {ratio(report['out_of_domain_rejected'])}")
        d = report["decision_latency_ms"]
        print(f"decision after the last word (correct intent decisions): median {d['median']} ms, p90 {d['p90']} ms over {d['n']}")
        for m in misses:
            print("  " + m)
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
