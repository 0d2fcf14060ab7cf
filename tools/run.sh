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
# Barge-in: the caller talks over the menu prompt, on a line that echoes the prompts back.
echo "== attendant simulate testdata/bargein/interrupt-pay.wav --interject-at 2500 --echo -10,40"
target/release/attendant simulate testdata/bargein/interrupt-pay.wav --interject-at 2500 --echo -10,40
echo "== attendant simulate testdata/bargein/mmhmm-then-pay.wav --interject-at 2500 (a backchannel: the prompt resumes)"
target/release/attendant simulate testdata/bargein/mmhmm-then-pay.wav --interject-at 2500 | sed -n 1,8p
echo "== attendant say \"Your balance is \$1,234.56, due March 3rd.\" -o target/say-demo.wav --rate 8000 --ulaw"
target/release/attendant say "Your balance is \$1,234.56, due March 3rd." -o target/say-demo.wav --rate 8000 --ulaw
