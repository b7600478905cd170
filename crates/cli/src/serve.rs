//! `armstrace serve`: the API on a listening address until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use anyhow::Context;
use std::time::Duration;

use armstrace_core::trace::DeadlinePolicy;
use armstrace_server::AppState;
use armstrace_server::hits::{HitPolicy, Sending, Smtp, start_sender};
use armstrace_server::rate_limit::Limits;
use armstrace_server::reference_table::ReferenceTable;
use armstrace_server::traces::{Clock, TracePolicy, start_reminders};
use tokio::net::TcpListener;

use crate::demo;
use crate::operator::{DbArgs, open_installed_with};

/// Options of `armstrace serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "ARMSTRACE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Load a demo world (secretariat, NCBs, agencies, generated records) into an empty or new
    /// database, and print how to log in.
    #[arg(long)]
    demo: bool,
    /// How many records the demo world gets.
    #[arg(long, default_value_t = 100_000, requires = "demo")]
    demo_records: u64,
    /// Requests a second allowed per API token or session (twice as many in a burst); 0 for
    /// no limit.
    #[arg(long, env = "ARMSTRACE_RATE_PER_TOKEN", default_value_t = 200)]
    rate_per_token: u32,
    /// Requests a second allowed per client address (twice as many in a burst); 0 for no limit.
    #[arg(long, env = "ARMSTRACE_RATE_PER_ADDRESS", default_value_t = 1000)]
    rate_per_address: u32,
    /// The confidences that make a hit (told to the secretariat, the searching organisation
    /// and the recording NCB): exact, strong, possible, or none.
    #[arg(long, env = "ARMSTRACE_HIT_POLICY", default_value = "exact,strong", value_parser = HitPolicy::parse)]
    hit_policy: HitPolicy,
    /// Milliseconds a webhook receiver has to answer.
    #[arg(long, env = "ARMSTRACE_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    webhook_timeout_ms: u64,
    /// Milliseconds before the first retry of a failed delivery; each next retry waits twice as
    /// long, at most an hour.
    #[arg(long, env = "ARMSTRACE_DELIVERY_RETRY_MS", default_value_t = 5_000)]
    delivery_retry_ms: u64,
    /// Attempts before a delivery is given up (it stays in the delivery log).
    #[arg(long, env = "ARMSTRACE_DELIVERY_MAX_ATTEMPTS", default_value_t = 20)]
    delivery_max_attempts: i64,
    /// SMTP relay for organisations' duty e-mail: smtp://host:port (plain, STARTTLS when the
    /// relay offers it is not attempted), smtp://host:port?tls=required or smtps://host:port.
    #[arg(long, env = "ARMSTRACE_SMTP_URL")]
    smtp_url: Option<String>,
    /// Let webhooks point at this machine (127.0.0.1, ::1, localhost), over http:// too: for
    /// tests and a receiver on the same host; refused otherwise, so that no organisation's
    /// admin can make the service call into its own machine.
    #[arg(long, env = "ARMSTRACE_ALLOW_LOOPBACK_WEBHOOKS")]
    allow_loopback_webhooks: bool,
    /// The sender address of duty e-mail.
    #[arg(
        long,
        env = "ARMSTRACE_SMTP_FROM",
        default_value = "armstrace@localhost"
    )]
    smtp_from: String,
    /// Working days the asked NCB has to acknowledge a trace request.
    #[arg(long, env = "ARMSTRACE_TRACE_ACKNOWLEDGE_DAYS", default_value_t = 2)]
    trace_acknowledge_days: u32,
    /// Working days the asked NCB has to answer a routine trace request.
    #[arg(long, env = "ARMSTRACE_TRACE_ANSWER_DAYS", default_value_t = 10)]
    trace_answer_days: u32,
    /// Hours the asked NCB has to answer an urgent trace request.
    #[arg(long, env = "ARMSTRACE_TRACE_URGENT_HOURS", default_value_t = 24)]
    trace_urgent_hours: u32,
    /// Hours after which the parties of a request that is still late are reminded again.
    #[arg(long, env = "ARMSTRACE_TRACE_REMIND_AGAIN_HOURS", default_value_t = 24)]
    trace_remind_again_hours: u32,
    /// Milliseconds between two looks for late trace requests.
    #[arg(long, env = "ARMSTRACE_TRACE_SWEEP_MS", default_value_t = 60_000)]
    trace_sweep_ms: u64,
    /// The largest attachment of a trace request, in megabytes (at most 64).
    #[arg(long, env = "ARMSTRACE_ATTACHMENT_MAX_MB", default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..=64))]
    attachment_max_mb: u32,
    /// Milliseconds between two looks for reference-table changes other processes made.
    #[arg(long, env = "ARMSTRACE_REFERENCE_FOLLOW_MS", default_value_t = 2_000)]
    reference_follow_ms: u64,
    /// A streaming replica of the PostgreSQL database, for long reads that may lag a little
    /// (lists, counts, exports, the check index's first read, the audit trail).
    #[arg(long, env = "ARMSTRACE_DB_READ_REPLICA")]
    db_read_replica: Option<String>,
    /// Milliseconds between two looks at the change feed, for records other processes wrote
    /// (another node of a cluster, an import from the command line).
    #[arg(long, env = "ARMSTRACE_FOLLOW_MS", default_value_t = 250)]
    follow_ms: u64,
    /// How many of the change feed's newest positions are kept. Older ones are forgotten, so
    /// that the feed does not grow with every import, except those a running node has not read
    /// yet (see --feed-mark-secs). A node stopped or cut off from the database long enough for
    /// its mark to lapse, and further behind than this, stops and asks to be restarted (its
    /// index is then built again).
    #[arg(long, env = "ARMSTRACE_FEED_KEEP", default_value_t = 1_000_000,
        value_parser = clap::value_parser!(u64).range(1..))]
    feed_keep: u64,
    /// Seconds a node's mark on the change feed (how far it has read) lasts without being
    /// renewed; running nodes renew theirs at every pruning. No node forgets a position that
    /// a node with a fresh mark has not read, however far behind it is; only a node stopped or
    /// cut off for longer than this can fall behind the --feed-keep newest positions.
    #[arg(long, env = "ARMSTRACE_FEED_MARK_SECS", default_value_t = 600,
        value_parser = clap::value_parser!(u64).range(1..))]
    feed_mark_secs: u64,
    /// For tests: milliseconds a mark lasts, instead of --feed-mark-secs.
    #[arg(long, hide = true)]
    feed_mark_ms: Option<u64>,
    /// Milliseconds between two prunings of the change feed (and renewals of this node's mark).
    #[arg(long, hide = true, default_value_t = 60_000)]
    feed_prune_ms: u64,
    /// For tests only: read the time from this file (an RFC 3339 instant), so that deadlines
    /// pass without waiting. The system clock while the file is missing.
    #[arg(long, hide = true)]
    clock_file: Option<std::path::PathBuf>,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let db = args.db.db;
    let replica = args.db_read_replica.as_deref();
    let store = if args.demo {
        let store = demo::prepare(&db, args.demo_records).await?;
        match replica {
            None => store,
            // The demo world is written first; then the store is opened again with its replica.
            Some(_) => {
                drop(store);
                open_installed_with(&db, replica).await?
            }
        }
    } else {
        open_installed_with(&db, replica).await?
    };
    let reference = ReferenceTable::load(store.as_ref())
        .await
        .context("reading the reference table")?;
    let reference_changes = reference.current().changes.len();
    // Where the change feed stands before the index is read: whatever is written meanwhile is
    // applied after, from the feed. The node marks it, so that no other node forgets what
    // comes after while this one builds its index.
    let node = armstrace_server::checking::node_name();
    let feed_head = store
        .mark_feed(&node, None)
        .await
        .context("reading the change feed")?;
    let (index, took) =
        armstrace_server::checking::build_index(store.as_ref(), reference.current().table())
            .await
            .context("building the check index")?;
    println!(
        "check index: {} records in {:.1} s",
        index.slots(),
        took.as_secs_f64()
    );
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    println!("listening on http://{address}");
    println!("web interface at http://{address}/ (sign in with a username and password)");
    println!("API under http://{address}/api/v1 (OpenAPI document at /api/v1/openapi.json)");
    if args.demo {
        println!(
            "try: curl -H 'Authorization: Bearer <token>' 'http://{address}/api/v1/firearms?recording_country=FR&limit=5'"
        );
    }
    let limits = Limits {
        per_credential: NonZeroU32::new(args.rate_per_token),
        per_address: NonZeroU32::new(args.rate_per_address),
    };
    let index = std::sync::Arc::new(index);
    let following = armstrace_server::checking::follow_changes(
        store.clone(),
        index.clone(),
        feed_head,
        Duration::from_millis(args.follow_ms.max(10)),
    );
    armstrace_server::checking::prune_changes(
        store.clone(),
        following.position.clone(),
        armstrace_server::checking::Pruning {
            node,
            keep: args.feed_keep,
            mark_lasts: args.feed_mark_ms.map_or(
                Duration::from_secs(args.feed_mark_secs),
                Duration::from_millis,
            ),
            every: Duration::from_millis(args.feed_prune_ms.max(10)),
        },
    );
    reference.follow(
        store.clone(),
        index.clone(),
        reference_changes,
        Duration::from_millis(args.reference_follow_ms.max(10)),
    );
    let mut state = AppState::new(store.clone(), index, reference, limits);
    state.hit_policy = args.hit_policy;
    state.allow_loopback_webhooks = args.allow_loopback_webhooks;
    if let Some(file) = args.clock_file {
        tracing::warn!(file = %file.display(), "the clock is read from a file: for tests only");
        state.clock = Clock::from_file(file);
    }
    state.traces = TracePolicy {
        deadlines: DeadlinePolicy {
            acknowledge_days: args.trace_acknowledge_days,
            answer_days: args.trace_answer_days,
            urgent_hours: args.trace_urgent_hours,
        },
        max_attachment: args.attachment_max_mb as usize * 1024 * 1024,
        sweep: Duration::from_millis(args.trace_sweep_ms.max(10)),
        remind_again: chrono::Duration::hours(i64::from(args.trace_remind_again_hours.max(1))),
    };
    start_reminders(
        store.clone(),
        state.clock.clone(),
        state.wake.clone(),
        state.traces.clone(),
    );
    start_sender(
        store,
        state.wake.clone(),
        Sending {
            timeout: Duration::from_millis(args.webhook_timeout_ms.max(1)),
            retry_base: Duration::from_millis(args.delivery_retry_ms.max(1)),
            max_attempts: args.delivery_max_attempts.max(1),
            smtp: args.smtp_url.map(|url| Smtp {
                url,
                from: args.smtp_from,
            }),
        },
    );
    // A node whose index may lack changes stops serving checks from it.
    let behind = std::sync::Arc::new(std::sync::Mutex::new(None));
    let stopped_behind = behind.clone();
    let mut lost = following.behind;
    let stop = async move {
        tokio::select! {
            () = shutdown_signal() => {}
            Ok(error) = &mut lost => {
                eprintln!("stopping: {error}");
                *stopped_behind.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
            }
        }
    };
    armstrace_server::serve(listener, state, stop)
        .await
        .context("serving")?;
    if let Some(error) = behind.lock().unwrap_or_else(|e| e.into_inner()).take() {
        return Err(error.into());
    }
    println!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    eprintln!("shutting down: finishing requests in flight");
}
