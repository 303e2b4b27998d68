#!/usr/bin/env python3
"""Cold start of the Lambda binaries, measured the way Lambda sees it.

A minimal Lambda Runtime API on loopback; each run spawns a fresh process of the release
binary and measures
  init  = spawn -> its first GET /runtime/invocation/next (what Lambda reports as Init Duration)
  first = that GET -> the POST of the first response (the first, cold invocation)
The event is events/api-health.json for api-lambda and an empty SQS batch for worker-lambda.
No network: SDK clients are built at init but nothing in these events calls AWS.

Usage: bench/lambda_init.py [RUNS]   (scripts/bench.sh builds the binaries and runs it)
"""
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30


class Runtime(http.server.BaseHTTPRequestHandler):
    event = b"{}"
    marks = {}
    done = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            if "next" in Runtime.marks:
                # Second poll: the function is done; hold it until we kill the process.
                Runtime.done.wait(5)
                return
            Runtime.marks["next"] = time.perf_counter()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(Runtime.event)))
            self.end_headers()
            self.wfile.write(Runtime.event)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        Runtime.marks["response"] = time.perf_counter()
        Runtime.marks["body"] = body
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        Runtime.done.set()


def measure(binary, event):
    Runtime.event = event
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true",
        "TABLE_NAME": "bench",
        "QUEUE_URL": "http://127.0.0.1:9/123456789012/bench",
        "RUST_LOG": "warn",
        **({"SSL_CERT_DIR": os.environ["SSL_CERT_DIR"]} if "SSL_CERT_DIR" in os.environ else {}),
    }
    results = []
    failed = 0
    while len(results) < RUNS:
        Runtime.marks = {}
        Runtime.done = threading.Event()
        # A fresh server per run, so a late poll of the previous process cannot be taken for
        # this one's first.
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
        started = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=open("/tmp/lambda-stderr.log", "wb"))
        Runtime.done.wait(10)
        proc.kill()
        proc.wait()
        server.shutdown()
        server.server_close()
        if "response" not in Runtime.marks:
            # Python's toy server occasionally loses a connection under a killed process's
            # leftovers; the run is discarded and counted, not silently averaged in.
            failed += 1
            if failed > RUNS // 5:
                sys.exit(f"{binary} failed to answer its first invocation {failed} times; see /tmp/lambda-stderr.log")
            continue
        results.append(((Runtime.marks["next"] - started) * 1000, (Runtime.marks["response"] - Runtime.marks["next"]) * 1000))
    if failed:
        print(f"({failed} runs discarded: the loopback runtime lost the connection)")
    return results, Runtime.marks["body"]


def summary(values):
    values = sorted(values)
    return f"p50 {statistics.median(values):6.2f} ms   p90 {values[int(len(values) * 0.9) - 1]:6.2f} ms   min {values[0]:6.2f} ms"


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
        results, body = measure(binary, event)
        print(f"{name:<14} init  {summary([r[0] for r in results])}   (n={RUNS})")
        print(f"{name:<14} first {summary([r[1] for r in results])}   answer: {body[:60]!r}")


if __name__ == "__main__":
    main()
