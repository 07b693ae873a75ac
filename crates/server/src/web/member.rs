//! A member's own pages: API tokens, registered IP ranges and the notifications routed to the
//! organisation (NOTICE findings), the block lists it applies, and export downloads. Each
//! calls the service the JSON API calls, which scopes it to the caller's organisation.

use askama::Template;
use axum::extract::{Form, Path, Query, RawForm, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use relay_core::notice::{FindingStatus, StatusUpdate};
use relay_core::service::SESSION_TOKEN_NAME;
use relay_core::{Error, FeedKind, Role};
use serde::Deserialize;
use stix::Timestamp;

use super::session::Web;
use super::view::{tlp_label, when};
use super::{Chrome, done, flash, html};
use crate::AppState;
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

struct TokenRow {
    id: i64,
    user: String,
    name: String,
    read_only: bool,
    created: String,
    expires: String,
    state: &'static str,
    live: bool,
}

#[derive(Template)]
#[template(path = "web/tokens.html")]
struct TokensPage {
    c: Chrome,
    tokens: Vec<TokenRow>,
    secret: Option<String>,
}

async fn tokens_page(
    s: &AppState,
    web: &Web,
    secret: Option<String>,
    done: Option<&str>,
) -> Result<Response, Error> {
    let t = web.t();
    let now = Timestamp::now();
    let tokens = s
        .relay
        .list_tokens(&web.who)
        .await?
        .into_iter()
        .filter_map(|tok| {
            let expired = tok.expires.is_some_and(|e| e <= now);
            let live = tok.revoked.is_none() && !expired;
            // Ended browser sessions are history, not tokens to manage.
            if tok.name == SESSION_TOKEN_NAME && !live {
                return None;
            }
            Some(TokenRow {
                id: tok.id,
                user: tok.user_name,
                name: tok.name,
                read_only: tok.read_only,
                created: when(tok.created),
                expires: tok.expires.map_or_else(|| t.never.to_owned(), when),
                state: if tok.revoked.is_some() {
                    t.revoked
                } else if expired {
                    t.expired
                } else {
                    t.live
                },
                live,
            })
        })
        .collect();
    let mut c = web.chrome(s, t.title_tokens);
    c.flash = flash(t, done);
    Ok(html(&TokensPage { c, tokens, secret }))
}

pub async fn tokens(State(s): State<AppState>, web: Web, Query(q): Query<DoneQuery>) -> Response {
    let r = tokens_page(&s, &web, None, q.done.as_deref()).await;
    web.answer(&s, r)
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    name: String,
    expires_days: Option<String>,
    read_only: Option<String>,
}

pub async fn create_token(
    State(s): State<AppState>,
    web: Web,
    Form(f): Form<TokenForm>,
) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        let days = days_valid(f.expires_days.as_deref())?;
        let user = web.who.user_name.clone();
        let (_, secret) = s
            .relay
            .create_token(&web.who, &user, f.name.trim(), days, f.read_only.is_some())
            .await?;
        tokens_page(&s, &web, Some(secret), None).await
    }
    .await;
    web.answer(&s, r)
}

/// A form's "days valid" field: empty for none, else a whole number of days.
fn days_valid(field: Option<&str>) -> Result<Option<u32>, Error> {
    match field.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) => d
            .parse::<u32>()
            .map(Some)
            .map_err(|_| Error::Invalid(format!("days valid '{d}' is not a whole number"))),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn revoke_token(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        s.relay.revoke_token(&web.who, id).await?;
        Ok(done("/me/tokens", "revoked"))
    }
    .await;
    web.answer(&s, r)
}

struct AssetRow {
    id: i64,
    org: String,
    kind: &'static str,
    value: String,
    valid: String,
}

struct FindingRow {
    id: i64,
    campaign: String,
    ip: String,
    port: u16,
    finding: String,
    last_seen: String,
    times_seen: u32,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "web/ranges.html")]
struct RangesPage {
    c: Chrome,
    assets: Vec<AssetRow>,
    manages: bool,
    findings: Vec<FindingRow>,
    statuses: Vec<&'static str>,
    status: String,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct RangesQuery {
    done: Option<String>,
    status: Option<String>,
    after: Option<i64>,
}

/// How many findings a page lists.
const FINDINGS_PAGE: usize = 100;

pub async fn ranges(State(s): State<AppState>, web: Web, Query(q): Query<RangesQuery>) -> Response {
    let r = async {
        let t = web.t();
        let status = match q.status.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => Some(FindingStatus::parse(v).map_err(Error::Invalid)?),
            None => None,
        };
        let assets = s
            .exports
            .assets(&web.who, None)
            .await?
            .into_iter()
            .map(|a| AssetRow {
                id: a.id,
                org: a.org_name,
                kind: a.kind.code(),
                value: a.value,
                valid: format!(
                    "{} – {}",
                    a.valid_from.map_or_else(|| when(a.added), when),
                    a.valid_until.map_or_else(String::new, when)
                ),
            })
            .collect();
        let after = q.after.unwrap_or(0);
        let found = s
            .notice
            .findings(&web.who, None, None, status, after, FINDINGS_PAGE)
            .await?;
        let next = (found.len() == FINDINGS_PAGE).then(|| {
            format!(
                "/me/ranges?after={}&status={}",
                found.last().map_or(0, |f| f.id),
                status.map_or("", FindingStatus::as_str)
            )
        });
        let findings = found
            .into_iter()
            .map(|f| FindingRow {
                id: f.id,
                campaign: f.campaign,
                ip: f.ip,
                port: f.port,
                finding: f.finding,
                last_seen: when(f.last_observed),
                times_seen: f.times_seen,
                status: f.status.as_str(),
            })
            .collect();
        let mut c = web.chrome(&s, t.title_ranges);
        c.flash = flash(t, q.done.as_deref());
        Ok(html(&RangesPage {
            c,
            assets,
            manages: matches!(web.who.role, Role::OrgAdmin | Role::IsacAdmin) && !web.who.read_only,
            findings,
            statuses: FindingStatus::ALL.iter().map(|f| f.as_str()).collect(),
            status: status.map_or_else(String::new, |f| f.as_str().to_owned()),
            next,
        }))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Deserialize)]
pub struct RangeForm {
    csrf: String,
    value: String,
}

pub async fn add_range(State(s): State<AppState>, web: Web, Form(f): Form<RangeForm>) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        let org = web.who.org_name.clone();
        s.exports
            .add_asset(&web.who, &org, f.value.trim(), None, (None, None))
            .await?;
        Ok(done("/me/ranges", "range-added"))
    }
    .await;
    web.answer(&s, r)
}

pub async fn remove_range(
    State(s): State<AppState>,
    web: Web,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        s.exports.remove_asset(&web.who, id).await?;
        Ok(done("/me/ranges", "range-removed"))
    }
    .await;
    web.answer(&s, r)
}

/// `POST /me/findings`: the checked findings move to the chosen state (all or none).
pub async fn update_findings(
    State(s): State<AppState>,
    web: Web,
    RawForm(body): RawForm,
) -> Response {
    let r = async {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        web.check_form(&s, get("csrf").unwrap_or(""))?;
        let status = FindingStatus::parse(get("status").unwrap_or("")).map_err(Error::Invalid)?;
        let note = get("note")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let updates = pairs
            .iter()
            .filter(|(k, _)| k == "id")
            .map(|(_, v)| {
                v.parse::<i64>()
                    .map(|id| StatusUpdate {
                        id,
                        status,
                        note: note.clone(),
                    })
                    .map_err(|_| Error::Invalid(format!("bad finding id '{v}'")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        s.notice.update_status(&web.who, updates).await?;
        Ok(done("/me/ranges", "findings"))
    }
    .await;
    web.answer(&s, r)
}

struct AppliedRow {
    feed: String,
    tlp: String,
    entries: usize,
    uploaded: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "web/applied.html")]
struct AppliedPage {
    c: Chrome,
    lists: Vec<AppliedRow>,
    writable: Vec<String>,
}

pub async fn applied(State(s): State<AppState>, web: Web, Query(q): Query<DoneQuery>) -> Response {
    let r = async {
        let t = web.t();
        let feeds = s.relay.collections(&web.who).await?;
        let mut lists = Vec::new();
        for (f, _) in feeds.iter().filter(|(f, _)| f.kind == FeedKind::Regular) {
            match s.exports.applied(&web.who, &f.name).await {
                Ok(v) => lists.push(AppliedRow {
                    feed: v.feed,
                    tlp: tlp_label(v.tlp),
                    entries: v.entries.len(),
                    uploaded: when(v.uploaded),
                    expires: when(v.expires),
                }),
                Err(Error::NotFound(_) | Error::Forbidden(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let writable = feeds
            .into_iter()
            .filter(|(f, r)| r.write && f.kind == FeedKind::Regular && !f.retired)
            .map(|(f, _)| f.name)
            .collect();
        let mut c = web.chrome(&s, t.title_applied);
        c.flash = flash(t, q.done.as_deref());
        Ok(html(&AppliedPage { c, lists, writable }))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Deserialize)]
pub struct AppliedForm {
    csrf: String,
    feed: String,
    entries: String,
    expires_days: Option<String>,
}

pub async fn upload_applied(
    State(s): State<AppState>,
    web: Web,
    Form(f): Form<AppliedForm>,
) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        let expires = days_valid(f.expires_days.as_deref())?.map(|days| {
            Timestamp::from_micros(Timestamp::now().as_micros() + i64::from(days) * 86_400_000_000)
                .to_string()
        });
        s.exports
            .upload_applied(
                &web.who,
                &f.feed,
                f.entries.as_bytes(),
                Some("text/plain"),
                expires.as_deref(),
                None,
            )
            .await?;
        Ok(done("/me/applied", "applied"))
    }
    .await;
    web.answer(&s, r)
}

/// The block-list formats offered for download.
const FORMATS: &[&str] = &[
    "ip", "domain", "url", "hash", "rpz", "suricata", "nftables", "ipset", "csv", "stix",
];

#[derive(Template)]
#[template(path = "web/exports.html")]
struct ExportsPage {
    c: Chrome,
    feeds: Vec<String>,
    formats: &'static [&'static str],
}

pub async fn exports(State(s): State<AppState>, web: Web) -> Response {
    let r = async {
        let feeds = s
            .relay
            .list_feeds(&web.who)
            .await?
            .into_iter()
            .filter(|f| matches!(f.kind, FeedKind::Regular | FeedKind::Aggregate))
            .map(|f| f.name)
            .collect();
        Ok(html(&ExportsPage {
            c: web.chrome(&s, web.t().title_exports),
            feeds,
            formats: FORMATS,
        }))
    }
    .await;
    web.answer(&s, r)
}

/// `GET /exports/{format}?feed=…`: the block list, as the API streams it.
pub async fn download(
    State(s): State<AppState>,
    web: Web,
    Path(format): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    match crate::api::exports::export_response(&s, &web.who, &format, q, &headers).await {
        Ok(mut r) => {
            if let Some(v) = r
                .headers()
                .get(axum::http::header::CONTENT_DISPOSITION)
                .cloned()
                && let Ok(text) = v.to_str()
                && let Ok(attach) =
                    axum::http::HeaderValue::from_str(&text.replacen("inline", "attachment", 1))
            {
                r.headers_mut()
                    .insert(axum::http::header::CONTENT_DISPOSITION, attach);
            }
            r
        }
        Err(ApiError::Service(e)) => web.fail(&s, e),
        Err(other) => other.into_response(),
    }
}
