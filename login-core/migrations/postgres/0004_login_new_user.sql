-- 0004_login_new_user: a login that creates its user no longer reads it back: the function
-- returns the row it has just written (one identity, no phone, no profile, created and
-- updated now), one statement fewer for every first login, the commonest write. And the new
-- identity is inserted in one place for both ways a login adds one (a new user, or the
-- unionid's user joining this app). Otherwise the function is 0003's: the same statements in
-- the same order, the same rules and races.
CREATE OR REPLACE FUNCTION login_core_login(
    p_appid               TEXT,
    p_openid              TEXT,
    p_unionid             TEXT,
    p_session_key         BYTEA,
    p_now                 BIGINT,
    p_token_hash          BYTEA,
    p_expires_at          BIGINT,
    p_absolute_expires_at BIGINT,
    p_may_create          BOOLEAN
) RETURNS TABLE (
    is_new            BOOLEAN,
    note              TEXT,
    id                BIGINT,
    unionid           TEXT,
    phone_number      TEXT,
    pure_phone_number TEXT,
    country_code      TEXT,
    profile           TEXT,
    created_at        BIGINT,
    updated_at        BIGINT,
    appid             TEXT,
    openid            TEXT
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_user    BIGINT;
    v_new     BOOLEAN := FALSE;
    v_note    TEXT;
    v_current TEXT;
    v_holder  BIGINT;
    v_in_app  BOOLEAN;
BEGIN
    UPDATE identities i SET session_key = p_session_key, updated_at = p_now
     WHERE i.appid = p_appid AND i.openid = p_openid
    RETURNING i.user_id INTO v_user;

    IF v_user IS NOT NULL THEN
        IF p_unionid IS NOT NULL THEN
            -- A unionid WeChat now reports for a known identity: attached if the user has
            -- none and nobody holds it; otherwise noted, and the login goes on.
            SELECT u.unionid, (SELECT h.id FROM users h WHERE h.unionid = p_unionid)
              INTO v_current, v_holder
              FROM users u WHERE u.id = v_user;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'identity of missing user %', v_user
                      USING ERRCODE = 'data_corrupted';
            END IF;
            IF v_current IS NOT NULL THEN
                IF v_current <> p_unionid THEN
                    v_note := 'unionid_differs';
                END IF;
            ELSIF v_holder IS NOT NULL THEN
                v_note := 'unionid_taken';
            ELSE
                UPDATE users u SET unionid = p_unionid, updated_at = p_now
                 WHERE u.id = v_user AND u.unionid IS NULL;
            END IF;
        END IF;
    ELSE
        -- The holder of the unionid, and whether it has an identity in this app.
        IF p_unionid IS NOT NULL THEN
            SELECT u.id, EXISTS (SELECT 1 FROM identities i
                                  WHERE i.user_id = u.id AND i.appid = p_appid)
              INTO v_holder, v_in_app
              FROM users u WHERE u.unionid = p_unionid;
        END IF;
        IF v_holder IS NOT NULL AND NOT v_in_app THEN
            -- The unionid's user joins this app.
            v_user := v_holder;
        ELSIF NOT p_may_create THEN
            RETURN;
        ELSE
            IF v_holder IS NOT NULL THEN
                -- Same unionid, same app, another openid: WeChat broke its own rule (e.g.
                -- after an account migration). Failing would lock the person out, so the
                -- openid gets a user of its own, without the unionid that is taken.
                v_note := 'unionid_holder_in_app';
                p_unionid := NULL;
            END IF;
            INSERT INTO users AS u (unionid, created_at, updated_at)
            VALUES (p_unionid, p_now, p_now)
            ON CONFLICT (unionid) DO NOTHING
            RETURNING u.id INTO v_user;
            IF v_user IS NULL THEN
                RAISE EXCEPTION 'a racing login created the unionid''s user'
                      USING ERRCODE = 'serialization_failure';
            END IF;
            v_new := TRUE;
        END IF;
        INSERT INTO identities AS i (appid, openid, user_id, session_key, created_at, updated_at)
        VALUES (p_appid, p_openid, v_user, p_session_key, p_now, p_now)
        ON CONFLICT (appid, openid) DO NOTHING;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'a racing login created the identity'
                  USING ERRCODE = 'serialization_failure';
        END IF;
        IF NOT v_new THEN
            UPDATE users u SET updated_at = p_now WHERE u.id = v_user;
        END IF;
    END IF;

    INSERT INTO sessions (token_hash, user_id, appid, openid, created_at, expires_at,
                          absolute_expires_at)
    VALUES (p_token_hash, v_user, p_appid, p_openid, p_now, p_expires_at, p_absolute_expires_at);

    IF v_new THEN
        -- The user was created just now, with this identity only: what it holds is known.
        is_new := TRUE;
        note := v_note;
        id := v_user;
        unionid := p_unionid;
        phone_number := NULL;
        pure_phone_number := NULL;
        country_code := NULL;
        profile := NULL;
        created_at := p_now;
        updated_at := p_now;
        appid := p_appid;
        openid := p_openid;
        RETURN NEXT;
        RETURN;
    END IF;

    RETURN QUERY
        SELECT v_new, v_note, u.id, u.unionid, u.phone_number, u.pure_phone_number,
               u.country_code, u.profile::text, u.created_at, u.updated_at, i.appid, i.openid
          FROM users u LEFT JOIN identities i ON i.user_id = u.id
         WHERE u.id = v_user;
END
$$;
