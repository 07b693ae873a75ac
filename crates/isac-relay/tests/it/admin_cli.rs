//! The administration commands on a data directory: organisations, users, trust groups, feed
//! grants and the audit log, with the errors bad input gets and the proof that it changed
//! nothing.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::cli::{BIN, fails, get_json, ok, start};

#[tokio::test]
async fn members_groups_and_grants_are_administered_offline_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let with = |args: &[&'static str]| {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(["--data", d]);
        v
    };

    let out = ok(&with(&[
        "org",
        "add",
        "TelcoA",
        "--sector",
        "telecom",
        "--country",
        "jp",
        "--contact",
        "soc@telco.example",
    ]));
    assert!(
        out.contains("created organisation TelcoA (member, identity identity--"),
        "{out}"
    );
    ok(&with(&[
        "org",
        "add",
        "BankZ",
        "--sector",
        "finance",
        "--country",
        "SG",
        "--partner",
    ]));
    ok(&with(&[
        "user", "add", "TelcoA", "alice", "--role", "analyst",
    ]));
    ok(&with(&["group", "add", "telecom-wg"]));
    ok(&with(&["group", "member", "add", "telecom-wg", "TelcoA"]));
    ok(&with(&["feed", "set", "C2", "--tlp", "amber"]));
    ok(&with(&[
        "feed",
        "grant",
        "C2",
        "--group",
        "telecom-wg",
        "--read",
        "--write",
    ]));
    ok(&with(&["feed", "grant", "C2", "--org", "BankZ", "--read"]));

    // A password from standard input.
    let mut child = Command::new(BIN)
        .args(with(&[
            "user",
            "add",
            "TelcoA",
            "carol",
            "--role",
            "reader",
            "--password-stdin",
        ]))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough passphrase\n")
        .unwrap();
    assert!(child.wait().unwrap().success());

    let snapshot = || {
        [
            ok(&with(&["org", "list"])),
            ok(&with(&["user", "list"])),
            ok(&with(&["group", "list"])),
            ok(&with(&["feed", "list"])),
        ]
    };
    let before = snapshot();
    assert!(
        before[0].contains("BankZ\tpartner\tfinance\tSG"),
        "{}",
        before[0]
    );
    assert!(
        before[1].contains("carol\tTelcoA\treader\tpassword"),
        "{}",
        before[1]
    );
    assert!(before[2].contains("telecom-wg\tTelcoA"), "{}", before[2]);
    assert!(
        before[3].contains("C2\t")
            && before[3].contains("\tamber\tactive\tgroup:telecom-wg=rw,org:BankZ=r\t"),
        "{}",
        before[3]
    );

    // Bad input: a message naming the problem, and nothing changed.
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            with(&[
                "org",
                "add",
                "TelcoA",
                "--sector",
                "telecom",
                "--country",
                "JP",
            ]),
            "already exists",
        ),
        (
            with(&["org", "add", "X", "--sector", "bank", "--country", "JP"]),
            "unknown sector",
        ),
        (
            with(&["org", "add", "X", "--sector", "other", "--country", "JPN"]),
            "two-letter",
        ),
        (
            with(&["user", "add", "Nowhere", "bob", "--role", "reader"]),
            "no organisation 'Nowhere'",
        ),
        (
            with(&["user", "add", "TelcoA", "bob", "--role", "king"]),
            "unknown role",
        ),
        (
            with(&["user", "add", "TelcoA", "bob", "--role", "isac-admin"]),
            "operator",
        ),
        (
            with(&["user", "add", "TelcoA", "alice", "--role", "reader"]),
            "already exists",
        ),
        (with(&["group", "add", "telecom-wg"]), "already exists"),
        (
            with(&["group", "member", "add", "nogroup", "TelcoA"]),
            "no trust group 'nogroup'",
        ),
        (
            with(&["group", "member", "add", "telecom-wg", "Nobody"]),
            "no organisation 'Nobody'",
        ),
        (
            with(&["group", "member", "add", "telecom-wg", "TelcoA"]),
            "already",
        ),
        (
            with(&["feed", "grant", "NOFEED", "--group", "telecom-wg", "--read"]),
            "no feed 'NOFEED'",
        ),
        (
            with(&["feed", "grant", "C2", "--org", "TelcoA"]),
            "read, write or both",
        ),
        (
            with(&[
                "feed",
                "grant",
                "C2",
                "--org",
                "TelcoA",
                "--group",
                "telecom-wg",
                "--read",
            ]),
            "cannot be used with",
        ),
        (
            with(&["feed", "grant", "C2", "--group", "nogroup", "--read"]),
            "no trust group 'nogroup'",
        ),
        (
            with(&["feed", "revoke", "C2", "--org", "TelcoA"]),
            "no rights",
        ),
        (
            with(&["feed", "add", "CX", "--tlp", "purple"]),
            "unknown TLP",
        ),
        (with(&["token", "create", "nobody"]), "no user 'nobody'"),
    ];
    for (args, why) in cases {
        let err = fails(&args);
        assert!(err.contains(why), "{args:?}: '{err}' should say '{why}'");
    }
    assert_eq!(snapshot(), before, "failed commands changed nothing");

    // A token for alice reads C2 with write rights, through her trust group.
    let token = ok(&with(&["token", "create", "alice", "--name", "sensor"]))
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let s = start(dir.path(), None, &[], &[]);
    let cols = get_json(&format!("{}/taxii2/isac/collections/", s.base), &token).await;
    let c2 = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "C2")
        .expect("alice sees C2");
    assert_eq!(
        (c2["can_read"].as_bool(), c2["can_write"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(
        cols["collections"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["title"] != "TEST"),
        "TEST is granted to nobody: {cols}"
    );
    drop(s);

    // The audit log: one entry per change, in order, from the command line.
    let lines: Vec<Value> = ok(&with(&["audit", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        // The catalogue's feeds, created on first open.
        .filter(|e: &Value| e["actor"] != "local:relay")
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| !a.ends_with(".read"))
        .collect();
    assert_eq!(
        actions,
        [
            "org.create",
            "org.create",
            "user.create",
            "group.create",
            "group.member.add",
            "feed.update",
            "feed.grant",
            "feed.grant",
            "user.create",
            "token.create",
        ],
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .all(|e| e["at"].is_string() && e["actor"].is_string())
    );
    assert!(lines[0]["actor"].as_str().unwrap().starts_with("local:"));
    let text = ok(&with(&["audit", "--action", "feed.grant"]));
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(ok(&with(&["audit", "--since", "2999-01-01"])).is_empty());
    assert!(fails(&with(&["audit", "--since", "yesterday"])).contains("expected a date"));
}
