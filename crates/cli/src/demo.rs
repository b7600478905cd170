//! The demo world behind `armstrace serve --demo`: the secretariat, a few NCBs and agencies with
//! users, and generated records, so that a newcomer has something real to explore.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use anyhow::{Context, bail};
use armstrace_core::firearm::latest_date_anywhere;
use armstrace_core::{CountryCode, OrgKind, Permission};
use armstrace_server::auth::{hash_password, hash_token, new_token};
use armstrace_store::audit::AuditWho;
use armstrace_store::import::{ImportFormat, ImportOptions, import};
use armstrace_store::reference::table_in_force;
use armstrace_store::{OrgState, Store};

use crate::init::install;
use crate::operator::operator;

/// Marks a database as holding the demo world.
const DEMO_SETTING: &str = "demo";
/// The password of every demo user (never of a real one).
const DEMO_PASSWORD: &str = "demo-password";
/// Seed of the demo's generated records, so every demo looks the same.
const DEMO_SEED: u64 = 2026;

/// A demo user and the organisation it belongs to.
struct DemoUser {
    username: &'static str,
    organisation: &'static str,
    kind: OrgKind,
    country: &'static str,
    permissions: &'static [Permission],
    /// Waiting for its NCB's approval, so that a newcomer can see and try that step.
    pending: bool,
}

const NCB_PERMISSIONS: &[Permission] = &[
    Permission::Check,
    Permission::Record,
    Permission::Trace,
    Permission::Analyse,
    Permission::Admin,
];

const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        username: "ncb-fr",
        organisation: "NCB Paris",
        kind: OrgKind::Ncb,
        country: "FR",
        permissions: NCB_PERMISSIONS,
        pending: false,
    },
    DemoUser {
        username: "ncb-de",
        organisation: "NCB Wiesbaden",
        kind: OrgKind::Ncb,
        country: "DE",
        permissions: NCB_PERMISSIONS,
        pending: false,
    },
    DemoUser {
        username: "ncb-ua",
        organisation: "NCB Kyiv",
        kind: OrgKind::Ncb,
        country: "UA",
        permissions: NCB_PERMISSIONS,
        pending: false,
    },
    DemoUser {
        username: "ncb-br",
        organisation: "NCB Brasília",
        kind: OrgKind::Ncb,
        country: "BR",
        permissions: NCB_PERMISSIONS,
        pending: false,
    },
    DemoUser {
        username: "police-fr",
        organisation: "Police nationale (FR)",
        kind: OrgKind::Police,
        country: "FR",
        permissions: &[Permission::Check, Permission::Record, Permission::Trace],
        pending: false,
    },
    DemoUser {
        username: "customs-de",
        organisation: "Zoll (DE customs)",
        kind: OrgKind::Customs,
        country: "DE",
        permissions: &[Permission::Check],
        pending: false,
    },
    DemoUser {
        username: "border-ua",
        organisation: "State Border Guard (UA)",
        kind: OrgKind::Border,
        country: "UA",
        permissions: &[Permission::Check],
        pending: false,
    },
    DemoUser {
        username: "police-marseille",
        organisation: "Police de Marseille (awaiting approval)",
        kind: OrgKind::Police,
        country: "FR",
        permissions: &[Permission::Check, Permission::Record],
        pending: true,
    },
];

/// Opens `db` with the demo world in it, loading it first into an empty or new database.
pub async fn prepare(db: &str, records: u64) -> anyhow::Result<Arc<dyn Store>> {
    let shown = armstrace_store::redacted(db);
    let store = armstrace_store::open(db, true)
        .await
        .with_context(|| format!("opening the demo database '{shown}'"))?;
    if store.is_initialised().await? {
        if store.setting(DEMO_SETTING).await?.is_none() {
            bail!(
                "'{shown}' holds a real installation; --demo only loads into an empty or new database (pass another --db)"
            );
        }
        println!("demo world already loaded in {shown}");
    } else {
        load(store.as_ref(), records).await?;
        store.set_setting(DEMO_SETTING, "true").await?;
    }
    print_logins(store.as_ref()).await?;
    Ok(store)
}

async fn load(store: &dyn Store, records: u64) -> anyhow::Result<()> {
    println!("loading the demo world: generating {records} records …");
    install(store, "Armstrace Secretariat", "admin", Some(DEMO_PASSWORD)).await?;
    let mut csv = Vec::new();
    armstrace_synth::write_csv(&mut csv, records, DEMO_SEED)?;
    // Every country that records a firearm has an NCB, as in the real network.
    let countries: BTreeSet<&str> = armstrace_synth::Generator::new(DEMO_SEED)
        .take(records as usize)
        .map(|r| r.recording_country)
        .collect();
    let by = AuditWho::from(&operator(store, None).await?);
    let mut ncb_ids = HashMap::new();
    for user in DEMO_USERS.iter().filter(|u| u.kind == OrgKind::Ncb) {
        let code = CountryCode::parse(user.country)?;
        let org = store
            .create_organisation(
                &by,
                user.organisation,
                user.kind,
                Some(code),
                OrgState::Approved,
            )
            .await?;
        ncb_ids.insert(user.country, org.id);
    }
    for country in countries {
        if !ncb_ids.contains_key(country) {
            let code = CountryCode::parse(country)?;
            let name = format!("NCB {}", code.name());
            let org = store
                .create_organisation(&by, &name, OrgKind::Ncb, Some(code), OrgState::Approved)
                .await?;
            ncb_ids.insert(country, org.id);
        }
    }
    let hash = hash_password(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    for user in DEMO_USERS {
        let org_id = if user.kind == OrgKind::Ncb {
            ncb_ids[user.country]
        } else {
            let code = CountryCode::parse(user.country)?;
            store
                .create_organisation(
                    &by,
                    user.organisation,
                    user.kind,
                    Some(code),
                    if user.pending {
                        OrgState::Pending
                    } else {
                        OrgState::Approved
                    },
                )
                .await?
                .id
        };
        let permissions = user.permissions.iter().copied().collect();
        store
            .create_user(&by, org_id, user.username, Some(&hash), permissions)
            .await?;
    }
    let admin = operator(store, None).await?;
    let summary = import(
        store,
        &admin,
        ImportFormat::Csv,
        std::io::Cursor::new(csv),
        ImportOptions::new(
            latest_date_anywhere(chrono::Utc::now()),
            table_in_force(store).await?.resolver,
        ),
        |_| {},
    )
    .await?;
    println!("demo world loaded: {summary}");
    load_traces(store).await?;
    Ok(())
}

/// A few trace requests at every stage, dated so that one is overdue: a draft that still
/// lacks what Germany will need, a request to Germany past its deadline, one Ukraine answered,
/// and one France forwarded to Ukraine.
async fn load_traces(store: &dyn Store) -> anyhow::Result<()> {
    use armstrace_core::trace::{DeadlinePolicy, Priority, TraceAction, TraceAnswer, TraceContent};
    use armstrace_store::traces::{NewTrace, TraceChange};
    let who = |name: &'static str| async move {
        let actor = store
            .actor_for_user(name)
            .await?
            .with_context(|| format!("demo user {name}"))?;
        anyhow::Ok(AuditWho::from(&actor))
    };
    let (police_fr, ncb_de, ncb_ua, ncb_fr) = (
        who("police-fr").await?,
        who("ncb-de").await?,
        who("ncb-ua").await?,
        who("ncb-fr").await?,
    );
    let country = |code: &str| CountryCode::parse(code).expect("a demo country");
    let content = |serial: &str,
                   make: &str,
                   extra: serde_json::Value|
     -> anyhow::Result<TraceContent> {
        let mut value = serde_json::json!({
            "firearm": { "serial_numbers": [serial], "make": make, "firearm_type": "pistol" },
            "circumstances": { "place": "Demo city", "case_reference": format!("DEMO-{serial}") },
            "legal_basis": "Mutual legal assistance (demo)",
            "intended_use": "Criminal investigation (demo)"
        });
        if let (Some(base), Some(more)) = (value.as_object_mut(), extra.as_object()) {
            base.extend(more.clone());
        }
        Ok(serde_json::from_value(value)?)
    };
    let policy = DeadlinePolicy::default();
    let now = chrono::Utc::now();
    let days = |n: i64| now - chrono::Duration::days(n);
    let step = |action, deadlines, answer, forward_to| TraceChange::Move {
        action,
        text: None,
        deadlines,
        answer,
        forward_to,
    };

    // A draft: no legal basis yet.
    let mut draft = content("DX10482", "Beretta", serde_json::json!({}))?;
    draft.legal_basis = None;
    let new = NewTrace {
        requester_country: country("FR"),
        to_country: Some(country("IT")),
        content: draft,
    };
    store.create_trace(&police_fr, &new, days(1)).await?;

    // Sent to Germany three weeks ago and never answered.
    let new = NewTrace {
        requester_country: country("FR"),
        to_country: Some(country("DE")),
        content: content("WK41877", "Walther", serde_json::json!({}))?,
    };
    let late = store.create_trace(&police_fr, &new, days(22)).await?;
    let sent = days(21);
    let send = step(
        TraceAction::Send,
        Some(policy.deadlines(sent, Priority::Routine)),
        None,
        None,
    );
    store.change_trace(&police_fr, late.id, &send, sent).await?;
    let ack = step(TraceAction::Acknowledge, None, None, None);
    store.change_trace(&ncb_de, late.id, &ack, days(20)).await?;

    // Asked by Germany, answered by Ukraine.
    let new = NewTrace {
        requester_country: country("DE"),
        to_country: Some(country("UA")),
        content: content(
            "ФЕ4471",
            "Makarov",
            serde_json::json!({ "priority": "urgent", "urgency": "Suspect in custody (demo)" }),
        )?,
    };
    let answered = store.create_trace(&ncb_de, &new, days(9)).await?;
    let send = step(
        TraceAction::Send,
        Some(policy.deadlines(days(9), Priority::Urgent)),
        None,
        None,
    );
    store
        .change_trace(&ncb_de, answered.id, &send, days(9))
        .await?;
    let answer: TraceAnswer = serde_json::from_value(serde_json::json!({
        "result": "found",
        "last_legal_recipient": "A licensed dealer in Odesa (demo)",
        "last_legal_country": "UA",
        "transfers": [{ "date": "2004-06-01", "exporting_country": "RU", "importing_country": "UA",
                        "licence_reference": "DEMO-IMP-2004" }],
        "text": "Reported stolen from the dealer in 2014 (demo)."
    }))?;
    let give = step(TraceAction::Answer, None, Some(answer), None);
    store
        .change_trace(&ncb_ua, answered.id, &give, days(8))
        .await?;

    // Asked of France by Brazil's NCB, forwarded by France to Ukraine.
    let ncb_br = who("ncb-br").await?;
    let new = NewTrace {
        requester_country: country("BR"),
        to_country: Some(country("FR")),
        content: content("MR30977", "MAS", serde_json::json!({}))?,
    };
    let chain = store.create_trace(&ncb_br, &new, days(6)).await?;
    let send = step(
        TraceAction::Send,
        Some(policy.deadlines(days(6), Priority::Routine)),
        None,
        None,
    );
    store
        .change_trace(&ncb_br, chain.id, &send, days(6))
        .await?;
    let forward = TraceChange::Move {
        action: TraceAction::Forward,
        text: Some("Exported to Ukraine in 1998 (demo)".into()),
        deadlines: None,
        answer: None,
        forward_to: Some((country("UA"), policy.deadlines(days(5), Priority::Routine))),
    };
    store
        .change_trace(&ncb_fr, chain.id, &forward, days(5))
        .await?;
    println!("demo trace requests: 5 (a draft, one overdue, one answered, a forwarded chain)");
    Ok(())
}

/// Issues fresh week-long tokens for the demo users and prints them.
async fn print_logins(store: &dyn Store) -> anyhow::Result<()> {
    println!();
    println!("Demo users (password for all: {DEMO_PASSWORD}); API tokens valid for 7 days:");
    let expires = chrono::Utc::now() + chrono::Duration::days(7);
    let by = AuditWho::from(&operator(store, None).await?);
    let users = std::iter::once("admin").chain(DEMO_USERS.iter().map(|u| u.username));
    for username in users {
        let actor = operator(store, Some(username)).await?;
        let token = new_token();
        store
            .create_token(
                &by,
                actor.user_id,
                &hash_token(&token),
                actor.permissions,
                Some(expires),
            )
            .await?;
        println!(
            "  {username:<16} {:<40} {:<28} {token}",
            actor.org_name,
            actor.permissions.to_string()
        );
    }
    println!();
    println!(
        "police-marseille's organisation waits for its NCB: sign in as ncb-fr and approve it \
         (POST /api/v1/organisations/{{id}}/approve); until then it sees only GET /api/v1/me."
    );
    // A serial to try in the web interface's Check page: a German record, so that a check by
    // the French police makes a hit the German NCB sees.
    let filter = armstrace_store::FirearmFilter {
        recording_country: Some(CountryCode::parse("DE")?),
        ..Default::default()
    };
    if let Some(firearm) = store.list_firearms(&filter, None, 1).await?.first() {
        println!(
            "In the web interface, sign in as police-fr and check {} (a {} recorded by Germany); \
             then sign in as ncb-de to see the hit and confirm it.",
            firearm.fields.serial_number, firearm.fields.make
        );
    }
    println!();
    Ok(())
}
