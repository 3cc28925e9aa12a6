// Playwright drives the machine's Chromium (Debian's package, found on PATH), never a browser
// build of its own: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 at install, executablePath here.
"use strict";
const { defineConfig } = require("@playwright/test");
const { execFileSync } = require("node:child_process");

function chromium() {
  if (process.env.CHROMIUM_BIN) return process.env.CHROMIUM_BIN;
  try {
    return execFileSync("which", ["chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("no chromium on PATH: install it (apt-get install chromium) or set CHROMIUM_BIN");
  }
}

module.exports = defineConfig({
  testDir: "tests",
  // The reports are made once, for every test (the whole scenario library takes a while).
  globalSetup: require.resolve("./tests/setup.js"),
  timeout: 120_000,
  workers: 1,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 900 },
    launchOptions: { executablePath: chromium() },
  },
});
