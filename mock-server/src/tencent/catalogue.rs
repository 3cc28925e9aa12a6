//! Every Tencent Cloud error the mock's SMS gateway can answer, in one place: its code, its
//! message as the real gateway words it (where a captured answer shows it) and whether it comes
//! as the whole request's error or as one phone number's status. Only this module writes
//! Tencent Cloud response JSON.
//!
//! Two shapes (API 3.0 "Responses", SMS copy tencentcloud.com/document/product/382/40469), both
//! HTTP 200:
//!
//! ```text
//! {"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"..."},"RequestId":"..."}}
//! {"Response":{"SendStatusSet":[{"SerialNo","PhoneNumber","Fee","SessionContext","Code",
//!   "Message","IsoCode"}, ...],"RequestId":"..."}}
//! ```
//!
//! Sources, cited per entry:
//! - [common]: API 3.0 common error codes (SMS copy: cloud.tencent.com/document/api/382/38780,
//!   tencentcloud.com/document/product/382/34861), which also gives the SignatureFailure message.
//! - [sdk]: `tencentcloud/sms/v20210111/errorcodes.py` (tencentcloud-sdk-python) and the
//!   SendSms error list in tencentcloud-sdk-go `sms/v20210111/client.go`: the codes SendSms
//!   can return, with their descriptions.
//! - [captured]: answers of the real service quoted in public code and issues (quoted below).
//! - [doc-example]: the SendSms page's output examples (cloud.tencent.com/document/api/382/55981).
//!
//! Where no real answer could be found, the message is the code's documented description and
//! the entry says so; the scope (whole request or per number) of such entries is the mock's
//! reading of the code, also said so.

use serde::Serialize;

/// Where an error is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `Response.Error`: the request as a whole is refused, nothing is sent.
    Request,
    /// One entry of `Response.SendStatusSet`: this number got nothing, the others may have.
    Number,
}

/// A Tencent Cloud error code the mock answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcCode {
    /// `AuthFailure.InvalidAuthorization`: no `Authorization`, or not `TC3-HMAC-SHA256
    /// Credential=.../tc3_request, SignedHeaders=..., Signature=...` [common]. Message: the
    /// description, translated (not captured).
    InvalidAuthorization,
    /// `AuthFailure.SecretIdNotFound`: no key with this SecretId [common] [captured].
    SecretIdNotFound,
    /// `AuthFailure.SignatureExpire`: `X-TC-Timestamp` more than five minutes from the server's
    /// time, either way [common] [captured].
    SignatureExpire,
    /// `AuthFailure.SignatureFailure`: the signature does not match [common].
    SignatureFailure,
    /// `InvalidAction`: `X-TC-Action` names no action of the service [common] [captured].
    InvalidAction,
    /// `NoSuchVersion`: `X-TC-Version` is not a version of the service [common]. Message: the
    /// description (not captured).
    NoSuchVersion,
    /// `UnsupportedRegion`: `X-TC-Region` is not a region SMS is served in [common]. Message:
    /// the description (not captured).
    UnsupportedRegion,
    /// `UnsupportedProtocol`: a method other than POST [common]. Tencent also serves GET with a
    /// form-encoded query; the mock does not. Message: the description, translated.
    UnsupportedProtocol,
    /// `MissingParameter`: a required header or body field is missing [common] [captured].
    MissingParameter,
    /// `InvalidParameter`: a field has the wrong JSON type [common] [captured].
    InvalidParameter,
    /// `UnknownParameter`: a body field SendSms does not have [common]. Message partly
    /// captured (the TCB gateway's `ExpireAfterSeconds is not recognized`).
    UnknownParameter,
    /// `InternalError`: the service failed [common]; faults only.
    InternalError,
    /// `RequestLimitExceeded`: too many requests to the API [common]; faults only.
    RequestLimitExceeded,
    /// `FailedOperation.JsonParseFail`: the body is not a JSON object [sdk]. Scope and message
    /// are the SDK's description (not captured).
    JsonParseFail,
    /// `MissingParameter.EmptyPhoneNumberSet`: `PhoneNumberSet` is `[]` [sdk].
    EmptyPhoneNumberSet,
    /// `LimitExceeded.PhoneNumberCountLimit`: more than 200 numbers in one request [sdk].
    PhoneNumberCountLimit,
    /// `UnauthorizedOperation.SmsSdkAppIdVerifyFail`: the SmsSdkAppId is not one of the key's
    /// account [sdk]; the SDKs' SendSms samples list it as a common answer.
    SmsSdkAppIdVerifyFail,
    /// `UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber`: mainland and other
    /// numbers in one request [sdk].
    ContainDomesticAndInternational,
    /// `FailedOperation.InsufficientBalanceInSmsPackage`: out of SMS package [sdk]; faults only.
    InsufficientBalance,
    /// `FailedOperation.SignatureIncorrectOrUnapproved`: the SignName is unknown, not approved
    /// or missing for a mainland number [sdk]. Per number by analogy with the template errors.
    SignatureIncorrectOrUnapproved,
    /// `FailedOperation.TemplateIncorrectOrUnapproved`: the TemplateId is unknown or not
    /// approved [sdk] [captured as a status].
    TemplateIncorrectOrUnapproved,
    /// `FailedOperation.TemplateParamSetNotMatchApprovedTemplate`: `TemplateParamSet` has not as
    /// many parameters as the template [sdk] [doc-example].
    TemplateParamSetNotMatch,
    /// `InvalidParameterValue.TemplateParameterFormatError`: a verification-code template's
    /// parameter is not 0 to 6 digits [sdk].
    TemplateParameterFormatError,
    /// `InvalidParameterValue.IncorrectPhoneNumber`: a number that is not E.164 (or a mainland
    /// form SendSms accepts) [sdk]. Per number: the mock's reading, not captured.
    IncorrectPhoneNumber,
    /// `FailedOperation.PhoneNumberInBlacklist`: the number opted out [sdk]; faults only.
    PhoneNumberInBlacklist,
    /// `UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone`: a mainland template to a
    /// number outside the mainland [sdk].
    MainlandTemplateToGlobalPhone,
    /// `UnsupportedOperation.GlobalTemplateToChineseMainlandPhone`: an international template to
    /// a mainland number [sdk].
    GlobalTemplateToMainlandPhone,
    /// `LimitExceeded.PhoneNumberThirtySecondLimit` [sdk] [captured as a status].
    ThirtySecondLimit,
    /// `LimitExceeded.PhoneNumberOneHourLimit` [sdk] [captured as a status].
    OneHourLimit,
    /// `LimitExceeded.PhoneNumberDailyLimit` [sdk]; message by analogy with the one-hour one.
    DailyLimit,
}

/// Every entry, for listing and for looking up fault codes.
pub const ALL: &[TcCode] = &[
    TcCode::InvalidAuthorization,
    TcCode::SecretIdNotFound,
    TcCode::SignatureExpire,
    TcCode::SignatureFailure,
    TcCode::InvalidAction,
    TcCode::NoSuchVersion,
    TcCode::UnsupportedRegion,
    TcCode::UnsupportedProtocol,
    TcCode::MissingParameter,
    TcCode::InvalidParameter,
    TcCode::UnknownParameter,
    TcCode::InternalError,
    TcCode::RequestLimitExceeded,
    TcCode::JsonParseFail,
    TcCode::EmptyPhoneNumberSet,
    TcCode::PhoneNumberCountLimit,
    TcCode::SmsSdkAppIdVerifyFail,
    TcCode::ContainDomesticAndInternational,
    TcCode::InsufficientBalance,
    TcCode::SignatureIncorrectOrUnapproved,
    TcCode::TemplateIncorrectOrUnapproved,
    TcCode::TemplateParamSetNotMatch,
    TcCode::TemplateParameterFormatError,
    TcCode::IncorrectPhoneNumber,
    TcCode::PhoneNumberInBlacklist,
    TcCode::MainlandTemplateToGlobalPhone,
    TcCode::GlobalTemplateToMainlandPhone,
    TcCode::ThirtySecondLimit,
    TcCode::OneHourLimit,
    TcCode::DailyLimit,
];

/// A code as the control plane names it (a fault rule's `tencent_error`): its text on the wire.
impl schemars::JsonSchema for TcCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TencentErrorCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let per_number: Vec<String> = ALL
            .iter()
            .filter(|c| c.scope() == Scope::Number)
            .map(|c| format!("`{}`", c.code()))
            .collect();
        let codes: Vec<&str> = ALL.iter().map(|c| c.code()).collect();
        schemars::json_schema!({
            "type": "string",
            "description": format!(
                "A Tencent Cloud error code the SMS gateway answers. Most refuse the whole request \
                 (`{{\"Response\":{{\"Error\":{{\"Code\",\"Message\"}},\"RequestId\"}}}}`); these \
                 refuse one number in `SendStatusSet` (and, as a fault, every number of the \
                 request): {}.",
                per_number.join(", ")
            ),
            "enum": codes,
        })
    }
}

/// The `Code` of a number that was sent.
pub const OK: &str = "Ok";
/// Its `Message` [doc-example] [captured].
pub const SEND_SUCCESS: &str = "send success";

impl TcCode {
    /// The code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            TcCode::InvalidAuthorization => "AuthFailure.InvalidAuthorization",
            TcCode::SecretIdNotFound => "AuthFailure.SecretIdNotFound",
            TcCode::SignatureExpire => "AuthFailure.SignatureExpire",
            TcCode::SignatureFailure => "AuthFailure.SignatureFailure",
            TcCode::InvalidAction => "InvalidAction",
            TcCode::NoSuchVersion => "NoSuchVersion",
            TcCode::UnsupportedRegion => "UnsupportedRegion",
            TcCode::UnsupportedProtocol => "UnsupportedProtocol",
            TcCode::MissingParameter => "MissingParameter",
            TcCode::InvalidParameter => "InvalidParameter",
            TcCode::UnknownParameter => "UnknownParameter",
            TcCode::InternalError => "InternalError",
            TcCode::RequestLimitExceeded => "RequestLimitExceeded",
            TcCode::JsonParseFail => "FailedOperation.JsonParseFail",
            TcCode::EmptyPhoneNumberSet => "MissingParameter.EmptyPhoneNumberSet",
            TcCode::PhoneNumberCountLimit => "LimitExceeded.PhoneNumberCountLimit",
            TcCode::SmsSdkAppIdVerifyFail => "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
            TcCode::ContainDomesticAndInternational => {
                "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"
            }
            TcCode::InsufficientBalance => "FailedOperation.InsufficientBalanceInSmsPackage",
            TcCode::SignatureIncorrectOrUnapproved => {
                "FailedOperation.SignatureIncorrectOrUnapproved"
            }
            TcCode::TemplateIncorrectOrUnapproved => {
                "FailedOperation.TemplateIncorrectOrUnapproved"
            }
            TcCode::TemplateParamSetNotMatch => {
                "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
            }
            TcCode::TemplateParameterFormatError => {
                "InvalidParameterValue.TemplateParameterFormatError"
            }
            TcCode::IncorrectPhoneNumber => "InvalidParameterValue.IncorrectPhoneNumber",
            TcCode::PhoneNumberInBlacklist => "FailedOperation.PhoneNumberInBlacklist",
            TcCode::MainlandTemplateToGlobalPhone => {
                "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone"
            }
            TcCode::GlobalTemplateToMainlandPhone => {
                "UnsupportedOperation.GlobalTemplateToChineseMainlandPhone"
            }
            TcCode::ThirtySecondLimit => "LimitExceeded.PhoneNumberThirtySecondLimit",
            TcCode::OneHourLimit => "LimitExceeded.PhoneNumberOneHourLimit",
            TcCode::DailyLimit => "LimitExceeded.PhoneNumberDailyLimit",
        }
    }

    /// The catalogue entry for a code string, if there is one.
    pub fn from_code(code: &str) -> Option<Self> {
        ALL.iter().copied().find(|e| e.code() == code)
    }

    /// Whether it refuses the whole request or one number.
    pub fn scope(self) -> Scope {
        match self {
            TcCode::SignatureIncorrectOrUnapproved
            | TcCode::TemplateIncorrectOrUnapproved
            | TcCode::TemplateParamSetNotMatch
            | TcCode::TemplateParameterFormatError
            | TcCode::IncorrectPhoneNumber
            | TcCode::PhoneNumberInBlacklist
            | TcCode::MainlandTemplateToGlobalPhone
            | TcCode::GlobalTemplateToMainlandPhone
            | TcCode::ThirtySecondLimit
            | TcCode::OneHourLimit
            | TcCode::DailyLimit => Scope::Number,
            _ => Scope::Request,
        }
    }

    /// Whether a status with this code still names the number's region (`IsoCode`): the rate
    /// limits do in the captured answers, the template refusal does not.
    fn keeps_iso_code(self) -> bool {
        matches!(
            self,
            TcCode::ThirtySecondLimit
                | TcCode::OneHourLimit
                | TcCode::DailyLimit
                | TcCode::PhoneNumberInBlacklist
        )
    }

    /// The message; `param` names the parameter for the codes whose message names one.
    pub fn message(self, param: Option<&str>) -> String {
        let p = param.unwrap_or("");
        match self {
            TcCode::InvalidAuthorization => {
                "The Authorization in the request header does not conform to the Tencent Cloud \
                 standard."
                    .into()
            }
            // [captured] quoted whole in several SDK users' tests and logs of real answers.
            TcCode::SecretIdNotFound => {
                "The SecretId is not found, please ensure that your SecretId is correct.".into()
            }
            // [captured] `{"Code":"AuthFailure.SignatureExpire","Message":"The signature is
            // expired, please request again."}` in two unrelated logs of real answers.
            TcCode::SignatureExpire => "The signature is expired, please request again.".into(),
            // [common] the documented example; newer answers were also seen worded "Request
            // signature verification failed. Please check if your signature calculation is
            // correct."
            TcCode::SignatureFailure => {
                "The provided credentials could not be validated. Please check your signature is \
                 correct."
                    .into()
            }
            TcCode::InvalidAction => "The request `Action` is invalid or not found.".into(),
            TcCode::NoSuchVersion => "The API version does not exist.".into(),
            TcCode::UnsupportedRegion => "API does not support the requested region.".into(),
            TcCode::UnsupportedProtocol => {
                "The HTTP(S) request protocol is invalid: only GET and POST requests are \
                 supported, and the mock serves POST with a JSON body only."
                    .into()
            }
            // [captured] "The request is missing a required parameter `Timestamp`." (and
            // `Version`, `Region`, `MediaType`, `MaxPrice`: headers and body fields alike).
            TcCode::MissingParameter => {
                format!("The request is missing a required parameter `{p}`.")
            }
            // [captured] tccli's documented examples: "The value type of parameter `Offset` is
            // not valid."; for PhoneNumberSet given as a string, tencentyun/qcloud-documents#4225.
            TcCode::InvalidParameter => format!("The value type of parameter `{p}` is not valid."),
            TcCode::UnknownParameter => format!("The parameter `{p}` is not recognized."),
            TcCode::InternalError => "An internal error has occurred.".into(),
            TcCode::RequestLimitExceeded => {
                "The number of requests exceeds the frequency limit.".into()
            }
            TcCode::JsonParseFail => "Failed to parse the request body.".into(),
            TcCode::EmptyPhoneNumberSet => {
                "The phone number list is empty. Please check whether you passed in the numbers."
                    .into()
            }
            TcCode::PhoneNumberCountLimit => {
                "The number of mobile numbers submitted in one call exceeds 200.".into()
            }
            TcCode::SmsSdkAppIdVerifyFail => {
                "SmsSdkAppId verification failed. Please check whether the SmsSdkAppId belongs \
                 to the account of the TencentCloud API key."
                    .into()
            }
            TcCode::ContainDomesticAndInternational => {
                "The request contains both Chinese mainland and international mobile numbers."
                    .into()
            }
            TcCode::InsufficientBalance => {
                "The package balance is insufficient. Please purchase an SMS package.".into()
            }
            // The legacy API's error 1012 for the same case ("Signature format is incorrect or
            // signature is not approved."), worded as the captured limit statuses are.
            TcCode::SignatureIncorrectOrUnapproved => {
                "signature format is incorrect or signature is not approved".into()
            }
            // [captured] cloud.tencent.com/developer/ask/240543: a SendStatusSet entry with
            // SerialNo "", Fee 0, IsoCode "".
            TcCode::TemplateIncorrectOrUnapproved => {
                "template is not approved or request content does not match the approved \
                 template content"
                    .into()
            }
            // [doc-example] the SendSms page's failure example (as quoted by authgear's tests).
            TcCode::TemplateParamSetNotMatch => {
                "request content does not match the template content".into()
            }
            TcCode::TemplateParameterFormatError => {
                "the parameter format of the verification code template is incorrect: only 0-6 \
                 digits can be passed in as the template variable"
                    .into()
            }
            TcCode::IncorrectPhoneNumber => "incorrect mobile number format".into(),
            TcCode::PhoneNumberInBlacklist => "the mobile number is in the opt-out list".into(),
            TcCode::MainlandTemplateToGlobalPhone => {
                "Chinese mainland templates cannot be sent to international mobile numbers".into()
            }
            TcCode::GlobalTemplateToMainlandPhone => {
                "international templates cannot be sent to Chinese mainland mobile numbers".into()
            }
            // [captured] `{"SerialNo": "", "PhoneNumber": "+8618630087660", "Fee": 0,
            // "SessionContext": "", "Code": "LimitExceeded.PhoneNumberThirtySecondLimit",
            // "Message": "the number of SMS messages sent from a single mobile number within 30
            // seconds exceeds the upper limit", "IsoCode": "CN"}`
            TcCode::ThirtySecondLimit => {
                "the number of SMS messages sent from a single mobile number within 30 seconds \
                 exceeds the upper limit"
                    .into()
            }
            // [captured] "...within 1 hour exceeds the upper limit", lowercase `sms`, IsoCode CN.
            TcCode::OneHourLimit => {
                "the number of sms messages sent from a single mobile number within 1 hour \
                 exceeds the upper limit"
                    .into()
            }
            TcCode::DailyLimit => {
                "the number of sms messages sent from a single mobile number every day exceeds \
                 the upper limit"
                    .into()
            }
        }
    }
}

/// A refusal of the whole request: the code and the parameter its message names, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcError {
    /// The catalogue entry.
    pub code: TcCode,
    /// The parameter the message names (`MissingParameter`, `InvalidParameter`,
    /// `UnknownParameter`).
    pub param: Option<String>,
}

impl TcError {
    /// An error whose message names no parameter.
    pub fn new(code: TcCode) -> Self {
        Self { code, param: None }
    }

    /// An error about one parameter.
    pub fn param(code: TcCode, param: impl Into<String>) -> Self {
        Self {
            code,
            param: Some(param.into()),
        }
    }
}

impl From<TcCode> for TcError {
    fn from(code: TcCode) -> Self {
        Self::new(code)
    }
}

/// One number's entry in `SendStatusSet`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SendStatus {
    /// The delivery serial number; empty when nothing was sent.
    #[serde(rename = "SerialNo")]
    pub serial_no: String,
    /// The number as the request gave it.
    #[serde(rename = "PhoneNumber")]
    pub phone_number: String,
    /// Billed messages: 0 when nothing was sent.
    #[serde(rename = "Fee")]
    pub fee: u32,
    /// The request's `SessionContext`, echoed.
    #[serde(rename = "SessionContext")]
    pub session_context: String,
    /// `Ok` or an error code.
    #[serde(rename = "Code")]
    pub code: &'static str,
    /// `send success` or the error's message.
    #[serde(rename = "Message")]
    pub message: String,
    /// ISO 3166 code of the number's region (`CN`), `DEF` when not recognised.
    #[serde(rename = "IsoCode")]
    pub iso_code: String,
}

impl SendStatus {
    /// A number that was sent.
    pub fn sent(
        serial_no: String,
        phone_number: &str,
        fee: u32,
        session_context: &str,
        iso_code: &str,
    ) -> Self {
        Self {
            serial_no,
            phone_number: phone_number.to_owned(),
            fee,
            session_context: session_context.to_owned(),
            code: OK,
            message: SEND_SUCCESS.into(),
            iso_code: iso_code.to_owned(),
        }
    }

    /// A number refused with a per-number code; `iso_code` is the number's region when known.
    pub fn refused(
        code: TcCode,
        phone_number: &str,
        session_context: &str,
        iso_code: Option<&str>,
    ) -> Self {
        Self {
            serial_no: String::new(),
            phone_number: phone_number.to_owned(),
            fee: 0,
            session_context: session_context.to_owned(),
            code: code.code(),
            message: code.message(None),
            iso_code: if code.keeps_iso_code() {
                iso_code.unwrap_or("").to_owned()
            } else {
                String::new()
            },
        }
    }
}

/// The compact error body `{"Response":{"Error":{"Code","Message"},"RequestId"}}`.
pub fn error_body(err: &TcError, request_id: &str) -> String {
    #[derive(Serialize)]
    struct Detail<'a> {
        #[serde(rename = "Code")]
        code: &'a str,
        #[serde(rename = "Message")]
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Inner<'a> {
        #[serde(rename = "Error")]
        error: Detail<'a>,
        #[serde(rename = "RequestId")]
        request_id: &'a str,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "Response")]
        response: Inner<'a>,
    }
    let message = err.code.message(err.param.as_deref());
    serde_json::to_string(&Body {
        response: Inner {
            error: Detail {
                code: err.code.code(),
                message: &message,
            },
            request_id,
        },
    })
    .unwrap_or_default()
}

/// The compact SendSms answer `{"Response":{"SendStatusSet":[...],"RequestId"}}`.
pub fn send_status_body(statuses: &[SendStatus], request_id: &str) -> String {
    #[derive(Serialize)]
    struct Inner<'a> {
        #[serde(rename = "SendStatusSet")]
        set: &'a [SendStatus],
        #[serde(rename = "RequestId")]
        request_id: &'a str,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "Response")]
        response: Inner<'a>,
    }
    serde_json::to_string(&Body {
        response: Inner {
            set: statuses,
            request_id,
        },
    })
    .unwrap_or_default()
}

/// What the journal says of a SendSms answer: the error's code, `Ok` when every number was
/// sent, else the first number's refusal.
pub fn summary(statuses: &[SendStatus]) -> &'static str {
    statuses
        .iter()
        .map(|s| s.code)
        .find(|c| *c != OK)
        .unwrap_or(OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for e in ALL {
            assert_eq!(TcCode::from_code(e.code()), Some(*e), "{e:?}");
        }
        assert_eq!(TcCode::from_code("Ok"), None);
        assert_eq!(TcCode::from_code("authfailure.signaturefailure"), None);
    }

    #[test]
    fn reproduces_the_documented_success_example_shape() {
        // The SendSms page's success example, byte for byte but its whitespace.
        let status = SendStatus::sent(
            "5000:1045710669157053657849499619".into(),
            "+8618501234444",
            1,
            "test",
            "CN",
        );
        assert_eq!(
            send_status_body(&[status], "a0aabda6-cf91-4f3e-a81f-9198114a2279"),
            r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8618501234444","Fee":1,"SessionContext":"test","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6-cf91-4f3e-a81f-9198114a2279"}}"#
        );
    }

    #[test]
    fn reproduces_the_documented_failure_example_and_the_captured_limit() {
        let status = SendStatus::refused(
            TcCode::TemplateParamSetNotMatch,
            "+8618501234444",
            "test",
            Some("CN"),
        );
        assert_eq!(
            send_status_body(&[status], "4e394811-9ebd-4d66-98ee-730b21c4a681"),
            r#"{"Response":{"SendStatusSet":[{"SerialNo":"","PhoneNumber":"+8618501234444","Fee":0,"SessionContext":"test","Code":"FailedOperation.TemplateParamSetNotMatchApprovedTemplate","Message":"request content does not match the template content","IsoCode":""}],"RequestId":"4e394811-9ebd-4d66-98ee-730b21c4a681"}}"#
        );
        let limit =
            SendStatus::refused(TcCode::ThirtySecondLimit, "+8618630087660", "", Some("CN"));
        assert_eq!(limit.iso_code, "CN");
        assert_eq!(
            limit.message,
            "the number of SMS messages sent from a single mobile number within 30 seconds exceeds the upper limit"
        );
    }

    #[test]
    fn error_bodies_name_the_parameter() {
        let body = error_body(
            &TcError::param(TcCode::MissingParameter, "Timestamp"),
            "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6",
        );
        assert_eq!(
            body,
            r#"{"Response":{"Error":{"Code":"MissingParameter","Message":"The request is missing a required parameter `Timestamp`."},"RequestId":"ed93f3cb-f35e-473f-b9f3-0d451b8b79c6"}}"#
        );
        let documented = error_body(
            &TcCode::SignatureFailure.into(),
            "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6",
        );
        assert_eq!(
            documented,
            r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated. Please check your signature is correct."},"RequestId":"ed93f3cb-f35e-473f-b9f3-0d451b8b79c6"}}"#
        );
    }

    #[test]
    fn the_summary_is_the_first_refusal() {
        let ok = SendStatus::sent("1:2".into(), "+8613800138000", 1, "", "CN");
        let limited = SendStatus::refused(TcCode::DailyLimit, "+8613900139000", "", Some("CN"));
        assert_eq!(summary(std::slice::from_ref(&ok)), "Ok");
        assert_eq!(
            summary(&[ok, limited]),
            "LimitExceeded.PhoneNumberDailyLimit"
        );
    }
}
