#!/usr/bin/env bash
# The JavaScript package (js/, wx-login-kit) and its example mini-program: installs the pinned
# npm dependencies, builds the mock-server and login-core binaries the end-to-end test runs
# (MOCK_SERVER_BIN / LOGIN_CORE_BIN use others), then runs the unit, component and end-to-end
# tests with node's test runner. The servers listen on port 0 of 127.0.0.1; every process the
# tests start is stopped and every temporary file removed at the end, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "js.sh: Node 20 or newer is needed, this is $(node --version)" >&2
  exit 1
fi

work=$(mktemp -d)
tests_pid=
cleanup() {
  # The tests run in a process group of their own: whatever they left running goes with it.
  if [ -n "$tests_pid" ]; then kill -KILL -- "-$tests_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

npm ci --prefix js --no-audit --no-fund --loglevel=error
# The example mini-program installs the package from its own lockfile, as a developer does
# before DevTools' Build npm; its pages are what the component and end-to-end tests drive.
npm ci --prefix examples/miniprogram --no-audit --no-fund --loglevel=error
test -f examples/miniprogram/node_modules/wx-login-kit/src/index.js

if [ -z "${MOCK_SERVER_BIN:-}" ] || [ -z "${LOGIN_CORE_BIN:-}" ]; then
  cargo build --release --locked -p mock-server -p login-core
fi
export MOCK_SERVER_BIN=${MOCK_SERVER_BIN:-$PWD/target/release/mock-server}
export LOGIN_CORE_BIN=${LOGIN_CORE_BIN:-$PWD/target/release/login-core}

echo "== wx-login-kit: unit, component and end-to-end tests"
cd js
TMPDIR=$work setsid node --test --test-concurrency=1 test/unit/*.test.js test/component/*.test.js test/e2e/*.test.js &
tests_pid=$!
wait "$tests_pid"
