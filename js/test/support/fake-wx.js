'use strict';
// A fake `wx` as the runtime has it: the six APIs the shim replaces (each answers as real WeChat
// would, marked `real: true`), a request that reaches a FakeMock, storage and account info.

const PATCHED = ['login', 'checkSession', 'getUserProfile', 'getUserInfo', 'getShareInfo', 'getWeRunData'];

function createFakeWx(mock, { envVersion = 'develop', appId = 'touristappid' } = {}) {
  const storage = new Map();
  const wx = {};
  for (const api of PATCHED) {
    wx[api] = function realWeChat(options = {}) {
      const res = { errMsg: `${api}:ok`, real: true };
      setTimeout(() => {
        if (options.success) options.success(res);
        if (options.complete) options.complete(res);
      }, 1);
    };
  }
  wx.request = mock.request(() => {
    throw new Error('the fake wx only reaches the fake mock');
  });
  wx.getStorageSync = (key) => (storage.has(key) ? storage.get(key) : '');
  wx.setStorageSync = (key, value) => storage.set(key, value);
  wx.removeStorageSync = (key) => storage.delete(key);
  wx.getAccountInfoSync = () => ({ miniProgram: { appId, envVersion, version: '' }, plugin: {} });
  return wx;
}

/** Calls `fn(options)` in callback style; resolves `{ which, res, calls }` once complete runs. */
function withCallbacks(fn, options = {}) {
  return new Promise((resolve) => {
    const calls = [];
    const returned = fn({
      ...options,
      success: (res) => calls.push(['success', res]),
      fail: (res) => calls.push(['fail', res]),
      complete: (res) => {
        calls.push(['complete', res]);
        resolve({ which: calls[0][0], res: calls[0][1], calls, returned });
      },
    });
  });
}

module.exports = { createFakeWx, withCallbacks, PATCHED };
