//! Official accounts' followers and `cgi-bin/user/info` (`wechat-api.md` 7a).
//!
//! An official account is an app of kind `official_account`; under the same open-platform
//! account as mini-programs it gives a user the same unionid. The control plane plays the user:
//! `POST /__mock__/apps/{appid}/followers` follows (or unfollows) the account. The user's
//! openid in the account is derived as in any app. `cgi-bin/user/info` answers, since
//! 2021-12-27, without nickname, sex, region or avatar; for someone who does not follow (any
//! more) it answers `subscribe` 0 with the openid, the unionid when bound, and an empty
//! `tagid_list`, as real answers show; an openid the account never saw (no follow, no unfollow)
//! is 40003.

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, Map, State, tokens};
use crate::catalogue::WxError;
use crate::clock::Timestamp;
use crate::config::AppKind;
use crate::ids::{AppId, Generator, OpenId, UnionId, UserHandle};
use crate::reply::{Answer, FollowerInfo, Reply, Subscription};
use crate::request::UserInfoQuery;

/// The channels a user follows through (`subscribe_scene`), as the documentation lists them.
pub const SUBSCRIBE_SCENES: [&str; 12] = [
    "ADD_SCENE_SEARCH",
    "ADD_SCENE_ACCOUNT_MIGRATION",
    "ADD_SCENE_PROFILE_CARD",
    "ADD_SCENE_QR_CODE",
    "ADD_SCENE_PROFILE_LINK",
    "ADD_SCENE_PROFILE_ITEM",
    "ADD_SCENE_PAID",
    "ADD_SCENE_WECHAT_ADVERTISEMENT",
    "ADD_SCENE_REPRINT",
    "ADD_SCENE_LIVESTREAM",
    "ADD_SCENE_CHANNELS",
    "ADD_SCENE_OTHERS",
];

/// The longest remark WeChat takes (30 characters).
const MAX_REMARK_CHARS: usize = 30;
/// The longest `qr_scene_str` (a QR code's scene text: 1 to 64 characters).
const MAX_SCENE_STR_CHARS: usize = 64;
/// The most tags a user can carry in one account.
const MAX_TAGS: usize = 20;

/// A user's standing with an official account.
struct Follower {
    appid: AppId,
    user: UserHandle,
    /// When the user last followed, while following; `None` while not.
    subscribed_at: Option<i64>,
    scene: String,
    qr_scene: u32,
    qr_scene_str: String,
    remark: String,
    tags: Vec<u32>,
}

/// Everyone an official account saw, by their openid in it (openids are per app, so one map
/// serves every account; one entry per account and user, so bounded).
#[derive(Default)]
pub(super) struct Followers {
    by_openid: Map<OpenId, Follower>,
}

impl Followers {
    pub fn count(&self) -> usize {
        self.by_openid.len()
    }
}

/// A user follows (or stops following) an official account. Fields left out keep what the account
/// knew of the user; for a user it never saw: `ADD_SCENE_SEARCH`, `qr_scene` 0, empty texts and
/// tags.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowerSpec {
    /// The user. Unless `strict`, an unknown user is created on the fly.
    pub user: UserHandle,
    /// Follow (`true`, the default) or unfollow (`false`). Following again after an unfollow sets a
    /// new `subscribe_time`; following while following keeps it. An unfollow of a user the account
    /// never saw records them as not following (an openid the account knows, as from a web
    /// authorization).
    #[serde(default)]
    pub subscribe: Option<bool>,
    /// How the user came, as `cgi-bin/user/info` says it.
    #[serde(default)]
    #[schemars(schema_with = "scene_schema")]
    pub subscribe_scene: Option<String>,
    /// The QR code's scene id.
    #[serde(default)]
    pub qr_scene: Option<u32>,
    /// The QR code's scene text (at most 64 characters).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub qr_scene_str: Option<String>,
    /// The account's remark on the follower (at most 30 characters).
    #[serde(default)]
    #[schemars(length(max = 30))]
    pub remark: Option<String>,
    /// The account's tags on the follower (at most 20).
    #[serde(default)]
    #[schemars(length(max = 20))]
    pub tagid_list: Option<Vec<u32>>,
}

/// `subscribe_scene` as a request gives it: one of [`SUBSCRIBE_SCENES`], or `null`.
fn scene_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut scenes: Vec<serde_json::Value> = SUBSCRIBE_SCENES.iter().map(|&s| s.into()).collect();
    scenes.push(serde_json::Value::Null);
    schemars::json_schema!({"type": ["string", "null"], "enum": scenes})
}

/// A user's standing with an official account: the openid its backend asks `cgi-bin/user/info`
/// with, and what that answers.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FollowerView {
    /// The official account.
    pub appid: AppId,
    /// The user.
    pub user: UserHandle,
    /// The user's openid in the account (derived as in any app).
    pub openid: OpenId,
    /// The unionid `cgi-bin/user/info` answers, the same as the user's in every app of the
    /// open-platform account; absent when the account is bound to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<UnionId>,
    /// Whether the user follows the account now.
    pub subscribe: bool,
    /// When the user last followed, Unix seconds on the virtual clock; `null` while not following.
    pub subscribe_time: Option<i64>,
    /// How the user came.
    pub subscribe_scene: String,
    /// The QR code's scene id.
    pub qr_scene: u32,
    /// The QR code's scene text.
    pub qr_scene_str: String,
    /// The account's remark.
    pub remark: String,
    /// The account's tags.
    pub tagid_list: Vec<u32>,
}

fn invalid(field: &'static str, message: String) -> EngineError {
    EngineError::Invalid { field, message }
}

/// Checks what the spec sets, before anything is written.
fn check(spec: &FollowerSpec) -> Result<(), EngineError> {
    if let Some(scene) = &spec.subscribe_scene
        && !SUBSCRIBE_SCENES.contains(&scene.as_str())
    {
        return Err(invalid(
            "subscribe_scene",
            format!("must be one of {}", SUBSCRIBE_SCENES.join(", ")),
        ));
    }
    let texts = [
        ("qr_scene_str", &spec.qr_scene_str, MAX_SCENE_STR_CHARS),
        ("remark", &spec.remark, MAX_REMARK_CHARS),
    ];
    for (field, value, max) in texts {
        if let Some(v) = value {
            if v.chars().count() > max {
                return Err(invalid(field, format!("is longer than {max} characters")));
            }
            if v.chars().any(char::is_control) {
                return Err(invalid(field, "must not contain control characters".into()));
            }
        }
    }
    if spec.tagid_list.as_ref().is_some_and(|t| t.len() > MAX_TAGS) {
        return Err(invalid(
            "tagid_list",
            format!("has more than {MAX_TAGS} tags"),
        ));
    }
    Ok(())
}

impl Engine {
    /// A user follows (or unfollows) the official account `appid`, now.
    pub fn follow(&self, appid: &AppId, spec: FollowerSpec) -> Result<FollowerView, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        st.dir.app_of_kind(appid, AppKind::OfficialAccount)?;
        check(&spec)?;
        st.dir
            .ensure_user(&self.idgen, &spec.user, st.options.strict)?;
        let openid = self.idgen.openid(appid, &spec.user);
        let unionid = unionid(st, &self.idgen, appid, &spec.user);
        let f = st
            .followers
            .by_openid
            .entry(openid.clone())
            .or_insert_with(|| Follower {
                appid: appid.clone(),
                user: spec.user.clone(),
                subscribed_at: None,
                scene: "ADD_SCENE_SEARCH".into(),
                qr_scene: 0,
                qr_scene_str: String::new(),
                remark: String::new(),
                tags: Vec::new(),
            });
        match (spec.subscribe.unwrap_or(true), f.subscribed_at) {
            // The last follow's time counts ("the latest, if the user followed several times").
            (true, None) => f.subscribed_at = Some(now.secs()),
            (false, _) => f.subscribed_at = None,
            (true, Some(_)) => {}
        }
        if let Some(scene) = spec.subscribe_scene {
            f.scene = scene;
        }
        if let Some(n) = spec.qr_scene {
            f.qr_scene = n;
        }
        if let Some(s) = spec.qr_scene_str {
            f.qr_scene_str = s;
        }
        if let Some(r) = spec.remark {
            f.remark = r;
        }
        if let Some(t) = spec.tagid_list {
            f.tags = t;
        }
        Ok(FollowerView {
            appid: appid.clone(),
            user: f.user.clone(),
            openid,
            unionid,
            subscribe: f.subscribed_at.is_some(),
            subscribe_time: f.subscribed_at,
            subscribe_scene: f.scene.clone(),
            qr_scene: f.qr_scene,
            qr_scene_str: f.qr_scene_str.clone(),
            remark: f.remark.clone(),
            tagid_list: f.tags.clone(),
        })
    }
}

fn unionid(st: &State, idgen: &Generator, appid: &AppId, user: &UserHandle) -> Option<UnionId> {
    st.dir
        .apps
        .get(appid)
        .and_then(|a| a.platform.as_ref())
        .map(|p| idgen.unionid(p, user))
}

/// `GET /cgi-bin/user/info?access_token&openid&lang`: token errors first; a mini-program's
/// token: 48001 `api unauthorized`; an openid the account never saw (or none): 40003; else the
/// user's standing.
pub(super) fn user_info(
    st: &State,
    idgen: &Generator,
    call: &UserInfoQuery,
    now: Timestamp,
) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let mut user = None;
    let result = token.clone().and_then(|appid| {
        if st.dir.apps.get(&appid).map(|a| a.kind) != Some(AppKind::OfficialAccount) {
            return Err(WxError::ApiUnauthorized);
        }
        let f = call
            .openid
            .as_deref()
            .and_then(|o| st.followers.by_openid.get(o))
            .filter(|f| f.appid == appid)
            .ok_or(WxError::InvalidOpenid)?;
        user = Some(f.user.clone());
        let language = st
            .dir
            .users
            .get(&f.user)
            .map_or_else(|| "zh_CN".to_owned(), |u| u.profile.language.clone());
        Ok(Reply::UserInfo(FollowerInfo {
            openid: idgen.openid(&appid, &f.user),
            unionid: unionid(st, idgen, &appid, &f.user),
            subscribed: f.subscribed_at.map(|at| Subscription {
                language,
                subscribe_time: at,
                remark: f.remark.clone(),
                groupid: 0,
                tagid_list: f.tags.clone(),
                subscribe_scene: f.scene.clone(),
                qr_scene: f.qr_scene,
                qr_scene_str: f.qr_scene_str.clone(),
            }),
        }))
    });
    Answer {
        result,
        appid: token.ok(),
        user,
        tencent: None,
    }
}

/// App and user of a `cgi-bin/user/info` request, for fault matching.
pub(super) fn context(
    st: &State,
    call: &UserInfoQuery,
    now: Timestamp,
) -> (Option<AppId>, Option<UserHandle>) {
    let appid = tokens::token_app(st, call.access_token.as_deref(), now).ok();
    let user = call
        .openid
        .as_deref()
        .and_then(|o| st.followers.by_openid.get(o))
        .filter(|f| Some(&f.appid) == appid.as_ref())
        .map(|f| f.user.clone());
    (appid, user)
}
