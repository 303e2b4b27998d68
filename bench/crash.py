#!/usr/bin/env python3
"""Crash test of the local server: keyed webhooks from concurrent clients while `serve` is
killed with SIGKILL and restarted, then a count of what survived.

Loopback only, bounded in count and time. Uses only the standard library:

    .venv/bin/python bench/crash.py [--requests 10000] [--clients 16] [--kill-every 1.5]
                                    [--max-kills 20] [--max-seconds 300] [--bin target/debug/webhook-trigger]

Half the clients retry a request (same Idempotency-Key) until it is answered 2xx, as a
well-behaved sender does; the other half send each request once and move on. Reported:
2xx answers, executions stored, duplicates (keys with more than one execution), answered-but-
lost (2xx keys with no execution), stranded (queued, never taken, with no queue row, counted
with serve stopped after the last kill), and the final states after the worker drained.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cli(binary, db, *args):
    out = subprocess.run(
        [binary, "--store", db, "--json", *args],
        check=True, capture_output=True, env={k: v for k, v in os.environ.items() if k != "WEBHOOK_STORE"},
    )
    return json.loads(out.stdout)


def start(binary, db, port):
    env = dict(os.environ, WORKER_LEASE_SECONDS="2", RUST_LOG="error")
    env.pop("WEBHOOK_BASE_URL", None)
    return subprocess.Popen(
        [binary, "serve", "--addr", f"127.0.0.1:{port}", "--db", db],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )


def wait_healthy(port, limit=20):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise SystemExit("serve did not become healthy")


def post(port, path, key, idem, body):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", path, body=body, headers={
            "x-api-key": key, "idempotency-key": idem, "content-type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--kill-every", type=float, default=1.5)
    p.add_argument("--max-kills", type=int, default=20)
    p.add_argument("--max-seconds", type=float, default=300)
    p.add_argument("--bin", default="target/debug/webhook-trigger")
    a = p.parse_args()
    binary = os.path.abspath(a.bin)
    deadline = time.monotonic() + a.max_seconds
    tmp = tempfile.TemporaryDirectory()
    db = os.path.join(tmp.name, "crash.db")
    key = cli(binary, db, "api-keys", "create", "crash")["value"]
    wf = cli(binary, db, "workflows", "create", "--name", "Crash", "--api-key", "crash",
             "--steps", '[{"id":"e","type":"echo"}]')["id"]
    port = free_port()
    path = f"/webhooks/{wf}"
    server = [start(binary, db, port)]
    wait_healthy(port)

    answered = {}  # key -> status of the last answer
    lock = threading.Lock()
    counter = iter(range(a.requests))
    counter_lock = threading.Lock()
    attempts = Counter()

    def client(n):
        retrying = n % 2 == 0
        while time.monotonic() < deadline:
            with counter_lock:
                i = next(counter, None)
            if i is None:
                return
            idem = f"k{i}"
            while True:
                status = post(port, path, key, idem, json.dumps({"n": i}))
                with lock:
                    attempts["sent"] += 1
                    if status is not None and 200 <= status < 300:
                        answered[idem] = status
                ok = status is not None and 200 <= status < 300
                if not ok:
                    # Both kinds wait a moment after a failure, so the one-shot clients do
                    # not burn through their keys while serve restarts.
                    time.sleep(0.05)
                if ok or not retrying or time.monotonic() > deadline:
                    break

    threads = [threading.Thread(target=client, args=(n,)) for n in range(a.clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    kills = 0
    while any(t.is_alive() for t in threads) and kills < a.max_kills and time.monotonic() < deadline:
        time.sleep(a.kill_every)
        if not any(t.is_alive() for t in threads):
            break
        server[0].send_signal(signal.SIGKILL)
        server[0].wait()
        kills += 1
        server[0] = start(binary, db, port)
        wait_healthy(port)
    for t in threads:
        t.join()
    send_seconds = time.monotonic() - t0
    server[0].send_signal(signal.SIGKILL)
    server[0].wait()
    kills += 1

    c = sqlite3.connect(db)
    one = lambda sql: c.execute(sql).fetchone()[0]
    stranded = one("""SELECT COUNT(*) FROM executions e WHERE e.status = 'queued' AND e.attempts = 0
                      AND NOT EXISTS (SELECT 1 FROM queue q WHERE instr(q.body, e.id) > 0)""")
    c.close()

    server[0] = start(binary, db, port)
    drain_deadline = time.monotonic() + 120
    c = sqlite3.connect(db)
    one = lambda sql: c.execute(sql).fetchone()[0]
    while time.monotonic() < drain_deadline:
        if one("SELECT COUNT(*) FROM executions WHERE status IN ('queued','running')") == 0:
            break
        time.sleep(0.5)
    server[0].send_signal(signal.SIGTERM)
    server[0].wait()

    key_of = "json_extract(record, '$.trigger.idempotency_key')"
    per_key = dict(c.execute(f"SELECT {key_of}, COUNT(*) FROM executions GROUP BY {key_of}").fetchall())
    states = dict(c.execute("SELECT status, COUNT(*) FROM executions GROUP BY status").fetchall())
    report = {
        "requests": a.requests,
        "clients": a.clients,
        "http_attempts": attempts["sent"],
        "kills": kills,
        "send_seconds": round(send_seconds, 1),
        "answered_2xx": len(answered),
        "executions_stored": one("SELECT COUNT(*) FROM executions"),
        "duplicates": sum(n - 1 for n in per_key.values() if n > 1),
        "answered_but_lost": sum(1 for k in answered if k not in per_key),
        "stranded_before_drain": stranded,
        "final_states": states,
        "queue_rows_left": one("SELECT COUNT(*) FROM queue"),
        "dead_letters": one("SELECT COUNT(*) FROM dead_letters"),
    }
    print(json.dumps(report, indent=2))
    ok = report["duplicates"] == 0 and report["answered_but_lost"] == 0 and stranded == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
