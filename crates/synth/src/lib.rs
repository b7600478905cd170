//! Deterministic, streaming generator of synthetic national lists of illicit firearms in
//! Armstrace's CSV import format, for the demo, tests and benchmarks.
//!
//! ```
//! let mut csv = Vec::new();
//! armstrace_synth::write_csv(&mut csv, 3, 42).unwrap();
//! assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 4);
//! ```

mod calendar;
mod catalogue;
mod corrupt;
mod countries;
mod generator;
mod import_marks;
mod queries;
mod record;
mod serial;
mod weighted;

use std::io;

pub use calendar::{FIRST_YEAR, LAST_YEAR};
pub use catalogue::{Calibre, Catalogue, FIREARM_TYPES, Make, Model, catalogue};
pub use corrupt::corrupt;
pub use generator::Generator;
pub use queries::{CheckQuery, QueryKind, negative_candidate, queries};
pub use record::{CSV_HEADER, STATUSES, SyntheticRecord};
pub use serial::SerialPattern;

/// Writes a header and `records` rows; returns io errors (e.g. broken pipe) instead of panicking.
pub fn write_csv<W: io::Write>(out: W, records: u64, seed: u64) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .buffer_capacity(64 * 1024)
        .from_writer(out);
    writer.write_record(CSV_HEADER).map_err(into_io)?;
    let mut year = String::new();
    let mut generator = Generator::new(seed);
    for _ in 0..records {
        let record = generator.next().expect("the generator never ends");
        writer
            .write_record(record.fields(&mut year))
            .map_err(into_io)?;
    }
    writer.flush()
}

/// Unwraps the io error inside a csv error, so callers can still see e.g. `BrokenPipe`.
fn into_io(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("cannot write CSV: {other:?}")),
    }
}
