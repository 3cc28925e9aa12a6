'use strict';
// Helpers for miniprogram-automator tests, for apps that do not install the shim themselves (or
// whose test wants to choose the user from outside): each wx API is replaced through
// `miniProgram.mockWxMethod` with a function that asks the mock, sent as source text because
// automator runs it inside the mini-program; then the app's login runs again, because
// App.onLaunch ran before any mock existed.

const { callMock } = require('../src/core');
const { PATCHED } = require('../src/index');
const { request } = require('./request');

const DEFAULT_TIMEOUT = 5000;

function spec(config) {
  const c = config || {};
  if (typeof c.mock !== 'string' || !/^https?:\/\/[^/]+/.test(c.mock)) {
    throw new TypeError(`wx-login-kit: \`mock\` must be the mock's base URL (got ${JSON.stringify(c.mock)})`);
  }
  if (typeof c.user !== 'string' || c.user === '') {
    throw new TypeError(`wx-login-kit: \`user\` must name the user (got ${JSON.stringify(c.user)})`);
  }
  return {
    mock: c.mock.replace(/\/+$/, ''),
    user: c.user,
    appid: c.appid && c.appid !== 'touristappid' ? c.appid : undefined,
    token: c.token,
    strict: c.strict === true,
    deny: c.deny || [],
    timeout: c.timeout || DEFAULT_TIMEOUT,
  };
}

/**
 * The function source `mockWxMethod` runs in the mini-program for `api`: automator calls it with
 * the app's options and the spec; the Promise it returns resolves with the success result or
 * rejects with the fail result. It reaches the mock through the app's own wx.request.
 */
function mockedMethodSource(api) {
  if (!PATCHED.includes(api)) throw new TypeError(`wx-login-kit: ${api} is not one of ${PATCHED.join(', ')}`);
  return [
    'function (options, spec) {',
    `  var callMock = ${callMock.toString()};`,
    `  return callMock(${JSON.stringify(api)}, options, {`,
    '    request: function (o) { return wx.request(o); },',
    '    mock: spec.mock, token: spec.token, appid: spec.appid, user: spec.user,',
    '    deny: spec.deny, strict: spec.strict, timeout: spec.timeout',
    '  }).then(function (r) { if (r.ok) return r.result; throw r.result; });',
    '}',
  ].join('\n');
}

// Runs in the mini-program through `miniProgram.evaluate`.
const RELOGIN_SOURCE = `function (name) {
  var app = getApp();
  if (!app || typeof app[name] !== 'function') {
    throw new Error('wx-login-kit: getApp().' + name + ' is not a function: pass the name of the app method that logs in as relogin');
  }
  return app[name]();
}`;

/**
 * Replaces the six wx APIs in the running mini-program with calls to the mock, then runs the
 * app's login again (`getApp()[relogin]()`, default `login`; `relogin: false` skips it).
 *
 * @param {import('miniprogram-automator/out/MiniProgram').default} miniProgram
 * @param {object} config `{ mock, user, appid?, token?, strict?, deny?, timeout?, relogin? }`
 * @returns {Promise<any>} what the app's login method returned, if it ran
 */
async function mockWxLogin(miniProgram, config) {
  const s = spec(config);
  for (const api of PATCHED) await miniProgram.mockWxMethod(api, mockedMethodSource(api), s);
  const relogin = config.relogin === undefined ? 'login' : config.relogin;
  if (relogin === false) return undefined;
  return miniProgram.evaluate(RELOGIN_SOURCE, relogin);
}

/** Puts the six wx APIs back (`restoreWxMethod`). */
async function restoreWxLogin(miniProgram) {
  for (const api of PATCHED) await miniProgram.restoreWxMethod(api);
}

/**
 * Asks the mock (from Node) for a phone-button detail and triggers the button's event with it:
 * `getphonenumber`, or `getrealtimephonenumber` for `kind: 'getRealtimePhoneNumber'`.
 *
 * @param {object} page an automator Page
 * @param {string} selector the button
 * @param {object} options `{ mock, user, appid?, token?, strict?, kind?, deny?, tamper?, timeout? }`
 * @returns {Promise<object>} the detail that was sent
 */
async function tapPhoneButton(page, selector, options) {
  const s = spec(options);
  const kind = options.kind || 'getPhoneNumber';
  if (kind !== 'getPhoneNumber' && kind !== 'getRealtimePhoneNumber') {
    throw new TypeError(
      `wx-login-kit: \`kind\` is getPhoneNumber or getRealtimePhoneNumber, not ${JSON.stringify(kind)}`,
    );
  }
  const element = await page.$(selector);
  if (!element) throw new Error(`wx-login-kit: no element matches ${JSON.stringify(selector)} on ${page.path}`);
  const { result } = await callMock(
    kind,
    { deny: options.deny === true, tamper: options.tamper },
    { ...s, deny: [], request },
  );
  await element.trigger(kind.toLowerCase(), result);
  return result;
}

module.exports = { mockWxLogin, restoreWxLogin, tapPhoneButton, mockedMethodSource, RELOGIN_SOURCE };
