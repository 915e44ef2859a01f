#!/usr/bin/env bash
# Runs the whole system locally: moto (DynamoDB, SES, Secrets Manager) on loopback, the table,
# secret and sender identity, a demo organization, and every function on one port.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
PORT="${PORT:-8080}"
ensure_moto
MOTO_PORT="$(free_port)"
mkdir -p "$ROOT/target"
start_moto "$MOTO_PORT" "$ROOT/target/moto.log"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws_env "$MOTO_PORT"
export TABLE_NAME="${TABLE_NAME:-insomnia-scim}"
export TOKEN_KEY_SECRET_ID="${TOKEN_KEY_SECRET_ID:-insomnia-scim/token-key}"
export SENDER_EMAIL="${SENDER_EMAIL:-scim-noreply@insomnia.example.com}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}"
cat >"$ROOT/target/dev.env" <<ENV
export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_REGION=$AWS_REGION AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export TABLE_NAME=$TABLE_NAME TOKEN_KEY_SECRET_ID=$TOKEN_KEY_SECRET_ID SENDER_EMAIL=$SENDER_EMAIL PUBLIC_BASE_URL=$PUBLIC_BASE_URL
ENV
cargo build --quiet -p scimctl -p dev-server
"$ROOT/target/debug/scimctl" bootstrap
"$ROOT/target/debug/scimctl" seed-demo | tee "$ROOT/target/demo.txt"
echo "console (web page): $PUBLIC_BASE_URL/console  (sign in with the admin login above)"
echo "local AWS endpoint: $AWS_ENDPOINT_URL (moto); serving every function on $PUBLIC_BASE_URL (Ctrl-C stops)"
echo "operator CLI in another shell: source target/dev.env && target/debug/scimctl show-org --org demo"
"$ROOT/target/debug/dev-server" --port "$PORT"
