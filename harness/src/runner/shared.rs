//! A run against a team's backend: one mock for the whole run, never reset between scenarios.
//! Every scenario gets identities no earlier scenario or run used (its users, and so its
//! codes, openids, unionids, session keys and phone numbers, are salted with the run's seed
//! and the scenario's path), so a backend that remembers everything still sees new people.
//! Scenarios that touch shared state (the clock, options, faults, the journal's counts) hold
//! the run's lock alone; the others share it and run in parallel.

use std::sync::Arc;

use mock_server::ControlClient;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::RwLock;

use crate::target::{SmsAccount, TargetProfile};

/// What every scenario of a target run shares.
#[derive(Debug)]
pub struct TargetRun {
    /// The mock's base URL.
    pub mock_url: String,
    /// The run's seed: salts every scenario's identities.
    pub seed: String,
    /// Shared (parallel scenarios) or alone (scenarios touching shared state).
    pub lock: Arc<RwLock<()>>,
    /// The mock's options at the start, restored after a scenario changed them.
    pub default_options: Value,
    /// The apps the backend serves, by the names scenarios use, as the mock describes them.
    pub apps: Vec<(String, Value)>,
}

impl TargetRun {
    /// Readies the mock: clears leftover faults, freezes the clock, and makes sure every app
    /// the profile names exists there with its credentials.
    pub async fn prepare(
        mock_url: &str,
        profile: &TargetProfile,
        seed: String,
    ) -> Result<Self, String> {
        let control = ControlClient::new(mock_url, None);
        let call = |m: Method, p: &'static str, b: Option<Value>| {
            let control = control.clone();
            async move {
                control
                    .raw(m.clone(), p, b.as_ref())
                    .await
                    .map_err(|e| format!("the mock at {mock_url}: {m} {p}: {e}"))
            }
        };
        call(Method::DELETE, "/faults", None).await?;
        call(Method::POST, "/clock", Some(json!({"freeze": true}))).await?;
        let default_options = call(Method::GET, "/options", None).await?;
        let state = call(Method::GET, "/state", None).await?;
        let known = state["apps"].as_array().cloned().unwrap_or_default();
        let mut apps = Vec::new();
        for (name, app) in &profile.apps {
            let exists = known.iter().any(|a| a["appid"] == app.appid.as_str());
            let body = json!({"secret": app.secret, "open_platform": app.open_platform});
            let view = if exists {
                control
                    .raw(Method::PATCH, &format!("/apps/{}", app.appid), Some(&body))
                    .await
            } else {
                let mut body = body;
                body["appid"] = json!(app.appid);
                body["name"] = json!(name);
                control.raw(Method::POST, "/apps", Some(&body)).await
            }
            .map_err(|e| format!("the mock at {mock_url}: app `{name}` ({}): {e}", app.appid))?;
            apps.push((name.clone(), view));
        }
        if let Some(account) = &profile.sms {
            let gateway = call(Method::GET, "/sms/config", None).await?;
            call(
                Method::PATCH,
                "/sms/config",
                Some(gateway_with(&gateway, account)),
            )
            .await?;
        }
        if !apps.iter().any(|(n, _)| n == "default") {
            let default = known
                .iter()
                .find(|a| a["default"] == true)
                .cloned()
                .ok_or_else(|| format!("the mock at {mock_url} has no default app"))?;
            apps.insert(0, ("default".into(), default));
        }
        Ok(Self {
            mock_url: mock_url.to_owned(),
            seed,
            lock: Arc::new(RwLock::new(())),
            default_options,
            apps,
        })
    }
}

/// The mock gateway's configuration (`GET /__mock__/sms/config`) as a patch that also accepts
/// the backend's account: its key, and its SmsSdkAppId, sign name and template added to the
/// gateway's (the template's text replaced if the id exists).
fn gateway_with(gateway: &Value, account: &SmsAccount) -> Value {
    let list = |key: &str| gateway[key].as_array().cloned().unwrap_or_default();
    let mut ids = list("sdk_app_ids");
    if !ids.iter().any(|i| i == account.sdk_app_id.as_str()) {
        ids.push(json!(account.sdk_app_id));
    }
    let mut signs = list("sign_names");
    if !signs
        .iter()
        .any(|s| s["name"] == account.sign_name.as_str())
    {
        signs.push(json!({"name": account.sign_name}));
    }
    let content = account
        .template
        .clone()
        .unwrap_or_else(|| mock_server::tencent::config::LOGIN_TEMPLATE.to_owned());
    let mut templates: Vec<Value> = list("templates")
        .into_iter()
        .filter(|t| t["id"] != account.template_id.as_str())
        .map(|mut t| {
            if let Value::Object(m) = &mut t {
                m.remove("params");
            }
            t
        })
        .collect();
    templates.push(json!({"id": account.template_id, "content": content}));
    json!({
        "secret_id": account.secret_id,
        "secret_key": account.secret_key,
        "sdk_app_ids": ids,
        "sign_names": signs,
        "templates": templates,
    })
}

/// A seed for a run that was given none: different every run, printed so the run can be
/// repeated with `--seed`.
pub fn fresh_seed() -> String {
    use std::hash::{BuildHasher, Hasher};
    // The standard library's per-process random keys: the one place a run is not seeded.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    format!("{:08x}", h.finish() as u32)
}

/// Eight hex digits from the parts: a scenario's salt.
pub fn salt(parts: &[&str]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    parts.hash(&mut h);
    format!("{:08x}", h.finish() as u32)
}

/// A phone number of the same shape, unique to the salt: the first three digits kept, the
/// rest derived (two users given one number in a file still share the new one); as is without
/// a salt.
pub fn salted_number(number: &str, salt_text: &str) -> String {
    use std::hash::{Hash, Hasher};
    if salt_text.is_empty() {
        return number.to_owned();
    }
    let keep = number.len().min(3);
    let rest = number.len() - keep;
    let mut h = std::hash::DefaultHasher::new();
    (salt_text, number).hash(&mut h);
    let mut digits = h.finish().to_string();
    while digits.len() < rest {
        digits.push_str(&digits.clone());
    }
    format!("{}{}", &number[..keep], &digits[..rest])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_are_reproducible_and_numbers_keep_their_shape() {
        assert_eq!(salt(&["a", "b"]), salt(&["a", "b"]));
        assert_ne!(salt(&["a", "b"]), salt(&["a", "c"]));
        let n = salted_number("13800138000", "s1");
        assert_eq!(n.len(), 11);
        assert!(
            n.starts_with("138") && n.bytes().all(|b| b.is_ascii_digit()),
            "{n}"
        );
        assert_eq!(n, salted_number("13800138000", "s1"));
        assert_ne!(n, salted_number("13800138000", "s2"));
        assert_eq!(salted_number("13800138000", ""), "13800138000");
        assert_ne!(fresh_seed(), "");
    }
}
