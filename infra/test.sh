#!/usr/bin/env bash
# Runs every test: unit tests and the behaviour tests against a real local AWS stack (moto).
# The behaviour tests start their own moto server (from .venv, installed here when missing).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_moto
export MOTO_PYTHON="$VENV/bin/python"
cargo test --workspace "$@"
