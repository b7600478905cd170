//! The shipped table: reviewed for duplicates and contradictions, big enough, and resolving a
//! held set of real-world spellings. The held set was written apart from the data files: each
//! case names what a canonical name must contain, not an identifier of the files.

use armstrace_reference::{Status, Table, name_key, shipped};

#[test]
fn the_shipped_files_read_and_have_no_duplicates_or_contradictions() {
    let table = Table::parse(
        armstrace_reference::MAKES_TSV,
        armstrace_reference::CALIBRES_TSV,
        armstrace_reference::MODELS_TSV,
    )
    .unwrap();
    let problems = table.problems();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_table_is_as_big_as_promised() {
    let table = shipped().table();
    let aliases: usize = table
        .makes
        .iter()
        .map(|m| m.aliases.len() + m.shared_aliases.len())
        .sum();
    println!(
        "makes {}, make aliases {aliases}, models {}, calibres {}",
        table.makes.len(),
        table.models.len(),
        table.calibres.len()
    );
    assert!(table.makes.len() >= 250);
    assert!(aliases >= 1000);
    assert!(table.models.len() >= 1000);
    assert!(table.calibres.len() >= 150);
}

/// The share of `cases` whose resolution's canonical name contains the expected text (after
/// the comparison key; one of several separated by `|`), printed with the misses.
fn rate(kind: &str, cases: &[(&str, &str)], resolve: impl Fn(&str) -> Option<String>) -> f64 {
    let mut misses = Vec::new();
    for (typed, expected) in cases {
        let got = resolve(typed);
        // `expected` may list acceptable names: `Izhevsk|Baikal`.
        let hit = got.as_deref().is_some_and(|canonical| {
            expected
                .split('|')
                .any(|e| name_key(canonical).contains(&name_key(e)))
        });
        if !hit {
            misses.push(format!("{typed:?} -> {got:?} (expected {expected:?})"));
        }
    }
    let rate = 1.0 - misses.len() as f64 / cases.len() as f64;
    println!(
        "{kind}: {:.1} % of {} resolved{}{}",
        rate * 100.0,
        cases.len(),
        if misses.is_empty() { "" } else { "; missed: " },
        misses.join(", ")
    );
    rate
}

fn canonical_make(typed: &str) -> Option<String> {
    shipped().make(typed).resolved.map(|c| c.canonical)
}

fn canonical_calibre(typed: &str) -> Option<String> {
    shipped().calibre(typed).resolved.map(|c| c.canonical)
}

#[test]
fn real_world_make_spellings_resolve() {
    let exact_and_aliases = [
        ("Glock", "Glock"),
        ("GLOCK", "Glock"),
        ("S&W", "Smith"),
        ("Smith and Wesson", "Smith"),
        ("Beretta", "Beretta"),
        ("P. Beretta", "Beretta"),
        ("FN", "FN|Fabrique"),
        ("Fabrique Nationale", "FN|Fabrique"),
        ("CZ", "CZ|Ceska"),
        ("Ceska Zbrojovka", "CZ|Ceska"),
        ("H&K", "Heckler"),
        ("HK", "Heckler"),
        ("Sig Sauer", "SIG|Sauer"),
        ("Walther", "Walther"),
        ("Norinco", "Norinco|China North"),
        ("Zastava", "Zastava"),
        ("Taurus", "Taurus"),
        ("Kalashnikov", "Kalashnikov|Izh"),
        ("Colt", "Colt"),
        ("Ruger", "Ruger"),
    ];
    let scripts = [
        ("Ижмаш", "Izh|Kalashnikov"),
        ("Izhmash", "Izh|Kalashnikov"),
        ("ТОЗ", "Tula|TOZ"),
        ("Байкал", "Izhevsk|Baikal"),
        ("Zastava Oružje", "Zastava"),
        ("Česká zbrojovka", "CZ|Ceska"),
    ];
    let typos = [
        ("Glok", "Glock"),
        ("Gloc", "Glock"),
        ("Berreta", "Beretta"),
        ("Beretaa", "Beretta"),
        ("Walter", "Walther"),
        ("Smith & Weson", "Smith"),
        ("Hecler & Koch", "Heckler"),
        ("Tarus", "Taurus"),
        ("Remmington", "Remington"),
        ("Mossburg", "Mossberg"),
        ("Winchster", "Winchester"),
        ("Brownning", "Browning"),
    ];
    let mut rates = Vec::new();
    rates.push(rate(
        "makes, names and aliases",
        &exact_and_aliases,
        canonical_make,
    ));
    rates.push(rate("makes, other scripts", &scripts, canonical_make));
    rates.push(rate("makes, typing errors", &typos, canonical_make));
    for r in rates {
        assert!(r >= 0.85, "a make family resolved below 85 %");
    }
}

#[test]
fn real_world_calibre_notations_resolve() {
    let cases = [
        ("9mm Para", "9x19"),
        ("9 mm Luger", "9x19"),
        ("9x19", "9x19"),
        ("9mm Parabellum", "9x19"),
        ("9х19 мм", "9x19"),
        (".45 auto", "45"),
        (".45 ACP", "45"),
        ("11.43x23", "45"),
        ("7.62 Soviet", "7.62x39"),
        ("7,62x39", "7.62x39"),
        ("7.62×39 мм", "7.62x39"),
        ("5.45x39", "5.45x39"),
        ("9mm Makarov", "9x18"),
        ("9x18 ПМ", "9x18"),
        (".380 ACP", "380"),
        ("9mm Kurz", "380"),
        (".22 LR", "22"),
        ("12 ga", "12"),
        ("12/70", "12"),
        (".38 Spl", "38"),
        (".357 Mag", "357"),
        ("7.62x25 Tokarev", "7.62x25"),
        ("7.62x54R", "7.62x54"),
        ("5.56 NATO", "5.56"),
        (".308 Win", "308"),
    ];
    assert!(rate("calibres, notations", &cases, canonical_calibre) >= 0.85);
}

#[test]
fn real_world_model_spellings_resolve_within_their_make() {
    let cases = [
        ("Glock", "G17", "17"),
        ("Glock", "Glock 19", "19"),
        ("Kalashnikov", "AKM", "AKM"),
        ("Ижмаш", "АКМ", "AKM"),
        ("Beretta", "92FS", "92"),
        ("CZ", "CZ 75", "75"),
        ("Walther", "P99", "P99"),
        ("Makarov", "PM", "PM"),
        ("Baikal", "IZh-27", "27"),
        ("Mossberg", "500", "500"),
        ("Remington", "870", "870"),
        ("Zastava", "M70", "M70"),
    ];
    let mut misses = Vec::new();
    for (make, model, expected) in cases {
        let make_id = shipped().make(make).resolved.map(|c| c.id);
        let got = shipped()
            .model(make_id.as_deref(), model)
            .resolved
            .map(|c| c.canonical);
        if !got
            .as_deref()
            .is_some_and(|c| name_key(c).contains(&name_key(expected)))
        {
            misses.push(format!("{make} {model:?} -> {got:?}"));
        }
    }
    let rate = 1.0 - misses.len() as f64 / cases.len() as f64;
    println!(
        "models: {:.1} % of {} resolved; missed: {}",
        rate * 100.0,
        cases.len(),
        misses.join(", ")
    );
    assert!(rate >= 0.75, "{misses:?}");
}

#[test]
fn nonsense_is_never_a_confident_guess() {
    let nonsense = [
        "qwertyuiop",
        "xyzzy plugh",
        "asdf",
        "Totally Unknown Arms Works",
        "zzzz",
        "12345678",
    ];
    for typed in nonsense {
        let make = shipped().make(typed);
        let confident = make.resolved.as_ref().is_some_and(|c| c.confidence >= 0.8);
        assert!(!confident, "{typed:?} -> {make:?}");
    }
    let calibre = shipped().calibre("banana");
    assert!(matches!(calibre.status, Status::Unknown), "{calibre:?}");
}

#[test]
fn a_bare_9mm_is_ambiguous_not_a_guess() {
    let resolution = shipped().calibre("9mm");
    assert_eq!(resolution.status, Status::Ambiguous, "{resolution:?}");
    assert!(resolution.alternatives.len() >= 2);
}
