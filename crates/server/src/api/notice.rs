//! Owner routing over HTTP: campaigns, their aggregated ranges and result uploads (scanners and
//! the ISAC), members' findings as JSON or CSV with bulk status updates, monthly reports and
//! the overlap report. Handlers only translate; `engine::notice::Notice` decides.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine::notice::{self, ResultFormat};
use futures_util::TryStreamExt;
use relay_core::Error;
use relay_core::notice::{
    Campaign, CampaignKind, Finding, FindingStatus, StatusUpdate, UploadRecord,
};
use serde::{Deserialize, Serialize};

use super::Params;
use super::admin::{body, created, ok};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/campaigns",
            get(list_campaigns).post(create_campaign),
        )
        .route("/api/v1/campaigns/{name}/ranges", get(ranges))
        .route("/api/v1/campaigns/{name}/results", post(upload))
        .route("/api/v1/campaigns/{name}/uploads", get(uploads))
        .route("/api/v1/findings", get(findings))
        .route("/api/v1/findings/status", post(update_status))
        .route("/api/v1/reports/monthly", get(monthly))
        .route("/api/v1/ranges/overlaps", get(overlaps))
}

/// What a scanner's credentials reach: the campaign list, a campaign's ranges and its result
/// uploads. Nothing else of anyone.
pub fn scanner_may(method: &axum::http::Method, path: &str) -> bool {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(
        (method.as_str(), parts.as_slice()),
        ("GET", ["", "api", "v1", "campaigns"])
            | ("GET", ["", "api", "v1", "campaigns", _, "ranges"])
            | ("POST", ["", "api", "v1", "campaigns", _, "results"])
    )
}

#[derive(Serialize)]
struct CampaignView {
    name: String,
    kind: &'static str,
    schedule: Option<String>,
    created: String,
    ranges: usize,
}

fn campaign_view(c: Campaign) -> CampaignView {
    CampaignView {
        name: c.name,
        kind: c.kind.as_str(),
        schedule: c.schedule,
        created: c.created.to_string(),
        ranges: c.ranges,
    }
}

async fn list_campaigns(
    State(s): State<AppState>,
    Caller(_who): Caller,
) -> Result<Response, ApiError> {
    let list: Vec<CampaignView> = s
        .notice
        .campaigns()
        .await?
        .into_iter()
        .map(campaign_view)
        .collect();
    Ok(ok(&serde_json::json!({ "campaigns": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCampaign {
    name: String,
    kind: Option<String>,
    schedule: Option<String>,
}

async fn create_campaign(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let n: NewCampaign = body(&bytes)?;
    let kind =
        CampaignKind::parse(n.kind.as_deref().unwrap_or("monthly")).map_err(Error::Invalid)?;
    let c = s
        .notice
        .create_campaign(&who, &n.name, kind, n.schedule)
        .await?;
    Ok(created(&campaign_view(c)))
}

async fn ranges(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let nets = s.notice.aggregated_ranges(&who, &name).await?;
    let mut text = String::with_capacity(nets.len() * 20);
    for n in nets {
        text.push_str(&n.to_string());
        text.push('\n');
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(r)
}

#[derive(Serialize)]
struct UploadView {
    lines: u64,
    added: u64,
    merged: u64,
    unmatched: u64,
    malformed: u64,
    errors: Vec<String>,
    uploader: String,
    at: Option<String>,
}

fn upload_view(u: UploadRecord) -> UploadView {
    UploadView {
        lines: u.lines,
        added: u.added,
        merged: u.merged,
        unmatched: u.unmatched,
        malformed: u.malformed,
        errors: u.errors,
        uploader: u.uploader,
        at: u.at.map(|t| t.to_string()),
    }
}

/// The body is read as it arrives: a file of tens of millions of lines never sits in memory.
async fn upload(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    raw: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(q);
    let format = match params.get("format") {
        Some(f) => Some(ResultFormat::parse(f).map_err(Error::Invalid)?),
        None => headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(ResultFormat::from_content_type),
    };
    let stream = raw.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    let input =
        std::io::BufReader::with_capacity(256 * 1024, tokio_util::io::SyncIoBridge::new(reader));
    let upload = notice::Upload {
        input: Box::new(input),
        format,
        progress: None,
    };
    let record = s.notice.upload(&who, &name, upload).await?;
    Ok(ok(&upload_view(record)))
}

async fn uploads(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let list: Vec<UploadView> = s
        .notice
        .uploads(&who, &name)
        .await?
        .into_iter()
        .map(upload_view)
        .collect();
    Ok(ok(&serde_json::json!({ "uploads": list })))
}

#[derive(Serialize)]
struct FindingView {
    id: i64,
    campaign: String,
    org: String,
    ip: String,
    port: Option<u16>,
    protocol: Option<String>,
    finding: String,
    first_observed: String,
    last_observed: String,
    times_seen: u32,
    detail: Option<String>,
    status: &'static str,
    status_at: Option<String>,
    status_note: Option<String>,
}

fn finding_view(f: Finding) -> FindingView {
    FindingView {
        id: f.id,
        campaign: f.campaign,
        org: f.org_name,
        ip: f.ip,
        port: (f.port != 0).then_some(f.port),
        protocol: (!f.protocol.is_empty()).then_some(f.protocol),
        finding: f.finding,
        first_observed: f.first_observed.to_string(),
        last_observed: f.last_observed.to_string(),
        times_seen: f.times_seen,
        detail: f.detail,
        status: f.status.as_str(),
        status_at: f.status_at.map(|t| t.to_string()),
        status_note: f.status_note,
    }
}

/// `?org=&campaign=&status=&after=&limit=&format=json|csv`. JSON pages carry `next` (the
/// `after` of the next page); CSV has a header row and follows `Link: rel="next"`.
async fn findings(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let status = p
        .get("status")
        .map(FindingStatus::parse)
        .transpose()
        .map_err(Error::Invalid)?;
    let number = |name: &str, default: i64| -> Result<i64, ApiError> {
        p.get(name).map_or(Ok(default), |v| {
            v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                Error::Invalid(format!("'{name}' must be a whole number, not '{v}'")).into()
            })
        })
    };
    let after = number("after", 0)?;
    let limit = usize::try_from(number("limit", 1000)?).unwrap_or(1000);
    let page = s
        .notice
        .findings(&who, p.get("org"), p.get("campaign"), status, after, limit)
        .await?;
    let next = (page.len() >= limit.clamp(1, notice::MAX_PAGE))
        .then(|| page.last().map(|f| f.id))
        .flatten();
    match p.get("format").unwrap_or("json") {
        "csv" => {
            let mut r = Response::new(Body::from(notice::findings_csv(&page, true)));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Some(n) = next
                && let Ok(v) = HeaderValue::from_str(&format!("<?after={n}>; rel=\"next\""))
            {
                h.insert(header::LINK, v);
            }
            Ok(r)
        }
        "json" => Ok(ok(&serde_json::json!({
            "findings": page.into_iter().map(finding_view).collect::<Vec<_>>(),
            "next": next,
        }))),
        other => Err(Error::Invalid(format!("format '{other}': expected json or csv")).into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateView {
    id: i64,
    status: String,
    note: Option<String>,
}

/// A JSON array of `{id, status, note}`, or CSV `id,status[,note]` (Content-Type text/csv).
async fn update_status(
    State(s): State<AppState>,
    Caller(who): Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/csv"));
    let updates = if csv {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::Invalid("the CSV is not UTF-8".into()))?;
        notice::parse_status_csv(text)?
    } else {
        let list: Vec<UpdateView> = body(&bytes)?;
        list.into_iter()
            .map(|u| {
                Ok(StatusUpdate {
                    id: u.id,
                    status: FindingStatus::parse(&u.status).map_err(Error::Invalid)?,
                    note: u.note,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?
    };
    let changed = s.notice.update_status(&who, updates).await?;
    Ok(ok(&serde_json::json!({ "changed": changed })))
}

async fn monthly(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let month = p
        .get("month")
        .ok_or_else(|| Error::Invalid("'month' (YYYY-MM) is required".into()))?;
    let report = s.notice.monthly_report(&who, month, p.get("org")).await?;
    Ok(ok(&report))
}

#[derive(Serialize)]
struct OverlapView {
    net: String,
    org: String,
    other_net: String,
    other_org: String,
}

async fn overlaps(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let list: Vec<OverlapView> = s
        .notice
        .overlaps(&who)
        .await?
        .into_iter()
        .map(|o| OverlapView {
            net: o.net.to_string(),
            org: o.org,
            other_net: o.other_net.to_string(),
            other_org: o.other_org,
        })
        .collect();
    Ok(ok(&serde_json::json!({ "overlaps": list })))
}
