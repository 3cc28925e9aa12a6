'use strict';
// Taro and uni-app look `wx.login` up when it is called, so patching `wx` covers `Taro.login`
// and `uni.login`. Proved through each framework's real API layer from npm, loaded as their
// WeChat builds load it:
// - Taro 4: @tarojs/plugin-platform-weapp's runtime registers initNativeApi, which
//   @tarojs/taro runs (processApis from @tarojs/shared) when it is first imported;
// - uni-app: @dcloudio/uni-mp-weixin's `uni` object (dist/uni.api.esm.js, the Vue 3 build's).
// The constants their bundlers define at build time are set as those builds set them.

const test = require('node:test');
const assert = require('node:assert/strict');

const kit = require('../../src/index');
const { FakeMock } = require('../support/fake-mock');
const { createFakeWx } = require('../support/fake-wx');

let mock;
let inst;
test.before(() => {
  mock = new FakeMock();
  global.wx = createFakeWx(mock);
  // The mini-program runtime's globals the frameworks touch while they load.
  global.getCurrentPages = () => [];
  global.getApp = () => ({ globalData: {} });
  global.wx.getSystemInfoSync = () => ({ platform: 'devtools', pixelRatio: 2, windowWidth: 375, windowHeight: 667 });
  global.wx.canIUse = () => true;
});

test.afterEach(() => {
  if (inst) inst.uninstall();
  inst = null;
});

async function loadTaro() {
  // Taro's webpack DefinePlugin values for a weapp build.
  Object.assign(global, {
    ENABLE_INNER_HTML: true,
    ENABLE_ADJACENT_HTML: false,
    ENABLE_SIZE_APIS: false,
    ENABLE_TEMPLATE_CONTENT: false,
    ENABLE_CLONE_NODE: false,
    ENABLE_CONTAINS: false,
    ENABLE_MUTATION_OBSERVER: false,
  });
  process.env.TARO_ENV = 'weapp';
  process.env.TARO_PLATFORM = 'mini';
  await import('@tarojs/plugin-platform-weapp/dist/runtime.js');
  return (await import('@tarojs/taro')).default;
}

async function loadUni() {
  // uni-app's Vue 3 build: promises resolve with the result (not the Vue 2 [err, res] pair).
  global.__UNI_PROMISE_API__ = false;
  return (await import('@dcloudio/uni-mp-weixin/dist/uni.api.esm.js')).default;
}

test('Taro.login, loaded before the install as a Taro bundle loads it, answers from the mock', async () => {
  const Taro = await loadTaro();
  const before = await Taro.login();
  assert.equal(before.real, true, 'before the install Taro reaches the original wx.login');
  inst = kit.install({ mock: mock.url, user: 'alice' });
  const res = await Taro.login();
  assert.deepEqual(Object.keys(res).sort(), ['code', 'errMsg']);
  assert.match(res.code, /^code\d+alice$/);
  const viaCallback = await new Promise((resolve) => Taro.login({ success: resolve }));
  assert.match(viaCallback.code, /alice$/);
  assert.deepEqual(await Taro.checkSession(), { errMsg: 'checkSession:ok' });
  await assert.rejects(Taro.getUserProfile({}), { errMsg: /^getUserProfile:fail parameter error: parameter\.desc/ });
  assert.equal((await Taro.getUserProfile({ desc: 'd' })).errMsg, 'getUserProfile:ok');
});

test('uni.login answers from the mock, in both styles, and fails the uni way', async () => {
  const uni = await loadUni();
  inst = kit.install({ mock: mock.url, user: 'bob' });
  const res = await uni.login({ provider: 'weixin' });
  assert.match(res.code, /^code\d+bob$/);
  const viaCallback = await new Promise((resolve) => uni.login({ provider: 'weixin', success: resolve }));
  assert.match(viaCallback.code, /bob$/);
  assert.equal((await uni.getWeRunData()).errMsg, 'getWeRunData:ok');
  global.wx.setStorageSync(kit.STORAGE_KEYS.deny, 'getWeRunData');
  await assert.rejects(uni.getWeRunData(), { errMsg: 'getWeRunData:fail auth deny' });
  global.wx.removeStorageSync(kit.STORAGE_KEYS.deny);
  inst.uninstall();
  assert.equal(
    (await new Promise((resolve) => uni.login({ success: resolve }))).real,
    true,
    'uninstalled: the original again',
  );
});
