//! `armstrace bench`: the measurements behind docs/BENCHMARKS.md — import speed and memory,
//! and API throughput over loopback. Each run works in a temporary directory of its own.

mod check;
mod hits;
#[cfg(feature = "peer-bench")]
mod peer;
mod storage;

/// Options of `armstrace bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchKind,
}

#[derive(Debug, clap::Subcommand)]
enum BenchKind {
    /// Import a generated list into a new database: rows per second, peak memory, and the time
    /// a node takes to build its check index from it.
    Import {
        /// Rows to generate and import.
        #[arg(long, default_value_t = 1_400_000)]
        records: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A PostgreSQL server (postgres://user@host/postgres) to make the database on, instead
        /// of a SQLite file; the database is dropped at the end.
        #[arg(long)]
        pg: Option<String>,
    },
    /// The check engine: recall per kind of damage, false alarms, latency, throughput, memory.
    Check(check::CheckBenchArgs),
    /// Hits under load: a batch check whose matches become hits, with hits off and on, and
    /// the time until every notification is delivered to a webhook.
    Hits {
        /// Records in the database.
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// Rows in the batch.
        #[arg(long, default_value_t = 10_000)]
        rows: usize,
        /// Rows whose serial is recorded (once).
        #[arg(long, default_value_t = 1_000)]
        matching: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Leave the notifications in the outbox instead of delivering them, to see what
        /// writing the hits alone costs.
        #[arg(long)]
        no_delivery: bool,
    },
    /// The reference table: resolving and autocomplete latency, on one thread.
    Reference {
        /// Rounds over the sample of typed values.
        #[arg(long, default_value_t = 200)]
        rounds: usize,
    },
    /// The API over loopback (a record read, or a check): requests per second and latency.
    Api {
        /// Records in the database.
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// Requests to send (after a warm-up of a tenth as many).
        #[arg(long, default_value_t = 200_000)]
        requests: usize,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// What to ask: read a record, or check a serial.
        #[arg(long, value_enum, default_value = "read")]
        route: storage::Route,
        /// A PostgreSQL server to make the database on, instead of a SQLite file.
        #[arg(long)]
        pg: Option<String>,
        /// Service nodes on the one database, each with its own check index.
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// The confidences that make a hit: every checked serial here is recorded, so
        /// `exact,strong` makes a hit of every check (real operations hit a tiny fraction);
        /// `none` measures the check and its audit entry alone.
        #[arg(long, default_value = "none", value_parser = armstrace_server::hits::HitPolicy::parse)]
        hit_policy: armstrace_server::hits::HitPolicy,
        /// Times to run the measurement. A check's runs alternate, with and without its audit
        /// entries, and the trail's cost is given for each round and as their median: one
        /// pair of runs on a shared machine can be several points off.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        rounds: u32,
        /// Entries in the audit trail before the measurement starts, as a running service's
        /// trail holds millions: checks' entries like the bench's own.
        #[arg(long, default_value_t = 0)]
        trail: u64,
    },
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    print_machine();
    match args.what {
        BenchKind::Import { records, seed, pg } => {
            storage::bench_import(records, seed, pg.as_deref()).await
        }
        BenchKind::Api {
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
        } => {
            storage::bench_api(storage::ApiBench {
                records,
                requests,
                concurrency,
                seed,
                route,
                hit_policy,
                pg,
                nodes,
                rounds: rounds as usize,
                trail,
            })
            .await
        }
        BenchKind::Check(args) => check::run(args).await,
        BenchKind::Hits {
            records,
            rows,
            matching,
            seed,
            no_delivery,
        } => {
            hits::run(hits::HitsBench {
                records,
                rows,
                matching,
                seed,
                deliver: !no_delivery,
            })
            .await
        }
        BenchKind::Reference { rounds } => {
            bench_reference(rounds);
            Ok(())
        }
    }
}

/// Times resolving and searching what officers type: every make, calibre and model name of the
/// table with a typing error added, plus the first letters of each as autocomplete prefixes.
fn bench_reference(rounds: usize) {
    use std::time::{Duration, Instant};
    let reference = armstrace_reference::shipped();
    let table = reference.table();
    // A typo: the middle two characters swapped.
    let typo = |name: &str| {
        let mut chars: Vec<char> = name.chars().collect();
        let mid = chars.len() / 2;
        if mid > 0 {
            chars.swap(mid - 1, mid);
        }
        chars.into_iter().collect::<String>()
    };
    let makes: Vec<String> = table.makes.iter().map(|m| typo(&m.canonical)).collect();
    let calibres: Vec<String> = table.calibres.iter().map(|c| c.canonical.clone()).collect();
    let prefixes: Vec<String> = table
        .makes
        .iter()
        .map(|m| m.canonical.chars().take(3).collect())
        .collect();
    let timed = |label: &str, inputs: &[String], run: &dyn Fn(&str)| {
        let mut times: Vec<Duration> = Vec::with_capacity(inputs.len() * rounds);
        for _ in 0..rounds {
            for input in inputs {
                let started = Instant::now();
                run(input);
                times.push(started.elapsed());
            }
        }
        times.sort_unstable();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "{label}: {} calls, p50 {:?}, p99 {:?}, max {:?}",
            times.len(),
            at(0.5),
            at(0.99),
            times[times.len() - 1]
        );
    };
    timed("resolve make (with a typo)", &makes, &|m| {
        std::hint::black_box(reference.make(m));
    });
    timed("resolve calibre", &calibres, &|c| {
        std::hint::black_box(reference.calibre(c));
    });
    timed("search makes (3-letter prefix)", &prefixes, &|q| {
        std::hint::black_box(reference.search_makes(q, 20));
    });
}

fn print_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!("machine: {cpu}, {} cores", cores());
}

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Peak resident memory of this process so far, from /proc (Linux only).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time spent so far by each live thread of this process, by thread id: its name and
/// nanoseconds on a core, from /proc (Linux only; empty elsewhere).
pub fn thread_cpu() -> std::collections::HashMap<u64, (String, u64)> {
    let mut threads = std::collections::HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let read = |file: &str| std::fs::read_to_string(task.path().join(file)).ok();
        let (Some(name), Some(schedstat)) = (read("comm"), read("schedstat")) else {
            continue;
        };
        if let Some(on_cpu) = schedstat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
        {
            threads.insert(tid, (name.trim().to_string(), on_cpu));
        }
    }
    threads
}

/// The CPU time each kind of thread (by name) spent between two [`thread_cpu`] readings, in
/// nanoseconds, most first.
pub fn cpu_between(
    before: &std::collections::HashMap<u64, (String, u64)>,
    after: &std::collections::HashMap<u64, (String, u64)>,
) -> Vec<(String, u64)> {
    let mut by_name = std::collections::BTreeMap::<String, u64>::new();
    for (tid, (name, on_cpu)) in after {
        let earlier = before.get(tid).map_or(0, |(_, ns)| *ns);
        *by_name.entry(name.clone()).or_default() += on_cpu.saturating_sub(earlier);
    }
    let mut spent: Vec<(String, u64)> = by_name.into_iter().filter(|(_, ns)| *ns > 0).collect();
    spent.sort_by_key(|(_, ns)| std::cmp::Reverse(*ns));
    spent
}
