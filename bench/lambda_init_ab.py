#!/usr/bin/env python3
"""Init time of two builds of the Lambda binaries, side by side: bench/lambda_init.py's
measure() on BASE_DIR's and NEW_DIR's api-lambda and worker-lambda (and the empty function,
the floor), in interleaved rounds so that both see the same machine.

Usage: bench/lambda_init_ab.py BASE_DIR NEW_DIR [ROUNDS] [RUNS_PER_ROUND]
  e.g. cp target/release/{api,worker}-lambda /tmp/base/ on the old commit, build the new one,
       bench/lambda_init_ab.py /tmp/base target/release 3 20
Give SSL_CERT_FILE / SSL_CERT_DIR explicitly (see BENCHMARKS.md).
"""
import json
import os
import sys

import lambda_init
from runtime_api import summary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    base, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    lambda_init.RUNS = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    health = open(os.path.join(ROOT, "events", "api-health.json"), "rb").read()
    empty = json.dumps({"Records": []}).encode()
    cases = [("hello-lambda", os.path.join(ROOT, "bench", "hello-lambda", "target", "release", "hello-lambda"), b"{}")]
    for name, event in (("api-lambda", health), ("worker-lambda", empty)):
        cases.append((f"{name} base", os.path.join(base, name), event))
        cases.append((f"{name} new", os.path.join(new, name), event))
    for label, binary, _ in cases:
        if not os.path.exists(binary):
            sys.exit(f"missing {binary} ({label})")
    inits = {label: [] for label, _, _ in cases}
    for _ in range(rounds):
        for label, binary, event in cases:
            inits[label] += [r["init"] for r in lambda_init.measure(binary, event)]
    for label, _, _ in cases:
        print(f"{label:<20} init {summary(inits[label])}   (n={len(inits[label])})")


if __name__ == "__main__":
    main()
