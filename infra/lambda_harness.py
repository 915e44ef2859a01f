#!/usr/bin/env python3
"""Runs one function binary as Lambda would and measures its init time and peak memory.

A minimal Lambda Runtime API and Extensions API on loopback (the parts the Rust runtime and our
internal request-log extension use). The binary is started with the Lambda environment; init ends,
as in Lambda, when the runtime and every registered extension have asked for their next event.
Then each event of the workload is invoked in turn; an invocation ends when the function has
answered and every extension has asked for its next event (so the request-log flush is counted).
Peak memory is the process's high-water resident set (VmHWM, what Lambda reports as
"Max Memory Used"), read after every invocation.

    lambda_harness.py --binary target/release/scim-users --workload users.json --report out.json

The workload is a JSON list of {"name", "event", "expect", "save"}: `event` is the invocation
payload (an API Gateway HTTP API v2 request, or a scheduled event), `expect` the HTTP status (or
null for a non-HTTP function), `save` an optional {"variable": "field"} taking top-level fields of
the JSON response body; later events may use them as ${variable}; `repeat` (optional, N) invokes
the event N more times first and reports the process's CPU per invocation over them
(`cpu_us_per_invocation`: every thread's run time from /proc/<pid>/task/*/schedstat, so the runtime
API exchanges and the request-log flush are counted, as Lambda bills them). Standard library only.
"""
import argparse
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUNTIME = "/2018-06-01/runtime"
EXTENSION = "/2020-01-01/extension"


class LambdaService:
    """The state behind both APIs: one invocation at a time, as in a Lambda execution environment."""

    def __init__(self, function_name):
        self.function_name = function_name
        self.lock = threading.Condition()
        self.runtime_waiting = False
        self.extensions = {}  # id -> {"name", "waiting", "events": Queue}
        self.invocations = queue.Queue()  # (request_id, payload) for the runtime
        self.responses = {}  # request_id -> (kind, body)
        self.init_error = None

    def all_waiting(self):
        return self.runtime_waiting and all(e["waiting"] for e in self.extensions.values())


def handler_for(service):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Each answer in one write, sent at once (headers and body written apart meet the
        # client's delayed ACK: 40 ms held by Nagle).
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, *args):  # quiet: the report is the output
            pass

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def answer(self, status, payload=b"", headers=None):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def do_GET(self):
            if self.path == f"{RUNTIME}/invocation/next":
                with service.lock:
                    service.runtime_waiting = True
                    service.lock.notify_all()
                request_id, payload, deadline = service.invocations.get()
                with service.lock:
                    service.runtime_waiting = False
                self.answer(
                    200,
                    payload,
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:000000000000:function:{service.function_name}",
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                    },
                )
            elif self.path == f"{EXTENSION}/event/next":
                extension_id = self.headers.get("Lambda-Extension-Identifier")
                extension = service.extensions.get(extension_id)
                if extension is None:
                    self.answer(403, {"errorMessage": "unknown extension"})
                    return
                with service.lock:
                    extension["waiting"] = True
                    service.lock.notify_all()
                event = extension["events"].get()
                with service.lock:
                    extension["waiting"] = False
                self.answer(200, event, {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})
            else:
                self.answer(404, {"errorMessage": f"not emulated: GET {self.path}"})

        def do_POST(self):
            body = self.body()
            if self.path == f"{EXTENSION}/register":
                extension_id = str(uuid.uuid4())
                with service.lock:
                    service.extensions[extension_id] = {
                        "name": self.headers.get("Lambda-Extension-Name"),
                        "waiting": False,
                        "events": queue.Queue(),
                    }
                self.answer(
                    200,
                    {"functionName": service.function_name, "functionVersion": "$LATEST", "handler": "bootstrap"},
                    {"Lambda-Extension-Identifier": extension_id},
                )
            elif self.path.startswith(f"{RUNTIME}/invocation/"):
                _, _, rest = self.path.partition(f"{RUNTIME}/invocation/")
                request_id, _, kind = rest.partition("/")
                with service.lock:
                    service.responses[request_id] = (kind, body)
                    service.lock.notify_all()
                self.answer(202, {"status": "OK"})
            elif self.path == f"{RUNTIME}/init/error":
                with service.lock:
                    service.init_error = body.decode(errors="replace")
                    service.lock.notify_all()
                self.answer(202, {"status": "OK"})
            else:
                self.answer(404, {"errorMessage": f"not emulated: POST {self.path}"})

    return Handler


def cpu_ns(pid):
    """CPU time the process's threads have run, in nanoseconds (schedstat: exact, not 10 ms ticks)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass  # a thread that ended meanwhile
    return total


def http_status(kind, body):
    """The statusCode of an API Gateway response (None for an error or another kind of answer)."""
    if kind != "response":
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer.get("statusCode") if isinstance(answer, dict) else None


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def warm_up_ms(log_lines):
    """The function's own log of its warm-up calls (`warm_up_ms`), if it wrote one during init."""
    for line in list(log_lines):
        match = re.search(rb'"warm_up_ms":\s*([0-9.]+)', line)
        if match:
            return round(float(match.group(1)), 1)
    return None


def wait_until(service, condition, process, timeout):
    deadline = time.monotonic() + timeout
    with service.lock:
        while not condition():
            if service.init_error is not None:
                raise RuntimeError(f"init failed: {service.init_error}")
            if process.poll() is not None:
                raise RuntimeError(f"the function exited with {process.returncode}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("timed out")
            service.lock.wait(min(remaining, 0.05))


def invoke(service, event_text, process, timeout):
    """One invocation: its event to the runtime and every extension; returns when the function has
    answered and every extension waits again. (kind, body, when it answered)"""
    request_id = str(uuid.uuid4())
    deadline_ms = int(time.time() * 1000) + 30_000
    for extension in service.extensions.values():
        extension["events"].put(
            {
                "eventType": "INVOKE",
                "deadlineMs": deadline_ms,
                "requestId": request_id,
                "invokedFunctionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{service.function_name}",
                "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-00000000-000000000000000000000000"},
            }
        )
    service.invocations.put((request_id, event_text.encode(), deadline_ms))
    wait_until(service, lambda: request_id in service.responses, process, timeout)
    answered = time.monotonic()
    wait_until(service, service.all_waiting, process, timeout)
    kind, body = service.responses.pop(request_id)
    return kind, body, answered


def run(binary, workload, env_overrides, timeout, variables=None):
    name = os.path.basename(binary)
    service = LambdaService(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(service))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update(env_overrides)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "harness",
            "_HANDLER": "bootstrap",
        }
    )
    started = time.monotonic()
    # The function's logs (stdout and stderr both go to CloudWatch in Lambda).
    process = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log_lines = []
    threading.Thread(target=lambda: log_lines.extend(process.stdout), daemon=True).start()
    report = {"function": name, "invocations": []}
    try:
        wait_until(service, service.all_waiting, process, timeout)
        report["init_ms"] = round((time.monotonic() - started) * 1000, 1)
        report["extensions"] = sorted(e["name"] or "?" for e in service.extensions.values())
        report["rss_after_init_kb"] = peak_rss_kb(process.pid)
        saved = dict(variables or {})
        for step in workload:
            event_text = json.dumps(step["event"])
            for variable, value in saved.items():
                event_text = event_text.replace("${" + variable + "}", value)
            # A repeated step (`repeat`: N) is invoked a few unmeasured times, then N measured times,
            # before its recorded invocation; its CPU per invocation is the process's CPU over those
            # N, divided by N: the request-log flush included, as Lambda bills it. Every repeated
            # answer must be the expected one, or the CPU is another answer's (a 429 of the
            # fair-use budget costs less than the read it stands for).
            expect = step.get("expect")
            repeat = int(step.get("repeat") or 0)
            warm_ups = min(repeat, 20)
            cpu_before, cpu_repeated, unexpected = 0, None, {}
            for i in range(warm_ups + repeat):
                if i == warm_ups:
                    cpu_before = cpu_ns(process.pid)
                kind, body, _ = invoke(service, event_text, process, timeout)
                status = http_status(kind, body)
                if expect is not None and status != expect:
                    unexpected[str(status)] = unexpected.get(str(status), 0) + 1
            if repeat:
                cpu_repeated = cpu_ns(process.pid) - cpu_before
            begun = time.monotonic()
            kind, body, answered = invoke(service, event_text, process, timeout)
            status = http_status(kind, body) if expect is not None else None
            for variable, field in (step.get("save") or {}).items():
                try:
                    saved[variable] = str(json.loads(json.loads(body).get("body") or "{}")[field])
                except (KeyError, ValueError, TypeError, AttributeError):
                    pass
            report["invocations"].append(
                {
                    "name": step["name"],
                    "kind": kind,
                    "status": status,
                    "expected": expect,
                    "response_ms": round((answered - begun) * 1000, 1),
                    "total_ms": round((time.monotonic() - begun) * 1000, 1),
                    "response_bytes": len(body),
                    "peak_rss_kb": peak_rss_kb(process.pid),
                    "repeat": repeat,
                    "cpu_us_per_invocation": round(cpu_repeated / repeat / 1000, 1) if repeat else None,
                    "repeat_unexpected": unexpected,
                }
            )
        report["peak_rss_kb"] = peak_rss_kb(process.pid)
        report["warm_up_ms"] = warm_up_ms(log_lines)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        server.shutdown()
    report["failures"] = [
        i
        for i in report["invocations"]
        if i["kind"] != "response" or (i["expected"] is not None and i["status"] != i["expected"]) or i["repeat_unexpected"]
    ]
    if report["failures"]:
        report["log_tail"] = [line.decode(errors="replace").rstrip() for line in log_lines[-20:]]
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--workload", required=True, help="JSON file: a list of {name, event, expect}")
    parser.add_argument("--report", help="write the JSON report here too")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed for init and for each invocation")
    args = parser.parse_args()
    with open(args.workload) as f:
        workload = json.load(f)
    try:
        report = run(os.path.abspath(args.binary), workload, {}, args.timeout)
    except RuntimeError as error:
        print(f"lambda_harness: {os.path.basename(args.binary)}: {error}", file=sys.stderr)
        return 1
    text = json.dumps(report, indent=2)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    print(text)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
