//! Routing rules, consumer profiles and webhooks in SQLite.

use relay_core::profile::Profile;
use relay_core::routing::{RoutingRule, RuleField, RuleMatch};
use relay_core::store::{Delivery, NewWebhook, ProfileOwner, StoreError, Webhook};
use rusqlite::{Connection, params};
use stix::Timestamp;

use super::accounts::{corrupt, org_id};
use super::internal;

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Internal(Box::new(e))
}

pub fn add_rule(
    conn: &Connection,
    field: RuleField,
    matching: RuleMatch,
    value: &str,
    feed_seq: i64,
    now: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO routing_rules (field, matching, value, feed, created) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![field.as_str(), matching.as_str(), value, feed_seq, now],
    )
    .map_err(internal)?;
    Ok(conn.last_insert_rowid())
}

pub fn remove_rule(conn: &Connection, id: i64) -> Result<i64, StoreError> {
    let n = conn
        .execute("DELETE FROM routing_rules WHERE id = ?1", params![id])
        .map_err(internal)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no routing rule {id}")));
    }
    Ok(0)
}

pub fn list_rules(conn: &Connection) -> Result<Vec<RoutingRule>, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT r.id, r.field, r.matching, r.value, c.name
               FROM routing_rules r JOIN collections c ON c.seq = r.feed
              ORDER BY r.id",
        )
        .map_err(internal)?
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter()
        .map(|(id, field, matching, value, feed)| {
            Ok(RoutingRule {
                id,
                field: RuleField::parse(&field).map_err(corrupt)?,
                matching: RuleMatch::parse(&matching).map_err(corrupt)?,
                value,
                feed,
            })
        })
        .collect()
}

pub fn set_profile(
    conn: &Connection,
    owner: &ProfileOwner,
    profile: Option<&Profile>,
) -> Result<i64, StoreError> {
    let (org, token) = match owner {
        ProfileOwner::Org(name) => (Some(org_id(conn, name)?), None),
        ProfileOwner::Token(id) => {
            let exists: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM tokens WHERE id = ?1)",
                    params![id],
                    |r| r.get(0),
                )
                .map_err(internal)?;
            if !exists {
                return Err(StoreError::NotFound(format!("no token {id}")));
            }
            (None, Some(*id))
        }
    };
    conn.execute(
        "DELETE FROM profiles WHERE coalesce(org, 0) = coalesce(?1, 0)
           AND coalesce(token, 0) = coalesce(?2, 0)",
        params![org, token],
    )
    .map_err(internal)?;
    if let Some(p) = profile {
        let body = serde_json::to_string(p).map_err(json_error)?;
        conn.execute(
            "INSERT INTO profiles (org, token, body) VALUES (?1, ?2, ?3)",
            params![org, token, body],
        )
        .map_err(internal)?;
    }
    Ok(0)
}

pub fn profiles(
    conn: &Connection,
    org_id: i64,
    token_id: i64,
) -> Result<(Option<Profile>, Option<Profile>), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT org IS NOT NULL, body FROM profiles
              WHERE coalesce(org, 0) = ?1 AND token IS NULL
             UNION ALL
             SELECT org IS NOT NULL, body FROM profiles
              WHERE org IS NULL AND coalesce(token, 0) = ?2",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(params![org_id, token_id], |r| {
            Ok((r.get::<_, bool>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    let (mut by_org, mut by_token) = (None, None);
    for (is_org, body) in rows {
        let p: Profile = serde_json::from_str(&body).map_err(json_error)?;
        if is_org {
            by_org = Some(p);
        } else {
            by_token = Some(p);
        }
    }
    Ok((by_org, by_token))
}

pub fn create_webhook(
    conn: &Connection,
    hook: &NewWebhook,
    feed_seq: i64,
    now: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO webhooks (user_id, feed, url, secret, cursor, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            hook.user_id,
            feed_seq,
            hook.url,
            hook.secret,
            hook.cursor.as_micros(),
            now
        ],
    )
    .map_err(internal)?;
    Ok(conn.last_insert_rowid())
}

pub fn remove_webhook(conn: &Connection, id: i64, at: Timestamp) -> Result<i64, StoreError> {
    let n = conn
        .execute(
            "UPDATE webhooks SET removed = ?2 WHERE id = ?1 AND removed IS NULL",
            params![id, at.as_micros()],
        )
        .map_err(internal)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no active webhook {id}")));
    }
    Ok(0)
}

pub fn list_webhooks(conn: &Connection) -> Result<Vec<Webhook>, StoreError> {
    conn.prepare_cached(
        "SELECT w.id, u.name, u.org, c.id, w.url, w.secret, w.cursor, w.created, w.removed
           FROM webhooks w
           JOIN users u ON u.id = w.user_id
           JOIN collections c ON c.seq = w.feed
          ORDER BY w.id",
    )
    .map_err(internal)?
    .query_map([], |r| {
        Ok(Webhook {
            id: r.get(0)?,
            user_name: r.get(1)?,
            org_id: r.get(2)?,
            feed_id: r.get(3)?,
            url: r.get(4)?,
            secret: r.get(5)?,
            cursor: Timestamp::from_micros(r.get(6)?),
            created: Timestamp::from_micros(r.get(7)?),
            removed: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_micros),
        })
    })
    .map_err(internal)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(internal)
}

pub fn record_delivery(
    conn: &Connection,
    d: &Delivery,
    cursor: Option<Timestamp>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO webhook_deliveries
           (webhook, at, attempt, objects, http_status, error, delivered)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(internal)?
    .execute(params![
        d.webhook,
        d.at.as_micros(),
        d.attempt,
        i64::try_from(d.objects).unwrap_or(i64::MAX),
        d.http_status,
        d.error,
        d.delivered
    ])
    .map_err(internal)?;
    if let Some(c) = cursor {
        conn.prepare_cached("UPDATE webhooks SET cursor = ?2 WHERE id = ?1 AND cursor < ?2")
            .map_err(internal)?
            .execute(params![d.webhook, c.as_micros()])
            .map_err(internal)?;
    }
    Ok(())
}

pub fn deliveries(
    conn: &Connection,
    webhook: i64,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    conn.prepare_cached(
        "SELECT webhook, at, attempt, objects, http_status, error, delivered
           FROM webhook_deliveries WHERE webhook = ?1 ORDER BY seq DESC LIMIT ?2",
    )
    .map_err(internal)?
    .query_map(
        params![webhook, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| {
            Ok(Delivery {
                webhook: r.get(0)?,
                at: Timestamp::from_micros(r.get(1)?),
                attempt: r.get(2)?,
                objects: usize::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                http_status: r.get(4)?,
                error: r.get(5)?,
                delivered: r.get(6)?,
            })
        },
    )
    .map_err(internal)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(internal)
}
