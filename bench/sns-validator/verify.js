#!/usr/bin/env node
// The peer side of bench/sns-validator/compare.sh: npm sns-validator verifying our SNS
// fixtures (tests/fixtures/sns) in a loop, single thread, certificate served from memory.
//
//   node verify.js SECONDS     verifies each message for SECONDS, one line per message
//   node verify.js --serve     reads `<label> <seconds>` lines, answers each with one line
//
// Each line printed is `<label> <messages per wall-clock second> <messages per CPU second>`,
// measured after a short warm-up. The CPU figure
// (process.cpuUsage(): every thread of the process, so the garbage collector's helpers count
// too) does not move when other processes take the machine's cores; the wall-clock one does. Any verification failure aborts the
// run (exit 1): a refused message is never counted.
//
// sns-validator keeps its certificate cache private to its module and fills it from
// `https.get(SigningCertURL)`. We replace `https.get` (the same module object it required)
// with one that answers from the fixture files, so the first validation of each URL fills
// the cache from memory and every later one is a cache hit, as in a warm server. The stub
// counts its calls: more than one per URL would mean the cache was not used.

"use strict";

const fs = require("fs");
const https = require("https");
const path = require("path");
const { EventEmitter } = require("events");

const FIXTURES = path.join(__dirname, "..", "..", "tests", "fixtures", "sns");
// Label, message file, certificate file. Every message is a Notification (see compare.sh).
const MESSAGES = [
  ["kat-v1", "kat-notification-v1.json", "kat-signing-cert.pem"],
  ["kat-v2", "kat-notification-v2.json", "kat-signing-cert.pem"],
  [
    "aws-2015-v1",
    "aws-notification-2015.json",
    "SimpleNotificationService-bb750dd426d95ee9390147a5624348ee.pem",
  ],
];

const serve = process.argv[2] === "--serve";
const seconds = Number(process.argv[2] || 2);
if (!serve && !(seconds > 0)) {
  console.error("usage: node verify.js SECONDS | node verify.js --serve");
  process.exit(2);
}
// The clock is read once per chunk, not per message.
const CHUNK = 256;

const certificates = new Map();
const fetches = new Map();
for (const [, file, cert] of MESSAGES) {
  const url = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), "utf8")).SigningCertURL;
  certificates.set(url, fs.readFileSync(path.join(FIXTURES, cert), "utf8"));
}

https.get = function (url, callback) {
  const key = String(url);
  fetches.set(key, (fetches.get(key) || 0) + 1);
  const request = new EventEmitter();
  const response = new EventEmitter();
  const body = certificates.get(key);
  response.statusCode = body === undefined ? 404 : 200;
  process.nextTick(() => {
    callback(response);
    if (body !== undefined) response.emit("data", Buffer.from(body));
    response.emit("end");
  });
  return request;
};

const MessageValidator = require("sns-validator");
const validator = new MessageValidator();

function fail(label, err) {
  console.error(`${label}: sns-validator refused the message: ${err && err.message}`);
  process.exit(1);
}

// One validation through the asynchronous path (the certificate fetch), to fill the cache.
function warm(label, body) {
  return new Promise((resolve) => {
    validator.validate(body, (err) => (err ? fail(label, err) : resolve()));
  });
}

// Verifies `body` in a loop for `seconds` (the clock read once per CHUNK) and returns
// `<label> <messages per wall-clock second> <messages per CPU second>`.
function measure(label, body, seconds) {
  // With the certificate cached, validate() calls back before it returns; count that.
  let verified = 0;
  const onResult = (err) => {
    if (err) fail(label, err);
    verified += 1;
  };
  let count = 0;
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    for (let i = 0; i < CHUNK; i++) validator.validate(body, onResult);
    count += CHUNK;
    elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  }
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (verified !== count) {
    console.error(`${label}: ${verified} of ${count} validations called back synchronously`);
    process.exit(1);
  }
  return `${label} ${(count / elapsed).toFixed(0)} ${(count / cpuSeconds).toFixed(0)}`;
}

function checkCacheUsed() {
  for (const [url, count] of fetches) {
    if (count !== 1) {
      console.error(`${url} was fetched ${count} times: the certificate cache was not used`);
      process.exit(1);
    }
  }
}

async function main() {
  const bodies = new Map(
    MESSAGES.map(([label, file]) => [label, fs.readFileSync(path.join(FIXTURES, file), "utf8")]),
  );
  for (const [label, body] of bodies) await warm(label, body);
  // A short warm-up for the JIT. The body is passed as the string received (validate()
  // parses it), as our side parses the body it receives.
  for (const [label, body] of bodies) {
    for (let i = 0; i < 1000; i++) validator.validate(body, (err) => err && fail(label, err));
  }

  if (!serve) {
    for (const [label, body] of bodies) console.log(measure(label, body, seconds));
    checkCacheUsed();
    return;
  }
  // --serve: one measurement per line read, `<label> <seconds>`, answered on stdout, so
  // compare.js can alternate the two sides in short slices within one run.
  const lines = require("readline").createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [label, slice] = line.trim().split(/\s+/);
    const body = bodies.get(label);
    if (body === undefined || !(Number(slice) > 0)) {
      console.error(`verify.js --serve: expected "<label> <seconds>", got ${JSON.stringify(line)}`);
      process.exit(2);
    }
    console.log(measure(label, body, Number(slice)));
  }
  checkCacheUsed();
}

main();
