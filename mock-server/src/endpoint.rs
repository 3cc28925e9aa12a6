//! The vendor endpoints the mock serves, each described once in [`ENDPOINTS`]: its paths, its
//! method, its short name and its family. Path lookup, names, the journal, fault rules and the
//! errmsg family all read this table; nothing else lists endpoints.

use serde::Serialize;

use crate::catalogue::Family;

/// The vendor endpoints the mock serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /sns/jscode2session`
    Jscode2session,
    /// `GET /cgi-bin/token`
    Token,
    /// `POST /cgi-bin/stable_token`
    StableToken,
    /// `GET /wxa/checksession`
    Checksession,
    /// `GET /wxa/resetusersessionkey`
    Resetusersessionkey,
    /// `POST /wxa/business/getuserphonenumber`
    Getuserphonenumber,
    /// `POST /tencentcloud/sms` (or `/tencentcloud/sms/`): Tencent Cloud SMS `SendSms`, in place
    /// of `https://sms.tencentcloudapi.com/`.
    SmsSend,
    /// `GET /wxa/getpaidunionid`
    Getpaidunionid,
    /// `POST /wxa/getuserriskrank`
    Getuserriskrank,
    /// `POST /wxa/business/checkencryptedmsg`
    Checkencryptedmsg,
    /// `GET /wxa/business/getuserencryptkey` (older docs: POST with the same query)
    Getuserencryptkey,
    /// `POST /cgi-bin/openapi/quota/get`
    QuotaGet,
    /// `POST /cgi-bin/clear_quota`
    ClearQuota,
    /// `POST /cgi-bin/clear_quota/v2`
    ClearQuotaV2,
    /// `POST /cgi-bin/openapi/rid/get`
    RidGet,
    /// `GET /cgi-bin/user/info` (official accounts)
    UserInfo,
    /// A path the mock does not model, answered `{"errcode":0,"errmsg":"ok"}` under the
    /// `stub_unmodelled` option (no path of its own: the engine files an unknown path here).
    Stubbed,
    /// `POST /cgi-bin/component/api_component_token`: a third-party platform's token.
    ComponentToken,
    /// `GET /sns/component/jscode2session`: jscode2session on behalf of a mini-program.
    ComponentJscode2session,
    /// `POST /wxa/getpluginopenpid`
    Getpluginopenpid,
    /// Any other path: 40066.
    Unknown,
}

/// Whose API an endpoint plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    /// WeChat: `{"errcode","errmsg"}` errors from `catalogue`.
    WeChat,
    /// Tencent Cloud API 3.0: `{"Response":{...}}` answers from `tencent::catalogue`.
    TencentCloud,
}

/// The method an endpoint is documented with. WeChat tells only GET from POST: a GET endpoint
/// also answers a POST, a POST endpoint refuses anything else (43002, or Tencent Cloud's
/// UnsupportedProtocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Parameters in the query string.
    Get,
    /// A JSON body (parameters may also be in the query string, e.g. `access_token`).
    Post,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its paths, the first the documented one (paths are case-sensitive, as on WeChat).
    pub paths: &'static [&'static str],
    /// Its method.
    pub method: Method,
    /// Short name used in the journal and in fault rules.
    pub name: &'static str,
    /// Whose API it plays: its errors come from that vendor's catalogue.
    pub vendor: Vendor,
    /// The errmsg rid separator and Content-Type (WeChat endpoints; Tencent Cloud answers are
    /// always `application/json`).
    pub family: Family,
}

/// Every endpoint, in documentation order; the last row is the catch-all.
pub const ENDPOINTS: [Row; 21] = [
    Row {
        endpoint: Endpoint::Jscode2session,
        paths: &["/sns/jscode2session"],
        method: Method::Get,
        name: "jscode2session",
        vendor: Vendor::WeChat,
        family: Family::Sns,
    },
    Row {
        endpoint: Endpoint::Token,
        paths: &["/cgi-bin/token"],
        method: Method::Get,
        name: "token",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::StableToken,
        paths: &["/cgi-bin/stable_token"],
        method: Method::Post,
        name: "stable_token",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::Checksession,
        paths: &["/wxa/checksession"],
        method: Method::Get,
        name: "checksession",
        vendor: Vendor::WeChat,
        family: Family::Wxa,
    },
    Row {
        endpoint: Endpoint::Resetusersessionkey,
        paths: &["/wxa/resetusersessionkey"],
        method: Method::Get,
        name: "resetusersessionkey",
        vendor: Vendor::WeChat,
        family: Family::Wxa,
    },
    Row {
        endpoint: Endpoint::Getuserphonenumber,
        paths: &["/wxa/business/getuserphonenumber"],
        method: Method::Post,
        name: "getuserphonenumber",
        vendor: Vendor::WeChat,
        family: Family::Wxa,
    },
    Row {
        endpoint: Endpoint::SmsSend,
        paths: &["/tencentcloud/sms", "/tencentcloud/sms/"],
        method: Method::Post,
        name: "sms_send",
        vendor: Vendor::TencentCloud,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::Getpaidunionid,
        paths: &["/wxa/getpaidunionid"],
        method: Method::Get,
        name: "getpaidunionid",
        vendor: Vendor::WeChat,
        family: Family::Wxa,
    },
    Row {
        endpoint: Endpoint::Getuserriskrank,
        paths: &["/wxa/getuserriskrank"],
        method: Method::Post,
        name: "getuserriskrank",
        vendor: Vendor::WeChat,
        family: Family::Wxa,
    },
    Row {
        endpoint: Endpoint::Checkencryptedmsg,
        paths: &["/wxa/business/checkencryptedmsg"],
        method: Method::Post,
        name: "checkencryptedmsg",
        vendor: Vendor::WeChat,
        family: Family::Wxa,
    },
    Row {
        endpoint: Endpoint::Getuserencryptkey,
        paths: &["/wxa/business/getuserencryptkey"],
        // Documented as GET, earlier as POST with the same query: a GET endpoint takes both.
        method: Method::Get,
        name: "getuserencryptkey",
        vendor: Vendor::WeChat,
        family: Family::Wxa,
    },
    Row {
        endpoint: Endpoint::QuotaGet,
        paths: &["/cgi-bin/openapi/quota/get"],
        method: Method::Post,
        name: "quota_get",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::ClearQuota,
        paths: &["/cgi-bin/clear_quota"],
        method: Method::Post,
        name: "clear_quota",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::ClearQuotaV2,
        paths: &["/cgi-bin/clear_quota/v2"],
        method: Method::Post,
        name: "clear_quota_v2",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::RidGet,
        paths: &["/cgi-bin/openapi/rid/get"],
        method: Method::Post,
        name: "rid_get",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::UserInfo,
        paths: &["/cgi-bin/user/info"],
        method: Method::Get,
        name: "user_info",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::Stubbed,
        paths: &[],
        method: Method::Get,
        name: "stubbed",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::ComponentToken,
        paths: &["/cgi-bin/component/api_component_token"],
        method: Method::Post,
        name: "api_component_token",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
    Row {
        endpoint: Endpoint::ComponentJscode2session,
        paths: &["/sns/component/jscode2session"],
        method: Method::Get,
        name: "component_jscode2session",
        vendor: Vendor::WeChat,
        family: Family::Sns,
    },
    Row {
        endpoint: Endpoint::Getpluginopenpid,
        paths: &["/wxa/getpluginopenpid"],
        method: Method::Post,
        name: "getpluginopenpid",
        vendor: Vendor::WeChat,
        family: Family::Wxa,
    },
    Row {
        endpoint: Endpoint::Unknown,
        paths: &[],
        method: Method::Get,
        name: "unknown",
        vendor: Vendor::WeChat,
        family: Family::CgiBin,
    },
];

/// An endpoint's short name ([`Row::name`]), as the journal shows it and fault rules take it.
/// Only its JSON Schema is of use: the names and what each stands for, read from [`ENDPOINTS`].
pub struct EndpointName;

impl schemars::JsonSchema for EndpointName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EndpointName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let described: Vec<String> = ENDPOINTS
            .iter()
            .map(|row| {
                let method = match row.method {
                    Method::Get => "GET",
                    Method::Post => "POST",
                };
                let paths = row.paths.join("` or `");
                let what = match row.endpoint {
                    Endpoint::Stubbed => "a path the mock does not model, answered under the \
                                          `stub_unmodelled` option"
                        .to_owned(),
                    Endpoint::Unknown => "any other path".to_owned(),
                    Endpoint::SmsSend => format!("`{method} {paths}`: Tencent Cloud SMS `SendSms`"),
                    _ => format!("`{method} {paths}`"),
                };
                format!("`{}` ({what})", row.name)
            })
            .collect();
        let names: Vec<&str> = ENDPOINTS.iter().map(|row| row.name).collect();
        schemars::json_schema!({
            "type": "string",
            "description": format!("A vendor endpoint: {}.", described.join(", ")),
            "enum": names,
        })
    }
}

impl Endpoint {
    /// Every endpoint, in documentation order.
    pub const ALL: [Endpoint; ENDPOINTS.len()] = {
        let mut all = [Endpoint::Unknown; ENDPOINTS.len()];
        let mut i = 0;
        while i < ENDPOINTS.len() {
            all[i] = ENDPOINTS[i].endpoint;
            i += 1;
        }
        all
    };

    /// The endpoint's row.
    pub fn row(self) -> &'static Row {
        // The table is in the enum's order (a test holds it so).
        &ENDPOINTS[self as usize]
    }

    /// The endpoint a path names (paths are case-sensitive, as on WeChat).
    pub fn of_path(path: &str) -> Self {
        ENDPOINTS
            .iter()
            .find(|row| row.paths.contains(&path))
            .map_or(Endpoint::Unknown, |row| row.endpoint)
    }

    /// Short name used in the journal and in fault rules.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// Whose API the endpoint plays: its errors come from that vendor's catalogue.
    pub fn vendor(self) -> Vendor {
        self.row().vendor
    }

    /// The method the endpoint is documented with.
    pub fn method(self) -> Method {
        self.row().method
    }

    /// Whether a request with this method reaches the endpoint's rules rather than its
    /// method refusal.
    pub fn allows(self, is_post: bool) -> bool {
        is_post || self.method() == Method::Get
    }

    /// The endpoint a short name or a path names.
    pub fn parse(s: &str) -> Option<Self> {
        ENDPOINTS
            .iter()
            .find(|row| row.name == s)
            .map(|row| row.endpoint)
            .or_else(|| Some(Self::of_path(s)).filter(|e| *e != Endpoint::Unknown))
    }

    /// The family a request to `path` is answered in: its endpoint's, or for a path the table
    /// does not know, the one its prefix names ([`Family::of_path`]).
    pub fn family_of(path: &str) -> Family {
        match Self::of_path(path) {
            Endpoint::Unknown => Family::of_path(path),
            known => known.row().family,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_enums_order_and_its_names_and_paths_are_unique() {
        for (i, row) in ENDPOINTS.iter().enumerate() {
            assert_eq!(row.endpoint as usize, i, "{}", row.name);
            assert_eq!(row.endpoint.row().name, row.name);
            for path in row.paths {
                assert_eq!(Endpoint::of_path(path), row.endpoint, "{path}");
                assert_eq!(Endpoint::parse(path), Some(row.endpoint), "{path}");
            }
            assert_eq!(Endpoint::parse(row.name), Some(row.endpoint));
        }
        let names: std::collections::HashSet<_> = ENDPOINTS.iter().map(|r| r.name).collect();
        assert_eq!(names.len(), ENDPOINTS.len());
        assert_eq!(Endpoint::of_path("/SNS/jscode2session"), Endpoint::Unknown);
    }

    #[test]
    fn a_wechat_rows_family_is_the_one_its_path_prefix_names() {
        for row in ENDPOINTS.iter().filter(|r| r.vendor == Vendor::WeChat) {
            for path in row.paths {
                assert_eq!(Family::of_path(path), row.family, "{path}");
                assert_eq!(Endpoint::family_of(path), row.family, "{path}");
            }
        }
        assert_eq!(Endpoint::family_of("/wxa/nope"), Family::Wxa);
        assert_eq!(Endpoint::family_of("/nope"), Family::CgiBin);
    }
}
