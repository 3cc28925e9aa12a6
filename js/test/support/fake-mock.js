'use strict';
// A fake of the mock's control plane for unit and component tests: answers in the shapes of
// mock-server/src/control/openapi.json (the mini-program routes, users, errors), records every
// request, and can be told to refuse, hang or answer garbage. The real mock is in the e2e tests.

const http = require('node:http');

const DEFAULT_APPID = 'wx655e895f04f02b94';

class FakeMock {
  constructor(options = {}) {
    this.url = options.url || 'http://mock.test:9100';
    this.token = options.token;
    this.strict = options.strict === true;
    this.users = new Set(options.users || ['alice', 'bob']);
    this.apps = new Set([DEFAULT_APPID, ...(options.apps || [])]);
    this.sessions = new Set(); // `${appid}/${user}` with a session_key
    this.phoneQuota = options.phoneQuota === undefined ? Infinity : options.phoneQuota;
    this.requests = [];
    // What the fake issued, for a fake backend to check: login code -> { appid, user },
    // encryptedData -> { api, user }, phone code -> { user, phone }.
    this.codes = new Map();
    this.sealed = new Map();
    this.phoneCodes = new Map();
    this.aborted = 0;
    this.counter = 0;
    // path -> override: { status, data } | 'hang' | { transport: 'request:fail ...' }
    this.overrides = new Map();
  }

  /** Requests to `path` (relative to /__mock__/), in order. */
  calls(path) {
    return this.requests.filter((r) => r.path === path);
  }

  /** Answers one request: `{status, data}`, `'hang'` or `{transport}`. */
  answer(method, path, body, headers) {
    this.requests.push({ method, path, body, headers });
    if (this.overrides.has(path)) return this.overrides.get(path);
    if (this.token && headers.Authorization !== `Bearer ${this.token}`) {
      return error(401, 'unauthorized', 'this control plane needs `Authorization: Bearer <token>`');
    }
    const appid = body && body.appid ? body.appid : DEFAULT_APPID;
    if (method === 'GET' && path.startsWith('users/')) {
      const handle = decodeURIComponent(path.slice('users/'.length));
      if (!this.users.has(handle)) return error(404, 'unknown_user', `unknown user \`${handle}\``);
      return { status: 200, data: { handle } };
    }
    if (method !== 'POST' || !path.startsWith('wx/'))
      return error(404, 'not_found', `no control-plane route ${method} /__mock__/${path}`);
    if (!this.apps.has(appid)) return error(404, 'unknown_app', `unknown appid \`${appid}\``);
    const user = body.user;
    if (!this.users.has(user)) {
      if (this.strict) return error(404, 'unknown_user', `unknown user \`${user}\``);
      this.users.add(user);
    }
    const n = ++this.counter;
    const key = `${appid}/${user}`;
    const sealed = (kind) => {
      const encryptedData = `enc-${kind}-${user}-${n}`;
      this.sealed.set(encryptedData, { api: kind, user });
      return { encryptedData, iv: `iv-${n}` };
    };
    switch (path) {
      case 'wx/login':
        this.sessions.add(key);
        this.codes.set(`code${n}${user}`, { appid, user });
        return ok({
          code: `code${n}${user}`,
          errMsg: 'login:ok',
          mock: {
            appid,
            user,
            openid: `o-${user}`,
            unionid: null,
            session_key: 'SECRET-KEY',
            rotated: true,
            expires_at: 0,
          },
        });
      case 'wx/checkSession':
        return ok({ errMsg: this.sessions.has(key) ? 'checkSession:ok' : 'checkSession:fail' });
      case 'wx/getUserProfile':
      case 'wx/getUserInfo': {
        if (!this.sessions.has(key))
          return error(409, 'no_session', `user \`${user}\` has no session_key in this app: call wx.login first`);
        const api = path.slice(3);
        const userInfo = {
          nickName: `${user} nick`,
          gender: 0,
          language: 'zh_CN',
          city: '',
          province: '',
          country: '',
          avatarUrl: 'https://example.test/a.png',
        };
        return ok({
          errMsg: `${api}:ok`,
          rawData: JSON.stringify(userInfo),
          userInfo,
          signature: `sig-${n}`,
          ...sealed(api),
        });
      }
      case 'wx/getShareInfo':
        if (!this.sessions.has(key))
          return error(409, 'no_session', `user \`${user}\` has no session_key in this app: call wx.login first`);
        return ok({
          errMsg: 'getShareInfo:ok',
          ...sealed(`share-${body.group}`),
          mock: { openGId: `tG-${body.group}` },
        });
      case 'wx/getWeRunData':
        if (!this.sessions.has(key))
          return error(409, 'no_session', `user \`${user}\` has no session_key in this app: call wx.login first`);
        return ok({ errMsg: 'getWeRunData:ok', ...sealed('werun'), mock: { stepInfoList: [] } });
      case 'wx/getPhoneNumber': {
        const kind = body.kind || 'getPhoneNumber';
        if (body.deny) return ok({ errMsg: `${kind}:fail user deny` });
        if (this.phoneQuota <= 0) return ok({ errMsg: `${kind}:fail no quota`, errno: 1400001 });
        this.phoneQuota -= 1;
        const legacy = this.sessions.has(key) ? sealed('phone') : {};
        this.phoneCodes.set(`phonecode${n}`, { user, phone: '13800138000' });
        return ok({
          errMsg: `${kind}:ok`,
          code: `phonecode${n}`,
          ...legacy,
          mock: {
            appid,
            user,
            openid: `o-${user}`,
            phone: { countryCode: '86', phoneNumber: '13800138000', purePhoneNumber: '13800138000' },
            expires_at: 0,
          },
        });
      }
      default:
        return error(404, 'not_found', `no control-plane route ${method} /__mock__/${path}`);
    }
  }

  /**
   * A wx.request-shaped function that reaches this fake (asynchronously, as the runtime does),
   * or, for URLs elsewhere, `fallback`.
   */
  request(fallback) {
    return (options) => {
      const prefix = `${this.url}/__mock__/`;
      if (!options.url.startsWith(prefix)) return fallback(options);
      const path = options.url.slice(prefix.length);
      const answer = this.answer(options.method || 'GET', path, options.data, options.header || {});
      let aborted = false;
      if (answer !== 'hang') {
        setTimeout(() => {
          if (aborted) return;
          if (answer.transport) options.fail({ errMsg: answer.transport });
          else options.success({ statusCode: answer.status, data: answer.data, header: {}, errMsg: 'request:ok' });
          if (options.complete) options.complete({});
        }, 1);
      }
      return {
        abort: () => {
          aborted = true;
          this.aborted += 1;
        },
      };
    };
  }

  /** Serves this fake over HTTP on a free loopback port; resolves the server with `url` set. */
  async listen() {
    const server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const path = req.url.replace(/^\/__mock__\//, '');
        const headers = { Authorization: req.headers.authorization };
        const answer = this.answer(req.method, path, raw ? JSON.parse(raw) : undefined, headers);
        if (answer === 'hang') return;
        if (answer.transport) return req.socket.destroy();
        res.writeHead(answer.status, {
          'content-type': typeof answer.data === 'string' ? 'text/plain' : 'application/json',
        });
        res.end(typeof answer.data === 'string' ? answer.data : JSON.stringify(answer.data));
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${server.address().port}`;
    this.server = server;
    return server;
  }

  close() {
    if (!this.server) return Promise.resolve();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }
}

function ok(data) {
  return { status: 200, data };
}

function error(status, code, message) {
  return { status, data: { error: { code, message } } };
}

module.exports = { FakeMock, DEFAULT_APPID };
