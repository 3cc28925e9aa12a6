#!/usr/bin/env bash
# The HTML report in a real browser: harness writes the report of the whole scenario library
# (and of its own fixtures, one failing on purpose), and Playwright (browser-tests/, npm ci from
# its lockfile) opens both in Debian's Chromium and checks the drawn page: a diagram with
# arrows per scenario, arrows that open to the request and the answer, the filters. Screenshots
# stay in browser-tests/artifacts/. HARNESS_BIN names the harness binary to use (default: the
# release build, made here if missing).
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

if [ -z "${HARNESS_BIN:-}" ]; then
  if [ ! -x target/release/harness ]; then
    cargo build --release --locked -p harness
  fi
  export HARNESS_BIN=$PWD/target/release/harness
fi

echo "== harness's HTML report in Chromium"
cd browser-tests
npx --no-install playwright test
echo "screenshots: $(ls artifacts/*.png | tr '\n' ' ')"
