'use strict';
// Runs the example mini-program (examples/miniprogram) in Node: a jsdom document for
// miniprogram-simulate, the runtime's App/getApp, and `wx-login-kit` resolved to this package's
// source (in DevTools it comes from miniprogram_npm after "Build npm").

const path = require('node:path');
const Module = require('node:module');
const { JSDOM } = require('jsdom');

const EXAMPLE = path.resolve(__dirname, '../../../examples/miniprogram');
const PACKAGE_ENTRY = path.resolve(__dirname, '../../src/index.js');

const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'https://servicewechat.test/' });
// jsdom's, not Node's own Event: j-component dispatches DOM events.
for (const name of [
  'window',
  'document',
  'navigator',
  'Node',
  'Element',
  'HTMLElement',
  'Event',
  'CustomEvent',
  'getComputedStyle',
  'MutationObserver',
]) {
  Object.defineProperty(global, name, {
    value: name === 'window' ? dom.window : dom.window[name],
    configurable: true,
    writable: true,
  });
}

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'wx-login-kit') return PACKAGE_ENTRY;
  return resolveFilename.call(this, request, ...rest);
};

// Defines global.Component and global.wx (its own stand-ins, which installGlobalWx completes).
const simulate = require('miniprogram-simulate');

function fresh(file) {
  delete require.cache[require.resolve(file)];
  return require(file);
}

/**
 * Loads the example's app.js as the runtime does (App() registers it, onLaunch runs) with its
 * config pointed at `mock` and `api`; resolves the app once its first login settled.
 */
function launchApp({ mock, api, user = 'alice', token }) {
  const config = fresh(path.join(EXAMPLE, 'config.js'));
  config.wxLoginKit = { mock, user, ...(token ? { token } : {}) };
  config.api = api;
  let app;
  global.App = (definition) => {
    app = definition;
  };
  global.getApp = () => app;
  fresh(path.join(EXAMPLE, 'api.js'));
  fresh(path.join(EXAMPLE, 'app.js'));
  if (!app) throw new Error('examples/miniprogram/app.js did not call App()');
  app.onLaunch({ path: 'pages/index/index', query: {}, scene: 1001 });
  return app.loginReady.then(
    () => app,
    () => app,
  );
}

/** Renders the example's login page, attached to a document. */
function renderPage(name = 'index') {
  const id = simulate.load(path.join(EXAMPLE, 'pages', name, 'index'));
  const page = simulate.render(id);
  page.attach(document.createElement('parent-wrapper'));
  return page;
}

/** The text of the element `selector` of `page`, or null when there is none. */
function text(page, selector) {
  const el = page.querySelector(selector);
  return el ? el.dom.textContent.trim() : null;
}

/** Waits until `check()` is truthy (the page's handlers run over HTTP), at most `ms`. */
async function until(check, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

module.exports = { EXAMPLE, simulate, launchApp, renderPage, text, until };
