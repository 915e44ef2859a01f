# Shared by the infra scripts: the project-local Python environment with a pinned moto.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
MOTO_VERSION="5.2.5"

ensure_moto() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    return 0
  fi
  echo "installing moto[server]==$MOTO_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}

# Deployment tooling, pinned: cargo-lambda and zig (cross builds), cfn-lint and the SAM translator.
ensure_tools() {
  ensure_moto
  if "$VENV/bin/python" -c "import ziglang, samtranslator" 2>/dev/null && [ -x "$VENV/bin/cargo-lambda" ] && [ -x "$VENV/bin/cfn-lint" ]; then
    return 0
  fi
  echo "installing cargo-lambda, ziglang, cfn-lint, aws-sam-translator into $VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "cargo-lambda==1.9.2" "ziglang==0.17.1" "cfn-lint==1.58.0" "aws-sam-translator==1.115.0"
}

# The browser of the console's browser tests: Debian's Chromium and its chromedriver (apt), or the
# binaries named by CHROMIUM / CHROMEDRIVER.
ensure_chromium() {
  local driver="${CHROMEDRIVER:-/usr/bin/chromedriver}" browser="${CHROMIUM:-/usr/bin/chromium}"
  if [ -x "$driver" ] && [ -x "$browser" ]; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "installing chromium and chromium-driver (apt) for the console's browser tests" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver >/dev/null 2>&1 \
    || { $sudo apt-get update >/dev/null \
      && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver >/dev/null; }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_moto PORT LOGFILE: starts moto in the background, waits until it answers, sets MOTO_PID.
start_moto() {
  local port="$1" log="$2"
  "$VENV/bin/python" "$ROOT/infra/moto_server.py" --port "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then return 0; fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then cat "$log" >&2; return 1; fi
    sleep 0.1
  done
  echo "moto did not start on port $port" >&2
  return 1
}

# The SDK's standard environment pointed at the local stack.
export_local_aws_env() {
  export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
}

# The in-memory peer of the benchmark (infra/bench.sh), pinned: scim2-server from PyPI.
SCIM2_SERVER_VERSION="0.8.3"
ensure_scim2_server() {
  ensure_moto
  if "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('scim2-server') != '$SCIM2_SERVER_VERSION')" 2>/dev/null; then
    return 0
  fi
  echo "installing scim2-server==$SCIM2_SERVER_VERSION into $VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "scim2-server==$SCIM2_SERVER_VERSION"
}
