//! `vivid tui` and the view of `vivid demo`: the ratatui control room when
//! stdout is a terminal; otherwise (piped, logged) the status as plain text,
//! printed again whenever a committed change (LISTEN/NOTIFY) alters it.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;
use vivid_core::Ctx;
use vivid_core::engine::events;

use super::shutdown_signal;
use super::status::render;

pub async fn run(ctx: Ctx, shutdown: Option<watch::Receiver<bool>>) -> Result<()> {
    let shutdown = shutdown.unwrap_or_else(|| {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            tx.send(true).ok();
        });
        rx
    });
    if !std::io::stdout().is_terminal() {
        return plain(ctx, shutdown).await;
    }
    let operator = ctx.config.operator.clone().unwrap_or_default();
    vivid_tui::run(
        ctx,
        vivid_tui::TuiOptions {
            operator,
            shutdown: Some(shutdown),
        },
    )
    .await?;
    Ok(())
}

/// The live status as plain text, for a stdout that is not a terminal.
async fn plain(ctx: Ctx, mut shutdown: watch::Receiver<bool>) -> Result<()> {
    let mut live: Option<events::Subscription> = None;
    let mut last_body: Option<String> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        if live.is_none() {
            live = events::Subscription::open(&ctx.pool).await.ok();
        }
        let (banner, screen) = match vivid_core::status::collect(&ctx).await {
            Ok(status) => (None, render(&status, &ctx.calendar)),
            Err(e) => (
                Some(format!("DATABASE UNAVAILABLE: {e} (retrying)")),
                String::new(),
            ),
        };
        // A pipe gets a report when something changed, not every second
        // (the first line is the time of the report).
        let body = screen.split_once('\n').map(|(_, b)| b.to_string());
        if banner.is_some() || body != last_body {
            let mut out = std::io::stdout().lock();
            if let Some(b) = &banner {
                writeln!(out, "{b}")?;
            }
            writeln!(out, "{screen}")?;
            out.flush()?;
            last_body = body;
        }
        // Connected: false once the connection is lost (then re-read).
        let notified = async {
            match live.as_mut() {
                Some(l) => matches!(l.next().await, Ok(Some(_))),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            connected = notified => {
                if !connected {
                    live = None;
                }
                // Coalesce bursts of changes into one redraw.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => {}
        }
    }
    Ok(())
}
