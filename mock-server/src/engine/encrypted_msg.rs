//! `wxa/business/checkencryptedmsg`: whether WeChat issued an `encryptedData` (`wechat-api.md`
//! 7a). Only phone-number data counts, and only for 3 days: every legacy phone payload the
//! simulated button hands out is recorded here by the hex SHA-256 of its base64 text, with the
//! time it was made.
//!
//! The hash is over the base64 text, not the decoded bytes: the docs' own example pairs the
//! base64 `hsSuSUse...PA==` with `657edd86...0b2c`, its SHA-256 as text (a unit test holds the
//! vector), and the text is what SDK users have in hand. A hash of the decoded bytes is
//! therefore not found.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Map, State, tokens};
use crate::catalogue::WxError;
use crate::clock::Timestamp;
use crate::config::UnknownEncryptedMsg;
use crate::ids::{AppId, UserHandle};
use crate::reply::{Answer, Reply};
use crate::request::{EncryptedMsgCheck, VendorRequest};

/// How long issued phone-number data can be checked: "only data generated in the last 3 days".
pub const PHONE_DATA_TTL: Duration = Duration::from_secs(3 * 86_400);

struct Issued {
    appid: AppId,
    user: UserHandle,
    created: Timestamp,
}

/// Phone-number encryptedData issued in the last 3 days, by the hex SHA-256 of its base64 text.
#[derive(Default)]
pub(super) struct EncryptedMsgs {
    issued: Map<String, Issued>,
}

impl EncryptedMsgs {
    pub fn sweep(&mut self, now: Timestamp) {
        self.issued.retain(|_, i| live(i, now));
    }

    pub fn count(&self) -> usize {
        self.issued.len()
    }
}

fn live(issued: &Issued, now: Timestamp) -> bool {
    issued.created.plus(PHONE_DATA_TTL) > now
}

/// `encrypted_msg_hash` of an `encryptedData`: lowercase hex SHA-256 of its base64 text.
pub fn encrypted_msg_hash(encrypted_data: &str) -> String {
    hex::encode(Sha256::digest(encrypted_data.as_bytes()))
}

/// Records phone-number `encrypted_data` issued to `user` of `appid` at `now`; returns its hash.
pub(super) fn record(
    st: &mut State,
    appid: &AppId,
    user: &UserHandle,
    encrypted_data: &str,
    now: Timestamp,
) -> String {
    let hash = encrypted_msg_hash(encrypted_data);
    st.encrypted_msgs.issued.insert(
        hash.clone(),
        Issued {
            appid: appid.clone(),
            user: user.clone(),
            created: now,
        },
    );
    hash
}

/// Whether a hash as sent is one: 64 hex digits, in either case (RFC 4648's Base16 is upper
/// case, most hex encoders write lower case).
fn is_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The issue record a hash as sent names.
fn lookup<'a>(st: &'a State, hash: &str) -> Option<&'a Issued> {
    if !is_hash(hash) {
        return None;
    }
    st.encrypted_msgs.issued.get(&hash.to_ascii_lowercase())
}

/// `POST /wxa/business/checkencryptedmsg?access_token` with `{"encrypted_msg_hash"}`.
pub(super) fn check_encrypted_msg(
    st: &State,
    req: &VendorRequest,
    call: &EncryptedMsgCheck,
    now: Timestamp,
) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let mut user = None;
    let result = judge(st, req, call, token.clone(), now, &mut user);
    Answer {
        result,
        appid: token.ok(),
        user,
        tencent: None,
    }
}

/// The checks in order: method, token, body (44002 none, 47001 not a JSON object), 40097 a hash
/// missing or not 64 hex digits (Base16 in either case); then data of this app issued less than
/// 3 days ago is `vaild`, anything else answers as `checkencryptedmsg_unknown` says.
fn judge(
    st: &State,
    req: &VendorRequest,
    call: &EncryptedMsgCheck,
    token: Result<AppId, WxError>,
    now: Timestamp,
    who: &mut Option<UserHandle>,
) -> Result<Reply, WxError> {
    if !req.method_allowed() {
        return Err(WxError::RequirePost);
    }
    let appid = token?;
    let hash = call.body.as_ref().map_err(|e| *e)?;
    let hash = hash
        .as_deref()
        .filter(|h| is_hash(h))
        .ok_or(WxError::InvalidArgs)?;
    match lookup(st, hash).filter(|i| i.appid == appid && live(i, now)) {
        Some(issued) => {
            *who = Some(issued.user.clone());
            Ok(Reply::EncryptedMsg {
                create_time: Some(issued.created.secs()),
            })
        }
        None => match st.options.checkencryptedmsg_unknown {
            UnknownEncryptedMsg::Errcode1 => Err(WxError::DataNotExist),
            UnknownEncryptedMsg::VaildFalse => Ok(Reply::EncryptedMsg { create_time: None }),
        },
    }
}

/// App and user of a checkencryptedmsg request: the token's app, the user the data was issued
/// to.
pub(super) fn context(
    st: &State,
    call: &EncryptedMsgCheck,
    now: Timestamp,
) -> (Option<AppId>, Option<UserHandle>) {
    let appid = tokens::token_app(st, call.access_token.as_deref(), now).ok();
    let user = match &call.body {
        Ok(Some(hash)) => lookup(st, hash)
            .filter(|i| Some(&i.appid) == appid.as_ref())
            .map(|i| i.user.clone()),
        _ => None,
    };
    (appid, user)
}

#[cfg(test)]
mod tests {
    use super::encrypted_msg_hash;

    #[test]
    fn the_hash_is_over_the_base64_text_as_in_the_docs_example() {
        // The checkEncryptedData docs' example: this encryptedData and this hash.
        let data = "hsSuSUsePBqSQw2rYMtf9Nvha603xX8f2BMQBcYRoJiMNwOqt/UEhrqekebG5ar0LFNAm5MD4Uz6zorRwiXJwbySJ/FEJHav4NsobBIU1PwdjbJWVQLFy7+YFkHB32OnQXWMh6ugW7Dyk2KS5BXp1f5lniKPp1KNLyNLlFlNZ2mgJCJmWvHj5AI7BLpWwoRvqRyZvVXo+9FsWqvBdxmAPA==";
        assert_eq!(
            encrypted_msg_hash(data),
            "657edd868c9715a9bebe42b833269a557a48498785397a796f1568c29a200b2c"
        );
    }
}
