//! Makes as the check compares them: spellings folded (case, spaces, punctuation, Cyrillic) and
//! known aliases of one manufacturer brought to one name, so that "Kalashnikov" finds a record
//! marked "Izhmash". The service gives the table the reference table's names
//! ([`MakeTable::with_groups`]); a short built-in list serves the engine on its own (its tests
//! and benchmarks).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::normalise::folded_forms;

/// A make as the index knows it; two records of one manufacturer share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MakeId(pub u32);

/// Spellings of one manufacturer, the canonical name first.
const ALIASES: &[&[&str]] = &[
    &[
        "Kalashnikov Concern",
        "Kalashnikov",
        "Izhmash",
        "Izhevsk Machine-Building Plant",
        "Ижмаш",
        "Концерн Калашников",
        "Калашников",
    ],
    &[
        "Izhevsk Mechanical Plant",
        "Baikal",
        "Izhmekh",
        "Izhevsky Mekhanichesky Zavod",
        "IMZ",
        "IZH",
        "Ижмех",
        "Байкал",
    ],
    &[
        "Tula Arms Plant",
        "TOZ",
        "Tulsky Oruzheiny Zavod",
        "Тульский оружейный завод",
        "ТОЗ",
    ],
    &["Degtyaryov Plant", "ZiD", "Degtyarev Plant", "Kovrov"],
    &["Smith & Wesson", "S&W", "Smith and Wesson", "Smith Wesson"],
    &[
        "Heckler & Koch",
        "H&K",
        "HK",
        "Heckler and Koch",
        "Heckler Koch",
    ],
    &[
        "Sturm Ruger",
        "Ruger",
        "Sturm, Ruger & Co.",
        "Sturm Ruger and Co",
    ],
    &[
        "FN Herstal",
        "FN",
        "Fabrique Nationale",
        "Fabrique Nationale de Herstal",
    ],
    &[
        "CZ",
        "Česká zbrojovka",
        "Ceska Zbrojovka",
        "CZUB",
        "Ceska Zbrojovka Uhersky Brod",
    ],
    &[
        "SIG Sauer",
        "SIG",
        "Sig-Sauer",
        "SIGARMS",
        "Schweizerische Industrie Gesellschaft",
    ],
    &[
        "Zastava Arms",
        "Zastava",
        "Crvena Zastava",
        "Zavodi Crvena Zastava",
    ],
    &[
        "Norinco",
        "China North Industries",
        "China North Industries Corporation",
    ],
    &["FÉG", "FEG", "Fegyver- és Gépgyár", "Fegyver es Gepgyar"],
    &[
        "Fabryka Broni",
        "Radom",
        "Łucznik",
        "Lucznik",
        "Fabryka Broni Łucznik-Radom",
    ],
    &[
        "Steyr",
        "Steyr Mannlicher",
        "Steyr Arms",
        "Steyr-Daimler-Puch",
    ],
    &[
        "IMI",
        "Israel Military Industries",
        "IWI",
        "Israel Weapon Industries",
    ],
    &["Colt", "Colt's Manufacturing", "Colt's Patent Firearms"],
    &["Walther", "Carl Walther", "Carl Walther GmbH"],
    &[
        "Beretta",
        "Pietro Beretta",
        "Fabbrica d'Armi Pietro Beretta",
    ],
    &["Glock", "Glock GmbH", "Glock Ges.m.b.H."],
    &["Cugir", "Uzina Mecanica Cugir", "UM Cugir"],
    &["Arcus", "Arcus Co"],
    &["Arsenal", "Arsenal AD", "Arsenal JSCo"],
    &["Sarsılmaz", "Sarsilmaz"],
    &["Springfield Armory", "Springfield"],
    &["Hi-Point", "Hi Point", "Hipoint", "Beemiller"],
    &["Kel-Tec", "Kel Tec", "Keltec"],
    &["Mossberg", "O.F. Mossberg & Sons", "OF Mossberg"],
    &["Remington", "Remington Arms"],
    &["Winchester", "Winchester Repeating Arms"],
    &["Taurus", "Forjas Taurus", "Taurus Armas"],
    &["HS Produkt", "HS", "IM Metal"],
    &["Molot", "Vyatskie Polyany", "Molot Oruzhie"],
    &["Webley", "Webley & Scott", "Webley and Scott"],
    &["Enfield", "Royal Small Arms Factory", "RSAF Enfield"],
];

/// The make written in a comparable way: upper case, Latin, letters and digits only.
pub fn fold_make(make: &str) -> String {
    let chars: Vec<char> = make
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .map(strip_accent)
        .collect();
    // The transliterated reading, as a make is written in words, not look-alike letters.
    let forms = folded_forms(&chars);
    String::from_utf8_lossy(forms.last().map_or(&[][..], Vec::as_slice)).into_owned()
}

fn strip_accent(c: char) -> char {
    match c {
        'Á' | 'À' | 'Â' | 'Ä' | 'Ã' | 'Å' => 'A',
        'É' | 'È' | 'Ê' | 'Ë' | 'Ě' => 'E',
        'Í' | 'Ì' | 'Î' | 'Ï' | 'İ' => 'I',
        'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' | 'Ő' => 'O',
        'Ú' | 'Ù' | 'Û' | 'Ü' | 'Ű' => 'U',
        'Ç' | 'Č' | 'Ć' => 'C',
        'Š' | 'Ś' | 'Ş' => 'S',
        'Ž' | 'Ź' | 'Ż' => 'Z',
        'Ł' => 'L',
        'Ñ' | 'Ń' => 'N',
        'Ř' => 'R',
        'Ğ' => 'G',
        other => other,
    }
}

/// Gives every make a [`MakeId`], aliases of one manufacturer the same one. Safe to use from
/// many threads at once; reading never waits for a writer.
pub struct MakeTable {
    ids: papaya::HashMap<String, u32>,
    next: AtomicU32,
    names: boxcar::Vec<String>,
}

impl Default for MakeTable {
    fn default() -> Self {
        Self::new()
    }
}

impl MakeTable {
    /// A table that knows the built-in aliases.
    pub fn new() -> Self {
        Self::with_groups(ALIASES.iter().map(|group| group.iter().copied()))
    }

    /// A table that knows `groups`: the names of one manufacturer each, the canonical first.
    /// A name given to two groups belongs to the first; the caller leaves out names that are
    /// shared by several manufacturers.
    pub fn with_groups<'a>(
        groups: impl IntoIterator<Item = impl IntoIterator<Item = &'a str>>,
    ) -> Self {
        let table = MakeTable {
            ids: papaya::HashMap::new(),
            next: AtomicU32::new(0),
            names: boxcar::Vec::new(),
        };
        for group in groups {
            table.add_group(group);
        }
        table
    }

    /// Makes the names of one manufacturer, the canonical first, one make: names the table
    /// already gives to a make keep it.
    pub fn add_group<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut names = names.into_iter();
        let Some(canonical) = names.next() else {
            return;
        };
        let id = self.intern(canonical);
        let ids = self.ids.pin();
        for alias in names {
            let folded = fold_make(alias);
            if !folded.is_empty() {
                ids.get_or_insert(folded, id.0);
            }
        }
    }

    /// Like [`MakeTable::add_group`], for a manufacturer named while records are indexed:
    /// when records already carry one of its names, the others join that make.
    pub fn learn_group<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let names: Vec<&str> = names.into_iter().collect();
        let known = names.iter().find_map(|name| self.find(name));
        let Some(id) = known else {
            self.add_group(names);
            return;
        };
        let ids = self.ids.pin();
        for name in names {
            let folded = fold_make(name);
            if !folded.is_empty() {
                ids.get_or_insert(folded, id.0);
            }
        }
    }

    /// The id of `make`, creating one for a make never seen.
    pub fn intern(&self, make: &str) -> MakeId {
        let folded = fold_make(make);
        let ids = self.ids.pin();
        if let Some(id) = ids.get(&folded) {
            return MakeId(*id);
        }
        let id = *ids.get_or_insert_with(folded, || {
            let id = self.next.fetch_add(1, Ordering::Relaxed);
            self.names.push(make.to_string());
            id
        });
        MakeId(id)
    }

    /// The id of `make` if the table knows it; an unknown make matches no record's make.
    pub fn find(&self, make: &str) -> Option<MakeId> {
        self.ids.pin().get(&fold_make(make)).map(|id| MakeId(*id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_make_are_one_make() {
        let table = MakeTable::new();
        let glock = table.intern("Glock");
        assert_eq!(table.find("GLOCK"), Some(glock));
        assert_eq!(table.find("glock gmbh"), Some(glock));
        assert_eq!(table.find("Izhmash"), table.find("Kalashnikov"));
        assert_eq!(table.find("Ижмаш"), table.find("Kalashnikov Concern"));
        assert_eq!(table.find("S&W"), table.find("Smith and Wesson"));
        assert_ne!(table.find("Glock"), table.find("Walther"));
    }

    #[test]
    fn a_make_learnt_later_joins_the_records_already_under_one_of_its_names() {
        let table = MakeTable::new();
        let werke = table.intern("Acme Werke");
        table.learn_group(["Acme Arms", "acme-arms", "Acme Werke", "Acme AG"]);
        assert_eq!(table.find("Acme Arms"), Some(werke));
        assert_eq!(table.find("ACME AG"), Some(werke));
        // Names that already have a make keep it.
        let glock = table.find("Glock");
        table.learn_group(["Glock-Acme", "Glock"]);
        assert_eq!(table.find("Glock"), glock);
    }

    #[test]
    fn a_new_make_gets_an_id_of_its_own() {
        let table = MakeTable::new();
        let a = table.intern("Acme Arms");
        assert_eq!(table.intern("ACME-ARMS"), a);
        assert_eq!(table.find("Unheard Of"), None);
    }
}
