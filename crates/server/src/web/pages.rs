//! Reading pages: the dashboard, a feed newest first, search by value, one object with its
//! versions, what refers to it and its TLP, the feedback buttons, and the metrics charts.

use askama::Template;
use axum::body::Body;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use relay_core::query::{decode_cursor, encode_cursor};
use relay_core::service::{Browse, Feedback};
use relay_core::{Error, Feed};
use serde::Deserialize;
use serde_json::Value;
use stix::Timestamp;

use super::session::Web;
use super::view::{ObjRow, title_of, tlp_class, tlp_label, tlp_meaning, when};
use super::{Chrome, done, flash, html};
use crate::AppState;

/// How many objects a feed page and the dashboard's latest list show.
const PAGE: usize = 50;
const LATEST: usize = 15;
/// Counting stops here: the dashboard says "1000+".
const COUNT_CAP: usize = 1000;

/// The types a feed page can be narrowed to.
const TYPES: &[&str] = &[
    "indicator",
    "observed-data",
    "sighting",
    "relationship",
    "report",
    "malware",
    "threat-actor",
    "campaign",
    "intrusion-set",
    "attack-pattern",
    "infrastructure",
    "tool",
    "vulnerability",
    "note",
    "opinion",
    "identity",
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "file",
];

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

struct FeedRow {
    name: String,
    description: Option<String>,
    severity: &'static str,
    volume: &'static str,
    tlp: String,
    tlp_class: &'static str,
    recent: String,
    rights: String,
}

#[derive(Template)]
#[template(path = "web/dashboard.html")]
struct Dashboard {
    c: Chrome,
    feeds: Vec<FeedRow>,
    rows: Vec<ObjRow>,
    charts: bool,
}

fn rows_of(feeds: &[Feed], objects: &[relay_core::StoredObject]) -> Vec<ObjRow> {
    objects
        .iter()
        .filter_map(|o| Some(ObjRow::new(feeds.iter().find(|f| f.id == o.feed_id)?, o)))
        .collect()
}

pub async fn dashboard(
    State(s): State<AppState>,
    web: Web,
    Query(q): Query<DoneQuery>,
) -> Response {
    let r = async {
        let t = web.t();
        let week_ago = Timestamp::from_micros(Timestamp::now().as_micros() - 7 * 86_400_000_000);
        let summaries = s
            .relay
            .feed_summaries(&web.who, week_ago, COUNT_CAP)
            .await?;
        let feeds: Vec<Feed> = summaries.iter().map(|f| f.feed.clone()).collect();
        let latest = s
            .relay
            .browse(
                &web.who,
                relay_core::catalogue::DEFAULT_FEED,
                &Browse {
                    limit: LATEST,
                    ..Browse::default()
                },
            )
            .await
            .map(|(_, page)| page.objects)
            .unwrap_or_default();
        let feed_rows = summaries
            .iter()
            .map(|f| FeedRow {
                name: f.feed.name.clone(),
                description: f.feed.description.clone(),
                severity: f.feed.severity.as_str(),
                volume: f.feed.volume.as_str(),
                tlp: tlp_label(f.feed.default_tlp),
                tlp_class: tlp_class(f.feed.default_tlp),
                recent: if f.capped {
                    format!("{}+", f.recent)
                } else {
                    f.recent.to_string()
                },
                rights: match (f.rights.read, f.rights.write) {
                    (true, true) => format!("{}, {}", t.read, t.write),
                    (true, false) => t.read.to_owned(),
                    _ => String::new(),
                },
            })
            .collect();
        let mut c = web.chrome(&s, t.nav_dashboard);
        c.flash = flash(t, q.done.as_deref());
        Ok(html(&Dashboard {
            c,
            feeds: feed_rows,
            rows: rows_of(&feeds, &latest),
            charts: true,
        }))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Template)]
#[template(path = "web/feed.html")]
struct FeedPage {
    c: Chrome,
    feed: String,
    types: &'static [&'static str],
    selected_type: String,
    rows: Vec<ObjRow>,
    older: Option<String>,
}

#[derive(Deserialize)]
pub struct FeedQuery {
    #[serde(rename = "type")]
    object_type: Option<String>,
    before: Option<String>,
}

pub async fn feed(
    State(s): State<AppState>,
    web: Web,
    Path(key): Path<String>,
    Query(q): Query<FeedQuery>,
) -> Response {
    let r = async {
        let selected = q.object_type.unwrap_or_default();
        let before = match q.before.as_deref() {
            Some(b) => Some(
                decode_cursor(b).ok_or_else(|| Error::Invalid(format!("bad page marker '{b}'")))?,
            ),
            None => None,
        };
        let browse = Browse {
            types: if selected.is_empty() {
                Vec::new()
            } else {
                vec![selected.clone()]
            },
            before,
            limit: PAGE,
        };
        let (feed, page) = s.relay.browse(&web.who, &key, &browse).await?;
        let feeds = s.relay.list_feeds(&web.who).await?;
        let older = match (page.more, page.objects.last()) {
            (true, Some(last)) => {
                let mut link = format!(
                    "/feeds/{}?before={}",
                    feed.name,
                    encode_cursor(last.date_added)
                );
                if !selected.is_empty() {
                    link.push_str("&type=");
                    link.extend(form_urlencoded::byte_serialize(selected.as_bytes()));
                }
                Some(link)
            }
            _ => None,
        };
        Ok(html(&FeedPage {
            c: web.chrome(&s, feed.name.clone()),
            feed: feed.name.clone(),
            types: TYPES,
            selected_type: selected,
            rows: rows_of(&feeds, &page.objects),
            older,
        }))
    }
    .await;
    web.answer(&s, r)
}

struct HitRow {
    added: String,
    kind: String,
    id: String,
    matched: String,
    feed: String,
    corroboration: u32,
}

#[derive(Template)]
#[template(path = "web/search.html")]
struct SearchPage {
    c: Chrome,
    q: String,
    searched: bool,
    error: Option<String>,
    hits: Vec<HitRow>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

pub async fn search(State(s): State<AppState>, web: Web, Query(q): Query<SearchQuery>) -> Response {
    let text = q.q.unwrap_or_default();
    let mut page = SearchPage {
        c: web.chrome(&s, web.t().nav_search),
        q: text.clone(),
        searched: false,
        error: None,
        hits: Vec::new(),
    };
    if text.trim().is_empty() {
        return html(&page);
    }
    match s.relay.search(&web.who, &text, Some(200), false).await {
        Ok(found) => {
            page.searched = true;
            page.hits = found
                .hits
                .into_iter()
                .map(|(feed, h)| HitRow {
                    added: when(h.date_added),
                    kind: h.object_type,
                    id: h.object_id,
                    matched: format!("{} {}", h.kind, h.value),
                    feed: feed.name,
                    corroboration: h.corroboration,
                })
                .collect();
            html(&page)
        }
        Err(Error::Invalid(m)) => {
            page.error = Some(m);
            let mut r = html(&page);
            *r.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            r
        }
        Err(e) => web.fail(&s, e),
    }
}

/// Something that refers to the object, as its page lists it.
struct Link {
    label: String,
    other: String,
}

#[derive(Template)]
#[template(path = "web/object.html")]
struct ObjectPage {
    c: Chrome,
    id: String,
    kind: String,
    feed: String,
    added: String,
    tlp: String,
    tlp_class: &'static str,
    tlp_meaning: &'static str,
    corroboration: u32,
    json: String,
    /// Version, added, feed, and the federation peer it came from ("" for a local post).
    versions: Vec<(String, String, String, String)>,
    relationships: Vec<Link>,
    sightings: Vec<Link>,
    false_positives: usize,
    others: Vec<Link>,
    can_feedback: bool,
    sdo: bool,
}

fn parse(body: Option<&str>) -> Value {
    body.and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null)
}

pub async fn object(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let r = async {
        let t = web.t();
        let view = s.relay.object_view(&web.who, &id).await?;
        // The current version: the highest, wherever it is.
        let (feed, current) = view
            .versions
            .iter()
            .max_by_key(|(_, o)| (o.version, o.date_added))
            .ok_or_else(|| Error::NotFound(format!("no object '{id}'")))?;
        let body = parse(current.body.as_deref());
        let tlp = current.tlp;
        let kind = id.split_once("--").map_or("", |(k, _)| k).to_owned();
        let mut relationships = Vec::new();
        let mut sightings = Vec::new();
        let mut others = Vec::new();
        let mut false_positives = 0;
        for (_, o) in &view.referencing {
            let b = parse(o.body.as_deref());
            let ty = o.id.split_once("--").map_or("", |(k, _)| k);
            let s_ref = b.get("source_ref").and_then(Value::as_str);
            let t_ref = b.get("target_ref").and_then(Value::as_str);
            let rel = b.get("relationship_type").and_then(Value::as_str);
            match (ty, s_ref, t_ref, rel) {
                ("relationship", Some(src), Some(dst), Some(rel)) => {
                    let (label, other) = if src == id {
                        (format!("{rel} →"), dst)
                    } else {
                        (format!("← {rel}"), src)
                    };
                    relationships.push(Link {
                        label,
                        other: other.to_owned(),
                    });
                }
                ("sighting", ..) => {
                    let count = b.get("count").and_then(Value::as_u64).unwrap_or(1);
                    let seen = b
                        .get("last_seen")
                        .and_then(Value::as_str)
                        .and_then(|t| Timestamp::parse(t).ok())
                        .map_or_else(|| when(o.date_added), when);
                    sightings.push(Link {
                        label: format!("×{count} · {seen}"),
                        other: o.id.clone(),
                    });
                }
                _ => {
                    let fp = ty == "opinion"
                        && b.get("labels")
                            .and_then(Value::as_array)
                            .is_some_and(|l| l.iter().any(|v| v == "false-positive"));
                    if fp {
                        false_positives += 1;
                    }
                    others.push(Link {
                        label: format!("{ty}: {}", title_of(&b, &o.id)),
                        other: o.id.clone(),
                    });
                }
            }
        }
        let mut c = web.chrome(&s, title_of(&body, &id));
        c.flash = flash(t, q.done.as_deref());
        Ok(html(&ObjectPage {
            c,
            sdo: stix::vocab::is_sdo(&kind),
            can_feedback: web.who.role.writes() && !web.who.read_only,
            kind,
            feed: feed.name.clone(),
            added: when(current.date_added),
            tlp: tlp_label(tlp),
            tlp_class: tlp_class(tlp),
            tlp_meaning: tlp_meaning(t, tlp),
            corroboration: current.corroboration,
            json: serde_json::to_string_pretty(&body).unwrap_or_default(),
            versions: view
                .versions
                .iter()
                .map(|(f, o)| {
                    let source = o
                        .source_peer
                        .and_then(|id| view.sources.iter().find(|(p, _)| *p == id))
                        .map_or_else(String::new, |(_, name)| name.clone());
                    (
                        o.version.to_string(),
                        when(o.date_added),
                        f.name.clone(),
                        source,
                    )
                })
                .collect(),
            relationships,
            sightings,
            false_positives,
            others,
            id: id.clone(),
        }))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Deserialize)]
pub struct FeedbackForm {
    csrf: String,
    what: String,
    note: Option<String>,
}

pub async fn feedback(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    Form(f): Form<FeedbackForm>,
) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        let (what, note) = match f.what.as_str() {
            "seen" => (Feedback::SeenHere, "sighting"),
            "false-positive" => (Feedback::FalsePositive, "false-positive"),
            other => return Err(Error::Invalid(format!("unknown feedback '{other}'"))),
        };
        let status = s
            .relay
            .feedback(&web.who, &id, what, f.note.as_deref())
            .await?;
        if let Some(failure) = status.failures.first() {
            return Err(Error::Invalid(
                failure
                    .message
                    .clone()
                    .unwrap_or_else(|| "the feedback was refused".into()),
            ));
        }
        Ok(done(&format!("/objects/{id}"), note))
    }
    .await;
    web.answer(&s, r)
}

fn svg(body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    r
}

pub async fn daily_chart(State(s): State<AppState>, web: Web) -> Response {
    let r = async {
        let (from, to) = engine::metrics::period(None, None)?;
        let report = s.metrics.daily(&web.who, from, to).await?;
        let body = engine::metrics::chart::daily_svg(&report).map_err(Error::Unprocessable)?;
        Ok(svg(body))
    }
    .await;
    web.answer(&s, r)
}

pub async fn lead_chart(State(s): State<AppState>, web: Web) -> Response {
    let r = async {
        let leads = s.metrics.lead_times(&web.who).await?;
        let body = engine::metrics::chart::lead_svg(&leads).map_err(Error::Unprocessable)?;
        Ok(svg(body))
    }
    .await;
    web.answer(&s, r)
}
