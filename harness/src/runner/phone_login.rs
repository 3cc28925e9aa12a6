//! The phone-first actions: asking the backend for an SMS code, reading the phone's inbox (the
//! mock gateway's outbox), and logging in by phone number with the SMS code or a password, with
//! or without a registration ticket. A number written in a scenario is made unique to the run
//! the same way setup users' numbers are, so one literal names one person in setup and steps.

#![allow(clippy::result_large_err)]

use reqwest::Method;
use serde_json::{Value, json};

use super::checks::Reply;
use super::semantic::{method, set_dotted};
use super::shared::salted_number;
use super::steps::Outgoing;
use super::world::World;
use super::{Failure, fail};
use crate::scenario::{Expect, PasswordLoginCall, SmsInboxCall, SmsLoginCall, SmsSendCall};
use crate::target::PhoneLoginRoute;

/// One phone login, whichever its secret.
struct PhoneLogin<'a> {
    /// The route's key, for errors.
    which: &'static str,
    route: Option<PhoneLoginRoute>,
    /// The secret's default field.
    secret_field: &'static str,
    national: &'a str,
    secret: String,
    ticket: Option<&'a str>,
    app: Option<&'a str>,
    save: Option<&'a str>,
    expect: Option<&'a Expect>,
}

/// Whether `s` is a mainland mobile number's 11 digits.
fn is_mainland_mobile(s: &str) -> bool {
    s.len() == 11 && s.starts_with('1') && s.bytes().all(|b| b.is_ascii_digit())
}

impl World {
    /// A scenario's number as its 11 national digits: a literal is made unique to the run (as
    /// setup users' numbers are); a `${...}` value is taken as it expands, `+86` dropped.
    fn national(&self, given: &str) -> Result<String, Failure> {
        let literal = !given.contains("${");
        let text = if literal {
            given.trim().to_owned()
        } else {
            self.expand_text(given)?.trim().to_owned()
        };
        let digits = text.strip_prefix("+86").unwrap_or(&text);
        if !is_mainland_mobile(digits) {
            return Err(fail(format!(
                "phone: {text:?} is not a mainland mobile number; write its 11 digits, like 13800138000"
            )));
        }
        Ok(if literal {
            salted_number(digits, &self.salt)
        } else {
            digits.to_owned()
        })
    }

    pub(super) async fn sms_send(&mut self, c: &SmsSendCall) -> Result<(), Failure> {
        let national = self.national(&c.phone)?;
        self.send_code(&national, c.expect.as_ref())
            .await
            .map(|_| ())
    }

    /// A request on a phone route: its fixed fields and the number where the route says.
    fn phone_request(
        &self,
        given_method: Option<&String>,
        path: &str,
        fixed: Option<&serde_json::Map<String, Value>>,
        phone_field: Option<&str>,
        national: &str,
    ) -> Result<(Outgoing, Value), Failure> {
        let m = method(given_method, Method::POST)?;
        let out = self.routed(m, path, None)?;
        let mut body = Value::Object(fixed.cloned().unwrap_or_default());
        set_dotted(
            &mut body,
            phone_field.unwrap_or("phone"),
            json!(self.target.phone(national)),
        );
        Ok((out, body))
    }

    /// Asks the backend to send a code to the number.
    async fn send_code(&self, national: &str, expect: Option<&Expect>) -> Result<Reply, Failure> {
        let Some(route) = self.target.routes.sms_send.clone() else {
            return Err(fail("the profile has no `sms_send` route"));
        };
        let (mut out, body) = self.phone_request(
            route.method.as_ref(),
            &route.path,
            route.fixed.as_ref(),
            route.phone.as_deref(),
            national,
        )?;
        out.json = Some(body);
        self.exchange(&out, expect, None).await
    }

    /// The messages the mock's gateway delivered to the number since the scenario began,
    /// oldest first.
    async fn inbox(&self, national: &str) -> Result<Vec<Value>, Failure> {
        let page = self
            .control(
                Method::GET,
                &format!("/sms?phone={national}&since={}", self.sms_since),
                None,
            )
            .await?;
        Ok(page["messages"].as_array().cloned().unwrap_or_default())
    }

    pub(super) async fn sms_inbox(&mut self, c: &SmsInboxCall) -> Result<(), Failure> {
        let national = self.national(&c.phone)?;
        let messages = self.inbox(&national).await?;
        let got = messages.len();
        let texts: Vec<&str> = messages
            .iter()
            .filter_map(|m| m["content"].as_str())
            .collect();
        match c.count {
            Some(n) if got != n as usize => {
                return Err(fail(format!(
                    "{national} got {got} SMS during the scenario, expected {n}: {texts:?}"
                )));
            }
            None if got == 0 => {
                return Err(fail(format!(
                    "no SMS reached {national} during the scenario (the mock's outbox: GET /__mock__/sms?phone={national})"
                )));
            }
            _ => {}
        }
        if let Some(save) = &c.save {
            let mut latest = messages.last().cloned().unwrap_or_else(|| json!({}));
            latest["count"] = json!(got);
            latest["number"] = json!(national);
            self.vars.set(save, latest);
        }
        Ok(())
    }

    pub(super) async fn login_sms(&mut self, c: &SmsLoginCall) -> Result<(), Failure> {
        let national = self.national(&c.phone)?;
        let code = match &c.code {
            Some(code) => self.expand_text(code)?,
            None => {
                self.send_code(&national, None).await?;
                let messages = self.inbox(&national).await?;
                messages
                    .last()
                    .and_then(|m| m["code"].as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        fail(format!(
                            "the backend said it sent a code to {national}, but no SMS with a code reached the mock's gateway for it"
                        ))
                    })?
            }
        };
        self.phone_login(PhoneLogin {
            which: "login_sms",
            route: self.target.routes.login_sms.clone(),
            secret_field: "code",
            national: &national,
            secret: code,
            ticket: c.ticket.as_deref(),
            app: c.app.as_deref(),
            save: c.save.as_deref(),
            expect: c.expect.as_ref(),
        })
        .await
    }

    pub(super) async fn login_password(&mut self, c: &PasswordLoginCall) -> Result<(), Failure> {
        let national = self.national(&c.phone)?;
        let password = self.expand_text(&c.password)?;
        self.phone_login(PhoneLogin {
            which: "login_password",
            route: self.target.routes.login_password.clone(),
            secret_field: "password",
            national: &national,
            secret: password,
            ticket: c.ticket.as_deref(),
            app: c.app.as_deref(),
            save: c.save.as_deref(),
            expect: c.expect.as_ref(),
        })
        .await
    }

    async fn phone_login(&mut self, l: PhoneLogin<'_>) -> Result<(), Failure> {
        let Some(route) = l.route else {
            return Err(fail(format!("the profile has no `{}` route", l.which)));
        };
        let (mut out, mut body) = self.phone_request(
            route.method.as_ref(),
            &route.path,
            route.fixed.as_ref(),
            route.phone.as_deref(),
            l.national,
        )?;
        set_dotted(
            &mut body,
            route.secret.as_deref().unwrap_or(l.secret_field),
            json!(l.secret),
        );
        if let Some(ticket) = l.ticket {
            set_dotted(
                &mut body,
                route.ticket.as_deref().unwrap_or("ticket"),
                json!(self.expand_text(ticket)?),
            );
        }
        if let Some(app) = l.app.filter(|a| *a != "default") {
            let Some(field) = &route.appid else {
                return Err(fail(format!(
                    "logs in to app `{app}`, but the profile does not say where the appid goes (routes.{}.appid)",
                    l.which
                )));
            };
            set_dotted(&mut body, field, json!(self.appid(Some(app))?));
        }
        out.json = Some(body);
        let reply = self.login_exchange(&out, l.expect).await?;
        if let Some(save) = l.save {
            let saved = self.saved_login(&reply);
            self.vars.set(save, saved);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainland_mobiles_are_eleven_digits_from_1() {
        assert!(is_mainland_mobile("13800138000"));
        for bad in [
            "1380013800",
            "23800138000",
            "1380013800x",
            "+8613800138000",
            "",
        ] {
            assert!(!is_mainland_mobile(bad), "{bad}");
        }
    }
}
