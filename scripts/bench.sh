#!/usr/bin/env bash
# Every benchmark whose figures are in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench accept
cargo bench --bench hot_paths -- --warm-up-time 1 --measurement-time 3
# The local worker: executions/s, and an http_request step against the bare request.
cargo bench --bench worker
# Our SNS verification against npm sns-validator (Node.js and npm from the machine; the
# script fails and says what to install when they are missing); 20 alternated rounds of 0.5 s.
bench/sns-validator/compare.sh 20 0.5
# Load on the local server: wrk from Debian (pinned by the distribution's release).
WRK_VERSION=4.1.0-3+b2
[ "$(dpkg-query -W -f='${Version}' wrk 2>/dev/null)" = "$WRK_VERSION" ] || { apt-get update -qq && apt-get install -y -qq "wrk=$WRK_VERSION"; }
cargo build --release --bin webhook-trigger --bin api-lambda --bin worker-lambda
DRAIN_SECONDS=${DRAIN_SECONDS:-15} bench/serve/load.sh target/release/webhook-trigger 10 32 serve
cargo build --release --manifest-path bench/hello-lambda/Cargo.toml --target-dir bench/hello-lambda/target
# Lambda cold starts, each twice: with Debian's certificate directory, then with one bundle
# file (the two trust store layouts of BENCHMARKS.md), whatever the caller's environment says.
CERTS_DIR=(env -u SSL_CERT_FILE SSL_CERT_DIR=/etc/ssl/certs)
CERTS_FILE=(env -u SSL_CERT_DIR SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)
"${CERTS_DIR[@]}" python3 bench/lambda_init.py 40
"${CERTS_FILE[@]}" python3 bench/lambda_init.py 40
# The first webhook answered and the worker's first batch, on moto (from .venv: `make bench`
# runs `make venv` first).
for tool in .venv/bin/python .venv/bin/moto_server; do
  [ -x "$tool" ] || { echo "missing $tool: run 'make venv'" >&2; exit 1; }
done
"${CERTS_DIR[@]}" .venv/bin/python bench/lambda_webhook.py 40
"${CERTS_FILE[@]}" .venv/bin/python bench/lambda_webhook.py 40
# arm64 binary sizes, one release-profile setting changed at a time: a full cross build per
# variant (5 to 20 minutes each on 2 shared cores). SIZES_VARIANTS="as-is opt-s" runs only those.
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
  || rustup target add aarch64-unknown-linux-gnu
# shellcheck disable=SC2086 # a list of variant names
bench/binary_sizes.sh ${SIZES_VARIANTS:-}
