//! WeChat's errcodes that login-core acts on, named once: every decision on an errcode in this
//! crate matches these names, never the bare numbers.

/// `-1 system error`: WeChat is busy; worth retrying.
pub const SYSTEM_BUSY: i64 = -1;
/// `invalid credential`: the access token is invalid or was replaced by a newer one.
pub const TOKEN_INVALID: i64 = 40001;
/// `invalid grant_type`: our request names the wrong grant.
pub const INVALID_GRANT_TYPE: i64 = 40002;
/// `invalid appid`: the configured appid is not an app.
pub const INVALID_APPID: i64 = 40013;
/// `invalid access_token`: the access token is malformed or not one WeChat issued.
pub const TOKEN_MALFORMED: i64 = 40014;
/// `invalid code`: the code is unknown, expired, malformed or another app's.
pub const CODE_INVALID: i64 = 40029;
/// `invalid appsecret`: the configured secret is wrong.
pub const INVALID_APPSECRET: i64 = 40125;
/// `code been used`: the code was already exchanged.
pub const CODE_BEEN_USED: i64 = 40163;
/// `invalid ip, not in whitelist`: this server's address is not on the app's IP whitelist.
pub const IP_NOT_WHITELISTED: i64 = 40164;
/// `code blocked`: WeChat refuses the login of a high-risk user.
pub const USER_BLOCKED: i64 = 40226;
/// The AppSecret is frozen.
pub const APPSECRET_FROZEN: i64 = 40243;
/// `appid missing`: our request lacks the appid.
pub const APPID_MISSING: i64 = 41002;
/// `appsecret missing`: our request lacks the secret.
pub const APPSECRET_MISSING: i64 = 41004;
/// `missing code`: our request lacks the code.
pub const CODE_MISSING: i64 = 41008;
/// `access_token expired`: the access token outlived its lifetime.
pub const TOKEN_EXPIRED: i64 = 42001;
/// `reach max api daily quota limit`: the app's daily quota for the API is spent.
pub const DAILY_QUOTA: i64 = 45009;
/// `api minute-quota reach limit`: too many calls this minute.
pub const RATE_LIMITED: i64 = 45011;
/// The API is forbidden to this account.
pub const API_FORBIDDEN: i64 = 50004;
/// The account is frozen.
pub const ACCOUNT_FROZEN: i64 = 50007;
/// `session_key is not existed or expired`: the user's session key is gone.
pub const SESSION_KEY_EXPIRED: i64 = 87007;
/// `invalid signature`: wrong signature, or a session key that is no longer current.
pub const INVALID_SIGNATURE: i64 = 87009;
/// Calls from this IP need an administrator's confirmation.
pub const IP_NEEDS_CONFIRMATION: i64 = 89503;
/// An administrator refused calls from this IP twice within 24 hours.
pub const IP_REFUSED_TWICE: i64 = 89506;
/// An administrator refused calls from this IP within the hour.
pub const IP_REFUSED: i64 = 89507;

/// Errcodes that mean our own configuration is wrong (appid, secret, IP whitelist, frozen
/// secret or account, API forbidden): an operator must act, the client cannot.
pub const MISCONFIGURATION: &[i64] = &[
    INVALID_GRANT_TYPE,
    INVALID_APPID,
    INVALID_APPSECRET,
    IP_NOT_WHITELISTED,
    APPSECRET_FROZEN,
    APPID_MISSING,
    APPSECRET_MISSING,
    CODE_MISSING,
    API_FORBIDDEN,
    ACCOUNT_FROZEN,
    IP_NEEDS_CONFIRMATION,
    IP_REFUSED_TWICE,
    IP_REFUSED,
];
