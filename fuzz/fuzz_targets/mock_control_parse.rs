//! The mock's control-plane request parsing and validation: any bytes as the body of any
//! control-plane route parse to its type or to `invalid_body`/`invalid_field` (never a panic), and
//! whatever parses goes through the same validation the route runs (fault rules, option patches,
//! clock durations and times, app and user specs applied to a fresh engine) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mock_server::clock::{Timestamp, parse_duration};
use mock_server::config::{AppSpec, Options, SeedFile, UserSpec};
use mock_server::control::{
    ClockRequest, ControlError, PhoneCall, SetTime, ShareInfoCall, UserInfoCall, WeRunCall, WxCall,
    parse_json,
};
use mock_server::faults::{FaultRule, FaultSpec};
use mock_server::journal::JournalFilter;
use mock_server::Clock;
use mock_server::testing::{Engine, Params};
use serde::de::DeserializeOwned;

fn check<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    match parse_json::<T>(data) {
        Ok(v) => Some(v),
        Err(ControlError::InvalidBody(m)) => {
            assert!(!m.is_empty());
            None
        }
        Err(ControlError::InvalidField { field, message }) => {
            // The field may be the empty string: `{"": 1}` names the unknown field ``.
            assert!(!message.is_empty(), "{field:?}: {message:?}");
            None
        }
        Err(other) => panic!("body parsing answered {other:?}"),
    }
}

fn engine() -> Engine {
    Engine::new(
        "fuzz",
        SeedFile::default(),
        Clock::manual(Timestamp::from_secs(1_724_289_297)),
    )
    .expect("the default engine starts")
}

fuzz_target!(|data: &[u8]| {
    let _ = check::<WxCall>(data);
    let _ = check::<PhoneCall>(data);
    let _ = check::<UserInfoCall>(data);
    let _ = check::<ShareInfoCall>(data);
    let _ = check::<WeRunCall>(data);
    if let Some(spec) = check::<FaultSpec>(data) {
        let _ = FaultRule::new(1, spec);
    }
    if let Some(req) = check::<ClockRequest>(data) {
        if let Some(advance) = &req.advance {
            let _ = parse_duration(advance);
        }
        if let Some(SetTime::Text(t)) = &req.set
            && let Some(ts) = Timestamp::parse_rfc3339(t)
        {
            let _ = ts.rfc3339();
        }
    }
    if let Some(patch) = check::<serde_json::Value>(data) {
        let _ = Options::default().patched(&patch);
        let _ = SeedFile::from_json(&patch.to_string());
    }
    let app = check::<AppSpec>(data);
    let user = check::<UserSpec>(data);
    if app.is_some() || user.is_some() {
        let engine = engine();
        let default = engine.default_app().appid;
        if let Some(spec) = app {
            let _ = engine.patch_app(&default, spec.clone());
            let _ = engine.create_app(spec);
        }
        if let Some(spec) = user {
            let _ = engine.create_user(spec.clone());
            let handle = mock_server::ids::UserHandle::new("alice");
            let _ = engine.wx_login(&default, &handle);
            let _ = engine.patch_user(&handle, spec);
        }
        let _ = serde_json::to_string(&engine.state_view()).expect("the state serializes");
    }
    // The same bytes as a query string: the vendor's lenient parser and the journal filter.
    if let Ok(query) = std::str::from_utf8(data) {
        let params = Params::parse(Some(query));
        let _ = params.get("appid");
        let _ = serde_urlencoded::from_str::<JournalFilter>(query);
    }
});
