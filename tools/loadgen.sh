#!/usr/bin/env bash
# Call set-up load on loopback: `attendant serve` (release build) against sipp placing calls.
#
#   tools/loadgen.sh [RATE] [CALLS]        default 200 calls per second, 2000 calls
#
# sipp runs testdata/sipp/loadgen.xml (an SBC-style INVITE with SDP -> 100/180/200 -> ACK ->
# 1 s -> BYE -> 200, no media) at RATE calls per second until CALLS calls were placed. The worker
# runs on a temporary config: SIP on a free loopback port, RTP ports 20000-29999, one tenant for
# 127.0.0.0/8 with max_calls 100000, call events to a file (stdout off).
#
# Reports sipp's successful and failed calls, retransmissions, INVITE -> 200 OK response times
# (repartition and percentiles of every call), the worker's view of the calls (from its event
# file), and the worker's CPU time per call (from /proc/PID/stat before and after, net of the
# idle engine's tick measured beforehand), per thread too. Exits non-zero if any call failed.
#
# LOADGEN_FLOOD=PPS adds a garbage flood while sipp runs: PPS datagrams per second, half random
# bytes to the worker's SIP port, half spread over the even RTP ports the calls use (two thirds
# RTP-looking with random payload type, sequence and SSRC, a third not RTP), to check that no
# call is harmed by it.
#
# Environment: LOADGEN_IDLE_SECS (idle CPU baseline, default 3), LOADGEN_KEEP=1 keeps the work
# directory (always kept on failure), ATTENDANT_MODELS (default ./models), SIPP (default sipp).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RATE=${1:-200}
CALLS=${2:-2000}
IDLE_SECS=${LOADGEN_IDLE_SECS:-3}
SIPP=${SIPP:-sipp}
export ATTENDANT_MODELS=${ATTENDANT_MODELS:-$ROOT/models}

command -v "$SIPP" >/dev/null || { echo "loadgen: sipp not found (Debian package sip-tester)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "loadgen: python3 is needed to read the statistics" >&2; exit 2; }

echo "== building attendant (release)" >&2
cargo build --release -q -p attendant-worker
BIN=$ROOT/target/release/attendant

# shellcheck source=tools/loadgen_lib.sh
source "$ROOT/tools/loadgen_lib.sh"
loadgen_workdir loadgen loadgen "${LOADGEN_KEEP:-0}"
SIP_PORT=$(free_port)
SIPP_PORT=$(free_port)
MEDIA_PORT=$(free_port)

cat >"$WORK/worker.toml" <<EOF
[sip]
udp = ["127.0.0.1:$SIP_PORT"]
tcp = ["127.0.0.1:$SIP_PORT"]

[rtp]
port_min = 20000
port_max = 29999

[events]
file = "$WORK/events.jsonl"
stdout = false

[[tenants]]
name = "loadgen"
sources = ["127.0.0.0/8"]
max_calls = 100000
EOF

echo "== starting attendant serve (SIP udp/tcp 127.0.0.1:$SIP_PORT)" >&2
"$BIN" serve --config "$WORK/worker.toml" >"$WORK/worker.out" 2>"$WORK/worker.err" &
WORKER_PID=$!
for _ in $(seq 600); do
    grep -q "SIP on tcp" "$WORK/worker.err" 2>/dev/null && break
    kill -0 "$WORKER_PID" 2>/dev/null || { echo "loadgen: attendant serve exited:" >&2; cat "$WORK/worker.err" >&2; exit 1; }
    sleep 0.1
done
grep -q "SIP on tcp" "$WORK/worker.err" || { echo "loadgen: attendant serve not ready after 60 s" >&2; exit 1; }

# utime + stime of the process (clock ticks), and per thread.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$WORKER_PID/stat"; }
thread_ticks() {
    for t in /proc/"$WORKER_PID"/task/*; do
        [[ -r $t/stat ]] || continue
        local comm
        comm=$(cat "$t/comm" 2>/dev/null || echo "?")
        awk -v id="${t##*/}" -v comm="$comm" '{ sub(/^.*\) /, ""); print id, comm, $12 + $13 }' "$t/stat" 2>/dev/null || true
    done
}
now_ns() { date +%s%N; }

echo "== idle baseline: ${IDLE_SECS} s" >&2
IDLE0=$(cpu_ticks); T0=$(now_ns)
sleep "$IDLE_SECS"
IDLE1=$(cpu_ticks); T1=$(now_ns)

thread_ticks >"$WORK/threads.before"
# Kernel UDP counters (system-wide): datagrams dropped for a full socket buffer.
udp_drops() { awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 } else print $col["InErrors"], $col["RcvbufErrors"] }' /proc/net/snmp; }
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
U0=$(udp_drops)
CPU0=$(cpu_ticks); S0=$(now_ns)
echo "== sipp: $CALLS calls at $RATE cps (loadavg $(cut -d' ' -f1-3 /proc/loadavg))" >&2
TIMEOUT=$(( CALLS / RATE + 60 ))
# sipp names its trace files after the scenario file: run it from the work directory.
cp "$ROOT/testdata/sipp/loadgen.xml" "$WORK/loadgen.xml"
# sipp's own CPU time, when GNU time is installed.
TIME_CMD=()
[[ -x /usr/bin/time ]] && TIME_CMD=(/usr/bin/time -f "%U %S" -o "$WORK/sipp.time")
(cd "$WORK" && exec "${TIME_CMD[@]}" "$SIPP" -sf loadgen.xml -i 127.0.0.1 \
    -p "$SIPP_PORT" -mp "$MEDIA_PORT" -r "$RATE" -rp 1000 -m "$CALLS" -nostdin \
    -timeout "${TIMEOUT}s" -timeout_error \
    -trace_stat -stf "$WORK/stat.csv" -fd 1 \
    -trace_rtt -rtt_freq 1 \
    -trace_screen -screen_file "$WORK/screen.log" \
    -trace_err -error_file "$WORK/errors.log" \
    -trace_counts \
    "127.0.0.1:$SIP_PORT" >"$WORK/sipp.out" 2>"$WORK/sipp.err") &
SIPP_JOB=$!
FLOOD_JOB=
if [[ ${LOADGEN_FLOOD:-0} -gt 0 ]]; then
    python3 - "$SIP_PORT" "$LOADGEN_FLOOD" "$(( CALLS / RATE + 2 ))" 20000 $(( 20000 + 2 * RATE * 3 )) >"$WORK/flood.out" <<'PYEOF' &
import os, random, socket, sys, time
sip_port, pps, secs, rtp_lo, rtp_hi = (int(x) for x in sys.argv[1:])
rnd = random.Random(7)
blobs = [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 400))) for _ in range(256)]
# Version 2, no padding/extension/CSRC, any payload type, random sequence, timestamp and SSRC.
# Two thirds look like RTP (version 2, any payload type, random sequence, timestamp and SSRC);
# a third do not (random first byte: STUN, DTLS or junk to the RTP demultiplexer).
rtp = [bytes([0x80 if i % 3 else rnd.getrandbits(6), rnd.getrandbits(7)]) + bytes(rnd.getrandbits(8) for _ in range(170))
       for i in range(256)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = {"sip": 0, "rtp": 0}
start = time.monotonic()
port = rtp_lo
i = 0
while time.monotonic() - start < secs:
    due = int((time.monotonic() - start) * pps)
    while i < due:
        try:
            if i % 2 == 0:
                s.sendto(blobs[i % 256], ("127.0.0.1", sip_port)); sent["sip"] += 1
            else:
                s.sendto(rtp[i % 256], ("127.0.0.1", port)); sent["rtp"] += 1
                port = rtp_lo if port + 2 > rtp_hi else port + 2
        except OSError:
            pass
        i += 1
    time.sleep(0.001)
print(sent["sip"], sent["rtp"])
PYEOF
    FLOOD_JOB=$!
fi
# Per-socket drop counters (/proc/net/udp, last column) of the worker's and sipp's SIP sockets,
# sampled while sipp runs (sipp's sockets are gone once it exits).
PORTS_RE=":($(printf '%04X|%04X|%04X' "$SIP_PORT" "$SIPP_PORT" "$MEDIA_PORT")) "
while kill -0 "$SIPP_JOB" 2>/dev/null; do
    grep -E "$PORTS_RE" /proc/net/udp >>"$WORK/udp_drops.log" || true
    sleep 0.5
done
set +e
wait "$SIPP_JOB"
SIPP_RC=$?
[[ -n $FLOOD_JOB ]] && wait "$FLOOD_JOB"
set -e
S1=$(now_ns)
U1=$(udp_drops)
# Let the worker finish what the last BYEs started (call end, media stop, event writes).
sleep 1
CPU1=$(cpu_ticks); S2=$(now_ns)
thread_ticks >"$WORK/threads.after"
VMHWM=$(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$WORKER_PID/status")
WORKER_ALIVE=yes
kill -0 "$WORKER_PID" 2>/dev/null || WORKER_ALIVE=no

export WORK RATE CALLS SIPP_RC IDLE0 IDLE1 T0 T1 CPU0 CPU1 S0 S1 S2 VMHWM WORKER_ALIVE LOAD0 U0 U1 SIP_PORT SIPP_PORT MEDIA_PORT
export CLK_TCK=$(getconf CLK_TCK)
python3 - <<'EOF'
import csv, glob, os, statistics, sys, json, collections

env = os.environ
work = env["WORK"]
calls = int(env["CALLS"]); rate = float(env["RATE"])
tck = float(env["CLK_TCK"])

def last_row(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    header = rows[0]
    return dict(zip(header, rows[-1]))

fail = False
stat = glob.glob(os.path.join(work, "stat.csv"))
if not stat:
    print("no sipp statistics file; sipp said:")
    print(open(os.path.join(work, "sipp.err")).read()[-2000:])
    sys.exit(1)
s = last_row(stat[0])
def n(key):
    try:
        return int(float(s.get(key, "0") or 0))
    except ValueError:
        return 0
ok, failed = n("SuccessfulCall(C)"), n("FailedCall(C)")
print(f"sipp: {calls} calls at {rate:g} cps  ->  successful {ok}, failed {failed}, exit code {env['SIPP_RC']}")
print(f"  achieved call rate {s.get('CallRate(C)', '?')} cps over {s.get('ElapsedTime(C)', '?')}; "
      f"retransmissions {n('Retransmissions(C)')}")
reasons = [k[:-3] for k in s if k.startswith("Failed") and k.endswith("(C)") and k != "FailedCall(C)" and n(k) > 0]
if reasons:
    print("  failures by reason: " + ", ".join(f"{r[6:]} {n(r + '(C)')}" for r in reasons))
if failed or ok < calls or env["SIPP_RC"] != "0":
    fail = True

# Per message of the scenario: retransmissions, timeouts, unexpected messages (-trace_counts).
for path in glob.glob(os.path.join(work, "*_counts.csv")):
    c = last_row(path)
    bad = {k: v for k, v in c.items() if k.split("_")[-1] in ("Retrans", "Timeout", "Unexp") and v not in ("", "0")}
    print("  per message: " + (", ".join(f"{k} {v}" for k, v in bad.items()) or "no retransmission, timeout or unexpected message"))

# Response time repartition (INVITE -> 200, rtd 1) as sipp bins it.
bins = [(k, n(k)) for k in s if k.startswith("ResponseTimeRepartition1_")]
if bins:
    print("  INVITE->200 repartition: " + ", ".join(f"{k.split('_', 1)[1]} ms: {v}" for k, v in bins))
# Every call's response time (-trace_rtt -rtt_freq 1): percentiles.
rtt_files = glob.glob(os.path.join(work, "*_rtt.csv"))
times = {1: [], 2: []}
for path in rtt_files:
    with open(path, newline="") as f:
        for row in csv.reader(f, delimiter=";"):
            if len(row) < 3 or not row[0][:1].isdigit():
                continue
            try:
                times.setdefault(int(row[2]), []).append((float(row[0]), float(row[1])))
            except ValueError:
                pass
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]
for rtd, name in [(1, "INVITE->200"), (2, "BYE->200")]:
    v = [t for _, t in times.get(rtd, [])]
    if v:
        print(f"  {name} (ms, sipp's resolution is 1 ms; {len(v)} calls): median {statistics.median(v):.0f}, "
              f"p90 {pct(v, 90):.0f}, p99 {pct(v, 99):.0f}, max {max(v):.0f}")
answered = sorted(at for at, _ in times.get(1, []))
if len(answered) > 1 and answered[-1] > answered[0]:
    span = (answered[-1] - answered[0]) / 1000
    print(f"  set-up rate: {len(answered)} calls answered in {span:.2f} s = {(len(answered) - 1) / span:.1f} cps")

# The worker's view, from its call events.
events = collections.Counter()
refusals = collections.Counter()
ends = collections.Counter()
media = collections.Counter()
concurrent = peak = 0
path = os.path.join(work, "events.jsonl")
if os.path.exists(path):
    for line in open(path):
        try:
            e = json.loads(line)
        except ValueError:
            events["<bad json line>"] += 1
            continue
        ev = e.get("event", "?")
        events[ev] += 1
        if ev == "call_started":
            concurrent += 1; peak = max(peak, concurrent)
        elif ev == "call_ended":
            concurrent -= 1
            ends[e.get("reason", "?").split(" ")[0].split("{")[0]] += 1
        elif ev == "call_refused":
            refusals[f"{e.get('status')} {e.get('reason')}"] += 1
        elif ev == "media_stats":
            for k in ("rtp_packets", "malformed", "not_rtp"):
                media[k] += e.get(k) or 0
print(f"worker events: " + ", ".join(f"{k} {v}" for k, v in sorted(events.items())))
if ends:
    print("  call_ended reasons: " + ", ".join(f"{k} {v}" for k, v in ends.items()))
if refusals:
    print("  refusals: " + ", ".join(f"{k}: {v}" for k, v in refusals.items()))
print(f"  peak concurrent calls (started - ended): {peak}")
if media:
    print("  media_stats summed over calls: " + ", ".join(f"{k} {v}" for k, v in media.items()))
flood = os.path.join(work, "flood.out")
if os.path.exists(flood):
    try:
        fs, fr = open(flood).read().split()
        print(f"garbage flood: {fs} datagrams to the SIP port, {fr} to RTP ports; the worker reported "
              f"{events.get('sip_malformed', 0)} sip_malformed events and counted {media.get('not_rtp', 0)} not-RTP / "
              f"{media.get('malformed', 0)} malformed datagrams on its calls")
    except ValueError:
        print("garbage flood: no report")

# CPU.
idle_s = (int(env["T1"]) - int(env["T0"])) / 1e9
idle_cpu = (int(env["IDLE1"]) - int(env["IDLE0"])) / tck
run_s = (int(env["S2"]) - int(env["S0"])) / 1e9
load_s = (int(env["S1"]) - int(env["S0"])) / 1e9
cpu = (int(env["CPU1"]) - int(env["CPU0"])) / tck
idle_rate = idle_cpu / idle_s if idle_s > 0 else 0.0
net = cpu - idle_rate * run_s
print(f"worker CPU: {cpu:.2f} s over {run_s:.1f} s wall (sipp ran {load_s:.1f} s) = {100 * cpu / run_s:.0f}% of one core; "
      f"idle baseline {100 * idle_rate:.1f}%")
print(f"  per call: {1000 * cpu / calls:.3f} ms gross, {1000 * net / calls:.3f} ms net of the idle baseline "
      f"(clock tick {1000 / tck:g} ms; ±{1000 / tck / calls * 2:.3f} ms per call from tick rounding)")
def threads(path):
    out = {}
    for line in open(path):
        parts = line.split()
        if len(parts) >= 3:
            out[parts[0]] = (" ".join(parts[1:-1]), int(parts[-1]))
    return out
before, after = threads(os.path.join(work, "threads.before")), threads(os.path.join(work, "threads.after"))
by_name = collections.Counter()
for tid, (comm, t) in after.items():
    by_name[comm] += t - before.get(tid, (comm, 0))[1]
print("  by thread: " + ", ".join(f"{k} {v / tck:.2f} s" for k, v in by_name.most_common() if v > 0))
try:
    su, ss = (float(x) for x in open(os.path.join(work, "sipp.time")).read().split()[-2:])
    print(f"sipp CPU: {su + ss:.2f} s ({100 * (su + ss) / load_s:.0f}% of one core while it ran)")
except (OSError, ValueError):
    pass
print(f"load average: {env['LOAD0']} before the run, {open('/proc/loadavg').read().split()[0]} after "
      f"(anything else running on the machine competes with the worker and sipp)")
(e0, r0), (e1, r1) = (map(int, env["U0"].split()), map(int, env["U1"].split()))
drops, queued = {}, {}
names = {int(env["SIP_PORT"]): "worker_sip", int(env["SIPP_PORT"]): "sipp_sip", int(env["MEDIA_PORT"]): "sipp_media"}
try:
    for line in open(os.path.join(work, "udp_drops.log")):
        f = line.split()
        if len(f) < 13 or ":" not in f[1]:
            continue
        name = names.get(int(f[1].split(":")[1], 16))
        if name is None:
            continue
        drops[name] = max(drops.get(name, 0), int(f[-1]))
        queued[name] = max(queued.get(name, 0), int(f[4].split(":")[1], 16))
except OSError:
    pass
print(f"  UDP drops, full receive buffer: worker SIP socket {drops.get('worker_sip', '?')}, sipp SIP socket "
      f"{drops.get('sipp_sip', '?')} (most queued seen: {queued.get('worker_sip', '?')} B, {queued.get('sipp_sip', '?')} B); "
      f"sipp media socket {drops.get('sipp_media', 'not bound')} (the worker's RTP to sipp, which plays none); "
      f"system-wide RcvbufErrors +{r1 - r0}")
print(f"  peak RSS (VmHWM) {env['VMHWM']}; worker alive after the run: {env['WORKER_ALIVE']}")
if env["WORKER_ALIVE"] != "yes":
    fail = True
sys.exit(1 if fail else 0)
EOF
