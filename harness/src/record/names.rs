//! The scenario's names for what the recording calls by the mock's ids: apps by name (the
//! target profile's apps by their appid, the mock's default app `default`, any other after its
//! own name), users by a handle fit for variable names, and recorded values rewritten into
//! `${apps.NAME.appid}`, `${apps.NAME.secret}` and `${handles.USER}`, so the scenario means the
//! same in any run, on any mock.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::MockWorld;
use crate::target::TargetProfile;

/// An app of the mock, as the scenario names it.
#[derive(Clone, Debug)]
pub(super) struct App {
    pub appid: String,
    pub secret: String,
    pub name: String,
    /// The target profile serves it under this name: the scenario must not create it.
    pub served: bool,
    /// The mock's default app.
    pub default: bool,
    pub open_platform: Option<String>,
    pub profile_era: Option<String>,
    pub kind: Option<String>,
    /// Some step or setup refers to it.
    pub used: bool,
}

/// Apps and users, by the scenario's names.
#[derive(Clone, Debug, Default)]
pub(super) struct Names {
    apps: Vec<App>,
    /// Mock handle to scenario handle.
    users: BTreeMap<String, String>,
    /// Users a step names only inside a control-plane body: the setup must create them, so
    /// that `${handles.USER}` exists.
    pub named_in_bodies: BTreeSet<String>,
}

impl Names {
    /// The mock's apps: the profile's by their appid, the default app `default` (or
    /// `mock_default` when the profile's default is another app), the others after their name
    /// or `app2`, `app3`, ...
    pub fn new(world: &MockWorld, profile: Option<&TargetProfile>) -> Self {
        let mut apps: Vec<App> = Vec::new();
        let mut taken = BTreeSet::new();
        let served: BTreeMap<&str, &str> = profile
            .map(|p| {
                p.apps
                    .iter()
                    .map(|(name, a)| (a.appid.as_str(), name.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        for a in &world.apps {
            if let Some(name) = served.get(a.appid.as_str()) {
                taken.insert((*name).to_owned());
            }
        }
        // The default app second, so a served app keeps its name; then the others in order.
        let mut order: Vec<&super::MockApp> = world.apps.iter().filter(|a| a.default).collect();
        order.extend(world.apps.iter().filter(|a| !a.default));
        for a in order {
            let (name, is_served) = match served.get(a.appid.as_str()) {
                Some(n) => ((*n).to_owned(), true),
                None => {
                    let wanted = if a.default && !taken.contains("default") {
                        "default".to_owned()
                    } else if a.default {
                        // The profile's default app is another one.
                        "mock_default".to_owned()
                    } else {
                        a.name.as_deref().map(ident).unwrap_or_default()
                    };
                    (fresh(&wanted, "app", &mut taken), false)
                }
            };
            apps.push(App {
                appid: a.appid.clone(),
                secret: a.secret.clone(),
                name,
                served: is_served,
                default: a.default,
                open_platform: a.open_platform.clone(),
                profile_era: a.profile_era.clone(),
                kind: a.kind.clone(),
                used: a.default,
            });
        }
        Self {
            apps,
            ..Self::default()
        }
    }

    /// The name of the app with this appid, noting that the scenario uses it.
    pub fn app(&mut self, appid: &str) -> Option<String> {
        let a = self.apps.iter_mut().find(|a| a.appid == appid)?;
        a.used = true;
        Some(a.name.clone())
    }

    /// The app of this name.
    #[cfg(test)]
    pub fn app_named(&self, name: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.name == name)
    }

    /// The apps the scenario uses, in the mock's order.
    pub fn used_apps(&self) -> impl Iterator<Item = &App> {
        self.apps.iter().filter(|a| a.used)
    }

    /// `default` for the default app (the field is then left out), else the name.
    pub fn app_field(&mut self, appid: Option<&str>) -> Option<String> {
        let name = appid.and_then(|a| self.app(a))?;
        (name != "default").then_some(name)
    }

    /// The scenario's handle for a mock user: the same when it only holds letters, digits,
    /// `_` and `-`; otherwise those, with `_` for the rest.
    pub fn user(&mut self, handle: &str) -> String {
        if let Some(h) = self.users.get(handle) {
            return h.clone();
        }
        let mut taken: BTreeSet<String> = self.users.values().cloned().collect();
        let mine = fresh(&ident(handle), "user", &mut taken);
        self.users.insert(handle.to_owned(), mine.clone());
        mine
    }

    /// The scenario's handle of a mock user it has named already.
    pub fn known_user(&self, handle: &str) -> Option<&str> {
        self.users.get(handle).map(String::as_str)
    }

    /// A recorded value as the scenario writes it: appids and secrets of known apps become
    /// variables, a `user` field the scenario's handle (`${handles.USER}`), and a literal `${`
    /// is kept literal (`$${`).
    pub fn rewrite(&mut self, v: &Value) -> Value {
        match v {
            Value::String(s) => {
                if let Some(a) = self.apps.iter_mut().find(|a| a.appid == *s) {
                    a.used = true;
                    return json!(format!("${{apps.{}.appid}}", a.name));
                }
                if let Some(a) = self
                    .apps
                    .iter_mut()
                    .find(|a| !a.secret.is_empty() && a.secret == *s)
                {
                    a.used = true;
                    return json!(format!("${{apps.{}.secret}}", a.name));
                }
                json!(literal(s))
            }
            Value::Array(xs) => Value::Array(xs.iter().map(|x| self.rewrite(x)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        let x = match (k.as_str(), x) {
                            ("user", Value::String(h)) => {
                                let h = self.user(h);
                                self.named_in_bodies.insert(h.clone());
                                json!(format!("${{handles.{h}}}"))
                            }
                            _ => self.rewrite(x),
                        };
                        (literal(k), x)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Text the runner sends as written: a `${` in it stays literal.
pub(super) fn literal(s: &str) -> String {
    s.replace("${", "$${")
}

/// Letters, digits, `_` and `-` kept, anything else `_`.
fn ident(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `wanted` if free, else `wanted_2`, `wanted_3`, ...; with nothing usable in `wanted`,
/// `fallback2`, `fallback3`, ... (the default app is the first).
fn fresh(wanted: &str, fallback: &str, taken: &mut BTreeSet<String>) -> String {
    let mut candidates: Box<dyn Iterator<Item = String>> = if wanted.trim_matches('_').is_empty() {
        Box::new((2u32..).map(|n| format!("{fallback}{n}")))
    } else {
        Box::new(
            std::iter::once(wanted.to_owned()).chain((2u32..).map(|n| format!("{wanted}_{n}"))),
        )
    };
    let name = candidates
        .find(|c| !taken.contains(c))
        .unwrap_or_else(|| fallback.to_owned());
    taken.insert(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{MockApp, MockWorld};

    fn app(appid: &str, name: Option<&str>, default: bool) -> MockApp {
        MockApp {
            appid: appid.into(),
            secret: format!("secret-of-{appid}"),
            name: name.map(str::to_owned),
            default,
            ..MockApp::default()
        }
    }

    #[test]
    fn apps_are_named_after_the_profile_the_default_and_their_own_names() {
        let world = MockWorld {
            apps: vec![
                app("wxdefault", None, true),
                app("wxshop", Some("Shop app"), false),
                app("wxteam", None, false),
                app("wxanon", None, false),
            ],
            ..MockWorld::default()
        };
        let mut n = Names::new(&world, None);
        assert_eq!(n.app("wxdefault").as_deref(), Some("default"));
        assert_eq!(n.app("wxshop").as_deref(), Some("Shop_app"));
        assert_eq!(n.app("wxanon").as_deref(), Some("app3"));
        assert_eq!(n.app("wxnope"), None);
        assert_eq!(n.app_field(Some("wxdefault")), None);

        let mut profile = TargetProfile::login_core("http://x".into());
        profile.apps.insert(
            "default".into(),
            crate::target::TargetApp {
                appid: "wxteam".into(),
                secret: "s".into(),
                open_platform: None,
                registration: None,
            },
        );
        let mut n = Names::new(&world, Some(&profile));
        assert_eq!(n.app("wxteam").as_deref(), Some("default"));
        assert!(n.app_named("default").is_some_and(|a| a.served));
        // The mock's own default app gives way.
        assert_eq!(n.app("wxdefault").as_deref(), Some("mock_default"));
    }

    #[test]
    fn users_keep_their_handles_when_they_can_and_values_become_variables() {
        let world = MockWorld {
            apps: vec![app("wxdefault", None, true)],
            ..MockWorld::default()
        };
        let mut n = Names::new(&world, None);
        assert_eq!(n.user("alice"), "alice");
        assert_eq!(n.user("bob.smith"), "bob_smith");
        assert_eq!(n.user("bob smith"), "bob_smith_2");
        assert_eq!(n.user("bob.smith"), "bob_smith", "stable");
        let v = n.rewrite(&json!({
            "appid": "wxdefault", "user": "bob smith", "secret": "secret-of-wxdefault",
            "note": "costs ${price}", "n": 3
        }));
        assert_eq!(
            v,
            json!({
                "appid": "${apps.default.appid}", "user": "${handles.bob_smith_2}",
                "secret": "${apps.default.secret}", "note": "costs $${price}", "n": 3
            })
        );
        assert!(n.named_in_bodies.contains("bob_smith_2"));
    }
}
