//! The closed vocabularies of a record (firearm type, status) and the identifiers typed by people
//! (serial number, the recording country's reference), each parsed once into a type that cannot
//! hold an invalid value.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::FieldError;

/// The kind of firearm, as national lists name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FirearmType {
    Pistol,
    Revolver,
    Rifle,
    Carbine,
    AssaultRifle,
    Shotgun,
    SubmachineGun,
    MachineGun,
    GrenadeLauncher,
    Other,
}

/// Synonyms found in national lists, after folding case, dashes, underscores and spaces.
const FIREARM_TYPE_NAMES: &[(&str, FirearmType)] = &[
    ("pistol", FirearmType::Pistol),
    ("semi automatic pistol", FirearmType::Pistol),
    ("semiautomatic pistol", FirearmType::Pistol),
    ("self loading pistol", FirearmType::Pistol),
    ("handgun", FirearmType::Pistol),
    ("pistolet", FirearmType::Pistol),
    ("pistola", FirearmType::Pistol),
    ("revolver", FirearmType::Revolver),
    ("revolver pistol", FirearmType::Revolver),
    ("rifle", FirearmType::Rifle),
    ("sniper rifle", FirearmType::Rifle),
    ("hunting rifle", FirearmType::Rifle),
    ("bolt action rifle", FirearmType::Rifle),
    ("semi automatic rifle", FirearmType::Rifle),
    ("semiautomatic rifle", FirearmType::Rifle),
    ("marksman rifle", FirearmType::Rifle),
    ("carbine", FirearmType::Carbine),
    ("assault rifle", FirearmType::AssaultRifle),
    ("automatic rifle", FirearmType::AssaultRifle),
    ("battle rifle", FirearmType::AssaultRifle),
    ("shotgun", FirearmType::Shotgun),
    ("shot gun", FirearmType::Shotgun),
    ("pump action shotgun", FirearmType::Shotgun),
    ("smoothbore", FirearmType::Shotgun),
    ("submachine gun", FirearmType::SubmachineGun),
    ("sub machine gun", FirearmType::SubmachineGun),
    ("smg", FirearmType::SubmachineGun),
    ("machine pistol", FirearmType::SubmachineGun),
    ("machine gun", FirearmType::MachineGun),
    ("machinegun", FirearmType::MachineGun),
    ("mg", FirearmType::MachineGun),
    ("light machine gun", FirearmType::MachineGun),
    ("lmg", FirearmType::MachineGun),
    ("general purpose machine gun", FirearmType::MachineGun),
    ("gpmg", FirearmType::MachineGun),
    ("heavy machine gun", FirearmType::MachineGun),
    ("hmg", FirearmType::MachineGun),
    ("grenade launcher", FirearmType::GrenadeLauncher),
    ("rocket launcher", FirearmType::GrenadeLauncher),
    ("other", FirearmType::Other),
];

impl FirearmType {
    /// Every type, in the order forms list them.
    pub const ALL: [FirearmType; 10] = [
        FirearmType::Pistol,
        FirearmType::Revolver,
        FirearmType::Rifle,
        FirearmType::Carbine,
        FirearmType::AssaultRifle,
        FirearmType::Shotgun,
        FirearmType::SubmachineGun,
        FirearmType::MachineGun,
        FirearmType::GrenadeLauncher,
        FirearmType::Other,
    ];

    /// Reads a type as national lists write it: any case, with dashes, underscores or spaces, and
    /// common synonyms such as "SMG" or "sniper rifle".
    pub fn parse(text: &str) -> Option<Self> {
        let folded = text
            .trim()
            .to_lowercase()
            .replace(['-', '_', '.', '/'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        FIREARM_TYPE_NAMES
            .iter()
            .find(|(name, _)| *name == folded)
            .map(|(_, kind)| *kind)
    }

    /// The names national lists use for this type that [`FirearmType::parse`] reads, in any
    /// case and with dashes, underscores or spaces.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        FIREARM_TYPE_NAMES
            .iter()
            .filter(move |(_, kind)| *kind == self)
            .map(|(name, _)| *name)
    }

    /// The canonical token used by the API and exports, e.g. `submachine_gun`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FirearmType::Pistol => "pistol",
            FirearmType::Revolver => "revolver",
            FirearmType::Rifle => "rifle",
            FirearmType::Carbine => "carbine",
            FirearmType::AssaultRifle => "assault_rifle",
            FirearmType::Shotgun => "shotgun",
            FirearmType::SubmachineGun => "submachine_gun",
            FirearmType::MachineGun => "machine_gun",
            FirearmType::GrenadeLauncher => "grenade_launcher",
            FirearmType::Other => "other",
        }
    }
}

impl fmt::Display for FirearmType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to the firearm, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Lost,
    Stolen,
    Trafficked,
    Smuggled,
    Seized,
    Recovered,
}

impl RecordStatus {
    /// Every status.
    pub const ALL: [RecordStatus; 6] = [
        RecordStatus::Lost,
        RecordStatus::Stolen,
        RecordStatus::Trafficked,
        RecordStatus::Smuggled,
        RecordStatus::Seized,
        RecordStatus::Recovered,
    ];

    /// Reads a status in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let folded = text.trim().to_lowercase();
        RecordStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == folded)
    }

    /// The canonical token, e.g. `stolen`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RecordStatus::Lost => "lost",
            RecordStatus::Stolen => "stolen",
            RecordStatus::Trafficked => "trafficked",
            RecordStatus::Smuggled => "smuggled",
            RecordStatus::Seized => "seized",
            RecordStatus::Recovered => "recovered",
        }
    }
}

impl fmt::Display for RecordStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest serial number accepted, in characters.
pub const MAX_SERIAL_CHARS: usize = 64;

/// A serial number exactly as marked and typed (worn metal, Cyrillic, dashes and all).
/// Never empty, never only spaces, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialNumber(String);

impl SerialNumber {
    /// Accepts the serial as typed; only surrounding spaces are dropped.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let serial = text.trim();
        if serial.is_empty() {
            return Err(FieldError::new(
                "serial_number",
                "required",
                "the serial number is empty; type it as marked, using ? for unreadable characters",
            ));
        }
        if serial.chars().count() > MAX_SERIAL_CHARS {
            return Err(FieldError::new(
                "serial_number",
                "too_long",
                format!("the serial number is longer than {MAX_SERIAL_CHARS} characters"),
            ));
        }
        if serial.chars().any(char::is_control) {
            return Err(FieldError::new(
                "serial_number",
                "control_character",
                "the serial number contains a control character (tab, line break …)",
            ));
        }
        Ok(SerialNumber(serial.to_string()))
    }

    /// The serial as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SerialNumber {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SerialNumber::parse(&value)
    }
}

impl From<SerialNumber> for String {
    fn from(value: SerialNumber) -> Self {
        value.0
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest reference a recording country may give its record.
pub const MAX_RECORD_ID_CHARS: usize = 64;

/// The recording country's own reference for a record, unique within that country.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordId(String);

impl RecordId {
    /// Accepts a non-empty reference without control characters; surrounding spaces are dropped.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let id = text.trim();
        if id.is_empty() {
            return Err(FieldError::new(
                "record_id",
                "required",
                "record_id is empty; give your country's own reference for this record",
            ));
        }
        if id.chars().count() > MAX_RECORD_ID_CHARS {
            return Err(FieldError::new(
                "record_id",
                "too_long",
                format!("record_id is longer than {MAX_RECORD_ID_CHARS} characters"),
            ));
        }
        if id.chars().any(char::is_control) {
            return Err(FieldError::new(
                "record_id",
                "control_character",
                "record_id contains a control character",
            ));
        }
        Ok(RecordId(id.to_string()))
    }

    /// The reference as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RecordId {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RecordId::parse(&value)
    }
}

impl From<RecordId> for String {
    fn from(value: RecordId) -> Self {
        value.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firearm_types_are_read_with_the_synonyms_national_lists_use() {
        assert_eq!(FirearmType::parse("SMG"), Some(FirearmType::SubmachineGun));
        assert_eq!(
            FirearmType::parse("Sub-Machine Gun"),
            Some(FirearmType::SubmachineGun)
        );
        assert_eq!(
            FirearmType::parse("submachine_gun"),
            Some(FirearmType::SubmachineGun)
        );
        assert_eq!(FirearmType::parse("sniper rifle"), Some(FirearmType::Rifle));
        assert_eq!(
            FirearmType::parse(" Assault  Rifle "),
            Some(FirearmType::AssaultRifle)
        );
        assert_eq!(FirearmType::parse("bazooka"), None);
    }

    #[test]
    fn every_canonical_token_reads_back_as_itself() {
        for kind in FirearmType::ALL {
            assert_eq!(FirearmType::parse(kind.as_str()), Some(kind));
        }
        for status in RecordStatus::ALL {
            assert_eq!(
                RecordStatus::parse(&status.as_str().to_uppercase()),
                Some(status)
            );
        }
    }

    #[test]
    fn a_serial_keeps_exactly_what_was_typed_inside_it() {
        let serial = SerialNumber::parse("  ЕА 12-34 ").unwrap();
        assert_eq!(serial.as_str(), "ЕА 12-34");
    }

    #[test]
    fn an_empty_or_blank_serial_is_refused() {
        assert_eq!(SerialNumber::parse("   ").unwrap_err().code, "required");
        assert_eq!(
            SerialNumber::parse("AB\tC").unwrap_err().code,
            "control_character"
        );
    }
}
