#!/usr/bin/env python3
"""Per-turn recognition latency from a worker's events file: for every caller turn, the time
from the caller's last word to the first transcript that can decide the turn (the speculative
decode or the final), with how much of it was waiting for a decoder.

Usage: python3 tools/turn_latency.py EVENTS.jsonl [--skip-s S]
The last word's wall time is the `speech_ended` record's time less (decided_at - at), the
endpointer's silence wait. --skip-s drops turns in the first S seconds (a ramp).
A tuning aid for load runs (tools/sip_loadgen.sh with SIPLOAD_KEEP=1 keeps the file).
"""
import json, sys


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round((len(xs) - 1) * p))] if xs else float("nan")


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    skip_s = float(args[args.index("--skip-s") + 1]) if "--skip-s" in args else 0.0
    ends, results, t0 = {}, {}, None
    with open(args[0]) as f:
        for line in f:
            e = json.loads(line)
            t0 = e["ts_ms"] if t0 is None else t0
            key = (e.get("call_id"), e.get("turn"))
            if e["event"] == "speech_ended" and "decided_at" in e:
                ends[key] = e["ts_ms"] - (e["decided_at"] - e["at"])
            elif e["event"] in ("partial_transcript", "final_transcript") and key in ends and key not in results:
                # A transcript of the whole turn (it ends where the turn ended), not a partial of it.
                if e.get("end") is not None and e["end"] >= 0:
                    results[key] = (e["ts_ms"] - ends[key], e.get("compute_ms", 0.0), ends[key] - t0)
    lat = [(ms, c) for ms, c, at in results.values() if at >= skip_s * 1000]
    if not lat:
        sys.exit("no turns with a transcript")
    total = [ms for ms, _ in lat]
    compute = [c for _, c in lat]
    wait = [ms - c for ms, c in lat]
    print(f"turns {len(lat)} (of {len(ends)} ended; first {skip_s:.0f} s skipped)")
    for name, xs in (("last word -> deciding transcript", total), ("  of which decode", compute), ("  of which the rest (speculative delay, queue)", wait)):
        print(f"{name}: p50 {pct(xs, .5):.0f} / p90 {pct(xs, .9):.0f} / p95 {pct(xs, .95):.0f} / max {max(xs):.0f} ms")
    print(f"share under 800 ms: {100 * sum(x < 800 for x in total) / len(total):.1f}%")


if __name__ == "__main__":
    main()
