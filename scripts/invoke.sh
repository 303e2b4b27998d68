#!/usr/bin/env bash
# Runs one file of events/ through its Lambda function under cargo-lambda's emulator of the
# Lambda Runtime API, and prints the function's answer:
#
#   make invoke EVENT=events/api-webhook-header-key.json
#   scripts/invoke.sh events/sqs-work-item.json
#
# SQS events (with "Records") go to worker-lambda, API Gateway events to api-lambda.
# The functions need DynamoDB and SQS: if AWS_ENDPOINT_URL is set, that emulator is used;
# otherwise a moto server is started here on a free loopback port and stopped afterwards.
# Real AWS is never used: without an emulator endpoint nothing runs. Before the invoke,
# `webhook-trigger setup --sample-data` creates the table (TABLE_NAME, default
# webhook-trigger-local), the queues and the sample key/workflow/execution the events name.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv

event=${1:-}
if [ -z "$event" ] || [ ! -f "$event" ]; then
  echo "usage: scripts/invoke.sh events/FILE.json   (or: make invoke EVENT=events/FILE.json)" >&2
  ls events/*.json >&2 || true
  exit 2
fi
for tool in "$VENV/bin/cargo-lambda" "$VENV/bin/python"; do
  [ -x "$tool" ] || { echo "missing $tool: run 'make venv'" >&2; exit 1; }
done

function=$("$VENV/bin/python" -c '
import json, sys
e = json.load(open(sys.argv[1]))
print("worker-lambda" if isinstance(e, dict) and "Records" in e else "api-lambda")
' "$event")

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for_port() { # port, what, log
  for _ in $(seq 1 600); do
    if (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$2 did not start on port $1:" >&2
  cat "$3" >&2
  return 1
}

pids=()
logs=()
cleanup() {
  for pid in "${pids[@]}"; do
    # Each background job leads its own process group (set -m below): stop all of it.
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -f "${logs[@]}"
}
trap cleanup EXIT INT TERM
set -m

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  [ -x "$VENV/bin/moto_server" ] || { echo "missing $VENV/bin/moto_server: run 'make venv'" >&2; exit 1; }
  moto_port=$(free_port)
  moto_log=$(mktemp); logs+=("$moto_log")
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1 &
  pids+=($!)
  wait_for_port "$moto_port" "moto" "$moto_log"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  echo "== moto on $AWS_ENDPOINT_URL" >&2
fi
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export TABLE_NAME=${TABLE_NAME:-webhook-trigger-local}

echo "== setup: table $TABLE_NAME, queues, sample data" >&2
cargo build --quiet --bin webhook-trigger
setup_json=$(./target/debug/webhook-trigger --json --store "dynamodb://$TABLE_NAME" setup --sample-data)
QUEUE_URL=$(printf '%s' "$setup_json" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["queueUrl"])')
export QUEUE_URL
# What template.yaml sets for the deployed functions.
export AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true LOG_FORMAT=${LOG_FORMAT:-json}

lambda_port=$(free_port)
watch_log=$(mktemp); logs+=("$watch_log")
echo "== cargo lambda watch on 127.0.0.1:$lambda_port (builds $function on first invoke)" >&2
"$VENV/bin/cargo-lambda" lambda watch --invoke-address 127.0.0.1 --invoke-port "$lambda_port" \
  --ignore-changes >"$watch_log" 2>&1 &
pids+=($!)
wait_for_port "$lambda_port" "cargo lambda watch" "$watch_log"

echo "== invoke $function with $event" >&2
set +e
"$VENV/bin/cargo-lambda" lambda invoke "$function" --invoke-address 127.0.0.1 \
  --invoke-port "$lambda_port" --data-file "$event" --output-format json
status=$?
set -e
echo
if [ "$status" -ne 0 ]; then
  echo "== invoke failed ($status); emulator log:" >&2
  cat "$watch_log" >&2
else
  # The function's own log lines (JSON, with the request id and execution id).
  echo "== function log" >&2
  grep -E '^\{' "$watch_log" >&2 || true
fi
exit "$status"
