//! Phone logins in the store: every rule of `sqlite/phone_login.rs`, the SMS code and ticket
//! life cycles, password races, and refusals that write nothing.

use super::*;
use crate::ids::TicketHash;
use crate::password::PasswordHashText;
use crate::phone::PhoneNumber;
use crate::store::{
    AppChoice, NewSmsCode, NewTicket, PasswordLookup, PasswordProof, PhoneLoginOutcome,
    PhoneLoginWrite, PhoneProof, PhoneRefusal, WeChatIdentity, WeChatSource,
};

const APP: &str = "wxa";
const OTHER_APP: &str = "wxb";
const MINUTE: i64 = 60_000;

fn number(pure: &str) -> PhoneNumber {
    PhoneNumber::parse(pure).expect("a mainland number")
}

fn identity(appid: &str, openid: &str, unionid: Option<&str>) -> WeChatIdentity {
    WeChatIdentity {
        appid: AppId::new(appid),
        openid: OpenId::new(openid),
        unionid: unionid.map(UnionId::new),
        sealed_session_key: format!("sealed-{openid}").into_bytes(),
    }
}

fn code_hash(code: u8) -> [u8; 32] {
    [code; 32]
}

/// A login of `pure` with `proof` and `wechat`, session `token`, at `now`.
fn write(
    pure: &str,
    wechat: WeChatSource,
    proof: PhoneProof,
    token: u8,
    now: UnixMs,
) -> PhoneLoginWrite {
    PhoneLoginWrite {
        app: AppChoice::Default(AppId::new(APP)),
        phone: number(pure).info(),
        wechat,
        proof,
        session: new_session(token, now),
        now,
    }
}

fn sms(code: u8) -> PhoneProof {
    PhoneProof::SmsCode {
        purpose: "login",
        code_hash: code_hash(code),
        max_attempts: 5,
    }
}

async fn send_code(store: &dyn Store, pure: &str, code: u8, now: UnixMs) {
    store
        .save_sms_code(NewSmsCode {
            phone: number(pure),
            purpose: "login",
            code_hash: code_hash(code),
            expires_at: UnixMs(now.0 + 5 * MINUTE),
            now,
        })
        .await
        .expect("code saved");
}

async fn ticket(store: &dyn Store, n: u8, w: WeChatIdentity, now: UnixMs) -> TicketHash {
    let hash = TicketHash([n; 32]);
    store
        .create_ticket(NewTicket {
            hash,
            identity: w,
            expires_at: UnixMs(now.0 + 10 * MINUTE),
            now,
        })
        .await
        .expect("ticket");
    hash
}

async fn login_ok(store: &dyn Store, w: PhoneLoginWrite) -> (User, bool) {
    match store.phone_login(w).await.expect("phone login") {
        PhoneLoginOutcome::LoggedIn { user, is_new, .. } => (*user, is_new),
        PhoneLoginOutcome::Refused(r) => panic!("refused: {r:?}"),
    }
}

async fn refused(store: &dyn Store, w: PhoneLoginWrite) -> PhoneRefusal {
    match store.phone_login(w).await.expect("phone login") {
        PhoneLoginOutcome::Refused(r) => r,
        PhoneLoginOutcome::LoggedIn { user, .. } => panic!("logged in: {user:?}"),
    }
}

/// A number registered by SMS alone (phone-only user).
async fn phone_only(store: &dyn Store, pure: &str, token: u8) -> User {
    send_code(store, pure, 1, T0).await;
    login_ok(store, write(pure, WeChatSource::None, sms(1), token, T0))
        .await
        .0
}

async fn full_stats(store: &dyn Store) -> crate::store::StoreStats {
    store.stats().await.expect("stats")
}

async fn a_new_number_registers_a_phone_only_user_and_logs_in_again(store: &dyn Store) {
    send_code(store, "13800000001", 7, T0).await;
    let (user, is_new) = login_ok(
        store,
        write("13800000001", WeChatSource::None, sms(7), 1, T0),
    )
    .await;
    assert!(is_new);
    assert!(user.identities.is_empty() && user.unionid.is_none());
    assert_eq!(user.phone, Some(number("13800000001").info()));
    let s = store
        .session(&hash(1))
        .await
        .expect("read")
        .expect("session");
    assert_eq!((s.appid.as_str(), s.openid), (APP, None));
    // The code was single use.
    assert_eq!(
        refused(
            store,
            write("13800000001", WeChatSource::None, sms(7), 2, T0)
        )
        .await,
        PhoneRefusal::CodeMissing
    );
    send_code(store, "13800000001", 8, T0).await;
    let (again, is_new) = login_ok(
        store,
        write("13800000001", WeChatSource::None, sms(8), 2, T0),
    )
    .await;
    assert_eq!((again.id, is_new), (user.id, false));
    // The session survives rotation without an openid.
    assert!(
        store
            .rotate_session(&hash(2), new_session(3, T0), T0)
            .await
            .expect("rotate")
    );
    assert_eq!(
        store
            .session(&hash(3))
            .await
            .expect("read")
            .map(|s| s.openid),
        Some(None)
    );
}

async fn codes_expire_count_wrong_tries_and_are_replaced(store: &dyn Store) {
    let pure = "13800000002";
    let try_code =
        |code: u8, at: UnixMs, token: u8| write(pure, WeChatSource::None, sms(code), token, at);
    assert_eq!(
        refused(store, try_code(1, T0, 1)).await,
        PhoneRefusal::CodeMissing
    );
    send_code(store, pure, 1, T0).await;
    for left in (1..5).rev() {
        assert_eq!(
            refused(store, try_code(9, T0, 1)).await,
            PhoneRefusal::CodeWrong {
                attempts_left: left
            }
        );
    }
    assert_eq!(
        refused(store, try_code(9, T0, 1)).await,
        PhoneRefusal::CodeWrong { attempts_left: 0 }
    );
    // Void now, even with the right code.
    assert_eq!(
        refused(store, try_code(1, T0, 1)).await,
        PhoneRefusal::CodeExhausted
    );
    assert_eq!(full_stats(store).await.users, 0);
    // A new code replaces it and its count.
    send_code(store, pure, 2, T0).await;
    assert_eq!(
        refused(store, try_code(1, T0, 1)).await,
        PhoneRefusal::CodeWrong { attempts_left: 4 }
    );
    assert_eq!(
        refused(store, try_code(2, UnixMs(T0.0 + 5 * MINUTE), 1)).await,
        PhoneRefusal::CodeExpired
    );
    login_ok(store, try_code(2, UnixMs(T0.0 + 5 * MINUTE - 1), 1)).await;
    // A discarded code is gone; a discard of another code leaves the pending one.
    send_code(store, pure, 3, T0).await;
    let phone = number(pure);
    store
        .discard_sms_code(&phone, "login", code_hash(4))
        .await
        .expect("discard");
    assert_eq!(full_stats(store).await.sms_codes, 1);
    store
        .discard_sms_code(&phone, "login", code_hash(3))
        .await
        .expect("discard");
    assert_eq!(full_stats(store).await.sms_codes, 0);
}

async fn tickets_are_single_use_expire_and_belong_to_their_app(store: &dyn Store) {
    let t = ticket(store, 1, identity(APP, "o1", None), T0).await;
    let late = ticket(store, 2, identity(APP, "o2", None), T0).await;
    send_code(store, "13800000003", 1, T0).await;
    let mut other_app = write("13800000003", WeChatSource::Ticket(t), sms(1), 1, T0);
    other_app.app = AppChoice::Given(AppId::new(OTHER_APP));
    assert_eq!(refused(store, other_app).await, PhoneRefusal::TicketInvalid);
    let unknown = WeChatSource::Ticket(TicketHash([9; 32]));
    assert_eq!(
        refused(store, write("13800000003", unknown, sms(1), 1, T0)).await,
        PhoneRefusal::TicketInvalid
    );
    let expired_at = UnixMs(T0.0 + 10 * MINUTE);
    assert_eq!(
        refused(
            store,
            write(
                "13800000003",
                WeChatSource::Ticket(late),
                sms(1),
                1,
                expired_at
            )
        )
        .await,
        PhoneRefusal::TicketInvalid
    );
    // The code was not spent by the refusals.
    let (user, is_new) = login_ok(
        store,
        write("13800000003", WeChatSource::Ticket(t), sms(1), 1, T0),
    )
    .await;
    assert!(is_new);
    assert_eq!(user.identities, vec![ident(APP, "o1")]);
    let s = store
        .session(&hash(1))
        .await
        .expect("read")
        .expect("session");
    assert_eq!(s.openid, Some(OpenId::new("o1")));
    assert_eq!(
        store
            .sealed_session_key(&AppId::new(APP), &OpenId::new("o1"))
            .await
            .expect("read"),
        Some(b"sealed-o1".to_vec()),
        "the ticket's sealed key moved to the identity"
    );
    send_code(store, "13800000003", 2, T0).await;
    assert_eq!(
        refused(
            store,
            write("13800000003", WeChatSource::Ticket(t), sms(2), 2, T0)
        )
        .await,
        PhoneRefusal::TicketInvalid,
        "used"
    );
    assert_eq!(full_stats(store).await.tickets, 1, "only the expired one");
    assert_eq!(
        store
            .purge_phone_state(UnixMs(T0.0 + 11 * MINUTE))
            .await
            .expect("purge"),
        2,
        "the expired ticket and the pending code"
    );
    assert_eq!(full_stats(store).await.tickets, 0);
}

async fn a_number_with_an_account_takes_a_new_wechat_identity_unless_it_has_one_here(
    store: &dyn Store,
) {
    let owner = phone_only(store, "13800000004", 1).await;
    // Joins: the phone-only account gets the identity and the unionid.
    send_code(store, "13800000004", 2, T0).await;
    let w = WeChatSource::Fresh(identity(APP, "o1", Some("u1")));
    let (user, is_new) = login_ok(store, write("13800000004", w, sms(2), 2, T0)).await;
    assert_eq!((user.id, is_new), (owner.id, false));
    assert_eq!(user.identities, vec![ident(APP, "o1")]);
    assert_eq!(user.unionid, Some(UnionId::new("u1")));
    // Another openid of the same app: refused, nothing written, the code still pending.
    let before = full_stats(store).await;
    send_code(store, "13800000004", 3, T0).await;
    let t = ticket(store, 3, identity(APP, "o2", None), T0).await;
    let before_with_code = full_stats(store).await;
    assert_eq!(
        refused(
            store,
            write("13800000004", WeChatSource::Ticket(t), sms(3), 3, T0)
        )
        .await,
        PhoneRefusal::PhoneBoundToOtherWeChat
    );
    assert_eq!(full_stats(store).await, before_with_code);
    assert_eq!(before.users, before_with_code.users);
    // Another app, but another person (unionid): refused too.
    let foreign = WeChatSource::Fresh(identity(OTHER_APP, "p1", Some("u2")));
    assert_eq!(
        refused(store, write("13800000004", foreign, sms(3), 3, T0)).await,
        PhoneRefusal::PhoneBoundToOtherWeChat
    );
    // Another app, same person: joins.
    let same = WeChatSource::Fresh(identity(OTHER_APP, "p2", Some("u1")));
    let (user, _) = login_ok(store, write("13800000004", same, sms(3), 3, T0)).await;
    assert_eq!(user.identities.len(), 2);
    // And the plain login of the number is still the same account.
    send_code(store, "13800000004", 4, T0).await;
    let (plain, _) = login_ok(
        store,
        write("13800000004", WeChatSource::None, sms(4), 4, T0),
    )
    .await;
    assert_eq!(plain.id, owner.id);
}

async fn a_person_known_by_unionid_gets_the_number_or_conflicts(store: &dyn Store) {
    // u1's account from another app, without a number.
    let h = login_user(store, OTHER_APP, "b1", Some("u1"), 1).await;
    send_code(store, "13800000005", 1, T0).await;
    let w = WeChatSource::Fresh(identity(APP, "a1", Some("u1")));
    let (user, is_new) = login_ok(store, write("13800000005", w, sms(1), 2, T0)).await;
    assert_eq!((user.id, is_new), (h.id, false));
    assert_eq!(user.phone, Some(number("13800000005").info()));
    assert_eq!(user.identities.len(), 2);

    // u2's account has a number; a new identity of u2 brings another number: refused.
    let h2 = login_user(store, OTHER_APP, "b2", Some("u2"), 3).await;
    send_code(store, "13800000006", 1, T0).await;
    login_ok(
        store,
        write(
            "13800000006",
            WeChatSource::Fresh(identity(OTHER_APP, "b2", Some("u2"))),
            sms(1),
            4,
            T0,
        ),
    )
    .await;
    send_code(store, "13800000007", 1, T0).await;
    let w = WeChatSource::Fresh(identity(APP, "a2", Some("u2")));
    assert_eq!(
        refused(store, write("13800000007", w, sms(1), 5, T0)).await,
        PhoneRefusal::WeChatBoundToOtherPhone
    );
    // A number owned by another account than u2's: refused.
    phone_only(store, "13800000008", 6).await;
    send_code(store, "13800000008", 2, T0).await;
    let w = WeChatSource::Fresh(identity(APP, "a2", Some("u2")));
    assert_eq!(
        refused(store, write("13800000008", w, sms(2), 7, T0)).await,
        PhoneRefusal::PhoneConflict
    );
    assert_eq!(
        store
            .user(h2.id)
            .await
            .expect("read")
            .map(|u| u.identities.len()),
        Some(1)
    );
}

async fn a_known_identity_logs_in_and_takes_a_free_number_only_if_it_has_none(store: &dyn Store) {
    let i = login_user(store, APP, "o1", None, 1).await;
    let t = ticket(store, 1, identity(APP, "o1", None), T0).await;
    send_code(store, "13800000009", 1, T0).await;
    let (user, is_new) = login_ok(
        store,
        write("13800000009", WeChatSource::Ticket(t), sms(1), 2, T0),
    )
    .await;
    assert_eq!((user.id, is_new), (i.id, false));
    assert_eq!(user.phone, Some(number("13800000009").info()));
    // Now with another free number: the account has one already.
    send_code(store, "13800000010", 1, T0).await;
    let w = || WeChatSource::Fresh(identity(APP, "o1", None));
    assert_eq!(
        refused(store, write("13800000010", w(), sms(1), 3, T0)).await,
        PhoneRefusal::WeChatBoundToOtherPhone
    );
    // A number of another account.
    phone_only(store, "13800000011", 4).await;
    send_code(store, "13800000011", 2, T0).await;
    assert_eq!(
        refused(store, write("13800000011", w(), sms(2), 5, T0)).await,
        PhoneRefusal::PhoneConflict
    );
    // WeChat's own number of a known identity: the WeChat login wins, the number is not looked
    // at.
    let (user, _) = login_ok(store, write("13800000011", w(), PhoneProof::WeChat, 6, T0)).await;
    assert_eq!(user.id, i.id);
    assert_eq!(user.phone, Some(number("13800000009").info()));
}

async fn wechat_numbers_register_join_or_conflict(store: &dyn Store) {
    let wechat = |openid: &str| WeChatSource::Fresh(identity(APP, openid, None));
    // Free number: a new user with both.
    let (a, is_new) = login_ok(
        store,
        write("13800000012", wechat("o1"), PhoneProof::WeChat, 1, T0),
    )
    .await;
    assert!(is_new);
    assert_eq!(a.identities, vec![ident(APP, "o1")]);
    // The number's account has another openid here.
    let before = full_stats(store).await;
    assert_eq!(
        refused(
            store,
            write("13800000012", wechat("o2"), PhoneProof::WeChat, 2, T0)
        )
        .await,
        PhoneRefusal::PhoneBoundToOtherWeChat
    );
    assert_eq!(full_stats(store).await, before);
    // A phone-only account: joined.
    let p = phone_only(store, "13800000013", 3).await;
    let (user, is_new) = login_ok(
        store,
        write("13800000013", wechat("o3"), PhoneProof::WeChat, 4, T0),
    )
    .await;
    assert_eq!((user.id, is_new), (p.id, false));
}

async fn passwords_register_verify_and_notice_changes(store: &dyn Store) {
    let pure = "13800000014";
    let h1 = PasswordHashText("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaDE".into());
    let h2 = PasswordHashText("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaDI".into());
    let register = |hash: &PasswordHashText| {
        PhoneProof::Password(PasswordProof::Register { hash: hash.clone() })
    };
    assert_eq!(
        store.password_of(&number(pure)).await.expect("read"),
        PasswordLookup::NoAccount
    );
    let (user, is_new) =
        login_ok(store, write(pure, WeChatSource::None, register(&h1), 1, T0)).await;
    assert!(is_new);
    assert_eq!(
        store.password_of(&number(pure)).await.expect("read"),
        PasswordLookup::Password {
            user_id: user.id,
            hash: h1.clone()
        }
    );
    // A racing second registration finds the account: refused, to be checked again.
    assert_eq!(
        refused(store, write(pure, WeChatSource::None, register(&h2), 2, T0)).await,
        PhoneRefusal::PasswordChanged
    );
    let verified = |hash: &PasswordHashText| {
        PhoneProof::Password(PasswordProof::Verified {
            user_id: user.id,
            hash: hash.clone(),
        })
    };
    assert_eq!(
        refused(store, write(pure, WeChatSource::None, verified(&h2), 2, T0)).await,
        PhoneRefusal::PasswordChanged
    );
    let (again, is_new) =
        login_ok(store, write(pure, WeChatSource::None, verified(&h1), 2, T0)).await;
    assert_eq!((again.id, is_new), (user.id, false));
    // A number whose account has no password.
    let p = phone_only(store, "13800000015", 3).await;
    assert_eq!(
        store
            .password_of(&number("13800000015"))
            .await
            .expect("read"),
        PasswordLookup::NoPassword { user_id: p.id }
    );
    assert_eq!(full_stats(store).await.passwords, 1);
}

async fn only_registered_identities_log_in_without_a_phone(store: &dyn Store) {
    assert!(
        store
            .login_registered(login(APP, "o1", Some("u1"), 1, T0))
            .await
            .expect("write")
            .is_none()
    );
    assert_eq!(stats(store).await, (0, 0, 0), "nothing written");
    login_user(store, OTHER_APP, "b1", Some("u1"), 2).await;
    let joined = store
        .login_registered(login(APP, "o1", Some("u1"), 3, T0))
        .await
        .expect("write")
        .expect("the unionid's user");
    assert!(!joined.is_new);
    assert_eq!(joined.user.identities.len(), 2);
    let again = store
        .login_registered(login(APP, "o1", None, 4, T0))
        .await
        .expect("write")
        .expect("a known identity");
    assert_eq!(again.user.id, joined.user.id);
    // The unionid's user already has another openid here: not registered.
    assert!(
        store
            .login_registered(login(APP, "o9", Some("u1"), 5, T0))
            .await
            .expect("write")
            .is_none()
    );
}

async fn a_join_by_phone_binding_drops_the_joined_users_password(store: &dyn Store) {
    // U: registered with a password and a WeChat identity of APP; O: a phone-only account of
    // another number that U binds through /api/me/phone.
    let t = ticket(store, 1, identity(OTHER_APP, "u-open", None), T0).await;
    let h = PasswordHashText("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaDE".into());
    let (u, _) = login_ok(
        store,
        write(
            "13800000016",
            WeChatSource::Ticket(t),
            PhoneProof::Password(PasswordProof::Register { hash: h }),
            1,
            T0,
        ),
    )
    .await;
    let o = phone_only(store, "13800000017", 2).await;
    let mut bind = phone_write(&u, OTHER_APP, "u-open", "13800000017");
    bind.phone = number("13800000017").info();
    match store.bind_phone(bind).await.expect("bind") {
        crate::store::PhoneOutcome::Joined { user, merged_from } => {
            assert_eq!((user.id, merged_from), (o.id, u.id));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(full_stats(store).await.passwords, 0);
    assert_eq!(
        store
            .password_of(&number("13800000016"))
            .await
            .expect("read"),
        PasswordLookup::NoAccount,
        "the number left with the joined user"
    );
}

on_every_store!(
    a_new_number_registers_a_phone_only_user_and_logs_in_again,
    codes_expire_count_wrong_tries_and_are_replaced,
    tickets_are_single_use_expire_and_belong_to_their_app,
    a_number_with_an_account_takes_a_new_wechat_identity_unless_it_has_one_here,
    a_person_known_by_unionid_gets_the_number_or_conflicts,
    a_known_identity_logs_in_and_takes_a_free_number_only_if_it_has_none,
    wechat_numbers_register_join_or_conflict,
    passwords_register_verify_and_notice_changes,
    only_registered_identities_log_in_without_a_phone,
    a_join_by_phone_binding_drops_the_joined_users_password,
);
