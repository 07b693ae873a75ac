//! The administration subcommands (`org`, `user`, `token`, `group`, `feed`, `audit`) on a data
//! directory. Each parses its arguments, calls one service as the local administrator, and
//! prints the outcome; rights, checks and the audit entry are the services' business.

use std::io::Read as _;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use relay_core::{
    AuditQuery, FeedKind, FeedSettings, GranteeName, NewFeed, NewOrg, OrgKind, Relay, Role, Sector,
    Severity, Tlp, Volume,
};
use stix::Timestamp;

use crate::{DataArgs, load_config, offline, say};

fn parse_sector(s: &str) -> Result<Sector, String> {
    Sector::parse(s).ok_or_else(|| format!("unknown sector; one of {}", Sector::names()))
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role; one of {}", Role::names()))
}

fn parse_tlp(s: &str) -> Result<Tlp, String> {
    Tlp::parse(s)
        .ok_or_else(|| "unknown TLP level; one of clear, green, amber, amber+strict, red".into())
}

pub(crate) fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
}

fn parse_volume(s: &str) -> Result<Volume, String> {
    Volume::parse(s)
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s)
        .or_else(|_| Timestamp::parse(&format!("{s}T00:00:00Z")))
        .map_err(|_| {
            "expected a date (2026-11-01) or an RFC 3339 time (2026-11-01T09:00:00Z)".into()
        })
}

fn show_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.to_string())
}

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Register an organisation (a member, or with --partner an organisation outside the ISAC).
    Add {
        name: String,
        /// telecom, broadcast, security-vendor, si-vendor, finance, government, research, other
        #[arg(long, value_parser = parse_sector)]
        sector: Sector,
        /// ISO 3166-1 alpha-2 country code, such as JP
        #[arg(long, value_name = "CC")]
        country: String,
        /// A contact (e-mail address, phone); repeat for several
        #[arg(long = "contact", value_name = "CONTACT")]
        contacts: Vec<String>,
        /// Not a member of the ISAC: sees TLP:GREEN and AMBER only in its trust groups' feeds
        #[arg(long)]
        partner: bool,
        /// Redistribute what it posts under the ISAC's identity
        #[arg(long)]
        anonymous: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Change an organisation's anonymity or contacts.
    Set {
        name: String,
        #[arg(long, value_name = "BOOL")]
        anonymous: Option<bool>,
        /// Replaces the contacts; repeat for several
        #[arg(long = "contact", value_name = "CONTACT")]
        contacts: Vec<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List organisations: name, kind, sector, country, anonymous, identity, contacts.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user to an organisation.
    Add {
        org: String,
        user: String,
        /// isac-admin (operator only), org-admin, analyst, reader
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read a password for web and Basic logins from standard input
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Set a user's password, read from standard input.
    Passwd {
        user: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List users: name, organisation, role, whether a password is set.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a user; the token is printed alone on the last line, once.
    Create {
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until it expires [default: never]
        #[arg(long, value_name = "D")]
        expires_days: Option<u32>,
        /// The token may read but never write
        #[arg(long)]
        read_only: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Revoke a token at once.
    Revoke {
        id: i64,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List tokens: id, user, organisation, name, rights, created, expires, revoked (never the
    /// secrets).
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Create a trust group.
    Add {
        group: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Add or remove member organisations.
    Member {
        #[command(subcommand)]
        command: MemberCommand,
    },
    /// List trust groups and their members.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub enum MemberCommand {
    /// Add an organisation to a trust group.
    Add {
        group: String,
        org: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove an organisation from a trust group.
    Remove {
        group: String,
        org: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct GranteeArgs {
    /// A trust group
    #[arg(long, value_name = "G")]
    group: Option<String>,
    /// A single organisation
    #[arg(long, value_name = "O")]
    org: Option<String>,
}

impl GranteeArgs {
    fn name(self) -> GranteeName {
        match (self.group, self.org) {
            (Some(g), _) => GranteeName::Group(g),
            (None, Some(o)) => GranteeName::Org(o),
            // clap's group makes one of them required.
            (None, None) => GranteeName::Org(String::new()),
        }
    }
}

#[derive(Subcommand)]
pub enum FeedCommand {
    /// Create a feed.
    Add {
        /// The feed's name (letters, digits, '_', '-', '.'), also its collection title
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// The TLP of objects posted without one
        #[arg(long, value_parser = parse_tlp, default_value = "green")]
        tlp: Tlp,
        /// urgent, important or informational
        #[arg(long, value_parser = parse_severity, default_value = "important")]
        severity: Severity,
        /// The expected volume: many, medium or few
        #[arg(long, value_parser = parse_volume, default_value = "medium")]
        volume: Volume,
        /// A feed for trying things out: never in Default, never exported or federated
        #[arg(long)]
        test: bool,
        /// Route objects posted here by title and rules (unrouted ones stay here)
        #[arg(long)]
        inbox: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Change a feed's settings.
    Set {
        feed: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_parser = parse_tlp)]
        tlp: Option<Tlp>,
        #[arg(long, value_parser = parse_severity)]
        severity: Option<Severity>,
        #[arg(long, value_parser = parse_volume)]
        volume: Option<Volume>,
        /// Whether posts are routed by title and rules
        #[arg(long)]
        inbox: Option<bool>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Retire a feed: it takes no new objects and is no routing target; its objects stay.
    Retire {
        feed: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Bring a retired feed back.
    Restore {
        feed: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List the feeds: name, collection id, kind, severity, volume, default TLP, status,
    /// grants, description.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Give a trust group or an organisation rights on a feed (replacing earlier ones).
    Grant {
        feed: String,
        #[command(flatten)]
        grantee: GranteeArgs,
        #[arg(long)]
        read: bool,
        #[arg(long)]
        write: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Take a trust group's or an organisation's rights on a feed away.
    Revoke {
        feed: String,
        #[command(flatten)]
        grantee: GranteeArgs,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
pub struct AuditArgs {
    /// Entries at or after this date or time
    #[arg(long, value_parser = parse_time, value_name = "T")]
    since: Option<Timestamp>,
    /// Only this action (`objects.add`), or an area ending with '.' (`auth.`)
    #[arg(long)]
    action: Option<String>,
    /// One JSON object per line, for export
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    data: DataArgs,
}

pub async fn org(cmd: OrgCommand) -> Result<()> {
    match cmd {
        OrgCommand::Add {
            name,
            sector,
            country,
            contacts,
            partner,
            anonymous,
            data,
        } => {
            let new = NewOrg {
                name,
                kind: if partner {
                    OrgKind::Partner
                } else {
                    OrgKind::Member
                },
                sector,
                country,
                contacts,
                anonymous,
            };
            run(&data, |relay, me| async move {
                let org = relay.create_org(&me, new).await?;
                say(&format!(
                    "created organisation {} ({}, identity {})",
                    org.name,
                    org.kind.as_str(),
                    org.identity
                ))
            })
            .await
        }
        OrgCommand::Set {
            name,
            anonymous,
            contacts,
            data,
        } => {
            let contacts = (!contacts.is_empty()).then_some(contacts);
            run(&data, |relay, me| async move {
                let org = relay.update_org(&me, &name, anonymous, contacts).await?;
                say(&format!(
                    "organisation {}: anonymous={} contacts={}",
                    org.name,
                    org.anonymous,
                    org.contacts.join(",")
                ))
            })
            .await
        }
        OrgCommand::List { data } => {
            run(&data, |relay, me| async move {
                for o in relay.list_orgs(&me).await? {
                    say(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        o.name,
                        o.kind.as_str(),
                        o.sector.as_str(),
                        o.country,
                        if o.anonymous { "anonymous" } else { "named" },
                        o.identity,
                        o.contacts.join(",")
                    ))?;
                }
                Ok(())
            })
            .await
        }
    }
}

fn read_password() -> Result<String> {
    let mut pw = String::new();
    std::io::stdin().read_to_string(&mut pw)?;
    let pw = pw.trim_end_matches(['\r', '\n']).to_owned();
    if pw.is_empty() {
        bail!("no password on standard input");
    }
    Ok(pw)
}

pub async fn user(cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Add {
            org,
            user,
            role,
            password_stdin,
            data,
        } => {
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            run(&data, |relay, me| async move {
                let u = relay
                    .create_user(&me, &org, &user, role, password.as_deref())
                    .await?;
                say(&format!(
                    "created user {} in {} as {}",
                    u.name,
                    u.org,
                    u.role.as_str()
                ))
            })
            .await
        }
        UserCommand::Passwd { user, data } => {
            let password = read_password()?;
            run(&data, |relay, me| async move {
                relay.set_password(&me, &user, &password).await?;
                say(&format!("set the password of {user}"))
            })
            .await
        }
        UserCommand::List { data } => {
            run(&data, |relay, me| async move {
                for u in relay.list_users(&me).await? {
                    say(&format!(
                        "{}\t{}\t{}\t{}",
                        u.name,
                        u.org,
                        u.role.as_str(),
                        if u.has_password {
                            "password"
                        } else {
                            "no-password"
                        }
                    ))?;
                }
                Ok(())
            })
            .await
        }
    }
}

pub async fn token(cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create {
            user,
            name,
            expires_days,
            read_only,
            data,
        } => {
            run(&data, |relay, me| async move {
                let (id, token) = relay
                    .create_token(&me, &user, &name, expires_days, read_only)
                    .await?;
                say(&format!(
                    "created token {id} for {user}; it is shown only this once:"
                ))?;
                say(&token)
            })
            .await
        }
        TokenCommand::Revoke { id, data } => {
            run(&data, |relay, me| async move {
                relay.revoke_token(&me, id).await?;
                say(&format!("revoked token {id}"))
            })
            .await
        }
        TokenCommand::List { data } => {
            run(&data, |relay, me| async move {
                for t in relay.list_tokens(&me).await? {
                    say(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.user_name,
                        t.org,
                        t.name,
                        if t.read_only { "read" } else { "read-write" },
                        t.created,
                        show_time(t.expires),
                        show_time(t.revoked)
                    ))?;
                }
                Ok(())
            })
            .await
        }
    }
}

pub async fn group(cmd: GroupCommand) -> Result<()> {
    match cmd {
        GroupCommand::Add { group, data } => {
            run(&data, |relay, me| async move {
                relay.create_group(&me, &group).await?;
                say(&format!("created trust group {group}"))
            })
            .await
        }
        GroupCommand::Member { command } => {
            let (group, org, add, data) = match command {
                MemberCommand::Add { group, org, data } => (group, org, true, data),
                MemberCommand::Remove { group, org, data } => (group, org, false, data),
            };
            run(&data, |relay, me| async move {
                relay.group_member(&me, &group, &org, add).await?;
                if add {
                    say(&format!("added {org} to {group}"))
                } else {
                    say(&format!("removed {org} from {group}"))
                }
            })
            .await
        }
        GroupCommand::List { data } => {
            run(&data, |relay, me| async move {
                for g in relay.list_groups(&me).await? {
                    say(&format!("{}\t{}", g.name, g.members.join(",")))?;
                }
                Ok(())
            })
            .await
        }
    }
}

fn grants_text(feed: &relay_core::Feed) -> String {
    let g: Vec<String> = feed
        .grants
        .iter()
        .map(|g| {
            let rights = match (g.read, g.write) {
                (true, true) => "rw",
                (true, false) => "r",
                (false, true) => "w",
                (false, false) => "-",
            };
            format!("{}:{}={rights}", g.grantee.kind(), g.grantee.name())
        })
        .collect();
    if g.is_empty() {
        "-".into()
    } else {
        g.join(",")
    }
}

pub async fn feed(cmd: FeedCommand) -> Result<()> {
    match cmd {
        FeedCommand::Add {
            name,
            description,
            tlp,
            severity,
            volume,
            test,
            inbox,
            data,
        } => {
            run(&data, |relay, me| async move {
                let new = NewFeed {
                    name,
                    description,
                    default_tlp: tlp,
                    severity,
                    volume,
                    kind: if test {
                        FeedKind::Test
                    } else {
                        FeedKind::Regular
                    },
                    inbox,
                };
                let feed = relay.add_feed(&me, new).await?;
                say(&format!(
                    "created feed {} (collection {}, {}, {}, default {})",
                    feed.name,
                    feed.id,
                    feed.severity.as_str(),
                    feed.volume.as_str(),
                    feed.default_tlp
                ))
            })
            .await
        }
        FeedCommand::Set {
            feed,
            description,
            tlp,
            severity,
            volume,
            inbox,
            data,
        } => {
            let settings = FeedSettings {
                description,
                default_tlp: tlp,
                severity,
                volume,
                inbox,
                retired: None,
            };
            set_feed(&data, feed, settings).await
        }
        FeedCommand::Retire { feed, data } => {
            let settings = FeedSettings {
                retired: Some(true),
                ..FeedSettings::default()
            };
            set_feed(&data, feed, settings).await
        }
        FeedCommand::Restore { feed, data } => {
            let settings = FeedSettings {
                retired: Some(false),
                ..FeedSettings::default()
            };
            set_feed(&data, feed, settings).await
        }
        FeedCommand::List { data } => {
            run(&data, |relay, me| async move {
                for f in relay.feeds_with_grants(&me).await? {
                    say(&feed_line(&f))?;
                }
                Ok(())
            })
            .await
        }
        FeedCommand::Grant {
            feed,
            grantee,
            read,
            write,
            data,
        } => {
            let grantee = grantee.name();
            run(&data, |relay, me| async move {
                let f = relay.grant(&me, &feed, grantee, read, write).await?;
                say(&format!("{}: {}", f.name, grants_text(&f)))
            })
            .await
        }
        FeedCommand::Revoke {
            feed,
            grantee,
            data,
        } => {
            let grantee = grantee.name();
            run(&data, |relay, me| async move {
                let f = relay.ungrant(&me, &feed, grantee).await?;
                say(&format!("{}: {}", f.name, grants_text(&f)))
            })
            .await
        }
    }
}

fn feed_line(f: &relay_core::Feed) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        f.name,
        f.id,
        f.kind.as_str(),
        f.severity.as_str(),
        f.volume.as_str(),
        f.default_tlp.as_str(),
        match (f.retired, f.inbox) {
            (true, _) => "retired",
            (false, true) => "inbox",
            (false, false) => "active",
        },
        grants_text(f),
        f.description.clone().unwrap_or_default()
    )
}

async fn set_feed(data: &DataArgs, feed: String, settings: FeedSettings) -> Result<()> {
    run(data, |relay, me| async move {
        let f = relay.update_feed(&me, &feed, settings).await?;
        say(&feed_line(&f))
    })
    .await
}

pub async fn audit(args: AuditArgs) -> Result<()> {
    let AuditArgs {
        since,
        action,
        json,
        data,
    } = args;
    run(&data, |relay, me| async move {
        let mut query = AuditQuery {
            since,
            after_seq: None,
            action,
            limit: 5000,
        };
        loop {
            let page = relay.audit_log(&me, &query).await?;
            for r in &page {
                if json {
                    say(&r.to_json().to_string())?;
                } else {
                    let e = &r.entry;
                    say(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        e.at,
                        e.actor,
                        e.org.as_deref().unwrap_or("-"),
                        e.source.as_deref().unwrap_or("-"),
                        e.action,
                        e.feed.as_deref().unwrap_or("-"),
                        e.count.map_or("-".into(), |c| c.to_string()),
                        e.detail.as_deref().unwrap_or("")
                    ))?;
                }
            }
            match page.last() {
                Some(last) if page.len() == query.limit => query.after_seq = Some(last.seq),
                _ => return Ok(()),
            }
        }
    })
    .await
}

/// Runs one action on the data directory as the local administrator.
pub(crate) async fn run<F, Fut>(data: &DataArgs, action: F) -> Result<()>
where
    F: FnOnce(Relay, relay_core::Principal) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let config = load_config(data, None)?;
    offline(&config, |relay| async move {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let me = relay.local_admin(&user).await?;
        action(relay, me).await
    })
    .await
}
