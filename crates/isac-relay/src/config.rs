//! Configuration: defaults < a TOML file < `ISAC_RELAY_*` environment variables (`__` nests,
//! e.g. `ISAC_RELAY_TAXII__MAX_PAGE_SIZE`) < command-line flags. `config.example.toml`
//! documents every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The data directory: the embedded database lives here.
    pub data: PathBuf,
    /// A PostgreSQL database (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`) to keep everything
    /// in instead of the embedded SQLite file, shared by every relay node pointed at it; the
    /// data directory is then not used.
    pub store: Option<String>,
    /// The address `serve` listens on; port 0 picks a free port.
    pub listen: SocketAddr,
    pub taxii: TaxiiConfig,
    pub stix: StixConfig,
    pub auth: AuthConfig,
    pub webhooks: WebhookConfig,
    pub metrics: MetricsConfig,
    pub web: WebConfig,
    pub limits: LimitsConfig,
    pub tls: TlsConfig,
}

/// HTTPS: the certificate chain and key (PEM files, read again on SIGHUP), and client
/// certificates for the organisations that sign in with one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The CA client certificates must chain to; the server asks for one when it is set.
    pub client_ca: Option<PathBuf>,
    /// Organisation name → SHA-256 fingerprints of its client certificates (hex, colons
    /// allowed). Such an organisation's users and tokens are let in only over a connection
    /// that presented one of them.
    #[serde(default)]
    pub client_certs: std::collections::BTreeMap<String, Vec<String>>,
}

/// Bounds on one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_objects_per_envelope: usize,
    pub max_string_bytes: usize,
    pub max_pattern_bytes: usize,
    pub max_pattern_terms: usize,
    pub max_query_params: usize,
    pub max_query_bytes: usize,
    pub max_connections: usize,
    pub header_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub request_timeout_secs: u64,
    /// How often an open live stream checks its reader's rights again.
    pub stream_recheck_secs: u64,
}

/// A client certificate's fingerprint as `openssl x509 -fingerprint -sha256` prints it, or
/// plain hex: lower-case hex without colons, or `None` if it is not 32 bytes of hex.
fn fingerprint(text: &str) -> Option<String> {
    let hex: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

/// The web pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Mark session cookies `Secure`: set it when browsers reach the relay over HTTPS.
    pub secure_cookies: bool,
}

/// Metrics: the IP-to-country/ASN database daily counts use (none is shipped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// A MaxMind-format `.mmdb`, or a CSV of ranges (`network,country[,asn]` or
    /// `first,last,country[,asn]`).
    pub geo_db: Option<PathBuf>,
}

/// Webhook deliveries: the first retry after a failure, doubling up to the longest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub retry_first_ms: u64,
    pub retry_max_ms: u64,
    pub batch: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub max_failures_per_account: usize,
    pub max_failures_per_source: usize,
    pub failure_window_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StixConfig {
    pub strict_custom_properties: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxiiConfig {
    pub api_root: String,
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    pub max_content_length: usize,
    pub default_page_size: usize,
    pub max_page_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        let relay = relay_core::RelayConfig::default();
        let server = server::ServerConfig::default();
        Config {
            data: PathBuf::from("./isac-relay-data"),
            store: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            taxii: TaxiiConfig {
                api_root: server.api_root,
                title: server.title,
                description: server.description,
                contact: server.contact,
                max_content_length: relay.max_content_length,
                default_page_size: relay.page_limits.default,
                max_page_size: relay.page_limits.max,
            },
            stix: StixConfig {
                strict_custom_properties: relay.validation.strict_custom_properties,
            },
            auth: AuthConfig {
                max_failures_per_account: relay.throttle.per_account,
                max_failures_per_source: relay.throttle.per_source,
                failure_window_secs: relay.throttle.window.as_secs(),
            },
            webhooks: WebhookConfig {
                retry_first_ms: relay.webhook_retry.first.as_millis() as u64,
                retry_max_ms: relay.webhook_retry.max.as_millis() as u64,
                batch: relay.webhook_retry.batch,
            },
            metrics: MetricsConfig { geo_db: None },
            web: WebConfig {
                secure_cookies: server.secure_cookies,
            },
            limits: LimitsConfig {
                max_objects_per_envelope: relay.bounds.max_objects,
                max_string_bytes: relay.bounds.max_string_bytes,
                max_pattern_bytes: relay.bounds.max_pattern_bytes,
                max_pattern_terms: relay.bounds.max_pattern_terms,
                max_query_params: server.max_query_params,
                max_query_bytes: server.max_query_bytes,
                max_connections: server.connections.max_connections,
                header_timeout_secs: server.connections.header_timeout.as_secs(),
                idle_timeout_secs: server.connections.idle_timeout.as_secs(),
                request_timeout_secs: server.request_timeout.as_secs(),
                stream_recheck_secs: relay.stream_recheck.as_secs(),
            },
            tls: TlsConfig::default(),
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// Environment variables that are read elsewhere and are not configuration keys.
const NOT_KEYS: &[&str] = &["admin_token"];

pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, Box<figment::Error>> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        // A named file must exist: a typo in --config must not silently fall back to defaults.
        if !path.is_file() {
            return Err(Box::new(figment::Error::from(format!(
                "the configuration file {} does not exist",
                path.display()
            ))));
        }
        fig = fig.merge(Toml::file_exact(path));
    }
    fig.merge(Env::prefixed("ISAC_RELAY_").split("__").ignore(NOT_KEYS))
        .merge(Serialized::defaults(overrides))
        .extract()
        .map_err(Box::new)
}

/// A configuration from TOML text over the defaults (no environment, no flags), checked: what
/// a configuration file alone makes. For the fuzz target of configuration files and its
/// corpus replay.
pub fn from_toml(text: &str) -> Result<Config, String> {
    let config: Config = Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(text))
        .extract()
        .map_err(|e| e.to_string())?;
    config.check()?;
    Ok(config)
}

impl Config {
    pub fn relay(&self) -> relay_core::RelayConfig {
        relay_core::RelayConfig {
            max_content_length: self.taxii.max_content_length,
            page_limits: relay_core::query::PageLimits {
                default: self.taxii.default_page_size,
                max: self.taxii.max_page_size,
            },
            validation: stix::ValidationOptions {
                strict_custom_properties: self.stix.strict_custom_properties,
            },
            throttle: relay_core::throttle::ThrottleConfig {
                per_account: self.auth.max_failures_per_account,
                per_source: self.auth.max_failures_per_source,
                window: std::time::Duration::from_secs(self.auth.failure_window_secs),
            },
            webhook_retry: relay_core::RetryConfig {
                first: std::time::Duration::from_millis(self.webhooks.retry_first_ms),
                max: std::time::Duration::from_millis(self.webhooks.retry_max_ms),
                batch: self.webhooks.batch,
            },
            bounds: relay_core::bounds::Bounds {
                max_objects: self.limits.max_objects_per_envelope,
                max_string_bytes: self.limits.max_string_bytes,
                max_pattern_bytes: self.limits.max_pattern_bytes,
                max_pattern_terms: self.limits.max_pattern_terms,
            },
            stream_recheck: std::time::Duration::from_secs(self.limits.stream_recheck_secs),
            client_certs: self
                .tls
                .client_certs
                .iter()
                .map(|(org, prints)| {
                    (
                        org.clone(),
                        prints.iter().filter_map(|p| fingerprint(p)).collect(),
                    )
                })
                .collect(),
        }
    }

    pub fn server(&self) -> server::ServerConfig {
        server::ServerConfig {
            api_root: self.taxii.api_root.clone(),
            title: self.taxii.title.clone(),
            description: self.taxii.description.clone(),
            contact: self.taxii.contact.clone(),
            geo_db: self.metrics.geo_db.clone(),
            secure_cookies: self.web.secure_cookies,
            max_query_params: self.limits.max_query_params,
            max_query_bytes: self.limits.max_query_bytes,
            tls: match (&self.tls.cert, &self.tls.key) {
                (Some(cert), Some(key)) => Some(server::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: self.tls.client_ca.clone(),
                }),
                _ => None,
            },
            connections: server::ConnLimits {
                max_connections: self.limits.max_connections,
                header_timeout: Duration::from_secs(self.limits.header_timeout_secs),
                idle_timeout: Duration::from_secs(self.limits.idle_timeout_secs),
            },
            request_timeout: Duration::from_secs(self.limits.request_timeout_secs),
        }
    }

    /// Checks what the types alone do not.
    pub fn check(&self) -> Result<(), String> {
        let t = &self.taxii;
        if t.max_content_length == 0 {
            return Err("taxii.max_content_length must be greater than 0".into());
        }
        if t.default_page_size == 0 || t.max_page_size == 0 || t.default_page_size > t.max_page_size
        {
            return Err("taxii.default_page_size and taxii.max_page_size must be positive, the default no larger than the maximum".into());
        }
        let a = &self.auth;
        if a.max_failures_per_account == 0
            || a.max_failures_per_source == 0
            || a.failure_window_secs == 0
        {
            return Err("auth.max_failures_per_account, auth.max_failures_per_source and auth.failure_window_secs must be greater than 0".into());
        }
        let w = &self.webhooks;
        if w.retry_first_ms == 0 || w.retry_max_ms < w.retry_first_ms || w.batch == 0 {
            return Err("webhooks.retry_first_ms and webhooks.batch must be greater than 0, and webhooks.retry_max_ms at least retry_first_ms".into());
        }
        if let Some(url) = &self.store
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(format!(
                "store '{}' is not a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE); leave it out to use the embedded database in the data directory",
                url.split('@').next_back().unwrap_or(url)
            ));
        }
        let l = &self.limits;
        if l.max_connections == 0
            || l.header_timeout_secs == 0
            || l.idle_timeout_secs == 0
            || l.request_timeout_secs == 0
            || l.stream_recheck_secs == 0
        {
            return Err("limits.max_connections, limits.header_timeout_secs, limits.idle_timeout_secs, limits.request_timeout_secs and limits.stream_recheck_secs must be greater than 0".into());
        }
        let tls = &self.tls;
        if tls.cert.is_some() != tls.key.is_some() {
            return Err("tls.cert and tls.key go together: give both, or neither".into());
        }
        if tls.client_ca.is_some() && tls.cert.is_none() {
            return Err(
                "tls.client_ca needs tls.cert and tls.key: client certificates come over HTTPS"
                    .into(),
            );
        }
        if !tls.client_certs.is_empty() && tls.client_ca.is_none() {
            return Err(
                "tls.client_certs needs tls.client_ca, the CA those certificates chain to".into(),
            );
        }
        for (org, prints) in &tls.client_certs {
            if prints.is_empty() {
                return Err(format!("tls.client_certs.\"{org}\" lists no certificate"));
            }
            if let Some(bad) = prints.iter().find(|p| fingerprint(p).is_none()) {
                return Err(format!(
                    "tls.client_certs.\"{org}\": '{bad}' is not a SHA-256 fingerprint (64 hex digits, colons allowed)"
                ));
            }
        }
        let name_ok = !t.api_root.is_empty()
            && t.api_root
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(format!(
                "taxii.api_root '{}' must be letters, digits, '-' or '_'",
                t.api_root
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
// figment's test jail returns its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn a_store_must_be_a_postgresql_url_and_its_password_is_not_repeated() {
        let pg = from_toml("store = \"postgres://relay:pw@db.example:5432/relay\"").unwrap();
        assert_eq!(
            pg.store.as_deref(),
            Some("postgres://relay:pw@db.example:5432/relay")
        );
        let e = from_toml("store = \"mysql://relay:hunter2@db.example/relay\"").unwrap_err();
        assert!(e.contains("not a PostgreSQL URL"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn the_example_file_documents_the_defaults() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config.example.toml");
        let loaded: Config = Figment::new()
            .merge(Toml::file_exact(&example))
            .extract()
            .expect("config.example.toml loads");
        assert_eq!(loaded, Config::default());
    }

    #[test]
    fn layers_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("relay.toml", "listen = \"127.0.0.1:9000\"\n[taxii]\nmax_page_size = 50\ndefault_page_size = 10\n")?;
            jail.set_env("ISAC_RELAY_TAXII__MAX_PAGE_SIZE", "70");
            jail.set_env("ISAC_RELAY_ADMIN_TOKEN", "not-a-config-key-and-ignored");
            let c = load(Some(Path::new("relay.toml")), &Overrides::default()).unwrap();
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.taxii.max_page_size, 70);
            assert_eq!(c.taxii.default_page_size, 10);
            let flags = Overrides {
                listen: Some("127.0.0.1:0".parse().unwrap()),
                data: None,
                store: None,
            };
            let c = load(Some(Path::new("relay.toml")), &flags).unwrap();
            assert_eq!(c.listen.port(), 0);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "lisen = \"127.0.0.1:9000\"\n")?;
            assert!(load(Some(Path::new("bad.toml")), &Overrides::default()).is_err());
            assert!(load(Some(Path::new("missing.toml")), &Overrides::default()).is_err());
            Ok(())
        });
    }
}
