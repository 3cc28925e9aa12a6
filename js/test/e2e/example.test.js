'use strict';
// End to end: the example mini-program's page (miniprogram-simulate) logs in through the shim
// against a real mock-server and a real login-core, binds a phone and submits a profile;
// login-core exchanges the codes and decrypts the open data the shim fetched. Then the shim's
// other answers against the real mock's control plane.

const test = require('node:test');
const assert = require('node:assert/strict');

const { launchApp, renderPage, text, until } = require('../support/example');
const { startServers, json } = require('../support/servers');
const { installGlobalWx } = require('../../node/index');
const kit = require('../../src/index');

let servers;
let session;

test.before(async () => {
  servers = await startServers();
  const { mockUrl, appid, token } = servers;
  const seeded = [
    await json(
      'POST',
      `${mockUrl}/__mock__/users`,
      { handle: 'alice', nickname: 'Alice Liu', phone: { country_code: '86', number: '13912345678' } },
      token,
    ),
    await json('POST', `${mockUrl}/__mock__/users`, { handle: 'bob', nickname: 'Bob Wang' }, token),
    // The era whose profile carries the real nickname (today's is anonymous, "微信用户").
    await json('PATCH', `${mockUrl}/__mock__/apps/${appid}`, { profile_era: 'legacy' }, token),
  ];
  for (const r of seeded) assert.ok(r.status < 300, `seeding the mock: ${r.status} ${JSON.stringify(r.data)}`);
});

test.after(() => {
  if (servers) servers.stop();
});

test.afterEach((t) => {
  if (session) session.uninstall();
  session = null;
  if (t.passed === false && servers) t.diagnostic(servers.logs());
});

async function openExample() {
  session = installGlobalWx({});
  const app = await launchApp({ mock: servers.mockUrl, api: servers.apiUrl, token: servers.token });
  const page = renderPage();
  await until(() => page.data.status !== 'Logging in…', 'the first login');
  return { app, page };
}

test('the example logs in, binds a phone and submits a profile; login-core decrypts what the shim fetched', async () => {
  const { app, page } = await openExample();
  assert.equal(text(page, '#status'), 'Logged in', text(page, '#error'));
  assert.equal(text(page, '#source'), `wx.login: the mock at ${servers.mockUrl} (develop build)`);
  const id = page.data.user.id;
  assert.deepEqual(await global.wx.checkSession(), { errMsg: 'checkSession:ok' });

  page.querySelector('#profile').dispatchEvent('tap');
  await until(() => text(page, '#nickname') || text(page, '#error'), 'the profile answer');
  assert.equal(text(page, '#error'), null);
  assert.equal(text(page, '#nickname'), 'Alice Liu');

  page
    .querySelector('#phone-button')
    .dispatchEvent('getphonenumber', { detail: { errMsg: 'getPhoneNumber:fail no permission' } });
  await until(() => text(page, '#phone') || text(page, '#error'), 'the phone answer');
  assert.equal(text(page, '#error'), null);
  assert.equal(text(page, '#phone'), '13912345678');

  // login-core's own account of it.
  const me = await json('GET', `${servers.apiUrl}/api/me`, undefined, app.globalData.token);
  assert.equal(me.status, 200, JSON.stringify(me.data));
  assert.equal(me.data.id, id);
  assert.deepEqual(me.data.apps, [servers.appid]);
  assert.equal(me.data.phone_bound, true);
  assert.deepEqual(me.data.phone, { phoneNumber: '13912345678', purePhoneNumber: '13912345678', countryCode: '86' });
  assert.equal(me.data.profile.nickName, 'Alice Liu');
});

test('the dev switch logs in as bob: another login-core user; back to alice, the same one as before', async () => {
  const { app, page } = await openExample();
  const alice = page.data.user.id;
  page.querySelector('#dev-user').dispatchEvent('input', { detail: { value: 'bob' } });
  page.querySelector('#switch-user').dispatchEvent('tap');
  await until(() => page.data.user && page.data.user.id !== alice, 'another user');
  const me = await json('GET', `${servers.apiUrl}/api/me`, undefined, app.globalData.token);
  assert.equal(me.data.id, page.data.user.id);
  page.querySelector('#dev-user').dispatchEvent('input', { detail: { value: '' } });
  page.querySelector('#switch-user').dispatchEvent('tap');
  await until(() => page.data.user && page.data.user.id === alice, 'alice again');
});

test('without the shim, accept_foreign_codes lets a code from elsewhere log in as foreign_code_user', async () => {
  const options = `${servers.mockUrl}/__mock__/options`;
  const on = await json(
    'PATCH',
    options,
    { accept_foreign_codes: true, foreign_code_user: 'developer' },
    servers.token,
  );
  assert.equal(on.status, 200, JSON.stringify(on.data));
  try {
    // A release build: the shim stays out and wx.login is the host's (miniprogram-simulate's,
    // which hands out the code "123456789", as real WeChat hands out codes the mock never minted).
    session = installGlobalWx({ envVersion: 'release' });
    const app = await launchApp({ mock: servers.mockUrl, api: servers.apiUrl, token: servers.token });
    const page = renderPage();
    await until(() => page.data.status !== 'Logging in…', 'the first login');
    assert.equal(text(page, '#source'), 'wx.login: WeChat (release build)');
    assert.equal(text(page, '#status'), 'Logged in', text(page, '#error'));
    const developer = await json('GET', `${servers.mockUrl}/__mock__/users/developer`, undefined, servers.token);
    assert.equal(developer.status, 200, 'the foreign code logged in as foreign_code_user');
    const me = await json('GET', `${servers.apiUrl}/api/me`, undefined, app.globalData.token);
    assert.equal(me.data.id, page.data.user.id);
  } finally {
    await json('PATCH', options, { accept_foreign_codes: false }, servers.token);
  }
});

test.describe('the shim against the real control plane', () => {
  function installShim(config = {}) {
    session = installGlobalWx({ mock: servers.mockUrl, user: 'carol', token: servers.token, ...config });
    return global.wx;
  }

  test("every API answers in WeChat's shape, without the mock's facts", async () => {
    const wx = installShim();
    await assert.rejects(wx.checkSession(), { errMsg: 'checkSession:fail' });
    const login = await wx.login();
    assert.deepEqual(Object.keys(login).sort(), ['code', 'errMsg']);
    assert.equal(login.errMsg, 'login:ok');
    assert.deepEqual(await wx.checkSession(), { errMsg: 'checkSession:ok' });
    const profile = await wx.getUserProfile({ desc: 'd' });
    assert.deepEqual(Object.keys(profile).sort(), [
      'encryptedData',
      'errMsg',
      'iv',
      'rawData',
      'signature',
      'userInfo',
    ]);
    assert.equal((await wx.getUserInfo()).errMsg, 'getUserInfo:ok');
    const share = await wx.getShareInfo({ shareTicket: 'family' });
    assert.deepEqual(Object.keys(share).sort(), ['encryptedData', 'errMsg', 'iv']);
    const run = await wx.getWeRunData();
    assert.deepEqual(Object.keys(run).sort(), ['encryptedData', 'errMsg', 'iv']);
  });

  test('the phone kinds, a user who declines, and an app out of quota', async () => {
    installShim();
    await global.wx.login();
    const details = [];
    const handler = (e) => details.push(e.detail);
    await kit.withMockPhone(handler)({ type: 'getphonenumber', detail: {} });
    await kit.withMockPhone(handler)({ type: 'getrealtimephonenumber', detail: {} });
    await kit.withMockPhone(handler, { deny: true })({ type: 'getphonenumber', detail: {} });
    assert.equal(details[0].errMsg, 'getPhoneNumber:ok');
    assert.deepEqual(Object.keys(details[0]).sort(), ['code', 'encryptedData', 'errMsg', 'iv']);
    assert.equal(details[1].errMsg, 'getRealtimePhoneNumber:ok');
    assert.deepEqual(details[2], { errMsg: 'getPhoneNumber:fail user deny' });
    const quota = await json(
      'PATCH',
      `${servers.mockUrl}/__mock__/apps/${servers.appid}`,
      { phone_quota: 0 },
      servers.token,
    );
    assert.equal(quota.status, 200, JSON.stringify(quota.data));
    try {
      await kit.withMockPhone(handler)({ type: 'getphonenumber', detail: {} });
      assert.equal(details[3].errno, 1400001);
      assert.match(details[3].errMsg, /^getPhoneNumber:fail/);
    } finally {
      await json('PATCH', `${servers.mockUrl}/__mock__/apps/${servers.appid}`, { phone_quota: 1000 }, servers.token);
    }
  });

  test('without the control token the mock refuses, and the errMsg says to pass it', async () => {
    const wx = installShim({ token: undefined });
    await assert.rejects(wx.login(), {
      errMsg: `login:fail mock at ${servers.mockUrl} refused: unauthorized: this control plane needs \`Authorization: Bearer <token>\` (pass the control token as \`token\`)`,
    });
  });

  test('strict: a user the mock does not have fails the way WeChat fails', async () => {
    const wx = installShim({ user: 'nobody-seeded-this', strict: true });
    await assert.rejects(wx.login(), {
      errMsg: `login:fail unknown user \`nobody-seeded-this\` (strict: seed it with POST /__mock__/users at ${servers.mockUrl})`,
    });
    const state = await json('GET', `${servers.mockUrl}/__mock__/users/nobody-seeded-this`, undefined, servers.token);
    assert.equal(state.status, 404, 'the user was not created');
  });
});
