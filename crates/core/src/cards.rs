//! Live cards: the messages a chat front end (the Discord bot) posted for
//! workflow entities (table `discord_messages`) — which message shows which
//! entity, and which event it last showed — so every later change edits
//! them. Kept in core so the bot holds no SQL.

use crate::error::Result;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Posted {
    pub workflow: String,
    pub entity_id: String,
    pub channel_id: String,
    pub message_id: String,
    pub rendered_event: i64,
}

const COLUMNS: &str = "workflow, entity_id, channel_id, message_id, rendered_event";

/// The newest event of an entity (0 when it has none).
pub async fn latest_event(pool: &PgPool, workflow: &str, entity_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(max(id), 0) FROM events WHERE workflow = $1 AND entity_id = $2",
    )
    .bind(workflow)
    .bind(entity_id)
    .fetch_one(pool)
    .await?)
}

pub async fn find(
    pool: &PgPool,
    workflow: &str,
    entity_id: &str,
    channel_id: &str,
) -> Result<Option<Posted>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM discord_messages WHERE workflow = $1 AND entity_id = $2 AND channel_id = $3"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(workflow)
        .bind(entity_id)
        .bind(channel_id)
        .fetch_optional(pool)
        .await?)
}

/// Every message showing one entity (one per channel it was posted to).
pub async fn for_entity(pool: &PgPool, workflow: &str, entity_id: &str) -> Result<Vec<Posted>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM discord_messages WHERE workflow = $1 AND entity_id = $2 ORDER BY channel_id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(workflow)
        .bind(entity_id)
        .fetch_all(pool)
        .await?)
}

/// Messages whose entity has changed since they were last rendered.
pub async fn stale(pool: &PgPool) -> Result<Vec<Posted>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM discord_messages m
         WHERE EXISTS (SELECT 1 FROM events e WHERE e.workflow = m.workflow AND e.entity_id = m.entity_id
                       AND e.id > m.rendered_event)
         ORDER BY workflow, entity_id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?)
}

pub async fn record(pool: &PgPool, p: &Posted, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO discord_messages (workflow, entity_id, channel_id, message_id, rendered_event, posted_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (workflow, entity_id, channel_id)
         DO UPDATE SET message_id = EXCLUDED.message_id, rendered_event = EXCLUDED.rendered_event,
                       updated_at = EXCLUDED.updated_at",
    )
    .bind(&p.workflow)
    .bind(&p.entity_id)
    .bind(&p.channel_id)
    .bind(&p.message_id)
    .bind(p.rendered_event)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// The message now shows the entity as of `event`; never moves backwards.
pub async fn rendered(pool: &PgPool, p: &Posted, event: i64, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE discord_messages SET rendered_event = GREATEST(rendered_event, $4), updated_at = $5
         WHERE workflow = $1 AND entity_id = $2 AND channel_id = $3",
    )
    .bind(&p.workflow)
    .bind(&p.entity_id)
    .bind(&p.channel_id)
    .bind(event)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// The message is gone from Discord (deleted by someone): stop editing it.
pub async fn forget(pool: &PgPool, p: &Posted) -> Result<()> {
    sqlx::query(
        "DELETE FROM discord_messages WHERE workflow = $1 AND entity_id = $2 AND channel_id = $3",
    )
    .bind(&p.workflow)
    .bind(&p.entity_id)
    .bind(&p.channel_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Remember a chat interaction id; false when it was seen before. Kept in
/// the database, so a replayed request is refused across restarts and
/// across several servers behind one URL. Ids older than `keep` are
/// forgotten (a request that old fails its timestamp check anyway).
pub async fn first_sighting(
    pool: &sqlx::PgPool,
    interaction_id: &str,
    now: chrono::DateTime<chrono::Utc>,
    keep: chrono::TimeDelta,
) -> crate::Result<bool> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO discord_interactions_seen (interaction_id, seen_at) VALUES ($1, $2)
         ON CONFLICT (interaction_id) DO NOTHING",
    )
    .bind(interaction_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    // Bounded clean-up on the way: the index on seen_at makes it cheap.
    sqlx::query(
        "DELETE FROM discord_interactions_seen WHERE interaction_id IN (
             SELECT interaction_id FROM discord_interactions_seen WHERE seen_at < $1 LIMIT 100)",
    )
    .bind(now - keep)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(inserted)
}
