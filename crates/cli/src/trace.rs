//! `armstrace trace list|show`: the operator's view of trace requests, read straight from the
//! database (every request, as the secretariat sees them), for support and for the case file.

use anyhow::bail;
use armstrace_core::CountryCode;
use armstrace_core::trace::{Priority, TraceStatus};
use armstrace_store::traces::{TraceFilter, TraceScope};
use chrono::Utc;

use crate::operator::{DbArgs, open_installed};

/// Options of `armstrace trace`.
#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    #[command(subcommand)]
    command: TraceCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TraceCommand {
    /// List trace requests, newest first, one a line.
    List {
        #[command(flatten)]
        db: DbArgs,
        /// Only in this status (draft, sent, acknowledged, information_requested, answered,
        /// forwarded, closed).
        #[arg(long)]
        status: Option<String>,
        /// Only of this priority (routine, urgent).
        #[arg(long)]
        priority: Option<String>,
        /// Only those overdue now.
        #[arg(long)]
        overdue: bool,
        /// Only those asking or asked by this country (ISO 3166-1 alpha-2).
        #[arg(long)]
        country: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one request: what it says, its chain and its timeline.
    Show {
        #[command(flatten)]
        db: DbArgs,
        /// The request's id.
        id: i64,
    },
}

pub async fn run(args: TraceArgs) -> anyhow::Result<()> {
    match args.command {
        TraceCommand::List {
            db,
            status,
            priority,
            overdue,
            country,
            limit,
        } => {
            let mut filter = TraceFilter::new(TraceScope::All, limit.max(1));
            if let Some(status) = status {
                let Some(parsed) = TraceStatus::parse(&status) else {
                    bail!("unknown status '{status}'");
                };
                filter.status = Some(parsed);
            }
            if let Some(priority) = priority {
                let Some(parsed) = Priority::parse(&priority) else {
                    bail!("unknown priority '{priority}' (routine or urgent)");
                };
                filter.priority = Some(parsed);
            }
            if let Some(country) = country {
                filter.country = Some(CountryCode::parse(&country)?);
            }
            let now = Utc::now();
            filter.overdue_at = overdue.then_some(now);
            let store = open_installed(&db.db).await?;
            let traces = store.traces(&filter).await?;
            println!(
                "{:>6}  {:<22} {:<8} {:<4} {:<4} {:<16} {:<20} late",
                "id", "status", "priority", "from", "to", "written", "serials"
            );
            for t in &traces {
                println!(
                    "{:>6}  {:<22} {:<8} {:<4} {:<4} {:<16} {:<20} {}",
                    t.id,
                    t.status.as_str(),
                    t.priority.as_str(),
                    t.requester_country.as_str(),
                    t.to_country
                        .map(|c| c.as_str().to_string())
                        .unwrap_or_default(),
                    t.created_at.format("%Y-%m-%d %H:%M"),
                    t.content.firearm.serial_numbers.join(","),
                    t.late(now).map(|l| l.as_str()).unwrap_or("")
                );
            }
            println!("{} requests", traces.len());
        }
        TraceCommand::Show { db, id } => {
            let store = open_installed(&db.db).await?;
            let Some(trace) = store.trace(id).await? else {
                bail!("no trace request {id}");
            };
            let chain = store.trace_chain(trace.chain_id).await?;
            let events = store.trace_events(id).await?;
            let attachments = store.trace_attachments(id).await?;
            let now = Utc::now();
            println!("trace request {id} ({})", trace.status.as_str());
            println!(
                "from: {} ({})",
                trace.requester_organisation,
                trace.requester_country.as_str()
            );
            println!(
                "to: {}",
                trace
                    .to_country
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default()
            );
            println!("priority: {}", trace.priority.as_str());
            if let Some(d) = trace.deadlines {
                println!("acknowledge by: {}", d.acknowledge_by.to_rfc3339());
                println!("answer by: {}", d.answer_by.to_rfc3339());
            }
            if let Some(late) = trace.late(now) {
                println!("late: {}", late.as_str());
            }
            println!("content: {}", serde_json::to_string_pretty(&trace.content)?);
            if let Some(answer) = &trace.answer {
                println!("answer: {}", serde_json::to_string_pretty(answer)?);
            }
            if chain.len() > 1 {
                println!("chain:");
                for link in &chain {
                    println!(
                        "  {} {} -> {} ({})",
                        link.id,
                        link.requester_country.as_str(),
                        link.to_country
                            .map(|c| c.as_str().to_string())
                            .unwrap_or_default(),
                        link.status.as_str()
                    );
                }
            }
            for a in &attachments {
                println!(
                    "attachment {}: {} ({}, {} bytes, sha256 {})",
                    a.id, a.name, a.content_type, a.size, a.sha256
                );
            }
            println!("timeline:");
            for e in &events {
                println!(
                    "  {}  {:<28} {} ({}){}",
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    e.event,
                    e.username,
                    e.organisation,
                    e.text
                        .as_ref()
                        .map(|t| format!(": {}", printable(t)))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// `text` with control characters shown as `?`, so that nothing stored can drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect()
}
