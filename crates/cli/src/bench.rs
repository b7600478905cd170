//! `armstrace bench`: the measurements behind docs/BENCHMARKS.md — import speed and memory,
//! and API throughput over loopback. Each run works in a temporary directory of its own.

mod check;
mod storage;

/// Options of `armstrace bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchKind,
}

#[derive(Debug, clap::Subcommand)]
enum BenchKind {
    /// Import a generated list into a new SQLite database: rows per second and peak memory.
    Import {
        /// Rows to generate and import.
        #[arg(long, default_value_t = 1_400_000)]
        records: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The check engine: recall per kind of damage, false alarms, latency, throughput, memory.
    Check(check::CheckBenchArgs),
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
    },
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    print_machine();
    match args.what {
        BenchKind::Import { records, seed } => storage::bench_import(records, seed).await,
        BenchKind::Api {
            records,
            requests,
            concurrency,
            seed,
            route,
        } => storage::bench_api(records, requests, concurrency, seed, route).await,
        BenchKind::Check(args) => check::run(args).await,
    }
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
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {cpu}, {cores} cores");
}

/// Peak resident memory of this process so far, from /proc (Linux only).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
