//! The same records and queries through tantivy (feature `peer-bench`), set up as well as a
//! general-purpose engine allows for serial numbers: each record's serial as one term, with case
//! and separators removed as ours are; a query is the exact term, the terms one edit away and
//! the terms two edits away (a swap counting one), boosted in that order; a serial with `?` or
//! `*` is a regular expression over the terms instead. The make is not used: tantivy has no
//! notion of two spellings of one manufacturer.

use std::time::{Duration, Instant};

use armstrace_matcher::normalise::plain_string;
use armstrace_synth::QueryKind;
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RegexQuery, TermQuery,
};
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema};
use tantivy::{Index, IndexReader, IndexWriter, Searcher, TantivyDocument, Term};

use super::check::{Case, Ours, percent, print_percentiles};

/// A tantivy index of the records, in memory.
pub(super) struct Peer {
    reader: IndexReader,
    serial: Field,
}

impl Peer {
    /// Indexes `records` (record `i` has id `i + 1`) with every core.
    pub(super) fn build(records: &[(String, String)]) -> anyhow::Result<(Peer, Duration)> {
        let started = Instant::now();
        let mut schema = Schema::builder();
        let serial = schema.add_text_field("serial", STRING);
        let id = schema.add_u64_field("id", FAST);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index.writer(400_000_000)?;
        for (i, (recorded, _)) in records.iter().enumerate() {
            let mut doc = TantivyDocument::default();
            doc.add_text(serial, plain_string(recorded));
            doc.add_u64(id, i as u64 + 1);
            writer.add_document(doc)?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        let reader = index.reader()?;
        Ok((Peer { reader, serial }, started.elapsed()))
    }

    /// The ids of the best `limit` records for a typed serial, best first.
    fn search(&self, searcher: &Searcher, typed: &str, limit: usize) -> Vec<i64> {
        let Some(query) = self.query(typed) else {
            return Vec::new();
        };
        let Ok(top) = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score()) else {
            return Vec::new();
        };
        top.into_iter()
            .filter_map(|(_, address)| {
                let segment = searcher.segment_reader(address.segment_ord);
                let ids = segment.fast_fields().u64("id").ok()?;
                ids.first(address.doc_id).map(|id| id as i64)
            })
            .collect()
    }

    fn query(&self, typed: &str) -> Option<Box<dyn Query>> {
        if typed.contains(['?', '*']) {
            let pattern: String = typed
                .chars()
                .map(|c| match c {
                    '?' => ".".to_string(),
                    '*' => ".*".to_string(),
                    c => plain_string(&c.to_string())
                        .chars()
                        .map(regex_escape)
                        .collect(),
                })
                .collect();
            return RegexQuery::from_pattern(&pattern, self.serial)
                .ok()
                .map(|q| Box::new(q) as Box<dyn Query>);
        }
        let plain = plain_string(typed);
        if plain.is_empty() {
            return None;
        }
        let term = Term::from_field_text(self.serial, &plain);
        let boosted = |query: Box<dyn Query>, boost: f32| -> (Occur, Box<dyn Query>) {
            (Occur::Should, Box::new(BoostQuery::new(query, boost)))
        };
        Some(Box::new(BooleanQuery::new(vec![
            boosted(
                Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
                4.0,
            ),
            boosted(Box::new(FuzzyTermQuery::new(term.clone(), 1, true)), 2.0),
            boosted(Box::new(FuzzyTermQuery::new(term, 2, true)), 1.0),
        ])))
    }
}

fn regex_escape(c: char) -> String {
    if c.is_alphanumeric() {
        c.to_string()
    } else {
        format!("\\{c}")
    }
}

/// Runs every query through tantivy and prints its recall, false alarms and speed beside ours.
pub(super) fn report(
    records: &[(String, String)],
    cases: &[Case],
    ours: &Ours,
) -> anyhow::Result<()> {
    println!();
    println!("peer: tantivy (exact, distance-1 and distance-2 terms, boosted; regex for ? and *)");
    let (peer, build) = Peer::build(records)?;
    println!("peer index: built in {:.2} s", build.as_secs_f64());
    let searcher = peer.reader.searcher();
    let mut timings = Vec::with_capacity(cases.len());
    let mut found = Vec::with_capacity(cases.len());
    let started = Instant::now();
    for case in cases {
        let t = Instant::now();
        let ids = peer.search(&searcher, &case.serial, 10);
        timings.push(t.elapsed());
        found.push(ids);
    }
    let per_second = cases.len() as f64 / started.elapsed().as_secs_f64();
    println!();
    println!(
        "{:<16} {:>12} {:>12} {:>12}",
        "kind", "tantivy", "armstrace", "difference"
    );
    for kind in QueryKind::ALL {
        let of_kind: Vec<(&Case, &Vec<i64>)> = cases
            .iter()
            .zip(&found)
            .filter(|(c, _)| c.kind == kind)
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        if kind == QueryKind::Negative {
            let any = of_kind.iter().filter(|(_, ids)| !ids.is_empty()).count();
            println!(
                "{:<16} {:>11.2}% {:>11.2}%   (negatives given any match)",
                kind.as_str(),
                percent(any, of_kind.len()),
                ours.negatives_any_match
            );
            continue;
        }
        let resolvable: Vec<&(&Case, &Vec<i64>)> =
            of_kind.iter().filter(|(c, _)| c.resolvable).collect();
        let hits = resolvable
            .iter()
            .filter(|(c, ids)| c.intended.iter().all(|id| ids.contains(id)))
            .count();
        let theirs = percent(hits, resolvable.len());
        let mine = ours.recall_on_resolvable(kind);
        println!(
            "{:<16} {:>11.2}% {:>11.2}% {:>+11.2}",
            kind.as_str(),
            theirs,
            mine,
            mine - theirs
        );
    }
    println!("(recall@10 on resolvable queries; negatives: share given any match)");
    println!();
    print_percentiles("tantivy mixed", &mut timings);
    println!(
        "checks per second on one thread: tantivy {per_second:.0}, armstrace {:.0} ({:.1} times as many)",
        ours.one_thread,
        ours.one_thread / per_second
    );
    Ok(())
}
