"""A minimal Lambda Runtime API on loopback, serving one invocation to one fresh process.

Shared by bench/lambda_init.py and bench/lambda_webhook.py. Each call starts its own server
on a free port, so a late poll of the previous process cannot be taken for this one's first.
"""
import http.server
import math
import statistics
import subprocess
import threading
import time

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bench"


def lambda_env(**extra):
    """What the Lambda service sets for every function (the parts our binaries read)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true",
        "RUST_LOG": "warn",
        **extra,
    }


def cold_invoke(binary, env, events, stderr_path, timeout=10.0, deadline_s=30, on_answer=None):
    """Spawns `binary`, hands it `events` one invocation after the other, and kills it once it
    has answered them all.

    Returns None when not every answer came within `timeout` (the Python server occasionally
    loses a connection to a killed process's leftovers: the caller discards and counts the
    run), else a dict with, in ms from perf_counter:
      init   spawn -> its first GET /runtime/invocation/next (Lambda's Init Duration)
      first  that GET -> the first answer (the cold invocation)
      total  spawn -> the first answer (what the first caller waits for, minus the platform)
    and `answers`: for each event, `ms` (its GET -> its answer), `path` (the POST path:
    .../response, or .../error), `body`, and `mark`: what `on_answer()` returned when the
    answer arrived (None without it).
    """
    polls = []
    answers = []
    all_answered = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_error(404)
                return
            if len(polls) == len(events):
                # The poll after the last event: hold it until the process is killed.
                all_answered.wait(timeout)
                return
            polls.append(time.perf_counter())
            event = events[len(polls) - 1]
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", f"bench-{len(polls)}")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + deadline_s * 1000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(event)))
            self.end_headers()
            self.wfile.write(event)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            answers.append((time.perf_counter(), self.path, body, on_answer() if on_answer else None))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            # An init error (posted before any poll) ends the run as well.
            if len(answers) == len(events) or not self.path.endswith("/response"):
                all_answered.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}"}
    with open(stderr_path, "wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        all_answered.wait(timeout)
        proc.kill()
        proc.wait()
    server.shutdown()
    server.server_close()
    if not answers or (len(answers) < len(events) and answers[-1][1].endswith("/response")):
        return None
    # An init error is posted before any poll: count it as answered at once.
    polls = polls or [answers[0][0]]
    return {
        "init": (polls[0] - started) * 1000,
        "first": (answers[0][0] - polls[0]) * 1000,
        "total": (answers[0][0] - started) * 1000,
        "answers": [
            {"ms": (at - polled) * 1000, "path": path, "body": body, "mark": mark}
            for (at, path, body, mark), polled in zip(answers, polls)
        ],
    }


def percentile(values, fraction):
    """Nearest rank: the smallest value with at least `fraction` of the values at or below it."""
    values = sorted(values)
    # round(): 30 * 0.9 is 27.000000000000004 in floating point, whose ceiling is 28.
    rank = max(1, math.ceil(round(len(values) * fraction, 9)))
    return values[rank - 1]


def summary(values):
    values = sorted(values)
    return (
        f"p50 {statistics.median(values):6.2f} ms   p90 {percentile(values, 0.9):6.2f} ms   "
        f"min {values[0]:6.2f} ms"
    )
