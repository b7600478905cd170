//! A record's make, model and calibre resolved to the table's identifiers, with counts of how
//! each column resolved: what the records module stores beside what was typed.

use std::collections::HashMap;
use std::sync::Arc;

use armstrace_core::{Canonical, FirearmFields};
use serde::Serialize;

use crate::resolve::{Resolution, Resolver, Status};

/// How the values of one column resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ColumnCounts {
    /// Resolved to one entry (by name, alias, typing correction or a name at the start).
    pub resolved: u64,
    /// Could stand for more than one entry; stored without a canonical value.
    pub ambiguous: u64,
    /// Matched nothing in the table; stored as typed only.
    pub unknown: u64,
}

impl ColumnCounts {
    fn count(&mut self, status: Status) {
        match status {
            Status::Ambiguous => self.ambiguous += 1,
            Status::Unknown => self.unknown += 1,
            _ => self.resolved += 1,
        }
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &ColumnCounts) {
        self.resolved += other.resolved;
        self.ambiguous += other.ambiguous;
        self.unknown += other.unknown;
    }
}

/// How the make, model and calibre columns resolved, over many records. Values left empty are
/// not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ResolutionCounts {
    /// The make column.
    pub make: ColumnCounts,
    /// The model column.
    pub model: ColumnCounts,
    /// The calibre column.
    pub calibre: ColumnCounts,
}

impl ResolutionCounts {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &ResolutionCounts) {
        self.make.add(&other.make);
        self.model.add(&other.model);
        self.calibre.add(&other.calibre);
    }
}

impl std::fmt::Display for ColumnCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolved, {} ambiguous, {} unknown",
            self.resolved, self.ambiguous, self.unknown
        )
    }
}

impl std::fmt::Display for ResolutionCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "make: {}; model: {}; calibre: {}",
            self.make, self.model, self.calibre
        )
    }
}

/// Most values remembered per column before the memory is cleared.
const REMEMBERED: usize = 50_000;

/// What one value resolved to.
type Resolved = (Option<String>, Status);

/// Resolves record after record, remembering the values already resolved (a national list
/// repeats a few hundred makes a million times), and counts how each column resolved.
pub struct Canonicaliser {
    resolver: Arc<Resolver>,
    makes: HashMap<String, Resolved>,
    /// By the make's identifier ("" when it did not resolve), then the model as typed.
    models: HashMap<String, HashMap<String, Resolved>>,
    calibres: HashMap<String, Resolved>,
    /// How the columns resolved so far.
    pub counts: ResolutionCounts,
}

/// The remembered resolution of `typed` in `memory`, resolving it with `resolve` the first
/// time.
fn remembered<'m>(
    memory: &'m mut HashMap<String, Resolved>,
    typed: &str,
    resolve: impl FnOnce() -> Resolution,
) -> &'m Resolved {
    if !memory.contains_key(typed) {
        if memory.len() >= REMEMBERED {
            memory.clear();
        }
        let resolution = resolve();
        memory.insert(
            typed.to_string(),
            (resolution.id().map(str::to_string), resolution.status),
        );
    }
    &memory[typed]
}

impl Canonicaliser {
    /// A canonicaliser over `resolver`'s table.
    pub fn new(resolver: Arc<Resolver>) -> Self {
        Canonicaliser {
            resolver,
            makes: HashMap::new(),
            models: HashMap::new(),
            calibres: HashMap::new(),
            counts: ResolutionCounts::default(),
        }
    }

    /// Sets `fields.canonical` from what `fields` says, and counts it.
    pub fn fill(&mut self, fields: &mut FirearmFields) {
        let resolver = &self.resolver;
        let (make, status) = remembered(&mut self.makes, &fields.make, || {
            resolver.make(&fields.make)
        });
        self.counts.make.count(*status);
        let make = make.clone();
        let mut model = None;
        if let Some(typed) = &fields.model {
            let make_key = make.as_deref().unwrap_or("");
            if !self.models.contains_key(make_key) {
                if self.models.len() >= REMEMBERED {
                    self.models.clear();
                }
                self.models.insert(make_key.to_string(), HashMap::new());
            }
            let memory = self.models.get_mut(make_key).expect("just inserted");
            let (id, status) = remembered(memory, typed, || resolver.model(make.as_deref(), typed));
            self.counts.model.count(*status);
            model = id.clone();
        }
        let mut calibre = None;
        if let Some(typed) = &fields.calibre {
            let (id, status) = remembered(&mut self.calibres, typed, || resolver.calibre(typed));
            self.counts.calibre.count(*status);
            calibre = id.clone();
        }
        fields.canonical = Canonical {
            make,
            model,
            calibre,
        };
    }
}
