//! Findings as notifications over TAXII: each finding is one STIX 2.1 `observed-data` in the
//! NOTICE feed, TLP:RED naming the owning member as its only recipient, so that the store's
//! visibility rule shows it to that member alone. A new version is published whenever the
//! finding merges a duplicate or changes status.

use serde_json::{Value, json};
use sha2::Digest;
use stix::Timestamp;

use relay_core::notice::Finding;
use relay_core::tlp::{RECIPIENTS_EXTENSION, RECIPIENTS_PROPERTY, Tlp};

/// The finding's STIX id: the same across its versions.
pub fn object_id(finding_id: i64) -> String {
    let digest = sha2::Sha256::digest(format!("isac-relay finding|{finding_id}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format!(
        "observed-data--{}",
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    )
}

/// The finding as observed-data for `recipient` (an identity id), versioned at `modified`.
pub fn observed_data(f: &Finding, recipient: &str, modified: Timestamp) -> Value {
    let v6 = f.ip.contains(':');
    let mut objects = serde_json::Map::new();
    objects.insert(
        "0".into(),
        json!({"type": if v6 { "ipv6-addr" } else { "ipv4-addr" }, "value": f.ip}),
    );
    if f.port != 0 || !f.protocol.is_empty() {
        let mut protocols = vec![if v6 { "ipv6" } else { "ipv4" }.to_owned()];
        if !f.protocol.is_empty() {
            protocols.push(f.protocol.clone());
        }
        let mut traffic =
            json!({"type": "network-traffic", "dst_ref": "0", "protocols": protocols});
        if f.port != 0 {
            traffic["dst_port"] = json!(f.port);
        }
        objects.insert("1".into(), traffic);
    }
    let created = f.first_observed.min(modified);
    let mut o = json!({
        "type": "observed-data",
        "spec_version": "2.1",
        "id": object_id(f.id),
        "created": created.to_string(),
        "modified": modified.max(created).to_string(),
        "first_observed": f.first_observed.to_string(),
        "last_observed": f.last_observed.max(f.first_observed).to_string(),
        "number_observed": f.times_seen.max(1),
        "objects": objects,
        "labels": [f.finding],
        "object_marking_refs": [Tlp::Red.marking_ref()],
        "extensions": {RECIPIENTS_EXTENSION: {
            "extension_type": "property-extension",
            RECIPIENTS_PROPERTY: [recipient],
        }},
        "x_isac_finding_id": f.id,
        "x_isac_campaign": f.campaign,
        "x_isac_finding": f.finding,
        "x_isac_prefix": f.prefix,
        "x_isac_status": f.status.as_str(),
    });
    if let Some(d) = &f.detail {
        o["x_isac_detail"] = json!(d);
    }
    if let Some(n) = &f.status_note {
        o["x_isac_status_note"] = json!(n);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_core::notice::FindingStatus;

    #[test]
    fn observed_data_is_valid_stix_and_red_for_its_owner() {
        let f = Finding {
            id: 42,
            campaign: "2026-11".into(),
            org: 3,
            org_name: "IspA".into(),
            prefix: "198.18.0.0/15".into(),
            ip: "198.18.0.10".into(),
            port: 23,
            protocol: "tcp".into(),
            finding: "telnet-login-prompt".into(),
            first_observed: Timestamp::parse("2026-11-20T01:00:00Z").unwrap(),
            last_observed: Timestamp::parse("2026-11-21T01:00:00Z").unwrap(),
            times_seen: 2,
            detail: Some("busybox".into()),
            status: FindingStatus::Notified,
            status_at: None,
            status_note: Some("mailed".into()),
            version: 3,
        };
        let who = "identity--0b3a6c8e-2b1c-4c55-9a0e-5f5f5f5f5f5f";
        let o = observed_data(&f, who, Timestamp::parse("2026-11-22T00:00:00Z").unwrap());
        if let Err(e) = stix::object::check_object(&o) {
            panic!("{e:?}\n{o:#}");
        }
        assert_eq!(o["id"], object_id(42));
        assert_eq!(o["objects"]["1"]["dst_port"], 23);
        let marking = relay_core::tlp::read_marking(&o).unwrap();
        assert_eq!(marking.tlp, Some(Tlp::Red));
        assert_eq!(marking.recipients, [who]);
    }
}
