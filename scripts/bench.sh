#!/usr/bin/env bash
# Every benchmark whose figures are in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench accept
cargo build --release --bin api-lambda --bin worker-lambda
cargo build --release --manifest-path bench/hello-lambda/Cargo.toml --target-dir bench/hello-lambda/target
python3 bench/lambda_init.py 30
