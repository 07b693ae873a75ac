//! Organisations and trust groups: who the ISAC's members (and partners) are, and the groups
//! in which feeds are shared. Records here are deliberately not `Serialize`: front ends convert
//! them to views of their own, so that nothing is sent by accident.

use serde_json::{Value, json};
use stix::Timestamp;

/// The organisation that runs the relay. It exists from the first start; its identity is the
/// one that replaces an anonymous submitter's.
pub const OPERATOR_ORG: &str = "ISAC";

/// The sectors an ISAC's organisations come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sector {
    Telecom,
    Broadcast,
    SecurityVendor,
    SiVendor,
    Finance,
    Government,
    Research,
    Other,
}

impl Sector {
    pub const ALL: [Sector; 8] = [
        Sector::Telecom,
        Sector::Broadcast,
        Sector::SecurityVendor,
        Sector::SiVendor,
        Sector::Finance,
        Sector::Government,
        Sector::Research,
        Sector::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sector::Telecom => "telecom",
            Sector::Broadcast => "broadcast",
            Sector::SecurityVendor => "security-vendor",
            Sector::SiVendor => "si-vendor",
            Sector::Finance => "finance",
            Sector::Government => "government",
            Sector::Research => "research",
            Sector::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Sector> {
        Sector::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The value of STIX's `industry-sector-ov` closest to this sector.
    pub fn stix_sector(self) -> &'static str {
        match self {
            Sector::Telecom => "telecommunications",
            Sector::Broadcast => "entertainment",
            Sector::SecurityVendor | Sector::SiVendor => "technology",
            Sector::Finance => "financial-services",
            Sector::Government => "government",
            Sector::Research => "education",
            Sector::Other => "infrastructure",
        }
    }

    pub fn names() -> String {
        Sector::ALL.map(Sector::as_str).join(", ")
    }
}

/// How an organisation belongs to the ISAC. TLP:GREEN reaches the ISAC's community: its
/// members and the operator. A partner (another ISAC, a national CSIRT) is admitted to some
/// feeds through a trust group and sees TLP:GREEN and TLP:AMBER only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    Operator,
    Member,
    Partner,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Operator => "operator",
            OrgKind::Member => "member",
            OrgKind::Partner => "partner",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        [OrgKind::Operator, OrgKind::Member, OrgKind::Partner]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An organisation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub kind: OrgKind,
    pub sector: Sector,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub contacts: Vec<String>,
    /// What it posts is redistributed under the ISAC's identity.
    pub anonymous: bool,
    /// The id of its STIX identity object.
    pub identity: String,
    pub created: Timestamp,
}

impl Org {
    /// The organisation's STIX 2.1 identity object.
    pub fn identity_object(&self) -> Value {
        let created = self.created.to_string();
        let mut obj = json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": self.identity,
            "created": created,
            "modified": created,
            "name": self.name,
            "identity_class": "organization",
            "sectors": [self.sector.stix_sector()],
        });
        if !self.contacts.is_empty() {
            obj["contact_information"] = Value::String(self.contacts.join("; "));
        }
        obj
    }
}

/// What an administrator gives to create an organisation.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub name: String,
    pub kind: OrgKind,
    pub sector: Sector,
    pub country: String,
    pub contacts: Vec<String>,
    pub anonymous: bool,
}

/// A trust group and its member organisations' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustGroup {
    pub id: i64,
    pub name: String,
    pub members: Vec<String>,
}

/// Names of organisations, groups, users and tokens: short, printable, no surrounding space,
/// so that they can be typed on a command line and shown in an audit log unambiguously.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= 100
        && name.trim() == name
        && !name.chars().any(char::is_control)
        && !name.contains('/');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} name '{name}' must be 1-100 printable characters without '/' or surrounding spaces"
        ))
    }
}

/// A country code: two ASCII letters (ISO 3166-1 alpha-2), returned upper case.
pub fn check_country(cc: &str) -> Result<String, String> {
    if cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(cc.to_ascii_uppercase())
    } else {
        Err(format!(
            "country '{cc}' must be a two-letter ISO 3166-1 code such as JP"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_objects_are_valid_stix() {
        let org = Org {
            id: 2,
            name: "Example Telecom".into(),
            kind: OrgKind::Member,
            sector: Sector::Telecom,
            country: "JP".into(),
            contacts: vec!["soc@example.jp".into()],
            anonymous: false,
            identity: "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f".into(),
            created: Timestamp::now(),
        };
        let obj = org.identity_object();
        let meta = stix::check_object(&obj).expect("a valid identity");
        assert!(meta.warnings.is_empty(), "{:?}", meta.warnings);
        assert_eq!(obj["contact_information"], "soc@example.jp");
    }

    #[test]
    fn names_sectors_and_countries_are_checked() {
        assert!(check_name("organisation", "Example Telecom").is_ok());
        for bad in ["", " x", "a/b", "tab\there"] {
            assert!(check_name("organisation", bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_country("jp"), Ok("JP".into()));
        assert!(check_country("JPN").is_err());
        assert_eq!(Sector::parse("si-vendor"), Some(Sector::SiVendor));
        assert_eq!(Sector::parse("bank"), None);
    }
}
