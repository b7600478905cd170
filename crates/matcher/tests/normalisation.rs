//! Properties of serial normalisation that every check relies on.

use armstrace_matcher::normalise::{SerialKeys, plain_string};
use armstrace_matcher::{CheckIndex, CheckQuery, Confidence, IndexRecord};
use proptest::prelude::*;

/// Latin letters and their Cyrillic look-alikes.
const LOOK_ALIKES: &[(char, char)] = &[
    ('A', 'А'),
    ('B', 'В'),
    ('C', 'С'),
    ('E', 'Е'),
    ('H', 'Н'),
    ('K', 'К'),
    ('M', 'М'),
    ('O', 'О'),
    ('P', 'Р'),
    ('T', 'Т'),
    ('X', 'Х'),
    ('Y', 'У'),
];

fn serial() -> impl Strategy<Value = String> {
    "[0-9A-Z]{1,14}"
}

proptest! {
    #[test]
    fn normalising_twice_changes_nothing(s in "[0-9A-Za-z -./]{1,20}") {
        let once = plain_string(&s);
        prop_assert_eq!(plain_string(&once), once.clone());
        let folded = SerialKeys::of(&s).folded[0].clone();
        let again = SerialKeys::of(std::str::from_utf8(&folded).unwrap()).folded[0].clone();
        prop_assert_eq!(again, folded);
    }

    #[test]
    fn separators_and_case_are_ignored(s in serial(), cuts in proptest::collection::vec((0_usize..20, 0_usize..4), 0..5)) {
        let mut typed: Vec<char> = s.to_lowercase().chars().collect();
        for (at, which) in cuts {
            let at = at.min(typed.len());
            typed.insert(at, [' ', '-', '.', '/'][which]);
        }
        let typed: String = typed.into_iter().collect();
        prop_assert_eq!(SerialKeys::of(&typed), SerialKeys::of(&s));
        prop_assert_eq!(plain_string(&typed), plain_string(&s));
    }

    #[test]
    fn latin_typed_with_cyrillic_look_alikes_reads_the_same(s in serial(), picks in proptest::collection::vec(any::<bool>(), 14)) {
        let typed: String = s
            .chars()
            .zip(picks.iter().chain(std::iter::repeat(&false)))
            .map(|(c, pick)| match LOOK_ALIKES.iter().find(|(latin, _)| *latin == c) {
                Some((_, cyrillic)) if *pick => *cyrillic,
                _ => c,
            })
            .collect();
        prop_assert_eq!(&SerialKeys::of(&typed).folded[0], &SerialKeys::of(&s).folded[0]);
    }

    #[test]
    fn every_record_is_found_exactly_by_its_own_serial(serials in proptest::collection::vec(serial(), 1..40), pick in any::<proptest::sample::Index>()) {
        let index = CheckIndex::build(serials.iter().enumerate().map(|(i, s)| IndexRecord { firearm_id: i as i64, serial: s, make: "Glock" }));
        let wanted = pick.index(serials.len());
        let outcome = index.check(&CheckQuery { serial: &serials[wanted], make: Some("glock"), limit: 50 }).unwrap();
        let found = outcome.matches.iter().find(|m| m.firearm_id == wanted as i64);
        prop_assert!(found.is_some_and(|m| m.confidence == Confidence::Exact));
    }
}
