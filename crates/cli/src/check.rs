//! `armstrace check`: one serial for a person to read, or a batch file for a machine.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use armstrace_server::audit_log::AuditLog;
use armstrace_server::checking::{
    BatchCsv, BatchLine, CheckAudit, Typed, advice, build_index, check_batch, check_one,
    new_check_id,
};
use armstrace_server::hits::{HitPolicy, Wake};
use armstrace_server::reference_table::ReferenceTable;
use armstrace_store::audit::AuditWho;
use tokio::sync::mpsc;

use crate::operator::{DbArgs, open_installed, operator};

/// Options of `armstrace check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The serial as typed (`?` for an unreadable character, `*` for an unreadable run).
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    serial: Option<String>,
    /// The make, in any spelling, if known.
    #[arg(long)]
    make: Option<String>,
    /// Check every row of a CSV file with a serial_number column (and optional make); other
    /// columns are carried through.
    #[arg(long)]
    batch: Option<PathBuf>,
    /// Check as this user (the audit trail records who checked); the operator by default.
    #[arg(long = "as")]
    as_user: Option<String>,
    /// The operation the checks are made in, kept with their hits.
    #[arg(long)]
    operation: Option<String>,
    /// The confidences that make a hit, told to the secretariat and the recording NCB (a
    /// running `armstrace serve` delivers their notifications): exact, strong, possible, or
    /// none.
    #[arg(long, default_value = "exact,strong", value_parser = HitPolicy::parse)]
    hit_policy: HitPolicy,
    /// Output: text or json for one serial; jsonl or csv for a batch.
    #[arg(long, value_enum)]
    format: Option<OutputFormat>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    Text,
    Json,
    Jsonl,
    Csv,
}

pub async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let store = open_installed(&args.db.db).await?;
    let reference = ReferenceTable::load(store.as_ref())
        .await
        .context("reading the reference table")?;
    let (index, _) = build_index(store.as_ref(), reference.current().table())
        .await
        .context("building the check index")?;
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let mut out = BufWriter::new(out);
    // The command line checks as the operator, and its checks are audited like any other.
    let operator = operator(store.as_ref(), args.as_user.as_deref()).await?;
    let audit = CheckAudit {
        log: AuditLog::new(store.clone(), Wake::default()),
        who: AuditWho::from(&operator),
        on_behalf_of: None,
        policy: args.hit_policy.clone(),
        operation: args.operation.clone(),
    };
    match (&args.serial, &args.batch) {
        (Some(serial), _) => {
            let format = args.format.unwrap_or(OutputFormat::Text);
            if !matches!(format, OutputFormat::Text | OutputFormat::Json) {
                bail!("one serial prints as text or json; jsonl and csv are for --batch");
            }
            let make = args.make.as_deref();
            let mut detail = serde_json::Map::new();
            detail.insert("channel".into(), "cli".into());
            let (outcome, matches) = check_one(
                &index,
                &reference,
                &audit,
                &new_check_id(),
                Typed {
                    serial,
                    make,
                    ..Typed::default()
                },
                detail,
            )
            .await?;
            if format == OutputFormat::Json {
                let answer = serde_json::json!({
                    "matches": matches,
                    "total": outcome.total,
                    "equally_close": outcome.equally_close,
                    "advice": advice(&outcome, make.is_some()),
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
            } else {
                let asked = make.map(|m| format!(" (make {m})")).unwrap_or_default();
                writeln!(out, "{serial}{asked}: {} match(es)", outcome.total)?;
                for (rank, found) in matches.iter().enumerate() {
                    let f = &found.firearm.fields;
                    writeln!(
                        out,
                        "{:>2}. {:<8} {:.2}  {} {}  serial {}  {} {} {}, {} {}",
                        rank + 1,
                        format!("{:?}", found.confidence).to_lowercase(),
                        found.score,
                        f.recording_country,
                        f.record_id,
                        f.serial_number,
                        f.make,
                        f.model.as_deref().unwrap_or(""),
                        f.firearm_type,
                        f.status,
                        f.event_date
                    )?;
                    for difference in &found.differences {
                        writeln!(out, "      {}", difference.description)?;
                    }
                }
                if let Some(advice) = advice(&outcome, make.is_some()) {
                    writeln!(out, "{advice}")?;
                }
            }
        }
        (None, Some(path)) => {
            let format = args.format.unwrap_or(OutputFormat::Jsonl);
            if !matches!(format, OutputFormat::Jsonl | OutputFormat::Csv) {
                bail!("a batch prints as jsonl or csv");
            }
            let file =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let (lines_in, mut lines) = mpsc::channel::<BatchLine>(256);
            let worker = tokio::spawn(check_batch(
                Arc::new(index),
                reference,
                audit,
                file,
                lines_in,
            ));
            let count = write_batch(format, &mut lines, &mut out).await?;
            worker.await??;
            eprintln!("checked {count} rows");
        }
        (None, None) => bail!("give a serial number, or --batch FILE.csv"),
    }
    out.flush()?;
    Ok(())
}

/// Writes each batch answer as it arrives; returns how many rows were answered.
async fn write_batch(
    format: OutputFormat,
    lines: &mut mpsc::Receiver<BatchLine>,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let mut count = 0_u64;
    if format == OutputFormat::Jsonl {
        while let Some(line) = lines.recv().await {
            count += 1;
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        return Ok(count);
    }
    let mut writer = BatchCsv::new(out);
    while let Some(line) = lines.recv().await {
        count += 1;
        writer.write(&line)?;
    }
    writer.finish()?;
    Ok(count)
}
