//! The dashboard: a page over the control plane, served at `/__mock__/ui/` (`/__mock__/ui`
//! redirects there). It shows the apps and users, a live journal, a simulated mini-program, the
//! fault rules, the clock and the options, and does everything through the control plane's own
//! routes, with the control token when the mock has one.
//!
//! The page is plain HTML, CSS and JavaScript modules in `assets/`, with no front-end dependency
//! and no build step: there is nothing to pin, audit or bundle, a fresh clone builds without
//! Node, and the binary embeds the files exactly as they are (`include_bytes!`), so the page
//! works offline and always matches the binary that serves it. Every answer carries a strict
//! Content-Security-Policy (this origin only, no inline script or style).
//!
//! The files are served without the control token: they hold no data. Everything the page shows
//! comes from control-plane calls, which need the token as before; the page asks for it, keeps
//! it in `sessionStorage` and sends it as `Authorization: Bearer <token>`. It polls (the journal
//! once a second with `GET /__mock__/journal?since=<last_seq>`, only what is new) rather than
//! stream: so it needs no route the control plane lacks, and every call carries the token in
//! the header the control plane reads (a browser's `EventSource` cannot send one).
//!
//! Paths under `/__mock__/ui/` without a file extension are the page's screens (`journal`,
//! `faults`, ...): they answer `index.html`, and the page picks the screen from the path. A
//! path with an extension that is no asset is `not_found`.

use std::sync::Arc;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::ControlError;
use crate::shared::Shared;

/// Where the dashboard lives: every asset is under this path.
pub const BASE: &str = "/__mock__/ui/";

/// What the dashboard's answers allow the browser to load: files and calls of this origin only,
/// no inline script or style, no framing, no plugins, forms submitted by script only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; \
                       frame-ancestors 'none'";

/// One embedded file of the dashboard.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Path under [`BASE`].
    pub path: &'static str,
    /// Its Content-Type.
    pub content_type: &'static str,
    /// Its bytes, as in `assets/`.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("assets/", $path)),
        }
    };
}

/// Every file of the dashboard, the page first (a unit test checks this list against `assets/`).
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("favicon.svg", SVG),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("schema.js", JS),
    asset!("token.js", JS),
    asset!("screens/apps.js", JS),
    asset!("screens/journal.js", JS),
    asset!("screens/client.js", JS),
    asset!("screens/faults.js", JS),
    asset!("screens/clock.js", JS),
];

/// The asset at `path` (relative to [`BASE`]).
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The dashboard's routes, relative to `/__mock__`, without the control token.
pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent(BASE) }))
        .route("/ui/", get(|| async { serve(index()) }))
        .route("/ui/{*path}", get(file))
}

/// The page: `index.html`, the table's first row.
fn index() -> &'static Asset {
    &ASSETS[0]
}

/// A file, a screen (the page itself) or `not_found`.
async fn file(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    // The path as sent: asset paths are plain ASCII, so nothing needs decoding.
    let path = uri.path().strip_prefix(BASE).unwrap_or_default();
    if let Some(a) = asset(path) {
        return serve(a);
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return ControlError::NoRoute {
            method: method.to_string(),
            path: uri.path().to_owned(),
        }
        .into_response();
    }
    serve(index())
}

fn serve(a: &'static Asset) -> Response {
    let mut res = a.body.into_response();
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, a.content_type),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // The files change with the binary: the browser asks again rather than keep an old copy.
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;

    fn assets_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/control/ui/assets")
    }

    /// Every file in `assets/` is served, and nothing else is listed.
    #[test]
    fn the_table_lists_every_file_of_the_folder() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).expect("assets folder") {
                let p = entry.expect("entry").path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    let rel = p.strip_prefix(root).expect("under root");
                    out.insert(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        assert_eq!(index().path, "index.html", "the table opens with the page");
        let mut on_disk = BTreeSet::new();
        walk(&assets_dir(), &assets_dir(), &mut on_disk);
        let listed: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        assert_eq!(listed.len(), ASSETS.len(), "an asset is listed twice");
        assert_eq!(listed, on_disk, "ASSETS versus the files in assets/");
    }

    /// The quoted text after each `needle` in `text`.
    fn references<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
        text.match_indices(needle)
            .filter_map(|(i, _)| {
                let rest = &text[i + needle.len()..];
                let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
                rest[1..].split(quote).next()
            })
            .collect()
    }

    /// What the page loads resolves to an asset: the links and scripts of `index.html` (files
    /// under [`BASE`]; its other links are screens, anchors and the OpenAPI document) and every
    /// module's relative imports.
    #[test]
    fn every_reference_of_the_page_is_an_asset() {
        let html = std::str::from_utf8(index().body).expect("UTF-8");
        let mut files = 0;
        for r in references(html, "href=")
            .into_iter()
            .chain(references(html, "src="))
        {
            if r.starts_with('#') || r == "/__mock__/openapi.json" {
                continue;
            }
            let rel = r
                .strip_prefix(BASE)
                .unwrap_or_else(|| panic!("index.html links to {r:?}, outside {BASE}"));
            if rel.contains('.') {
                assert!(
                    asset(rel).is_some(),
                    "index.html loads {r:?}: no such asset"
                );
                files += 1;
            }
        }
        assert!(files >= 3, "index.html loads its style, icon and script");
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = std::str::from_utf8(a.body).expect("UTF-8");
            let dir = a.path.rsplit_once('/').map_or("", |(d, _)| d);
            for r in references(text, " from ") {
                let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
                for seg in r.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    asset(&target).is_some(),
                    "{} imports {r:?} ({target}): no such asset",
                    a.path
                );
            }
        }
    }

    /// Nothing the page loads or calls lies outside this origin, and nothing is inline, which
    /// the policy would block anyway.
    #[test]
    fn the_page_fetches_nothing_from_elsewhere() {
        for a in ASSETS {
            let text = String::from_utf8_lossy(a.body);
            for bad in [
                "http://", "https://", "//cdn", "<style", " style=", "onclick=",
            ] {
                let allowed = a.content_type == SVG && bad == "http://";
                assert!(
                    allowed || !text.contains(bad),
                    "{} contains {bad:?}",
                    a.path
                );
            }
        }
        let html = std::str::from_utf8(index().body).expect("UTF-8");
        assert!(
            !html.contains("<script>") && html.contains("type=\"module\""),
            "index.html runs no inline script, only its module"
        );
    }
}
