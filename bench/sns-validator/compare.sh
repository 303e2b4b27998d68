#!/usr/bin/env bash
# Our SNS verification against npm sns-validator (the common Node.js validator), on the same
# messages (the Notifications of tests/fixtures/sns), single thread each, certificates served
# from memory on both sides. Runs the two sides alternately ROUNDS times, each verifying
# every message for SECONDS, and prints the median messages/s of each side per message and
# the ratio.
#
#   bench/sns-validator/compare.sh [ROUNDS] [SECONDS]     (defaults: 5 rounds, 2 s)
#
# Needs Node.js and npm (the machine's; `apt-get install nodejs npm` elsewhere). The peer is
# installed from package-lock.json by `npm ci` (sns-validator pinned to an exact version).
# Either side failing to verify a message aborts the run.
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${1:-5}
SECONDS_EACH=${2:-2}

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

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  node verify.js "$SECONDS_EACH" | sed 's/^/peer /' >>"$results"
  "$ours" "$SECONDS_EACH" --bench | sed 's/^/ours /' >>"$results"
  echo "round $round/$ROUNDS done" >&2
done

echo "SNS Notification verification on one thread: median of $ROUNDS interleaved rounds of $SECONDS_EACH s per message"
echo "peer: npm sns-validator $PEER_VERSION on Node.js $(node --version); ours: webhook-trigger (cargo bench profile)"
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
  const runs = {};
  for (const line of lines) {
    const [side, label, wall, cpu] = line.split(" ");
    const r = (runs[label] ??= { peer: { wall: [], cpu: [] }, ours: { wall: [], cpu: [] } });
    r[side].wall.push(Number(wall));
    r[side].cpu.push(Number(cpu));
  }
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const fmt = (n) => Math.round(n).toLocaleString("en-US");
  for (const [clock, what] of [["wall", "messages per wall-clock second"], ["cpu", "messages per CPU second (steady under load from other processes)"]]) {
    console.log(`\n${what}`);
    console.log(["message", "peer", "ours", "ours / peer"].join("\t"));
    let lowest = Infinity;
    for (const [label, r] of Object.entries(runs)) {
      const ratio = median(r.ours[clock]) / median(r.peer[clock]);
      lowest = Math.min(lowest, ratio);
      console.log([label, fmt(median(r.peer[clock])), fmt(median(r.ours[clock])), ratio.toFixed(1) + "x"].join("\t"));
    }
    console.log(`lowest ratio: ${lowest.toFixed(1)}x (target: 10x)`);
  }
' "$results"
