//! The world a scenario runs in: a mock (its own, or the run's shared one), the backend
//! (login-core in process, or a team's through its profile), the scenario's salted users and
//! apps, and the variables. Building it applies the setup; [`World::finish`] undoes what the
//! scenario changed on a shared mock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mock_server::{ControlClient, MockHandle};
use reqwest::Method;
use serde_json::{Value, json};

use login_core::LoginCoreHandle;

use super::needs::Needs;
use super::shared::{TargetRun, salted_number};
use super::{Failure, fail, initial_vars, start_secs};
use crate::context::{start_core, start_mock};
use crate::scenario::Scenario;
use crate::scenario::generate::Inputs;
use crate::scenario::vars::Vars;
use crate::target::{Registration, TargetProfile};

/// How the world was made: what [`World::finish`] must undo.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// The run it belongs to.
    pub run: Option<Arc<TargetRun>>,
    /// The clock before the scenario, to go back to (exclusive scenarios only).
    pub clock_before: Option<i64>,
    /// Options were changed.
    pub options_changed: bool,
    /// Served apps changed, with what to patch back.
    pub app_restores: Vec<(String, Value)>,
}

/// Mock, backend, variables.
pub(super) struct World {
    /// The in-process mock, when the scenario has its own.
    _mock: Option<MockHandle>,
    /// The embedded backend, when there is one.
    _core: Option<LoginCoreHandle>,
    /// The embedded backend's instances behind their proxy, when the scenario asks for several.
    _cluster: Option<crate::cluster::InProcess>,
    pub mock_url: String,
    pub control: ControlClient,
    pub target: TargetProfile,
    pub http: reqwest::Client,
    pub vars: Vars,
    /// Every session_key the mock handed out to this scenario's users.
    pub session_keys: BTreeSet<String>,
    /// Added to every user handle (`alice` is `alice-<salt>` at the mock).
    pub salt: String,
    /// Journal entries up to this sequence number came before the scenario.
    pub journal_since: u64,
    /// SMS messages up to this sequence number came before the scenario.
    pub sms_since: u64,
    /// Other scenarios may be using the mock at the same time.
    pub shared_mock: bool,
    /// Fault rules this scenario added.
    pub faults: Vec<u64>,
    pub undo: Shared,
    /// The recording of what was sent and answered, when a report draws it.
    pub trace: Option<std::sync::Mutex<super::trace::Recorder>>,
}

/// What the world needs to be built.
pub(super) struct Plan<'a> {
    pub scenario: &'a Scenario,
    pub seed: &'a str,
    pub inputs: &'a Inputs,
    pub needs: &'a Needs,
    pub salt: String,
    /// The run's shared mock and backend, for a scenario that talks to a team's backend.
    pub run: Option<Arc<TargetRun>>,
    /// A team's backend (with or without the shared run); `None`: the embedded login-core.
    pub target: Option<&'a TargetProfile>,
}

impl World {
    pub(super) async fn build(p: Plan<'_>) -> Result<Self, String> {
        // Generated inputs may appear in the setup too (a user's nickname, say).
        let mut given = Vars::default();
        for (k, v) in p.inputs {
            given.set(k, v.clone());
        }
        let expand = |v: &Value| given.expand(v).map_err(|e| format!("setup: {e}"));
        let setup = &p.scenario.setup;
        let setup_mock = setup.mock.as_ref().map(expand).transpose()?;
        let mut setup_backend = setup.backend.as_ref().map(expand).transpose()?;
        let setup_users = setup
            .users
            .iter()
            .map(expand)
            .collect::<Result<Vec<_>, _>>()?;
        let start = start_secs(setup.clock.as_ref())?;
        let http = reqwest::Client::new();
        let mut undo = Shared::default();
        // The mock: the run's (no reset: other scenarios may be running), or one of its own.
        let (mock, mock_url, served) = match &p.run {
            Some(run) => {
                undo.run = Some(run.clone());
                (None, run.mock_url.clone(), run.apps.clone())
            }
            None => {
                let m = start_mock(p.seed, start).await.map_err(|e| e.to_string())?;
                let url = m.base_url();
                let default = serde_json::to_value(m.default_app()).map_err(|e| e.to_string())?;
                (Some(m), url, vec![("default".to_owned(), default)])
            }
        };
        let control = ControlClient::new(&mock_url, None);
        let call = |m: Method, path: String, body: Option<Value>| {
            let control = control.clone();
            async move {
                control
                    .raw(m.clone(), &path, body.as_ref())
                    .await
                    .map_err(|e| format!("setup: mock {m} {path}: {e}"))
            }
        };
        let shared_mock = p.run.is_some();
        if shared_mock && p.needs.exclusive {
            let now = call(Method::GET, "/clock".into(), None).await?;
            let before = now["now_ms"].as_i64().unwrap_or(0).div_euclid(1000);
            // A scenario that changes options (quotas) starts in a minute of its own, so
            // per-minute quotas count it alone; every exclusive scenario puts the clock back
            // when it ends, so the run's clock stays near the backend's (open data watermarks).
            let at = match (&setup.clock, &setup.mock) {
                (Some(_), _) => start,
                (None, Some(_)) => (before.div_euclid(60) + 1) * 60,
                (None, None) => before,
            };
            call(
                Method::POST,
                "/clock".into(),
                Some(json!({"set": at, "freeze": true})),
            )
            .await?;
            undo.clock_before = Some(before);
        }
        if let Some(opts) = &setup_mock {
            call(Method::PATCH, "/options".into(), Some(opts.clone())).await?;
            undo.options_changed = shared_mock;
        }
        let journal_since = call(
            Method::GET,
            "/journal?since=18446744073709551615".into(),
            None,
        )
        .await?["last_seq"]
            .as_u64()
            .unwrap_or(0);
        // A mock of the scenario's own has sent nothing yet.
        let sms_since = if shared_mock {
            call(Method::GET, "/sms?last=1".into(), None).await?["last_seq"]
                .as_u64()
                .unwrap_or(0)
        } else {
            0
        };
        // Apps: the served ones by name; others are created (new appids every time).
        let mut apps = served.clone();
        let mut platforms = BTreeMap::new();
        for app in &setup.apps {
            let served_view = served
                .iter()
                .find(|(n, _)| *n == app.name)
                .map(|(_, v)| v.clone());
            let platform_at_mock = |scenario_platform: &str| -> String {
                // A platform a served app is bound to keeps the mock's name for it.
                setup
                    .apps
                    .iter()
                    .filter(|a| a.open_platform.as_deref() == Some(scenario_platform))
                    .find_map(|a| served.iter().find(|(n, _)| *n == a.name))
                    .and_then(|(_, v)| v["open_platform"].as_str().map(str::to_owned))
                    .filter(|_| shared_mock)
                    .unwrap_or_else(|| {
                        if shared_mock {
                            format!("{scenario_platform}-{}", p.salt)
                        } else {
                            scenario_platform.to_owned()
                        }
                    })
            };
            if let Some(op) = &app.open_platform {
                platforms.insert(app.name.clone(), platform_at_mock(op));
            }
            let view = match served_view {
                Some(view) => {
                    let appid = view["appid"].as_str().unwrap_or_default().to_owned();
                    let mut patch = serde_json::Map::new();
                    if !shared_mock {
                        if let Some(secret) = &app.secret {
                            patch.insert("secret".into(), json!(secret));
                        }
                        if let Some(op) = platforms.get(&app.name) {
                            patch.insert("open_platform".into(), json!(op));
                        }
                    }
                    if let Some(era) = &app.profile_era {
                        patch.insert("profile_era".into(), json!(era));
                        if shared_mock {
                            let old = view["profile_era"].clone();
                            undo.app_restores
                                .push((appid.clone(), json!({"profile_era": old})));
                        }
                    }
                    if patch.is_empty() {
                        view
                    } else {
                        call(
                            Method::PATCH,
                            format!("/apps/{appid}"),
                            Some(Value::Object(patch)),
                        )
                        .await?
                    }
                }
                None => {
                    let body = json!({
                        "appid": app.appid, "secret": app.secret,
                        "open_platform": platforms.get(&app.name),
                        "profile_era": app.profile_era,
                    });
                    call(Method::POST, "/apps".into(), Some(body)).await?
                }
            };
            match apps.iter_mut().find(|(n, _)| *n == app.name) {
                Some(slot) => slot.1 = view,
                None => apps.push((app.name.clone(), view)),
            }
        }
        // Users: salted handles, salted phone numbers.
        let mut users = serde_json::Map::new();
        for user in &setup_users {
            let mut user = user.clone();
            let handle = user["handle"].as_str().unwrap_or_default().to_owned();
            user["handle"] = json!(salted(&handle, &p.salt));
            if let Some(n) = user.pointer("/phone/number").and_then(Value::as_str) {
                user["phone"]["number"] = json!(salted_number(n, &p.salt));
            }
            let view = call(Method::POST, "/users".into(), Some(user)).await?;
            users.insert(handle, view);
        }
        let handles: serde_json::Map<String, Value> = p
            .needs
            .users
            .iter()
            .map(|h| (h.clone(), json!(salted(h, &p.salt))))
            .collect();
        // The backend.
        let mut timeout = p.target.and_then(TargetProfile::upstream_timeout);
        let instances = setup.instances.unwrap_or(1);
        let max = crate::cluster::MAX_INSTANCES;
        if !(1..=max).contains(&instances) {
            return Err(format!("setup.instances: {instances}; give 1 to {max}"));
        }
        let (core, cluster, target) = match p.target {
            Some(t) => (None, None, t.clone()),
            None => {
                let Some(m) = &mock else {
                    return Err("the embedded backend needs its own mock".into());
                };
                if p.needs.timeouts {
                    // Scenarios about a slow WeChat wait past the backend's timeout: keep it
                    // short unless the scenario sets it.
                    let patch = setup_backend.get_or_insert_with(|| json!({}));
                    if patch.pointer("/upstream/timeout").is_none() {
                        if let Value::Object(m) = patch {
                            let up = m.entry("upstream").or_insert_with(|| json!({}));
                            up["timeout"] = json!("1s");
                        }
                    }
                }
                let t = setup_backend
                    .as_ref()
                    .and_then(|b| b.pointer("/upstream/timeout"))
                    .and_then(Value::as_str)
                    .and_then(|d| humantime::parse_duration(d).ok())
                    .unwrap_or(std::time::Duration::from_secs(5));
                timeout = Some(t);
                let phone_first: Vec<String> = setup
                    .apps
                    .iter()
                    .filter(|a| a.registration == Some(Registration::PhoneRequired))
                    .filter_map(|a| apps.iter().find(|(n, _)| *n == a.name))
                    .filter_map(|(_, v)| v["appid"].as_str().map(str::to_owned))
                    .collect();
                if instances == 1 {
                    let core = start_core(m, p.seed, setup_backend.as_ref(), &phone_first)
                        .await
                        .map_err(|e| e.to_string())?;
                    let profile = TargetProfile::login_core(core.base_url());
                    (Some(core), None, profile)
                } else {
                    let server =
                        crate::cluster::test_server()?.ok_or_else(crate::cluster::skip_reason)?;
                    let cluster = crate::cluster::InProcess::start(
                        m,
                        p.seed,
                        setup_backend.as_ref(),
                        &phone_first,
                        instances,
                        &server,
                    )
                    .await
                    .map_err(|e| format!("setup.instances: {e}"))?;
                    let profile = TargetProfile::login_core(cluster.proxy.base_url());
                    (None, Some(cluster), profile)
                }
            }
        };
        let mut vars = initial_vars(&apps);
        for (k, v) in p.inputs {
            vars.set(k, v.clone());
        }
        vars.set("users", Value::Object(users));
        vars.set("handles", Value::Object(handles));
        if let Some(t) = timeout {
            // Past the timeout by half of it (at least 250 ms, at most a second): enough for a
            // busy machine's scheduling, and a slow scenario waits no longer than it must.
            let margin = (t / 2).clamp(
                std::time::Duration::from_millis(250),
                std::time::Duration::from_secs(1),
            );
            let beyond = (t + margin).as_millis();
            vars.set(
                "timeouts",
                json!({"beyond": format!("{beyond}ms"), "backend": format!("{}ms", t.as_millis())}),
            );
        }
        let mut world = Self {
            _mock: mock,
            _core: core,
            _cluster: cluster,
            mock_url,
            control,
            target,
            http,
            vars,
            session_keys: BTreeSet::new(),
            salt: p.salt,
            journal_since,
            sms_since,
            shared_mock,
            faults: Vec::new(),
            undo,
            trace: None,
        };
        world.refresh_now().await.map_err(|f| f.message)?;
        Ok(world)
    }

    /// Undoes what the scenario changed on a shared mock: its faults, options, app settings
    /// and the clock. Errors are reported, not hidden.
    pub(super) async fn finish(&mut self) -> Result<(), String> {
        let Some(run) = self.undo.run.clone() else {
            return Ok(());
        };
        let mut errors = Vec::new();
        for id in std::mem::take(&mut self.faults) {
            if let Err(e) = self.control.remove_fault(id).await {
                // Spent rules may be gone already.
                if !e.to_string().contains("not_found") {
                    errors.push(format!("remove fault {id}: {e}"));
                }
            }
        }
        if self.undo.options_changed {
            if let Err(e) = self.control.set_options(&run.default_options).await {
                errors.push(format!("restore options: {e}"));
            }
        }
        for (appid, patch) in std::mem::take(&mut self.undo.app_restores) {
            if let Err(e) = self
                .control
                .raw(Method::PATCH, &format!("/apps/{appid}"), Some(&patch))
                .await
            {
                errors.push(format!("restore app {appid}: {e}"));
            }
        }
        if let Some(t) = self.undo.clock_before.take() {
            if let Err(e) = self.control.set_clock(t).await {
                errors.push(format!("restore the clock: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "cleaning up the shared mock failed: {}",
                errors.join("; ")
            ))
        }
    }

    /// The mock's handle of a scenario user.
    pub(super) fn handle(&self, user: &str) -> String {
        salted(user, &self.salt)
    }

    pub(super) async fn refresh_now(&mut self) -> Result<(), Failure> {
        let clock = self
            .control
            .raw(Method::GET, "/clock", None)
            .await
            .map_err(|e| fail(format!("mock GET /clock: {e}")))?;
        let ms = clock["now_ms"].as_i64().unwrap_or(0);
        self.vars.set("now", json!(ms.div_euclid(1000)));
        self.vars.set("now_ms", json!(ms));
        Ok(())
    }
}

/// `alice` at the mock: `alice-<salt>` (as is without a salt).
pub(super) fn salted(handle: &str, salt: &str) -> String {
    if salt.is_empty() {
        handle.to_owned()
    } else {
        format!("{handle}-{salt}")
    }
}
