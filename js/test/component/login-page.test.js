'use strict';
// The example's login page rendered by miniprogram-simulate, its app.js launched with the
// one-line install, the buttons tapped; the mock and the backend are fakes over HTTP (the real
// ones are in the e2e test).

const test = require('node:test');
const assert = require('node:assert/strict');

const { launchApp, renderPage, text, until } = require('../support/example');
const { installGlobalWx } = require('../../node/index');
const { STORAGE_KEYS } = require('../../src/index');
const { FakeMock } = require('../support/fake-mock');
const { FakeBackend } = require('../support/fake-backend');

let mock;
let backend;
let session;

test.beforeEach(async () => {
  mock = new FakeMock();
  await mock.listen();
  backend = new FakeBackend(mock);
  await backend.listen();
});

test.afterEach(async () => {
  if (session) session.uninstall();
  session = null;
  await mock.close();
  await backend.close();
});

async function open(options = {}) {
  // The Node wx under simulate's; the example's app.js installs the shim itself.
  session = installGlobalWx({ envVersion: options.envVersion });
  const app = await launchApp({ mock: mock.url, api: backend.url, ...options.app });
  const page = renderPage();
  await until(() => page.data.status !== 'Logging in…', 'the first login');
  return { app, page };
}

test('the page logs in through the shim at launch', async () => {
  const { app, page } = await open();
  assert.equal(text(page, '#status'), 'Logged in');
  assert.equal(text(page, '#source'), `wx.login: the mock at ${mock.url} (develop build)`);
  assert.match(text(page, '#user'), /^User #1/);
  const [login] = backend.calls('/api/login');
  assert.equal(login.body.code, [...mock.codes.keys()][0]);
  assert.equal(login.body.appid, undefined, 'the tourist appid sends none');
  assert.ok(app.globalData.token);
});

test("Share my profile: the mock's getUserProfile answer goes to the backend, the nickname shows", async () => {
  const { page } = await open();
  page.querySelector('#profile').dispatchEvent('tap');
  await until(() => text(page, '#nickname'), 'the nickname');
  assert.equal(text(page, '#nickname'), 'alice nick');
  const [sent] = backend.calls('/api/me/profile');
  const [issued] = [...mock.sealed].filter(([, v]) => v.api === 'getUserProfile');
  assert.equal(sent.body.encryptedData, issued[0]);
  assert.deepEqual(Object.keys(sent.body).sort(), [
    'encryptedData',
    'errMsg',
    'iv',
    'rawData',
    'signature',
    'userInfo',
  ]);
});

test('a user who declines the profile dialog: a note, and nothing sent', async () => {
  const { page } = await open();
  global.wx.setStorageSync(STORAGE_KEYS.deny, 'getUserProfile');
  page.querySelector('#profile').dispatchEvent('tap');
  await until(() => text(page, '#note'), 'the note');
  assert.equal(text(page, '#note'), 'You kept your profile to yourself.');
  assert.equal(backend.calls('/api/me/profile').length, 0);
});

test('the phone button: the detail comes from the mock and its code binds the number', async () => {
  const { page } = await open();
  // What DevTools hands the handler for the tourist appid; the wrapper replaces it.
  page
    .querySelector('#phone-button')
    .dispatchEvent('getphonenumber', { detail: { errMsg: 'getPhoneNumber:fail no permission' } });
  await until(() => text(page, '#phone'), 'the phone number');
  assert.equal(text(page, '#phone'), '13800138000');
  const [sent] = backend.calls('/api/me/phone');
  assert.deepEqual(sent.body, { code: [...mock.phoneCodes.keys()][0] });
});

test('the real-time phone button asks the mock for getRealtimePhoneNumber', async () => {
  const { page } = await open();
  page
    .querySelector('#realtime-phone-button')
    .dispatchEvent('getrealtimephonenumber', { detail: { errMsg: 'getRealtimePhoneNumber:fail no permission' } });
  await until(() => text(page, '#phone'), 'the phone number');
  assert.equal(mock.calls('wx/getPhoneNumber')[0].body.kind, 'getRealtimePhoneNumber');
});

test('a user who declines the phone dialog, and an app out of quota', async () => {
  const { page } = await open();
  page
    .querySelector('#phone-button')
    .dispatchEvent('getphonenumber', { detail: { errMsg: 'getPhoneNumber:fail user deny' } });
  await until(() => text(page, '#note'), 'the note');
  assert.equal(text(page, '#note'), 'You kept your phone number to yourself.');
  mock.phoneQuota = 0;
  page
    .querySelector('#phone-button')
    .dispatchEvent('getphonenumber', { detail: { errMsg: 'getPhoneNumber:ok', code: 'x' } });
  await until(() => /quota/.test(text(page, '#note')), 'the quota note');
  assert.equal(text(page, '#note'), 'Phone numbers are unavailable right now (out of quota).');
  assert.equal(backend.calls('/api/me/phone').length, 0);
});

test('the dev switch: typing bob and tapping "Become this user" logs in as another person', async () => {
  const { page } = await open();
  page.querySelector('#dev-user').dispatchEvent('input', { detail: { value: 'bob' } });
  page.querySelector('#switch-user').dispatchEvent('tap');
  await until(() => page.data.user && page.data.user.id === 2, 'user #2');
  assert.equal(global.wx.getStorageSync(STORAGE_KEYS.user), 'bob');
  assert.equal(mock.calls('wx/login').at(-1).body.user, 'bob');
});

test('a session the backend dropped: the page logs in again and retries', async () => {
  const { app, page } = await open();
  backend.revoke(app.globalData.token);
  page.querySelector('#profile').dispatchEvent('tap');
  await until(() => text(page, '#nickname'), 'the nickname');
  assert.equal(backend.calls('/api/login').length, 2);
  assert.equal(backend.calls('/api/me/profile').length, 2);
});

test('a mock that is down: the page says so, naming the mock', async () => {
  await mock.close();
  const { page } = await open();
  assert.equal(text(page, '#status'), 'Not logged in');
  assert.match(
    text(page, '#error'),
    new RegExp(`^login:fail mock at ${mock.url} unreachable: request:fail connect ECONNREFUSED`),
  );
  assert.equal(backend.calls('/api/login').length, 0);
});

test("a release build: wx.login is WeChat's, whose code a backend at the mock refuses", async () => {
  const { page } = await open({ envVersion: 'release' });
  assert.equal(text(page, '#source'), 'wx.login: WeChat (release build)');
  assert.equal(mock.requests.length, 0);
  assert.equal(text(page, '#status'), 'Not logged in');
  assert.match(text(page, '#error'), /backend said 400 code_invalid/);
});
