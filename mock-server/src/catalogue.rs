//! Every WeChat error the mock can answer, in one place, with its errcode and errmsg text as the
//! real servers send them (`wechat-api.md` sections 2.2, 4, 5, 6, 7a), and the `rid` suffix rules
//! real servers send them (`wechat-api.md` sections 2.2, 4, 5, 6, 7, 7a), and the `rid` suffix rules
//! (section 1.1). Handlers name an entry; only this module writes vendor error JSON.

use serde::Serialize;

/// Endpoint family: decides the errmsg `rid` separator and the Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// `/sns/*`: `", rid: "`, `text/plain`.
    Sns,
    /// `/cgi-bin/*`: `" rid: "`, `application/json; encoding=utf-8`.
    CgiBin,
    /// `/wxa/*`: `" rid: "`, `application/json`.
    Wxa,
}

impl Family {
    /// The family a request path belongs to (unknown paths answer in the cgi-bin style unless
    /// they are under `/sns/` or `/wxa/`).
    pub fn of_path(path: &str) -> Self {
        if path.starts_with("/sns/") {
            Family::Sns
        } else if path.starts_with("/wxa/") {
            Family::Wxa
        } else {
            Family::CgiBin
        }
    }

    /// The Content-Type WeChat sends for this family (no charset), `wechat-api.md` 1.2.
    pub fn content_type(self) -> &'static str {
        match self {
            Family::Sns => "text/plain",
            Family::CgiBin => "application/json; encoding=utf-8",
            Family::Wxa => "application/json",
        }
    }
}

/// How the request id is appended to errmsg.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RidStyle {
    /// Since late 2021: `, rid: xxxxxxxx-xxxxxxxx-xxxxxxxx` (sns) or ` rid: ...` (cgi-bin, wxa).
    #[default]
    Current,
    /// 2016–2021: `, hints: [ req_id: XXXX ]` (sns) or ` hint: [XXXX]` (cgi-bin, wxa).
    Legacy,
}

/// One catalogue entry: an error WeChat answers with HTTP 200 and `{"errcode","errmsg"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WxError {
    /// -1 `system error`: transient backend failure (sns, cgi-bin, wxa). [D2] [C17]
    SystemError,
    /// 40001 invalid or superseded access token. Text differs by family. [C13] [S7-probe]
    InvalidCredential,
    /// 40002 `invalid grant_type`. [C12]
    InvalidGrantType,
    /// 40003 `invalid openid`: openid unknown to the app.
    InvalidOpenid,
    /// 40013 `invalid appid`. [C9] [S7-probe]
    InvalidAppid,
    /// 40029 `invalid code`: unknown, expired, malformed or another app's code. [C1] [C14]
    InvalidCode,
    /// 40066 `invalid url`: unknown path. [C20]
    InvalidUrl,
    /// 40125 `invalid appsecret`. [C10]
    InvalidAppsecret,
    /// 40163 `code been used`. [C6]
    CodeBeenUsed,
    /// 40226 `code blocked`: high-risk user. [C5]
    CodeBlocked,
    /// 41001 `access_token missing`. [S7-probe]
    AccessTokenMissing,
    /// 41002 `appid missing`. [C8] [C12]
    AppidMissing,
    /// 41004 `appsecret missing`. [C8]
    AppsecretMissing,
    /// 41008 `missing code`. [S7]
    MissingCode,
    /// 42001 `access_token expired` (EasyWeChat keys its retry on this text). [D6]
    AccessTokenExpired,
    /// 43002 `require POST method`. [D5]
    RequirePost,
    /// 45009 `reach max api daily quota limit` (no comma even on sns). [C7]
    DailyQuota,
    /// 45011 `api minute-quota reach limit, must slower, retry next minute`. [C4]
    MinuteQuota,
    /// 47001 `data format error`: a POST body that is not the JSON expected.
    DataFormatError,
    /// 87007 `session_key is not existed or expired`. [D4]
    SessionKeyNotExisted,
    /// 87008 `invalid sig_method`. [D4]
    InvalidSigMethod,
    /// 87009 `invalid signature`: wrong signature or a key that is no longer current. [C16]
    InvalidSignature,
    /// 89002 `open not exists`: the app is bound to no open-platform account, so it has no
    /// unionids to give (WeChat's global errcode list; getpaidunionid [D8]).
    OpenNotExists,
    /// 89300 `invalid trade`: no payment by that user within five minutes. [D8] [C15]
    InvalidTrade,
    /// 44002 `empty post data`: a POST without a body, on the identity APIs of 7a
    /// (checkencryptedmsg, getuserriskrank list it). The text is WeChat's global table's.
    EmptyPostData,
    /// 40097 `invalid args`: checkencryptedmsg's `encrypted_msg_hash` missing or not the hex of
    /// a SHA-256 (its docs list 40097 for an invalid hash; the text is the global table's).
    InvalidArgs,
    /// 40129 `invalid scene`: getuserriskrank's `scene` missing or other than 0 (register) and
    /// 1 (marketing) (7a; the docs' error table lists 40129 for it).
    InvalidScene,
    /// 61010 `code is expired`: getuserriskrank for a user who has not used the app in the last
    /// two hours (7a, L; the docs' table says "not visited in the last two hours", a captured
    /// answer reads `code is expired rid: ...`).
    VisitExpired,
    /// 1 `data not exit` (sic): checkencryptedmsg for a hash of no phone-number encryptedData
    /// WeChat issued to the app in the last 3 days (7a; the docs list both this and
    /// `vaild:false`, the mock answers this one unless `checkencryptedmsg_unknown` says so).
    DataNotExist,
    /// 48001 `api unauthorized`: the account may not call this API (WeChat's global errcode
    /// list), e.g. a mini-program's token on the official accounts' `cgi-bin/user/info`.
    ApiUnauthorized,
    /// 48006 `forbid to clear quota because of reaching the limit`: `clear_quota` (with or
    /// without `/v2`) used its 10 clears of the calendar month (`wechat-api.md` 7a; the
    /// clearQuota documentation's errcode table).
    ClearQuotaLimit,
    /// 76001 `rid not found, please check`: `openapi/rid/get` knows no such rid, or it is older
    /// than 7 days (`wechat-api.md` 1.1 [C1]: `rid not found, please check rid: ...`).
    RidNotFound,
    /// 76002 `rid is error`: the rid is empty or not shaped like one (getRidInfo's errcode
    /// table).
    RidError,
    /// 76003 `could not query this rid,no permission`: the rid is another account's
    /// (getRidInfo's errcode table; no space after the comma, as documented).
    RidNoPermission,
    /// 76021 `cgi_path not found, please check`: `openapi/quota/get` knows no such API
    /// (getApiQuota's errcode table).
    CgiPathNotFound,
    /// 76022 `could not use this cgi_path,no permission`: the API is not the token's account
    /// type's, or an `sns/*` API, which quota/get and rid/get do not serve (getApiQuota's
    /// errcode table and notes).
    CgiPathNoPermission,
    /// 61003 `component is not authorized by this account`: the mini-program has not
    /// authorised the third-party platform (captures on `cgi-bin/component/*`, 2020–2025;
    /// `wechat-api.md` 7a for `sns/component/jscode2session`).
    ComponentNotAuthorized,
    /// 61005 `component ticket is expired`: a `component_verify_ticket` older than 12 hours
    /// (captures on `api_component_token`, 2023–2025: `component ticket is expired rid: ...`).
    TicketExpired,
    /// 61006 `component ticket is invalid`: a ticket WeChat never pushed to that platform, or
    /// none (captures 2021–2024; staff: the ticket of the failing request was empty).
    TicketInvalid,
    /// 61011 `invalid component`: `api_component_token` with an appid that is not a
    /// third-party platform's (staff answer on a capture of 2025: an official account's
    /// appid and secret sent instead of the platform's).
    InvalidComponent,
    /// 1000 (errmsg empty before the rid): getpluginopenpid's "system error" row; the mock
    /// answers it for a `wx.pluginLogin` code used already (capture 2023:
    /// `{"errcode":1000,"errmsg":" rid: ..."}`; which bad code gives it is not documented).
    PluginSystemError,
    /// 1001 (errmsg empty before the rid): getpluginopenpid's "invalid request parameter"
    /// row; the mock answers it for no code, an unknown or expired code, or another plugin's.
    PluginInvalidParam,
    /// 1007 (errmsg empty before the rid): "openpid data does not exist": a `wx.login` code
    /// sent to getpluginopenpid (many captures 2022–2024, all `{"errcode":1007,"errmsg":" rid:
    /// ..."}`; one user found the cause: wx.login's code instead of wx.pluginLogin's).
    OpenpidNotExist,
    /// 1022 (errmsg empty before the rid): getpluginopenpid's "JSON data parse error" row, for
    /// a body that is not a JSON object (the errmsg text is not captured; its siblings' is
    /// empty).
    PluginJsonError,
}

/// Every entry, for listing and for looking up fault errcodes.
pub const ALL: &[WxError] = &[
    WxError::SystemError,
    WxError::InvalidCredential,
    WxError::InvalidGrantType,
    WxError::InvalidOpenid,
    WxError::InvalidAppid,
    WxError::InvalidCode,
    WxError::InvalidUrl,
    WxError::InvalidAppsecret,
    WxError::CodeBeenUsed,
    WxError::CodeBlocked,
    WxError::AccessTokenMissing,
    WxError::AppidMissing,
    WxError::AppsecretMissing,
    WxError::MissingCode,
    WxError::AccessTokenExpired,
    WxError::RequirePost,
    WxError::DailyQuota,
    WxError::MinuteQuota,
    WxError::DataFormatError,
    WxError::SessionKeyNotExisted,
    WxError::InvalidSigMethod,
    WxError::InvalidSignature,
    WxError::OpenNotExists,
    WxError::InvalidTrade,
    WxError::EmptyPostData,
    WxError::InvalidArgs,
    WxError::InvalidScene,
    WxError::VisitExpired,
    WxError::DataNotExist,
    WxError::ApiUnauthorized,
    WxError::ClearQuotaLimit,
    WxError::RidNotFound,
    WxError::RidError,
    WxError::RidNoPermission,
    WxError::CgiPathNotFound,
    WxError::CgiPathNoPermission,
    WxError::ComponentNotAuthorized,
    WxError::TicketExpired,
    WxError::TicketInvalid,
    WxError::InvalidComponent,
    WxError::PluginSystemError,
    WxError::PluginInvalidParam,
    WxError::OpenpidNotExist,
    WxError::PluginJsonError,
];

impl WxError {
    /// The errcode on the wire.
    pub fn code(self) -> i32 {
        match self {
            WxError::SystemError => -1,
            WxError::InvalidCredential => 40001,
            WxError::InvalidGrantType => 40002,
            WxError::InvalidOpenid => 40003,
            WxError::InvalidAppid => 40013,
            WxError::InvalidCode => 40029,
            WxError::InvalidUrl => 40066,
            WxError::InvalidAppsecret => 40125,
            WxError::CodeBeenUsed => 40163,
            WxError::CodeBlocked => 40226,
            WxError::AccessTokenMissing => 41001,
            WxError::AppidMissing => 41002,
            WxError::AppsecretMissing => 41004,
            WxError::MissingCode => 41008,
            WxError::AccessTokenExpired => 42001,
            WxError::RequirePost => 43002,
            WxError::DailyQuota => 45009,
            WxError::MinuteQuota => 45011,
            WxError::DataFormatError => 47001,
            WxError::SessionKeyNotExisted => 87007,
            WxError::InvalidSigMethod => 87008,
            WxError::InvalidSignature => 87009,
            WxError::OpenNotExists => 89002,
            WxError::InvalidTrade => 89300,
            WxError::EmptyPostData => 44002,
            WxError::InvalidArgs => 40097,
            WxError::InvalidScene => 40129,
            WxError::VisitExpired => 61010,
            WxError::DataNotExist => 1,
            WxError::ApiUnauthorized => 48001,
            WxError::ClearQuotaLimit => 48006,
            WxError::RidNotFound => 76001,
            WxError::RidError => 76002,
            WxError::RidNoPermission => 76003,
            WxError::CgiPathNotFound => 76021,
            WxError::CgiPathNoPermission => 76022,
            WxError::ComponentNotAuthorized => 61003,
            WxError::TicketExpired => 61005,
            WxError::TicketInvalid => 61006,
            WxError::InvalidComponent => 61011,
            WxError::PluginSystemError => 1000,
            WxError::PluginInvalidParam => 1001,
            WxError::OpenpidNotExist => 1007,
            WxError::PluginJsonError => 1022,
        }
    }

    /// The catalogue entry for an errcode, if there is one.
    pub fn from_code(code: i64) -> Option<Self> {
        ALL.iter().copied().find(|e| i64::from(e.code()) == code)
    }

    /// The errmsg text before the rid suffix, as the given family words it.
    pub fn text(self, family: Family) -> &'static str {
        match self {
            WxError::SystemError => "system error",
            WxError::InvalidCredential => match family {
                Family::Sns => "invalid credential, access_token is invalid or not latest",
                Family::CgiBin | Family::Wxa => {
                    "invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r"
                }
            },
            WxError::InvalidGrantType => "invalid grant_type",
            WxError::InvalidOpenid => "invalid openid",
            WxError::InvalidAppid => "invalid appid",
            WxError::InvalidCode => "invalid code",
            WxError::InvalidUrl => "invalid url",
            WxError::InvalidAppsecret => "invalid appsecret",
            WxError::CodeBeenUsed => "code been used",
            WxError::CodeBlocked => "code blocked",
            WxError::AccessTokenMissing => "access_token missing",
            WxError::AppidMissing => "appid missing",
            WxError::AppsecretMissing => "appsecret missing",
            WxError::MissingCode => "missing code",
            WxError::AccessTokenExpired => "access_token expired",
            WxError::RequirePost => "require POST method",
            WxError::DailyQuota => "reach max api daily quota limit",
            WxError::MinuteQuota => "api minute-quota reach limit, must slower, retry next minute",
            WxError::DataFormatError => "data format error",
            WxError::SessionKeyNotExisted => "session_key is not existed or expired",
            WxError::InvalidSigMethod => "invalid sig_method",
            WxError::InvalidSignature => "invalid signature",
            WxError::OpenNotExists => "open not exists",
            WxError::InvalidTrade => "invalid trade",
            WxError::EmptyPostData => "empty post data",
            WxError::InvalidArgs => "invalid args",
            WxError::InvalidScene => "invalid scene",
            WxError::VisitExpired => "code is expired",
            WxError::DataNotExist => "data not exit",
            WxError::ApiUnauthorized => "api unauthorized",
            WxError::ClearQuotaLimit => "forbid to clear quota because of reaching the limit",
            WxError::RidNotFound => "rid not found, please check",
            WxError::RidError => "rid is error",
            WxError::RidNoPermission => "could not query this rid,no permission",
            WxError::CgiPathNotFound => "cgi_path not found, please check",
            WxError::CgiPathNoPermission => "could not use this cgi_path,no permission",
            WxError::ComponentNotAuthorized => "component is not authorized by this account",
            WxError::TicketExpired => "component ticket is expired",
            WxError::TicketInvalid => "component ticket is invalid",
            WxError::InvalidComponent => "invalid component",
            // getpluginopenpid's errors carry no text: the errmsg is the rid suffix alone,
            // leading space included (`" rid: 6374a31a-1d2ecec6-3d2c5d0a"`).
            WxError::PluginSystemError
            | WxError::PluginInvalidParam
            | WxError::OpenpidNotExist
            | WxError::PluginJsonError => "",
        }
    }

    /// Whether the rid suffix uses a plain space even on `sns/*` (the quota layer does,
    /// `wechat-api.md` 1.1: `reach max api daily quota limit rid: ...` on jscode2session).
    fn space_separated_everywhere(self) -> bool {
        matches!(self, WxError::DailyQuota)
    }
}

/// Where an error is answered: what the suffix looks like depends on it.
#[derive(Clone, Copy, Debug)]
pub struct Suffix<'a> {
    /// The endpoint family.
    pub family: Family,
    /// Current or legacy style.
    pub style: RidStyle,
    /// Request time in Unix seconds: the first rid group.
    pub now_secs: i64,
    /// Two random 32-bit groups (current style) ...
    pub random: (u32, u32),
    /// ... or the legacy/extra hint tag.
    pub hint: &'a str,
    /// getuserphonenumber's 40029 carries both `hint: [...]` and `rid: ...`. [C14]
    pub with_hint: bool,
}

/// The request id an errmsg names: `xxxxxxxx-xxxxxxxx-xxxxxxxx` in the current style (the
/// request time in hex, then the two random groups), the hint tag in the legacy style.
pub fn rid(s: &Suffix<'_>) -> String {
    match s.style {
        RidStyle::Current => current_rid(s),
        RidStyle::Legacy => s.hint.to_owned(),
    }
}

/// The current-style rid of `s`, whatever its style (errmsgs name it in the current style),
/// written digit by digit: every error answer formats one.
fn current_rid(s: &Suffix<'_>) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let groups = [
        u32::try_from(s.now_secs).unwrap_or(0),
        s.random.0,
        s.random.1,
    ];
    let mut rid = String::with_capacity(26);
    for (i, group) in groups.into_iter().enumerate() {
        if i > 0 {
            rid.push('-');
        }
        for shift in (0..8).rev() {
            rid.push(char::from(HEX[(group >> (shift * 4)) as usize & 0xf]));
        }
    }
    rid
}

/// Whether `text` is shaped like a current-style rid: three groups of 8 lowercase hex digits.
pub fn is_rid_shaped(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 3
        && groups.iter().all(|g| {
            g.len() == 8
                && g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The full errmsg for an error: base text plus the rid suffix.
pub fn errmsg(err: WxError, s: &Suffix<'_>) -> String {
    errmsg_naming(err, s, &current_rid(s))
}

/// The errmsg of an error whose current-style rid is `rid`.
fn errmsg_naming(err: WxError, s: &Suffix<'_>, rid: &str) -> String {
    let base = err.text(s.family);
    let mut msg = String::with_capacity(base.len() + s.hint.len() + rid.len() + 24);
    msg.push_str(base);
    let parts: [&str; 4] = match (s.style, s.family) {
        (RidStyle::Current, Family::Sns) if !err.space_separated_everywhere() => {
            [", rid: ", rid, "", ""]
        }
        (RidStyle::Current, _) if s.with_hint => [" hint: [", s.hint, "] rid: ", rid],
        (RidStyle::Current, _) => [" rid: ", rid, "", ""],
        (RidStyle::Legacy, Family::Sns) => [", hints: [ req_id: ", s.hint, " ]", ""],
        (RidStyle::Legacy, _) => [" hint: [", s.hint, "]", ""],
    };
    for part in parts {
        msg.push_str(part);
    }
    msg
}

/// The compact error body `{"errcode":N,"errmsg":"..."}` with no trailing newline.
pub fn error_body(err: WxError, s: &Suffix<'_>) -> String {
    body_saying(err, &errmsg(err, s))
}

/// An error answer: its body, and the request id it names for the journal and
/// `openapi/rid/get` (see [`rid`]); the rid is formatted once for both.
pub struct ErrorAnswer {
    /// The compact body, as [`error_body`] writes it.
    pub body: String,
    /// The request id, as [`rid`] gives it.
    pub rid: String,
}

/// The body and the request id of an error answer.
pub fn error_answer(err: WxError, s: &Suffix<'_>) -> ErrorAnswer {
    let current = current_rid(s);
    let body = body_saying(err, &errmsg_naming(err, s, &current));
    let rid = match s.style {
        RidStyle::Current => current,
        RidStyle::Legacy => s.hint.to_owned(),
    };
    ErrorAnswer { body, rid }
}

/// `{"errcode":N,"errmsg":msg}`.
fn body_saying(err: WxError, msg: &str) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        errcode: i32,
        errmsg: &'a str,
    }
    serde_json::to_string(&Body {
        errcode: err.code(),
        errmsg: msg,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suffix(family: Family, style: RidStyle) -> Suffix<'static> {
        Suffix {
            family,
            style,
            now_secs: 0x66c6_9111,
            random: (0x4157_f271, 0x729c_a238),
            hint: "XfmcTVNre-vGNNia",
            with_hint: false,
        }
    }

    #[test]
    fn an_error_answer_is_the_error_body_and_names_the_rid_its_errmsg_shows() {
        for style in [RidStyle::Current, RidStyle::Legacy] {
            for family in [Family::Sns, Family::Wxa, Family::CgiBin] {
                for err in [
                    WxError::InvalidCode,
                    WxError::DailyQuota,
                    WxError::SystemError,
                ] {
                    let s = suffix(family, style);
                    let answer = error_answer(err, &s);
                    assert_eq!(
                        answer.body,
                        error_body(err, &s),
                        "{err:?} {family:?} {style:?}"
                    );
                    assert_eq!(answer.rid, rid(&s));
                    assert!(answer.body.contains(&answer.rid), "{}", answer.body);
                }
            }
        }
        let current = rid(&suffix(Family::Sns, RidStyle::Current));
        assert_eq!(current, "66c69111-4157f271-729ca238");
        assert!(is_rid_shaped(&current));
        let zero = Suffix {
            now_secs: -1,
            random: (0, u32::MAX),
            ..suffix(Family::Sns, RidStyle::Current)
        };
        assert_eq!(rid(&zero), "00000000-00000000-ffffffff");
    }

    #[test]
    fn reproduces_the_captured_40029_byte_for_byte() {
        // [C1]: exactly 74 bytes, Content-Length: 74.
        let body = error_body(
            WxError::InvalidCode,
            &suffix(Family::Sns, RidStyle::Current),
        );
        assert_eq!(
            body,
            r#"{"errcode":40029,"errmsg":"invalid code, rid: 66c69111-4157f271-729ca238"}"#
        );
        assert_eq!(body.len(), 74);
    }

    #[test]
    fn separator_depends_on_family() {
        let cgi = errmsg(
            WxError::InvalidAppid,
            &suffix(Family::CgiBin, RidStyle::Current),
        );
        assert_eq!(cgi, "invalid appid rid: 66c69111-4157f271-729ca238");
        let quota = errmsg(WxError::DailyQuota, &suffix(Family::Sns, RidStyle::Current));
        assert_eq!(
            quota,
            "reach max api daily quota limit rid: 66c69111-4157f271-729ca238"
        );
        let mut phone = suffix(Family::Wxa, RidStyle::Current);
        phone.with_hint = true;
        assert_eq!(
            errmsg(WxError::InvalidCode, &phone),
            "invalid code hint: [XfmcTVNre-vGNNia] rid: 66c69111-4157f271-729ca238"
        );
    }

    #[test]
    fn legacy_style() {
        let sns = errmsg(WxError::InvalidCode, &suffix(Family::Sns, RidStyle::Legacy));
        assert_eq!(sns, "invalid code, hints: [ req_id: XfmcTVNre-vGNNia ]");
        let cgi = errmsg(
            WxError::InvalidGrantType,
            &suffix(Family::CgiBin, RidStyle::Legacy),
        );
        assert_eq!(cgi, "invalid grant_type hint: [XfmcTVNre-vGNNia]");
    }

    #[test]
    fn rids_are_the_request_time_and_two_random_groups() {
        let s = suffix(Family::CgiBin, RidStyle::Current);
        assert_eq!(rid(&s), "66c69111-4157f271-729ca238");
        assert!(is_rid_shaped(&rid(&s)));
        assert_eq!(
            rid(&suffix(Family::Sns, RidStyle::Legacy)),
            "XfmcTVNre-vGNNia"
        );
        for bad in [
            "",
            "66c69111-4157f271",
            "66C69111-4157f271-729ca238",
            "x6c69111-4157f271-729ca238",
            "66c69111-4157f271-729ca238-",
        ] {
            assert!(!is_rid_shaped(bad), "{bad}");
        }
    }

    #[test]
    fn getpluginopenpid_errors_are_the_rid_alone() {
        // Captured: `{"errcode":1007,"errmsg":" rid: 6374a31a-1d2ecec6-3d2c5d0a"}`.
        let mut s = suffix(Family::Wxa, RidStyle::Current);
        s.now_secs = 0x6374_a31a;
        s.random = (0x1d2e_cec6, 0x3d2c_5d0a);
        assert_eq!(
            error_body(WxError::OpenpidNotExist, &s),
            r#"{"errcode":1007,"errmsg":" rid: 6374a31a-1d2ecec6-3d2c5d0a"}"#
        );
        let ticket = errmsg(
            WxError::TicketExpired,
            &suffix(Family::CgiBin, RidStyle::Current),
        );
        assert_eq!(
            ticket,
            "component ticket is expired rid: 66c69111-4157f271-729ca238"
        );
    }

    #[test]
    fn codes_are_unique_and_round_trip() {
        for e in ALL {
            assert_eq!(WxError::from_code(i64::from(e.code())), Some(*e));
        }
        assert_eq!(WxError::from_code(12345), None);
    }
}
