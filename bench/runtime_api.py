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


def cold_invoke(binary, env, event, stderr_path, timeout=10.0, deadline_s=30):
    """Spawns `binary`, hands it `event` as its first invocation and kills it once answered.

    Returns None when no answer came within `timeout` (the Python server occasionally loses a
    connection to a killed process's leftovers: the caller discards and counts the run), else
    a dict of times in ms from perf_counter:
      init   spawn -> its first GET /runtime/invocation/next (Lambda's Init Duration)
      first  that GET -> the answer (the first, cold invocation)
      total  spawn -> the answer (what the first caller waits for, minus the platform)
    and `path` (the POST path: .../response, or .../error) and `body` of the answer.
    """
    marks = {}
    answered = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_error(404)
                return
            if "next" in marks:
                # Second poll: the function is done; hold it until the process is killed.
                answered.wait(timeout)
                return
            marks["next"] = time.perf_counter()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + deadline_s * 1000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(event)))
            self.end_headers()
            self.wfile.write(event)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            marks.setdefault("answered", time.perf_counter())
            marks.setdefault("path", self.path)
            marks.setdefault("body", body)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            answered.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}"}
    with open(stderr_path, "wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        answered.wait(timeout)
        proc.kill()
        proc.wait()
    server.shutdown()
    server.server_close()
    if "answered" not in marks:
        return None
    # An init error is posted before any GET of /next.
    next_at = marks.get("next", marks["answered"])
    return {
        "init": (next_at - started) * 1000,
        "first": (marks["answered"] - next_at) * 1000,
        "total": (marks["answered"] - started) * 1000,
        "path": marks["path"],
        "body": marks["body"],
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
