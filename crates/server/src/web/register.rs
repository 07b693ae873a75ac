//! Registration for people who do not write STIX: values typed or pasted one per line, or a
//! CSV file; a preview that shows each line's kind and pattern or its error, by line number;
//! and only when every line is right, the indicators, posted through the TAXII write path
//! (`Relay::register`). Nothing is stored from a list with an error.

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use relay_core::register::{self, Choices, Line};
use relay_core::{Error, FeedKind, Severity, Tlp};
use stix::Timestamp;

use super::session::Web;
use super::{Chrome, html};
use crate::AppState;

/// What the form holds, as typed, so that a page shown again keeps it.
#[derive(Debug, Default)]
pub struct FormValues {
    csrf: String,
    values: String,
    feed: String,
    tlp: String,
    severity: String,
    confidence: String,
    valid_until: String,
    description: String,
}

impl FormValues {
    fn choices(&self) -> Result<Choices, String> {
        let tlp = Tlp::parse(&self.tlp).ok_or_else(|| format!("unknown TLP '{}'", self.tlp))?;
        let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Choices {
            tlp,
            severity: opt(&self.severity)
                .map(|s| Severity::parse(&s))
                .transpose()?,
            confidence: opt(&self.confidence)
                .map(|c| register::parse_confidence(&c))
                .transpose()?,
            valid_until: opt(&self.valid_until)
                .map(|u| register::parse_until(&u))
                .transpose()?,
            description: opt(&self.description),
        })
    }
}

const TLPS: &[&str] = &["clear", "green", "amber", "amber+strict"];
const SEVERITIES: &[&str] = &["urgent", "important", "informational"];

#[derive(Template)]
#[template(path = "web/register.html")]
struct RegisterPage {
    c: Chrome,
    form: FormValues,
    feeds: Vec<String>,
    tlps: &'static [&'static str],
    severities: &'static [&'static str],
    error: Option<String>,
}

struct LineRow {
    number: usize,
    input: String,
    kind: String,
    error: bool,
    detail: String,
}

#[derive(Template)]
#[template(path = "web/preview.html")]
struct PreviewPage {
    c: Chrome,
    form: FormValues,
    feeds: Vec<String>,
    tlps: &'static [&'static str],
    severities: &'static [&'static str],
    lines: Vec<LineRow>,
    good: usize,
    bad: usize,
}

#[derive(Template)]
#[template(path = "web/status.html")]
struct StatusPage {
    c: Chrome,
    added: Vec<String>,
    present: usize,
    failures: Vec<String>,
}

/// The feeds a user may register indicators in: written to directly (not routed), live.
async fn target_feeds(s: &AppState, web: &Web) -> Result<Vec<String>, Error> {
    Ok(s.relay
        .collections(&web.who)
        .await?
        .into_iter()
        .filter(|(f, r)| {
            r.write
                && !f.retired
                && !f.routes()
                && matches!(f.kind, FeedKind::Regular | FeedKind::Test)
        })
        .map(|(f, _)| f.name)
        .collect())
}

async fn form_page(
    s: &AppState,
    web: &Web,
    form: FormValues,
    error: Option<String>,
) -> Result<Response, Error> {
    let page = RegisterPage {
        c: web.chrome(s, web.t().title_register),
        feeds: target_feeds(s, web).await?,
        tlps: TLPS,
        severities: SEVERITIES,
        form,
        error: error.clone(),
    };
    let mut r = html(&page);
    if error.is_some() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(r)
}

pub async fn form(State(s): State<AppState>, web: Web) -> Response {
    let form = FormValues {
        tlp: "green".into(),
        ..FormValues::default()
    };
    let r = form_page(&s, &web, form, None).await;
    web.answer(&s, r)
}

/// The lines of the form's text as they would be registered, or why the form is wrong.
fn read(form: &FormValues) -> Result<(Choices, Vec<Line>), String> {
    let choices = form.choices()?;
    let lines = register::read_lines(&form.values, &choices, Timestamp::now())?;
    Ok((choices, lines))
}

async fn preview_page(
    s: &AppState,
    web: &Web,
    form: FormValues,
    lines: &[Line],
) -> Result<Response, Error> {
    let rows: Vec<LineRow> = lines
        .iter()
        .map(|l| match &l.result {
            Ok(d) => LineRow {
                number: l.number,
                input: l.input.clone(),
                kind: d.observable.kind.to_string(),
                error: false,
                detail: d.pattern.clone(),
            },
            Err(e) => LineRow {
                number: l.number,
                input: l.input.clone(),
                kind: String::new(),
                error: true,
                detail: e.clone(),
            },
        })
        .collect();
    let bad = rows.iter().filter(|r| r.error).count();
    let page = PreviewPage {
        c: web.chrome(s, web.t().title_preview),
        feeds: target_feeds(s, web).await?,
        tlps: TLPS,
        severities: SEVERITIES,
        good: rows.len() - bad,
        bad,
        lines: rows,
        form,
    };
    let mut r = html(&page);
    if bad > 0 {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(r)
}

/// Reads the form (multipart: the fields and maybe a CSV file, which replaces the typed
/// values) and checks its anti-forgery token.
async fn read_form(s: &AppState, web: &Web, mut parts: Multipart) -> Result<FormValues, Error> {
    let mut form = FormValues::default();
    let mut file: Option<String> = None;
    while let Some(field) = parts
        .next_field()
        .await
        .map_err(|e| Error::Invalid(format!("unreadable form: {e}")))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| Error::Invalid(format!("unreadable form: {e}")))?;
        let text = || {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| Error::Invalid(format!("'{name}' is not UTF-8 text")))
        };
        match name.as_str() {
            "csrf" => form.csrf = text()?,
            "values" => form.values = text()?,
            "csv" if !bytes.is_empty() => {
                let t = text()?;
                file = Some(t.strip_prefix('\u{feff}').unwrap_or(&t).to_owned());
            }
            "feed" => form.feed = text()?,
            "tlp" => form.tlp = text()?,
            "severity" => form.severity = text()?,
            "confidence" => form.confidence = text()?,
            "valid_until" => form.valid_until = text()?,
            "description" => form.description = text()?,
            _ => {}
        }
    }
    web.check_form(s, &form.csrf)?;
    if let Some(f) = file {
        form.values = f;
    }
    Ok(form)
}

/// `POST /register/preview`: each line with its kind and pattern, or its error.
pub async fn preview(State(s): State<AppState>, web: Web, parts: Multipart) -> Response {
    let r = async {
        let form = read_form(&s, &web, parts).await?;
        match read(&form) {
            Ok((_, lines)) if lines.is_empty() => {
                let msg = web.t().register_help.to_owned();
                form_page(&s, &web, form, Some(msg)).await
            }
            Ok((_, lines)) => preview_page(&s, &web, form, &lines).await,
            Err(e) => form_page(&s, &web, form, Some(e)).await,
        }
    }
    .await;
    web.answer(&s, r)
}

/// `POST /register`: stores the indicators when every line is right; otherwise shows the
/// preview again, and stores nothing.
pub async fn submit(State(s): State<AppState>, web: Web, parts: Multipart) -> Response {
    let r = async {
        let form = read_form(&s, &web, parts).await?;
        let (choices, lines) = match read(&form) {
            Ok(x) => x,
            Err(e) => return form_page(&s, &web, form, Some(e)).await,
        };
        if lines.is_empty() || lines.iter().any(|l| l.result.is_err()) {
            return preview_page(&s, &web, form, &lines).await;
        }
        let drafts: Vec<_> = lines.into_iter().filter_map(|l| l.result.ok()).collect();
        let status = s
            .relay
            .register(&web.who, &form.feed, &choices, &drafts)
            .await?;
        let present = status
            .successes
            .iter()
            .filter(|d| d.message.as_deref().is_some_and(|m| m.contains("already")))
            .count();
        Ok(html(&StatusPage {
            c: web.chrome(&s, web.t().title_status),
            added: status.successes.iter().map(|d| d.id.clone()).collect(),
            present,
            failures: status
                .failures
                .iter()
                .map(|d| format!("{}: {}", d.id, d.message.as_deref().unwrap_or("")))
                .collect(),
        }))
    }
    .await;
    web.answer(&s, r)
}
