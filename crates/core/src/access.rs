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

impl OrgKind {
    /// Whether organisations of this kind belong to a country (NCBs and national agencies).
    pub fn has_country(&self) -> bool {
        !matches!(self, OrgKind::Secretariat | OrgKind::Partner)
    }

    /// Whether this is a national agency, approved by its country's NCB.
    pub fn is_agency(&self) -> bool {
        matches!(
            self,
            OrgKind::Police | OrgKind::Customs | OrgKind::Border | OrgKind::Regulator
        )
    }

    /// The permissions users of this kind of organisation can hold: a partner has no country,
    /// so it records nothing.
    pub fn grantable(&self) -> Permissions {
        match self {
            OrgKind::Partner => Permission::ALL
                .into_iter()
                .filter(|p| *p != Permission::Record)
                .collect(),
            _ => Permissions::all(),
        }
    }

    /// The state an organisation of this kind starts in: the secretariat and NCBs are approved
    /// when created; agencies wait for their NCB, partners for the secretariat.
    pub fn initial_state(&self) -> OrgState {
        match self {
            OrgKind::Secretariat | OrgKind::Ncb => OrgState::Approved,
            _ => OrgState::Pending,
        }
    }
}

/// Whether an organisation may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgState {
    /// Its users act within their permissions.
    Approved,
    /// Waiting for approval: its users can sign in and see that, and nothing else.
    Pending,
    /// Suspended: every session and token of its users is refused.
    Suspended,
}

impl OrgState {
    /// The stored token.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrgState::Approved => "approved",
            OrgState::Pending => "pending",
            OrgState::Suspended => "suspended",
        }
    }

    /// Reads a stored token.
    pub fn parse(text: &str) -> Option<Self> {
        [OrgState::Approved, OrgState::Pending, OrgState::Suspended]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// What the access rules need to know of an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgRef {
    /// Identifier.
    pub id: i64,
    /// Kind.
    pub kind: OrgKind,
    /// Country, for NCBs and agencies.
    pub country: Option<CountryCode>,
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

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The permissions in both sets.
    pub fn and(&self, other: Permissions) -> Permissions {
        Permissions(self.0 & other.0)
    }

    /// The permissions of this set that are not in `other`.
    pub fn without(&self, other: Permissions) -> Permissions {
        Permissions(self.0 & !other.0)
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
    /// Whether the organisation may act.
    pub org_state: OrgState,
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

    /// Whether the actor may see and manage `org`'s users and tokens: an admin their own
    /// organisation, an NCB admin also their country's agencies, the secretariat's admin all.
    pub fn may_administer(&self, org: &OrgRef) -> bool {
        self.permissions.has(Permission::Admin)
            && (self.org_kind == OrgKind::Secretariat
                || org.id == self.org_id
                || self.is_ncb_of(org))
    }

    /// Whether the actor may approve or suspend `org`: the secretariat's admin any other
    /// organisation, an NCB admin their country's agencies.
    pub fn may_approve(&self, org: &OrgRef) -> bool {
        self.permissions.has(Permission::Admin)
            && org.kind != OrgKind::Secretariat
            && ((self.org_kind == OrgKind::Secretariat && org.id != self.org_id)
                || self.is_ncb_of(org))
    }

    /// Whether the actor may create an organisation of `kind` in `country`: the secretariat's
    /// admin any (but a second secretariat), an NCB admin agencies of their country.
    pub fn may_create_org(&self, kind: OrgKind, country: Option<CountryCode>) -> bool {
        self.permissions.has(Permission::Admin)
            && kind != OrgKind::Secretariat
            && (self.org_kind == OrgKind::Secretariat
                || (self.org_kind == OrgKind::Ncb && kind.is_agency() && country == self.country))
    }

    /// Whether the actor may read the audit trail of `country` (none: the whole trail).
    pub fn may_read_audit(&self, country: Option<CountryCode>) -> bool {
        self.permissions.has(Permission::Admin)
            && match self.org_kind {
                OrgKind::Secretariat => true,
                OrgKind::Ncb => country.is_some() && country == self.country,
                _ => false,
            }
    }

    fn is_ncb_of(&self, org: &OrgRef) -> bool {
        self.org_kind == OrgKind::Ncb && org.kind.is_agency() && org.country == self.country
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
            org_state: OrgState::Approved,
            permissions: Permissions::parse("record").unwrap(),
        };
        assert!(actor.may_record_for(fr));
        assert!(!actor.may_record_for(de));
    }

    fn admin_of(kind: OrgKind, country: Option<&str>) -> Actor {
        Actor {
            user_id: 1,
            username: "admin".into(),
            org_id: 10,
            org_name: "org".into(),
            org_kind: kind,
            country: country.map(|c| CountryCode::parse(c).unwrap()),
            org_state: OrgState::Approved,
            permissions: Permissions::parse("admin").unwrap(),
        }
    }

    fn org(id: i64, kind: OrgKind, country: Option<&str>) -> OrgRef {
        OrgRef {
            id,
            kind,
            country: country.map(|c| CountryCode::parse(c).unwrap()),
        }
    }

    #[test]
    fn an_ncb_administers_its_own_country_s_agencies_only() {
        let ncb = admin_of(OrgKind::Ncb, Some("FR"));
        assert!(ncb.may_administer(&org(10, OrgKind::Ncb, Some("FR"))));
        assert!(ncb.may_administer(&org(11, OrgKind::Police, Some("FR"))));
        assert!(!ncb.may_administer(&org(12, OrgKind::Police, Some("DE"))));
        assert!(!ncb.may_administer(&org(13, OrgKind::Partner, None)));
        assert!(ncb.may_approve(&org(11, OrgKind::Customs, Some("FR"))));
        assert!(!ncb.may_approve(&org(10, OrgKind::Ncb, Some("FR"))));
        assert!(!ncb.may_approve(&org(13, OrgKind::Partner, None)));
        assert!(ncb.may_create_org(OrgKind::Border, ncb.country));
        assert!(!ncb.may_create_org(OrgKind::Ncb, ncb.country));
        assert!(!ncb.may_create_org(OrgKind::Border, CountryCode::parse("DE").ok()));
    }

    #[test]
    fn an_agency_admin_manages_only_its_organisation() {
        let police = admin_of(OrgKind::Police, Some("FR"));
        assert!(police.may_administer(&org(10, OrgKind::Police, Some("FR"))));
        assert!(!police.may_administer(&org(11, OrgKind::Customs, Some("FR"))));
        assert!(!police.may_approve(&org(11, OrgKind::Customs, Some("FR"))));
        assert!(!police.may_create_org(OrgKind::Customs, police.country));
        assert!(!police.may_read_audit(police.country));
    }

    #[test]
    fn the_secretariat_manages_everything_but_itself_cannot_be_suspended() {
        let sec = admin_of(OrgKind::Secretariat, None);
        assert!(sec.may_administer(&org(11, OrgKind::Police, Some("DE"))));
        assert!(sec.may_approve(&org(13, OrgKind::Partner, None)));
        assert!(!sec.may_approve(&org(10, OrgKind::Secretariat, None)));
        assert!(!sec.may_create_org(OrgKind::Secretariat, None));
        assert!(sec.may_read_audit(None));
        let mut no_admin = sec.clone();
        no_admin.permissions = Permissions::parse("check").unwrap();
        assert!(!no_admin.may_administer(&org(11, OrgKind::Police, Some("DE"))));
    }
}
