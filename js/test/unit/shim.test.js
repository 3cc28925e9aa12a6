'use strict';
// install(): which builds it acts in, both call styles, every errMsg, the user switch, the
// request captured at install, writable properties, and a mock that is down, silent or refuses.

const test = require('node:test');
const assert = require('node:assert/strict');

const kit = require('../../src/index');
const { FakeMock, DEFAULT_APPID } = require('../support/fake-mock');
const { createFakeWx, withCallbacks, PATCHED } = require('../support/fake-wx');

let installs = [];
function install(config) {
  const inst = kit.install(config);
  installs.push(inst);
  return inst;
}

function setup(options = {}) {
  const mock = new FakeMock(options.mock);
  const wx = createFakeWx(mock, options.wx);
  const inst = install({ mock: mock.url, user: 'alice', wx, ...options.config });
  return { mock, wx, inst };
}

test.afterEach(() => {
  for (const inst of installs) inst.uninstall();
  installs = [];
  delete global.getApp;
});

test.describe('inert outside development builds', () => {
  for (const envVersion of ['trial', 'release']) {
    test(`a ${envVersion} build keeps every original function and property`, () => {
      const mock = new FakeMock();
      const wx = createFakeWx(mock, { envVersion });
      const before = Object.fromEntries(Object.keys(wx).map((k) => [k, Object.getOwnPropertyDescriptor(wx, k)]));
      const inst = install({ mock: mock.url, user: 'alice', wx });
      assert.equal(inst.active, false);
      assert.equal(inst.reason, `${envVersion} build`);
      for (const k of Object.keys(before)) assert.deepEqual(Object.getOwnPropertyDescriptor(wx, k), before[k], k);
      assert.deepEqual(Object.keys(wx), Object.keys(before));
      const handler = () => {};
      assert.equal(kit.withMockPhone(handler), handler);
      const page = { onGetPhoneNumber: handler };
      assert.equal(kit.withMockPhonePage(page, ['onGetPhoneNumber']), page);
      const component = { methods: { onGetPhoneNumber: handler } };
      assert.equal(kit.withMockPhoneComponent(component, ['onGetPhoneNumber']), component);
    });
  }

  test('a release build does not read the rest of the config, so a dev-only mistake cannot crash it', () => {
    const wx = createFakeWx(new FakeMock(), { envVersion: 'release' });
    const inst = install({ mock: 'not a url', wx });
    assert.equal(inst.active, false);
  });

  test('a host without getAccountInfoSync stays on WeChat', () => {
    const wx = createFakeWx(new FakeMock());
    delete wx.getAccountInfoSync;
    const login = wx.login;
    const inst = install({ mock: 'http://127.0.0.1:9100', user: 'alice', wx });
    assert.equal(inst.active, false);
    assert.equal(wx.login, login);
  });

  test('enabled: false keeps a development build on WeChat; enabled: true patches a release build', async () => {
    const mock = new FakeMock();
    const dev = createFakeWx(mock);
    const login = dev.login;
    assert.equal(install({ mock: mock.url, user: 'alice', wx: dev, enabled: false }).active, false);
    assert.equal(dev.login, login);
    const release = createFakeWx(mock, { envVersion: 'release' });
    const inst = install({ mock: mock.url, user: 'alice', wx: release, enabled: true });
    assert.equal(inst.active, true);
    assert.match((await release.login()).code, /^code\d+alice$/);
  });
});

test.describe('login', () => {
  test('callback style: success then complete, with the code and errMsg only; nothing returned', async () => {
    const { wx, mock } = setup();
    const { which, res, calls, returned } = await withCallbacks(wx.login);
    assert.equal(which, 'success');
    assert.deepEqual(res, { code: mock.calls('wx/login')[0] && res.code, errMsg: 'login:ok' });
    assert.match(res.code, /^code\d+alice$/);
    assert.deepEqual(
      calls.map((c) => c[0]),
      ['success', 'complete'],
    );
    assert.equal(returned, undefined);
  });

  test('Promise style when no callback is given; the session_key never reaches the app', async () => {
    const { wx } = setup();
    const res = await wx.login();
    assert.deepEqual(Object.keys(res).sort(), ['code', 'errMsg']);
    assert.equal(res.errMsg, 'login:ok');
    assert.doesNotMatch(JSON.stringify(res), /SECRET-KEY/);
  });

  test('one callback alone is the callback style too', async () => {
    const { wx } = setup();
    const code = await new Promise((resolve) => assert.equal(wx.login({ success: (r) => resolve(r.code) }), undefined));
    assert.match(code, /alice$/);
  });

  test("the tourist appid logs in to the mock's default app: no appid is sent", async () => {
    const { wx, mock } = setup();
    await wx.login();
    assert.deepEqual(mock.calls('wx/login')[0].body, { user: 'alice' });
  });

  test("a real appid is sent; the config's appid wins over the build's", async () => {
    const { wx, mock } = setup({
      wx: { appId: 'wx1111111111111111' },
      mock: { apps: ['wx1111111111111111', 'wx2222222222222222'] },
    });
    await wx.login();
    assert.deepEqual(mock.calls('wx/login')[0].body, { user: 'alice', appid: 'wx1111111111111111' });
    const other = setup({ config: { appid: 'wx2222222222222222' }, mock: { apps: ['wx2222222222222222'] } });
    await other.wx.login();
    assert.equal(other.mock.calls('wx/login')[0].body.appid, 'wx2222222222222222');
  });

  test('the control token goes as a bearer token, and only when given', async () => {
    const { wx, mock } = setup({ mock: { token: 's3cret' }, config: { token: 's3cret' } });
    await wx.login();
    assert.equal(mock.calls('wx/login')[0].headers.Authorization, 'Bearer s3cret');
    const open = setup();
    await open.wx.login();
    assert.equal(open.mock.calls('wx/login')[0].headers.Authorization, undefined);
  });
});

test.describe('checkSession', () => {
  test('checkSession:ok after a login, in both styles', async () => {
    const { wx } = setup();
    await wx.login();
    assert.deepEqual(await wx.checkSession(), { errMsg: 'checkSession:ok' });
    const { which, res } = await withCallbacks(wx.checkSession);
    assert.equal(which, 'success');
    assert.deepEqual(res, { errMsg: 'checkSession:ok' });
  });

  test('checkSession:fail goes to fail and rejects', async () => {
    const { wx } = setup();
    const { which, res, calls } = await withCallbacks(wx.checkSession);
    assert.equal(which, 'fail');
    assert.deepEqual(res, { errMsg: 'checkSession:fail' });
    assert.deepEqual(
      calls.map((c) => c[0]),
      ['fail', 'complete'],
    );
    await assert.rejects(wx.checkSession(), { errMsg: 'checkSession:fail' });
  });
});

test.describe('open data', () => {
  test("getUserProfile answers the mock's callback object", async () => {
    const { wx, mock } = setup();
    await wx.login();
    const res = await wx.getUserProfile({ desc: 'for the account page' });
    assert.equal(res.errMsg, 'getUserProfile:ok');
    for (const k of ['userInfo', 'rawData', 'signature', 'encryptedData', 'iv']) assert.ok(res[k], k);
    assert.deepEqual(mock.calls('wx/getUserProfile')[0].body, { user: 'alice' });
  });

  test('getUserProfile without desc fails as WeChat does, before asking the mock', async () => {
    const { wx, mock } = setup();
    const { which, res } = await withCallbacks(wx.getUserProfile);
    assert.equal(which, 'fail');
    assert.equal(
      res.errMsg,
      'getUserProfile:fail parameter error: parameter.desc should be String instead of Undefined;',
    );
    await assert.rejects(wx.getUserProfile({ desc: 42 }), {
      errMsg: 'getUserProfile:fail parameter error: parameter.desc should be String instead of Number;',
    });
    assert.equal(mock.calls('wx/getUserProfile').length, 0);
  });

  for (const api of ['getUserProfile', 'getUserInfo', 'getWeRunData']) {
    test(`${api}: a user who declines gets ${api}:fail auth deny`, async () => {
      const { wx, mock } = setup({ config: { deny: [api] } });
      await wx.login();
      const { which, res } = await withCallbacks(wx[api], { desc: 'd' });
      assert.equal(which, 'fail');
      assert.deepEqual(res, { errMsg: `${api}:fail auth deny` });
      await assert.rejects(wx[api]({ desc: 'd' }), { errMsg: `${api}:fail auth deny` });
      assert.equal(mock.calls(`wx/${api}`).length, 0);
    });
  }

  test("getUserInfo and getWeRunData answer without the mock's facts", async () => {
    const { wx } = setup();
    await wx.login();
    const info = await wx.getUserInfo();
    assert.equal(info.errMsg, 'getUserInfo:ok');
    assert.ok(info.encryptedData && info.rawData && info.signature);
    const run = await wx.getWeRunData();
    assert.deepEqual(Object.keys(run).sort(), ['encryptedData', 'errMsg', 'iv']);
    assert.equal(run.errMsg, 'getWeRunData:ok');
  });

  test("getShareInfo: the shareTicket names the group; without one, WeChat's parameter error", async () => {
    const { wx, mock } = setup();
    await wx.login();
    const res = await wx.getShareInfo({ shareTicket: 'family' });
    assert.deepEqual(Object.keys(res).sort(), ['encryptedData', 'errMsg', 'iv']);
    assert.deepEqual(mock.calls('wx/getShareInfo')[0].body, { user: 'alice', group: 'family' });
    await assert.rejects(wx.getShareInfo({}), {
      errMsg: 'getShareInfo:fail parameter error: parameter.shareTicket should be String instead of Undefined;',
    });
  });

  test('open data before any login names the fix', async () => {
    const { wx, mock } = setup();
    await assert.rejects(wx.getUserProfile({ desc: 'd' }), {
      errMsg: `getUserProfile:fail mock at ${mock.url} refused: no_session: user \`alice\` has no session_key in this app: call wx.login first (call wx.login first)`,
    });
  });
});

test.describe('the user switch', () => {
  test('a storage key switches the user at run time; removing it goes back to the config', async () => {
    const { wx, mock } = setup();
    wx.setStorageSync(kit.STORAGE_KEYS.user, 'bob');
    assert.match((await wx.login()).code, /bob$/);
    wx.removeStorageSync(kit.STORAGE_KEYS.user);
    assert.match((await wx.login()).code, /alice$/);
    assert.deepEqual(
      mock.calls('wx/login').map((r) => r.body.user),
      ['bob', 'alice'],
    );
  });

  test('getApp().globalData wins over storage', async () => {
    const { wx } = setup();
    wx.setStorageSync(kit.STORAGE_KEYS.user, 'bob');
    const globalData = {};
    global.getApp = () => ({ globalData });
    globalData[kit.GLOBAL_DATA_KEYS.user] = 'carol';
    assert.match((await wx.login()).code, /carol$/);
    delete globalData[kit.GLOBAL_DATA_KEYS.user];
    assert.match((await wx.login()).code, /bob$/);
  });

  test('getApp throwing before App() is registered is not an error', async () => {
    const { wx } = setup();
    global.getApp = () => {
      throw new Error('App is not registered yet');
    };
    assert.match((await wx.login()).code, /alice$/);
  });

  test('the deny list switches too: storage takes API names, comma-separated', async () => {
    const { wx } = setup();
    await wx.login();
    wx.setStorageSync(kit.STORAGE_KEYS.deny, 'getUserInfo, getUserProfile');
    await assert.rejects(wx.getUserProfile({ desc: 'd' }), { errMsg: 'getUserProfile:fail auth deny' });
    global.getApp = () => ({ globalData: { [kit.GLOBAL_DATA_KEYS.deny]: ['getWeRunData'] } });
    assert.equal((await wx.getUserProfile({ desc: 'd' })).errMsg, 'getUserProfile:ok');
    await assert.rejects(wx.getWeRunData(), { errMsg: 'getWeRunData:fail auth deny' });
  });

  test('a bad switch value fails the call and says where it came from', async () => {
    const { wx, mock } = setup();
    wx.setStorageSync(kit.STORAGE_KEYS.user, 42);
    await assert.rejects(wx.login(), {
      errMsg: 'login:fail wx-login-kit: storage key wx-login-kit:user must be a user handle string, not 42',
    });
    wx.removeStorageSync(kit.STORAGE_KEYS.user);
    wx.setStorageSync(kit.STORAGE_KEYS.deny, 'login');
    await assert.rejects(wx.login(), {
      errMsg:
        'login:fail wx-login-kit: storage key wx-login-kit:deny names "login"; a user can decline getUserProfile, getUserInfo, getWeRunData, getPhoneNumber, getRealtimePhoneNumber',
    });
    assert.equal(mock.calls('wx/login').length, 0);
  });
});

test.describe('the app around the shim', () => {
  test('calls go through wx.request as it was at install: a later interceptor neither sees nor breaks them', async () => {
    const { wx, mock } = setup();
    const seen = [];
    const original = wx.request;
    wx.request = (options) => {
      seen.push(options.url);
      if (options.url.includes('__mock__')) throw new Error('an interceptor that breaks everything it does not know');
      return original(options);
    };
    assert.equal((await wx.login()).errMsg, 'login:ok');
    assert.deepEqual(seen, []);
    assert.equal(mock.calls('wx/login').length, 1);
  });

  test("patched properties are writable and configurable (automator's mockWxMethod works on top)", async () => {
    const { wx } = setup();
    for (const api of PATCHED) {
      const d = Object.getOwnPropertyDescriptor(wx, api);
      assert.equal(d.writable, true, api);
      assert.equal(d.configurable, true, api);
      assert.equal(d.enumerable, true, api);
    }
    const automatorMock = (options) => options.success({ code: 'from-automator', errMsg: 'login:ok' });
    wx.login = automatorMock;
    assert.equal(wx.login, automatorMock);
    Object.defineProperty(wx, 'login', { value: automatorMock, writable: true, configurable: true });
  });

  test('a property that cannot be replaced is a clear error, and nothing stays patched', () => {
    const mock = new FakeMock();
    const wx = createFakeWx(mock);
    const login = wx.login;
    Object.defineProperty(wx, 'getWeRunData', { value: () => {}, writable: false, configurable: false });
    assert.throws(() => kit.install({ mock: mock.url, user: 'alice', wx }), {
      name: 'TypeError',
      message: /^wx-login-kit: cannot replace wx\.getWeRunData: /,
    });
    assert.equal(wx.login, login);
  });

  test('uninstall puts the originals back; a second install replaces the first', async () => {
    const mock = new FakeMock();
    const wx = createFakeWx(mock);
    const originals = Object.fromEntries(PATCHED.map((api) => [api, wx[api]]));
    const first = install({ mock: mock.url, user: 'alice', wx });
    const second = install({ mock: mock.url, user: 'bob', wx });
    assert.equal(first.installed, false);
    assert.match((await wx.login()).code, /bob$/);
    second.uninstall();
    for (const api of PATCHED) assert.equal(wx[api], originals[api], api);
    assert.equal((await withCallbacks(wx.login)).res.real, true);
    install({ mock: mock.url, user: 'alice', wx });
    install({ mock: mock.url, user: 'alice', wx, enabled: false });
    for (const api of PATCHED)
      assert.equal(wx[api], originals[api], `an inert install replaces an active one too: ${api}`);
    const handler = () => {};
    assert.equal(kit.withMockPhone(handler), handler);
  });

  test('a throwing success callback is reported on its own tick and complete still runs', async () => {
    const { wx } = setup();
    const thrown = [];
    const realSetTimeout = global.setTimeout;
    global.setTimeout = (fn, ms) =>
      realSetTimeout(() => {
        try {
          fn();
        } catch (e) {
          thrown.push(e.message);
        }
      }, ms);
    try {
      await new Promise((resolve) =>
        wx.login({
          success() {
            throw new Error('app bug');
          },
          fail: () => assert.fail('fail must not run after success threw'),
          complete: resolve,
        }),
      );
      await new Promise((resolve) => realSetTimeout(resolve, 5));
    } finally {
      global.setTimeout = realSetTimeout;
    }
    assert.deepEqual(thrown, ['app bug']);
  });

  test('config mistakes in a development build are thrown at install, naming the field', () => {
    const wx = createFakeWx(new FakeMock());
    assert.throws(
      () => kit.install({ mock: '127.0.0.1:9100', user: 'alice', wx }),
      /`mock` must be the mock's base URL, like http:\/\/127.0.0.1:9100 \(got "127.0.0.1:9100"\)/,
    );
    assert.throws(() => kit.install({ mock: 'http://127.0.0.1:9100', wx }), /`user` must name the user/);
    assert.throws(
      () => kit.install({ mock: 'http://127.0.0.1:9100', user: 'a', deny: ['login'], wx }),
      /`deny` names "login"/,
    );
    assert.throws(
      () => kit.install({ mock: 'http://127.0.0.1:9100', user: 'a', timeout: 0, wx }),
      /`timeout` must be a positive number/,
    );
  });
});

test.describe('a mock that is down, silent or refuses', () => {
  test('unreachable: fail with the mock URL and the transport error, in both styles', async () => {
    const { wx, mock } = setup();
    mock.overrides.set('wx/login', { transport: 'request:fail connect ECONNREFUSED 127.0.0.1:9100' });
    const expected = `login:fail mock at ${mock.url} unreachable: request:fail connect ECONNREFUSED 127.0.0.1:9100`;
    const { which, res } = await withCallbacks(wx.login);
    assert.equal(which, 'fail');
    assert.deepEqual(res, { errMsg: expected });
    await assert.rejects(wx.login(), { errMsg: expected });
  });

  test('silent: fail after the timeout instead of hanging, and the request is aborted', async () => {
    const { wx, mock } = setup({ config: { timeout: 50 } });
    mock.overrides.set('wx/login', 'hang');
    const started = Date.now();
    await assert.rejects(wx.login(), { errMsg: `login:fail mock at ${mock.url} unreachable: no answer in 50 ms` });
    assert.ok(Date.now() - started < 2000);
    assert.equal(mock.aborted, 1);
    const { res } = await withCallbacks(wx.checkSession);
    assert.equal(res.errMsg, 'checkSession:fail', 'other routes still answer');
  });

  test('a wrong or missing control token says to pass it', async () => {
    const { wx, mock } = setup({ mock: { token: 'right' }, config: { token: 'wrong' } });
    await assert.rejects(wx.login(), {
      errMsg: `login:fail mock at ${mock.url} refused: unauthorized: this control plane needs \`Authorization: Bearer <token>\` (pass the control token as \`token\`)`,
    });
  });

  test('an app the mock does not have says how to add it', async () => {
    const { wx, mock } = setup({ wx: { appId: 'wx9999999999999999' } });
    await assert.rejects(wx.login(), {
      errMsg: `login:fail mock at ${mock.url} refused: unknown_app: unknown appid \`wx9999999999999999\` (create the app with POST /__mock__/apps, or pass \`appid\` to install)`,
    });
  });

  test('something that is not the mock: its status and text, or a 200 without a code', async () => {
    const { wx, mock } = setup();
    mock.overrides.set('wx/login', { status: 502, data: '<html>Bad Gateway</html>' });
    await assert.rejects(wx.login(), {
      errMsg: `login:fail mock at ${mock.url} refused: HTTP 502 <html>Bad Gateway</html>`,
    });
    mock.overrides.set('wx/login', { status: 200, data: { hello: 'world' } });
    await assert.rejects(wx.login(), {
      errMsg: `login:fail mock at ${mock.url} answered without a login code: is it a mock-server?`,
    });
    mock.overrides.set('wx/login', { status: 200, data: { errMsg: 'login:ok' } });
    await assert.rejects(wx.login(), {
      errMsg: `login:fail mock at ${mock.url} answered without a login code: is it a mock-server?`,
    });
  });

  test("a strict mock refuses an unknown user: login fails in WeChat's shape", async () => {
    const { wx, mock } = setup({ mock: { strict: true, users: ['alice'] }, config: { user: 'zed' } });
    const { which, res } = await withCallbacks(wx.login);
    assert.equal(which, 'fail');
    assert.deepEqual(res, { errMsg: `login:fail mock at ${mock.url} refused: unknown_user: unknown user \`zed\`` });
  });

  test('strict: an unknown user fails before the mock could create it', async () => {
    const { wx, mock } = setup({ mock: { users: ['alice'] }, config: { user: 'zed', strict: true } });
    await assert.rejects(wx.login(), {
      errMsg: `login:fail unknown user \`zed\` (strict: seed it with POST /__mock__/users at ${mock.url})`,
    });
    assert.equal(mock.calls('wx/login').length, 0);
    wx.setStorageSync(kit.STORAGE_KEYS.user, 'alice');
    assert.equal((await wx.login()).errMsg, 'login:ok');
    assert.deepEqual(mock.calls('users/alice').length, 1);
  });

  test("the mock's default appid is what the tourist appid reaches", async () => {
    const { wx, mock } = setup();
    await wx.login();
    assert.equal(mock.calls('wx/login')[0].body.appid, undefined);
    assert.ok(mock.sessions.has(`${DEFAULT_APPID}/alice`));
  });
});
