//! Streaming import of a national list (CSV or NDJSON) into a store. The file is read and
//! validated on a blocking thread while the previous batch is written, memory stays bounded by
//! two batches whatever the file size, and a batch is reported only once it is committed — so a
//! killed import loses nothing it reported, and running it again finishes it.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use armstrace_core::import_format::{HeaderError, ImportHeader};
use armstrace_core::{Actor, FieldError, FirearmFields, FirearmId, FirearmInput};
use armstrace_reference::{Canonicaliser, ResolutionCounts, Resolver};
use chrono::NaiveDate;
use tokio::sync::mpsc;

use crate::{Store, StoreError};

/// The format of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// Comma-separated, with a header naming the columns.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Rows per committed batch.
    pub batch_rows: usize,
    /// The date against which "in the future" is judged.
    pub today: NaiveDate,
    /// The reference table that makes, models and calibres are resolved against.
    pub reference: Arc<Resolver>,
}

impl ImportOptions {
    /// Default batch size, judged against `today`, resolved against `reference`.
    pub fn new(today: NaiveDate, reference: Arc<Resolver>) -> Self {
        ImportOptions {
            batch_rows: 5000,
            today,
            reference,
        }
    }
}

/// A row that was not imported, with where it stood and everything wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Line number in the file (the header is line 1 of a CSV file).
    pub line: u64,
    /// Every problem found.
    pub errors: Vec<FieldError>,
    /// The row as it was in the file, to be corrected and imported again.
    pub raw: RawRow,
}

/// A row as read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawRow {
    /// The CSV fields.
    Csv(Vec<String>),
    /// The NDJSON line.
    Json(String),
}

/// Counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// How the make, model and calibre of the rows taken resolved in the reference table.
    pub resolution: ResolutionCounts,
    /// New records created.
    pub imported: u64,
    /// Existing records changed.
    pub updated: u64,
    /// Existing records repeated exactly.
    pub unchanged: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Bytes of the file read so far.
    pub bytes_read: u64,
    /// The last line read so far.
    pub last_line: u64,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {}, updated {}, rejected {}, unchanged {}",
            self.imported, self.updated, self.rejected, self.unchanged
        )
    }
}

/// What an import tells its caller as it goes.
#[derive(Debug)]
pub enum ImportEvent<'a> {
    /// The header was read; these columns are not Armstrace's and are ignored.
    Header {
        /// The file's column names, in order.
        columns: &'a [String],
        /// Names that are ignored.
        ignored: &'a [String],
    },
    /// A row was refused.
    Rejected(&'a RejectedRow),
    /// These records were created or changed by the batch about to be reported committed.
    Changed(&'a [(FirearmId, &'a FirearmFields)]),
    /// A batch is committed: everything counted here is safely stored.
    Committed(&'a ImportSummary),
}

/// Why an import stopped before the end of the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The header cannot be imported; nothing was.
    #[error("{0}")]
    Header(#[from] HeaderError),
    /// The file could not be read further.
    #[error("reading line {line}: {message}")]
    Read {
        /// Where reading failed.
        line: u64,
        /// Why.
        message: String,
    },
    /// The store refused a batch; earlier batches stay committed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Parsed {
    Header {
        columns: Vec<String>,
        ignored: Vec<String>,
    },
    Chunk(Chunk),
    Failed(ImportError),
}

#[derive(Default)]
struct Chunk {
    rows: Vec<FirearmFields>,
    rejected: Vec<RejectedRow>,
    bytes_read: u64,
    last_line: u64,
    /// How the columns resolved, from the first row to the last of this chunk.
    resolution: ResolutionCounts,
}

/// Imports `reader` into `store` as `actor`, calling `on_event` as rows are refused and batches
/// committed, and returns the final counts.
pub async fn import<R: Read + Send + 'static>(
    store: &dyn Store,
    actor: &Actor,
    format: ImportFormat,
    reader: R,
    options: ImportOptions,
    mut on_event: impl FnMut(ImportEvent<'_>) + Send,
) -> Result<ImportSummary, ImportError> {
    let (sender, mut receiver) = mpsc::channel(2);
    let parser_actor = actor.clone();
    let parser = tokio::task::spawn_blocking(move || {
        let parse = Parser {
            actor: parser_actor,
            canonical: RefCell::new(Canonicaliser::new(options.reference.clone())),
            options,
            sender,
        };
        match format {
            ImportFormat::Csv => parse.csv(reader),
            ImportFormat::Ndjson => parse.ndjson(reader),
        }
    });
    let mut summary = ImportSummary::default();
    let mut result = Ok(());
    while let Some(message) = receiver.recv().await {
        match message {
            Parsed::Header { columns, ignored } => on_event(ImportEvent::Header {
                columns: &columns,
                ignored: &ignored,
            }),
            Parsed::Failed(error) => {
                result = Err(error);
                break;
            }
            Parsed::Chunk(chunk) => {
                for rejected in &chunk.rejected {
                    on_event(ImportEvent::Rejected(rejected));
                }
                if !chunk.rows.is_empty() {
                    match store.import_batch(actor, &chunk.rows).await {
                        Ok(outcome) => {
                            let changed: Vec<(FirearmId, &FirearmFields)> = outcome
                                .changed
                                .iter()
                                .map(|(id, position)| (*id, &chunk.rows[*position]))
                                .collect();
                            on_event(ImportEvent::Changed(&changed));
                            summary.imported += outcome.imported;
                            summary.updated += outcome.updated;
                            summary.unchanged += outcome.unchanged;
                        }
                        Err(error) => {
                            result = Err(error.into());
                            break;
                        }
                    }
                }
                summary.rejected += chunk.rejected.len() as u64;
                summary.bytes_read = chunk.bytes_read;
                summary.last_line = chunk.last_line;
                summary.resolution = chunk.resolution;
                on_event(ImportEvent::Committed(&summary));
            }
        }
    }
    // Dropping the receiver stops a parser still blocked on sending.
    drop(receiver);
    let _ = parser.await;
    result.map(|()| summary)
}

struct Parser {
    actor: Actor,
    canonical: RefCell<Canonicaliser>,
    options: ImportOptions,
    sender: mpsc::Sender<Parsed>,
}

impl Parser {
    /// Validates an input, checks the actor may record it, and resolves its make, model and
    /// calibre.
    fn accept(&self, input: FirearmInput) -> Result<FirearmFields, Vec<FieldError>> {
        let mut fields = input.validate(self.options.today).map_err(|e| e.0)?;
        if !self.actor.may_record_for(fields.recording_country) {
            return Err(vec![FieldError::new(
                "recording_country",
                "forbidden",
                format!(
                    "{} may not record firearms for {}",
                    self.actor.username, fields.recording_country
                ),
            )]);
        }
        self.canonical.borrow_mut().fill(&mut fields);
        Ok(fields)
    }

    /// Sends a full chunk; false when the importer has stopped listening.
    fn send(&self, mut message: Parsed) -> bool {
        if let Parsed::Chunk(chunk) = &mut message {
            chunk.resolution = self.canonical.borrow().counts;
        }
        self.sender.blocking_send(message).is_ok()
    }

    fn csv<R: Read>(self, reader: R) -> Result<(), ()> {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(reader);
        let header = match csv.headers() {
            Ok(names) => names.iter().map(str::to_string).collect::<Vec<_>>(),
            Err(error) => {
                self.send(Parsed::Failed(read_error(1, &error)));
                return Err(());
            }
        };
        let layout = match ImportHeader::parse(header.iter().map(String::as_str)) {
            Ok(layout) => layout,
            Err(error) => {
                self.send(Parsed::Failed(error.into()));
                return Err(());
            }
        };
        if !self.send(Parsed::Header {
            columns: header.clone(),
            ignored: layout.ignored.clone(),
        }) {
            return Err(());
        }
        let mut chunk = Chunk::default();
        let mut last_line = 1;
        let mut record = csv::ByteRecord::new();
        loop {
            let line = csv.position().line();
            match csv.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(error) => {
                    self.send(Parsed::Failed(read_error(line, &error)));
                    return Err(());
                }
            }
            let line = record.position().map_or(line, |p| p.line());
            last_line = line;
            let raw: Vec<String> = record
                .iter()
                .map(|field| String::from_utf8_lossy(field).into_owned())
                .collect();
            let outcome = if std::str::from_utf8(record.as_slice()).is_err() {
                Err(vec![FieldError::new(
                    "row",
                    "invalid_utf8",
                    "the row is not valid UTF-8; save the file as UTF-8",
                )])
            } else if raw.iter().all(|f| f.trim().is_empty()) {
                continue;
            } else if raw.len() != header.len() {
                Err(vec![FieldError::new(
                    "row",
                    "field_count",
                    format!(
                        "the row has {} fields, the header {}",
                        raw.len(),
                        header.len()
                    ),
                )])
            } else {
                layout
                    .read_row(|i| raw.get(i).map(String::as_str))
                    .and_then(|input| self.accept(input))
            };
            match outcome {
                Ok(fields) => chunk.rows.push(fields),
                Err(errors) => chunk.rejected.push(RejectedRow {
                    line,
                    errors,
                    raw: RawRow::Csv(raw),
                }),
            }
            if chunk.rows.len() + chunk.rejected.len() >= self.options.batch_rows {
                chunk.bytes_read = csv.position().byte();
                chunk.last_line = last_line;
                if !self.send(Parsed::Chunk(std::mem::take(&mut chunk))) {
                    return Err(());
                }
            }
        }
        chunk.bytes_read = csv.position().byte();
        chunk.last_line = last_line;
        self.send(Parsed::Chunk(chunk));
        Ok(())
    }

    fn ndjson<R: Read>(self, reader: R) -> Result<(), ()> {
        let mut reader = BufReader::new(reader);
        let mut chunk = Chunk::default();
        let mut buffer = Vec::new();
        let mut line = 0_u64;
        let mut bytes = 0_u64;
        loop {
            buffer.clear();
            match reader.read_until(b'\n', &mut buffer) {
                Ok(0) => break,
                Ok(n) => bytes += n as u64,
                Err(error) => {
                    self.send(Parsed::Failed(ImportError::Read {
                        line: line + 1,
                        message: error.to_string(),
                    }));
                    return Err(());
                }
            }
            line += 1;
            let text = String::from_utf8_lossy(&buffer);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let outcome = std::str::from_utf8(&buffer)
                .map_err(|_| {
                    vec![FieldError::new(
                        "row",
                        "invalid_utf8",
                        "the line is not valid UTF-8",
                    )]
                })
                .and_then(|_| parse_json_input(text))
                .and_then(|input| self.accept(input));
            match outcome {
                Ok(fields) => chunk.rows.push(fields),
                Err(errors) => chunk.rejected.push(RejectedRow {
                    line,
                    errors,
                    raw: RawRow::Json(text.to_string()),
                }),
            }
            if chunk.rows.len() + chunk.rejected.len() >= self.options.batch_rows {
                chunk.bytes_read = bytes;
                chunk.last_line = line;
                if !self.send(Parsed::Chunk(std::mem::take(&mut chunk))) {
                    return Err(());
                }
            }
        }
        chunk.bytes_read = bytes;
        chunk.last_line = line;
        self.send(Parsed::Chunk(chunk));
        Ok(())
    }
}

/// Reads one JSON record, naming the field whose value has the wrong type.
pub fn parse_json_input(text: &str) -> Result<FirearmInput, Vec<FieldError>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." || path.is_empty() {
            "row".to_string()
        } else {
            path
        };
        vec![FieldError::new(
            &field,
            "invalid_json",
            error.into_inner().to_string(),
        )]
    })
}

fn read_error(line: u64, error: &csv::Error) -> ImportError {
    ImportError::Read {
        line,
        message: error.to_string(),
    }
}
