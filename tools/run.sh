#!/usr/bin/env bash
# The main job: set up (packages, models, build), then run whole calls through the assistant
# in process (`attendant simulate`): the sample tenant Contoso greets, the caller's recorded
# answers are recognized and classified, slots are filled, and the routing decision is printed.
# Extra arguments replace the demo, e.g. `tools/run.sh my-call.wav --dtmf 55123456#,1 --json`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
if (($#)); then
  exec target/release/attendant simulate "$@"
fi
for call in testdata/assistant/calls/payment-corrected-digits.wav \
            testdata/assistant/calls/pizza-then-internet.wav; do
  echo "== attendant simulate $call"
  target/release/attendant simulate "$call"
done
echo "== attendant simulate testdata/assistant/make-a-payment.wav --dtmf 55123456#,1 --json (last line: the decision)"
target/release/attendant simulate testdata/assistant/make-a-payment.wav --dtmf '55123456#,1' --json | tail -1
