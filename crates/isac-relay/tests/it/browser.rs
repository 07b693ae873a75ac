//! The web pages end to end in headless Chromium, driven through WebDriver (ChromeDriver) by
//! fantoccini: what a member's staff does in a browser. Screenshots of the main pages are
//! written to `target/screenshots/` as test artefacts.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/test-all.sh installs them).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::*;
use super::web::member_with_password;

const PASSWORD: &str = "correct horse battery";

/// A ChromeDriver process and a headless Chromium session on it; both end on drop.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts a browser whose preferred language is `lang` (`Accept-Language`).
    async fn start(lang: &str) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test-all.sh installs it)");
        let profile = tempfile::tempdir().unwrap();
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                    format!("--lang={lang}"), format!("--accept-lang={lang}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": { "intl.accept_languages": lang },
            }
        }))
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        // ChromeDriver takes a moment to listen: retry the session until it does (bounded).
        let mut last_err = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        driver,
                        _profile: profile,
                    };
                }
                Err(e) => {
                    last_err = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("no WebDriver session: {last_err:?}");
    }

    async fn goto(&self, app: &TestApp, path: &str) {
        self.client.goto(&app.url(path)).await.unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }

    async fn text(&self, css: &str) -> String {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e.text().await.unwrap(),
            Err(e) => {
                let page = self.source().await;
                let at = self.path().await;
                panic!("{css}: {e} on {at}:\n{page}")
            }
        }
    }

    async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    async fn path(&self) -> String {
        let u = self.client.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    async fn login(&self, app: &TestApp, user: &str) {
        self.goto(app, "/login").await;
        self.fill("#user", user).await;
        self.fill("#password", PASSWORD).await;
        self.click("#login").await;
        self.text("#logout").await;
    }

    /// Saves a screenshot of the page as `target/screenshots/{name}.png`.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

/// A member analyst logs in, registers two indicators with the form, finds one by search,
/// opens it, says it was seen here, and fetches it over TAXII with a token made on its page.
#[tokio::test]
async fn member_registers_finds_and_fetches_over_taxii() {
    let app = spawn_app().await;
    member_with_password(&app, "ExampleNet", "noc", "analyst").await;
    grant(&app, "C2", "org", "ExampleNet", true, true).await;
    let b = Browser::start("ja").await;

    // Japanese by default for a Japanese browser; English on request, and back.
    b.goto(&app, "/").await;
    assert_eq!(b.path().await, "/login?next=%2F");
    assert_eq!(b.text("#login").await, "ログイン");
    b.screenshot("login-ja").await;
    b.click("#lang-en").await;
    assert_eq!(b.text("#login").await, "Log in");
    b.screenshot("login-en").await;
    b.click("#lang-ja").await;
    assert_eq!(b.text("#login").await, "ログイン");

    // A wrong password is told, and nothing opens.
    b.fill("#user", "noc").await;
    b.fill("#password", "wrong").await;
    b.click("#login").await;
    assert!(b.text("#error").await.contains("パスワード"));

    b.login(&app, "noc").await;
    assert!(b.source().await.contains("ダッシュボード"));
    b.screenshot("dashboard").await;

    // Register: values of two kinds, detected; a preview, then the indicators.
    b.goto(&app, "/register").await;
    b.fill("#values", "198.51.100.23\nhttp://phish.example/login\n")
        .await;
    b.select("#feed", "C2").await;
    b.select("#tlp-choice", "amber").await;
    b.select("#severity", "urgent").await;
    b.fill("#confidence", "80").await;
    b.fill("#description", "C2 seen in our honeypot").await;
    b.screenshot("register").await;
    b.click("#preview").await;
    let preview = b.text("#preview-lines").await;
    assert!(
        preview.contains("[ipv4-addr:value = '198.51.100.23']"),
        "{preview}"
    );
    assert!(
        preview.contains("[url:value = 'http://phish.example/login']"),
        "{preview}"
    );
    b.screenshot("register-preview").await;
    b.click("#confirm").await;
    let summary = b.text("#status-summary").await;
    assert!(summary.contains(": 2"), "{summary}");
    b.screenshot("register-result").await;

    // Find it by value, open it: the TLP is shown plainly.
    b.goto(&app, "/search").await;
    // A network finds the address inside it.
    b.fill("#q", "198.51.100.0/24").await;
    b.click("#search").await;
    let hits = b.text("#hits").await;
    assert!(hits.contains("ipv4 198.51.100.23"), "{hits}");
    b.screenshot("search").await;
    b.click("#hits a.object-link").await;
    assert!(b.text("#tlp").await.starts_with("TLP:AMBER"));
    let id = b.text("#object-id").await;
    assert!(id.starts_with("indicator--"), "{id}");
    let body: Value = serde_json::from_str(&b.text("#body").await).unwrap();
    assert_eq!(body["pattern"], "[ipv4-addr:value = '198.51.100.23']");
    assert_eq!(body["confidence"], 80);
    assert_eq!(body["labels"], json!(["severity:urgent"]));
    stix::check_object(&body).expect("the registered indicator is valid STIX 2.1");

    // "Seen here" records a sighting, listed on the object's page.
    b.click("#seen-here").await;
    assert!(b.text("#flash").await.contains("目撃"));
    assert_eq!(b.text("#sighting-count").await, "1");
    b.screenshot("object").await;

    // A token made on the tokens page fetches the same object over TAXII.
    b.goto(&app, "/me/tokens").await;
    b.fill("#token-name", "feed reader").await;
    b.click("#create-token").await;
    let token = b.text("#new-token").await;
    b.screenshot("tokens").await;
    let r = taxii(
        &app,
        &token,
        Method::GET,
        &format!("collections/C2/objects/{id}/"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let envelope: Value = r.json().await.unwrap();
    assert_eq!(envelope["objects"][0]["id"], id.as_str());
    assert_eq!(
        envelope["objects"][0]["pattern"],
        "[ipv4-addr:value = '198.51.100.23']"
    );

    // The feed page lists both, newest first; logging out closes the pages.
    b.goto(&app, "/feeds/C2").await;
    let rows = b.text("table.objects").await;
    assert!(
        rows.contains("198.51.100.23") && rows.contains("phish.example"),
        "{rows}"
    );
    b.screenshot("feed").await;
    b.click("#logout").await;
    b.text("#login").await;
    b.goto(&app, "/feeds/C2").await;
    assert!(b.path().await.starts_with("/login"));
    b.close().await;
}

/// A CSV with a bad line: the preview names the line by number, no register button is
/// offered, and nothing is stored, also when the form is posted anyway.
#[tokio::test]
async fn a_bad_csv_line_is_shown_by_number_and_nothing_is_stored() {
    let app = spawn_app().await;
    member_with_password(&app, "ExampleNet", "noc", "analyst").await;
    grant(&app, "C2", "org", "ExampleNet", true, true).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("indicators.csv");
    std::fs::write(
        &csv,
        "value,confidence,description\n192.0.2.44,70,ok\nnot-a-value!,70,bad\nevil.example,70,ok\n",
    )
    .unwrap();
    let b = Browser::start("en").await;
    b.login(&app, "noc").await;
    b.goto(&app, "/register").await;
    b.client
        .find(Locator::Css("#csv"))
        .await
        .unwrap()
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    b.select("#feed", "C2").await;
    b.click("#preview").await;
    assert!(
        b.text("#preview-errors")
            .await
            .contains("Nothing is stored")
    );
    let bad = b.text("tr.bad").await;
    assert!(bad.starts_with('3'), "line 3 (the header is line 1): {bad}");
    assert!(bad.contains("not-a-value!"), "{bad}");
    assert!(b.client.find(Locator::Css("#confirm")).await.is_err());
    b.screenshot("register-preview-errors").await;
    // Posting the list anyway shows the preview again, with the same line numbers, and
    // stores nothing.
    b.click("#recheck").await;
    b.text("#preview-errors").await;
    assert!(b.text("tr.bad").await.starts_with('3'));
    b.close().await;

    let r = taxii(&app, TOKEN, Method::GET, "collections/C2/objects/")
        .send()
        .await
        .unwrap();
    let envelope: Value = r.json().await.unwrap();
    assert!(envelope.get("objects").is_none(), "{envelope}");
}

/// An AMBER object of a trust group's feed is on no page a reader outside the group opens:
/// dashboard, feed, search, object, not even by its address; a GREEN object of the same feed
/// is, as a control. The administration pages are refused.
#[tokio::test]
async fn a_reader_sees_no_amber_object_of_another_trust_group() {
    let app = spawn_app().await;
    member_with_password(&app, "GroupA", "poster", "analyst").await;
    member_with_password(&app, "Outsider", "reader", "reader").await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/groups",
            Some(json!({"name": "Broadcasters"})),
        ),
        (
            Method::PUT,
            "/api/v1/groups/Broadcasters/members/GroupA",
            None,
        ),
    ] {
        let (s, v) = admin(&app, method, path, body).await;
        assert!(s.is_success(), "{path}: {v}");
    }
    grant(&app, "CX", "group", "Broadcasters", true, true).await;
    grant(&app, "CX", "org", "Outsider", true, false).await;
    let poster = {
        let (s, v) = admin(
            &app,
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"user": "poster", "name": "t"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["token"].as_str().unwrap().to_owned()
    };
    let mark = |tlp: relay_core::Tlp, ip: &str| {
        let mut o = indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
        o["name"] = json!(ip);
        o["pattern"] = json!(format!("[ipv4-addr:value = '{ip}']"));
        o["object_marking_refs"] = json!([tlp.marking_ref()]);
        o
    };
    let amber = mark(relay_core::Tlp::Amber, "203.0.113.77");
    let green = mark(relay_core::Tlp::Green, "203.0.113.78");
    let (s, v) = post(&app, &poster, "CX", &[amber.clone(), green.clone()]).await;
    assert_eq!(v["success_count"], 2, "{s} {v}");
    let amber_id = amber["id"].as_str().unwrap();
    let green_id = green["id"].as_str().unwrap();

    let b = Browser::start("en").await;
    b.login(&app, "reader").await;
    // A search page repeats the value searched for (its box, its links); elsewhere the value
    // may not appear, and nowhere the object's id.
    // The object's own address repeats its id, and is a 404 that says nothing more.
    let leaks = |path: &str, html: &str| {
        (html.contains(amber_id) && !path.contains(amber_id))
            || (!path.starts_with("/search") && html.contains("203.0.113.77"))
    };
    let mut seen_green = 0;
    for path in [
        "/".to_owned(),
        "/feeds/CX".to_owned(),
        "/feeds/Default".to_owned(),
        "/feeds/CX?type=indicator".to_owned(),
        "/search?q=203.0.113.77".to_owned(),
        "/search?q=203.0.113.0%2F24".to_owned(),
        format!("/objects/{amber_id}"),
        format!("/objects/{green_id}"),
        "/me/exports".to_owned(),
        "/admin/audit".to_owned(),
        "/admin/orgs".to_owned(),
    ] {
        b.goto(&app, &path).await;
        let html = b.source().await;
        assert!(!leaks(&path, &html), "{path} shows the AMBER object");
        if path == "/search?q=203.0.113.77" {
            assert!(html.contains("id=\"no-hits\""), "{html}");
        }
        if html.contains(green_id) {
            seen_green += 1;
        }
    }
    assert!(
        seen_green >= 4,
        "the GREEN control is visible ({seen_green} pages)"
    );
    b.goto(&app, &format!("/objects/{amber_id}")).await;
    assert!(b.text("#error").await.starts_with("404"));
    b.goto(&app, "/admin/orgs").await;
    assert!(b.text("#error").await.starts_with("403"));
    b.screenshot("reader-search").await;

    // The poster's group sees it.
    b.click("#logout").await;
    b.login(&app, "poster").await;
    b.goto(&app, &format!("/objects/{amber_id}")).await;
    assert!(b.text("#tlp").await.starts_with("TLP:AMBER"));
    b.close().await;
}
