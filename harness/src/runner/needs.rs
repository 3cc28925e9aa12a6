//! What a scenario needs, read from the file before it runs: whether it talks to the backend
//! at all, whether it must have the shared mock to itself (it moves the clock, changes options,
//! plants faults or counts requests), and, against a target, why it cannot run there.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::scenario::{Action, Expect, Scenario, Step};
use crate::target::{OutcomeName, Registration, TargetProfile};

/// A scenario's needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// It sends something to the backend under test.
    pub backend: bool,
    /// On a shared mock, it must run with no other scenario at the same time.
    pub exclusive: bool,
    /// It delays a fault past the backend's upstream timeout (`${timeouts.beyond}`).
    pub timeouts: bool,
    /// Why it cannot run against this target (the first reason found), if it cannot.
    pub skip: Option<String>,
    /// The user handles the file names (setup and steps), before salting.
    pub users: BTreeSet<String>,
}

/// Reads a scenario against a profile; `embedded`: login-core in process, which serves every
/// app and takes `setup.backend`.
pub fn analyse(scenario: &Scenario, profile: &TargetProfile, embedded: bool) -> Needs {
    let mut n = Needs::default();
    let setup = &scenario.setup;
    n.exclusive = setup.clock.is_some() || setup.mock.is_some();
    for u in &setup.users {
        if let Some(h) = u.get("handle").and_then(Value::as_str) {
            n.users.insert(h.to_owned());
        }
    }
    let cluster = setup.instances.is_some_and(|n| n > 1);
    if cluster && !embedded {
        n.skip = Some(
            "runs several login-core instances (`setup.instances`); it runs against the embedded login-core".into(),
        );
    } else if cluster && matches!(crate::cluster::test_server(), Ok(None)) {
        n.skip = Some(crate::cluster::skip_reason());
    }
    if !embedded {
        if scenario.tags.iter().any(|t| t == "login-core") {
            n.skip = Some(
                "uses login-core's own API (tag `login-core`); it runs against the embedded login-core".into(),
            );
        } else if setup.backend.is_some() {
            n.skip = Some(
                "configures the embedded login-core (`setup.backend`); it runs against the embedded login-core".into(),
            );
        }
        for app in &setup.apps {
            let served = profile.apps.get(&app.name);
            if app.name == "default" || served.is_some() {
                if app.profile_era.is_some() {
                    n.exclusive = true;
                }
                if let (Some(_), Some(p)) = (&app.open_platform, served) {
                    if p.open_platform.is_none() {
                        n.skip.get_or_insert(format!(
                            "needs app `{}` bound to an open-platform account; the profile's apps.{}.open_platform is not set",
                            app.name, app.name
                        ));
                    }
                }
            }
        }
    }
    let declared: BTreeMap<&str, Registration> = setup
        .apps
        .iter()
        .filter_map(|a| a.registration.map(|r| (a.name.as_str(), r)))
        .collect();
    let ctx = Ctx {
        profile,
        embedded,
        declared,
    };
    walk(&scenario.steps, &ctx, &mut n);
    n
}

/// What the walk over the steps reads.
struct Ctx<'a> {
    profile: &'a TargetProfile,
    embedded: bool,
    /// The registration policy the scenario gives its apps.
    declared: BTreeMap<&'a str, Registration>,
}

impl Ctx<'_> {
    /// Against a target, a login to `app` (or a phone login with its appid) needs the app
    /// served, its appid's place in the route, and the registration policy the scenario
    /// expects (`auto` unless it says).
    fn app_needs(&self, app: Option<&str>, appid_at: bool, route: &str, n: &mut Needs) {
        if self.embedded {
            return;
        }
        let name = app.unwrap_or("default");
        if name != "default" {
            if !self.profile.apps.contains_key(name) {
                n.skip.get_or_insert(format!(
                    "logs in to a second app `{name}`, which the profile does not serve (apps.{name})"
                ));
            }
            if !appid_at {
                n.skip.get_or_insert(format!(
                    "logs in to app `{name}`, but the profile does not say where the appid goes (routes.{route}.appid)"
                ));
            }
        }
        let wanted = self.declared.get(name).copied().unwrap_or_default();
        let served = self.profile.registration(name);
        if wanted != served {
            let what = |r: Registration| match r {
                Registration::Auto => "creates the account at the first login",
                Registration::PhoneRequired => "asks for a phone number first",
            };
            n.skip.get_or_insert(format!(
                "expects app `{name}` to register `{wanted}` (it {}), but the profile's apps.{name}.registration is `{served}` (it {})",
                what(wanted),
                what(served)
            ));
        }
    }
}

fn walk(steps: &[Step], ctx: &Ctx<'_>, n: &mut Needs) {
    let (profile, embedded) = (ctx.profile, ctx.embedded);
    let routes = &profile.routes;
    for step in steps {
        let mut need = |given: bool, route: &str| {
            if !given && n.skip.is_none() {
                n.skip = Some(format!(
                    "needs the `{route}` route, which the profile leaves out (routes.{route})"
                ));
            }
        };
        match &step.action {
            Action::WxLogin(c)
            | Action::WxGetPhoneNumber(c)
            | Action::WxGetUserInfo(c)
            | Action::WxGetUserProfile(c)
            | Action::WxGetShareInfo(c)
            | Action::WxGetWeRunData(c) => {
                n.users.insert(c.user.clone());
            }
            Action::Login(c) => {
                n.backend = true;
                n.users.insert(c.user.clone());
                let login = routes.login.as_ref();
                ctx.app_needs(
                    c.app.as_deref(),
                    login.is_some_and(|l| l.appid.is_some()),
                    "login",
                    n,
                );
                if c.phone_code.is_some() && login.is_none_or(|l| l.phone_code.is_none()) {
                    n.skip.get_or_insert(
                        "sends a getPhoneNumber code with the login code, which the profile's login route does not take (routes.login.phone_code)".into(),
                    );
                }
                expect_needs(
                    c.expect.as_ref(),
                    profile,
                    profile.user_id.is_some(),
                    "user_id",
                    n,
                );
            }
            Action::SmsSend(c) => {
                n.backend = true;
                need(routes.sms_send.is_some(), "sms_send");
                expect_needs(c.expect.as_ref(), profile, true, "", n);
            }
            Action::SmsInbox(_) => {}
            Action::LoginSms(c) => {
                n.backend = true;
                need(routes.login_sms.is_some(), "login_sms");
                if c.code.is_none() {
                    need(routes.sms_send.is_some(), "sms_send");
                }
                phone_login_needs(
                    ctx,
                    routes.login_sms.as_ref(),
                    "login_sms",
                    c.ticket.as_deref(),
                    c.app.as_deref(),
                    c.expect.as_ref(),
                    n,
                );
            }
            Action::LoginPassword(c) => {
                n.backend = true;
                need(routes.login_password.is_some(), "login_password");
                phone_login_needs(
                    ctx,
                    routes.login_password.as_ref(),
                    "login_password",
                    c.ticket.as_deref(),
                    c.app.as_deref(),
                    c.expect.as_ref(),
                    n,
                );
            }
            Action::Request(_) => n.backend = true,
            Action::Whoami(c) => {
                n.backend = true;
                need(routes.whoami.is_some(), "whoami");
                let has = routes.whoami.as_ref().is_some_and(|w| w.user_id.is_some());
                expect_needs(c.expect.as_ref(), profile, has, "routes.whoami.user_id", n);
            }
            Action::Refresh(_) => {
                n.backend = true;
                need(routes.refresh.is_some(), "refresh");
            }
            Action::Logout(_) => {
                n.backend = true;
                need(routes.logout.is_some(), "logout");
            }
            Action::SessionCheck(_) => {
                n.backend = true;
                need(routes.session_check.is_some(), "session_check");
            }
            Action::SubmitProfile(_) => {
                n.backend = true;
                need(routes.profile.is_some(), "profile");
            }
            Action::BindPhone(c) => {
                n.backend = true;
                if c.code.is_some() {
                    need(routes.phone_code.is_some(), "phone_code");
                }
                if c.encrypted.is_some() {
                    need(routes.phone_encrypted.is_some(), "phone_encrypted");
                }
            }
            Action::Fault(spec) => {
                n.exclusive = true;
                if let Some(u) = spec.get("user").and_then(Value::as_str) {
                    n.users.insert(u.to_owned());
                }
                if spec.to_string().contains("${timeouts.") {
                    n.timeouts = true;
                    if !embedded && profile.upstream_timeout.is_none() {
                        n.skip.get_or_insert(
                            "delays WeChat past the backend's timeout, which the profile does not give (upstream_timeout)".into(),
                        );
                    }
                }
            }
            Action::Clock(_) | Action::Journal(_) => n.exclusive = true,
            Action::Mock(c) => {
                // Reading or changing this scenario's own users is private; anything else
                // (options, faults, the journal, apps) is shared.
                if !(c.path.starts_with("/users/") || c.path.starts_with("/wx/")) {
                    n.exclusive = true;
                }
            }
            Action::WeChat(_) | Action::ClearFaults(_) => {}
            Action::Repeat(r) => walk(&r.steps, ctx, n),
        }
        if profile.reset.is_some() && !embedded {
            n.exclusive = true;
        }
    }
}

/// A phone login: a ticket taken from a login answer needs the ticket's place there; a
/// login to another app, the appid's place; and the expectation's needs.
fn phone_login_needs(
    ctx: &Ctx<'_>,
    route: Option<&crate::target::PhoneLoginRoute>,
    key: &str,
    ticket: Option<&str>,
    app: Option<&str>,
    expect: Option<&Expect>,
    n: &mut Needs,
) {
    let profile = ctx.profile;
    if ticket.is_some_and(|t| t.contains(".ticket}"))
        && profile
            .routes
            .login
            .as_ref()
            .is_none_or(|l| l.ticket.is_none())
    {
        n.skip.get_or_insert(
            "uses a registration ticket, but the profile does not say where it is in the login answer (routes.login.ticket)".into(),
        );
    }
    if app.is_some_and(|a| a != "default") {
        ctx.app_needs(app, route.is_some_and(|r| r.appid.is_some()), key, n);
    }
    expect_needs(expect, profile, profile.user_id.is_some(), "user_id", n);
}

/// Outcomes with no default need the profile's rules; `user` / `not_user` expectations need
/// the place of the user id.
fn expect_needs(
    expect: Option<&Expect>,
    profile: &TargetProfile,
    has: bool,
    key: &str,
    n: &mut Needs,
) {
    if let Some(e) = expect {
        let told = match e.outcome {
            Some(OutcomeName::RegistrationRequired) => {
                profile.outcomes.registration_required.is_some()
            }
            Some(OutcomeName::CredentialsRejected) => {
                profile.outcomes.credentials_rejected.is_some()
            }
            _ => true,
        };
        if let (false, Some(o)) = (told, e.outcome) {
            n.skip.get_or_insert(format!(
                "expects `{o}`, which the profile does not say how to recognise (outcomes.{o})"
            ));
        }
        if (e.user.is_some() || e.not_user.is_some()) && !has {
            n.skip.get_or_insert(format!(
                "compares users, but the profile does not say where the user id is ({key})"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(yaml: &str) -> Scenario {
        Scenario::parse(Path::new("s.yaml"), yaml).expect("scenario")
    }

    fn bare_profile() -> TargetProfile {
        TargetProfile::parse(
            Path::new("p.yaml"),
            "version: 2\nroutes:\n  login: { path: /login }\n",
        )
        .expect("profile")
    }

    #[test]
    fn a_missing_route_is_a_reason_to_skip() {
        let s = scenario("name: x\nsteps:\n  - login: { user: a }\n  - refresh: { as: a }\n");
        let n = analyse(&s, &bare_profile(), false);
        assert!(n.backend && !n.exclusive);
        assert_eq!(
            n.skip.as_deref(),
            Some("needs the `refresh` route, which the profile leaves out (routes.refresh)")
        );
        let full = TargetProfile::login_core("http://x".into());
        assert_eq!(analyse(&s, &full, false).skip, None);
    }

    #[test]
    fn shared_state_makes_a_scenario_exclusive() {
        for step in [
            "clock: { advance: 1m }",
            "fault: { endpoint: jscode2session, errcode: -1 }",
            "journal: { count: 1 }",
            "mock: { path: /options }",
        ] {
            let s = scenario(&format!("name: x\nsteps:\n  - {step}\n"));
            assert!(analyse(&s, &bare_profile(), false).exclusive, "{step}");
        }
        let s = scenario(
            "name: x\nsteps:\n  - mock: {{ path: /users/alice }}\n"
                .replace("{{", "{")
                .replace("}}", "}")
                .as_str(),
        );
        assert!(!analyse(&s, &bare_profile(), false).exclusive);
        let s = scenario("name: x\nsteps:\n  - wechat: { path: /cgi-bin/token }\n");
        let n = analyse(&s, &bare_profile(), false);
        assert!(!n.backend && !n.exclusive);
    }

    #[test]
    fn several_instances_run_only_against_the_embedded_login_core() {
        let s = scenario("name: x\nsetup: { instances: 3 }\nsteps:\n  - login: { user: a }\n");
        let full = TargetProfile::login_core("http://x".into());
        let why = analyse(&s, &full, false).skip.expect("skipped");
        assert!(why.contains("setup.instances"), "{why}");
        // Embedded, the reason to skip can only be a missing PostgreSQL server.
        match (crate::cluster::test_server(), analyse(&s, &full, true).skip) {
            (Ok(None), Some(why)) => assert!(why.contains("LOGIN_CORE_TEST_POSTGRES"), "{why}"),
            (_, skip) => assert_eq!(skip, None),
        }
        let one = scenario("name: x\nsetup: { instances: 1 }\nsteps:\n  - login: { user: a }\n");
        assert_eq!(analyse(&one, &full, true).skip, None);
    }

    #[test]
    fn login_core_scenarios_and_second_apps() {
        let s = scenario("name: x\ntags: [login-core]\nsteps:\n  - login: { user: a }\n");
        assert!(analyse(&s, &bare_profile(), false).skip.is_some());
        assert!(analyse(&s, &bare_profile(), true).skip.is_none());
        let s = scenario("name: x\nsteps:\n  - login: { user: a, app: second }\n");
        let why = analyse(&s, &bare_profile(), false).skip.expect("skipped");
        assert!(why.contains("apps.second"), "{why}");
        let s = scenario(
            "name: x\nsteps:\n  - fault: { endpoint: jscode2session, delay: \"${timeouts.beyond}\" }\n",
        );
        let why = analyse(&s, &bare_profile(), false).skip.expect("skipped");
        assert!(why.contains("upstream_timeout"), "{why}");
    }

    #[test]
    fn phone_first_journeys_need_their_routes_outcomes_and_registration_policy() {
        let s = scenario(
            "name: x\nsetup:\n  apps: [ { name: phone_first, registration: phone_required } ]\nsteps:\n  - login: { user: a, app: phone_first, expect: { outcome: registration_required } }\n  - login_sms: { phone: \"13900001111\", ticket: \"${a.ticket}\", app: phone_first }\n",
        );
        let why = analyse(&s, &bare_profile(), false).skip.expect("skipped");
        assert!(why.contains("apps.phone_first"), "{why}");
        assert_eq!(
            analyse(&s, &bare_profile(), true).skip.as_deref(),
            Some(
                "expects `registration_required`, which the profile does not say how to recognise (outcomes.registration_required)"
            )
        );
        let mut full = TargetProfile::login_core("http://x".into());
        let app = |registration| crate::target::TargetApp {
            appid: "wx1".into(),
            secret: "s".into(),
            open_platform: None,
            registration,
        };
        full.apps.insert("phone_first".into(), app(None));
        let why = analyse(&s, &full, false).skip.expect("skipped");
        assert!(
            why.contains("apps.phone_first.registration is `auto`"),
            "{why}"
        );
        full.apps
            .insert("phone_first".into(), app(Some(Registration::PhoneRequired)));
        assert_eq!(analyse(&s, &full, false).skip, None);
        // A plain login to an app that asks for a number first expects what it will not get.
        let plain = scenario("name: x\nsteps:\n  - login: { user: a, app: phone_first }\n");
        let why = analyse(&plain, &full, false).skip.expect("skipped");
        assert!(why.contains("register `auto`"), "{why}");
        // The ticket's place in the login answer, and the routes.
        let mut no_ticket = full.clone();
        if let Some(l) = no_ticket.routes.login.as_mut() {
            l.ticket = None;
        }
        let why = analyse(&s, &no_ticket, false).skip.expect("skipped");
        assert!(why.contains("routes.login.ticket"), "{why}");
        let mut no_sms = full.clone();
        no_sms.routes.sms_send = None;
        let why = analyse(&s, &no_sms, false).skip.expect("skipped");
        assert!(why.contains("routes.sms_send"), "{why}");
        let pw = scenario(
            "name: x\nsteps:\n  - login_password: { phone: \"13900001111\", password: p, expect: { outcome: credentials_rejected } }\n",
        );
        let why = analyse(&pw, &bare_profile(), false).skip.expect("skipped");
        assert!(why.contains("routes.login_password"), "{why}");
        let mut no_outcome = full.clone();
        no_outcome.outcomes.credentials_rejected = None;
        let why = analyse(&pw, &no_outcome, false).skip.expect("skipped");
        assert!(why.contains("outcomes.credentials_rejected"), "{why}");
        assert_eq!(analyse(&pw, &full, false).skip, None);
    }
}
