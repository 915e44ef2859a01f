#!/usr/bin/env bash
# Third-party conformance testers against the local stack (docs/CONFORMANCE.md): scim2-tester (through
# scim2-cli) and scim-sanity, pinned, installed into the project's .venv. Starts the stack as infra/dev.sh
# does (its own moto, table, demo organization and token) on a free port, runs both, and fails on any
# failure that docs/CONFORMANCE.md does not list as a deliberate deviation. Prints one line per tester:
#   conformance: <tester> <version>: N passed, M failed (K expected), S skipped
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

SCIM2_CLI_VERSION="0.6.0"
SCIM2_TESTER_VERSION="0.5.2"
SCIM_SANITY_VERSION="0.7.4"
# scim-sanity checks that fail by design (docs/CONFORMANCE.md, "Deliberate deviations"), by name.
SANITY_EXPECTED_FAILURES=(
  "PATCH /Groups/{id}"                # 204 No Content (RFC 7644 §3.5.2 allows it; 200 when attributes is given)
  "PATCH /Groups/{id} remove members" # the same
  "PATCH /Groups/{id} add member"     # a member that is not a user of the organization is 400
)

ensure_moto
installed() {
  "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null
}
if ! installed scim2-cli "$SCIM2_CLI_VERSION" || ! installed scim2-tester "$SCIM2_TESTER_VERSION" \
  || ! installed scim-sanity "$SCIM_SANITY_VERSION"; then
  echo "installing scim2-cli==$SCIM2_CLI_VERSION scim2-tester==$SCIM2_TESTER_VERSION scim-sanity==$SCIM_SANITY_VERSION into $VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "scim2-cli==$SCIM2_CLI_VERSION" \
    "scim2-tester==$SCIM2_TESTER_VERSION" "scim-sanity==$SCIM_SANITY_VERSION"
fi

work="$(mktemp -d)"
stack_pid=""
stop_stack() {
  if [ -n "$stack_pid" ]; then kill -- "-$stack_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop_stack EXIT

# The stack, as infra/dev.sh starts it, in a process group of its own (stopped as a whole on exit).
PORT="$(free_port)"
PORT="$PORT" setsid bash infra/dev.sh >"$work/stack.log" 2>&1 &
stack_pid=$!
for _ in $(seq 1 1800); do
  if grep -q '"dev server listening"' "$work/stack.log"; then break; fi
  if ! kill -0 "$stack_pid" 2>/dev/null; then cat "$work/stack.log" >&2; echo "conformance: the local stack did not start" >&2; exit 1; fi
  sleep 0.2
done
base="$(awk '/^connector URL:/ {print $3}' "$work/stack.log")"
token="$(awk '/^token \(shown once\):/ {print $4}' "$work/stack.log")"
if [ -z "$base" ] || [ -z "$token" ] || ! grep -q '"dev server listening"' "$work/stack.log"; then
  cat "$work/stack.log" >&2
  echo "conformance: the local stack did not start" >&2
  exit 1
fi

# The testers check conformance, not fair use: a budget they cannot exceed on a fast machine.
( source "$ROOT/target/dev.env" && "$ROOT/target/debug/scimctl" fair-use --org demo --rate 2000 --burst 8000 >/dev/null )

# scim2-tester: every check must succeed (SKIPPED: the server says it does not offer the feature).
SCIM_CLI_HEADERS="Authorization: Bearer $token" "$VENV/bin/scim2" --url "$base" test >"$work/scim2.txt" 2>&1 || true
# scim-sanity: its JSON report (it exits 1 whenever a check fails, expected or not).
"$VENV/bin/scim-sanity" probe "$base" --token "$token" --i-accept-side-effects --json-output \
  >"$work/sanity.json" 2>"$work/sanity.err" || true

"$VENV/bin/python" - "$work" "$SCIM2_TESTER_VERSION" "$SCIM_SANITY_VERSION" "${SANITY_EXPECTED_FAILURES[@]}" <<'PY'
import json, re, sys

work, tester_version, sanity_version, *expected = sys.argv[1:]
ok = True

lines = open(f"{work}/scim2.txt", encoding="utf-8").read().splitlines()
statuses = [m.group(1) for line in lines if (m := re.match(r"^([A-Z]+) \S", line)) and m.group(1) != "Performing"]
passed = sum(s in ("SUCCESS", "COMPLIANT", "ACCEPTABLE") for s in statuses)
skipped = statuses.count("SKIPPED")
failed = len(statuses) - passed - skipped
if not statuses:
    print("\n".join(lines[-20:]), file=sys.stderr)
    ok = False
for i, line in enumerate(lines):
    if re.match(r"^(DEVIATION|ERROR|CRITICAL) ", line):
        print(f"scim2-tester: {line}: {lines[i + 1].strip() if i + 1 < len(lines) else ''}", file=sys.stderr)
ok &= failed == 0 and bool(statuses)
print(f"conformance: scim2-tester {tester_version}: {passed} passed, {failed} failed (0 expected), {skipped} skipped")

try:
    report = json.load(open(f"{work}/sanity.json", encoding="utf-8"))
except ValueError:
    print(open(f"{work}/sanity.json", encoding="utf-8").read()[-2000:], open(f"{work}/sanity.err").read()[-2000:], file=sys.stderr)
    report = {"results": []}
results = report.get("results", [])
bad = [r for r in results if r.get("status") in ("fail", "error")]
unexpected = [r for r in bad if r.get("name") not in expected]
for r in unexpected:
    print(f"scim-sanity: unexpected {r.get('status')}: {r.get('name')}: {r.get('message', '')}", file=sys.stderr)
s_passed = sum(r.get("status") == "pass" for r in results)
s_skipped = sum(r.get("status") == "skip" for r in results)
ok &= bool(results) and not unexpected
print(f"conformance: scim-sanity {sanity_version}: {s_passed} passed, {len(bad)} failed ({len(bad) - len(unexpected)} expected), {s_skipped} skipped")
sys.exit(0 if ok else 1)
PY
