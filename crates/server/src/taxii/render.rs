//! TAXII 2.1 resources as JSON: discovery, API root, collections, envelopes, manifests and
//! versions, with the `X-TAXII-Date-Added-*` headers. Empty lists are omitted, as TAXII
//! requires (section 2, `list`). Stored objects are written out as stored, never re-parsed.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use relay_core::policy::FeedRights;
use relay_core::{Feed, ObjectPage};
use serde::Serialize;
use serde_json::json;

use crate::AppState;
use crate::media::{STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE};

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp
}

pub fn discovery(s: &AppState) -> Response {
    let root = s.api_root_path();
    let mut d = json!({
        "title": s.config.title,
        "default": root,
        "api_roots": [root],
    });
    if let Some(desc) = &s.config.description {
        d["description"] = json!(desc);
    }
    if let Some(contact) = &s.config.contact {
        d["contact"] = json!(contact);
    }
    json(StatusCode::OK, &d)
}

pub fn api_root(s: &AppState) -> Response {
    let mut d = json!({
        "title": s.config.title,
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": s.relay.config().max_content_length,
    });
    if let Some(desc) = &s.config.description {
        d["description"] = json!(desc);
    }
    json(StatusCode::OK, &d)
}

/// The collection resource a caller sees: rights are the caller's own.
#[derive(Serialize)]
pub struct CollectionView<'a> {
    id: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    can_read: bool,
    can_write: bool,
    media_types: [&'static str; 1],
}

pub fn collection_view(feed: &Feed, rights: FeedRights) -> CollectionView<'_> {
    CollectionView {
        id: &feed.id,
        title: &feed.name,
        description: feed.description.as_deref(),
        can_read: rights.read,
        can_write: rights.write,
        media_types: [STIX_MEDIA_TYPE],
    }
}

pub fn collections(feeds: &[(Feed, FeedRights)]) -> Response {
    if feeds.is_empty() {
        return json(StatusCode::OK, &json!({}));
    }
    let views: Vec<_> = feeds.iter().map(|(f, r)| collection_view(f, *r)).collect();
    json(StatusCode::OK, &json!({ "collections": views }))
}

/// Writes `{"more":..,"next":..,"<key>":[items]}`, or `{}` for an empty page, and adds the
/// date-added headers.
fn paged(page: &ObjectPage, key: &str, mut item: impl FnMut(&mut String, usize)) -> Response {
    let mut out = String::with_capacity(
        64 + page
            .objects
            .iter()
            .map(|o| o.body.as_ref().map_or(160, String::len) + 1)
            .sum::<usize>(),
    );
    out.push('{');
    if !page.objects.is_empty() {
        out.push_str(if page.more {
            "\"more\":true,"
        } else {
            "\"more\":false,"
        });
        if let Some(next) = page.next() {
            out.push_str("\"next\":");
            out.push_str(&serde_json::Value::String(next).to_string());
            out.push(',');
        }
        out.push('"');
        out.push_str(key);
        out.push_str("\":[");
        for i in 0..page.objects.len() {
            if i > 0 {
                out.push(',');
            }
            item(&mut out, i);
        }
        out.push(']');
    }
    out.push('}');
    let mut resp = Response::new(Body::from(out));
    if let (Some(first), Some(last)) = (page.objects.first(), page.objects.last()) {
        let h = resp.headers_mut();
        // A capped poll passes over objects it does not serve: its last is the newest it
        // considered, so that a client continuing from it skips them.
        let last = page
            .considered_through
            .map_or(last.date_added, |c| c.max(last.date_added));
        for (name, t) in [
            ("x-taxii-date-added-first", first.date_added),
            ("x-taxii-date-added-last", last),
        ] {
            if let Ok(v) = HeaderValue::from_str(&t.to_string()) {
                h.insert(name, v);
            }
        }
    }
    resp
}

pub fn envelope(page: &ObjectPage) -> Response {
    paged(page, "objects", |out, i| {
        let o = &page.objects[i];
        match o.body.as_deref() {
            Some(body) => relay_core::corroboration::write_annotated(out, body, o.corroboration),
            None => out.push_str("null"),
        }
    })
}

pub fn manifest(page: &ObjectPage) -> Response {
    paged(page, "objects", |out, i| {
        let o = &page.objects[i];
        let record = json!({
            "id": o.id,
            "date_added": o.date_added.to_string(),
            "version": o.version.to_string(),
            "media_type": STIX_MEDIA_TYPE,
        });
        out.push_str(&record.to_string());
    })
}

pub fn versions(page: &ObjectPage) -> Response {
    paged(page, "versions", |out, i| {
        out.push('"');
        out.push_str(&page.objects[i].version.to_string());
        out.push('"');
    })
}
