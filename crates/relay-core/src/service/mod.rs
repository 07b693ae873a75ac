//! The services every front end calls. Each public function authorizes through `policy`, does
//! one piece of work against the store, records it in the audit log, and returns domain values;
//! none knows HTTP or SQL.
//!
//! - `mod.rs`: the `Relay` handle, configuration, authentication and brute-force limits.
//! - `objects`: feeds as TAXII collections, objects, status resources, search.
//! - `admin`: organisations, users, tokens, trust groups, feeds and grants, the audit log.

mod admin;
mod browse;
mod federation;
mod feeds;
mod objects;
mod ops;
mod register;
mod session;

pub use browse::{Browse, FeedSummary, ObjectView};
pub use federation::{MIN_INTERVAL_SECS, Outbound};
pub use register::Feedback;
pub use session::{SESSION_HOURS, SESSION_TOKEN_NAME, Session};

pub use ops::Operations;
mod push;

use std::sync::Arc;
use std::time::Instant;

use stix::Timestamp;

pub use objects::{EnvelopeCheck, SearchResult, check_envelope};
pub use push::{LiveEvent, RetryConfig, WebhookSender};

use crate::audit::AuditEntry;
use crate::error::Error;
use crate::org::{OPERATOR_ORG, OrgKind};
use crate::principal::{Origin, Principal, Role};
use crate::query::PageLimits;
use crate::store::Store;
use crate::throttle::{LoginThrottle, ThrottleConfig, ThrottleKey};
use crate::token::{self, TokenHasher};

/// The name of the administrator account created on first start.
pub const ADMIN_USER: &str = "admin";

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The largest request body accepted, advertised as the API root's `max_content_length`.
    pub max_content_length: usize,
    pub page_limits: PageLimits,
    /// How strictly posted objects are judged.
    pub validation: stix::ValidationOptions,
    /// Limits on failed logins.
    pub throttle: ThrottleConfig,
    /// Retry timing of webhook deliveries.
    pub webhook_retry: RetryConfig,
    /// Objects per envelope, string and pattern lengths.
    pub bounds: crate::bounds::Bounds,
    /// Organisations (by name) that authenticate with a client certificate as well as a
    /// token or password: the SHA-256 fingerprints (lower-case hex) of their certificates.
    pub client_certs: std::collections::HashMap<String, Vec<String>>,
    /// How often an open live stream checks its reader's rights again (token revoked or
    /// expired, session ended, user or trust-group membership changed): what a reader may no
    /// longer see stops within this time.
    pub stream_recheck: std::time::Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            max_content_length: 10 * 1024 * 1024,
            page_limits: PageLimits {
                default: 1000,
                max: 10_000,
            },
            validation: stix::ValidationOptions::default(),
            throttle: ThrottleConfig::default(),
            webhook_retry: RetryConfig::default(),
            bounds: crate::bounds::Bounds::default(),
            client_certs: std::collections::HashMap::new(),
            stream_recheck: std::time::Duration::from_secs(60),
        }
    }
}

/// Credentials as a client presented them.
#[derive(Debug, Clone)]
pub enum Credentials {
    Bearer(String),
    Basic { user: String, password: String },
}

/// A password hash that no login matches, verified when a login names no user with a password,
/// so that the answer takes as long as for a real account and does not tell which exist.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            crate::password::hash_password(&token::generate_token()).unwrap_or_default()
        })
        .clone()
}

#[derive(Clone)]
pub struct Relay {
    store: Arc<dyn Store>,
    hasher: TokenHasher,
    config: RelayConfig,
    throttle: Arc<LoginThrottle>,
    limits: Arc<crate::limits::Limits>,
    push: Arc<push::Push>,
    feed_sizes: Arc<ops::FeedSizes>,
    /// This process, as the holder of job leases.
    node: Arc<str>,
}

/// How long a node holds a background job's lease without renewing it: when a node dies, its
/// jobs move to another within this time.
const LEASE_MICROS: i64 = 30_000_000;

impl Relay {
    /// Whether this node runs the background job `job` now: takes or renews its lease in the
    /// store, so that with several nodes on one database each job runs on one of them. Jobs
    /// call it before each round (more often than the lease lasts); a store that cannot answer
    /// counts as not holding it, and a closed store is `Error::Closed` (the job ends).
    async fn hold(&self, job: &str) -> Result<bool, Error> {
        let now = Timestamp::now();
        let until = Timestamp::from_micros(now.as_micros() + LEASE_MICROS);
        match self.store.lease(job, &self.node, now, until).await {
            Ok(held) => Ok(held),
            Err(crate::store::StoreError::Closed) => Err(Error::Closed),
            Err(e) => {
                tracing::warn!(job, error = %e, "cannot take a job's lease");
                Ok(false)
            }
        }
    }

    /// Runs `work` under the lease of `job`, renewing it every third of its term for as long as
    /// the work lasts (a federation run or a webhook's back-off can outlast one term).
    /// `Ok(None)`: another node holds the job, and nothing ran; or the lease was lost on the
    /// way (this node could not reach the store in time and another took over), and the work
    /// was dropped where it stood: background jobs move their cursors only past what is done,
    /// so the next holder resumes it.
    pub async fn while_holding<F: std::future::Future>(
        &self,
        job: &str,
        work: F,
    ) -> Result<Option<F::Output>, Error> {
        if !self.hold(job).await? {
            return Ok(None);
        }
        let renew = async {
            loop {
                tokio::time::sleep(std::time::Duration::from_micros(
                    LEASE_MICROS.unsigned_abs() / 3,
                ))
                .await;
                match self.hold(job).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job, "lost the job's lease; another node goes on");
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        tokio::select! {
            out = work => Ok(Some(out)),
            r = renew => r.map(|()| None),
        }
    }

    pub async fn open(store: Arc<dyn Store>, config: RelayConfig) -> Result<Relay, Error> {
        let key = store.token_key().await?;
        Ok(Relay {
            store,
            hasher: TokenHasher::new(key),
            throttle: Arc::new(LoginThrottle::new(config.throttle)),
            limits: Arc::default(),
            push: Arc::default(),
            feed_sizes: Arc::default(),
            node: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4()).into(),
            config,
        })
    }

    /// The store, for services built beside this one (exports).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// Creates the administrator on a store that has no users yet. Uses `chosen` as its token
    /// when given (for automation), otherwise a fresh random one. Returns the token when it was
    /// created, so that the caller can show it once; `None` when an administrator existed.
    pub async fn bootstrap_admin(&self, chosen: Option<&str>) -> Result<Option<String>, Error> {
        let token = match chosen {
            Some(t) => {
                token::check_operator_token(t)
                    .map_err(|m| Error::Invalid(format!("ISAC_RELAY_ADMIN_TOKEN: {m}")))?;
                t.to_owned()
            }
            None => token::generate_token(),
        };
        let created = self
            .store
            .bootstrap_admin(ADMIN_USER, self.hasher.hash(&token))
            .await?;
        Ok(created.then_some(token))
    }

    /// Resolves credentials to a principal. Bearer takes a token. Basic takes a user name with
    /// either one of the user's tokens or the user's password.
    ///
    /// Failures are counted per account and per source address; past the limit every attempt
    /// is refused with `TooManyAttempts` until the window passes. Each failure is audited.
    ///
    /// An organisation configured with client certificates is let in only over a connection
    /// that presented one of them; otherwise it is a failure like a wrong password (403, with
    /// the reason; a password is then not checked at all, so the answer confirms nothing).
    pub async fn authenticate(
        &self,
        credentials: &Credentials,
        origin: Origin,
    ) -> Result<Principal, Error> {
        let source = origin.address;
        let account = match credentials {
            Credentials::Bearer(_) => None,
            Credentials::Basic { user, .. } => Some(user.clone()),
        };
        let keys: Vec<ThrottleKey> = account
            .iter()
            .cloned()
            .map(ThrottleKey::Account)
            .chain(source.iter().cloned().map(ThrottleKey::Source))
            .collect();
        if let Err(wait) = self.throttle.check(&keys, Instant::now()) {
            return Err(Error::TooManyAttempts {
                retry_after: wait.as_secs(),
            });
        }
        let cert = origin.client_cert.as_deref();
        let attempt = match self.try_credentials(credentials, cert).await {
            Ok(p) if !self.client_cert_fits(&p.org_name, cert) => {
                Err(Failure::NoClientCert(p.org_name))
            }
            other => other,
        };
        match attempt {
            Ok(mut p) => {
                if let Some(a) = &account {
                    self.throttle.record_success(a);
                }
                p.source = source;
                self.check_rates(&p)?;
                Ok(p)
            }
            Err(failure) => {
                let (mut detail, answer) = match failure {
                    Failure::NoClientCert(org) => (
                        format!("no client certificate of the organisation '{org}'"),
                        Error::Forbidden(
                            "this account's organisation signs in only with one of its client certificates; connect over TLS presenting it".into(),
                        ),
                    ),
                    Failure::Refused(why) => (why.to_owned(), Error::Unauthenticated),
                    Failure::Other(e) => return Err(e),
                };
                let locked = self.throttle.record_failure(&keys, Instant::now());
                if locked {
                    detail.push_str("; limit reached, further attempts are refused for a while");
                }
                // The name is the client's to choose: bounded, so that the log stays readable.
                let actor = account.map_or_else(
                    || "-".to_owned(),
                    |a| a.chars().take(MAX_LOGGED_NAME).collect(),
                );
                let entry = AuditEntry {
                    at: Timestamp::now(),
                    actor,
                    org: None,
                    source,
                    action: "auth.failure".into(),
                    feed: None,
                    count: None,
                    ids: Vec::new(),
                    detail: Some(detail),
                };
                if let Err(e) = self.store.record(entry).await {
                    tracing::error!(error = %e, "cannot audit a failed login");
                }
                Err(answer)
            }
        }
    }

    /// Whether a connection that presented `cert` (its SHA-256) may sign in for `org`: always,
    /// unless the organisation is configured with client certificates.
    fn client_cert_fits(&self, org: &str, cert: Option<&str>) -> bool {
        self.config.client_certs.get(org).is_none_or(|pinned| {
            cert.is_some_and(|c| pinned.iter().any(|f| f.eq_ignore_ascii_case(c)))
        })
    }

    /// The organisations named in the client-certificate settings that the store does not
    /// know: a misspelt name would silently let that organisation in without a certificate.
    pub async fn unknown_client_cert_orgs(&self) -> Result<Vec<String>, Error> {
        let mut unknown = Vec::new();
        for org in self.config.client_certs.keys() {
            if self.store.find_org(org).await?.is_none() {
                unknown.push(org.clone());
            }
        }
        unknown.sort();
        Ok(unknown)
    }

    /// Checks the credentials. A password is not verified for an account whose organisation
    /// requires a client certificate the connection did not present: the answer then says
    /// nothing about the password.
    async fn try_credentials(
        &self,
        credentials: &Credentials,
        cert: Option<&str>,
    ) -> Result<Principal, Failure> {
        let (secret, user) = match credentials {
            Credentials::Bearer(t) => (t.as_str(), None),
            Credentials::Basic { user, password } => (password.as_str(), Some(user.as_str())),
        };
        let by_token = self
            .store
            .principal_for_token(self.hasher.hash(secret), Timestamp::now())
            .await
            .map_err(|e| Failure::Other(e.into()))?;
        match (by_token, user) {
            (Some(p), None) => Ok(p),
            (Some(p), Some(u)) if p.user_name == u => Ok(p),
            (Some(_), Some(_)) => Err(Failure::Refused("token of another user")),
            (None, None) => Err(Failure::Refused("unknown, expired or revoked token")),
            (None, Some(u)) => {
                let login = self
                    .store
                    .login(u)
                    .await
                    .map_err(|e| Failure::Other(e.into()))?;
                let (hash, principal) = match login {
                    Some(l) if !self.client_cert_fits(&l.principal.org_name, cert) => {
                        return Err(Failure::NoClientCert(l.principal.org_name));
                    }
                    Some(l) => (l.password_hash, Some(l.principal)),
                    None => (None, None),
                };
                let has_hash = hash.is_some();
                let pw = secret.to_owned();
                // Verifying costs tens of milliseconds of CPU: off the async workers.
                let ok = tokio::task::spawn_blocking(move || {
                    let hash = hash.unwrap_or_else(dummy_hash);
                    crate::password::verify_password(&pw, &hash)
                })
                .await
                .unwrap_or(false);
                match principal {
                    Some(p) if ok && has_hash => Ok(p),
                    _ => Err(Failure::Refused("wrong user name or password")),
                }
            }
        }
    }

    /// The rate limits of the caller's profile: requests per second, objects per day.
    fn check_rates(&self, p: &Principal) -> Result<(), Error> {
        use crate::limits::{Counter, until_tomorrow};
        if let Some(rps) = p.profile.requests_per_second
            && let Err(wait) = self.limits.request(p.credential_key(), rps)
        {
            return Err(Error::RateLimited {
                what: format!("your profile allows {rps} requests per second"),
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        if let Some(per_day) = p.profile.objects_per_day
            && self
                .limits
                .served_today(&Counter::Token(p.credential_key()))
                >= per_day
        {
            return Err(Error::RateLimited {
                what: format!("your profile allows {per_day} objects per day, all served today"),
                retry_after: until_tomorrow(),
            });
        }
        Ok(())
    }

    /// The principal for offline administration on the data directory: whoever can open the
    /// store's files is the ISAC administrator. `actor` names it in the audit log (the binary
    /// passes the local system user).
    pub async fn local_admin(&self, actor: &str) -> Result<Principal, Error> {
        let org = self
            .store
            .find_org(OPERATOR_ORG)
            .await?
            .ok_or_else(|| Error::NotFound("the operator organisation is missing".into()))?;
        Ok(Principal {
            user_id: 0,
            user_name: format!("local:{actor}"),
            role: Role::IsacAdmin,
            org_id: org.id,
            org_name: org.name,
            org_kind: OrgKind::Operator,
            org_anonymous: false,
            groups: Vec::new(),
            token_id: 0,
            read_only: false,
            source: Some("command line".into()),
            profile: Default::default(),
        })
    }

    /// A user, acting from the local command line (an export made as that user sees it): its
    /// organisation's rights, trust groups and profile.
    pub async fn local_user(&self, name: &str) -> Result<Principal, Error> {
        let login = self
            .store
            .login(name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no user '{name}'")))?;
        let mut who = login.principal;
        who.source = Some("command line".into());
        let (org_profile, _) = self.store.profiles(who.org_id, 0).await?;
        who.profile = org_profile.unwrap_or_default();
        Ok(who)
    }

    /// Records an audit entry without waiting for the disk; a failure is logged, not returned,
    /// because the act it records has already been answered.
    async fn note(&self, entry: AuditEntry) {
        if let Err(e) = self.store.record(entry).await {
            tracing::error!(error = %e, "cannot write an audit entry");
        }
    }
}

/// How much of an unknown user name a failed login records.
const MAX_LOGGED_NAME: usize = 100;

/// Why credentials were not accepted: refused (audited, counted), or the store failed.
enum Failure {
    Refused(&'static str),
    /// An account of an organisation that needs one of its client certificates, over a
    /// connection that presented none of them (its password is not checked then).
    NoClientCert(String),
    Other(Error),
}
