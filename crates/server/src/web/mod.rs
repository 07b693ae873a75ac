//! The web pages at `/`: server-rendered HTML from askama templates compiled into the binary
//! (`templates/web/`), in Japanese or English (`i18n`), behind a session cookie (`session`).
//! Every page calls the same `relay_core::Relay` and engine services as the TAXII API and the
//! JSON API, with the same principal, so the pages can show nothing the API would not.
//! No script runs on any page; the Content-Security-Policy says so, and every asset is served
//! from the binary.
//!
//! - `pages`: dashboard, feed browsing, search, the object page and its feedback, charts.
//! - `register`: the registration form, its preview with per-line errors, and the result.
//! - `member`: tokens, IP ranges and notifications, applied block lists, export downloads.
//! - `admin`: organisations, users, trust groups, feed rights, the audit log.

mod admin;
pub mod i18n;
mod member;
mod pages;
mod register;
mod session;
mod view;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use relay_core::Error;

use crate::AppState;

/// The frame every page shares: language, title, who is logged in, the form token.
pub struct Chrome {
    pub t: &'static i18n::Text,
    pub lang: &'static str,
    pub title: String,
    pub user: Option<UserBadge>,
    /// The session's anti-forgery token, for the forms of the page.
    pub csrf: String,
    /// This page's path, URL-encoded, for the language switch to come back to.
    pub back: String,
    /// What the last action did.
    pub flash: Option<&'static str>,
}

pub struct UserBadge {
    pub name: String,
    pub org: String,
    pub admin: bool,
    pub writes: bool,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::dashboard))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/lang/{code}", get(session::switch_lang))
        .route("/feeds/{feed}", get(pages::feed))
        .route("/search", get(pages::search))
        .route("/objects/{id}", get(pages::object))
        .route("/objects/{id}/feedback", post(pages::feedback))
        .route("/charts/daily.svg", get(pages::daily_chart))
        .route("/charts/leadtime.svg", get(pages::lead_chart))
        .route("/register", get(register::form).post(register::submit))
        .route("/register/preview", post(register::preview))
        .route("/me/tokens", get(member::tokens).post(member::create_token))
        .route("/me/tokens/{id}/revoke", post(member::revoke_token))
        .route("/me/ranges", get(member::ranges).post(member::add_range))
        .route("/me/ranges/{id}/remove", post(member::remove_range))
        .route("/me/findings", post(member::update_findings))
        .route(
            "/me/applied",
            get(member::applied).post(member::upload_applied),
        )
        .route("/me/exports", get(member::exports))
        .route("/exports/{format}", get(member::download))
        .route("/admin/orgs", get(admin::orgs).post(admin::create_org))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route(
            "/admin/groups",
            get(admin::groups).post(admin::create_group),
        )
        .route("/admin/groups/members", post(admin::group_member))
        .route("/admin/feeds", get(admin::feeds))
        .route("/admin/feeds/grants", post(admin::grant))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/peers", get(admin::peers))
        .layer(axum::middleware::from_fn(secure_headers))
        .route("/static/app.css", get(stylesheet))
}

/// Headers of every page: nothing but our own styles and images loads, no script runs, no
/// other site frames the page, forms post only here, and nothing is cached or sniffed.
async fn secure_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

async fn stylesheet() -> Response {
    let mut r = Response::new(Body::from(include_str!("../../static/app.css")));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// A rendered page. A template that fails to render is a bug: an opaque 500, logged.
pub fn html<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = Response::new(Body::from(body));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot render a page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage {
    c: Chrome,
    status: u16,
    message: String,
}

/// The page for a service error, with the status the API would answer.
pub fn error_page(c: Chrome, e: Error) -> Response {
    let p = crate::error::problem(e);
    let page = ErrorPage {
        message: p.description.unwrap_or_else(|| p.title.to_owned()),
        status: p.status.as_u16(),
        c,
    };
    let mut resp = html(&page);
    *resp.status_mut() = p.status;
    if let Some(after) = p.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(after));
    }
    resp
}

/// A redirect after a form's action, to `to` with a note of what was done.
pub fn done(to: &str, flash: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    axum::response::Redirect::to(&format!("{to}{sep}done={flash}")).into_response()
}

/// The text for a `done=` note; unknown notes show nothing (the text is never the URL's).
pub fn flash(t: &'static i18n::Text, key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "sighting" => t.sighting_recorded,
        "false-positive" => t.false_positive_recorded,
        "revoked" => t.token_revoked,
        "range-added" => t.range_added,
        "range-removed" => t.range_removed,
        "findings" => t.findings_updated,
        "applied" => t.applied_uploaded,
        "ok" => t.done,
        _ => return None,
    })
}
