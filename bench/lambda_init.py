#!/usr/bin/env python3
"""Cold start of the Lambda binaries, measured the way Lambda sees it.

A minimal Lambda Runtime API on loopback (bench/runtime_api.py); each run spawns a fresh
process of the release binary and measures
  init  = spawn -> its first GET /runtime/invocation/next (what Lambda reports as Init Duration)
  first = that GET -> the POST of the first response (the first, cold invocation)
The event is events/api-health.json for api-lambda and an empty SQS batch for worker-lambda.
No network: SDK clients are built at init but nothing in these events calls AWS. The first
real webhook (DynamoDB and SQS on moto) is bench/lambda_webhook.py.

Usage: bench/lambda_init.py [RUNS]   (scripts/bench.sh builds the binaries and runs it)
"""
import json
import os
import sys

from runtime_api import cold_invoke, lambda_env, summary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 30
STDERR = "/tmp/lambda-stderr.log"


def measure(binary, event):
    env = lambda_env(
        PATH=os.environ.get("PATH", ""),
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        TABLE_NAME="bench",
        QUEUE_URL="http://127.0.0.1:9/123456789012/bench",
        # Where rustls finds the trust store (see BENCHMARKS.md: one bundle file is closer to AWS).
        **{name: os.environ[name] for name in ("SSL_CERT_FILE", "SSL_CERT_DIR") if name in os.environ},
    )
    results = []
    failed = 0
    while len(results) < RUNS:
        run = cold_invoke(binary, env, [event], STDERR)
        if run is not None and not run["answers"][0]["path"].endswith("/response"):
            sys.exit(f"{binary} failed its first invocation: {run['answers'][0]['body'][:200]!r}")
        if run is None:
            # Python's toy server occasionally loses a connection under a killed process's
            # leftovers; the run is discarded and counted, not silently averaged in.
            failed += 1
            if failed > RUNS // 5:
                sys.exit(f"{binary} failed to answer its first invocation {failed} times; see {STDERR}")
            continue
        results.append(run)
    if failed:
        print(f"({failed} runs discarded: the loopback runtime lost the connection)")
    return results


def main():
    health = open(os.path.join(ROOT, "events", "api-health.json"), "rb").read()
    cases = [
        # The floor: a do-nothing lambda_runtime function built with the same profile.
        ("hello-lambda", os.path.join(ROOT, "bench", "hello-lambda", "target", "release", "hello-lambda"), b"{}"),
        ("api-lambda", os.path.join(ROOT, "target", "release", "api-lambda"), health),
        ("worker-lambda", os.path.join(ROOT, "target", "release", "worker-lambda"), json.dumps({"Records": []}).encode()),
    ]
    for name, binary, event in cases:
        if not os.path.exists(binary):
            sys.exit(f"missing {binary}: run scripts/bench.sh (it builds every binary) first")
        results = measure(binary, event)
        print(f"{name:<14} init  {summary([r['init'] for r in results])}   (n={RUNS})")
        print(f"{name:<14} first {summary([r['first'] for r in results])}   answer: {results[-1]['answers'][0]['body'][:60]!r}")


if __name__ == "__main__":
    main()
