//! A TAXII 2.1 client for one remote collection: pages of objects (`added_after`, `next`, the
//! `X-TAXII-Date-Added-Last` bookmark), posting envelopes, reading status resources. Answers
//! are sorted by what the caller does next: retry later (`RateLimited`, `Unavailable`), or give
//! up (`Refused`).

use std::time::Duration;

use relay_core::federation::{Peer, PeerAuth};
use serde_json::Value;
use stix::Timestamp;

use crate::FedError;

pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// One page of a remote collection.
#[derive(Debug)]
pub struct Page {
    /// The objects, as JSON values.
    pub objects: Vec<Value>,
    pub more: bool,
    pub next: Option<String>,
    /// The newest `date_added` of the page (`X-TAXII-Date-Added-Last`).
    pub last_added: Option<Timestamp>,
}

/// A remote status resource, as far as a push needs it.
#[derive(Debug, Clone)]
pub struct RemoteStatus {
    pub id: String,
    pub complete: bool,
    pub successes: u64,
    pub failures: u64,
    /// The first failures' messages, for the peer's last error.
    pub failure_messages: Vec<String>,
}

pub struct TaxiiClient {
    http: reqwest::Client,
    collection_url: String,
    status_url: String,
    auth: PeerAuth,
}

impl TaxiiClient {
    pub fn new(peer: &Peer) -> Result<TaxiiClient, FedError> {
        let spec = &peer.spec;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("isac-relay/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &spec.client_cert {
            let pem = std::fs::read(path)
                .map_err(|e| FedError::Config(format!("client certificate {path}: {e}")))?;
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| FedError::Config(format!("client certificate {path}: {e}")))?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| FedError::Config(format!("HTTP client: {e}")))?;
        let root = if spec.api_root.ends_with('/') {
            spec.api_root.clone()
        } else {
            format!("{}/", spec.api_root)
        };
        Ok(TaxiiClient {
            http,
            collection_url: format!("{root}collections/{}/objects/", spec.collection),
            status_url: format!("{root}status/"),
            auth: spec.auth.clone(),
        })
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, TAXII_MEDIA_TYPE);
        match &self.auth {
            PeerAuth::None => r,
            PeerAuth::Basic { user, password } => r.basic_auth(user, Some(password)),
            PeerAuth::Bearer(t) => r.bearer_auth(t),
        }
    }

    /// A page of objects added after `added_after`, or the page `next` names.
    pub async fn objects(
        &self,
        added_after: Option<Timestamp>,
        next: Option<&str>,
        limit: usize,
    ) -> Result<Page, FedError> {
        let mut query: Vec<(&str, String)> = vec![("limit", limit.to_string())];
        if let Some(t) = added_after {
            query.push(("added_after", t.to_string()));
        }
        if let Some(n) = next {
            query.push(("next", n.to_owned()));
        }
        let resp = self
            .request(reqwest::Method::GET, &self.collection_url)
            .query(&query)
            .send()
            .await
            .map_err(transport)?;
        let resp = check(resp).await?;
        let last_added = resp
            .headers()
            .get("x-taxii-date-added-last")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Timestamp::parse(v).ok());
        let body: Value = resp
            .json()
            .await
            .map_err(|e| FedError::Remote(format!("the peer's envelope is not JSON: {e}")))?;
        let objects = match body.get("objects") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => {
                return Err(FedError::Remote(
                    "the peer's envelope has 'objects' that is not a list".into(),
                ));
            }
        };
        Ok(Page {
            objects,
            more: body.get("more").and_then(Value::as_bool).unwrap_or(false),
            next: body.get("next").and_then(Value::as_str).map(str::to_owned),
            last_added,
        })
    }

    /// Posts an envelope; returns the status resource the peer answered with.
    pub async fn post(&self, envelope: String) -> Result<RemoteStatus, FedError> {
        let resp = self
            .request(reqwest::Method::POST, &self.collection_url)
            .header(reqwest::header::CONTENT_TYPE, TAXII_MEDIA_TYPE)
            .body(envelope)
            .send()
            .await
            .map_err(transport)?;
        let resp = check(resp).await?;
        status_of(resp).await
    }

    /// Reads a status resource again (for a peer that answered `pending`).
    pub async fn status(&self, id: &str) -> Result<RemoteStatus, FedError> {
        let url = format!("{}{id}/", self.status_url);
        let resp = self
            .request(reqwest::Method::GET, &url)
            .send()
            .await
            .map_err(transport)?;
        let resp = check(resp).await?;
        status_of(resp).await
    }
}

fn transport(e: reqwest::Error) -> FedError {
    FedError::Unavailable(format!("cannot reach the peer: {e}"))
}

/// Sorts an answer: 2xx passes; 429 and 5xx are worth retrying; other errors are not.
async fn check(resp: reqwest::Response) -> Result<reqwest::Response, FedError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let text = resp.text().await.unwrap_or_default();
    let detail: String = text.chars().take(300).collect();
    if status == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
        return Err(FedError::TooLarge(format!(
            "the peer answered {status}: {detail}"
        )));
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(FedError::RateLimited {
            retry_after: retry_after.unwrap_or(60),
        });
    }
    if status.is_server_error() {
        return Err(FedError::Unavailable(format!(
            "the peer answered {status}: {detail}"
        )));
    }
    Err(FedError::Refused(format!(
        "the peer answered {status}: {detail}"
    )))
}

async fn status_of(resp: reqwest::Response) -> Result<RemoteStatus, FedError> {
    let v: Value = resp
        .json()
        .await
        .map_err(|e| FedError::Remote(format!("the peer's status is not JSON: {e}")))?;
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    Ok(RemoteStatus {
        id: v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        complete: v.get("status").and_then(Value::as_str) == Some("complete"),
        successes: n("success_count"),
        failures: n("failure_count"),
        failure_messages: v
            .get("failures")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(3)
            .map(|f| {
                format!(
                    "{}: {}",
                    f.get("id").and_then(Value::as_str).unwrap_or("?"),
                    f.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("refused")
                )
            })
            .collect(),
    })
}
