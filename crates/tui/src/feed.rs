//! The data feed: read everything once, then follow the live channels and
//! re-read only what each change concerns (see `data`). When the database
//! goes away it says so and retries with backoff; after every reconnect it
//! re-reads everything, because notifications sent while disconnected are
//! lost. Between changes it reads nothing but the engine's heartbeat.

use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use vivid_core::Ctx;
use vivid_core::engine::events::Subscription;

use crate::app::Msg;
use crate::data::{Loader, heartbeat};

/// After a first change, wait this long for the rest of its burst.
const COALESCE: Duration = Duration::from_millis(30);
/// Read the engine's heartbeat (workers alive, timers, outbox) this often.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
/// A read or connect taking longer than this counts as an outage.
const DB_TIMEOUT: Duration = Duration::from_secs(8);
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// The longest wait between two attempts while the database is away.
const MAX_RETRY: Duration = Duration::from_secs(5);

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
                // Any key (a reload request) retries at once.
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

/// Connect, read everything, then re-read what each change concerns.
async fn follow(
    ctx: &Ctx,
    loader: &mut Loader,
    ui: &UnboundedSender<Msg>,
    reload: &mut UnboundedReceiver<()>,
) -> Stop {
    // LISTEN before reading, so nothing committed in between is missed.
    let mut changes = match timed("listening for changes", Subscription::open(&ctx.pool)).await {
        Ok(s) => s,
        Err(e) => return Stop::Lost(e),
    };
    loader.reset();
    match timed("reading", loader.load(ctx)).await {
        Ok(snapshot) => {
            if ui.send(Msg::Loaded(Box::new(snapshot))).is_err() {
                return Stop::UiGone;
            }
        }
        Err(e) => return Stop::Lost(e),
    }
    let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    loop {
        let due = loader.due_in().unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            c = changes.next() => match c {
                Ok(Some(first)) => {
                    // Let the burst finish, then read once for all of it.
                    tokio::time::sleep(COALESCE).await;
                    let mut batch = vec![first];
                    batch.extend(changes.drain());
                    loader.note(&batch);
                }
                Ok(None) => return Stop::Reconnect,
                Err(e) => return Stop::Lost(e.to_string()),
            },
            r = reload.recv() => {
                if r.is_none() {
                    return Stop::UiGone;
                }
                loader.reset();
                match timed("reading", loader.load(ctx)).await {
                    Ok(snapshot) => {
                        if ui.send(Msg::Loaded(Box::new(snapshot))).is_err() {
                            return Stop::UiGone;
                        }
                    }
                    Err(e) => return Stop::Lost(e),
                }
                continue;
            }
            _ = beat.tick() => loader.note(&[heartbeat()]),
            _ = tokio::time::sleep(due) => {}
        }
        match timed("reading", loader.refresh(ctx)).await {
            Ok(Some(snapshot)) => {
                if ui.send(Msg::Loaded(Box::new(snapshot))).is_err() {
                    return Stop::UiGone;
                }
            }
            Ok(None) => {}
            Err(e) => return Stop::Lost(e),
        }
    }
}
