//! The system under test: login-core in process by default, or a team's own backend described
//! by a small target profile (its login endpoint and token header).

use std::path::Path;

use serde::Deserialize;

/// How to talk to a backend.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetProfile {
    /// The backend's base URL (`--target` overrides it).
    #[serde(default)]
    pub base_url: String,
    /// Its login endpoint.
    #[serde(default)]
    pub login: LoginEndpoint,
    /// How it expects the login token on later requests.
    #[serde(default)]
    pub token: TokenHeader,
    /// The app the backend is configured with; the mock serves it as `default`.
    #[serde(default)]
    pub app: Option<TargetApp>,
}

/// The backend's login endpoint.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginEndpoint {
    /// Path (`/api/login`).
    pub path: String,
    /// The JSON field carrying the `wx.login` code.
    pub code_field: String,
    /// The JSON field carrying the appid, when the scenario names an app.
    pub appid_field: Option<String>,
    /// Where the token is in the answer (a JSONPath).
    pub token_path: String,
}

impl Default for LoginEndpoint {
    fn default() -> Self {
        Self {
            path: "/api/login".into(),
            code_field: "code".into(),
            appid_field: Some("appid".into()),
            token_path: "$.token".into(),
        }
    }
}

/// The header carrying the token.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenHeader {
    /// Header name.
    pub header: String,
    /// Text before the token (`Bearer `).
    pub prefix: String,
}

impl Default for TokenHeader {
    fn default() -> Self {
        Self {
            header: "Authorization".into(),
            prefix: "Bearer ".into(),
        }
    }
}

/// The credentials a target backend was configured with.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetApp {
    /// appid.
    pub appid: String,
    /// AppSecret.
    pub secret: String,
    /// Open-platform account, if bound.
    #[serde(default)]
    pub open_platform: Option<String>,
}

impl TargetProfile {
    /// login-core's profile at `base_url`.
    pub fn login_core(base_url: String) -> Self {
        Self {
            base_url,
            login: LoginEndpoint::default(),
            token: TokenHeader::default(),
            app: None,
        }
    }

    /// Reads a profile file (YAML or JSON).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        yaml_serde::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
