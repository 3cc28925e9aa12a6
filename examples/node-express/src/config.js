'use strict';

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function loadConfig() {
  return {
    port: intFromEnv('PORT', 3000),
    dbPath: process.env.DB_PATH || './data.db',
    // How long an API token lives before the client has to log in again.
    tokenTtlSeconds: 30 * 24 * 3600,
    wechat: {
      // https://api.weixin.qq.com in production; the mock when testing.
      apiBase: process.env.WECHAT_API_BASE || 'http://127.0.0.1:9100',
      appId: requiredEnv('WX_APPID'),
      secret: requiredEnv('WX_SECRET'),
      timeoutMs: intFromEnv('WX_TIMEOUT_MS', 2000),
    },
  };
}

module.exports = { loadConfig };
