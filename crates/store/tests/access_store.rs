//! Organisations, users, tokens, sign-in and sessions, on SQLite and on PostgreSQL: what is
//! stored reads back the same, duplicates are refused with the same codes, a token or a session
//! stops working when it should, and every change is in the audit trail.

mod common;

use armstrace_core::{CountryCode, OrgKind, OrgState, Permission, Permissions};
use armstrace_store::audit::{AuditEvent, AuditWho, verify_chain};
use armstrace_store::{Organisation, Store, StoreError, TokenRef, UserChange};
use chrono::{Duration, SubsecRound, Utc};
use common::Backend;
use serde_json::json;

fn country(code: &str) -> Option<CountryCode> {
    Some(CountryCode::parse(code).unwrap())
}

fn perms(list: &[Permission]) -> Permissions {
    list.iter().copied().collect()
}

/// The trail's actions, oldest first, after checking that the chain is intact.
async fn actions(store: &dyn Store) -> Vec<String> {
    let report = verify_chain(store.audit_chain(), None).await.unwrap();
    assert!(report.broken.is_none(), "{report:?}");
    store
        .audit_entries(&Default::default(), None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// A secretariat with an administrator `admin`.
async fn secretariat(store: &dyn Store) -> Organisation {
    let by = AuditWho::installation();
    let org = store
        .create_organisation(
            &by,
            "Secretariat",
            OrgKind::Secretariat,
            None,
            OrgState::Approved,
        )
        .await
        .unwrap();
    store
        .create_user(
            &by,
            org.id,
            "admin",
            Some("$argon2id$admin"),
            Permissions::all(),
        )
        .await
        .unwrap();
    org
}

fn is_conflict(result: &Result<impl std::fmt::Debug, StoreError>, expected: &str) -> bool {
    matches!(result, Err(StoreError::Conflict { code, .. }) if *code == expected)
}

both!(organisations_are_created_listed_and_change_state);

async fn organisations_are_created_listed_and_change_state(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    assert!(!store.is_initialised().await.unwrap());
    let sec = secretariat(store.as_ref()).await;
    assert!(store.is_initialised().await.unwrap());
    let by = AuditWho::from(&store.actor_for_user("admin").await.unwrap().unwrap());

    let ncb = store
        .create_organisation(
            &by,
            "NCB Paris",
            OrgKind::Ncb,
            country("FR"),
            OrgState::Pending,
        )
        .await
        .unwrap();
    assert_eq!(ncb.name, "NCB Paris");
    assert_eq!(ncb.kind, OrgKind::Ncb);
    assert_eq!(ncb.country, country("FR"));
    assert_eq!(ncb.state, OrgState::Pending);
    let partner = store
        .create_organisation(&by, "Partner", OrgKind::Partner, None, OrgState::Approved)
        .await
        .unwrap();

    assert_eq!(
        store.organisations().await.unwrap(),
        vec![sec.clone(), ncb.clone(), partner.clone()]
    );
    assert_eq!(store.organisation(ncb.id).await.unwrap(), Some(ncb.clone()));
    assert_eq!(store.organisation(partner.id + 100).await.unwrap(), None);

    let approved = store
        .set_organisation_state(&by, ncb.id, OrgState::Approved)
        .await
        .unwrap();
    assert_eq!(approved.state, OrgState::Approved);
    assert_eq!(store.organisation(ncb.id).await.unwrap(), Some(approved));
    let suspended = store
        .set_organisation_state(&by, ncb.id, OrgState::Suspended)
        .await
        .unwrap();
    assert_eq!(suspended.state, OrgState::Suspended);
    // Setting the state it has changes nothing, but is still recorded.
    let again = store
        .set_organisation_state(&by, ncb.id, OrgState::Suspended)
        .await
        .unwrap();
    assert_eq!(again, suspended);
    let missing = store
        .set_organisation_state(&by, partner.id + 100, OrgState::Approved)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    assert_eq!(
        actions(store.as_ref()).await,
        [
            "org.create",
            "user.create",
            "org.create",
            "org.create",
            "org.approve",
            "org.suspend",
            "org.suspend",
        ]
    );
    let entries = store
        .audit_entries(&Default::default(), None, 100)
        .await
        .unwrap();
    let approve: serde_json::Value = serde_json::from_str(&entries[4].detail).unwrap();
    assert_eq!(
        approve,
        json!({ "name": "NCB Paris", "from": "pending", "to": "approved" })
    );
    assert_eq!(
        entries[4].target.as_deref(),
        Some(&*format!("org:{}", ncb.id))
    );
    assert_eq!(entries[4].username, "admin");
}

both!(a_duplicate_organisation_or_a_second_ncb_of_a_country_is_refused);

async fn a_duplicate_organisation_or_a_second_ncb_of_a_country_is_refused(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    secretariat(store.as_ref()).await;
    let by = AuditWho::installation();
    store
        .create_organisation(
            &by,
            "NCB Paris",
            OrgKind::Ncb,
            country("FR"),
            OrgState::Approved,
        )
        .await
        .unwrap();

    let same_name = store
        .create_organisation(&by, "NCB Paris", OrgKind::Partner, None, OrgState::Approved)
        .await;
    assert!(is_conflict(&same_name, "duplicate"), "{same_name:?}");
    assert_eq!(
        same_name.unwrap_err().to_string(),
        "an organisation named 'NCB Paris' exists"
    );
    let second_ncb = store
        .create_organisation(
            &by,
            "NCB Lyon",
            OrgKind::Ncb,
            country("FR"),
            OrgState::Approved,
        )
        .await;
    assert!(is_conflict(&second_ncb, "duplicate"), "{second_ncb:?}");
    assert_eq!(
        second_ncb.unwrap_err().to_string(),
        "FR already has an NCB ('NCB Paris'); a country has one"
    );

    // Another country's NCB, and a police force beside an NCB, are fine.
    store
        .create_organisation(
            &by,
            "NCB Berlin",
            OrgKind::Ncb,
            country("DE"),
            OrgState::Approved,
        )
        .await
        .unwrap();
    store
        .create_organisation(
            &by,
            "Gendarmerie",
            OrgKind::Police,
            country("FR"),
            OrgState::Approved,
        )
        .await
        .unwrap();
    let names: Vec<String> = store
        .organisations()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(
        names,
        ["Secretariat", "NCB Paris", "NCB Berlin", "Gendarmerie"]
    );
    // A refused creation leaves nothing in the trail.
    assert_eq!(
        actions(store.as_ref()).await,
        [
            "org.create",
            "user.create",
            "org.create",
            "org.create",
            "org.create"
        ]
    );
}

both!(users_are_created_found_changed_and_listed);

async fn users_are_created_found_changed_and_listed(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let sec = secretariat(store.as_ref()).await;
    let by = AuditWho::from(&store.actor_for_user("admin").await.unwrap().unwrap());
    let ncb = store
        .create_organisation(
            &by,
            "NCB Paris",
            OrgKind::Ncb,
            country("FR"),
            OrgState::Approved,
        )
        .await
        .unwrap();
    let check = perms(&[Permission::Check]);
    let alice = store
        .create_user(&by, ncb.id, "alice", Some("$argon2id$one"), check)
        .await
        .unwrap();
    assert_eq!(alice.org_id, ncb.id);
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.permissions, check);
    assert!(!alice.disabled);
    let bot = store
        .create_user(&by, ncb.id, "bot", None, check)
        .await
        .unwrap();

    assert_eq!(store.user("alice").await.unwrap(), Some(alice.clone()));
    assert_eq!(store.user("Alice").await.unwrap(), None, "names are exact");
    assert_eq!(store.user("nobody").await.unwrap(), None);
    assert_eq!(
        store.users(ncb.id).await.unwrap(),
        vec![alice.clone(), bot.clone()]
    );
    assert_eq!(store.users(sec.id).await.unwrap().len(), 1);

    let duplicate = store.create_user(&by, sec.id, "alice", None, check).await;
    assert!(is_conflict(&duplicate, "duplicate"), "{duplicate:?}");
    assert_eq!(
        duplicate.unwrap_err().to_string(),
        "a user named 'alice' exists"
    );

    let more = perms(&[Permission::Check, Permission::Record]);
    let changed = store
        .update_user(
            &by,
            "alice",
            &UserChange {
                permissions: Some(more),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.permissions, more);
    let disabled = store
        .update_user(
            &by,
            "alice",
            &UserChange {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(disabled.disabled);
    assert!(store.credentials("alice").await.unwrap().unwrap().disabled);
    // Asking for what is already so changes nothing and records nothing.
    let same = store
        .update_user(
            &by,
            "alice",
            &UserChange {
                permissions: Some(more),
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(same, disabled);
    let enabled = store
        .update_user(
            &by,
            "alice",
            &UserChange {
                disabled: Some(false),
                password_hash: Some("$argon2id$two".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!enabled.disabled);
    let credentials = store.credentials("alice").await.unwrap().unwrap();
    assert_eq!(credentials.password_hash.as_deref(), Some("$argon2id$two"));
    assert!(!credentials.disabled);
    assert_eq!(store.user("alice").await.unwrap(), Some(enabled));

    let missing = store
        .update_user(&by, "nobody", &UserChange::default())
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    assert_eq!(
        actions(store.as_ref()).await,
        [
            "org.create",
            "user.create",
            "org.create",
            "user.create",
            "user.create",
            "user.permissions",
            "user.disable",
            "user.password",
            "user.enable",
        ]
    );
    let entries = store
        .audit_entries(&Default::default(), None, 100)
        .await
        .unwrap();
    let created: serde_json::Value = serde_json::from_str(&entries[4].detail).unwrap();
    assert_eq!(
        created,
        json!({ "username": "bot", "org_id": ncb.id, "permissions": "check", "password": false })
    );
    let permissions: serde_json::Value = serde_json::from_str(&entries[5].detail).unwrap();
    assert_eq!(
        permissions,
        json!({ "username": "alice", "from": "check", "to": "check,record" })
    );
}

both!(a_token_acts_within_its_users_permissions_until_it_expires_or_is_revoked);

async fn a_token_acts_within_its_users_permissions_until_it_expires_or_is_revoked(
    backend: Backend,
) {
    let (_db, store) = common::fresh(backend).await;
    secretariat(store.as_ref()).await;
    let admin = store.actor_for_user("admin").await.unwrap().unwrap();
    let by = AuditWho::from(&admin);
    let ncb = store
        .create_organisation(
            &by,
            "NCB Paris",
            OrgKind::Ncb,
            country("FR"),
            OrgState::Pending,
        )
        .await
        .unwrap();
    let user = store
        .create_user(
            &by,
            ncb.id,
            "alice",
            None,
            perms(&[Permission::Check, Permission::Record]),
        )
        .await
        .unwrap();
    let now = Utc::now().trunc_subsecs(0);
    let expires = now + Duration::days(30);
    let token = store
        .create_token(
            &by,
            user.id,
            "hash-one",
            perms(&[Permission::Check, Permission::Trace]),
            Some(expires),
        )
        .await
        .unwrap();
    assert_eq!(token.user_id, user.id);
    assert_eq!(token.username, "alice");
    assert_eq!(token.org_id, ncb.id);
    assert_eq!(
        token.permissions,
        perms(&[Permission::Check, Permission::Trace])
    );
    assert_eq!(token.expires_at, Some(expires));
    assert_eq!(token.revoked_at, None);
    assert!((token.created_at - Utc::now()).num_seconds().abs() < 60);
    let forever = store
        .create_token(&by, user.id, "hash-two", user.permissions, None)
        .await
        .unwrap();

    assert_eq!(
        store.token(&TokenRef::Id(token.id)).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        store
            .token(&TokenRef::Hash("hash-one".into()))
            .await
            .unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        store.token(&TokenRef::Id(forever.id + 100)).await.unwrap(),
        None
    );
    assert_eq!(
        store.token(&TokenRef::Hash("nope".into())).await.unwrap(),
        None
    );
    assert_eq!(
        store.tokens(user.id).await.unwrap(),
        vec![token.clone(), forever.clone()]
    );
    assert_eq!(store.tokens(admin.user_id).await.unwrap(), vec![]);

    let duplicate = store
        .create_token(&by, user.id, "hash-one", user.permissions, None)
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Database(_))),
        "{duplicate:?}"
    );

    // The token carries what both it and its user hold, whatever the organisation's state.
    let actor = store
        .actor_for_token("hash-one", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(actor.user_id, user.id);
    assert_eq!(actor.username, "alice");
    assert_eq!(actor.org_id, ncb.id);
    assert_eq!(actor.org_name, "NCB Paris");
    assert_eq!(actor.org_kind, OrgKind::Ncb);
    assert_eq!(actor.country, country("FR"));
    assert_eq!(actor.org_state, OrgState::Pending);
    assert_eq!(actor.permissions, perms(&[Permission::Check]));
    assert_eq!(store.actor_for_token("nope", now).await.unwrap(), None);
    assert_eq!(
        store.actor_for_token("hash-one", expires).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .actor_for_token("hash-two", now + Duration::days(3650))
            .await
            .unwrap()
            .map(|a| (a.user_id, a.permissions)),
        Some((user.id, forever.permissions)),
        "a token without an expiry still works in ten years"
    );

    // A user who loses a permission loses it on their tokens too; a disabled user's are refused.
    store
        .update_user(
            &by,
            "alice",
            &UserChange {
                permissions: Some(perms(&[Permission::Record])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let actor = store
        .actor_for_token("hash-two", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(actor.permissions, perms(&[Permission::Record]));
    let disable = |disabled| UserChange {
        disabled: Some(disabled),
        ..Default::default()
    };
    store
        .update_user(&by, "alice", &disable(true))
        .await
        .unwrap();
    assert_eq!(store.actor_for_token("hash-two", now).await.unwrap(), None);
    store
        .update_user(&by, "alice", &disable(false))
        .await
        .unwrap();

    let revoked = store
        .revoke_token(&by, &TokenRef::Hash("hash-two".into()))
        .await
        .unwrap();
    let revoked_at = revoked.revoked_at.expect("revoked");
    assert_eq!(
        store.token(&TokenRef::Id(forever.id)).await.unwrap(),
        Some(revoked.clone()),
        "what revoking answers is what is stored"
    );
    assert_eq!(store.actor_for_token("hash-two", now).await.unwrap(), None);
    let twice = store
        .revoke_token(&by, &TokenRef::Id(forever.id))
        .await
        .unwrap();
    assert_eq!(twice.revoked_at, Some(revoked_at));
    let missing = store
        .revoke_token(&by, &TokenRef::Id(forever.id + 100))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    let actions = actions(store.as_ref()).await;
    assert_eq!(
        actions[4..],
        [
            "token.create",
            "token.create",
            "user.permissions",
            "user.disable",
            "user.enable",
            "token.revoke",
        ]
    );
    let entries = store
        .audit_entries(&Default::default(), None, 100)
        .await
        .unwrap();
    let created: serde_json::Value = serde_json::from_str(&entries[4].detail).unwrap();
    assert_eq!(
        created,
        json!({ "user": "alice", "permissions": "check,trace", "expires_at": expires })
    );
    assert_eq!(
        entries[9].target.as_deref(),
        Some(&*format!("token:{}", forever.id))
    );
}

both!(the_actor_for_a_user_name_is_that_user_in_their_organisation);

async fn the_actor_for_a_user_name_is_that_user_in_their_organisation(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let sec = secretariat(store.as_ref()).await;
    let admin = store.actor_for_user("admin").await.unwrap().unwrap();
    assert_eq!(admin.username, "admin");
    assert_eq!(admin.org_id, sec.id);
    assert_eq!(admin.org_name, "Secretariat");
    assert_eq!(admin.org_kind, OrgKind::Secretariat);
    assert_eq!(admin.country, None);
    assert_eq!(admin.org_state, OrgState::Approved);
    assert_eq!(admin.permissions, Permissions::all());
    assert_eq!(
        store.user("admin").await.unwrap().unwrap().id,
        admin.user_id
    );
    assert_eq!(store.actor_for_user("nobody").await.unwrap(), None);
    assert!(store.credentials("nobody").await.unwrap().is_none());
}

/// Locks from the third failure in a row, for a quarter of an hour.
fn lock_after_three(failures: u32) -> Option<Duration> {
    (failures >= 3).then(|| Duration::minutes(15))
}

both!(failed_sign_ins_are_counted_and_lock_the_account_until_one_succeeds);

async fn failed_sign_ins_are_counted_and_lock_the_account_until_one_succeeds(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    secretariat(store.as_ref()).await;
    let admin = store.actor_for_user("admin").await.unwrap().unwrap();
    let credentials = store.credentials("admin").await.unwrap().unwrap();
    assert_eq!(credentials.actor, admin);
    assert_eq!(
        credentials.password_hash.as_deref(),
        Some("$argon2id$admin")
    );
    assert_eq!(credentials.failed_logins, 0);
    assert_eq!(credentials.locked_until, None);
    assert!(!credentials.disabled);

    let failure =
        || AuditEvent::new(&admin, "signin.failure").detail(json!({ "reason": "bad_credentials" }));
    let before = Utc::now();
    assert_eq!(
        store
            .signin_failed(failure(), lock_after_three)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .signin_failed(failure(), lock_after_three)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .credentials("admin")
            .await
            .unwrap()
            .unwrap()
            .failed_logins,
        2
    );
    let until = store
        .signin_failed(failure(), lock_after_three)
        .await
        .unwrap()
        .expect("locked at the third failure");
    assert!(until >= before + Duration::minutes(15));
    assert!(until <= Utc::now() + Duration::minutes(15));
    let credentials = store.credentials("admin").await.unwrap().unwrap();
    assert_eq!(credentials.failed_logins, 3);
    assert_eq!(credentials.locked_until, Some(until));

    // A name nobody has is recorded, and counts against nobody.
    let unknown = AuditEvent::new(AuditWho::unknown("mallory"), "signin.failure")
        .detail(json!({ "reason": "bad_credentials" }));
    assert_eq!(
        store
            .signin_failed(unknown, lock_after_three)
            .await
            .unwrap(),
        None
    );

    let success = AuditEvent::new(&admin, "signin.success");
    store
        .start_session(
            success,
            "session-one",
            "csrf-one",
            Utc::now() + Duration::hours(8),
        )
        .await
        .unwrap();
    let credentials = store.credentials("admin").await.unwrap().unwrap();
    assert_eq!(credentials.failed_logins, 0);
    assert_eq!(credentials.locked_until, None);

    let entries = store
        .audit_entries(&Default::default(), None, 100)
        .await
        .unwrap();
    let failures: Vec<serde_json::Value> = entries
        .iter()
        .filter(|e| e.action == "signin.failure")
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect();
    assert_eq!(
        failures,
        [
            json!({ "reason": "bad_credentials", "failed_in_a_row": 1, "locked_until": null }),
            json!({ "reason": "bad_credentials", "failed_in_a_row": 2, "locked_until": null }),
            json!({ "reason": "bad_credentials", "failed_in_a_row": 3, "locked_until": until }),
            json!({ "reason": "bad_credentials" }),
        ]
    );
    let unknown = entries
        .iter()
        .rev()
        .find(|e| e.action == "signin.failure")
        .unwrap();
    assert_eq!(unknown.username, "mallory");
    assert_eq!(unknown.user_id, None);
    assert_eq!(entries.last().unwrap().action, "signin.success");
    actions(store.as_ref()).await;
}

both!(a_session_names_its_actor_until_it_ends_expires_or_the_password_changes);

async fn a_session_names_its_actor_until_it_ends_expires_or_the_password_changes(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    secretariat(store.as_ref()).await;
    let admin = store.actor_for_user("admin").await.unwrap().unwrap();
    let now = Utc::now();
    let expires = now + Duration::hours(8);
    store
        .start_session(
            AuditEvent::new(&admin, "signin.success"),
            "one",
            "csrf-one",
            expires,
        )
        .await
        .unwrap();
    store
        .start_session(
            AuditEvent::new(&admin, "signin.success"),
            "two",
            "csrf-two",
            expires,
        )
        .await
        .unwrap();
    store
        .start_session(
            AuditEvent::new(&admin, "signin.success"),
            "three",
            "csrf-three",
            expires,
        )
        .await
        .unwrap();

    let (actor, csrf) = store.actor_for_session("one", now).await.unwrap().unwrap();
    assert_eq!(actor, admin);
    assert_eq!(csrf, "csrf-one");
    assert_eq!(store.actor_for_session("nope", now).await.unwrap(), None);
    assert_eq!(store.actor_for_session("one", expires).await.unwrap(), None);

    let duplicate = store
        .start_session(
            AuditEvent::new(&admin, "signin.success"),
            "one",
            "csrf",
            expires,
        )
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Database(_))),
        "{duplicate:?}"
    );
    let nobody = store
        .start_session(
            AuditEvent::new(AuditWho::unknown("mallory"), "signin.success"),
            "four",
            "csrf-four",
            expires,
        )
        .await;
    assert!(matches!(nobody, Err(StoreError::NotFound(_))), "{nobody:?}");

    // Signing out ends the session once: a second sign-out records nothing.
    store
        .end_session(AuditEvent::new(&admin, "signout"), "one")
        .await
        .unwrap();
    assert_eq!(store.actor_for_session("one", now).await.unwrap(), None);
    store
        .end_session(AuditEvent::new(&admin, "signout"), "one")
        .await
        .unwrap();
    store
        .end_session(AuditEvent::new(&admin, "signout"), "nope")
        .await
        .unwrap();

    // A disabled user's sessions are refused; enabled again, they work again.
    let by = AuditWho::from(&admin);
    let disable = |disabled| UserChange {
        disabled: Some(disabled),
        ..Default::default()
    };
    store
        .update_user(&by, "admin", &disable(true))
        .await
        .unwrap();
    assert_eq!(store.actor_for_session("two", now).await.unwrap(), None);
    store
        .update_user(&by, "admin", &disable(false))
        .await
        .unwrap();
    assert_eq!(
        store.actor_for_session("two", now).await.unwrap(),
        Some((admin.clone(), "csrf-two".to_string()))
    );

    // A new password ends every open session.
    let password = UserChange {
        password_hash: Some("$argon2id$new".into()),
        ..Default::default()
    };
    store.update_user(&by, "admin", &password).await.unwrap();
    assert_eq!(store.actor_for_session("two", now).await.unwrap(), None);
    assert_eq!(store.actor_for_session("three", now).await.unwrap(), None);

    assert_eq!(
        actions(store.as_ref()).await[2..],
        [
            "signin.success",
            "signin.success",
            "signin.success",
            "signout",
            "user.disable",
            "user.enable",
            "user.password",
        ]
    );
}

both!(settings_read_back_what_was_set);

async fn settings_read_back_what_was_set(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    assert_eq!(store.setting("instance.name").await.unwrap(), None);
    store
        .set_setting("instance.name", "Armstrace")
        .await
        .unwrap();
    store.set_setting("other", "x").await.unwrap();
    assert_eq!(
        store.setting("instance.name").await.unwrap().as_deref(),
        Some("Armstrace")
    );
    store.set_setting("instance.name", "Renamed").await.unwrap();
    assert_eq!(
        store.setting("instance.name").await.unwrap().as_deref(),
        Some("Renamed")
    );
    assert_eq!(store.setting("other").await.unwrap().as_deref(), Some("x"));
}

both!(racing_writers_create_one_ncb_revoke_once_and_make_one_version);

/// Writers racing on one state, as two nodes of a cluster would: whatever the interleaving, one
/// wins and the others see what it did.
async fn racing_writers_create_one_ncb_revoke_once_and_make_one_version(backend: Backend) {
    use armstrace_reference::Entry;
    use futures::future::join_all;

    let (_db, store) = common::fresh(backend).await;
    secretariat(store.as_ref()).await;
    let admin = store.actor_for_user("admin").await.unwrap().unwrap();
    let by = AuditWho::from(&admin);

    let ncbs = join_all((0..8).map(|i| {
        let (store, by) = (store.clone(), by.clone());
        async move {
            store
                .create_organisation(
                    &by,
                    &format!("NCB {i}"),
                    OrgKind::Ncb,
                    country("IT"),
                    OrgState::Approved,
                )
                .await
        }
    }))
    .await;
    assert_eq!(ncbs.iter().filter(|r| r.is_ok()).count(), 1, "{ncbs:?}");
    assert!(
        ncbs.iter()
            .all(|r| r.is_ok() || is_conflict(r, "duplicate"))
    );

    let token = store
        .create_token(&by, admin.user_id, "hash", admin.permissions, None)
        .await
        .unwrap();
    let revoked = join_all((0..8).map(|_| {
        let (store, by) = (store.clone(), by.clone());
        async move {
            store
                .revoke_token(&by, &TokenRef::Id(token.id))
                .await
                .unwrap()
        }
    }))
    .await;
    let first = revoked[0].revoked_at.expect("revoked");
    assert!(revoked.iter().all(|t| t.revoked_at == Some(first)));

    let glock = armstrace_reference::shipped()
        .table()
        .make("glock")
        .unwrap()
        .clone();
    let changes = join_all((0..8).map(|i| {
        let (store, admin) = (store.clone(), admin.clone());
        let mut glock = glock.clone();
        glock.aliases.push(format!("Glokk {i}"));
        async move {
            let event = AuditEvent::new(&admin, "reference.change").target("glock");
            store.change_reference(event, &Entry::Make(glock), 1).await
        }
    }))
    .await;
    assert_eq!(
        changes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .all(|r| r.is_ok() || is_conflict(r, "stale_version"))
    );
    assert_eq!(store.reference_changes().await.unwrap().len(), 1);

    let actions = actions(store.as_ref()).await;
    let count = |action: &str| actions.iter().filter(|a| *a == action).count();
    assert_eq!(count("org.create"), 2);
    assert_eq!(count("token.revoke"), 1);
    assert_eq!(count("reference.change"), 1);
}
