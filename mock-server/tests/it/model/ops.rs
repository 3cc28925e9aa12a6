//! The operations of the model-based test, their readable `Debug` form and the proptest
//! strategies that generate (and shrink) sequences of them.

use std::fmt;

use proptest::prelude::*;

/// The apps of every case: `A` is the mock's default app (no open platform), `B` is bound to
/// an open-platform account, so its exchanges carry a unionid; `C` is an official account
/// bound to B's open platform (its followers' unionids are B's users').
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum App {
    A,
    B,
    C,
}

impl App {
    /// The other mini-program.
    pub fn other(self) -> App {
        match self {
            App::A => App::B,
            App::B | App::C => App::A,
        }
    }

    /// Whether the app is bound to an open-platform account (unionid returned).
    pub fn bound(self) -> bool {
        self != App::A
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            App::A => "A",
            App::B => "B",
            App::C => "C (official account)",
        })
    }
}

/// The users of every case; mallory starts as a high-risk user (40226 on every exchange, risk
/// rank 4), until a risk knob says otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum User {
    Alice,
    Bob,
    Mallory,
}

impl User {
    pub fn handle(self) -> &'static str {
        match self {
            User::Alice => "alice",
            User::Bob => "bob",
            User::Mallory => "mallory",
        }
    }

    /// Whether the seed makes the user high-risk.
    pub fn starts_high_risk(self) -> bool {
        self == User::Mallory
    }
}

impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.handle())
    }
}

/// Whose session an operation concerns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The app and user of the latest `wx.login` or payment (A and alice before any).
    Last,
    Of(App, User),
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Last => f.write_str("app and user of the last wx.login or payment"),
            Subject::Of(app, user) => write!(f, "{app}, {user}"),
        }
    }
}

/// Which minted code an exchange sends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CodePick {
    /// The code minted `n` logins before the latest one (0: the latest; past the first: the
    /// first).
    Recent(u8),
    /// A well-formed code the mock never issued.
    Unknown,
}

/// Whose credentials an exchange uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Via {
    /// The app the code was minted for.
    Own,
    /// The other app (a code of another app: 40029).
    Other,
}

/// The two kinds of access token; they are isolated from each other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum TokenKind {
    /// `GET /cgi-bin/token`.
    Basic,
    /// `POST /cgi-bin/stable_token`.
    Stable,
    /// `POST /cgi-bin/component/api_component_token` (the platform's, not an app's).
    Component,
}

/// Which of the values the backend has seen (tokens, session keys) a call sends; with too few
/// values the pick falls back to the oldest; with no token of the kind, to the app's tokens of
/// the other kind; with nothing at all, to a made-up value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pick {
    Latest,
    Previous,
    Oldest,
}

impl fmt::Display for Pick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pick::Latest => "latest",
            Pick::Previous => "previous",
            Pick::Oldest => "oldest",
        })
    }
}

/// Whose openid a session call names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OpenidPick {
    /// The user's openid in the token's app.
    Own,
    /// The user's openid in the other app (never valid with this app's token: 40003).
    OtherApp,
}

/// Which key signs a session call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeyPick {
    /// A session_key seen in an answer (wx.login, jscode2session, resetusersessionkey).
    Seen(Pick),
    /// A key that was never issued.
    Garbage,
}

/// A `wxa/checksession` or `wxa/resetusersessionkey` call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionCall {
    /// The app (whose token is sent) and the user.
    pub who: Subject,
    pub token: (TokenKind, Pick),
    pub openid: OpenidPick,
    pub key: KeyPick,
}

/// Which payment of the case a `getpaidunionid` call names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TradePick {
    /// The latest payment recorded in the case (anyone's).
    Latest,
    /// The first payment recorded in the case.
    Oldest,
    /// An order number WeChat Pay never issued.
    Unknown,
}

/// How a `getpaidunionid` call names the payment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TradeBy {
    /// `transaction_id`.
    Transaction,
    /// `mch_id` + `out_trade_no`.
    Merchant,
}

/// A `wxa/getpaidunionid` call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PaidCall {
    /// The app (whose cgi-bin/token is sent, else its stable token) and the user.
    pub who: Subject,
    pub token: Pick,
    pub openid: OpenidPick,
    pub trade: TradePick,
    pub by: TradeBy,
}

impl fmt::Debug for PaidCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let openid = match self.openid {
            OpenidPick::Own => "",
            OpenidPick::OtherApp => "the OTHER app's ",
        };
        let by = match self.by {
            TradeBy::Transaction => "transaction_id",
            TradeBy::Merchant => "mch_id + out_trade_no",
        };
        write!(
            f,
            "{:?}; token: {} cgi-bin/token; {openid}openid; {:?} payment by {by}",
            self.who, self.token, self.trade
        )
    }
}

/// Time edges the clock can be moved to: the next upcoming one of its kind, plus an offset.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Edge {
    /// A code's 5-minute lifetime ends.
    CodeExpiry,
    /// A session_key's minimum rotation period ends.
    KeyRotation,
    /// A superseded cgi-bin/token's 5-minute grace ends.
    TokenGrace,
    /// A token's 7200 s lifetime ends.
    TokenExpiry,
    /// The current stable token reaches 300 s left.
    StableRenewal,
    /// 30 s after the last effective force_refresh.
    ForceGuard,
    /// A payment's 5-minute getpaidunionid window ends.
    PaymentExpiry,
    /// Two hours after a user's last `wx.login` in an app (getuserriskrank's visit window).
    VisitWindow,
    /// 3 days after phone-number encryptedData was issued (checkencryptedmsg).
    PhoneDataExpiry,
    /// 3600 s after a user encrypt key was made.
    UserKeyExpiry,
    /// The next midnight in China (UTC+8): daily quotas start again.
    ChinaMidnight,
    /// The next 1st of a month in China: `clear_quota`'s 10 clears come back.
    ChinaMonth,
    /// The platform's next ten-minute ticket window begins.
    TicketWindow,
    /// A ticket seen reaches twelve hours since its push.
    TicketExpiry,
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Edge::CodeExpiry => "next code expiry (mint + 300s)",
            Edge::KeyRotation => "next key rotation allowed (rotation + min period)",
            Edge::TokenGrace => "next end of a superseded token's grace (+300s)",
            Edge::TokenExpiry => "next token expiry (issue + 7200s)",
            Edge::StableRenewal => "next stable token renewal (300s left)",
            Edge::ForceGuard => "end of the force_refresh guard (+30s)",
            Edge::PaymentExpiry => "next end of a payment's window (payment + 300s)",
            Edge::VisitWindow => "end of a visit's two hours (last wx.login + 7200s)",
            Edge::PhoneDataExpiry => "end of issued phone data's 3 days (+259200s)",
            Edge::UserKeyExpiry => "next user key expiry (made + 3600s)",
            Edge::ChinaMidnight => "next midnight in China (16:00 UTC)",
            Edge::ChinaMonth => "next first of the month in China",
            Edge::TicketWindow => "next component_verify_ticket push (window + 600s)",
            Edge::TicketExpiry => "next ticket expiry (push + 12h)",
        })
    }
}

/// Endpoints a one-shot `-1 system error` fault can be armed on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FaultOn {
    /// `consume_code`: whether the failed exchange still uses the code up.
    Jscode2session {
        consume_code: bool,
    },
    Token,
    StableToken,
    Checksession,
    Resetusersessionkey,
    Getpaidunionid,
    Getuserriskrank,
    Checkencryptedmsg,
    Getuserencryptkey,
    /// `consume_code` as for jscode2session.
    ComponentJscode2session {
        consume_code: bool,
    },
    Getpluginopenpid,
}

impl FaultOn {
    pub fn endpoint(self) -> &'static str {
        match self {
            FaultOn::Jscode2session { .. } => "jscode2session",
            FaultOn::Token => "token",
            FaultOn::StableToken => "stable_token",
            FaultOn::Checksession => "checksession",
            FaultOn::Resetusersessionkey => "resetusersessionkey",
            FaultOn::Getpaidunionid => "getpaidunionid",
            FaultOn::Getuserriskrank => "getuserriskrank",
            FaultOn::Checkencryptedmsg => "checkencryptedmsg",
            FaultOn::Getuserencryptkey => "getuserencryptkey",
            FaultOn::ComponentJscode2session { .. } => "component_jscode2session",
            FaultOn::Getpluginopenpid => "getpluginopenpid",
        }
    }

    pub fn consume_code(self) -> bool {
        matches!(
            self,
            FaultOn::Jscode2session { consume_code: true }
                | FaultOn::ComponentJscode2session { consume_code: true }
        )
    }
}

/// A change to a user's risk knobs (`PATCH /__mock__/users/{handle}`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RiskChange {
    /// `risk_rank`: 0 to 4.
    Rank(u8),
    /// `risk_rank: null`: back to what `high_risk` says.
    ClearRank,
    /// `high_risk`.
    HighRisk(bool),
}

/// Which phone-number data a checkencryptedmsg call asks about.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DataPick {
    /// Data the mock issued: the latest, the one before, or the first (any app or user).
    Issued(Pick),
    /// A hash of nothing the mock issued.
    Unknown,
}

/// The API a `quota/get` call asks about.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QuotaPath {
    Token,
    StableToken,
    ClearQuota,
    Checksession,
    /// An official account's API: not a mini-program's to ask about (76022).
    UserInfo,
    /// An sns API: not served (76022).
    Jscode2session,
    /// A path WeChat does not know (76021).
    Nope,
}

impl QuotaPath {
    pub fn path(self) -> &'static str {
        match self {
            QuotaPath::Token => "/cgi-bin/token",
            QuotaPath::StableToken => "/cgi-bin/stable_token",
            QuotaPath::ClearQuota => "/cgi-bin/clear_quota",
            QuotaPath::Checksession => "/wxa/checksession",
            QuotaPath::UserInfo => "/cgi-bin/user/info",
            QuotaPath::Jscode2session => "/sns/jscode2session",
            QuotaPath::Nope => "/cgi-bin/nope",
        }
    }
}

/// One step of a sequence.
#[derive(Clone, PartialEq, Eq)]
pub enum Op {
    /// The mini-program's `wx.login` (control plane): a new code, maybe a new session_key.
    Login(Subject),
    /// `sns/jscode2session`.
    Exchange { code: CodePick, via: Via },
    /// Moves the clock forward.
    Advance { secs: u32 },
    /// Moves the clock to the next edge of a kind, `offset` seconds around it.
    AdvanceTo { edge: Edge, offset: i8 },
    /// `cgi-bin/token`.
    Token { app: App },
    /// `cgi-bin/stable_token`.
    StableToken { app: App, force: bool },
    /// `wxa/checksession`.
    CheckSession(SessionCall),
    /// `wxa/resetusersessionkey`.
    ResetKey(SessionCall),
    /// Arms a one-shot `errcode: -1` rule on an endpoint.
    Fault(FaultOn),
    /// A user pays in an app (control plane).
    Pay(Subject),
    /// `wxa/getpaidunionid`.
    PaidUnionid(PaidCall),
    /// Changes a user's risk knobs.
    RiskKnob { user: User, change: RiskChange },
    /// `wxa/getuserriskrank` for the subject, with a token of the subject's app.
    RiskRank {
        who: Subject,
        token: (TokenKind, Pick),
    },
    /// The getPhoneNumber button (control plane): legacy encryptedData once logged in.
    PhoneData(Subject),
    /// `wxa/business/checkencryptedmsg` with a token of `app`.
    CheckData {
        app: App,
        token: (TokenKind, Pick),
        data: DataPick,
    },
    /// `wx.getUserCryptoManager().getLatestUserKey()` (control plane).
    UserKey(Subject),
    /// `wxa/business/getuserencryptkey`.
    ListKeys(SessionCall),
    /// `openapi/quota/get` with the app's latest token.
    QuotaGet { app: App, path: QuotaPath },
    /// `clear_quota` (with the app's latest token) or `clear_quota/v2` (with its secret) for
    /// the app itself, `times` calls in a row.
    ClearQuota { app: App, v2: bool, times: u8 },
    /// A user follows (or unfollows) the official account C (control plane).
    Follow { user: User, subscribe: bool },
    /// `cgi-bin/user/info` about a user's openid in C, with C's latest token (or, `by_mini`,
    /// A's: not its API).
    UserInfo { user: User, by_mini: bool },
    /// Creates the case's third-party platform (control plane; 409 the second time).
    CreatePlatform,
    /// Reads the platform's current ticket (control plane).
    ShowPlatform,
    /// WeChat pushes the platform a fresh ticket now (control plane).
    PushTicket,
    /// An app authorises the platform, or withdraws (control plane).
    Authorize { app: App, on: bool },
    /// `cgi-bin/component/api_component_token` with a ticket seen (or a made-up one).
    ComponentToken { ticket: TicketPick },
    /// `sns/component/jscode2session` for the code's app (or the other one), with a
    /// component token seen.
    ComponentExchange {
        code: CodePick,
        via: Via,
        token: Pick,
    },
    /// The same code sent at once to jscode2session (its app's credentials) and to
    /// `sns/component/jscode2session` (the latest component token): one of them may win.
    Race { code: CodePick },
    /// A plugin's `wx.pluginLogin` (the plugin is app B, running inside app A).
    PluginLogin(User),
    /// `wxa/getpluginopenpid` with app B's token.
    Openpid { code: PluginPick, token: Pick },
}

/// Which ticket an `api_component_token` call sends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TicketPick {
    /// A ticket the control plane showed (latest, previous, oldest).
    Seen(Pick),
    /// One WeChat never pushed.
    Unknown,
}

/// Which code a `getpluginopenpid` call sends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PluginPick {
    /// The plugin code minted `n` plugin logins before the latest one.
    Recent(u8),
    /// The latest `wx.login` code (of any app): 1007 while it lives.
    LoginCode,
    /// A well-formed code never issued.
    Unknown,
}

impl fmt::Debug for SessionCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, pick) = self.token;
        let kind = match kind {
            TokenKind::Basic => "cgi-bin/token",
            TokenKind::Stable => "stable_token",
            TokenKind::Component => "component token",
        };
        let openid = match self.openid {
            OpenidPick::Own => "",
            OpenidPick::OtherApp => "the OTHER app's ",
        };
        write!(
            f,
            "{:?}; token: {pick} {kind}; {openid}openid; signed with: ",
            self.who
        )?;
        match self.key {
            KeyPick::Seen(p) => write!(f, "{p} key seen"),
            KeyPick::Garbage => f.write_str("a made-up key"),
        }
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Login(who) => write!(f, "wx.login({who:?})"),
            Op::Exchange { code, via } => {
                f.write_str("jscode2session(")?;
                match code {
                    CodePick::Recent(0) => f.write_str("latest code")?,
                    CodePick::Recent(n) => write!(f, "code minted {n} logins before the latest")?,
                    CodePick::Unknown => f.write_str("unknown code")?,
                }
                f.write_str(match via {
                    Via::Own => ", own app's credentials)",
                    Via::Other => ", OTHER app's credentials)",
                })
            }
            Op::Advance { secs } => write!(f, "advance {secs}s"),
            Op::AdvanceTo { edge, offset } => match offset {
                0 => write!(f, "advance to {edge}"),
                o => write!(f, "advance to {edge} {o:+}s"),
            },
            Op::Token { app } => write!(f, "cgi-bin/token({app})"),
            Op::StableToken { app, force } => {
                let force = if *force { ", force_refresh" } else { "" };
                write!(f, "stable_token({app}{force})")
            }
            Op::CheckSession(c) => write!(f, "checksession({c:?})"),
            Op::ResetKey(c) => write!(f, "resetusersessionkey({c:?})"),
            Op::Pay(who) => write!(f, "pay({who:?})"),
            Op::CreatePlatform => f.write_str("create the platform"),
            Op::ShowPlatform => f.write_str("show the platform's ticket"),
            Op::PushTicket => f.write_str("push a fresh ticket"),
            Op::Authorize { app, on: true } => write!(f, "{app} authorises the platform"),
            Op::Authorize { app, on: false } => write!(f, "{app} withdraws the platform"),
            Op::ComponentToken { ticket } => write!(f, "api_component_token({ticket:?} ticket)"),
            Op::ComponentExchange { code, via, token } => write!(
                f,
                "component jscode2session({code:?}, {via:?} app, {token} component token)"
            ),
            Op::Race { code } => write!(
                f,
                "race: jscode2session and component jscode2session of {code:?} at once"
            ),
            Op::PluginLogin(user) => write!(f, "wx.pluginLogin({user}, plugin B in A)"),
            Op::Openpid { code, token } => {
                write!(f, "getpluginopenpid({code:?}, {token} token of B)")
            }
            Op::PaidUnionid(c) => write!(f, "getpaidunionid({c:?})"),
            Op::QuotaGet { app, path } => {
                write!(f, "quota/get({app}, {}; latest token)", path.path())
            }
            Op::ClearQuota { app, v2, times } => {
                let how = if *v2 { "clear_quota/v2" } else { "clear_quota" };
                write!(f, "{how}({app}) x{times}")
            }
            Op::Follow { user, subscribe } => {
                let what = if *subscribe { "follows" } else { "unfollows" };
                write!(f, "{user} {what} C")
            }
            Op::UserInfo { user, by_mini } => {
                let token = if *by_mini { "A's" } else { "C's" };
                write!(f, "user/info({user}'s openid in C; {token} latest token)")
            }
            Op::Fault(on) => {
                write!(f, "fault: next {} answers -1", on.endpoint())?;
                if let FaultOn::Jscode2session { consume_code } = on {
                    let c = if *consume_code {
                        " and uses the code up"
                    } else {
                        " (code kept)"
                    };
                    f.write_str(c)?;
                }
                Ok(())
            }
            Op::RiskKnob { user, change } => write!(f, "PATCH user {user}: {change:?}"),
            Op::RiskRank {
                who,
                token: (kind, pick),
            } => {
                write!(f, "getuserriskrank({who:?}; token: {pick} {kind:?})")
            }
            Op::PhoneData(who) => write!(f, "getPhoneNumber button({who:?})"),
            Op::CheckData {
                app,
                token: (kind, pick),
                data,
            } => write!(
                f,
                "checkencryptedmsg({data:?}; token: {pick} {kind:?} of {app})"
            ),
            Op::UserKey(who) => write!(f, "getLatestUserKey({who:?})"),
            Op::ListKeys(c) => write!(f, "getuserencryptkey({c:?})"),
        }
    }
}

/// A generated case: the options varied, and the operations.
#[derive(Clone)]
pub struct Case {
    /// `session_key_min_rotation` in seconds (the mock option; default 300).
    pub min_rotation: u32,
    /// `token_daily_limit` (the mock option; default 10,000).
    pub token_limit: u32,
    pub ops: Vec<Op>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "session_key_min_rotation = {}s, token_daily_limit = {}, {} ops:",
            self.min_rotation,
            self.token_limit,
            self.ops.len()
        )?;
        for (i, op) in self.ops.iter().enumerate() {
            writeln!(f, "  {:>2}. {op:?}", i + 1)?;
        }
        Ok(())
    }
}

fn app() -> impl Strategy<Value = App> {
    prop_oneof![Just(App::A), Just(App::B)]
}

fn user() -> impl Strategy<Value = User> {
    prop_oneof![3 => Just(User::Alice), 2 => Just(User::Bob), 1 => Just(User::Mallory)]
}

fn subject() -> impl Strategy<Value = Subject> {
    prop_oneof![
        3 => Just(Subject::Last),
        2 => (app(), user()).prop_map(|(app, user)| Subject::Of(app, user)),
    ]
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![4 => Just(Pick::Latest), 2 => Just(Pick::Previous), 1 => Just(Pick::Oldest)]
}

fn token_kind() -> impl Strategy<Value = TokenKind> {
    prop_oneof![Just(TokenKind::Basic), Just(TokenKind::Stable)]
}

fn session_call() -> impl Strategy<Value = SessionCall> {
    let openid = prop_oneof![5 => Just(OpenidPick::Own), 1 => Just(OpenidPick::OtherApp)];
    let key = prop_oneof![6 => pick().prop_map(KeyPick::Seen), 1 => Just(KeyPick::Garbage)];
    (subject(), token_kind(), pick(), openid, key).prop_map(|(who, kind, token, openid, key)| {
        SessionCall {
            who,
            token: (kind, token),
            openid,
            key,
        }
    })
}

/// Seconds to advance by: small steps and the values around every edge.
const STEPS: [u32; 15] = [
    1, 10, 29, 30, 60, 120, 240, 299, 300, 301, 3600, 6900, 7199, 7200, 7201,
];

fn paid_call() -> impl Strategy<Value = PaidCall> {
    let openid = prop_oneof![5 => Just(OpenidPick::Own), 1 => Just(OpenidPick::OtherApp)];
    let trade = prop_oneof![
        4 => Just(TradePick::Latest),
        2 => Just(TradePick::Oldest),
        1 => Just(TradePick::Unknown),
    ];
    let by = prop_oneof![Just(TradeBy::Transaction), Just(TradeBy::Merchant)];
    (subject(), pick(), openid, trade, by).prop_map(|(who, token, openid, trade, by)| PaidCall {
        who,
        token,
        openid,
        trade,
        by,
    })
}

fn op() -> impl Strategy<Value = Op> {
    let code = prop_oneof![
        6 => Just(CodePick::Recent(0)),
        3 => (1u8..4).prop_map(CodePick::Recent),
        1 => Just(CodePick::Unknown),
    ];
    let via = prop_oneof![4 => Just(Via::Own), 1 => Just(Via::Other)];
    let edge = prop_oneof![
        1 => Just(Edge::VisitWindow),
        1 => Just(Edge::PhoneDataExpiry),
        1 => Just(Edge::UserKeyExpiry),
        1 => Just(Edge::CodeExpiry),
        1 => Just(Edge::KeyRotation),
        1 => Just(Edge::TokenGrace),
        1 => Just(Edge::TokenExpiry),
        1 => Just(Edge::StableRenewal),
        1 => Just(Edge::ForceGuard),
        1 => Just(Edge::PaymentExpiry),
        3 => Just(Edge::ChinaMidnight),
        1 => Just(Edge::ChinaMonth),
        1 => Just(Edge::TicketWindow),
        1 => Just(Edge::TicketExpiry),
    ];
    let fault = prop_oneof![
        Just(FaultOn::Jscode2session {
            consume_code: false
        }),
        Just(FaultOn::Jscode2session { consume_code: true }),
        Just(FaultOn::Token),
        Just(FaultOn::StableToken),
        Just(FaultOn::Checksession),
        Just(FaultOn::Resetusersessionkey),
        Just(FaultOn::Getpaidunionid),
        Just(FaultOn::Getuserriskrank),
        Just(FaultOn::Checkencryptedmsg),
        Just(FaultOn::Getuserencryptkey),
        Just(FaultOn::ComponentJscode2session {
            consume_code: false
        }),
        Just(FaultOn::ComponentJscode2session { consume_code: true }),
        Just(FaultOn::Getpluginopenpid),
    ];
    let change = prop_oneof![
        (0u8..=4).prop_map(RiskChange::Rank),
        Just(RiskChange::ClearRank),
        prop::bool::ANY.prop_map(RiskChange::HighRisk),
    ];
    let data = prop_oneof![
        4 => pick().prop_map(DataPick::Issued),
        1 => Just(DataPick::Unknown),
    ];
    let ticket =
        prop_oneof![5 => pick().prop_map(TicketPick::Seen), 1 => Just(TicketPick::Unknown)];
    let plugin_code = prop_oneof![
        5 => Just(PluginPick::Recent(0)),
        2 => (1u8..3).prop_map(PluginPick::Recent),
        1 => Just(PluginPick::LoginCode),
        1 => Just(PluginPick::Unknown),
    ];
    prop_oneof![
        6 => subject().prop_map(Op::Login),
        6 => (code.clone(), via.clone()).prop_map(|(code, via)| Op::Exchange { code, via }),
        2 => prop::sample::select(&STEPS[..]).prop_map(|secs| Op::Advance { secs }),
        2 => (edge, prop::sample::select(&[0i8, -1, 1][..]))
            .prop_map(|(edge, offset)| Op::AdvanceTo { edge, offset }),
        3 => prop_oneof![2 => app(), 1 => Just(App::C)].prop_map(|app| Op::Token { app }),
        3 => (app(), prop::bool::weighted(0.4))
            .prop_map(|(app, force)| Op::StableToken { app, force }),
        4 => session_call().prop_map(Op::CheckSession),
        2 => session_call().prop_map(Op::ResetKey),
        1 => fault.prop_map(Op::Fault),
        2 => subject().prop_map(Op::Pay),
        3 => paid_call().prop_map(Op::PaidUnionid),
        1 => (user(), change).prop_map(|(user, change)| Op::RiskKnob { user, change }),
        3 => (subject(), token_kind(), pick())
            .prop_map(|(who, kind, pick)| Op::RiskRank { who, token: (kind, pick) }),
        2 => subject().prop_map(Op::PhoneData),
        3 => (app(), token_kind(), pick(), data)
            .prop_map(|(app, kind, pick, data)| Op::CheckData { app, token: (kind, pick), data }),
        3 => subject().prop_map(Op::UserKey),
        3 => session_call().prop_map(Op::ListKeys),
        2 => (app(), quota_path()).prop_map(|(app, path)| Op::QuotaGet { app, path }),
        1 => (app(), any::<bool>(), prop_oneof![4 => Just(1u8), 1 => Just(11u8)])
            .prop_map(|(app, v2, times)| Op::ClearQuota { app, v2, times }),
        2 => (user(), prop::bool::weighted(0.7))
            .prop_map(|(user, subscribe)| Op::Follow { user, subscribe }),
        2 => (user(), prop::bool::weighted(0.15))
            .prop_map(|(user, by_mini)| Op::UserInfo { user, by_mini }),
        1 => Just(Op::CreatePlatform),
        1 => Just(Op::ShowPlatform),
        1 => Just(Op::PushTicket),
        2 => (app(), prop::bool::weighted(0.8)).prop_map(|(app, on)| Op::Authorize { app, on }),
        2 => ticket.prop_map(|ticket| Op::ComponentToken { ticket }),
        3 => (code.clone(), via.clone(), pick())
            .prop_map(|(code, via, token)| Op::ComponentExchange { code, via, token }),
        2 => code.clone().prop_map(|code| Op::Race { code }),
        2 => user().prop_map(Op::PluginLogin),
        2 => (plugin_code, pick()).prop_map(|(code, token)| Op::Openpid { code, token }),
    ]
}

fn quota_path() -> impl Strategy<Value = QuotaPath> {
    prop_oneof![
        4 => Just(QuotaPath::Token),
        2 => Just(QuotaPath::StableToken),
        2 => Just(QuotaPath::ClearQuota),
        2 => Just(QuotaPath::Checksession),
        1 => Just(QuotaPath::UserInfo),
        1 => Just(QuotaPath::Jscode2session),
        1 => Just(QuotaPath::Nope),
    ]
}

/// Cases of 1 to `max_ops` operations; the rotation period and the token limit shrink towards
/// the defaults.
pub fn case(max_ops: usize) -> impl Strategy<Value = Case> {
    (
        prop_oneof![2 => Just(300u32), 1 => Just(0u32), 1 => Just(60u32)],
        prop_oneof![1 => Just(10_000u32), 1 => Just(1u32), 1 => Just(2u32)],
        prop::collection::vec(op(), 1..=max_ops),
    )
        .prop_map(|(min_rotation, token_limit, ops)| Case {
            min_rotation,
            token_limit,
            ops,
        })
}
