#!/usr/bin/env bash
# WebSocket media load on loopback: `attendant serve` (release build) against the ws_load client
# (benches/examples/ws_load.rs), CALLS concurrent media streams of DURATION_S seconds each.
#
#   tools/ws_loadgen.sh [--assistant] [CALLS] [DURATION_S] [PROTOCOL]
#                                       default 200 calls, 60 s, twilio (or acs, relay)
#
# The worker runs on a temporary config: SIP on a free loopback port (unused), HTTP (the media
# streams) on another, RTP ports 30000-30999, one tenant "load" for 127.0.0.0/8 with max_calls
# 100000 (loopback streams need no token), call events to a file, stdout off. Without
# --assistant the tenant has no assistant: calls are transcribed only and no prompt plays, so no
# audio flows back. With --assistant it runs the sample config/contoso.flow.toml, copied with
# its business hours switched off (`always_open = true`, as the worker's tests do), so the
# greeting and the dialogue's prompts flow outbound and the server's audio timing is measured.
#
# Each caller speaks a 3 s slice of a fixture call every 10 s (WSLOAD_DUTY), silence otherwise.
# Reports the client's table: calls opened/refused/closed, frames, server audio gaps, the
# worker's CPU time over the run (the client reads /proc/PID/stat of the worker at the first
# tick and when the last call ends, in total and by thread) and peak RSS, and the worker's
# engine_load and media_stats for the run from its events file.
# Exits non-zero if any call failed (see ws_load) or the worker died.
#
# Environment: ATTENDANT_BIN (default target/release/attendant, built here when unset),
# WS_LOAD_BIN (default target/release/examples/ws_load, built likewise), CARGO_TARGET_DIR (where
# those builds go), WSLOAD_RAMP_MS (default 25 ms per call, at least 2000), WSLOAD_DUTY (default
# 3,10), WSLOAD_WAV, WSLOAD_NICE (nice level of the client, default 0), WSLOAD_THREADS (client
# runtime threads, default 2), WSLOAD_JSON (also write the client's JSON report there),
# WSLOAD_CONFIG_EXTRA (TOML tables added to the worker's config, e.g. $'[graph.asr]\nthreads = 1'),
# WSLOAD_RENICE_ASR=N (experiment: renice the worker's asr-* decoder threads to N once ready),
# WSLOAD_KEEP=1 keeps the work directory (always kept on failure), ATTENDANT_MODELS (./models).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ASSISTANT=0
if [[ ${1:-} == --assistant ]]; then
    ASSISTANT=1
    shift
fi
CALLS=${1:-200}
DURATION=${2:-60}
PROTOCOL=${3:-twilio}
case $PROTOCOL in twilio | acs | relay) ;; *) echo "ws_loadgen: protocol must be twilio, acs or relay" >&2; exit 2 ;; esac
RAMP_MS=${WSLOAD_RAMP_MS:-$((CALLS * 25 > 2000 ? CALLS * 25 : 2000))}
export ATTENDANT_MODELS=${ATTENDANT_MODELS:-$ROOT/models}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

command -v python3 >/dev/null || { echo "ws_loadgen: python3 is needed for free ports" >&2; exit 2; }
command -v curl >/dev/null || { echo "ws_loadgen: curl is needed to wait for /readyz" >&2; exit 2; }

if [[ -z ${ATTENDANT_BIN:-} ]]; then
    echo "== building attendant (release)" >&2
    cargo build --release -q -p attendant-worker
fi
if [[ -z ${WS_LOAD_BIN:-} ]]; then
    echo "== building ws_load (release)" >&2
    cargo build --release -q -p attendant-benches --example ws_load
fi
BIN=${ATTENDANT_BIN:-$TARGET/release/attendant}
CLIENT=${WS_LOAD_BIN:-$TARGET/release/examples/ws_load}

# shellcheck source=tools/loadgen_lib.sh
source "$ROOT/tools/loadgen_lib.sh"
loadgen_workdir wsload ws_loadgen "${WSLOAD_KEEP:-0}"
SIP_PORT=$(free_port)
HTTP_PORT=$(free_port)

ASSISTANT_LINE=
if [[ $ASSISTANT == 1 ]]; then
    grep -q "always_open = false" config/contoso.flow.toml || { echo "ws_loadgen: the sample flow's hours switch moved" >&2; exit 2; }
    sed 's/always_open = false/always_open = true/' config/contoso.flow.toml >"$WORK/contoso.flow.toml"
    ASSISTANT_LINE="assistant = \"$WORK/contoso.flow.toml\""
fi

cat >"$WORK/worker.toml" <<EOF
[sip]
udp = ["127.0.0.1:$SIP_PORT"]
tcp = ["127.0.0.1:$SIP_PORT"]

[rtp]
port_min = 30000
port_max = 30999

[http]
listen = "127.0.0.1:$HTTP_PORT"

[events]
file = "$WORK/events.jsonl"
stdout = false

${WSLOAD_CONFIG_EXTRA:-}

[[tenants]]
name = "load"
sources = ["127.0.0.0/8"]
max_calls = 100000
$ASSISTANT_LINE
EOF

echo "== starting attendant serve (HTTP 127.0.0.1:$HTTP_PORT, assistant: $([[ $ASSISTANT == 1 ]] && echo contoso || echo none))" >&2
"$BIN" serve --config "$WORK/worker.toml" >"$WORK/worker.out" 2>"$WORK/worker.err" &
WORKER_PID=$!
READY=no
for _ in $(seq 1200); do
    if curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz"; then READY=yes; break; fi
    kill -0 "$WORKER_PID" 2>/dev/null || { echo "ws_loadgen: attendant serve exited:" >&2; cat "$WORK/worker.err" >&2; exit 1; }
    sleep 0.1
done
[[ $READY == yes ]] || { echo "ws_loadgen: attendant serve not ready after 120 s" >&2; exit 1; }

if [[ ${WSLOAD_RENICE_ASR:-} =~ ^[0-9]+$ ]]; then
    # Experiment, not what the worker does: recognition threads at a lower priority, to see
    # whether the media engine keeps real time when whisper yields the CPU. whisper.cpp's
    # compute threads are created by the decoder thread and inherit its nice value.
    for t in /proc/"$WORKER_PID"/task/*; do
        if [[ $(cat "$t/comm" 2>/dev/null) == asr-* ]]; then
            renice -n "$WSLOAD_RENICE_ASR" -p "${t##*/}" >/dev/null
            echo "== reniced recognition thread ${t##*/} to $WSLOAD_RENICE_ASR" >&2
        fi
    done
fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== ws_load: $CALLS $PROTOCOL calls, ${DURATION} s each, ramp ${RAMP_MS} ms (loadavg $LOAD0)" >&2
JSON_ARGS=(--json-file "$WORK/report.json")
set +e
nice -n "${WSLOAD_NICE:-0}" "$CLIENT" --url "ws://127.0.0.1:$HTTP_PORT/v1/media/$PROTOCOL" --calls "$CALLS" \
    --ramp-ms "$RAMP_MS" --duration-s "$DURATION" --duty "${WSLOAD_DUTY:-3,10}" \
    --wav "${WSLOAD_WAV:-$ROOT/testdata/assistant/calls/payment-corrected-digits.wav}" \
    --threads "${WSLOAD_THREADS:-2}" --events "$WORK/events.jsonl" --worker-pid "$WORKER_PID" "${JSON_ARGS[@]}"
CLIENT_RC=$?
set -e
VMHWM=$(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$WORKER_PID/status" 2>/dev/null || echo "?")
VMRSS=$(awk '/VmRSS/ { print $2 " " $3 }' "/proc/$WORKER_PID/status" 2>/dev/null || echo "?")
WORKER_ALIVE=yes
kill -0 "$WORKER_PID" 2>/dev/null || WORKER_ALIVE=no
[[ -n ${WSLOAD_JSON:-} && -f $WORK/report.json ]] && cp "$WORK/report.json" "$WSLOAD_JSON"
echo "  worker RSS $VMRSS at the end, peak (VmHWM) $VMHWM; alive after the run: $WORKER_ALIVE"
echo "  load average before $LOAD0, after $(cut -d' ' -f1-3 /proc/loadavg) (client and worker share the machine's $(nproc) cores)"
[[ $WORKER_ALIVE == yes ]] || exit 1
exit "$CLIENT_RC"
