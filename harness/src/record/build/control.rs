//! The control-plane calls of a recording as steps: the simulated mini-program's `wx.*` calls
//! (a `wx.login` whose code the next exchange uses once, successfully, folds into its
//! `login`), clock moves, fault rules, and the mock's settings (before the first step they go
//! to the setup; later, as `mock` steps); any other call is replayed as made.

use mock_server::journal::ControlEntry;
use serde_json::{Value, json};

use super::{Builder, Code, Item, login_step, param};
use crate::record::expect;
use crate::record::names::literal;
use crate::scenario::{Action, ClockStep, HttpCall, Step, WxCall};

/// When a control-plane call began on the mock's clock: a clock move is dated after it.
pub(super) fn start_of(c: &ControlEntry) -> i64 {
    if c.path == "/clock" {
        if let Some(adv) = c.body["advance"].as_str() {
            if let Ok(d) = mock_server::clock::parse_duration(adv) {
                return c.time_ms - i64::try_from(d.as_millis()).unwrap_or(0);
            }
        }
    }
    c.time_ms
}

/// The `wx.*` calls the scenario format has an action for, by control-plane path, with the
/// stem of the variables that save their answers.
const WX: [(&str, &str); 4] = [
    ("/wx/getUserInfo", "userinfo"),
    ("/wx/getUserProfile", "profile"),
    ("/wx/getShareInfo", "share"),
    ("/wx/getWeRunData", "werun"),
];

impl Builder<'_> {
    /// One control-plane call; `true` when it was folded with the next item.
    pub(super) fn control(&mut self, c: &ControlEntry, next: Option<&Item<'_>>) -> bool {
        let path = c.path.split('?').next().unwrap_or_default().to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (c.method.as_str(), segments.as_slice()) {
            ("POST", ["wx", "login"]) => return self.wx_login(c, next),
            ("POST", ["wx", "getPhoneNumber"]) => self.wx_phone(c),
            ("POST", ["wx", _]) if WX.iter().any(|(p, _)| *p == path) => self.wx_call(c, &path),
            ("POST", ["clock"]) => self.clock(c),
            ("POST", ["faults"]) => {
                self.catch_up(c.time_ms);
                let mut spec = self.names.rewrite(&c.body);
                if let Some(u) = c.body["user"].as_str() {
                    // The runner salts a fault's `user` itself: the handle goes as it is.
                    spec["user"] = json!(self.step_user(u));
                }
                self.push_fault(c, spec);
            }
            ("DELETE", ["faults"]) => {
                self.catch_up(c.time_ms);
                self.live_rules.clear();
                self.push(clear_faults(), Vec::new());
            }
            ("DELETE", ["faults", id]) => {
                let id: u64 = id.parse().unwrap_or(0);
                self.catch_up(c.time_ms);
                if self.live_rules == [id] {
                    self.push(clear_faults(), Vec::new());
                } else {
                    self.note(format!(
                        "FILL IN: here the journey removed fault rule {id} alone; a scenario \
                         removes its rules all at once (`clear_faults: {{}}`): add that where it \
                         fits."
                    ));
                }
                self.live_rules.retain(|r| *r != id);
            }
            ("PATCH", ["options"]) => self.options(c),
            ("POST", ["users"]) => self.create_user(c),
            ("PATCH", ["users", handle]) => self.patch_user(c, &decoded(handle)),
            ("POST", ["apps"]) => self.create_app(c),
            ("PATCH", ["apps", appid]) => self.patch_app(c, &decoded(appid)),
            _ => self.as_made(c, &path),
        }
        false
    }

    fn push_fault(&mut self, c: &ControlEntry, spec: Value) {
        if let Some(id) = c.response["id"].as_u64() {
            self.rules.insert(id, expect::rule_is_certain(&c.body));
            self.live_rules.push(id);
        }
        self.push(
            Step {
                name: None,
                action: Action::Fault(spec),
            },
            Vec::new(),
        );
    }

    /// The app (`None`: the default) and the scenario's user of a `/wx/*` call.
    fn wx_who(&mut self, c: &ControlEntry) -> (Option<String>, String) {
        let appid = c.response["mock"]["appid"]
            .as_str()
            .or_else(|| c.body["appid"].as_str())
            .map(str::to_owned);
        let app = self.names.app_field(appid.as_deref());
        let handle = c.response["mock"]["user"]
            .as_str()
            .or_else(|| c.body["user"].as_str())
            .unwrap_or_default()
            .to_owned();
        (app, self.step_user(&handle))
    }

    /// `wx.login`: folded into the next exchange's `login` when that uses its code once and
    /// succeeds; otherwise a `wx.login` step saving the code for the steps that use it.
    fn wx_login(&mut self, c: &ControlEntry, next: Option<&Item<'_>>) -> bool {
        let (app, user) = self.wx_who(c);
        let code = c.response["code"].as_str().unwrap_or_default().to_owned();
        let appid = c.response["mock"]["appid"].as_str().map(str::to_owned);
        if let Some(Item::Exchange(g)) = next {
            let e = g[0];
            let foldable = g.len() == 1
                && param(e, "js_code") == Some(code.as_str())
                && self.uses.get(&code) == Some(&1)
                && e.errcode == Some(0)
                && expect::certain(e, &self.rules)
                && param(e, "appid") == appid.as_deref();
            if foldable {
                // The code is minted when it is exchanged: younger, and as good.
                self.catch_up(e.time_ms);
                let call = expect::call(e, "jscode2session", Some(&user), &self.rules);
                self.push(login_step(&user, app, None, None, None, None), vec![call]);
                self.sessions.insert(user.clone(), user.clone());
                self.codes.insert(
                    code,
                    Code {
                        var: None,
                        user,
                        appid,
                        minted_ms: e.time_ms,
                    },
                );
                return true;
            }
        }
        self.catch_up(c.time_ms);
        let var = self.var(&format!("{user}_code"));
        self.push(
            Step {
                name: None,
                action: Action::WxLogin(wx(&user, app, Some(var.clone()))),
            },
            Vec::new(),
        );
        self.codes.insert(
            code,
            Code {
                var: Some(var),
                user,
                appid,
                minted_ms: c.time_ms,
            },
        );
        false
    }

    /// The getPhoneNumber button: a `wx.getPhoneNumber` step saving the code; a declined or
    /// real-time button, which the action does not play, as made.
    fn wx_phone(&mut self, c: &ControlEntry) {
        let plain = !c.body["deny"].as_bool().unwrap_or(false)
            && c.body["kind"]
                .as_str()
                .is_none_or(|k| k == "getPhoneNumber")
            && c.response["code"].is_string();
        if !plain {
            self.as_made(c, "/wx/getPhoneNumber");
            return;
        }
        self.catch_up(c.time_ms);
        let (app, user) = self.wx_who(c);
        let var = self.var(&format!("{user}_phone"));
        let mut call = wx(&user, app, Some(var.clone()));
        call.tamper = c.body["tamper"].as_str().map(str::to_owned);
        if let Some(code) = c.response["code"].as_str() {
            self.phone_codes
                .insert(code.to_owned(), (var.clone(), user.clone()));
        }
        self.push(
            Step {
                name: None,
                action: Action::WxGetPhoneNumber(call),
            },
            Vec::new(),
        );
    }

    /// `wx.getUserInfo`, `wx.getUserProfile`, `wx.getShareInfo`, `wx.getWeRunData`.
    fn wx_call(&mut self, c: &ControlEntry, path: &str) {
        self.catch_up(c.time_ms);
        let (app, user) = self.wx_who(c);
        let stem = WX
            .iter()
            .find(|(p, _)| *p == path)
            .map_or("wx", |(_, s)| *s);
        let var = self.var(&format!("{user}_{stem}"));
        let mut call = wx(&user, app, Some(var.clone()));
        let text = |k: &str| c.body[k].as_str().map(str::to_owned);
        call.era = text("era");
        call.tamper = text("tamper");
        call.group = text("group");
        call.steps = serde_json::from_value(c.body["steps"].clone()).ok();
        if matches!(stem, "userinfo" | "profile") {
            self.note(format!(
                "If the mini-program sent this to your backend, say so: \
                 `submit_profile: {{ as: {user}, data: \"${{{var}}}\" }}` (no WeChat call shows it)."
            ));
        }
        let action = match stem {
            "userinfo" => Action::WxGetUserInfo(call),
            "profile" => Action::WxGetUserProfile(call),
            "share" => Action::WxGetShareInfo(call),
            _ => Action::WxGetWeRunData(call),
        };
        self.push(Step { name: None, action }, Vec::new());
    }

    /// A clock move: `advance` and `set` replayed; freezing and resuming are not (a
    /// scenario's clock is always frozen).
    fn clock(&mut self, c: &ControlEntry) {
        let set = c.body.get("set").filter(|v| !v.is_null()).cloned();
        let advance = c.body["advance"].as_str().map(str::to_owned);
        if set.is_none() && advance.is_none() {
            self.header.push(format!(
                "Not replayed: POST /__mock__/clock {} (a scenario's clock is always frozen).",
                c.body
            ));
            return;
        }
        self.catch_up(start_of(c));
        if let Some(set) = set {
            self.push(
                Step {
                    name: None,
                    action: Action::Clock(ClockStep {
                        advance: None,
                        set: Some(set),
                    }),
                },
                Vec::new(),
            );
        }
        if let Some(advance) = advance {
            self.push(
                Step {
                    name: None,
                    action: Action::Clock(ClockStep {
                        advance: Some(advance),
                        set: None,
                    }),
                },
                Vec::new(),
            );
        }
        // The clock now reads what the mock's did after the move.
        self.now_ms = c.response["now_ms"].as_i64().unwrap_or(c.time_ms);
    }

    /// Options: before the first step, the setup's; later, a `mock` step.
    fn options(&mut self, c: &ControlEntry) {
        let Value::Object(mut patch) = c.body.clone() else {
            return;
        };
        // The journal's size is the recording's business, not the journey's.
        patch.remove("journal_capacity");
        if patch.is_empty() {
            return;
        }
        for k in patch.keys() {
            self.setup.patched.insert(format!("option:{k}"));
        }
        if self.drafts.is_empty() {
            self.setup.mock.extend(patch);
            return;
        }
        self.catch_up(c.time_ms);
        self.note(
            "The options change mid-journey: against a team's backend the run's mock keeps them \
             after this scenario (only `setup.mock` is put back); move them there if the journey \
             allows.",
        );
        self.push(
            mock_step("PATCH", "/options", Some(Value::Object(patch))),
            Vec::new(),
        );
    }

    /// A user created: the setup's (a user may be created before anything happens to it).
    fn create_user(&mut self, c: &ControlEntry) {
        let handle = c.response["handle"]
            .as_str()
            .or_else(|| c.body["handle"].as_str())
            .unwrap_or_default()
            .to_owned();
        let mine = self.names.user(&handle);
        let mut spec = c.body.as_object().cloned().unwrap_or_default();
        spec.insert("handle".into(), json!(mine));
        self.setup.created_users.insert(mine.clone());
        self.setup.users.insert(mine, spec);
    }

    /// A user changed: before the first step, the setup's; later, a `mock` step.
    fn patch_user(&mut self, c: &ControlEntry, handle: &str) {
        let mine = self.names.user(handle);
        let patch = c.body.as_object().cloned().unwrap_or_default();
        for k in patch.keys() {
            self.setup.patched.insert(format!("user:{mine}:{k}"));
        }
        if self.drafts.is_empty() {
            let spec = self.setup.users.entry(mine.clone()).or_default();
            spec.insert("handle".into(), json!(mine));
            spec.extend(patch);
            return;
        }
        self.catch_up(c.time_ms);
        self.step_users.insert(mine.clone());
        self.push(
            mock_step(
                "PATCH",
                &format!("/users/{mine}"),
                Some(Value::Object(patch)),
            ),
            Vec::new(),
        );
    }

    /// An app created: the setup's, by name (its appid and secret derive from the seed).
    fn create_app(&mut self, c: &ControlEntry) {
        let appid = c.response["appid"].as_str().unwrap_or_default().to_owned();
        if c.body["kind"].as_str() == Some("official_account") {
            self.as_made(c, "/apps");
            return;
        }
        self.names.app(&appid);
        self.setup.created_apps.insert(appid, c.body.clone());
    }

    /// An app changed: before the first step, the setup's; later, a `mock` step.
    fn patch_app(&mut self, c: &ControlEntry, appid: &str) {
        let Some(name) = self.names.app(appid) else {
            self.as_made(c, &format!("/apps/{appid}"));
            return;
        };
        let patch = c.body.as_object().cloned().unwrap_or_default();
        if self.drafts.is_empty() {
            self.setup
                .app_patches
                .entry(appid.to_owned())
                .or_default()
                .extend(patch);
            return;
        }
        for k in patch.keys() {
            self.setup.patched.insert(format!("app:{appid}:{k}"));
        }
        self.catch_up(c.time_ms);
        let body = self.names.rewrite(&Value::Object(patch));
        self.push(
            mock_step(
                "PATCH",
                &format!("/apps/${{apps.{name}.appid}}"),
                Some(body),
            ),
            Vec::new(),
        );
    }

    /// Any other change, replayed on the control plane as made (its answer unchecked).
    fn as_made(&mut self, c: &ControlEntry, path: &str) {
        self.catch_up(c.time_ms);
        let path = self.rewrite_path(path);
        let body = (!c.body.is_null()).then(|| self.names.rewrite(&c.body));
        self.note(format!(
            "Replays the control-plane call {} /__mock__{} as made; its answer is not checked.",
            c.method, c.path
        ));
        self.push(mock_step(&c.method, &path, body), Vec::new());
    }

    /// A control-plane path with the scenario's names: `/users/alice`, `/apps/${apps.x.appid}`.
    fn rewrite_path(&mut self, path: &str) -> String {
        let segments: Vec<&str> = path.split('/').collect();
        let mut out = Vec::with_capacity(segments.len());
        for (i, seg) in segments.iter().enumerate() {
            let parent = if i == 2 { segments[1] } else { "" };
            out.push(match parent {
                "users" => self.names.user(&decoded(seg)),
                "apps" => self
                    .names
                    .app(&decoded(seg))
                    .map_or_else(|| literal(seg), |n| format!("${{apps.{n}.appid}}")),
                _ => literal(seg),
            });
        }
        out.join("/")
    }
}

/// A path segment as the control plane read it: `%XX` decoded (invalid UTF-8 replaced).
fn decoded(seg: &str) -> String {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A simulated mini-program call.
fn wx(user: &str, app: Option<String>, save: Option<String>) -> WxCall {
    WxCall {
        user: user.to_owned(),
        app,
        save,
        era: None,
        tamper: None,
        group: None,
        steps: None,
    }
}

fn clear_faults() -> Step {
    Step {
        name: None,
        action: Action::ClearFaults(crate::scenario::Empty {}),
    }
}

/// A call to the mock's control plane.
fn mock_step(method: &str, path: &str, json: Option<Value>) -> Step {
    Step {
        name: None,
        action: Action::Mock(HttpCall {
            method: Some(method.to_owned()),
            path: path.to_owned(),
            query: std::collections::BTreeMap::new(),
            headers: std::collections::BTreeMap::new(),
            json,
            body: None,
            auth: None,
            expect: None,
            save: std::collections::BTreeMap::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::decoded;

    #[test]
    fn path_segments_are_read_as_the_control_plane_reads_them() {
        assert_eq!(decoded("bob%20smith"), "bob smith");
        assert_eq!(decoded("%E5%B0%8F%E6%98%8E"), "小明");
        assert_eq!(decoded("50%"), "50%", "a lone % stays");
        assert_eq!(decoded("%zz%4"), "%zz%4");
    }
}
