//! `vivid contact`: people's contact methods for pages (add, list masked,
//! remove, test).

use anyhow::Result;
use clap::{Args, Subcommand};
use vivid_core::config::Config;
use vivid_core::engine::outbox;
use vivid_core::notify::{Method, contacts};

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output::{self, clean};

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Add a way to page someone: discord, email, sms, push (ntfy) or webhook.
    Add(AddArgs),
    /// Contact methods, masked: one person's or everybody's.
    List(ListArgs),
    /// Remove a contact method by its id.
    Remove(RemoveArgs),
    /// Send a test page on each of a person's contact methods now.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Whose contact method (a handle from `vivid org list`).
    person: String,
    /// How to reach them: email, sms, push, webhook or discord.
    #[arg(long, value_parser = parse_method)]
    method: Method,
    /// The address, number (+15551234567), ntfy topic or URL, or webhook
    /// URL; nothing for discord.
    #[arg(long, default_value = "")]
    to: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this person's methods (a handle from `vivid org list`).
    person: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The contact method's id (from `vivid contact list`).
    id: i64,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Whom to page (a handle from `vivid org list`).
    person: String,
    /// Only this method.
    #[arg(long, value_parser = parse_method)]
    method: Option<Method>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

fn parse_method(s: &str) -> Result<Method, String> {
    s.parse()
}

pub async fn run(config: Config, cmd: ContactCommand) -> Result<()> {
    let target = match &cmd {
        ContactCommand::Test(_) => Some(super::engine::delivery_target(&config)?),
        _ => None,
    };
    let ctx = app::connect(config, Schema::RequireCurrent, 2).await?;
    match cmd {
        ContactCommand::Add(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let c = contacts::add(&ctx, &a.person, a.method, &a.to, &actor).await?;
            if a.json.json {
                return output::json(&c);
            }
            println!(
                "contact #{} added: {} {} for {}",
                c.id,
                c.method.0,
                clean(&c.hint),
                c.person
            );
            Ok(())
        }
        ContactCommand::List(a) => {
            let list = contacts::list(&ctx, a.person.as_deref()).await?;
            if a.json.json {
                return output::json(&list);
            }
            if list.is_empty() {
                println!(
                    "no contact methods (add one with `vivid contact add PERSON --method email --to ADDRESS`)"
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.person.clone(),
                        c.method.0.to_string(),
                        clean(&c.hint),
                        ctx.calendar.format_local(c.created_at),
                    ]
                })
                .collect();
            output::table(&["ID", "PERSON", "METHOD", "CONTACT", "ADDED"], &rows);
            Ok(())
        }
        ContactCommand::Remove(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let c = contacts::remove(&ctx, a.id, &actor).await?;
            if a.json.json {
                return output::json(&c);
            }
            println!(
                "contact #{} removed ({} {} of {})",
                c.id,
                c.method.0,
                clean(&c.hint),
                c.person
            );
            Ok(())
        }
        ContactCommand::Test(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let ids = contacts::test(&ctx, &a.person, a.method, &actor).await?;
            if let Some(target) = &target {
                outbox::deliver_now(&ctx, target.as_ref(), &ids).await?;
            }
            let outcomes = contacts::outcomes(&ctx, &ids).await?;
            if a.json.json {
                return output::json(&outcomes);
            }
            for o in &outcomes {
                println!(
                    "{} {}: {}{}",
                    o.method.as_deref().unwrap_or("default"),
                    clean(o.hint.as_deref().unwrap_or("")),
                    o.status,
                    o.error
                        .as_deref()
                        .map(|e| format!(" ({})", clean(e)))
                        .unwrap_or_default()
                );
            }
            if outcomes.iter().any(|o| o.status != "delivered") {
                anyhow::bail!(
                    "not every test page was delivered (see above; a page still queued is retried by `vivid engine`)"
                );
            }
            Ok(())
        }
    }
}
