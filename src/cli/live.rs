//! A live status screen: redrawn when the database announces a change
//! (LISTEN/NOTIFY) and once a second for clocks. It stands in for the
//! control room until the ratatui TUI lands.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use vivid_core::Ctx;

use super::shutdown_signal;
use super::status::render;

pub async fn run(ctx: Ctx, shutdown: Option<watch::Receiver<bool>>) -> Result<()> {
    let mut shutdown = shutdown.unwrap_or_else(|| {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            tx.send(true).ok();
        });
        rx
    });
    let mut listener: Option<PgListener> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        if listener.is_none() {
            listener = match PgListener::connect_with(&ctx.pool).await {
                Ok(mut l) => match l.listen_all(["vivid_events", "vivid_metrics"]).await {
                    Ok(()) => Some(l),
                    Err(_) => None,
                },
                Err(_) => None,
            };
        }
        let (banner, screen) = match vivid_core::status::collect(&ctx).await {
            Ok(status) => (None, render(&status)),
            Err(e) => (
                Some(format!("DATABASE UNAVAILABLE: {e} (retrying)")),
                String::new(),
            ),
        };
        let mut out = std::io::stdout().lock();
        write!(out, "\x1b[2J\x1b[H")?;
        if let Some(b) = &banner {
            writeln!(out, "\x1b[41;97m {b} \x1b[0m")?;
        }
        writeln!(out, "{screen}")?;
        writeln!(out, "\nLive: updates on every change. Ctrl-C to quit.")?;
        out.flush()?;
        drop(out);
        let notified = async {
            match listener.as_mut() {
                Some(l) => l.recv().await.map(|_| ()),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = notified => {
                if r.is_err() {
                    listener = None;
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
