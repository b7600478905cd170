//! The table itself: makes, calibres and models as read from the reviewed text files, and the
//! review that finds duplicates and contradictions in them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use armstrace_core::{CountryCode, FirearmType};
use serde::{Deserialize, Serialize};

use crate::key::{calibre_key, name_key};

/// A manufacturer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Make {
    /// Stable identifier (`glock`, `izhmash`).
    pub id: String,
    /// The name officers recognise.
    pub canonical: String,
    /// Where it is (or was) based.
    #[schema(value_type = String, example = "AT")]
    pub country: CountryCode,
    /// Other names and spellings it is marked or known by, its own.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Names it shares with other makes (an importer's mark, a common brand).
    #[serde(default)]
    pub shared_aliases: Vec<String>,
    /// Where the facts can be checked.
    pub source: String,
}

/// What a calibre is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum System {
    Metric,
    Imperial,
    Shotgun,
}

/// A cartridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Calibre {
    /// Stable identifier (`9x19mm`, `45-acp`).
    pub id: String,
    /// The usual name.
    pub canonical: String,
    /// Metric, imperial or shotgun.
    pub system: System,
    /// Other ways it is written, its own.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Ways of writing it shared with other calibres (`9mm`).
    #[serde(default)]
    pub shared_aliases: Vec<String>,
    /// Where the facts can be checked.
    pub source: String,
}

/// A model of a make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// The make's identifier.
    pub make: String,
    /// The model's name as the make writes it.
    pub name: String,
    /// Its firearm type.
    #[schema(value_type = String, example = "pistol")]
    pub firearm_type: FirearmType,
    /// The calibres it is made in (identifiers).
    #[serde(default)]
    pub calibres: Vec<String>,
    /// Other names of the model.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Where the facts can be checked.
    pub source: String,
}

/// A line of a reference file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}: {reason}")]
pub struct ParseError {
    /// Which file.
    pub file: String,
    /// Which line, from 1.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// The whole reference table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Every make.
    pub makes: Vec<Make>,
    /// Every calibre.
    pub calibres: Vec<Calibre>,
    /// Every model.
    pub models: Vec<Model>,
}

/// Splits a `|`-separated list, dropping empty entries.
fn list(field: &str) -> Vec<String> {
    field
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The data rows of a tab-separated file whose header must be `header`.
fn rows<'a>(
    file: &'a str,
    text: &'a str,
    header: &'a str,
) -> Result<Vec<(usize, Vec<&'a str>)>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'));
    let error = |line: usize, reason: String| ParseError {
        file: file.to_string(),
        line,
        reason,
    };
    match lines.next() {
        Some((_, first)) if first == header => {}
        Some((line, first)) => {
            return Err(error(
                line,
                format!("the header is '{first}', not '{header}'"),
            ));
        }
        None => return Err(error(1, "the file is empty".into())),
    }
    let columns = header.split('\t').count();
    lines
        .map(|(line, text)| {
            let fields: Vec<&str> = text.split('\t').map(str::trim).collect();
            if fields.len() == columns {
                Ok((line, fields))
            } else {
                Err(error(
                    line,
                    format!("{} fields, not {columns}", fields.len()),
                ))
            }
        })
        .collect()
}

pub(crate) const MAKES_HEADER: &str = "id\tcanonical\tcountry\taliases\tshared_aliases\tsource";
pub(crate) const CALIBRES_HEADER: &str = "id\tcanonical\tsystem\taliases\tshared_aliases\tsource";
pub(crate) const MODELS_HEADER: &str = "make\tmodel\ttype\tcalibres\taliases\tsource";

impl Table {
    /// Reads the three files.
    pub fn parse(makes: &str, calibres: &str, models: &str) -> Result<Table, ParseError> {
        let mut table = Table::default();
        for (line, f) in rows("makes.tsv", makes, MAKES_HEADER)? {
            let country = CountryCode::parse(f[2]).map_err(|e| ParseError {
                file: "makes.tsv".into(),
                line,
                reason: e.to_string(),
            })?;
            table.makes.push(Make {
                id: f[0].to_string(),
                canonical: f[1].to_string(),
                country,
                aliases: list(f[3]),
                shared_aliases: list(f[4]),
                source: f[5].to_string(),
            });
        }
        for (line, f) in rows("calibres.tsv", calibres, CALIBRES_HEADER)? {
            let system = match f[2] {
                "metric" => System::Metric,
                "imperial" => System::Imperial,
                "shotgun" => System::Shotgun,
                other => {
                    return Err(ParseError {
                        file: "calibres.tsv".into(),
                        line,
                        reason: format!("'{other}' is not metric, imperial or shotgun"),
                    });
                }
            };
            table.calibres.push(Calibre {
                id: f[0].to_string(),
                canonical: f[1].to_string(),
                system,
                aliases: list(f[3]),
                shared_aliases: list(f[4]),
                source: f[5].to_string(),
            });
        }
        for (line, f) in rows("models.tsv", models, MODELS_HEADER)? {
            let firearm_type = FirearmType::parse(f[2]).ok_or_else(|| ParseError {
                file: "models.tsv".into(),
                line,
                reason: format!("'{}' is not a firearm type", f[2]),
            })?;
            table.models.push(Model {
                make: f[0].to_string(),
                name: f[1].to_string(),
                firearm_type,
                calibres: list(f[3]),
                aliases: list(f[4]),
                source: f[5].to_string(),
            });
        }
        Ok(table)
    }

    /// The make with identifier `id`.
    pub fn make(&self, id: &str) -> Option<&Make> {
        self.makes.iter().find(|m| m.id == id)
    }

    /// The calibre with identifier `id`.
    pub fn calibre(&self, id: &str) -> Option<&Calibre> {
        self.calibres.iter().find(|c| c.id == id)
    }

    /// Every duplicate, contradiction and dangling reference in the table, in words; empty for a
    /// table fit to ship.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut ids = BTreeSet::new();
        for make in &self.makes {
            if !ids.insert(make.id.as_str()) {
                problems.push(format!("make id '{}' is used twice", make.id));
            }
            if make.canonical.is_empty() || make.source.is_empty() {
                problems.push(format!("make '{}' lacks a name or a source", make.id));
            }
        }
        names_problems(
            "make",
            self.makes
                .iter()
                .map(|m| (&m.id, &m.canonical, &m.aliases, &m.shared_aliases)),
            name_key,
            &mut problems,
        );
        let mut ids = BTreeSet::new();
        for calibre in &self.calibres {
            if !ids.insert(calibre.id.as_str()) {
                problems.push(format!("calibre id '{}' is used twice", calibre.id));
            }
        }
        names_problems(
            "calibre",
            self.calibres
                .iter()
                .map(|c| (&c.id, &c.canonical, &c.aliases, &c.shared_aliases)),
            calibre_key,
            &mut problems,
        );
        let mut models = BTreeSet::new();
        for model in &self.models {
            if self.make(&model.make).is_none() {
                problems.push(format!(
                    "model '{}' names make '{}', which is not in makes.tsv",
                    model.name, model.make
                ));
            }
            for calibre in &model.calibres {
                if self.calibre(calibre).is_none() {
                    problems.push(format!(
                        "model '{} {}' names calibre '{calibre}', which is not in calibres.tsv",
                        model.make, model.name
                    ));
                }
            }
            if !models.insert((model.make.as_str(), name_key(&model.name))) {
                problems.push(format!(
                    "model '{} {}' is listed twice",
                    model.make, model.name
                ));
            }
        }
        problems
    }
}

/// Names of one kind of entry: a name of one entry may not be a name of another, unless every
/// entry that carries it marks it shared; a shared name must really be shared.
fn names_problems<'a>(
    kind: &str,
    entries: impl Iterator<Item = (&'a String, &'a String, &'a Vec<String>, &'a Vec<String>)>,
    key: fn(&str) -> String,
    problems: &mut Vec<String>,
) {
    // key -> (entry id, shared?)
    let mut owners: HashMap<String, Vec<(&'a str, bool, &'a str)>> = HashMap::new();
    for (id, canonical, aliases, shared) in entries {
        let mut own = BTreeSet::new();
        for (name, is_shared) in std::iter::once((canonical, false))
            .chain(aliases.iter().map(|a| (a, false)))
            .chain(shared.iter().map(|a| (a, true)))
        {
            let k = key(name);
            if k.is_empty() {
                problems.push(format!("{kind} '{id}': '{name}' has no letters or digits"));
                continue;
            }
            if own.insert(k.clone()) {
                owners
                    .entry(k)
                    .or_default()
                    .push((id.as_str(), is_shared, name.as_str()));
            }
        }
    }
    let owners: BTreeMap<_, _> = owners.into_iter().collect();
    for (k, holders) in owners {
        let unshared: Vec<_> = holders.iter().filter(|(_, s, _)| !*s).collect();
        if holders.len() > 1 && !unshared.is_empty() {
            let who: Vec<String> = holders
                .iter()
                .map(|(id, shared, name)| {
                    format!("{id} ('{name}'{})", if *shared { ", shared" } else { "" })
                })
                .collect();
            problems.push(format!(
                "{kind} name '{k}' belongs to {} without being marked shared by all",
                who.join(" and ")
            ));
        }
        if holders.len() == 1 && holders[0].1 {
            problems.push(format!(
                "{kind} '{}': '{}' is marked shared but no other {kind} has it",
                holders[0].0, holders[0].2
            ));
        }
    }
}
