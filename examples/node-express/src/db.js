'use strict';

const crypto = require('node:crypto');
const Database = require('better-sqlite3');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  appid        TEXT    NOT NULL,
  openid       TEXT    NOT NULL,
  unionid      TEXT,
  session_key  TEXT    NOT NULL,          -- server-side only, never sent to clients
  phone        TEXT,                      -- purePhoneNumber
  phone_cc     TEXT,                      -- countryCode
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  UNIQUE (appid, openid)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_phone ON users (appid, phone) WHERE phone IS NOT NULL;

CREATE TABLE IF NOT EXISTS auth_tokens (
  token_hash  TEXT    PRIMARY KEY,        -- sha256 of the token; the token itself is not stored
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_tokens_user ON auth_tokens (user_id);
`;

const now = () => Math.floor(Date.now() / 1000);
const hashToken = (token) => crypto.createHash('sha256').update(token).digest('hex');
const newToken = () => crypto.randomBytes(32).toString('base64url');

function openDb(path, { tokenTtlSeconds }) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.exec(SCHEMA);

  const stmts = {
    findUser: db.prepare('SELECT id FROM users WHERE appid = ? AND openid = ?'),
    insertUser: db.prepare(`
      INSERT INTO users (appid, openid, unionid, session_key, created_at, updated_at)
      VALUES (@appid, @openid, @unionid, @sessionKey, @now, @now)`),
    updateSession: db.prepare(`
      UPDATE users SET session_key = @sessionKey, unionid = COALESCE(@unionid, unionid),
        updated_at = @now
      WHERE id = @id`),
    insertToken: db.prepare(`
      INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at)
      VALUES (?, ?, ?, ?)`),
    deleteToken: db.prepare('DELETE FROM auth_tokens WHERE token_hash = ?'),
    deleteExpired: db.prepare('DELETE FROM auth_tokens WHERE expires_at <= ?'),
    userByToken: db.prepare(`
      SELECT u.id, u.appid, u.openid, u.session_key, u.phone, u.phone_cc
      FROM auth_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = ? AND t.expires_at > ?`),
    phoneOwner: db.prepare('SELECT id FROM users WHERE appid = ? AND phone = ?'),
    setPhone: db.prepare('UPDATE users SET phone = ?, phone_cc = ?, updated_at = ? WHERE id = ?'),
  };

  function issueToken(userId) {
    const token = newToken();
    const t = now();
    stmts.insertToken.run(hashToken(token), userId, t, t + tokenTtlSeconds);
    return token;
  }

  return {
    close: () => db.close(),

    /** Creates or updates the user of (appid, openid), stores the session_key, issues a token. */
    login: db.transaction(({ appid, openid, unionid, sessionKey }) => {
      const row = { appid, openid, unionid: unionid || null, sessionKey, now: now() };
      const existing = stmts.findUser.get(appid, openid);
      let id;
      if (existing) {
        id = existing.id;
        stmts.updateSession.run({ ...row, id });
      } else {
        id = Number(stmts.insertUser.run(row).lastInsertRowid);
      }
      return { userId: id, token: issueToken(id) };
    }),

    userByToken(token) {
      return stmts.userByToken.get(hashToken(token), now()) || null;
    },

    /** Replaces `oldToken` with a new one; null if `oldToken` was already gone. */
    rotateToken: db.transaction((oldToken, userId) => {
      const { changes } = stmts.deleteToken.run(hashToken(oldToken));
      if (changes === 0) return null;
      return issueToken(userId);
    }),

    revokeToken(token) {
      stmts.deleteToken.run(hashToken(token));
    },

    pruneExpiredTokens() {
      return stmts.deleteExpired.run(now()).changes;
    },

    /**
     * Binds a phone number to a user. Returns false if another user of the same app holds it.
     */
    bindPhone: db.transaction((user, { purePhoneNumber, countryCode }) => {
      const owner = stmts.phoneOwner.get(user.appid, purePhoneNumber);
      if (owner && owner.id !== user.id) return false;
      stmts.setPhone.run(purePhoneNumber, countryCode == null ? null : String(countryCode), now(), user.id);
      return true;
    }),
  };
}

module.exports = { openDb };
