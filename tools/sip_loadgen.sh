#!/usr/bin/env bash
# SIP/RTP load on loopback: `attendant serve` (release build) against the sip_load client
# (benches/examples/sip_load.rs), CALLS concurrent SIP callers of DURATION_S seconds each, each
# streaming PCMU RTP in real time through an optional impairment (loss, jitter, reordering).
#
#   tools/sip_loadgen.sh [--assistant] [CALLS] [DURATION_S]      default 20 calls, 60 s
#
# The worker runs on a temporary config: SIP (UDP and TCP) and HTTP (only for /readyz) on free
# loopback ports, RTP ports from 31000 (2*CALLS+200 of them at least), [limits] max_calls above
# CALLS, one tenant "load" for 127.0.0.0/8 with max_calls 100000, call events to a file, stdout
# off. Without --assistant the tenant has no assistant: calls are transcribed only, no prompt
# plays (the worker sends its idle line), and each caller speaks a 3 s slice of a fixture call
# every 10 s (SIPLOAD_DUTY). With --assistant it runs the sample config/contoso.flow.toml with
# business hours off (`always_open = true`, as the worker's tests do): each call says one
# single-intent fixture of testdata/fixtures.json (round-robin) once the greeting and menu have
# played, and the worker's decision is scored against the fixture's intent.
#
# Reports the client's table: calls attempted/answered/refused/failed, the concurrent peak, RTP
# sent/lost/received, late frames, decisions and their latency, the worker's CPU time, peak RSS
# and RSS every 10 s (the client reads /proc/PID of the worker), and the worker's engine_load,
# media_stats and call endings from its events file.
# Exits non-zero if any call failed to set up (a refusal is not a failure) or failed in the
# call (see sip_load), or the worker died.
#
# Environment: ATTENDANT_BIN (default target/release/attendant, built here when unset),
# SIP_LOAD_BIN (default target/release/examples/sip_load, built likewise), CARGO_TARGET_DIR
# (where those builds go), SIPLOAD_LOSS (percent of our RTP packets dropped, default 0),
# SIPLOAD_JITTER_MS (each packet delayed 0..J ms, default 0), SIPLOAD_REORDER (percent swapped
# with the next, default 0), SIPLOAD_SEED, SIPLOAD_RAMP_MS (default 25 ms per call, at least
# 2000), SIPLOAD_DUTY (default 3,10), SIPLOAD_WAV, SIPLOAD_SPEAK_ON (quiet or fixed),
# SIPLOAD_SPEAK_AT_MS (default 19000), SIPLOAD_NO_REDIAL=1, SIPLOAD_NICE (nice level of the
# client, default 0), SIPLOAD_THREADS (client runtime threads, default 2), SIPLOAD_JSON (also
# write the client's JSON report there), SIPLOAD_RTP_MIN (first RTP port, default 31000),
# SIPLOAD_CONFIG_EXTRA (TOML tables added to the worker's config, e.g. $'[graph.asr]\nthreads = 1'),
# SIPLOAD_KEEP=1 keeps the work directory (always kept on failure), ATTENDANT_MODELS (./models).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ASSISTANT=0
if [[ ${1:-} == --assistant ]]; then
    ASSISTANT=1
    shift
fi
CALLS=${1:-20}
DURATION=${2:-60}
[[ $CALLS =~ ^[0-9]+$ && $CALLS -ge 1 && $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || { echo "usage: tools/sip_loadgen.sh [--assistant] [CALLS] [DURATION_S]" >&2; exit 2; }
RAMP_MS=${SIPLOAD_RAMP_MS:-$((CALLS * 25 > 2000 ? CALLS * 25 : 2000))}
export ATTENDANT_MODELS=${ATTENDANT_MODELS:-$ROOT/models}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

command -v python3 >/dev/null || { echo "sip_loadgen: python3 is needed for free ports" >&2; exit 2; }
command -v curl >/dev/null || { echo "sip_loadgen: curl is needed to wait for /readyz" >&2; exit 2; }

if [[ -z ${ATTENDANT_BIN:-} ]]; then
    echo "== building attendant (release)" >&2
    cargo build --release -q -p attendant-worker
fi
if [[ -z ${SIP_LOAD_BIN:-} ]]; then
    echo "== building sip_load (release)" >&2
    cargo build --release -q -p attendant-benches --example sip_load
fi
BIN=${ATTENDANT_BIN:-$TARGET/release/attendant}
CLIENT=${SIP_LOAD_BIN:-$TARGET/release/examples/sip_load}
for b in "$BIN" "$CLIENT"; do
    [[ -x $b ]] || { echo "sip_loadgen: $b is not an executable (build it, or unset the variable that names it)" >&2; exit 2; }
done

# shellcheck source=tools/loadgen_lib.sh
source "$ROOT/tools/loadgen_lib.sh"
loadgen_workdir sipload sip_loadgen "${SIPLOAD_KEEP:-0}"
SIP_PORT=$(free_port)
HTTP_PORT=$(free_port)
# Even ports, one per call (the worker skips any it cannot bind); redialled calls reuse them.
RTP_MIN=${SIPLOAD_RTP_MIN:-31000}
RTP_SPAN=$((2 * CALLS + 200 > 400 ? 2 * CALLS + 200 : 400))
RTP_MAX=$((RTP_MIN + RTP_SPAN - 1))
MAX_CALLS=$((2 * CALLS + 10))

ASSISTANT_LINE=
SCRIPT_ARGS=()
if [[ $ASSISTANT == 1 ]]; then
    grep -q "always_open = false" config/contoso.flow.toml || { echo "sip_loadgen: the sample flow's hours switch moved" >&2; exit 2; }
    sed 's/always_open = false/always_open = true/' config/contoso.flow.toml >"$WORK/contoso.flow.toml"
    ASSISTANT_LINE="assistant = \"$WORK/contoso.flow.toml\""
    SCRIPT_ARGS=(--script assistant --fixtures "$ROOT/testdata/fixtures.json"
        --speak-on "${SIPLOAD_SPEAK_ON:-quiet}" --speak-at-ms "${SIPLOAD_SPEAK_AT_MS:-19000}")
fi

cat >"$WORK/worker.toml" <<EOF
[sip]
udp = ["127.0.0.1:$SIP_PORT"]
tcp = ["127.0.0.1:$SIP_PORT"]

[rtp]
address = "127.0.0.1"
port_min = $RTP_MIN
port_max = $RTP_MAX

[http]
listen = "127.0.0.1:$HTTP_PORT"

[limits]
max_calls = $MAX_CALLS

[events]
file = "$WORK/events.jsonl"
stdout = false

${SIPLOAD_CONFIG_EXTRA:-}

[[tenants]]
name = "load"
sources = ["127.0.0.0/8"]
max_calls = 100000
$ASSISTANT_LINE
EOF

echo "== starting attendant serve (SIP udp 127.0.0.1:$SIP_PORT, RTP $RTP_MIN-$RTP_MAX, assistant: $([[ $ASSISTANT == 1 ]] && echo contoso || echo none))" >&2
"$BIN" serve --config "$WORK/worker.toml" >"$WORK/worker.out" 2>"$WORK/worker.err" &
WORKER_PID=$!
READY=no
for _ in $(seq 1200); do
    if curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz"; then READY=yes; break; fi
    kill -0 "$WORKER_PID" 2>/dev/null || { echo "sip_loadgen: attendant serve exited:" >&2; cat "$WORK/worker.err" >&2; exit 1; }
    sleep 0.1
done
[[ $READY == yes ]] || { echo "sip_loadgen: attendant serve not ready after 120 s" >&2; exit 1; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
IMPAIR="loss ${SIPLOAD_LOSS:-0}%, jitter 0..${SIPLOAD_JITTER_MS:-0} ms, reorder ${SIPLOAD_REORDER:-0}%"
echo "== sip_load: $CALLS calls, ${DURATION} s each, ramp ${RAMP_MS} ms, $IMPAIR (loadavg $LOAD0)" >&2
EXTRA_ARGS=()
[[ ${SIPLOAD_NO_REDIAL:-0} == 1 ]] && EXTRA_ARGS+=(--no-redial)
[[ -n ${SIPLOAD_SEED:-} ]] && EXTRA_ARGS+=(--seed "$SIPLOAD_SEED")
set +e
nice -n "${SIPLOAD_NICE:-0}" "$CLIENT" --target "127.0.0.1:$SIP_PORT" --calls "$CALLS" \
    --ramp-ms "$RAMP_MS" --duration-s "$DURATION" --duty "${SIPLOAD_DUTY:-3,10}" \
    --wav "${SIPLOAD_WAV:-$ROOT/testdata/assistant/calls/payment-corrected-digits.wav}" \
    --loss "${SIPLOAD_LOSS:-0}" --jitter-ms "${SIPLOAD_JITTER_MS:-0}" --reorder "${SIPLOAD_REORDER:-0}" \
    --threads "${SIPLOAD_THREADS:-2}" --events "$WORK/events.jsonl" --worker-pid "$WORKER_PID" \
    --json-file "$WORK/report.json" "${SCRIPT_ARGS[@]}" "${EXTRA_ARGS[@]}"
CLIENT_RC=$?
set -e
VMHWM=$(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$WORKER_PID/status" 2>/dev/null || echo "?")
VMRSS=$(awk '/VmRSS/ { print $2 " " $3 }' "/proc/$WORKER_PID/status" 2>/dev/null || echo "?")
WORKER_ALIVE=yes
kill -0 "$WORKER_PID" 2>/dev/null || WORKER_ALIVE=no
[[ -n ${SIPLOAD_JSON:-} && -f $WORK/report.json ]] && cp "$WORK/report.json" "$SIPLOAD_JSON"
echo "  worker RSS $VMRSS at the end, peak (VmHWM) $VMHWM; alive after the run: $WORKER_ALIVE"
echo "  load average before $LOAD0, after $(cut -d' ' -f1-3 /proc/loadavg) (client and worker share the machine's $(nproc) cores)"
[[ $WORKER_ALIVE == yes ]] || exit 1
exit "$CLIENT_RC"
