// The one function that answers a patched wx API from the mock's control plane.
//
// It is self-contained (no closure, no require, nothing from outside but its arguments and the
// timers) because miniprogram-automator's mockWxMethod ships a function to the mini-program as
// source text: the shim calls it directly, the automator helper sends its source, and both answer
// alike.

/**
 * Asks the mock for the answer of one wx API.
 *
 * @param {string} api `login`, `checkSession`, `getUserProfile`, `getUserInfo`, `getShareInfo`,
 *   `getWeRunData`, `getPhoneNumber` or `getRealtimePhoneNumber`
 * @param {object} options what the app passed to the API (callbacks are not touched); for the
 *   phone kinds `{ deny?, tamper? }`
 * @param {object} ctx `{ request, mock, token, appid, user, deny, strict, timeout }`: `request`
 *   is a `wx.request`-shaped function, `mock` the base URL without a trailing slash, `appid`
 *   undefined for the mock's default app, `deny` the API names the user declines
 * @returns {Promise<{ok: boolean, result: object}>} `result` is what WeChat hands to `success`
 *   (ok) or `fail` (not ok); for the phone kinds it is the button event's `detail` either way.
 *   Never rejects and never hangs: a mock that is down or silent is a failure naming its URL.
 */
function callMock(api, options, ctx) {
  // One row per API: the control-plane route, how the user can decline, which parameters WeChat
  // checks before doing anything, and the body fields beyond `user` and `appid`.
  var APIS = {
    login: { route: 'wx/login', needs: 'a login code', createsUser: true },
    checkSession: { route: 'wx/checkSession', needs: 'a checkSession verdict' },
    getUserProfile: {
      route: 'wx/getUserProfile',
      needs: 'encryptedData',
      declines: 'auth deny',
      params: { desc: 'String' },
    },
    getUserInfo: { route: 'wx/getUserInfo', needs: 'encryptedData', declines: 'auth deny' },
    getShareInfo: {
      route: 'wx/getShareInfo',
      needs: 'encryptedData',
      params: { shareTicket: 'String' },
      // The mock keys a group by name: whatever shareTicket the app got names the group.
      body: function (o) {
        return { group: o.shareTicket };
      },
    },
    getWeRunData: { route: 'wx/getWeRunData', needs: 'encryptedData', declines: 'auth deny' },
    getPhoneNumber: { route: 'wx/getPhoneNumber', phone: true, createsUser: true },
    getRealtimePhoneNumber: { route: 'wx/getPhoneNumber', phone: true, createsUser: true },
  };
  var row = APIS[api];
  if (!row) {
    return Promise.resolve({ ok: false, result: { errMsg: api + ':fail not answered by wx-login-kit' } });
  }
  var opts = options || {};
  var timeout = typeof opts.timeout === 'number' && !row.phone ? opts.timeout : ctx.timeout;
  var where = 'mock at ' + ctx.mock;

  function fail(reason, extra) {
    return { ok: false, result: assign({ errMsg: api + ':fail ' + reason }, extra) };
  }

  function assign(target, source) {
    for (var k in source || {}) {
      if (Object.prototype.hasOwnProperty.call(source, k)) target[k] = source[k];
    }
    return target;
  }

  function typeName(value) {
    return Object.prototype.toString.call(value).slice(8, -1);
  }

  function declined() {
    var list = ctx.deny || [];
    for (var i = 0; i < list.length; i++) if (list[i] === api) return true;
    return false;
  }

  // One control-plane request, settled once: by the answer, by the transport's failure, or by
  // our own timer for a `request` that never calls back.
  function send(method, path, body) {
    return new Promise(function (resolve) {
      var done = false;
      var task;
      var header = { 'content-type': 'application/json' };
      if (ctx.token) header.Authorization = 'Bearer ' + ctx.token;
      function settle(outcome) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(outcome);
      }
      var timer = setTimeout(function () {
        settle({ error: 'no answer in ' + timeout + ' ms' });
        if (task && typeof task.abort === 'function') task.abort();
      }, timeout + 250);
      try {
        task = ctx.request({
          url: ctx.mock + '/__mock__/' + path,
          method: method,
          data: body,
          header: header,
          timeout: timeout,
          dataType: 'json',
          success: function (res) {
            settle({ status: res.statusCode, data: res.data });
          },
          fail: function (err) {
            settle({ error: (err && err.errMsg) || String(err) });
          },
        });
      } catch (e) {
        settle({ error: 'wx.request threw: ' + (e && e.message ? e.message : String(e)) });
      }
    });
  }

  // Why a request did not give a 200 with a JSON object, as the end of an errMsg.
  function refusal(answer) {
    if (answer.error !== undefined) return where + ' unreachable: ' + answer.error;
    var data = answer.data;
    var e = data && typeof data === 'object' && data.error;
    if (!e || typeof e.code !== 'string') {
      var text = typeof data === 'string' ? data : JSON.stringify(data);
      var shown = text && text.length > 200 ? text.slice(0, 200) + '...' : text;
      return where + ' refused: HTTP ' + answer.status + (shown ? ' ' + shown : '');
    }
    var hint = '';
    if (e.code === 'unauthorized') hint = ' (pass the control token as `token`)';
    if (e.code === 'unknown_app') {
      hint = ' (create the app with POST /__mock__/apps, or pass `appid` to install)';
    }
    if (e.code === 'no_session') hint = ' (call wx.login first)';
    return where + ' refused: ' + e.code + ': ' + e.message + hint;
  }

  function isObjectAnswer(answer) {
    return answer.status === 200 && answer.data !== null && typeof answer.data === 'object';
  }

  // WeChat checks parameter types before anything else, with this wording.
  var params = row.params || {};
  for (var name in params) {
    if (typeName(opts[name]) !== params[name]) {
      return Promise.resolve(
        fail(
          'parameter error: parameter.' +
            name +
            ' should be ' +
            params[name] +
            ' instead of ' +
            typeName(opts[name]) +
            ';',
        ),
      );
    }
  }
  if (row.declines && declined()) return Promise.resolve(fail(row.declines));

  var body = { user: ctx.user };
  if (ctx.appid) body.appid = ctx.appid;
  if (row.body) assign(body, row.body(opts));
  if (row.phone) {
    if (api !== 'getPhoneNumber') body.kind = api;
    if (opts.deny === true || declined()) body.deny = true;
    if (opts.tamper) body.tamper = opts.tamper;
  }

  // Under `strict` an unknown user fails the way WeChat fails, before the mock can create it.
  var precheck =
    ctx.strict && row.createsUser
      ? send('GET', 'users/' + encodeURIComponent(ctx.user)).then(function (answer) {
          if (answer.status === 200) return null;
          var e = answer.data && answer.data.error;
          if (answer.status === 404 && e && e.code === 'unknown_user') {
            return fail(
              'unknown user `' + ctx.user + '` (strict: seed it with POST /__mock__/users at ' + ctx.mock + ')',
            );
          }
          return fail(refusal(answer));
        })
      : Promise.resolve(null);

  return precheck.then(function (refused) {
    if (refused) return refused;
    return send('POST', row.route, body).then(function (answer) {
      if (!isObjectAnswer(answer)) return fail(refusal(answer));
      var data = answer.data;
      var result = {};
      for (var k in data) if (k !== 'mock') result[k] = data[k];
      var errMsg = typeof data.errMsg === 'string' ? data.errMsg : '';
      if (row.phone) {
        // The mock's answer is the event detail, success or not.
        if (errMsg.indexOf(api + ':') !== 0) {
          return fail(where + ' answered without an errMsg for ' + api + ': is it a mock-server?');
        }
        return { ok: errMsg === api + ':ok', result: result };
      }
      if (errMsg === api + ':ok') {
        if (api === 'login' && typeof data.code !== 'string') {
          return fail(where + ' answered without ' + row.needs + ': is it a mock-server?');
        }
        return { ok: true, result: result };
      }
      if (errMsg.indexOf(api + ':fail') === 0) return { ok: false, result: result };
      return fail(where + ' answered without ' + row.needs + ': is it a mock-server?');
    });
  });
}

module.exports = { callMock: callMock };
