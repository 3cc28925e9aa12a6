//! Known-answer, layout, tamper and round-trip tests of open data.
use super::*;
use crate::ids::UserHandle;
use crate::users::{Phone, UserView};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use cbc::cipher::block_padding::NoPadding;
use proptest::prelude::*;

// The official vector (WeChat's demo; wechatpy tests/test_crypto.py, WxJava
// WxMaCryptUtilsTest), `wechat-api.md` 8.1.
const VEC_APPID: &str = "wx4f4bc4dec97d474b";
const VEC_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
const VEC_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
const VEC_CIPHERTEXT: &str = concat!(
    "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS",
    "9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142d",
    "NCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6",
    "/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn",
    "/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4P",
    "C7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns",
    "/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYV",
    "oKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuy",
    "Db/XcxxmK01EpqOyuxINew==",
);
const VEC_PLAINTEXT: &str = concat!(
    r#"{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","nickName":"Band","gender":1,"#,
    r#""language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","#,
    r#""avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0","#,
    r#""unionId":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","#,
    r#""watermark":{"timestamp":1477314187,"appid":"wx4f4bc4dec97d474b"}}"#,
);

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn iv16(text: &str) -> [u8; 16] {
    decode16(text).expect("a 16-byte iv")
}

fn band(avatar: &str) -> UserInfo {
    UserInfo {
        nick_name: "Band".into(),
        gender: 1,
        language: "zh_CN".into(),
        city: "Guangzhou".into(),
        province: "Guangdong".into(),
        country: "CN".into(),
        avatar_url: avatar.into(),
    }
}

fn watermark(ts: i64, appid: &str) -> Watermark {
    Watermark::new(&AppId::new(appid), Timestamp::from_secs(ts))
}

// ---- the official vector -----------------------------------------------------------

#[test]
fn official_vector_decrypts_to_the_reference_json() {
    assert_eq!(STANDARD.decode(VEC_CIPHERTEXT).unwrap().len(), 400);
    let plain = decrypt(VEC_KEY, VEC_IV, VEC_CIPHERTEXT).unwrap();
    assert_eq!(plain.len(), 393);
    assert_eq!(std::str::from_utf8(&plain).unwrap(), VEC_PLAINTEXT);
    let value = decrypt_json(VEC_KEY, VEC_IV, VEC_CIPHERTEXT, VEC_APPID).unwrap();
    assert_eq!(value["nickName"], "Band");
}

#[test]
fn official_vector_padding_is_seven_bytes_of_seven() {
    let key = decode16(VEC_KEY).unwrap();
    let ct = STANDARD.decode(VEC_CIPHERTEXT).unwrap();
    let raw = cbc::Decryptor::<Aes128>::new(&key.into(), &iv16(VEC_IV).into())
        .decrypt_padded_vec_mut::<NoPadding>(&ct)
        .unwrap();
    assert_eq!(&raw[393..], &[7u8; 7]);
}

#[test]
fn encrypt_reproduces_the_official_ciphertext() {
    let ct = encrypt(VEC_KEY, &iv16(VEC_IV), VEC_PLAINTEXT.as_bytes()).unwrap();
    assert_eq!(ct, VEC_CIPHERTEXT);
    let sealed = seal(VEC_KEY, None, &iv16(VEC_IV), VEC_PLAINTEXT, None).unwrap();
    assert_eq!(sealed.encrypted_data, VEC_CIPHERTEXT);
    assert_eq!(sealed.iv, VEC_IV);
}

#[test]
fn user_info_builder_reproduces_the_official_plaintext() {
    let info = band(
        "http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0",
    );
    let plain = user_info_plaintext(
        &OpenId::new("oGZUI0egBJY1zhBYw2KhdUfwVJJE"),
        &info,
        Some(&UnionId::new("ocMvos6NjeKLIBqg5Mr9QjxrP1FA")),
        &watermark(1_477_314_187, VEC_APPID),
    );
    assert_eq!(plain, VEC_PLAINTEXT);
    let parsed: UserInfoData = serde_json::from_str(&plain).unwrap();
    assert_eq!(
        parsed.union_id.unwrap().as_str(),
        "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"
    );
}

// ---- rawData and signature -------------------------------------------------------------

#[test]
fn raw_data_and_signature_match_the_doc_vector() {
    let info = band(
        "http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0",
    );
    let raw = raw_data(&RuleEra::Legacy.client_user_info(UserInfoApi::GetUserInfo, &info));
    assert_eq!(
        raw,
        concat!(
            r#"{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","#,
            r#""province":"Guangdong","country":"CN","#,
            r#""avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}"#,
        )
    );
    assert_eq!(
        raw_data_signature(&raw, "HyVFkGl5F5OQWJZZaNzBBg=="),
        "75e81ceda165f4ffa64f4068af58c64b8f54b88c"
    );
}

#[test]
fn demoted_get_user_profile_raw_data_matches_a_2024_capture() {
    let info = RuleEra::Anonymous.client_user_info(UserInfoApi::GetUserProfile, &band("x"));
    assert_eq!(
        raw_data(&info),
        format!(
            r#"{{"nickName":"微信用户","gender":0,"language":"","city":"","province":"","country":"","avatarUrl":"{ANONYMOUS_AVATAR_URL}","is_demote":true}}"#
        )
    );
    // getUserInfo is anonymised without the flag.
    let info = RuleEra::Anonymous.client_user_info(UserInfoApi::GetUserInfo, &band("x"));
    assert_eq!(info.is_demote, None);
    assert!(!raw_data(&info).contains("is_demote"));
}

// ---- eras and layouts ------------------------------------------------------------------

#[test]
fn anonymous_era_hides_the_profile_legacy_keeps_it() {
    let real = band("https://thirdwx.qlogo.cn/mmopen/vi_32/real/132");
    assert_eq!(RuleEra::Legacy.reveal(&real), real);
    let anon = RuleEra::Anonymous.reveal(&real);
    assert_eq!(anon, UserInfo::anonymous());
    assert_eq!(anon.nick_name, "微信用户");
    assert_eq!(anon.gender, 0);
    assert!(anon.language.is_empty() && anon.city.is_empty());
    assert!(anon.province.is_empty() && anon.country.is_empty());
    assert_eq!(anon.avatar_url, ANONYMOUS_AVATAR_URL);
    assert_eq!(
        serde_json::to_string(&[RuleEra::Legacy, RuleEra::Anonymous]).unwrap(),
        r#"["legacy","anonymous"]"#
    );
}

#[test]
fn anonymous_user_info_plaintext_matches_a_2024_capture() {
    let plain = user_info_plaintext(
        &OpenId::new("ohiEf7fXD2LLbjhJFo0cUGsLOXA0"),
        &RuleEra::Anonymous.reveal(&band("x")),
        None,
        &watermark(1_718_744_669, "wxacc29fa6cd594879"),
    );
    assert_eq!(
        plain,
        format!(
            r#"{{"openId":"ohiEf7fXD2LLbjhJFo0cUGsLOXA0","nickName":"微信用户","gender":0,"language":"","city":"","province":"","country":"","avatarUrl":"{ANONYMOUS_AVATAR_URL}","watermark":{{"timestamp":1718744669,"appid":"wxacc29fa6cd594879"}}}}"#
        )
    );
}

#[test]
fn user_profile_plaintext_has_no_ids_and_puts_is_demote_before_the_watermark() {
    let wm = watermark(1_700_000_000, "wx1111111111111111");
    let legacy = RuleEra::Legacy.client_user_info(UserInfoApi::GetUserProfile, &band("a"));
    assert_eq!(
        user_profile_plaintext(&legacy, &wm),
        concat!(
            r#"{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","#,
            r#""province":"Guangdong","country":"CN","avatarUrl":"a","#,
            r#""watermark":{"timestamp":1700000000,"appid":"wx1111111111111111"}}"#
        )
    );
    let demoted = RuleEra::Anonymous.client_user_info(UserInfoApi::GetUserProfile, &band("a"));
    let plain = user_profile_plaintext(&demoted, &wm);
    assert_eq!(
        plain,
        format!(
            r#"{{"nickName":"微信用户","gender":0,"language":"","city":"","province":"","country":"","avatarUrl":"{ANONYMOUS_AVATAR_URL}","is_demote":true,"watermark":{{"timestamp":1700000000,"appid":"wx1111111111111111"}}}}"#
        )
    );
    // A real demoted ciphertext (2024) is 336 bytes: a 321..=335-byte plaintext.
    let with_real_appid =
        user_profile_plaintext(&demoted, &watermark(1_705_244_945, "wx0123456789abcdef"));
    assert_eq!(with_real_appid.len(), 321);
}

#[test]
fn phone_plaintext_layout() {
    assert_eq!(
        phone_plaintext(
            "11111111111",
            "11111111111",
            "86",
            &watermark(1_554_949_910, "wxc418d44a80e38c7b")
        ),
        concat!(
            r#"{"phoneNumber":"11111111111","purePhoneNumber":"11111111111","#,
            r#""countryCode":"86","watermark":{"timestamp":1554949910,"appid":"wxc418d44a80e38c7b"}}"#
        )
    );
}

fn user_view(phone: serde_json::Value) -> UserView {
    serde_json::from_value(serde_json::json!({
        "handle": "alice",
        "nickname": "Alice",
        "avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/alice/132",
        "gender": 2,
        "country": "CN",
        "province": "Guangdong",
        "city": "Shenzhen",
        "language": "zh_CN",
        "phone": phone,
        "high_risk": false,
        "apps": [],
    }))
    .unwrap()
}

#[test]
fn phone_plaintext_of_a_user_uses_the_display_form() {
    let wm = watermark(1_700_000_000, "wx1111111111111111");
    let abroad = user_view(serde_json::json!({"country_code": "1", "number": "2025550123"}));
    assert_eq!(
        phone_plaintext_of(&abroad, &wm).unwrap(),
        concat!(
            r#"{"phoneNumber":"+12025550123","purePhoneNumber":"2025550123","countryCode":"1","#,
            r#""watermark":{"timestamp":1700000000,"appid":"wx1111111111111111"}}"#
        )
    );
    let home = user_view(serde_json::json!({"country_code": "86", "number": "13800138000"}));
    assert!(phone_plaintext_of(&home, &wm).unwrap().starts_with(
        r#"{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":"86","#
    ));
    assert_eq!(
        phone_plaintext_of(&user_view(serde_json::Value::Null), &wm),
        None
    );
    let info = UserInfo::from(&home);
    assert_eq!(info.nick_name, "Alice");
    assert_eq!(info.gender, 2);
    assert_eq!(info.city, "Shenzhen");
    assert_eq!(RuleEra::Legacy.reveal_profile(&home.profile), info);
    assert_eq!(
        RuleEra::Anonymous.reveal_profile(&home.profile),
        UserInfo::anonymous()
    );
    let phone = Phone {
        country_code: "852".into(),
        number: "51234567".into(),
    };
    assert_eq!(
        phone_plaintext_for(&phone, &wm),
        concat!(
            r#"{"phoneNumber":"+85251234567","purePhoneNumber":"51234567","countryCode":"852","#,
            r#""watermark":{"timestamp":1700000000,"appid":"wx1111111111111111"}}"#
        )
    );
}

#[test]
fn share_info_plaintext_layout() {
    assert_eq!(
        share_info_plaintext(
            "tGXVqG5IZmqkGArWBhZNJwn2NsqaQ",
            &watermark(1_600_000_000, "wx1111111111111111")
        ),
        r#"{"openGId":"tGXVqG5IZmqkGArWBhZNJwn2NsqaQ","watermark":{"timestamp":1600000000,"appid":"wx1111111111111111"}}"#
    );
}

#[test]
fn werun_plaintext_matches_a_2017_capture() {
    // A real decrypted getWeRunData payload: 31 days at local midnight ending today, then
    // the watermark.
    let expected = concat!(
        r#"{"stepInfoList":[{"timestamp":1503331200,"step":6069},{"timestamp":1503417600,"step":6404},"#,
        r#"{"timestamp":1503504000,"step":5210},{"timestamp":1503590400,"step":6998},"#,
        r#"{"timestamp":1503676800,"step":4035},{"timestamp":1503763200,"step":1285},"#,
        r#"{"timestamp":1503849600,"step":7090},{"timestamp":1503936000,"step":5162},"#,
        r#"{"timestamp":1504022400,"step":5233},{"timestamp":1504108800,"step":4952},"#,
        r#"{"timestamp":1504195200,"step":6113},{"timestamp":1504281600,"step":1434},"#,
        r#"{"timestamp":1504368000,"step":1607},{"timestamp":1504454400,"step":5964},"#,
        r#"{"timestamp":1504540800,"step":5106},{"timestamp":1504627200,"step":6238},"#,
        r#"{"timestamp":1504713600,"step":4902},{"timestamp":1504800000,"step":7179},"#,
        r#"{"timestamp":1504886400,"step":11568},{"timestamp":1504972800,"step":13161},"#,
        r#"{"timestamp":1505059200,"step":6778},{"timestamp":1505145600,"step":4818},"#,
        r#"{"timestamp":1505232000,"step":5907},{"timestamp":1505318400,"step":4831},"#,
        r#"{"timestamp":1505404800,"step":4835},{"timestamp":1505491200,"step":18243},"#,
        r#"{"timestamp":1505577600,"step":293},{"timestamp":1505664000,"step":5678},"#,
        r#"{"timestamp":1505750400,"step":4775},{"timestamp":1505836800,"step":3611},"#,
        r#"{"timestamp":1505923200,"step":2657}],"#,
        r#""watermark":{"timestamp":1505985046,"appid":"wx66e4ec7b580c2658"}}"#
    );
    let steps = [
        6069, 6404, 5210, 6998, 4035, 1285, 7090, 5162, 5233, 4952, 6113, 1434, 1607, 5964, 5106,
        6238, 4902, 7179, 11568, 13161, 6778, 4818, 5907, 4831, 4835, 18243, 293, 5678, 4775, 3611,
        2657,
    ];
    let now = Timestamp::from_secs(1_505_985_046);
    let wm = Watermark::new(&AppId::new("wx66e4ec7b580c2658"), now);
    assert_eq!(werun_plaintext(now, &steps, &wm), expected);
}

#[test]
fn werun_days_follow_china_midnight() {
    // 2017-08-22 00:00 +08:00 is 1503331200; one second earlier is still the 21st.
    assert_eq!(
        local_midnight(Timestamp::from_secs(1_503_331_200)),
        1_503_331_200
    );
    assert_eq!(
        local_midnight(Timestamp::from_secs(1_503_331_199)),
        1_503_244_800
    );
    let days = werun_days(Timestamp::from_secs(1_503_331_200 + 86_399));
    assert_eq!(days[WERUN_DAYS - 1], 1_503_331_200);
    assert!(days.windows(2).all(|w| w[1] - w[0] == 86_400));
    let g = Generator::new("seed");
    let alice = UserHandle::new("alice");
    let today = Timestamp::from_secs(1_503_331_200 + 100);
    let tomorrow = Timestamp::from_secs(1_503_331_200 + 86_400 + 100);
    let a = werun_steps(&g, &alice, today);
    let b = werun_steps(&g, &alice, tomorrow);
    // A day keeps its count as the window slides.
    assert_eq!(a[1..], b[..WERUN_DAYS - 1]);
    assert!(a.iter().all(|&s| s < 20_000));
    assert_ne!(a, werun_steps(&g, &UserHandle::new("bob"), today));
}

// ---- strict decryption -----------------------------------------------------------------

#[test]
fn decrypt_names_the_bad_input() {
    let ct = VEC_CIPHERTEXT;
    assert_eq!(
        decrypt("tiihtNczf5v6AKRyjwEUhQ=", VEC_IV, ct),
        Err(OpenDataError::InvalidSessionKey)
    );
    assert_eq!(
        decrypt("tiihtNczf5v6AKRyjwEUhQ!!", VEC_IV, ct),
        Err(OpenDataError::InvalidSessionKey)
    );
    // 24 characters, but 17 bytes.
    assert_eq!(
        decrypt("tiihtNczf5v6AKRyjwEUhQA=", VEC_IV, ct),
        Err(OpenDataError::InvalidSessionKey)
    );
    assert_eq!(
        decrypt(VEC_KEY, "r7BXXKkLb8qr", ct),
        Err(OpenDataError::InvalidIv)
    );
    assert_eq!(
        decrypt(VEC_KEY, VEC_IV, "not base64!"),
        Err(OpenDataError::InvalidBase64)
    );
    assert_eq!(
        decrypt(VEC_KEY, VEC_IV, ""),
        Err(OpenDataError::BadLength { len: 0 })
    );
    assert_eq!(
        decrypt(VEC_KEY, VEC_IV, &b64(&[0u8; 17])),
        Err(OpenDataError::BadLength { len: 17 })
    );
    assert_eq!(
        decrypt_json(VEC_KEY, VEC_IV, ct, "wx0000000000000000"),
        Err(OpenDataError::AppIdMismatch {
            expected: "wx0000000000000000".into(),
            found: Some(VEC_APPID.into())
        })
    );
    assert_eq!(OpenDataError::InvalidSessionKey.demo_code(), Some(-41001));
    assert_eq!(OpenDataError::InvalidIv.demo_code(), Some(-41002));
    assert_eq!(OpenDataError::BadPadding.demo_code(), Some(-41003));
    assert_eq!(OpenDataError::InvalidBase64.demo_code(), Some(-41004));
}

#[test]
fn encrypt_rejects_a_bad_key_and_pads_a_full_block() {
    assert_eq!(
        encrypt("short", &[0; 16], b"x"),
        Err(OpenDataError::InvalidSessionKey)
    );
    let ct = encrypt(VEC_KEY, &[0; 16], &[b'a'; 32]).unwrap();
    assert_eq!(STANDARD.decode(ct).unwrap().len(), 48);
}

#[test]
fn decrypt_json_rejects_non_json_and_missing_watermarks() {
    let iv = [9u8; 16];
    let ct = encrypt(VEC_KEY, &iv, b"not json").unwrap();
    assert!(matches!(
        decrypt_json(VEC_KEY, &b64(&iv), &ct, VEC_APPID),
        Err(OpenDataError::InvalidJson(_))
    ));
    let ct = encrypt(VEC_KEY, &iv, br#"{"openGId":"g"}"#).unwrap();
    assert_eq!(
        decrypt_json(VEC_KEY, &b64(&iv), &ct, VEC_APPID),
        Err(OpenDataError::AppIdMismatch {
            expected: VEC_APPID.into(),
            found: None
        })
    );
}

#[test]
fn iv_for_is_seeded_and_depends_on_the_parts() {
    let g = Generator::new("seed");
    let a = iv_for(&g, &[b"app", b"alice", b"user_info", &0u64.to_be_bytes()]);
    assert_eq!(
        a,
        iv_for(
            &Generator::new("seed"),
            &[b"app", b"alice", b"user_info", &0u64.to_be_bytes()]
        )
    );
    assert_ne!(
        a,
        iv_for(&g, &[b"app", b"alice", b"user_info", &1u64.to_be_bytes()])
    );
    assert_ne!(
        a,
        iv_for(
            &Generator::new("other"),
            &[b"app", b"alice", b"user_info", &0u64.to_be_bytes()]
        )
    );
    assert_ne!(a[..8], a[8..]);
}

// ---- tampering -------------------------------------------------------------------------

const KEY: &str = "HyVFkGl5F5OQWJZZaNzBBg==";
const OLD_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
const APP: &str = "wx1111111111111111";

fn sample_plaintext() -> String {
    user_info_plaintext(
        &OpenId::new("oGZUI0egBJY1zhBYw2KhdUfwVJJE"),
        &band("https://thirdwx.qlogo.cn/mmopen/vi_32/x/132"),
        None,
        &watermark(1_700_000_000, APP),
    )
}

fn sealed(tamper: Option<Tamper>) -> Sealed {
    seal(KEY, Some(OLD_KEY), &[7u8; 16], &sample_plaintext(), tamper).unwrap()
}

/// wechatpy's lenient unpadding: strip the last byte's value if it is 1..=32, else nothing.
fn wechatpy_decrypt(key: &str, iv: &str, data: &str) -> Option<Vec<u8>> {
    let key = decode16(key)?;
    let iv = decode16(iv)?;
    let ct = STANDARD.decode(data).ok()?;
    let mut raw = cbc::Decryptor::<Aes128>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<NoPadding>(&ct)
        .ok()?;
    let pad = usize::from(*raw.last()?);
    if (1..=32).contains(&pad) {
        raw.truncate(raw.len().saturating_sub(pad));
    }
    Some(raw)
}

fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

#[test]
fn untampered_seal_round_trips() {
    let s = sealed(None);
    let plain = decrypt(KEY, &s.iv, &s.encrypted_data).unwrap();
    assert_eq!(String::from_utf8(plain).unwrap(), sample_plaintext());
    assert_eq!(s.iv, b64(&[7u8; 16]));
    decrypt_json(KEY, &s.iv, &s.encrypted_data, APP).unwrap();
}

#[test]
fn tamper_serde_names() {
    let all = [
        Tamper::ForeignWatermark,
        Tamper::ExpiredTimestamp,
        Tamper::StaleKey,
        Tamper::FlippedByte,
        Tamper::TruncatedBase64,
        Tamper::WrongIvLength,
    ];
    assert_eq!(
        serde_json::to_string(&all).unwrap(),
        r#"["foreign_watermark","expired_timestamp","stale_key","flipped_byte","truncated_base64","wrong_iv_length"]"#
    );
}

#[test]
fn foreign_watermark_fails_the_appid_check() {
    let s = sealed(Some(Tamper::ForeignWatermark));
    let plain = String::from_utf8(decrypt(KEY, &s.iv, &s.encrypted_data).unwrap()).unwrap();
    // Only the appid changed; the layout is intact.
    assert_eq!(plain, sample_plaintext().replace(APP, FOREIGN_APPID));
    let err = decrypt_json(KEY, &s.iv, &s.encrypted_data, APP).unwrap_err();
    assert_eq!(
        err,
        OpenDataError::AppIdMismatch {
            expected: APP.into(),
            found: Some(FOREIGN_APPID.into())
        }
    );
    assert_eq!(err.demo_code(), Some(-41003));
    // An app whose id is the foreign one still gets a foreign watermark.
    let own = share_info_plaintext("g", &watermark(1, FOREIGN_APPID));
    let s = seal(KEY, None, &[1; 16], &own, Some(Tamper::ForeignWatermark)).unwrap();
    assert!(matches!(
        decrypt_json(KEY, &s.iv, &s.encrypted_data, FOREIGN_APPID),
        Err(OpenDataError::AppIdMismatch { found: Some(f), .. }) if f == FOREIGN_APPID_ALT
    ));
}

#[test]
fn expired_timestamp_fails_a_freshness_check_only() {
    let s = sealed(Some(Tamper::ExpiredTimestamp));
    let value = decrypt_json(KEY, &s.iv, &s.encrypted_data, APP).unwrap();
    assert_eq!(
        value["watermark"]["timestamp"],
        1_700_000_000 - EXPIRED_AGE_SECS
    );
    let plain = String::from_utf8(decrypt(KEY, &s.iv, &s.encrypted_data).unwrap()).unwrap();
    assert_eq!(
        plain,
        sample_plaintext().replace(
            "1700000000",
            &(1_700_000_000 - EXPIRED_AGE_SECS).to_string()
        )
    );
    let now = Timestamp::from_secs(1_700_000_000);
    assert_eq!(
        check_fresh(&value, now, Duration::from_secs(3600)),
        Err(OpenDataError::WatermarkExpired {
            timestamp: 1_700_000_000 - EXPIRED_AGE_SECS,
            now: 1_700_000_000,
            max_age_secs: 3600
        })
    );
    let honest = sealed(None);
    let value = decrypt_json(KEY, &honest.iv, &honest.encrypted_data, APP).unwrap();
    assert_eq!(check_fresh(&value, now, Duration::from_secs(3600)), Ok(()));
    assert_eq!(
        check_fresh(&serde_json::json!({}), now, Duration::from_secs(1)),
        Err(OpenDataError::MissingWatermark)
    );
}

#[test]
fn stale_key_fails_with_the_current_key() {
    let s = sealed(Some(Tamper::StaleKey));
    // It is well-formed under the old key...
    decrypt_json(OLD_KEY, &s.iv, &s.encrypted_data, APP).unwrap();
    // ...and not under the current one.
    assert!(decrypt_json(KEY, &s.iv, &s.encrypted_data, APP).is_err());
    assert_eq!(
        decrypt(KEY, &s.iv, &s.encrypted_data),
        Err(OpenDataError::BadPadding)
    );
    // No previous key, or the same key: refused.
    let p = sample_plaintext();
    assert_eq!(
        seal(KEY, None, &[0; 16], &p, Some(Tamper::StaleKey)),
        Err(OpenDataError::NoStaleKey)
    );
    assert_eq!(
        seal(KEY, Some(KEY), &[0; 16], &p, Some(Tamper::StaleKey)),
        Err(OpenDataError::NoStaleKey)
    );
    assert_eq!(
        seal("bad", Some(OLD_KEY), &[0; 16], &p, Some(Tamper::StaleKey)),
        Err(OpenDataError::InvalidSessionKey)
    );
}

#[test]
fn flipped_byte_breaks_padding_and_json() {
    let s = sealed(Some(Tamper::FlippedByte));
    assert_eq!(s.iv, sealed(None).iv);
    assert_eq!(
        decrypt(KEY, &s.iv, &s.encrypted_data),
        Err(OpenDataError::BadPadding)
    );
    let lenient = wechatpy_decrypt(KEY, &s.iv, &s.encrypted_data).unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&lenient).is_err());
}

#[test]
fn truncated_base64_is_not_base64_nor_whole_blocks() {
    let s = sealed(Some(Tamper::TruncatedBase64));
    assert_eq!(
        decrypt(KEY, &s.iv, &s.encrypted_data),
        Err(OpenDataError::InvalidBase64)
    );
    let bytes = lenient_base64().decode(&s.encrypted_data).unwrap();
    assert_ne!(bytes.len() % 16, 0);
}

#[test]
fn wrong_iv_length_fails_the_iv_check() {
    let s = sealed(Some(Tamper::WrongIvLength));
    assert_eq!(s.iv.len(), 16);
    assert_eq!(STANDARD.decode(&s.iv).unwrap().len(), 12);
    let err = decrypt(KEY, &s.iv, &s.encrypted_data).unwrap_err();
    assert_eq!(err, OpenDataError::InvalidIv);
    assert_eq!(err.demo_code(), Some(-41002));
    // The ciphertext itself is intact.
    assert_eq!(s.encrypted_data, sealed(None).encrypted_data);
}

#[test]
fn seal_needs_a_watermark_to_rewrite() {
    assert_eq!(
        seal(
            KEY,
            None,
            &[0; 16],
            r#"{"a":1}"#,
            Some(Tamper::ForeignWatermark)
        ),
        Err(OpenDataError::MissingWatermark)
    );
    assert_eq!(
        seal(KEY, None, &[0; 16], "", Some(Tamper::ExpiredTimestamp)),
        Err(OpenDataError::MissingWatermark)
    );
}

// ---- the whole client answer -----------------------------------------------------------

#[test]
fn user_info_grant_is_consistent() {
    let profile = band("https://thirdwx.qlogo.cn/mmopen/vi_32/real/132");
    let openid = OpenId::new("oGZUI0egBJY1zhBYw2KhdUfwVJJE");
    let unionid = UnionId::new("ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
    let appid = AppId::new(APP);
    let mut req = UserInfoRequest {
        api: UserInfoApi::GetUserInfo,
        era: RuleEra::Anonymous,
        profile: &profile,
        openid: &openid,
        unionid: Some(&unionid),
        appid: &appid,
        session_key: KEY,
        stale_key: Some(OLD_KEY),
        iv: [3; 16],
        now: Timestamp::from_secs(1_700_000_000),
    };
    let g = user_info_grant(&req, None).unwrap();
    assert_eq!(g.err_msg, "getUserInfo:ok");
    assert_eq!(g.user_info.info, UserInfo::anonymous());
    assert_eq!(g.raw_data, raw_data(&g.user_info));
    assert_eq!(g.signature, raw_data_signature(&g.raw_data, KEY));
    let plain = decrypt(KEY, &g.iv, &g.encrypted_data).unwrap();
    let data: UserInfoData = serde_json::from_slice(&plain).unwrap();
    assert_eq!(data.open_id, openid);
    assert_eq!(data.union_id, Some(unionid.clone()));
    assert_eq!(data.nick_name, ANONYMOUS_NICKNAME);
    let json = serde_json::to_value(&g).unwrap();
    assert_eq!(json["userInfo"]["nickName"], ANONYMOUS_NICKNAME);
    assert!(json["rawData"].is_string() && json["errMsg"].is_string());

    req.api = UserInfoApi::GetUserProfile;
    let g = user_info_grant(&req, Some(Tamper::StaleKey)).unwrap();
    assert_eq!(g.err_msg, "getUserProfile:ok");
    assert_eq!(g.user_info.is_demote, Some(true));
    assert_eq!(g.signature, raw_data_signature(&g.raw_data, OLD_KEY));
    let plain = decrypt(OLD_KEY, &g.iv, &g.encrypted_data).unwrap();
    let data: UserProfileData = serde_json::from_slice(&plain).unwrap();
    assert_eq!(data.is_demote, Some(true));
    assert!(!String::from_utf8(plain).unwrap().contains("openId"));
}

// ---- properties ------------------------------------------------------------------------

fn any_key() -> impl Strategy<Value = String> {
    any::<[u8; 16]>().prop_map(|k| b64(&k))
}

fn any_plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (0usize..20).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 16)),
    ]
}

proptest! {
    #[test]
    fn any_bytes_round_trip(key in any_key(), iv in any::<[u8; 16]>(), plain in any_plaintext()) {
        let ct = encrypt(&key, &iv, &plain).unwrap();
        let len = STANDARD.decode(&ct).unwrap().len();
        prop_assert_eq!(len, (plain.len() / 16 + 1) * 16);
        prop_assert_eq!(decrypt(&key, &b64(&iv), &ct).unwrap(), plain);
    }

    #[test]
    fn any_nickname_round_trips(
        key in any_key(),
        iv in any::<[u8; 16]>(),
        nick in any::<String>(),
        city in "\\PC{0,40}",
        ts in 0i64..4_000_000_000,
    ) {
        let mut info = band("https://thirdwx.qlogo.cn/mmopen/vi_32/x/132");
        info.nick_name = nick.clone();
        info.city = city;
        let plain = user_info_plaintext(&OpenId::new("o1"), &info, None, &watermark(ts, APP));
        let s = seal(&key, None, &iv, &plain, None).unwrap();
        prop_assert_eq!(decrypt(&key, &s.iv, &s.encrypted_data).unwrap(), plain.as_bytes());
        let value = decrypt_json(&key, &s.iv, &s.encrypted_data, APP).unwrap();
        prop_assert_eq!(value["nickName"].as_str(), Some(nick.as_str()));
        let back: UserInfoData = serde_json::from_value(value).unwrap();
        prop_assert_eq!(&back.city, &info.city);
        let raw = raw_data(&RuleEra::Legacy.client_user_info(UserInfoApi::GetUserInfo, &info));
        let parsed: ClientUserInfo = serde_json::from_str(&raw).unwrap();
        prop_assert_eq!(parsed.info, info);
    }

    #[test]
    fn flipped_byte_always_breaks_padding_and_json(
        key in any_key(),
        iv in any::<[u8; 16]>(),
        plain in any_plaintext(),
    ) {
        let text = String::from_utf8_lossy(&plain).into_owned();
        let s = seal(&key, None, &iv, &text, Some(Tamper::FlippedByte)).unwrap();
        prop_assert_eq!(decrypt(&key, &s.iv, &s.encrypted_data), Err(OpenDataError::BadPadding));
        let lenient = wechatpy_decrypt(&key, &s.iv, &s.encrypted_data).unwrap();
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&lenient).is_err());
    }

    #[test]
    fn truncated_base64_always_fails(
        key in any_key(),
        iv in any::<[u8; 16]>(),
        plain in any_plaintext(),
    ) {
        let text = String::from_utf8_lossy(&plain).into_owned();
        let s = seal(&key, None, &iv, &text, Some(Tamper::TruncatedBase64)).unwrap();
        prop_assert_eq!(decrypt(&key, &s.iv, &s.encrypted_data), Err(OpenDataError::InvalidBase64));
        let bytes = lenient_base64().decode(&s.encrypted_data).unwrap();
        prop_assert_ne!(bytes.len() % 16, 0);
    }

    #[test]
    fn stale_key_never_decrypts_to_valid_data(
        key in any_key(),
        old in any_key(),
        iv in any::<[u8; 16]>(),
        ts in 0i64..4_000_000_000,
    ) {
        prop_assume!(key != old);
        let plain = share_info_plaintext("tGXVqG5IZmqkGArWBhZNJwn2NsqaQ", &watermark(ts, APP));
        let s = seal(&key, Some(&old), &iv, &plain, Some(Tamper::StaleKey)).unwrap();
        prop_assert!(decrypt_json(&key, &s.iv, &s.encrypted_data, APP).is_err());
    }

    #[test]
    fn decrypt_never_panics(key in "\\PC{0,30}", iv in "\\PC{0,30}", data in "\\PC{0,80}") {
        let _ = decrypt(&key, &iv, &data);
        let _ = decrypt_json(&key, &iv, &data, APP);
        let _ = seal(&key, Some(&iv), &[0; 16], &data, Some(Tamper::ForeignWatermark));
    }
}

#[test]
fn general_purpose_standard_is_strict() {
    // The strictness `decrypt` relies on: canonical padding required.
    assert!(general_purpose::STANDARD.decode("YQ").is_err());
    assert!(general_purpose::STANDARD.decode("YR==").is_err());
}
