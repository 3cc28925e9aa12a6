#!/usr/bin/env bash
# The portable scenario library against backends running as their own processes, as teams run
# theirs: login-core (twice on one database: every run must meet new people), the Flask +
# wechatpy and Express + node-easywechat examples (everything they implement passes), and the
# faulty Flask backend (it fails exactly the scenarios in examples/faulty-flask/expected-failures.txt).
# Each target gets its own mock-server and free loopback ports; everything is stopped and removed
# at the end. Dependencies come pinned: requirements.txt (PyPI), package-lock.json (npm).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
cargo build --release --locked -p mock-server -p login-core -p harness
BIN=$PWD/target/release
work=$(mktemp -d)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

python_venv "$work/venv"
node_express_deps

# target NAME PROFILE EXPECT COMMAND...: starts a mock, then COMMAND (which reads MOCK_URL,
# TARGET_PORT and DB), runs the library; EXPECT is `pass` or a file of expected failures.
target() {
  local name=$1 profile=$2 expect=$3
  shift 3
  local mock_port
  mock_port=$(free_port)
  export TARGET_PORT
  TARGET_PORT=$(free_port)
  export MOCK_URL="http://127.0.0.1:$mock_port" DB="$work/$name.db"
  "$BIN/mock-server" --listen "127.0.0.1:$mock_port" >"$work/$name-mock.log" 2>&1 &
  pids+=($!)
  wait_for "$MOCK_URL/__mock__/state"
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$TARGET_PORT/"
  local rounds=1 round
  [ "$name" = login-core ] && rounds=2
  for round in $(seq "$rounds"); do
    echo "== the portable library against $name (run $round)"
    local report="target/targets/$name-$round.json" rc=0
    "$BIN/harness" run -q --mock "$MOCK_URL" --target "http://127.0.0.1:$TARGET_PORT" \
      --target-profile "$profile" --json "$report" --junit "target/targets/$name-$round.xml" || rc=$?
    if [ "$expect" = pass ]; then
      [ "$rc" = 0 ] || { echo "$name: scenarios failed" >&2; cat "$work/$name.log" >&2; return 1; }
    else
      python3 - "$report" "$expect" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
failed = sorted(s["path"] for s in report["scenarios"] if s["outcome"]["status"] != "passed" and s["outcome"]["status"] != "skipped")
want = sorted(l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#"))
if failed != want:
    sys.exit(f"the faulty backend failed {failed}, expected exactly {want}")
print(f"the faulty backend failed exactly its {len(want)} planted scenarios")
PY
    fi
  done
}

SERVER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
run_login_core() {
  LOGIN_CORE_SERVER_KEY=$SERVER_KEY LOGIN_CORE_DATABASE_URL="sqlite://$DB" \
    LOGIN_CORE_LISTEN="127.0.0.1:$TARGET_PORT" LOGIN_CORE_WECHAT_BASE_URL="$MOCK_URL" \
    LOGIN_CORE_SMS_ENDPOINT="$MOCK_URL/tencentcloud/sms" \
    exec "$BIN/login-core" --config examples/login-core/login-core.toml
}
run_flask() {
  WECHAT_API_BASE=$MOCK_URL PORT=$TARGET_PORT DB_PATH=$DB \
    WX_APPS=wx655e895f04f02b94:ed570c7507f7ae3fc512cfb94f876829,wx7d2e1c5a9b3f4e60:9c4b1e7f2a6d3058e1b7c9a4f0d2e6b3 \
    exec "$work/venv/bin/python" "$1"
}
run_express() {
  WECHAT_API_BASE=$MOCK_URL PORT=$TARGET_PORT DB_PATH=$DB \
    WX_APPID=wx655e895f04f02b94 WX_SECRET=ed570c7507f7ae3fc512cfb94f876829 \
    exec node examples/node-express/server.js
}

mkdir -p target/targets
target login-core examples/login-core/profile.yaml pass run_login_core
target python-flask examples/python-flask/profile.yaml pass run_flask examples/python-flask/app.py
target node-express examples/node-express/profile.yaml pass run_express
target faulty-flask examples/faulty-flask/profile.yaml examples/faulty-flask/expected-failures.txt \
  run_flask examples/faulty-flask/app.py
