//! Check-benchmark queries as the benchmark sees them: each corruption's shape, and the query mix.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use armstrace_synth::{
    CheckQuery, Generator, QueryKind, SyntheticRecord, corrupt, negative_candidate, queries,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;

const RECORDS: usize = 3_000;
const QUERIES: usize = 900;

fn records() -> &'static [SyntheticRecord] {
    static RECORDS_: OnceLock<Vec<SyntheticRecord>> = OnceLock::new();
    RECORDS_.get_or_init(|| Generator::new(42).take(RECORDS).collect())
}

fn mix() -> &'static [CheckQuery] {
    static MIX: OnceLock<Vec<CheckQuery>> = OnceLock::new();
    MIX.get_or_init(|| queries(RECORDS, 42, QUERIES, 7))
}

fn corrupted(serial: &str, kind: QueryKind, seed: u64) -> Option<String> {
    corrupt(&mut Pcg64::seed_from_u64(seed), serial, kind)
}

/// The separator-free uppercase form edits are counted on.
fn readable(serial: &str) -> Vec<char> {
    serial
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

fn is_cyrillic(c: char) -> bool {
    ('\u{400}'..='\u{4FF}').contains(&c)
}

/// Edit distance; with `swaps`, an adjacent transposition counts as one edit.
fn distance(a: &[char], b: &[char], swaps: bool) -> usize {
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if swaps && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// Whether `text` fits `pattern`, where `?` stands for one character and `*` for one or more.
fn fits(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (1..=text.len()).any(|n| fits(rest, &text[n..])),
        Some((&p, rest)) => text
            .split_first()
            .is_some_and(|(&t, more)| (p == '?' || p == t) && fits(rest, more)),
    }
}

/// Realistic serials: per-maker formats, plus free mixes of digits, both scripts, both cases and separators.
fn serial() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<u64>().prop_map(|seed| negative_candidate(&mut Pcg64::seed_from_u64(seed))),
        2 => "[0-9A-ZА-Я -]{0,14}",
        1 => "[0-9a-zA-Zа-яА-Я ./-]{0,12}",
    ]
}

proptest! {
    #[test]
    fn corrupt_gives_a_changed_query_exactly_when_the_kind_applies(
        serial in serial(),
        seed in any::<u64>(),
    ) {
        for kind in QueryKind::ALL {
            let query = corrupted(&serial, kind, seed);
            prop_assert_eq!(query.is_some(), kind.applies_to(&serial), "{} {:?}", kind, serial);
            if let Some(query) = query {
                prop_assert_ne!(&query, &serial, "{}", kind);
                prop_assert_eq!(Some(query), corrupted(&serial, kind, seed), "not deterministic");
            }
        }
    }

    #[test]
    fn a_format_query_differs_only_in_case_separators_and_leading_zeros(
        serial in serial(),
        seed in any::<u64>(),
    ) {
        let Some(query) = corrupted(&serial, QueryKind::Format, seed) else {
            return Ok(());
        };
        let without_zeros = |s: &str| -> Vec<char> {
            readable(s).into_iter().skip_while(|&c| c == '0').collect()
        };
        prop_assert_eq!(without_zeros(&query), without_zeros(&serial), "{:?} -> {:?}", serial, query);
    }

    #[test]
    fn a_confusable_query_swaps_one_or_two_characters_for_look_alikes(
        serial in serial(),
        seed in any::<u64>(),
    ) {
        let Some(query) = corrupted(&serial, QueryKind::Confusable, seed) else {
            return Ok(());
        };
        let look_alikes = [
            ('O', '0'), ('0', 'O'), ('Q', '0'), ('I', '1'), ('1', 'I'), ('L', '1'), ('S', '5'),
            ('5', 'S'), ('B', '8'), ('8', 'B'), ('Z', '2'), ('2', 'Z'), ('G', '6'), ('6', 'G'),
            ('О', '0'), ('В', '8'),
        ];
        let before: Vec<char> = serial.chars().collect();
        let after: Vec<char> = query.chars().collect();
        prop_assert_eq!(before.len(), after.len());
        let changed: Vec<(char, char)> = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a != b)
            .map(|(&a, &b)| (a.to_ascii_uppercase(), b))
            .collect();
        prop_assert!((1..=2).contains(&changed.len()), "{:?} -> {:?}", serial, query);
        prop_assert!(changed.iter().all(|pair| look_alikes.contains(pair)), "{:?}", changed);
    }

    #[test]
    fn a_script_query_of_a_cyrillic_serial_is_all_latin_and_keeps_the_digits(
        serial in serial(),
        seed in any::<u64>(),
    ) {
        let Some(query) = corrupted(&serial, QueryKind::Script, seed) else {
            return Ok(());
        };
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        prop_assert_eq!(digits(&query), digits(&serial));
        if serial.chars().any(is_cyrillic) {
            prop_assert!(
                query.chars().all(|c| !c.is_alphabetic() || c.is_ascii_alphabetic()),
                "{:?} -> {:?}", serial, query
            );
        } else {
            let typed: Vec<(char, char)> = serial
                .chars()
                .zip(query.chars())
                .filter(|(a, b)| a != b)
                .map(|(a, b)| (a.to_ascii_uppercase(), b.to_uppercase().next().unwrap()))
                .collect();
            prop_assert_eq!(serial.chars().count(), query.chars().count());
            prop_assert!((1..=2).contains(&typed.len()), "{:?} -> {:?}", serial, query);
            let pairs = "AА BВ CС EЕ HН KК MМ OО PР TТ XХ YУ";
            for (latin, cyrillic) in typed {
                prop_assert!(pairs.contains(&format!("{latin}{cyrillic}")), "{} -> {}", latin, cyrillic);
            }
        }
    }

    #[test]
    fn a_one_edit_query_is_exactly_one_edit_away(serial in serial(), seed in any::<u64>()) {
        let query = corrupted(&serial, QueryKind::OneEdit, seed);
        prop_assert_eq!(query.is_some(), readable(&serial).len() >= 4);
        if let Some(query) = query {
            prop_assert_eq!(distance(&readable(&serial), &readable(&query), false), 1,
                "{:?} -> {:?}", serial, query);
        }
    }

    #[test]
    fn a_transposition_swaps_two_adjacent_different_characters(
        serial in serial(),
        seed in any::<u64>(),
    ) {
        let Some(query) = corrupted(&serial, QueryKind::Transposition, seed) else {
            return Ok(());
        };
        let before: Vec<char> = serial.chars().collect();
        let after: Vec<char> = query.chars().collect();
        let mut sorted = (before.clone(), after.clone());
        sorted.0.sort_unstable();
        sorted.1.sort_unstable();
        prop_assert_eq!(sorted.0, sorted.1, "not the same characters");
        let changed: Vec<usize> = (0..before.len()).filter(|&i| before[i] != after[i]).collect();
        prop_assert_eq!(changed.len(), 2, "{:?} -> {:?}", serial, query);
        let i = changed[0];
        prop_assert_eq!(changed[1], i + 1);
        prop_assert!(before[i].is_alphanumeric() && before[i + 1].is_alphanumeric());
        prop_assert_eq!((before[i], before[i + 1]), (after[i + 1], after[i]));
    }

    #[test]
    fn two_edits_apply_only_from_eight_readable_characters_and_are_two_edits_away(
        serial in serial(),
        seed in any::<u64>(),
    ) {
        let query = corrupted(&serial, QueryKind::TwoEdits, seed);
        prop_assert_eq!(query.is_some(), readable(&serial).len() >= 8);
        if let Some(query) = query {
            prop_assert_eq!(distance(&readable(&serial), &readable(&query), true), 2,
                "{:?} -> {:?}", serial, query);
        }
    }

    #[test]
    fn a_partial_query_keeps_three_readable_characters_and_marks_the_lost_ones(
        serial in serial(),
        seed in any::<u64>(),
    ) {
        let query = corrupted(&serial, QueryKind::Partial, seed);
        prop_assert_eq!(query.is_some(), readable(&serial).len() >= 4);
        let Some(query) = query else {
            return Ok(());
        };
        prop_assert!(readable(&query).len() >= 3, "{:?}", query);
        let marks = query.matches('?').count();
        let stars = query.matches('*').count();
        prop_assert!(marks <= 2 && stars <= 1 && marks + stars >= 1, "{:?}", query);
        if stars == 1 {
            prop_assert!(query.starts_with('*') != query.ends_with('*'), "{:?}", query);
        }
        let pattern: Vec<char> = query
            .chars()
            .filter(|&c| c.is_alphanumeric() || c == '?' || c == '*')
            .flat_map(char::to_uppercase)
            .collect();
        prop_assert!(fits(&pattern, &readable(&serial)), "{:?} does not fit {:?}", query, serial);
    }

    #[test]
    fn an_embedded_letter_sits_alone_between_two_digits(serial in serial(), seed in any::<u64>()) {
        let Some(query) = corrupted(&serial, QueryKind::EmbeddedLetter, seed) else {
            return Ok(());
        };
        let after: Vec<char> = query.chars().collect();
        prop_assert_eq!(after.len(), serial.chars().count() + 1);
        let inserted = (1..after.len() - 1).find(|&i| {
            after[i].is_ascii_uppercase()
                && after[i - 1].is_ascii_digit()
                && after[i + 1].is_ascii_digit()
                && after[..i].iter().chain(&after[i + 1..]).copied().eq(serial.chars())
        });
        prop_assert!(inserted.is_some(), "{:?} -> {:?}", serial, query);
    }
}

#[test]
fn two_edits_need_eight_readable_characters_whatever_the_separators() {
    assert_eq!(corrupted("1234567", QueryKind::TwoEdits, 1), None);
    assert_eq!(corrupted("12-34-567", QueryKind::TwoEdits, 1), None);
    assert!(corrupted("1234-5678", QueryKind::TwoEdits, 1).is_some());
}

#[test]
fn a_soviet_serial_is_typed_with_look_alikes_or_spelled_out() {
    let spellings: BTreeSet<String> = (0..200)
        .filter_map(|seed| corrupted("ЖУ 1234", QueryKind::Script, seed))
        .collect();
    let expected = ["ZHY 1234", "ZHU 1234"];
    assert!(
        spellings.iter().all(|s| expected.contains(&s.as_str())),
        "{spellings:?}"
    );
    assert_eq!(spellings.len(), 2, "{spellings:?}");
}

#[test]
fn an_embedded_letter_needs_two_adjacent_digits() {
    assert_eq!(corrupted("1A2B3C", QueryKind::EmbeddedLetter, 3), None);
    let query = corrupted("369257", QueryKind::EmbeddedLetter, 3).unwrap();
    assert_eq!(query.len(), 7);
    assert_eq!(
        query
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>(),
        "369257"
    );
}

#[test]
fn script_does_not_apply_to_digits_or_letters_without_look_alikes() {
    assert!(!QueryKind::Script.applies_to("123456"));
    assert!(!QueryKind::Script.applies_to("DFG123"));
    assert!(QueryKind::Script.applies_to("DFK123"));
}

#[test]
fn negative_is_not_a_corruption() {
    assert_eq!(corrupted("BKR417", QueryKind::Negative, 1), None);
    assert!(!QueryKind::Negative.applies_to("BKR417"));
}

#[test]
fn negative_candidates_look_like_recorded_serials_and_repeat_for_a_seed() {
    let draw = |seed| negative_candidate(&mut Pcg64::seed_from_u64(seed));
    for seed in 0..500 {
        let serial = draw(seed);
        assert_eq!(serial, draw(seed));
        assert!(readable(&serial).len() >= 3, "{serial:?}");
        assert!(
            serial.chars().all(|c| c.is_ascii_uppercase()
                || c.is_ascii_digit()
                || is_cyrillic(c)
                || " -".contains(c)),
            "{serial:?}"
        );
    }
}

#[test]
fn kind_names_are_snake_case_and_distinct() {
    let names: BTreeSet<&str> = QueryKind::ALL.iter().map(QueryKind::as_str).collect();
    assert_eq!(names.len(), 9);
    assert_eq!(QueryKind::TwoEdits.to_string(), "two_edits");
    assert_eq!(QueryKind::ALL[8], QueryKind::Negative);
}

#[test]
fn the_same_arguments_give_the_same_queries() {
    assert_eq!(queries(1_000, 5, 200, 9), queries(1_000, 5, 200, 9));
    assert_ne!(queries(1_000, 5, 200, 9), queries(1_000, 5, 200, 10));
}

#[test]
fn every_kind_appears_and_record_kinds_share_the_queries_evenly() {
    let mut counts: BTreeMap<QueryKind, usize> = BTreeMap::new();
    for query in mix() {
        *counts.entry(query.kind).or_default() += 1;
    }
    assert_eq!(mix().len(), QUERIES);
    assert_eq!(counts.len(), 9, "{counts:?}");
    assert_eq!(counts[&QueryKind::Negative], QUERIES / 10);
    let per_kind = (QUERIES - QUERIES / 10) / 8;
    for kind in &QueryKind::ALL[..8] {
        assert!(
            (per_kind..=per_kind + 1).contains(&counts[kind]),
            "{counts:?}"
        );
    }
}

#[test]
fn about_ten_percent_are_negatives_for_any_count() {
    for count in [1, 9, 10, 15, 101] {
        let negatives = queries(500, 1, count, 2)
            .iter()
            .filter(|q| q.kind == QueryKind::Negative)
            .count();
        assert_eq!(negatives, (count + 5) / 10, "of {count}");
    }
}

#[test]
fn each_query_comes_from_a_record_its_kind_applies_to() {
    for query in mix() {
        let Some(source) = query.source else {
            assert_eq!(query.kind, QueryKind::Negative);
            continue;
        };
        let record = &records()[source];
        assert!(query.kind.applies_to(&record.serial_number), "{query:?}");
        assert_ne!(query.serial, record.serial_number);
        if let Some(make) = &query.make {
            assert!(
                *make == record.make || *make == record.make.to_uppercase(),
                "{query:?}"
            );
        }
    }
}

#[test]
fn negatives_have_no_source_and_about_half_name_a_make() {
    let negatives: Vec<&CheckQuery> = mix().iter().filter(|q| q.source.is_none()).collect();
    assert!(negatives.iter().all(|q| q.kind == QueryKind::Negative));
    let named = negatives.iter().filter(|q| q.make.is_some()).count();
    assert!((25..=65).contains(&named), "{named} of {}", negatives.len());
}

#[test]
fn about_sixty_percent_of_record_queries_name_the_make_one_in_ten_in_capitals() {
    let mut named = 0;
    let mut in_capitals = 0;
    let mut from_records = 0;
    for query in mix() {
        let Some(source) = query.source else {
            continue;
        };
        from_records += 1;
        let recorded = &records()[source].make;
        if let Some(make) = &query.make {
            named += 1;
            in_capitals += usize::from(make != recorded);
        }
    }
    let share = named * 100 / from_records;
    assert!((53..=67).contains(&share), "{share}% name the make");
    assert!(
        (named / 25..=named / 6).contains(&in_capitals),
        "{in_capitals} of {named} in capitals"
    );
}

#[test]
fn sources_are_spread_over_the_whole_list_and_the_kinds_are_mixed() {
    let sources: Vec<usize> = mix().iter().filter_map(|q| q.source).collect();
    let mean = sources.iter().sum::<usize>() / sources.len();
    assert!((RECORDS * 2 / 5..RECORDS * 3 / 5).contains(&mean), "{mean}");
    let distinct: BTreeSet<usize> = sources.iter().copied().collect();
    assert!(distinct.len() > sources.len() * 3 / 4, "{}", distinct.len());
    let first_kinds: BTreeSet<QueryKind> = mix()[..40].iter().map(|q| q.kind).collect();
    assert!(first_kinds.len() >= 6, "{first_kinds:?}");
}

#[test]
fn without_records_every_query_is_a_negative() {
    let all = queries(0, 1, 20, 1);
    assert_eq!(all.len(), 20);
    assert!(all.iter().all(|q| q.kind == QueryKind::Negative));
}

#[test]
fn a_short_list_still_gives_the_full_count_reusing_records() {
    let few = queries(4, 42, 80, 3);
    assert_eq!(few.len(), 80);
    let list: Vec<SyntheticRecord> = Generator::new(42).take(4).collect();
    for query in &few {
        if let Some(source) = query.source {
            assert!(
                query.kind.applies_to(&list[source].serial_number),
                "{query:?}"
            );
        }
    }
}

/// Pins the query stream, so a dependency upgrade that changes random values is noticed.
/// A deliberate change to the generator or the corruptions changes these queries: update them then.
#[test]
fn the_queries_for_fixed_seeds_do_not_change_between_builds() {
    let pinned: Vec<(QueryKind, &str, Option<&str>, Option<usize>)> = vec![
        (QueryKind::EmbeddedLetter, "LT167V41N", None, Some(120)),
        (QueryKind::Partial, "BER931*", Some("Beretta"), Some(144)),
        (
            QueryKind::TwoEdits,
            "780-0433236",
            Some("Sturm Ruger"),
            Some(215),
        ),
        (QueryKind::Negative, "743778", Some("Zastava Arms"), None),
        (QueryKind::Format, "Ga023550", Some("Steyr"), Some(63)),
        (QueryKind::OneEdit, "ФГ 41", None, Some(240)),
        (QueryKind::Transposition, "0037775", None, Some(17)),
        (QueryKind::Confusable, "XS436", None, Some(275)),
        (QueryKind::Script, "125LХ57017", None, Some(153)),
        (QueryKind::Format, "Dxy71462", None, Some(10)),
    ];
    let actual = queries(300, 42, 10, 1);
    let actual: Vec<(QueryKind, &str, Option<&str>, Option<usize>)> = actual
        .iter()
        .map(|q| (q.kind, q.serial.as_str(), q.make.as_deref(), q.source))
        .collect();
    assert_eq!(actual, pinned);
}
