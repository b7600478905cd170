//! Import speed and API throughput: a generated list into a new SQLite or PostgreSQL database,
//! the start-up index built from it, and record reads and checks over loopback on one node or
//! several.

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

/// Where a benchmark's database lives: a SQLite file in its directory, or a database of its
/// own on a PostgreSQL server, dropped when the benchmark ends.
pub struct BenchDb {
    /// The `--db` value.
    pub url: String,
    pg: Option<(String, String)>,
}

impl BenchDb {
    /// A new database: on the PostgreSQL server `pg` names, or as a file in `dir`.
    pub async fn new(dir: &std::path::Path, pg: Option<&str>) -> anyhow::Result<Self> {
        match pg {
            None => Ok(BenchDb {
                url: dir
                    .join("bench.db")
                    .to_str()
                    .context("temporary path is not UTF-8")?
                    .to_string(),
                pg: None,
            }),
            Some(server) => {
                let name = format!("armstrace_bench_{}", std::process::id());
                let url = armstrace_store::create_database(server, &name).await?;
                Ok(BenchDb {
                    url,
                    pg: Some((server.to_string(), name)),
                })
            }
        }
    }

    /// Drops the PostgreSQL database, if there is one.
    pub async fn remove(self) -> anyhow::Result<()> {
        if let Some((server, name)) = self.pg {
            armstrace_store::drop_database(&server, &name).await?;
        }
        Ok(())
    }
}

/// A new database with its administrator, and a generated list of `records` rows beside it.
pub async fn prepare(
    dir: &std::path::Path,
    records: u64,
    seed: u64,
    db: &BenchDb,
) -> anyhow::Result<(Arc<dyn Store>, std::path::PathBuf)> {
    let list = dir.join("list.csv");
    let file = std::io::BufWriter::new(std::fs::File::create(&list)?);
    armstrace_synth::write_csv(file, records, seed)?;
    let store = armstrace_store::open(&db.url, true).await?;
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

pub async fn bench_import(records: u64, seed: u64, pg: Option<&str>) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let db = BenchDb::new(dir.path(), pg).await?;
    println!(
        "generating {records} records (seed {seed}) for {} …",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    let (store, list) = prepare(dir.path(), records, seed, &db).await?;
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
    // What a node does at start-up: the reference table and the check index from the store.
    let started = Instant::now();
    let reference = ReferenceTable::load(store.as_ref()).await?;
    let (index, _) =
        armstrace_server::checking::build_index(store.as_ref(), reference.current().table())
            .await?;
    println!(
        "node start-up: check index of {} records built from the store in {:.2} s",
        index.slots(),
        started.elapsed().as_secs_f64()
    );
    drop(store);
    db.remove().await
}

/// Appends `entries` check entries by `actor` to the trail, as checks that found nothing would
/// have left them, so that the measurement runs against a trail of a running service's size;
/// then confirms that the trail ends with them.
async fn fill_trail(
    store: &Arc<dyn Store>,
    actor: &armstrace_core::Actor,
    entries: u64,
) -> anyhow::Result<()> {
    const BATCH: u64 = 10_000;
    if entries == 0 {
        return Ok(());
    }
    // The entry a check writes, from the code that writes it.
    let audit = armstrace_server::checking::CheckAudit {
        log: AuditLog::discarding(store.clone()),
        who: actor.into(),
        on_behalf_of: None,
        policy: armstrace_server::hits::HitPolicy::default(),
        operation: None,
    };
    let nothing = armstrace_matcher::CheckOutcome {
        matches: Vec::new(),
        total: 0,
        equally_close: 0,
    };
    let started = Instant::now();
    let mut written = 0;
    while written < entries {
        let events: Vec<_> = (written..(written + BATCH).min(entries))
            .map(|n| {
                let mut detail = serde_json::Map::new();
                detail.insert("check_id".into(), format!("fill-{n}").into());
                audit.event(&format!("FILL{n:08}"), None, Ok(&nothing), detail)
            })
            .collect();
        store.append_audit(&events).await?;
        written += events.len() as u64;
        if written % 500_000 == 0 && written < entries {
            println!(
                "  the trail holds {written} entries ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    // No check ran before: the trail's checks are the ones just written, numbered in a row.
    let checks = armstrace_store::audit::AuditFilter {
        action: Some("check".into()),
        ..Default::default()
    };
    let first = store.audit_entries(&checks, None, 1).await?;
    let last = match first.first() {
        Some(first) => {
            store
                .audit_entries(&checks, Some(first.id + entries as i64 - 2), 2)
                .await?
        }
        None => Vec::new(),
    };
    anyhow::ensure!(
        matches!((first.first(), last.as_slice()), (Some(f), [l]) if l.id == f.id + entries as i64 - 1),
        "the trail does not end with the {entries} entries just written"
    );
    println!(
        "  the trail holds {entries} entries ({:.0} s)",
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

/// What the API benchmark runs against.
pub struct ApiBench {
    pub records: u64,
    pub requests: usize,
    pub concurrency: usize,
    pub seed: u64,
    pub route: Route,
    pub hit_policy: armstrace_server::hits::HitPolicy,
    /// A PostgreSQL server to make the database on, instead of a SQLite file.
    pub pg: Option<String>,
    /// Service nodes on the one database, each with its own index; the load is spread over
    /// them.
    pub nodes: usize,
    /// Times the measurement runs (see `--rounds`).
    pub rounds: usize,
    /// Entries written to the trail before the measurement (see `--trail`).
    pub trail: u64,
}

pub async fn bench_api(bench: ApiBench) -> anyhow::Result<()> {
    let ApiBench {
        records,
        requests,
        concurrency,
        seed,
        route,
        hit_policy,
        pg,
        nodes,
        rounds,
        trail,
    } = bench;
    let nodes = nodes.max(1);
    let dir = tempfile_dir()?;
    let db = BenchDb::new(dir.path(), pg.as_deref()).await?;
    println!(
        "preparing {records} records on {}, {nodes} node(s) …",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    let (store, list) = prepare(dir.path(), records, seed, &db).await?;
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
    fill_trail(&store, &actor, trail).await?;
    let reference = ReferenceTable::load(store.as_ref()).await?;
    // Each node has an index of its own, as a separate process would.
    let mut indexes = Vec::new();
    for _ in 0..nodes {
        indexes.push(Arc::new(
            armstrace_server::checking::build_index(store.as_ref(), reference.current().table())
                .await?
                .0,
        ));
    }
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
    let mut costs = Vec::new();
    for round in 1..=rounds.max(1) {
        if rounds > 1 {
            println!("round {round} of {rounds}");
        }
        let mut rates = Vec::new();
        for &audited in runs {
            let mut addresses = Vec::new();
            let mut servers = Vec::new();
            for index in &indexes {
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
                addresses.push(listener.local_addr()?);
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let server = tokio::spawn(armstrace_server::serve(listener, state, async {
                    let _ = stopped.await;
                }));
                servers.push((stop, server));
            }
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(concurrency)
                .build()?;
            let target = Arc::new(match route {
                Route::Read => Target::Read {
                    bases: addresses
                        .iter()
                        .map(|a| format!("http://{a}/api/v1/firearms"))
                        .collect(),
                    max_id: records.max(1) as i64,
                },
                Route::Check => Target::Check {
                    urls: addresses
                        .iter()
                        .map(|a| format!("http://{a}/api/v1/checks"))
                        .collect(),
                    serials: armstrace_synth::Generator::new(seed)
                        .take(records as usize)
                        .map(|r| r.serial_number)
                        .collect(),
                },
            });
            load(&client, &target, &token, requests / 10, concurrency, seed).await?;
            let cpu_before = super::thread_cpu();
            let started = Instant::now();
            let mut latencies =
                load(&client, &target, &token, requests, concurrency, seed + 1).await?;
            let elapsed = started.elapsed();
            let cpu = super::cpu_between(&cpu_before, &super::thread_cpu());
            latencies.sort_unstable();
            let at = |q: f64| {
                latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)]
            };
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
            // The load generator shares the process (and its tokio threads) with the service.
            let per_request = |ns: u64| ns as f64 / 1000.0 / requests as f64;
            if !cpu.is_empty() {
                let total: u64 = cpu.iter().map(|(_, ns)| ns).sum();
                let threads: Vec<String> = cpu
                    .iter()
                    .map(|(name, ns)| format!("{name} {:.1}", per_request(*ns)))
                    .collect();
                println!(
                    "  CPU per request, load generator included: {:.1} µs ({}); cores busy {:.0} %",
                    per_request(total),
                    threads.join(", "),
                    total as f64 / 1e9 / elapsed.as_secs_f64() / super::cores() as f64 * 100.0
                );
            }
            rates.push(rate);
            for (stop, server) in servers {
                let _ = stop.send(());
                server.await??;
            }
        }
        if let [audited, dropped] = rates[..] {
            let cost = (1.0 - audited / dropped) * 100.0;
            println!("the audit trail costs {cost:.1} % of check throughput");
            costs.push(cost);
        }
    }
    if costs.len() > 1 {
        costs.sort_by(f64::total_cmp);
        println!(
            "over {} rounds the audit trail costs {:.1} % of check throughput (median; {:.1} to {:.1} %)",
            costs.len(),
            median(&costs),
            costs[0],
            costs[costs.len() - 1]
        );
    }
    drop(store);
    db.remove().await
}

/// The middle of sorted `values` (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// Sends `requests` GETs of random ids from `concurrency` tasks; returns each latency.
/// Where the load goes.
enum Target {
    Read {
        bases: Vec<String>,
        max_id: i64,
    },
    Check {
        urls: Vec<String>,
        serials: Vec<String>,
    },
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
                // Each worker stays on one node, as a client behind a balancer would.
                let request = match target.as_ref() {
                    Target::Read { bases, max_id } => {
                        let base = &bases[worker % bases.len()];
                        client.get(format!("{base}/{}", rng.gen_range(1..=*max_id)))
                    }
                    Target::Check { urls, serials } => {
                        let serial = &serials[rng.gen_range(0..serials.len())];
                        client
                            .post(&urls[worker % urls.len()])
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

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[7.0]), 7.0);
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
    }
}
