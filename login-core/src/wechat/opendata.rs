//! Decrypted open data as WeChat lays it out: the user-info and phone-number payloads, mapped to
//! the domain's [`Profile`] and [`PhoneInfo`]. Fields are read leniently: one of an unexpected
//! type counts as absent, so only what the domain needs can refuse a payload.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::domain::{PhoneInfo, Profile};

/// `wx.getUserInfo` / `wx.getUserProfile` data, decrypted (the watermark read elsewhere).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoData {
    #[serde(default, deserialize_with = "text")]
    nick_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    avatar_url: Option<String>,
    #[serde(default, deserialize_with = "integer")]
    gender: Option<i64>,
    #[serde(default, deserialize_with = "text")]
    language: Option<String>,
    #[serde(default, deserialize_with = "text")]
    city: Option<String>,
    #[serde(default, deserialize_with = "text")]
    province: Option<String>,
    #[serde(default, deserialize_with = "text")]
    country: Option<String>,
}

/// The legacy getPhoneNumber data, decrypted. Numbers are taken as text too: WeChat's docs
/// show `countryCode` as a number.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneData {
    #[serde(default, deserialize_with = "digits")]
    phone_number: Option<String>,
    #[serde(default, deserialize_with = "digits")]
    pure_phone_number: Option<String>,
    #[serde(default, deserialize_with = "digits")]
    country_code: Option<String>,
}

/// What a payload lacks for the domain type it should give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("open data without {0}")]
pub struct MissingField(pub &'static str);

impl TryFrom<UserInfoData> for Profile {
    type Error = MissingField;

    fn try_from(d: UserInfoData) -> Result<Self, MissingField> {
        Ok(Profile {
            nick_name: Some(d.nick_name.ok_or(MissingField("nickName"))?),
            avatar_url: d.avatar_url,
            gender: d.gender,
            language: d.language,
            city: d.city,
            province: d.province,
            country: d.country,
        })
    }
}

impl TryFrom<PhoneData> for PhoneInfo {
    type Error = MissingField;

    fn try_from(d: PhoneData) -> Result<Self, MissingField> {
        Ok(PhoneInfo {
            phone_number: d.phone_number.ok_or(MissingField("phoneNumber"))?,
            pure_phone_number: d.pure_phone_number.ok_or(MissingField("purePhoneNumber"))?,
            country_code: d.country_code.ok_or(MissingField("countryCode"))?,
        })
    }
}

/// A string; anything else is absent.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// A string, or a number as its text; anything else is absent.
fn digits<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// An integer that fits an `i64`; anything else is absent.
fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Value::deserialize(d)?.as_i64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).expect("any object reads")
    }

    #[test]
    fn user_info_needs_a_nickname_and_drops_fields_of_other_types() {
        let p = Profile::try_from(read::<UserInfoData>(
            r#"{"nickName":"n","avatarUrl":7,"gender":1.5,"city":"c","extra":[]}"#,
        ))
        .expect("a nickname");
        assert_eq!(p.nick_name.as_deref(), Some("n"));
        assert_eq!((p.avatar_url, p.gender), (None, None));
        assert_eq!(p.city.as_deref(), Some("c"));
        assert_eq!(
            Profile::try_from(read::<UserInfoData>(r#"{"nickName":null}"#)),
            Err(MissingField("nickName"))
        );
    }

    #[test]
    fn phone_data_takes_numbers_as_text_and_needs_all_three() {
        let p = PhoneInfo::try_from(read::<PhoneData>(
            r#"{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":86}"#,
        ))
        .expect("complete");
        assert_eq!(p.country_code, "86");
        assert_eq!(
            PhoneInfo::try_from(read::<PhoneData>(
                r#"{"phoneNumber":"1","countryCode":"86"}"#
            )),
            Err(MissingField("purePhoneNumber"))
        );
    }
}
