#!/usr/bin/env node
// Alternates the two sides of compare.sh in short slices and prints the ratio of each pair.
//
//   node compare.js OURS_BINARY ROUNDS SECONDS
//
// Both sides stay running (`verify.js --serve` and `sns_throughput --serve`, each warmed up
// once) and measure one message for SECONDS when asked. Every round measures each message on
// both sides back to back, peer first in odd rounds and ours first in even ones, so a change
// in the machine's speed (this 2-core VM's moves by a third within seconds, CPU time
// included) lands on both halves of a pair. Each pair gives one ratio; the figures printed
// are medians over the rounds, with the lowest and highest pair ratio beside them.
// Either side refusing a message (or exiting) aborts the run with exit 1.

"use strict";

const { spawn } = require("child_process");
const path = require("path");
const readline = require("readline");

const [ours, roundsArg, secondsArg] = process.argv.slice(2);
const rounds = Number(roundsArg);
const seconds = Number(secondsArg);
if (!ours || !(rounds > 0) || !(seconds > 0)) {
  console.error("usage: node compare.js OURS_BINARY ROUNDS SECONDS");
  process.exit(2);
}
const LABELS = ["kat-v1", "kat-v2", "aws-2015-v1"];

// A child that answers one line per request line.
function side(name, command, args) {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
  const waiting = [];
  readline.createInterface({ input: child.stdout }).on("line", (line) => waiting.shift()?.(line));
  child.on("exit", (code) => {
    if (waiting.length > 0 || code !== 0) {
      console.error(`${name} exited (${code}) during the run`);
      process.exit(1);
    }
  });
  return {
    measure(label) {
      return new Promise((resolve) => {
        waiting.push((line) => {
          const [got, wall, cpu] = line.split(" ");
          if (got !== label) {
            console.error(`${name} answered ${JSON.stringify(line)} for ${label}`);
            process.exit(1);
          }
          resolve({ wall: Number(wall), cpu: Number(cpu) });
        });
        child.stdin.write(`${label} ${seconds}\n`);
      });
    },
    close() {
      child.stdin.end();
      return new Promise((resolve) => child.on("exit", resolve));
    },
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString("en-US");

async function main() {
  const peer = side("peer (verify.js)", process.execPath, [path.join(__dirname, "verify.js"), "--serve"]);
  const mine = side("ours (sns_throughput)", ours, ["--serve"]);
  const runs = Object.fromEntries(LABELS.map((l) => [l, { peer: [], ours: [] }]));
  for (let round = 1; round <= rounds; round++) {
    for (const label of LABELS) {
      if (round % 2) {
        runs[label].peer.push(await peer.measure(label));
        runs[label].ours.push(await mine.measure(label));
      } else {
        runs[label].ours.push(await mine.measure(label));
        runs[label].peer.push(await peer.measure(label));
      }
    }
    if (round % 5 === 0 || round === rounds) console.error(`round ${round}/${rounds} done`);
  }
  await Promise.all([peer.close(), mine.close()]);

  for (const [clock, what] of [
    ["wall", "messages per wall-clock second"],
    ["cpu", "messages per CPU second"],
  ]) {
    console.log(`\n${what} (medians over ${rounds} rounds; ratio: median of the pairs' ratios, lowest-highest pair)`);
    console.log(["message", "peer", "ours", "ours / peer", "pairs"].join("\t"));
    let lowest = Infinity;
    for (const [label, r] of Object.entries(runs)) {
      const ratios = r.ours.map((o, i) => o[clock] / r.peer[i][clock]);
      const ratio = median(ratios);
      lowest = Math.min(lowest, ratio);
      console.log(
        [
          label,
          fmt(median(r.peer.map((m) => m[clock]))),
          fmt(median(r.ours.map((m) => m[clock]))),
          `${ratio.toFixed(2)}x`,
          `${Math.min(...ratios).toFixed(1)}-${Math.max(...ratios).toFixed(1)}x`,
        ].join("\t"),
      );
    }
    console.log(`lowest median ratio: ${lowest.toFixed(2)}x (target: 10x)`);
  }
}

main();
