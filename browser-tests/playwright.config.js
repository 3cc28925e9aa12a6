// Playwright drives the machine's Chromium (Debian's package, found on PATH), never a browser
// build of its own: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 at install, executablePath here.
// Two suites: harness's HTML report (`report`, after `report-setup` has made the reports) and
// the mock's dashboard (`dashboard`, a mock-server process per test). `--project dashboard`
// runs the dashboard alone, without making the reports.
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
  projects: [
    // The reports are made once, for every report test (the whole scenario library takes a while).
    { name: "report-setup", testMatch: /report\.setup\.js$/, timeout: 30 * 60_000 },
    { name: "report", testMatch: /report\.spec\.js$/, dependencies: ["report-setup"] },
    { name: "dashboard", testMatch: /dashboard\.spec\.js$/ },
  ],
});
