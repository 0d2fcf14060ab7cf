#!/usr/bin/env python3
"""Word error rate of `attendant transcribe --json` over testdata/fixtures.json.

Usage: python3 tools/eval_wer.py [--kinds ivr,noisy,...] [-- extra transcribe args]
Prints per-file WER, repetition flags, compute time, and the totals. A tuning aid; the
assertions live in crates/worker/tests/.
"""
import json, re, subprocess, sys, statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUM = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
       "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}

def norm(text):
    text = text.lower().replace("-", " ")
    words = re.sub(r"[^a-z0-9' ]", " ", text).split()
    out = []
    for w in words:
        w = NUM.get(w, w)
        out.extend(list(w) if w.isdigit() and len(w) > 1 and w != "10" else [w])
    return out

def wer(ref, hyp):
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)], len(ref)

def main():
    args = sys.argv[1:]
    extra = args[args.index("--") + 1:] if "--" in args else []
    kinds = None
    if "--kinds" in args:
        kinds = set(args[args.index("--kinds") + 1].split(","))
    fixtures = json.loads((ROOT / "testdata/fixtures.json").read_text())["files"]
    files = [f for f in fixtures if kinds is None or f["kind"] in kinds]
    paths = [str(ROOT / "testdata" / f["path"]) for f in files]
    out = subprocess.run([str(ROOT / "target/release/attendant"), "transcribe", "--json", *extra, *paths],
                         capture_output=True, text=True)
    by_file = {}
    for line in out.stdout.splitlines():
        d = json.loads(line)
        by_file.setdefault(d["file"], []).append(d)
    errs = total = 0
    computes = []
    for f, p in zip(files, paths):
        turns = by_file.get(p, [])
        hyp = " ".join(t["text"] for t in turns)
        computes += [t["compute_ms"] for t in turns]
        e, n = wer(norm(f["text"]), norm(hyp))
        errs += e; total += n
        flag = "" if e == 0 else "  <-- " + f["text"]
        print(f"{f['kind']:9} {e:2}/{n:2} {p.split('testdata/')[1]:55} {hyp}{flag}")
    print(f"WER {errs}/{total} = {100*errs/max(total,1):.1f}%  median compute {statistics.median(computes) if computes else 0:.0f} ms")
    if out.stderr.strip():
        print(out.stderr, file=sys.stderr)

main()
