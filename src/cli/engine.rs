//! `vivid engine`, `vivid demo`, `vivid seed demo`, `vivid simulate`.

use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use tokio::sync::watch;
use vivid_core::config::Config;
use vivid_core::duration::HumanDuration;
use vivid_core::engine::Engine;
use vivid_core::engine::outbox::{DeliveryTarget, LogTarget};
use vivid_core::privacy::crypto::KeyOrigin;
use vivid_core::{seed, simulate};

use super::{JsonFlag, live, shutdown_signal};
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Run one pass (fire everything due, deliver everything queued) and exit.
    #[arg(long)]
    once: bool,
    /// Keep going until nothing is due, then exit (benchmarks, batch jobs).
    #[arg(long)]
    exit_when_idle: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Simulated business events per second.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// Stop after this long (e.g. "30s") instead of waiting for Ctrl-C.
    #[arg(long = "for")]
    run_for: Option<HumanDuration>,
    /// Run engine and simulator without the control room.
    #[arg(long)]
    headless: bool,
    #[command(flatten)]
    actor: super::ActorArg,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Events per second.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this long (e.g. "1m").
    #[arg(long = "for")]
    run_for: Option<HumanDuration>,
    /// Run on a database `vivid demo` / `vivid seed demo` did not create.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    json: JsonFlag,
}

/// Where notifications go: Discord when DISCORD_TOKEN is set, else the log;
/// pages by e-mail, SMS, push and webhook through their transports.
pub(super) fn delivery_target(config: &Config) -> Result<Arc<dyn DeliveryTarget>> {
    let base: Arc<dyn DeliveryTarget> = match vivid_bot::DiscordTarget::from_env(&config.discord)? {
        Some(discord) => Arc::new(discord),
        None => Arc::new(LogTarget),
    };
    Ok(Arc::new(
        vivid_notify::Router::new(&config.notify, base).map_err(anyhow::Error::msg)?,
    ))
}

/// A shutdown switch flipped by Ctrl-C / SIGTERM, a time limit, or the caller.
fn shutdown_switch(
    limit: Option<HumanDuration>,
) -> (Arc<watch::Sender<bool>>, watch::Receiver<bool>) {
    let (tx, rx) = watch::channel(false);
    let tx = Arc::new(tx);
    let flip = tx.clone();
    tokio::spawn(async move {
        match limit {
            Some(d) => {
                tokio::select! {
                    _ = shutdown_signal() => {}
                    _ = tokio::time::sleep(d.std()) => {}
                }
            }
            None => shutdown_signal().await,
        }
        flip.send(true).ok();
    });
    (tx, rx)
}

pub async fn engine(config: Config, args: EngineArgs) -> Result<()> {
    let target = delivery_target(&config)?;
    let ctx = app::connect(config, Schema::RequireCurrent, 8).await?;
    let engine = Engine::new(ctx, target);
    if args.once || args.exit_when_idle {
        let mut total = vivid_core::engine::PassReport::default();
        loop {
            let r = engine.run_pass().await?;
            total.timers_fired += r.timers_fired;
            total.timers_failed += r.timers_failed;
            total.delivered += r.delivered;
            total.retried += r.retried;
            total.dead += r.dead;
            if args.once || r == vivid_core::engine::PassReport::default() {
                break;
            }
        }
        tracing::info!(?total, "engine pass finished");
        return output::json(&total);
    }
    let (_stop, shutdown) = shutdown_switch(None);
    engine.run(shutdown).await?;
    Ok(())
}

pub async fn seed_demo(config: Config, flag: JsonFlag) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    let report = seed::demo(&ctx).await?;
    if flag.json {
        return output::json(&report);
    }
    if report.loaded.is_empty() {
        println!(
            "demo data already present ({})",
            report.already_present.join(", ")
        );
    } else {
        println!("loaded: {}", report.loaded.join(", "));
    }
    for part in &report.skipped {
        println!("skipped: {part}");
    }
    Ok(())
}

pub async fn simulate(config: Config, args: SimulateArgs) -> Result<()> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        anyhow::bail!("--rate must be a positive number of events per second");
    }
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    let (_stop, shutdown) = shutdown_switch(args.run_for);
    let report = simulate::run(&ctx, args.rate, args.count, args.force, shutdown).await?;
    if args.json.json {
        return output::json(&report);
    }
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(what, n)| format!("{n} {}", what.replace('_', " ")))
        .collect();
    println!("simulated {} events ({})", report.events, counts.join(", "));
    Ok(())
}

pub async fn demo(config: Config, args: DemoArgs) -> Result<()> {
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        anyhow::bail!("--rate must be zero or a positive number of events per second");
    }
    eprintln!(
        "vivid demo: preparing the database (logs: {})",
        app::log_file().display()
    );
    // Personal data needs a master key: VIVID_MASTER_KEY, else a development
    // key kept in $VIVID_HOME (mode 0600), said out loud.
    let home = vivid_core::db::local::vivid_home();
    let (key, origin) = vivid_core::privacy::crypto::demo_key(&home)?;
    match origin {
        KeyOrigin::Environment => {}
        KeyOrigin::Generated(path) | KeyOrigin::DevFile(path) => eprintln!(
            "vivid demo: VIVID_MASTER_KEY is not set; using the development master key in {} (mode 0600). \
             Other commands need it too: export VIVID_MASTER_KEY=$(cat {})",
            path.display(),
            path.display()
        ),
    }
    vivid_core::privacy::crypto::install_process_key(key);
    let target = delivery_target(&config)?;
    let ctx = app::connect(config, Schema::Migrate, 12).await?;
    let report = seed::demo(&ctx).await?;
    tracing::info!(?report, "demo data");
    let (stop, shutdown) = shutdown_switch(args.run_for);
    let engine = Engine::new(ctx.clone(), target);
    let engine_task = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { engine.run(shutdown).await })
    };
    let sim_task = (args.rate > 0.0).then(|| {
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let rate = args.rate;
        tokio::spawn(async move { simulate::run(&ctx, rate, None, false, shutdown).await })
    });
    let view = if args.headless {
        let mut s = shutdown.clone();
        while !*s.borrow_and_update() {
            if s.changed().await.is_err() {
                break;
            }
        }
        Ok(())
    } else {
        live::run(
            super::as_operator(ctx.clone(), &args.actor)?,
            Some(shutdown.clone()),
        )
        .await
    };
    // However the view ended, stop the background work and let it finish.
    stop.send(true).ok();
    if let Some(task) = sim_task {
        match task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "simulator stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "simulator task failed"),
            Ok(Ok(_)) => {}
        }
    }
    match engine_task.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "engine stopped with an error"),
        Err(e) => tracing::warn!(error = %e, "engine task failed"),
        Ok(Ok(())) => {}
    }
    view
}
