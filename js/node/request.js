'use strict';
// wx.request for Node, over node:http and node:https, with the mini-program runtime's
// behaviour: JSON bodies for objects, query strings for GET, `data` parsed as JSON when it is
// JSON (dataType 'json'), `statusCode` and `header` on success, `request:fail <reason>` on
// failure, a `timeout` in milliseconds, and a task with abort().

const http = require('node:http');
const https = require('node:https');

const DEFAULT_TIMEOUT = 60000;

function headerValue(header, name) {
  for (const key of Object.keys(header)) {
    if (key.toLowerCase() === name) return String(header[key]);
  }
  return undefined;
}

function encodeForm(data) {
  return new URLSearchParams(
    Object.entries(data).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
  ).toString();
}

function invoke(self, fn, arg) {
  if (typeof fn !== 'function') return;
  try {
    fn.call(self, arg);
  } catch (e) {
    // As in the runtime: a throwing callback is reported, it does not fail the request.
    setImmediate(() => {
      throw e;
    });
  }
}

/** `wx.request(options)`: returns the task (`abort()`); like the runtime's, it has no Promise style. */
function request(options) {
  const o = options || {};
  let settled = false;
  const settle = (ok, res) => {
    if (settled) return;
    settled = true;
    invoke(o, ok ? o.success : o.fail, res);
    invoke(o, o.complete, res);
  };
  const fail = (reason) => settle(false, { errMsg: `request:fail ${reason}` });

  let url;
  try {
    url = new URL(o.url);
  } catch {
    setImmediate(() => fail(`invalid url ${JSON.stringify(o.url)}`));
    return { abort() {} };
  }
  const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!transport) {
    setImmediate(() => fail(`invalid url ${o.url}: only http and https`));
    return { abort() {} };
  }
  const method = String(o.method || 'GET').toUpperCase();
  const header = { ...(o.header || {}) };
  if (!headerValue(header, 'content-type')) header['content-type'] = 'application/json';
  let body;
  if (o.data !== undefined && o.data !== null) {
    if (method === 'GET') {
      const query = typeof o.data === 'string' ? o.data : encodeForm(o.data);
      if (query) url.search += (url.search ? '&' : '') + query;
    } else if (typeof o.data === 'string' || Buffer.isBuffer(o.data)) {
      body = o.data;
    } else if (o.data instanceof ArrayBuffer) {
      body = Buffer.from(o.data);
    } else if (headerValue(header, 'content-type').includes('application/x-www-form-urlencoded')) {
      body = encodeForm(o.data);
    } else {
      body = JSON.stringify(o.data);
    }
  }
  const timeout = typeof o.timeout === 'number' && o.timeout > 0 ? o.timeout : DEFAULT_TIMEOUT;
  const req = transport.request(url, { method, headers: header });
  const timer = setTimeout(() => {
    fail('timeout');
    req.destroy();
  }, timeout);
  req.on('response', (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('error', (e) => {
      clearTimeout(timer);
      fail(e.message);
    });
    res.on('end', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      let data;
      if (o.responseType === 'arraybuffer') {
        data = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
      } else {
        data = raw.toString('utf8');
        if ((o.dataType || 'json') === 'json') {
          try {
            data = JSON.parse(data);
          } catch {
            // The runtime hands over the text when it is not JSON.
          }
        }
      }
      const headers = {};
      for (let i = 0; i < res.rawHeaders.length; i += 2) headers[res.rawHeaders[i]] = res.rawHeaders[i + 1];
      settle(true, { data, statusCode: res.statusCode, header: headers, cookies: [], errMsg: 'request:ok' });
    });
  });
  req.on('error', (e) => {
    clearTimeout(timer);
    fail(e.message);
  });
  req.end(body);
  return {
    abort() {
      clearTimeout(timer);
      fail('abort');
      req.destroy();
    },
  };
}

module.exports = { request };
