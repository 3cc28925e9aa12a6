-- 0003: phone-first logins: registration tickets, SMS codes, passwords, and sessions opened
-- without WeChat (an SMS or password login without a ticket).
--
-- A user without any identity and with a phone number is a phone-only user: `users` already
-- holds one (its phone columns and the unique `users_phone` index are the one owner per
-- number). Times are Unix milliseconds.

-- A WeChat identity that no account knows yet, waiting for a verified phone number. Single
-- use: the login that registers with it deletes it. The session_key is sealed as on
-- `identities` (bound to the same appid and openid), so it moves there as is.
CREATE TABLE registration_tickets (
    ticket_hash BLOB    PRIMARY KEY CHECK (length(ticket_hash) = 32),
    appid       TEXT    NOT NULL,
    openid      TEXT    NOT NULL,
    unionid     TEXT,
    session_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX registration_tickets_end ON registration_tickets (expires_at);

-- The pending SMS code of a number, one per purpose: a new code replaces the old one. Only a
-- keyed hash of the code is stored. `attempts` counts wrong tries.
CREATE TABLE sms_codes (
    country_code      TEXT    NOT NULL,
    pure_phone_number TEXT    NOT NULL,
    purpose           TEXT    NOT NULL,
    code_hash         BLOB    NOT NULL CHECK (length(code_hash) = 32),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    PRIMARY KEY (country_code, pure_phone_number, purpose)
);
CREATE INDEX sms_codes_end ON sms_codes (expires_at);

-- A user's password: an argon2id hash in PHC string form.
CREATE TABLE passwords (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id),
    hash       TEXT    NOT NULL CHECK (hash LIKE '$argon2%'),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Sessions: `openid` may now be NULL (a session opened without WeChat belongs to an app but
-- to no identity; the foreign key is not checked for it). SQLite cannot drop NOT NULL in
-- place: the table is copied. `legacy_alter_table` keeps the rename from re-checking the
-- writer connection's temporary trigger, which names `sessions` (see `store/sqlite/login.rs`)
-- and would fail the rename while the table is briefly missing.
PRAGMA legacy_alter_table = ON;
CREATE TABLE sessions_0003 (
    token_hash          BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id             INTEGER NOT NULL REFERENCES users (id),
    appid               TEXT    NOT NULL,
    openid              TEXT,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    revoked_at          INTEGER,
    FOREIGN KEY (appid, openid) REFERENCES identities (appid, openid)
) WITHOUT ROWID;
INSERT INTO sessions_0003 (token_hash, user_id, appid, openid, created_at, expires_at,
        absolute_expires_at, revoked_at)
    SELECT token_hash, user_id, appid, openid, created_at, expires_at, absolute_expires_at,
        revoked_at
    FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_0003 RENAME TO sessions;
PRAGMA legacy_alter_table = OFF;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_end ON sessions (min(expires_at, absolute_expires_at));
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
