//! Live messages: post an entity's message once, then edit it whenever the
//! entity changes. `vivid bot` LISTENs on `vivid_events` and refreshes the
//! messages of every entity that changed; after a reconnect (notifications
//! sent while disconnected are lost) it refreshes every stale message.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::watch;
use vivid_core::Ctx;
use vivid_core::engine::events::{Change, Subscription};

use crate::registry::{self, CommandGroup};
use crate::rest::{Rest, RestError};
use vivid_core::cards::{self as messages, Posted};

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Core(#[from] vivid_core::Error),
    #[error(transparent)]
    Rest(#[from] RestError),
}

/// Post an entity's live message to a channel and remember it. Posting again
/// (a redelivered notification) edits the message already there.
pub async fn post(
    ctx: &Ctx,
    rest: &Rest,
    group: &dyn CommandGroup,
    entity_id: &str,
    channel_id: &str,
) -> Result<Posted, LiveError> {
    let workflow = group.workflow().unwrap_or_default();
    if let Some(existing) = messages::find(&ctx.pool, workflow, entity_id, channel_id).await? {
        refresh(ctx, rest, group, &existing).await?;
        // Still there unless someone deleted it in Discord; then post it anew.
        if messages::find(&ctx.pool, workflow, entity_id, channel_id)
            .await?
            .is_some()
        {
            return Ok(existing);
        }
    }
    let before = messages::latest_event(&ctx.pool, workflow, entity_id).await?;
    let message = group.render_entity(ctx, entity_id).await?;
    let message_id = rest.create_message(channel_id, &message).await?;
    let posted = Posted {
        workflow: workflow.to_string(),
        entity_id: entity_id.to_string(),
        channel_id: channel_id.to_string(),
        message_id,
        rendered_event: before,
    };
    messages::record(&ctx.pool, &posted, ctx.now()).await?;
    // A change committed while we posted was not ours to see yet: show it now.
    if messages::latest_event(&ctx.pool, workflow, entity_id).await? > before {
        refresh(ctx, rest, group, &posted).await?;
    }
    Ok(posted)
}

/// Re-render one posted message and edit it in place.
pub async fn refresh(
    ctx: &Ctx,
    rest: &Rest,
    group: &dyn CommandGroup,
    p: &Posted,
) -> Result<(), LiveError> {
    // Read the event mark first: anything later makes the message stale again.
    let event = messages::latest_event(&ctx.pool, &p.workflow, &p.entity_id).await?;
    let message = match group.render_entity(ctx, &p.entity_id).await {
        Ok(m) => m,
        Err(vivid_core::Error::NotFound(_)) => {
            messages::forget(&ctx.pool, p).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    match rest
        .edit_message(&p.channel_id, &p.message_id, &message)
        .await
    {
        Ok(()) => {
            messages::rendered(&ctx.pool, p, event, ctx.now()).await?;
            Ok(())
        }
        Err(e) if e.is_not_found() => {
            tracing::info!(workflow = %p.workflow, entity = %p.entity_id, "live message deleted in Discord; no longer edited");
            messages::forget(&ctx.pool, p).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Refresh with a few waits on rate limits: edits are cheap to retry and
/// the newest state is what matters.
async fn refresh_patiently(ctx: &Ctx, rest: &Rest, group: &dyn CommandGroup, p: &Posted) {
    for _ in 0..4 {
        match refresh(ctx, rest, group, p).await {
            Ok(()) => return,
            Err(LiveError::Rest(RestError::RateLimited { after, .. })) => {
                tokio::time::sleep(after).await;
            }
            Err(e) => {
                tracing::warn!(workflow = %p.workflow, entity = %p.entity_id, error = %e, "cannot update a live message");
                return;
            }
        }
    }
}

/// Refresh every message of one entity.
pub async fn refresh_entity(ctx: &Ctx, rest: &Rest, workflow: &str, entity_id: &str) {
    let Some(group) = registry::for_workflow(workflow) else {
        return;
    };
    match messages::for_entity(&ctx.pool, workflow, entity_id).await {
        Ok(posted) => {
            for p in &posted {
                refresh_patiently(ctx, rest, group, p).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read live messages"),
    }
}

/// Refresh every message whose entity changed since it was rendered.
pub async fn refresh_stale(ctx: &Ctx, rest: &Rest) -> Result<usize, LiveError> {
    let stale = messages::stale(&ctx.pool).await?;
    for p in &stale {
        if let Some(group) = registry::for_workflow(&p.workflow) {
            refresh_patiently(ctx, rest, group, p).await;
        }
    }
    Ok(stale.len())
}

/// Keep posted messages current until `shutdown` turns true.
pub async fn run(ctx: Ctx, rest: Rest, mut shutdown: watch::Receiver<bool>) {
    let workflows: Vec<&str> = registry::groups()
        .iter()
        .filter_map(|g| g.workflow())
        .collect();
    let mut backoff = Duration::from_millis(250);
    while !*shutdown.borrow() {
        let mut changes = match Subscription::open(&ctx.pool).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for changes; retrying");
                sleep_or_stop(&mut shutdown, backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        backoff = Duration::from_millis(250);
        // Changes made while we were not listening.
        match refresh_stale(&ctx, &rest).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "caught up stale live messages"),
            Err(e) => tracing::warn!(error = %e, "cannot catch up live messages"),
        }
        loop {
            let first = tokio::select! {
                n = changes.next() => n,
                _ = shutdown.changed() => return,
            };
            let mut changed = BTreeSet::new();
            let mut lost = note(first, &workflows, &mut changed);
            // One state change appends several events: render once for all of them.
            while !lost {
                match tokio::time::timeout(Duration::from_millis(50), changes.next()).await {
                    Ok(n) => lost = note(n, &workflows, &mut changed),
                    Err(_) => break,
                }
            }
            for (workflow, entity) in &changed {
                refresh_entity(&ctx, &rest, workflow, entity).await;
            }
            if lost {
                break;
            }
        }
    }
}

/// Note a changed entity; true when the subscription lost its connection.
fn note(
    n: vivid_core::Result<Option<Change>>,
    workflows: &[&str],
    changed: &mut BTreeSet<(String, String)>,
) -> bool {
    match n {
        Ok(Some(c)) => {
            if workflows.contains(&c.workflow.as_str()) {
                changed.insert((c.workflow, c.entity_id));
            }
            false
        }
        Ok(None) => {
            tracing::warn!("listener lost; reconnecting");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "listener lost; reconnecting");
            true
        }
    }
}

async fn sleep_or_stop(shutdown: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.changed() => {}
    }
}
