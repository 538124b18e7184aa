# syntax=docker/dockerfile:1
#
# The polyrec image: one binary, every role (README "Running it"; deploy/README.md).
#
#   docker build -t polyrec .                                    # needs BuildKit (cache mounts)
#   docker run -p 8000:8000 -v polyrec-data:/data polyrec        # all-in-one, embedded storage
#   docker run polyrec serve --service scenario                  # one split service (SPEC §3.1), on server stores
#   docker run polyrec serve --no-stream-jobs                    # all-in-one API replica (with POLYREC_BUS_URL=kafka://…)
#   docker run polyrec worker                                    # stream jobs, /healthz + /metrics on :8010
#   docker run -p 8080:8080 polyrec gateway                      # the console + one entry point before the split services
#
# The build is the default feature set of crate `polyrec` (`production`: the MongoDB, Redis,
# Kafka, ClickHouse and Milvus clients) plus `lightgbm` (the LightGBM ranker, which the
# specification's news_main_feed names; LightGBM is C++ built from source by lightgbm3-sys, linked
# statically, without OpenMP: the runtime image needs only libstdc++). Checked by scripts/check-deploy.sh
# (COPY sources exist and are not excluded by .dockerignore); never built on the machine that
# wrote it (no Docker engine there) — see deploy/README.md.

FROM rust:1-bookworm AS builder

# The default build compiles C code:
# - rdkafka-sys builds librdkafka from source with its ./configure script and `make` (not cmake:
#   the `cmake-build` feature is off) — needs make, gcc/g++ and bash;
# - libz-sys links the system zlib when pkg-config finds zlib1g-dev (else builds its own copy);
# - rusqlite (`bundled`) and mimalloc compile C with the cc crate.
# The gRPC code — the split services' servers and clients (crates/polyrec-server/proto/
# polyrec.proto), the tenant/user-service clients and the Milvus client — is generated without
# protoc (protox / a checked-in descriptor set), so no protobuf compiler is installed.
# - lightgbm3-sys builds LightGBM with cmake >= 3.28 (Debian 12 ships 3.25, so cmake comes from
#   PyPI, as in scripts/test.sh) and generates its bindings with bindgen, which needs libclang.
# The rust image has most of this already; the list is explicit so the requirement is written down.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev libclang-dev python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/cmake \
    && /opt/cmake/bin/pip install --no-cache-dir 'cmake>=3.28,<4'
ENV CMAKE=/opt/cmake/bin/cmake

WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# crates/polyrec/src/demo.rs embeds the two demo scenarios with include_str!.
COPY examples ./examples

# The registry, git checkouts and target/ live in BuildKit cache mounts, so a rebuild after a
# source change recompiles only the workspace crates. The binary is copied out of the cache mount
# before the step ends (the mount is not part of the image).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release -p polyrec --features lightgbm --locked \
    && install -D -m 0755 target/release/polyrec /out/polyrec


FROM debian:bookworm-slim

# ca-certificates: TLS to managed engines (mongodb+srv, rediss, https ClickHouse). zlib1g and
# libstdc++6: the binary links the system zlib (see above) and, for LightGBM, the C++ runtime; both
# are in the base image already, listed to be explicit.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates zlib1g libstdc++6 \
    && rm -rf /var/lib/apt/lists/*

# A fixed, non-root uid/gid (10001) so Kubernetes `runAsUser`/`fsGroup` can name it.
# /data: the data directory (embedded stores, when a store is left embedded).
# /models: the mount point of the model-artifact volume every process shares (POLYREC_BLOBS_URL=file:///models).
RUN groupadd --system --gid 10001 polyrec \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin polyrec \
    && mkdir -p /data /models \
    && chown 10001:10001 /data /models

COPY --from=builder /out/polyrec /usr/local/bin/polyrec
# The HEALTHCHECK probe: bash's /dev/tcp, so the image needs no curl or wget.
COPY --chmod=0755 deploy/docker/healthcheck.sh /usr/local/bin/polyrec-healthcheck

# Read by `serve` and `worker` (clap `env = "POLYREC_DATA_DIR"`).
ENV POLYREC_DATA_DIR=/data \
    RUST_LOG=info

WORKDIR /data
USER 10001:10001
VOLUME ["/data"]

# 8000: `polyrec serve`, all-in-one (the API, /metrics, /healthz, /readyz, /docs).
# 8001–8007: `polyrec serve --service NAME`, HTTP of scenario, item, behavior, recommendation,
#   feature, model, analytics (their routes, /metrics, /healthz, /readyz, /docs).
# 9001–9003, 9005–9007: the gRPC ports of those services (recommendation has none).
# 8010: `polyrec worker` (/healthz and /metrics only).
# 8080: `polyrec gateway` (the console, every API route forwarded; /healthz, /readyz, /metrics).
EXPOSE 8000 8001 8002 8003 8004 8005 8006 8007 9001 9002 9003 9005 9006 9007 8010 8080

# Liveness of whichever role runs: /healthz on the HTTP port the container's command line and
# environment give (`serve`: 8000, `serve --service NAME`: its 8001–8007, `worker`: 8010, or
# --listen / POLYREC_LISTEN / POLYREC_WORKER_LISTEN). Compose and Kubernetes set their own checks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["polyrec-healthcheck"]

ENTRYPOINT ["polyrec"]
CMD ["serve"]
