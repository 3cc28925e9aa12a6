'use strict';
// wx.request over node:http, against a local server: bodies, queries, answers, failures.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const { request } = require('../../node/request');
const { createNodeWx, installGlobalWx } = require('../../node/index');
const kit = require('../../src/index');
const { FakeMock } = require('../support/fake-mock');

let server;
let base;
const seen = [];

test.before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const path = req.url.split('?')[0];
      if (path === '/hang') return;
      if (path === '/text') {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-extra': 'yes' });
        return res.end('not json');
      }
      res.writeHead(path === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: body }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

test.after(() => {
  server.closeAllConnections();
  server.close();
});

function call(options) {
  return new Promise((resolve) => {
    const events = [];
    request({
      ...options,
      success: (res) => events.push(['success', res]),
      fail: (res) => events.push(['fail', res]),
      complete: () => resolve(events),
    });
  });
}

test('POST with an object sends JSON; the JSON answer is parsed', async () => {
  const [[which, res]] = await call({
    url: `${base}/json`,
    method: 'POST',
    data: { a: 1 },
    header: { Authorization: 'Bearer t' },
  });
  assert.equal(which, 'success');
  assert.equal(res.statusCode, 200);
  assert.equal(res.errMsg, 'request:ok');
  assert.deepEqual(res.data, { echo: '{"a":1}' });
  const sent = seen.at(-1);
  assert.equal(sent.headers['content-type'], 'application/json');
  assert.equal(sent.headers.authorization, 'Bearer t');
});

test('GET puts data in the query; text stays text; headers come back', async () => {
  const [[, res]] = await call({ url: `${base}/text`, data: { q: 'x y', n: 2 } });
  assert.equal(seen.at(-1).url, '/text?q=x+y&n=2');
  assert.equal(res.data, 'not json');
  assert.equal(res.header['x-extra'], 'yes');
});

test('an HTTP error status is still success, as in the runtime', async () => {
  const [[which, res]] = await call({ url: `${base}/missing` });
  assert.equal(which, 'success');
  assert.equal(res.statusCode, 404);
});

test('a refused connection fails with request:fail and the reason', async () => {
  const closed = http.createServer();
  await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = closed.address().port;
  await new Promise((resolve) => closed.close(resolve));
  const [[which, res]] = await call({ url: `http://127.0.0.1:${port}/` });
  assert.equal(which, 'fail');
  assert.match(res.errMsg, /^request:fail connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
});

test('a silent server: request:fail timeout', async () => {
  const [[which, res]] = await call({ url: `${base}/hang`, timeout: 50 });
  assert.equal(which, 'fail');
  assert.equal(res.errMsg, 'request:fail timeout');
});

test('abort fails the request once', async () => {
  const events = [];
  const done = new Promise((resolve) => {
    const task = request({ url: `${base}/hang`, fail: (r) => events.push(r.errMsg), complete: resolve });
    task.abort();
  });
  await done;
  assert.deepEqual(events, ['request:fail abort']);
});

test('a bad URL fails instead of throwing', async () => {
  const [[which, res]] = await call({ url: 'ftp://x/' });
  assert.equal(which, 'fail');
  assert.match(res.errMsg, /^request:fail invalid url ftp:\/\/x\/: only http and https$/);
});

test("createNodeWx: storage answers '' for a missing key and keeps copies; account info", () => {
  const wx = createNodeWx({ appid: 'wx1234', envVersion: 'trial' });
  assert.equal(wx.getStorageSync('k'), '');
  const value = { a: [1] };
  wx.setStorageSync('k', value);
  value.a.push(2);
  assert.deepEqual(wx.getStorageSync('k'), { a: [1] });
  wx.removeStorageSync('k');
  assert.equal(wx.getStorageSync('k'), '');
  assert.deepEqual(wx.getAccountInfoSync().miniProgram, { appId: 'wx1234', envVersion: 'trial', version: '' });
});

test('installGlobalWx: global.wx logs in against a mock over HTTP, and uninstall puts back what was there', async () => {
  const mock = new FakeMock({ token: 'tok' });
  await mock.listen();
  const before = global.wx;
  const existing = { request: () => 'simulate does nothing', login: "the host's" };
  global.wx = existing;
  try {
    const session = installGlobalWx({ mock: mock.url, user: 'alice', token: 'tok' });
    assert.equal(session.wx, existing);
    assert.equal(session.installation.active, true);
    const res = await global.wx.login();
    assert.equal(res.errMsg, 'login:ok');
    assert.equal(mock.calls('wx/login')[0].headers.Authorization, 'Bearer tok');
    global.wx.setStorageSync(kit.STORAGE_KEYS.user, 'bob');
    assert.match((await global.wx.login()).code, /bob$/);
    session.uninstall();
    assert.equal(global.wx.login, "the host's");
    assert.equal(global.wx.request(), 'simulate does nothing');
    assert.equal(global.wx.getStorageSync, undefined);
  } finally {
    global.wx = before;
    await mock.close();
  }
});

test('installGlobalWx with a release envVersion leaves wx.login alone', () => {
  const before = global.wx;
  delete global.wx;
  try {
    const session = installGlobalWx({ mock: 'http://127.0.0.1:1', user: 'alice', envVersion: 'release' });
    assert.equal(session.installation.active, false);
    assert.equal(global.wx.login, undefined);
    session.uninstall();
    assert.equal(global.wx, undefined);
  } finally {
    global.wx = before;
  }
});
