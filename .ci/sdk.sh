#!/usr/bin/env bash
# SDK conformance (sdk-conformance/): wechatpy's and node-easywechat's typed methods against one
# mock-server, as teams' backends call WeChat through them. The mock listens on a loopback port
# the system picks (port 0; the script reads the address the mock prints); the Python suite runs
# in a venv built from examples/python-flask/requirements.txt, the Node suite on
# examples/node-express's lockfile. Everything started is stopped and every temporary file
# removed at the end, pass or fail; any failing suite makes the script fail.
# MOCK_SERVER_BIN uses an already built mock-server instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "sdk.sh: Node 20 or newer is needed, this is $(node --version)" >&2
  exit 1
fi

if [ -z "${MOCK_SERVER_BIN:-}" ]; then
  cargo build --release --locked -p mock-server
fi
MOCK_SERVER_BIN=${MOCK_SERVER_BIN:-$PWD/target/release/mock-server}

work=$(mktemp -d)
mock_pid=
cleanup() {
  if [ -n "$mock_pid" ]; then
    kill "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
  fi
  exec 3<&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

python_venv "$work/venv"
node_express_deps

# The mock prints `mock-server listening on http://ADDR` once bound: read it from a pipe, which
# stays open (fd 3) so the mock's later lines have a reader.
mkfifo "$work/stdout"
"$MOCK_SERVER_BIN" --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/mock.log" &
mock_pid=$!
exec 3<"$work/stdout"
read -r first_line <&3 || true
case "$first_line" in
  "mock-server listening on http://"*) export MOCK_URL=${first_line#mock-server listening on } ;;
  *)
    echo "sdk.sh: mock-server did not start: ${first_line:-no output}" >&2
    cat "$work/mock.log" >&2
    exit 1
    ;;
esac

failed=()
echo "== wechatpy: sdk-conformance/python/test_wechatpy.py against $MOCK_URL"
(cd sdk-conformance/python && PYTHONDONTWRITEBYTECODE=1 "$work/venv/bin/python" -m unittest -v test_wechatpy) ||
  failed+=(wechatpy)
echo "== node-easywechat: sdk-conformance/node/test-node-easywechat.mjs against $MOCK_URL"
node --test --test-concurrency=1 sdk-conformance/node/test-node-easywechat.mjs || failed+=(node-easywechat)

if [ "${#failed[@]}" -gt 0 ]; then
  echo "sdk.sh: the SDK conformance suite failed for: ${failed[*]} (the mock's log follows)" >&2
  tail -n 50 "$work/mock.log" >&2
  exit 1
fi
echo "sdk.sh: wechatpy and node-easywechat conform against mock-server"
