//! The vendor surface's single entry point: every request outside `/__mock__/` comes here, is
//! parsed once into a typed request (before the engine's lock), checked against the fault rules,
//! judged by the engine, rendered (`wire.rs`), and journaled, in that order and in one place, so
//! what the journal says and what the client got cannot drift apart.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, Response, StatusCode, header};
use bytes::Bytes;

use crate::catalogue::WxError;
use crate::clock::Stopwatch;
use crate::endpoint::{Endpoint, Vendor};
use crate::engine::Arrival;
use crate::faults::{FaultAction, Transport};
use crate::journal::{self, Record};
use crate::listener::ConnCtl;
use crate::reply::{Answer, Reply};
use crate::request::{self, VendorRequest};
use crate::shared::Shared;
use crate::tencent::TcCode;
use crate::wire::{self, Rendered};

/// Largest request body read; more gets the gateway's 413 page.
pub const MAX_BODY: usize = 1 << 20;

/// How the connection ends after the response is handed over.
enum Ending {
    Normal,
    Truncated,
    Cut(Transport),
}

/// Handles any vendor request.
pub async fn entry(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnCtl>,
    request: Request,
) -> Response<Body> {
    let watch = Stopwatch::start();
    let engine = &shared.engine;
    let now = engine.clock().now();
    let (parts, body) = request.into_parts();
    let endpoint = Endpoint::of_path(parts.uri.path());
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let oversized = body.is_err();
    let req = VendorRequest::parse(
        endpoint,
        parts.method == Method::POST,
        parts.uri.query(),
        &parts.headers,
        body.unwrap_or_default(),
    );
    let arrival = engine.arrive(&req, oversized);
    let delay = arrival.plan.as_ref().and_then(|p| p.delay);
    let call = Pending {
        method: parts.method,
        target: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |t| t.as_str().to_owned()),
        req,
        oversized,
        arrival,
        now,
        watch,
    };
    match delay {
        None => finish(&shared, &conn, call),
        Some(delay) => {
            // Latency is real time: the client's timeout runs on the wall clock. The delayed
            // work runs in its own task, as WeChat's servers go on with a request whose client
            // hung up: the code is still spent and the journal still records it. The task ends
            // once the delay is over.
            let task = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                finish(&shared, &conn, call)
            });
            task.await.unwrap_or_else(|_| {
                wire::response(
                    &wire::gateway_page(StatusCode::BAD_GATEWAY),
                    now,
                    Body::empty(),
                )
            })
        }
    }
}

/// A parsed vendor request on its way to an answer.
struct Pending {
    method: Method,
    /// The request target (path and query), copied out of the request's buffer.
    target: String,
    req: VendorRequest,
    oversized: bool,
    /// The fault rule that fired, and the engine's answer when it was given on arrival.
    arrival: Arrival,
    now: crate::clock::Timestamp,
    watch: Stopwatch,
}

/// What a request was answered, before it goes on the wire.
pub(crate) struct Responded {
    /// The body and status.
    pub rendered: Rendered,
    /// How the connection ends.
    ending: Ending,
    /// The app the request concerned.
    pub appid: Option<crate::ids::AppId>,
    /// The user the request concerned.
    pub user: Option<crate::ids::UserHandle>,
    /// The Tencent Cloud code answered, if any.
    pub tencent_code: Option<&'static str>,
    /// The fault rule that shaped the answer, as the journal words it.
    pub fault: Option<String>,
}

impl Responded {
    /// The HTTP status answered (0 when the connection was dropped or reset).
    pub fn status(&self) -> u16 {
        match self.ending {
            Ending::Cut(_) => 0,
            _ => self.rendered.status.as_u16(),
        }
    }

    /// Whether the answer went out whole (no truncated body, no cut connection).
    pub fn whole(&self) -> bool {
        matches!(self.ending, Ending::Normal)
    }
}

/// Decides and renders the answer to a request that arrived (after any delay): the engine's
/// answer, or what the fault rule that fired says instead.
pub(crate) fn respond(
    shared: &Shared,
    req: &VendorRequest,
    path: &str,
    arrival: Arrival,
    oversized: bool,
    now: crate::clock::Timestamp,
) -> Responded {
    let Arrival {
        style,
        plan,
        answer,
        endpoint,
    } = arrival;
    let engine = &shared.engine;
    // A fault's answer in the endpoint's vendor's words: the body a failing server starts to
    // send before the connection breaks is a system error of its catalogue.
    let tencent_fault = |code: TcCode| wire::tencent(&engine.tencent_fault(code, req));
    let render_err = |e: WxError| match endpoint.vendor() {
        Vendor::WeChat => wire::render(endpoint, path, &Err(e), now, style, &shared.rids),
        Vendor::TencentCloud => tencent_fault(TcCode::InternalError),
    };
    let mut tencent_code = None;
    let (rendered, ending, appid, user) = match plan.as_ref().map(|p| (p.action, p)) {
        _ if oversized => (
            wire::gateway_page(StatusCode::PAYLOAD_TOO_LARGE),
            Ending::Normal,
            None,
            None,
        ),
        None | Some((None, _)) => {
            // Answered on arrival, unless a delay-only rule held the request back.
            let mut answer: Answer = answer.unwrap_or_else(|| engine.answer(req));
            // rid/get reads the journal, whose lock is never held with the engine's: the engine
            // judged the token and the rid, the journal answers what the rid names.
            if let Ok(Reply::RidQuery { appid, rid }) = &answer.result {
                answer.result = shared.journal.rid_info(appid, rid, now);
            }
            tencent_code = answer.tencent;
            let r = wire::render(endpoint, path, &answer.result, now, style, &shared.rids);
            (r, Ending::Normal, answer.appid, answer.user)
        }
        Some((Some(action), p)) => {
            let (r, ending) = match action {
                FaultAction::Error(e) => (render_err(e), Ending::Normal),
                FaultAction::Tencent(code) => {
                    tencent_code = Some(code.code());
                    (tencent_fault(code), Ending::Normal)
                }
                FaultAction::Status(s) => (
                    wire::gateway_page(StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY)),
                    Ending::Normal,
                ),
                FaultAction::Transport(Transport::Malformed) => {
                    let mut page = wire::gateway_page(StatusCode::BAD_GATEWAY);
                    page.status = StatusCode::OK;
                    (page, Ending::Normal)
                }
                FaultAction::Transport(Transport::Truncate) => {
                    (render_err(WxError::SystemError), Ending::Truncated)
                }
                FaultAction::Transport(t) => (render_err(WxError::SystemError), Ending::Cut(t)),
            };
            (r, ending, p.appid.clone(), p.user.clone())
        }
    };
    let fault = plan.as_ref().map(|p| {
        let what = match p.action {
            None => "delay".to_owned(),
            Some(FaultAction::Error(e)) => format!("errcode {}", e.code()),
            Some(FaultAction::Tencent(code)) => format!("tencent_error {}", code.code()),
            Some(FaultAction::Status(s)) => format!("http_status {s}"),
            Some(FaultAction::Transport(t)) => format!("transport {t:?}").to_lowercase(),
        };
        format!("rule {}: {what}", p.rule)
    });
    Responded {
        rendered,
        ending,
        appid,
        user,
        tencent_code,
        fault,
    }
}

/// Answers, renders and journals a request (after any delay).
fn finish(shared: &Shared, conn: &ConnCtl, call: Pending) -> Response<Body> {
    let Pending {
        method,
        target,
        req,
        oversized,
        arrival,
        now,
        watch,
    } = call;
    // The endpoint the engine filed the request under: a path the mock does not model is
    // `stubbed` under `stub_unmodelled`.
    let endpoint = arrival.endpoint;
    let (path, _) = journal::split_target(&target);
    let responded = respond(shared, &req, path, arrival, oversized, now);
    let status = responded.status();
    let whole = responded.whole();
    let Responded {
        rendered,
        ending,
        appid,
        user,
        tencent_code,
        fault,
    } = responded;
    tracing::debug!(
        endpoint = endpoint.name(),
        status,
        errcode = rendered.errcode,
        tencent_code,
        fault = fault.as_deref(),
        "vendor request"
    );
    let response = build(&rendered, now, &ending, conn);
    shared.journal.record(Record {
        time: now,
        method,
        target,
        endpoint,
        // A copy, for the same reason as the target: the body may share hyper's read buffer.
        body: Bytes::copy_from_slice(&req.body),
        appid,
        user,
        status,
        errcode: if whole { rendered.errcode } else { None },
        tencent_code: tencent_code.filter(|_| whole),
        headers: match &req.call {
            request::Call::SmsSend(sms) => Some(journal::tencent_headers(&sms.headers)),
            _ => None,
        },
        fault,
        rid: rendered.rid,
        response: rendered.body,
        latency_us: watch.micros(),
        client_ip: Some(conn.peer()),
    });
    response
}

fn build(
    r: &Rendered,
    now: crate::clock::Timestamp,
    ending: &Ending,
    conn: &ConnCtl,
) -> Response<Body> {
    match ending {
        Ending::Normal => wire::response(r, now, Body::from(r.body.clone())),
        Ending::Truncated => {
            // Announce the full length, send half, then fail the body: hyper closes the
            // connection and the client sees an unexpected end of body.
            let half = r.body.slice(..r.body.len() / 2);
            let first = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(half)]);
            // Pause before failing so hyper flushes the status line, headers and half body
            // first; an immediate error would abort before anything reached the client.
            let fail = futures_util::stream::once(async {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                Err(std::io::Error::other("truncated by fault rule"))
            });
            let chunks = futures_util::StreamExt::chain(first, fail);
            let mut resp = wire::response(r, now, Body::from_stream(chunks));
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(r.body.len()));
            resp
        }
        Ending::Cut(t) => {
            conn.cut(*t == Transport::Reset);
            wire::response(r, now, Body::empty())
        }
    }
}
