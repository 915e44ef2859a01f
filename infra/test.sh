#!/usr/bin/env bash
# Runs every test: unit tests and the behaviour tests against a real local AWS stack (moto).
# The behaviour tests start their own moto server (from .venv, installed here when missing) and,
# for the console's browser tests, a headless Chromium through chromedriver (apt, installed here).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_moto
ensure_chromium
export MOTO_PYTHON="$VENV/bin/python"
# The moto launcher's patches answer as plain moto does (unittest prints its count: "Ran N tests").
"$VENV/bin/python" "$ROOT/infra/test_moto_server.py"
# The benchmark's latency proxy holds a call its delay and no more.
"$VENV/bin/python" "$ROOT/infra/test_bench_tools.py"
cargo test --workspace "$@"
