//! The control plane's answers against its OpenAPI document, in scripted sessions: every route
//! with its successes and refusals, each answer checked against the schema documented for its
//! status and each accepted body against the documented request body; bodies the server refuses
//! for their shape, the document refuses too.

use serde_json::{Value, json};

use crate::helpers::TestMock;
use crate::openapi::Api;

#[tokio::test]
async fn answers_match_the_documented_schemas() {
    let t = TestMock::new().await;
    let api = Api::new(&t);

    api.expect("GET", "/openapi.json", None, 200).await;
    let state = api.expect("GET", "/state", None, 200).await;
    let default_app = state["apps"][0]["appid"]
        .as_str()
        .expect("appid")
        .to_owned();

    api.expect("GET", "/options", None, 200).await;
    let patch = json!({"session_key_ttl": "1h", "journal_capacity": 100, "quota_scope": "app"});
    api.expect("PATCH", "/options", Some(patch), 200).await;
    api.expect(
        "PATCH",
        "/options",
        Some(json!({"session_key_ttl": null})),
        200,
    )
    .await;

    let body = json!({"open_platform": "acct-1", "name": "second"});
    let second = api.expect("POST", "/apps", Some(body), 201).await;
    let second = second["appid"].as_str().expect("appid").to_owned();
    api.expect("POST", "/apps", Some(json!({"appid": second})), 409)
        .await;
    api.expect("GET", &format!("/apps/{second}"), None, 200)
        .await;
    api.expect("GET", "/apps/nope", None, 404).await;
    let body = json!({"name": null, "secret": "s3cret"});
    api.expect("PATCH", &format!("/apps/{second}"), Some(body), 200)
        .await;
    api.expect("PATCH", "/apps/nope", Some(json!({})), 404)
        .await;
    let body = json!({"appid": "other"});
    api.expect("PATCH", &format!("/apps/{second}"), Some(body), 400)
        .await;

    api.expect(
        "POST",
        "/users",
        Some(json!({"handle": "alice", "phone": null})),
        201,
    )
    .await;
    let carol = json!({"handle": "carol", "gender": 0, "high_risk": true,
        "phone": {"country_code": "1", "number": "5550100"}});
    api.expect("POST", "/users", Some(carol), 201).await;
    api.expect("POST", "/users", Some(json!({"handle": "alice"})), 409)
        .await;
    api.expect("GET", "/users/alice", None, 200).await;
    api.expect("GET", "/users/nobody", None, 404).await;
    let body = json!({"nickname": "C", "phone": null, "city": null});
    api.expect("PATCH", "/users/carol", Some(body), 200).await;
    api.expect("PATCH", "/users/nobody", Some(json!({})), 404)
        .await;

    api.expect("POST", "/wx/login", Some(json!({"user": "bob"})), 200)
        .await;
    let body = json!({"appid": second, "user": "bob"});
    let login = api.expect("POST", "/wx/login", Some(body), 200).await;
    assert!(login["mock"]["unionid"].is_string(), "{login}");
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/wx/login", Some(body), 404).await;
    let body = json!({"appid": default_app, "user": "bob"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    api.expect(
        "POST",
        "/wx/getPhoneNumber",
        Some(json!({"user": "alice"})),
        409,
    )
    .await;
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 404)
        .await;
    let body = json!({"user": "bob", "tamper": "flipped_byte"});
    let phone = api
        .expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    assert!(phone["encryptedData"].is_string(), "{phone}");
    let body = json!({"user": "bob", "tamper": "stale_key"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 409)
        .await;
    let body = json!({"user": "bob", "kind": "getRealtimePhoneNumber"});
    let phone = api
        .expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    assert_eq!(phone["errMsg"], "getRealtimePhoneNumber:ok", "{phone}");
    let body = json!({"user": "bob", "deny": true});
    let phone = api
        .expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    assert_eq!(phone, json!({"errMsg": "getPhoneNumber:fail user deny"}));
    let body = json!({"user": "bob", "kind": "fast"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 400)
        .await;
    let body = json!({"phone_quota": 1});
    let quota = api.expect("POST", "/apps", Some(body), 201).await;
    let quota = quota["appid"].as_str().expect("appid").to_owned();
    let body = json!({"appid": quota, "user": "bob"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body.clone()), 200)
        .await;
    let refused = api
        .expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    assert_eq!(
        refused,
        json!({"errMsg": "getPhoneNumber:fail no quota", "errno": 1_400_001})
    );
    let app = api
        .expect("GET", &format!("/apps/{quota}"), None, 200)
        .await;
    assert_eq!(app["phone_quota"], 0, "{app}");
    api.expect("POST", "/apps", Some(json!({"phone_quota": -1})), 400)
        .await;
    let check = api
        .expect(
            "POST",
            "/wx/checkSession",
            Some(json!({"user": "bob"})),
            200,
        )
        .await;
    assert_eq!(check, json!({"errMsg": "checkSession:ok"}));
    let check = api
        .expect(
            "POST",
            "/wx/checkSession",
            Some(json!({"user": "zed"})),
            200,
        )
        .await;
    assert_eq!(
        check,
        json!({"errMsg": "checkSession:fail", "reason": "never_logged_in"})
    );
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/wx/checkSession", Some(body), 404)
        .await;
    api.expect("POST", "/wx/checkSession", Some(json!({})), 400)
        .await;
    for route in ["/wx/getUserInfo", "/wx/getUserProfile"] {
        api.expect("POST", route, Some(json!({"user": "bob"})), 200)
            .await;
        let body = json!({"appid": second, "user": "bob", "era": "legacy", "tamper": null});
        api.expect("POST", route, Some(body), 200).await;
        let body = json!({"user": "bob", "tamper": "stale_key"});
        api.expect("POST", route, Some(body), 409).await;
        api.expect("POST", route, Some(json!({"user": "carol"})), 409)
            .await;
        let body = json!({"appid": "nope", "user": "bob"});
        api.expect("POST", route, Some(body), 404).await;
    }
    let body = json!({"user": "bob", "group": "family", "tamper": "wrong_iv_length"});
    api.expect("POST", "/wx/getShareInfo", Some(body), 200)
        .await;
    let body = json!({"user": "bob", "steps": vec![7; 31]});
    api.expect("POST", "/wx/getWeRunData", Some(body), 200)
        .await;
    api.expect(
        "POST",
        "/wx/getWeRunData",
        Some(json!({"user": "bob"})),
        200,
    )
    .await;
    let body = json!({"user": "bob", "steps": [1, 2, 3]});
    api.expect("POST", "/wx/getWeRunData", Some(body), 400)
        .await;
    let body = json!({"user": "carol", "group": "g"});
    api.expect("POST", "/wx/getShareInfo", Some(body), 409)
        .await;
    let body = json!({"user": "bob", "data": {"amount": 100}});
    let key = api
        .expect("POST", "/wx/getUserCryptoManager", Some(body), 200)
        .await;
    assert!(key["encryptedData"].is_string(), "{key}");
    let body = json!({"appid": second, "user": "bob", "data": null});
    let key = api
        .expect("POST", "/wx/getUserCryptoManager", Some(body), 200)
        .await;
    assert!(key.get("encryptedData").is_none(), "{key}");
    let body = json!({"user": "carol", "data": "text"});
    api.expect("POST", "/wx/getUserCryptoManager", Some(body), 409)
        .await;
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/wx/getUserCryptoManager", Some(body), 404)
        .await;
    let body = json!({"risk_rank": 2});
    let carol = api.expect("PATCH", "/users/carol", Some(body), 200).await;
    assert_eq!(carol["risk_rank"], 2, "{carol}");
    let body = json!({"risk_rank": null});
    let carol = api.expect("PATCH", "/users/carol", Some(body), 200).await;
    assert_eq!(carol["risk_rank"], 4, "carol is high-risk: {carol}");
    let body = json!({"checkencryptedmsg_unknown": "vaild_false"});
    api.expect("PATCH", "/options", Some(body), 200).await;
    let body = json!({"profile_era": "legacy"});
    let app = api.expect("POST", "/apps", Some(body), 201).await;
    assert_eq!(app["profile_era"], "legacy", "{app}");
    api.expect("PATCH", "/options", Some(json!({"strict": true})), 200)
        .await;
    api.expect("POST", "/wx/login", Some(json!({"user": "dave"})), 404)
        .await;
    api.expect(
        "POST",
        "/wx/checkSession",
        Some(json!({"user": "dave"})),
        404,
    )
    .await;
    let body = json!({"user": "dave", "deny": true});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 404)
        .await;
    let body = json!({"accept_foreign_codes": true, "foreign_code_user": "dev"});
    api.expect("PATCH", "/options", Some(body), 200).await;
    let body = json!({"foreign_code_user": ""});
    api.expect("PATCH", "/options", Some(body), 400).await;
    api.expect(
        "PATCH",
        "/options",
        Some(json!({"accept_foreign_codes": false})),
        200,
    )
    .await;

    // Payments: strict mode is on, so bob (known) pays and dave (unknown) cannot.
    let body = json!({"appid": second, "user": "bob"});
    let paid = api.expect("POST", "/payments", Some(body), 201).await;
    assert!(paid["unionid"].is_string(), "{paid}");
    let body = json!({"user": "bob", "mch_id": "1900000109", "out_trade_no": "A-1"});
    let paid = api.expect("POST", "/payments", Some(body), 201).await;
    assert!(paid.get("unionid").is_none(), "{paid}");
    api.expect("POST", "/payments", Some(json!({"user": "dave"})), 404)
        .await;
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/payments", Some(body), 404).await;
    let body = json!({"user": "bob", "transaction_id": ""});
    api.expect("POST", "/payments", Some(body), 400).await;

    // Official accounts and their followers.
    let body = json!({"kind": "official_account", "open_platform": "acct-1"});
    let oa = api.expect("POST", "/apps", Some(body), 201).await;
    assert_eq!(oa["kind"], "official_account", "{oa}");
    let oa = oa["appid"].as_str().expect("appid").to_owned();
    let followers = format!("/apps/{oa}/followers");
    let body = json!({"user": "bob", "subscribe_scene": "ADD_SCENE_QR_CODE", "qr_scene": 98765,
        "qr_scene_str": "", "remark": "vip", "tagid_list": [128, 2]});
    let follower = api.expect("POST", &followers, Some(body), 200).await;
    assert!(follower["unionid"].is_string(), "{follower}");
    let body = json!({"user": "bob", "subscribe": false});
    let follower = api.expect("POST", &followers, Some(body), 200).await;
    assert_eq!(follower["subscribe_time"], Value::Null, "{follower}");
    api.expect("POST", &followers, Some(json!({"user": "dave"})), 404)
        .await;
    let body = json!({"user": "bob"});
    api.expect(
        "POST",
        &format!("/apps/{second}/followers"),
        Some(body),
        409,
    )
    .await;
    api.expect(
        "POST",
        "/apps/nope/followers",
        Some(json!({"user": "bob"})),
        404,
    )
    .await;
    let body = json!({"appid": oa, "user": "bob"});
    api.expect("POST", "/wx/login", Some(body.clone()), 409)
        .await;
    api.expect("POST", "/wx/getPhoneNumber", Some(body.clone()), 409)
        .await;
    api.expect("POST", "/payments", Some(body), 409).await;
    let body = json!({"kind": "mini_program"});
    api.expect("PATCH", &format!("/apps/{oa}"), Some(body), 400)
        .await;
    for body in [
        json!({}),
        json!({"user": "bob", "remark": "r".repeat(31)}),
        json!({"user": "bob", "tagid_list": vec![1; 21]}),
        json!({"user": "bob", "subscribe_scene": "ADD_SCENE_NOWHERE"}),
        json!({"user": "bob", "qr_scene": -1}),
        json!({"user": "bob", "nickname": "x"}),
    ] {
        api.refused("POST", &followers, body).await;
    }

    api.expect("GET", "/clock", None, 200).await;
    let body = json!({"freeze": true, "set": 1_724_289_297});
    api.expect("POST", "/clock", Some(body), 200).await;
    let body = json!({"set": "2024-08-22T01:14:57Z", "advance": "301s"});
    let clock = api.expect("POST", "/clock", Some(body), 200).await;
    assert_eq!(clock["now_ms"], 1_724_289_598_000_i64);
    api.expect("POST", "/clock", Some(json!({"resume": true})), 200)
        .await;
    api.expect("POST", "/clock", Some(json!({})), 400).await;
    let body = json!({"freeze": true, "resume": true});
    api.expect("POST", "/clock", Some(body), 400).await;
    api.expect("POST", "/clock", Some(json!({"set": "yesterday"})), 400)
        .await;

    let faults = [
        json!({"endpoint": "jscode2session", "errcode": -1, "times": 1}),
        json!({"endpoint": "*", "http_status": 502, "probability": 0.5,
            "appid": second, "user": "bob", "consume_code": true}),
        json!({"endpoint": "token", "delay": "3s"}),
        json!({"endpoint": "/cgi-bin/token", "transport": "reset"}),
        json!({"endpoint": "sms_send", "tencent_error": "LimitExceeded.PhoneNumberDailyLimit",
            "appid": "1400000000", "times": 2}),
    ];
    for f in faults {
        api.expect("POST", "/faults", Some(f), 201).await;
    }
    api.expect("GET", "/faults", None, 200).await;
    api.expect("DELETE", "/faults/1", None, 200).await;
    api.expect("DELETE", "/faults/1", None, 404).await;
    api.expect("DELETE", "/faults/x", None, 400).await;
    api.expect("POST", "/faults", Some(json!({"endpoint": "*"})), 400)
        .await;
    let removed = api.expect("DELETE", "/faults", None, 200).await;
    assert_eq!(removed, json!({"removed": 4}));

    // The journal, from real vendor requests: a jscode2session a fault rule failed (it names the
    // app, the user, the fault and its error's rid), a path the mock does not know, and a SendSms
    // (its Tencent Cloud code and headers).
    let body = json!({"endpoint": "jscode2session", "errcode": 40029, "times": 1});
    api.expect("POST", "/faults", Some(body), 201).await;
    let login = api
        .expect("POST", "/wx/login", Some(json!({"user": "bob"})), 200)
        .await;
    t.exchange(login["code"].as_str().expect("code"))
        .await
        .assert_err(40029);
    t.get("/nope").await.assert_err(40066);
    let sent = t
        .send_sms(&t.sms_body(&["+8613800138001"], &["123456", "5"]))
        .await;
    assert_eq!(
        sent.json()["Response"]["SendStatusSet"][0]["Code"],
        "Ok",
        "{}",
        sent.body
    );
    let page = api.expect("GET", "/journal", None, 200).await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(3), "{page}");
    let page = api
        .expect(
            "GET",
            "/journal?endpoint=sms_send&tencent_code=Ok",
            None,
            200,
        )
        .await;
    assert_eq!(page["entries"][0]["headers"]["x-tc-action"], "SendSms");
    let uri =
        format!("/journal?endpoint=jscode2session&appid={default_app}&user=bob&errcode=40029");
    let page = api.expect("GET", &uri, None, 200).await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1), "{page}");
    let failed = &page["entries"][0];
    assert!(failed["fault"].is_string(), "{failed}");
    let rid = failed["rid"].as_str().expect("the error's rid");
    let page = api
        .expect("GET", &format!("/journal?rid={rid}"), None, 200)
        .await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1), "{page}");
    api.expect("GET", "/journal?errcode=x", None, 400).await;
    api.expect("GET", "/journal?nope=1", None, 400).await;
    // The control plane's own changes so far, each after the vendor requests before it.
    let page = api.expect("GET", "/journal/control", None, 200).await;
    let calls = page["entries"].as_array().expect("entries");
    assert!(
        calls
            .iter()
            .any(|c| c["path"] == "/wx/login" && c["after_seq"] == 0),
        "{page}"
    );
    assert!(
        calls.iter().all(|c| c["method"] != "GET"),
        "reads are not journaled: {page}"
    );
    let since = page["last_seq"].as_u64().expect("last_seq");
    let page = api
        .expect("GET", &format!("/journal/control?since={since}"), None, 200)
        .await;
    assert_eq!(page["entries"], json!([]), "{page}");
    api.expect("GET", "/journal/control?since=x", None, 400)
        .await;
    api.expect("GET", "/journal/control?nope=1", None, 400)
        .await;
    let vendor_last = api.expect("GET", "/journal", None, 200).await["last_seq"].clone();
    api.expect("DELETE", "/journal", None, 200).await;
    let page = api.expect("GET", "/journal/control", None, 200).await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["entries"][0]["path"], "/journal", "{page}");
    assert_eq!(page["entries"][0]["after_seq"], vendor_last, "{page}");
    api.expect("DELETE", "/sms", None, 200).await;

    // The SMS gateway: configuration, a message sent, the outbox.
    let config = api.expect("GET", "/sms/config", None, 200).await;
    let body = json!({"limits": {"daily": null, "one_hour": 3},
        "sign_names": [{"name": "登录验证"}, {"name": "审核中", "approved": false}],
        "templates": [{"id": "1", "content": "code {1}"},
            {"id": "2", "content": "{1} shipped", "kind": "notification", "international": true,
             "approved": false}],
        "outbox_capacity": 50, "secret_id": config["secret_id"]});
    let config = api.expect("PATCH", "/sms/config", Some(body), 200).await;
    let body = json!({"PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": config["sdk_app_ids"][0],
        "TemplateId": "1", "SignName": "登录验证", "TemplateParamSet": ["123456"]});
    let sent = t.send_sms(&body).await;
    assert_eq!(
        sent.json()["Response"]["SendStatusSet"][0]["Code"],
        "Ok",
        "{}",
        sent.body
    );
    let outbox = api.expect("GET", "/sms", None, 200).await;
    assert_eq!(outbox["messages"][0]["code"], "123456", "{outbox}");
    let uri = "/sms?phone=%2B8613800138000&since=0&last=1&template_id=1";
    let outbox = api.expect("GET", uri, None, 200).await;
    assert_eq!(
        outbox["messages"].as_array().map(Vec::len),
        Some(1),
        "{outbox}"
    );
    api.expect("GET", "/sms?phone=12", None, 400).await;
    api.expect("GET", "/sms?nope=1", None, 400).await;
    let state = api.expect("GET", "/state", None, 200).await;
    assert_eq!(state["counts"]["sms_messages"], 1, "{state}");
    assert_eq!(state["sms"], config);
    api.expect("DELETE", "/sms", None, 200).await;

    let state = api.expect("GET", "/state", None, 200).await;
    assert!(state["counts"]["sessions"].as_u64() > Some(0), "{state}");
    api.expect("POST", "/reset", None, 200).await;

    // What the server refuses for its shape, the document refuses too.
    let appid = format!("/apps/{second}");
    let refused = [
        ("POST", "/apps", json!({"nope": 1})),
        ("POST", "/apps", json!({"name": 5})),
        ("PATCH", "/options", json!({"stirct": true})),
        ("PATCH", "/options", json!({"quota_scope": "planet"})),
        ("PATCH", "/options", json!({"journal_capacity": 0})),
        ("PATCH", "/options", json!({"strict": null})),
        ("POST", "/users", json!({"nickname": "x"})),
        ("POST", "/users", json!({"handle": "z", "gender": 3})),
        (
            "POST",
            "/users",
            json!({"handle": "z", "phone": {"number": "5550100"}}),
        ),
        (
            "POST",
            "/users",
            json!({"handle": "z", "phone": {"country_code": "1", "number": "1", "x": 1}}),
        ),
        ("PATCH", "/users/alice", json!({"high_risk": "yes"})),
        ("POST", "/users", json!({"handle": "z", "risk_rank": 5})),
        (
            "POST",
            "/users",
            json!({"handle": "z", "risk_rank": "high"}),
        ),
        (
            "PATCH",
            "/options",
            json!({"checkencryptedmsg_unknown": "maybe"}),
        ),
        (
            "POST",
            "/wx/getUserCryptoManager",
            json!({"user": "bob", "key": "x"}),
        ),
        ("POST", "/wx/getUserCryptoManager", json!({"data": 1})),
        ("POST", "/wx/login", json!({})),
        (
            "POST",
            "/wx/getPhoneNumber",
            json!({"user": "alice", "app": "x"}),
        ),
        (
            "POST",
            "/wx/getUserInfo",
            json!({"user": "bob", "era": "modern"}),
        ),
        ("POST", "/wx/getUserProfile", json!({"user": "bob", "x": 1})),
        ("POST", "/wx/getShareInfo", json!({"user": "bob"})),
        (
            "POST",
            "/wx/getWeRunData",
            json!({"user": "bob", "tamper": "bent"}),
        ),
        (
            "POST",
            "/wx/getWeRunData",
            json!({"user": "bob", "steps": [-1]}),
        ),
        ("POST", "/apps", json!({"profile_era": "future"})),
        ("POST", "/clock", json!({"advance": 5})),
        ("POST", "/clock", json!({"freez": true})),
        (
            "POST",
            "/faults",
            json!({"endpoint": "*", "errcode": -1, "probability": 2}),
        ),
        (
            "POST",
            "/faults",
            json!({"endpoint": "*", "http_status": 200}),
        ),
        (
            "POST",
            "/faults",
            json!({"endpoint": "*", "errcode": -1, "times": 0}),
        ),
        (
            "POST",
            "/faults",
            json!({"endpoint": "*", "transport": "explode"}),
        ),
        ("POST", "/faults", json!({"errcode": -1})),
        (
            "POST",
            "/faults",
            json!({"endpoint": "sms_send", "tencent_error": "Nope"}),
        ),
        ("PATCH", "/sms/config", json!({"colour": "red"})),
        ("PATCH", "/sms/config", json!({"outbox_capacity": 0})),
        ("PATCH", "/sms/config", json!({"templates": [{"id": "1"}]})),
        ("PATCH", "/sms/config", json!({"limits": {"daily": -1}})),
        ("PATCH", "/sms/config", json!({"limits": {"weekly": 1}})),
        (
            "PATCH",
            "/sms/config",
            json!({"sign_names": [{"name": "x", "approved": "yes"}]}),
        ),
        (
            "PATCH",
            "/sms/config",
            json!({"templates": [{"id": "1", "content": "x", "kind": "marketing"}]}),
        ),
    ];
    for (method, uri, body) in refused {
        api.refused(method, uri, body).await;
    }
    api.refused("PATCH", &appid, json!({"secret": 5})).await;
    api.refused("PATCH", "/options", json!({"token_daily_limit": 0}))
        .await;
    api.refused("PATCH", "/options", json!({"stub_unmodelled": "yes"}))
        .await;
    api.refused("POST", "/apps", json!({"kind": "mini_game"}))
        .await;
}

#[tokio::test]
async fn platform_and_plugin_answers_match_the_documented_schemas() {
    let t = TestMock::new().await;
    let api = Api::new(&t);
    let state = api.expect("GET", "/state", None, 200).await;
    let host = state["apps"][0]["appid"]
        .as_str()
        .expect("appid")
        .to_owned();
    let plugin = api.expect("POST", "/apps", Some(json!({})), 201).await;
    let plugin = plugin["appid"].as_str().expect("appid").to_owned();

    let generated = api.expect("POST", "/platforms", Some(json!({})), 201).await;
    assert!(
        generated["component_verify_ticket"]
            .as_str()
            .is_some_and(|t| t.starts_with("ticket@@@") && t.len() == 95),
        "{generated}"
    );
    let body = json!({"component_appid": "wxc0ffee", "component_appsecret": "s3cret",
        "name": "isv", "authorizations": [host]});
    let named = api.expect("POST", "/platforms", Some(body), 201).await;
    assert_eq!(named["authorizations"], json!([host]), "{named}");
    let body = json!({"component_appid": "wxc0ffee"});
    api.expect("POST", "/platforms", Some(body), 409).await;
    let body = json!({"authorizations": ["nope"]});
    api.expect("POST", "/platforms", Some(body), 404).await;
    api.expect("GET", "/platforms/wxc0ffee", None, 200).await;
    api.expect("GET", "/platforms/nope", None, 404).await;
    let body = json!({"appid": plugin});
    let both = api
        .expect(
            "POST",
            "/platforms/wxc0ffee/authorizations",
            Some(body),
            200,
        )
        .await;
    assert_eq!(both["authorizations"], json!([host, plugin]), "{both}");
    let body = json!({"appid": "nope"});
    api.expect(
        "POST",
        "/platforms/wxc0ffee/authorizations",
        Some(body),
        404,
    )
    .await;
    let body = json!({"appid": host});
    api.expect("POST", "/platforms/nope/authorizations", Some(body), 404)
        .await;
    let uri = format!("/platforms/wxc0ffee/authorizations/{plugin}");
    api.expect("DELETE", &uri, None, 200).await;
    api.expect("DELETE", &uri, None, 404).await;
    let pushed = api
        .expect("POST", "/platforms/wxc0ffee/ticket", None, 200)
        .await;
    assert_ne!(
        pushed["component_verify_ticket"],
        named["component_verify_ticket"]
    );
    api.expect("POST", "/platforms/nope/ticket", None, 404)
        .await;

    let body = json!({"user": "alice", "plugin_appid": plugin});
    let grant = api.expect("POST", "/wx/pluginLogin", Some(body), 200).await;
    assert_eq!(grant["mock"]["appid"], host, "{grant}");
    let body = json!({"appid": host, "user": "alice", "plugin_appid": "nope"});
    api.expect("POST", "/wx/pluginLogin", Some(body), 404).await;
    let body = json!({"user": "alice", "plugin_appid": host});
    api.expect("POST", "/wx/pluginLogin", Some(body), 400).await;

    let state = api.expect("GET", "/state", None, 200).await;
    assert_eq!(state["counts"]["platforms"], 2, "{state}");
    assert_eq!(state["counts"]["plugin_codes"], 1, "{state}");

    for (method, uri, body) in [
        ("POST", "/platforms", json!({"secret": "x"})),
        ("POST", "/platforms", json!({"authorizations": "wx1"})),
        ("POST", "/platforms", json!({"name": 5})),
        ("POST", "/platforms/wxc0ffee/authorizations", json!({})),
        ("POST", "/wx/pluginLogin", json!({"user": "alice"})),
        (
            "POST",
            "/wx/pluginLogin",
            json!({"user": "alice", "plugin_appid": 5}),
        ),
    ] {
        api.refused(method, uri, body).await;
    }
}
