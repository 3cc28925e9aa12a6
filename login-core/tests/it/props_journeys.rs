//! Property tests of whole journeys: random interleavings of logins of a few persons from
//! several apps and devices, phone bindings, refreshes and logouts, against login-core and a
//! model of the README's rules, with the invariants checked after every step.
//!
//! The world: apps A and B share an open platform (a person has one unionid there), app C has
//! none; each journey has two or three persons of its own and a pool of two phone numbers of
//! its own, so persons share numbers. After every step: each live session's `GET /api/me` is the
//! user the model predicts (so one user per person across A and B, one owner per number), no
//! number is on two users, every revoked token is refused with 401 forever after, the store
//! holds exactly the model's users, identities and sessions, and (every call goes through
//! `TestApp::send`) no answer mentions a session_key.
//!
//! The same journeys also run in rounds of up to four requests sent at once: no model order
//! then, but every answer must be one the API documents for it and the invariants must hold
//! after each round. [`requests_racing_a_join_on_the_same_session_follow_the_session`] is the
//! race those rounds found, made reliable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mock_server::config::{PhoneSpec, UserSpec};
use mock_server::ids::{AppId, UserHandle};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::*;

/// The sibling of the default app on open platform `platform-1`.
const SIBLING_APP: &str = "wx00000000000000b1";
/// An app without open platform.
const LONE_APP: &str = "wx00000000000000c1";
/// How many numbers the persons of a journey share (fewer than persons: conflicts and joins).
const NUMBERS: usize = 2;

// ---------------------------------------------------------------------------------------------
// Journeys

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum App {
    /// The default app, on the open platform.
    A,
    /// Its sibling on the same open platform.
    B,
    /// An app of its own: no unionid.
    C,
}

impl App {
    fn on_platform(self) -> bool {
        self != Self::C
    }
}

/// One step. Sessions (devices) are numbered in the order their logins were made; `device`
/// picks one modulo their number, dead ones included.
#[derive(Clone, Copy)]
enum Op {
    /// `wx.login` of person `person` in `app` and `POST /api/login`: a new device.
    Login { person: usize, app: App },
    /// The device's person has number `number` in WeChat (changing it if needed), presses
    /// getPhoneNumber, and the device binds it: by code, or by the legacy encryptedData.
    BindPhone {
        device: usize,
        number: usize,
        legacy: bool,
    },
    /// `POST /api/session/refresh`.
    Refresh { device: usize },
    /// `POST /api/logout`.
    Logout { device: usize },
    /// `GET /api/me`.
    Me { device: usize },
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Login { person, app } => write!(f, "login p{person}@{app:?}"),
            Self::BindPhone {
                device,
                number,
                legacy,
            } => {
                let how = if legacy { "encryptedData" } else { "code" };
                write!(f, "bind #{device} number{number} by {how}")
            }
            Self::Refresh { device } => write!(f, "refresh #{device}"),
            Self::Logout { device } => write!(f, "logout #{device}"),
            Self::Me { device } => write!(f, "me #{device}"),
        }
    }
}

#[derive(Clone)]
struct Journey {
    /// Each person's WeChat number at the start (one of [`NUMBERS`]).
    numbers: Vec<usize>,
    ops: Vec<Op>,
}

impl fmt::Debug for Journey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let persons: Vec<String> = (self.numbers.iter().enumerate())
            .map(|(p, n)| format!("p{p} has number{n}"))
            .collect();
        writeln!(f, "journey: {}", persons.join(", "))?;
        for (i, op) in self.ops.iter().enumerate() {
            writeln!(f, "  {:>2}. {op:?}", i + 1)?;
        }
        Ok(())
    }
}

fn op(persons: usize) -> impl Strategy<Value = Op> {
    let app = prop_oneof![Just(App::A), Just(App::B), Just(App::C)];
    let device = 0usize..8;
    prop_oneof![
        5 => (0..persons, app).prop_map(|(person, app)| Op::Login { person, app }),
        5 => (device.clone(), 0..NUMBERS, any::<bool>()).prop_map(
            |(device, number, legacy)| Op::BindPhone { device, number, legacy }
        ),
        2 => device.clone().prop_map(|device| Op::Refresh { device }),
        1 => device.clone().prop_map(|device| Op::Logout { device }),
        1 => device.prop_map(|device| Op::Me { device }),
    ]
}

fn journey() -> impl Strategy<Value = Journey> {
    (2usize..=3).prop_flat_map(|persons| {
        (
            proptest::collection::vec(0..NUMBERS, persons),
            proptest::collection::vec(op(persons), 1..=20),
        )
            .prop_map(|(numbers, ops)| Journey { numbers, ops })
    })
}

// ---------------------------------------------------------------------------------------------
// The model of the rules

/// A user as the model sees it; `id` is login-core's id, learned when the user is created.
#[derive(Clone, Debug)]
struct User {
    id: i64,
    /// The person whose unionid the user holds.
    unionid: Option<usize>,
    /// The bound number (of the journey's [`NUMBERS`]).
    number: Option<usize>,
}

/// A device: a person's session in one app.
#[derive(Clone, Debug)]
struct Device {
    person: usize,
    app: App,
    /// The live token, until logout.
    token: Option<String>,
    /// The last token, to keep using after logout.
    last: String,
}

/// What a phone binding should do (README: "A number bound to another user is 409, unless that
/// user has no identity in this app and this user has no other: then this WeChat identity joins
/// that account").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binding {
    /// Free, or already this user's: bound (replacing the user's old number).
    Bound,
    /// Owned by a user who cannot be joined: 409, nothing changes.
    Conflict,
    /// The identity (and its sessions) moves to the owner; the emptied user is removed.
    Joined { owner: usize },
}

#[derive(Default)]
struct Model {
    /// Users by model key.
    users: BTreeMap<usize, User>,
    next_user: usize,
    /// (person, app) → model key of the user holding the identity.
    identities: BTreeMap<(usize, App), usize>,
    devices: Vec<Device>,
    /// Tokens revoked by logout or refresh.
    revoked: Vec<String>,
    /// Every session row ever created (logins and refreshes).
    sessions: u64,
    /// Each person's current WeChat number.
    wechat_numbers: Vec<usize>,
}

/// A login's expected outcome: an existing user (model key), or a new one with this unionid.
#[derive(Clone, Copy, Debug)]
enum Resolved {
    Existing(usize),
    New { unionid: Option<usize> },
}

impl Model {
    fn user_of(&self, person: usize, app: App) -> Option<usize> {
        self.identities.get(&(person, app)).copied()
    }

    fn apps_of(&self, key: usize) -> Vec<App> {
        (self.identities.iter())
            .filter(|(_, k)| **k == key)
            .map(|((_, app), _)| *app)
            .collect()
    }

    /// README: by (appid, openid), else by unionid (unless its holder already has another
    /// identity in this app), else a new user.
    fn resolve_login(&self, person: usize, app: App) -> Resolved {
        if let Some(key) = self.user_of(person, app) {
            return Resolved::Existing(key);
        }
        if !app.on_platform() {
            return Resolved::New { unionid: None };
        }
        let holder = (self.users.iter()).find(|(_, u)| u.unionid == Some(person));
        match holder {
            Some((&key, _)) if !self.apps_of(key).contains(&app) => Resolved::Existing(key),
            Some(_) => Resolved::New { unionid: None },
            None => Resolved::New {
                unionid: Some(person),
            },
        }
    }

    fn bind_outcome(&self, person: usize, app: App, number: usize) -> Binding {
        let me = self.identities[&(person, app)];
        let owner = (self.users.iter()).find(|(_, u)| u.number == Some(number));
        let Some((&owner, o)) = owner.filter(|(k, _)| **k != me) else {
            return Binding::Bound;
        };
        let u = &self.users[&me];
        let unionids_differ = matches!((u.unionid, o.unionid), (Some(a), Some(b)) if a != b);
        if self.apps_of(owner).contains(&app) || self.apps_of(me).len() > 1 || unionids_differ {
            Binding::Conflict
        } else {
            Binding::Joined { owner }
        }
    }

    fn apply_binding(&mut self, person: usize, app: App, number: usize, outcome: Binding) {
        let me = self.identities[&(person, app)];
        match outcome {
            Binding::Bound => {
                if let Some(u) = self.users.get_mut(&me) {
                    u.number = Some(number);
                }
            }
            Binding::Conflict => {}
            Binding::Joined { owner } => {
                let gone = self.users.remove(&me).expect("the joining user");
                self.identities.insert((person, app), owner);
                if let Some(o) = self.users.get_mut(&owner) {
                    o.unionid = o.unionid.or(gone.unionid);
                }
            }
        }
    }

    /// The rules' own promise, whatever login-core does: a person's identities in A and B are
    /// one user; a number has one owner.
    fn check_invariants(&self) -> Result<(), String> {
        for person in 0..self.wechat_numbers.len() {
            if let (Some(a), Some(b)) = (self.user_of(person, App::A), self.user_of(person, App::B))
                && a != b
            {
                return Err(format!("model: p{person} is two users in A and B"));
            }
        }
        let numbers: Vec<usize> = self.users.values().filter_map(|u| u.number).collect();
        let distinct: BTreeSet<usize> = numbers.iter().copied().collect();
        if distinct.len() != numbers.len() {
            return Err("model: a number with two owners".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Running a journey

struct Run<'a> {
    app: &'a TestApp,
    /// The case's number: persons and numbers of other cases in the same app are others.
    case: usize,
    /// The store's (users, identities, sessions) before the case.
    counts_before: (u64, u64, u64),
    model: Model,
    /// What happened so far, one line per step: printed with any failure.
    log: Vec<String>,
}

/// Fails the case with the message and the transcript so far.
macro_rules! ensure {
    ($run:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($run.fail(format!($($fmt)+)));
        }
    };
}

/// What the live sessions' `/api/me` answers say about people and numbers.
#[derive(Default)]
struct Tally {
    /// User ids seen per person in the apps of the open platform.
    ids_by_person_on_platform: BTreeMap<usize, BTreeSet<i64>>,
    /// User ids seen per bound number.
    owners: BTreeMap<String, BTreeSet<i64>>,
}

impl Tally {
    fn add(&mut self, dev: &Device, view: &Value) {
        let id = view["id"].as_i64().expect("an id");
        if dev.app.on_platform() {
            self.ids_by_person_on_platform
                .entry(dev.person)
                .or_default()
                .insert(id);
        }
        if let Some(n) = view["phone"]["purePhoneNumber"].as_str() {
            self.owners.entry(n.to_owned()).or_default().insert(id);
        }
    }
}

impl Run<'_> {
    /// One user per person (unionid) and one owner per number, as login-core shows them;
    /// revoked tokens stay revoked.
    async fn check_tally(&self, tally: &Tally) -> Result<(), TestCaseError> {
        for (person, ids) in &tally.ids_by_person_on_platform {
            ensure!(
                self,
                ids.len() == 1,
                "p{person} is several users in A/B: {ids:?}"
            );
        }
        for (number, ids) in &tally.owners {
            ensure!(self, ids.len() == 1, "{number} is bound to users {ids:?}");
        }
        for token in &self.model.revoked {
            let r = self.app.get("/api/me", Some(token)).await;
            self.assert_login_required(&r, "a revoked token")?;
        }
        Ok(())
    }

    fn fail(&self, message: String) -> TestCaseError {
        TestCaseError::fail(format!(
            "{message}\ntranscript:\n{}",
            self.log
                .iter()
                .enumerate()
                .map(|(i, l)| format!("  {:>2}. {l}\n", i + 1))
                .collect::<String>()
        ))
    }

    /// The mock handle of a person of this case.
    fn handle(&self, person: usize) -> UserHandle {
        handle(self.case, person)
    }

    /// A number of this case.
    fn number(&self, number: usize) -> String {
        phone_number(self.case, number)
    }

    fn appid(&self, app: App) -> AppId {
        match app {
            App::A => self.app.appid.clone(),
            App::B => AppId::new(SIBLING_APP),
            App::C => AppId::new(LONE_APP),
        }
    }

    fn appids(&self, apps: &[App]) -> Value {
        let mut ids: Vec<String> = apps
            .iter()
            .map(|a| self.appid(*a).as_str().to_owned())
            .collect();
        ids.sort();
        json!(ids)
    }

    /// Asserts a user view is the model's user `key`: id, apps and number.
    fn check_user(&self, view: &Value, key: usize, what: &str) -> Result<(), TestCaseError> {
        let u = &self.model.users[&key];
        ensure!(
            self,
            view["id"] == u.id,
            "{what}: user {} expected: {view}",
            u.id
        );
        let apps = self.appids(&self.model.apps_of(key));
        ensure!(
            self,
            view["apps"] == apps,
            "{what}: apps {apps} expected: {view}"
        );
        let number = u.number.map(|n| self.number(n));
        ensure!(
            self,
            view["phone"]["purePhoneNumber"].as_str() == number.as_deref()
                && view["phone_bound"] == number.is_some(),
            "{what}: number {number:?} expected: {view}"
        );
        Ok(())
    }

    fn device(&self, device: usize) -> Option<usize> {
        (!self.model.devices.is_empty()).then(|| device % self.model.devices.len())
    }

    /// The token a device sends: its live one, or after logout its last one.
    fn token_of(&self, d: usize) -> (String, bool) {
        let dev = &self.model.devices[d];
        match &dev.token {
            Some(t) => (t.clone(), true),
            None => (dev.last.clone(), false),
        }
    }

    #[track_caller]
    fn assert_login_required(&self, r: &Resp, what: &str) -> Result<(), TestCaseError> {
        let code = serde_json::from_str::<Value>(&r.text)
            .ok()
            .map(|v| v["error"]["code"].clone());
        ensure!(
            self,
            r.status == 401 && code == Some(json!("login_required")),
            "{what}: a revoked token must be refused with 401 login_required: {} {}",
            r.status,
            r.text
        );
        Ok(())
    }

    async fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        let device = match op {
            Op::Login { person, app } => return self.login(person, app).await,
            Op::BindPhone { device, .. }
            | Op::Refresh { device }
            | Op::Logout { device }
            | Op::Me { device } => device,
        };
        let Some(d) = self.device(device) else {
            self.log.push(format!("{op:?}: no device yet, skipped"));
            return Ok(());
        };
        match op {
            Op::BindPhone { number, legacy, .. } => self.bind(d, number, legacy).await,
            Op::Refresh { .. } => self.refresh(d).await,
            Op::Logout { .. } => self.logout(d).await,
            Op::Me { .. } | Op::Login { .. } => self.me(d).await,
        }
    }

    async fn login(&mut self, person: usize, app: App) -> Result<(), TestCaseError> {
        let d = self.model.devices.len();
        self.log.push(format!("login p{person}@{app:?} as #{d}"));
        let expected = self.model.resolve_login(person, app);
        let appid = self.appid(app);
        let handle = self.handle(person);
        let code = self.app.wx_login_in(&appid, handle.as_str()).await;
        let r = self.app.login_code_in(appid.as_str(), &code).await;
        ensure!(self, r.status == 200, "login: {} {}", r.status, r.text);
        let body = r.json();
        let user = &body["user"];
        let key = match expected {
            Resolved::Existing(key) => {
                ensure!(
                    self,
                    user["is_new"] == false,
                    "login: existing user expected: {body}"
                );
                key
            }
            Resolved::New { unionid } => {
                ensure!(
                    self,
                    user["is_new"] == true,
                    "login: a new user expected: {body}"
                );
                let id = user["id"].as_i64().expect("an id");
                let known = self.model.users.values().any(|u| u.id == id);
                ensure!(self, !known, "login: a new user with a known id {id}");
                let key = self.model.next_user;
                self.model.next_user += 1;
                let user = User {
                    id,
                    unionid,
                    number: None,
                };
                self.model.users.insert(key, user);
                key
            }
        };
        self.model.identities.insert((person, app), key);
        self.model.sessions += 1;
        let token = token_of(&body);
        self.model.devices.push(Device {
            person,
            app,
            token: Some(token.clone()),
            last: token,
        });
        self.check_user(user, key, "login")?;
        let last = self.log.last_mut().expect("logged");
        last.push_str(&format!(" → user {}", user["id"]));
        Ok(())
    }

    async fn bind(&mut self, d: usize, number: usize, legacy: bool) -> Result<(), TestCaseError> {
        let Device { person, app, .. } = self.model.devices[d].clone();
        let (token, live) = self.token_of(d);
        let how = if legacy { "encryptedData" } else { "code" };
        self.log.push(format!(
            "bind #{d} (p{person}@{app:?}) number{number} by {how}"
        ));
        let handle = self.handle(person);
        if self.model.wechat_numbers[person] != number {
            set_wechat_number(self.app, &handle, &self.number(number)).await;
            self.model.wechat_numbers[person] = number;
        }
        let grant = self
            .app
            .phone_grant_in(&self.appid(app), handle.as_str())
            .await;
        let body = if legacy {
            encrypted(&grant.encrypted_data, &grant.iv)
        } else {
            json!({ "code": grant.code })
        };
        let r = self.app.bind_phone(&token, body).await;
        if !live {
            return self.assert_login_required(&r, "bind after logout");
        }
        let expected = self.model.bind_outcome(person, app, number);
        match expected {
            Binding::Conflict => {
                let code = serde_json::from_str::<Value>(&r.text)
                    .ok()
                    .map(|v| v["error"]["code"].clone());
                ensure!(
                    self,
                    r.status == 409 && code == Some(json!("phone_conflict")),
                    "bind: 409 phone_conflict expected: {} {}",
                    r.status,
                    r.text
                );
            }
            Binding::Bound | Binding::Joined { .. } => {
                ensure!(
                    self,
                    r.status == 200,
                    "bind: {expected:?} expected: {} {}",
                    r.status,
                    r.text
                );
                let joined = matches!(expected, Binding::Joined { .. });
                let body = r.json();
                ensure!(
                    self,
                    body["joined"] == joined,
                    "bind: {expected:?} expected: {body}"
                );
                self.model.apply_binding(person, app, number, expected);
                let key = self.model.identities[&(person, app)];
                self.check_user(&body["user"], key, "bind")?;
            }
        }
        let last = self.log.last_mut().expect("logged");
        last.push_str(&format!(" → {expected:?} ({})", r.status));
        Ok(())
    }

    async fn refresh(&mut self, d: usize) -> Result<(), TestCaseError> {
        let (token, live) = self.token_of(d);
        self.log.push(format!("refresh #{d}"));
        let r = self.app.refresh(&token).await;
        if !live {
            return self.assert_login_required(&r, "refresh after logout");
        }
        ensure!(self, r.status == 200, "refresh: {} {}", r.status, r.text);
        let new = token_of(&r.json());
        ensure!(self, new != token, "refresh: the same token again");
        self.model.revoked.push(token);
        self.model.sessions += 1;
        let dev = &mut self.model.devices[d];
        dev.token = Some(new.clone());
        dev.last = new;
        Ok(())
    }

    async fn logout(&mut self, d: usize) -> Result<(), TestCaseError> {
        let (token, live) = self.token_of(d);
        self.log.push(format!("logout #{d}"));
        let r = self.app.post("/api/logout", Some(&token), json!({})).await;
        if !live {
            return self.assert_login_required(&r, "logout after logout");
        }
        ensure!(self, r.status == 204, "logout: {} {}", r.status, r.text);
        self.model.revoked.push(token);
        self.model.devices[d].token = None;
        Ok(())
    }

    async fn me(&mut self, d: usize) -> Result<(), TestCaseError> {
        self.log.push(format!("me #{d}"));
        let (token, live) = self.token_of(d);
        if !live {
            let r = self.app.get("/api/me", Some(&token)).await;
            return self.assert_login_required(&r, "me after logout");
        }
        // The invariants check every live device's /api/me.
        Ok(())
    }

    /// The invariants, after every step.
    async fn check(&self) -> Result<(), TestCaseError> {
        self.model.check_invariants().map_err(|m| self.fail(m))?;
        // Every live session: the model's user.
        let mut tally = Tally::default();
        for (d, dev) in self.model.devices.iter().enumerate() {
            let Some(token) = &dev.token else { continue };
            let r = self.app.get("/api/me", Some(token)).await;
            ensure!(self, r.status == 200, "me #{d}: {} {}", r.status, r.text);
            let view = r.json();
            let key = self.model.identities[&(dev.person, dev.app)];
            self.check_user(&view, key, &format!("me #{d}"))?;
            tally.add(dev, &view);
        }
        self.check_tally(&tally).await?;
        // Exactly the model's rows.
        let (users, identities, sessions) = self.counts_before;
        let expected = (
            users + self.model.users.len() as u64,
            identities + self.model.identities.len() as u64,
            sessions + self.model.sessions,
        );
        let counts = self.app.counts().await;
        ensure!(
            self,
            counts == expected,
            "(users, identities, sessions) {counts:?}, expected {expected:?}"
        );
        Ok(())
    }
}

/// The person changes their number in WeChat.
async fn set_wechat_number(app: &TestApp, handle: &UserHandle, number: &str) {
    app.mock
        .control()
        .patch_user(
            handle,
            &UserSpec {
                phone: Some(Some(PhoneSpec {
                    country_code: "86".into(),
                    number: number.into(),
                })),
                ..UserSpec::default()
            },
        )
        .await
        .expect("number changed");
}

/// `PROPTEST_CASES` if set (for deeper runs), else `default`.
fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The mock handle of person `person` of case `case`.
fn handle(case: usize, person: usize) -> UserHandle {
    UserHandle::new(format!("c{case}p{person}"))
}

/// Number `number` of case `case` (mainland China): `139`, the case, the number.
fn phone_number(case: usize, number: usize) -> String {
    format!("139{case:06}{number:02}")
}

/// The world every journey runs in: A (the default app) and B on open platform `platform-1`,
/// C on none; logins are not limited per address (shrinking replays many journeys).
async fn world() -> TestApp {
    TestApp::with(setup()).await
}

/// The set-up of [`world`].
fn setup() -> Setup {
    Setup {
        default_platform: Some("platform-1"),
        extra_apps: vec![sibling_app(SIBLING_APP), plain_app(LONE_APP)],
        configure: Box::new(|c| c.limits.logins_per_address_per_minute = u32::MAX),
    }
}

/// [`world`] with login-core on PostgreSQL; `None` when skipped.
async fn world_on_postgres(test: &str) -> Option<TestApp> {
    TestApp::on_postgres(test, setup()).await
}

/// Creates the journey's persons in the mock, with their first numbers.
async fn create_persons(app: &TestApp, case: usize, journey: &Journey) {
    for (p, &n) in journey.numbers.iter().enumerate() {
        app.mock
            .control()
            .create_user(&UserSpec {
                handle: Some(handle(case, p)),
                phone: Some(Some(PhoneSpec {
                    country_code: "86".into(),
                    number: phone_number(case, n),
                })),
                ..UserSpec::default()
            })
            .await
            .expect("person created");
    }
}

/// Runs a journey as case `case` of `app`: its persons and numbers are its own.
async fn run_journey(app: &TestApp, case: usize, journey: &Journey) -> Result<(), TestCaseError> {
    create_persons(app, case, journey).await;
    let mut run = Run {
        app,
        case,
        counts_before: app.counts().await,
        model: Model {
            wechat_numbers: journey.numbers.clone(),
            ..Model::default()
        },
        log: Vec::new(),
    };
    for &op in &journey.ops {
        run.step(op).await?;
        run.check().await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Concurrent rounds

/// A request of a concurrent round, prepared (codes minted, numbers set) before the round.
#[derive(Clone)]
enum Request {
    Login {
        person: usize,
        app: App,
        code: String,
    },
    Bind {
        device: usize,
        number: usize,
        legacy: bool,
        body: Value,
    },
    Refresh {
        device: usize,
    },
    Logout {
        device: usize,
    },
    Me {
        device: usize,
    },
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Login { person, app, .. } => write!(f, "login p{person}@{app:?}"),
            Self::Bind {
                device,
                number,
                legacy,
                ..
            } => {
                let how = if *legacy { "encryptedData" } else { "code" };
                write!(f, "bind #{device} number{number} by {how}")
            }
            Self::Refresh { device } => write!(f, "refresh #{device}"),
            Self::Logout { device } => write!(f, "logout #{device}"),
            Self::Me { device } => write!(f, "me #{device}"),
        }
    }
}

impl Request {
    fn device(&self) -> Option<usize> {
        match self {
            Self::Login { .. } => None,
            Self::Bind { device, .. }
            | Self::Refresh { device }
            | Self::Logout { device }
            | Self::Me { device } => Some(*device),
        }
    }

    /// Whether the request ends its token.
    fn revokes(&self) -> bool {
        matches!(self, Self::Refresh { .. } | Self::Logout { .. })
    }
}

/// The state of a concurrent journey: only what the client side knows; the invariants are
/// checked on what login-core shows.
struct Rounds<'a> {
    run: Run<'a>,
    /// Successful logins and refreshes: the session rows created.
    sessions: u64,
    identities: BTreeSet<(usize, App)>,
}

impl Rounds<'_> {
    /// Mints codes and sets numbers for a round, one at a time.
    async fn prepare(&mut self, ops: &[Op]) -> Vec<Request> {
        let mut requests = Vec::new();
        for &op in ops {
            let request = match op {
                Op::Login { person, app } => {
                    let handle = self.run.handle(person);
                    let code = (self.run.app)
                        .wx_login_in(&self.run.appid(app), handle.as_str())
                        .await;
                    Request::Login { person, app, code }
                }
                Op::BindPhone {
                    device,
                    number,
                    legacy,
                } => {
                    let Some(d) = self.run.device(device) else {
                        continue;
                    };
                    let Device { person, app, .. } = self.run.model.devices[d].clone();
                    let handle = self.run.handle(person);
                    let number_text = self.run.number(number);
                    set_wechat_number(self.run.app, &handle, &number_text).await;
                    let appid = self.run.appid(app);
                    let grant = self.run.app.phone_grant_in(&appid, handle.as_str()).await;
                    let body = if legacy {
                        encrypted(&grant.encrypted_data, &grant.iv)
                    } else {
                        json!({ "code": grant.code })
                    };
                    Request::Bind {
                        device: d,
                        number,
                        legacy,
                        body,
                    }
                }
                Op::Refresh { device } => match self.run.device(device) {
                    Some(d) => Request::Refresh { device: d },
                    None => continue,
                },
                Op::Logout { device } => match self.run.device(device) {
                    Some(d) => Request::Logout { device: d },
                    None => continue,
                },
                Op::Me { device } => match self.run.device(device) {
                    Some(d) => Request::Me { device: d },
                    None => continue,
                },
            };
            requests.push(request);
        }
        requests
    }

    /// Sends the round's requests at once and checks each answer; then updates the devices.
    async fn round(&mut self, app: &Arc<TestApp>, ops: &[Op]) -> Result<(), TestCaseError> {
        let requests = self.prepare(ops).await;
        if requests.is_empty() {
            return Ok(());
        }
        self.run.log.push(format!("at once: {requests:?}"));
        let mut set = JoinSet::new();
        for (i, request) in requests.iter().cloned().enumerate() {
            let app = app.clone();
            let token = request.device().map(|d| self.run.token_of(d).0);
            set.spawn(async move {
                let token = token.as_deref();
                let r = match &request {
                    Request::Login { app: a, code, .. } => {
                        let appid = match a {
                            App::A => app.appid.as_str().to_owned(),
                            App::B => SIBLING_APP.to_owned(),
                            App::C => LONE_APP.to_owned(),
                        };
                        app.login_code_in(&appid, code).await
                    }
                    Request::Bind { body, .. } => {
                        app.post("/api/me/phone", token, body.clone()).await
                    }
                    Request::Refresh { .. } => {
                        app.post("/api/session/refresh", token, json!({})).await
                    }
                    Request::Logout { .. } => app.post("/api/logout", token, json!({})).await,
                    Request::Me { .. } => app.get("/api/me", token).await,
                };
                (i, r)
            });
        }
        let mut answers: Vec<Option<Resp>> = requests.iter().map(|_| None).collect();
        while let Some(done) = set.join_next().await {
            let (i, r) = done.expect("the request ran");
            answers[i] = Some(r);
        }
        let answers: Vec<Resp> = answers.into_iter().map(|a| a.expect("answered")).collect();

        // Each answer is one the API documents for it; a token may lose a race only to a
        // refresh or logout of the same device in the same round.
        let mut new_tokens: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut logged_out: BTreeSet<usize> = BTreeSet::new();
        for (request, r) in requests.iter().zip(&answers) {
            let code = serde_json::from_str::<Value>(&r.text)
                .ok()
                .map(|v| v["error"]["code"].clone())
                .unwrap_or(Value::Null);
            let outcome = format!("{request:?} → {} {}", r.status, r.text);
            let Some(d) = request.device() else {
                ensure!(self.run, r.status == 200, "login must succeed: {outcome}");
                let Request::Login { person, app, .. } = request else {
                    unreachable!()
                };
                let token = token_of(&r.json());
                self.run.model.devices.push(Device {
                    person: *person,
                    app: *app,
                    token: Some(token.clone()),
                    last: token,
                });
                self.identities.insert((*person, *app));
                self.sessions += 1;
                continue;
            };
            let live = self.run.model.devices[d].token.is_some();
            let contested = requests
                .iter()
                .filter(|o| o.device() == Some(d) && o.revokes())
                .count()
                > usize::from(request.revokes());
            let refused = r.status == 401 && code == "login_required";
            if !live {
                ensure!(
                    self.run,
                    refused,
                    "a revoked token must be refused: {outcome}"
                );
                continue;
            }
            let ok = match request {
                Request::Bind { .. } => {
                    r.status == 200 || (r.status == 409 && code == "phone_conflict")
                }
                Request::Refresh { .. } => r.status == 200,
                Request::Logout { .. } => r.status == 204,
                Request::Me { .. } => r.status == 200,
                Request::Login { .. } => unreachable!(),
            };
            ensure!(
                self.run,
                ok || (contested && refused),
                "a live token's request must be answered as documented: {outcome}"
            );
            match request {
                Request::Refresh { .. } if r.status == 200 => {
                    new_tokens.entry(d).or_default().push(token_of(&r.json()));
                }
                Request::Logout { .. } if r.status == 204 => {
                    logged_out.insert(d);
                }
                _ => {}
            }
        }
        for (d, tokens) in &new_tokens {
            ensure!(
                self.run,
                tokens.len() == 1,
                "#{d}: one token refreshed twice: {tokens:?}"
            );
        }
        let touched: BTreeSet<usize> = new_tokens.keys().chain(&logged_out).copied().collect();
        for d in touched {
            let dev = &mut self.run.model.devices[d];
            if let Some(old) = dev.token.take() {
                self.run.model.revoked.push(old);
            }
            if let Some(new) = new_tokens.get(&d).and_then(|t| t.first()) {
                dev.token = Some(new.clone());
                dev.last = new.clone();
                self.sessions += 1;
            }
        }
        Ok(())
    }

    /// The invariants as login-core shows them, whatever order the round ran in.
    async fn check(&self) -> Result<(), TestCaseError> {
        let run = &self.run;
        let mut tally = Tally::default();
        for (d, dev) in run.model.devices.iter().enumerate() {
            let Some(token) = &dev.token else { continue };
            let r = run.app.get("/api/me", Some(token)).await;
            ensure!(run, r.status == 200, "me #{d}: {} {}", r.status, r.text);
            let view = r.json();
            let appid = run.appid(dev.app);
            let apps = view["apps"].as_array().cloned().unwrap_or_default();
            ensure!(
                run,
                apps.contains(&json!(appid.as_str())),
                "me #{d}: {view}"
            );
            tally.add(dev, &view);
        }
        run.check_tally(&tally).await?;
        let (_, identities, sessions) = run.counts_before;
        let counts = run.app.counts().await;
        let expected = (
            identities + self.identities.len() as u64,
            sessions + self.sessions,
        );
        ensure!(
            run,
            (counts.1, counts.2) == expected,
            "(identities, sessions) {:?}, expected {expected:?}",
            (counts.1, counts.2)
        );
        Ok(())
    }
}

/// Runs a journey as case `case`, its ops in rounds of up to four sent at once.
async fn run_rounds(
    app: &Arc<TestApp>,
    case: usize,
    journey: &Journey,
) -> Result<(), TestCaseError> {
    create_persons(app, case, journey).await;
    let mut rounds = Rounds {
        run: Run {
            app,
            case,
            counts_before: app.counts().await,
            model: Model {
                wechat_numbers: journey.numbers.clone(),
                ..Model::default()
            },
            log: Vec::new(),
        },
        sessions: 0,
        identities: BTreeSet::new(),
    };
    for ops in journey.ops.chunks(4) {
        rounds.round(app, ops).await?;
        rounds.check().await?;
    }
    Ok(())
}

/// A runtime, the world, and a runner of `default` cases (`PROPTEST_CASES` overrides).
fn harness(default: u32) -> (tokio::runtime::Runtime, Arc<TestApp>, TestRunner) {
    harness_on(default, None).expect("the SQLite world")
}

/// Like [`harness`], on SQLite, or with `postgres` (the test's name) on PostgreSQL; `None`
/// when the PostgreSQL tests are skipped.
fn harness_on(
    default: u32,
    postgres: Option<&str>,
) -> Option<(tokio::runtime::Runtime, Arc<TestApp>, TestRunner)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let app = Arc::new(match postgres {
        None => rt.block_on(world()),
        Some(test) => rt.block_on(world_on_postgres(test))?,
    });
    let runner = TestRunner::new(ProptestConfig {
        cases: cases_or(default),
        // Failures are reported with the shrunk journey; no regression files in the source tree.
        failure_persistence: None,
        max_shrink_iters: 1024,
        ..ProptestConfig::default()
    });
    Some((rt, app, runner))
}

#[test]
fn props_journeys_keep_one_user_per_person_one_owner_per_number_and_revoked_tokens_dead() {
    let (rt, app, mut runner) = harness(32);
    one_by_one(rt, app, &mut runner);
}

/// The same journeys with login-core on PostgreSQL.
#[test]
fn props_journeys_on_postgres_keep_one_user_per_person_one_owner_per_number() {
    let test = "props_journeys_on_postgres_keep_one_user_per_person_one_owner_per_number";
    if let Some((rt, app, mut runner)) = harness_on(32, Some(test)) {
        one_by_one(rt, app, &mut runner);
    }
}

/// Runs journeys one request at a time.
fn one_by_one(rt: tokio::runtime::Runtime, app: Arc<TestApp>, runner: &mut TestRunner) {
    let cases = AtomicUsize::new(0);
    let result = runner.run(&journey(), |j| {
        let case = cases.fetch_add(1, Ordering::Relaxed);
        rt.block_on(run_journey(&app, case, &j))
    });
    rt.block_on(async move { drop(app) });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn props_journeys_sent_at_once_keep_the_invariants_and_answer_as_documented() {
    let (rt, app, mut runner) = harness(24);
    at_once(rt, app, &mut runner);
}

/// The same concurrent journeys with login-core on PostgreSQL, where racing requests meet in
/// the database's transactions instead of one writer.
#[test]
fn props_journeys_sent_at_once_on_postgres_keep_the_invariants_and_answer_as_documented() {
    let test = "props_journeys_sent_at_once_on_postgres_keep_the_invariants";
    if let Some((rt, app, mut runner)) = harness_on(24, Some(test)) {
        at_once(rt, app, &mut runner);
    }
}

/// Runs journeys in rounds of requests sent at once.
fn at_once(rt: tokio::runtime::Runtime, app: Arc<TestApp>, runner: &mut TestRunner) {
    let cases = AtomicUsize::new(0);
    let result = runner.run(&journey(), |j| {
        let case = cases.fetch_add(1, Ordering::Relaxed);
        rt.block_on(run_rounds(&app, case, &j))
    });
    rt.block_on(async move { drop(app) });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The race the concurrent journeys found, on purpose: a session's two phone bindings (and two
/// `GET /api/me`) at once, where the first binding joins the session's identity into the
/// number's owner and removes the session's old user. README: "this WeChat identity joins that
/// account (`joined: true`; the session follows)": the racing requests follow it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_racing_a_join_on_the_same_session_follow_the_session() {
    let app = Arc::new(world().await);
    let mut anomalies = Vec::new();
    for case in 0..8 {
        let (owner, joiner) = (handle(case, 0), handle(case, 1));
        let number = phone_number(case, 0);
        for h in [&owner, &joiner] {
            app.mock
                .control()
                .create_user(&UserSpec {
                    handle: Some(h.clone()),
                    phone: Some(Some(PhoneSpec {
                        country_code: "86".into(),
                        number: number.clone(),
                    })),
                    ..UserSpec::default()
                })
                .await
                .expect("person created");
        }
        // The owner: app C only, with the number.
        let (owner_token, _) = app.login_in(&AppId::new(LONE_APP), owner.as_str()).await;
        let g = app
            .phone_grant_in(&AppId::new(LONE_APP), owner.as_str())
            .await;
        let owner_id = app.bind_phone_code(&owner_token, &g.code).await.ok()["user"]["id"].clone();
        // The joiner: app B only, the same number.
        let (token, login) = app
            .login_in(&AppId::new(SIBLING_APP), joiner.as_str())
            .await;
        let joiner_id = login["user"]["id"].clone();
        let mut codes = Vec::new();
        for _ in 0..2 {
            let g = app
                .phone_grant_in(&AppId::new(SIBLING_APP), joiner.as_str())
                .await;
            codes.push(g.code);
        }
        let mut set = JoinSet::new();
        for code in codes {
            let (app, token) = (app.clone(), token.clone());
            set.spawn(async move { ("bind", app.bind_phone_code(&token, &code).await) });
        }
        for _ in 0..2 {
            let (app, token) = (app.clone(), token.clone());
            set.spawn(async move { ("me", app.get("/api/me", Some(&token)).await) });
        }
        let mut joins = 0;
        while let Some(done) = set.join_next().await {
            let (what, r) = done.expect("the request ran");
            let ok = r.status == 200 && {
                let v = r.json();
                let id = if what == "bind" {
                    &v["user"]["id"]
                } else {
                    &v["id"]
                };
                joins += usize::from(v["joined"] == true);
                *id == owner_id || (what == "me" && *id == joiner_id)
            };
            if !ok {
                anomalies.push(format!("attempt {case}: {what} → {} {}", r.status, r.text));
            }
        }
        if joins != 1 {
            anomalies.push(format!("attempt {case}: {joins} joins"));
        }
        // Afterwards the session is the owner's.
        assert_eq!(app.me(&token).await["id"], owner_id);
    }
    assert!(anomalies.is_empty(), "{}", anomalies.join("\n"));
}
