//! The `export`, `allowlist`, `ranges` and `domains` subcommands: block lists written to a
//! file (as the ISAC administrator sees them, or as a user does), the allowlist, and members'
//! own networks and domains, which their exports never carry.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use engine::export::{ExportRequest, Exports};
use relay_core::exchange::AssetKind;

use crate::DataArgs;
use crate::admin_cmd::run;
use crate::say;

#[derive(Args)]
pub struct ExportArgs {
    /// ip, domain, url, hash, rpz, suricata, nftables, ipset, csv or stix
    #[arg(long)]
    format: String,
    /// A feed to export (repeatable) [default: every feed the exporter may read]
    #[arg(long = "feed", value_name = "FEED")]
    feeds: Vec<String>,
    /// Write here (replaced atomically) [default: standard output]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Export as this user sees it (rights, TLP, profile) [default: the ISAC administrator]
    #[arg(long)]
    user: Option<String>,
    /// urgent, important or informational
    #[arg(long)]
    min_severity: Option<String>,
    #[arg(long)]
    min_confidence: Option<String>,
    #[arg(long)]
    min_corroboration: Option<String>,
    /// Only entries at least this many members apply
    #[arg(long)]
    min_applied_by: Option<String>,
    /// ip, ipv4, ipv6, domain, url, hash or a hash algorithm (repeatable)
    #[arg(long = "kind", value_name = "KIND")]
    kinds: Vec<String>,
    /// Include revoked and expired entries
    #[arg(long)]
    include_inactive: bool,
    /// At most this many entries, the highest ranked
    #[arg(long)]
    max: Option<String>,
    /// Only what changed since the export that printed this token
    #[arg(long)]
    since: Option<String>,
    /// hash: the algorithm [default: sha256]
    #[arg(long)]
    algorithm: Option<String>,
    /// ip: one line per entry instead of the fewest CIDRs
    #[arg(long)]
    no_aggregate: bool,
    /// rpz: the zone's origin [default: rpz.isac-relay]
    #[arg(long)]
    zone: Option<String>,
    /// rpz: nxdomain, nodata or garden:HOST [default: nxdomain]
    #[arg(long)]
    action: Option<String>,
    /// rpz: the records' TTL in seconds [default: 300]
    #[arg(long)]
    ttl: Option<String>,
    /// nftables: the table [default: isac_relay]
    #[arg(long)]
    table: Option<String>,
    /// nftables, ipset: the set name [default: blocklist]
    #[arg(long)]
    set: Option<String>,
    /// suricata: the first rule's sid [default: 1000000]
    #[arg(long)]
    sid_base: Option<String>,
    #[command(flatten)]
    data: DataArgs,
}

impl ExportArgs {
    fn pairs(&self) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                p.push((k.to_owned(), v.clone()));
            }
        };
        put("min_severity", &self.min_severity);
        put("min_confidence", &self.min_confidence);
        put("min_corroboration", &self.min_corroboration);
        put("min_applied_by", &self.min_applied_by);
        put("max", &self.max);
        put("since", &self.since);
        put("algorithm", &self.algorithm);
        put("zone", &self.zone);
        put("action", &self.action);
        put("ttl", &self.ttl);
        put("table", &self.table);
        put("set", &self.set);
        put("sid_base", &self.sid_base);
        p.extend(self.feeds.iter().map(|f| ("feed".to_owned(), f.clone())));
        p.extend(self.kinds.iter().map(|k| ("kind".to_owned(), k.clone())));
        if self.include_inactive {
            p.push(("active".into(), "false".into()));
        }
        if self.no_aggregate {
            p.push(("aggregate".into(), "false".into()));
        }
        p
    }
}

pub async fn export(args: ExportArgs) -> Result<()> {
    let req =
        ExportRequest::from_pairs(&args.format, &args.pairs()).map_err(|e| anyhow::anyhow!(e))?;
    let user = args.user.clone();
    let out = args.out.clone();
    run(&args.data, |relay, me| async move {
        let who = match &user {
            Some(name) => relay.local_user(name).await?,
            None => me,
        };
        let exports = Exports::new(relay.store());
        let summary = match &out {
            Some(path) => {
                // Written beside the target and renamed over it, so that a loader reading the
                // file never sees half of it.
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
                let tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(std::path::Path::new(".")))
                    .with_context(|| format!("cannot write beside {}", path.display()))?;
                let file = tmp.reopen()?;
                let summary = exports
                    .export_to(&who, req, std::io::BufWriter::new(file))
                    .await?;
                tmp.persist(path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                summary
            }
            None => exports.export_to(&who, req, std::io::stdout()).await?,
        };
        let mut err = std::io::stderr().lock();
        writeln!(err, "exported {} entries", summary.entries)?;
        if !summary.dropped.is_empty() {
            let mut by_reason: std::collections::BTreeMap<&str, usize> = Default::default();
            for d in &summary.dropped {
                *by_reason.entry(d.reason.code).or_default() += 1;
            }
            let parts: Vec<String> = by_reason.iter().map(|(r, n)| format!("{n} {r}")).collect();
            writeln!(
                err,
                "dropped {} by the warning lists: {}",
                summary.dropped.len(),
                parts.join(", ")
            )?;
            for d in summary.dropped.iter().take(20) {
                writeln!(err, "  {} {}: {}", d.kind, d.value, d.reason)?;
            }
        }
        writeln!(err, "since token: {}", summary.token)?;
        Ok(())
    })
    .await
}

#[derive(Subcommand)]
pub enum AllowlistCommand {
    /// List the allowlist: id, kind, value, reason.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Never export VALUE (an address or network, a domain and its subdomains, a URL or a hash).
    Add {
        value: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove an allowlist entry by id.
    Remove {
        id: i64,
        #[command(flatten)]
        data: DataArgs,
    },
}

pub async fn allowlist(cmd: AllowlistCommand) -> Result<()> {
    match cmd {
        AllowlistCommand::List { data } => {
            run(&data, |relay, me| async move {
                for a in Exports::new(relay.store()).allowlist(&me).await? {
                    say(&format!(
                        "{}\t{}\t{}\t{}",
                        a.id,
                        a.kind.code(),
                        a.value,
                        a.reason
                    ))?;
                }
                Ok(())
            })
            .await
        }
        AllowlistCommand::Add {
            value,
            reason,
            data,
        } => {
            run(&data, |relay, me| async move {
                let id = Exports::new(relay.store())
                    .allow(&me, &value, &reason)
                    .await?;
                say(&format!("allowlisted {value} ({id})"))
            })
            .await
        }
        AllowlistCommand::Remove { id, data } => {
            run(&data, |relay, me| async move {
                Exports::new(relay.store()).disallow(&me, id).await?;
                say(&format!("removed allowlist entry {id}"))
            })
            .await
        }
    }
}

#[derive(Subcommand)]
pub enum AssetCommand {
    /// Register an organisation's own networks and AS numbers (or domains): never exported
    /// to it; scan findings in its networks are routed to it.
    Add {
        org: String,
        #[arg(required = true)]
        values: Vec<String>,
        /// Valid from this RFC 3339 time [default: now]
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Valid until this RFC 3339 time [default: open-ended]
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List registrations: id, organisation, value, since.
    List {
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// End a registration by id (its history stays).
    Remove {
        id: i64,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Networks claimed by more than one organisation (findings there route to neither).
    Overlaps {
        #[command(flatten)]
        data: DataArgs,
    },
}

/// `ranges` (networks) and `domains`: the same registry, one kind each.
pub async fn assets(cmd: AssetCommand, kind: AssetKind) -> Result<()> {
    match cmd {
        AssetCommand::Add {
            org,
            values,
            from,
            until,
            data,
        } => {
            let time = |name: &str, v: Option<String>| -> Result<Option<stix::Timestamp>> {
                v.map(|s| {
                    stix::Timestamp::parse(&s)
                        .map_err(|_| anyhow::anyhow!("--{name} '{s}' is not an RFC 3339 time"))
                })
                .transpose()
            };
            let validity = (time("from", from)?, time("until", until)?);
            // Every value checked before any is registered: a typo changes nothing.
            for v in &values {
                engine::export::asset_value(v, Some(kind))?;
            }
            run(&data, |relay, me| async move {
                let exports = Exports::new(relay.store());
                // Registered together: the store commits them in a few transactions, which
                // matters for the hundreds of ranges an ISP registers.
                let mut tasks = tokio::task::JoinSet::new();
                for (i, v) in values.iter().enumerate() {
                    let (exports, me, org, v) =
                        (exports.clone(), me.clone(), org.clone(), v.clone());
                    tasks.spawn(async move {
                        let id = exports.add_asset(&me, &org, &v, Some(kind), validity).await;
                        (i, v, id)
                    });
                }
                let mut done = tasks.join_all().await;
                done.sort_by_key(|(i, _, _)| *i);
                let mut failed = None;
                for (_, v, id) in done {
                    match id {
                        Ok(id) => say(&format!("registered {v} to {org} ({id})"))?,
                        Err(e) => {
                            eprintln!("{v}: {e}");
                            failed = Some(e);
                        }
                    }
                }
                match failed {
                    Some(e) => Err(e.into()),
                    None => Ok(()),
                }
            })
            .await
        }
        AssetCommand::List { org, data } => {
            run(&data, |relay, me| async move {
                for a in Exports::new(relay.store())
                    .assets(&me, org.as_deref())
                    .await?
                {
                    let range = |k: AssetKind| matches!(k, AssetKind::Cidr | AssetKind::Asn);
                    if a.kind == kind || (range(a.kind) && range(kind)) {
                        let period = match (a.valid_from, a.valid_until) {
                            (None, None) => String::new(),
                            (f, u) => format!(
                                "\tvalid {} to {}",
                                f.map_or("(added)".into(), |t| t.to_string()),
                                u.map_or("(open)".into(), |t| t.to_string())
                            ),
                        };
                        say(&format!(
                            "{}\t{}\t{}\t{}{period}",
                            a.id, a.org_name, a.value, a.added
                        ))?;
                    }
                }
                Ok(())
            })
            .await
        }
        AssetCommand::Overlaps { data } => {
            if kind != AssetKind::Cidr {
                anyhow::bail!("overlaps concern networks: use `isac-relay ranges overlaps`");
            }
            run(&data, |relay, me| async move {
                let overlaps = engine::notice::Notice::new(relay.store())
                    .overlaps(&me)
                    .await?;
                if overlaps.is_empty() {
                    say("no overlapping claims")?;
                }
                for o in overlaps {
                    say(&format!(
                        "{} ({}) overlaps {} ({})",
                        o.net, o.org, o.other_net, o.other_org
                    ))?;
                }
                Ok(())
            })
            .await
        }
        AssetCommand::Remove { id, data } => {
            run(&data, |relay, me| async move {
                Exports::new(relay.store()).remove_asset(&me, id).await?;
                say(&format!("ended registration {id}"))
            })
            .await
        }
    }
}
