//! Phone numbers as SendSms takes them. `PhoneNumberSet` is E.164, `+[country code][number]`
//! (`+8618501234444`); for the Chinese mainland `0086`, `86` or the bare 11 digits also mean +86
//! (SendSmsRequest.PhoneNumberSet, tencentcloud-sdk-python `sms/v20210111/models.py`). A
//! status's `IsoCode` is the number's region, `DEF` when not recognised (SendStatus.IsoCode,
//! same file).
//!
//! Mainland numbers must be mobile numbers (`1[3-9]` and nine more digits); elsewhere the mock
//! only checks the E.164 shape (a known calling code is not required: the region is then `DEF`).

/// A number SendSms accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber {
    /// `+` and the digits: the key rate limits and the outbox use.
    pub e164: String,
    /// ISO 3166 alpha-2 of the calling code (`CN`), `DEF` when not in the mock's table.
    pub iso_code: &'static str,
}

impl PhoneNumber {
    /// Whether it is a Chinese mainland number (+86).
    pub fn is_mainland(&self) -> bool {
        self.e164.starts_with("+86")
    }
}

/// Calling codes the mock names the region of; longest prefix wins.
const CALLING_CODES: &[(&str, &str)] = &[
    ("1", "US"),
    ("7", "RU"),
    ("20", "EG"),
    ("27", "ZA"),
    ("30", "GR"),
    ("31", "NL"),
    ("32", "BE"),
    ("33", "FR"),
    ("34", "ES"),
    ("39", "IT"),
    ("41", "CH"),
    ("43", "AT"),
    ("44", "GB"),
    ("45", "DK"),
    ("46", "SE"),
    ("47", "NO"),
    ("48", "PL"),
    ("49", "DE"),
    ("52", "MX"),
    ("55", "BR"),
    ("60", "MY"),
    ("61", "AU"),
    ("62", "ID"),
    ("63", "PH"),
    ("64", "NZ"),
    ("65", "SG"),
    ("66", "TH"),
    ("81", "JP"),
    ("82", "KR"),
    ("84", "VN"),
    ("86", "CN"),
    ("90", "TR"),
    ("91", "IN"),
    ("92", "PK"),
    ("234", "NG"),
    ("254", "KE"),
    ("351", "PT"),
    ("353", "IE"),
    ("358", "FI"),
    ("852", "HK"),
    ("853", "MO"),
    ("855", "KH"),
    ("856", "LA"),
    ("880", "BD"),
    ("886", "TW"),
    ("966", "SA"),
    ("971", "AE"),
];

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A mainland mobile number without its country code.
fn is_mainland_mobile(national: &str) -> bool {
    national.len() == 11
        && all_digits(national)
        && national.starts_with('1')
        && matches!(national.as_bytes().get(1), Some(b'3'..=b'9'))
}

/// The number a `PhoneNumberSet` entry names, or `None` (IncorrectPhoneNumber).
pub fn parse(s: &str) -> Option<PhoneNumber> {
    let digits = if let Some(rest) = s.strip_prefix('+') {
        rest
    } else if let Some(rest) = s.strip_prefix("0086") {
        return mainland(rest);
    } else if s.len() == 13 && s.starts_with("86") {
        return mainland(&s[2..]);
    } else if s.len() == 11 {
        return mainland(s);
    } else {
        return None;
    };
    if !all_digits(digits) || digits.len() > 15 {
        return None;
    }
    if let Some(national) = digits.strip_prefix("86") {
        return mainland(national);
    }
    let (code, iso) = CALLING_CODES
        .iter()
        .filter(|(code, _)| digits.starts_with(code))
        .max_by_key(|(code, _)| code.len())
        .copied()
        .unwrap_or(("", "DEF"));
    // At least a few digits after the calling code (E.164 numbers have 8 to 15 digits).
    if digits.len() < 8 || digits.len() - code.len() < 4 {
        return None;
    }
    Some(PhoneNumber {
        e164: format!("+{digits}"),
        iso_code: iso,
    })
}

fn mainland(national: &str) -> Option<PhoneNumber> {
    is_mainland_mobile(national).then(|| PhoneNumber {
        e164: format!("+86{national}"),
        iso_code: "CN",
    })
}

/// A phone filter of the control plane in E.164: as [`parse`], and a leading space is the `+` a
/// query string's form decoding turned into one (`?phone=+8613800138000`).
pub fn normalize_filter(s: &str) -> Option<String> {
    let s = match s.strip_prefix(' ') {
        Some(rest) if all_digits(rest) => format!("+{rest}"),
        _ => s.to_owned(),
    };
    parse(&s).map(|p| p.e164)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(s: &str) -> Option<String> {
        parse(s).map(|p| p.e164)
    }

    #[test]
    fn mainland_forms_all_mean_plus_86() {
        for form in [
            "+8613800138000",
            "008613800138000",
            "8613800138000",
            "13800138000",
        ] {
            assert_eq!(e164(form).as_deref(), Some("+8613800138000"), "{form}");
        }
        let p = parse("13800138000").unwrap();
        assert!(p.is_mainland());
        assert_eq!(p.iso_code, "CN");
    }

    #[test]
    fn mainland_numbers_must_be_mobile_numbers() {
        for bad in [
            "+861380013800",   // 10 digits
            "+86138001380001", // 12 digits
            "+8612800138000",  // 12x is no mobile prefix
            "+8602012345678",  // a landline
            "1380013800a",
            "138 0013 8000",
            "",
            "+",
            "+86",
            "++8613800138000",
            "+86-13800138000",
        ] {
            assert_eq!(e164(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn international_numbers_name_their_region() {
        let us = parse("+14155550100").unwrap();
        assert_eq!((us.e164.as_str(), us.iso_code), ("+14155550100", "US"));
        assert!(!us.is_mainland());
        assert_eq!(parse("+85291234567").unwrap().iso_code, "HK");
        assert_eq!(parse("+447911123456").unwrap().iso_code, "GB");
        // A calling code outside the table: DEF, as Tencent answers for unrecognised regions.
        assert_eq!(parse("+99912345678").unwrap().iso_code, "DEF");
        assert_eq!(e164("+1234"), None);
        assert_eq!(e164("+1234567890123456"), None, "16 digits");
        assert_eq!(e164("0014155550100"), None, "00 only for 0086");
    }

    #[test]
    fn filters_accept_the_plus_a_query_string_decoded_to_a_space() {
        assert_eq!(
            normalize_filter(" 8613800138000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            normalize_filter("13800138000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(normalize_filter(" x"), None);
    }
}
