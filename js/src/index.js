// wx-login-kit: one line at the top of app.js makes wx.login, wx.checkSession and the open-data
// APIs answer from the wx-login-kit mock in development builds, and the phone-button wrappers fill
// the event's detail from it, so a backend pointed at the mock gets codes and encryptedData it can
// use. Trial and release builds are left on real WeChat, untouched.

var callMock = require('./core').callMock;
var settings = require('./settings');

/** The wx APIs an installation replaces. */
var PATCHED = ['login', 'checkSession', 'getUserProfile', 'getUserInfo', 'getShareInfo', 'getWeRunData'];

var DEFAULT_TIMEOUT = 5000;

// The last active installation: the phone wrappers, defined in page files that load after
// app.js, use it.
var current = null;
// Per wx object, its active installation, so a second install replaces the first.
var installed = typeof WeakMap === 'function' ? new WeakMap() : null;

function defaultWx() {
  // eslint-disable-next-line no-undef
  if (typeof wx !== 'undefined') return wx;
  throw new TypeError('wx-login-kit: no global `wx`; pass `wx` to install');
}

/**
 * WeChat's two call styles: with any of success/fail/complete the callbacks run and nothing is
 * returned; without, a Promise that resolves with the success result or rejects with the fail
 * result. An exception thrown by a callback is rethrown on its own tick, where the runtime
 * reports it (App.onError), without stopping `complete`.
 */
function respond(options, outcome) {
  var o = options || {};
  var callbacks = typeof o.success === 'function' || typeof o.fail === 'function' || typeof o.complete === 'function';
  if (!callbacks) {
    return outcome.then(function (r) {
      if (r.ok) return r.result;
      throw r.result;
    });
  }
  outcome.then(function (r) {
    invoke(o, r.ok ? o.success : o.fail, r.result);
    invoke(o, o.complete, r.result);
  });
  return undefined;
}

function invoke(self, fn, arg) {
  if (typeof fn !== 'function') return;
  try {
    fn.call(self, arg);
  } catch (e) {
    setTimeout(function () {
      throw e;
    }, 0);
  }
}

function describe(original, value) {
  return {
    value: value,
    writable: true,
    configurable: true,
    enumerable: original ? original.enumerable !== false : true,
  };
}

/**
 * An active installation on one wx object.
 * @constructor
 */
function Installation(wx, config, reason) {
  var self = this;
  this.active = true;
  this.reason = reason;
  this.wx = wx;
  this.mock = settings.checkConfig(config);
  this.appid = settings.resolveAppid(wx, config);
  this.config = config;
  this.installed = true;
  var originalRequest = wx.request;
  if (typeof originalRequest !== 'function') {
    throw new TypeError('wx-login-kit: wx.request is not a function; install needs it to reach the mock');
  }
  // The request as it was at install: interceptors the app adds later neither see nor break
  // the calls to the mock.
  this.request = function (options) {
    return originalRequest.call(wx, options);
  };
  this.originals = {};
  var previous = installed && installed.get(wx);
  if (previous) previous.uninstall();
  PATCHED.forEach(function (api) {
    var descriptor = Object.getOwnPropertyDescriptor(wx, api);
    self.originals[api] = descriptor;
    var patched = function (options) {
      return respond(options, self.call(api, options));
    };
    try {
      Object.defineProperty(wx, api, describe(descriptor, patched));
    } catch (e) {
      self.restore();
      throw new TypeError('wx-login-kit: cannot replace wx.' + api + ': ' + e.message);
    }
  });
  if (installed) installed.set(wx, this);
  current = this;
}

/**
 * Answers one API from the mock; resolves `{ok, result}`, never rejects.
 */
Installation.prototype.call = function (api, options) {
  var now = settings.runtime(this.wx, this.config);
  if (now.error) {
    return Promise.resolve({ ok: false, result: { errMsg: api + ':fail wx-login-kit: ' + now.error } });
  }
  return callMock(api, options, {
    request: this.request,
    mock: this.mock,
    token: this.config.token,
    appid: this.appid,
    user: now.user,
    deny: now.deny,
    strict: this.config.strict === true,
    timeout: this.config.timeout || DEFAULT_TIMEOUT,
  });
};

Installation.prototype.restore = function () {
  var wx = this.wx;
  var originals = this.originals;
  Object.keys(originals).forEach(function (api) {
    if (originals[api]) Object.defineProperty(wx, api, originals[api]);
    else delete wx[api];
  });
};

/** Puts every patched API back as it was at install. */
Installation.prototype.uninstall = function () {
  if (!this.installed) return;
  this.installed = false;
  this.restore();
  if (installed && installed.get(this.wx) === this) installed.delete(this.wx);
  if (current === this) current = null;
};

/** See the module's `withMockPhone`. */
Installation.prototype.withMockPhone = function (handler, options) {
  return wrapPhone(this, handler, options);
};

/** The installation of a build that stays on real WeChat: it changes nothing. */
function Inert(reason) {
  this.active = false;
  this.reason = reason;
}
Inert.prototype.uninstall = function () {};
Inert.prototype.withMockPhone = function (handler) {
  return handler;
};

/**
 * Patches wx.login, wx.checkSession, wx.getUserProfile, wx.getUserInfo, wx.getShareInfo and
 * wx.getWeRunData to answer from the mock, in a development build or with `enabled: true`.
 * Elsewhere it does nothing at all (it does not even read the rest of the config).
 *
 * @param {object} config `{ mock, user, appid?, enabled?, token?, strict?, deny?, timeout?, wx? }`
 * @returns {Installation|Inert} `active` says which; `uninstall()` undoes it
 */
function install(config) {
  var c = config || {};
  var target = c.wx || defaultWx();
  var on = settings.activation(target, c);
  if (!on.active) {
    // Replaces an earlier installation on this wx like an active one would.
    var previous = installed && installed.get(target);
    if (previous) previous.uninstall();
    return new Inert(on.reason);
  }
  return new Installation(target, c, on.reason);
}

var PHONE_KINDS = { getphonenumber: 'getPhoneNumber', getrealtimephonenumber: 'getRealtimePhoneNumber' };

function kindOf(options, event) {
  if (options.kind) {
    if (options.kind !== 'getPhoneNumber' && options.kind !== 'getRealtimePhoneNumber') {
      throw new TypeError(
        'wx-login-kit: `kind` is getPhoneNumber or getRealtimePhoneNumber, not ' + JSON.stringify(options.kind),
      );
    }
    return options.kind;
  }
  var type = event && typeof event.type === 'string' ? event.type.toLowerCase() : '';
  return PHONE_KINDS[type] || 'getPhoneNumber';
}

function wrapPhone(inst, handler, options) {
  if (typeof handler !== 'function') throw new TypeError('wx-login-kit: withMockPhone needs the handler function');
  var opts = options || {};
  kindOf(opts);
  return function mockPhoneHandler(event) {
    var self = this;
    var rest = Array.prototype.slice.call(arguments, 1);
    if (!inst.installed) return handler.apply(self, arguments);
    var kind = kindOf(opts, event);
    var real = event && event.detail;
    // The user declined WeChat's own dialog (DevTools still shows it): ask the mock for a refusal.
    var refused = !!(real && typeof real.errMsg === 'string' && /:fail.*deny/.test(real.errMsg));
    return inst.call(kind, { deny: opts.deny === true || refused, tamper: opts.tamper }).then(function (r) {
      var e = {};
      for (var k in event || {}) e[k] = event[k];
      if (!e.type) e.type = kind.toLowerCase();
      e.detail = r.result;
      return handler.apply(self, [e].concat(rest));
    });
  };
}

/**
 * Wraps a getPhoneNumber / getRealtimePhoneNumber button handler so that its event's `detail`
 * comes from the mock: `{errMsg, code, encryptedData?, iv?}`, `{errMsg: '...:fail user deny'}`
 * or the out-of-quota `{errMsg, errno: 1400001}`. The kind follows the event type unless
 * `options.kind` says; `options.deny` declines, `options.tamper` spoils the legacy payload.
 * Without an active installation it returns the handler itself.
 */
function withMockPhone(handler, options) {
  if (!current) {
    if (typeof handler !== 'function') throw new TypeError('wx-login-kit: withMockPhone needs the handler function');
    return handler;
  }
  return current.withMockPhone(handler, options);
}

function names(handlerNames) {
  var list = typeof handlerNames === 'string' ? [handlerNames] : handlerNames;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError("wx-login-kit: name the phone handlers to wrap, like ['onGetPhoneNumber']");
  }
  return list;
}

function wrapAll(methods, handlerNames, options, where) {
  var copy = {};
  for (var k in methods) copy[k] = methods[k];
  names(handlerNames).forEach(function (name) {
    if (typeof copy[name] !== 'function') {
      throw new TypeError('wx-login-kit: ' + where + ' has no method ' + JSON.stringify(name) + ' to wrap');
    }
    copy[name] = withMockPhone(copy[name], options);
  });
  return copy;
}

/** `Page(withMockPhonePage({...}, ['onGetPhoneNumber']))`: the named handlers wrapped. */
function withMockPhonePage(definition, handlerNames, options) {
  if (!current) return names(handlerNames) && definition;
  return wrapAll(definition, handlerNames, options, 'the page definition');
}

/** `Component(withMockPhoneComponent({methods: {...}}, ['onGetPhoneNumber']))`. */
function withMockPhoneComponent(definition, handlerNames, options) {
  if (!current) return names(handlerNames) && definition;
  var copy = {};
  for (var k in definition) copy[k] = definition[k];
  copy.methods = wrapAll(definition.methods || {}, handlerNames, options, "the component's methods");
  return copy;
}

module.exports = {
  install: install,
  withMockPhone: withMockPhone,
  withMockPhonePage: withMockPhonePage,
  withMockPhoneComponent: withMockPhoneComponent,
  PATCHED: PATCHED,
  TOURIST_APPID: settings.TOURIST_APPID,
  STORAGE_KEYS: settings.STORAGE_KEYS,
  GLOBAL_DATA_KEYS: settings.GLOBAL_DATA_KEYS,
};
