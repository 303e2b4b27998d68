#!/usr/bin/env python3
"""Cold start to the first *webhook* answered, and the worker's first real SQS batch.

DynamoDB and SQS are moto's server on a free loopback port (started here, stopped at the
end). The table and queues are made by `webhook-trigger setup`, an API key and a workflow (the
demo's filter + transform) by the CLI, all against that server. Then, interleaved, RUNS rounds
of fresh processes on a minimal Runtime API (bench/runtime_api.py), each answering its first
invocation:

  hello-lambda   the empty function (the floor), event {}
  api /health    api-lambda, events/api-health.json (no AWS call)
  api webhook    api-lambda, a REST API POST /webhooks/{id} with the key in x-api-key and
                 the demo's order as body: must answer 202 (workflow and key read, lastUsedAt
                 written, execution put, message sent: all on moto). Then the same webhook
                 again to the same, now warm, process, for comparison.
  worker batch   worker-lambda, an SQS event made of the very message the cold webhook sent,
                 received from the queue; must answer no batchItemFailures, and the execution
                 must then read `succeeded`. Then, warm, the second webhook's message.

A run without an answer, or with a wrong one, is discarded and counted, never averaged in; more
than RUNS/5 of them aborts. Also printed: moto's own round trip for one GetItem (what every
AWS call above pays on top of our code) and how many requests moto saw in each invocation.

The functions get SSL_CERT_FILE / SSL_CERT_DIR from the caller's environment, which decide
how much of init goes to loading the trust store (see BENCHMARKS.md); set them explicitly.

Usage: [RELEASE_DIR=target/release] .venv/bin/python bench/lambda_webhook.py [RUNS]
(boto3 comes with moto in .venv; scripts/bench.sh builds the binaries and runs it)
"""
import atexit
import http.client
import json
import os
import socket
import subprocess
import sys
import time

from runtime_api import cold_invoke, lambda_env, percentile, summary

try:
    import boto3
except ImportError:
    sys.exit("needs boto3 (installed with moto by `make venv`): run with .venv/bin/python")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
TABLE = "bench-cold"
STDERR = "/tmp/lambda-webhook-stderr.log"
MOTO_LOG = "/tmp/lambda-webhook-moto.log"
# RELEASE_DIR: binaries built another way (e.g. another profile) to compare with.
RELEASE = os.environ.get("RELEASE_DIR", os.path.join(ROOT, "target", "release"))
BIN = {
    "cli": os.path.join(RELEASE, "webhook-trigger"),
    "api": os.path.join(RELEASE, "api-lambda"),
    "worker": os.path.join(RELEASE, "worker-lambda"),
    "hello": os.path.join(ROOT, "bench", "hello-lambda", "target", "release", "hello-lambda"),
}
# The demo workflow of `serve --demo` (src/cli/serve.rs), under a key of its own.
WORKFLOW = """name: Cold start bench
api_key: bench
steps:
  - id: only_orders
    type: filter
    when: trigger.body.type == "order"
  - id: summary
    type: transform
    output:
      text: "Order {{ trigger.body.id }} from {{ trigger.body.customer }}: {{ trigger.body.total }} EUR"
      orderId: "{{ trigger.body.id }}"
      large: "{{ trigger.body.total > 100 }}"
"""
BODY = '{"type":"order","id":42,"customer":"Ada","total":129.5}'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    moto = os.path.join(ROOT, ".venv", "bin", "moto_server")
    if not os.access(moto, os.X_OK):
        sys.exit(f"missing {moto}: run `make venv`")
    port = free_port()
    log = open(MOTO_LOG, "wb")
    proc = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)

    def stop():
        proc.terminate()
        proc.wait(10)

    atexit.register(stop)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"moto exited; see {MOTO_LOG}")
            time.sleep(0.1)
    sys.exit(f"moto did not start on port {port}; see {MOTO_LOG}")


def moto_requests():
    """Requests moto has logged so far (one werkzeug line each)."""
    with open(MOTO_LOG, "rb") as log:
        return sum(1 for line in log if b'"POST ' in line or b'"GET ' in line)


def cli(aws_env, *args, stdin=None):
    done = subprocess.run(
        [BIN["cli"], "--json", "--store", f"dynamodb://{TABLE}", *args],
        env=aws_env, input=stdin, capture_output=True, text=True,
    )
    if done.returncode != 0:
        sys.exit(f"webhook-trigger {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return json.loads(done.stdout)


def webhook_event(workflow_id, key):
    """events/api-webhook-header-key.json, aimed at our workflow with our key and body."""
    event = json.load(open(os.path.join(ROOT, "events", "api-webhook-header-key.json")))
    path = f"/webhooks/{workflow_id}"
    event["path"] = path
    event["pathParameters"] = {"workflowId": workflow_id}
    event["requestContext"]["path"] = f"/Prod{path}"
    event["headers"]["x-api-key"] = key
    event["multiValueHeaders"]["x-api-key"] = [key]
    event["body"] = BODY
    return json.dumps(event).encode()


def sqs_event(message, queue_arn):
    """The event Lambda's SQS integration hands the worker for one received message."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }
    return json.dumps({"Records": [record]}).encode()


def moto_round_trips(endpoint, n=200):
    """One GetItem of a missing item, n times: with boto3 (client included), and as one raw
    keep-alive HTTP request (moto alone: what each of our SDK calls waits for, at least)."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    schema = dynamodb.describe_table(TableName=TABLE)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["AttributeDefinitions"]}
    key = {k["AttributeName"]: {types[k["AttributeName"]]: "bench#missing"} for k in schema["KeySchema"]}
    sdk = []
    for _ in range(n):
        t = time.perf_counter()
        dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
        sdk.append((time.perf_counter() - t) * 1000)
    host, port = endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    body = json.dumps({"TableName": TABLE, "Key": key, "ConsistentRead": True})
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.GetItem",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0",
    }
    raw = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("POST", "/", body, headers)
        response = conn.getresponse()
        response.read()
        raw.append((time.perf_counter() - t) * 1000)
        if response.status != 200:
            sys.exit(f"moto GetItem answered {response.status}")
    conn.close()
    return sdk, raw


def main():
    for name, path in BIN.items():
        if not os.path.exists(path):
            sys.exit(f"missing {path}: run scripts/bench.sh (it builds every binary) first")
    endpoint = start_moto()
    aws = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # Where rustls finds the trust store (see BENCHMARKS.md: one bundle file is closer to AWS).
        **{name: os.environ[name] for name in ("SSL_CERT_FILE", "SSL_CERT_DIR") if name in os.environ},
    }
    queue_url = cli(aws, "setup")["queueUrl"]
    key = cli(aws, "api-keys", "create", "bench")["value"]
    workflow_id = cli(aws, "workflows", "create", "--file", "-", stdin=WORKFLOW)["id"]
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    function_env = lambda_env(**aws, TABLE_NAME=TABLE, QUEUE_URL=queue_url)
    health = open(os.path.join(ROOT, "events", "api-health.json"), "rb").read()
    webhook = webhook_event(workflow_id, key)

    results = {"hello-lambda": [], "api /health": [], "api webhook": [], "worker batch": []}
    # Requests moto saw during each invocation of a run: (cold, warm).
    calls = {"api webhook": [], "worker batch": []}
    discarded = {name: [] for name in results}

    def discard(name, why):
        discarded[name].append(why)
        if len(discarded[name]) > RUNS // 5:
            sys.exit(f"{name}: {len(discarded[name])} runs failed, the last: {why}; see {STDERR}")

    def run(name, binary, events, check):
        """One fresh process, `events` in turn; check(answer, index) says what is wrong."""
        before = moto_requests()
        outcome = cold_invoke(binary, function_env, events, STDERR, on_answer=moto_requests)
        if outcome is None:
            discard(name, "no answer (the loopback runtime lost the connection)")
            return None
        for index, answer in enumerate(outcome["answers"]):
            why = None if answer["path"].endswith("/response") else f"{answer['path']}: {answer['body'][:200]!r}"
            why = why or check(answer, index)
            if why:
                discard(name, f"invocation {index + 1}: {why}")
                return None
        results[name].append(outcome)
        if name in calls:
            marks = [before] + [a["mark"] for a in outcome["answers"]]
            calls[name].append(tuple(b - a for a, b in zip(marks, marks[1:])))
        return outcome

    def no_check(answer, index):
        return None

    def accepted(answer, index):
        response = json.loads(answer["body"])
        if response.get("statusCode") != 202:
            return f"HTTP {response.get('statusCode')}: {response.get('body', '')[:200]!r}"
        answer["executionId"] = json.loads(response["body"])["executionId"]
        return None

    def webhooks_then_worker():
        # Two webhooks to one process: the first is the cold one; the second, warm, is for
        # comparison (workflow and key cached, connections open).
        api = run("api webhook", BIN["api"], [webhook, webhook], accepted)
        if api is None:
            return
        executions = [answer["executionId"] for answer in api["answers"]]
        # The messages those webhooks sent, as Lambda would receive them.
        messages = {}
        for _ in range(10):
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                      AttributeNames=["All"]).get("Messages", [])
            messages.update({json.loads(m["Body"])["executionId"]: m for m in got})
            if all(e in messages for e in executions):
                break
        if not all(e in messages for e in executions):
            discard("worker batch", f"the webhooks' messages were not on the queue: {sorted(messages)}")
            return

        def finished(answer, index):
            if json.loads(answer["body"]).get("batchItemFailures"):
                return f"batch item failed: {answer['body'][:200]!r}"
            status = cli(aws, "executions", "show", workflow_id, executions[index])["status"]
            return None if status == "succeeded" else f"execution {executions[index]} is {status}"

        batches = [sqs_event(messages[e], queue_arn) for e in executions]
        run("worker batch", BIN["worker"], batches, finished)
        for e in executions:
            # What Lambda does with a record once its batch is answered (or, for a discarded
            # run, what keeps the queue to this round's messages).
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[e]["ReceiptHandle"])

    steps = [
        lambda: run("hello-lambda", BIN["hello"], [b"{}"], no_check),
        lambda: run("api /health", BIN["api"], [health], no_check),
        webhooks_then_worker,
    ]
    for i in range(RUNS):
        # Interleaved, and the order turned each round, so that drift on a shared machine
        # (other builds) spreads over every case alike.
        for step in steps[i % 3:] + steps[: i % 3]:
            step()

    sdk, raw = moto_round_trips(endpoint)
    trust = ", ".join(f"{n}={aws.get(n, '(unset)')}" for n in ("SSL_CERT_FILE", "SSL_CERT_DIR"))
    print(f"{RUNS} rounds, interleaved, a fresh process each (p50 / p90 / min); binaries: {RELEASE}; "
          f"trust store: {trust}")
    for name, runs in results.items():
        if not runs:
            continue
        print(f"{name:<13} spawn->answer {summary([r['total'] for r in runs])}   (n={len(runs)})")
        print(f"{'':<13} init          {summary([r['init'] for r in runs])}")
        print(f"{'':<13} first         {summary([r['first'] for r in runs])}")
        if len(runs[0]["answers"]) > 1:
            print(f"{'':<13} second (warm) {summary([r['answers'][1]['ms'] for r in runs])}")
        if calls.get(name):
            print(f"{'':<13} requests to moto (first, second): {sorted(set(calls[name]))}")
    for name, whys in discarded.items():
        if whys:
            print(f"{name}: {len(whys)} runs discarded, e.g. {whys[0]}")
    print(f"moto GetItem round trip, boto3: p50 {percentile(sdk, 0.5):.2f} ms  p90 {percentile(sdk, 0.9):.2f} ms;"
          f" raw HTTP keep-alive: p50 {percentile(raw, 0.5):.2f} ms  p90 {percentile(raw, 0.9):.2f} ms  (n={len(raw)})")
    sample = results["api webhook"][-1]["answers"][0]["body"] if results["api webhook"] else b""
    print(f"last webhook answer: {sample[:160]!r}")


if __name__ == "__main__":
    main()
