#!/usr/bin/env bash
# Every benchmark whose figures are in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench accept
cargo bench --bench hot_paths -- --warm-up-time 1 --measurement-time 3
# Our SNS verification against npm sns-validator (Node.js and npm from the machine; the
# script fails and says what to install when they are missing).
bench/sns-validator/compare.sh 5 2
# Load on the local server: wrk from Debian (pinned by the distribution's release).
WRK_VERSION=4.1.0-3+b2
[ "$(dpkg-query -W -f='${Version}' wrk 2>/dev/null)" = "$WRK_VERSION" ] || { apt-get update -qq && apt-get install -y -qq "wrk=$WRK_VERSION"; }
cargo build --release --bin webhook-trigger --bin api-lambda --bin worker-lambda
DRAIN_SECONDS=${DRAIN_SECONDS:-15} bench/serve/load.sh target/release/webhook-trigger 10 32 serve
cargo build --release --manifest-path bench/hello-lambda/Cargo.toml --target-dir bench/hello-lambda/target
python3 bench/lambda_init.py 30
