"""The IdP run, side by side: this service on the local stack (release dev server + patched moto) and
scim2-server (in memory), phase by phase, alternating which goes first. Started by infra/bench.sh.

Phases (sizes are flags): `sync` (each user: a userName lookup, then its POST), `teams` (the teams,
then their members added in PATCHes of --patch-size), `steady` (a fixed mix: 40% GET user, 20% userName
lookup, 20% PATCH user, 15% add or remove one team member, 5% toggle active), `GET user` (--single-gets
GET /Users/{id}: the single-resource request). --clients threads send
the requests; both servers get the same requests. Server CPU per request comes from /proc/<pid>/stat
(utime + stime) before and after each phase, peak memory from /proc/<pid>/status (VmHWM), DynamoDB
calls per request from the moto launcher's request counter (/_tests/dynamodb-calls.json). Only
127.0.0.1; every loop is bounded in count and in time (--phase-seconds).

With --dynamodb-latency-ms N (N > 0), a last phase models AWS: a second dev server of ours reaches
moto through infra/latency_proxy.py, which holds each DynamoDB call N ms (calls in parallel overlap,
as on AWS). Each operation the IdPs send most runs --latency-requests times, one at a time; the
report gives its p50, the sequential DynamoDB round trips on its critical path (calls that overlap
count once; calls made after the response, such as the request log, are not on it), and the floor:
the fewest such round trips the operation can need (docs/ARCHITECTURE.md, "Round trips per
operation").
"""
import argparse
import http.client
import json
import os
import random
import socket
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from latency_proxy import LatencyProxy, sequential_rounds  # noqa: E402  (beside this script)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DOMAIN = "bench.example.com"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port} within {seconds} s")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Target:
    """One SCIM server under test: its base URL, token and the processes whose CPU it costs."""

    def __init__(self, name: str, base: str, token: str, processes: dict):
        self.name = name
        url = urllib.parse.urlsplit(base)
        self.host, self.port, self.path = url.hostname, url.port, url.path.rstrip("/")
        self.token = token
        self.processes = processes  # label -> pid
        self.user_ids = []
        self.team_ids = []
        self.scimctl = None  # our side loads its big team with the operator CLI
        self.dynamodb_calls = None  # our side: the DynamoDB requests moto has served, by operation

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)


def request(target: Target, conn, method: str, path: str, body=None):
    """One SCIM request: (status, parsed body or None, seconds)."""
    headers = {"Authorization": f"Bearer {target.token}", "Accept": "application/scim+json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/scim+json"
    started = time.perf_counter()
    try:
        conn.request(method, target.path + path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        conn.close()
        return 0, None, time.perf_counter() - started
    elapsed = time.perf_counter() - started
    if response.will_close:
        conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed, elapsed


class Phase:
    """Runs jobs (callables of (target, conn) -> list of (status, seconds)) on --clients threads."""

    def __init__(self, target: Target, clients: int, seconds: float):
        self.target, self.clients, self.seconds = target, clients, seconds
        self.latencies, self.errors, self.lock = [], 0, threading.Lock()
        self.error_statuses = {}

    def run(self, jobs: list) -> dict:
        queue = list(reversed(jobs))
        deadline = time.monotonic() + self.seconds
        before = {label: cpu_seconds(pid) for label, pid in self.target.processes.items()}
        calls_before = self.target.dynamodb_calls() if self.target.dynamodb_calls else None
        started = time.perf_counter()
        timed_out = [False]

        def worker():
            conn = self.target.connection()
            while True:
                if time.monotonic() > deadline:
                    timed_out[0] = True
                    return
                with self.lock:
                    if not queue:
                        return
                    job = queue.pop()
                for status, seconds in job(self.target, conn):
                    with self.lock:
                        self.latencies.append(seconds)
                        if not 200 <= status < 300:
                            self.errors += 1
                            self.error_statuses[status] = self.error_statuses.get(status, 0) + 1

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.seconds + 60)
        wall = time.perf_counter() - started
        after = {label: cpu_seconds(pid) for label, pid in self.target.processes.items()}
        n = len(self.latencies)
        calls = None
        if calls_before is not None:
            calls_after = self.target.dynamodb_calls()
            calls = {op: count - calls_before.get(op, 0) for op, count in calls_after.items()
                     if count > calls_before.get(op, 0)}
        ordered = sorted(self.latencies)
        return {
            "server": self.target.name,
            "requests": n,
            "wall": wall,
            "rps": n / wall if wall > 0 else 0.0,
            "p50": ordered[n // 2] * 1000 if n else float("nan"),
            "p99": ordered[min(n - 1, (n * 99) // 100)] * 1000 if n else float("nan"),
            "errors": self.errors,
            "error_statuses": dict(sorted(self.error_statuses.items())),
            "timed_out": timed_out[0],
            "cpu_ms": {label: (after[label] - before[label]) * 1000 / max(n, 1) for label in after},
            "rss": {label: peak_rss_mb(pid) for label, pid in self.target.processes.items()},
            "dynamodb_calls": calls,
        }


def user_name(i: int) -> str:
    return f"user{i:06d}@{DOMAIN}"


def user_document(i: int) -> dict:
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name(i),
        "externalId": f"ext-{i:06d}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "displayName": f"Given{i} Family{i}",
        "emails": [{"value": user_name(i), "type": "work", "primary": True}],
        "active": True,
    }


def lookup_path(i: int) -> str:
    return "/Users?" + urllib.parse.urlencode({"filter": f'userName eq "{user_name(i)}"'})


def sync_jobs(args) -> list:
    def job(i):
        def run(target, conn):
            status, body, t1 = request(target, conn, "GET", lookup_path(i))
            out = [(status, t1)]
            if status == 200 and body and body.get("totalResults") == 0:
                status, body, t2 = request(target, conn, "POST", "/Users", user_document(i))
                out.append((status, t2))
                if status == 201 and body:
                    target.user_ids[i] = body.get("id")
            return out

        return run

    return [job(i) for i in range(args.users)]


def team_jobs(args, target: Target) -> tuple:
    """The teams' POSTs, then the member PATCHes (team t gets users t*size .. t*size+size-1)."""

    def create(t):
        def run(target, conn):
            status, body, seconds = request(target, conn, "POST", "/Groups",
                                            {"schemas": [GROUP_SCHEMA], "displayName": f"Team {t:03d}"})
            if status == 201 and body:
                target.team_ids[t] = body.get("id")
            return [(status, seconds)]

        return run

    def add(t, members):
        def run(target, conn):
            team = target.team_ids[t]
            values = [{"value": target.user_ids[m]} for m in members if target.user_ids[m]]
            if team is None or not values:
                return [(0, 0.0)]
            status, _, seconds = request(target, conn, "PATCH", f"/Groups/{team}", {
                "schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": values}]})
            return [(status, seconds)]

        return run

    creates = [create(t) for t in range(args.teams)]
    patches = []
    for t in range(args.teams):
        members = [(t * args.team_size + k) % args.users for k in range(args.team_size)]
        for start in range(0, len(members), args.patch_size):
            patches.append(add(t, members[start:start + args.patch_size]))
    return creates, patches


def steady_plan(args) -> list:
    """The steady mix as (kind, user, team), the same for both servers (seeded)."""
    rng = random.Random(args.seed)
    members = {(t, (t * args.team_size + k) % args.users) for t in range(args.teams) for k in range(args.team_size)}
    active = [True] * args.users
    plan = []
    for _ in range(args.steady):
        roll = rng.random()
        user = rng.randrange(args.users)
        if roll < 0.40:
            plan.append(("get", user, None))
        elif roll < 0.60:
            plan.append(("lookup", user, None))
        elif roll < 0.80:
            plan.append(("patch", user, None))
        elif roll < 0.95 and args.teams:
            team = rng.randrange(args.teams)
            kind = "remove" if (team, user) in members else "add"
            members.symmetric_difference_update({(team, user)})
            plan.append((kind, user, team))
        else:
            active[user] = not active[user]
            plan.append(("active" if active[user] else "inactive", user, None))
    return plan


def steady_jobs(plan: list) -> list:
    def job(kind, i, t, n):
        def run(target, conn):
            uid = target.user_ids[i]
            if uid is None:
                return [(0, 0.0)]
            if kind == "get":
                status, _, s = request(target, conn, "GET", f"/Users/{uid}")
            elif kind == "lookup":
                status, _, s = request(target, conn, "GET", lookup_path(i))
            elif kind == "patch":
                status, _, s = request(target, conn, "PATCH", f"/Users/{uid}", {
                    "schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "name.givenName", "value": f"G{n}"}]})
            elif kind in ("active", "inactive"):
                status, _, s = request(target, conn, "PATCH", f"/Users/{uid}", {
                    "schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": kind == "active"}]})
            else:
                team = target.team_ids[t]
                if team is None:
                    return [(0, 0.0)]
                op = ({"op": "add", "path": "members", "value": [{"value": uid}]} if kind == "add"
                      else {"op": "remove", "path": f'members[value eq "{uid}"]'})
                status, _, s = request(target, conn, "PATCH", f"/Groups/{team}", {"schemas": [PATCH_SCHEMA], "Operations": [op]})
            return [(status, s)]

        return run

    return [job(kind, i, t, n) for n, (kind, i, t) in enumerate(plan)]


def single_get_jobs(args) -> list:
    """GET /Users/{id} of seeded random users: the single-resource request whose server CPU the
    issue budgets (Rust side ≤ 400 µs)."""
    rng = random.Random(args.seed + 1)

    def job(i):
        def run(target, conn):
            uid = target.user_ids[i]
            if uid is None:
                return [(0, 0.0)]
            status, _, s = request(target, conn, "GET", f"/Users/{uid}")
            return [(status, s)]

        return run

    return [job(rng.randrange(args.users)) for _ in range(args.single_gets)]


def build_big_team(args, target: Target, scimctl) -> tuple:
    """A 10-member team (POST) and a --big-team member team: loaded by `scimctl load-team` on our
    side (the fixture loader: minutes of POSTs otherwise), built over SCIM on the peer's (its POSTs
    are fast). Answers (small team id, big team id)."""
    conn = target.connection()
    small_members = [{"value": uid} for uid in target.user_ids[:10] if uid]
    status, body, _ = request(target, conn, "POST", "/Groups",
                              {"schemas": [GROUP_SCHEMA], "displayName": "Ten", "members": small_members})
    if status != 201 or not body:
        raise SystemExit(f"{target.name}: creating the 10-member team answered {status}")
    small = body["id"]
    if scimctl is not None:
        out = scimctl("load-team", "--org", "bench", "--team", "Big", "--members", str(args.big_team))
        big = next((line.split()[1] for line in out.splitlines() if line.startswith("team ")), None)
        if not big:
            raise SystemExit("scimctl load-team printed no team id")
        return small, big
    status, body, _ = request(target, conn, "POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Big"})
    big = body["id"] if status == 201 and body else None
    if not big:
        raise SystemExit(f"{target.name}: creating the big team answered {status}")
    chunk = []
    for k in range(args.big_team):
        status, body, _ = request(target, conn, "POST", "/Users", user_document(1_000_000 + k))
        if status == 201 and body:
            chunk.append({"value": body["id"]})
        if len(chunk) == 1000 or (k == args.big_team - 1 and chunk):
            request(target, conn, "PATCH", f"/Groups/{big}", {
                "schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": chunk}]})
            chunk = []
    return small, big


def member_change_jobs(args, team: str) -> list:
    """Add, then remove, one member (a synced user in neither team), --member-changes times."""

    def job(i):
        def run(target, conn):
            uid = target.user_ids[(20 + i) % args.users]
            if uid is None:
                return [(0, 0.0)]
            results = []
            for op in ({"op": "add", "path": "members", "value": [{"value": uid}]},
                       {"op": "remove", "path": f'members[value eq "{uid}"]'}):
                status, _, seconds = request(target, conn, "PATCH", f"/Groups/{team}",
                                             {"schemas": [PATCH_SCHEMA], "Operations": [op]})
                results.append((status, seconds))
            return results

        return run

    return [job(i) for i in range(args.member_changes)]


def start_ours(args, workdir: str) -> tuple:
    """patched moto, the table and a bench organization (scimctl), the release dev server."""
    python = sys.executable
    moto_port, dev_port = free_port(), free_port()
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "TABLE_NAME": "insomnia-scim-bench", "TOKEN_KEY_SECRET_ID": "insomnia-scim/bench-token-key",
        "SENDER_EMAIL": "scim-noreply@insomnia.example.com", "PUBLIC_BASE_URL": f"http://127.0.0.1:{dev_port}",
        "SCIMCTL_PASSPHRASE": "bench owner passphrase",
    })
    env.setdefault("RUST_LOG", "warn")
    moto_args = ["--werkzeug-server"] if args.werkzeug_moto else []
    moto = subprocess.Popen([python, os.path.join(os.path.dirname(__file__), "moto_server.py"), "--port", str(moto_port),
                             *moto_args],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "moto.log"), "w"))
    wait_for_port(moto_port, moto, "moto")

    def scimctl(*argv):
        out = subprocess.run([args.scimctl, *argv], env=env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise SystemExit(f"scimctl {' '.join(argv)} failed: {out.stderr.strip()}")
        return out.stdout

    scimctl("bootstrap")
    scimctl("create-org", "--org", "bench", "--name", "Bench", "--plan", "enterprise")
    scimctl("verify-domain", "--org", "bench", "--domain", DOMAIN)
    scimctl("configure-sso", "--org", "bench", "--idp", "okta")
    scimctl("add-member", "--org", "bench", "--email", f"owner@{DOMAIN}", "--role", "owner")
    # The run measures capacity, not the fair-use budget (docs/ARCHITECTURE.md, "Fair use"): the
    # bench organization's budget is raised where this scimctl has the command.
    if "fair-use" in scimctl("--help"):
        scimctl("fair-use", "--org", "bench", "--rate", "100000", "--burst", "100000")
    issued = scimctl("issue-token", "--org", "bench", "--window", "90d")
    token = next((line.split(":", 1)[1].strip() for line in issued.splitlines() if line.startswith("token")), None)
    if not token:
        raise SystemExit("scimctl issue-token printed no token")
    dev = subprocess.Popen([args.dev_server, "--port", str(dev_port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "dev-server.log"), "w"))
    wait_for_port(dev_port, dev, "dev server")
    target = Target("this service", f"http://127.0.0.1:{dev_port}/scim/v2/orgs/bench", token,
                    {"Rust": dev.pid, "moto": moto.pid})
    target.scimctl = scimctl

    def dynamodb_calls():
        with urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/_tests/dynamodb-calls.json", timeout=10) as answer:
            return json.load(answer)

    target.dynamodb_calls = dynamodb_calls
    target.env, target.moto_port = env, moto_port
    return target, [dev, moto]


def start_peer(workdir: str) -> tuple:
    port = free_port()
    token = "bench-peer-token"
    exe = os.path.join(os.path.dirname(sys.executable), "scim2-server")
    peer = subprocess.Popen([exe, "--hostname", "127.0.0.1", "--port", str(port), "--bearer-token", token],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "scim2-server.log"), "w"))
    wait_for_port(port, peer, "scim2-server")
    return Target("scim2-server 0.8.3", f"http://127.0.0.1:{port}/v2", token, {"peer": peer.pid}), [peer]


# The operations of the latency model, with the floor of each: the fewest sequential DynamoDB round
# trips it can need, and why (docs/ARCHITECTURE.md, "Round trips per operation").
LATENCY_OPERATIONS = [
    ("GET user", 1, "the token check, the user and its memberships in one round; a user in teams pays a 2nd "
                    "for their names (kept: docs/ARCHITECTURE.md, round-trip table)"),
    ("userName eq lookup", 2, "the lookup key beside the token check, then the user it names"),
    ("PATCH user (active)", 2, "read beside the token check, then the write conditioned on that version"),
    ("PATCH user (attribute)", 2, "as above"),
    ("member add", 2, "the team read beside the token check, then one transaction"),
    ("member remove", 2, "as above"),
    ("POST user", 2, "the uniqueness reads beside the token check, then the create transaction"),
]


def start_latency_server(args, ours: Target, delay_ms: float, workdir: str) -> tuple:
    """A second dev server of ours, on the same table, whose DynamoDB is behind the delaying proxy."""
    proxy = LatencyProxy(ours.moto_port, delay_ms / 1000).start()
    port = free_port()
    env = dict(ours.env)
    env.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"})
    dev = subprocess.Popen([args.dev_server, "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                           stderr=open(os.path.join(workdir, "dev-server-latency.log"), "w"))
    wait_for_port(port, dev, "dev server behind the latency proxy")
    target = Target("this service", f"http://127.0.0.1:{port}/scim/v2/orgs/bench", ours.token, {"Rust": dev.pid})
    target.user_ids, target.team_ids = ours.user_ids, ours.team_ids
    return target, proxy, dev


def latency_model(args, target: Target, proxy: LatencyProxy) -> list:
    """Each operation --latency-requests times, one at a time: (operation, floor, why, p50 ms,
    median sequential round trips, calls per request, CPU ms per request)."""
    conn = target.connection()
    users = [uid for uid in target.user_ids if uid]
    team = next((t for t in target.team_ids if t), None)
    n = args.latency_requests
    patch = lambda ops: {"schemas": [PATCH_SCHEMA], "Operations": ops}  # noqa: E731
    requests_of = {
        "GET user": lambda i: ("GET", f"/Users/{users[i % len(users)]}", None),
        "userName eq lookup": lambda i: ("GET", lookup_path(i % args.users), None),
        # Each user deactivated, then activated again: every request changes the user (an
        # unchanged value is answered without a write, below the floor).
        "PATCH user (active)": lambda i: ("PATCH", f"/Users/{users[i // 2 % len(users)]}",
                                          patch([{"op": "replace", "path": "active", "value": i % 2 == 1}])),
        "PATCH user (attribute)": lambda i: ("PATCH", f"/Users/{users[i % len(users)]}",
                                             patch([{"op": "replace", "path": "name.givenName", "value": f"L{i}"}])),
        "member add": lambda i: ("PATCH", f"/Groups/{team}",
                                 patch([{"op": "add", "path": "members", "value": [{"value": users[-1 - i % len(users)]}]}])),
        "member remove": lambda i: ("PATCH", f"/Groups/{team}",
                                    patch([{"op": "remove", "path": f'members[value eq "{users[-1 - i % len(users)]}"]'}])),
        "POST user": lambda i: ("POST", "/Users", user_document(2_000_000 + i)),
    }
    # The first requests open connections (ours to the proxy, the proxy's to moto): not measured.
    for _ in range(3):
        request(target, conn, "GET", "/ServiceProviderConfig")
    rows = []
    for name, floor, why in LATENCY_OPERATIONS:
        if name.startswith("member") and team is None:
            continue
        latencies, rounds, calls, errors = [], [], 0, 0
        cpu_before = cpu_seconds(target.processes["Rust"])
        # One request at a time (by index, so an add and the remove after it name the same user).
        for i in range(n):
            method, path, body = requests_of[name](i)
            time.sleep(0.02)  # lets work started after the previous response (its request log) end first
            started = time.perf_counter()
            status, _, seconds = request(target, conn, method, path, body)
            ended = started + seconds
            if not 200 <= status < 300:
                errors += 1
            own = proxy.calls.between(started, ended)
            latencies.append(seconds)
            rounds.append(sequential_rounds(own))
            calls += len(own)
        cpu = (cpu_seconds(target.processes["Rust"]) - cpu_before) * 1000 / max(n, 1)
        ordered, rounds = sorted(latencies), sorted(rounds)
        rows.append((name, floor, why, ordered[len(ordered) // 2] * 1000, rounds[len(rounds) // 2], calls / max(n, 1),
                     cpu, errors))
        proxy.calls.clear()
    return rows


def fmt_latency(rows: list, delay_ms: float) -> str:
    lines = [f"latency model: each DynamoDB call held {delay_ms:g} ms (infra/latency_proxy.py); one request at a time",
             "",
             f"| operation | p50 ms at {delay_ms:g} ms a call | sequential round trips (median) | floor | "
             "DynamoDB calls/req on the response path | Rust CPU ms/req | errors | why the floor |",
             "|---|---|---|---|---|---|---|---|"]
    for name, floor, why, p50, rounds, calls, cpu, errors in rows:
        mark = "" if rounds <= floor else " (above)"
        lines.append(f"| {name} | {p50:.1f} | {rounds}{mark} | {floor} | {calls:.2f} | {cpu:.2f} | {errors} | {why} |")
    return "\n".join(lines)


def fmt_table(rows: list) -> str:
    head = ("| phase | server | requests | wall s | req/s | p50 ms | p99 ms | errors | "
            "CPU ms/req Rust | moto | peer | peak RSS MB Rust | moto | peer | DynamoDB calls/req |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for phase, r in rows:
        cpu = [r["cpu_ms"].get(k) for k in ("Rust", "moto", "peer")]
        rss = [r["rss"].get(k) for k in ("Rust", "moto", "peer")]
        lines.append(
            f"| {phase} | {r['server']} | {r['requests']} | {r['wall']:.1f} | {r['rps']:.0f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['errors']}{' (time limit)' if r['timed_out'] else ''} | "
            + " | ".join("–" if v is None else f"{v:.2f}" for v in cpu) + " | "
            + " | ".join("–" if v is None else f"{v:.0f}" for v in rss) + f" | {fmt_calls(r)} |")
    return "\n".join(lines)


def fmt_calls(result: dict) -> str:
    """DynamoDB requests per SCIM request, and the three most frequent operations."""
    calls = result.get("dynamodb_calls")
    if calls is None:
        return "–"
    n = max(result["requests"], 1)
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:3]
    return f"{sum(calls.values()) / n:.2f} (" + ", ".join(f"{op} {count / n:.2f}" for op, count in top) + ")"


def fmt_ratios(rows: list) -> str:
    by_phase = {}
    for phase, r in rows:
        by_phase.setdefault(phase, {})[r["server"]] = r
    lines = ["| phase | req/s (ours / peer) | p50 (peer / ours) | p99 (peer / ours) | server CPU per request (peer / ours, all processes) |",
             "|---|---|---|---|---|"]
    for phase, servers in by_phase.items():
        ours, peer = servers.get("this service"), servers.get("scim2-server 0.8.3")
        if not ours or not peer:
            continue

        def ratio(a, b):
            return f"{a / b:.2f}×" if b else "–"

        lines.append(f"| {phase} | {ratio(ours['rps'], peer['rps'])} | {ratio(peer['p50'], ours['p50'])} | "
                     f"{ratio(peer['p99'], ours['p99'])} | {ratio(sum(peer['cpu_ms'].values()), sum(ours['cpu_ms'].values()))} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dev-server", required=True)
    parser.add_argument("--scimctl", required=True)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--team-size", type=int, default=100)
    parser.add_argument("--patch-size", type=int, default=50)
    parser.add_argument("--steady", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--single-gets", type=int, default=2000, help="GET /Users/{id} requests of the `GET user` phase")
    parser.add_argument("--phase-seconds", type=float, default=900, help="time limit of each phase per server")
    parser.add_argument("--big-team", type=int, default=10_000,
                        help="members of the team whose member PATCHes are timed against a 10-member team's (0: skip)")
    parser.add_argument("--member-changes", type=int, default=50, help="add+remove pairs per team in that phase")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--werkzeug-moto", action="store_true",
                        help="moto's own server (a connection per request) instead of the launcher's kept-alive one")
    parser.add_argument("--workdir", default="target/bench")
    parser.add_argument("--dynamodb-latency-ms", type=float, default=0,
                        help="> 0: add the latency-model phase, each DynamoDB call held this long (AWS: ~4)")
    parser.add_argument("--latency-requests", type=int, default=100, help="requests per operation in that phase")
    parser.add_argument("--profile-get-user", metavar="PERF_DATA",
                        help="sync a small organization, then `perf record` the dev server through the GET user phase "
                             "(no peer, no other phase) and print where its CPU goes")
    parser.add_argument("--only-latency-model", action="store_true",
                        help="sync a small organization, then run the latency model only (no peer, no other phase)")
    args = parser.parse_args()
    if not (0 <= args.single_gets <= 1_000_000 and 0 < args.users <= 200_000 and 0 <= args.teams <= 1000 and 0 < args.clients <= 64
            and 0 < args.patch_size <= 1000 and 0 <= args.steady <= 1_000_000 and 0 < args.team_size <= args.users):
        parser.error("sizes out of range")
    os.makedirs(args.workdir, exist_ok=True)

    processes = []
    try:
        ours, procs = start_ours(args, args.workdir)
        processes += procs
        if args.profile_get_user:
            ours.user_ids = [None] * args.users
            Phase(ours, args.clients, args.phase_seconds).run(sync_jobs(args))
            profile_get_user(args, ours)
            return
        if args.only_latency_model:
            ours.user_ids = [None] * args.users
            ours.team_ids = [None] * max(args.teams, 1)
            Phase(ours, args.clients, args.phase_seconds).run(sync_jobs(args))
            Phase(ours, args.clients, args.phase_seconds).run(team_jobs(args, ours)[0])
            run_latency_model(args, ours, processes)
            return
        peer, procs = start_peer(args.workdir)
        processes += procs
        targets = [ours, peer]
        for target in targets:
            target.user_ids = [None] * args.users
            target.team_ids = [None] * args.teams
        plan = steady_plan(args)
        rows = []

        def run_phase(name, make_jobs, order):
            for target in order:
                result = Phase(target, args.clients, args.phase_seconds).run(make_jobs(target))
                rows.append((name, result))
                print(f"{name:>8} {target.name:<20} {result['requests']:>6} requests in {result['wall']:.1f} s, "
                      f"{result['errors']} errors {result['error_statuses'] or ''}", file=sys.stderr, flush=True)

        # Alternating: each phase starts with the server that went second in the previous one.
        run_phase("sync", lambda t: sync_jobs(args), [ours, peer])
        run_phase("teams: create", lambda t: team_jobs(args, t)[0], [peer, ours])
        run_phase("teams: members", lambda t: team_jobs(args, t)[1], [ours, peer])
        run_phase("steady", lambda t: steady_jobs(plan), [peer, ours])
        if args.single_gets:
            run_phase("GET user", lambda t: single_get_jobs(args), [ours, peer])
        if args.big_team and args.users >= 20 + args.member_changes:
            teams = {target.name: build_big_team(args, target, target.scimctl) for target in targets}
            # One client: the latency of one member change, not a queue's.
            for phase, which in (("member PATCH: 10-member team", 0), (f"member PATCH: {args.big_team}-member team", 1)):
                for target in (targets if which == 0 else list(reversed(targets))):
                    result = Phase(target, 1, args.phase_seconds).run(member_change_jobs(args, teams[target.name][which]))
                    rows.append((phase, result))
                    print(f"{phase:>8} {target.name:<20} {result['requests']:>6} requests in {result['wall']:.1f} s, "
                          f"{result['errors']} errors {result['error_statuses'] or ''}", file=sys.stderr, flush=True)
        order = ["sync", "teams: create", "teams: members", "steady", "GET user"]
        rows.sort(key=lambda row: order.index(row[0]) if row[0] in order else len(order))
        print(f"\nusers {args.users}, teams {args.teams} x {args.team_size} (PATCHes of {args.patch_size}), "
              f"steady {args.steady}, clients {args.clients}; {os.cpu_count()} CPUs\n")
        print(fmt_table(rows))
        print()
        print(fmt_ratios(rows))
        big_rows = {(phase, r["server"]): r for phase, r in rows if phase.startswith("member PATCH")}
        for name in (t.name for t in targets):
            small = big_rows.get(("member PATCH: 10-member team", name))
            big = big_rows.get((f"member PATCH: {args.big_team}-member team", name))
            if small and big and small["p50"]:
                print(f"\n{name}: member PATCH p50 on the {args.big_team}-member team / on the 10-member team: "
                      f"{big['p50'] / small['p50']:.2f}")
        if args.dynamodb_latency_ms > 0:
            run_latency_model(args, ours, processes)
    finally:
        for proc in processes:
            proc.terminate()
        for proc in processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def profile_get_user(args, ours: Target) -> None:
    """The GET user phase under `perf record` (call graphs), then the CPU per request and the top of
    the profile by shared object and by symbol: where the Rust side's CPU per request goes."""
    Phase(ours, args.clients, args.phase_seconds).run(single_get_jobs(args)[: args.clients * 10])  # warm
    recorder = subprocess.Popen(["perf", "record", "-F", "4999", "-g", "-p", str(ours.processes["Rust"]),
                                 "-o", args.profile_get_user], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    result = Phase(ours, args.clients, args.phase_seconds).run(single_get_jobs(args))
    recorder.send_signal(signal.SIGINT)
    recorder.wait(timeout=120)
    print(f"GET user: {result['requests']} requests, {result['errors']} errors, "
          f"Rust CPU {result['cpu_ms']['Rust']:.3f} ms/request, moto {result['cpu_ms']['moto']:.3f} ms/request, "
          f"DynamoDB calls/request {fmt_calls(result)}")
    for sort in ("dso", "sym"):
        report = subprocess.run(["perf", "report", "-i", args.profile_get_user, "--no-children", "--stdio",
                                 "--percent-limit", "1.5", "--sort", sort, "-g", "none"],
                                capture_output=True, text=True)
        lines = [line for line in report.stdout.splitlines() if line.strip() and not line.startswith("#")]
        print(f"\nby {sort}:\n" + "\n".join(lines[:30]))


def run_latency_model(args, ours: Target, processes: list) -> None:
    delay = args.dynamodb_latency_ms or 4
    target, proxy, dev = start_latency_server(args, ours, delay, args.workdir)
    processes.append(dev)
    try:
        rows = latency_model(args, target, proxy)
    finally:
        proxy.stop()
    print()
    print(fmt_latency(rows, delay))


if __name__ == "__main__":
    main()
