//! The command line: argument definitions and dispatch.

mod bench;
mod bench_pages;
mod bench_room;
mod bot;
mod budget;
mod collab;
mod contact;
mod content;
mod crisis;
mod dbcmd;
mod engine;
mod events;
mod experiment;
mod guide;
mod journey;
mod live;
mod org;
mod privacy;
mod serve;
mod status;
mod vendor;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::app::{self, Schema};

#[derive(Debug, Parser)]
#[command(name = "vivid", version, about = "VividWalls operations control room", long_about = None)]
pub struct Cli {
    /// An extra config file applied after config/default.toml and config/local.toml.
    #[arg(long, global = true, env = "VIVID_CONFIG")]
    config: Option<PathBuf>,
    /// Print tables in full instead of fitting them to 80 columns.
    #[arg(long, global = true)]
    wide: bool,
    #[command(subcommand)]
    command: Command,
}

/// `--as PERSON` for commands that act.
#[derive(Debug, Clone, Args)]
pub struct ActorArg {
    /// Act as this person (a handle from `vivid org list`); default: $VIVID_AS,
    /// else the configured operator.
    #[arg(long = "as", env = "VIVID_AS", value_name = "PERSON")]
    pub as_person: Option<String>,
}

impl ActorArg {
    /// The acting person's handle, checked against the org directory.
    pub fn resolve(&self, ctx: &vivid_core::Ctx) -> Result<String> {
        let handle = match (&self.as_person, &ctx.config.operator) {
            (Some(h), _) => h.clone(),
            (None, Some(op)) => op.clone(),
            (None, None) => {
                anyhow::bail!("say who is acting with --as PERSON (no operator is configured)")
            }
        };
        ctx.org.actor(&handle)?;
        Ok(handle)
    }
}

/// A time typed for `flag` (`--due`, `--since`, ...), read the one way
/// every command reads times: see `vivid_core::when`.
pub fn parse_when(
    ctx: &vivid_core::Ctx,
    flag: &str,
    text: &str,
    bound: vivid_core::when::Bound,
    relative: vivid_core::when::Relative,
) -> Result<chrono::DateTime<chrono::Utc>> {
    vivid_core::when::parse_when(text, bound, relative, ctx.now(), &ctx.calendar)
        .map_err(|e| vivid_core::Error::invalid(format!("{flag} {e}")).into())
}

/// `--json` for read commands.
#[derive(Debug, Clone, Copy, Args)]
pub struct JsonFlag {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Everything at once: local database, migrations, demo data, engine,
    /// simulator and the control room. Zero configuration.
    Demo(engine::DemoArgs),
    /// Apply pending database migrations.
    Migrate(JsonFlag),
    /// Run the workflow engine: fire due timers, deliver notifications.
    Engine(engine::EngineArgs),
    /// Open the control room (the live terminal UI).
    Tui(ActorArg),
    /// The Discord bot: interactions endpoint (--http) and/or gateway.
    Bot(bot::BotArgs),
    /// Every workflow's open items, breaches and KPIs.
    Status(JsonFlag),
    /// The database: start, stop, status, url.
    #[command(subcommand)]
    Db(dbcmd::DbCommand),
    /// Load data sets.
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Produce a stream of realistic business events.
    Simulate(engine::SimulateArgs),
    /// The event log.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// The organisation: departments, directors, people.
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Who is on call, rotations and overrides.
    #[command(subcommand)]
    Oncall(org::OncallCommand),
    /// How people are paged: their contact methods (e-mail, SMS, push, webhook, Discord).
    #[command(subcommand)]
    Contact(contact::ContactCommand),
    /// Crisis management: incidents, acknowledgement, phases, post-mortems.
    #[command(subcommand)]
    Crisis(crisis::CrisisCommand),
    /// Customer journey: touches, lead scoring, hand-off to Sales, support, referrals, upsell.
    #[command(subcommand)]
    Journey(journey::JourneyCommand),
    /// A/B tests: design with a power calculation, assignment, analysis, learnings.
    #[command(subcommand)]
    Experiment(experiment::ExperimentCommand),
    /// Content lifecycle: drafts, versions, director approvals, performance.
    #[command(subcommand)]
    Content(content::ContentCommand),
    /// Compliance and data privacy: PII collection, reads, audits, requests, breaches.
    #[command(subcommand)]
    Privacy(privacy::PrivacyCommand),
    /// Cross-functional collaboration: typed hand-offs between departments, SLAs, the matrix.
    #[command(subcommand)]
    Collab(collab::CollabCommand),
    /// Business metrics; KPI rules open incidents by themselves.
    #[command(subcommand)]
    Metrics(crisis::MetricsCommand),
    /// Show the effective configuration.
    Config,
    /// The operator guide of a workflow (what it does, states, clocks, commands, KPIs).
    Guide {
        /// The workflow (e.g. crisis, content, privacy); without it, the list of guides.
        workflow: Option<String>,
    },
    /// One HTTP server: Discord interactions, alerts from monitoring
    /// (Alertmanager, Grafana, generic JSON), /healthz and /metrics.
    Serve(serve::ServeArgs),
    /// Measure the engine (figures printed, nothing asserted).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Budget management: lines, spend requests, expenses, alarms, spend reviews, ROI.
    #[command(subcommand)]
    Budget(budget::BudgetCommand),
    /// Vendor management: RFPs, contracts, deliveries, scorecards, plans, renewals.
    #[command(subcommand)]
    Vendor(vendor::VendorCommand),
}

#[derive(Debug, Subcommand)]
enum SeedCommand {
    /// The deterministic VividWalls demo data set (idempotent).
    Demo(JsonFlag),
}

pub async fn run(cli: Cli) -> Result<()> {
    let full_screen = matches!(cli.command, Command::Demo(_) | Command::Tui(_));
    let default_level = match cli.command {
        Command::Engine(_)
        | Command::Demo(_)
        | Command::Tui(_)
        | Command::Bot(_)
        | Command::Serve(_) => "info,sqlx=warn",
        // A one-shot command speaks through its result and its one error
        // line; a library's retry warnings would only be noise.
        _ => "warn,sqlx=off",
    };
    app::init_logging(full_screen, default_level);
    crate::output::set_wide(cli.wide);
    let config = app::load_config(cli.config.as_ref())?;
    match cli.command {
        Command::Demo(args) => engine::demo(config, args).await,
        Command::Migrate(flag) => dbcmd::migrate(config, flag).await,
        Command::Engine(args) => engine::engine(config, args).await,
        Command::Tui(actor) => {
            let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
            let ctx = as_operator(ctx, &actor)?;
            live::run(ctx, None).await
        }
        Command::Status(flag) => status::status(config, flag).await,
        Command::Bot(args) => bot::run(config, args).await,
        Command::Db(cmd) => dbcmd::run(cmd).await,
        Command::Seed(SeedCommand::Demo(flag)) => engine::seed_demo(config, flag).await,
        Command::Simulate(args) => engine::simulate(config, args).await,
        Command::Events(cmd) => events::run(config, cmd).await,
        Command::Org(cmd) => org::run_org(config, cmd).await,
        Command::Oncall(cmd) => org::run_oncall(config, cmd).await,
        Command::Contact(cmd) => contact::run(config, cmd).await,
        Command::Crisis(cmd) => crisis::run(config, cmd).await,
        Command::Content(cmd) => content::run(config, cmd).await,
        Command::Experiment(cmd) => experiment::run(config, cmd).await,
        Command::Journey(cmd) => journey::run(config, cmd).await,
        Command::Privacy(cmd) => privacy::run(config, cmd).await,
        Command::Collab(cmd) => collab::run(config, cmd).await,

        Command::Metrics(cmd) => crisis::metrics_cmd(config, cmd).await,

        Command::Guide { workflow } => guide::run(workflow.as_deref()),
        Command::Config => {
            print!("{}", config.to_toml());
            Ok(())
        }
        Command::Serve(args) => serve::run(config, args).await,
        Command::Bench(cmd) => bench::run(config, cmd).await,
        Command::Budget(cmd) => budget::run(config, cmd).await,
        Command::Vendor(cmd) => vendor::run(config, cmd).await,
    }
}

/// The control room acts as `--as PERSON` when given, else the configured operator.
pub fn as_operator(ctx: vivid_core::Ctx, actor: &ActorArg) -> Result<vivid_core::Ctx> {
    let handle = actor.resolve(&ctx)?;
    let mut config = (*ctx.config).clone();
    config.operator = Some(handle);
    Ok(vivid_core::Ctx {
        config: std::sync::Arc::new(config),
        ..ctx
    })
}

/// Resolve when Ctrl-C or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    ctrl_c.await.ok();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every `.rs` file under `dir`, recursively.
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The front ends (the CLI, the control room, the bot) read and write
    /// through core: no SQL, no LISTEN of their own. The benchmarks fill
    /// scratch databases and are the exception.
    #[test]
    fn front_ends_hold_no_sql() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["src", "crates/tui/src", "crates/bot/src"] {
            sources(&root.join(dir), &mut files);
        }
        assert!(
            files.len() > 20,
            "read the front ends under {}",
            root.display()
        );
        for file in files {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("bench") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            // Spelt in pieces so this file does not match itself.
            for needle in [
                ["sqlx::", "query"].concat(),
                ["Pg", "Listener"].concat(),
                ["fetch_", "one("].concat(),
                ["fetch_", "all("].concat(),
            ] {
                assert!(
                    !text.contains(&needle),
                    "{} uses {needle}: front ends go through vivid-core",
                    file.display()
                );
            }
        }
    }

    /// Every argument of every command says what it is for (`--help`).
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(format!("{path} {} (the command)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "vivid", &mut missing);
        assert!(
            missing.is_empty(),
            "{} arguments or commands have no help text:\n{}",
            missing.len(),
            missing.join("\n")
        );
    }
}
