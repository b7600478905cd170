//! One entry of the table as the secretariat adds or corrects it, and the table written back
//! to the three text files it is read from.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::key::name_key;
use crate::table::{Calibre, Make, Model, System, Table};

/// Which part of the table an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Make,
    Calibre,
    Model,
}

impl Kind {
    /// The stored token.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Make => "make",
            Kind::Calibre => "calibre",
            Kind::Model => "model",
        }
    }

    /// Reads a stored token.
    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::Make, Kind::Calibre, Kind::Model]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A make, calibre or model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Make(Make),
    Calibre(Calibre),
    Model(Model),
}

/// The key of a model: its make's identifier and its name's key (`glock/17`).
pub fn model_key(make: &str, name: &str) -> String {
    format!("{make}/{}", name_key(name))
}

/// Whether `id` is fit to be an identifier: lower-case ASCII letters, digits, `-`, `.`, `_`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_')
        })
}

impl Entry {
    /// Which part of the table it belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            Entry::Make(_) => Kind::Make,
            Entry::Calibre(_) => Kind::Calibre,
            Entry::Model(_) => Kind::Model,
        }
    }

    /// What identifies it within its kind: the make's or calibre's id, the model's
    /// [`model_key`].
    pub fn key(&self) -> String {
        match self {
            Entry::Make(make) => make.id.clone(),
            Entry::Calibre(calibre) => calibre.id.clone(),
            Entry::Model(model) => model_key(&model.make, &model.name),
        }
    }

    /// What is wrong with the entry on its own, in words (as field, reason); empty when
    /// nothing is. How it fits with the rest of the table is [`Table::problems`]' business.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let names = |aliases: &[String], field: &'static str, out: &mut Vec<_>| {
            for alias in aliases {
                if alias.trim().is_empty() || alias.contains(['\t', '\n', '|']) {
                    out.push((
                        field,
                        format!("'{alias}' is empty or holds a tab, line break or '|'"),
                    ));
                }
            }
        };
        let text = |value: &str, field: &'static str, out: &mut Vec<_>| {
            if value.trim().is_empty() || value.contains(['\t', '\n']) {
                out.push((
                    field,
                    "must be given, without tabs or line breaks".to_string(),
                ));
            }
        };
        match self {
            Entry::Make(make) => {
                if !valid_id(&make.id) {
                    problems.push(("id", "use lower-case letters, digits and '-'".into()));
                }
                text(&make.canonical, "canonical", &mut problems);
                text(&make.source, "source", &mut problems);
                names(&make.aliases, "aliases", &mut problems);
                names(&make.shared_aliases, "shared_aliases", &mut problems);
            }
            Entry::Calibre(calibre) => {
                if !valid_id(&calibre.id) {
                    problems.push(("id", "use lower-case letters, digits and '-'".into()));
                }
                text(&calibre.canonical, "canonical", &mut problems);
                text(&calibre.source, "source", &mut problems);
                names(&calibre.aliases, "aliases", &mut problems);
                names(&calibre.shared_aliases, "shared_aliases", &mut problems);
            }
            Entry::Model(model) => {
                text(&model.name, "name", &mut problems);
                text(&model.source, "source", &mut problems);
                if name_key(&model.name).is_empty() {
                    problems.push(("name", "has no letters or digits".into()));
                }
                names(&model.aliases, "aliases", &mut problems);
            }
        }
        problems
    }
}

impl Table {
    /// The entry of `kind` with `key`.
    pub fn entry(&self, kind: Kind, key: &str) -> Option<Entry> {
        match kind {
            Kind::Make => self.make(key).cloned().map(Entry::Make),
            Kind::Calibre => self.calibre(key).cloned().map(Entry::Calibre),
            Kind::Model => {
                let (make, name) = key.split_once('/')?;
                self.models
                    .iter()
                    .find(|m| m.make == make && name_key(&m.name) == name)
                    .cloned()
                    .map(Entry::Model)
            }
        }
    }

    /// Puts `entry` in the table, in place of the entry with the same key or as a new one.
    pub fn apply(&mut self, entry: Entry) {
        let key = entry.key();
        match entry {
            Entry::Make(make) => match self.makes.iter_mut().find(|m| m.id == key) {
                Some(slot) => *slot = make,
                None => self.makes.push(make),
            },
            Entry::Calibre(calibre) => match self.calibres.iter_mut().find(|c| c.id == key) {
                Some(slot) => *slot = calibre,
                None => self.calibres.push(calibre),
            },
            Entry::Model(model) => match self
                .models
                .iter_mut()
                .find(|m| m.make == model.make && model_key(&m.make, &m.name) == key)
            {
                Some(slot) => *slot = model,
                None => self.models.push(model),
            },
        }
    }

    /// The table as the three files it is read from (makes, calibres, models), in the order
    /// [`Table::parse`] reads them.
    pub fn to_files(&self) -> [String; 3] {
        let list = |items: &[String]| items.join("|");
        let mut makes = format!("{}\n", crate::table::MAKES_HEADER);
        for m in &self.makes {
            let _ = writeln!(
                makes,
                "{}\t{}\t{}\t{}\t{}\t{}",
                m.id,
                m.canonical,
                m.country,
                list(&m.aliases),
                list(&m.shared_aliases),
                m.source
            );
        }
        let mut calibres = format!("{}\n", crate::table::CALIBRES_HEADER);
        for c in &self.calibres {
            let system = match c.system {
                System::Metric => "metric",
                System::Imperial => "imperial",
                System::Shotgun => "shotgun",
            };
            let _ = writeln!(
                calibres,
                "{}\t{}\t{system}\t{}\t{}\t{}",
                c.id,
                c.canonical,
                list(&c.aliases),
                list(&c.shared_aliases),
                c.source
            );
        }
        let mut models = format!("{}\n", crate::table::MODELS_HEADER);
        for m in &self.models {
            let _ = writeln!(
                models,
                "{}\t{}\t{}\t{}\t{}\t{}",
                m.make,
                m.name,
                m.firearm_type.as_str(),
                list(&m.calibres),
                list(&m.aliases),
                m.source
            );
        }
        [makes, calibres, models]
    }

    /// Every entry of the table, makes first.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.makes
            .iter()
            .cloned()
            .map(Entry::Make)
            .chain(self.calibres.iter().cloned().map(Entry::Calibre))
            .chain(self.models.iter().cloned().map(Entry::Model))
    }
}

/// Makes, calibres and models of `Make`, `Calibre` and `Model` as one entry.
impl From<Make> for Entry {
    fn from(make: Make) -> Self {
        Entry::Make(make)
    }
}

impl From<Calibre> for Entry {
    fn from(calibre: Calibre) -> Self {
        Entry::Calibre(calibre)
    }
}

impl From<Model> for Entry {
    fn from(model: Model) -> Self {
        Entry::Model(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_survives_being_written_and_read_back() {
        let table = crate::shipped().table();
        let [makes, calibres, models] = table.to_files();
        let again = Table::parse(&makes, &calibres, &models).unwrap();
        assert_eq!(&again, table);
    }

    #[test]
    fn an_entry_replaces_the_one_with_its_key_or_is_added() {
        let mut table = crate::shipped().table().clone();
        let mut glock = table.make("glock").unwrap().clone();
        glock.aliases.push("Glok Austria".into());
        table.apply(glock.clone().into());
        assert_eq!(table.make("glock"), Some(&glock));
        let before = table.makes.len();
        let mut new = glock;
        new.id = "acme-arms".into();
        new.canonical = "Acme Arms".into();
        new.aliases = vec![];
        table.apply(new.into());
        assert_eq!(table.makes.len(), before + 1);
        assert!(table.problems().is_empty(), "{:?}", table.problems());
    }

    #[test]
    fn an_entry_with_a_bad_id_or_no_source_is_refused() {
        let mut make = crate::shipped().table().make("glock").unwrap().clone();
        make.id = "Glock GmbH".into();
        make.source = " ".into();
        let problems = Entry::Make(make).problems();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["id", "source"]);
    }
}
