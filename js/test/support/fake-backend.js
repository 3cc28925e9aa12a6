'use strict';
// A fake of login-core's HTTP API for the component tests, over HTTP on a free loopback port:
// it accepts the codes and payloads a FakeMock issued (as login-core accepts what the real mock
// issued) and refuses anything else, such as a code from real WeChat. The real login-core is in
// the e2e test.

const http = require('node:http');

class FakeBackend {
  constructor(mock) {
    this.mock = mock;
    this.requests = [];
    this.users = new Map(); // mock user handle -> user
    this.tokens = new Map(); // token -> user handle
    this.usedCodes = new Set();
  }

  calls(path) {
    return this.requests.filter((r) => r.path === path);
  }

  /** Makes the next call with `token` answer 401, as an expired session does. */
  revoke(token) {
    this.tokens.delete(token);
  }

  handle(method, path, body, authorization) {
    const fail = (status, code, message) => ({ status, data: { error: { code, message } } });
    if (method === 'POST' && path === '/api/login') {
      const issued = this.mock.codes.get(body && body.code);
      if (!issued) return fail(400, 'code_invalid', 'WeChat does not know this code: call wx.login again');
      if (this.usedCodes.has(body.code)) return fail(400, 'code_used', 'this code was used: call wx.login again');
      this.usedCodes.add(body.code);
      let user = this.users.get(issued.user);
      const isNew = !user;
      if (!user) {
        user = { id: this.users.size + 1, phone_bound: false, phone: null, profile: null, apps: [issued.appid] };
        this.users.set(issued.user, user);
      }
      const token = `token-${this.tokens.size + 1}-${issued.user}`.padEnd(43, 'x');
      this.tokens.set(token, issued.user);
      return {
        status: 200,
        data: { token, token_type: 'Bearer', expires_at: 0, expires_in: 3600, user: { ...user, is_new: isNew } },
      };
    }
    const handle = this.tokens.get((authorization || '').replace(/^Bearer /, ''));
    if (!handle) return fail(401, 'login_required', 'log in again');
    const user = this.users.get(handle);
    if (method === 'GET' && path === '/api/me') return { status: 200, data: user };
    if (method === 'POST' && path === '/api/me/profile') {
      const sealed = this.mock.sealed.get(body.encryptedData);
      if (!sealed || sealed.user !== handle || sealed.api !== 'getUserProfile')
        return fail(400, 'decrypt_failed', 'the data does not open');
      user.profile = { nickName: JSON.parse(body.rawData).nickName };
      return { status: 200, data: { updated: true, user } };
    }
    if (method === 'POST' && path === '/api/me/phone') {
      const issued = this.mock.phoneCodes.get(body.code);
      if (!issued || issued.user !== handle)
        return fail(400, 'phone_code_invalid', 'WeChat does not know this phone code');
      user.phone = { phoneNumber: issued.phone, purePhoneNumber: issued.phone, countryCode: '86' };
      user.phone_bound = true;
      return { status: 200, data: { joined: false, user } };
    }
    return fail(404, 'not_found', `no route ${method} ${path}`);
  }

  async listen() {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = raw ? JSON.parse(raw) : undefined;
        this.requests.push({ method: req.method, path: req.url, body });
        const answer = this.handle(req.method, req.url, body, req.headers.authorization);
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.data));
      });
    });
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
  }

  close() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }
}

module.exports = { FakeBackend };
