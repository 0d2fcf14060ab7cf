#!/usr/bin/env bash
# The main job: set up (packages, models, build), then stream recorded calls through the media
# graph as live calls and print each caller turn with its transcript and latency.
# Extra arguments replace the demo files, e.g. `tools/run.sh --json my-call.wav`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
if (($#)); then
  exec target/release/attendant transcribe "$@"
fi
exec target/release/attendant transcribe \
  testdata/multiturn/balance-confirm.8k-ulaw.wav \
  testdata/multiturn/internet-account-router.16k.wav \
  testdata/ivr/account-number.8k-ulaw.wav \
  testdata/noisy/real-person.8k-ulaw-pink10.wav \
  testdata/formats/yes-please.44k1-stereo-f32.wav \
  testdata/negative/noise-only-5s.8k-ulaw.wav
