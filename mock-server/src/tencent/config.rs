//! The SMS gateway's configuration: the API key, the account's SmsSdkAppIds, sign names and
//! templates, the per-number frequency limits and the outbox size. Every value has a default
//! derived from the seed, so a mock started with no configuration serves SendSms at once; the
//! seed file (`"sms": {...}`) and `PATCH /__mock__/sms/config` change any of them.

use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::Generator;

/// A sign name (`SignName`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignSpec {
    /// The name as requests give it; 1 to 64 bytes, no control characters, each once.
    pub name: String,
    /// Only approved signs can be sent with (else FailedOperation.SignatureIncorrectOrUnapproved).
    #[serde(default = "approved")]
    pub approved: bool,
}

fn approved() -> bool {
    true
}

/// What kind of message a template is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// A verification code: every parameter must be 0 to 6 digits
    /// (InvalidParameterValue.TemplateParameterFormatError); the outbox shows the first one as
    /// the message's `code`.
    #[default]
    Verification,
    /// Any other message.
    Notification,
}

/// A body template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// The id as requests give it (`TemplateId`); 1 to 64 bytes, each once.
    pub id: String,
    /// The text, parameters written `{1}`, `{2}`, ... (no number may be skipped); a request must
    /// give as many parameters as the highest number. 1 to 1024 bytes.
    pub content: String,
    /// Only approved templates can be sent (else FailedOperation.TemplateIncorrectOrUnapproved).
    #[serde(default = "approved")]
    pub approved: bool,
    /// Default `verification`.
    #[serde(default)]
    pub kind: TemplateKind,
    /// A template for numbers outside the Chinese mainland, and only those.
    #[serde(default)]
    pub international: bool,
}

impl TemplateSpec {
    /// How many parameters it takes: the highest `{n}` in its content.
    pub fn params(&self) -> usize {
        placeholders(&self.content)
            .map(|(_, n, _)| n)
            .max()
            .unwrap_or(0)
    }

    /// The message text with the parameters filled in.
    pub fn render(&self, params: &[String]) -> String {
        let mut out = String::with_capacity(self.content.len());
        let mut last = 0;
        for (start, n, end) in placeholders(&self.content) {
            out.push_str(&self.content[last..start]);
            out.push_str(params.get(n - 1).map_or("", String::as_str));
            last = end;
        }
        out.push_str(&self.content[last..]);
        out
    }
}

/// The `{n}` placeholders of a template's content: (start, n, end) byte offsets, n from 1.
fn placeholders(content: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    content.match_indices('{').filter_map(move |(start, _)| {
        let rest = &content[start + 1..];
        let close = rest.find('}')?;
        let digits = &rest[..close];
        if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: usize = digits.parse().ok().filter(|n| *n >= 1)?;
        Some((start, n, start + 1 + close + 1))
    })
}

/// A template and its parameter count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TemplateView {
    /// The template.
    #[serde(flatten)]
    pub spec: TemplateSpec,
    /// How many parameters it takes.
    pub params: usize,
}

/// Messages one number may get from one SmsSdkAppId (`null`: no limit). Refusals are the number's
/// status, the others of the request still go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SmsLimits")]
pub struct Limits {
    /// In any 30 seconds (LimitExceeded.PhoneNumberThirtySecondLimit); default 1, Tencent Cloud's
    /// documented default.
    pub thirty_seconds: Option<u32>,
    /// In any hour (LimitExceeded.PhoneNumberOneHourLimit); default 5 (not a documented Tencent
    /// Cloud default).
    pub one_hour: Option<u32>,
    /// In a calendar day in China, UTC+8 (LimitExceeded.PhoneNumberDailyLimit); default 10.
    pub daily: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            thirty_seconds: Some(1),
            one_hour: Some(5),
            daily: Some(10),
        }
    }
}

/// The gateway's whole configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// The API key's SecretId (`AKID` and 32 alphanumerics by default).
    pub secret_id: String,
    /// The API key's SecretKey.
    pub secret_key: String,
    /// The account's SmsSdkAppIds; any other is UnauthorizedOperation.SmsSdkAppIdVerifyFail.
    pub sdk_app_ids: Vec<String>,
    /// Sign names.
    pub sign_names: Vec<SignSpec>,
    /// Templates.
    pub templates: Vec<TemplateSpec>,
    /// Per-number frequency limits.
    pub limits: Limits,
    /// Messages the outbox keeps before it drops the oldest.
    pub outbox_capacity: usize,
}

/// The default sign name.
pub const DEFAULT_SIGN: &str = "登录验证";
/// The default two-parameter verification template's text.
pub const LOGIN_TEMPLATE: &str =
    "{1}为您的登录验证码，请于{2}分钟内填写，如非本人操作，请忽略本短信。";
/// The default one-parameter verification template's text.
pub const CODE_TEMPLATE: &str = "您的验证码为：{1}，该验证码5分钟内有效，请勿泄漏于他人！";

impl SmsConfig {
    /// The configuration a mock with this seed starts with.
    pub fn seeded(idgen: &Generator) -> Self {
        let template = |n: u64, content: &str| TemplateSpec {
            id: format!(
                "{}{}",
                1 + idgen.number("tc-template-lead", &[&n.to_be_bytes()]) % 9,
                idgen.digits("tc-template", n, 6)
            ),
            content: content.into(),
            approved: true,
            kind: TemplateKind::Verification,
            international: false,
        };
        Self {
            secret_id: format!("AKID{}", idgen.alnum("tc-secret-id", 32)),
            secret_key: idgen.alnum("tc-secret-key", 32),
            sdk_app_ids: vec![format!("1400{}", idgen.digits("tc-sdk-app-id", 0, 6))],
            sign_names: vec![SignSpec {
                name: DEFAULT_SIGN.into(),
                approved: true,
            }],
            templates: vec![template(0, LOGIN_TEMPLATE), template(1, CODE_TEMPLATE)],
            limits: Limits::default(),
            outbox_capacity: 10_000,
        }
    }

    /// The configuration with `patch` applied, validated; the error names the field.
    pub fn patched(&self, patch: &SmsConfigPatch) -> Result<Self, (&'static str, String)> {
        let mut next = self.clone();
        if let Some(v) = &patch.secret_id {
            next.secret_id.clone_from(v);
        }
        if let Some(v) = &patch.secret_key {
            next.secret_key.clone_from(v);
        }
        if let Some(v) = &patch.sdk_app_ids {
            next.sdk_app_ids.clone_from(v);
        }
        if let Some(v) = &patch.sign_names {
            next.sign_names.clone_from(v);
        }
        if let Some(v) = &patch.templates {
            next.templates.clone_from(v);
        }
        if let Some(l) = &patch.limits {
            if let Some(v) = l.thirty_seconds {
                next.limits.thirty_seconds = v;
            }
            if let Some(v) = l.one_hour {
                next.limits.one_hour = v;
            }
            if let Some(v) = l.daily {
                next.limits.daily = v;
            }
        }
        if let Some(v) = patch.outbox_capacity {
            next.outbox_capacity = v;
        }
        next.validate()?;
        Ok(next)
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        key_text("secret_id", &self.secret_id)?;
        key_text("secret_key", &self.secret_key)?;
        unique("sdk_app_ids", self.sdk_app_ids.iter().map(String::as_str))?;
        unique(
            "sign_names",
            self.sign_names.iter().map(|s| s.name.as_str()),
        )?;
        unique("templates", self.templates.iter().map(|t| t.id.as_str()))?;
        for (i, t) in self.templates.iter().enumerate() {
            if t.content.is_empty() || t.content.len() > 1024 {
                return Err((
                    "templates",
                    format!("templates[{i}].content must be 1 to 1024 bytes"),
                ));
            }
            let highest = t.params();
            let used: Vec<usize> = placeholders(&t.content).map(|(_, n, _)| n).collect();
            if let Some(gap) = (1..=highest).find(|n| !used.contains(n)) {
                return Err((
                    "templates",
                    format!("templates[{i}].content has {{{highest}}} but no {{{gap}}}"),
                ));
            }
        }
        if self.outbox_capacity == 0 {
            return Err(("outbox_capacity", "must be at least 1".into()));
        }
        Ok(())
    }

    /// The view the control plane shows.
    pub fn view(&self) -> SmsConfigView {
        SmsConfigView {
            secret_id: self.secret_id.clone(),
            secret_key: self.secret_key.clone(),
            sdk_app_ids: self.sdk_app_ids.clone(),
            sign_names: self.sign_names.clone(),
            templates: self
                .templates
                .iter()
                .map(|t| TemplateView {
                    params: t.params(),
                    spec: t.clone(),
                })
                .collect(),
            limits: self.limits,
            outbox_capacity: self.outbox_capacity,
        }
    }
}

/// `SecretId` and `SecretKey` travel in a header (the former) and a MAC key (the latter): 1 to
/// 128 visible ASCII characters, no `/` or `,` (they would break `Credential=`).
fn key_text(field: &'static str, v: &str) -> Result<(), (&'static str, String)> {
    if v.is_empty()
        || v.len() > 128
        || !v
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b',')
    {
        return Err((
            field,
            "must be 1 to 128 visible ASCII characters without `/` or `,`".into(),
        ));
    }
    Ok(())
}

/// Names and ids: 1 to 64 bytes, no control characters, each once.
fn unique<'a>(
    field: &'static str,
    values: impl Iterator<Item = &'a str>,
) -> Result<(), (&'static str, String)> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, v) in values.enumerate() {
        if v.is_empty() || v.len() > 64 || v.chars().any(char::is_control) {
            return Err((
                field,
                format!(
                    "entry {i}: ids and names must be 1 to 64 bytes without control characters"
                ),
            ));
        }
        if !seen.insert(v) {
            return Err((field, format!("{v:?} is given more than once")));
        }
    }
    Ok(())
}

/// The SMS gateway's configuration. Every value has a default derived from the seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "SmsConfig")]
pub struct SmsConfigView {
    /// The API key's SecretId (default `AKID` and 32 alphanumerics); any other in `Authorization`
    /// is AuthFailure.SecretIdNotFound.
    pub secret_id: String,
    /// The API key's SecretKey (shown: tests sign with it).
    pub secret_key: String,
    /// The account's SmsSdkAppIds (default one, `1400` and 6 digits); any other is
    /// UnauthorizedOperation.SmsSdkAppIdVerifyFail.
    pub sdk_app_ids: Vec<String>,
    /// Sign names (default `登录验证`).
    pub sign_names: Vec<SignSpec>,
    /// Templates (default two approved verification templates:
    /// `{1}为您的登录验证码，请于{2}分钟内填写，如非本人操作，请忽略本短信。` and `您的验证码为：{1}，该验证码5分钟内有效，请勿泄漏于他人！`, 7-digit ids
    /// from the seed).
    pub templates: Vec<TemplateView>,
    /// Frequency limits.
    pub limits: Limits,
    /// Messages the outbox keeps before it drops the oldest (default 10000).
    #[schemars(range(min = 1))]
    pub outbox_capacity: usize,
}

/// Changes to the SMS gateway's configuration (also the seed file's `sms`): a field given replaces
/// the current one, lists whole; `limits` changes the limits given. Validated whole before anything
/// changes; errors are `invalid_field` naming the field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfigPatch {
    /// SecretId; 1 to 128 visible ASCII characters without `/` or `,`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// SecretKey; 1 to 128 visible ASCII characters without `/` or `,`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// SmsSdkAppIds; 1 to 64 bytes each, each once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdk_app_ids: Option<Vec<String>>,
    /// Sign names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_names: Option<Vec<SignSpec>>,
    /// Templates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates: Option<Vec<TemplateSpec>>,
    /// Limits to change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsPatch>,
    /// Outbox size; a smaller one drops the oldest messages at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub outbox_capacity: Option<usize>,
}

/// Limits to change: left out keeps, `null` lifts, a number sets.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
#[schemars(rename = "SmsLimitsPatch")]
pub struct LimitsPatch {
    /// In any 30 seconds.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub thirty_seconds: Option<Option<u32>>,
    /// In any hour.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub one_hour: Option<Option<u32>>,
    /// In a calendar day in China (UTC+8).
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub daily: Option<Option<u32>>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_seed_and_are_valid() {
        let a = SmsConfig::seeded(&Generator::new("s1"));
        assert_eq!(a, SmsConfig::seeded(&Generator::new("s1")));
        assert_ne!(
            a.secret_id,
            SmsConfig::seeded(&Generator::new("s2")).secret_id
        );
        assert!(a.secret_id.starts_with("AKID") && a.secret_id.len() == 36);
        assert_eq!(a.secret_key.len(), 32);
        assert!(a.sdk_app_ids[0].starts_with("1400") && a.sdk_app_ids[0].len() == 10);
        assert_eq!(a.templates.len(), 2);
        assert!(a.templates.iter().all(|t| t.id.len() == 7));
        assert_eq!(a.templates[0].params(), 2);
        assert_eq!(a.templates[1].params(), 1);
        assert_eq!(a.patched(&SmsConfigPatch::default()), Ok(a.clone()));
    }

    #[test]
    fn templates_render_their_parameters() {
        let t = TemplateSpec {
            id: "1".into(),
            content: LOGIN_TEMPLATE.into(),
            approved: true,
            kind: TemplateKind::Verification,
            international: false,
        };
        assert_eq!(
            t.render(&["123456".into(), "5".into()]),
            "123456为您的登录验证码，请于5分钟内填写，如非本人操作，请忽略本短信。"
        );
        let odd = TemplateSpec {
            content: "{x} {} {0} {2}{1} {".into(),
            ..t
        };
        assert_eq!(odd.params(), 2);
        assert_eq!(odd.render(&["a".into(), "b".into()]), "{x} {} {0} ba {");
    }

    #[test]
    fn patches_replace_and_validate_naming_the_field() {
        let base = SmsConfig::seeded(&Generator::new("p"));
        let patch: SmsConfigPatch =
            serde_json::from_str(r#"{"limits":{"daily":null,"one_hour":2},"sdk_app_ids":["1"]}"#)
                .expect("valid");
        let next = base.patched(&patch).expect("valid");
        assert_eq!(next.limits.daily, None);
        assert_eq!(next.limits.one_hour, Some(2));
        assert_eq!(next.limits.thirty_seconds, Some(1));
        assert_eq!(next.sdk_app_ids, ["1"]);
        for (json, field) in [
            (r#"{"secret_id":""}"#, "secret_id"),
            (r#"{"secret_key":"a/b"}"#, "secret_key"),
            (r#"{"sdk_app_ids":["1","1"]}"#, "sdk_app_ids"),
            (r#"{"sign_names":[{"name":""}]}"#, "sign_names"),
            (r#"{"templates":[{"id":"1","content":"{2}"}]}"#, "templates"),
            (r#"{"templates":[{"id":"1","content":""}]}"#, "templates"),
            (r#"{"outbox_capacity":0}"#, "outbox_capacity"),
        ] {
            let patch: SmsConfigPatch = serde_json::from_str(json).expect("parses");
            assert_eq!(
                base.patched(&patch).map(|_| ()).unwrap_err().0,
                field,
                "{json}"
            );
        }
    }
}
