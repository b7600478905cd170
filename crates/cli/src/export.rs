//! `armstrace export`: records in the import format, so that export and import round-trip.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use armstrace_core::import_format::{export_columns, export_row};
use armstrace_core::{CountryCode, FirearmInput, RecordStatus};
use armstrace_store::FirearmFilter;
use futures::TryStreamExt;

use crate::operator::{DbArgs, open_installed};

/// Options of `armstrace export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    format: ExportFormat,
    /// Only records of this recording country.
    #[arg(long, value_parser = parse_country)]
    recording_country: Option<CountryCode>,
    /// Only records with this status.
    #[arg(long, value_parser = parse_status)]
    status: Option<RecordStatus>,
    /// Only records of this make (case-insensitive).
    #[arg(long)]
    make: Option<String>,
    /// Include deleted records.
    #[arg(long)]
    include_deleted: bool,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Csv,
    Jsonl,
}

fn parse_country(text: &str) -> Result<CountryCode, String> {
    CountryCode::parse(text).map_err(|e| e.to_string())
}

fn parse_status(text: &str) -> Result<RecordStatus, String> {
    RecordStatus::parse(text).ok_or_else(|| {
        format!(
            "'{text}' is not a status; use lost, stolen, trafficked, smuggled, seized or recovered"
        )
    })
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let store = open_installed(&args.db.db).await?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let filter = FirearmFilter {
        recording_country: args.recording_country,
        status: args.status,
        make: args.make,
        include_deleted: args.include_deleted,
    };
    let mut records = store.export(filter);
    let mut count = 0_u64;
    match args.format {
        ExportFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(export_columns())?;
            while let Some(firearm) = records.try_next().await? {
                csv.write_record(export_row(&firearm.fields))?;
                count += 1;
            }
            csv.flush()?;
        }
        ExportFormat::Jsonl => {
            while let Some(firearm) = records.try_next().await? {
                serde_json::to_writer(&mut out, &FirearmInput::from(&firearm.fields))?;
                out.write_all(b"\n")?;
                count += 1;
            }
        }
    }
    out.flush()?;
    eprintln!("exported {count} records");
    Ok(())
}
