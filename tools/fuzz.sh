#!/usr/bin/env bash
# Fuzzes every parser for a bounded time: tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
#   SECONDS_PER_TARGET  libFuzzer -max_total_time for each target (default 60)
#   TARGET              any of: sip sdp rtp rtcp dtmf srtp wav (default: all, in that order)
#
# Installs cargo-fuzz if it is missing (cargo install, cached in ~/.cargo/bin), seeds
# fuzz/corpus/<target>/ from ../shared/corpora (or $ATTENDANT_CORPORA) and from the repo's own
# WAV fixtures, builds the targets once, runs each one in turn and prints one line per target.
# Exit status: 0 if no target failed, 1 if any crashed (panic, abort, overflow), ran out of
# memory or hung; the input is then in fuzz/artifacts/<target>/ and the log in
# fuzz/target/fuzz-logs/<target>.log. 2 for a usage or set-up error.
#
# Environment: FUZZ_SANITIZER (default none: the workspace crates deny unsafe code, and without
# ASan a 2-core machine runs about twice the executions; set `address` for cargo-fuzz's
# default), FUZZ_TIMEOUT (seconds one input may take before it counts as a hang, default 20),
# ATTENDANT_CORPORA (where the shared corpora are).
#
# The corpora are unpacked at run time into the git-ignored fuzz/corpus/, never committed: the
# pjproject seeds and PROTOS are GPLv2 (see ../shared/corpora/README.md).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FUZZ="$ROOT/fuzz"
ALL_TARGETS=(sip sdp rtp rtcp dtmf srtp wav)

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

SECONDS_PER_TARGET=60
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
    SECONDS_PER_TARGET=$1
    shift
fi
[[ $SECONDS_PER_TARGET -gt 0 ]] || usage
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t'" >&2; usage; }
done

CORPORA="${ATTENDANT_CORPORA:-$ROOT/../shared/corpora}"
SANITIZER="${FUZZ_SANITIZER:-none}"
TIMEOUT="${FUZZ_TIMEOUT:-20}"
LOGS="$FUZZ/target/fuzz-logs"

# cargo-fuzz passes nightly-only flags to rustc; the stable toolchain accepts them with this.
export RUSTC_BOOTSTRAP=1
export RUST_BACKTRACE=1
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi
command -v unzip >/dev/null || { echo "fuzz.sh: unzip is needed (apt-get install unzip)" >&2; exit 2; }

# ---- seeds ----------------------------------------------------------------------------------

# The harness prefixes of pjproject's seeds (pjsip/pjproject tests/fuzz/fuzz-rtp.c, fuzz-srtp.c):
# an RTP seed is 5 bytes of session set-up (PT, SSRC), a packet at offset 5, another at 17,
# 7 bytes of encode parameters at 29, then from 36 up to 16 packets, each after a length byte
# (clamped to 12..200). An SRTP seed has its protected packet at offset 50, after the crypto
# selector, an RTP/RTCP flag and a key slot (every one of the 126 seeds has a v2 header there).
RTP_SEED_PREFIX=5
SRTP_SEED_PREFIX=50

# slice FILE OFFSET [LENGTH] > OUT: bytes of FILE from OFFSET (0-based), to the end by default.
slice() {
    if [[ $# -gt 2 ]]; then
        tail -c +"$(($2 + 1))" "$1" | head -c "$3"
    else
        tail -c +"$(($2 + 1))" "$1"
    fi
}

# unzip_seeds ZIP DIR: the zip's files into a temporary DIR (flat), echoing nothing.
unzip_seeds() {
    rm -rf "$2" && mkdir -p "$2"
    unzip -q -o -j "$1" -d "$2"
    find "$2" -type f -size 0 -delete
}

# Packets inside one pjproject RTP seed, each into "$2-<n>".
rtp_seed_packets() {
    local f=$1 out=$2 size at len n=0
    size=$(stat -c %s "$f")
    [[ $size -gt $RTP_SEED_PREFIX ]] && slice "$f" "$RTP_SEED_PREFIX" >"$out-$((n++))"
    [[ $size -gt 17 ]] && slice "$f" 17 >"$out-$((n++))"
    at=36
    while [[ $((at + 13)) -lt $size && $n -lt 18 ]]; do
        len=$(od -An -tu1 -j "$at" -N1 "$f" | tr -d ' ')
        ((len < 12)) && len=12
        ((len > 200)) && len=200
        at=$((at + 1))
        [[ $((at + len)) -le $size ]] || break
        slice "$f" "$at" "$len" >"$out-$((n++))"
        at=$((at + len))
    done
}

# sip_bodies DIR OUT: the bodies of the SIP messages in DIR that carry SDP, one file each.
sip_bodies() {
    local f
    for f in "$1"/*; do
        [[ -f $f ]] || continue
        grep -aqi '^\(content-type\|c\)[[:space:]]*:[[:space:]]*application/sdp' "$f" || continue
        sed '1,/^\r\{0,1\}$/d' "$f" >"$2-$(basename "$f")"
    done
}

# RFC 4733 event reports as fuzz_dtmf reads them: 6-byte chunks (event, E|R|volume, duration
# BE, 2 bytes padding), the first byte doubling as the timestamp. Written by this script.
dtmf_seeds() {
    local d=$1
    # digit 5: start, two updates, three end packets (RFC 4733 §2.5.1.4)
    printf '\x05\x0a\x00\xa0\x00\x00\x05\x0a\x01\x40\x00\x00\x05\x0a\x01\xe0\x00\x00\x05\x8a\x03\x20\x00\x00\x05\x8a\x03\x20\x00\x00\x05\x8a\x03\x20\x00\x00' >"$d/seed-digit5"
    # '#' then '*' then 'D', each ended
    printf '\x0b\x0a\x00\xa0\x00\x00\x0b\x8a\x03\x20\x00\x00\x0a\x0a\x00\xa0\x00\x00\x0a\x8a\x03\x20\x00\x00\x0f\x0a\x00\xa0\x00\x00\x0f\x8a\x03\x20\x00\x00' >"$d/seed-hash-star-D"
    # flash (16), an unsupported event (200), a duration of 0xffff, a bare 4-byte report
    printf '\x10\x0a\x00\xa0\x00\x00\xc8\x0a\x00\xa0\x00\x00\x01\x3f\xff\xff\x00\x00\x01\xbf\xff\xff' >"$d/seed-edge"
}

# WAV seeds: the head (1 KiB) of each of the repo's fixtures, which span PCM 16-bit, IEEE
# float, A-law, µ-law, stereo and WAVE_FORMAT_EXTENSIBLE 24-bit; the parser takes a cut-off
# data chunk, so the heads parse.
wav_seeds() {
    local d=$1 f
    while IFS= read -r -d '' f; do
        head -c 1024 "$f" >"$d/seed-$(basename "$f")"
    done < <(find "$ROOT/testdata" -name '*.wav' -print0)
}

seed() {
    local t=$1 dir="$FUZZ/corpus/$1" tmp="$FUZZ/target/seed-tmp/$1" pj="$CORPORA/pjproject-seeds" f
    mkdir -p "$dir" "$FUZZ/target/seed-tmp"
    local have_corpora=1
    if [[ ! -d $CORPORA ]]; then
        have_corpora=0
        [[ -n ${WARNED_CORPORA:-} ]] || echo "fuzz.sh: $CORPORA not found: seeding from the repo only" >&2
        WARNED_CORPORA=1
    fi
    case $t in
    sip)
        if ((have_corpora)); then
            for f in "$CORPORA"/rfc4475-ersip/* "$CORPORA"/rfc5118-ersip/*; do
                [[ -f $f ]] && cp "$f" "$dir/seed-rfc-$(basename "$f")"
            done
            unzip -q -o -j "$pj/fuzz-sip_seed_corpus.zip" -d "$dir"
        fi
        ;;
    sdp)
        if ((have_corpora)); then
            unzip -q -o -j "$pj/fuzz-sdp_seed_corpus.zip" -d "$dir"
            sip_bodies "$CORPORA/rfc4475-ersip" "$dir/seed-body"
            sip_bodies "$CORPORA/rfc5118-ersip" "$dir/seed-body"
            unzip_seeds "$pj/fuzz-sip_seed_corpus.zip" "$tmp"
            sip_bodies "$tmp" "$dir/seed-body-pj"
        fi
        ;;
    rtp)
        if ((have_corpora)); then
            unzip_seeds "$pj/fuzz-rtp_seed_corpus.zip" "$tmp"
            for f in "$tmp"/*; do rtp_seed_packets "$f" "$dir/seed-pj-$(basename "$f")"; done
            # The SRTP seeds' packets have plain RTP headers (CSRC, extension, padding...).
            unzip_seeds "$pj/fuzz-srtp_seed_corpus.zip" "$tmp"
            for f in "$tmp"/rtp*; do slice "$f" "$SRTP_SEED_PREFIX" >"$dir/seed-pj-srtp-$(basename "$f")"; done
        fi
        ;;
    rtcp)
        if ((have_corpora)); then
            unzip -q -o -j "$pj/fuzz-rtcp_seed_corpus.zip" -d "$dir"
            unzip_seeds "$pj/fuzz-srtp_seed_corpus.zip" "$tmp"
            for f in "$tmp"/rtcp*; do slice "$f" "$SRTP_SEED_PREFIX" >"$dir/seed-pj-srtcp-$(basename "$f")"; done
        fi
        ;;
    srtp)
        if ((have_corpora)); then
            unzip_seeds "$pj/fuzz-srtp_seed_corpus.zip" "$tmp"
            for f in "$tmp"/*; do slice "$f" "$SRTP_SEED_PREFIX" >"$dir/seed-pj-$(basename "$f")"; done
        fi
        ;;
    dtmf) dtmf_seeds "$dir" ;;
    wav) wav_seeds "$dir" ;;
    esac
    find "$dir" -type f -size 0 -delete
    rm -rf "$tmp"
}

# ---- build and run --------------------------------------------------------------------------

mkdir -p "$LOGS" "$FUZZ/artifacts"
: >"$LOGS/build.log"
for t in "${TARGETS[@]}"; do seed "$t"; done

# The fuzz crate is its own workspace (not in the root one): pin the parsers' dependencies to
# the versions the worker ships by starting from the root lock file; cargo adds libfuzzer-sys.
cp "$ROOT/Cargo.lock" "$FUZZ/Cargo.lock"

BUILD_FLAGS=(--release --debug-assertions --sanitizer "$SANITIZER")
echo "fuzz.sh: building ${TARGETS[*]} (sanitizer: $SANITIZER)"
cd "$ROOT"
for t in "${TARGETS[@]}"; do
    cargo fuzz build "${BUILD_FLAGS[@]}" "$t" >>"$LOGS/build.log" 2>&1 || {
        tail -n 30 "$LOGS/build.log" >&2
        echo "fuzz.sh: build of $t failed (log: $LOGS/build.log)" >&2
        exit 2
    }
done

failed=0
summary=()
for t in "${TARGETS[@]}"; do
    log="$LOGS/$t.log"
    mkdir -p "$FUZZ/artifacts/$t"
    stamp="$FUZZ/target/fuzz-logs/.start-$t"
    touch "$stamp"
    seeds=$(find "$FUZZ/corpus/$t" -type f | wc -l)
    echo "fuzz.sh: $t: ${SECONDS_PER_TARGET}s from $seeds corpus files"
    start=$(date +%s)
    set +e
    cargo fuzz run "${BUILD_FLAGS[@]}" "$t" "$FUZZ/corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    set -e
    elapsed=$(($(date +%s) - start))
    execs=$(grep -a '^stat::number_of_executed_units:' "$log" | tail -n1 | awk '{print $2}')
    rate=$(grep -a '^stat::average_exec_per_sec:' "$log" | tail -n1 | awk '{print $2}')
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -n1 | awk '{print $2}')
    corp=$(grep -ao 'corp: [0-9]*' "$log" | tail -n1 | awk '{print $2}')
    found=$(find "$FUZZ/artifacts/$t" -type f -newer "$stamp" | sort | head -n1)
    if [[ $rc -eq 0 && -z $found ]]; then
        result=ok
    else
        failed=1
        kind=$(grep -aoE 'ERROR: libFuzzer: [a-z -]+|panicked at [^ ]+' "$log" | head -n1)
        [[ $kind == panicked* ]] && kind="$kind $(grep -a -A1 'panicked at' "$log" | sed -n 2p)"
        result="FAILED (exit $rc${kind:+; $kind})${found:+ input: ${found#"$ROOT"/}} log: ${log#"$ROOT"/}"
    fi
    summary+=("$(printf '%-5s %10s execs in %3ss (%s/s), cov %s, corpus %s: %s' \
        "$t" "${execs:-?}" "$elapsed" "${rate:-?}" "${cov:-?}" "${corp:-?}" "$result")")
    echo "${summary[-1]}"
done

echo
echo "fuzz.sh summary (${SECONDS_PER_TARGET}s per target):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
