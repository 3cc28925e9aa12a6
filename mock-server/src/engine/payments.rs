//! Payments and `wxa/getpaidunionid` (`wechat-api.md` sections 7 and 7a): for five minutes after
//! a user pays in a mini-program, the app's backend may trade the payment for the user's unionid
//! without the user's consent, naming the payment by its `transaction_id` or by `mch_id` +
//! `out_trade_no`.
//!
//! The control plane records the payment (`POST /__mock__/payments`), as WeChat Pay would on
//! the user's side; the engine keeps it until it is five minutes old.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, Map, State, maybe_sweep, tokens};
use crate::catalogue::WxError;
use crate::clock::Timestamp;
use crate::ids::{AppId, OpenId, UnionId, UserHandle};
use crate::reply::{Answer, Reply};
use crate::request::PaidUnionid;

/// How long after a payment `getpaidunionid` answers for it.
pub const PAYMENT_WINDOW: Duration = Duration::from_secs(300);

/// The longest `transaction_id`, `mch_id` or `out_trade_no` taken (WeChat Pay allows 32).
const MAX_ID_LEN: usize = 32;

struct Payment {
    appid: AppId,
    openid: OpenId,
    /// `mch_id` + `out_trade_no`, the merchant's name for the same payment.
    merchant: (String, String),
    expires_at: Timestamp,
}

/// Payments of the last five minutes, by `transaction_id`, and the merchant's names for them.
#[derive(Default)]
pub(super) struct Payments {
    by_transaction: Map<String, Payment>,
    by_merchant: Map<(String, String), String>,
    /// Everyone who ever paid, by openid: WeChat knows a payer's openid in the app for good,
    /// even one who never logged in (one entry per app and user, so bounded).
    payers: Map<OpenId, (AppId, UserHandle)>,
    /// Payments recorded so far: numbers the generated ids.
    recorded: u64,
}

impl Payments {
    pub fn sweep(&mut self, now: Timestamp) {
        let Self {
            by_transaction,
            by_merchant,
            ..
        } = self;
        by_transaction.retain(|_, p| {
            let keep = p.expires_at > now;
            if !keep {
                by_merchant.remove(&p.merchant);
            }
            keep
        });
    }

    pub fn count(&self) -> usize {
        self.by_transaction.len()
    }

    /// Who `openid` is, if they ever paid in `appid`.
    fn payer(&self, appid: &AppId, openid: &str) -> Option<&UserHandle> {
        self.payers
            .get(openid)
            .filter(|(app, _)| app == appid)
            .map(|(_, user)| user)
    }
}

/// A payment by a user in a mini-program. The order numbers left out are generated from the seed;
/// each names one payment.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentSpec {
    /// The mini-program paid in; left out or `null`: the default app.
    #[serde(default)]
    pub appid: Option<AppId>,
    /// Who paid. Unless `strict`, an unknown user is created on the fly.
    pub user: UserHandle,
    /// WeChat Pay's order number (1 to 32 letters, digits or `_-|*`); left out: 28 digits starting
    /// `42000`.
    #[serde(default)]
    #[schemars(length(min = 1, max = 32))]
    pub transaction_id: Option<String>,
    /// The merchant number; left out: 10 digits, the same for every generated payment.
    #[serde(default)]
    #[schemars(length(min = 1, max = 32))]
    pub mch_id: Option<String>,
    /// The merchant's order number, unique per merchant; left out: 20 digits.
    #[serde(default)]
    #[schemars(length(min = 1, max = 32))]
    pub out_trade_no: Option<String>,
}

/// A recorded payment: what the backend's `getpaidunionid` call names, and what it answers.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PaymentView {
    /// The mini-program paid in.
    pub appid: AppId,
    /// Who paid.
    pub user: UserHandle,
    /// The payer's openid in the app: the `openid` parameter of getpaidunionid.
    pub openid: OpenId,
    /// The unionid getpaidunionid answers; absent when the app is bound to no open-platform account
    /// (the call then answers 89002 `open not exists`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<UnionId>,
    /// WeChat Pay's order number.
    pub transaction_id: String,
    /// The merchant number.
    pub mch_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// When getpaidunionid stops answering for this payment (five minutes after it), Unix seconds
    /// on the virtual clock.
    pub expires_at: i64,
}

impl Engine {
    /// Records a payment by `spec.user` in `spec.appid` (the default app when left out), now.
    pub fn pay(&self, spec: PaymentSpec) -> Result<PaymentView, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        maybe_sweep(st, now);
        let appid = spec
            .appid
            .clone()
            .unwrap_or_else(|| st.dir.default_appid().clone());
        let platform = st.dir.mini_program(&appid)?.platform.clone();
        // Check everything before anything is written.
        for (field, value) in [
            ("transaction_id", &spec.transaction_id),
            ("mch_id", &spec.mch_id),
            ("out_trade_no", &spec.out_trade_no),
        ] {
            if let Some(v) = value {
                check_id(field, v)?;
            }
        }
        let n = st.payments.recorded;
        let transaction_id = spec
            .transaction_id
            .unwrap_or_else(|| format!("42000{}", self.idgen.digits("transaction_id", n, 23)));
        if st.payments.by_transaction.contains_key(&transaction_id) {
            return Err(EngineError::Invalid {
                field: "transaction_id",
                message: format!("a payment `{transaction_id}` was recorded already"),
            });
        }
        let merchant = (
            spec.mch_id
                .unwrap_or_else(|| format!("1{}", self.idgen.digits("mch_id", 0, 9))),
            spec.out_trade_no
                .unwrap_or_else(|| self.idgen.digits("out_trade_no", n, 20)),
        );
        if st.payments.by_merchant.contains_key(&merchant) {
            return Err(EngineError::Invalid {
                field: "out_trade_no",
                message: format!(
                    "merchant `{}` has a payment `{}` already",
                    merchant.0, merchant.1
                ),
            });
        }
        st.dir
            .ensure_user(&self.idgen, &spec.user, st.options.strict)?;
        let openid = self.idgen.openid(&appid, &spec.user);
        let expires_at = now.plus(PAYMENT_WINDOW);
        let view = PaymentView {
            appid: appid.clone(),
            user: spec.user.clone(),
            openid: openid.clone(),
            unionid: platform.map(|p| self.idgen.unionid(&p, &spec.user)),
            transaction_id: transaction_id.clone(),
            mch_id: merchant.0.clone(),
            out_trade_no: merchant.1.clone(),
            expires_at: expires_at.secs(),
        };
        st.payments.recorded += 1;
        st.payments
            .payers
            .insert(openid.clone(), (appid.clone(), spec.user));
        st.payments
            .by_merchant
            .insert(merchant.clone(), transaction_id.clone());
        st.payments.by_transaction.insert(
            transaction_id,
            Payment {
                appid,
                openid,
                merchant,
                expires_at,
            },
        );
        Ok(view)
    }
}

fn check_id(field: &'static str, value: &str) -> Result<(), EngineError> {
    if value.is_empty()
        || value.len() > MAX_ID_LEN
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b))
    {
        return Err(EngineError::Invalid {
            field,
            message: format!(
                "must be 1 to {MAX_ID_LEN} letters, digits or `_-|*`, as WeChat Pay's order numbers"
            ),
        });
    }
    Ok(())
}

/// `GET /wxa/getpaidunionid?access_token&openid&(transaction_id | mch_id&out_trade_no)`.
pub(super) fn get_paid_unionid(
    st: &mut State,
    idgen: &crate::ids::Generator,
    call: &PaidUnionid,
    now: Timestamp,
) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let (_, user) = context(st, call, now);
    let result = token
        .clone()
        .and_then(|appid| judge(st, idgen, call, &appid, now));
    Answer {
        result,
        appid: token.ok(),
        user,
        tencent: None,
    }
}

/// In the order WeChat checks: the token, the openid (40003 for one the app does not know), the
/// open-platform binding (89002), then the payment (89300 for none within five minutes, or one by
/// another payer or in another app).
fn judge(
    st: &State,
    idgen: &crate::ids::Generator,
    call: &PaidUnionid,
    appid: &AppId,
    now: Timestamp,
) -> Result<Reply, WxError> {
    let openid = call.openid.as_deref().ok_or(WxError::InvalidOpenid)?;
    let user = known(st, appid, openid).ok_or(WxError::InvalidOpenid)?;
    let platform = st
        .dir
        .apps
        .get(appid)
        .and_then(|a| a.platform.as_ref())
        .ok_or(WxError::OpenNotExists)?;
    payment(st, call, now)
        .filter(|p| p.appid == *appid && p.openid.as_str() == openid)
        .ok_or(WxError::InvalidTrade)?;
    Ok(Reply::PaidUnionid {
        unionid: idgen.unionid(platform, user),
    })
}

/// The user behind `openid` in `appid`: one who logged in to the app, or paid in it.
fn known<'a>(st: &'a State, appid: &AppId, openid: &str) -> Option<&'a UserHandle> {
    st.logins
        .user_of(appid, openid)
        .or_else(|| st.payments.payer(appid, openid))
}

/// The live payment a request names: by `transaction_id` when given, else by `mch_id` +
/// `out_trade_no`.
fn payment<'a>(st: &'a State, call: &PaidUnionid, now: Timestamp) -> Option<&'a Payment> {
    let transaction = match (&call.transaction_id, &call.mch_id, &call.out_trade_no) {
        (Some(t), _, _) => t,
        (None, Some(mch), Some(out)) => st.payments.by_merchant.get(&(mch.clone(), out.clone()))?,
        _ => return None,
    };
    st.payments
        .by_transaction
        .get(transaction.as_str())
        .filter(|p| p.expires_at > now)
}

/// App and user of a getpaidunionid request, for fault matching and the journal.
pub(super) fn context(
    st: &State,
    call: &PaidUnionid,
    now: Timestamp,
) -> (Option<AppId>, Option<UserHandle>) {
    let appid = tokens::token_app(st, call.access_token.as_deref(), now).ok();
    let user = appid
        .as_ref()
        .zip(call.openid.as_deref())
        .and_then(|(appid, openid)| known(st, appid, openid))
        .cloned();
    (appid, user)
}
