//! `isac-relay metrics`: coverage, lead times and daily counts as JSON or CSV, read from the
//! data directory as the ISAC administrator; `recompute` rebuilds the figures from the reports.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Subcommand;
use engine::metrics::{self, GeoDb, Metrics};

use crate::admin_cmd::run;
use crate::{DataArgs, load_config, say};

#[derive(Subcommand)]
pub enum MetricsCommand {
    /// Who reported what: per organisation and kind (reported, alone, after the relay had it),
    /// per pair (shared, Jaccard), and totals.
    Coverage {
        /// json or csv
        #[arg(long, default_value = "json")]
        format: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// How long the relay held observables before each organisation reported them.
    Leadtime {
        /// json or csv
        #[arg(long, default_value = "json")]
        format: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// New C2 servers and phishing sites per day, by feed, kind, country and sector.
    Daily {
        /// First day (YYYY-MM-DD) [default: 30 days before --to]
        #[arg(long)]
        from: Option<String>,
        /// Last day, included (YYYY-MM-DD) [default: today]
        #[arg(long)]
        to: Option<String>,
        /// json or csv
        #[arg(long, default_value = "json")]
        format: String,
        /// The IP-to-country database (.mmdb or CSV) [default: metrics.geo_db of the config]
        #[arg(long, value_name = "FILE")]
        geo_db: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Rebuild coverage and lead times from the first reports.
    Recompute {
        #[command(flatten)]
        data: DataArgs,
    },
}

fn check_format(format: &str) -> Result<()> {
    if !matches!(format, "json" | "csv") {
        bail!("--format {format}: expected json or csv");
    }
    Ok(())
}

pub async fn metrics(cmd: MetricsCommand) -> Result<()> {
    match cmd {
        MetricsCommand::Coverage { format, data } => {
            check_format(&format)?;
            run(&data, |relay, me| async move {
                let r = Metrics::new(relay.store(), None).coverage(&me).await?;
                if format == "csv" {
                    say(metrics::coverage_csv(&r).trim_end())
                } else {
                    say(&serde_json::to_string_pretty(&r)?)
                }
            })
            .await
        }
        MetricsCommand::Leadtime { format, data } => {
            check_format(&format)?;
            run(&data, |relay, me| async move {
                let r = Metrics::new(relay.store(), None).lead_times(&me).await?;
                if format == "csv" {
                    say(metrics::leads_csv(&r).trim_end())
                } else {
                    say(&serde_json::to_string_pretty(
                        &serde_json::json!({ "leads": r }),
                    )?)
                }
            })
            .await
        }
        MetricsCommand::Daily {
            from,
            to,
            format,
            geo_db,
            data,
        } => {
            check_format(&format)?;
            let (from, to) = metrics::period(from.as_deref(), to.as_deref())?;
            let path = match geo_db {
                Some(p) => Some(p),
                None => load_config(&data, None)?.metrics.geo_db,
            };
            let geo = match path {
                Some(p) => Some(Arc::new(GeoDb::open(&p).map_err(anyhow::Error::msg)?)),
                None => None,
            };
            run(&data, |relay, me| async move {
                let r = Metrics::new(relay.store(), geo)
                    .daily(&me, from, to)
                    .await?;
                if format == "csv" {
                    say(metrics::daily_csv(&r).trim_end())
                } else {
                    say(&serde_json::to_string_pretty(&r)?)
                }
            })
            .await
        }
        MetricsCommand::Recompute { data } => {
            run(&data, |relay, me| async move {
                let n = Metrics::new(relay.store(), None).recompute(&me).await?;
                say(&format!("recomputed the metrics from {n} reports"))
            })
            .await
        }
    }
}
