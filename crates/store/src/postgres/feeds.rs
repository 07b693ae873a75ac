//! Routing rules, consumer profiles and webhooks in PostgreSQL.

use deadpool_postgres::GenericClient;
use relay_core::profile::Profile;
use relay_core::routing::{RoutingRule, RuleField, RuleMatch};
use relay_core::store::{Delivery, NewWebhook, ProfileOwner, StoreError, Webhook};
use stix::Timestamp;

use super::accounts::{corrupt, exec, org_id, row_one, rows};
use super::sql::{Col, big};

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Internal(Box::new(e))
}

pub async fn add_rule<C: GenericClient>(
    c: &C,
    field: RuleField,
    matching: RuleMatch,
    value: &str,
    feed_seq: i64,
    now: i64,
) -> Result<i64, StoreError> {
    row_one(
        c,
        "INSERT INTO routing_rules (field, matching, value, feed, created)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[&field.as_str(), &matching.as_str(), &value, &feed_seq, &now],
    )
    .await?
    .col(0)
}

pub async fn remove_rule<C: GenericClient>(c: &C, id: i64) -> Result<i64, StoreError> {
    let n = exec(c, "DELETE FROM routing_rules WHERE id = $1", &[&id]).await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no routing rule {id}")));
    }
    Ok(0)
}

pub async fn list_rules<C: GenericClient>(c: &C) -> Result<Vec<RoutingRule>, StoreError> {
    rows(
        c,
        "SELECT r.id, r.field, r.matching, r.value, c.name
           FROM routing_rules r JOIN collections c ON c.seq = r.feed
          ORDER BY r.id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(RoutingRule {
            id: r.col(0)?,
            field: RuleField::parse(r.col(1)?).map_err(corrupt)?,
            matching: RuleMatch::parse(r.col(2)?).map_err(corrupt)?,
            value: r.col(3)?,
            feed: r.col(4)?,
        })
    })
    .collect()
}

pub async fn set_profile<C: GenericClient>(
    c: &C,
    owner: &ProfileOwner,
    profile: Option<&Profile>,
) -> Result<i64, StoreError> {
    let (org, token) = match owner {
        ProfileOwner::Org(name) => (Some(org_id(c, name).await?), None),
        ProfileOwner::Token(id) => {
            let exists: bool = row_one(
                c,
                "SELECT EXISTS (SELECT 1 FROM tokens WHERE id = $1)",
                &[id],
            )
            .await?
            .col(0)?;
            if !exists {
                return Err(StoreError::NotFound(format!("no token {id}")));
            }
            (None, Some(*id))
        }
    };
    exec(
        c,
        "DELETE FROM profiles WHERE coalesce(org, 0) = coalesce($1::bigint, 0)
           AND coalesce(token, 0) = coalesce($2::bigint, 0)",
        &[&org, &token],
    )
    .await?;
    if let Some(p) = profile {
        let body = serde_json::to_string(p).map_err(json_error)?;
        exec(
            c,
            "INSERT INTO profiles (org, token, body) VALUES ($1, $2, $3)",
            &[&org, &token, &body],
        )
        .await?;
    }
    Ok(0)
}

pub async fn profiles<C: GenericClient>(
    c: &C,
    org_id: i64,
    token_id: i64,
) -> Result<(Option<Profile>, Option<Profile>), StoreError> {
    let rows = rows(
        c,
        "SELECT org IS NOT NULL, body FROM profiles
          WHERE coalesce(org, 0) = $1 AND token IS NULL
         UNION ALL
         SELECT org IS NOT NULL, body FROM profiles
          WHERE org IS NULL AND coalesce(token, 0) = $2",
        &[&org_id, &token_id],
    )
    .await?;
    let (mut by_org, mut by_token) = (None, None);
    for r in &rows {
        let p: Profile = serde_json::from_str(r.col(1)?).map_err(json_error)?;
        if r.col(0)? {
            by_org = Some(p);
        } else {
            by_token = Some(p);
        }
    }
    Ok((by_org, by_token))
}

pub async fn create_webhook<C: GenericClient>(
    c: &C,
    hook: &NewWebhook,
    feed_seq: i64,
    now: i64,
) -> Result<i64, StoreError> {
    row_one(
        c,
        "INSERT INTO webhooks (user_id, feed, url, secret, cursor, created)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &hook.user_id,
            &feed_seq,
            &hook.url,
            &hook.secret,
            &hook.cursor.as_micros(),
            &now,
        ],
    )
    .await?
    .col(0)
}

pub async fn remove_webhook<C: GenericClient>(
    c: &C,
    id: i64,
    at: Timestamp,
) -> Result<i64, StoreError> {
    let n = exec(
        c,
        "UPDATE webhooks SET removed = $2 WHERE id = $1 AND removed IS NULL",
        &[&id, &at.as_micros()],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no active webhook {id}")));
    }
    Ok(0)
}

pub async fn list_webhooks<C: GenericClient>(c: &C) -> Result<Vec<Webhook>, StoreError> {
    rows(
        c,
        "SELECT w.id, u.name, u.org, c.id, w.url, w.secret, w.cursor, w.created, w.removed
           FROM webhooks w
           JOIN users u ON u.id = w.user_id
           JOIN collections c ON c.seq = w.feed
          ORDER BY w.id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Webhook {
            id: r.col(0)?,
            user_name: r.col(1)?,
            org_id: r.col(2)?,
            feed_id: r.col(3)?,
            url: r.col(4)?,
            secret: r.col(5)?,
            cursor: Timestamp::from_micros(r.col(6)?),
            created: Timestamp::from_micros(r.col(7)?),
            removed: r.col::<Option<i64>>(8)?.map(Timestamp::from_micros),
        })
    })
    .collect()
}

/// Logs a delivery attempt and, when it delivered, moves the cursor forward, in the caller's
/// transaction. Neither statement needs the write lock: the insert depends on nothing read,
/// and the cursor only moves forward by a conditional update.
pub async fn record_delivery<C: GenericClient>(
    c: &C,
    d: &Delivery,
    cursor: Option<Timestamp>,
) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO webhook_deliveries
           (webhook, at, attempt, objects, http_status, error, delivered)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &d.webhook,
            &d.at.as_micros(),
            &i64::from(d.attempt),
            &big(d.objects),
            &d.http_status.map(i64::from),
            &d.error,
            &i64::from(d.delivered),
        ],
    )
    .await?;
    if let Some(cur) = cursor {
        exec(
            c,
            "UPDATE webhooks SET cursor = $2 WHERE id = $1 AND cursor < $2",
            &[&d.webhook, &cur.as_micros()],
        )
        .await?;
    }
    Ok(())
}

pub async fn deliveries<C: GenericClient>(
    c: &C,
    webhook: i64,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    rows(
        c,
        "SELECT webhook, at, attempt, objects, http_status, error, delivered
           FROM webhook_deliveries WHERE webhook = $1 ORDER BY seq DESC LIMIT $2",
        &[&webhook, &big(limit)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Delivery {
            webhook: r.col(0)?,
            at: Timestamp::from_micros(r.col(1)?),
            attempt: u32::try_from(r.col::<i64>(2)?).unwrap_or(0),
            objects: usize::try_from(r.col::<i64>(3)?).unwrap_or(0),
            http_status: r.col::<Option<i64>>(4)?.and_then(|s| u16::try_from(s).ok()),
            error: r.col(5)?,
            delivered: r.col::<i64>(6)? != 0,
        })
    })
    .collect()
}
