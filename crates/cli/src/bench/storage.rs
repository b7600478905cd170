//! Import speed and API throughput: a generated list into a new SQLite database, and record
//! reads over loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use armstrace_core::firearm::latest_date_anywhere;
use armstrace_server::AppState;
use armstrace_server::audit_log::AuditLog;
use armstrace_server::rate_limit::Limits;
use armstrace_server::reference_table::ReferenceTable;
use armstrace_store::Store;
use armstrace_store::import::{ImportFormat, ImportOptions, ImportSummary, import};
use armstrace_store::reference::table_in_force;
use rand::{Rng, SeedableRng};

use super::peak_rss_mb;
use crate::init::install;
use crate::operator::operator;

/// A new database with its administrator, and a generated list of `records` rows beside it.
pub async fn prepare(
    dir: &std::path::Path,
    records: u64,
    seed: u64,
) -> anyhow::Result<(Arc<dyn Store>, std::path::PathBuf)> {
    let list = dir.join("list.csv");
    let file = std::io::BufWriter::new(std::fs::File::create(&list)?);
    armstrace_synth::write_csv(file, records, seed)?;
    let db = dir.join("bench.db");
    let store =
        armstrace_store::open(db.to_str().context("temporary path is not UTF-8")?, true).await?;
    install(store.as_ref(), "Bench Secretariat", "admin", None).await?;
    Ok((store, list))
}

pub async fn import_list(
    store: &dyn Store,
    list: &std::path::Path,
) -> anyhow::Result<ImportSummary> {
    let actor = operator(store, None).await?;
    Ok(import(
        store,
        &actor,
        ImportFormat::Csv,
        std::fs::File::open(list)?,
        ImportOptions::new(
            latest_date_anywhere(chrono::Utc::now()),
            table_in_force(store).await?.resolver,
        ),
        |_| {},
    )
    .await?)
}

pub async fn bench_import(records: u64, seed: u64) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    println!("generating {records} records (seed {seed}) …");
    let (store, list) = prepare(dir.path(), records, seed).await?;
    let size = std::fs::metadata(&list)?.len();
    let started = Instant::now();
    let summary = import_list(store.as_ref(), &list).await?;
    let elapsed = started.elapsed();
    println!("import: {summary}");
    println!(
        "import: {records} rows ({:.0} MB) in {:.2} s = {:.0} rows/s",
        size as f64 / 1e6,
        elapsed.as_secs_f64(),
        records as f64 / elapsed.as_secs_f64()
    );
    if let Some(peak) = peak_rss_mb() {
        println!("import: peak resident memory {peak:.0} MB");
    }
    let started = Instant::now();
    let summary = import_list(store.as_ref(), &list).await?;
    println!(
        "re-import of the same file: {summary} in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the API benchmark asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Route {
    /// GET /api/v1/firearms/{id} of a random record.
    Read,
    /// POST /api/v1/checks of a random record's serial.
    Check,
}

pub async fn bench_api(
    records: u64,
    requests: usize,
    concurrency: usize,
    seed: u64,
    route: Route,
    hit_policy: armstrace_server::hits::HitPolicy,
) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    println!("preparing {records} records …");
    let (store, list) = prepare(dir.path(), records, seed).await?;
    import_list(store.as_ref(), &list).await?;
    let actor = operator(store.as_ref(), None).await?;
    let token = armstrace_server::auth::new_token();
    store
        .create_token(
            &armstrace_store::audit::AuditWho::from(&actor),
            actor.user_id,
            &armstrace_server::auth::hash_token(&token),
            actor.permissions,
            Some(chrono::Utc::now() + chrono::Duration::days(1)),
        )
        .await?;
    let reference = ReferenceTable::load(store.as_ref()).await?;
    let index = Arc::new(
        armstrace_server::checking::build_index(store.as_ref(), reference.current().table())
            .await?
            .0,
    );
    // A check's audit entry is part of the check; to show what it costs, the checks are run
    // once more with a trail that drops its entries (nothing else ever uses that one).
    let runs: &[bool] = match route {
        Route::Read => &[true],
        Route::Check => &[true, false],
    };
    let label = match route {
        Route::Read => "GET /api/v1/firearms/{id}",
        Route::Check => "POST /api/v1/checks",
    };
    let mut rates = Vec::new();
    for &audited in runs {
        let mut state = AppState::new(
            store.clone(),
            index.clone(),
            reference.clone(),
            Limits::none(),
        );
        state.hit_policy = hit_policy.clone();
        if !audited {
            state.audit = AuditLog::discarding(store.clone());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(armstrace_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .build()?;
        let target = Arc::new(match route {
            Route::Read => Target::Read {
                base: format!("http://{address}/api/v1/firearms"),
                max_id: records.max(1) as i64,
            },
            Route::Check => Target::Check {
                url: format!("http://{address}/api/v1/checks"),
                serials: armstrace_synth::Generator::new(seed)
                    .take(records as usize)
                    .map(|r| r.serial_number)
                    .collect(),
            },
        });
        load(&client, &target, &token, requests / 10, concurrency, seed).await?;
        let started = Instant::now();
        let mut latencies = load(&client, &target, &token, requests, concurrency, seed + 1).await?;
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        let rate = requests as f64 / elapsed.as_secs_f64();
        let audit_note = match (route, audited) {
            (Route::Read, _) => "",
            (Route::Check, true) => " (audited)",
            (Route::Check, false) => " (audit entries dropped, for comparison)",
        };
        println!(
            "{label}{audit_note}: {requests} requests, {concurrency} in flight, {rate:.0} requests/s, p50 {:?}, p99 {:?}",
            at(0.50),
            at(0.99)
        );
        rates.push(rate);
        let _ = stop.send(());
        server.await??;
    }
    if let [audited, dropped] = rates[..] {
        println!(
            "the audit trail costs {:.1} % of check throughput",
            (1.0 - audited / dropped) * 100.0
        );
    }
    Ok(())
}

/// Sends `requests` GETs of random ids from `concurrency` tasks; returns each latency.
/// Where the load goes.
enum Target {
    Read { base: String, max_id: i64 },
    Check { url: String, serials: Vec<String> },
}

/// Sends `requests` requests from `concurrency` tasks; returns each latency.
async fn load(
    client: &reqwest::Client,
    target: &Arc<Target>,
    token: &str,
    requests: usize,
    concurrency: usize,
    seed: u64,
) -> anyhow::Result<Vec<Duration>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (client, target, token, next) = (
            client.clone(),
            target.clone(),
            token.to_string(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = rand_pcg::Pcg64::seed_from_u64(seed * 1000 + worker as u64);
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let request = match target.as_ref() {
                    Target::Read { base, max_id } => {
                        client.get(format!("{base}/{}", rng.gen_range(1..=*max_id)))
                    }
                    Target::Check { url, serials } => {
                        let serial = &serials[rng.gen_range(0..serials.len())];
                        client
                            .post(url)
                            .json(&serde_json::json!({ "serial_number": serial }))
                    }
                };
                let started = Instant::now();
                let response = request.bearer_auth(&token).send().await?;
                let status = response.status();
                response.bytes().await?;
                anyhow::ensure!(status.is_success(), "the service answered {status}");
                latencies.push(started.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

pub fn tempfile_dir() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix("armstrace-bench")
        .tempdir()?)
}
