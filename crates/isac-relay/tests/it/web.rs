//! The web pages over plain HTTP: sessions, anti-forgery tokens, security headers, languages.
//! (`browser` drives the same pages in headless Chromium.)

use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::helpers::*;

/// A client that does not follow redirects, so that each answer can be checked.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the named cookie a response sets.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..].split(';').next().unwrap().to_owned();
            (value, v.to_owned())
        })
}

/// The `value` of the first hidden `csrf` input of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// Creates a member organisation and a user with a password.
pub async fn member_with_password(app: &TestApp, org_name: &str, user_name: &str, role: &str) {
    org(app, org_name, false).await;
    let (s, v) = admin(
        app,
        Method::POST,
        "/api/v1/users",
        Some(json!({"org": org_name, "name": user_name, "role": role, "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// The registration form, as a browser posts it.
fn registration(csrf: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .text("values", "192.0.2.99")
        .text("feed", "TEST")
        .text("tlp", "green")
}

/// Logs in through the form; returns the session cookie's value.
async fn login(app: &TestApp, user: &str, password: &str) -> Result<String, StatusCode> {
    let c = client();
    let page = c.get(app.url("/login")).send().await.unwrap();
    let (nonce, _) = set_cookie(&page, "isac_login").expect("a login nonce");
    let csrf = csrf_of(&page.text().await.unwrap());
    let r = c
        .post(app.url("/login"))
        .header(COOKIE, format!("isac_login={nonce}"))
        .form(&[
            ("user", user),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/search"),
        ])
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::SEE_OTHER {
        assert!(set_cookie(&r, "isac_session").is_none());
        return Err(r.status());
    }
    assert_eq!(r.headers()[LOCATION], "/search");
    let (session, attrs) = set_cookie(&r, "isac_session").expect("a session cookie");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax"),
        "{attrs}"
    );
    assert!(
        !attrs.contains("Secure"),
        "plain HTTP, not configured: {attrs}"
    );
    Ok(session)
}

#[tokio::test]
async fn pages_need_a_session_and_send_security_headers() {
    let app = spawn_app().await;
    let c = client();
    let r = c
        .get(app.url("/feeds/C2?type=indicator"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()[LOCATION],
        "/login?next=%2Ffeeds%2FC2%3Ftype%3Dindicator"
    );

    let r = c.get(app.url("/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("script-src"), "no script may run: {csp}");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"ja\">") && html.contains("ログイン"));
    assert!(!html.contains("<script"), "pages carry no script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing loads from elsewhere"
    );

    let en = c
        .get(app.url("/login"))
        .header(ACCEPT_LANGUAGE, "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Log in"));
    // The switch wins over the browser, and only goes back to a path of this site.
    let r = c
        .get(app.url("/lang/en?back=%2F%2Fevil.example%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/");
    let (lang, _) = set_cookie(&r, "isac_lang").unwrap();
    let ja_browser_en_choice = c
        .get(app.url("/login"))
        .header(ACCEPT_LANGUAGE, "ja")
        .header(COOKIE, format!("isac_lang={lang}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ja_browser_en_choice.contains("<html lang=\"en\">"));

    let css = c.get(app.url("/static/app.css")).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn logins_forms_and_logout() {
    let app = spawn_app().await;
    member_with_password(&app, "WebNet", "alice", "analyst").await;
    let c = client();

    assert_eq!(
        login(&app, "alice", "wrong").await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        login(&app, "nobody", "wrong").await,
        Err(StatusCode::UNAUTHORIZED)
    );
    // A login form posted without the nonce cookie (from another site) is refused.
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("user", "alice"),
            ("password", "correct horse battery"),
            ("csrf", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&r, "isac_session").is_none());

    let session = login(&app, "alice", "correct horse battery").await.unwrap();
    let cookie = format!("isac_session={session}");
    // A session's secret is no password: a stolen cookie cannot be renewed into a new session.
    assert_eq!(
        login(&app, "alice", &session).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    let page = c
        .get(app.url("/me/tokens"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("alice · WebNet"), "{html}");
    assert!(
        html.contains("web session"),
        "the session is listed among the tokens"
    );
    let csrf = csrf_of(&html);

    // A form without this session's token changes nothing.
    let test_feed = app.test_feed.clone();
    for token in ["", "0000", &csrf[..csrf.len() - 1]] {
        let r = c
            .post(app.url("/register"))
            .header(COOKIE, &cookie)
            .multipart(registration(token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "token {token:?}");
    }
    let objects = app
        .get_json(&format!("collections/{test_feed}/objects/"))
        .await;
    assert!(objects.get("objects").is_none(), "{objects}");

    // The session's own token is accepted.
    let (s, _) = admin(
        &app,
        Method::PUT,
        "/api/v1/feeds/TEST/grants/org/WebNet",
        Some(json!({"read": true, "write": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = c
        .post(app.url("/register"))
        .header(COOKIE, &cookie)
        .multipart(registration(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("indicator--"));

    // Logout ends the session everywhere: its cookie no longer opens a page.
    let r = c
        .post(app.url("/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = c
        .get(app.url("/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (gone, attrs) = set_cookie(&r, "isac_session").expect("the ended session is cleared");
    assert!(gone.is_empty() && attrs.contains("Max-Age=0"), "{attrs}");

    let log = app
        .client
        .get(app.url("/api/v1/audit?action=session."))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        log.contains("session.open") && log.contains("session.close"),
        "{log}"
    );
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let app = spawn_app_configured(
        relay_core::RelayConfig::default(),
        server::ServerConfig {
            secure_cookies: true,
            ..server::ServerConfig::default()
        },
    )
    .await;
    let r = client().get(app.url("/login")).send().await.unwrap();
    let (_, attrs) = set_cookie(&r, "isac_login").unwrap();
    assert!(attrs.contains("Secure"), "{attrs}");
}

/// A logged-in browser, over plain HTTP.
pub struct Session {
    c: reqwest::Client,
    cookie: String,
    addr: std::net::SocketAddr,
}

impl Session {
    pub async fn open(app: &TestApp, user: &str, password: &str) -> Session {
        let session = login(app, user, password).await.unwrap();
        Session {
            c: client(),
            cookie: format!("isac_session={session}"),
            addr: app.addr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .c
            .get(self.url(path))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts a form from the page `from` (with that page's token); returns where it led.
    async fn submit(
        &self,
        from: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let (_, html) = self.page(from).await;
        let csrf = csrf_of(&html);
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend_from_slice(fields);
        let r = self
            .c
            .post(self.url(action))
            .header(COOKIE, &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let location = r
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = r.text().await.unwrap();
        (status, location.unwrap_or(body))
    }
}

#[tokio::test]
async fn administration_and_member_pages() {
    let app = spawn_app().await;
    // The administrator has a token and no password: the token logs in as the password.
    let admin_session = Session::open(&app, "admin", TOKEN).await;
    let (s, to) = admin_session
        .submit(
            "/admin/orgs",
            "/admin/orgs",
            &[
                ("name", "CableCo"),
                ("kind", "member"),
                ("sector", "telecom"),
                ("country", "jp"),
            ],
        )
        .await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/orgs?done=ok")
    );
    let (_, html) = admin_session.page("/admin/orgs?done=ok").await;
    assert!(
        html.contains("CableCo") && html.contains("id=\"flash\""),
        "{html}"
    );
    let (s, _) = admin_session
        .submit(
            "/admin/users",
            "/admin/users",
            &[
                ("name", "cable-admin"),
                ("org", "CableCo"),
                ("role", "org-admin"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _) = admin_session
        .submit("/admin/groups", "/admin/groups", &[("name", "ISPs")])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _) = admin_session
        .submit(
            "/admin/groups",
            "/admin/groups/members",
            &[("group", "ISPs"), ("org", "CableCo"), ("action", "add")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _) = admin_session
        .submit(
            "/admin/feeds",
            "/admin/feeds/grants",
            &[
                ("feed", "C2"),
                ("grantee", "group:ISPs"),
                ("read", "1"),
                ("write", "1"),
                ("action", "grant"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, groups) = admin_session.page("/admin/groups").await;
    assert!(groups.contains("<td>ISPs</td><td>CableCo</td>"), "{groups}");
    let (_, feeds) = admin_session.page("/admin/feeds").await;
    assert!(feeds.contains("group ISPs:rw"), "{feeds}");
    // A bad value is an error page naming it, and changes nothing.
    let (s, html) = admin_session
        .submit(
            "/admin/orgs",
            "/admin/orgs",
            &[
                ("name", "X"),
                ("kind", "member"),
                ("sector", "bakery"),
                ("country", "JP"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("unknown sector &#39;bakery&#39;")
            || html.contains("unknown sector 'bakery'"),
        "{html}"
    );
    let (_, audit) = admin_session.page("/admin/audit?action=org.").await;
    assert!(
        audit.contains("org.create") && audit.contains("CableCo"),
        "{audit}"
    );

    // The member's administrator: ranges, an applied list, a block-list download.
    let member = Session::open(&app, "cable-admin", "correct horse battery").await;
    let (s, to) = member
        .submit("/me/ranges", "/me/ranges", &[("value", "198.51.100.0/24")])
        .await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/me/ranges?done=range-added")
    );
    let (_, ranges) = member.page("/me/ranges").await;
    assert!(ranges.contains("198.51.100.0/24"), "{ranges}");
    let (s, _) = member
        .submit(
            "/me/applied",
            "/me/applied",
            &[
                ("feed", "C2"),
                ("entries", "192.0.2.5\nevil.example\n"),
                ("expires_days", "30"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, applied) = member.page("/me/applied").await;
    assert!(
        applied.contains("<td>C2</td>") && applied.contains(">2</td>"),
        "{applied}"
    );
    let (_, exports) = member.page("/me/exports").await;
    assert!(exports.contains("/exports/rpz?feed=C2"), "{exports}");
    let r = member
        .c
        .get(member.url("/exports/ip?feed=C2"))
        .header(COOKIE, &member.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let (s, html) = member.page("/exports/nonsense?feed=C2").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("<html"), "an error page, not JSON");
    // Feedback on a TLP:RED object would tell the feed's other readers of it: refused, and
    // nothing is posted.
    let identity = {
        let (_, orgs) = admin(&app, Method::GET, "/api/v1/directory", None).await;
        orgs.as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "CableCo")
            .unwrap()["identity"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut red = indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
    red["object_marking_refs"] = json!([relay_core::Tlp::Red.marking_ref()]);
    red["extensions"] = json!({relay_core::tlp::RECIPIENTS_EXTENSION: {
        "extension_type": "property-extension", "recipient_refs": [identity]}});
    let (s, v) = post(&app, TOKEN, "C2", &[red.clone()]).await;
    assert_eq!(v["success_count"], 1, "{s} {v}");
    let red_id = red["id"].as_str().unwrap();
    let (s, html) = member.page(&format!("/objects/{red_id}")).await;
    assert_eq!(s, StatusCode::OK, "a named recipient reads it");
    assert!(html.contains("TLP:RED"));
    let (s, html) = member
        .submit(
            &format!("/objects/{red_id}"),
            &format!("/objects/{red_id}/feedback"),
            &[("what", "seen")],
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{html}");
    let all = taxii(
        &app,
        TOKEN,
        Method::GET,
        "collections/C2/objects/?match[type]=sighting",
    )
    .send()
    .await
    .unwrap()
    .json::<serde_json::Value>()
    .await
    .unwrap();
    assert!(all.get("objects").is_none(), "{all}");

    // Members are kept out of the administration pages.
    let (s, _) = member.page("/admin/users").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
