#!/usr/bin/env python3
"""How late a `wait` wakes under `serve` (SQLite): N webhooks to a workflow that waits WAIT
seconds and then transforms, all on loopback. For each execution, lateness is the wait step's
finish minus the time it waited until (`waitedUntil`): the queue row's visibility, the worker's
poll and the claim. Also prints the waiting gauge from /metrics while they wait.

    bench/wait_wakeup.py BINARY [N] [WAIT_SECONDS]

The README promises a local wake-up within 1 s of its time.
"""
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse_time(text):
    # RFC 3339 with up to nanoseconds; Python keeps microseconds.
    text = text.replace("Z", "+00:00")
    head, _, tail = text.partition(".")
    if tail:
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(text)


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    wait = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    work = tempfile.mkdtemp()
    db = os.path.join(work, "wt.db")
    env = dict(os.environ, WEBHOOK_STORE=db, RUST_LOG="warn")
    key = subprocess.run([binary, "--json", "api-keys", "create", "bench"], env=env,
                         check=True, capture_output=True, text=True)
    key_value = json.loads(key.stdout)["value"]
    wf_file = os.path.join(work, "wf.yaml")
    with open(wf_file, "w") as f:
        f.write(f"""name: wait bench
api_key: bench
steps:
  - id: pause
    type: wait
    for: {wait}s
  - id: after
    type: transform
    output: {{n: "{{{{ trigger.body.n }}}}"}}
""")
    created = subprocess.run([binary, "--json", "workflows", "create", "--file", wf_file],
                             env=env, check=True, capture_output=True, text=True)
    wf_id = json.loads(created.stdout)["id"]
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--addr", f"127.0.0.1:{port}", "--store", db],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)

        def send(i):
            req = urllib.request.Request(f"{base}/webhooks/{wf_id}", data=json.dumps({"n": i}).encode(),
                                         headers={"content-type": "application/json", "x-api-key": key_value})
            urllib.request.urlopen(req, timeout=10).read()

        started = time.time()
        threads = [threading.Thread(target=lambda k=k: [send(i) for i in range(k, n, 16)]) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent_in = time.time() - started
        time.sleep(wait / 2)
        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
        gauge = next((line.split()[-1] for line in metrics.splitlines()
                      if line.startswith("workflow_executions_waiting")), "absent")
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        deadline = time.time() + wait + 30
        while time.time() < deadline:
            done = conn.execute("SELECT COUNT(*) FROM executions WHERE status = 'succeeded'").fetchone()[0]
            if done == n:
                break
            time.sleep(0.2)
        late = []
        for (record,) in conn.execute("SELECT record FROM executions"):
            e = json.loads(record)
            pause = next(s for s in e["steps"] if s["id"] == "pause")
            until = parse_time(pause["output"]["waitedUntil"])
            finished = parse_time(pause["finishedAt"])
            late.append((finished - until).total_seconds() * 1000)
        late.sort()
        q = lambda p: late[min(len(late) - 1, int(p * len(late)))]
        print(f"== {os.path.basename(binary)}: {n} webhooks sent in {sent_in:.2f} s, each waiting {wait} s")
        print(f"waiting gauge while they waited: {gauge}")
        print(f"finished: {len(late)} of {n}")
        print(f"wake-up lateness ms: p50 {q(0.5):.0f}, p95 {q(0.95):.0f}, p99 {q(0.99):.0f}, "
              f"max {late[-1]:.0f}, mean {statistics.mean(late):.0f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
