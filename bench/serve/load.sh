#!/usr/bin/env bash
# Load on `webhook-trigger serve` (SQLite, synchronous=FULL): a fresh store, the demo key and
# workflow, then `wrk` with one Idempotency-Key per request on loopback. Prints accepted/s,
# latency percentiles, executions the in-process worker finished during the run and how long it
# took to finish the rest, and the server's peak RSS.
#   bench/serve/load.sh BINARY [SECONDS] [CONNECTIONS] [LABEL]
set -euo pipefail
bin=$1; secs=${2:-10}; conns=${3:-32}; label=${4:-$(basename "$bin")}
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk is missing (scripts/bench.sh installs it: apt-get install wrk)" >&2; exit 1; }
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$bin" serve --addr "127.0.0.1:$port" --store "$dir/wt.db" --demo >"$dir/out" 2>"$dir/err" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q "Webhook URL" "$dir/out" 2>/dev/null && break; sleep 0.1; done
key=$(awk '/API key value:/ {print $4}' "$dir/out")
url=$(awk '/Webhook URL:/ {print $3}' "$dir/out")
path=/${url#http://*/}
count() { python3 - "$dir/wt.db" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
print(c.execute("SELECT COUNT(*) FROM executions WHERE status = ?", (sys.argv[2],)).fetchone()[0])
PY
}
echo "== $label: wrk -t2 -c$conns -d${secs}s (POST, one Idempotency-Key each)"
WT_KEY=$key WT_PATH=$path WT_RUN=$label-$$ wrk -t2 -c"$conns" -d"${secs}s" --latency \
  -s "$here/accept.lua" "http://127.0.0.1:$port" | grep -E "status|latency p50|Requests/sec|Socket errors|Non-2xx|^    Latency"
rss=$(awk '/VmHWM/ {print $2 " " $3}' /proc/$pid/status)
done_during=$(count succeeded)
queued=$(count queued)
start=$(date +%s.%N)
drain_cap=${DRAIN_SECONDS:-60}
deadline=$((SECONDS + drain_cap))
while [ "$(count queued)" != 0 ] || [ "$(count running)" != 0 ]; do
  [ $SECONDS -ge $deadline ] && { echo "worker did not drain within ${drain_cap} s"; break; }
  sleep 0.2
done
drain=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
total=$(count succeeded)
echo "worker: $done_during succeeded during the run, $queued still queued at its end; all $total succeeded ${drain}s later"
echo "worker throughput: $(python3 -c "print(round($total / ($secs + $drain)))") executions/s to succeeded (run + drain)"
echo "server peak RSS: $rss"
