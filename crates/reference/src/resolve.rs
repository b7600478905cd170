//! Resolving what an officer typed to the table's canonical make, model and calibre: exact
//! names and aliases in any script first, then the usual typing errors, and "unknown" rather
//! than a confident wrong guess.

use std::collections::HashMap;

use serde::Serialize;

use crate::key::{calibre_key, name_key};
use crate::table::{Calibre, Make, Model, Table};

/// How a typed value relates to the entry it resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The canonical name, in any case, script or punctuation.
    Canonical,
    /// One of the entry's own aliases.
    Alias,
    /// Within the usual typing errors of a name or alias.
    Corrected,
    /// Begins with a name or alias (`Beretta Italy`).
    Partial,
    /// More than one entry fits equally: see the alternatives.
    Ambiguous,
    /// Nothing fits.
    Unknown,
}

/// One entry a value may stand for.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    /// The entry's identifier (for a model: `make/model`).
    pub id: String,
    /// Its canonical name.
    pub canonical: String,
    /// 0 to 1.
    pub confidence: f32,
}

/// What a typed value resolved to.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Resolution {
    /// What was typed.
    pub input: String,
    /// How it resolved.
    pub status: Status,
    /// The entry, unless ambiguous or unknown.
    pub resolved: Option<Candidate>,
    /// The entries it may stand for, when ambiguous (best first).
    pub alternatives: Vec<Candidate>,
}

impl Resolution {
    fn unknown(input: &str) -> Self {
        Resolution {
            input: input.to_string(),
            status: Status::Unknown,
            resolved: None,
            alternatives: Vec::new(),
        }
    }

    /// The resolved entry's identifier.
    pub fn id(&self) -> Option<&str> {
        self.resolved.as_ref().map(|c| c.id.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Canonical,
    Alias,
    Shared,
}

/// Names of one kind of entry, by key.
#[derive(Debug, Default)]
struct Names {
    by_key: HashMap<String, Vec<(usize, NameKind)>>,
    keys: Vec<(String, usize)>,
}

impl Names {
    fn add(&mut self, key: String, entry: usize, kind: NameKind) {
        if key.is_empty() {
            return;
        }
        let holders = self.by_key.entry(key.clone()).or_default();
        if !holders.iter().any(|(e, _)| *e == entry) {
            holders.push((entry, kind));
            self.keys.push((key, entry));
        }
    }
}

/// The resolver over one table.
#[derive(Debug)]
pub struct Resolver {
    table: Table,
    makes: Names,
    calibres: Names,
    /// Per make index: the model names of that make.
    models: Vec<Names>,
    make_index: HashMap<String, usize>,
}

/// Optimal string alignment distance (adjacent swaps count one), giving up above `max`.
fn distance(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let width = b.len() + 1;
    let mut rows = vec![vec![0_usize; width]; a.len() + 1];
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        rows[i][0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    let d = rows[a.len()][b.len()];
    (d <= max).then_some(d)
}

fn digits(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect()
}

/// How a fuzzy match may differ: names allow one typing error from 4 characters and two from
/// 8; where digits matter (calibres, models), the digits must be the same.
#[derive(Clone, Copy)]
enum Fuzz {
    Names,
    SameDigits,
}

impl Resolver {
    /// A resolver over `table`.
    pub fn new(table: Table) -> Self {
        let mut makes = Names::default();
        let mut make_index = HashMap::new();
        for (i, make) in table.makes.iter().enumerate() {
            make_index.insert(make.id.clone(), i);
            makes.add(name_key(&make.canonical), i, NameKind::Canonical);
            makes.add(name_key(&make.id), i, NameKind::Alias);
            for alias in &make.aliases {
                makes.add(name_key(alias), i, NameKind::Alias);
            }
            for alias in &make.shared_aliases {
                makes.add(name_key(alias), i, NameKind::Shared);
            }
        }
        let mut calibres = Names::default();
        for (i, calibre) in table.calibres.iter().enumerate() {
            calibres.add(calibre_key(&calibre.canonical), i, NameKind::Canonical);
            for alias in &calibre.aliases {
                calibres.add(calibre_key(alias), i, NameKind::Alias);
            }
            for alias in &calibre.shared_aliases {
                calibres.add(calibre_key(alias), i, NameKind::Shared);
            }
        }
        let mut models: Vec<Names> = table.makes.iter().map(|_| Names::default()).collect();
        for (i, model) in table.models.iter().enumerate() {
            if let Some(&make) = make_index.get(&model.make) {
                models[make].add(name_key(&model.name), i, NameKind::Canonical);
                for alias in &model.aliases {
                    models[make].add(name_key(alias), i, NameKind::Alias);
                }
            }
        }
        Resolver {
            table,
            makes,
            calibres,
            models,
            make_index,
        }
    }

    /// The table resolved against.
    pub fn table(&self) -> &Table {
        &self.table
    }

    fn make_candidate(&self, i: usize, confidence: f32) -> Candidate {
        let make = &self.table.makes[i];
        Candidate {
            id: make.id.clone(),
            canonical: make.canonical.clone(),
            confidence,
        }
    }

    fn calibre_candidate(&self, i: usize, confidence: f32) -> Candidate {
        let calibre = &self.table.calibres[i];
        Candidate {
            id: calibre.id.clone(),
            canonical: calibre.canonical.clone(),
            confidence,
        }
    }

    fn model_candidate(&self, i: usize, confidence: f32) -> Candidate {
        let model = &self.table.models[i];
        Candidate {
            id: format!("{}/{}", model.make, name_key(&model.name)),
            canonical: model.name.clone(),
            confidence,
        }
    }

    /// Resolves `key` among `names`, building candidates with `candidate`.
    fn resolve(
        &self,
        input: &str,
        key: &str,
        names: &Names,
        fuzz: Fuzz,
        candidate: &dyn Fn(usize, f32) -> Candidate,
    ) -> Resolution {
        if key.is_empty() {
            return Resolution::unknown(input);
        }
        if let Some(holders) = names.by_key.get(key) {
            if holders.len() == 1 && holders[0].1 != NameKind::Shared {
                let (entry, kind) = holders[0];
                let (status, confidence) = if kind == NameKind::Canonical {
                    (Status::Canonical, 1.0)
                } else {
                    (Status::Alias, 0.98)
                };
                return Resolution {
                    input: input.to_string(),
                    status,
                    resolved: Some(candidate(entry, confidence)),
                    alternatives: Vec::new(),
                };
            }
            let share = 1.0 / holders.len() as f32;
            return Resolution {
                input: input.to_string(),
                status: Status::Ambiguous,
                resolved: None,
                alternatives: holders.iter().map(|(e, _)| candidate(*e, share)).collect(),
            };
        }
        // The usual typing errors.
        let max = match fuzz {
            Fuzz::Names if key.len() >= 8 => 2,
            Fuzz::Names if key.len() >= 4 => 1,
            Fuzz::SameDigits if key.len() >= 5 => 1,
            _ => 0,
        };
        if max > 0 {
            let mut best: Option<usize> = None;
            let mut found: Vec<usize> = Vec::new();
            for (name, entry) in &names.keys {
                if matches!(fuzz, Fuzz::SameDigits) && digits(name) != digits(key) {
                    continue;
                }
                if let Some(d) = distance(key.as_bytes(), name.as_bytes(), max) {
                    match best {
                        Some(b) if d > b => {}
                        Some(b) if d == b => found.push(*entry),
                        _ => {
                            best = Some(d);
                            found = vec![*entry];
                        }
                    }
                }
            }
            found.sort_unstable();
            found.dedup();
            if let Some(d) = best {
                let confidence = (0.9 - 0.15 * (d as f32 - 1.0)) * (1.0 - 1.0 / key.len() as f32);
                if found.len() == 1 {
                    return Resolution {
                        input: input.to_string(),
                        status: Status::Corrected,
                        resolved: Some(candidate(found[0], confidence)),
                        alternatives: Vec::new(),
                    };
                }
                let share = confidence / found.len() as f32;
                return Resolution {
                    input: input.to_string(),
                    status: Status::Ambiguous,
                    resolved: None,
                    alternatives: found.iter().map(|e| candidate(*e, share)).collect(),
                };
            }
        }
        // A longer text that begins with a name of one entry ("Beretta Italy", "Glock GmbH").
        if matches!(fuzz, Fuzz::Names) {
            let mut prefixes: Vec<(usize, usize)> = names
                .keys
                .iter()
                .filter(|(name, _)| name.len() >= 4 && key.starts_with(name.as_str()))
                .map(|(name, entry)| (name.len(), *entry))
                .collect();
            prefixes.sort_unstable_by(|a, b| b.cmp(a));
            if let Some(&(len, entry)) = prefixes.first() {
                let rivals = prefixes
                    .iter()
                    .filter(|(l, e)| *l == len && *e != entry)
                    .count();
                if rivals == 0 {
                    let confidence = 0.5 + 0.4 * (len as f32 / key.len() as f32);
                    return Resolution {
                        input: input.to_string(),
                        status: Status::Partial,
                        resolved: Some(candidate(entry, confidence)),
                        alternatives: Vec::new(),
                    };
                }
            }
        }
        Resolution::unknown(input)
    }

    /// The make `typed` stands for.
    pub fn make(&self, typed: &str) -> Resolution {
        self.resolve(
            typed,
            &name_key(typed),
            &self.makes,
            Fuzz::Names,
            &|i, c| self.make_candidate(i, c),
        )
    }

    /// The calibre `typed` stands for.
    pub fn calibre(&self, typed: &str) -> Resolution {
        self.resolve(
            typed,
            &calibre_key(typed),
            &self.calibres,
            Fuzz::SameDigits,
            &|i, c| self.calibre_candidate(i, c),
        )
    }

    /// The model `typed` stands for, among the models of `make` (an identifier), or among all
    /// models when the make is not known. A model typed with its make in front ("Glock 17")
    /// resolves too.
    pub fn model(&self, make: Option<&str>, typed: &str) -> Resolution {
        let key = name_key(typed);
        if let Some(&m) = make.and_then(|id| self.make_index.get(id)) {
            let names = &self.models[m];
            let make = &self.table.makes[m];
            let candidate = |i, c| self.model_candidate(i, c);
            let found = self.resolve(typed, &key, names, Fuzz::SameDigits, &candidate);
            if found.status != Status::Unknown {
                return found;
            }
            let prefixes = std::iter::once(&make.canonical)
                .chain(&make.aliases)
                .map(|n| name_key(n))
                .filter(|p| !p.is_empty() && key.len() > p.len() && key.starts_with(p.as_str()));
            for prefix in prefixes {
                let rest = &key[prefix.len()..];
                let found = self.resolve(typed, rest, names, Fuzz::SameDigits, &candidate);
                if found.status != Status::Unknown {
                    return found;
                }
            }
            return Resolution::unknown(typed);
        }
        // Without a make: exact names only, across every make.
        let mut holders: Vec<usize> = self
            .models
            .iter()
            .filter_map(|names| names.by_key.get(&key))
            .flatten()
            .map(|(entry, _)| *entry)
            .collect();
        holders.sort_unstable();
        holders.dedup();
        match holders.len() {
            0 => Resolution::unknown(typed),
            1 => Resolution {
                input: typed.to_string(),
                status: Status::Canonical,
                resolved: Some(self.model_candidate(holders[0], 0.9)),
                alternatives: Vec::new(),
            },
            n => Resolution {
                input: typed.to_string(),
                status: Status::Ambiguous,
                resolved: None,
                alternatives: holders
                    .iter()
                    .map(|i| self.model_candidate(*i, 1.0 / n as f32))
                    .collect(),
            },
        }
    }

    /// Makes whose name or an alias begins with (or else contains) `query`, best first.
    pub fn search_makes(&self, query: &str, limit: usize) -> Vec<&Make> {
        let key = name_key(query);
        let found = search(&self.makes, &key, limit);
        found.into_iter().map(|i| &self.table.makes[i]).collect()
    }

    /// Calibres whose name or an alias begins with (or else contains) `query`, best first.
    pub fn search_calibres(&self, query: &str, limit: usize) -> Vec<&Calibre> {
        let key = calibre_key(query);
        let found = search(&self.calibres, &key, limit);
        found.into_iter().map(|i| &self.table.calibres[i]).collect()
    }

    /// Models of `make` (an identifier) whose name begins with (or else contains) `query`.
    pub fn search_models(&self, make: &str, query: &str, limit: usize) -> Vec<&Model> {
        let Some(&m) = self.make_index.get(make) else {
            return Vec::new();
        };
        let key = name_key(query);
        let found = search(&self.models[m], &key, limit);
        found.into_iter().map(|i| &self.table.models[i]).collect()
    }
}

/// Entries with a name starting with `key` (the canonical name first), then containing it.
fn search(names: &Names, key: &str, limit: usize) -> Vec<usize> {
    let mut scored: Vec<(u8, usize, usize)> = Vec::new();
    for (name, entry) in &names.keys {
        let kind = names.by_key[name]
            .iter()
            .find(|(e, _)| e == entry)
            .map(|(_, k)| *k);
        let rank = if name.starts_with(key) {
            if kind == Some(NameKind::Canonical) {
                0
            } else {
                1
            }
        } else if name.contains(key) {
            2
        } else {
            continue;
        };
        scored.push((rank, name.len(), *entry));
    }
    scored.sort_unstable();
    let mut seen = std::collections::HashSet::new();
    scored
        .into_iter()
        .filter(|(_, _, e)| seen.insert(*e))
        .map(|(_, _, e)| e)
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> Resolver {
        let makes = "id\tcanonical\tcountry\taliases\tshared_aliases\tsource\n\
            izhmash\tKalashnikov Concern\tRU\tIzhmash|Ижмаш|Kalashnikov\tIZH\tw\n\
            imz\tIzhevsk Mechanical Plant\tRU\tBaikal|Байкал\tIZH\tw\n\
            glock\tGlock\tAT\tGlock GmbH\t\tw\n\
            beretta\tBeretta\tIT\tPietro Beretta\t\tw\n";
        let calibres = "id\tcanonical\tsystem\taliases\tshared_aliases\tsource\n\
            9x19mm\t9x19mm\tmetric\t9mm Luger|9mm Parabellum|9mm Para\t9mm\tw\n\
            9x18mm\t9x18mm Makarov\tmetric\t9mm Makarov|9x18 ПМ\t9mm\tw\n\
            45-acp\t.45 ACP\timperial\t.45 Auto|11.43x23mm\t\tw\n";
        let models = "make\tmodel\ttype\tcalibres\taliases\tsource\n\
            glock\t17\tpistol\t9x19mm\tG17\tw\n\
            glock\t19\tpistol\t9x19mm\tG19\tw\n\
            izhmash\tAKM\tassault_rifle\t\tАКМ\tw\n";
        Resolver::new(Table::parse(makes, calibres, models).unwrap())
    }

    #[test]
    fn makes_resolve_by_name_alias_script_and_typo() {
        let r = resolver();
        assert_eq!(r.make("GLOCK").status, Status::Canonical);
        assert_eq!(r.make("Ижмаш").id(), Some("izhmash"));
        assert_eq!(r.make("Kalashnikov").id(), Some("izhmash"));
        let typo = r.make("Glok");
        assert_eq!((typo.status, typo.id()), (Status::Corrected, Some("glock")));
        assert_eq!(r.make("Bereta").id(), Some("beretta"));
        let partial = r.make("Beretta Italy");
        assert_eq!(
            (partial.status, partial.id()),
            (Status::Partial, Some("beretta"))
        );
    }

    #[test]
    fn a_shared_alias_is_ambiguous_and_nonsense_is_unknown() {
        let r = resolver();
        let izh = r.make("IZH");
        assert_eq!(izh.status, Status::Ambiguous);
        assert_eq!(izh.alternatives.len(), 2);
        assert_eq!(r.make("qwertyuiop").status, Status::Unknown);
        assert_eq!(r.make("").status, Status::Unknown);
    }

    #[test]
    fn calibres_resolve_across_notations_but_never_across_digits() {
        let r = resolver();
        assert_eq!(r.calibre("9 mm Para").id(), Some("9x19mm"));
        assert_eq!(r.calibre(".45 auto").id(), Some("45-acp"));
        assert_eq!(r.calibre("11,43×23").id(), Some("45-acp"));
        assert_eq!(r.calibre("9mm").status, Status::Ambiguous);
        assert_eq!(r.calibre("9mm Lugar").id(), Some("9x19mm"));
        assert_eq!(r.calibre("9x21mm").status, Status::Unknown);
    }

    #[test]
    fn models_resolve_within_their_make_and_with_the_make_in_front() {
        let r = resolver();
        assert_eq!(r.model(Some("glock"), "G17").id(), Some("glock/17"));
        assert_eq!(r.model(Some("glock"), "Glock 19").id(), Some("glock/19"));
        assert_eq!(r.model(Some("glock"), "18").status, Status::Unknown);
        assert_eq!(r.model(None, "АКМ").id(), Some("izhmash/akm"));
    }

    #[test]
    fn a_trace_goes_to_the_make_s_country_then_to_importers_and_named_countries() {
        let r = resolver();
        let destinations = r.trace_destinations(Some("Glok"), Some("Imported by Beretta, Italy"));
        let countries: Vec<&str> = destinations.iter().map(|d| d.country.as_str()).collect();
        assert_eq!(countries, ["AT", "IT"]);
        let none = r.trace_destinations(Some("qwertyuiop"), None);
        assert!(none.is_empty());
        let named = r.trace_destinations(None, Some("PW Arms, Canada"));
        assert_eq!(named[0].country.as_str(), "CA");
    }

    #[test]
    fn search_finds_by_prefix_canonical_first() {
        let r = resolver();
        let found: Vec<&str> = r
            .search_makes("iz", 10)
            .iter()
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(found, ["imz", "izhmash"]);
        assert_eq!(r.search_calibres("9x1", 10).len(), 2);
    }
}
