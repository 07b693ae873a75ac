//! The owner-routing subcommands: `campaign` (create, list, the aggregated ranges, result
//! uploads with a progress bar, upload records), `findings` (list as CSV, bulk status updates)
//! and `report monthly`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use engine::notice::{self, Notice, ResultFormat};
use relay_core::notice::{CampaignKind, FindingStatus};

use crate::DataArgs;
use crate::admin_cmd::run;
use crate::say;

#[derive(Subcommand)]
pub enum CampaignCommand {
    /// Start a campaign: snapshots the networks registered now.
    Create {
        name: String,
        /// monthly (a NOTICE cycle) or standing (results any day)
        #[arg(long, default_value = "monthly")]
        kind: String,
        /// The cycle's dates, in words
        #[arg(long)]
        schedule: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List campaigns: name, kind, networks in the snapshot, created.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Print a campaign's ranges as the fewest networks, without owners (what the scanner scans).
    Ranges {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Route a results file (CSV ip,port,protocol,finding,observed_at[,detail], JSON lines or a
    /// STIX bundle) to the members owning each address.
    Upload {
        name: String,
        file: PathBuf,
        /// csv, jsonl or stix [default: told by the file's first bytes]
        #[arg(long)]
        format: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// What each upload routed, merged, could not route and could not read.
    Uploads {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub enum FindingsCommand {
    /// An organisation's findings (all organisations' without --org).
    List {
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        campaign: Option<String>,
        /// new, notified, remediated, unreachable or false-positive
        #[arg(long)]
        status: Option<String>,
        /// csv (a header row; the address column is `ip`) or text
        #[arg(long, default_value = "csv")]
        format: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Bulk status updates from a CSV file: id,status[,note].
    Update {
        file: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Findings and notification progress of one month: one member's, or ISAC-wide with small
    /// counts suppressed.
    Monthly {
        /// YYYY-MM
        #[arg(long)]
        month: String,
        #[arg(long)]
        org: Option<String>,
        /// Print JSON instead of sentences
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataArgs,
    },
}

pub async fn campaign(cmd: CampaignCommand) -> Result<()> {
    match cmd {
        CampaignCommand::Create {
            name,
            kind,
            schedule,
            data,
        } => {
            let kind = CampaignKind::parse(&kind).map_err(anyhow::Error::msg)?;
            run(&data, |relay, me| async move {
                let c = Notice::new(relay.store())
                    .create_campaign(&me, &name, kind, schedule)
                    .await?;
                say(&format!(
                    "created campaign {} ({}), {} networks in its snapshot",
                    c.name,
                    c.kind.as_str(),
                    c.ranges
                ))
            })
            .await
        }
        CampaignCommand::List { data } => {
            run(&data, |relay, _me| async move {
                for c in Notice::new(relay.store()).campaigns().await? {
                    say(&format!(
                        "{}\t{}\t{} networks\t{}{}",
                        c.name,
                        c.kind.as_str(),
                        c.ranges,
                        c.created,
                        c.schedule.map(|s| format!("\t{s}")).unwrap_or_default()
                    ))?;
                }
                Ok(())
            })
            .await
        }
        CampaignCommand::Ranges { name, data } => {
            run(&data, |relay, me| async move {
                let nets = Notice::new(relay.store())
                    .aggregated_ranges(&me, &name)
                    .await?;
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                for n in nets {
                    writeln!(out, "{n}")?;
                }
                out.flush()?;
                Ok(())
            })
            .await
        }
        CampaignCommand::Upload {
            name,
            file,
            format,
            data,
        } => {
            let format = format
                .map(|f| ResultFormat::parse(&f).map_err(anyhow::Error::msg))
                .transpose()?;
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(size),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let input = Box::new(std::io::BufReader::with_capacity(256 * 1024, f));
            let progress_bar = bar.clone();
            run(&data, |relay, me| async move {
                let upload = notice::Upload {
                    input,
                    format,
                    progress: Some(Box::new(move |n| progress_bar.set_position(n))),
                };
                let record = Notice::new(relay.store()).upload(&me, &name, upload).await;
                bar.finish_and_clear();
                let record = record?;
                for e in &record.errors {
                    eprintln!("{e}");
                }
                if record.malformed as usize > record.errors.len() {
                    eprintln!(
                        "... {} more unreadable lines",
                        record.malformed as usize - record.errors.len()
                    );
                }
                say(&format!(
                    "{}: {} lines: {} new findings, {} merged into earlier ones, {} in no \
                     member's network, {} unreadable",
                    name,
                    record.lines,
                    record.added,
                    record.merged,
                    record.unmatched,
                    record.malformed
                ))
            })
            .await
        }
        CampaignCommand::Uploads { name, data } => {
            run(&data, |relay, me| async move {
                for u in Notice::new(relay.store()).uploads(&me, &name).await? {
                    say(&format!(
                        "{}\t{}\t{} lines\t{} new\t{} merged\t{} unmatched\t{} unreadable",
                        u.at.map(|t| t.to_string()).unwrap_or_default(),
                        u.uploader,
                        u.lines,
                        u.added,
                        u.merged,
                        u.unmatched,
                        u.malformed
                    ))?;
                }
                Ok(())
            })
            .await
        }
    }
}

pub async fn findings(cmd: FindingsCommand) -> Result<()> {
    match cmd {
        FindingsCommand::List {
            org,
            campaign,
            status,
            format,
            data,
        } => {
            let status = status
                .map(|s| FindingStatus::parse(&s).map_err(anyhow::Error::msg))
                .transpose()?;
            if !matches!(format.as_str(), "csv" | "text") {
                bail!("--format '{format}': expected csv or text");
            }
            run(&data, |relay, me| async move {
                let n = Notice::new(relay.store());
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                let mut after = 0;
                let mut first = true;
                loop {
                    let page = n
                        .findings(
                            &me,
                            org.as_deref(),
                            campaign.as_deref(),
                            status,
                            after,
                            notice::MAX_PAGE,
                        )
                        .await?;
                    let Some(last) = page.last().map(|f| f.id) else {
                        break;
                    };
                    if format == "csv" {
                        out.write_all(&notice::findings_csv(&page, first))?;
                    } else {
                        for f in &page {
                            writeln!(
                                out,
                                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                                f.id,
                                f.org_name,
                                f.ip,
                                f.port,
                                f.finding,
                                f.status,
                                f.last_observed
                            )?;
                        }
                    }
                    first = false;
                    after = last;
                }
                if first && format == "csv" {
                    out.write_all(&notice::findings_csv(&[], true))?;
                }
                out.flush()?;
                Ok(())
            })
            .await
        }
        FindingsCommand::Update { file, data } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let updates = notice::parse_status_csv(&text)?;
            run(&data, |relay, me| async move {
                let changed = Notice::new(relay.store())
                    .update_status(&me, updates)
                    .await?;
                say(&format!("updated {changed} findings"))
            })
            .await
        }
    }
}

pub async fn report(cmd: ReportCommand) -> Result<()> {
    match cmd {
        ReportCommand::Monthly {
            month,
            org,
            json,
            data,
        } => {
            run(&data, |relay, me| async move {
                let r = Notice::new(relay.store())
                    .monthly_report(&me, &month, org.as_deref())
                    .await?;
                if json {
                    say(&serde_json::to_string_pretty(&r)?)
                } else {
                    let text = r.text();
                    say(text.trim_end())
                }
            })
            .await
        }
    }
}
