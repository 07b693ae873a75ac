//! `isac-relay federation`: peers to pull from and push to over TAXII 2.1 (add, list, status,
//! remove) and `sync`, one run of a peer now, with a progress bar.

use std::io::Read as _;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use federation::{Federation, Options};
use relay_core::federation::{Direction, NewPeer, PeerAuth};
use relay_core::{Severity, Tlp};

use crate::admin_cmd::run;
use crate::{DataArgs, say};

#[derive(Subcommand)]
pub enum FederationCommand {
    /// Add a peer: a remote TAXII 2.1 collection to pull from or push to.
    Add(Box<AddArgs>),
    /// List the peers.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Where each peer stands: cursor, last run, last success, last error, objects moved.
    Status {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Run a peer now (pull or push until it is up to date).
    Sync {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a peer.
    Remove {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
pub struct AddArgs {
    /// The peer's name here
    name: String,
    /// pull (an upstream source) or push (a downstream peer)
    #[arg(long)]
    direction: String,
    /// The remote API root's URL, e.g. https://isac.example/taxii2/isac/
    #[arg(long)]
    api_root: String,
    /// The remote collection's id
    #[arg(long)]
    collection: String,
    /// Local feed: for a pull the one it lands in; for a push, each feed sent (repeat)
    #[arg(long = "feed", required = true)]
    feeds: Vec<String>,
    /// HTTP Basic user; the password is read from standard input
    #[arg(long)]
    user: Option<String>,
    /// Read a bearer token from standard input
    #[arg(long, conflicts_with = "user")]
    token_stdin: bool,
    /// A PEM file with a client certificate and its key
    #[arg(long)]
    client_cert: Option<String>,
    /// Pull: the TLP of objects sent unmarked [default: the feed's]
    #[arg(long)]
    default_tlp: Option<String>,
    /// Push: the highest TLP sent: clear, green or amber
    #[arg(long, default_value = "green")]
    max_tlp: String,
    /// Push: only this STIX type (repeat)
    #[arg(long = "type")]
    types: Vec<String>,
    /// Push: only feeds at least this severe (urgent, important, informational)
    #[arg(long)]
    min_severity: Option<String>,
    /// Push: the local organisation the peer posts as (never sent back to it)
    #[arg(long)]
    peer_org: Option<String>,
    /// Seconds between runs
    #[arg(long, default_value_t = 300)]
    interval: u64,
    #[command(flatten)]
    data: DataArgs,
}

fn secret_from_stdin(what: &str) -> Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    let s = s.trim_end_matches(['\r', '\n']).to_owned();
    if s.is_empty() {
        bail!("no {what} on standard input");
    }
    Ok(s)
}

fn tlp(s: &str) -> Result<Tlp> {
    Tlp::parse(s).with_context(|| format!("unknown TLP '{s}'"))
}

fn when(t: Option<stix::Timestamp>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.to_string())
}

pub async fn federation(cmd: FederationCommand) -> Result<()> {
    match cmd {
        FederationCommand::Add(args) => {
            let a = *args;
            let direction = Direction::parse(&a.direction)
                .with_context(|| format!("--direction {}: pull or push", a.direction))?;
            let auth = match (&a.user, a.token_stdin) {
                (Some(u), _) => PeerAuth::Basic {
                    user: u.clone(),
                    password: secret_from_stdin("password")?,
                },
                (None, true) => PeerAuth::Bearer(secret_from_stdin("token")?),
                (None, false) => PeerAuth::None,
            };
            let default_tlp = a.default_tlp.as_deref().map(tlp).transpose()?;
            let max_tlp = tlp(&a.max_tlp)?;
            let min_severity = a
                .min_severity
                .as_deref()
                .map(Severity::parse)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            run(&a.data, |relay, me| async move {
                let peer = relay
                    .add_peer(
                        &me,
                        NewPeer {
                            name: a.name,
                            direction,
                            api_root: a.api_root,
                            collection: a.collection,
                            auth,
                            client_cert: a.client_cert,
                            feeds: a.feeds,
                            default_tlp,
                            max_tlp,
                            types: a.types,
                            min_severity,
                            peer_org: None,
                            interval_secs: a.interval,
                        },
                        a.peer_org.as_deref(),
                    )
                    .await?;
                say(&format!(
                    "added peer {} ({})",
                    peer.spec.name,
                    peer.spec.direction.as_str()
                ))
            })
            .await
        }
        FederationCommand::List { data } => {
            run(&data, |relay, me| async move {
                say("NAME\tDIRECTION\tAPI-ROOT\tCOLLECTION\tAUTH\tINTERVAL")?;
                for p in relay.peers(&me).await? {
                    let s = &p.spec;
                    say(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        s.name,
                        s.direction.as_str(),
                        s.api_root,
                        s.collection,
                        s.auth.kind(),
                        s.interval_secs
                    ))?;
                }
                Ok(())
            })
            .await
        }
        FederationCommand::Status { data } => {
            run(&data, |relay, me| async move {
                say("NAME\tCURSOR\tLAST-RUN\tLAST-SUCCESS\tTRANSFERRED\tLAST-ERROR")?;
                for p in relay.peers(&me).await? {
                    say(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        p.spec.name,
                        when(p.cursor),
                        when(p.last_run),
                        when(p.last_success),
                        p.transferred,
                        p.last_error.as_deref().unwrap_or("-")
                    ))?;
                }
                Ok(())
            })
            .await
        }
        FederationCommand::Sync { name, data } => {
            run(&data, |relay, me| async move {
                // Only an administrator runs peers by hand.
                relay.peers(&me).await?;
                let bar = indicatif::ProgressBar::with_draw_target(
                    None,
                    indicatif::ProgressDrawTarget::stderr(),
                );
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {pos} objects ({per_sec})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                let fed = Federation::new(relay, Options::default());
                let progress_bar = bar.clone();
                let report = fed
                    .sync(&name, &move |n| progress_bar.set_position(n))
                    .await;
                bar.finish_and_clear();
                let report = report?;
                say(&format!(
                    "{name}: {} objects moved, {} skipped, in {} batches",
                    report.transferred, report.skipped, report.batches
                ))
            })
            .await
        }
        FederationCommand::Remove { name, data } => {
            run(&data, |relay, me| async move {
                relay.remove_peer(&me, &name).await?;
                say(&format!("removed peer {name}"))
            })
            .await
        }
    }
}
