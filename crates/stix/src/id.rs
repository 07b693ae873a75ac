//! STIX identifiers (section 2.9): `object-type--UUID`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("'{0}' is not a STIX identifier (expected object-type--UUID)")]
    Format(String),
    #[error(
        "'{0}' is not a valid STIX object type name (3-250 characters of a-z, 0-9 and single hyphens)"
    )]
    TypeName(String),
    #[error("'{0}' does not end in an RFC 4122 UUID")]
    Uuid(String),
}

/// A syntactically valid STIX identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StixId(String);

impl StixId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let (ty, uuid) = s
            .split_once("--")
            .ok_or_else(|| IdError::Format(s.to_owned()))?;
        if !is_type_name(ty) {
            return Err(IdError::TypeName(ty.to_owned()));
        }
        // The hyphenated 8-4-4-4-12 form is the only one STIX allows; the OASIS schema admits
        // upper-case hex digits, and so does the relay (ids are kept as written).
        let hyphens_ok = uuid.len() == 36
            && uuid
                .bytes()
                .enumerate()
                .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == b'-'));
        if !hyphens_ok || uuid::Uuid::try_parse(uuid).is_err() {
            return Err(IdError::Uuid(s.to_owned()));
        }
        Ok(StixId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object type named by the identifier's prefix.
    pub fn object_type(&self) -> &str {
        self.0.split_once("--").map_or("", |(t, _)| t)
    }
}

impl fmt::Display for StixId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// STIX 2.1 section 3.1 / 11.1: a type name has 3 to 250 characters of lower-case ASCII letters,
/// digits and hyphens, and no two hyphens in a row (which would be ambiguous in an identifier).
pub fn is_type_name(s: &str) -> bool {
    (3..=250).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !s.contains("--")
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_ids() {
        let id = StixId::parse("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").unwrap();
        assert_eq!(id.object_type(), "indicator");
        StixId::parse("x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").unwrap();
        StixId::parse("relationship--81f12913-1372-4c96-85ec-E9034ac98aba").unwrap();
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "indicator",
            "indicator--",
            "indicator--not-a-uuid",
            "Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "in--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--{8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f}",
            "indicator--urn:uuid:8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3",
            "indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f",
            "--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        ] {
            assert!(StixId::parse(bad).is_err(), "{bad}");
        }
    }
}
