//! Runs one case against a fresh in-process mock: each operation goes to the model for a
//! prediction and to the mock over HTTP, and the two answers must agree. Identities are compared
//! by unification: the first time the mock answers with a string where the model names an
//! identity, the two are bound; afterwards the same identity must come back as the same string
//! and a new identity as a string never seen before.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use mock_server::client::ClientError;
use mock_server::config::{Config, SeedFile};
use mock_server::faults::FaultSpec;
use mock_server::ids::AppId;
use mock_server::{Clock, MockHandle, Timestamp};
use proptest::test_runner::{TestCaseError, TestCaseResult};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ops::{App, Case, RiskChange};
use super::reference::{Action, Ident, Model, Outcome};

/// 2024-08-22T01:14:57Z, the helpers' start time.
const START: i64 = crate::helpers::START;

const APP_B_ID: &str = "wx0b0b0b0b0b0b0b0b";
const APP_B_SECRET: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
const APP_C_ID: &str = "wx0c0c0c0c0c0c0c0c";
const APP_C_SECRET: &str = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";

/// Well-formed values the mock never issued.
const UNKNOWN_CODE: &str = "0ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
const UNKNOWN_OPENID: &str = "oZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
const MADE_UP_KEY: &str = "ZZZZZZZZZZZZZZZZZZZZZZ==";
const UNKNOWN_TRADE: &str = "4200000000000000000000000000";
/// A hash of no data the mock issued.
const UNKNOWN_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const UNKNOWN_TICKET: &str =
    "ticket@@@ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";

/// The case's third-party platform (created by an operation) and plugin (app B, in A).
const PLATFORM_ID: &str = "wx0d0d0d0d0d0d0d0d";
const PLATFORM_SECRET: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";

fn unknown_token() -> String {
    format!("89_{}", "Z".repeat(133))
}

/// hex(HMAC-SHA256(key = the session_key string, message = "")): the checksession signature
/// (`wechat-api.md` 4.2), computed here rather than with the mock's helper.
fn signature(session_key: &str) -> String {
    let mac = Hmac::<Sha256>::new_from_slice(session_key.as_bytes()).expect("any key length");
    hex::encode(mac.finalize().into_bytes())
}

/// The identity ⇄ string bijection learned from the mock's answers.
#[derive(Clone, Default)]
struct Names {
    text: HashMap<Ident, String>,
    ident: HashMap<String, Ident>,
}

impl Names {
    fn text(&self, id: Ident) -> &str {
        self.text
            .get(&id)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{id:?} is used before the mock named it"))
    }

    /// A mock string as the model would name it.
    fn describe(&self, s: &String) -> String {
        match self.ident.get(s) {
            Some(id) => format!("{id:?}"),
            None => format!("new {}", short(s)),
        }
    }

    /// A model identity, marked when the mock has not named it yet.
    fn describe_ident(&self, id: &Ident) -> String {
        if self.text.contains_key(id) {
            format!("{id:?}")
        } else {
            format!("{id:?} (new)")
        }
    }

    /// Checks that `actual` is `expect` up to the naming of identities, binding new ones.
    fn unify(&mut self, expect: &Outcome<Ident>, actual: &Outcome<String>) -> Result<(), String> {
        let pairs = expect
            .zip(actual)
            .ok_or_else(|| "the answers differ".to_owned())?;
        for (id, s) in pairs {
            match (self.text.get(id), self.ident.get(s)) {
                (Some(known), _) if known == s => {}
                (Some(known), _) => {
                    return Err(format!(
                        "{id:?} is {}, the mock answered {}",
                        short(known),
                        self.describe(s)
                    ));
                }
                (None, Some(other)) => {
                    return Err(format!(
                        "the model expected a new value {id:?}, the mock answered {}, which is \
                         {other:?}",
                        short(s)
                    ));
                }
                (None, None) => {
                    self.text.insert(*id, s.clone());
                    self.ident.insert(s.clone(), *id);
                }
            }
        }
        Ok(())
    }
}

fn short(s: &str) -> String {
    let head: String = s.chars().take(12).collect();
    if head.len() < s.len() {
        format!("\"{head}…\"")
    } else {
        format!("\"{s}\"")
    }
}

struct Credentials {
    appid: String,
    secret: String,
}

/// A fresh mock for one case.
struct World {
    mock: MockHandle,
    http: reqwest::Client,
    a: Credentials,
    b: Credentials,
    c: Credentials,
    names: Names,
}

impl World {
    async fn start(case: &Case) -> World {
        let seed = json!({
            "options": {
                "session_key_min_rotation": format!("{}s", case.min_rotation),
                "token_daily_limit": case.token_limit,
            },
            "apps": [{
                "appid": APP_B_ID,
                "secret": APP_B_SECRET,
                "open_platform": "open-platform-of-b",
                "name": "B",
            }, {
                "appid": APP_C_ID,
                "secret": APP_C_SECRET,
                "open_platform": "open-platform-of-b",
                "name": "C",
                "kind": "official_account",
            }],
            "users": [
                {"handle": "alice"},
                {"handle": "bob"},
                {"handle": "mallory", "high_risk": true},
            ],
        });
        let seed_file = SeedFile::from_json(&seed.to_string()).expect("valid seed file");
        let mock = mock_server::spawn(Config {
            seed: "model".into(),
            seed_file,
            clock: Clock::manual(Timestamp::from_secs(START)),
            ..Config::default()
        })
        .await
        .expect("mock starts");
        let default = mock.default_app();
        assert!(default.open_platform.is_none(), "app A is not bound");
        World {
            a: Credentials {
                appid: default.appid.as_str().to_owned(),
                secret: default.secret.clone(),
            },
            b: Credentials {
                appid: APP_B_ID.into(),
                secret: APP_B_SECRET.into(),
            },
            c: Credentials {
                appid: APP_C_ID.into(),
                secret: APP_C_SECRET.into(),
            },
            mock,
            http: reqwest::Client::new(),
            names: Names::default(),
        }
    }

    fn app(&self, app: App) -> &Credentials {
        match app {
            App::A => &self.a,
            App::B => &self.b,
            App::C => &self.c,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.mock.base_url())
    }

    fn name_or<'a>(&'a self, id: Option<Ident>, made_up: &'a str) -> &'a str {
        id.map_or(made_up, |id| self.names.text(id))
    }

    async fn perform(&self, action: &Action) -> Outcome<String> {
        match *action {
            Action::Login { app, user } => {
                let appid = AppId::new(self.app(app).appid.clone());
                match self.mock.control().wx_login(&appid, user.handle()).await {
                    Ok(g) => Outcome::Login {
                        code: g.code,
                        openid: g.mock.openid.as_str().to_owned(),
                        unionid: g.mock.unionid.map(|u| u.as_str().to_owned()),
                        key: g.mock.session_key,
                        rotated: g.mock.rotated,
                    },
                    Err(e) => Outcome::Unexpected(format!("wx.login failed: {e}")),
                }
            }
            Action::Exchange { code, via } => self.plain_exchange(code, via).await,
            Action::Advance { secs } => {
                let secs = u64::try_from(secs).expect("forward");
                self.mock.clock().advance(Duration::from_secs(secs));
                Outcome::Nothing
            }
            Action::Token { app } => {
                let app = self.app(app);
                let req = self.http.get(self.url("/cgi-bin/token")).query(&[
                    ("grant_type", "client_credential"),
                    ("appid", app.appid.as_str()),
                    ("secret", app.secret.as_str()),
                ]);
                answer(req, token_answer).await
            }
            Action::StableToken { app, force } => {
                let app = self.app(app);
                let body = json!({
                    "grant_type": "client_credential",
                    "appid": app.appid,
                    "secret": app.secret,
                    "force_refresh": force,
                });
                let req = self
                    .http
                    .post(self.url("/cgi-bin/stable_token"))
                    .body(body.to_string());
                answer(req, token_answer).await
            }
            Action::Session {
                reset,
                token,
                openid,
                key,
            } => {
                let made_up_token = unknown_token();
                let token = self.name_or(token, &made_up_token);
                let openid = self.name_or(openid, UNKNOWN_OPENID);
                let sig = signature(self.name_or(key, MADE_UP_KEY));
                let path = if reset {
                    "/wxa/resetusersessionkey"
                } else {
                    "/wxa/checksession"
                };
                let req = self.http.get(self.url(path)).query(&[
                    ("access_token", token),
                    ("openid", openid),
                    ("signature", sig.as_str()),
                    ("sig_method", "hmac_sha256"),
                ]);
                answer(req, move |v| {
                    if reset {
                        Some(Outcome::Reset {
                            openid: text(v, "openid")?,
                            key: text(v, "session_key")?,
                        })
                    } else {
                        (v.get("errcode").and_then(Value::as_i64) == Some(0))
                            .then_some(Outcome::Valid)
                    }
                })
                .await
            }
            Action::Pay { app, user } => {
                let body = json!({"appid": self.app(app).appid, "user": user.handle()});
                let resp = self
                    .http
                    .post(self.url("/__mock__/payments"))
                    .json(&body)
                    .send()
                    .await;
                let paid = match resp {
                    Ok(r) if r.status().as_u16() == 201 => r.json::<Value>().await.ok(),
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        return Outcome::Unexpected(format!("payment refused ({status}): {text}"));
                    }
                    Err(e) => return Outcome::Unexpected(format!("request failed: {e}")),
                };
                paid.and_then(|v| {
                    Some(Outcome::Paid {
                        trade: text(&v, "transaction_id")?,
                        merchant: format!("{}\n{}", text(&v, "mch_id")?, text(&v, "out_trade_no")?),
                        openid: text(&v, "openid")?,
                        unionid: text(&v, "unionid"),
                    })
                })
                .unwrap_or_else(|| Outcome::Unexpected("a payment without its fields".into()))
            }
            Action::PaidUnionid {
                token,
                openid,
                trade,
            } => {
                let made_up_token = unknown_token();
                let token = self.name_or(token, &made_up_token);
                let openid = self.name_or(openid, UNKNOWN_OPENID);
                let mut query = vec![("access_token", token), ("openid", openid)];
                match trade {
                    Some(id @ Ident::Merchant(_)) => {
                        let (mch, out) = self.names.text(id).split_once('\n').unwrap_or_default();
                        query.extend([("mch_id", mch), ("out_trade_no", out)]);
                    }
                    other => query.push(("transaction_id", self.name_or(other, UNKNOWN_TRADE))),
                }
                let req = self.http.get(self.url("/wxa/getpaidunionid")).query(&query);
                answer(req, |v| Some(Outcome::Unionid(text(v, "unionid")?))).await
            }
            Action::RiskKnob { user, change } => {
                let patch = match change {
                    RiskChange::Rank(r) => json!({ "risk_rank": r }),
                    RiskChange::ClearRank => json!({ "risk_rank": null }),
                    RiskChange::HighRisk(h) => json!({ "high_risk": h }),
                };
                let url = self.url(&format!("/__mock__/users/{}", user.handle()));
                match self.http.patch(url).json(&patch).send().await {
                    Ok(r) if r.status() == 200 => Outcome::Nothing,
                    Ok(r) => Outcome::Unexpected(format!("PATCH user: HTTP {}", r.status())),
                    Err(e) => Outcome::Unexpected(format!("PATCH user failed: {e}")),
                }
            }
            Action::Risk { token, app, openid } => {
                let made_up_token = unknown_token();
                let body = json!({
                    "appid": self.app(app).appid,
                    "openid": self.name_or(openid, UNKNOWN_OPENID),
                    "scene": 1,
                    "client_ip": "198.51.100.20",
                });
                let req = self
                    .http
                    .post(self.url("/wxa/getuserriskrank"))
                    .query(&[("access_token", self.name_or(token, &made_up_token))])
                    .body(body.to_string());
                answer(req, |v| {
                    (v.get("errmsg")?.as_str()? == "getuserriskrank succ").then_some(())?;
                    Some(Outcome::Rank {
                        rank: u8::try_from(v.get("risk_rank")?.as_u64()?).ok()?,
                        id: v.get("unoin_id")?.as_u64()?.to_string(),
                    })
                })
                .await
            }
            Action::QuotaGet { token, path } => {
                let made_up_token = unknown_token();
                let token = self.name_or(token, &made_up_token);
                let req = self
                    .http
                    .post(self.url("/cgi-bin/openapi/quota/get"))
                    .query(&[("access_token", token)])
                    .body(json!({ "cgi_path": path }).to_string());
                answer(req, |v| {
                    let q = v.get("quota")?;
                    Some(Outcome::Quota {
                        limit: q.get("daily_limit")?.as_u64()?,
                        used: q.get("used")?.as_u64()?,
                        remain: q.get("remain")?.as_u64()?,
                    })
                })
                .await
            }
            Action::PhoneData { app, user } => {
                let appid = AppId::new(self.app(app).appid.clone());
                match self
                    .mock
                    .control()
                    .wx_phone_code(&appid, user.handle())
                    .await
                {
                    Ok(g) => {
                        // Hashed here, as a backend would; the mock's own figure must agree.
                        let hash = g.encrypted_data.as_deref().map(sha256_hex);
                        if hash != g.mock.encrypted_msg_hash {
                            return Outcome::Unexpected(format!(
                                "the mock says the hash is {:?}, it is {hash:?}",
                                g.mock.encrypted_msg_hash
                            ));
                        }
                        Outcome::PhoneData { hash }
                    }
                    Err(e) => Outcome::Unexpected(format!("getPhoneNumber failed: {e}")),
                }
            }
            Action::CheckData { token, data } => {
                let made_up_token = unknown_token();
                let body = json!({ "encrypted_msg_hash": self.name_or(data, UNKNOWN_HASH) });
                let req = self
                    .http
                    .post(self.url("/wxa/business/checkencryptedmsg"))
                    .query(&[("access_token", self.name_or(token, &made_up_token))])
                    .body(body.to_string());
                answer(req, |v| {
                    (v.get("vaild")? == true).then_some(())?;
                    Some(Outcome::DataValid {
                        created: v.get("create_time")?.as_i64()? - START,
                    })
                })
                .await
            }
            Action::UserKey { app, user } => {
                let appid = AppId::new(self.app(app).appid.clone());
                match self
                    .mock
                    .control()
                    .wx_user_key(&appid, user.handle(), None)
                    .await
                {
                    Ok(g) => Outcome::UserKey {
                        key: g.encrypt_key,
                        version: g.version,
                        expires: g.expire_time - START,
                    },
                    Err(ClientError::Api { code, .. }) => Outcome::Refused(code),
                    Err(e) => Outcome::Unexpected(format!("getLatestUserKey failed: {e}")),
                }
            }
            Action::ListKeys { token, openid, key } => {
                let made_up_token = unknown_token();
                let sig = signature(self.name_or(key, MADE_UP_KEY));
                let req = self
                    .http
                    .get(self.url("/wxa/business/getuserencryptkey"))
                    .query(&[
                        ("access_token", self.name_or(token, &made_up_token)),
                        ("openid", self.name_or(openid, UNKNOWN_OPENID)),
                        ("signature", sig.as_str()),
                        ("sig_method", "hmac_sha256"),
                    ]);
                answer(req, |v| {
                    let list = v.get("key_info_list")?.as_array()?;
                    let keys = list
                        .iter()
                        .map(|k| {
                            Some((
                                text(k, "encrypt_key")?,
                                k.get("version")?.as_u64()?,
                                k.get("expire_in")?.as_i64()?,
                            ))
                        })
                        .collect::<Option<Vec<_>>>()?;
                    Some(Outcome::KeyList(keys))
                })
                .await
            }
            Action::Clear {
                app,
                token,
                v2,
                times,
            } => {
                let creds = self.app(app);
                let made_up_token = unknown_token();
                let token = self.name_or(token, &made_up_token);
                let mut codes = Vec::new();
                for _ in 0..times {
                    let req = if v2 {
                        self.http.post(self.url("/cgi-bin/clear_quota/v2")).body(
                            json!({"appid": creds.appid, "appsecret": creds.secret}).to_string(),
                        )
                    } else {
                        self.http
                            .post(self.url("/cgi-bin/clear_quota"))
                            .query(&[("access_token", token)])
                            .body(json!({ "appid": creds.appid }).to_string())
                    };
                    match answer(req, |v| {
                        (v.get("errcode").and_then(Value::as_i64) == Some(0))
                            .then_some(Outcome::Nothing)
                    })
                    .await
                    {
                        Outcome::Err(code) => codes.push(code),
                        Outcome::Nothing => codes.push(0),
                        other => return other,
                    }
                }
                Outcome::Clears(codes)
            }
            Action::Follow { user, subscribe } => {
                let resp = self
                    .http
                    .post(self.url(&format!("/__mock__/apps/{APP_C_ID}/followers")))
                    .json(&json!({"user": user.handle(), "subscribe": subscribe}))
                    .send()
                    .await;
                let v = match resp {
                    Ok(r) if r.status().as_u16() == 200 => r.json::<Value>().await.ok(),
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        return Outcome::Unexpected(format!("follow refused ({status}): {text}"));
                    }
                    Err(e) => return Outcome::Unexpected(format!("request failed: {e}")),
                };
                v.and_then(|v| {
                    Some(Outcome::Follower {
                        openid: text(&v, "openid")?,
                        unionid: text(&v, "unionid"),
                        since: v.get("subscribe_time")?.as_i64(),
                    })
                })
                .unwrap_or_else(|| Outcome::Unexpected("a follower without its fields".into()))
            }
            Action::UserInfo { token, openid } => {
                let made_up_token = unknown_token();
                let token = self.name_or(token, &made_up_token);
                let openid = self.name_or(openid, UNKNOWN_OPENID);
                let req = self.http.get(self.url("/cgi-bin/user/info")).query(&[
                    ("access_token", token),
                    ("openid", openid),
                    ("lang", "zh_CN"),
                ]);
                answer(req, |v| {
                    let following = v.get("subscribe")?.as_i64()? == 1;
                    Some(Outcome::Follower {
                        openid: text(v, "openid")?,
                        unionid: text(v, "unionid"),
                        since: if following {
                            Some(v.get("subscribe_time")?.as_i64()?)
                        } else {
                            None
                        },
                    })
                })
                .await
            }
            Action::CreatePlatform => {
                let body = json!({"component_appid": PLATFORM_ID,
                    "component_appsecret": PLATFORM_SECRET});
                self.platform_answer(self.http.post(self.url("/__mock__/platforms")).json(&body))
                    .await
            }
            Action::ShowPlatform => {
                let url = self.url(&format!("/__mock__/platforms/{PLATFORM_ID}"));
                self.platform_answer(self.http.get(url)).await
            }
            Action::PushTicket => {
                let url = self.url(&format!("/__mock__/platforms/{PLATFORM_ID}/ticket"));
                self.platform_answer(self.http.post(url)).await
            }
            Action::Authorize { app, on } => {
                let base = format!("/__mock__/platforms/{PLATFORM_ID}/authorizations");
                let appid = &self.app(app).appid;
                let req = if on {
                    self.http
                        .post(self.url(&base))
                        .json(&json!({ "appid": appid }))
                } else {
                    self.http.delete(self.url(&format!("{base}/{appid}")))
                };
                match req.send().await {
                    Ok(r) if r.status().as_u16() == 200 => Outcome::Nothing,
                    Ok(r) => refusal(r).await,
                    Err(e) => Outcome::Unexpected(format!("request failed: {e}")),
                }
            }
            Action::ComponentToken { ticket } => {
                let body = json!({"component_appid": PLATFORM_ID,
                    "component_appsecret": PLATFORM_SECRET,
                    "component_verify_ticket": self.name_or(ticket, UNKNOWN_TICKET)});
                let req = self
                    .http
                    .post(self.url("/cgi-bin/component/api_component_token"))
                    .body(body.to_string());
                answer(req, |v| {
                    Some(Outcome::Token {
                        token: text(v, "component_access_token")?,
                        expires_in: v.get("expires_in")?.as_i64()?,
                    })
                })
                .await
            }
            Action::ComponentExchange { code, via, token } => {
                self.component_exchange(code, via, token).await
            }
            Action::Race { code, via, token } => {
                let (plain, component) = tokio::join!(
                    self.plain_exchange(code, via),
                    self.component_exchange(code, via, token)
                );
                Outcome::Race(Box::new(plain), Box::new(component))
            }
            Action::PluginLogin { user } => {
                let body = json!({"appid": self.a.appid, "user": user.handle(),
                    "plugin_appid": self.b.appid});
                let resp = self
                    .http
                    .post(self.url("/__mock__/wx/pluginLogin"))
                    .json(&body)
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().as_u16() == 200 => r
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|v| {
                            Some(Outcome::PluginCode {
                                code: text(&v, "code")?,
                                openpid: v["mock"]["openpid"].as_str()?.to_owned(),
                            })
                        })
                        .unwrap_or_else(|| Outcome::Unexpected("a grant without a code".into())),
                    Ok(r) => refusal(r).await,
                    Err(e) => Outcome::Unexpected(format!("request failed: {e}")),
                }
            }
            Action::Openpid { token, code } => {
                let made_up_token = unknown_token();
                let token = self.name_or(token, &made_up_token);
                let body = json!({ "code": self.name_or(code, UNKNOWN_CODE) });
                let req = self
                    .http
                    .post(self.url("/wxa/getpluginopenpid"))
                    .query(&[("access_token", token)])
                    .body(body.to_string());
                answer(req, |v| Some(Outcome::Openpid(text(v, "openpid")?))).await
            }
            Action::Fault(on) => {
                let spec = FaultSpec {
                    endpoint: on.endpoint().into(),
                    errcode: Some(-1),
                    times: Some(1),
                    consume_code: on.consume_code(),
                    ..FaultSpec::default()
                };
                match self.mock.control().add_fault(&spec).await {
                    Ok(_) => Outcome::Nothing,
                    Err(e) => Outcome::Unexpected(format!("fault rule refused: {e}")),
                }
            }
        }
    }
}

/// hex(SHA-256(text)): checkencryptedmsg's `encrypted_msg_hash` of an encryptedData.
fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl World {
    async fn plain_exchange(&self, code: Option<Ident>, via: App) -> Outcome<String> {
        let app = self.app(via);
        let req = self.http.get(self.url("/sns/jscode2session")).query(&[
            ("appid", app.appid.as_str()),
            ("secret", app.secret.as_str()),
            ("js_code", self.name_or(code, UNKNOWN_CODE)),
            ("grant_type", "authorization_code"),
        ]);
        answer(req, session_answer).await
    }

    async fn component_exchange(
        &self,
        code: Option<Ident>,
        via: App,
        token: Option<Ident>,
    ) -> Outcome<String> {
        let made_up_token = unknown_token();
        let req = self
            .http
            .get(self.url("/sns/component/jscode2session"))
            .query(&[
                ("appid", self.app(via).appid.as_str()),
                ("js_code", self.name_or(code, UNKNOWN_CODE)),
                ("grant_type", "authorization_code"),
                ("component_appid", PLATFORM_ID),
                (
                    "component_access_token",
                    self.name_or(token, &made_up_token),
                ),
            ]);
        answer(req, session_answer).await
    }

    /// A control-plane answer carrying the platform's view: its current ticket and when it
    /// was pushed (seconds into the case).
    async fn platform_answer(&self, req: reqwest::RequestBuilder) -> Outcome<String> {
        match req.send().await {
            Ok(r) if r.status().is_success() => r
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| {
                    Some(Outcome::Platform {
                        ticket: text(&v, "component_verify_ticket")?,
                        pushed_at: v["ticket_pushed_at"].as_i64()? - START,
                    })
                })
                .unwrap_or_else(|| Outcome::Unexpected("a platform without its ticket".into())),
            Ok(r) => refusal(r).await,
            Err(e) => Outcome::Unexpected(format!("request failed: {e}")),
        }
    }
}

/// A control-plane refusal, by its error code.
async fn refusal(r: reqwest::Response) -> Outcome<String> {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or_default();
    match body["error"]["code"].as_str() {
        Some(code) => Outcome::Refused(code.to_owned()),
        None => Outcome::Unexpected(format!("HTTP {status} without an error code: {body}")),
    }
}

fn session_answer(v: &Value) -> Option<Outcome<String>> {
    Some(Outcome::Session {
        openid: text(v, "openid")?,
        unionid: text(v, "unionid"),
        key: text(v, "session_key")?,
    })
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn token_answer(v: &Value) -> Option<Outcome<String>> {
    Some(Outcome::Token {
        token: text(v, "access_token")?,
        expires_in: v.get("expires_in")?.as_i64()?,
    })
}

/// Sends a vendor request: a non-zero errcode is `Err`, else `success` reads the body.
async fn answer(
    req: reqwest::RequestBuilder,
    success: impl FnOnce(&Value) -> Option<Outcome<String>>,
) -> Outcome<String> {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Unexpected(format!("request failed: {e}")),
    };
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    if status != 200 {
        return Outcome::Unexpected(format!("HTTP {status}: {body}"));
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return Outcome::Unexpected(format!("not JSON: {body}"));
    };
    match v.get("errcode").map(Value::as_i64) {
        Some(Some(code)) if code != 0 => Outcome::Err(code),
        Some(None) => Outcome::Unexpected(format!("errcode is not an integer: {body}")),
        _ => success(&v).unwrap_or(Outcome::Unexpected(body)),
    }
}

/// Runs `case` against a fresh mock and the model; on the first disagreement, fails with the
/// trace of every step so far.
pub async fn run(case: &Case) -> TestCaseResult {
    let mut world = World::start(case).await;
    let mut model = Model::new(case.min_rotation, case.token_limit);
    let mut trace = vec![format!(
        "session_key_min_rotation = {}s, token_daily_limit = {}; t = seconds since the start",
        case.min_rotation, case.token_limit
    )];
    for (i, op) in case.ops.iter().enumerate() {
        let step = model.step(op);
        let actual = world.perform(&step.action).await;
        let expected = step.expect.render(|id| world.names.describe_ident(id));
        let got = actual.render(|s| world.names.describe(s));
        let head = format!("{:>3}. t={:<6} {op:?}", i + 1, model.now);
        let resolved = resolved(&step.action);
        let unified = match &step.expect {
            // Any one branch, the model following it.
            Outcome::Either(branches) => branches
                .iter()
                .enumerate()
                .find_map(|(i, branch)| {
                    let mut names = world.names.clone();
                    names.unify(branch, &actual).ok()?;
                    world.names = names;
                    model.settle(i);
                    Some(())
                })
                .ok_or_else(|| "no order of the two requests gives these answers".to_owned()),
            expect => world.names.unify(expect, &actual),
        };
        match unified {
            Ok(()) => trace.push(format!("{head}{resolved}\n       -> {got}")),
            Err(why) => {
                trace.push(format!(
                    "{head}{resolved}\n       DISAGREEMENT: {why}\n       model (reference): \
                     {expected}\n       mock:              {got}"
                ));
                return Err(TestCaseError::fail(trace.join("\n")));
            }
        }
    }
    Ok(())
}

/// The concrete values an operation's choices resolved to, when not obvious from the op.
fn resolved(action: &Action) -> String {
    let opt = |id: &Option<Ident>| id.map_or("made-up".to_owned(), |id| format!("{id:?}"));
    match action {
        Action::Exchange { code, via } => format!("  [{} via {via}]", opt(code)),
        Action::Session {
            token, openid, key, ..
        } => format!(
            "  [token {}, openid {}, key {}]",
            opt(token),
            opt(openid),
            opt(key)
        ),
        Action::Advance { secs } => format!("  [+{secs}s]"),
        Action::Login { app, user } | Action::Pay { app, user } => format!("  [{app}, {user}]"),
        Action::QuotaGet { token, .. } | Action::Clear { token, .. } => {
            format!("  [token {}]", opt(token))
        }
        Action::UserInfo { token, openid } => {
            format!("  [token {}, openid {}]", opt(token), opt(openid))
        }
        Action::ComponentToken { ticket } => format!("  [ticket {}]", opt(ticket)),
        Action::ComponentExchange { code, via, token } | Action::Race { code, via, token } => {
            format!(
                "  [{} via {via}, component token {}]",
                opt(code),
                opt(token)
            )
        }
        Action::Openpid { token, code } => {
            format!("  [token {}, code {}]", opt(token), opt(code))
        }
        Action::PaidUnionid {
            token,
            openid,
            trade,
        } => format!(
            "  [token {}, openid {}, payment {}]",
            opt(token),
            opt(openid),
            opt(trade)
        ),
        Action::Risk { token, openid, .. } => {
            format!("  [token {}, openid {}]", opt(token), opt(openid))
        }
        Action::CheckData { token, data } => {
            format!("  [token {}, data {}]", opt(token), opt(data))
        }
        Action::ListKeys { token, openid, key } => format!(
            "  [token {}, openid {}, key {}]",
            opt(token),
            opt(openid),
            opt(key)
        ),
        Action::PhoneData { app, user } | Action::UserKey { app, user } => {
            format!("  [{app}, {user}]")
        }
        _ => String::new(),
    }
}
