//! The firearms reference table: manufacturers with every name they are marked or known by,
//! models, calibres and their notations, compiled into reviewed text files in `data/`, and the
//! resolver that turns what an officer typed into one canonical identity. No I/O: the files are
//! built into the binary.

mod canonical;
mod entry;
mod key;
mod resolve;
mod table;
mod trace;

use std::sync::LazyLock;

pub use canonical::{Canonicaliser, ColumnCounts, ResolutionCounts};
pub use entry::{Entry, Kind, model_key};
pub use key::{calibre_key, name_key};
pub use resolve::{Candidate, Resolution, Resolver, Status};
pub use table::{Calibre, Make, Model, ParseError, System, Table};
pub use trace::Destination;

/// The makes file as shipped.
pub const MAKES_TSV: &str = include_str!("../data/makes.tsv");
/// The calibres file as shipped.
pub const CALIBRES_TSV: &str = include_str!("../data/calibres.tsv");
/// The models file as shipped.
pub const MODELS_TSV: &str = include_str!("../data/models.tsv");

/// The shipped table, read once.
pub fn shipped() -> &'static Resolver {
    static SHIPPED: LazyLock<Resolver> = LazyLock::new(|| {
        Resolver::new(
            Table::parse(MAKES_TSV, CALIBRES_TSV, MODELS_TSV)
                .expect("the shipped reference files are checked by the test suite"),
        )
    });
    &SHIPPED
}
