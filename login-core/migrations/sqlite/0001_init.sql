-- 0001_init: users, their WeChat identities, and login sessions.
--
-- Times are Unix milliseconds (INTEGER). The UNIQUE constraints are the safety net behind
-- the store's serialized write transactions: "one user per unionid", "one owner per phone
-- number", "one identity per (appid, openid)" and "one identity per user and app" hold even
-- if application logic were wrong.

CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Set once WeChat tells us; one user per unionid (NULLs are distinct in SQLite).
    unionid           TEXT UNIQUE,
    -- The bound number: all three columns set, or none.
    phone_number      TEXT,
    pure_phone_number TEXT,
    country_code      TEXT,
    -- The profile as JSON (camelCase keys), NULL until set.
    profile           TEXT CHECK (profile IS NULL OR json_valid(profile)),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    CHECK ((phone_number IS NULL) = (pure_phone_number IS NULL)
       AND (pure_phone_number IS NULL) = (country_code IS NULL))
);

-- One owner per phone number, matched by country code and number without prefix.
CREATE UNIQUE INDEX users_phone ON users (country_code, pure_phone_number)
    WHERE pure_phone_number IS NOT NULL;

CREATE TABLE identities (
    appid       TEXT    NOT NULL,
    openid      TEXT    NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    -- The session_key sealed with the server key; opaque to the store.
    session_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (appid, openid),
    -- A person has one openid per app.
    UNIQUE (user_id, appid)
) WITHOUT ROWID;

CREATE TABLE sessions (
    -- SHA-256 of the login token; the token itself is never stored.
    token_hash          BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id             INTEGER NOT NULL REFERENCES users (id),
    appid               TEXT    NOT NULL,
    openid              TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    revoked_at          INTEGER,
    FOREIGN KEY (appid, openid) REFERENCES identities (appid, openid)
) WITHOUT ROWID;

-- Moving a user's sessions when accounts are joined (and the FK check on deleting a user).
CREATE INDEX sessions_user ON sessions (user_id);
-- An identity's sessions (and the FK check on identities).
CREATE INDEX sessions_identity ON sessions (appid, openid);
-- Purging: the expression must match the one in the purge query exactly.
CREATE INDEX sessions_end ON sessions (min(expires_at, absolute_expires_at));
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
