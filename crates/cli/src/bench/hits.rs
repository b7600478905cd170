//! Hits under load: a batch check of 10,000 serials of which 1,000 match a record, sent over
//! loopback with hits off and on, and every notification's webhook delivery counted at a
//! receiver in this process.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use armstrace_core::{CountryCode, OrgKind, OrgState, Permissions};
use armstrace_server::AppState;
use armstrace_server::hits::{HitPolicy, Sending, start_sender};
use armstrace_server::rate_limit::Limits;
use armstrace_server::reference_table::ReferenceTable;
use armstrace_store::Store;
use armstrace_store::audit::AuditWho;

use super::storage::{import_list, prepare, tempfile_dir};

/// Options of `armstrace bench hits`.
pub struct HitsBench {
    pub records: u64,
    pub rows: usize,
    pub matching: usize,
    pub seed: u64,
    /// Whether notifications are delivered while the batches run (else they wait in the
    /// outbox, which shows what writing the hits alone costs).
    pub deliver: bool,
}

/// Deliveries taken by the receiver, by idempotency key.
type Taken = Arc<Mutex<HashSet<String>>>;

async fn receiver() -> anyhow::Result<(String, Taken)> {
    let taken: Taken = Arc::default();
    let kept = taken.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let kept = kept.clone();
            async move {
                if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
                    kept.lock().unwrap().insert(key.to_string());
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, taken))
}

/// An approved organisation with a webhook to `url`; returns its id.
async fn organisation(
    store: &dyn Store,
    name: &str,
    kind: OrgKind,
    country: Option<CountryCode>,
    url: &str,
) -> anyhow::Result<i64> {
    let by = AuditWho::installation();
    let org = store
        .create_organisation(&by, name, kind, country, OrgState::Approved)
        .await?;
    store
        .create_webhook(&by, org.id, url, "bench-webhook-secret-0123456789")
        .await?;
    Ok(org.id)
}

pub async fn run(bench: HitsBench) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    println!("preparing {} records …", bench.records);
    let db = super::storage::BenchDb::new(dir.path(), None).await?;
    let (store, list) = prepare(dir.path(), bench.records, bench.seed, &db).await?;
    import_list(store.as_ref(), &list).await?;

    // Who is told: the secretariat, the searching agency and each recording country's NCB,
    // every one with a webhook to the receiver.
    let (url, taken) = receiver().await?;
    let generated: Vec<_> = armstrace_synth::Generator::new(bench.seed)
        .take(bench.records as usize)
        .collect();
    let countries: BTreeSet<&str> = generated.iter().map(|r| r.recording_country).collect();
    for country in &countries {
        let code = CountryCode::parse(country)?;
        organisation(
            store.as_ref(),
            &format!("NCB {country}"),
            OrgKind::Ncb,
            Some(code),
            &url,
        )
        .await?;
    }
    let secretariat = store.organisations().await?[0].id;
    store
        .create_webhook(
            &AuditWho::installation(),
            secretariat,
            &url,
            "bench-webhook-secret-0123456789",
        )
        .await?;
    let police = organisation(
        store.as_ref(),
        "Bench Border Police",
        OrgKind::Border,
        Some(CountryCode::parse("ZA")?),
        &url,
    )
    .await?;
    let by = AuditWho::installation();
    let user = store
        .create_user(
            &by,
            police,
            "bench-officer",
            None,
            Permissions::parse("check").map_err(anyhow::Error::msg)?,
        )
        .await?;
    let token = armstrace_server::auth::new_token();
    store
        .create_token(
            &by,
            user.id,
            &armstrace_server::auth::hash_token(&token),
            user.permissions,
            Some(chrono::Utc::now() + chrono::Duration::days(1)),
        )
        .await?;

    let reference = ReferenceTable::load(store.as_ref()).await?;
    let index = Arc::new(
        armstrace_server::checking::build_index(store.as_ref(), reference.current().table())
            .await?
            .0,
    );
    // The batch: serials that match exactly one record at a confidence that makes a hit, and
    // serials that match nothing.
    let policy = HitPolicy::default();
    let hits_of = |serial: &str| {
        index
            .check(&armstrace_matcher::CheckQuery {
                serial,
                make: None,
                limit: 10,
            })
            .map(|outcome| {
                outcome
                    .matches
                    .iter()
                    .filter(|m| policy.makes_hit(m))
                    .count()
            })
            .unwrap_or(0)
    };
    let mut csv = String::from("serial_number,row\n");
    let matching: Vec<&str> = generated
        .iter()
        .map(|r| r.serial_number.as_str())
        .filter(|s| !s.contains(['?', '*']) && hits_of(s) == 1)
        .take(bench.matching)
        .collect();
    for (i, serial) in matching.iter().enumerate() {
        csv.push_str(&format!("{serial},{i}\n"));
    }
    let mut i = 0;
    let mut rows = matching.len();
    while rows < bench.rows {
        let serial = format!("QJXW{:07}VZK", i * 7_919);
        i += 1;
        if hits_of(&serial) == 0 {
            csv.push_str(&format!("{serial},{rows}\n"));
            rows += 1;
        }
    }

    let state = AppState::new(store.clone(), index, reference, Limits::none());
    if bench.deliver {
        start_sender(
            store.clone(),
            state.wake.clone(),
            Sending {
                retry_base: Duration::from_millis(200),
                ..Sending::default()
            },
        );
    }
    let client = reqwest::Client::new();
    println!(
        "batch: {} rows, {} of them serials that make one hit each",
        bench.rows,
        matching.len()
    );
    for (round, policy) in ["none", "exact,strong"].repeat(3).into_iter().enumerate() {
        let mut state = state.clone();
        state.hit_policy = HitPolicy::parse(policy).map_err(anyhow::Error::msg)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(armstrace_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        let before = taken.lock().unwrap().len();
        let started = Instant::now();
        let response = client
            .post(format!("http://{address}/api/v1/checks/batch"))
            .bearer_auth(&token)
            .header("content-type", "text/csv")
            .body(csv.clone())
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "the batch answered {}",
            response.status()
        );
        let body = response.text().await?;
        let answered = started.elapsed();
        let hits = body.matches("\"hit_id\"").count();
        println!(
            "round {}: hit policy {policy}: {} rows answered in {:.2} s ({:.0} rows/s), {hits} hits",
            round + 1,
            body.lines().count(),
            answered.as_secs_f64(),
            bench.rows as f64 / answered.as_secs_f64()
        );
        if hits > 0 && bench.deliver {
            let expected = hits * 3;
            let until = Instant::now() + Duration::from_secs(600);
            while taken.lock().unwrap().len() - before < expected && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let delivered = taken.lock().unwrap().len() - before;
            println!(
                "round {}: {delivered} of {expected} notifications delivered to webhooks, the last {:.2} s after the batch began",
                round + 1,
                started.elapsed().as_secs_f64()
            );
        }
        let _ = stop.send(());
        server.await??;
    }
    Ok(())
}
