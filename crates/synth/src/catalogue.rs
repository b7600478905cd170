//! The built-in catalogue of makes, models, calibres and serial formats, parsed once from `data/catalogue.txt`.

use std::sync::OnceLock;

use crate::serial::SerialPattern;

/// The firearm type tokens of the import format.
pub const FIREARM_TYPES: [&str; 10] = [
    "pistol",
    "revolver",
    "rifle",
    "carbine",
    "assault_rifle",
    "shotgun",
    "submachine_gun",
    "machine_gun",
    "grenade_launcher",
    "other",
];

const SOURCE: &str = include_str!("../data/catalogue.txt");

/// Everything the generator draws weapons from.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// Calibres with the spellings national lists use for them.
    pub calibres: Vec<Calibre>,
    /// Manufacturers, each with its models.
    pub makes: Vec<Make>,
}

/// A calibre and its alternative spellings.
#[derive(Debug, Clone)]
pub struct Calibre {
    /// The spelling the reference table uses, e.g. `9x19mm`.
    pub name: &'static str,
    /// Other spellings seen in national lists, e.g. `9mm Luger`, `9mm Parabellum`.
    pub variants: Vec<&'static str>,
}

/// A manufacturer as marked on its weapons.
#[derive(Debug, Clone)]
pub struct Make {
    /// The name as marked, e.g. `Glock`, `Zastava Arms`.
    pub name: &'static str,
    /// ISO 3166-1 alpha-2 country of manufacture of most of its models.
    pub country: &'static str,
    /// Relative share of illicit records naming this make.
    pub weight: u32,
    /// How the make numbers its weapons unless a model says otherwise.
    pub serial_pattern: SerialPattern,
    /// The make's models.
    pub models: Vec<Model>,
}

/// One model of a make.
#[derive(Debug, Clone)]
pub struct Model {
    /// The model designation, e.g. `17`, `AKM`, `Model 10`.
    pub name: &'static str,
    /// One of [`FIREARM_TYPES`].
    pub firearm_type: &'static str,
    /// Canonical calibre names; the first is the most common.
    pub calibres: Vec<&'static str>,
    /// First year of manufacture.
    pub first_year: u16,
    /// Last year of manufacture (2025 for models still made).
    pub last_year: u16,
    /// Relative share of the make's records.
    pub weight: u32,
    /// ISO 3166-1 alpha-2 country where this model is made.
    pub country: &'static str,
    /// How this model is numbered.
    pub serial_pattern: SerialPattern,
    /// Indices into [`Catalogue::calibres`], parallel to `calibres`.
    pub(crate) calibre_indices: Vec<usize>,
}

/// The built-in catalogue, parsed on first use.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        Catalogue::parse(SOURCE).unwrap_or_else(|error| panic!("data/catalogue.txt: {error}"))
    })
}

impl Catalogue {
    /// The calibre with this canonical name.
    pub fn calibre(&self, name: &str) -> Option<&Calibre> {
        self.calibres.iter().find(|c| c.name == name)
    }

    /// The make with this name.
    pub fn make(&self, name: &str) -> Option<&Make> {
        self.makes.iter().find(|m| m.name == name)
    }

    /// Parses the catalogue text; the error names the line at fault.
    pub(crate) fn parse(text: &'static str) -> Result<Self, String> {
        let mut catalogue = Catalogue {
            calibres: Vec::new(),
            makes: Vec::new(),
        };
        for (index, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.trim_start().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            catalogue
                .parse_line(line)
                .map_err(|message| format!("line {}: {message}", index + 1))?;
        }
        if catalogue.makes.is_empty() {
            return Err("no makes".to_owned());
        }
        if let Some(make) = catalogue.makes.iter().find(|m| m.models.is_empty()) {
            return Err(format!("make {} has no models", make.name));
        }
        Ok(catalogue)
    }

    fn parse_line(&mut self, line: &'static str) -> Result<(), String> {
        let columns = columns(line);
        match columns.as_slice() {
            ["calibre", name] => self.add_calibre(name, ""),
            ["calibre", name, variants] => self.add_calibre(name, variants),
            ["make", name, country, weight, pattern] => {
                if self.make(name).is_some() {
                    return Err(format!("make {name} appears twice"));
                }
                self.makes.push(Make {
                    name,
                    country: country_code(country)?,
                    weight: parse_weight(weight)?,
                    serial_pattern: SerialPattern::parse(pattern)?,
                    models: Vec::new(),
                });
                Ok(())
            }
            [
                "model",
                name,
                firearm_type,
                calibres,
                years,
                weight,
                overrides @ ..,
            ] => {
                let model =
                    self.parse_model(name, firearm_type, calibres, years, weight, overrides)?;
                let make = self.makes.last_mut().ok_or("a model before any make")?;
                make.models.push(model);
                Ok(())
            }
            _ => Err(format!(
                "cannot read {line:?} (columns must be separated by two spaces)"
            )),
        }
    }

    fn add_calibre(&mut self, name: &'static str, variants: &'static str) -> Result<(), String> {
        if self.calibre(name).is_some() {
            return Err(format!("calibre {name} appears twice"));
        }
        let variants = variants
            .split('|')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        self.calibres.push(Calibre { name, variants });
        Ok(())
    }

    fn parse_model(
        &self,
        name: &'static str,
        firearm_type: &'static str,
        calibres: &'static str,
        years: &'static str,
        weight: &'static str,
        overrides: &[&'static str],
    ) -> Result<Model, String> {
        let make = self.makes.last().ok_or("a model before any make")?;
        let firearm_type = FIREARM_TYPES
            .iter()
            .find(|t| **t == firearm_type)
            .copied()
            .ok_or_else(|| format!("unknown firearm type {firearm_type:?} for model {name}"))?;
        let calibres: Vec<&'static str> = calibres.split('|').collect();
        let calibre_indices = calibres
            .iter()
            .map(|c| {
                self.calibres
                    .iter()
                    .position(|known| known.name == *c)
                    .ok_or_else(|| format!("unknown calibre {c:?} for model {name}"))
            })
            .collect::<Result<_, _>>()?;
        let (first, last) = years
            .split_once('-')
            .ok_or_else(|| format!("years {years:?} are not FIRST-LAST"))?;
        let first_year: u16 = first
            .parse()
            .map_err(|_| format!("bad first year {first:?}"))?;
        let last_year: u16 = last
            .parse()
            .map_err(|_| format!("bad last year {last:?}"))?;
        if first_year > last_year || last_year > crate::calendar::LAST_YEAR {
            return Err(format!(
                "years {years} of model {name} are out of order or in the future"
            ));
        }
        let mut model = Model {
            name,
            firearm_type,
            calibres,
            first_year,
            last_year,
            weight: parse_weight(weight)?,
            country: make.country,
            serial_pattern: make.serial_pattern.clone(),
            calibre_indices,
        };
        for setting in overrides {
            match setting.split_once('=') {
                Some(("country", code)) => model.country = country_code(code)?,
                Some(("serial", pattern)) => model.serial_pattern = SerialPattern::parse(pattern)?,
                _ => return Err(format!("unknown setting {setting:?} for model {name}")),
            }
        }
        Ok(model)
    }
}

/// Splits a line at runs of two or more spaces.
fn columns(line: &'static str) -> Vec<&'static str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

fn country_code(code: &'static str) -> Result<&'static str, String> {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(format!("{code:?} is not an ISO 3166-1 alpha-2 code"))
    }
}

fn parse_weight(weight: &str) -> Result<u32, String> {
    match weight.parse() {
        Ok(w) if w > 0 => Ok(w),
        _ => Err(format!("weight {weight:?} must be a positive integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalogue_parses() {
        let catalogue = Catalogue::parse(SOURCE).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            catalogue.makes.len() >= 40,
            "only {} makes",
            catalogue.makes.len()
        );
    }

    #[test]
    fn every_make_has_three_to_eight_models() {
        for make in &catalogue().makes {
            assert!(
                (3..=8).contains(&make.models.len()),
                "{} has {} models",
                make.name,
                make.models.len()
            );
        }
    }

    #[test]
    fn well_known_models_have_their_real_type_calibre_and_country() {
        let model = |make: &str, name: &str| {
            let make = catalogue().make(make).unwrap();
            make.models.iter().find(|m| m.name == name).unwrap().clone()
        };
        let glock = model("Glock", "17");
        assert_eq!(
            (glock.firearm_type, glock.calibres[0], glock.country),
            ("pistol", "9x19mm", "AT")
        );
        let akm = model("Izhmash", "AKM");
        assert_eq!(
            (akm.firearm_type, akm.calibres[0], akm.country),
            ("assault_rifle", "7.62x39mm", "RU")
        );
        assert!(akm.serial_pattern.uses_cyrillic());
        let pkm = model("Degtyaryov Plant", "PKM");
        assert_eq!(
            (pkm.firearm_type, pkm.calibres[0]),
            ("machine_gun", "7.62x54mmR")
        );
        let p320 = model("SIG Sauer", "P320");
        assert_eq!(p320.country, "US");
        assert_eq!(model("Remington", "870").firearm_type, "shotgun");
    }

    #[test]
    fn a_model_with_an_unknown_calibre_is_rejected() {
        let text = "make  X  US  1  99999\nmodel  Y  pistol  9x19mm  1990-2000  1\n";
        let error = Catalogue::parse(text).unwrap_err();
        assert!(
            error.contains("line 2") && error.contains("unknown calibre"),
            "{error}"
        );
    }

    #[test]
    fn a_model_with_a_single_space_before_a_column_is_rejected() {
        let text =
            "calibre  9x19mm\nmake  X  US  1  99999\nmodel  Y pistol  9x19mm  1990-2000  1\n";
        assert!(Catalogue::parse(text).unwrap_err().contains("line 3"));
    }

    #[test]
    fn a_model_can_override_country_and_serial_pattern() {
        let text = "calibre  9x19mm\nmake  X  DE  1  99999\nmodel  Y  pistol  9x19mm  1990-2000  1  country=US  serial=AA99\n";
        let catalogue = Catalogue::parse(text).unwrap();
        let model = &catalogue.makes[0].models[0];
        assert_eq!(
            (model.country, model.serial_pattern.source()),
            ("US", "AA99")
        );
    }
}
