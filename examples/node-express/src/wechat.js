'use strict';

// Everything that talks to WeChat's server API goes through here, on node-easywechat's MiniApp.
//
// node-easywechat builds all of its requests (sns/jscode2session, cgi-bin/token and the wxa/*
// calls made with getClient()) on one axios instance created from the `http` config, with
// `baseURL` defaulting to https://api.weixin.qq.com/. Setting `http.baseURL` therefore points
// every call, the access-token fetch included, at WECHAT_API_BASE (the mock when testing).

const crypto = require('node:crypto');
const { MiniApp, CacheInterface } = require('node-easywechat');
const { WeChatError, UpstreamError } = require('./errors');

const SYSTEM_ERROR_TRIES = 3; // -1 "system error": tries in all, before giving up
const BACKOFF_MS = 100; // 100 ms, then 200 ms
const TOKEN_ERRORS = new Set([40001, 40014, 42001]);

/**
 * The SDK's default cache is a file cache in the working directory; an access token written
 * there would outlive the process (and the mock it came from). Keep it in memory instead.
 */
class MemoryCache extends CacheInterface {
  constructor() {
    super();
    this.items = new Map();
  }

  async get(key) {
    const item = this.items.get(key);
    if (!item) return null;
    if (item.expiresAt && item.expiresAt <= Date.now()) {
      this.items.delete(key);
      return null;
    }
    return item.value;
  }

  async has(key) {
    return (await this.get(key)) !== null;
  }

  async set(key, value = null, lifetime = 0) {
    // Give up a token a little before WeChat does.
    const ttl = lifetime > 0 ? Math.max(lifetime - 300, 1) : 0;
    this.items.set(key, { value, expiresAt: ttl ? Date.now() + ttl * 1000 : 0 });
    return true;
  }

  async delete(key) {
    return this.items.delete(key);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const isTokenEndpoint = (path) => /cgi-bin\/(stable_)?token/.test(path || '');

function endpointOf(config) {
  return String((config && config.url) || '').replace(/^\/+/, '');
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/**
 * Axios interceptors on the SDK's instance: WeChat answers business errors with HTTP 200 and an
 * `errcode`, so anything else (a gateway's 5xx page, an HTML body, a cut connection) is a
 * transport failure, and an `errcode` other than 0 becomes a WeChatError. The SDK itself would
 * hand a non-JSON body back as a parsed query string and never looks at the HTTP status.
 */
function installInterceptors(axios) {
  axios.interceptors.response.use(
    (response) => {
      const path = endpointOf(response.config);
      if (response.status < 200 || response.status >= 300) {
        throw new UpstreamError('bad_gateway', `HTTP ${response.status} from ${path}`, { path });
      }
      const body = response.data;
      if (!isPlainObject(body)) {
        throw new UpstreamError('bad_gateway', `answer from ${path} is not a JSON object`, { path });
      }
      if (body.errcode !== undefined && body.errcode !== 0) {
        throw new WeChatError(body.errcode, body.errmsg, {
          path,
          date: response.headers && response.headers.date,
        });
      }
      return response;
    },
    (err) => {
      const path = endpointOf(err.config);
      if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT') {
        throw new UpstreamError('timeout', `${path}: ${err.message}`, { path, cause: err });
      }
      throw new UpstreamError('bad_gateway', `${path}: ${err.code || err.message}`, {
        path,
        cause: err,
      });
    },
  );
}

function createWeChat({ apiBase, appId, secret, timeoutMs }, log = console) {
  const app = new MiniApp({
    app_id: appId,
    secret,
    http: {
      baseURL: apiBase.replace(/\/*$/, '/'),
      timeout: timeoutMs,
    },
  });
  app.setCache(new MemoryCache());
  installInterceptors(app.getHttpClient().getInstance());

  /**
   * Runs one WeChat call: retries `-1 system error` (3 tries in all, short backoff) and, for
   * calls that carry an access token, fetches a new token once on 40001/40014/42001.
   */
  async function call(name, fn, { usesToken = false } = {}) {
    let systemErrors = 0;
    let tokenRefreshed = false;
    let refreshToken = false;
    for (;;) {
      try {
        if (refreshToken) {
          refreshToken = false;
          await app.getAccessToken().refresh();
        }
        return await fn();
      } catch (err) {
        if (!(err instanceof WeChatError)) throw err;
        if (err.errcode === -1 && ++systemErrors < SYSTEM_ERROR_TRIES) {
          log.warn(`wechat ${name}: ${err.path} system error (try ${systemErrors}), retrying`);
          await sleep(BACKOFF_MS * systemErrors);
          continue;
        }
        if (usesToken && !tokenRefreshed && TOKEN_ERRORS.has(err.errcode) && !isTokenEndpoint(err.path)) {
          log.warn(`wechat ${name}: access token rejected (${err.errcode}), fetching a new one`);
          tokenRefreshed = true;
          refreshToken = true;
          continue;
        }
        throw err;
      }
    }
  }

  return {
    /** sns/jscode2session: `{ openid, session_key, unionid? }` */
    async codeToSession(code) {
      return call('jscode2session', async () => {
        try {
          return await app.getUtils().codeToSession(code);
        } catch (err) {
          // The SDK throws a plain Error when a success answer has no openid.
          if (err instanceof Error && /^code2Session error/.test(err.message)) {
            throw new UpstreamError('bad_gateway', err.message, { path: 'sns/jscode2session' });
          }
          throw err;
        }
      });
    },

    /**
     * wxa/business/getuserphonenumber: `{ phoneNumber, purePhoneNumber, countryCode, watermark }`.
     * With the user's `openid`, WeChat refuses (40029) a code pressed by someone else.
     */
    async getPhoneNumber(code, openid) {
      return call(
        'getuserphonenumber',
        async () => {
          const response = await app
            .getClient()
            .postJson('wxa/business/getuserphonenumber', { code, openid });
          const info = response.toObject().phone_info;
          if (!isPlainObject(info) || typeof info.purePhoneNumber !== 'string') {
            throw new UpstreamError('bad_gateway', 'getuserphonenumber: no phone_info', {
              path: 'wxa/business/getuserphonenumber',
            });
          }
          return info;
        },
        { usesToken: true },
      );
    },

    /**
     * wxa/checksession: resolves when WeChat still holds `sessionKey` as the user's current key;
     * rejects with WeChatError 87009 (or 87007) when it does not.
     */
    async checkSession(openid, sessionKey) {
      // Login-state signature: hex HMAC-SHA256 keyed with the session_key string, over the
      // request body, which for this GET is the empty string.
      const signature = crypto.createHmac('sha256', sessionKey).update('').digest('hex');
      return call(
        'checksession',
        async () => {
          await app.getClient().get('wxa/checksession', {
            params: { openid, signature, sig_method: 'hmac_sha256' },
          });
          return true;
        },
        { usesToken: true },
      );
    },
  };
}

module.exports = { createWeChat, MemoryCache };
