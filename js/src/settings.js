// What an installation reads from the mini-program: whether it may act at all, the appid, and the
// run-time switches (which user, which APIs the user declines) that a dev menu or a test flips
// without a rebuild.

/** DevTools' appid for projects opened without one; it maps to the mock's default app. */
var TOURIST_APPID = 'touristappid';

/** Storage keys read on every call (`wx.setStorageSync(key, value)`). */
var STORAGE_KEYS = { user: 'wx-login-kit:user', deny: 'wx-login-kit:deny' };

/** `getApp().globalData` keys read on every call; they win over storage. */
var GLOBAL_DATA_KEYS = { user: 'wxLoginKitUser', deny: 'wxLoginKitDeny' };

/** The APIs a user can decline, and so the names a deny list may hold. */
var DECLINABLE = ['getUserProfile', 'getUserInfo', 'getWeRunData', 'getPhoneNumber', 'getRealtimePhoneNumber'];

function accountInfo(wx) {
  try {
    var info = typeof wx.getAccountInfoSync === 'function' ? wx.getAccountInfoSync() : null;
    return (info && info.miniProgram) || {};
  } catch (e) {
    return {};
  }
}

/**
 * Whether an installation acts: `enabled` decides when given, else only a development build
 * (`envVersion === 'develop'`) does. Trial and release builds, and hosts without
 * `getAccountInfoSync`, stay on real WeChat.
 */
function activation(wx, config) {
  if (config.enabled === true) return { active: true, reason: 'enabled: true' };
  if (config.enabled === false) return { active: false, reason: 'enabled: false' };
  var env = accountInfo(wx).envVersion;
  if (env === 'develop') return { active: true, reason: 'develop build' };
  return { active: false, reason: env ? env + ' build' : 'no envVersion from wx.getAccountInfoSync' };
}

/** The appid to send: the configured one, else the build's own; none for the tourist appid. */
function resolveAppid(wx, config) {
  var appid = config.appid !== undefined ? config.appid : accountInfo(wx).appId;
  return !appid || appid === TOURIST_APPID ? undefined : appid;
}

function checkConfig(config) {
  var mock = config.mock;
  if (typeof mock !== 'string' || !/^https?:\/\/[^/]+/.test(mock)) {
    throw new TypeError(
      "wx-login-kit: `mock` must be the mock's base URL, like http://127.0.0.1:9100 (got " + JSON.stringify(mock) + ')',
    );
  }
  if (typeof config.user !== 'string' || config.user === '') {
    throw new TypeError(
      'wx-login-kit: `user` must name the user to log in as, like "alice" (got ' + JSON.stringify(config.user) + ')',
    );
  }
  if (config.token !== undefined && (typeof config.token !== 'string' || config.token === '')) {
    throw new TypeError("wx-login-kit: `token` must be the mock's --control-token");
  }
  if (config.appid !== undefined && typeof config.appid !== 'string') {
    throw new TypeError('wx-login-kit: `appid` must be a string');
  }
  if (config.timeout !== undefined && !(typeof config.timeout === 'number' && config.timeout > 0)) {
    throw new TypeError('wx-login-kit: `timeout` must be a positive number of milliseconds');
  }
  denyList(config.deny, '`deny`');
  return mock.replace(/\/+$/, '');
}

/** A deny list from an array or a comma-separated string; unknown names are an error. */
function denyList(value, source) {
  if (value === undefined || value === null || value === '') return [];
  var list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list))
    throw new TypeError('wx-login-kit: ' + source + ' must be an array or a comma-separated string of API names');
  return list.map(function (name) {
    var n = String(name).trim();
    if (DECLINABLE.indexOf(n) < 0) {
      throw new TypeError(
        'wx-login-kit: ' + source + ' names ' + JSON.stringify(n) + '; a user can decline ' + DECLINABLE.join(', '),
      );
    }
    return n;
  });
}

function globalData() {
  try {
    // eslint-disable-next-line no-undef
    var app = typeof getApp === 'function' ? getApp({ allowDefault: true }) : null;
    return (app && app.globalData) || {};
  } catch (e) {
    return {};
  }
}

function stored(wx, key) {
  try {
    return typeof wx.getStorageSync === 'function' ? wx.getStorageSync(key) : '';
  } catch (e) {
    return '';
  }
}

function pick(wx, name) {
  var fromApp = globalData()[GLOBAL_DATA_KEYS[name]];
  if (fromApp !== undefined && fromApp !== null && fromApp !== '')
    return { value: fromApp, source: 'getApp().globalData.' + GLOBAL_DATA_KEYS[name] };
  var fromStorage = stored(wx, STORAGE_KEYS[name]);
  if (fromStorage !== undefined && fromStorage !== null && fromStorage !== '')
    return { value: fromStorage, source: 'storage key ' + STORAGE_KEYS[name] };
  return null;
}

/**
 * The user and deny list for one call: `getApp().globalData` first, then storage, then the
 * config. A bad switch value fails the call with a message naming where it came from.
 */
function runtime(wx, config) {
  var user = pick(wx, 'user');
  if (user && typeof user.value !== 'string') {
    return { error: user.source + ' must be a user handle string, not ' + JSON.stringify(user.value) };
  }
  var deny = pick(wx, 'deny');
  try {
    return {
      user: user ? user.value : config.user,
      deny: deny ? denyList(deny.value, deny.source) : denyList(config.deny, '`deny`'),
    };
  } catch (e) {
    return { error: e.message.replace(/^wx-login-kit: /, '') };
  }
}

module.exports = {
  TOURIST_APPID: TOURIST_APPID,
  STORAGE_KEYS: STORAGE_KEYS,
  GLOBAL_DATA_KEYS: GLOBAL_DATA_KEYS,
  activation: activation,
  resolveAppid: resolveAppid,
  checkConfig: checkConfig,
  runtime: runtime,
};
