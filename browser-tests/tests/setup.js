// Makes the two reports the report tests open (report.setup.js runs it): the whole scenario
// library (which must pass), and the harness's own fixtures, one of them failing on purpose (for
// the "failed only" filter).
// HARNESS_BIN names the harness binary; otherwise the release build, else the debug build,
// else `cargo run --release`.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { ROOT, REPORTS, LIBRARY, FIXTURES } = require("./paths");

function harness() {
  if (process.env.HARNESS_BIN) return [process.env.HARNESS_BIN];
  for (const profile of ["release", "debug"]) {
    const bin = path.join(ROOT, "target", profile, "harness");
    if (fs.existsSync(bin)) return [bin];
  }
  return ["cargo", "run", "--quiet", "--release", "--locked", "-p", "harness", "--"];
}

function run(args, expected) {
  const [cmd, ...pre] = harness();
  const r = spawnSync(cmd, [...pre, "run", "--quiet", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 15 * 60 * 1000,
  });
  if (r.error) throw r.error;
  if (r.status !== expected) {
    throw new Error(
      `harness ${args.join(" ")} exited ${r.status}, expected ${expected}\n${r.stdout}\n${r.stderr}`,
    );
  }
}

module.exports = async function setup() {
  fs.rmSync(REPORTS, { recursive: true, force: true });
  // The whole library (scenarios/): every scenario must pass.
  run(["--html", LIBRARY, "scenarios"], 0);
  // Two passing fixtures and one failing one: the run fails, as it should.
  run(["--html", FIXTURES, "harness/tests/fixtures/pass", "harness/tests/fixtures/fail"], 1);
  for (const f of [LIBRARY, FIXTURES]) {
    if (!fs.existsSync(f)) throw new Error(`no report at ${f}`);
  }
};
