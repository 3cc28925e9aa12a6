//! Tencent Cloud SMS's SendSms over the mock's state: the gateway's configuration, the messages
//! it accepted (the outbox tests read codes from) and the per-number counts its frequency limits
//! look at.
//!
//! A request is judged in the order a gateway can: its common parameters (`tencent::request`),
//! the clock (five minutes either way: AuthFailure.SignatureExpire), the SecretId, the
//! signature, the body, the SmsSdkAppId and the mix of regions, all refusing the whole request;
//! then each number on its own: its format, the sign name, the template, its region, the
//! parameters and the limits. Everything that refuses the whole request is decided before
//! anything is written; a number that passes is sent (outbox, limit counts) at once, so the
//! next number of the same request already counts it.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, Map, State};
use crate::clock::Timestamp;
use crate::ids::Generator;
use crate::reply::{Answer, Reply, TencentReply};
use crate::request::{Call, SmsSend, VendorRequest};
use crate::tencent::RequestIds;
use crate::tencent::catalogue::{self, Scope, SendStatus, TcCode, TcError};
use crate::tencent::config::{SmsConfig, SmsConfigPatch, SmsConfigView, TemplateKind};
use crate::tencent::phone::{self, PhoneNumber};
use crate::tencent::request::{self, SERVICE};
use crate::tencent::sign::{self, UNSIGNED_PAYLOAD};

/// How far `X-TC-Timestamp` may be from the server's time, either way ("Timestamp and server
/// time cannot differ by more than five minutes", AuthFailure.SignatureExpire).
pub const TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(300);
/// The day the daily limit counts is China's (UTC+8).
const CHINA_OFFSET_SECS: i64 = 8 * 3600;
/// Sends are remembered this long for the limits (the daily window is never longer).
const REMEMBER: Duration = Duration::from_secs(24 * 3600);

/// A message the SMS gateway accepted (its number's status was `Ok`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SmsMessage {
    /// Sequence number, from 1, never reused (not even after a clear).
    #[schemars(range(min = 1))]
    pub seq: u64,
    /// Virtual time of sending, Unix milliseconds.
    pub time_ms: i64,
    /// Virtual time of sending, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub time: String,
    /// The answer's `RequestId`.
    pub request_id: String,
    /// The number's `SerialNo`.
    pub serial_no: String,
    /// The number in E.164.
    pub phone: String,
    /// The number as the request gave it.
    pub phone_as_sent: String,
    /// The number's region (`CN`; `DEF` when not recognised).
    pub iso_code: String,
    /// `SmsSdkAppId`.
    pub sdk_app_id: String,
    /// `SignName`, if given.
    pub sign_name: Option<String>,
    /// `TemplateId`.
    pub template_id: String,
    /// `TemplateParamSet`.
    pub params: Vec<String>,
    /// The text the phone shows: `【SignName】` and the template with its parameters.
    pub content: String,
    /// For a verification template, its first parameter: the code the user types; `null` for
    /// notifications.
    pub code: Option<String>,
    /// The number's `Fee`: 1 up to 70 characters (sign included), else one per 67.
    #[schemars(range(min = 1))]
    pub fee: u32,
    /// `SessionContext`.
    pub session_context: String,
}

/// The outbox, filtered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SmsOutbox {
    /// Matching messages, oldest first.
    pub messages: Vec<SmsMessage>,
    /// Messages accepted since start or the last clear.
    pub recorded: u64,
    /// Oldest messages dropped because the outbox was full.
    pub dropped: u64,
    /// How many messages the outbox keeps.
    #[schemars(range(min = 1))]
    pub capacity: usize,
    /// The sequence number of the latest message (0: none yet); give it as `since` later to read
    /// only what came after.
    pub last_seq: u64,
}

/// Filters of `GET /__mock__/sms`; all optional.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsFilter {
    /// Messages to this number (any form SendSms accepts; `+` may arrive as a space).
    pub phone: Option<String>,
    /// Only messages after this sequence number.
    pub since: Option<u64>,
    /// Only the newest this many of the matching messages.
    pub last: Option<usize>,
    /// Only messages of this template.
    pub template_id: Option<String>,
}

#[derive(Default)]
struct Outbox {
    messages: VecDeque<SmsMessage>,
    next_seq: u64,
    recorded: u64,
    dropped: u64,
}

impl Outbox {
    fn push(&mut self, mut m: SmsMessage, capacity: usize) {
        self.next_seq += 1;
        m.seq = self.next_seq;
        self.recorded += 1;
        self.messages.push_back(m);
        self.trim(capacity);
    }

    fn trim(&mut self, capacity: usize) {
        while self.messages.len() > capacity.max(1) {
            self.messages.pop_front();
            self.dropped += 1;
        }
    }
}

/// The gateway's state.
pub(super) struct Gateway {
    config: SmsConfig,
    outbox: Outbox,
    /// Times of accepted sends per (SmsSdkAppId, E.164 number), oldest first.
    sent: Map<(String, String), VecDeque<Timestamp>>,
    /// Serial numbers handed out.
    serials: u64,
}

impl Gateway {
    pub fn new(config: SmsConfig) -> Self {
        Self {
            config,
            outbox: Outbox::default(),
            sent: Map::default(),
            serials: 0,
        }
    }

    /// Forgets sends too old to count for any limit.
    pub fn sweep(&mut self, now: Timestamp) {
        self.sent.retain(|_, times| {
            while times.front().is_some_and(|t| t.until(now) >= REMEMBER) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }

    pub fn message_count(&self) -> usize {
        self.outbox.messages.len()
    }

    pub fn window_count(&self) -> usize {
        self.sent.len()
    }

    pub fn view(&self) -> SmsConfigView {
        self.config.view()
    }
}

/// Judges a SendSms request. Every answer is a Tencent Cloud reply with a `RequestId`; the
/// journal's summary is the error's code, `Ok`, or the first refused number's code.
pub(super) fn send_sms(
    st: &mut State,
    ids: &RequestIds,
    idgen: &Generator,
    req: &VendorRequest,
    call: &SmsSend,
    now: Timestamp,
) -> Answer {
    let request_id = ids.next();
    let outcome = judge(&mut st.sms, idgen, req, call, now, &request_id);
    let summary = match &outcome {
        Ok(statuses) => catalogue::summary(statuses),
        Err(e) => e.code.code(),
    };
    Answer {
        result: Ok(Reply::Tencent(TencentReply {
            request_id,
            outcome,
        })),
        appid: req.call.named_appid(),
        user: None,
        tencent: Some(summary),
    }
}

/// Checks the signature against the configured key.
fn verify(
    gw: &Gateway,
    req: &VendorRequest,
    call: &SmsSend,
    env: &request::Envelope,
    now: Timestamp,
) -> Result<(), TcError> {
    if now.secs().abs_diff(env.timestamp) > TIMESTAMP_TOLERANCE.as_secs() {
        return Err(TcCode::SignatureExpire.into());
    }
    let auth = &env.authorization;
    if auth.secret_id != gw.config.secret_id {
        return Err(TcCode::SecretIdNotFound.into());
    }
    let failure = || TcError::new(TcCode::SignatureFailure);
    // The document requires both; a header signed but not sent cannot have been signed right.
    for required in sign::SDK_SIGNED_HEADERS {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(failure());
        }
    }
    let mut headers = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let value = call.headers.get(name).ok_or_else(failure)?;
        headers.push((name.as_str(), value));
    }
    let payload: &[u8] = if env.unsigned_payload {
        UNSIGNED_PAYLOAD.as_bytes()
    } else {
        &req.body
    };
    let expected = sign::signature(
        &gw.config.secret_key,
        &sign::Request {
            service: SERVICE,
            timestamp: env.timestamp,
            headers: &headers,
            payload,
        },
    );
    if auth.service != SERVICE
        || auth.date != sign::utc_date(env.timestamp)
        || !sign::same_signature(&expected, &auth.signature)
    {
        return Err(failure());
    }
    Ok(())
}

fn judge(
    gw: &mut Gateway,
    idgen: &Generator,
    req: &VendorRequest,
    sms: &SmsSend,
    now: Timestamp,
    request_id: &str,
) -> Result<Vec<SendStatus>, TcError> {
    let env = sms.envelope.as_ref().map_err(Clone::clone)?;
    verify(gw, req, sms, env, now)?;
    let call = sms.body.send.as_ref().map_err(Clone::clone)?;
    if !gw.config.sdk_app_ids.contains(&call.sms_sdk_app_id) {
        return Err(TcCode::SmsSdkAppIdVerifyFail.into());
    }
    let numbers: Vec<Option<PhoneNumber>> = call
        .phone_number_set
        .iter()
        .map(|n| phone::parse(n))
        .collect();
    let valid = || numbers.iter().flatten();
    if valid().any(PhoneNumber::is_mainland) && valid().any(|n| !n.is_mainland()) {
        return Err(TcCode::ContainDomesticAndInternational.into());
    }
    // Nothing refuses the whole request from here on.
    let session = call.session_context.clone().unwrap_or_default();
    let mut statuses = Vec::with_capacity(numbers.len());
    for (given, number) in call.phone_number_set.iter().zip(&numbers) {
        let status = match number {
            None => SendStatus::refused(TcCode::IncorrectPhoneNumber, given, &session, None),
            Some(number) => match message_for(gw, call, number, now) {
                Err(code) => SendStatus::refused(code, given, &session, Some(number.iso_code)),
                Ok((content, fee)) => {
                    let serial_no = serial_no(gw, idgen, now);
                    send(
                        gw, call, given, number, content, fee, &serial_no, request_id, now,
                    );
                    SendStatus::sent(serial_no, given, fee, &session, number.iso_code)
                }
            },
        };
        statuses.push(status);
    }
    Ok(statuses)
}

/// The text and fee of the message to `number`, or why it is not sent.
fn message_for(
    gw: &Gateway,
    call: &request::SendSms,
    number: &PhoneNumber,
    now: Timestamp,
) -> Result<(String, u32), TcCode> {
    let config = &gw.config;
    let sign = call.sign_name.as_deref().filter(|s| !s.is_empty());
    let sign_ok = |name: &str| {
        config
            .sign_names
            .iter()
            .any(|s| s.name == name && s.approved)
    };
    match sign {
        // Mainland messages must carry an approved sign; international ones may go without.
        None if number.is_mainland() => return Err(TcCode::SignatureIncorrectOrUnapproved),
        Some(name) if !sign_ok(name) => return Err(TcCode::SignatureIncorrectOrUnapproved),
        _ => {}
    }
    let template = config
        .templates
        .iter()
        .find(|t| t.id == call.template_id && t.approved)
        .ok_or(TcCode::TemplateIncorrectOrUnapproved)?;
    match (template.international, number.is_mainland()) {
        (true, true) => return Err(TcCode::GlobalTemplateToMainlandPhone),
        (false, false) => return Err(TcCode::MainlandTemplateToGlobalPhone),
        _ => {}
    }
    if call.template_param_set.len() != template.params() {
        return Err(TcCode::TemplateParamSetNotMatch);
    }
    if template.kind == TemplateKind::Verification
        && !call
            .template_param_set
            .iter()
            .all(|p| p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(TcCode::TemplateParameterFormatError);
    }
    limits(gw, &call.sms_sdk_app_id, &number.e164, now)?;
    let text = template.render(&call.template_param_set);
    let content = match sign {
        Some(name) => format!("【{name}】{text}"),
        None => text,
    };
    let fee = fee_of(&content);
    Ok((content, fee))
}

/// Billed messages (国内短信长度计算规则, 382/18058): up to 70 characters, sign included,
/// one; longer ones are split into parts of 67.
fn fee_of(content: &str) -> u32 {
    let chars = u32::try_from(content.chars().count()).unwrap_or(u32::MAX);
    if chars <= 70 { 1 } else { chars.div_ceil(67) }
}

/// Refuses a send the number's limits do not allow.
fn limits(gw: &Gateway, app: &str, e164: &str, now: Timestamp) -> Result<(), TcCode> {
    let Some(times) = gw.sent.get(&(app.to_owned(), e164.to_owned())) else {
        return Ok(());
    };
    let within = |window: Duration| {
        times
            .iter()
            .filter(|t| **t <= now && t.until(now) < window)
            .count()
    };
    let day_start = {
        let local = now.secs() + CHINA_OFFSET_SECS;
        Timestamp::from_secs(local - local.rem_euclid(86_400) - CHINA_OFFSET_SECS)
    };
    let today = times
        .iter()
        .filter(|t| **t >= day_start && **t <= now)
        .count();
    let over = |limit: Option<u32>, n: usize| limit.is_some_and(|l| n >= l as usize);
    let l = gw.config.limits;
    if over(l.thirty_seconds, within(Duration::from_secs(30))) {
        Err(TcCode::ThirtySecondLimit)
    } else if over(l.one_hour, within(Duration::from_secs(3600))) {
        Err(TcCode::OneHourLimit)
    } else if over(l.daily, today) {
        Err(TcCode::DailyLimit)
    } else {
        Ok(())
    }
}

/// A `SerialNo` shaped like the captured ones (`3369:104363764516835299334591062`: a four-digit
/// prefix, a random number, the Unix time, seven digits). The format is not documented.
fn serial_no(gw: &mut Gateway, idgen: &Generator, now: Timestamp) -> String {
    let n = gw.serials;
    gw.serials += 1;
    format!(
        "{}:{}{}{}",
        1000 + idgen.number("tc-serial-prefix", &[]) % 9000,
        idgen.number("tc-serial", &[&n.to_be_bytes()]) % 10_000_000_000,
        now.secs(),
        idgen.digits("tc-serial-tail", n, 7)
    )
}

#[allow(clippy::too_many_arguments)]
fn send(
    gw: &mut Gateway,
    call: &request::SendSms,
    given: &str,
    number: &PhoneNumber,
    content: String,
    fee: u32,
    serial_no: &str,
    request_id: &str,
    now: Timestamp,
) {
    gw.sent
        .entry((call.sms_sdk_app_id.clone(), number.e164.clone()))
        .or_default()
        .push_back(now);
    let verification = gw
        .config
        .templates
        .iter()
        .any(|t| t.id == call.template_id && t.kind == TemplateKind::Verification);
    let message = SmsMessage {
        seq: 0,
        time_ms: now.millis(),
        time: now.rfc3339(),
        request_id: request_id.to_owned(),
        serial_no: serial_no.to_owned(),
        phone: number.e164.clone(),
        phone_as_sent: given.to_owned(),
        iso_code: number.iso_code.to_owned(),
        sdk_app_id: call.sms_sdk_app_id.clone(),
        sign_name: call.sign_name.clone(),
        template_id: call.template_id.clone(),
        params: call.template_param_set.clone(),
        content,
        code: if verification {
            call.template_param_set.first().cloned()
        } else {
            None
        },
        fee,
        session_context: call.session_context.clone().unwrap_or_default(),
    };
    let capacity = gw.config.outbox_capacity;
    gw.outbox.push(message, capacity);
}

impl Engine {
    /// The SMS gateway's configuration.
    pub fn sms_config(&self) -> SmsConfigView {
        self.lock().sms.view()
    }

    /// Changes the SMS gateway's configuration; a refused patch changes nothing.
    pub fn patch_sms_config(&self, patch: &SmsConfigPatch) -> Result<SmsConfigView, EngineError> {
        let mut st = self.lock();
        let gw = &mut st.sms;
        let next = gw
            .config
            .patched(patch)
            .map_err(|(field, message)| EngineError::Invalid { field, message })?;
        gw.config = next;
        let capacity = gw.config.outbox_capacity;
        gw.outbox.trim(capacity);
        Ok(gw.view())
    }

    /// The outbox, filtered.
    pub fn sms_outbox(&self, filter: &SmsFilter) -> Result<SmsOutbox, EngineError> {
        let phone = filter
            .phone
            .as_deref()
            .map(|p| {
                phone::normalize_filter(p).ok_or_else(|| EngineError::Invalid {
                    field: "phone",
                    message: format!("{p:?} is not a phone number SendSms takes"),
                })
            })
            .transpose()?;
        let st = self.lock();
        let outbox = &st.sms.outbox;
        let since = filter.since.unwrap_or(0);
        let mut messages: Vec<SmsMessage> = outbox
            .messages
            .iter()
            .filter(|m| {
                m.seq > since
                    && phone.as_ref().is_none_or(|p| m.phone == *p)
                    && filter
                        .template_id
                        .as_ref()
                        .is_none_or(|t| m.template_id == *t)
            })
            .cloned()
            .collect();
        if let Some(last) = filter.last {
            let skip = messages.len().saturating_sub(last);
            messages.drain(..skip);
        }
        Ok(SmsOutbox {
            messages,
            recorded: outbox.recorded,
            dropped: outbox.dropped,
            capacity: st.sms.config.outbox_capacity,
            last_seq: outbox.next_seq,
        })
    }

    /// Empties the outbox (sequence numbers go on; the limits still count what was sent);
    /// returns how many messages it held.
    pub fn clear_sms_outbox(&self) -> usize {
        let mut st = self.lock();
        let outbox = &mut st.sms.outbox;
        let n = outbox.messages.len();
        outbox.messages.clear();
        outbox.recorded = 0;
        outbox.dropped = 0;
        n
    }

    /// What a fault rule's Tencent Cloud code answers a request with: the error for a
    /// whole-request code, else that status for every number a SendSms body names (one with an
    /// empty `PhoneNumber` when it names none).
    pub fn tencent_fault(&self, code: TcCode, req: &VendorRequest) -> TencentReply {
        let request_id = self.request_ids.next();
        if code.scope() == Scope::Request {
            return TencentReply {
                request_id,
                outcome: Err(code.into()),
            };
        }
        let mut numbers = match &req.call {
            Call::SmsSend(sms) => sms.body.phone_numbers.clone(),
            _ => Vec::new(),
        };
        if numbers.is_empty() {
            numbers.push(String::new());
        }
        let statuses: Vec<SendStatus> = numbers
            .iter()
            .map(|n| {
                let iso = phone::parse(n).map(|p| p.iso_code);
                SendStatus::refused(code, n, "", iso)
            })
            .collect();
        TencentReply {
            request_id,
            outcome: Ok(statuses),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_count_characters_sign_included() {
        assert_eq!(fee_of(&"字".repeat(70)), 1);
        assert_eq!(fee_of(&"字".repeat(71)), 2);
        assert_eq!(fee_of(&"a".repeat(134)), 2);
        assert_eq!(fee_of(&"a".repeat(135)), 3);
    }
}
