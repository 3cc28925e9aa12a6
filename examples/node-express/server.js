'use strict';

const { loadConfig } = require('./src/config');
const { openDb } = require('./src/db');
const { createWeChat } = require('./src/wechat');
const { createApp } = require('./src/app');

const log = console;

let config;
try {
  config = loadConfig();
} catch (err) {
  log.error(`config: ${err.message}`);
  process.exit(1);
}

const db = openDb(config.dbPath, { tokenTtlSeconds: config.tokenTtlSeconds });
const wechat = createWeChat(config.wechat, log);
const app = createApp({ db, wechat, appId: config.wechat.appId, log });

const pruner = setInterval(() => db.pruneExpiredTokens(), 3600 * 1000);
pruner.unref();

const server = app.listen(config.port, () => {
  log.info(
    `listening on port ${server.address().port} ` +
      `(app ${config.wechat.appId}, WeChat API at ${config.wechat.apiBase}, db ${config.dbPath})`,
  );
});
server.on('error', (err) => {
  log.error(`listen: ${err.message}`);
  process.exit(1);
});

function shutdown(signal) {
  log.info(`${signal}: shutting down`);
  server.close(() => {
    db.close();
    process.exit(0);
  });
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
