//! `armstrace import`: a national list into the database, with a progress bar, a rejects file
//! beside the input, and a summary line.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use armstrace_core::firearm::latest_date_anywhere;
use armstrace_store::import::{
    ImportEvent, ImportFormat, ImportOptions, RawRow, RejectedRow, import,
};
use armstrace_store::reference::table_in_force;
use indicatif::{ProgressBar, ProgressStyle};

use crate::operator::{DbArgs, open_installed, operator};

/// Options of `armstrace import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The list to import (CSV with header, or NDJSON); `-` reads standard input.
    file: PathBuf,
    /// Input format; by default from the file name (.ndjson/.jsonl are NDJSON, anything else CSV).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Where to write the rejected rows; by default beside the input as FILE.rejects.csv.
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// The user to import as (default: the administrator created by init).
    #[arg(long = "as")]
    as_user: Option<String>,
    /// Rows per committed batch.
    #[arg(long, default_value_t = 5000)]
    batch_rows: usize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Csv,
    Ndjson,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let store = open_installed(&args.db.db).await?;
    let actor = operator(store.as_ref(), args.as_user.as_deref()).await?;
    let stdin = args.file.as_os_str() == "-";
    let format = match args.format {
        Some(FormatArg::Csv) => ImportFormat::Csv,
        Some(FormatArg::Ndjson) => ImportFormat::Ndjson,
        None => match args.file.extension().and_then(|e| e.to_str()) {
            Some("ndjson" | "jsonl") => ImportFormat::Ndjson,
            _ => ImportFormat::Csv,
        },
    };
    let (reader, size): (Box<dyn Read + Send>, Option<u64>) = if stdin {
        (Box::new(std::io::stdin()), None)
    } else {
        let file =
            File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let rejects_path = args.rejects.clone().unwrap_or_else(|| {
        let base = if stdin {
            PathBuf::from("stdin")
        } else {
            args.file.clone()
        };
        rejects_beside(&base, format)
    });
    let mut rejects = RejectsFile::new(rejects_path, format);
    let progress = Progress::new(size);
    let reference = table_in_force(store.as_ref())
        .await
        .context("reading the reference table")?;
    let mut options =
        ImportOptions::new(latest_date_anywhere(chrono::Utc::now()), reference.resolver);
    options.batch_rows = args.batch_rows.max(1);
    let mut write_error = None;
    let result = import(
        store.as_ref(),
        &actor,
        format,
        reader,
        options,
        |event| match event {
            ImportEvent::Header { ignored, columns } => {
                rejects.header = columns.to_vec();
                if !ignored.is_empty() {
                    progress.note(&format!(
                        "ignoring columns that are not Armstrace's: {}",
                        ignored.join(", ")
                    ));
                }
            }
            ImportEvent::Rejected(row) => {
                if let Err(error) = rejects.write(row) {
                    write_error.get_or_insert(error);
                }
            }
            ImportEvent::Changed(_) => {}
            ImportEvent::Committed(summary) => progress.committed(summary),
        },
    )
    .await;
    progress.finish();
    let rejects_written = rejects.finish()?;
    if let Some(error) = write_error {
        return Err(error.context("writing the rejects file"));
    }
    let summary = result.context("import stopped; every batch reported as committed is stored, and running the same import again completes it")?;
    println!("reference table: {}", summary.resolution);
    println!("{summary}");
    if let Some(path) = rejects_written {
        println!("rejected rows written to {}", path.display());
    }
    Ok(())
}

fn rejects_beside(input: &Path, format: ImportFormat) -> PathBuf {
    let extension = match format {
        ImportFormat::Csv => "rejects.csv",
        ImportFormat::Ndjson => "rejects.ndjson",
    };
    let mut name = input.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(extension);
    input.with_file_name(name)
}

/// The rejected rows, written as they come: for CSV the original columns after `line` and
/// `errors`, so that the file can be corrected and imported again as it is.
struct RejectsFile {
    path: PathBuf,
    format: ImportFormat,
    header: Vec<String>,
    writer: Option<BufWriter<File>>,
}

impl RejectsFile {
    fn new(path: PathBuf, format: ImportFormat) -> Self {
        RejectsFile {
            path,
            format,
            header: Vec::new(),
            writer: None,
        }
    }

    fn write(&mut self, row: &RejectedRow) -> anyhow::Result<()> {
        if self.writer.is_none() {
            let file = File::create(&self.path)
                .with_context(|| format!("creating {}", self.path.display()))?;
            let mut writer = BufWriter::new(file);
            if self.format == ImportFormat::Csv {
                let mut header = vec!["line".to_string(), "errors".to_string()];
                header.extend(self.header.iter().cloned());
                write_csv_line(&mut writer, &header)?;
            }
            self.writer = Some(writer);
        }
        let writer = self.writer.as_mut().expect("opened above");
        let errors: Vec<String> = row
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        match &row.raw {
            RawRow::Csv(fields) => {
                let mut line = vec![row.line.to_string(), errors.join("; ")];
                line.extend(fields.iter().cloned());
                write_csv_line(writer, &line)?;
            }
            RawRow::Json(text) => {
                let entry =
                    serde_json::json!({"line": row.line, "errors": row.errors, "row": text});
                writeln!(writer, "{entry}")?;
            }
        }
        Ok(())
    }

    /// Flushes; returns the path when any row was rejected.
    fn finish(self) -> anyhow::Result<Option<PathBuf>> {
        match self.writer {
            Some(mut writer) => {
                writer.flush()?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }
}

fn write_csv_line(writer: &mut impl Write, fields: &[String]) -> anyhow::Result<()> {
    let mut csv = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    csv.write_record(fields)?;
    writer.write_all(&csv.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    Ok(())
}

/// A progress bar on a terminal; elsewhere one line per committed batch, so that logs show how
/// far an interrupted import got.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(size: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| match size {
            Some(size) => ProgressBar::new(size).with_style(
                ProgressStyle::with_template(
                    "{bar:40} {percent:>3}% {msg} [{elapsed_precise}, {eta} left]",
                )
                .expect("valid template"),
            ),
            None => ProgressBar::new_spinner(),
        });
        Progress { bar }
    }

    fn committed(&self, summary: &armstrace_store::import::ImportSummary) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(summary.bytes_read);
                bar.set_message(summary.to_string());
            }
            None => eprintln!("committed through line {}: {summary}", summary.last_line),
        }
    }

    fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
