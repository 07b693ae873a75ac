//! The `routing` and `profile` subcommands: routing rules of posts to inboxes, and consumer
//! profiles of organisations and tokens.

use anyhow::Result;
use clap::Subcommand;
use relay_core::profile::Profile;
use relay_core::routing::{RuleField, RuleMatch};
use relay_core::store::ProfileOwner;

use crate::DataArgs;
use crate::admin_cmd::run;
use crate::say;

#[derive(Subcommand)]
pub enum RoutingCommand {
    /// List the rules, in the order they are tried: id, field, match, value, feed.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Add a rule: objects posted to an inbox whose FIELD matches VALUE go to FEED.
    Add {
        /// title, label or marking
        #[arg(value_parser = RuleField::parse)]
        field: RuleField,
        value: String,
        feed: String,
        /// equals, prefix or contains [default: prefix for titles, equals otherwise]
        #[arg(long = "match", value_parser = RuleMatch::parse)]
        matching: Option<RuleMatch>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a rule by id.
    Remove {
        id: i64,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Show the profile of an organisation (or, with --token, of a token).
    Show {
        #[command(flatten)]
        owner: OwnerArgs,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Set a profile from JSON, e.g. '{"min_severity": "urgent", "max_per_poll": 1000}'.
    Set {
        #[command(flatten)]
        owner: OwnerArgs,
        json: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a profile: nothing is filtered or capped.
    Clear {
        #[command(flatten)]
        owner: OwnerArgs,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct OwnerArgs {
    #[arg(long)]
    org: Option<String>,
    #[arg(long)]
    token: Option<i64>,
}

impl OwnerArgs {
    fn owner(self) -> ProfileOwner {
        match (self.org, self.token) {
            (Some(o), _) => ProfileOwner::Org(o),
            (None, Some(t)) => ProfileOwner::Token(t),
            // clap requires exactly one of them.
            (None, None) => ProfileOwner::Token(0),
        }
    }
}

pub async fn routing(cmd: RoutingCommand) -> Result<()> {
    match cmd {
        RoutingCommand::List { data } => {
            run(&data, |relay, me| async move {
                for r in relay.routing_rules(&me).await? {
                    say(&format!(
                        "{}\t{}\t{}\t{}\t{}",
                        r.id,
                        r.field.as_str(),
                        r.matching.as_str(),
                        r.value,
                        r.feed
                    ))?;
                }
                Ok(())
            })
            .await
        }
        RoutingCommand::Add {
            field,
            value,
            feed,
            matching,
            data,
        } => {
            let matching = matching.unwrap_or(field.default_match());
            run(&data, |relay, me| async move {
                let r = relay.add_rule(&me, field, matching, &value, &feed).await?;
                say(&format!("added {}", r.describe()))
            })
            .await
        }
        RoutingCommand::Remove { id, data } => {
            run(&data, |relay, me| async move {
                relay.remove_rule(&me, id).await?;
                say(&format!("removed rule {id}"))
            })
            .await
        }
    }
}

pub async fn profile(cmd: ProfileCommand) -> Result<()> {
    match cmd {
        ProfileCommand::Show { owner, data } => {
            let owner = owner.owner();
            run(&data, |relay, me| async move {
                match relay.profile(&me, &owner).await? {
                    Some(p) => say(&serde_json::to_string(&p)?),
                    None => say("no profile: nothing is filtered or capped"),
                }
            })
            .await
        }
        ProfileCommand::Set { owner, json, data } => {
            let profile: Profile = serde_json::from_str(&json)
                .map_err(|e| anyhow::anyhow!("invalid profile JSON: {e}"))?;
            let owner = owner.owner();
            run(&data, |relay, me| async move {
                relay.set_profile(&me, owner, Some(profile.clone())).await?;
                say(&serde_json::to_string(&profile)?)
            })
            .await
        }
        ProfileCommand::Clear { owner, data } => {
            let owner = owner.owner();
            run(&data, |relay, me| async move {
                relay.set_profile(&me, owner, None).await?;
                say("profile removed")
            })
            .await
        }
    }
}
