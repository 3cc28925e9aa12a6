//! The control plane's OpenAPI document: `src/control/openapi.json` is what
//! `control::openapi::document()` makes (hand-written paths, schemas generated from the types),
//! it is what the server serves, and it documents exactly the routes of `ROUTES`. After a change
//! to a request or answer type or to `openapi.paths.json`:
//! `UPDATE_OPENAPI=1 cargo test -p mock-server --test it openapi` rewrites it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use mock_server::control::{ROUTES, openapi};
use serde_json::Value;

use crate::helpers::TestMock;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The generated document as the checked-in file holds it.
fn generated_text() -> String {
    let doc = openapi::document().unwrap_or_else(|e| panic!("the document: {e}"));
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON");
    text.push('\n');
    text
}

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/control/openapi.json");
    let want = generated_text();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &want).expect("write the document");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let diff = similar::TextDiff::from_lines(&have, &want);
        panic!(
            "{} is not what the types and openapi.paths.json make; regenerate it with\n\n    \
             UPDATE_OPENAPI=1 cargo test -p mock-server --test it openapi\n\n{}",
            path.display(),
            diff.unified_diff()
                .context_radius(3)
                .header("checked in", "generated")
        );
    }
}

#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    let t = TestMock::new().await;
    let r = t.get("/__mock__/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(r.body, generated_text());
}
