//! Registration and feedback from the web form: values become indicators (`crate::register`),
//! "seen here" a sighting, "false positive" an opinion. Each is posted through
//! `Relay::add_objects`, the TAXII write path, so rights, routing, validation, TLP, anonymity,
//! metrics and the audit log apply to them as to any post.

use serde_json::{Value, json};
use stix::Timestamp;

use super::Relay;
use crate::error::Error;
use crate::principal::Principal;
use crate::register::{Choices, Draft};
use crate::status::Status;
use crate::tlp::Tlp;

/// What a member says of an object it can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Seen in the member's own network: a sighting.
    SeenHere,
    /// Wrong: an opinion that strongly disagrees, labelled `false-positive`.
    FalsePositive,
}

impl Relay {
    /// Posts one indicator per draft to the feed, marked and described as chosen.
    pub async fn register(
        &self,
        who: &Principal,
        feed: &str,
        choices: &Choices,
        drafts: &[Draft],
    ) -> Result<Status, Error> {
        if drafts.is_empty() {
            return Err(Error::Invalid("nothing to register".into()));
        }
        if choices.tlp == Tlp::Red {
            return Err(Error::Invalid(
                "TLP:RED needs named recipients; post it over TAXII with the recipients extension"
                    .into(),
            ));
        }
        let identity = self.identity_of(who).await?;
        let now = Timestamp::now();
        let objects: Vec<Value> = drafts
            .iter()
            .map(|d| crate::register::indicator(d, choices, identity.as_deref(), now))
            .collect();
        self.post_objects(who, feed, objects).await
    }

    /// Records what the caller says of an object: posted in the feed the object is in, marked
    /// with the object's TLP (a sighting AMBER at least). Refused on a TLP:RED object.
    pub async fn feedback(
        &self,
        who: &Principal,
        id: &str,
        what: Feedback,
        note: Option<&str>,
    ) -> Result<Status, Error> {
        let view = self.object_view(who, id).await?;
        let (feed, current) = view
            .versions
            .first()
            .ok_or_else(|| Error::NotFound(format!("no object '{id}'")))?;
        let object_tlp = current.tlp;
        // Feedback names the object: on a TLP:RED object it would tell the feed's other
        // readers of an object they may not see.
        if object_tlp == Tlp::Red {
            return Err(Error::Forbidden(
                "feedback on a TLP:RED object would reach readers it is not for; answer its \
                 poster directly"
                    .into(),
            ));
        }
        // A sighting says the member was hit: AMBER at least, whatever the object's level.
        let marking = match what {
            Feedback::SeenHere => object_tlp.max(Tlp::Amber),
            Feedback::FalsePositive => object_tlp,
        };
        let identity = self.identity_of(who).await?;
        let now = Timestamp::now().to_string();
        let object_type = id.split_once("--").map_or("", |(t, _)| t);
        let mut obj = match what {
            Feedback::SeenHere => {
                if !stix::vocab::is_sdo(object_type) {
                    return Err(Error::Invalid(format!(
                        "a sighting refers to a domain object; '{object_type}' is not one"
                    )));
                }
                let mut s = json!({
                    "type": "sighting",
                    "spec_version": "2.1",
                    "id": format!("sighting--{}", uuid::Uuid::new_v4()),
                    "created": now,
                    "modified": now,
                    "sighting_of_ref": id,
                    "first_seen": now,
                    "last_seen": now,
                    "count": 1,
                });
                // An anonymous member is not named where it was hit (`created_by_ref` is
                // replaced by the ISAC's when the object is stored).
                if let Some(i) = identity.as_ref().filter(|_| !who.org_anonymous) {
                    s["where_sighted_refs"] = json!([i]);
                }
                s
            }
            Feedback::FalsePositive => json!({
                "type": "opinion",
                "spec_version": "2.1",
                "id": format!("opinion--{}", uuid::Uuid::new_v4()),
                "created": now,
                "modified": now,
                "opinion": "strongly-disagree",
                "explanation": "false positive",
                "labels": ["false-positive"],
                "object_refs": [id],
            }),
        };
        if let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) {
            let key = match what {
                Feedback::SeenHere => "description",
                Feedback::FalsePositive => "explanation",
            };
            let text = match what {
                Feedback::SeenHere => n.to_owned(),
                Feedback::FalsePositive => format!("false positive: {n}"),
            };
            obj[key] = json!(text);
        }
        if let Some(i) = &identity {
            obj["created_by_ref"] = json!(i);
        }
        obj["object_marking_refs"] = json!([marking.marking_ref()]);
        let feed_id = feed.id.clone();
        self.post_objects(who, &feed_id, vec![obj]).await
    }

    /// The STIX identity of the caller's organisation.
    async fn identity_of(&self, who: &Principal) -> Result<Option<String>, Error> {
        Ok(self
            .store
            .find_org(&who.org_name)
            .await?
            .map(|o| o.identity))
    }

    async fn post_objects(
        &self,
        who: &Principal,
        feed: &str,
        objects: Vec<Value>,
    ) -> Result<Status, Error> {
        let envelope = serde_json::to_vec(&json!({ "objects": objects }))
            .map_err(|e| Error::Internal(crate::store::StoreError::Internal(Box::new(e))))?;
        self.add_objects(who, feed, &envelope).await
    }
}
