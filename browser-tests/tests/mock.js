// A real mock-server process per test, as .ci/sdk.sh starts one: loopback, port 0 (the address
// is read from the line the mock prints once bound), a fixed seed, optionally a control token;
// stopped (SIGTERM, then SIGKILL) when the test ends. MOCK_SERVER_BIN names the binary;
// otherwise the release build, else the debug build.
//
// The `test` exported here has a `mock` fixture and a `mockToken` option, and fails a test whose
// page logged an error or broke its Content-Security-Policy.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawn } = require("node:child_process");
const base = require("@playwright/test");
const { ROOT } = require("./paths");

function binary() {
  if (process.env.MOCK_SERVER_BIN) return process.env.MOCK_SERVER_BIN;
  for (const profile of ["release", "debug"]) {
    const bin = path.join(ROOT, "target", profile, "mock-server");
    if (fs.existsSync(bin)) return bin;
  }
  throw new Error(
    "no mock-server binary: build it (cargo build --release -p mock-server) or set MOCK_SERVER_BIN",
  );
}

/** Starts a mock; resolves once it listens. */
function start({ token = null, seed = "dashboard" } = {}) {
  const args = ["--listen", "127.0.0.1:0", "--seed", seed];
  if (token) args.push("--control-token", token);
  const child = spawn(binary(), args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: "warn" },
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error("mock-server printed no address in 20 s")), 20_000);
    const fail = (e) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${e.message}\n${stderr}`));
    };
    child.on("error", fail);
    child.on("exit", (code) => fail(new Error(`mock-server exited with ${code} before listening`)));
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^mock-server listening on (http:\/\/\S+)$/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      // Keep reading, so the mock never blocks on a full pipe.
      child.stdout.resume();
      resolve(new Mock(child, m[1], token));
    });
  });
}

class Mock {
  constructor(child, url, token) {
    this.child = child;
    this.url = url;
    this.token = token;
  }

  /** The dashboard's address. */
  get dashboard() {
    return `${this.url}/__mock__/ui/`;
  }

  /** A control-plane call from the test, with the token; resolves to the parsed answer. */
  async control(method, route, body) {
    const headers = { "content-type": "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await fetch(`${this.url}/__mock__${route}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  /** The app the mock started with: `{ appid, secret, ... }`. */
  async defaultApp() {
    const state = await this.control("GET", "/state");
    return state.apps.find((a) => a.default);
  }

  /**
   * The backend's code2Session, as a backend sends it: GET /sns/jscode2session with the app's
   * appid and secret. Resolves to `{ status, text, json }`, the body exactly as received.
   */
  async jscode2session(app, code) {
    const q = new URLSearchParams({
      appid: app.appid,
      secret: app.secret,
      js_code: code,
      grant_type: "authorization_code",
    });
    const res = await fetch(`${this.url}/sns/jscode2session?${q}`);
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) };
  }

  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

const test = base.test.extend({
  mockToken: [null, { option: true }],
  mock: async ({ mockToken }, use) => {
    const mock = await start({ token: mockToken });
    try {
      await use(mock);
    } finally {
      await mock.stop();
    }
  },
  // Every page of a test: a console error, an uncaught exception or a CSP violation fails it.
  // It needs the mock, so the mock outlives the check: a poll that finds the mock gone after
  // the test is no error of the page's.
  page: async ({ page, mock }, use) => {
    void mock;
    const problems = [];
    page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
    page.on("console", (m) => {
      // Chromium logs every refused call as a failed resource load; the refusals the tests
      // provoke (400 a bad value, 401 a wrong token, 409 no session) are the page's to show,
      // which the tests check. Anything else (a 404 for a file, say) fails the test.
      const refused = /Failed to load resource: the server responded with a status of (400|401|409) /;
      if (m.type() === "error" && !refused.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await use(page);
    base.expect(problems, "the page logged no error").toEqual([]);
  },
});

module.exports = { test, expect: base.expect, start };
