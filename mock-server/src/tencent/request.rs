//! A SendSms request parsed before anything is judged: API 3.0's common parameters, which a TC3
//! POST carries in headers (`Authorization`, `X-TC-Action`, `X-TC-Version`, `X-TC-Timestamp`,
//! `X-TC-Region`), and the JSON body's fields. Parsing reads nothing but the request; the
//! gateway (`engine::sms`) then checks them against its keys, clock and configuration.

use serde_json::Value;

use super::catalogue::{TcCode, TcError};
use super::sign::{ALGORITHM, TERMINATOR, UNSIGNED_PAYLOAD};
use crate::params::Params;

/// The action the mock serves.
pub const ACTION: &str = "SendSms";
/// The SMS API version it serves.
pub const VERSION: &str = "2021-01-11";
/// The product name in the credential scope.
pub const SERVICE: &str = "sms";
/// Regions the mock takes in `X-TC-Region` (left out is fine too): the regional endpoints the
/// SMS API's "Request Structure" page lists (tencentcloud.com/document/api/382/40465: Guangzhou,
/// Shanghai, Beijing, Chengdu, Chongqing, Hong Kong, Singapore; the page was only seen cut off
/// after Singapore) and Nanjing, a region of the Chinese SMS docs. Any other value is
/// UnsupportedRegion; which regions the real service refuses was not confirmed.
pub const REGIONS: [&str; 8] = [
    "ap-beijing",
    "ap-chengdu",
    "ap-chongqing",
    "ap-guangzhou",
    "ap-hongkong",
    "ap-nanjing",
    "ap-shanghai",
    "ap-singapore",
];
/// Most numbers in one request (LimitExceeded.PhoneNumberCountLimit: "exceeds 200").
pub const MAX_NUMBERS: usize = 200;

/// The parsed `Authorization: TC3-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The SecretId.
    pub secret_id: String,
    /// The credential scope's date as the client wrote it.
    pub date: String,
    /// The credential scope's service as the client wrote it.
    pub service: String,
    /// The signed headers, lowercase, in the order given.
    pub signed_headers: Vec<String>,
    /// The hex signature as given.
    pub signature: String,
}

impl Authorization {
    /// Parses the header value; `None` when it is not the TC3 form.
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        for part in rest.split(',') {
            let (name, v) = part.trim().split_once('=')?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => return None,
            };
            if slot.replace(v).is_some() {
                return None;
            }
        }
        let mut scope = credential?.split('/');
        let (secret_id, date, service, terminator) =
            (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
        if scope.next().is_some() || terminator != TERMINATOR || secret_id.is_empty() {
            return None;
        }
        let signed_headers: Vec<String> = signed?.split(';').map(str::to_ascii_lowercase).collect();
        let signature = signature?;
        if signed_headers.iter().any(String::is_empty) || signature.is_empty() {
            return None;
        }
        Some(Self {
            secret_id: secret_id.to_owned(),
            date: date.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature: signature.to_owned(),
        })
    }
}

/// The common parameters of a SendSms request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The signature and what it covers.
    pub authorization: Authorization,
    /// `X-TC-Timestamp`.
    pub timestamp: i64,
    /// `X-TC-Region`, if given.
    pub region: Option<String>,
    /// `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`: the body is not part of the signature.
    pub unsigned_payload: bool,
}

/// Reads the common parameters, in the order the mock checks them: method, `Authorization`'s
/// form, action, version, timestamp, region. `headers` are the request's headers by lowercase
/// name (how the vendor entry point hands them over for this endpoint).
pub fn envelope(is_post: bool, headers: &Params) -> Result<Envelope, TcError> {
    if !is_post {
        return Err(TcCode::UnsupportedProtocol.into());
    }
    let authorization = headers
        .get("authorization")
        .and_then(Authorization::parse)
        .ok_or(TcCode::InvalidAuthorization)?;
    match headers.get("x-tc-action") {
        None => return Err(TcError::param(TcCode::MissingParameter, "Action")),
        Some(ACTION) => {}
        Some(_) => return Err(TcCode::InvalidAction.into()),
    }
    match headers.get("x-tc-version") {
        None => return Err(TcError::param(TcCode::MissingParameter, "Version")),
        Some(VERSION) => {}
        Some(_) => return Err(TcCode::NoSuchVersion.into()),
    }
    let timestamp = headers
        .get("x-tc-timestamp")
        .ok_or_else(|| TcError::param(TcCode::MissingParameter, "Timestamp"))?;
    let timestamp = timestamp
        .parse::<i64>()
        .ok()
        .filter(|t| *t >= 0 && timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| TcError::param(TcCode::InvalidParameter, "Timestamp"))?;
    let region = headers.get("x-tc-region").map(str::to_owned);
    if region.as_deref().is_some_and(|r| !REGIONS.contains(&r)) {
        return Err(TcCode::UnsupportedRegion.into());
    }
    Ok(Envelope {
        authorization,
        timestamp,
        region,
        unsigned_payload: headers.get("x-tc-content-sha256") == Some(UNSIGNED_PAYLOAD),
    })
}

/// SendSms's body (version 2021-01-11), field names as on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendSms {
    /// `PhoneNumberSet`, as given.
    pub phone_number_set: Vec<String>,
    /// `SmsSdkAppId`.
    pub sms_sdk_app_id: String,
    /// `TemplateId`.
    pub template_id: String,
    /// `SignName`; required for mainland numbers.
    pub sign_name: Option<String>,
    /// `TemplateParamSet`; left out: none.
    pub template_param_set: Vec<String>,
    /// `ExtendCode`.
    pub extend_code: Option<String>,
    /// `SessionContext`, echoed in every status.
    pub session_context: Option<String>,
    /// `SenderId`.
    pub sender_id: Option<String>,
}

/// The fields SendSms takes, in the documentation's order.
pub const FIELDS: [&str; 8] = [
    "PhoneNumberSet",
    "SmsSdkAppId",
    "TemplateId",
    "SignName",
    "TemplateParamSet",
    "ExtendCode",
    "SessionContext",
    "SenderId",
];

/// The body as a JSON object, or FailedOperation.JsonParseFail.
fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, TcError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(TcCode::JsonParseFail.into()),
    }
}

fn string(name: &str, v: Value) -> Result<String, TcError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(TcError::param(TcCode::InvalidParameter, name)),
    }
}

fn strings(name: &str, v: Value) -> Result<Vec<String>, TcError> {
    let Value::Array(items) = v else {
        return Err(TcError::param(TcCode::InvalidParameter, name));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s),
            // Elements are named as the gateway names nested parameters: `Name.0`.
            _ => Err(TcError::param(
                TcCode::InvalidParameter,
                format!("{name}.{i}"),
            )),
        })
        .collect()
}

/// A SendSms body read once: the fields fault rules and the journal file a request under, and
/// the body parsed as [`send_sms`] does.
#[derive(Clone, Debug)]
pub struct SmsBody {
    /// `SmsSdkAppId`, when the body is an object whose `SmsSdkAppId` is a string.
    pub sdk_app_id: Option<String>,
    /// The `PhoneNumberSet` entries that are strings, for a fault rule's per-number code.
    pub phone_numbers: Vec<String>,
    /// The body as [`send_sms`] parses it.
    pub send: Result<SendSms, TcError>,
}

impl SmsBody {
    /// Reads `body` once.
    pub fn parse(body: &[u8]) -> Self {
        let map = match object(body) {
            Ok(map) => map,
            Err(e) => {
                return Self {
                    sdk_app_id: None,
                    phone_numbers: Vec::new(),
                    send: Err(e),
                };
            }
        };
        let sdk_app_id = match map.get("SmsSdkAppId") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let phone_numbers = match map.get("PhoneNumberSet") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Self {
            sdk_app_id,
            phone_numbers,
            send: send_sms_fields(map),
        }
    }
}

/// Parses the body: a JSON object of SendSms's fields (`null` counts as left out, as the SDKs
/// leave out unset fields); an unknown field is UnknownParameter, a wrong type
/// InvalidParameter, a missing required one MissingParameter, each naming the field; then
/// an empty `PhoneNumberSet` and one of more than 200 numbers.
pub fn send_sms(body: &[u8]) -> Result<SendSms, TcError> {
    send_sms_fields(object(body)?)
}

fn send_sms_fields(map: serde_json::Map<String, Value>) -> Result<SendSms, TcError> {
    let mut out = SendSms::default();
    let mut seen = [false; FIELDS.len()];
    for (name, value) in map {
        let Some(index) = FIELDS.iter().position(|f| *f == name) else {
            return Err(TcError::param(TcCode::UnknownParameter, name));
        };
        if value.is_null() {
            continue;
        }
        seen[index] = true;
        match index {
            0 => out.phone_number_set = strings(&name, value)?,
            1 => out.sms_sdk_app_id = string(&name, value)?,
            2 => out.template_id = string(&name, value)?,
            3 => out.sign_name = Some(string(&name, value)?),
            4 => out.template_param_set = strings(&name, value)?,
            5 => out.extend_code = Some(string(&name, value)?),
            6 => out.session_context = Some(string(&name, value)?),
            _ => out.sender_id = Some(string(&name, value)?),
        }
    }
    for (i, field) in FIELDS.iter().enumerate().take(3) {
        if !seen[i] {
            return Err(TcError::param(TcCode::MissingParameter, *field));
        }
    }
    if out.phone_number_set.is_empty() {
        return Err(TcCode::EmptyPhoneNumberSet.into());
    }
    if out.phone_number_set.len() > MAX_NUMBERS {
        return Err(TcCode::PhoneNumberCountLimit.into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<SendSms, TcError>) -> (String, Option<String>) {
        let e = r.expect_err("refused");
        (e.code.code().to_owned(), e.param)
    }

    #[test]
    fn authorization_is_the_tc3_form_only() {
        let ok = Authorization::parse(
            "TC3-HMAC-SHA256 Credential=AKIDx/2024-08-22/sms/tc3_request, \
             SignedHeaders=content-type;Host, Signature=abc",
        )
        .expect("valid");
        assert_eq!(ok.secret_id, "AKIDx");
        assert_eq!(ok.date, "2024-08-22");
        assert_eq!(ok.service, "sms");
        assert_eq!(ok.signed_headers, ["content-type", "host"]);
        assert_eq!(ok.signature, "abc");
        for bad in [
            "",
            "TC3-HMAC-SHA1 Credential=a/b/c/tc3_request, SignedHeaders=host, Signature=x",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc4_request, SignedHeaders=host, Signature=x",
            "TC3-HMAC-SHA256 Credential=a/b/tc3_request, SignedHeaders=host, Signature=x",
            "TC3-HMAC-SHA256 Credential=a/b/c/d/tc3_request, SignedHeaders=host, Signature=x",
            "TC3-HMAC-SHA256 Credential=/b/c/tc3_request, SignedHeaders=host, Signature=x",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=host",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=, Signature=x",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=host;;x, Signature=x",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=host, Signature=",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, Signature=x, Signature=y, SignedHeaders=h",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, Nonce=1, SignedHeaders=h, Signature=x",
        ] {
            assert_eq!(Authorization::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_body_names_the_field_it_refuses() {
        let full =
            r#"{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1400000000","TemplateId":"1"}"#;
        let ok = send_sms(full.as_bytes()).expect("valid");
        assert_eq!(ok.phone_number_set, ["+8613800138000"]);
        assert_eq!(ok.template_param_set, Vec::<String>::new());
        assert_eq!(ok.sign_name, None);

        let cases = [
            ("", ("FailedOperation.JsonParseFail", None)),
            ("[1]", ("FailedOperation.JsonParseFail", None)),
            ("{\"a\":", ("FailedOperation.JsonParseFail", None)),
            (
                r#"{"PhoneNumberSet":"+8613800138000","SmsSdkAppId":"1","TemplateId":"1"}"#,
                ("InvalidParameter", Some("PhoneNumberSet")),
            ),
            (
                r#"{"PhoneNumberSet":["+8613800138000",5],"SmsSdkAppId":"1","TemplateId":"1"}"#,
                ("InvalidParameter", Some("PhoneNumberSet.1")),
            ),
            (
                r#"{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":1400000000,"TemplateId":"1"}"#,
                ("InvalidParameter", Some("SmsSdkAppId")),
            ),
            (
                r#"{"PhoneNumberSet":["+8613800138000"],"TemplateId":"1"}"#,
                ("MissingParameter", Some("SmsSdkAppId")),
            ),
            (
                r#"{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1","TemplateId":null}"#,
                ("MissingParameter", Some("TemplateId")),
            ),
            (
                r#"{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1","TemplateId":"1","Sign":"x"}"#,
                ("UnknownParameter", Some("Sign")),
            ),
            (
                r#"{"PhoneNumberSet":[],"SmsSdkAppId":"1","TemplateId":"1"}"#,
                ("MissingParameter.EmptyPhoneNumberSet", None),
            ),
        ];
        for (body, (c, p)) in cases {
            assert_eq!(
                code(send_sms(body.as_bytes())),
                (c.to_owned(), p.map(str::to_owned)),
                "{body}"
            );
        }
        let many: Vec<String> = (0..=MAX_NUMBERS)
            .map(|_| "13800138000".to_owned())
            .collect();
        let body =
            serde_json::json!({"PhoneNumberSet": many, "SmsSdkAppId": "1", "TemplateId": "1"});
        assert_eq!(
            code(send_sms(body.to_string().as_bytes())).0,
            "LimitExceeded.PhoneNumberCountLimit"
        );
        let read = SmsBody::parse(full.as_bytes());
        assert_eq!(read.sdk_app_id.as_deref(), Some("1400000000"));
        assert_eq!(read.phone_numbers, ["+8613800138000"]);
        assert_eq!(read.send, send_sms(full.as_bytes()));
        assert_eq!(SmsBody::parse(b"nope").sdk_app_id, None);
    }
}
