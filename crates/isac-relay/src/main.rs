//! `isac-relay`: the one binary. It parses the command line, loads the configuration, wires the
//! concrete store to the services and the HTTP front end, and supervises the server. Errors
//! meet `anyhow` here and nowhere else.

mod admin_cmd;
mod backup_cmd;
mod catalogue_cmd;
mod export_cmd;
mod federation_cmd;
mod metrics_cmd;
mod notice_cmd;
mod stix_cmd;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use relay_core::Relay;
use relay_core::Store;
use store::{PgStore, SqliteStore};

use isac_relay::config;

use crate::config::{Config, Overrides};

/// glibc's allocator serialises threads that free what another thread allocated (an export's
/// rows are built on the store's thread and dropped on the engine's); mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "isac-relay",
    version,
    about = "The ISAC's information relay: STIX 2.1 over TAXII 2.1"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
pub(crate) struct DataArgs {
    /// The data directory [default: ./isac-relay-data]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// A TOML configuration file (see config.example.toml)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Keep everything in this PostgreSQL database (postgres://USER@HOST:PORT/DB) instead of
    /// the embedded one in the data directory
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay server.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free port
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Manage organisations (members and partners).
    Org {
        #[command(subcommand)]
        command: admin_cmd::OrgCommand,
    },
    /// Manage the users of organisations.
    User {
        #[command(subcommand)]
        command: admin_cmd::UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: admin_cmd::TokenCommand,
    },
    /// Manage trust groups of organisations.
    Group {
        #[command(subcommand)]
        command: admin_cmd::GroupCommand,
    },
    /// Manage feeds (TAXII collections) and the rights on them.
    Feed {
        #[command(subcommand)]
        command: admin_cmd::FeedCommand,
    },
    /// Manage the routing rules of posts to Default and other inboxes.
    Routing {
        #[command(subcommand)]
        command: catalogue_cmd::RoutingCommand,
    },
    /// Manage consumer profiles (feeds, severity, volume caps, rate limits).
    Profile {
        #[command(subcommand)]
        command: catalogue_cmd::ProfileCommand,
    },
    /// Read the audit log (the ISAC administrator's view).
    Audit(admin_cmd::AuditArgs),
    /// Write a block list (ip, domain, url, hash, rpz, suricata, nftables, ipset, csv, stix).
    Export(Box<export_cmd::ExportArgs>),
    /// Manage the allowlist: values never exported, whoever posted them.
    Allowlist {
        #[command(subcommand)]
        command: export_cmd::AllowlistCommand,
    },
    /// Manage members' own networks: never exported to them.
    Ranges {
        #[command(subcommand)]
        command: export_cmd::AssetCommand,
    },
    /// Manage members' own domains: never exported to them.
    Domains {
        #[command(subcommand)]
        command: export_cmd::AssetCommand,
    },
    /// Scan campaigns (NOTICE): snapshots of members' ranges, result uploads routed to owners.
    Campaign {
        #[command(subcommand)]
        command: notice_cmd::CampaignCommand,
    },
    /// Findings routed to members: list them, update their status in bulk.
    Findings {
        #[command(subcommand)]
        command: notice_cmd::FindingsCommand,
    },
    /// Reports of findings and notification progress.
    Report {
        #[command(subcommand)]
        command: notice_cmd::ReportCommand,
    },
    /// Coverage and lead time of shared information, daily counts of C2 servers and phishing
    /// sites.
    Metrics {
        #[command(subcommand)]
        command: metrics_cmd::MetricsCommand,
    },
    /// Federation peers: other ISACs' and national feeds' TAXII 2.1 collections pulled from
    /// or pushed to.
    Federation {
        #[command(subcommand)]
        command: federation_cmd::FederationCommand,
    },
    /// Copy a relay's whole state from its embedded database into an empty PostgreSQL
    /// database, checking every table by row count and checksum (stop its server first).
    Migrate {
        /// The data directory of the relay to copy
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The PostgreSQL database to copy into (postgres://USER@HOST:PORT/DB)
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Write a consistent copy of the store to a new directory, with its checksum (works while
    /// the server runs).
    Backup {
        /// The directory to create (it must not exist, or be empty)
        dest: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Restore a backup into a data directory, after checking its checksum; an older backup
    /// is brought to this build's schema.
    Restore {
        /// A directory written by `backup`
        src: PathBuf,
        /// Replace a database already in the data directory (stop its server first)
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Check STIX files and extract their observables (no data directory needed).
    Stix {
        #[command(subcommand)]
        command: StixCommand,
    },
}

#[derive(Subcommand)]
enum StixCommand {
    /// Check bundles, envelopes or single objects; exit status 1 if any object is invalid.
    Validate {
        /// Refuse custom properties (STIX allows them; by default they are warnings)
        #[arg(long)]
        strict: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the observables of each object: KIND<TAB>VALUE<TAB>OBJECT_ID.
    Observables {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ISAC_RELAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A reader that stopped reading (`... | head`) is not an error of ours.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub(crate) fn load_config(args: &DataArgs, listen: Option<std::net::SocketAddr>) -> Result<Config> {
    let overrides = Overrides {
        data: args.data.clone(),
        listen,
        store: args.store.clone(),
    };
    let config =
        config::load(args.config.as_deref(), &overrides).context("invalid configuration")?;
    if let Err(msg) = config.check() {
        bail!("invalid configuration: {msg}");
    }
    Ok(config)
}

/// Opens the store the configuration names: the PostgreSQL database of `store`, or else the
/// embedded one in the data directory (created); and the services over it.
async fn open(config: &Config) -> Result<(Relay, Arc<dyn Store>)> {
    let store: Arc<dyn Store> = match &config.store {
        Some(url) => Arc::new(PgStore::connect(url).await?),
        None => {
            std::fs::create_dir_all(&config.data).with_context(|| {
                format!("cannot create the data directory {}", config.data.display())
            })?;
            Arc::new(SqliteStore::open(&config.data)?)
        }
    };
    let relay = Relay::open(store.clone(), config.relay()).await?;
    relay.ensure_default_feeds().await?;
    Ok((relay, store))
}

pub(crate) fn say(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Stix { command } => match command {
            StixCommand::Validate { strict, files } => {
                let options = stix::ValidationOptions {
                    strict_custom_properties: strict,
                };
                if stix_cmd::validate(&files, options)? {
                    Ok(())
                } else {
                    bail!("some objects are not valid STIX 2.1")
                }
            }
            StixCommand::Observables { files } => stix_cmd::observables(&files),
        },
        Command::Serve { data, listen } => serve(load_config(&data, listen)?).await,
        Command::Org { command } => admin_cmd::org(command).await,
        Command::User { command } => admin_cmd::user(command).await,
        Command::Token { command } => admin_cmd::token(command).await,
        Command::Group { command } => admin_cmd::group(command).await,
        Command::Feed { command } => admin_cmd::feed(command).await,
        Command::Audit(args) => admin_cmd::audit(args).await,
        Command::Routing { command } => catalogue_cmd::routing(command).await,
        Command::Profile { command } => catalogue_cmd::profile(command).await,
        Command::Export(args) => export_cmd::export(*args).await,
        Command::Allowlist { command } => export_cmd::allowlist(command).await,
        Command::Ranges { command } => {
            export_cmd::assets(command, relay_core::exchange::AssetKind::Cidr).await
        }
        Command::Domains { command } => {
            export_cmd::assets(command, relay_core::exchange::AssetKind::Domain).await
        }
        Command::Campaign { command } => notice_cmd::campaign(command).await,
        Command::Findings { command } => notice_cmd::findings(command).await,
        Command::Report { command } => notice_cmd::report(command).await,
        Command::Metrics { command } => metrics_cmd::metrics(command).await,
        Command::Federation { command } => federation_cmd::federation(command).await,
        Command::Migrate { from, to } => migrate(&from, &to).await,
        Command::Backup { dest, data } => backup_cmd::backup(dest, data).await,
        Command::Restore { src, force, data } => backup_cmd::restore(src, force, data).await,
    }
}

/// `migrate`: SQLite to PostgreSQL, table by table, each checked; all or nothing.
async fn migrate(from: &Path, to: &str) -> Result<()> {
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        bail!("--to must be a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE)");
    }
    let mut lines = Vec::new();
    let tables = store::migrate::sqlite_to_postgres(from, to, |t| {
        lines.push(format!(
            "{:<24} {:>12} rows  checksum {:016x}",
            t.table, t.rows, t.checksum
        ));
    })
    .await
    .with_context(|| format!("cannot migrate {}", display_dir(from)))?;
    for l in &lines {
        say(l)?;
    }
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    say(&format!(
        "copied {} tables, {rows} rows, each checked by count and checksum; serve them with --store and the same URL",
        tables.len()
    ))?;
    Ok(())
}

/// Runs one administrative action on the data directory and closes the store cleanly.
pub(crate) async fn offline<F, Fut>(config: &Config, action: F) -> Result<()>
where
    F: FnOnce(Relay) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let (relay, store) = open(config).await?;
    let result = action(relay).await;
    store.close().await;
    result
}

async fn serve(config: Config) -> Result<()> {
    let (relay, store) = open(&config).await?;
    let chosen = std::env::var("ISAC_RELAY_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if let Some(token) = relay.bootstrap_admin(chosen.as_deref()).await? {
        if chosen.is_some() {
            say("created the administrator 'admin' with the token from ISAC_RELAY_ADMIN_TOKEN")?;
        } else {
            say("created the administrator 'admin'; its API token is shown only this once:")?;
            say(&format!("admin token: {token}"))?;
        }
    }
    let unknown = relay.unknown_client_cert_orgs().await?;
    if !unknown.is_empty() {
        store.close().await;
        anyhow::bail!(
            "tls.client_certs names organisations this relay does not have: {} (names are exact; \
             create them with `isac-relay org add` or correct the spelling)",
            unknown
                .iter()
                .map(|o| format!("'{o}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let app = server::App::build(config.listen, relay.clone(), config.server())
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = app.local_addr()?;
    match &config.store {
        // The URL may carry a password: only where it points is logged.
        Some(url) => tracing::info!(
            store = url.split('@').next_back().unwrap_or("postgres"),
            "serving from PostgreSQL"
        ),
        None => tracing::info!(data = %display_dir(&config.data), "serving"),
    }
    let scheme = if app.is_tls() { "https" } else { "http" };
    say(&format!("listening on {scheme}://{addr}"))?;
    // Peers are pulled from and pushed to as they fall due, until the server stops.
    let (stop_federation, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut federation = tokio::spawn(
        federation::Federation::new(relay, federation::Options::default()).run(async {
            let _ = stopped.await;
        }),
    );
    let served = app.serve(shutdown_signal()).await;
    let _ = stop_federation.send(());
    if tokio::time::timeout(std::time::Duration::from_secs(15), &mut federation)
        .await
        .is_err()
    {
        tracing::warn!("a federation run did not stop in 15 s; it is cut");
        federation.abort();
    }
    store.close().await;
    served.context("the server stopped with an error")
}

fn display_dir(p: &Path) -> String {
    p.canonicalize()
        .unwrap_or_else(|_| p.to_owned())
        .display()
        .to_string()
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
