//! The invariants under concurrency, on every store: racing logins of one person, of one
//! person from two apps, and two users racing for one phone number.

use super::*;

/// 32 logins of one new identity at once: one user, 32 sessions.
async fn racing_first_logins_of_one_identity_create_one_user(store: &Arc<dyn Store>) {
    let tasks: Vec<_> = (0..32u8)
        .map(|i| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                store
                    .record_login(login("wxa", "o1", Some("u1"), i, T0))
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task").expect("login"));
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_new).count(), 1);
    assert!(outcomes.iter().all(|o| o.user.id == outcomes[0].user.id));
    assert_eq!(stats(store.as_ref()).await, (1, 1, 32));
}

/// One person (one unionid) logs in to two apps of one open platform at once, several times:
/// one user with both identities.
async fn racing_logins_of_one_unionid_from_two_apps_create_one_user(store: &Arc<dyn Store>) {
    for round in 0..8u8 {
        let unionid = format!("u{round}");
        let tasks: Vec<_> = (0..8u8)
            .map(|i| {
                let store = Arc::clone(store);
                let (appid, openid) = if i % 2 == 0 {
                    ("wxa", format!("a{round}"))
                } else {
                    ("wxb", format!("b{round}"))
                };
                let write = login(appid, &openid, Some(&unionid), round * 8 + i, T0);
                tokio::spawn(async move { store.record_login(write).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task").expect("login"));
        }
        let id = outcomes[0].user.id;
        assert!(outcomes.iter().all(|o| o.user.id == id), "round {round}");
        assert_eq!(
            outcomes.iter().filter(|o| o.is_new).count(),
            1,
            "round {round}"
        );
        let user = store.user(id).await.expect("read").expect("the user");
        assert_eq!(
            user.identities,
            vec![
                ident("wxa", &format!("a{round}")),
                ident("wxb", &format!("b{round}"))
            ]
        );
        assert_eq!(user.unionid, Some(UnionId::new(&unionid)));
    }
    assert_eq!(stats(store.as_ref()).await, (8, 16, 64));
}

/// Users of one app race to bind one number, several times: each number ends with one owner,
/// who is one of them; the others are told it conflicts, and nothing of theirs changed.
async fn users_racing_for_one_number_leave_it_one_owner(store: &Arc<dyn Store>) {
    for round in 0..6u8 {
        let pure = format!("1380000{round:04}");
        let mut users = Vec::new();
        for i in 0..4u8 {
            let openid = format!("r{round}u{i}");
            users.push(login_user(store.as_ref(), "wxa", &openid, None, round * 4 + i).await);
        }
        let tasks: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, user)| {
                let store = Arc::clone(store);
                let write = phone_write(user, "wxa", &format!("r{round}u{i}"), &pure);
                tokio::spawn(async move { store.bind_phone(write).await })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.expect("task").expect("bind") {
                PhoneOutcome::Bound(user) => winners.push(user.id),
                PhoneOutcome::Conflict => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        for user in &users {
            let now = store.user(user.id).await.expect("read").expect("user");
            let owns = now
                .phone
                .as_ref()
                .is_some_and(|p| p.pure_phone_number == pure);
            assert_eq!(owns, user.id == winners[0], "round {round}: {now:?}");
        }
    }
    assert_eq!(stats(store.as_ref()).await, (24, 24, 24));
}

/// A phone-only user and a WeChat user race, over and over, through every path that hands out
/// a number (phone logins and bindings): the number never has two owners.
async fn phone_logins_and_bindings_racing_for_one_number_leave_it_one_owner(
    store: &Arc<dyn Store>,
) {
    use crate::phone::PhoneNumber;
    use crate::store::{AppChoice, PhoneProof, WeChatSource};
    for round in 0..6u8 {
        let pure = format!("1390000{round:04}");
        let number = PhoneNumber::parse(&pure).expect("a mainland number");
        let wechat = login_user(store.as_ref(), "wxa", &format!("w{round}"), None, 2 * round).await;
        let fresh = crate::store::WeChatIdentity {
            appid: AppId::new("wxb"),
            openid: OpenId::new(format!("f{round}")),
            unionid: None,
            sealed_session_key: b"k".to_vec(),
        };
        let phone_login = PhoneLoginWrite {
            app: AppChoice::Default(AppId::new("wxb")),
            phone: number.info(),
            wechat: WeChatSource::Fresh(fresh),
            proof: PhoneProof::WeChat,
            session: new_session(2 * round + 1, T0),
            now: T0,
        };
        let mut bind = phone_write(&wechat, "wxa", &format!("w{round}"), &pure);
        bind.phone = number.info();
        let (a, b) = {
            let (s1, s2) = (Arc::clone(store), Arc::clone(store));
            tokio::join!(
                tokio::spawn(async move { s1.phone_login(phone_login).await }),
                tokio::spawn(async move { s2.bind_phone(bind).await })
            )
        };
        a.expect("task").expect("phone login");
        b.expect("task").expect("bind");
        let owner = store.password_of(&number).await.expect("read");
        assert!(
            !matches!(owner, PasswordLookup::NoAccount),
            "round {round}: the number has an owner"
        );
    }
    // Whatever the order, each number has exactly one owner (the unique key would have
    // refused a second), and every user is whole.
    let stats = store.stats().await.expect("stats");
    assert!(stats.users >= 6 && stats.users <= 12, "{stats:?}");
}

on_every_store!(
    shared:
    racing_first_logins_of_one_identity_create_one_user,
    racing_logins_of_one_unionid_from_two_apps_create_one_user,
    users_racing_for_one_number_leave_it_one_owner,
    phone_logins_and_bindings_racing_for_one_number_leave_it_one_owner,
);
