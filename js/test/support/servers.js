'use strict';
// Real mock-server and login-core processes for the e2e tests: each binds port 0 on loopback and
// prints the address it got, so nothing polls and no port is guessed. Both are stopped and their
// files removed by stop(), which the tests call in `after` (and the process calls at exit).

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '../../..');

function binary(env, name) {
  const file = process.env[env] || path.join(ROOT, 'target', 'release', name);
  if (!fs.existsSync(file)) {
    throw new Error(`no ${name} at ${file}: run \`cargo build --release -p mock-server -p login-core\` or set ${env}`);
  }
  return file;
}

/**
 * Starts `file args` and resolves the matches of `patterns` (regexps over its stdout lines, in
 * order) once all are seen; fails with its stderr if it exits or stays silent first.
 */
function start(name, file, args, env, patterns) {
  const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr = (stderr + c).slice(-20000);
  });
  const found = [];
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed no address in 30 s; stderr:\n${stderr}`)), 30000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = found.length < patterns.length && line.match(patterns[found.length]);
      if (!m) return;
      found.push(m);
      if (found.length === patterns.length) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal || code}) before it was ready; stderr:\n${stderr}`));
    });
  });
  return { child, ready, stderr: () => stderr };
}

/**
 * A mock-server with a control token and a login-core that serves the mock's apps, on a SQLite
 * file in a temporary folder.
 */
async function startServers() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wx-login-kit-e2e-'));
  const token = crypto.randomBytes(16).toString('hex');
  const processes = [];
  const stop = () => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    process.removeListener('exit', stop);
  };
  process.on('exit', stop);
  try {
    const mock = start(
      'mock-server',
      binary('MOCK_SERVER_BIN', 'mock-server'),
      ['--listen', '127.0.0.1:0', '--control-token', token],
      {},
      [/^mock-server listening on (http:\/\/\S+)$/, /^default app: appid=(\S+) secret=(\S+)$/],
    );
    processes.push(mock);
    const [[, mockUrl], [, appid, secret]] = await mock.ready;
    const core = start(
      'login-core',
      binary('LOGIN_CORE_BIN', 'login-core'),
      ['--wechat-base-url', mockUrl, '--appid', appid, '--listen', '127.0.0.1:0'],
      {
        // The secret by the environment, where `ps` does not show it.
        LOGIN_CORE_SECRET: secret,
        LOGIN_CORE_SERVER_KEY: crypto.randomBytes(32).toString('base64'),
        LOGIN_CORE_DATABASE_URL: `sqlite://${path.join(dir, 'login-core.db')}`,
        RUST_LOG: 'warn',
      },
      [/^login-core listening on (http:\/\/\S+)$/],
    );
    processes.push(core);
    const [[, apiUrl]] = await core.ready;
    return {
      mockUrl,
      apiUrl,
      appid,
      token,
      stop,
      logs: () => `mock-server:\n${mock.stderr()}\nlogin-core:\n${core.stderr()}`,
    };
  } catch (e) {
    stop();
    throw e;
  }
}

/** A JSON request from Node: resolves `{ status, data }`. */
async function json(method, url, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = text;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the assertion message
  }
  return { status: res.status, data };
}

module.exports = { startServers, json };
