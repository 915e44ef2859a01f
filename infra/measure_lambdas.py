#!/usr/bin/env python3
"""Measures every function's init time and peak memory under a Lambda-like harness, against the
budgets (init < 30 ms after warm-up, ≤ 40 MB), and prints a table. Run by infra/measure-lambdas.sh, which starts moto, builds
the binaries and seeds the organization this reads from the environment:

  BENCH_BIN_DIR  folder of the four function binaries
  BENCH_ORG, BENCH_TOKEN           an organization with SCIM enabled and its bearer token
  BENCH_OWNER, BENCH_PASSPHRASE    an owner of it (console sign-in)
  BENCH_TEAM, BENCH_MEMBER         a team of BENCH_TEAM_SIZE members and one of its members
  BENCH_ONLY (optional)            comma-separated function names to measure (default: all)

Init is measured as Lambda does (process start until the runtime and its extension wait for the
first event); the budget applies to init minus the warm-up calls, which the function logs
(`warm_up_ms`: the secret read and one DynamoDB call, run concurrently).

Each function serves a workload of its real requests, in one execution environment (one cold
start). The groups workload reads the large team whole: the biggest response the service gives.
Single-resource requests are repeated BENCH_CPU_REPEAT times (default 300) and their CPU per
invocation printed: the figure docs/BENCHMARKS.md's "CPU per request" reports.
Exit status 1 when a budget is exceeded or a request did not answer as expected.
"""
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lambda_harness import run  # noqa: E402

INIT_BUDGET_MS = 30.0
PEAK_MEMORY_BUDGET_KB = 40 * 1024
HOST = "bench.execute-api.us-east-1.amazonaws.com"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


INIT_SAMPLES = 3


def http_event(method, path, query="", body=None, token=None):
    """An API Gateway HTTP API (payload 2.0) request, as the template's routes receive it."""
    headers = {"host": HOST, "x-forwarded-proto": "https", "user-agent": "Okta SCIM Client 1.0.0", "accept": "application/scim+json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if body is not None:
        headers["content-type"] = "application/scim+json"
    parameters = {}
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        parameters[name] = value
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "bench",
            "domainName": HOST,
            "domainPrefix": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": headers["user-agent"]},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if parameters:
        event["queryStringParameters"] = parameters
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def quote(text):
    return "".join(c if c.isalnum() or c in "-._~" else "%{:02X}".format(ord(c)) for c in text)


def step(name, event, expect, save=None, repeat=0):
    return {"name": name, "event": event, "expect": expect, "save": save or {}, "repeat": repeat}


# Invocations of each single-resource request whose CPU is measured (docs/BENCHMARKS.md).
CPU_REPEAT = int(os.environ.get("BENCH_CPU_REPEAT", "300"))


def users_workload(org, token):
    scim = f"/scim/v2/orgs/{org}"
    user_name = f"bench.{uuid.uuid4().hex[:8]}@{org}.example.com"
    user = {"schemas": [USER_SCHEMA], "userName": user_name, "name": {"givenName": "Bench", "familyName": "User"},
            "emails": [{"value": user_name, "type": "work", "primary": True}], "active": True}
    by_user_name = "filter=" + quote('userName eq "%s"' % user_name)
    by_team = "filter=" + quote('groups.value eq "') + "${team}" + quote('"') + "&count=100"
    deactivate = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": False}}]}
    # Lists that read the whole large organization, each within the item budget and in bounded memory
    # (docs/ARCHITECTURE.md, "Paging"): a page whose walk position is not remembered, a filter no key
    # answers, a sort (it keeps only the top startIndex - 1 + count sort keys).
    size = int(os.environ.get("BENCH_TEAM_SIZE", "20000"))
    last_page = f"startIndex={max(size - 99, 1)}&count=100"
    by_title = "filter=" + quote('title eq "nobody has this title"')
    sorted_deep = "sortBy=userName&sortOrder=descending&startIndex=" + str(max(size - 99, 1)) + "&count=100"
    return [
        step("GET /ServiceProviderConfig", http_event("GET", f"{scim}/ServiceProviderConfig", token=token), 200),
        step("POST /Users", http_event("POST", f"{scim}/Users", body=user, token=token), 201, {"user": "id"}),
        step("GET /Users/{id}", http_event("GET", f"{scim}/Users/${{user}}", token=token), 200, repeat=CPU_REPEAT),
        step("GET /Users?filter=userName eq", http_event("GET", f"{scim}/Users", by_user_name, token=token), 200, repeat=CPU_REPEAT),
        step("PATCH /Users/{id} (deactivate)", http_event("PATCH", f"{scim}/Users/${{user}}", body=deactivate, token=token), 200),
        step("PUT /Users/{id}", http_event("PUT", f"{scim}/Users/${{user}}", body=user, token=token), 200),
        step("GET /Users?count=100 (large org)", http_event("GET", f"{scim}/Users", "startIndex=1&count=100", token=token), 200),
        step("GET /Users?filter=groups.value eq (large team)", http_event("GET", f"{scim}/Users", by_team, token=token), 200),
        step("GET /Users last page, position not remembered (large org)", http_event("GET", f"{scim}/Users", last_page, token=token), 200),
        step("GET /Users?filter=title eq (large org, streamed)", http_event("GET", f"{scim}/Users", by_title, token=token), 200),
        step("GET /Users?sortBy=userName, last page (large org, streamed)", http_event("GET", f"{scim}/Users", sorted_deep, token=token), 200),
        step("DELETE /Users/{id}", http_event("DELETE", f"{scim}/Users/${{user}}", token=token), 204),
    ]


def groups_workload(org, token):
    scim = f"/scim/v2/orgs/{org}"
    name = f"Bench {uuid.uuid4().hex[:8]}"
    by_name = "filter=" + quote('displayName eq "%s"' % name) + "&excludedAttributes=members"
    def patch(*operations):
        return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}
    # The largest Bulk the service announces (maxOperations 100): 99 new users and a group of them,
    # referred to by bulkId (docs/ARCHITECTURE.md, "Bulk").
    batch = uuid.uuid4().hex[:8]
    operations = []
    for i in range(99):
        user_name = f"bulk.{batch}.{i}@{org}.example.com"
        operations.append({"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {
            "schemas": [USER_SCHEMA], "userName": user_name, "active": True,
            "emails": [{"value": user_name, "type": "work", "primary": True}]}})
    operations.append({"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
        "schemas": [GROUP_SCHEMA], "displayName": f"Bulk {batch}",
        "members": [{"value": f"bulkId:u{i}"} for i in range(99)]}})
    bulk = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations}
    return [
        step("POST /Groups", http_event("POST", f"{scim}/Groups", body={"schemas": [GROUP_SCHEMA], "displayName": name}, token=token), 201, {"group": "id"}),
        step("GET /Groups?filter=displayName eq&excludedAttributes=members", http_event("GET", f"{scim}/Groups", by_name, token=token), 200),
        step("PATCH add member", http_event("PATCH", f"{scim}/Groups/${{group}}", body=patch({"op": "add", "path": "members", "value": [{"value": "${member}"}]}), token=token), 204),
        step("PATCH remove member", http_event("PATCH", f"{scim}/Groups/${{group}}", body=patch({"op": "remove", "path": 'members[value eq "${member}"]'}), token=token), 204),
        step("PATCH rename", http_event("PATCH", f"{scim}/Groups/${{group}}", body=patch({"op": "replace", "path": "displayName", "value": name + " renamed"}), token=token), 204),
        step("PATCH add member to large team", http_event("PATCH", f"{scim}/Groups/${{team}}", body=patch({"op": "add", "path": "members", "value": [{"value": "${member}"}]}), token=token), 204),
        step("GET large team, excludedAttributes=members", http_event("GET", f"{scim}/Groups/${{team}}", "excludedAttributes=members", token=token), 200, repeat=CPU_REPEAT),
        step("GET large team with every member", http_event("GET", f"{scim}/Groups/${{team}}", token=token), 200),
        step("DELETE /Groups/{id}", http_event("DELETE", f"{scim}/Groups/${{group}}", token=token), 204),
        step("POST /Bulk (100 operations: 99 users, a group of them)", http_event("POST", f"{scim}/Bulk", body=bulk, token=token), 200),
    ]


def admin_workload(org, owner, passphrase):
    sign_in = {"email": owner, "passphrase": passphrase}
    def admin(method, path, query=""):
        event = http_event(method, path, query, token="${session}")
        event["headers"]["content-type"] = "application/json"
        return event
    return [
        step("POST /auth/sessions (Argon2id)", {**http_event("POST", "/auth/sessions", body=sign_in), "headers": {"host": HOST, "content-type": "application/json", "user-agent": "bench"}}, 201, {"session": "token"}),
        step("GET /admin/orgs/{org}/scim", admin("GET", f"/admin/orgs/{org}/scim"), 200),
        step("GET /admin/orgs/{org}/scim/logs", admin("GET", f"/admin/orgs/{org}/scim/logs"), 200),
        step("GET /admin/orgs/{org}/members?limit=10 (large org)", admin("GET", f"/admin/orgs/{org}/members", "limit=10"), 200),
        step("DELETE /auth/sessions/current", admin("DELETE", "/auth/sessions/current"), 204),
    ]


def scheduler_workload(root):
    with open(os.path.join(root, "infra", "events", "scheduled.json")) as f:
        event = json.load(f)
    return [step("scheduled run", event, None), step("scheduled run (again)", event, None)]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = os.environ
    bin_dir = env["BENCH_BIN_DIR"]
    org, token = env["BENCH_ORG"], env["BENCH_TOKEN"]
    variables = {"team": env["BENCH_TEAM"], "member": env["BENCH_MEMBER"]}
    runs = [
        ("scim-users", users_workload(org, token)),
        ("scim-groups", groups_workload(org, token)),
        ("scim-admin", admin_workload(org, env["BENCH_OWNER"], env["BENCH_PASSPHRASE"])),
        ("token-scheduler", scheduler_workload(root)),
    ]
    only = set(filter(None, env.get("BENCH_ONLY", "").split(",")))
    runs = [(function, workload) for function, workload in runs if not only or function in only]
    reports, over_budget = [], []
    for function, workload in runs:
        try:
            report = run(os.path.join(bin_dir, function), workload, {}, 300.0, variables)
        except RuntimeError as error:
            print(f"{function}: {error}", file=sys.stderr)
            return 1
        reports.append(report)
        for failure in report["failures"]:
            over_budget.append(f"{function}: {failure['name']} answered {failure['status']} ({failure['kind']}), expected {failure['expected']}"
                               + (f"; its repeats answered {failure['repeat_unexpected']}" if failure["repeat_unexpected"] else ""))
        # The machine is shared and noisy: init is the best of several cold starts (the first one
        # served the workload; the others only start and stop).
        samples = [report["init_ms"] - (report["warm_up_ms"] or 0.0)]
        for _ in range(INIT_SAMPLES - 1):
            try:
                cold = run(os.path.join(bin_dir, function), [], {}, 60.0, variables)
            except RuntimeError as error:
                print(f"{function}: {error}", file=sys.stderr)
                return 1
            samples.append(cold["init_ms"] - (cold["warm_up_ms"] or 0.0))
        report["init_without_warm_up_ms"] = round(min(samples), 1)
        if report["init_without_warm_up_ms"] >= INIT_BUDGET_MS:
            over_budget.append(f"{function}: init {report['init_without_warm_up_ms']} ms without the warm-up calls (budget < {INIT_BUDGET_MS:.0f} ms)")
        if report["peak_rss_kb"] > PEAK_MEMORY_BUDGET_KB:
            over_budget.append(f"{function}: peak memory {report['peak_rss_kb'] / 1024:.1f} MB (budget {PEAK_MEMORY_BUDGET_KB // 1024} MB)")
    print(f"(init - warm-up: the best of {INIT_SAMPLES} cold starts)")
    print(f"{'function':<16} {'init ms':>8} {'warm-up ms':>10} {'init - warm-up':>14} {'RSS after init MB':>18} {'peak RSS MB':>12}")
    for report in reports:
        print(
            f"{report['function']:<16} {report['init_ms']:>8} {str(report['warm_up_ms'] or '-'):>10} {report['init_without_warm_up_ms']:>14}"
            f" {report['rss_after_init_kb'] / 1024:>18.1f} {report['peak_rss_kb'] / 1024:>12.1f}"
        )
    for report in reports:
        print(f"\n{report['function']} (extensions: {', '.join(report['extensions']) or 'none'})")
        for i in report["invocations"]:
            cpu = f"  CPU {i['cpu_us_per_invocation']:.0f} µs per invocation (of {i['repeat']})" if i.get("cpu_us_per_invocation") else ""
            print(f"  {i['name']:<62} {str(i['status']):>4} {i['response_ms']:>9} ms {i['response_bytes']:>9} B  peak {i['peak_rss_kb'] / 1024:.1f} MB{cpu}")
    report_path = env.get("BENCH_REPORT")
    if report_path:
        with open(report_path, "w") as f:
            json.dump(reports, f, indent=2)
    if over_budget:
        print("\nover budget or failed:\n  " + "\n  ".join(over_budget), file=sys.stderr)
        return 1
    print(f"\nall within budget: init < {INIT_BUDGET_MS:.0f} ms besides the warm-up calls, peak memory <= {PEAK_MEMORY_BUDGET_KB // 1024} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
