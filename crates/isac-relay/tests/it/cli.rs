//! The binary as an operator uses it: first start, the listening line, offline feed commands,
//! configuration layers, clean shutdown, and status resources across restarts.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TAXII, indicator, new_id};

pub const BIN: &str = env!("CARGO_BIN_EXE_isac-relay");

/// A relay process started by the tests; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// Lines the server printed on stdout before `listening on`.
    pub banner: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child is waited for in `Server::drop`, or killed there if the banner never came.
#[allow(clippy::zombie_processes)]
pub fn start(data: &Path, token: Option<&str>, extra: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra);
    cmd.env_remove("ISAC_RELAY_ADMIN_TOKEN");
    if let Some(t) = token {
        cmd.env("ISAC_RELAY_ADMIN_TOKEN", t);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server exited before printing its listening line; printed {banner:?}");
        };
        if let Some(addr) = line.strip_prefix("listening on ") {
            let base = addr.to_owned();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Server {
                child,
                base,
                banner,
            };
        }
        banner.push(line);
    }
}

pub fn run_cli(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("ISAC_RELAY_ADMIN_TOKEN")
        .output()
        .unwrap()
}

/// Runs a command and returns its stdout, asserting success.
pub fn ok(args: &[&str]) -> String {
    let out = run_cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail; returns its stderr.
pub fn fails(args: &[&str]) -> String {
    let out = run_cli(args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(out.stdout.is_empty(), "{args:?} printed {:?}", out.stdout);
    String::from_utf8(out.stderr).unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// GET /taxii2/ with a bearer token: how the server answers that token.
pub async fn discovery(base: &str, token: &str) -> reqwest::Response {
    client()
        .get(format!("{base}/taxii2/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// GETs a URL with a bearer token and returns the JSON body.
pub async fn get_json(url: &str, token: &str) -> Value {
    client()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn first_start_prints_a_working_admin_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let token = {
        let s = start(dir.path(), None, &[], &[]);
        let line = s
            .banner
            .iter()
            .find_map(|l| l.strip_prefix("admin token: "))
            .expect("token printed");
        let token = line.to_owned();
        let r = client()
            .get(format!("{}/taxii2/isac/collections/", s.base))
            .basic_auth("admin", Some(&token))
            .header("Accept", TAXII)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        token
    };
    // The second start prints no token and the first one still works.
    let s = start(dir.path(), None, &[], &[]);
    assert!(
        s.banner.iter().all(|l| !l.contains("token:")),
        "{:?}",
        s.banner
    );
    let r = discovery(&s.base, &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The token is stored only as a hash.
    let db = std::fs::read(dir.path().join("relay.db")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));
}

#[tokio::test]
async fn the_admin_token_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let token = "isr_from-the-environment-0123456789";
    let s = start(dir.path(), Some(token), &[], &[]);
    assert!(
        s.banner.iter().all(|l| !l.contains(token)),
        "a chosen secret is not echoed"
    );
    let r = discovery(&s.base, token).await;
    assert_eq!(r.status(), StatusCode::OK);
    drop(s);
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(tempfile::tempdir().unwrap().path())
        .env("ISAC_RELAY_ADMIN_TOKEN", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ISAC_RELAY_ADMIN_TOKEN"));
}

#[tokio::test]
async fn feeds_are_managed_offline_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new-subdir");
    let data_s = data.to_str().unwrap();
    let out = run_cli(&[
        "feed",
        "add",
        "PHISH",
        "--description",
        "Phishing sites",
        "--severity",
        "urgent",
        "--data",
        data_s,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dup = run_cli(&["feed", "add", "PHISH", "--data", data_s]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let bad = run_cli(&["feed", "add", "no spaces", "--data", data_s]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("feed name"));

    let retire = run_cli(&["feed", "retire", "CZ", "--data", data_s]);
    assert!(retire.status.success());
    let list = run_cli(&["feed", "list", "--data", data_s]);
    let text = String::from_utf8(list.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    // The shipped catalogue, then the new feed.
    assert_eq!(
        names,
        [
            "Default",
            "C2",
            "CX",
            "CY",
            "CZ",
            "BKMW_CONFIG",
            "BKMW_ATTACK",
            "BKMW_MANIP",
            "TEST",
            "NOTICE",
            "PHISH"
        ]
    );
    let row = |name: &str| rows.iter().find(|r| r[0] == name).unwrap().clone();
    assert_eq!(
        &row("PHISH")[2..7],
        ["regular", "urgent", "medium", "green", "active"]
    );
    assert_eq!(
        &row("Default")[2..7],
        ["aggregate", "informational", "many", "green", "inbox"]
    );
    assert_eq!(row("TEST")[2], "test");
    assert_eq!(row("CZ")[6], "retired");
    assert_eq!(row("C2")[3], "urgent");

    let token = "isr_feeds-test-token-0123456789";
    let s = start(&data, Some(token), &[], &[]);
    let cols: Value = get_json(&format!("{}/taxii2/isac/collections/", s.base), token).await;
    let titles: Vec<&str> = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 11, "{titles:?}");
    assert!(titles.contains(&"PHISH") && titles.contains(&"Default"));
    let cz = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "CZ")
        .unwrap();
    assert_eq!(cz["can_write"], false, "a retired feed takes no objects");
}

#[tokio::test]
async fn configuration_layers_file_env_flags() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("relay.toml");
    std::fs::write(
        &conf,
        "[taxii]\napi_root = \"fromfile\"\nmax_content_length = 5000\n",
    )
    .unwrap();
    let token = "isr_config-test-token-0123456789";
    let s = start(
        &dir.path().join("data"),
        Some(token),
        &["--config", conf.to_str().unwrap()],
        &[("ISAC_RELAY_TAXII__MAX_CONTENT_LENGTH", "7000")],
    );
    let root: Value = get_json(&format!("{}/taxii2/fromfile/", s.base), token).await;
    assert_eq!(root["max_content_length"], 7000);

    let out = run_cli(&["serve", "--config", "/nonexistent/relay.toml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/relay.toml"));
    std::fs::write(&conf, "lisen = \"x\"\n").unwrap();
    let out = run_cli(&["feed", "list", "--config", conf.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_status_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let token = "isr_restart-test-token-0123456789";
    let mut s = start(dir.path(), Some(token), &[], &[]);
    let id = new_id("indicator");
    let status: Value = client()
        .post(format!("{}/taxii2/isac/collections/TEST/objects/", s.base))
        .bearer_auth(token)
        .header("Accept", TAXII)
        .header("Content-Type", TAXII)
        .body(json!({"objects": [indicator(&id, "2024-01-01T00:00:00.000Z")]}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = s.child.wait().unwrap();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    // A clean close folds the write-ahead log into the database.
    let wal = dir.path().join("relay.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);

    let s = start(dir.path(), None, &[], &[]);
    let again: Value = get_json(
        &format!(
            "{}/taxii2/isac/status/{}/",
            s.base,
            status["id"].as_str().unwrap()
        ),
        token,
    )
    .await;
    assert_eq!(again, status);
}

fn corpus(path: &str) -> String {
    format!(
        "{}/../../../shared/corpus/stix21/{path}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn stix_validate_names_the_path_and_sets_the_exit_status() {
    let valid = corpus("cti-documentation/examples/example_json/indicator-for-malicious-url.json");
    let out = run_cli(&["stix", "validate", &valid]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 objects, 3 valid, 0 invalid"));

    let invalid =
        corpus("cti-stix-validator/stix2validator/test/v21/test_examples/invalid_timestamp.json");
    let broken =
        corpus("cti-stix-validator/stix2validator/test/v21/test_examples/invalid_comma.json");
    let out = run_cli(&["stix", "validate", &valid, &invalid, &broken]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("identity--8c6af861-7b20-41ef-9b59-6344fd872a8f: $.modified: must be later than or equal to created"), "{text}");
    assert!(
        text.contains("invalid_comma.json: not valid JSON"),
        "{text}"
    );

    // A bundle: the path names the object's place in it.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bundle.json");
    let mut bad = indicator(&new_id("indicator"), "2024-01-01T00:00:00.000Z");
    bad["pattern"] = json!("[ipv4-addr:value = ");
    let bundle = json!({"type": "bundle", "id": new_id("bundle"), "objects": [indicator(&new_id("indicator"), "2024-01-01T00:00:00.000Z"), bad]});
    std::fs::write(&f, bundle.to_string()).unwrap();
    let out = run_cli(&["stix", "validate", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("$.objects[1].pattern: not a valid STIX pattern: at character 19"),
        "{text}"
    );
}

#[test]
fn stix_observables_prints_kind_value_and_object() {
    let file = corpus("cti-documentation/examples/example_json/indicator-for-malicious-url.json");
    let out = run_cli(&["stix", "observables", &file]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "url\thttp://x4z9arb.cn/4712/\tindicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f\n"
    );
    let out = run_cli(&["stix", "observables", "/nonexistent.json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.json"));
}

/// The token printed alone on the last line of `token create`.
fn created_token(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn tokens_are_created_read_only_and_revoked_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let admin = "isr_token-test-admin-0123456789";
    drop(start(dir.path(), Some(admin), &[], &[]));

    let rw = created_token(&run_cli(&[
        "token", "create", "admin", "--name", "sensor", "--data", data,
    ]));
    let ro = created_token(&run_cli(&[
        "token",
        "create",
        "admin",
        "--read-only",
        "--expires-days",
        "30",
        "--data",
        data,
    ]));
    assert!(rw.starts_with("isr_") && ro.starts_with("isr_") && rw != ro);
    let bad = run_cli(&["token", "create", "nobody", "--data", data]);
    assert!(
        !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("no user 'nobody'")
    );
    let bad = run_cli(&[
        "token",
        "create",
        "admin",
        "--expires-days",
        "0",
        "--data",
        data,
    ]);
    assert!(
        !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("--expires-days")
    );

    let list = String::from_utf8(run_cli(&["token", "list", "--data", data]).stdout).unwrap();
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{list}");
    assert_eq!(
        (rows[1][1], rows[1][2], rows[1][3], rows[1][4]),
        ("admin", "ISAC", "sensor", "read-write")
    );
    assert_eq!(rows[2][4], "read");
    assert_ne!(rows[2][6], "-", "the read-only token expires");
    assert!(
        !list.contains(&rw) && !list.contains(&ro),
        "secrets are never listed"
    );

    let s = start(dir.path(), None, &[], &[]);
    let post = |token: String| {
        let url = format!("{}/taxii2/isac/collections/TEST/objects/", s.base);
        async move {
            client()
                .post(url)
                .bearer_auth(token)
                .header("Accept", TAXII)
                .header("Content-Type", TAXII)
                .body(json!({"objects": [indicator(&new_id("indicator"), "2024-01-01T00:00:00.000Z")]}).to_string())
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(post(rw.clone()).await.status(), StatusCode::ACCEPTED);
    let refused = post(ro.clone()).await;
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "a read-only token never writes"
    );
    let cols = get_json(&format!("{}/taxii2/isac/collections/", s.base), &ro).await;
    assert_eq!(cols["collections"][0]["can_write"], false);
    assert_eq!(cols["collections"][0]["can_read"], true);
    drop(s);

    let id = rows[1][0];
    assert!(
        run_cli(&["token", "revoke", id, "--data", data])
            .status
            .success()
    );
    let again = run_cli(&["token", "revoke", id, "--data", data]);
    assert!(
        !again.status.success()
            && String::from_utf8_lossy(&again.stderr).contains("revoked already")
    );
    let s = start(dir.path(), None, &[], &[]);
    let r = discovery(&s.base, &rw).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused"
    );
    let r = discovery(&s.base, admin).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn routing_rules_and_profiles_are_managed_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let ok = |args: &[&str]| -> String {
        let mut all = args.to_vec();
        all.extend(["--data", data]);
        let out = run_cli(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let fails = |args: &[&str]| -> String {
        let mut all = args.to_vec();
        all.extend(["--data", data]);
        let out = run_cli(&all);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(ok(&["routing", "add", "label", "banking", "BKMW_CONFIG"]).contains("label equals"));
    ok(&[
        "routing", "add", "title", "sandbox", "CX", "--match", "contains",
    ]);
    let list = ok(&["routing", "list"]);
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        [
            "1\tlabel\tequals\tbanking\tBKMW_CONFIG",
            "2\ttitle\tcontains\tsandbox\tCX"
        ]
    );
    assert!(fails(&["routing", "add", "colour", "x", "C2"]).contains("unknown rule field"));
    assert!(fails(&["routing", "add", "title", "x", "NOPE"]).contains("no feed 'NOPE'"));
    ok(&["routing", "remove", "1"]);
    assert!(fails(&["routing", "remove", "1"]).contains("no routing rule 1"));
    assert_eq!(ok(&["routing", "list"]).lines().count(), 1);

    ok(&[
        "org",
        "add",
        "SmallISP",
        "--sector",
        "telecom",
        "--country",
        "JP",
    ]);
    let set = ok(&[
        "profile",
        "set",
        "--org",
        "SmallISP",
        r#"{"min_severity": "urgent", "max_per_poll": 1000}"#,
    ]);
    assert!(set.contains("\"max_per_poll\":1000"), "{set}");
    assert!(ok(&["profile", "show", "--org", "SmallISP"]).contains("\"min_severity\":\"urgent\""));
    assert!(
        fails(&[
            "profile",
            "set",
            "--org",
            "SmallISP",
            r#"{"max_per_poll": 0}"#
        ])
        .contains("max_per_poll must be at least 1")
    );
    assert!(fails(&["profile", "set", "--org", "SmallISP", "{"]).contains("invalid profile JSON"));
    assert!(fails(&["profile", "show", "--org", "Nobody"]).contains("no organisation 'Nobody'"));
    ok(&["profile", "clear", "--org", "SmallISP"]);
    assert!(ok(&["profile", "show", "--org", "SmallISP"]).contains("no profile"));
}
