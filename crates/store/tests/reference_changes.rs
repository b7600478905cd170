//! The secretariat's changes of the reference table: numbered versions of each entry, a stale
//! change refused, each change in the audit trail, and the table in force built from them.

mod common;

use armstrace_reference::{Entry, Kind};
use armstrace_store::audit::{AuditEvent, AuditWho, verify_chain};
use armstrace_store::reference::table_in_force;
use common::Backend;

fn event(key: &str) -> AuditEvent {
    AuditEvent::new(AuditWho::installation(), "reference.change").target(key.to_string())
}

both!(each_change_is_the_next_version_and_a_stale_one_is_refused);

async fn each_change_is_the_next_version_and_a_stale_one_is_refused(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let shipped = armstrace_reference::shipped().table();
    let mut glock = shipped.make("glock").unwrap().clone();
    let in_force = table_in_force(store.as_ref()).await.unwrap();
    assert_eq!(in_force.version(Kind::Make, "glock"), 1);
    assert_eq!(in_force.version(Kind::Make, "acme"), 0);
    assert_eq!(store.reference_change_count().await.unwrap(), 0);

    glock.aliases.push("Glokk Wien".into());
    let first = store
        .change_reference(event("glock"), &Entry::Make(glock.clone()), 1)
        .await
        .unwrap();
    assert_eq!(first.version, 2);
    assert_eq!(store.reference_change_count().await.unwrap(), 1);
    glock.aliases.push("Glokk Graz".into());
    let stale = store
        .change_reference(event("glock"), &Entry::Make(glock.clone()), 1)
        .await;
    assert!(
        matches!(
            stale,
            Err(armstrace_store::StoreError::Conflict {
                code: "stale_version",
                ..
            })
        ),
        "{stale:?}"
    );
    store
        .change_reference(event("glock"), &Entry::Make(glock.clone()), 2)
        .await
        .unwrap();

    // The refused change was not stored.
    assert_eq!(store.reference_change_count().await.unwrap(), 2);
    assert_eq!(store.reference_changes().await.unwrap().len(), 2);
    let in_force = table_in_force(store.as_ref()).await.unwrap();
    assert_eq!(in_force.version(Kind::Make, "glock"), 3);
    assert_eq!(in_force.history(Kind::Make, "glock").len(), 2);
    assert_eq!(in_force.table().make("glock"), Some(&glock));
    assert_eq!(
        in_force.resolver.make("Glokk Graz").id(),
        Some("glock"),
        "the table in force resolves the new alias"
    );
    // Two changes, two audit entries, one intact chain.
    let report = verify_chain(store.audit_chain(), None).await.unwrap();
    assert!(report.broken.is_none(), "{report:?}");
    let changes = store
        .audit_entries(&Default::default(), None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "reference.change")
        .count();
    assert_eq!(changes, 2);
}
