'use strict';
// The miniprogram-automator helpers. WeChat DevTools does not run here, so the MiniProgram and
// Page are fakes that do what automator documents: mockWxMethod compiles the function source
// inside the mini-program (here a fresh vm context, with no Node require and nothing of this
// file in scope) and hands what its Promise resolves to success, what it rejects with to fail;
// evaluate runs a function source there; Element.trigger fires the event with a detail.

const test = require('node:test');
const assert = require('node:assert/strict');
const vm = require('node:vm');

const { mockWxLogin, restoreWxLogin, tapPhoneButton, mockedMethodSource } = require('../../node/index');
const { request } = require('../../node/request');
const { FakeMock } = require('../support/fake-mock');

/** A mini-program app service: its own globals, `wx`, `getApp`, and an app that logs in. */
function appService() {
  const wx = {
    request,
    getStorageSync: () => '',
    login(options) {
      setTimeout(() => options.fail({ errMsg: 'login:fail real WeChat is not reachable from this test' }), 0);
    },
  };
  const context = vm.createContext({ wx, setTimeout, clearTimeout, console });
  vm.runInContext(
    `var app = {
      globalData: {},
      login: function () {
        return new Promise(function (resolve, reject) {
          wx.login({ success: function (r) { app.globalData.code = r.code; resolve(r.code); }, fail: reject });
        });
      }
    };
    function getApp() { return app; }`,
    context,
  );
  return { context, wx };
}

class FakeMiniProgram {
  constructor(service) {
    this.service = service;
    this.mocked = [];
  }

  compile(source) {
    return vm.runInContext(`(${source})`, this.service.context);
  }

  async mockWxMethod(method, source, ...args) {
    assert.equal(typeof source, 'string', 'automator sends the function as source text');
    assert.match(source, /^function/, 'automator only takes strings that start with "function"');
    const fn = this.compile(source);
    const origin = this.service.wx[method];
    this.mocked.push(method);
    // JSON, as the arguments cross the automator connection.
    const sent = JSON.parse(JSON.stringify(args));
    this.service.wx[method] = (options = {}) => {
      Promise.resolve(fn.call({ origin }, options, ...sent)).then(
        (res) => {
          if (options.success) options.success(res);
          if (options.complete) options.complete(res);
        },
        (err) => {
          if (options.fail) options.fail(err);
          if (options.complete) options.complete(err);
        },
      );
    };
    this.service.wx[method].origin = origin;
  }

  async restoreWxMethod(method) {
    const current = this.service.wx[method];
    if (current && current.origin) this.service.wx[method] = current.origin;
  }

  async evaluate(source, ...args) {
    return this.compile(source)(...JSON.parse(JSON.stringify(args)));
  }
}

let mock;
test.beforeEach(async () => {
  mock = new FakeMock({ token: 'tok' });
  await mock.listen();
});
test.afterEach(() => mock.close());

test("mockWxLogin replaces the six APIs and runs the app's login again", async () => {
  const service = appService();
  const mp = new FakeMiniProgram(service);
  const code = await mockWxLogin(mp, { mock: mock.url, user: 'bob', token: 'tok' });
  assert.deepEqual(mp.mocked, [
    'login',
    'checkSession',
    'getUserProfile',
    'getUserInfo',
    'getShareInfo',
    'getWeRunData',
  ]);
  assert.match(code, /^code\d+bob$/);
  assert.equal(vm.runInContext('app.globalData.code', service.context), code);
  assert.equal(mock.calls('wx/login')[0].headers.Authorization, 'Bearer tok');
  const profile = await new Promise((resolve) => service.wx.getUserProfile({ desc: 'd', success: resolve }));
  assert.equal(profile.errMsg, 'getUserProfile:ok');
  assert.equal(profile.mock, undefined);
  await restoreWxLogin(mp);
  await assert.rejects(vm.runInContext('app.login()', service.context), { errMsg: /real WeChat/ });
});

test('failures reach fail: a checkSession without a session, a missing desc', async () => {
  const service = appService();
  const mp = new FakeMiniProgram(service);
  await mockWxLogin(mp, { mock: mock.url, user: 'carol', token: 'tok', relogin: false });
  assert.equal(mock.calls('wx/login').length, 0, 'relogin: false does not log in');
  const check = await new Promise((resolve) => service.wx.checkSession({ fail: resolve }));
  assert.deepEqual({ ...check }, { errMsg: 'checkSession:fail' }); // a copy: the object is of the vm's realm
  const profile = await new Promise((resolve) => service.wx.getUserProfile({ fail: resolve }));
  assert.match(profile.errMsg, /^getUserProfile:fail parameter error: parameter\.desc/);
});

test('an app without the login method named: evaluate says which', async () => {
  const mp = new FakeMiniProgram(appService());
  await assert.rejects(
    mockWxLogin(mp, { mock: mock.url, user: 'a', token: 'tok', relogin: 'signIn' }),
    /getApp\(\)\.signIn is not a function/,
  );
});

test('the shipped source is self-contained: it runs where only wx exists', () => {
  const source = mockedMethodSource('login');
  const context = vm.createContext({});
  assert.equal(typeof vm.runInContext(`(${source})`, context), 'function');
  assert.doesNotMatch(source, /require\(/);
  assert.throws(() => mockedMethodSource('getLocation'), /not one of login/);
});

test("tapPhoneButton triggers the button's event with a detail from the mock", async () => {
  const triggered = [];
  const page = {
    path: 'pages/index/index',
    async $(selector) {
      if (selector !== '#phone-button') return null;
      return { trigger: async (type, detail) => triggered.push({ type, detail }) };
    },
  };
  const detail = await tapPhoneButton(page, '#phone-button', { mock: mock.url, user: 'alice', token: 'tok' });
  assert.equal(detail.errMsg, 'getPhoneNumber:ok');
  assert.equal(detail.mock, undefined);
  await tapPhoneButton(page, '#phone-button', {
    mock: mock.url,
    user: 'alice',
    token: 'tok',
    kind: 'getRealtimePhoneNumber',
    deny: true,
  });
  assert.deepEqual(triggered, [
    { type: 'getphonenumber', detail },
    { type: 'getrealtimephonenumber', detail: { errMsg: 'getRealtimePhoneNumber:fail user deny' } },
  ]);
  await assert.rejects(
    tapPhoneButton(page, '#nope', { mock: mock.url, user: 'alice' }),
    /no element matches "#nope" on pages\/index\/index/,
  );
});
