'use strict';
// wx-login-kit/node: the Node side. A `wx` for jest or miniprogram-simulate whose request goes
// over node:http, so the shim reaches a real mock from a component test, and the helpers for
// miniprogram-automator.

const { install, TOURIST_APPID } = require('../src/index');
const { request } = require('./request');
const automator = require('./automator');

function define(target, name, value) {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: true });
}

/**
 * The part of `wx` the shim and a typical login page need, working in Node: `request` (node:http),
 * synchronous storage (`getStorageSync` answers '' for a missing key, values are stored as JSON
 * copies) and `getAccountInfoSync` (appId, envVersion).
 *
 * @param {object} [options] `{ appid = 'touristappid', envVersion = 'develop' }`
 */
function createNodeWx(options) {
  const o = options || {};
  const wx = {};
  addNodeWx(wx, o);
  return wx;
}

function addNodeWx(wx, o) {
  const storage = new Map();
  const appId = o.appid || TOURIST_APPID;
  const envVersion = o.envVersion || 'develop';
  define(wx, 'request', request);
  define(wx, 'getStorageSync', (key) => (storage.has(key) ? JSON.parse(storage.get(key)) : ''));
  define(wx, 'setStorageSync', (key, data) => {
    if (typeof key !== 'string' || key === '')
      throw new TypeError('setStorageSync:fail parameter error: key should be a non-empty String');
    storage.set(key, JSON.stringify(data === undefined ? null : data));
  });
  define(wx, 'removeStorageSync', (key) => {
    storage.delete(key);
  });
  define(wx, 'clearStorageSync', () => storage.clear());
  define(wx, 'getStorageInfoSync', () => ({ keys: [...storage.keys()], currentSize: 0, limitSize: 10240 }));
  define(wx, 'getAccountInfoSync', () => ({ miniProgram: { appId, envVersion, version: '' }, plugin: {} }));
  return storage;
}

/**
 * Makes `global.wx` talk to the mock: the Node parts of `createNodeWx` are added to the `wx`
 * already there (miniprogram-simulate's, whose request and storage do nothing) or to a new one,
 * then, when `mock` is given, the shim is installed on it (leave `mock` out when the app under
 * test installs it from its app.js). `uninstall()` puts back what was there.
 *
 * @param {object} config install's config (`mock`, `user`, `token`, `strict`, `deny`, `timeout`,
 *   `enabled`) plus `appid` (what getAccountInfoSync reports; default the tourist appid, the
 *   mock's default app) and `envVersion` (default 'develop')
 * @returns {{wx: object, installation: object|null, uninstall: function(): void}}
 */
function installGlobalWx(config) {
  const c = config || {};
  const created = typeof global.wx !== 'object' || global.wx === null;
  const wx = created ? {} : global.wx;
  const names = [
    'request',
    'getStorageSync',
    'setStorageSync',
    'removeStorageSync',
    'clearStorageSync',
    'getStorageInfoSync',
    'getAccountInfoSync',
  ];
  const before = new Map(names.map((n) => [n, Object.getOwnPropertyDescriptor(wx, n)]));
  addNodeWx(wx, { appid: c.appid, envVersion: c.envVersion });
  if (created) global.wx = wx;
  // appid and envVersion are the build's, read back through getAccountInfoSync.
  const rest = { ...c };
  delete rest.appid;
  delete rest.envVersion;
  let installation = null;
  try {
    if (c.mock !== undefined) installation = install({ ...rest, wx });
  } catch (e) {
    restore();
    throw e;
  }
  function restore() {
    for (const [n, d] of before) {
      if (d) Object.defineProperty(wx, n, d);
      else delete wx[n];
    }
    if (created && global.wx === wx) delete global.wx;
  }
  return {
    wx,
    installation,
    uninstall() {
      if (installation) installation.uninstall();
      restore();
    },
  };
}

module.exports = {
  createNodeWx,
  installGlobalWx,
  request,
  mockWxLogin: automator.mockWxLogin,
  restoreWxLogin: automator.restoreWxLogin,
  tapPhoneButton: automator.tapPhoneButton,
  mockedMethodSource: automator.mockedMethodSource,
};
