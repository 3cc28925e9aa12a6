#!/usr/bin/env bash
# The portable scenario library against login-core started as its own process, as a team would
# run its backend: mock-server and login-core on free loopback ports, a fresh SQLite file, the
# suite run twice against the same database (every run must meet new people).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p mock-server -p login-core -p harness
BIN=target/release
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mock_port=$(free_port); core_port=$(free_port)
"$BIN/mock-server" --listen "127.0.0.1:$mock_port" >"$work/mock.log" 2>&1 & pids+=($!)
LOGIN_CORE_SERVER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
LOGIN_CORE_DATABASE_URL="sqlite://$work/login-core.db" \
LOGIN_CORE_LISTEN="127.0.0.1:$core_port" \
LOGIN_CORE_WECHAT_BASE_URL="http://127.0.0.1:$mock_port" \
  "$BIN/login-core" --config examples/login-core/login-core.toml >"$work/core.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$core_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
for round in 1 2; do
  echo "portable library against login-core (own process), run $round"
  "$BIN/harness" run -q --mock "http://127.0.0.1:$mock_port" \
    --target "http://127.0.0.1:$core_port" --target-profile examples/login-core/profile.yaml \
    --junit "target/portable-login-core-$round.xml"
done
