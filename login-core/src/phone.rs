//! Phone numbers typed by users: the two forms accepted, the country code split off, and the
//! forms the store keeps and the SMS gateway is sent.
//!
//! Accepted (spaces and hyphens between digits are ignored):
//!
//! - **E.164**: `+`, the country calling code, the number: `+8613800138000`, `+85251234567`,
//!   `+14155550123`; 7 to 15 digits in all.
//! - **A mainland China mobile number** without prefix: 11 digits starting with 1
//!   (`13800138000`), read as `+86`.
//!
//! The country code is split off by ITU-T E.164's assignment, which is prefix-free: `1` and `7`
//! are one digit, the 2-digit codes are listed below, every other code has three digits. So
//! `+852…` is Hong Kong (852) and `+86…` mainland China (86) without a table of every country.
//! The result is keyed like WeChat's `phone_info` (`countryCode` + `purePhoneNumber`), so one
//! number is one key whether it came from an SMS login, a password login or WeChat.

use std::fmt;

use crate::domain::PhoneInfo;

/// The 2-digit country calling codes (every other code beginning with these digits' first
/// digit, except `1` and `7`, has three digits).
const TWO_DIGIT_CODES: [&str; 44] = [
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// Blocks of 3-digit codes of which none is assigned.
const SPARE_BLOCKS: [&str; 3] = ["28", "83", "89"];

/// A phone number: country calling code and national number, digits only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    country_code: String,
    national: String,
}

/// Why a typed number was refused; the message says which forms are accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but separators.
    #[error("must not be empty")]
    Empty,
    /// A character other than digits, a leading `+`, spaces and hyphens.
    #[error(
        "may contain only digits, a leading +, spaces and hyphens (e.g. +8613800138000 or 13800138000)"
    )]
    BadChar,
    /// Without `+`, anything but a mainland mobile number.
    #[error(
        "without a leading + only an 11-digit mainland China mobile number (13800138000) is accepted; write other numbers as +<country code><number>"
    )]
    NotMainland,
    /// An E.164 number of the wrong length.
    #[error("an international number has 7 to 15 digits after the + (country code included)")]
    BadLength,
    /// No country calling code starts like this.
    #[error("+{0}… is not a country calling code")]
    UnknownCountry(String),
    /// A +86 number that is not a mobile number.
    #[error("a mainland China number (+86) must be a mobile number: 11 digits starting with 1")]
    NotMobile,
}

impl PhoneNumber {
    /// Reads a number typed by a user (see the module docs for the forms).
    pub fn parse(text: &str) -> Result<Self, PhoneError> {
        let trimmed = text.trim();
        let (international, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => return Err(PhoneError::BadChar),
            }
        }
        if digits.is_empty() {
            return Err(if international || rest.trim().is_empty() {
                PhoneError::Empty
            } else {
                PhoneError::BadChar
            });
        }
        if !international {
            return if is_mainland_mobile(&digits) {
                Ok(Self {
                    country_code: "86".into(),
                    national: digits,
                })
            } else {
                Err(PhoneError::NotMainland)
            };
        }
        if !(7..=15).contains(&digits.len()) {
            return Err(PhoneError::BadLength);
        }
        let code_len = country_code_len(&digits)?;
        let (code, national) = digits.split_at(code_len);
        if code == "86" && !is_mainland_mobile(national) {
            return Err(PhoneError::NotMobile);
        }
        if national.len() < 4 {
            return Err(PhoneError::BadLength);
        }
        Ok(Self {
            country_code: code.to_owned(),
            national: national.to_owned(),
        })
    }

    /// The number as WeChat gives it (`countryCode`, `purePhoneNumber`, and `phoneNumber`,
    /// which carries the `+` and country code for numbers outside mainland China), or `None`
    /// if WeChat's digits are not a number this module would accept.
    pub fn from_info(info: &PhoneInfo) -> Option<Self> {
        Self::parse(&format!("+{}{}", info.country_code, info.pure_phone_number))
            .ok()
            .filter(|n| n.country_code == info.country_code)
    }

    /// The country calling code (`86`).
    pub fn country_code(&self) -> &str {
        &self.country_code
    }

    /// The national number (`13800138000`).
    pub fn national(&self) -> &str {
        &self.national
    }

    /// `+8613800138000`: what the SMS gateway is sent, and the key of rate limits.
    pub fn e164(&self) -> String {
        format!("+{}{}", self.country_code, self.national)
    }

    /// The number in WeChat's three fields, as the store keeps and clients see bound numbers.
    pub fn info(&self) -> PhoneInfo {
        PhoneInfo {
            phone_number: if self.country_code == "86" {
                self.national.clone()
            } else {
                self.e164()
            },
            pure_phone_number: self.national.clone(),
            country_code: self.country_code.clone(),
        }
    }

    /// `+86 138****8000`: enough to tell numbers apart in a log, not to dial them.
    pub fn masked(&self) -> String {
        let n = &self.national;
        let keep = n.len() / 3;
        let head = &n[..keep.min(3)];
        let tail = &n[n.len() - (keep + 1).min(4)..];
        let hidden = n.len() - head.len() - tail.len();
        format!("+{} {head}{}{tail}", self.country_code, "*".repeat(hidden))
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// 11 digits starting with 1.
fn is_mainland_mobile(digits: &str) -> bool {
    digits.len() == 11 && digits.starts_with('1')
}

/// How many leading digits of `digits` (an E.164 number without `+`) are the country code.
fn country_code_len(digits: &str) -> Result<usize, PhoneError> {
    let unknown = || PhoneError::UnknownCountry(digits.chars().take(3).collect());
    match digits.as_bytes().first() {
        Some(b'0') | None => Err(unknown()),
        Some(b'1' | b'7') => Ok(1),
        Some(_) => {
            let two = digits.get(..2).ok_or_else(unknown)?;
            if TWO_DIGIT_CODES.contains(&two) {
                Ok(2)
            } else if SPARE_BLOCKS.contains(&two) {
                Err(unknown())
            } else {
                Ok(3)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (String, String) {
        let n = PhoneNumber::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (n.country_code().to_owned(), n.national().to_owned())
    }

    #[test]
    fn both_forms_split_the_country_code() {
        let cn = ("86".to_owned(), "13800138000".to_owned());
        assert_eq!(parts("13800138000"), cn);
        assert_eq!(parts("+8613800138000"), cn);
        assert_eq!(parts(" +86 138-0013-8000 "), cn);
        assert_eq!(parts("+85251234567"), ("852".into(), "51234567".into()));
        assert_eq!(parts("+85362123456"), ("853".into(), "62123456".into()));
        assert_eq!(parts("+886912345678"), ("886".into(), "912345678".into()));
        assert_eq!(parts("+14155550123"), ("1".into(), "4155550123".into()));
        assert_eq!(parts("+447700900123"), ("44".into(), "7700900123".into()));
        assert_eq!(parts("+79161234567"), ("7".into(), "9161234567".into()));
        assert_eq!(parts("+6834002"), ("683".into(), "4002".into()));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let err = |t: &str| PhoneNumber::parse(t).expect_err(t);
        assert_eq!(err(""), PhoneError::Empty);
        assert_eq!(err("  "), PhoneError::Empty);
        assert_eq!(err("+"), PhoneError::Empty);
        assert_eq!(err("+ -"), PhoneError::Empty);
        assert_eq!(err("138001380OO"), PhoneError::BadChar);
        assert_eq!(err("(+86)13800138000"), PhoneError::BadChar);
        assert_eq!(err("++8613800138000"), PhoneError::BadChar);
        assert_eq!(err("+86１3800138000"), PhoneError::BadChar);
        assert_eq!(err("23800138000"), PhoneError::NotMainland);
        assert_eq!(err("1380013800"), PhoneError::NotMainland);
        assert_eq!(err("008613800138000"), PhoneError::NotMainland);
        assert_eq!(err("+123456"), PhoneError::BadLength);
        assert_eq!(err("+1234567890123456"), PhoneError::BadLength);
        assert_eq!(
            err("+0861380013800"),
            PhoneError::UnknownCountry("086".into())
        );
        assert_eq!(
            err("+28012345678"),
            PhoneError::UnknownCountry("280".into())
        );
        assert_eq!(err("+861012345678"), PhoneError::NotMobile);
        assert_eq!(err("+86138001380"), PhoneError::NotMobile);
        assert_eq!(err("+852123"), PhoneError::BadLength);
        assert!(err("x").to_string().contains("+8613800138000"));
    }

    #[test]
    fn forms_for_wechat_the_gateway_and_logs() {
        let cn = PhoneNumber::parse("13800138000").expect("parses");
        assert_eq!(cn.e164(), "+8613800138000");
        assert_eq!(cn.info().phone_number, "13800138000");
        assert_eq!(cn.masked(), "+86 138****8000");
        assert_eq!(format!("{cn:?}"), "PhoneNumber(+86 138****8000)");
        let hk = PhoneNumber::parse("+85251234567").expect("parses");
        let info = hk.info();
        assert_eq!(info.phone_number, "+85251234567");
        assert_eq!(info.pure_phone_number, "51234567");
        assert_eq!(info.country_code, "852");
        assert_eq!(PhoneNumber::from_info(&info), Some(hk.clone()));
        assert!(!hk.masked().contains("51234567"));
        let wrong = PhoneInfo {
            country_code: "8".into(),
            ..info
        };
        assert_eq!(PhoneNumber::from_info(&wrong), None);
        let short = PhoneNumber::parse("+6834002").expect("parses");
        assert_eq!(short.masked(), "+683 4*02");
    }
}
