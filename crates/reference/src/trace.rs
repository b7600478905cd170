//! Where a trace request should go first: the country of the make, then the countries that
//! import marks name (an importer known to the table, or a country written out).

use std::collections::HashSet;

use armstrace_core::CountryCode;
use serde::Serialize;

use crate::key::name_key;
use crate::resolve::Resolver;

/// A country a trace request should go to, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Destination {
    /// ISO 3166-1 alpha-2 code.
    #[schema(value_type = String, example = "AT")]
    pub country: CountryCode,
    /// The country's name.
    pub name: String,
    /// Why: the make's country, or what in the import marks names it.
    pub reason: String,
}

/// The words of a text as comparison keys.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '&')
        .map(name_key)
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `needle` (a name's words) occurs as consecutive words of `hay`.
fn contains_words(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|window| window == needle)
}

impl Resolver {
    /// The countries a trace request about a firearm of `make` with `import_marks` should go to
    /// first, in order: the make's country (when the make resolves to one), then each country
    /// the import marks name, through an importer or maker of the table (names of at least
    /// three characters) or the country's own name.
    pub fn trace_destinations(
        &self,
        make: Option<&str>,
        import_marks: Option<&str>,
    ) -> Vec<Destination> {
        let mut found = Vec::new();
        let mut seen = HashSet::new();
        let mut add = |country: CountryCode, reason: String| {
            if seen.insert(country) {
                found.push(Destination {
                    country,
                    name: country.name().to_string(),
                    reason,
                });
            }
        };
        if let Some(resolved) = make.map(|m| self.make(m))
            && let Some(id) = resolved.id()
            && let Some(entry) = self.table().make(id)
        {
            add(entry.country, format!("where {} is based", entry.canonical));
        }
        let Some(marks) = import_marks.filter(|m| !m.trim().is_empty()) else {
            return found;
        };
        let hay = words(marks);
        for entry in &self.table().makes {
            let names = std::iter::once(&entry.canonical)
                .chain(&entry.aliases)
                .chain(&entry.shared_aliases);
            for name in names {
                let needle = words(name);
                if needle.concat().len() >= 3 && contains_words(&hay, &needle) {
                    add(
                        entry.country,
                        format!("the import marks name {} ('{name}')", entry.canonical),
                    );
                    break;
                }
            }
        }
        for country in CountryCode::all() {
            let needle = words(country.name());
            if contains_words(&hay, &needle) {
                add(country, format!("the import marks name {}", country.name()));
            }
        }
        found
    }
}
