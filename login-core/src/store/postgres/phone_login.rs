//! Phone-first writes for the PostgreSQL store, inside the caller's transaction: tickets, SMS
//! codes, and the login by a verified number. The rules and their order are those of the
//! SQLite store (`sqlite/phone_login.rs`, repeated below); the caller runs a phone login in a
//! SERIALIZABLE transaction, so its several reads and the decision on them hold as if no
//! other transaction ran beside it (PostgreSQL fails the transaction otherwise, and the caller
//! runs it again), and the unique keys of the schema stop the writes of READ COMMITTED logins
//! that race it.
//!
//! # The rules of a phone login
//!
//! P is the verified number, O the user holding P, W the WeChat identity (from this request or
//! from a ticket) if any, I the user of W's (appid, openid), H the user holding W's unionid.
//!
//! 1. W known (I exists), or a WeChat-proven number whose W has a usable H: the WeChat login
//!    wins, as for `POST /api/login`: I (or H, W attached) logs in; a WeChat-proven number is
//!    not looked at. Proven by SMS or password: O = I logs in; no O and I without a number:
//!    P is bound to I; otherwise `PhoneConflict` (O is another account) or
//!    `WeChatBoundToOtherPhone` (I has another number).
//! 2. W new, O exists: `PhoneBoundToOtherWeChat` if O has an identity in this app or another
//!    unionid than W's; `PhoneConflict` if W's unionid is held by another user than O;
//!    otherwise W joins O (O takes W's unionid if it has none), and O logs in.
//! 3. W new, no O: a usable H (no identity in this app) without a number gets P and W and logs
//!    in, one with another number is `WeChatBoundToOtherPhone`; otherwise a new user with P and
//!    W (with W's unionid unless another user of this app holds it) logs in.
//! 4. No W: O logs in, or a new phone-only user with P does.
//!
//! A password registration (`Register`) sets the password of the user that logs in; a
//! `Verified` password must still be O's. An SMS code is checked first (a wrong one is
//! counted and committed alone); a refusal after it leaves the code pending.

use sqlx::PgConnection;

use super::login::insert_session;
use super::rows::reload_user;
use crate::clock::UnixMs;
use crate::domain::PhoneInfo;
use crate::ids::{AppId, UserId};
use crate::password::PasswordHashText;
use crate::phone::PhoneNumber;
use crate::store::{
    AppChoice, NewSmsCode, NewTicket, PasswordLookup, PasswordProof, PhoneLoginOutcome,
    PhoneLoginWrite, PhoneProof, PhoneRefusal, StoreError, WeChatIdentity, WeChatSource,
};

/// Whether the caller commits what a phone login did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Finish {
    Commit,
    Rollback,
}

/// Inserts a ticket.
pub(super) async fn create_ticket(
    conn: &mut PgConnection,
    ticket: &NewTicket,
) -> Result<(), StoreError> {
    let w = &ticket.identity;
    sqlx::query(
        "INSERT INTO registration_tickets (ticket_hash, appid, openid, unionid, session_key, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ticket.hash.0.as_slice())
    .bind(w.appid.as_str())
    .bind(w.openid.as_str())
    .bind(w.unionid.as_ref().map(|u| u.as_str()))
    .bind(w.sealed_session_key.as_slice())
    .bind(ticket.now.0)
    .bind(ticket.expires_at.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts a code, replacing the pending one of the number and purpose.
pub(super) async fn save_sms_code(
    conn: &mut PgConnection,
    code: &NewSmsCode,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sms_codes (country_code, pure_phone_number, purpose, code_hash, attempts, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, 0, $5, $6) \
         ON CONFLICT (country_code, pure_phone_number, purpose) DO UPDATE SET \
         code_hash = excluded.code_hash, attempts = 0, created_at = excluded.created_at, \
         expires_at = excluded.expires_at",
    )
    .bind(code.phone.country_code())
    .bind(code.phone.national())
    .bind(code.purpose)
    .bind(code.code_hash.as_slice())
    .bind(code.now.0)
    .bind(code.expires_at.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes the pending code if it is `code_hash`.
pub(super) async fn discard_sms_code(
    conn: &mut PgConnection,
    phone: &PhoneNumber,
    purpose: &str,
    code_hash: [u8; 32],
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM sms_codes WHERE country_code = $1 AND pure_phone_number = $2 \
         AND purpose = $3 AND code_hash = $4",
    )
    .bind(phone.country_code())
    .bind(phone.national())
    .bind(purpose)
    .bind(code_hash.as_slice())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The account of a number and its password hash, on `conn`.
pub(super) async fn password_of(
    conn: &mut PgConnection,
    phone: &PhoneNumber,
) -> Result<PasswordLookup, StoreError> {
    let row: Option<(i64, Option<String>)> = sqlx::query_as(
        "SELECT u.id, p.hash FROM users u LEFT JOIN passwords p ON p.user_id = u.id \
         WHERE u.country_code = $1 AND u.pure_phone_number = $2",
    )
    .bind(phone.country_code())
    .bind(phone.national())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => PasswordLookup::NoAccount,
        Some((id, None)) => PasswordLookup::NoPassword {
            user_id: UserId(id),
        },
        Some((id, Some(hash))) => PasswordLookup::Password {
            user_id: UserId(id),
            hash: PasswordHashText(hash),
        },
    })
}

/// The number's owner: id and unionid.
async fn owner_of(
    conn: &mut PgConnection,
    phone: &PhoneInfo,
) -> Result<Option<(i64, Option<String>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, unionid FROM users WHERE country_code = $1 AND pure_phone_number = $2",
    )
    .bind(&phone.country_code)
    .bind(&phone.pure_phone_number)
    .fetch_optional(&mut *conn)
    .await?)
}

async fn has_identity_in(
    conn: &mut PgConnection,
    user: i64,
    appid: &str,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM identities WHERE user_id = $1 AND appid = $2)",
    )
    .bind(user)
    .bind(appid)
    .fetch_one(&mut *conn)
    .await?)
}

/// The (country code, number) bound to `user`, if any.
async fn number_of(
    conn: &mut PgConnection,
    user: i64,
) -> Result<Option<(String, String)>, StoreError> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT country_code, pure_phone_number FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.and_then(|(c, n)| c.zip(n)))
}

/// What the login does once decided.
struct Plan {
    /// The user that logs in; `None`: a new one.
    user: Option<i64>,
    /// Bind the number to the user.
    bind_number: bool,
    /// Add W as an identity of the user (else refresh its session_key, if W is given).
    add_identity: bool,
    /// Give the user W's unionid if it has none.
    take_unionid: bool,
}

/// appid, openid, unionid, sealed session_key, expires_at.
type TicketRow = (String, String, Option<String>, Vec<u8>, i64);

/// The ticket's identity, checked: unknown, expired or another app's is refused.
async fn ticket_identity(
    conn: &mut PgConnection,
    hash: &[u8; 32],
    app: &AppChoice,
    now: UnixMs,
) -> Result<Option<WeChatIdentity>, StoreError> {
    let row: Option<TicketRow> = sqlx::query_as(
        "SELECT appid, openid, unionid, session_key, expires_at FROM registration_tickets \
         WHERE ticket_hash = $1",
    )
    .bind(hash.as_slice())
    .fetch_optional(&mut *conn)
    .await?;
    let Some((appid, openid, unionid, key, expires_at)) = row else {
        return Ok(None);
    };
    if expires_at <= now.0 || matches!(app, AppChoice::Given(a) if a.as_str() != appid) {
        return Ok(None);
    }
    Ok(Some(WeChatIdentity {
        appid: AppId::new(appid),
        openid: crate::ids::OpenId::new(openid),
        unionid: unionid.map(crate::ids::UnionId::new),
        sealed_session_key: key,
    }))
}

/// Checks the SMS code of `write`: `Ok(None)` if it is right (and deleted, pending the
/// commit), else the refusal and whether to commit (a wrong try is counted).
async fn check_code(
    conn: &mut PgConnection,
    phone: &PhoneInfo,
    purpose: &str,
    code_hash: &[u8; 32],
    max_attempts: u32,
    now: UnixMs,
) -> Result<Option<(PhoneRefusal, Finish)>, StoreError> {
    let row: Option<(Vec<u8>, i64, i64)> = sqlx::query_as(
        "SELECT code_hash, attempts::bigint, expires_at FROM sms_codes \
         WHERE country_code = $1 AND pure_phone_number = $2 AND purpose = $3",
    )
    .bind(&phone.country_code)
    .bind(&phone.pure_phone_number)
    .bind(purpose)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((stored, attempts, expires_at)) = row else {
        return Ok(Some((PhoneRefusal::CodeMissing, Finish::Rollback)));
    };
    let max = i64::from(max_attempts);
    if attempts >= max {
        return Ok(Some((PhoneRefusal::CodeExhausted, Finish::Rollback)));
    }
    if expires_at <= now.0 {
        return Ok(Some((PhoneRefusal::CodeExpired, Finish::Rollback)));
    }
    let key = (&phone.country_code, &phone.pure_phone_number, purpose);
    if !crate::crypto::constant_time_eq_bytes(&stored, code_hash) {
        sqlx::query(
            "UPDATE sms_codes SET attempts = attempts + 1 \
             WHERE country_code = $1 AND pure_phone_number = $2 AND purpose = $3",
        )
        .bind(key.0)
        .bind(key.1)
        .bind(key.2)
        .execute(&mut *conn)
        .await?;
        let left = u32::try_from(max - attempts - 1).unwrap_or(0);
        return Ok(Some((
            PhoneRefusal::CodeWrong {
                attempts_left: left,
            },
            Finish::Commit,
        )));
    }
    sqlx::query(
        "DELETE FROM sms_codes WHERE country_code = $1 AND pure_phone_number = $2 AND purpose = $3",
    )
    .bind(key.0)
    .bind(key.1)
    .bind(key.2)
    .execute(&mut *conn)
    .await?;
    Ok(None)
}

/// See [`Store::phone_login`](crate::store::Store::phone_login) and the module docs. Returns
/// the outcome and whether the caller commits.
pub(super) async fn phone_login(
    conn: &mut PgConnection,
    write: PhoneLoginWrite,
) -> Result<(PhoneLoginOutcome, Finish), StoreError> {
    let refuse = |r: PhoneRefusal| Ok((PhoneLoginOutcome::Refused(r), Finish::Rollback));
    let PhoneLoginWrite {
        app,
        phone,
        wechat,
        proof,
        session,
        now,
    } = write;

    // The identity, and the session's app.
    let (appid, w, ticket) = match wechat {
        WeChatSource::None => {
            let (AppChoice::Given(a) | AppChoice::Default(a)) = app;
            (a, None, None)
        }
        WeChatSource::Fresh(w) => (w.appid.clone(), Some(w), None),
        WeChatSource::Ticket(hash) => match ticket_identity(conn, &hash.0, &app, now).await? {
            Some(w) => (w.appid.clone(), Some(w), Some(hash)),
            None => return refuse(PhoneRefusal::TicketInvalid),
        },
    };

    // The proof.
    match &proof {
        PhoneProof::WeChat => {}
        PhoneProof::SmsCode {
            purpose,
            code_hash,
            max_attempts,
        } => {
            if let Some((refusal, finish)) =
                check_code(conn, &phone, purpose, code_hash, *max_attempts, now).await?
            {
                return Ok((PhoneLoginOutcome::Refused(refusal), finish));
            }
        }
        PhoneProof::Password(p) => {
            let number = PhoneNumber::from_info(&phone)
                .ok_or_else(|| StoreError::Corrupt("a password login of an odd number".into()))?;
            let now_lookup = password_of(conn, &number).await?;
            let still = match (p, &now_lookup) {
                (PasswordProof::Register { .. }, PasswordLookup::NoAccount) => true,
                (
                    PasswordProof::Verified { user_id, hash },
                    PasswordLookup::Password {
                        user_id: current,
                        hash: current_hash,
                    },
                ) => user_id == current && hash == current_hash,
                _ => false,
            };
            if !still {
                return refuse(PhoneRefusal::PasswordChanged);
            }
        }
    }

    // The decision.
    let owner = owner_of(conn, &phone).await?;
    let plan = match &w {
        None => Plan {
            user: owner.as_ref().map(|(o, _)| *o),
            bind_number: owner.is_none(),
            add_identity: false,
            take_unionid: false,
        },
        Some(w) => {
            let identity_user: Option<i64> = sqlx::query_scalar(
                "SELECT user_id FROM identities WHERE appid = $1 AND openid = $2",
            )
            .bind(w.appid.as_str())
            .bind(w.openid.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            let holder: Option<i64> = match &w.unionid {
                Some(u) => {
                    sqlx::query_scalar("SELECT id FROM users WHERE unionid = $1")
                        .bind(u.as_str())
                        .fetch_optional(&mut *conn)
                        .await?
                }
                None => None,
            };
            let usable_holder = match holder {
                Some(h) if !has_identity_in(conn, h, w.appid.as_str()).await? => Some(h),
                _ => None,
            };
            let by_wechat = matches!(proof, PhoneProof::WeChat);
            if let Some(i) = identity_user {
                // Rule 1: a known identity.
                let plan = Plan {
                    user: Some(i),
                    bind_number: false,
                    add_identity: false,
                    take_unionid: false,
                };
                match owner {
                    _ if by_wechat => plan,
                    Some((o, _)) if o == i => plan,
                    Some(_) => return refuse(PhoneRefusal::PhoneConflict),
                    None if number_of(conn, i).await?.is_none() => Plan {
                        bind_number: true,
                        ..plan
                    },
                    None => return refuse(PhoneRefusal::WeChatBoundToOtherPhone),
                }
            } else if let (true, Some(h)) = (by_wechat, usable_holder) {
                // Rule 1: a WeChat login that the unionid already resolves.
                Plan {
                    user: Some(h),
                    bind_number: false,
                    add_identity: true,
                    take_unionid: false,
                }
            } else if let Some((o, o_unionid)) = owner {
                // Rule 2: the number has an account.
                let other_unionid =
                    matches!((&o_unionid, &w.unionid), (Some(a), Some(b)) if a != b.as_str());
                if other_unionid || has_identity_in(conn, o, w.appid.as_str()).await? {
                    return refuse(PhoneRefusal::PhoneBoundToOtherWeChat);
                }
                if holder.is_some_and(|h| h != o) {
                    return refuse(PhoneRefusal::PhoneConflict);
                }
                Plan {
                    user: Some(o),
                    bind_number: false,
                    add_identity: true,
                    take_unionid: o_unionid.is_none(),
                }
            } else if let Some(h) = usable_holder {
                // Rule 3: the person has an account without an identity here.
                if number_of(conn, h).await?.is_some() {
                    return refuse(PhoneRefusal::WeChatBoundToOtherPhone);
                }
                Plan {
                    user: Some(h),
                    bind_number: true,
                    add_identity: true,
                    take_unionid: false,
                }
            } else {
                // Rule 3: a new user; W's unionid unless another user (of this app) holds it.
                Plan {
                    user: None,
                    bind_number: true,
                    add_identity: true,
                    take_unionid: holder.is_none(),
                }
            }
        }
    };

    // The writes.
    let unionid = w
        .as_ref()
        .and_then(|w| w.unionid.as_ref())
        .map(|u| u.as_str().to_owned());
    let is_new = plan.user.is_none();
    let user = match plan.user {
        Some(id) => id,
        None => sqlx::query_scalar(
            "INSERT INTO users (unionid, created_at, updated_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(if plan.take_unionid {
            unionid.as_deref()
        } else {
            None
        })
        .bind(now.0)
        .bind(now.0)
        .fetch_one(&mut *conn)
        .await?,
    };
    if plan.bind_number {
        super::phone::set_number(conn, user, &phone, now).await?;
    }
    if plan.take_unionid && !is_new {
        sqlx::query(
            "UPDATE users SET unionid = coalesce(unionid, $1), updated_at = $2 WHERE id = $3",
        )
        .bind(unionid.as_deref())
        .bind(now.0)
        .bind(user)
        .execute(&mut *conn)
        .await?;
    }
    if let Some(w) = &w {
        if plan.add_identity {
            sqlx::query(
                "INSERT INTO identities (appid, openid, user_id, session_key, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(w.appid.as_str())
            .bind(w.openid.as_str())
            .bind(user)
            .bind(w.sealed_session_key.as_slice())
            .bind(now.0)
            .bind(now.0)
            .execute(&mut *conn)
            .await?;
            if !is_new {
                sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
                    .bind(now.0)
                    .bind(user)
                    .execute(&mut *conn)
                    .await?;
            }
        } else {
            sqlx::query(
                "UPDATE identities SET session_key = $1, updated_at = $2 \
                 WHERE appid = $3 AND openid = $4",
            )
            .bind(w.sealed_session_key.as_slice())
            .bind(now.0)
            .bind(w.appid.as_str())
            .bind(w.openid.as_str())
            .execute(&mut *conn)
            .await?;
        }
    }
    if let PhoneProof::Password(PasswordProof::Register { hash }) = &proof {
        sqlx::query(
            "INSERT INTO passwords (user_id, hash, created_at, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, \
             updated_at = excluded.updated_at",
        )
        .bind(user)
        .bind(&hash.0)
        .bind(now.0)
        .bind(now.0)
        .execute(&mut *conn)
        .await?;
    }
    if let Some(hash) = ticket {
        sqlx::query("DELETE FROM registration_tickets WHERE ticket_hash = $1")
            .bind(hash.0.as_slice())
            .execute(&mut *conn)
            .await?;
    }
    let openid = w.as_ref().map(|w| w.openid.as_str());
    insert_session(conn, user, appid.as_str(), openid, &session, now).await?;
    let user = reload_user(conn, user).await?;
    Ok((
        PhoneLoginOutcome::LoggedIn {
            user: Box::new(user),
            is_new,
            appid,
        },
        Finish::Commit,
    ))
}

/// Deletes expired tickets and codes.
pub(super) async fn purge(conn: &mut PgConnection, before: UnixMs) -> Result<u64, StoreError> {
    let tickets = sqlx::query("DELETE FROM registration_tickets WHERE expires_at < $1")
        .bind(before.0)
        .execute(&mut *conn)
        .await?;
    let codes = sqlx::query("DELETE FROM sms_codes WHERE expires_at < $1")
        .bind(before.0)
        .execute(&mut *conn)
        .await?;
    Ok(tickets.rows_affected() + codes.rows_affected())
}
