//! `armstrace bench check`: the check engine measured the way docs/CHECK-BENCH describes —
//! recall@10 per kind of damage (raw, the ceiling no ranker can pass, and on resolvable
//! queries), false alarms on negatives, latency, throughput on one core and on all, index build
//! time and memory per record.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use armstrace_matcher::normalise::{SerialKeys, plain_string};
use armstrace_matcher::pattern::Pattern;
use armstrace_matcher::{CheckIndex, CheckQuery, Confidence, IndexRecord};
use armstrace_synth::{Generator, QueryKind, negative_candidate, queries};
use rand::SeedableRng;
use rayon::prelude::*;

use super::peak_rss_mb;

/// Options of `armstrace bench check`.
#[derive(Debug, clap::Args)]
pub struct CheckBenchArgs {
    /// Records to generate and index.
    #[arg(long, default_value_t = 1_400_000)]
    records: usize,
    /// Queries to run (about a tenth of them negatives).
    #[arg(long, default_value_t = 20_000)]
    queries: usize,
    /// Seed of the records and the queries.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// One query with what the benchmark knows about it.
pub(super) struct Case {
    pub(super) kind: QueryKind,
    pub(super) serial: String,
    make: Option<String>,
    /// Record ids (1-based positions) the query must find.
    pub(super) intended: Vec<i64>,
    /// Whether no ranker could be sure to put the intended records in the top 10.
    pub(super) resolvable: bool,
}

/// Our figures, for a comparison with another engine in the same run.
#[cfg_attr(not(feature = "peer-bench"), allow(dead_code))]
pub(super) struct Ours {
    /// Recall@10 on resolvable queries, in percent, per kind.
    recall: Vec<(QueryKind, f64)>,
    /// The share of negatives given any match, in percent.
    pub(super) negatives_any_match: f64,
    /// Checks per second on one thread.
    pub(super) one_thread: f64,
}

impl Ours {
    #[cfg_attr(not(feature = "peer-bench"), allow(dead_code))]
    pub(super) fn recall_on_resolvable(&self, kind: QueryKind) -> f64 {
        self.recall
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0.0, |(_, r)| *r)
    }
}

pub async fn run(args: CheckBenchArgs) -> anyhow::Result<()> {
    let rss_before = peak_rss_mb().unwrap_or(0.0);
    println!("generating {} records (seed {}) …", args.records, args.seed);
    let records: Vec<(String, String)> = Generator::new(args.seed)
        .take(args.records)
        .map(|r| (r.serial_number, r.make))
        .collect();
    let started = Instant::now();
    let index =
        CheckIndex::build(
            records
                .iter()
                .enumerate()
                .map(|(i, (serial, make))| IndexRecord {
                    firearm_id: i as i64 + 1,
                    serial,
                    make,
                }),
        );
    let build = started.elapsed();
    let memory = index.memory_bytes();
    println!(
        "index: {} records built in {:.2} s, {:.0} bytes per record ({:.0} MB); process peak {:.0} MB (was {:.0} MB)",
        args.records,
        build.as_secs_f64(),
        memory as f64 / args.records.max(1) as f64,
        memory as f64 / 1e6,
        peak_rss_mb().unwrap_or(0.0),
        rss_before
    );

    println!("making {} queries …", args.queries);
    let cases = make_cases(&index, &records, &args);
    let mut ours = report_quality(&index, &records, &cases);
    ours.one_thread = report_speed(&index, &cases);
    #[cfg(feature = "peer-bench")]
    {
        drop(index);
        super::peer::report(&records, &cases, &ours)?;
    }
    Ok(())
}

/// The queries with their intended records, resolvability, and vetted negatives.
fn make_cases(
    index: &CheckIndex,
    records: &[(String, String)],
    args: &CheckBenchArgs,
) -> Vec<Case> {
    let mut by_plain: HashMap<String, Vec<i64>> = HashMap::new();
    for (i, (serial, _)) in records.iter().enumerate() {
        by_plain
            .entry(plain_string(serial))
            .or_default()
            .push(i as i64 + 1);
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(args.seed ^ 0x5eed);
    let generated = queries(records.len(), args.seed, args.queries, args.seed + 1);
    generated
        .into_iter()
        .map(|query| {
            let Some(source) = query.source else {
                // A negative must be three edits or more from every record: the engine finds
                // everything within two of a long serial and one of a short one, so redraw
                // until it finds nothing at all.
                let mut serial = query.serial;
                for _ in 0..200 {
                    let outcome = index.check(&CheckQuery {
                        serial: &serial,
                        make: None,
                        limit: 1,
                    });
                    if outcome.is_ok_and(|o| o.total == 0)
                        && far_from_every_record(&serial, &by_plain)
                    {
                        break;
                    }
                    serial = negative_candidate(&mut rng);
                }
                return Case {
                    kind: query.kind,
                    serial,
                    make: query.make,
                    intended: Vec::new(),
                    resolvable: true,
                };
            };
            let intended = by_plain[&plain_string(&records[source].0)].clone();
            let resolvable = resolvable(
                index,
                records,
                &query.serial,
                query.make.as_deref(),
                &intended,
            );
            Case {
                kind: query.kind,
                serial: query.serial,
                make: query.make,
                intended,
                resolvable,
            }
        })
        .collect()
}

/// A cheap second guard for negatives: no record shares the serial's plain form.
fn far_from_every_record(serial: &str, by_plain: &HashMap<String, Vec<i64>>) -> bool {
    !by_plain.contains_key(&plain_string(serial))
}

/// How far a record's serial is from the query: edits between folded forms, 0 for a pattern
/// it fits.
fn distance(query: &str, recorded: &str) -> usize {
    if Pattern::is_pattern(query) {
        return match Pattern::parse(query) {
            Ok(p) if SerialKeys::of(recorded).folded.iter().any(|f| p.matches(f)) => 0,
            _ => usize::MAX,
        };
    }
    let (q, r) = (SerialKeys::of(query), SerialKeys::of(recorded));
    let mut best = usize::MAX;
    for a in &q.folded {
        for b in &r.folded {
            if let Some(d) = armstrace_matcher::distance::osa(a, b, 4) {
                best = best.min(d);
            }
        }
    }
    if q.stripped.as_ref().is_some_and(|s| r.folded.contains(s)) {
        best = best.min(1);
    }
    best
}

/// Whether at most 10 records are as close to the query as the intended ones (of the query's
/// make, when it names one and the intended records are of it).
fn resolvable(
    index: &CheckIndex,
    records: &[(String, String)],
    serial: &str,
    make: Option<&str>,
    intended: &[i64],
) -> bool {
    let Ok(outcome) = index.check(&CheckQuery {
        serial,
        make,
        limit: usize::MAX,
    }) else {
        return false;
    };
    let record = |id: i64| &records[id as usize - 1];
    let farthest = intended
        .iter()
        .map(|id| distance(serial, &record(*id).0))
        .max()
        .unwrap_or(usize::MAX);
    let fold = armstrace_matcher::makes::fold_make;
    let same_make = make.is_some_and(|m| intended.iter().all(|id| fold(&record(*id).1) == fold(m)));
    let as_close = outcome
        .matches
        .iter()
        .filter(|m| !same_make || m.make == armstrace_matcher::MakeRelation::Same)
        .filter(|m| distance(serial, &m.recorded_serial) <= farthest)
        .count();
    as_close.max(intended.len()) <= 10
}

fn report_quality(index: &CheckIndex, records: &[(String, String)], cases: &[Case]) -> Ours {
    let mut ours = Ours {
        recall: Vec::new(),
        negatives_any_match: 0.0,
        one_thread: 0.0,
    };
    println!();
    println!(
        "{:<16} {:>7} {:>10} {:>9} {:>12}",
        "kind", "queries", "recall@10", "ceiling", "resolvable"
    );
    for kind in QueryKind::ALL {
        let of_kind: Vec<&Case> = cases.iter().filter(|c| c.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        if kind == QueryKind::Negative {
            let outcomes: Vec<_> = of_kind
                .iter()
                .map(|c| {
                    index.check(&CheckQuery {
                        serial: &c.serial,
                        make: c.make.as_deref(),
                        limit: 10,
                    })
                })
                .collect();
            let any = outcomes
                .iter()
                .filter(|o| o.as_ref().is_ok_and(|o| o.total > 0))
                .count();
            let alarm = outcomes
                .iter()
                .filter(|o| {
                    o.as_ref()
                        .is_ok_and(|o| o.matches.iter().any(|m| m.confidence <= Confidence::Strong))
                })
                .count();
            println!(
                "{:<16} {:>7}   any match {:.2} %, exact or strong match {:.2} %",
                kind.as_str(),
                of_kind.len(),
                percent(any, of_kind.len()),
                percent(alarm, of_kind.len())
            );
            ours.negatives_any_match = percent(any, of_kind.len());
            continue;
        }
        let found: Vec<bool> = of_kind
            .iter()
            .map(|c| {
                index
                    .check(&CheckQuery {
                        serial: &c.serial,
                        make: c.make.as_deref(),
                        limit: 10,
                    })
                    .is_ok_and(|o| {
                        c.intended
                            .iter()
                            .all(|id| o.matches.iter().any(|m| m.firearm_id == *id))
                    })
            })
            .collect();
        if let Some(show) = std::env::var("ARMSTRACE_BENCH_MISSES")
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
        {
            for case in of_kind
                .iter()
                .zip(&found)
                .filter(|(c, f)| c.resolvable && !**f)
                .map(|(c, _)| c)
                .take(show)
            {
                let outcome = index.check(&CheckQuery {
                    serial: &case.serial,
                    make: case.make.as_deref(),
                    limit: 10,
                });
                let top: Vec<String> = outcome
                    .map(|o| {
                        o.matches
                            .iter()
                            .map(|m| format!("{}:{}:{:?}", m.firearm_id, m.recorded_serial, m.kind))
                            .collect()
                    })
                    .unwrap_or_default();
                let intended: Vec<String> = case
                    .intended
                    .iter()
                    .map(|id| format!("{id}:{}", records[*id as usize - 1].0))
                    .collect();
                println!(
                    "  missed {:?} make {:?} intended {intended:?} got {top:?}",
                    case.serial, case.make
                );
            }
        }
        let resolvable = of_kind.iter().filter(|c| c.resolvable).count();
        let found_resolvable = of_kind
            .iter()
            .zip(&found)
            .filter(|(c, f)| c.resolvable && **f)
            .count();
        println!(
            "{:<16} {:>7} {:>9.2}% {:>8.2}% {:>11.2}%",
            kind.as_str(),
            of_kind.len(),
            percent(found.iter().filter(|f| **f).count(), of_kind.len()),
            percent(resolvable, of_kind.len()),
            percent(found_resolvable, resolvable)
        );
        ours.recall
            .push((kind, percent(found_resolvable, resolvable)));
    }
    ours
}

/// Prints latency and throughput; returns the checks per second on one thread.
fn report_speed(index: &CheckIndex, cases: &[Case]) -> f64 {
    let run = |case: &Case| {
        let _ = index.check(&CheckQuery {
            serial: &case.serial,
            make: case.make.as_deref(),
            limit: 10,
        });
    };
    // One core, as ../shared/CHECK-BENCH.md asks: a thread of its own, pinned to the first
    // core (threads started later from this one would inherit the pin).
    let (pinned, timings, one_core) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let pinned = core_affinity::get_core_ids()
                    .and_then(|cores| cores.first().copied())
                    .is_some_and(core_affinity::set_for_current);
                cases.iter().for_each(run);
                let mut timings: Vec<(QueryKind, Duration)> = Vec::with_capacity(cases.len());
                let started = Instant::now();
                for case in cases {
                    let t = Instant::now();
                    run(case);
                    timings.push((case.kind, t.elapsed()));
                }
                let one_core = cases.len() as f64 / started.elapsed().as_secs_f64();
                (pinned, timings, one_core)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    if std::env::var_os("ARMSTRACE_BENCH_SLOWEST").is_some() {
        let mut slowest: Vec<(Duration, &Case)> =
            timings.iter().map(|(_, d)| *d).zip(cases).collect();
        slowest.sort_by_key(|(took, _)| std::cmp::Reverse(*took));
        for (took, case) in slowest.iter().take(15) {
            println!(
                "  slow {:>8.1}µs {:?} {:?}",
                micros(*took),
                case.serial,
                case.make
            );
        }
    }
    let started = Instant::now();
    let rounds = 3;
    (0..rounds).for_each(|_| cases.par_iter().for_each(run));
    let all_cores = (cases.len() * rounds) as f64 / started.elapsed().as_secs_f64();
    println!();
    println!("{:<16} {:>10} {:>10}", "latency", "p50", "p99");
    let mut all: Vec<Duration> = timings.iter().map(|(_, d)| *d).collect();
    print_percentiles("mixed", &mut all);
    for kind in QueryKind::ALL {
        let mut of_kind: Vec<Duration> = timings
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, d)| *d)
            .collect();
        if !of_kind.is_empty() {
            print_percentiles(kind.as_str(), &mut of_kind);
        }
    }
    println!();
    println!(
        "checks per second: {one_core:.0} on one thread{}, {all_cores:.0} on all {} cores",
        if pinned { " pinned to one core" } else { "" },
        rayon::current_num_threads()
    );
    one_core
}

pub(super) fn print_percentiles(label: &str, timings: &mut [Duration]) {
    timings.sort_unstable();
    let at = |q: f64| timings[((timings.len() as f64 * q) as usize).min(timings.len() - 1)];
    println!(
        "{label:<16} {:>8.1}µs {:>8.1}µs",
        micros(at(0.5)),
        micros(at(0.99))
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub(super) fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
