#!/bin/bash
# Instructions per request of a mock-server binary, counted by callgrind: repeatable to a
# tenth of a percent for the same binary and inputs, whatever else the machine is doing, so
# two builds can be compared on a busy machine.
#
#   bash mock-server/bench/instructions.sh BINARY [WORKLOAD] [REQUESTS]
#
# WORKLOAD: `e40029` (jscode2session with a code never minted, one request each) or `fresh`
# (a control-plane wx.login, then jscode2session with its code: two requests each).
# REQUESTS: measured iterations (default 2000), after 300 not counted.
# Needs valgrind (callgrind_control) and python3.
set -euo pipefail
bin=$1
workload=${2:-e40029}
n=${3:-2000}
work=$(mktemp -d)
trap 'kill "$vpid" 2>/dev/null || true; rm -rf "$work"' EXIT

valgrind --tool=callgrind --callgrind-out-file="$work/out.%p" "$bin" --listen 127.0.0.1:0 \
  >"$work/log" 2>&1 &
vpid=$!
port=
for _ in $(seq 1 120); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/log" | head -1 | sed 's/.*://' || true)
  [ -n "$port" ] && break
  sleep 1
done
[ -n "$port" ] || { echo "mock-server did not start:" >&2; cat "$work/log" >&2; exit 1; }

drive() {
  python3 - "$port" "$1" "$workload" <<'PY'
import http.client, json, sys
port, n, workload = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port)
def call(path, method="GET", body=None):
    c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = c.getresponse()
    return r.read()
app = json.loads(call("/__mock__/state"))["apps"][0]
base = f"/sns/jscode2session?appid={app['appid']}&secret={app['secret']}&grant_type=authorization_code&js_code="
for i in range(n):
    if workload == "e40029":
        assert b"40029" in call(base + "0BenchUnknownCodeNeverMinted00000")
    elif workload == "fresh":
        code = json.loads(call("/__mock__/wx/login", "POST", json.dumps({"user": f"u{i}"})))["code"]
        assert b"openid" in call(base + code)
    else:
        sys.exit(f"unknown workload {workload!r}: e40029 or fresh")
PY
}

drive 300
callgrind_control -z "$vpid" >/dev/null 2>&1
drive "$n"
callgrind_control -d "$vpid" >/dev/null 2>&1
kill "$vpid"
wait "$vpid" 2>/dev/null || true
total=$(grep -h '^summary:' "$work"/out.*.1 | awk '{print $2}')
echo "$workload: $n iterations, $total instructions, $((total / n)) per iteration"
