//! The data feed: LISTEN for changes, re-read, send snapshots to the UI.
//! When the database goes away it says so and retries with backoff; after
//! every reconnect it re-reads everything, because notifications sent
//! while disconnected are lost.

use std::time::Duration;

use chrono::TimeDelta;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use vivid_core::Ctx;
use vivid_core::engine::events;
use vivid_core::metrics;

use crate::app::Msg;
use crate::data::Loader;

/// Wait this long after a notification for the rest of a burst.
const COALESCE: Duration = Duration::from_millis(100);
/// Re-read even without notifications (heartbeats, due timers age).
const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// A read or connect taking longer than this counts as an outage.
const DB_TIMEOUT: Duration = Duration::from_secs(8);
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(15);

/// Run until the UI goes away (its channel closes).
pub async fn run(
    ctx: Ctx,
    operator: String,
    ui: UnboundedSender<Msg>,
    mut reload: UnboundedReceiver<()>,
) {
    let mut loader = Loader::new(operator);
    let mut retry = FIRST_RETRY;
    loop {
        match follow(&ctx, &mut loader, &ui, &mut reload).await {
            Stop::UiGone => return,
            Stop::Lost(error) => {
                loader.reset();
                let at = ctx.now();
                let retry_at = at + TimeDelta::from_std(retry).unwrap_or_default();
                tracing::warn!(%error, ?retry, "control room lost the database");
                if ui
                    .send(Msg::DbDown {
                        error,
                        at,
                        retry_at,
                    })
                    .is_err()
                {
                    return;
                }
                // A reload request (the `r` key) retries at once.
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    r = reload.recv() => {
                        if r.is_none() {
                            return;
                        }
                    }
                }
                retry = (retry * 2).min(MAX_RETRY);
            }
            Stop::Reconnect => retry = FIRST_RETRY,
        }
    }
}

enum Stop {
    UiGone,
    /// The database failed; say so and retry later.
    Lost(String),
    /// The listener's connection dropped; reconnect at once.
    Reconnect,
}

async fn timed<T>(what: &str, f: impl Future<Output = vivid_core::Result<T>>) -> Result<T, String> {
    match tokio::time::timeout(DB_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "{what}: no answer within {}s",
            DB_TIMEOUT.as_secs()
        )),
    }
}

async fn listen(ctx: &Ctx) -> vivid_core::Result<PgListener> {
    let mut listener = PgListener::connect_with(&ctx.pool).await?;
    // Report a lost connection at once instead of silently reconnecting,
    // so the next read starts from scratch.
    listener.eager_reconnect(false);
    listener
        .listen_all([events::CHANNEL, metrics::CHANNEL])
        .await?;
    Ok(listener)
}

/// Connect, read everything, then re-read on every notification.
async fn follow(
    ctx: &Ctx,
    loader: &mut Loader,
    ui: &UnboundedSender<Msg>,
    reload: &mut UnboundedReceiver<()>,
) -> Stop {
    // LISTEN before reading, so nothing committed in between is missed.
    let mut listener = match timed("listening for changes", listen(ctx)).await {
        Ok(l) => l,
        Err(e) => return Stop::Lost(e),
    };
    loader.reset();
    loop {
        match timed("reading", loader.load(ctx)).await {
            Ok(snapshot) => {
                if ui.send(Msg::Loaded(Box::new(snapshot))).is_err() {
                    return Stop::UiGone;
                }
            }
            Err(e) => return Stop::Lost(e),
        }
        tokio::select! {
            n = listener.try_recv() => match n {
                Ok(Some(_)) => {
                    // Let the burst finish, then read once for all of it.
                    tokio::time::sleep(COALESCE).await;
                    while listener.next_buffered().is_some() {}
                }
                Ok(None) => return Stop::Reconnect,
                Err(e) => return Stop::Lost(e.to_string()),
            },
            r = reload.recv() => {
                if r.is_none() {
                    return Stop::UiGone;
                }
            }
            _ = tokio::time::sleep(REFRESH_EVERY) => {}
        }
    }
}
