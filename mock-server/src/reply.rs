//! What the engine answers a vendor request, as typed values: a success [`Reply`] or a
//! catalogue error, and whom the request concerned. `wire.rs` turns them into bytes; nothing
//! here is JSON yet.

use crate::catalogue::WxError;
use crate::ids::{AccessToken, AppId, OpenId, OpenPid, SessionKey, UnionId, UserHandle};
use crate::tencent::{SendStatus, TcError};

/// What the engine answers to a vendor request, and whom it concerned (for faults and the
/// journal).
#[derive(Debug)]
pub struct Answer {
    /// A success or a catalogue error.
    pub result: Result<Reply, WxError>,
    /// The app the request concerned, when known.
    pub appid: Option<AppId>,
    /// The user the request concerned, when known.
    pub user: Option<UserHandle>,
    /// For Tencent Cloud answers: the error's code, `Ok`, or the first refused number's code.
    pub tencent: Option<&'static str>,
}

/// A success, one shape per kind of body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `jscode2session`: `{"session_key","openid"[,"unionid"]}`.
    Session {
        /// The session_key.
        session_key: SessionKey,
        /// The openid.
        openid: OpenId,
        /// The unionid, when the app is bound to an open-platform account.
        unionid: Option<UnionId>,
    },
    /// `token` and `stable_token`: `{"access_token","expires_in"}`.
    Token {
        /// The token.
        access_token: AccessToken,
        /// Seconds left.
        expires_in: u64,
    },
    /// `checksession`: `{"errcode":0,"errmsg":"ok"}`.
    Ok,
    /// `resetusersessionkey`: the ok envelope with `openid` and the new `session_key`.
    SessionKeyReset {
        /// The openid.
        openid: OpenId,
        /// The new session_key.
        session_key: SessionKey,
    },
    /// `getuserphonenumber`: the ok envelope with `phone_info`.
    PhoneNumber(PhoneInfo),
    /// `getpaidunionid`: `{"unionid","errcode":0,"errmsg":"ok"}`, the unionid first.
    PaidUnionid {
        /// The payer's unionid.
        unionid: UnionId,
    },
    /// `api_component_token`: `{"component_access_token","expires_in"}`, no errcode.
    ComponentToken {
        /// The platform's token.
        component_access_token: AccessToken,
        /// Seconds left.
        expires_in: u64,
    },
    /// `getpluginopenpid`: the ok envelope with `openpid`.
    Openpid {
        /// The user's id in the plugin.
        openpid: OpenPid,
    },
    /// Tencent Cloud: every answer, error or not, carries a `RequestId`.
    Tencent(TencentReply),
    /// `getuserriskrank`: `{"errcode":0,"errmsg":"getuserriskrank succ","risk_rank","unoin_id"}`
    /// (errmsg is not `ok`; `unoin_id` is spelled so on the wire).
    RiskRank {
        /// 0 (lowest) to 4.
        risk_rank: u8,
        /// The request's id.
        unoin_id: u32,
    },
    /// `checkencryptedmsg`: the ok envelope with `"vaild":true,"create_time"` (spelled so) for
    /// data WeChat issued, with `"vaild":false` alone when `create_time` is none.
    EncryptedMsg {
        /// When the data was issued, Unix seconds; none: not issued by WeChat.
        create_time: Option<i64>,
    },
    /// `getuserencryptkey`: the ok envelope with `key_info_list`, newest first.
    UserEncryptKeys(Vec<UserKeyInfo>),
    /// `openapi/quota/get`: the ok envelope with `quota`.
    Quota(Quota),
    /// `openapi/rid/get` as the engine leaves it: the rid to look up for the token's app. The
    /// journal holds the requests, so the vendor entry point finishes the answer from it (a
    /// [`Reply::RidInfo`], or 76001/76003/76022) before anything is rendered.
    RidQuery {
        /// The app asking.
        appid: AppId,
        /// The rid, as asked.
        rid: String,
    },
    /// `openapi/rid/get`: the ok envelope with `request`.
    RidInfo(RidRequest),
    /// `cgi-bin/user/info`: a follower of an official account, or someone who is not (any
    /// more).
    UserInfo(FollowerInfo),
}

/// One entry of `key_info_list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserKeyInfo {
    /// `encrypt_key`: base64 of the 16-byte AES key.
    pub encrypt_key: String,
    /// `version`.
    pub version: u64,
    /// `expire_in`: seconds left, 0 once expired.
    pub expire_in: u64,
    /// `iv`: 16 characters, the IV's 16 bytes.
    pub iv: String,
    /// `create_time`, Unix seconds.
    pub create_time: i64,
}

/// `quota` of a quota/get answer: today's calls of one API by one app (China time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// `daily_limit`.
    pub daily_limit: u64,
    /// `used`.
    pub used: u64,
    /// `remain`: what is left of `daily_limit`.
    pub remain: u64,
}

/// `request` of a rid/get answer: the request that got the rid, as WeChat recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RidRequest {
    /// `invoke_time`: when it arrived, Unix seconds.
    pub invoke_time: i64,
    /// `cost_in_ms`: how long answering it took.
    pub cost_in_ms: u64,
    /// `request_url`: its query string (WeChat's example shows the parameters only).
    pub request_url: String,
    /// `request_body`: its body (empty for a GET).
    pub request_body: String,
    /// `response_body`: the answer it got.
    pub response_body: String,
    /// `client_ip`: the address it came from.
    pub client_ip: String,
}

/// What `cgi-bin/user/info` tells about a user of an official account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowerInfo {
    /// `openid`.
    pub openid: OpenId,
    /// `unionid`, when the account is bound to an open platform.
    pub unionid: Option<UnionId>,
    /// The rest, while the user follows the account; `None`: `subscribe` 0, nothing more.
    pub subscribed: Option<Subscription>,
}

/// A follower's fields in a `cgi-bin/user/info` answer (`subscribe` 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// `language`.
    pub language: String,
    /// `subscribe_time`: the last time the user followed, Unix seconds.
    pub subscribe_time: i64,
    /// `remark`.
    pub remark: String,
    /// `groupid` (the old groups, kept for compatibility: 0).
    pub groupid: u32,
    /// `tagid_list`.
    pub tagid_list: Vec<u32>,
    /// `subscribe_scene` (`ADD_SCENE_QR_CODE`, ...).
    pub subscribe_scene: String,
    /// `qr_scene`.
    pub qr_scene: u32,
    /// `qr_scene_str`.
    pub qr_scene_str: String,
}

/// `phone_info` of a getuserphonenumber answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneInfo {
    /// `phoneNumber`: as WeChat writes it (`+<cc>` outside mainland China).
    pub phone_number: String,
    /// `purePhoneNumber`.
    pub pure_phone_number: String,
    /// `countryCode`.
    pub country_code: String,
    /// `watermark.timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `watermark.appid`.
    pub appid: AppId,
}

/// A Tencent Cloud answer: `{"Response":{...,"RequestId"}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TencentReply {
    /// `RequestId`.
    pub request_id: String,
    /// Each number's status, or the error of the whole request.
    pub outcome: Result<Vec<SendStatus>, TcError>,
}
