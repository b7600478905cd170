//! The check engine as a whole: every kind of damage a serial suffers is found, ranked and
//! explained; changes are seen by the next check.

use armstrace_matcher::{
    CheckIndex, CheckQuery, Confidence, IndexRecord, MakeRelation, MatchKind, QueryError,
};

const RECORDS: &[(i64, &str, &str)] = &[
    (1, "BKR417", "Glock"),
    (2, "ЖВ 4521", "Izhmash"),
    (3, "369257", "Zastava Arms"),
    (4, "AB-12345-Z", "Beretta"),
    (5, "0012345", "Walther"),
    (6, "PX1234", "Taurus"),
    (7, "ЛК4412", "Tula Arms Plant"),
    (8, "12345678901", "Norinco"),
    (9, "BKR417", "Walther"),
    (10, "987731", "CZ"),
];

fn index() -> CheckIndex {
    CheckIndex::build(RECORDS.iter().map(|(id, serial, make)| IndexRecord {
        firearm_id: *id,
        serial,
        make,
    }))
}

fn check(
    index: &CheckIndex,
    serial: &str,
    make: Option<&str>,
) -> Vec<(i64, Confidence, MatchKind)> {
    index
        .check(&CheckQuery {
            serial,
            make,
            limit: 10,
        })
        .unwrap()
        .matches
        .into_iter()
        .map(|m| (m.firearm_id, m.confidence, m.kind))
        .collect()
}

fn first(index: &CheckIndex, serial: &str, make: Option<&str>) -> (i64, Confidence, MatchKind) {
    *check(index, serial, make)
        .first()
        .unwrap_or_else(|| panic!("{serial} found nothing"))
}

#[test]
fn case_and_separators_give_an_exact_match() {
    let index = index();
    assert_eq!(
        first(&index, "bkr-417", Some("glock")),
        (1, Confidence::Exact, MatchKind::Exact)
    );
    assert_eq!(
        first(&index, "ab 12345 z", None),
        (4, Confidence::Exact, MatchKind::Exact)
    );
}

#[test]
fn leading_zeros_confusables_and_scripts_give_a_strong_match() {
    let index = index();
    assert_eq!(
        first(&index, "12345", Some("Walther")),
        (5, Confidence::Strong, MatchKind::Folded)
    );
    assert_eq!(
        first(&index, "8KR4I7", Some("Glock")),
        (1, Confidence::Strong, MatchKind::Folded)
    );
    assert_eq!(
        first(&index, "ZHV4521", None),
        (2, Confidence::Strong, MatchKind::Folded)
    );
    assert_eq!(
        first(&index, "ZHB 4521", None),
        (2, Confidence::Strong, MatchKind::Folded)
    );
    assert_eq!(
        first(&index, "LK4412", None),
        (7, Confidence::Strong, MatchKind::Folded)
    );
    assert_eq!(
        first(&index, "РХ1234", None),
        (6, Confidence::Strong, MatchKind::Folded)
    );
}

#[test]
fn one_typing_error_gives_a_strong_match() {
    let index = index();
    for typo in ["369258", "3692570", "36925", "396257"] {
        assert_eq!(
            first(&index, typo, None),
            (3, Confidence::Strong, MatchKind::OneEdit),
            "{typo}"
        );
    }
}

#[test]
fn two_typing_errors_in_a_long_serial_give_a_possible_match() {
    let index = index();
    assert_eq!(
        first(&index, "12345679911", None),
        (8, Confidence::Possible, MatchKind::TwoEdits)
    );
    assert_eq!(first(&index, "1234567890", None).0, 8);
    assert!(
        check(&index, "369999", None).is_empty(),
        "two errors in a short serial match nothing"
    );
}

#[test]
fn unreadable_characters_are_matched_by_pattern() {
    let index = index();
    assert_eq!(
        first(&index, "36?257", None),
        (3, Confidence::Possible, MatchKind::Pattern)
    );
    assert_eq!(
        first(&index, "*7731", None),
        (10, Confidence::Possible, MatchKind::Pattern)
    );
    assert_eq!(first(&index, "1234567*", None).0, 8);
    assert_eq!(
        index.check(&CheckQuery {
            serial: "1?*",
            make: None,
            limit: 10
        }),
        Err(QueryError::TooFewReadable(1))
    );
}

#[test]
fn letters_between_digits_are_ignored_both_ways() {
    let index = index();
    // One letter is also one typing error away, and that is the closer reading.
    assert_eq!(
        first(&index, "369J257", None),
        (3, Confidence::Strong, MatchKind::OneEdit)
    );
    assert_eq!(
        first(&index, "369JK257", None),
        (3, Confidence::Possible, MatchKind::EmbeddedLetters)
    );
    let recorded = CheckIndex::build([IndexRecord {
        firearm_id: 1,
        serial: "77AB123",
        make: "CZ",
    }]);
    assert_eq!(
        first(&recorded, "77123", None),
        (1, Confidence::Possible, MatchKind::EmbeddedLetters)
    );
}

#[test]
fn the_given_make_ranks_first_and_another_make_is_only_possible() {
    let index = index();
    let found = check(&index, "BKR417", Some("Walther"));
    assert_eq!(found[0], (9, Confidence::Exact, MatchKind::Exact));
    assert_eq!(found[1], (1, Confidence::Possible, MatchKind::Exact));
    let outcome = index
        .check(&CheckQuery {
            serial: "BKR417",
            make: Some("walther"),
            limit: 10,
        })
        .unwrap();
    assert_eq!(outcome.matches[1].make, MakeRelation::Different);
}

#[test]
fn an_alias_of_the_make_counts_as_the_same_make() {
    let index = index();
    let outcome = index
        .check(&CheckQuery {
            serial: "ЖВ4521",
            make: Some("Kalashnikov"),
            limit: 10,
        })
        .unwrap();
    assert_eq!(outcome.matches[0].make, MakeRelation::Same);
    assert_eq!(outcome.matches[0].confidence, Confidence::Exact);
}

#[test]
fn a_serial_far_from_every_record_matches_nothing() {
    let index = index();
    assert!(check(&index, "QWXV9090", None).is_empty());
    assert_eq!(
        index.check(&CheckQuery {
            serial: "--",
            make: None,
            limit: 10
        }),
        Err(QueryError::Empty)
    );
}

#[test]
fn matches_explain_themselves() {
    let index = index();
    let outcome = index
        .check(&CheckQuery {
            serial: "LK4412",
            make: None,
            limit: 10,
        })
        .unwrap();
    let words: Vec<_> = outcome.matches[0]
        .differences
        .iter()
        .map(|d| d.description.as_str())
        .collect();
    assert_eq!(words, ["Cyrillic Л typed as L", "Cyrillic К typed as K"]);
}

#[test]
fn created_changed_and_deleted_records_are_seen_by_the_next_check() {
    let index = index();
    assert!(check(&index, "NEW9999", None).is_empty());
    index.upsert(IndexRecord {
        firearm_id: 11,
        serial: "NEW9999",
        make: "Glock",
    });
    assert_eq!(first(&index, "NEW9999", None).0, 11);
    index.upsert(IndexRecord {
        firearm_id: 11,
        serial: "OTHER777",
        make: "Glock",
    });
    assert!(
        check(&index, "NEW9999", None).is_empty(),
        "the old serial no longer matches"
    );
    assert_eq!(first(&index, "OTHER777", None).0, 11);
    index.upsert(IndexRecord {
        firearm_id: 3,
        serial: "555444",
        make: "Zastava",
    });
    assert!(
        check(&index, "369257", None).is_empty(),
        "a built record that changed no longer matches its old serial"
    );
    index.remove(11);
    assert!(check(&index, "OTHER777", None).is_empty());
    index.remove(1);
    assert_eq!(
        check(&index, "BKR417", None),
        vec![(9, Confidence::Exact, MatchKind::Exact)]
    );
}

#[test]
fn when_many_records_are_as_close_the_outcome_says_how_many() {
    // Every serial one digit away from 65626: 45 records, none of them 65626 itself.
    let mut records: Vec<(i64, String)> = Vec::new();
    for position in 0..5 {
        for digit in b'0'..=b'9' {
            let mut serial = b"65626".to_vec();
            if serial[position] != digit {
                serial[position] = digit;
                records.push((records.len() as i64 + 1, String::from_utf8(serial).unwrap()));
            }
        }
    }
    let index = CheckIndex::build(records.iter().map(|(id, s)| IndexRecord {
        firearm_id: *id,
        serial: s,
        make: "Glock",
    }));
    let outcome = index
        .check(&CheckQuery {
            serial: "65626",
            make: None,
            limit: 10,
        })
        .unwrap();
    assert_eq!(outcome.matches.len(), 10);
    assert_eq!((outcome.total, outcome.equally_close), (45, 45));
}

#[test]
fn a_pattern_may_spell_leading_zeros_or_leave_them_out() {
    let index = CheckIndex::build(
        [
            (1, "01160"),
            (2, "042014"),
            (3, "0928149"),
            (4, "06813"),
            (5, "777"),
        ]
        .iter()
        .map(|(id, serial)| IndexRecord {
            firearm_id: *id,
            serial,
            make: "Walther",
        }),
    );
    for (serial, id) in [
        ("0116*", 1),
        ("116*", 1),
        ("0420*", 2),
        ("09?81?9", 3),
        ("?68?3", 4),
    ] {
        assert_eq!(
            check(&index, serial, None).first().map(|f| f.0),
            Some(id),
            "{serial}"
        );
    }
}

#[test]
fn a_pattern_with_unreadable_characters_after_a_readable_start_finds_its_serial() {
    let records = [
        (1, "X4733981"),
        (2, "X4734981"),
        (3, "Y4733981"),
        (4, "7AB005"),
    ];
    let index = CheckIndex::build(records.iter().map(|(id, serial)| IndexRecord {
        firearm_id: *id,
        serial,
        make: "Colt",
    }));
    let found: Vec<i64> = check(&index, "X??33*", None).iter().map(|f| f.0).collect();
    assert_eq!(found, [1]);
    assert_eq!(check(&index, "7??00*", None).first().map(|f| f.0), Some(4));
    assert_eq!(
        check(&index, "?4?33981", None)
            .iter()
            .map(|f| f.0)
            .collect::<Vec<_>>(),
        [1, 3]
    );
}
