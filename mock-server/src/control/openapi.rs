//! The control plane's OpenAPI document. `openapi.paths.json` is written by hand: the paths,
//! their parameters, bodies and answers, and the prose. Every schema under `components.schemas`
//! is generated from the types the handlers read and answer ([`document`]). `openapi.json`, the
//! two merged, is checked in and served at `/__mock__/openapi.json`; a test keeps it equal to
//! what [`document`] makes (`UPDATE_OPENAPI=1 cargo test -p mock-server --test it openapi`
//! rewrites it).

use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value};

use super::crypto::UserCryptoCall;
use super::platforms::Authorization;
use super::plugins::PluginLoginCall;
use super::sms::Cleared;
use super::{
    ClockRequest, ClockView, Done, ErrorBody, FaultList, PhoneAnswer, PhoneCall, Removed,
    ShareInfoCall, UserInfoCall, WeRunCall, WxCall,
};
use crate::config::{AppSpec, Options, PlatformSpec, UserSpec};
use crate::engine::{
    AppView, CheckSessionGrant, FollowerSpec, FollowerView, LoginGrant, PaymentSpec, PaymentView,
    PlatformView, PluginLoginGrant, ShareInfoGrant, SmsOutbox, StateView, UserKeyGrant, WeRunGrant,
};
use crate::faults::{FaultRule, FaultSpec};
use crate::journal::{ControlPage, JournalPage};
use crate::opendata::UserInfoGrant;
use crate::tencent::{SmsConfigPatch, SmsConfigView};
use crate::users::UserView;

/// The hand-written part: everything but `components.schemas`.
const PATHS: &str = include_str!("openapi.paths.json");

/// Request bodies, as the handlers read them: a field with a default may be left out.
fn requests(g: &mut SchemaGenerator) {
    g.subschema_for::<Options>();
    g.subschema_for::<AppSpec>();
    g.subschema_for::<UserSpec>();
    g.subschema_for::<WxCall>();
    g.subschema_for::<PhoneCall>();
    g.subschema_for::<UserInfoCall>();
    g.subschema_for::<ShareInfoCall>();
    g.subschema_for::<WeRunCall>();
    g.subschema_for::<ClockRequest>();
    g.subschema_for::<FaultSpec>();
    g.subschema_for::<SmsConfigPatch>();
    g.subschema_for::<PaymentSpec>();
    g.subschema_for::<UserCryptoCall>();
    g.subschema_for::<FollowerSpec>();
    g.subschema_for::<PlatformSpec>();
    g.subschema_for::<Authorization>();
    g.subschema_for::<PluginLoginCall>();
}

/// Answers, as the handlers write them: a field they always send is required.
fn answers(g: &mut SchemaGenerator) {
    g.subschema_for::<ErrorBody>();
    g.subschema_for::<StateView>();
    g.subschema_for::<Done>();
    g.subschema_for::<Options>();
    g.subschema_for::<AppView>();
    g.subschema_for::<UserView>();
    g.subschema_for::<LoginGrant>();
    g.subschema_for::<CheckSessionGrant>();
    g.subschema_for::<PhoneAnswer>();
    g.subschema_for::<UserInfoGrant>();
    g.subschema_for::<ShareInfoGrant>();
    g.subschema_for::<WeRunGrant>();
    g.subschema_for::<ClockView>();
    g.subschema_for::<JournalPage>();
    g.subschema_for::<ControlPage>();
    g.subschema_for::<FaultList>();
    g.subschema_for::<FaultRule>();
    g.subschema_for::<Removed>();
    g.subschema_for::<Cleared>();
    g.subschema_for::<SmsOutbox>();
    g.subschema_for::<SmsConfigView>();
    g.subschema_for::<PaymentView>();
    g.subschema_for::<UserKeyGrant>();
    g.subschema_for::<FollowerView>();
    g.subschema_for::<PlatformView>();
    g.subschema_for::<PluginLoginGrant>();
}

/// A type read with another shape than it is written (a default makes a field optional in a
/// request, required in an answer) has two schemas, told apart by renaming one of them: the
/// request's ...
const REQUEST_NAMES: &[(&str, &str)] = &[("Options", "OptionsPatch")];
/// ... or the answer's.
const ANSWER_NAMES: &[(&str, &str)] = &[("SignSpec", "SignView")];

/// The whole document: `openapi.paths.json` with the generated `components.schemas`.
pub fn document() -> Result<Value, String> {
    let mut doc: Value =
        serde_json::from_str(PATHS).map_err(|e| format!("openapi.paths.json: {e}"))?;
    let schemas = schemas::generate(requests, answers, REQUEST_NAMES, ANSWER_NAMES)?;
    let components = doc
        .get_mut("components")
        .and_then(Value::as_object_mut)
        .ok_or("openapi.paths.json has no `components` object")?;
    components.insert("schemas".into(), Value::Object(schemas));
    Ok(doc)
}

/// Turns generated schemas into `components.schemas`; login-core takes the same steps for its
/// document.
mod schemas {
    use super::*;

    /// Where the schemas go, and where every `$ref` points.
    const COMPONENTS: &str = "/components/schemas";

    fn generator(settings: SchemaSettings) -> SchemaGenerator {
        settings
            .with(|s| {
                s.definitions_path = COMPONENTS.into();
                s.meta_schema = None;
            })
            .into_generator()
    }

    /// The schemas of the request types (read as the server deserialises them) and of the
    /// answer types (as it serialises them), in one map. A name both give with different
    /// schemas must be renamed on one side.
    pub(super) fn generate(
        requests: fn(&mut SchemaGenerator),
        answers: fn(&mut SchemaGenerator),
        request_names: &[(&str, &str)],
        answer_names: &[(&str, &str)],
    ) -> Result<Map<String, Value>, String> {
        let mut de = generator(SchemaSettings::draft2020_12().for_deserialize());
        requests(&mut de);
        let mut read = de.take_definitions(true);
        rename(&mut read, request_names, "request")?;
        let mut ser = generator(SchemaSettings::draft2020_12().for_serialize());
        answers(&mut ser);
        let mut all = ser.take_definitions(true);
        rename(&mut all, answer_names, "answer")?;
        all.values_mut().for_each(close);

        let mut clashes = Vec::new();
        for (name, schema) in read {
            match all.get(&name) {
                Some(written) if *written != schema => clashes.push(name),
                Some(_) => {}
                None => {
                    all.insert(name, schema);
                }
            }
        }
        if !clashes.is_empty() {
            return Err(format!(
                "read with other schemas than they are written: {}; give each request schema a \
                 name of its own",
                clashes.join(", ")
            ));
        }
        all.values_mut().for_each(unwrap_descriptions);
        Ok(all)
    }

    fn rename(
        schemas: &mut Map<String, Value>,
        names: &[(&str, &str)],
        side: &str,
    ) -> Result<(), String> {
        for (name, renamed) in names {
            let schema = schemas
                .remove(*name)
                .ok_or_else(|| format!("`{name}` is not among the {side} schemas"))?;
            schemas.insert((*renamed).to_owned(), schema);
            let from = format!("#{COMPONENTS}/{name}");
            let to = format!("#{COMPONENTS}/{renamed}");
            schemas
                .values_mut()
                .for_each(|s| rename_refs(s, &from, &to));
        }
        Ok(())
    }

    /// An answer carries the fields its type declares and no others: its objects say so, so a
    /// test that meets any other field fails.
    fn close(v: &mut Value) {
        match v {
            Value::Object(o) => {
                if o.contains_key("properties") && !o.contains_key("additionalProperties") {
                    o.insert("additionalProperties".into(), false.into());
                }
                o.values_mut().for_each(close);
            }
            Value::Array(xs) => xs.iter_mut().for_each(close),
            _ => {}
        }
    }

    fn rename_refs(v: &mut Value, from: &str, to: &str) {
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    if k == "$ref" && x.as_str() == Some(from) {
                        *x = to.into();
                    } else {
                        rename_refs(x, from, to);
                    }
                }
            }
            Value::Array(xs) => xs.iter_mut().for_each(|x| rename_refs(x, from, to)),
            _ => {}
        }
    }

    /// Doc comments keep their line breaks; a description reads better with a paragraph's lines
    /// joined (blank lines and list items stay).
    fn unwrap_descriptions(v: &mut Value) {
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    match x {
                        Value::String(text) if k == "description" => *text = unwrap(text),
                        _ => unwrap_descriptions(x),
                    }
                }
            }
            Value::Array(xs) => xs.iter_mut().for_each(unwrap_descriptions),
            _ => {}
        }
    }

    fn unwrap(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut paragraph_ends = true;
        for line in text.lines().map(str::trim) {
            if line.is_empty() {
                if !paragraph_ends {
                    out.push_str("\n\n");
                    paragraph_ends = true;
                }
                continue;
            }
            if !paragraph_ends {
                out.push(if line.starts_with("- ") { '\n' } else { ' ' });
            }
            out.push_str(line);
            paragraph_ends = false;
        }
        out.truncate(out.trim_end().len());
        out
    }
}
