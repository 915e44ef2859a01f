#!/usr/bin/env bash
# The IdP run against this service on the local stack (release dev server + patched moto) and
# against scim2-server (in memory), alternating, in one go; prints the table of docs/BENCHMARKS.md's
# "Benchmark". Flags go to infra/bench.py (--users 1000 --teams 10 --team-size 100 --patch-size 50
# --steady 1000 --clients 8 --phase-seconds 900).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_scim2_server
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cargo build --quiet --release -p dev-server -p scimctl
exec "$VENV/bin/python" "$ROOT/infra/bench.py" \
  --dev-server "$TARGET_DIR/release/dev-server" --scimctl "$TARGET_DIR/release/scimctl" \
  --workdir "$ROOT/target/bench" "$@"
