//! login-core's request parsing: any bytes as the body of `POST /api/login`, `/api/me/profile`
//! and `/api/me/phone` give the DTO or an `invalid_json`/`invalid_field` error with a reason
//! (the field may be the empty name, for `{"": 1}`), never a panic; an accepted body is one
//! JSON object; codes in accepted bodies go through the code checks without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use login_core::http::dto::{LoginBody, PhoneBody, ProfileBody};
use login_core::http::error::HttpError;
use login_core::http::extract::parse_json;
use login_core::ids::{JsCode, PhoneCode};
use login_core::service::Error;
use serde::de::DeserializeOwned;

fn check<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    match parse_json::<T>(data) {
        Ok(body) => {
            let first = data.iter().find(|b| !b.is_ascii_whitespace());
            assert_eq!(first, Some(&b'{'), "an accepted body is an object");
            serde_json::from_slice::<serde::de::IgnoredAny>(data)
                .expect("an accepted body is one JSON value with nothing after it");
            Some(body)
        }
        Err(HttpError::Service(Error::InvalidField { field, reason })) => {
            // The field may be the empty string: `{"": 1}` names the unknown field ``.
            assert!(!reason.is_empty(), "{field:?}: {reason:?}");
            None
        }
        Err(HttpError::InvalidJson(message)) => {
            assert!(!message.is_empty());
            None
        }
        Err(other) => panic!("body parsing answered {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(body) = check::<LoginBody>(data) {
        let _ = JsCode::parse(&body.code);
    }
    if let Some(body) = check::<PhoneBody>(data)
        && let Some(code) = body.code
    {
        let _ = PhoneCode::parse(&code);
    }
    let _ = check::<ProfileBody>(data);
});
