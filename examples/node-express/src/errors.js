'use strict';

/** An error the API answers as `{"ok": false, "error": slug}` with `status`. */
class HttpError extends Error {
  constructor(status, slug, { headers = {}, cause } = {}) {
    super(slug, cause ? { cause } : undefined);
    this.name = 'HttpError';
    this.status = status;
    this.slug = slug;
    this.headers = headers;
  }
}

/** WeChat answered, with a non-zero errcode. */
class WeChatError extends Error {
  constructor(errcode, errmsg, { path, date } = {}) {
    super(`WeChat ${path || ''} errcode ${errcode}: ${errmsg}`);
    this.name = 'WeChatError';
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.path = path;
    this.date = date; // the Date header of the answer, if any
  }
}

/** WeChat could not be reached, or answered something that is not a WeChat answer. */
class UpstreamError extends Error {
  /** @param {'timeout'|'bad_gateway'} kind */
  constructor(kind, message, { path, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = 'UpstreamError';
    this.kind = kind;
    this.path = path;
  }
}

const badRequest = () => new HttpError(400, 'bad_request');
const unauthorized = () =>
  new HttpError(401, 'unauthorized', { headers: { 'WWW-Authenticate': 'Token' } });
const relogin = (cause) =>
  new HttpError(401, 'relogin', { cause, headers: { 'WWW-Authenticate': 'Token error="relogin"' } });

// Seconds until the next midnight in China (UTC+8), when WeChat's daily quotas reset.
function secondsToChinaMidnight(now) {
  const shifted = Math.floor(now / 1000) + 8 * 3600;
  return 86400 - (shifted % 86400);
}

/**
 * Maps what went wrong while talking to WeChat to what the client is told. WeChat's details
 * (errcode, errmsg, rid) go to the log only.
 */
function fromWeChat(err) {
  if (err instanceof UpstreamError) {
    return err.kind === 'timeout'
      ? new HttpError(504, 'upstream_timeout', { cause: err })
      : new HttpError(502, 'upstream_error', { cause: err });
  }
  if (!(err instanceof WeChatError)) return err;
  switch (err.errcode) {
    case 40029: // invalid code (unknown, expired, another app's)
    case 40163: // code been used
      return relogin(err);
    case 40226: // code blocked: high-risk user
      return new HttpError(403, 'blocked', { cause: err });
    case 45011: // minute quota
      return new HttpError(429, 'rate_limited', { cause: err, headers: { 'Retry-After': '60' } });
    case 45009: {
      // daily quota: back after midnight, China time
      const now = Date.parse(err.date || '') || Date.now();
      const retryAfter = String(secondsToChinaMidnight(now));
      return new HttpError(429, 'rate_limited', { cause: err, headers: { 'Retry-After': retryAfter } });
    }
    case -1: // system error, still there after our retries
      return new HttpError(503, 'upstream_unavailable', { cause: err });
    case 40013: // invalid appid
    case 40125: // invalid appsecret
    case 40164: // IP not in the whitelist
    case 41002: // appid missing
    case 41004: // appsecret missing
    case 40243: // AppSecret frozen
    case 50004:
    case 50007:
      // Our own configuration is wrong: nothing the user can do about it.
      return new HttpError(500, 'server_misconfigured', { cause: err });
    default:
      return new HttpError(502, 'upstream_error', { cause: err });
  }
}

module.exports = {
  HttpError,
  WeChatError,
  UpstreamError,
  badRequest,
  unauthorized,
  relogin,
  fromWeChat,
  secondsToChinaMidnight,
};
