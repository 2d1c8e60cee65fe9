//! Audit findings closed by a person with what was done about them.

use super::{event, no_pii_in, require};
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::privacy::store;

pub async fn resolve_finding(
    ctx: &Ctx,
    id: i64,
    resolution: &str,
    actor: &str,
) -> Result<store::Finding> {
    let person = ctx.org.actor(actor)?.clone();
    require(
        ctx,
        &person,
        &crate::privacy::config::settings(&ctx.config)?.responders,
        "resolve audit findings",
    )?;
    if resolution.trim().is_empty() {
        return Err(Error::invalid("say what was done about the finding"));
    }
    no_pii_in(ctx, "the resolution", resolution)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    let mut f = store::finding(&mut tx, id, true).await?;
    if f.status != "open" {
        return Err(Error::conflict(format!(
            "finding #{id} is already resolved"
        )));
    }
    store::resolve_finding(&mut tx, id, now, actor, resolution.trim()).await?;
    event(
        ctx,
        &mut tx,
        "finding",
        id,
        "finding_resolved",
        actor,
        |e| {
            e.transition(Some("open"), "resolved")
                .reason(resolution.trim())
                .payload(serde_json::json!({ "kind": f.kind }))
        },
    )
    .await?;
    tx.commit().await?;
    f.status = "resolved".into();
    f.resolved_at = Some(now);
    f.resolved_by = Some(actor.into());
    f.resolution = Some(resolution.trim().into());
    Ok(f)
}
