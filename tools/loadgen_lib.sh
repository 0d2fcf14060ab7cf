# Sourced by the load scripts (tools/loadgen.sh, sip_loadgen.sh, ws_loadgen.sh): the work
# directory and its clean-up, and free loopback ports.

# loadgen_workdir DIR_TAG SCRIPT KEEP: sets WORK (a new temporary directory) and WORKER_PID
# (empty; the script sets it once the worker runs). On exit the worker is stopped and WORK is
# removed, unless the script failed or KEEP is 1: then it is kept and named on stderr.
loadgen_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/attendant-$1.XXXXXX")
    WORKER_PID=
    LOADGEN_SCRIPT=$2
    LOADGEN_KEEP_WORK=$3
    trap loadgen_cleanup EXIT
}

loadgen_cleanup() {
    local rc=$?
    if [[ -n $WORKER_PID ]] && kill -0 "$WORKER_PID" 2>/dev/null; then
        kill "$WORKER_PID" 2>/dev/null || true
        wait "$WORKER_PID" 2>/dev/null || true
    fi
    if [[ $rc -eq 0 && $LOADGEN_KEEP_WORK != 1 ]]; then
        rm -rf "$WORK"
    else
        echo "$LOADGEN_SCRIPT: logs kept in $WORK" >&2
    fi
}

# A loopback port free for both UDP and TCP (the worker's SIP listens on both).
free_port() {
    python3 - <<'PY'
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
PY
}
