//! The recorded scenario's setup: its clock starts when the session did; options that differ
//! from the mock's defaults, apps by name with their open-platform account and profile era,
//! users with what the journey depends on (high risk, no phone), each as the mock had it
//! before the journey changed it (what it changed mid-journey is replayed as a step).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::Builder;
use crate::scenario::{AppSetup, Setup};

/// What the walk gathered for the setup.
#[derive(Debug, Default)]
pub(super) struct SetupDraft {
    /// Users by the scenario's handle: created or changed before the first step.
    pub users: BTreeMap<String, Map<String, Value>>,
    /// Users the recording created.
    pub created_users: BTreeSet<String>,
    /// Options changed before the first step.
    pub mock: Map<String, Value>,
    /// What the recording changed (`option:KEY`, `user:HANDLE:FIELD`, `app:APPID:FIELD`): the
    /// mock's state now shows its last value, not the first.
    pub patched: BTreeSet<String>,
    /// Apps the recording created, by appid: the body that created them.
    pub created_apps: BTreeMap<String, Value>,
    /// Apps changed before the first step, by appid.
    pub app_patches: BTreeMap<String, Map<String, Value>>,
}

/// The setup, once every step is known.
pub(super) fn finish(b: &mut Builder<'_>) -> Setup {
    let draft = std::mem::take(&mut b.setup);
    Setup {
        clock: Some(json!(
            mock_server::Timestamp::from_millis(b.start_ms).rfc3339()
        )),
        seed: None,
        mock: options(b, &draft),
        apps: apps(b, &draft),
        users: users(b, draft),
        backend: None,
        instances: None,
    }
}

/// Options changed before the first step, and those the mock had (not at their default) that
/// the recording did not change.
fn options(b: &Builder<'_>, draft: &SetupDraft) -> Option<Value> {
    let defaults = serde_json::to_value(mock_server::Options::default()).unwrap_or(Value::Null);
    let mut mock = draft.mock.clone();
    for (k, v) in &b.rec.world.options {
        let changed = draft.patched.contains(&format!("option:{k}"));
        if k == "journal_capacity" || changed || defaults.get(k) == Some(v) {
            continue;
        }
        mock.insert(k.clone(), v.clone());
    }
    (!mock.is_empty()).then_some(Value::Object(mock))
}

/// The apps the scenario uses: the default app when it is bound to an open platform or has a
/// profile era, a served app when it is bound, every other app (it must be created).
fn apps(b: &Builder<'_>, draft: &SetupDraft) -> Vec<AppSetup> {
    let mut out = Vec::new();
    for app in b.names.used_apps() {
        if app.kind.as_deref() == Some("official_account") {
            continue;
        }
        let created = draft.created_apps.get(&app.appid);
        let field = |k: &str, now: &Option<String>| -> Option<String> {
            if let Some(v) = draft.app_patches.get(&app.appid).and_then(|p| p.get(k)) {
                return v.as_str().map(str::to_owned);
            }
            match created {
                Some(body) => body[k].as_str().map(str::to_owned),
                None if draft.patched.contains(&format!("app:{}:{k}", app.appid)) => None,
                None => now.clone(),
            }
        };
        let open_platform = field("open_platform", &app.open_platform);
        let profile_era = field("profile_era", &app.profile_era);
        let needed = if app.served || app.default {
            open_platform.is_some() || profile_era.is_some()
        } else {
            true
        };
        if needed {
            out.push(AppSetup {
                name: app.name.clone(),
                appid: None,
                secret: None,
                open_platform,
                profile_era: if app.served { None } else { profile_era },
                registration: None,
            });
        }
    }
    out
}

/// Users created or changed before the first step; the steps' users that are high-risk or
/// have no phone at the mock (unless the recording changed that); users named only inside a
/// control-plane body (so `${handles.USER}` exists).
fn users(b: &mut Builder<'_>, draft: SetupDraft) -> Vec<Value> {
    let mut users = draft.users;
    for u in &b.rec.world.users {
        let Some(mine) = b.names.known_user(&u.handle).map(str::to_owned) else {
            continue;
        };
        if !b.step_users.contains(&mine) || draft.created_users.contains(&mine) {
            continue;
        }
        let untouched = |f: &str| !draft.patched.contains(&format!("user:{mine}:{f}"));
        let mut spec = Map::new();
        if u.high_risk && untouched("high_risk") {
            spec.insert("high_risk".into(), json!(true));
        }
        if u.phone.as_ref().is_none_or(Value::is_null) && untouched("phone") {
            spec.insert("phone".into(), Value::Null);
        }
        if !spec.is_empty() {
            let entry = users.entry(mine.clone()).or_default();
            entry.insert("handle".into(), json!(mine));
            for (k, v) in spec {
                entry.entry(k).or_insert(v);
            }
        }
    }
    for h in &b.names.named_in_bodies {
        if !b.step_users.contains(h) && !users.contains_key(h) {
            users.insert(h.clone(), Map::from_iter([("handle".into(), json!(h))]));
        }
    }
    users.into_values().map(Value::Object).collect()
}
