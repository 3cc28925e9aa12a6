//! Login writes for the SQLite store, set-based: a batch of logins costs the same few
//! statements (round trips to the connection's thread) whatever its size, inside the caller's
//! write transaction.
//!
//! 1. **Read** the batch's identities that exist, the users holding its unionids and the next
//!    user id in one statement, then those users with their identities in one more.
//! 2. **Decide** in memory, login by login in order, so each login sees the ones before it
//!    exactly as if it ran alone after them (see [`Plan::login`] for the rules).
//! 3. **Write** with one multi-row `INSERT` into the writer connection's temporary view
//!    `login_rows` ([`LOGIN_ROWS`]): its trigger applies each row in order, creating or
//!    updating the user, upserting the identity and inserting the session.
//!
//! Any failure fails the whole call; the caller then rolls back what it wrote (see
//! `batch.rs`, which runs logins one per savepoint after such a failure).

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::clock::UnixMs;
use crate::domain::{Identity, User};
use crate::ids::{UnionId, UserId};
use crate::store::{LoginOutcome, LoginWrite, NewSession, StoreError};

use super::rows::{load_users, push_list};

/// What a row of the read statement is (its first column): an identity of the batch that
/// exists (appid, openid, user id), a holder of one of its unionids (unionid, NULL, user id),
/// or the id the next new user gets (NULL, NULL, id).
const IDENTITY: i64 = 1;
const HOLDER: i64 = 2;
const NEXT_ID: i64 = 3;

/// The writes of a login as SQLite applies them, created on the writer connection when it
/// opens (temporary objects: nothing in the database file). Inserting a row into `login_rows`
/// creates the user (`create_user`) or sets its unionid and `updated_at` (`update_user`),
/// upserts the identity with its sealed session_key, and inserts the session. A multi-row
/// `INSERT` runs the rows in order, each seeing the ones before it, in one statement.
pub(super) const LOGIN_ROWS: &str = "\
CREATE TEMP VIEW login_rows (create_user, update_user, user_id, unionid, appid, openid, \
    session_key, token_hash, now, expires_at, absolute_expires_at) \
    AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL;
CREATE TEMP TRIGGER login_rows_insert INSTEAD OF INSERT ON login_rows BEGIN
    INSERT INTO users (id, unionid, created_at, updated_at)
        SELECT NEW.user_id, NEW.unionid, NEW.now, NEW.now WHERE NEW.create_user;
    UPDATE users SET unionid = NEW.unionid, updated_at = NEW.now
        WHERE NEW.update_user AND id = NEW.user_id;
    INSERT INTO identities (appid, openid, user_id, session_key, created_at, updated_at)
        VALUES (NEW.appid, NEW.openid, NEW.user_id, NEW.session_key, NEW.now, NEW.now)
        ON CONFLICT (appid, openid) DO UPDATE
        SET session_key = excluded.session_key, updated_at = excluded.updated_at;
    INSERT INTO sessions (token_hash, user_id, appid, openid, created_at, expires_at,
            absolute_expires_at)
        VALUES (NEW.token_hash, NEW.user_id, NEW.appid, NEW.openid, NEW.now, NEW.expires_at,
            NEW.absolute_expires_at);
END;";

/// What a login does to its user's row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UserWrite {
    /// Nothing: the user is found as it is.
    Keep,
    /// Creates it.
    Create,
    /// Sets its unionid (possibly the same) and `updated_at`.
    Update,
}

/// A login decided: the outcome to answer, and what it writes to the user's row.
struct Step {
    outcome: LoginOutcome,
    user: UserWrite,
}

/// The batch's view of the database: what was read, plus what the logins so far wrote.
struct Plan<'w> {
    users: HashMap<i64, User>,
    /// (appid, openid) → user, for the identities of the batch that exist so far.
    identities: HashMap<(&'w str, &'w str), i64>,
    /// unionid → user, for the unionids of the batch that someone holds so far.
    holders: HashMap<&'w str, i64>,
    /// The id the next created user gets.
    next_id: i64,
}

/// Records `writes` in order (see [`Store::record_login`](crate::store::Store::record_login)
/// for what one login does); one outcome per write. Runs inside the caller's transaction.
pub(super) async fn record_logins(
    conn: &mut SqliteConnection,
    writes: &[&LoginWrite],
) -> Result<Vec<LoginOutcome>, StoreError> {
    let mut plan = Plan::read(conn, writes).await?;
    let steps = writes
        .iter()
        .map(|write| plan.login(write))
        .collect::<Result<Vec<_>, _>>()?;
    write(conn, writes, &steps).await?;
    Ok(steps.into_iter().map(|step| step.outcome).collect())
}

impl<'w> Plan<'w> {
    /// Reads what the logins of `writes` depend on: one statement for the identities, the
    /// unionid holders and the next user id, one more for the users they point to.
    async fn read(
        conn: &mut SqliteConnection,
        writes: &[&'w LoginWrite],
    ) -> Result<Plan<'w>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {IDENTITY}, i.appid, i.openid, i.user_id FROM identities i JOIN ("
        ));
        query.push_values(writes, |mut row, write| {
            row.push_bind(write.appid.as_str())
                .push_bind(write.openid.as_str());
        });
        query.push(") v ON i.appid = v.column1 AND i.openid = v.column2");
        let unionids: Vec<&str> = writes
            .iter()
            .filter_map(|w| w.unionid.as_ref().map(UnionId::as_str))
            .collect();
        if !unionids.is_empty() {
            query.push(format_args!(
                " UNION ALL SELECT {HOLDER}, unionid, NULL, id FROM users WHERE unionid IN "
            ));
            push_list(&mut query, unionids.iter().copied());
        }
        // AUTOINCREMENT's next id: past the largest id ever used, even if deleted.
        query.push(format_args!(
            " UNION ALL SELECT {NEXT_ID}, NULL, NULL, \
             max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'users'), 0), \
                 coalesce((SELECT max(id) FROM users), 0)) + 1"
        ));
        let rows: Vec<(i64, Option<String>, Option<String>, i64)> =
            query.build_query_as().fetch_all(&mut *conn).await?;

        let mut plan = Plan {
            users: HashMap::new(),
            identities: HashMap::new(),
            holders: HashMap::new(),
            next_id: 0,
        };
        for (kind, a, b, n) in rows {
            match (kind, a, b) {
                (IDENTITY, Some(appid), Some(openid)) => {
                    let write = writes
                        .iter()
                        .find(|w| w.appid.as_str() == appid && w.openid.as_str() == openid);
                    if let Some(write) = write {
                        plan.identities
                            .insert((write.appid.as_str(), write.openid.as_str()), n);
                    }
                }
                (HOLDER, Some(unionid), None) => {
                    if let Some(unionid) = unionids.iter().find(|u| **u == unionid) {
                        plan.holders.insert(unionid, n);
                    }
                }
                (NEXT_ID, None, None) => plan.next_id = n,
                (kind, a, b) => {
                    return Err(StoreError::Corrupt(format!(
                        "unexpected login read row {kind} {a:?} {b:?}"
                    )));
                }
            }
        }

        let mut ids: Vec<i64> = plan
            .identities
            .values()
            .chain(plan.holders.values())
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        plan.users = load_users(conn, &ids).await?;
        Ok(plan)
    }

    /// The user `id` read or created; a missing one means a dangling identity or holder.
    fn user(&mut self, id: i64) -> Result<&mut User, StoreError> {
        self.users
            .get_mut(&id)
            .ok_or_else(|| StoreError::Corrupt(format!("identity or unionid of missing user {id}")))
    }

    /// One login, after the ones before it:
    /// - a known identity (appid, openid) → its user. A unionid WeChat now reports is attached
    ///   if the user has none and nobody holds it; otherwise a warning is logged and the login
    ///   goes on;
    /// - else a user holding the unionid, without an identity in this app → a new identity for
    ///   that user (`is_new = false`);
    /// - else a new user (with the unionid, unless another user of this app holds it) and
    ///   identity (`is_new = true`).
    fn login(&mut self, write: &'w LoginWrite) -> Result<Step, StoreError> {
        let (appid, openid) = (write.appid.as_str(), write.openid.as_str());
        let unionid = write.unionid.as_ref().map(UnionId::as_str);
        let now = write.now;

        if let Some(&id) = self.identities.get(&(appid, openid)) {
            if let Some(unionid) = unionid {
                let holder = self.holders.get(unionid).copied();
                let user = self.user(id)?;
                match (&user.unionid, holder) {
                    (Some(current), _) if current.as_str() != unionid => {
                        tracing::warn!(
                            user_id = id,
                            appid,
                            "WeChat reported a different unionid for a known identity; keeping the stored one"
                        );
                    }
                    (Some(_), _) => {}
                    (None, Some(other)) => {
                        tracing::warn!(
                            user_id = id,
                            other_user_id = other,
                            appid,
                            "unionid learned at login already belongs to another user; not attached"
                        );
                    }
                    (None, None) => {
                        user.unionid = Some(UnionId::new(unionid));
                        user.updated_at = now;
                        self.holders.insert(unionid, id);
                        return Ok(self.step(id, false, UserWrite::Update));
                    }
                }
            }
            return Ok(self.step(id, false, UserWrite::Keep));
        }

        if let Some(holder) = unionid.and_then(|u| self.holders.get(u).copied()) {
            let user = self.user(holder)?;
            if !user.identities.iter().any(|i| i.appid.as_str() == appid) {
                add_identity(user, write);
                user.updated_at = now;
                self.identities.insert((appid, openid), holder);
                return Ok(self.step(holder, false, UserWrite::Update));
            }
            // Same unionid, same app, another openid: WeChat broke its own rule (e.g. after an
            // account migration). Failing would lock the person out, so give the openid its own
            // user, without the unionid that is already taken.
            tracing::warn!(
                user_id = holder,
                appid,
                "unionid holder already has another openid in this app; creating a separate user"
            );
            return Ok(self.create(write, None));
        }
        Ok(self.create(write, unionid))
    }

    /// A new user with `unionid` and the identity of `write`.
    fn create(&mut self, write: &'w LoginWrite, unionid: Option<&'w str>) -> Step {
        let id = self.next_id;
        self.next_id += 1;
        let mut user = User {
            id: UserId(id),
            unionid: unionid.map(UnionId::new),
            phone: None,
            profile: None,
            identities: Vec::new(),
            created_at: write.now,
            updated_at: write.now,
        };
        add_identity(&mut user, write);
        self.users.insert(id, user);
        self.identities
            .insert((write.appid.as_str(), write.openid.as_str()), id);
        if let Some(unionid) = unionid {
            self.holders.insert(unionid, id);
        }
        self.step(id, true, UserWrite::Create)
    }

    /// The login's step, with the user `id` as it stands now.
    fn step(&self, id: i64, is_new: bool, user: UserWrite) -> Step {
        Step {
            outcome: LoginOutcome {
                user: self.users[&id].clone(),
                is_new,
            },
            user,
        }
    }
}

/// Writes what the logins decided (`steps[i]` for `writes[i]`), in one statement.
async fn write(
    conn: &mut SqliteConnection,
    writes: &[&LoginWrite],
    steps: &[Step],
) -> Result<(), StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO login_rows (create_user, update_user, user_id, unionid, appid, openid, \
         session_key, token_hash, now, expires_at, absolute_expires_at) ",
    );
    query.push_values(writes.iter().zip(steps), |mut row, (write, step)| {
        let user = &step.outcome.user;
        row.push_bind(step.user == UserWrite::Create)
            .push_bind(step.user == UserWrite::Update)
            .push_bind(user.id.0)
            .push_bind(user.unionid.as_ref().map(UnionId::as_str))
            .push_bind(write.appid.as_str())
            .push_bind(write.openid.as_str())
            .push_bind(write.sealed_session_key.as_slice())
            .push_bind(write.session.token_hash.0.as_slice())
            .push_bind(write.now.0)
            .push_bind(write.session.expires_at.0)
            .push_bind(write.session.absolute_expires_at.0);
    });
    query.build().execute(&mut *conn).await?;
    Ok(())
}

/// Adds the identity of `write` to `user`, keeping identities sorted.
fn add_identity(user: &mut User, write: &LoginWrite) {
    let identity = Identity {
        appid: write.appid.clone(),
        openid: write.openid.clone(),
    };
    if let Err(at) = user.identities.binary_search(&identity) {
        user.identities.insert(at, identity);
    }
}

/// Creates a session row.
pub(super) async fn insert_session(
    conn: &mut SqliteConnection,
    user_id: i64,
    appid: &str,
    openid: Option<&str>,
    session: &NewSession,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, appid, openid, created_at, expires_at, \
         absolute_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(session.token_hash.0.as_slice())
    .bind(user_id)
    .bind(appid)
    .bind(openid)
    .bind(now.0)
    .bind(session.expires_at.0)
    .bind(session.absolute_expires_at.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
