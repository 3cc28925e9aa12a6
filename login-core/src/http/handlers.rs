//! Handlers: parse, call one service method, shape the answer. No SQL, no WeChat calls, no
//! policy.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::service::LoginOutput;

use super::AppState;
use super::dto::{
    CheckView, LoginBody, LoginView, PasswordLoginBody, PhoneBody, PhoneView, ProfileBody,
    ProfileView, SmsLoginBody, SmsSendBody, SmsSentView, TokenView, UserView,
};
use super::error::HttpError;
use super::extract::{ClientAddr, JsonBody, Session};

type Res<T> = Result<Json<T>, HttpError>;

pub async fn login(
    State(s): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(body): JsonBody<LoginBody>,
) -> Res<LoginView> {
    let out = s.services.login(&client, body.try_into()?).await?;
    Ok(login_view(&s, &out))
}

fn login_view(s: &AppState, out: &LoginOutput) -> Json<LoginView> {
    Json(LoginView {
        token: TokenView::new(out.token.expose(), out.expires_at, s.clock.now()),
        user: UserView::of(&out.user, Some(out.is_new)),
    })
}

pub async fn sms_send(
    State(s): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(body): JsonBody<SmsSendBody>,
) -> Res<SmsSentView> {
    let sent = s.services.send_sms_code(&client, body.into()).await?;
    Ok(Json(SmsSentView {
        sent: true,
        expires_in: sent.expires_in,
        resend_in: sent.resend_in,
    }))
}

pub async fn sms_login(
    State(s): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(body): JsonBody<SmsLoginBody>,
) -> Res<LoginView> {
    let out = s.services.sms_login(&client, body.into()).await?;
    Ok(login_view(&s, &out))
}

pub async fn password_login(
    State(s): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(body): JsonBody<PasswordLoginBody>,
) -> Res<LoginView> {
    let out = s.services.password_login(&client, body.into()).await?;
    Ok(login_view(&s, &out))
}

pub async fn refresh(State(s): State<AppState>, Session(auth): Session) -> Res<TokenView> {
    let out = s.services.refresh(&auth).await?;
    Ok(Json(TokenView::new(
        out.token.expose(),
        out.expires_at,
        s.clock.now(),
    )))
}

pub async fn logout(
    State(s): State<AppState>,
    Session(auth): Session,
) -> Result<StatusCode, HttpError> {
    s.services.logout(&auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn check(State(s): State<AppState>, Session(auth): Session) -> Res<CheckView> {
    let out = s.services.check(&auth).await?;
    Ok(Json(CheckView {
        valid: true,
        expires_at: out.expires_at.secs(),
    }))
}

pub async fn me(State(s): State<AppState>, Session(auth): Session) -> Res<UserView> {
    let user = s.services.me(&auth).await?;
    Ok(Json(UserView::of(&user, None)))
}

pub async fn profile(
    State(s): State<AppState>,
    Session(auth): Session,
    JsonBody(body): JsonBody<ProfileBody>,
) -> Res<ProfileView> {
    let req = body.try_into()?;
    let out = s.services.update_profile(&auth, req).await?;
    Ok(Json(ProfileView {
        updated: out.updated,
        user: UserView::of(&out.user, None),
    }))
}

pub async fn phone(
    State(s): State<AppState>,
    Session(auth): Session,
    JsonBody(body): JsonBody<PhoneBody>,
) -> Res<PhoneView> {
    let req = body.try_into()?;
    let out = s.services.bind_phone(&auth, req).await?;
    Ok(Json(PhoneView {
        user: UserView::of(&out.user, None),
        joined: out.merged_from.is_some(),
    }))
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

pub async fn readyz(State(s): State<AppState>) -> Response {
    let readiness = s.services.ready().await;
    if readiness.is_ready() {
        return Json(serde_json::json!({"status": "ready"})).into_response();
    }
    let state = |ok: bool| if ok { "ok" } else { "unreachable" };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({
            "status": "unavailable",
            "database": state(readiness.database),
            "counters": state(readiness.counters),
        })),
    )
        .into_response()
}

pub async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.services.metrics().encode(),
    )
        .into_response()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], super::OPENAPI).into_response()
}

pub async fn not_found(method: Method, uri: Uri) -> HttpError {
    HttpError::NotFound {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

pub async fn wrong_method(method: Method, uri: Uri) -> HttpError {
    HttpError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}
