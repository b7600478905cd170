//! Armstrace's domain: firearm records, countries, organisations and permissions, and the rules
//! that decide whether a value is acceptable. Nothing here does I/O; every other crate builds on it.

pub mod access;
pub mod country;
pub mod firearm;
pub mod history;
pub mod import_format;
pub mod trace;
pub mod validation;

pub use access::{Actor, OrgKind, OrgRef, OrgState, Permission, Permissions};
pub use country::CountryCode;
pub use firearm::{
    Canonical, Firearm, FirearmFields, FirearmId, FirearmInput, FirearmType, RecordId,
    RecordStatus, SerialNumber,
};
pub use validation::{FieldError, ValidationErrors};
