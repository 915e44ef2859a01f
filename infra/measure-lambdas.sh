#!/usr/bin/env bash
# Measures each function's init time and peak memory as Lambda would see them (budgets:
# init < 30 ms including the warm-up call, peak memory <= 40 MB), with release binaries of this
# machine's architecture under a local Lambda Runtime API (infra/lambda_harness.py) against moto.
# The organization holds a team of BENCH_TEAM_SIZE (default 20,000: the most a group response
# carries) so the largest response is measured. Usage: bash infra/measure-lambdas.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_moto
TEAM_SIZE="${BENCH_TEAM_SIZE:-20000}"
PROFILE="${BENCH_PROFILE:-release}"
echo "building the functions ($PROFILE) and scimctl" >&2
if [ "$PROFILE" = release ]; then
  cargo build --quiet --release -p scim-users -p scim-groups -p scim-admin -p token-scheduler
  BIN_DIR="$ROOT/target/release"
else
  cargo build --quiet -p scim-users -p scim-groups -p scim-admin -p token-scheduler
  BIN_DIR="$ROOT/target/debug"
fi
cargo build --quiet -p scimctl
MOTO_PORT="$(free_port)"
mkdir -p "$ROOT/target/bench"
start_moto "$MOTO_PORT" "$ROOT/target/bench/moto.log"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws_env "$MOTO_PORT"
export TABLE_NAME="bench-$(date +%s)" TOKEN_KEY_SECRET_ID="bench/token-key" SENDER_EMAIL="scim-noreply@bench.example.com"
SCIMCTL="$ROOT/target/debug/scimctl"
export BENCH_ORG=bench BENCH_OWNER=owner@bench.example.com BENCH_PASSPHRASE="bench owner passphrase $RANDOM"
"$SCIMCTL" bootstrap >/dev/null
"$SCIMCTL" create-org --org "$BENCH_ORG" --name "Benchmark" --plan enterprise >/dev/null
# The repeated requests whose CPU is measured come faster than the default fair-use budget allows
# (50/s, bursts of 200): this measures the requests, not the budget's 429s.
"$SCIMCTL" fair-use --org "$BENCH_ORG" --rate 100000 --burst 100000 >/dev/null
"$SCIMCTL" verify-domain --org "$BENCH_ORG" --domain bench.example.com >/dev/null
"$SCIMCTL" configure-sso --org "$BENCH_ORG" --idp okta >/dev/null
SCIMCTL_PASSPHRASE="$BENCH_PASSPHRASE" "$SCIMCTL" add-member --org "$BENCH_ORG" --email "$BENCH_OWNER" --role owner >/dev/null
BENCH_TOKEN="$("$SCIMCTL" issue-token --org "$BENCH_ORG" | sed -n 's/^token (shown once): //p')"
echo "loading a team of $TEAM_SIZE members" >&2
LOADED="$("$SCIMCTL" load-team --org "$BENCH_ORG" --team "Everyone" --members "$TEAM_SIZE")"
BENCH_TEAM="$(sed -n 's/^team \([^ ]*\) .*/\1/p' <<<"$LOADED")"
BENCH_MEMBER="$(sed -n 's/^first member: //p' <<<"$LOADED")"
export BENCH_TOKEN BENCH_TEAM BENCH_MEMBER BENCH_BIN_DIR="$BIN_DIR" BENCH_REPORT="$ROOT/target/bench/report.json"
"$VENV/bin/python" "$ROOT/infra/measure_lambdas.py"
