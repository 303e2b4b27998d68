#!/usr/bin/env bash
# Everything `make test` runs: lint, a moto server on a free loopback port for the AWS
# adapters, every Rust test, and cleanup of what it started, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv

for tool in "$VENV/bin/moto_server" "$VENV/bin/cfn-lint"; do
  [ -x "$tool" ] || { echo "missing $tool: run 'make venv' (needs python3 with venv and pip)" >&2; exit 1; }
done

# The console's browser test drives Debian's chromium through chromedriver. Installed here
# when missing (CI runs as root); never skipped: without them the run stops and says so.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "== apt-get install chromium chromium-driver (the console's browser test)"
  apt-get install -y chromium chromium-driver >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y chromium chromium-driver >/dev/null; } \
    || { echo "the console tests need Debian's chromium and chromium-driver: run 'apt-get install -y chromium chromium-driver' as root" >&2; exit 1; }
fi
command -v chromium >/dev/null && command -v chromedriver >/dev/null \
  || { echo "chromium or chromedriver still missing: apt-get install -y chromium chromium-driver" >&2; exit 1; }

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
if [ -f template.yaml ]; then
  echo "== cfn-lint template.yaml"
  "$VENV/bin/cfn-lint" template.yaml
fi

port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do
  if (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
  sleep 0.1
done
(echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null || { echo "moto did not start:" >&2; cat "$log" >&2; exit 1; }
echo "== moto on 127.0.0.1:$port"

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export WEBHOOK_TEST_MOTO=1
export PATH="$PWD/$VENV/bin:$PATH"

echo "== cargo test"
out=$(mktemp)
status=0
cargo test --all-targets --no-fail-fast 2>&1 | tee "$out" || status=$?
# One closing line for the whole run: the last target (a bench smoke run) prints no summary.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$out"
rm -f "$out"
exit "$status"
