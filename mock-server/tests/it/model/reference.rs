//! The reference model: WeChat's rules for codes, session keys and access tokens as
//! `wechat-api.md` (sections 2, 4 and 5) states them, written from the document and not from the
//! mock's source. Pure: no I/O, whole seconds, abstract identities instead of random strings.
//!
//! Rules (a lifetime of L seconds from t means valid at t + L - 1, gone at t + L). Where the
//! reference leaves a point open, the reading chosen is marked "(open)".
//! - A `wx.login` code lives 5 minutes, is single use and belongs to one app. Exchange checks:
//!   unknown, expired or another app's code: 40029; already used: 40163; high-risk user: 40226;
//!   otherwise the session (openid per app and user, unionid per open platform and user, only
//!   for bound apps) with the session_key tied to the code, the one current when it was minted
//!   (open: even if a reset replaced it since). A failed exchange does not use the code up.
//! - One session_key per (app, user). `wx.login` rotates it (the old one dies) only if the last
//!   key change is at least `session_key_min_rotation` old; the first login creates it.
//!   `resetusersessionkey` replaces it at once and counts as a key change (open: the reference
//!   does not say whether a reset restarts the minimum period). Key TTL is not modelled (the
//!   mock's `session_key_ttl` stays off).
//! - checksession / resetusersessionkey: token errors first (none or unknown: 40001; expired:
//!   42001, even if the token had been superseded or voided before (open: the reference does
//!   not rank the two); superseded past its grace or voided: 40001; a day past its expiry the
//!   token is forgotten: 40001 (open)), then an openid the token's
//!   not rank the two), and 40001 from a day after its expiry (open: how long WeChat remembers
//!   an expired token; the mock a day); superseded past its grace or voided: 40001), then an openid the token's
//!   app does not know: 40003, then a signature that is not HMAC-SHA256("") keyed by the
//!   current key: 87009.
//! - cgi-bin/token: a new 7200 s token per call; the previous one of the app stays valid 300 s
//!   more, then 40001 (each superseded token gets its own 300 s).
//! - stable_token (isolated from cgi-bin/token): the current token with its remaining lifetime
//!   while more than 300 s remain, else a new one (the old one lives out its lifetime);
//!   force_refresh: a new one, the old one void at once, at most once per 30 s counted from the
//!   last forced refresh that took effect (open: "30 s between forced calls"); a force inside
//!   the 30 s answers like a normal call. The 20-a-day force limit needs 21 effective forces
//!   30 s apart, more operations than a case has, so it is not modelled; nor is the
//!   100-a-minute login quota.
//! - Payments (sections 7 and 7a): for 5 minutes after a user pays in an app, getpaidunionid
//!   with the app's token, the payer's openid and the payment's `transaction_id` (or `mch_id` +
//!   `out_trade_no`) answers the unionid; token errors first (as above), then an openid the
//!   app does not know, 40003 (open: an app knows a user who logged in to it or ever paid in
//!   it), then an app bound to no open platform, 89002, then a payment that is unknown, expired,
//!   another payer's or another app's, 89300. Asking again within the window answers again.
//! - Daily quotas (sections 5 and 7a), days and months in China (UTC+8): an app's calls are
//!   counted per API once the app is known (valid credentials on cgi-bin/token,
//!   stable_token, clear_quota/v2; a valid token elsewhere), whatever the answer, except
//!   answers of fault rules and the 45009s themselves; jscode2session is not counted.
//!   cgi-bin/token past `token_daily_limit` calls today: 45009, nothing issued; stable_token
//!   with `force_refresh` past 20 today: 45009 (out of a case's reach, modelled anyway).
//!   quota/get (token errors first) answers `{daily_limit, used, remain}` for token (the
//!   option), stable_token (500,000), clear_quota (100), checksession (500,000: open, no
//!   published figure); 76022 for an official account's API or an sns one, 76021 for an
//!   unknown path; the call itself is counted after it answered. clear_quota (the app's own
//!   appid; token errors first) and clear_quota/v2: while fewer than 10 clears took effect
//!   this month, every daily count of the app back to zero, then the clear is counted as a
//!   call of its own API; the 11th in a month: 48006 (counted, nothing cleared).
//! - Official accounts (7a): C is one, bound to B's open platform. A user follows it or
//!   unfollows it (control plane: the openid in C, the unionid, the follow time while
//!   following); the last follow's time counts, following while following keeps it.
//!   `cgi-bin/user/info` with C's token (token errors first; a mini-program's token: 48001)
//!   about an openid C never saw (no follow, no unfollow): 40003; else subscribe 1 with the
//!   follow time, or subscribe 0, both with the unionid. Counted as any token-checked call.
//! - Third-party platforms (section 7a): one platform per case, created on the control plane.
//!   WeChat pushes it a ticket every 10 minutes from its creation (window n pushed at
//!   creation + 600 n); a push on the control plane starts a new window at once, the next
//!   ones following every 10 minutes from it. A ticket works until 12 hours after its push
//!   (61005 after), a ticket never pushed is 61006; an unknown platform 40013. Each
//!   api_component_token call issues a new 7200 s component token, the previous one
//!   staying valid 300 s (as cgi-bin/token). sns/component/jscode2session: the component
//!   token first (none or made-up or superseded: 40001; expired: 42001), then an app that did
//!   not authorise the platform: 61003, then the code as jscode2session, over the same codes:
//!   a code spent by either endpoint is spent for both. Two exchanges of one code sent at once
//!   answer as if one of them came first (either order).
//! - Plugin login: `wx.pluginLogin` codes live 5 minutes, single use, bound to the plugin (app
//!   B). getpluginopenpid with a token of B: token errors first, then a live unused plugin
//!   code answers the user's openpid (one per plugin and user); a live used one 1000; a
//!   `wx.login` code of any app within its 5 minutes 1007 (used or not); anything else 1001
//!   (the mock's reading of the documented rows).
//! - A fault rule (`errcode: -1`, `times: 1`) answers the next request to its endpoint with -1
//!   before any check and changes nothing, except that `consume_code` uses up the code if it is
//!   a live, unused code of the requesting app, whoever its user (open: the reference only
//!   reports that a -1 once used a code up).
//! - Risk (7a): a user's `risk_rank` is the one set through the control plane, else 4 while
//!   `high_risk`, else 0; `high_risk` also gives 40226 on jscode2session. getuserriskrank: token
//!   errors, then an openid the app has not seen (no wx.login there): 40003, then no wx.login in
//!   the last two hours: 61010 (open: the docs say "not visited in two hours", a visit read as
//!   a wx.login); else the rank, with an id of its own per request.
//! - Phone data (7a): the getPhoneNumber button gives legacy encryptedData once the user has
//!   logged in to the app; checkencryptedmsg (token errors first) answers `vaild` with the
//!   issue time for data issued to the token's app less than 3 days ago, else errcode 1.
//! - User keys (7a): getLatestUserKey needs a login (else refused); it hands out the latest
//!   key, a new one (next version from 1) when the latest is 3600 s old or there is none.
//!   getuserencryptkey checks as checksession does, then lists the 3 most recent keys newest
//!   first with the seconds they have left (0 once expired).

use std::collections::BTreeMap;
use std::fmt;

use super::ops::{
    App, CodePick, DataPick, Edge, FaultOn, KeyPick, Op, OpenidPick, PaidCall, Pick, PluginPick,
    QuotaPath, RiskChange, SessionCall, Subject, TicketPick, TokenKind, TradeBy, TradePick, User,
    Via,
};

pub const CODE_TTL: i64 = 300;
pub const TOKEN_TTL: i64 = 7200;
/// How long a superseded cgi-bin/token keeps working.
pub const TOKEN_GRACE: i64 = 300;
/// stable_token renews when this many seconds or fewer remain.
pub const STABLE_RENEW_AT: i64 = 300;
pub const FORCE_GUARD: i64 = 30;
/// How long after a payment getpaidunionid answers for it.
pub const PAYMENT_WINDOW: i64 = 300;
/// How long an expired token still answers 42001; after that it is unknown (40001). (open: the
/// reference shows 42001 for an expired token without saying for how long; the 3-day edges of
/// phone data make the question come up.)
pub const EXPIRED_TOKEN_KNOWN: i64 = 86_400;
/// getuserriskrank answers only within this long of the user's last wx.login.
pub const VISIT_WINDOW: i64 = 7200;
/// checkencryptedmsg knows issued phone data this long.
pub const PHONE_DATA_TTL: i64 = 3 * 86_400;
/// A user encrypt key lives this long.
pub const USER_KEY_TTL: i64 = 3600;
/// getuserencryptkey lists this many keys.
pub const KEYS_LISTED: usize = 3;
/// Unix seconds of the start of every case (2024-08-22T01:14:57Z), for China's calendar.
pub const START: i64 = 0x66c6_9111;
/// China's offset from UTC.
const CHINA: i64 = 8 * 3600;
const DAY: i64 = 86_400;
/// Daily limits of the APIs the model asks quota/get about (cgi-bin/token's is the case's).
const STABLE_TOKEN_LIMIT: u64 = 500_000;
const CLEAR_QUOTA_LIMIT: u64 = 100;
const DEFAULT_LIMIT: u64 = 500_000;
const FORCED_PER_DAY: u32 = 20;
const CLEARS_PER_MONTH: u32 = 10;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day number.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}
/// WeChat pushes a platform a new ticket this often.
pub const TICKET_INTERVAL: i64 = 600;
/// A ticket works this long after its push.
pub const TICKET_LIFETIME: i64 = 12 * 3600;

/// An identity the model names; the runner learns which string each one is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ident {
    /// The n-th code minted in the case.
    Code(u32),
    /// A user's openid in an app.
    Openid(App, User),
    /// A user's unionid under app B's open platform.
    Unionid(User),
    /// The n-th session_key issued in the case.
    Key(u32),
    /// The n-th access token issued in the case.
    Token(u32),
    /// The n-th payment's `transaction_id`.
    Trade(u32),
    /// The n-th payment's `mch_id` and `out_trade_no`, as one text.
    Merchant(u32),
    /// The n-th getuserriskrank answer's `unoin_id`.
    Request(u32),
    /// The hash of the n-th phone-number encryptedData issued.
    PhoneData(u32),
    /// The n-th user encrypt key made.
    UserKey(u32),
    /// The ticket of the platform's n-th window.
    Ticket(u64),
    /// The n-th `wx.pluginLogin` code.
    PluginCode(u32),
    /// A user's openpid in plugin B.
    Openpid(User),
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ident::Code(n) => write!(f, "code#{n}"),
            Ident::Openid(a, u) => write!(f, "openid({a},{u})"),
            Ident::Unionid(u) => write!(f, "unionid({u})"),
            Ident::Key(n) => write!(f, "key#{n}"),
            Ident::Token(n) => write!(f, "token#{n}"),
            Ident::Trade(n) => write!(f, "transaction#{n}"),
            Ident::Merchant(n) => write!(f, "merchant-order#{n}"),
            Ident::Request(n) => write!(f, "unoin_id#{n}"),
            Ident::PhoneData(n) => write!(f, "phone-data#{n}"),
            Ident::UserKey(n) => write!(f, "user-key#{n}"),
            Ident::Ticket(n) => write!(f, "ticket#{n}"),
            Ident::PluginCode(n) => write!(f, "plugin-code#{n}"),
            Ident::Openpid(u) => write!(f, "openpid({u})"),
        }
    }
}

/// What a call answers; `I` is [`Ident`] in predictions and the real string in the mock's answers.
#[derive(Clone, PartialEq, Eq)]
pub enum Outcome<I> {
    /// Nothing to compare (clock moves, fault rules armed).
    Nothing,
    /// A WeChat error: HTTP 200 with a non-zero errcode.
    Err(i64),
    /// `wx.login`: the code and what the mock says it maps to.
    Login {
        code: I,
        openid: I,
        unionid: Option<I>,
        key: I,
        rotated: bool,
    },
    /// jscode2session success.
    Session {
        openid: I,
        unionid: Option<I>,
        key: I,
    },
    /// A token and its `expires_in`.
    Token { token: I, expires_in: i64 },
    /// checksession `{"errcode":0,"errmsg":"ok"}`.
    Valid,
    /// resetusersessionkey success.
    Reset { openid: I, key: I },
    /// A payment recorded (control plane).
    Paid {
        trade: I,
        merchant: I,
        openid: I,
        unionid: Option<I>,
    },
    /// getpaidunionid success.
    Unionid(I),
    /// getuserriskrank success.
    Rank { rank: u8, id: I },
    /// The phone button: the hash of its encryptedData, if it gave one.
    PhoneData { hash: Option<I> },
    /// checkencryptedmsg `vaild` with `create_time` (seconds since the start).
    DataValid { created: i64 },
    /// getLatestUserKey: the key, its version and when it expires (seconds since the start).
    UserKey { key: I, version: u64, expires: i64 },
    /// getuserencryptkey: (key, version, expire_in), newest first.
    KeyList(Vec<(I, u64, i64)>),
    /// A control-plane refusal, by its error code.
    Refused(String),
    /// quota/get success.
    Quota { limit: u64, used: u64, remain: u64 },
    /// A run of clear_quota calls: each one's errcode (0: ok).
    Clears(Vec<i64>),
    /// A follow or unfollow (control plane), and user/info's success: the openid in C, the
    /// unionid, and the last follow's time (Unix seconds) while following.
    Follower {
        openid: I,
        unionid: Option<I>,
        since: Option<i64>,
    },
    /// The platform's current ticket (control plane), pushed `pushed_at` seconds into the case.
    Platform { ticket: I, pushed_at: i64 },
    /// The answers of two exchanges sent at once: jscode2session's, the component one's.
    Race(Box<Outcome<I>>, Box<Outcome<I>>),
    /// Predictions only: any one of these, the model following the one that happened.
    Either(Vec<Outcome<I>>),
    /// `wx.pluginLogin`: the code and the openpid it trades for.
    PluginCode { code: I, openpid: I },
    /// getpluginopenpid success.
    Openpid(I),
    /// Anything the model never predicts (not HTTP 200, not JSON, missing fields).
    Unexpected(String),
}

impl<I> Outcome<I> {
    /// The numbers of an outcome without identities (quota/get, clears).
    fn numbers(&self) -> Vec<i64> {
        let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        match self {
            Outcome::Quota {
                limit,
                used,
                remain,
            } => vec![n(*limit), n(*used), n(*remain)],
            Outcome::Clears(codes) => codes.clone(),
            _ => Vec::new(),
        }
    }

    /// Renders the outcome with `name` for each identity.
    pub fn render(&self, name: impl Fn(&I) -> String) -> String {
        self.render_with(&name)
    }

    fn render_with(&self, name: &dyn Fn(&I) -> String) -> String {
        let opt = |u: &Option<I>| u.as_ref().map_or("none".to_owned(), name);
        match self {
            Outcome::Nothing => "-".into(),
            Outcome::Err(c) => format!("errcode {c}"),
            Outcome::Login {
                code,
                openid,
                unionid,
                key,
                rotated,
            } => format!(
                "login {{code {}, openid {}, unionid {}, key {}, rotated: {rotated}}}",
                name(code),
                name(openid),
                opt(unionid),
                name(key)
            ),
            Outcome::Session {
                openid,
                unionid,
                key,
            } => format!(
                "session {{openid {}, unionid {}, key {}}}",
                name(openid),
                opt(unionid),
                name(key)
            ),
            Outcome::Token { token, expires_in } => {
                format!("token {{{}, expires_in {expires_in}}}", name(token))
            }
            Outcome::Valid => "ok (errcode 0)".into(),
            Outcome::Reset { openid, key } => {
                format!("reset {{openid {}, new key {}}}", name(openid), name(key))
            }
            Outcome::Paid {
                trade,
                merchant,
                openid,
                unionid,
            } => format!(
                "paid {{{}, {}, openid {}, unionid {}}}",
                name(trade),
                name(merchant),
                name(openid),
                opt(unionid)
            ),
            Outcome::Unionid(u) => format!("unionid {}", name(u)),
            Outcome::Rank { rank, id } => format!("rank {rank}, unoin_id {}", name(id)),
            Outcome::PhoneData { hash } => format!("phone data {}", opt(hash)),
            Outcome::DataValid { created } => format!("vaild, created t={created}"),
            Outcome::UserKey {
                key,
                version,
                expires,
            } => format!("user key {} v{version}, expires t={expires}", name(key)),
            Outcome::KeyList(keys) => {
                let keys: Vec<String> = keys
                    .iter()
                    .map(|(k, v, left)| format!("{} v{v} {left}s left", name(k)))
                    .collect();
                format!("keys [{}]", keys.join(", "))
            }
            Outcome::Refused(code) => format!("refused: {code}"),
            Outcome::Quota {
                limit,
                used,
                remain,
            } => format!("quota {{daily_limit {limit}, used {used}, remain {remain}}}"),
            Outcome::Clears(codes) => format!("clears {codes:?}"),
            Outcome::Follower {
                openid,
                unionid,
                since,
            } => format!(
                "follower {{openid {}, unionid {}, following since {since:?}}}",
                name(openid),
                opt(unionid)
            ),
            Outcome::Platform { ticket, pushed_at } => {
                format!("ticket {} pushed at t={pushed_at}", name(ticket))
            }
            Outcome::Race(plain, component) => format!(
                "jscode2session: {}; component: {}",
                plain.render_with(name),
                component.render_with(name)
            ),
            Outcome::Either(all) => all
                .iter()
                .map(|o| o.render_with(name))
                .collect::<Vec<_>>()
                .join("  OR  "),
            Outcome::PluginCode { code, openpid } => {
                format!("plugin code {} for openpid {}", name(code), name(openpid))
            }
            Outcome::Openpid(o) => format!("openpid {}", name(o)),
            Outcome::Unexpected(s) => format!("unexpected answer: {s}"),
        }
    }

    /// Pairs the identities of two outcomes of the same shape (variant, errcode, flags,
    /// `expires_in`, unionid presence); `None` when the shapes differ.
    pub fn zip<'a, J>(&'a self, other: &'a Outcome<J>) -> Option<Vec<(&'a I, &'a J)>> {
        let opt = |a: &'a Option<I>, b: &'a Option<J>| match (a, b) {
            (Some(a), Some(b)) => Some(vec![(a, b)]),
            (None, None) => Some(vec![]),
            _ => None,
        };
        match (self, other) {
            (Outcome::Nothing, Outcome::Nothing) | (Outcome::Valid, Outcome::Valid) => Some(vec![]),
            (Outcome::Err(a), Outcome::Err(b)) => (a == b).then(Vec::new),
            (
                Outcome::Login {
                    code: c1,
                    openid: o1,
                    unionid: u1,
                    key: k1,
                    rotated: r1,
                },
                Outcome::Login {
                    code: c2,
                    openid: o2,
                    unionid: u2,
                    key: k2,
                    rotated: r2,
                },
            ) if r1 == r2 => {
                let mut v = vec![(c1, c2), (o1, o2), (k1, k2)];
                v.extend(opt(u1, u2)?);
                Some(v)
            }
            (
                Outcome::Session {
                    openid: o1,
                    unionid: u1,
                    key: k1,
                },
                Outcome::Session {
                    openid: o2,
                    unionid: u2,
                    key: k2,
                },
            ) => {
                let mut v = vec![(o1, o2), (k1, k2)];
                v.extend(opt(u1, u2)?);
                Some(v)
            }
            (
                Outcome::Token {
                    token: t1,
                    expires_in: e1,
                },
                Outcome::Token {
                    token: t2,
                    expires_in: e2,
                },
            ) if e1 == e2 => Some(vec![(t1, t2)]),
            (
                Outcome::Reset {
                    openid: o1,
                    key: k1,
                },
                Outcome::Reset {
                    openid: o2,
                    key: k2,
                },
            ) => Some(vec![(o1, o2), (k1, k2)]),
            (
                Outcome::Paid {
                    trade: t1,
                    merchant: m1,
                    openid: o1,
                    unionid: u1,
                },
                Outcome::Paid {
                    trade: t2,
                    merchant: m2,
                    openid: o2,
                    unionid: u2,
                },
            ) => {
                let mut v = vec![(t1, t2), (m1, m2), (o1, o2)];
                v.extend(opt(u1, u2)?);
                Some(v)
            }
            (Outcome::Unionid(a), Outcome::Unionid(b))
            | (Outcome::Openpid(a), Outcome::Openpid(b)) => Some(vec![(a, b)]),
            (Outcome::Rank { rank: r1, id: i1 }, Outcome::Rank { rank: r2, id: i2 })
                if r1 == r2 =>
            {
                Some(vec![(i1, i2)])
            }
            (Outcome::PhoneData { hash: h1 }, Outcome::PhoneData { hash: h2 }) => opt(h1, h2),
            (Outcome::DataValid { created: c1 }, Outcome::DataValid { created: c2 })
                if c1 == c2 =>
            {
                Some(vec![])
            }
            (
                Outcome::UserKey {
                    key: k1,
                    version: v1,
                    expires: e1,
                },
                Outcome::UserKey {
                    key: k2,
                    version: v2,
                    expires: e2,
                },
            ) if (v1, e1) == (v2, e2) => Some(vec![(k1, k2)]),
            (Outcome::KeyList(a), Outcome::KeyList(b)) if a.len() == b.len() => {
                let mut v = Vec::new();
                for ((k1, v1, l1), (k2, v2, l2)) in a.iter().zip(b) {
                    if (v1, l1) != (v2, l2) {
                        return None;
                    }
                    v.push((k1, k2));
                }
                Some(v)
            }
            (Outcome::Refused(a), Outcome::Refused(b)) => (a == b).then(Vec::new),
            (
                Outcome::Follower {
                    openid: o1,
                    unionid: u1,
                    since: s1,
                },
                Outcome::Follower {
                    openid: o2,
                    unionid: u2,
                    since: s2,
                },
            ) if s1 == s2 => {
                let mut v = vec![(o1, o2)];
                v.extend(opt(u1, u2)?);
                Some(v)
            }
            (a @ Outcome::Quota { .. }, b @ Outcome::Quota { .. })
            | (a @ Outcome::Clears(_), b @ Outcome::Clears(_)) => {
                (a.numbers() == b.numbers()).then(Vec::new)
            }
            (
                Outcome::Platform {
                    ticket: t1,
                    pushed_at: p1,
                },
                Outcome::Platform {
                    ticket: t2,
                    pushed_at: p2,
                },
            ) if p1 == p2 => Some(vec![(t1, t2)]),
            (Outcome::Race(p1, c1), Outcome::Race(p2, c2)) => {
                let mut v = p1.zip(p2)?;
                v.extend(c1.zip(c2)?);
                Some(v)
            }
            (
                Outcome::PluginCode {
                    code: c1,
                    openpid: o1,
                },
                Outcome::PluginCode {
                    code: c2,
                    openpid: o2,
                },
            ) => Some(vec![(c1, c2), (o1, o2)]),
            _ => None,
        }
    }
}

/// A concrete request, with every choice of the operation resolved against the model's state.
#[derive(Clone, Debug)]
pub enum Action {
    Login {
        app: App,
        user: User,
    },
    /// `code` `None`: a code never issued.
    Exchange {
        code: Option<Ident>,
        via: App,
    },
    Advance {
        secs: i64,
    },
    Token {
        app: App,
    },
    StableToken {
        app: App,
        force: bool,
    },
    /// `None` fields: a made-up token, openid or key.
    Session {
        reset: bool,
        token: Option<Ident>,
        openid: Option<Ident>,
        key: Option<Ident>,
    },
    Fault(FaultOn),
    Pay {
        app: App,
        user: User,
    },
    /// `None` fields: a made-up token, openid or order number; `trade` is a `Trade` or a
    /// `Merchant` identity.
    PaidUnionid {
        token: Option<Ident>,
        openid: Option<Ident>,
        trade: Option<Ident>,
    },
    RiskKnob {
        user: User,
        change: RiskChange,
    },
    /// `openid` `None`: a made-up openid.
    Risk {
        token: Option<Ident>,
        app: App,
        openid: Option<Ident>,
    },
    PhoneData {
        app: App,
        user: User,
    },
    /// `data` `None`: a hash of nothing issued.
    CheckData {
        token: Option<Ident>,
        data: Option<Ident>,
    },
    UserKey {
        app: App,
        user: User,
    },
    ListKeys {
        token: Option<Ident>,
        openid: Option<Ident>,
        key: Option<Ident>,
    },
    /// quota/get about `path`; `None`: a made-up token.
    QuotaGet {
        token: Option<Ident>,
        path: &'static str,
    },
    /// `times` clears of `app` by itself: with `token` (`None`: made up), or by its secret
    /// (`v2`).
    Clear {
        app: App,
        token: Option<Ident>,
        v2: bool,
        times: u8,
    },
    Follow {
        user: User,
        subscribe: bool,
    },
    /// `None` fields: a made-up token or openid.
    UserInfo {
        token: Option<Ident>,
        openid: Option<Ident>,
    },
    CreatePlatform,
    ShowPlatform,
    PushTicket,
    Authorize {
        app: App,
        on: bool,
    },
    /// `None`: a made-up ticket.
    ComponentToken {
        ticket: Option<Ident>,
    },
    /// `None` fields: a made-up code or component token.
    ComponentExchange {
        code: Option<Ident>,
        via: App,
        token: Option<Ident>,
    },
    /// jscode2session with `via`'s credentials and the component exchange for `via`, at once.
    Race {
        code: Option<Ident>,
        via: App,
        token: Option<Ident>,
    },
    PluginLogin {
        user: User,
    },
    /// `None` fields: a made-up token or code.
    Openpid {
        token: Option<Ident>,
        code: Option<Ident>,
    },
}

/// What a call with checksession's query does once its checks pass.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SessionUse {
    Check,
    Reset,
    ListKeys,
}

/// The model's answer to one operation.
pub struct Step {
    pub action: Action,
    pub expect: Outcome<Ident>,
}

#[derive(Clone)]
struct Code {
    app: App,
    user: User,
    key: u32,
    minted: i64,
    used: bool,
}

#[derive(Clone)]
struct Payment {
    app: App,
    user: User,
    at: i64,
}

#[derive(Clone)]
struct Session {
    key: u32,
    rotated_at: i64,
}

#[derive(Clone)]
struct UserKey {
    id: u32,
    version: u64,
    made: i64,
}

#[derive(Clone)]
struct Token {
    app: App,
    kind: TokenKind,
    expires: i64,
    /// From when the token no longer works although not expired (superseded + grace, or
    /// voided by a force refresh).
    invalid_from: Option<i64>,
}

#[derive(Clone)]
struct PluginCode {
    user: User,
    minted: i64,
    used: bool,
}

/// The case's third-party platform.
#[derive(Clone)]
struct Platform {
    /// Runs of ticket windows: (first window's number, when it was pushed); a run's window k
    /// is pushed 600 k seconds after its first.
    runs: Vec<(u64, i64)>,
    authorized: Vec<App>,
}

impl Platform {
    /// The current window and when it was pushed.
    fn current(&self, now: i64) -> (u64, i64) {
        let (first, began) = *self.runs.last().expect("a run");
        let k = (now - began).max(0) / TICKET_INTERVAL;
        (
            first + u64::try_from(k).expect("forward"),
            began + k * TICKET_INTERVAL,
        )
    }

    fn pushed_at(&self, window: u64) -> i64 {
        let (first, began) = *self
            .runs
            .iter()
            .rev()
            .find(|(first, _)| *first <= window)
            .expect("a window seen");
        began + i64::try_from(window - first).expect("small") * TICKET_INTERVAL
    }
}

/// WeChat's state as the reference describes it, plus what the backend has seen so far.
#[derive(Clone)]
pub struct Model {
    /// Seconds since the start of the case.
    pub now: i64,
    min_rotation: i64,
    codes: Vec<Code>,
    sessions: BTreeMap<(App, User), Session>,
    keys_issued: u32,
    tokens: Vec<Token>,
    latest_basic: BTreeMap<App, u32>,
    current_stable: BTreeMap<App, u32>,
    last_force: BTreeMap<App, i64>,
    /// App and user of the latest `wx.login` or payment.
    last_login: Option<(App, User)>,
    /// Armed one-shot fault rules, in the order they were added.
    faults: Vec<FaultOn>,
    /// session_keys seen per (app, user), oldest first: from wx.login (the mock's control plane
    /// says which key the code carries), jscode2session and resetusersessionkey.
    seen_keys: BTreeMap<(App, User), Vec<u32>>,
    /// Tokens the backend received per (app, kind), oldest first.
    seen_tokens: BTreeMap<(App, TokenKind), Vec<u32>>,
    /// Payments, in the order they were made.
    payments: Vec<Payment>,
    /// Users whose high_risk flag differs from the seed's.
    high_risk: BTreeMap<User, bool>,
    /// Risk ranks set.
    ranks: BTreeMap<User, u8>,
    /// Last wx.login per (app, user).
    visits: BTreeMap<(App, User), i64>,
    /// getuserriskrank answers so far.
    requests: u32,
    /// Phone data issued: (app, when), in order.
    phone_data: Vec<(App, i64)>,
    /// User keys per (app, user), oldest first (all of them; the list shows the last 3).
    user_keys: BTreeMap<(App, User), Vec<UserKey>>,
    keys_made: u32,
    /// `token_daily_limit`.
    token_limit: u64,
    /// Calls per app and API: (China day, count).
    calls: BTreeMap<(App, &'static str), (i64, u64)>,
    /// Forced stable_token calls per app: (China day, count).
    forced: BTreeMap<App, (i64, u32)>,
    /// Clears that took effect per app: (China month, count).
    clears: BTreeMap<App, (i64, u32)>,
    /// C's followers: since when, while following (`None`: known, not following).
    followers: BTreeMap<User, Option<i64>>,
    platform: Option<Platform>,
    /// The platform's latest component token.
    latest_component: Option<u32>,
    /// Component tokens the backend received, oldest first.
    seen_component_tokens: Vec<u32>,
    /// Ticket windows the control plane showed, oldest first.
    seen_tickets: Vec<u64>,
    plugin_codes: Vec<PluginCode>,
    /// The states after each answer an [`Outcome::Either`] allows, until [`Model::settle`].
    pending: Vec<Model>,
}

fn pick_from<T: Copy>(list: Option<&Vec<T>>, pick: Pick) -> Option<T> {
    let list = list?;
    let i = match pick {
        Pick::Latest => list.len().checked_sub(1)?,
        Pick::Previous => list.len().saturating_sub(2),
        Pick::Oldest => 0,
    };
    list.get(i).copied()
}

fn remember<T: Copy + PartialEq>(list: &mut Vec<T>, id: T) {
    if list.last() != Some(&id) {
        list.push(id);
    }
}

impl Model {
    pub fn new(min_rotation_secs: u32, token_limit: u32) -> Self {
        Self {
            now: 0,
            min_rotation: i64::from(min_rotation_secs),
            codes: Vec::new(),
            sessions: BTreeMap::new(),
            keys_issued: 0,
            tokens: Vec::new(),
            latest_basic: BTreeMap::new(),
            current_stable: BTreeMap::new(),
            last_force: BTreeMap::new(),
            last_login: None,
            faults: Vec::new(),
            seen_keys: BTreeMap::new(),
            seen_tokens: BTreeMap::new(),
            payments: Vec::new(),
            high_risk: BTreeMap::new(),
            ranks: BTreeMap::new(),
            visits: BTreeMap::new(),
            requests: 0,
            phone_data: Vec::new(),
            user_keys: BTreeMap::new(),
            keys_made: 0,
            token_limit: u64::from(token_limit),
            calls: BTreeMap::new(),
            forced: BTreeMap::new(),
            clears: BTreeMap::new(),
            followers: BTreeMap::new(),
            platform: None,
            latest_component: None,
            seen_component_tokens: Vec::new(),
            seen_tickets: Vec::new(),
            plugin_codes: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Today's number in China.
    fn day(&self) -> i64 {
        (START + self.now + CHINA).div_euclid(DAY)
    }

    /// This month's number in China (`year * 12 + month - 1`).
    fn month(&self) -> i64 {
        let (y, m, _) = civil_from_days(self.day());
        y * 12 + m - 1
    }

    /// Today's calls of `app` to `api`.
    fn used(&self, app: App, api: &'static str) -> u64 {
        self.calls
            .get(&(app, api))
            .filter(|(d, _)| *d == self.day())
            .map_or(0, |(_, n)| *n)
    }

    fn count(&mut self, app: App, api: &'static str) {
        let day = self.day();
        let slot = self.calls.entry((app, api)).or_insert((day, 0));
        if slot.0 != day {
            *slot = (day, 0);
        }
        slot.1 += 1;
    }

    /// Counts a token-checked call if its token was valid.
    fn count_by_token(&mut self, token: Option<u32>, api: &'static str, valid: bool) {
        if let (Some(t), true) = (token, valid) {
            let app = self.tokens[t as usize].app;
            self.count(app, api);
        }
    }

    fn is_high_risk(&self, user: User) -> bool {
        self.high_risk
            .get(&user)
            .copied()
            .unwrap_or(user.starts_high_risk())
    }

    /// After an [`Outcome::Either`]: the state of the answer that happened (its index).
    pub fn settle(&mut self, branch: usize) {
        let chosen = std::mem::take(&mut self.pending).swap_remove(branch);
        *self = chosen;
    }

    /// Applies one operation and predicts its answer.
    pub fn step(&mut self, op: &Op) -> Step {
        match *op {
            Op::Login(who) => {
                let (app, user) = self.subject(who);
                self.login(app, user)
            }
            Op::Exchange { code, via } => self.exchange(code, via),
            Op::Advance { secs } => self.advance(i64::from(secs)),
            Op::AdvanceTo { edge, offset } => {
                let delta = self
                    .edges(edge)
                    .into_iter()
                    .map(|e| e + i64::from(offset))
                    .filter(|t| *t > self.now)
                    .min()
                    .map_or(0, |t| t - self.now);
                self.advance(delta)
            }
            Op::Token { app } => self.basic_token(app),
            Op::StableToken { app, force } => self.stable_token(app, force),
            Op::Pay(who) => {
                let (app, user) = self.subject(who);
                self.pay(app, user)
            }
            Op::PaidUnionid(call) => self.paid_unionid(call),
            Op::CheckSession(call) => self.session_call(call, SessionUse::Check),
            Op::ResetKey(call) => self.session_call(call, SessionUse::Reset),
            Op::QuotaGet { app, path } => self.quota_get(app, path),
            Op::ClearQuota { app, v2, times } => self.clear_quota(app, v2, times),
            Op::Follow { user, subscribe } => self.follow(user, subscribe),
            Op::UserInfo { user, by_mini } => self.user_info(user, by_mini),
            Op::CreatePlatform => self.create_platform(),
            Op::ShowPlatform => self.show_platform(Action::ShowPlatform, false),
            Op::PushTicket => self.show_platform(Action::PushTicket, true),
            Op::Authorize { app, on } => self.authorize(app, on),
            Op::ComponentToken { ticket } => self.component_token(ticket),
            Op::ComponentExchange { code, via, token } => self.component_exchange(code, via, token),
            Op::Race { code } => self.race(code),
            Op::PluginLogin(user) => self.plugin_login(user),
            Op::Openpid { code, token } => self.openpid(code, token),
            Op::Fault(on) => {
                self.faults.push(on);
                Step {
                    action: Action::Fault(on),
                    expect: Outcome::Nothing,
                }
            }
            Op::RiskKnob { user, change } => {
                match change {
                    RiskChange::Rank(r) => {
                        self.ranks.insert(user, r);
                    }
                    RiskChange::ClearRank => {
                        self.ranks.remove(&user);
                    }
                    RiskChange::HighRisk(h) => {
                        self.high_risk.insert(user, h);
                    }
                }
                Step {
                    action: Action::RiskKnob { user, change },
                    expect: Outcome::Nothing,
                }
            }
            Op::RiskRank { who, token } => self.risk_rank(who, token),
            Op::PhoneData(who) => {
                let (app, user) = self.subject(who);
                let expect = if self.sessions.contains_key(&(app, user)) {
                    let n = u32::try_from(self.phone_data.len()).expect("few");
                    self.phone_data.push((app, self.now));
                    Outcome::PhoneData {
                        hash: Some(Ident::PhoneData(n)),
                    }
                } else {
                    Outcome::PhoneData { hash: None }
                };
                Step {
                    action: Action::PhoneData { app, user },
                    expect,
                }
            }
            Op::CheckData { app, token, data } => self.check_data(app, token, data),
            Op::UserKey(who) => {
                let (app, user) = self.subject(who);
                self.user_key(app, user)
            }
            Op::ListKeys(call) => self.session_call(call, SessionUse::ListKeys),
        }
    }

    /// A token of `app` the backend has seen, of `kind` (else of the other kind).
    fn pick_token(&self, app: App, (kind, pick): (TokenKind, Pick)) -> Option<u32> {
        let other_kind = match kind {
            TokenKind::Basic => TokenKind::Stable,
            TokenKind::Stable | TokenKind::Component => TokenKind::Basic,
        };
        pick_from(self.seen_tokens.get(&(app, kind)), pick)
            .or_else(|| pick_from(self.seen_tokens.get(&(app, other_kind)), pick))
    }

    /// The token checks of a wxa call: the app of a working token, else the errcode.
    fn token_app(&self, token: Option<u32>) -> Result<App, i64> {
        let token = token.ok_or(40001)?;
        match self.token_error(token) {
            Some(e) => Err(e),
            None => Ok(self.tokens[token as usize].app),
        }
    }

    fn risk_rank(&mut self, who: Subject, token: (TokenKind, Pick)) -> Step {
        let (app, user) = self.subject(who);
        let token = self.pick_token(app, token);
        // The runner knows the openid once the user logged in to the app.
        let openid = self
            .sessions
            .contains_key(&(app, user))
            .then_some((app, user));
        let action = Action::Risk {
            token: token.map(Ident::Token),
            app,
            openid: openid.map(|(a, u)| Ident::Openid(a, u)),
        };
        if self.fire("getuserriskrank").is_some() {
            return Step {
                action,
                expect: Outcome::Err(-1),
            };
        }
        let expect = match self.token_app(token) {
            Err(e) => Outcome::Err(e),
            Ok(_) if openid.is_none() => Outcome::Err(40003),
            Ok(_)
                if self
                    .visits
                    .get(&(app, user))
                    .is_none_or(|t| self.now >= t + VISIT_WINDOW) =>
            {
                Outcome::Err(61010)
            }
            Ok(_) => {
                let rank = self
                    .ranks
                    .get(&user)
                    .copied()
                    .unwrap_or(if self.is_high_risk(user) { 4 } else { 0 });
                let id = Ident::Request(self.requests);
                self.requests += 1;
                Outcome::Rank { rank, id }
            }
        };
        Step { action, expect }
    }

    fn check_data(&mut self, app: App, token: (TokenKind, Pick), data: DataPick) -> Step {
        let token = self.pick_token(app, token);
        let issued = match data {
            DataPick::Issued(pick) => {
                let all: Vec<u32> =
                    (0..u32::try_from(self.phone_data.len()).expect("few")).collect();
                pick_from(Some(&all), pick)
            }
            DataPick::Unknown => None,
        };
        let action = Action::CheckData {
            token: token.map(Ident::Token),
            data: issued.map(Ident::PhoneData),
        };
        if self.fire("checkencryptedmsg").is_some() {
            return Step {
                action,
                expect: Outcome::Err(-1),
            };
        }
        let expect = match self.token_app(token) {
            Err(e) => Outcome::Err(e),
            Ok(token_app) => match issued.map(|n| self.phone_data[n as usize]) {
                Some((of, made)) if of == token_app && self.now < made + PHONE_DATA_TTL => {
                    Outcome::DataValid { created: made }
                }
                _ => Outcome::Err(1),
            },
        };
        Step { action, expect }
    }

    fn user_key(&mut self, app: App, user: User) -> Step {
        let action = Action::UserKey { app, user };
        if !self.sessions.contains_key(&(app, user)) {
            return Step {
                action,
                expect: Outcome::Refused("no_session".into()),
            };
        }
        let now = self.now;
        let keys = self.user_keys.entry((app, user)).or_default();
        if keys.last().is_none_or(|k| now >= k.made + USER_KEY_TTL) {
            let version = keys.last().map_or(1, |k| k.version + 1);
            self.keys_made += 1;
            keys.push(UserKey {
                id: self.keys_made,
                version,
                made: now,
            });
        }
        let latest = keys.last().expect("a key");
        Step {
            action,
            expect: Outcome::UserKey {
                key: Ident::UserKey(latest.id),
                version: latest.version,
                expires: latest.made + USER_KEY_TTL,
            },
        }
    }

    fn subject(&self, who: Subject) -> (App, User) {
        match who {
            Subject::Last => self.last_login.unwrap_or((App::A, User::Alice)),
            Subject::Of(app, user) => (app, user),
        }
    }

    fn advance(&mut self, secs: i64) -> Step {
        self.now += secs;
        Step {
            action: Action::Advance { secs },
            expect: Outcome::Nothing,
        }
    }

    /// Every instant of the edge's kind.
    fn edges(&self, edge: Edge) -> Vec<i64> {
        match edge {
            Edge::CodeExpiry => self
                .codes
                .iter()
                .map(|c| c.minted)
                .chain(self.plugin_codes.iter().map(|c| c.minted))
                .map(|t| t + CODE_TTL)
                .collect(),
            Edge::KeyRotation => self
                .sessions
                .values()
                .map(|s| s.rotated_at + self.min_rotation)
                .collect(),
            Edge::TokenGrace => self
                .tokens
                .iter()
                .filter(|t| t.kind != TokenKind::Stable)
                .filter_map(|t| t.invalid_from)
                .collect(),
            Edge::TokenExpiry => self.tokens.iter().map(|t| t.expires).collect(),
            Edge::StableRenewal => self
                .current_stable
                .values()
                .map(|&t| self.tokens[t as usize].expires - STABLE_RENEW_AT)
                .collect(),
            Edge::ForceGuard => self.last_force.values().map(|t| t + FORCE_GUARD).collect(),
            Edge::PaymentExpiry => self
                .payments
                .iter()
                .map(|p| p.at + PAYMENT_WINDOW)
                .collect(),
            Edge::VisitWindow => self.visits.values().map(|t| t + VISIT_WINDOW).collect(),
            Edge::PhoneDataExpiry => self
                .phone_data
                .iter()
                .map(|(_, t)| t + PHONE_DATA_TTL)
                .collect(),
            Edge::UserKeyExpiry => self
                .user_keys
                .values()
                .flatten()
                .map(|k| k.made + USER_KEY_TTL)
                .collect(),
            Edge::TicketWindow => self
                .platform
                .iter()
                .map(|p| p.current(self.now).1 + TICKET_INTERVAL)
                .collect(),
            Edge::TicketExpiry => self
                .platform
                .iter()
                .flat_map(|p| self.seen_tickets.iter().map(|w| p.pushed_at(*w)))
                .map(|t| t + TICKET_LIFETIME)
                .collect(),
            Edge::ChinaMidnight => vec![(self.day() + 1) * DAY - CHINA - START],
            Edge::ChinaMonth => {
                let (y, m, _) = civil_from_days(self.day());
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                vec![days_from_civil(y, m, 1) * DAY - CHINA - START]
            }
        }
    }

    /// Fires the first armed fault of the endpoint, if any.
    fn fire(&mut self, endpoint: &str) -> Option<FaultOn> {
        let i = self.faults.iter().position(|f| f.endpoint() == endpoint)?;
        Some(self.faults.remove(i))
    }

    fn new_key(&mut self) -> u32 {
        self.keys_issued += 1;
        self.keys_issued
    }

    fn login(&mut self, app: App, user: User) -> Step {
        let now = self.now;
        let min_rotation = self.min_rotation;
        let (key, rotated) = match self.sessions.get(&(app, user)) {
            Some(s) if now - s.rotated_at < min_rotation => (s.key, false),
            _ => {
                let key = self.new_key();
                self.sessions.insert(
                    (app, user),
                    Session {
                        key,
                        rotated_at: now,
                    },
                );
                (key, true)
            }
        };
        self.last_login = Some((app, user));
        self.visits.insert((app, user), now);
        remember(self.seen_keys.entry((app, user)).or_default(), key);
        let code = u32::try_from(self.codes.len()).expect("few codes");
        self.codes.push(Code {
            app,
            user,
            key,
            minted: now,
            used: false,
        });
        Step {
            action: Action::Login { app, user },
            expect: Outcome::Login {
                code: Ident::Code(code),
                openid: Ident::Openid(app, user),
                unionid: app.bound().then_some(Ident::Unionid(user)),
                key: Ident::Key(key),
                rotated,
            },
        }
    }

    /// The code checks of an exchange: the index of a live, unused code of `via`, else the
    /// errcode.
    fn live_code(&self, code: Option<usize>, via: App) -> Result<usize, i64> {
        let Some(i) = code else { return Err(40029) };
        let c = &self.codes[i];
        if c.app != via || self.now >= c.minted + CODE_TTL {
            return Err(40029);
        }
        if c.used {
            return Err(40163);
        }
        Ok(i)
    }

    /// The code an exchange sends (its index; `None`: never issued) and the app whose
    /// credentials go with it.
    fn resolve_code(&self, pick: CodePick, via: Via) -> (Option<usize>, App) {
        let code = match pick {
            CodePick::Recent(n) => self
                .codes
                .len()
                .checked_sub(1)
                .map(|last| last.saturating_sub(usize::from(n))),
            CodePick::Unknown => None,
        };
        let own = code.map_or(App::A, |i| self.codes[i].app);
        let via = match via {
            Via::Own => own,
            Via::Other => own.other(),
        };
        (code, via)
    }

    fn code_ident(code: Option<usize>) -> Option<Ident> {
        code.map(|i| Ident::Code(u32::try_from(i).expect("few codes")))
    }

    fn exchange(&mut self, pick: CodePick, via: Via) -> Step {
        let (code, via) = self.resolve_code(pick, via);
        let action = Action::Exchange {
            code: Self::code_ident(code),
            via,
        };
        let expect = self.plain_verdict(code, via);
        Step { action, expect }
    }

    fn plain_verdict(&mut self, code: Option<usize>, via: App) -> Outcome<Ident> {
        let fault = self.fire("jscode2session");
        self.redeem(code, via, fault)
    }

    /// The code rules both exchanges share: a fault rule answers -1 (using the code up if it
    /// says so), else the code's checks, a success using it up.
    fn redeem(&mut self, code: Option<usize>, via: App, fault: Option<FaultOn>) -> Outcome<Ident> {
        let live = self.live_code(code, via);
        if let Some(fault) = fault {
            if let (true, Ok(i)) = (fault.consume_code(), live) {
                self.codes[i].used = true;
            }
            return Outcome::Err(-1);
        }
        match live {
            Err(e) => Outcome::Err(e),
            Ok(i) if self.is_high_risk(self.codes[i].user) => Outcome::Err(40226),
            Ok(i) => {
                let c = &mut self.codes[i];
                c.used = true;
                let (app, user, key) = (c.app, c.user, c.key);
                remember(self.seen_keys.entry((app, user)).or_default(), key);
                Outcome::Session {
                    openid: Ident::Openid(app, user),
                    unionid: app.bound().then_some(Ident::Unionid(user)),
                    key: Ident::Key(key),
                }
            }
        }
    }

    fn component_exchange(&mut self, pick: CodePick, via: Via, token: Pick) -> Step {
        let (code, via) = self.resolve_code(pick, via);
        let token = pick_from(Some(&self.seen_component_tokens), token);
        let action = Action::ComponentExchange {
            code: Self::code_ident(code),
            via,
            token: token.map(Ident::Token),
        };
        let expect = self.component_verdict(code, via, token);
        Step { action, expect }
    }

    fn component_verdict(
        &mut self,
        code: Option<usize>,
        via: App,
        token: Option<u32>,
    ) -> Outcome<Ident> {
        if let Some(fault) = self.fire("component_jscode2session") {
            return self.redeem(code, via, Some(fault));
        }
        let Some(token) = token else {
            return Outcome::Err(40001);
        };
        if let Some(e) = self.token_error(token) {
            return Outcome::Err(e);
        }
        if !self
            .platform
            .as_ref()
            .is_some_and(|p| p.authorized.contains(&via))
        {
            return Outcome::Err(61003);
        }
        self.redeem(code, via, None)
    }

    /// Both exchanges of one code at once: either may come first.
    fn race(&mut self, pick: CodePick) -> Step {
        let (code, via) = self.resolve_code(pick, Via::Own);
        let token = self.seen_component_tokens.last().copied();
        let action = Action::Race {
            code: Self::code_ident(code),
            via,
            token: token.map(Ident::Token),
        };
        let mut plain_first = self.clone();
        let p1 = plain_first.plain_verdict(code, via);
        let c1 = plain_first.component_verdict(code, via, token);
        let mut component_first = self.clone();
        let c2 = component_first.component_verdict(code, via, token);
        let p2 = component_first.plain_verdict(code, via);
        self.pending = vec![plain_first, component_first];
        Step {
            action,
            expect: Outcome::Either(vec![
                Outcome::Race(Box::new(p1), Box::new(c1)),
                Outcome::Race(Box::new(p2), Box::new(c2)),
            ]),
        }
    }

    fn create_platform(&mut self) -> Step {
        let expect = if self.platform.is_some() {
            Outcome::Refused("platform_exists".into())
        } else {
            self.platform = Some(Platform {
                runs: vec![(0, self.now)],
                authorized: Vec::new(),
            });
            self.current_ticket()
        };
        Step {
            action: Action::CreatePlatform,
            expect,
        }
    }

    /// The current ticket as the control plane shows it (after a push, when `push`).
    fn show_platform(&mut self, action: Action, push: bool) -> Step {
        let now = self.now;
        let expect = match &mut self.platform {
            None => Outcome::Refused("unknown_platform".into()),
            Some(p) => {
                if push {
                    let (current, _) = p.current(now);
                    p.runs.push((current + 1, now));
                }
                self.current_ticket()
            }
        };
        Step { action, expect }
    }

    fn current_ticket(&mut self) -> Outcome<Ident> {
        let Some(p) = &self.platform else {
            return Outcome::Refused("unknown_platform".into());
        };
        let (window, pushed_at) = p.current(self.now);
        remember(&mut self.seen_tickets, window);
        Outcome::Platform {
            ticket: Ident::Ticket(window),
            pushed_at,
        }
    }

    fn authorize(&mut self, app: App, on: bool) -> Step {
        let expect = match &mut self.platform {
            None => Outcome::Refused("unknown_platform".into()),
            Some(p) if on => {
                if !p.authorized.contains(&app) {
                    p.authorized.push(app);
                }
                Outcome::Nothing
            }
            Some(p) if p.authorized.contains(&app) => {
                p.authorized.retain(|a| *a != app);
                Outcome::Nothing
            }
            Some(_) => Outcome::Refused("unknown_authorization".into()),
        };
        Step {
            action: Action::Authorize { app, on },
            expect,
        }
    }

    fn component_token(&mut self, pick: TicketPick) -> Step {
        let ticket = match pick {
            TicketPick::Seen(p) => pick_from(Some(&self.seen_tickets), p),
            TicketPick::Unknown => None,
        };
        let action = Action::ComponentToken {
            ticket: ticket.map(Ident::Ticket),
        };
        let expect = match (&self.platform, ticket) {
            (None, _) => Outcome::Err(40013),
            (Some(_), None) => Outcome::Err(61006),
            (Some(p), Some(w)) if p.pushed_at(w) + TICKET_LIFETIME <= self.now => {
                Outcome::Err(61005)
            }
            (Some(_), Some(_)) => {
                let id = self.issue_token(App::A, TokenKind::Component);
                if let Some(prev) = self.latest_component.replace(id) {
                    self.tokens[prev as usize].invalid_from = Some(self.now + TOKEN_GRACE);
                }
                remember(&mut self.seen_component_tokens, id);
                Outcome::Token {
                    token: Ident::Token(id),
                    expires_in: TOKEN_TTL,
                }
            }
        };
        Step { action, expect }
    }

    fn plugin_login(&mut self, user: User) -> Step {
        let n = u32::try_from(self.plugin_codes.len()).expect("few codes");
        self.plugin_codes.push(PluginCode {
            user,
            minted: self.now,
            used: false,
        });
        Step {
            action: Action::PluginLogin { user },
            expect: Outcome::PluginCode {
                code: Ident::PluginCode(n),
                openpid: Ident::Openpid(user),
            },
        }
    }

    fn openpid(&mut self, pick: PluginPick, token: Pick) -> Step {
        let token = pick_from(self.seen_tokens.get(&(App::B, TokenKind::Basic)), token)
            .or_else(|| pick_from(self.seen_tokens.get(&(App::B, TokenKind::Stable)), token));
        let last = |len: usize, back: usize| len.checked_sub(1).map(|l| l.saturating_sub(back));
        let (plugin, login) = match pick {
            PluginPick::Recent(n) => (last(self.plugin_codes.len(), usize::from(n)), None),
            PluginPick::LoginCode => (None, last(self.codes.len(), 0)),
            PluginPick::Unknown => (None, None),
        };
        let action = Action::Openpid {
            token: token.map(Ident::Token),
            code: plugin
                .map(|i| Ident::PluginCode(u32::try_from(i).expect("few codes")))
                .or_else(|| Self::code_ident(login)),
        };
        let expect = if self.fire("getpluginopenpid").is_some() {
            Outcome::Err(-1)
        } else if let Some(e) = token.map_or(Some(40001), |t| self.token_error(t)) {
            Outcome::Err(e)
        } else {
            let now = self.now;
            match (plugin, login) {
                (Some(i), _) if now < self.plugin_codes[i].minted + CODE_TTL => {
                    let c = &mut self.plugin_codes[i];
                    if c.used {
                        Outcome::Err(1000)
                    } else {
                        c.used = true;
                        Outcome::Openpid(Ident::Openpid(c.user))
                    }
                }
                (_, Some(i)) if now < self.codes[i].minted + CODE_TTL => Outcome::Err(1007),
                _ => Outcome::Err(1001),
            }
        };
        Step { action, expect }
    }

    fn issue_token(&mut self, app: App, kind: TokenKind) -> u32 {
        let id = u32::try_from(self.tokens.len()).expect("few tokens");
        self.tokens.push(Token {
            app,
            kind,
            expires: self.now + TOKEN_TTL,
            invalid_from: None,
        });
        id
    }

    fn token_answer(&mut self, app: App, kind: TokenKind, id: u32) -> Outcome<Ident> {
        remember(self.seen_tokens.entry((app, kind)).or_default(), id);
        Outcome::Token {
            token: Ident::Token(id),
            expires_in: self.tokens[id as usize].expires - self.now,
        }
    }

    fn basic_token(&mut self, app: App) -> Step {
        let action = Action::Token { app };
        if self.fire("token").is_some() {
            return Step {
                action,
                expect: Outcome::Err(-1),
            };
        }
        if self.used(app, "token") >= self.token_limit {
            return Step {
                action,
                expect: Outcome::Err(45009),
            };
        }
        self.count(app, "token");
        let id = self.issue_token(app, TokenKind::Basic);
        if let Some(prev) = self.latest_basic.insert(app, id) {
            self.tokens[prev as usize].invalid_from = Some(self.now + TOKEN_GRACE);
        }
        let expect = self.token_answer(app, TokenKind::Basic, id);
        Step { action, expect }
    }

    fn stable_token(&mut self, app: App, force: bool) -> Step {
        let action = Action::StableToken { app, force };
        if self.fire("stable_token").is_some() {
            return Step {
                action,
                expect: Outcome::Err(-1),
            };
        }
        let day = self.day();
        let forced_today = self
            .forced
            .get(&app)
            .filter(|(d, _)| *d == day)
            .map_or(0, |(_, n)| *n);
        if force && forced_today >= FORCED_PER_DAY {
            return Step {
                action,
                expect: Outcome::Err(45009),
            };
        }
        self.count(app, "stable_token");
        if force {
            self.forced.insert(app, (day, forced_today + 1));
        }
        let now = self.now;
        let forced = force
            && self
                .last_force
                .get(&app)
                .is_none_or(|t| now - t >= FORCE_GUARD);
        let current = self.current_stable.get(&app).copied();
        let id = match current {
            Some(cur) if !forced && self.tokens[cur as usize].expires - now > STABLE_RENEW_AT => {
                cur
            }
            _ => {
                if let (true, Some(cur)) = (forced, current) {
                    let old = &mut self.tokens[cur as usize];
                    old.invalid_from = Some(old.invalid_from.map_or(now, |v| v.min(now)));
                }
                if forced {
                    self.last_force.insert(app, now);
                }
                let id = self.issue_token(app, TokenKind::Stable);
                self.current_stable.insert(app, id);
                id
            }
        };
        let expect = self.token_answer(app, TokenKind::Stable, id);
        Step { action, expect }
    }

    /// The error a token gets now, if any.
    fn token_error(&self, id: u32) -> Option<i64> {
        let t = &self.tokens[id as usize];
        if self.now >= t.expires + EXPIRED_TOKEN_KNOWN {
            Some(40001)
        } else if self.now >= t.expires {
            Some(42001)
        } else if t.invalid_from.is_some_and(|v| self.now >= v) {
            Some(40001)
        } else {
            None
        }
    }

    fn session_call(&mut self, call: SessionCall, using: SessionUse) -> Step {
        let (app, user) = self.subject(call.who);
        let token = self.pick_token(app, call.token);
        let owner = match call.openid {
            OpenidPick::Own => (app, user),
            OpenidPick::OtherApp => (app.other(), user),
        };
        // The runner knows an openid once the user logged in to that app.
        let openid = self.sessions.contains_key(&owner).then_some(owner);
        let key = match call.key {
            KeyPick::Seen(p) => pick_from(self.seen_keys.get(&owner), p),
            KeyPick::Garbage => None,
        };
        let token_id = token.map(Ident::Token);
        let openid_id = openid.map(|(a, u)| Ident::Openid(a, u));
        let key_id = key.map(Ident::Key);
        let (action, endpoint) = match using {
            SessionUse::Check | SessionUse::Reset => (
                Action::Session {
                    reset: using == SessionUse::Reset,
                    token: token_id,
                    openid: openid_id,
                    key: key_id,
                },
                if using == SessionUse::Reset {
                    "resetusersessionkey"
                } else {
                    "checksession"
                },
            ),
            SessionUse::ListKeys => (
                Action::ListKeys {
                    token: token_id,
                    openid: openid_id,
                    key: key_id,
                },
                "getuserencryptkey",
            ),
        };
        let expect = if self.fire(endpoint).is_some() {
            Outcome::Err(-1)
        } else {
            let valid = token.is_some_and(|t| self.token_error(t).is_none());
            let expect = match self.session_verdict(token, openid, key) {
                Err(e) => Outcome::Err(e),
                Ok(owner) => match using {
                    SessionUse::Check => Outcome::Valid,
                    SessionUse::Reset => self.reset_key(owner),
                    SessionUse::ListKeys => self.list_keys(owner),
                },
            };
            self.count_by_token(token, endpoint, valid);
            expect
        };
        Step { action, expect }
    }

    /// The checks of checksession and the calls that share them: the session's owner, else
    /// the errcode.
    fn session_verdict(
        &self,
        token: Option<u32>,
        openid: Option<(App, User)>,
        key: Option<u32>,
    ) -> Result<(App, User), i64> {
        let app = self.token_app(token)?;
        let owner = openid.filter(|(a, _)| *a == app).ok_or(40003)?;
        let session = self.sessions.get(&owner).ok_or(40003)?;
        if key != Some(session.key) {
            return Err(87009);
        }
        Ok(owner)
    }

    fn reset_key(&mut self, owner: (App, User)) -> Outcome<Ident> {
        let new = self.new_key();
        if let Some(s) = self.sessions.get_mut(&owner) {
            s.key = new;
            s.rotated_at = self.now;
        }
        remember(self.seen_keys.entry(owner).or_default(), new);
        Outcome::Reset {
            openid: Ident::Openid(owner.0, owner.1),
            key: Ident::Key(new),
        }
    }

    fn pay(&mut self, app: App, user: User) -> Step {
        let n = u32::try_from(self.payments.len()).unwrap_or(u32::MAX);
        self.payments.push(Payment {
            app,
            user,
            at: self.now,
        });
        self.last_login = Some((app, user));
        Step {
            action: Action::Pay { app, user },
            expect: Outcome::Paid {
                trade: Ident::Trade(n),
                merchant: Ident::Merchant(n),
                openid: Ident::Openid(app, user),
                unionid: app.bound().then_some(Ident::Unionid(user)),
            },
        }
    }

    /// Whether `app` knows `user`: they logged in to it or paid in it.
    fn knows(&self, app: App, user: User) -> bool {
        self.sessions.contains_key(&(app, user))
            || self.payments.iter().any(|p| p.app == app && p.user == user)
    }

    fn paid_unionid(&mut self, call: PaidCall) -> Step {
        let (app, user) = self.subject(call.who);
        let token = pick_from(self.seen_tokens.get(&(app, TokenKind::Basic)), call.token)
            .or_else(|| pick_from(self.seen_tokens.get(&(app, TokenKind::Stable)), call.token));
        let owner = match call.openid {
            OpenidPick::Own => (app, user),
            OpenidPick::OtherApp => (app.other(), user),
        };
        // The runner knows an openid once the user logged in to or paid in that app.
        let openid = self.knows(owner.0, owner.1).then_some(owner);
        let trade = match call.trade {
            TradePick::Latest => self.payments.len().checked_sub(1),
            TradePick::Oldest => (!self.payments.is_empty()).then_some(0),
            TradePick::Unknown => None,
        }
        .and_then(|i| u32::try_from(i).ok());
        let action = Action::PaidUnionid {
            token: token.map(Ident::Token),
            openid: openid.map(|(a, u)| Ident::Openid(a, u)),
            trade: trade.map(|n| match call.by {
                TradeBy::Transaction => Ident::Trade(n),
                TradeBy::Merchant => Ident::Merchant(n),
            }),
        };
        let expect = if self.fire("getpaidunionid").is_some() {
            Outcome::Err(-1)
        } else {
            let valid = token.is_some_and(|t| self.token_error(t).is_none());
            let expect = self.paid_verdict(token, openid, trade);
            self.count_by_token(token, "getpaidunionid", valid);
            expect
        };
        Step { action, expect }
    }

    /// The app's latest token: its latest cgi-bin/token, else its latest stable token.
    fn latest_token(&self, app: App) -> Option<u32> {
        pick_from(self.seen_tokens.get(&(app, TokenKind::Basic)), Pick::Latest).or_else(|| {
            pick_from(
                self.seen_tokens.get(&(app, TokenKind::Stable)),
                Pick::Latest,
            )
        })
    }

    /// The token error of a token-checked call (`None`: a made-up token, 40001).
    fn token_check(&self, token: Option<u32>) -> Result<App, i64> {
        let t = token.ok_or(40001)?;
        match self.token_error(t) {
            Some(e) => Err(e),
            None => Ok(self.tokens[t as usize].app),
        }
    }

    fn quota_get(&mut self, app: App, path: QuotaPath) -> Step {
        let token = self.latest_token(app);
        let action = Action::QuotaGet {
            token: token.map(Ident::Token),
            path: path.path(),
        };
        let expect = match self.token_check(token) {
            Err(e) => Outcome::Err(e),
            Ok(owner) => {
                let api = match path {
                    QuotaPath::Token => Ok(("token", self.token_limit)),
                    QuotaPath::StableToken => Ok(("stable_token", STABLE_TOKEN_LIMIT)),
                    QuotaPath::ClearQuota => Ok(("clear_quota", CLEAR_QUOTA_LIMIT)),
                    QuotaPath::Checksession => Ok(("checksession", DEFAULT_LIMIT)),
                    QuotaPath::UserInfo | QuotaPath::Jscode2session => Err(76022),
                    QuotaPath::Nope => Err(76021),
                };
                let expect = match api {
                    Err(e) => Outcome::Err(e),
                    Ok((api, limit)) => {
                        let used = self.used(owner, api);
                        Outcome::Quota {
                            limit,
                            used,
                            remain: limit.saturating_sub(used),
                        }
                    }
                };
                self.count(owner, "quota_get");
                expect
            }
        };
        Step { action, expect }
    }

    fn follow(&mut self, user: User, subscribe: bool) -> Step {
        let was = self.followers.get(&user).copied().flatten();
        let since = match (subscribe, was) {
            (true, Some(t)) => Some(t),
            (true, None) => Some(START + self.now),
            (false, _) => None,
        };
        self.followers.insert(user, since);
        Step {
            action: Action::Follow { user, subscribe },
            expect: Outcome::Follower {
                openid: Ident::Openid(App::C, user),
                unionid: Some(Ident::Unionid(user)),
                since,
            },
        }
    }

    fn user_info(&mut self, user: User, by_mini: bool) -> Step {
        let token = self.latest_token(if by_mini { App::A } else { App::C });
        // The runner knows the openid once the control plane answered it.
        let known = self.followers.get(&user).copied();
        let action = Action::UserInfo {
            token: token.map(Ident::Token),
            openid: known.map(|_| Ident::Openid(App::C, user)),
        };
        let expect = match self.token_check(token) {
            Err(e) => Outcome::Err(e),
            Ok(owner) => {
                self.count(owner, "user_info");
                match (owner, known) {
                    (App::C, Some(since)) => Outcome::Follower {
                        openid: Ident::Openid(App::C, user),
                        unionid: Some(Ident::Unionid(user)),
                        since,
                    },
                    (App::C, None) => Outcome::Err(40003),
                    _ => Outcome::Err(48001),
                }
            }
        };
        Step { action, expect }
    }

    fn clear_quota(&mut self, app: App, v2: bool, times: u8) -> Step {
        let token = (!v2).then(|| self.latest_token(app)).flatten();
        let action = Action::Clear {
            app,
            token: token.map(Ident::Token),
            v2,
            times,
        };
        let api = if v2 { "clear_quota_v2" } else { "clear_quota" };
        let mut codes = Vec::new();
        for _ in 0..times {
            if !v2 && let Err(e) = self.token_check(token) {
                codes.push(e);
                continue;
            }
            let month = self.month();
            let slot = self.clears.entry(app).or_insert((month, 0));
            if slot.0 != month {
                *slot = (month, 0);
            }
            if slot.1 >= CLEARS_PER_MONTH {
                codes.push(48006);
            } else {
                slot.1 += 1;
                self.calls.retain(|(a, _), _| *a != app);
                self.forced.remove(&app);
                codes.push(0);
            }
            self.count(app, api);
        }
        Step {
            action,
            expect: Outcome::Clears(codes),
        }
    }

    fn paid_verdict(
        &self,
        token: Option<u32>,
        openid: Option<(App, User)>,
        trade: Option<u32>,
    ) -> Outcome<Ident> {
        let Some(token) = token else {
            return Outcome::Err(40001);
        };
        if let Some(e) = self.token_error(token) {
            return Outcome::Err(e);
        }
        let app = self.tokens[token as usize].app;
        let Some((_, user)) = openid.filter(|(a, u)| *a == app && self.knows(*a, *u)) else {
            return Outcome::Err(40003);
        };
        if !app.bound() {
            return Outcome::Err(89002);
        }
        let live = trade
            .and_then(|n| self.payments.get(n as usize))
            .is_some_and(|p| p.app == app && p.user == user && self.now < p.at + PAYMENT_WINDOW);
        if live {
            Outcome::Unionid(Ident::Unionid(user))
        } else {
            Outcome::Err(89300)
        }
    }

    fn list_keys(&self, owner: (App, User)) -> Outcome<Ident> {
        let keys = self.user_keys.get(&owner).map_or(&[][..], Vec::as_slice);
        Outcome::KeyList(
            keys.iter()
                .rev()
                .take(KEYS_LISTED)
                .map(|k| {
                    let left = (k.made + USER_KEY_TTL - self.now).max(0);
                    (Ident::UserKey(k.id), k.version, left)
                })
                .collect(),
        )
    }
}
