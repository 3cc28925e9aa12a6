-- 0002_shared_state: what the instances on one database share beside users and sessions.
--
-- `access_tokens`: each app's WeChat access token, one row per app, so that every instance
-- uses the same token and one refresh serves them all. The token is sealed with the server key
-- (bound to the appid), like session_keys. `generation` counts the tokens the row has held: an
-- instance whose token WeChat rejects refreshes only if the row still holds that generation.
-- Refreshes take an advisory lock per app (see `store/postgres/shared.rs`), not a row lock:
-- the first refresh of an app has no row to lock yet.
CREATE TABLE access_tokens (
    appid        TEXT    PRIMARY KEY,
    sealed_token BYTEA   NOT NULL,
    generation   BIGINT  NOT NULL CHECK (generation > 0),
    expires_at   BIGINT  NOT NULL,
    refresh_at   BIGINT  NOT NULL CHECK (refresh_at <= expires_at),
    -- WeChat rejected this generation and the forced refresh that followed failed: it is not
    -- handed out again, and the next refresh forces a new token.
    rejected     BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at   BIGINT  NOT NULL
);

-- The rate limits' windows (logins per address, attempts per code, SMS and password limits),
-- counted here so that every instance counts against one limit. UNLOGGED: no WAL, so a count
-- costs no disk flush; after a crash of the server the table is empty, which only forgets
-- the counts of windows that were running.
CREATE UNLOGGED TABLE rate_limits (
    name       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    window_end BIGINT  NOT NULL,
    hits       INTEGER NOT NULL CHECK (hits > 0),
    PRIMARY KEY (name, key)
);
CREATE INDEX rate_limits_end ON rate_limits (window_end);
