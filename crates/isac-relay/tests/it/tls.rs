//! HTTPS as an operator runs it: the binary with `[tls]` in its configuration file, a client
//! that trusts the ISAC's CA, the certificate replaced and read again on SIGHUP (a broken
//! replacement leaves the old one serving), security headers, and organisations that sign in
//! only with one of their client certificates.

use std::path::Path;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::cli::{ok, run_cli, start};

const ADMIN: &str = "tls-admin-token-0123456789abcdef0123456789";

/// A certificate authority of the test.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate and its key, issued by `ca`.
struct Leaf {
    pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Leaf {
    /// The fingerprint as `openssl x509 -fingerprint -sha256` prints it.
    fn fingerprint(&self) -> String {
        Sha256::digest(&self.der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.pem, self.key_pem).as_bytes()).unwrap()
    }
}

fn leaf(ca: &Ca, name: &str, sans: &[&str]) -> Leaf {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    Leaf {
        pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

fn server_cert(ca: &Ca, name: &str) -> Leaf {
    leaf(ca, name, &["localhost", "127.0.0.1"])
}

/// Writes a file the way an operator's renewal should: a new file renamed over the old.
fn replace(path: &Path, content: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A client trusting `ca`, on a fresh connection each time (so each request sees the
/// certificate the server offers now), optionally presenting a client certificate.
fn client(ca: &Ca, identity: Option<&Leaf>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap())
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10));
    if let Some(l) = identity {
        b = b.identity(l.identity());
    }
    b.build().unwrap()
}

/// The DER of the certificate the server presented for this response.
fn presented(resp: &reqwest::Response) -> Vec<u8> {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("a TLS response carries the server's certificate")
        .to_vec()
}

fn hangup(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn https_serves_with_security_headers_and_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca("ISAC test CA");
    let first = server_cert(&ca, "relay one");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    replace(&cert, &first.pem);
    replace(&key, &first.key_pem);
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = start(
        &data,
        Some(ADMIN),
        &["--config", config.to_str().unwrap()],
        &[],
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);

    let resp = client(&ca, None)
        .get(format!("{}/taxii2/", server.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(presented(&resp), first.der);
    let h = resp.headers();
    assert_eq!(h["strict-transport-security"], "max-age=31536000");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");

    // Plain HTTP on the HTTPS port gets no answer.
    let plain = server.base.replacen("https://", "http://", 1);
    let r = reqwest::Client::new()
        .get(format!("{plain}/taxii2/"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        r.is_err(),
        "plain HTTP was answered: {:?}",
        r.map(|r| r.status())
    );

    // A renewed certificate: written, then SIGHUP; new connections get it.
    let second = server_cert(&ca, "relay two");
    replace(&cert, &second.pem);
    replace(&key, &second.key_pem);
    hangup(server.child.id());
    let mut seen = Vec::new();
    for _ in 0..50 {
        let resp = client(&ca, None)
            .get(format!("{}/taxii2/", server.base))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        seen = presented(&resp);
        if seen == second.der {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, second.der, "the certificate was not reloaded");

    // A broken key: the reload fails and the certificate in use stays.
    replace(
        &key,
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    );
    hangup(server.child.id());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let resp = client(&ca, None)
        .get(format!("{}/taxii2/", server.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(presented(&resp), second.der);
}

#[tokio::test]
async fn an_organisation_with_client_certificates_signs_in_only_with_one_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let with = |args: &[&str]| {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["--data".into(), d.into()]);
        v
    };
    let run = |args: &[&str]| {
        let args = with(args);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&refs)
    };
    run(&[
        "org",
        "add",
        "ACME",
        "--sector",
        "finance",
        "--country",
        "JP",
    ]);
    run(&[
        "org",
        "add",
        "Other",
        "--sector",
        "telecom",
        "--country",
        "JP",
    ]);
    run(&["user", "add", "ACME", "alice", "--role", "analyst"]);
    run(&["user", "add", "Other", "bob", "--role", "analyst"]);
    let token = |user: &str| {
        run(&["token", "create", user, "--name", "t"])
            .lines()
            .last()
            .unwrap()
            .to_owned()
    };
    let (alice, bob) = (token("alice"), token("bob"));

    let ca_ = ca("ISAC test CA");
    let server = server_cert(&ca_, "relay");
    let acme = leaf(&ca_, "ACME SOC", &[]);
    let acme_unregistered = leaf(&ca_, "ACME laptop", &[]);
    let stranger_ca = ca("someone else's CA");
    let forged = leaf(&stranger_ca, "ACME SOC", &[]);
    for (name, content) in [
        ("cert.pem", &server.pem),
        ("key.pem", &server.key_pem),
        ("clients.pem", &ca_.pem),
    ] {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let p = |name: &str| dir.path().join(name).display().to_string();
    let base_tls = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\n",
        p("cert.pem"),
        p("key.pem"),
        p("clients.pem")
    );
    let config = dir.path().join("relay.toml");

    // Misconfigurations are refused at start, by name.
    for (text, says) in [
        (
            format!("[tls]\ncert = {:?}\n", p("cert.pem")),
            "tls.cert and tls.key go together",
        ),
        (
            format!(
                "[tls]\ncert = {:?}\nkey = {:?}\n[tls.client_certs]\n\"ACME\" = [\"{}\"]\n",
                p("cert.pem"),
                p("key.pem"),
                acme.fingerprint()
            ),
            "tls.client_certs needs tls.client_ca",
        ),
        (
            format!("{base_tls}[tls.client_certs]\n\"ACME\" = [\"12:34\"]\n"),
            "'12:34' is not a SHA-256 fingerprint",
        ),
        // A misspelt organisation would sign in without any certificate.
        (
            format!(
                "{base_tls}[tls.client_certs]\n\"Acme\" = [\"{}\"]\n",
                acme.fingerprint()
            ),
            "tls.client_certs names organisations this relay does not have: 'Acme'",
        ),
        (
            format!(
                "[tls]\ncert = {:?}\nkey = {:?}\n",
                p("cert.pem"),
                p("missing.pem")
            ),
            "missing.pem",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = run_cli(&[
            "serve",
            "--data",
            d,
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "'{err}' should say '{says}'");
    }

    std::fs::write(
        &config,
        format!(
            "{base_tls}[tls.client_certs]\n\"ACME\" = [\"{}\"]\n",
            acme.fingerprint()
        ),
    )
    .unwrap();
    let relay = start(&data, None, &["--config", config.to_str().unwrap()], &[]);
    let url = format!("{}/taxii2/isac/collections/", relay.base);
    let get = |who: Option<&Leaf>, token: &str| {
        let c = client(&ca_, who);
        let (url, token) = (url.clone(), token.to_owned());
        async move { c.get(url).bearer_auth(token).send().await }
    };

    // ACME's token alone, or with a certificate not registered for ACME: refused, saying why.
    for cert in [None, Some(&acme_unregistered)] {
        let r = get(cert, &alice).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let e: serde_json::Value = r.json().await.unwrap();
        assert!(
            e["description"]
                .as_str()
                .unwrap()
                .contains("signs in only with one of its client certificates"),
            "{e}"
        );
    }
    // A password is not even checked without the certificate: right or wrong, the same answer.
    for password in ["wrong-password-1234", "another-guess-5678"] {
        let r = client(&ca_, None)
            .get(&url)
            .basic_auth("alice", Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let r = client(&ca_, Some(&acme))
        .get(&url)
        .basic_auth("alice", Some("wrong-password-1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A certificate of another CA does not get past the handshake.
    assert!(get(Some(&forged), &alice).await.is_err());
    // With its certificate, ACME is in; an organisation without certificates needs none.
    assert_eq!(
        get(Some(&acme), &alice).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(get(None, &bob).await.unwrap().status(), StatusCode::OK);
    // The certificate alone is no credential.
    let r = client(&ca_, Some(&acme)).get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    drop(relay);

    // The refusals are in the audit log, with their reason.
    let audit = run(&["audit", "--action", "auth.failure"]);
    assert!(
        audit.contains("no client certificate of the organisation 'ACME'"),
        "{audit}"
    );
}
