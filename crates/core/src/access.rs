//! Who acts: organisations and their kinds, users' permissions, and the actor behind a request.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::country::CountryCode;

/// The kind of an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Secretariat,
    Ncb,
    Police,
    Customs,
    Border,
    Regulator,
    Partner,
}

impl OrgKind {
    /// Every kind.
    pub const ALL: [OrgKind; 7] = [
        OrgKind::Secretariat,
        OrgKind::Ncb,
        OrgKind::Police,
        OrgKind::Customs,
        OrgKind::Border,
        OrgKind::Regulator,
        OrgKind::Partner,
    ];

    /// The stored token.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrgKind::Secretariat => "secretariat",
            OrgKind::Ncb => "ncb",
            OrgKind::Police => "police",
            OrgKind::Customs => "customs",
            OrgKind::Border => "border",
            OrgKind::Regulator => "regulator",
            OrgKind::Partner => "partner",
        }
    }

    /// Reads a token in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let folded = text.trim().to_lowercase();
        OrgKind::ALL.into_iter().find(|k| k.as_str() == folded)
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a user may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Check,
    Record,
    Trace,
    Analyse,
    Admin,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 5] = [
        Permission::Check,
        Permission::Record,
        Permission::Trace,
        Permission::Analyse,
        Permission::Admin,
    ];

    /// The stored token.
    pub fn as_str(&self) -> &'static str {
        match self {
            Permission::Check => "check",
            Permission::Record => "record",
            Permission::Trace => "trace",
            Permission::Analyse => "analyse",
            Permission::Admin => "admin",
        }
    }

    fn bit(&self) -> u8 {
        1 << (*self as u8)
    }
}

/// A set of permissions.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Permissions(u8);

impl Permissions {
    /// Every permission.
    pub fn all() -> Self {
        Permission::ALL.into_iter().collect()
    }

    /// Whether `permission` is in the set.
    pub fn has(&self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// Reads a comma-separated list such as `check,record`; names an unknown entry.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|name| {
                Permission::ALL
                    .into_iter()
                    .find(|p| p.as_str() == name.to_lowercase())
                    .ok_or_else(|| {
                        format!(
                            "'{name}' is not a permission; use check, record, trace, analyse, admin"
                        )
                    })
            })
            .collect()
    }

    /// The permissions in the set, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        Permission::ALL.into_iter().filter(|p| self.has(*p))
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Permissions(iter.into_iter().fold(0, |bits, p| bits | p.bit()))
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.iter().map(|p| p.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permissions({self})")
    }
}

/// The authenticated user behind a request or a command, with what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user's identifier.
    pub user_id: i64,
    /// The user's name.
    pub username: String,
    /// The user's organisation.
    pub org_id: i64,
    /// The organisation's name.
    pub org_name: String,
    /// The organisation's kind.
    pub org_kind: OrgKind,
    /// The organisation's country (none for the secretariat and partners).
    pub country: Option<CountryCode>,
    /// What this user (or this token) may do.
    pub permissions: Permissions,
}

impl Actor {
    /// Whether the actor may create or change records of `country`: `record` permission and
    /// either the secretariat or an organisation of that country.
    pub fn may_record_for(&self, country: CountryCode) -> bool {
        self.permissions.has(Permission::Record)
            && (self.org_kind == OrgKind::Secretariat || self.country == Some(country))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_and_print_as_a_list() {
        let set = Permissions::parse("record, check").unwrap();
        assert!(set.has(Permission::Check) && set.has(Permission::Record));
        assert!(!set.has(Permission::Admin));
        assert_eq!(set.to_string(), "check,record");
        assert!(Permissions::parse("check,fly").is_err());
    }

    #[test]
    fn an_ncb_records_only_for_its_own_country() {
        let fr = CountryCode::parse("FR").unwrap();
        let de = CountryCode::parse("DE").unwrap();
        let actor = Actor {
            user_id: 1,
            username: "u".into(),
            org_id: 1,
            org_name: "NCB Paris".into(),
            org_kind: OrgKind::Ncb,
            country: Some(fr),
            permissions: Permissions::parse("record").unwrap(),
        };
        assert!(actor.may_record_for(fr));
        assert!(!actor.may_record_for(de));
    }
}
