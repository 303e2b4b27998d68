#!/usr/bin/env bash
# Our SNS verification against npm sns-validator (the common Node.js validator), on the same
# messages (the Notifications of tests/fixtures/sns), single thread each, certificates served
# from memory on both sides. Both sides stay running and take turns (compare.js): each of
# ROUNDS rounds verifies every message for SECONDS on one side and then on the other, and
# the figures are medians over the rounds, the ratio the median of the pairs' ratios.
#
#   bench/sns-validator/compare.sh [ROUNDS] [SECONDS]     (defaults: 20 rounds, 0.5 s)
#
# Needs Node.js and npm (the machine's; `apt-get install nodejs npm` elsewhere). The peer is
# installed from package-lock.json by `npm ci` (sns-validator pinned to an exact version).
# Either side failing to verify a message aborts the run.
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${1:-20}
SECONDS_EACH=${2:-0.5}

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "compare.sh needs $tool: install Node.js and npm (apt-get install nodejs npm)" >&2; exit 1; }
done
npm ci --no-audit --no-fund --loglevel=error
PEER_VERSION=$(node -p 'require("sns-validator/package.json").version')

# Build once, then run the binary itself, so no round pays for cargo.
ours=$(cd ../.. && cargo bench --bench sns_throughput --no-run --message-format=json \
  | node -e '
      let last = "";
      require("readline").createInterface({ input: process.stdin }).on("line", (l) => {
        const m = JSON.parse(l);
        if (m.reason === "compiler-artifact" && m.target.name === "sns_throughput" && m.executable) last = m.executable;
      }).on("close", () => { if (!last) process.exit(1); console.log(last); });')
[ -x "$ours" ] || { echo "could not build the sns_throughput bench" >&2; exit 1; }

echo "SNS Notification verification on one thread, $ROUNDS rounds of $SECONDS_EACH s per message per side, alternated"
echo "peer: npm sns-validator $PEER_VERSION on Node.js $(node --version); ours: webhook-trigger (cargo bench profile)"
node compare.js "$ours" "$ROUNDS" "$SECONDS_EACH"
