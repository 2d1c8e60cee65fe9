//! `vivid bot`: the Discord bot (interactions endpoint and/or gateway, and
//! the live incident messages), `vivid bot commands`, `vivid bot register`.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use tokio::net::TcpListener;
use tokio::sync::watch;
use vivid_bot::{Rest, registry, runner, secrets};
use vivid_core::config::Config;

use super::{JsonFlag, shutdown_signal};
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BotArgs {
    #[command(subcommand)]
    action: Option<BotAction>,
    /// Serve Discord's interactions endpoint on ADDR (needs DISCORD_PUBLIC_KEY);
    /// without it the bot connects to the gateway (needs DISCORD_TOKEN).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// With --http, also connect to the gateway.
    #[arg(long, requires = "http")]
    gateway: bool,
}

#[derive(Debug, Subcommand)]
enum BotAction {
    /// Print the slash-command manifest (what assets/bot/commands.json holds).
    Commands,
    /// Register the slash commands with Discord: in `discord.guild_id` when
    /// set (instant), else globally.
    Register(JsonFlag),
}

pub async fn run(config: Config, args: BotArgs) -> Result<()> {
    match args.action {
        Some(BotAction::Commands) => {
            print!("{}", registry::manifest());
            return Ok(());
        }
        Some(BotAction::Register(flag)) => return register(&config, flag).await,
        None => {}
    }
    // Secrets first: a missing one stops start-up before anything else happens.
    let key = args.http.map(|_| secrets::public_key()).transpose()?;
    let gateway_token = if args.http.is_none() || args.gateway {
        Some(secrets::require_token(
            "to connect to the Discord gateway, or serve the interactions endpoint with --http ADDR",
        )?)
    } else {
        None
    };
    let rest = Rest::new(&config.discord.api_base, secrets::token())?;
    let ctx = app::connect(config, Schema::RequireCurrent, 8).await?;
    let http = match (args.http, key) {
        (Some(addr), Some(key)) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let bound = listener.local_addr()?;
            // Scripts and tests read the bound address (e.g. with --http 127.0.0.1:0).
            println!("vivid bot: interactions endpoint on http://{bound}/interactions");
            std::io::stdout().flush().ok();
            Some((listener, key))
        }
        _ => None,
    };
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.send(true).ok();
    });
    runner::run(
        ctx,
        rest,
        runner::Options {
            http,
            gateway_token,
        },
        shutdown,
    )
    .await?;
    Ok(())
}

async fn register(config: &Config, flag: JsonFlag) -> Result<()> {
    let token = secrets::require_token("to register the slash commands")?;
    let rest = Rest::new(&config.discord.api_base, Some(token))?;
    let application = match &config.discord.application_id {
        Some(id) => id.clone(),
        None => rest.application_id().await?,
    };
    let guild = config.discord.guild_id.as_deref();
    let registered = rest
        .register_commands(&application, guild, &registry::commands_json())
        .await?;
    if flag.json {
        return output::json(&registered);
    }
    let names: Vec<String> = registry::groups()
        .iter()
        .map(|g| format!("/{}", g.definition().name))
        .collect();
    match guild {
        Some(g) => println!("registered {} in guild {g}", names.join(", ")),
        None => println!(
            "registered {} globally (Discord may take up to an hour to show them)",
            names.join(", ")
        ),
    }
    Ok(())
}
