#!/usr/bin/env bash
# Builds every Lambda function for AWS (provided.al2023, arm64) with cargo-lambda and zig from
# PyPI, and prints the artifact sizes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_tools
rustup target add aarch64-unknown-linux-gnu >/dev/null
export PATH="$VENV/bin:$PATH"
cargo lambda build --release --arm64 --bin scim-users --bin scim-groups --bin scim-admin --bin token-scheduler
echo "artifact sizes (bootstrap, arm64, stripped):"
for f in scim-users scim-groups scim-admin token-scheduler; do
  printf '  %-16s %s bytes\n' "$f" "$(stat -c %s "target/lambda/$f/bootstrap")"
done
