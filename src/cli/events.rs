//! `vivid events tail`: the event log, live.

use std::time::Duration;
use vivid_core::Ctx;

use anyhow::Result;
use clap::{Args, Subcommand};
use vivid_core::config::Config;
use vivid_core::engine::events::{self, Event, Filter};

use super::shutdown_signal;
use crate::app::{self, Schema};

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print recent events, then (with --follow) new ones as they commit.
    Tail(TailArgs),
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Only this workflow (e.g. crisis, content, engine).
    #[arg(long)]
    workflow: Option<String>,
    /// Only this entity id.
    #[arg(long)]
    entity: Option<String>,
    /// Only the events of one story across workflows (its correlation id).
    #[arg(long, value_name = "ID")]
    correlation: Option<String>,
    /// How many recent events to show first.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: i64,
    /// Keep printing new events as they happen.
    #[arg(long, short = 'f')]
    follow: bool,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

fn print(ctx: &Ctx, e: &Event, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(e)?);
        return Ok(());
    }
    let transition = match (&e.from_state, &e.to_state) {
        (Some(f), Some(t)) => format!(" {f} -> {t}"),
        (None, Some(t)) => format!(" -> {t}"),
        _ => String::new(),
    };
    let mut reason = e
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    if let Some(c) = &e.correlation_id {
        reason.push_str(&format!(" [{c}]"));
    }
    let line = format!(
        "{:>6} {} {:<10} {}#{} {}{} by {}{}",
        e.id,
        ctx.calendar.format_local_seconds(e.occurred_at),
        e.workflow,
        e.entity_type,
        e.entity_id,
        e.action,
        transition,
        e.actor,
        reason
    );
    // Stored reasons may hold what anyone typed before the limits existed.
    println!("{}", crate::output::clean(&line));
    Ok(())
}

pub async fn run(config: Config, cmd: EventsCommand) -> Result<()> {
    let EventsCommand::Tail(args) = cmd;
    if args.limit < 0 {
        anyhow::bail!("--limit must not be negative");
    }
    let ctx = app::connect(config, Schema::RequireCurrent, 2).await?;
    let mut filter = Filter {
        workflow: args.workflow.clone(),
        entity_id: args.entity.clone(),
        after_id: None,
        limit: args.limit,
        correlation_id: args.correlation.clone(),
    };
    let mut conn = ctx.pool.acquire().await?;
    let recent = events::list(&mut conn, &filter).await?;
    let mut last = recent.last().map(|e| e.id).unwrap_or(0);
    if recent.is_empty() && args.follow {
        last = events::last_id(&mut conn).await?;
    }
    drop(conn);
    for e in &recent {
        print(&ctx, e, args.json)?;
    }
    if !args.follow {
        return Ok(());
    }
    let mut live: Option<events::Subscription> = None;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        if live.is_none() {
            live = events::Subscription::open(&ctx.pool).await.ok();
        }
        // Re-read from the last id after every wake-up (and after a
        // reconnect), so nothing committed while disconnected is missed.
        filter.after_id = Some(last);
        filter.limit = 1000;
        if let Ok(mut conn) = ctx.pool.acquire().await {
            for e in events::list(&mut conn, &filter).await? {
                last = e.id;
                print(&ctx, &e, args.json)?;
            }
        }
        // Connected: false once the connection is lost (then re-read).
        let woke = async {
            match live.as_mut() {
                Some(l) => matches!(l.next().await, Ok(Some(_))),
                None => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    true
                }
            }
        };
        tokio::select! {
            connected = woke => if !connected { live = None; },
            _ = &mut stop => break,
        }
    }
    Ok(())
}
