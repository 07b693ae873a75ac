//! Who is looking at a page: the session cookie resolved to a principal (`Web`), or a visitor
//! not logged in (`Visitor`); the page's language; login, logout and the language switch; the
//! anti-forgery check of every form. A session is a token of the user's own
//! (`Relay::open_session`), so it is checked like any token and revoked at logout.

use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use relay_core::{Error, Principal};
use serde::Deserialize;

use super::i18n::{Lang, Text};
use super::{Chrome, UserBadge, html};
use crate::AppState;

pub const SESSION_COOKIE: &str = "isac_session";
const LOGIN_COOKIE: &str = "isac_login";
const LANG_COOKIE: &str = "isac_lang";

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The page's language: the visitor's choice (cookie), else the browser's.
fn lang_of(headers: &HeaderMap) -> Lang {
    cookie_value(headers, LANG_COOKIE)
        .and_then(|v| Lang::parse(&v))
        .unwrap_or_else(|| Lang::negotiate(headers))
}

/// The request's path and query, for links back to it.
fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
}

/// A path on this site to go back to: only a local absolute path, never another site.
pub fn local_path(p: &str) -> &str {
    let ok = p.starts_with('/')
        && !p.starts_with("//")
        && !p.contains('\\')
        && !p.bytes().any(|b| b.is_ascii_control());
    if ok { p } else { "/" }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Whether cookies must be `Secure`: the configuration says so, or the proxy in front says the
/// browser came over HTTPS.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

fn set_cookie(resp: &mut Response, c: Cookie<'_>) {
    if let Ok(v) = HeaderValue::from_str(&c.encoded().to_string()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn private_cookie(
    name: &'static str,
    value: String,
    max_age: i64,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

/// A logged-in user's request.
pub struct Web {
    pub who: Principal,
    secret: String,
    pub lang: Lang,
    /// This page's path and query.
    pub path: String,
}

impl Web {
    pub fn t(&self) -> &'static Text {
        self.lang.text()
    }

    /// The frame of a page titled `title`.
    pub fn chrome(&self, state: &AppState, title: impl Into<String>) -> Chrome {
        Chrome {
            t: self.t(),
            lang: self.lang.code(),
            title: title.into(),
            user: Some(UserBadge {
                name: self.who.user_name.clone(),
                org: self.who.org_name.clone(),
                admin: self.who.is_isac_admin(),
                writes: self.who.role.writes() && !self.who.read_only,
            }),
            csrf: state.relay.form_token(&self.secret),
            back: encode(&self.path),
            flash: None,
        }
    }

    /// Refuses a form that does not carry this session's anti-forgery token.
    pub fn check_form(&self, state: &AppState, token: &str) -> Result<(), Error> {
        if state.relay.check_form_token(&self.secret, token) {
            Ok(())
        } else {
            Err(Error::Forbidden(self.t().forged.into()))
        }
    }

    /// The page for a failed action: a session that ended goes back to the login page.
    pub fn fail(&self, state: &AppState, e: Error) -> Response {
        if matches!(e, Error::Unauthenticated) {
            return to_login(&self.path);
        }
        super::error_page(self.chrome(state, self.t().title_error), e)
    }

    /// Answers with `r`, or the page for its error.
    pub fn answer(&self, state: &AppState, r: Result<Response, Error>) -> Response {
        r.unwrap_or_else(|e| self.fail(state, e))
    }
}

fn to_login(from: &str) -> Response {
    Redirect::to(&format!("/login?next={}", encode(local_path(from)))).into_response()
}

impl FromRequestParts<AppState> for Web {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let path = here(parts);
        let lang = lang_of(&parts.headers);
        let Some(secret) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login(&path));
        };
        match state
            .relay
            .session(&secret, crate::auth::origin(parts))
            .await
        {
            Ok(who) => Ok(Web {
                who,
                secret,
                lang,
                path,
            }),
            Err(Error::Unauthenticated) => {
                // An ended session: forget its cookie, so it is not presented (and counted as
                // a failed login) again.
                let mut resp = to_login(&path);
                set_cookie(&mut resp, removal(SESSION_COOKIE));
                Err(resp)
            }
            Err(e) => {
                let v = Visitor { lang, path };
                Err(super::error_page(v.chrome(lang.text().title_error), e))
            }
        }
    }
}

/// A request from someone not (necessarily) logged in.
pub struct Visitor {
    pub lang: Lang,
    pub path: String,
}

impl Visitor {
    pub fn chrome(&self, title: &str) -> Chrome {
        Chrome {
            t: self.lang.text(),
            lang: self.lang.code(),
            title: title.to_owned(),
            user: None,
            csrf: String::new(),
            back: encode(&self.path),
            flash: None,
        }
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Visitor {
            lang: lang_of(&parts.headers),
            path: here(parts),
        })
    }
}

#[derive(askama::Template)]
#[template(path = "web/login.html")]
struct LoginPage {
    c: Chrome,
    csrf: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// A login form with a fresh nonce: the form's anti-forgery token is the nonce's keyed hash,
/// and the nonce travels in a cookie, so a form posted from another site cannot match.
fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    v: &Visitor,
    next: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let nonce = relay_core::token::generate_token();
    let page = LoginPage {
        c: v.chrome(v.lang.text().title_login),
        csrf: state.relay.form_token(&nonce),
        next: local_path(next).to_owned(),
        error,
    };
    let mut resp = html(&page);
    *resp.status_mut() = status;
    set_cookie(
        &mut resp,
        private_cookie(LOGIN_COOKIE, nonce, 3600, secure(state, headers)),
    );
    resp
}

pub async fn login_page(
    State(s): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = q.next.unwrap_or_else(|| "/".into());
    login_form(&s, &headers, &v, &next, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

pub async fn login(
    State(s): State<AppState>,
    v: Visitor,
    crate::auth::FromOrigin(origin): crate::auth::FromOrigin,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let t = v.lang.text();
    let next = f.next.unwrap_or_else(|| "/".into());
    let nonce_ok = cookie_value(&headers, LOGIN_COOKIE)
        .is_some_and(|nonce| s.relay.check_form_token(&nonce, &f.csrf));
    if !nonce_ok {
        return login_form(
            &s,
            &headers,
            &v,
            &next,
            Some(t.login_expired.into()),
            StatusCode::FORBIDDEN,
        );
    }
    match s.relay.open_session(&f.user, &f.password, origin).await {
        Ok(session) => {
            let mut resp = Redirect::to(local_path(&next)).into_response();
            let max_age = relay_core::service::SESSION_HOURS * 3600;
            set_cookie(
                &mut resp,
                private_cookie(
                    SESSION_COOKIE,
                    session.secret,
                    max_age,
                    secure(&s, &headers),
                ),
            );
            set_cookie(&mut resp, removal(LOGIN_COOKIE));
            resp
        }
        Err(Error::Unauthenticated) => login_form(
            &s,
            &headers,
            &v,
            &next,
            Some(t.login_failed.into()),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => super::error_page(v.chrome(t.title_error), e),
    }
}

fn removal(name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build((name, "")).path("/").build();
    c.make_removal();
    c
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(State(s): State<AppState>, web: Web, Form(f): Form<CsrfForm>) -> Response {
    if let Err(e) = web.check_form(&s, &f.csrf) {
        return web.fail(&s, e);
    }
    // The browser forgets the session whatever happens to it here.
    let mut resp = match s.relay.close_session(&web.who).await {
        Ok(()) => Redirect::to("/login").into_response(),
        Err(e) => web.fail(&s, e),
    };
    set_cookie(&mut resp, removal(SESSION_COOKIE));
    resp
}

#[derive(Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

/// `GET /lang/{ja|en}`: remembers the choice and goes back to the page it was made on.
pub async fn switch_lang(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<BackQuery>,
) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let back = q.back.unwrap_or_else(|| "/".into());
    let mut resp = Redirect::to(local_path(&back)).into_response();
    let c = Cookie::build((LANG_COOKIE, lang.code()))
        .path("/")
        .same_site(SameSite::Lax)
        .secure(secure(&s, &headers))
        .max_age(cookie::time::Duration::days(365))
        .build();
    set_cookie(&mut resp, c);
    resp
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(
            local_path("/feeds/C2?type=indicator"),
            "/feeds/C2?type=indicator"
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(local_path(bad), "/", "{bad:?}");
        }
    }
}
