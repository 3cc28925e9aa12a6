//! The semantic actions, sent the way the target profile says: log in (with a fresh or a
//! chosen code), who am I, refresh, logout, session check, profile data, phone binding. Each
//! expects outcome `ok` unless the step says otherwise.

#![allow(clippy::result_large_err)]

use reqwest::Method;
use serde_json::{Value, json};

use super::checks::Reply;
use super::steps::{Outgoing, add_query, with_exchange};
use super::world::World;
use super::{Failure, fail};
use crate::scenario::{Expect, LoginCall, PhoneCall, ProfileCall, SessionCall, WxCall};
use crate::target::{FieldAt, OutcomeName};

/// The default expectation of a semantic step.
fn ok() -> Expect {
    Expect {
        outcome: Some(OutcomeName::Ok),
        ..Expect::default()
    }
}

/// Sets `a.b.c` in a JSON object, making the objects on the way.
pub(super) fn set_dotted(body: &mut Value, path: &str, v: Value) {
    let mut at = body;
    let mut parts = path.split('.').peekable();
    while let Some(p) = parts.next() {
        if !at.is_object() {
            *at = json!({});
        }
        let Value::Object(m) = at else { return };
        if parts.peek().is_none() {
            m.insert(p.to_owned(), v);
            return;
        }
        at = m.entry(p.to_owned()).or_insert_with(|| json!({}));
    }
}

pub(super) fn method(given: Option<&String>, default: Method) -> Result<Method, Failure> {
    match given {
        None => Ok(default),
        Some(m) => Method::from_bytes(m.to_uppercase().as_bytes())
            .map_err(|_| fail(format!("the profile's method {m:?} is not an HTTP method"))),
    }
}

impl World {
    /// The token of a saved login.
    fn token_of(&self, session: &str) -> Result<String, Failure> {
        self.vars
            .get(&format!("{session}.token"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                fail(format!(
                    "`as: {session}`: no saved login `{session}` with a token (log in first with `login: {{ user: {session} }}`)"
                ))
            })
    }

    /// A request on a route, with a saved login's token.
    pub(super) fn routed(
        &self,
        m: Method,
        path: &str,
        session: Option<&str>,
    ) -> Result<Outgoing, Failure> {
        let mut out = Outgoing::new(m, format!("{}{path}", self.target.base()));
        if let Some(s) = session {
            let token = self.token_of(s)?;
            self.attach_token(&mut out, &token);
        }
        Ok(out)
    }

    /// A request on a route as a session call says: a saved login's token, a given one, or
    /// none.
    fn routed_as(&self, m: Method, path: &str, c: &SessionCall) -> Result<Outgoing, Failure> {
        match (&c.session, &c.token) {
            (Some(_), Some(_)) => Err(fail(
                "give `as` (a saved login) or `token` (a token to send), not both",
            )),
            (None, Some(t)) => {
                let token = self.expand(&json!(t))?;
                let token = match token {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let mut out = self.routed(m, path, None)?;
                self.attach_token(&mut out, &token);
                Ok(out)
            }
            (session, None) => self.routed(m, path, session.as_deref()),
        }
    }

    /// Sends, checks invariants and the expectation (default: `ok`).
    pub(super) async fn exchange(
        &self,
        out: &Outgoing,
        expect: Option<&Expect>,
        user_id_path: Option<&str>,
    ) -> Result<Reply, Failure> {
        let reply = self.send(out, true).await?;
        let expect = expect.cloned().unwrap_or_else(ok);
        let body = reply.json();
        let user_id = user_id_path.and_then(|p| crate::matching::select_one(p, &body));
        self.check_expect(&expect, &reply, user_id.as_ref())
            .map_err(|f| with_exchange(f, out, Some(&reply)))?;
        Ok(reply)
    }

    /// The token an answer carries: at the profile's JSONPath, or in its Set-Cookie.
    fn token_in(&self, reply: &Reply, path: Option<&str>) -> Option<Value> {
        match self.target.token_cookie() {
            Some(name) => reply
                .headers
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|c| {
                    let first = c.split(';').next()?.trim();
                    let (k, v) = first.split_once('=')?;
                    (k.trim() == name).then(|| json!(v.trim()))
                }),
            None => {
                let path = path
                    .map(str::to_owned)
                    .or_else(|| self.target.token_path())?;
                crate::matching::select_one(&path, &reply.json())
            }
        }
    }

    pub(super) async fn login(&mut self, c: &LoginCall) -> Result<(), Failure> {
        let code = match &c.code {
            Some(code) => self.expand(&json!(code))?,
            None => {
                let wx = WxCall {
                    user: c.user.clone(),
                    app: c.app.clone(),
                    save: Some("__login".into()),
                    era: None,
                    tamper: None,
                    group: None,
                    steps: None,
                };
                self.wx(&wx, "login").await?;
                self.vars
                    .get("__login.code")
                    .cloned()
                    .unwrap_or(Value::Null)
            }
        };
        let route = self.target.login_route();
        let m = method(route.method.as_ref(), Method::POST)?;
        let mut out = self.routed(m, &route.path, None)?;
        let mut body = Value::Null;
        let mut query = Vec::new();
        let mut place = |at: &FieldAt, v: Value, out: &mut Outgoing| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            if let Some(f) = &at.json {
                set_dotted(&mut body, f, v);
            } else if let Some(q) = &at.query {
                query.push((q.clone(), text));
            } else if let Some(h) = &at.header {
                out.headers.push((h.clone(), text));
            }
        };
        place(&self.target.code_at(), code, &mut out);
        if let (Some(app), Some(at)) = (c.app.as_deref().filter(|a| *a != "default"), &route.appid)
        {
            place(at, json!(self.appid(Some(app))?), &mut out);
        }
        if let Some(phone_code) = &c.phone_code {
            let Some(at) = &route.phone_code else {
                return Err(fail(
                    "the profile's login route does not say where a getPhoneNumber code goes (routes.login.phone_code)",
                ));
            };
            place(at, self.expand(&json!(phone_code))?, &mut out);
        }
        add_query(&mut out.url, &query);
        if !body.is_null() {
            out.json = Some(body);
        }
        let reply = self.login_exchange(&out, c.expect.as_ref()).await?;
        let mut saved = self.saved_login(&reply);
        if let Some(ticket) = route
            .ticket
            .as_deref()
            .and_then(|p| crate::matching::select_one(p, &reply.json()))
        {
            saved["ticket"] = ticket;
        }
        self.vars.set(c.save.as_deref().unwrap_or(&c.user), saved);
        Ok(())
    }

    /// Sends a login (of any kind) and checks the answer, comparing users where it says.
    pub(super) async fn login_exchange(
        &self,
        out: &Outgoing,
        expect: Option<&Expect>,
    ) -> Result<Reply, Failure> {
        self.exchange(out, expect, self.target.user_id.as_deref())
            .await
    }

    /// What a login saves: its answer, with `token`, `user_id` and `status`.
    pub(super) fn saved_login(&self, reply: &Reply) -> Value {
        let answer = reply.json();
        let mut saved = match &answer {
            Value::Object(_) => answer.clone(),
            _ => json!({ "body": answer }),
        };
        if let Some(t) = self.token_in(reply, None) {
            saved["token"] = t;
        }
        if let Some(id) = self
            .target
            .user_id
            .as_deref()
            .and_then(|p| crate::matching::select_one(p, &answer))
        {
            saved["user_id"] = id;
        }
        saved["status"] = json!(reply.status);
        saved
    }

    pub(super) async fn whoami(&mut self, c: &SessionCall) -> Result<(), Failure> {
        let Some(route) = self.target.routes.whoami.clone() else {
            return Err(fail("the profile has no `whoami` route"));
        };
        let m = method(route.method.as_ref(), Method::GET)?;
        let out = self.routed_as(m, &route.path, c)?;
        let reply = self
            .exchange(&out, c.expect.as_ref(), route.user_id.as_deref())
            .await?;
        if let Some(save) = &c.save {
            let mut answer = reply.json();
            if let (Some(p), Value::Object(_)) = (&route.user_id, &answer) {
                if let Some(id) = crate::matching::select_one(p, &answer) {
                    answer["user_id"] = id;
                }
            }
            self.vars.set(save, answer);
        }
        Ok(())
    }

    pub(super) async fn refresh(&mut self, c: &SessionCall) -> Result<(), Failure> {
        let Some(route) = self.target.routes.refresh.clone() else {
            return Err(fail("the profile has no `refresh` route"));
        };
        let m = method(route.method.as_ref(), Method::POST)?;
        let out = self.routed_as(m, &route.path, c)?;
        let reply = self.exchange(&out, c.expect.as_ref(), None).await?;
        let into = c.save.as_ref().or(c.session.as_ref());
        if let (Some(token), Some(into)) = (self.token_in(&reply, route.token.as_deref()), into) {
            let mut session = c
                .session
                .as_ref()
                .and_then(|s| self.vars.get(s).cloned())
                .unwrap_or_else(|| json!({}));
            session["token"] = token;
            self.vars.set(into, session);
        }
        Ok(())
    }

    /// `logout` and `session_check`: a token and no body.
    pub(super) async fn session_action(
        &mut self,
        c: &SessionCall,
        which: &str,
    ) -> Result<(), Failure> {
        let (route, default) = match which {
            "logout" => (self.target.routes.logout.clone(), Method::POST),
            _ => (self.target.routes.session_check.clone(), Method::GET),
        };
        let Some(route) = route else {
            return Err(fail(format!("the profile has no `{which}` route")));
        };
        let m = method(route.method.as_ref(), default)?;
        let out = self.routed_as(m, &route.path, c)?;
        let reply = self.exchange(&out, c.expect.as_ref(), None).await?;
        if let Some(save) = &c.save {
            self.vars.set(save, reply.json());
        }
        Ok(())
    }

    pub(super) async fn submit_profile(&mut self, c: &ProfileCall) -> Result<(), Failure> {
        let Some(route) = self.target.routes.profile.clone() else {
            return Err(fail("the profile has no `profile` route"));
        };
        let data = self.expand(&c.data)?;
        let m = method(route.method.as_ref(), Method::POST)?;
        let mut out = self.routed(m, &route.path, Some(&c.session))?;
        let mut body = json!({});
        let fields = [
            (
                Some(route.encrypted_data.as_deref().unwrap_or("encryptedData")),
                "encryptedData",
            ),
            (Some(route.iv.as_deref().unwrap_or("iv")), "iv"),
            (route.raw_data.as_deref(), "rawData"),
            (route.signature.as_deref(), "signature"),
        ];
        for (to, from) in fields {
            if let (Some(to), Some(v)) = (to, data.get(from)) {
                set_dotted(&mut body, to, v.clone());
            }
        }
        out.json = Some(body);
        self.exchange(&out, c.expect.as_ref(), None)
            .await
            .map(|_| ())
    }

    pub(super) async fn bind_phone(&mut self, c: &PhoneCall) -> Result<(), Failure> {
        let mut body = json!({});
        let (m, path) = match (&c.code, &c.encrypted) {
            (Some(code), None) => {
                let Some(route) = self.target.routes.phone_code.clone() else {
                    return Err(fail("the profile has no `phone_code` route"));
                };
                set_dotted(
                    &mut body,
                    route.code.as_deref().unwrap_or("code"),
                    self.expand(code)?,
                );
                (method(route.method.as_ref(), Method::POST)?, route.path)
            }
            (None, Some(data)) => {
                let Some(route) = self.target.routes.phone_encrypted.clone() else {
                    return Err(fail("the profile has no `phone_encrypted` route"));
                };
                let data = self.expand(data)?;
                for (to, from) in [
                    (
                        route.encrypted_data.as_deref().unwrap_or("encryptedData"),
                        "encryptedData",
                    ),
                    (route.iv.as_deref().unwrap_or("iv"), "iv"),
                ] {
                    set_dotted(
                        &mut body,
                        to,
                        data.get(from).cloned().unwrap_or(Value::Null),
                    );
                }
                (method(route.method.as_ref(), Method::POST)?, route.path)
            }
            _ => return Err(fail("bind_phone: give `code` or `encrypted`, one of them")),
        };
        let mut out = self.routed(m, &path, Some(&c.session))?;
        out.json = Some(body);
        self.exchange(&out, c.expect.as_ref(), None)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_fields_nest() {
        let mut v = Value::Null;
        set_dotted(&mut v, "data.code", json!("x"));
        set_dotted(&mut v, "data.appid", json!("y"));
        set_dotted(&mut v, "top", json!(1));
        assert_eq!(v, json!({"data": {"code": "x", "appid": "y"}, "top": 1}));
    }
}
