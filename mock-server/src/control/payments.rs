//! The control plane's payment route: `POST /payments` records that a user paid in a
//! mini-program, as WeChat Pay would, so the app's backend may call `wxa/getpaidunionid` for the
//! next five minutes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::{Body, ControlError, Ctx, wx_error};
use crate::engine::{PaymentSpec, PaymentView};

pub(super) async fn pay(
    State(s): Ctx,
    Body(spec): Body<PaymentSpec>,
) -> Result<(StatusCode, Json<PaymentView>), ControlError> {
    Ok((
        StatusCode::CREATED,
        Json(s.engine.pay(spec).map_err(wx_error)?),
    ))
}
