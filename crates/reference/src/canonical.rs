//! A record's make, model and calibre resolved to the table's identifiers, with counts of how
//! each column resolved: what the records module stores beside what was typed.

use std::collections::HashMap;
use std::sync::Arc;

use armstrace_core::{Canonical, FirearmFields};
use serde::Serialize;

use crate::resolve::{Resolver, Status};

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

/// Resolves record after record, remembering the values already resolved (a national list
/// repeats a few hundred makes a million times), and counts how each column resolved.
pub struct Canonicaliser {
    resolver: Arc<Resolver>,
    makes: HashMap<String, (Option<String>, Status)>,
    models: HashMap<(Option<String>, String), (Option<String>, Status)>,
    calibres: HashMap<String, (Option<String>, Status)>,
    /// How the columns resolved so far.
    pub counts: ResolutionCounts,
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
        if self.makes.len() >= REMEMBERED {
            self.makes.clear();
        }
        let (make, status) = self
            .makes
            .entry(fields.make.clone())
            .or_insert_with(|| {
                let r = resolver.make(&fields.make);
                (r.id().map(str::to_string), r.status)
            })
            .clone();
        self.counts.make.count(status);
        let model = fields.model.as_ref().map(|typed| {
            if self.models.len() >= REMEMBERED {
                self.models.clear();
            }
            let (id, status) = self
                .models
                .entry((make.clone(), typed.clone()))
                .or_insert_with(|| {
                    let r = resolver.model(make.as_deref(), typed);
                    (r.id().map(str::to_string), r.status)
                })
                .clone();
            self.counts.model.count(status);
            id
        });
        let calibre = fields.calibre.as_ref().map(|typed| {
            if self.calibres.len() >= REMEMBERED {
                self.calibres.clear();
            }
            let (id, status) = self
                .calibres
                .entry(typed.clone())
                .or_insert_with(|| {
                    let r = resolver.calibre(typed);
                    (r.id().map(str::to_string), r.status)
                })
                .clone();
            self.counts.calibre.count(status);
            id
        });
        fields.canonical = Canonical {
            make,
            model: model.flatten(),
            calibre: calibre.flatten(),
        };
    }
}
