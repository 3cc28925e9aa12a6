#!/usr/bin/env bash
# Pages in a real browser: Playwright (browser-tests/, npm ci from its lockfile) drives Debian's
# Chromium over
# - harness's HTML report: harness writes the report of the whole scenario library (and of its
#   own fixtures, one failing on purpose), and the tests check the drawn page: a diagram with
#   arrows per scenario, arrows that open to the request and the answer, the filters;
# - mock-server's dashboard (/__mock__/ui/): a mock-server process per test (loopback, port 0),
#   a login from the simulated mini-program exchanged over HTTP and seen in the live journal, a
#   fault added from the page, the clock moved from the page, the options, the control token.
# Screenshots of both stay in browser-tests/artifacts/ (the run starts with an empty folder).
# HARNESS_BIN and MOCK_SERVER_BIN name the binaries to use; without them, the release builds,
# made (or brought up to date) here.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium: Playwright never downloads a browser of its own here.
if ! command -v chromium >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser.sh: chromium is not installed and there is no apt-get to install it; install Chromium so that \`chromium\` is on PATH" >&2
    exit 1
  fi
  sudo=
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
command -v chromium >/dev/null 2>&1 || { echo "browser.sh: chromium is still not on PATH" >&2; exit 1; }
echo "== browser: $(chromium --version 2>/dev/null | head -n 1)"

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --prefix browser-tests --no-audit --no-fund --loglevel=error

build=()
[ -n "${HARNESS_BIN:-}" ] || build+=(-p harness)
[ -n "${MOCK_SERVER_BIN:-}" ] || build+=(-p mock-server)
if [ "${#build[@]}" -gt 0 ]; then
  cargo build --release --locked "${build[@]}"
fi
export HARNESS_BIN=${HARNESS_BIN:-$PWD/target/release/harness}
export MOCK_SERVER_BIN=${MOCK_SERVER_BIN:-$PWD/target/release/mock-server}

echo "== harness's HTML report and mock-server's dashboard in Chromium"
cd browser-tests
rm -rf artifacts
npx --no-install playwright test
shots=(artifacts/*.png)
if [ ! -e "${shots[0]}" ]; then
  echo "browser.sh: the tests left no screenshot in browser-tests/artifacts/" >&2
  exit 1
fi
echo "screenshots (browser-tests/artifacts/): ${shots[*]#artifacts/}"
