//! All of the content lifecycle's SQL: items, versions, performance
//! readings, and the campaigns an item may belong to. Its state is stored as
//! text (see `text_column!` below).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model::{Reading, State};
use crate::db::text_column;
use crate::error::{Error, Result};

text_column!(
    State,
    "content state",
    all = State::ALL,
    text = State::as_str
);

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub owner: String,
    pub channel: String,
    pub campaign: Option<String>,
    pub cost_cents: i64,
    pub state: State,
    pub version: i32,
    pub approved_version: Option<i32>,
    pub approval_id: Option<i64>,
    pub revision_rounds: i32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_edit_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
}

pub(crate) const COLUMNS: &str = "id, kind, title, owner, channel, campaign, cost_cents, state, version, approved_version, approval_id,
    revision_rounds, created_by, created_at, updated_at, last_edit_at, published_at, archived_at";

/// Load an item, locking it for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<Item> {
    let sql = format!("SELECT {COLUMNS} FROM content_items WHERE id = $1 FOR UPDATE");
    let row: Option<Item> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no content item #{id}")))
}

pub async fn get(conn: &mut PgConnection, id: i64) -> Result<Item> {
    let sql = format!("SELECT {COLUMNS} FROM content_items WHERE id = $1");
    let row: Option<Item> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no content item #{id}")))
}

/// Items, most recently changed first.
pub async fn list(
    conn: &mut PgConnection,
    state: Option<State>,
    owner: Option<&str>,
    limit: i64,
) -> Result<Vec<Item>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM content_items WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR owner = $2)
         ORDER BY updated_at DESC, id DESC LIMIT $3"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(state)
        .bind(owner)
        .bind(if limit > 0 { limit } else { 1000 })
        .fetch_all(conn)
        .await?)
}

pub async fn insert(conn: &mut PgConnection, i: &Item) -> Result<Item> {
    let sql = format!(
        "INSERT INTO content_items (kind, title, owner, channel, campaign, cost_cents, state, version, created_by,
            created_at, updated_at, last_edit_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $9, $9) RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&i.kind)
        .bind(&i.title)
        .bind(&i.owner)
        .bind(&i.channel)
        .bind(&i.campaign)
        .bind(i.cost_cents)
        .bind(i.state)
        .bind(&i.created_by)
        .bind(i.created_at)
        .fetch_one(conn)
        .await?)
}

pub async fn save(conn: &mut PgConnection, i: &Item) -> Result<()> {
    sqlx::query(
        "UPDATE content_items SET title = $2, state = $3, version = $4, approved_version = $5, approval_id = $6,
            revision_rounds = $7, updated_at = $8, last_edit_at = $9, published_at = $10, archived_at = $11
         WHERE id = $1",
    )
    .bind(i.id)
    .bind(&i.title)
    .bind(i.state)
    .bind(i.version)
    .bind(i.approved_version)
    .bind(i.approval_id)
    .bind(i.revision_rounds)
    .bind(i.updated_at)
    .bind(i.last_edit_at)
    .bind(i.published_at)
    .bind(i.archived_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Version {
    pub item_id: i64,
    pub version: i32,
    pub title: String,
    pub body: String,
    pub author: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn add_version(conn: &mut PgConnection, v: &Version) -> Result<()> {
    sqlx::query(
        "INSERT INTO content_versions (item_id, version, title, body, author, note, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(v.item_id)
    .bind(v.version)
    .bind(&v.title)
    .bind(&v.body)
    .bind(&v.author)
    .bind(&v.note)
    .bind(v.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn versions(conn: &mut PgConnection, item_id: i64) -> Result<Vec<Version>> {
    Ok(sqlx::query_as(
        "SELECT item_id, version, title, body, author, note, created_at FROM content_versions WHERE item_id = $1 ORDER BY version",
    )
    .bind(item_id)
    .fetch_all(conn)
    .await?)
}

/// Performance totals over a window.
#[derive(Debug, Clone, Copy, Default, Serialize, sqlx::FromRow)]
pub struct Totals {
    pub views: i64,
    pub clicks: i64,
    pub conversions: i64,
    pub revenue_cents: i64,
    pub readings: i64,
}

impl Totals {
    /// Clicks per view, when there were views.
    pub fn ctr(&self) -> Option<f64> {
        (self.views > 0).then(|| self.clicks as f64 / self.views as f64)
    }
}

/// Record one performance reading.
pub async fn insert_reading(
    conn: &mut PgConnection,
    item_id: i64,
    reading: &Reading,
    at: DateTime<Utc>,
    source: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO content_metrics (item_id, views, clicks, conversions, revenue_cents, recorded_at, source)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(item_id)
    .bind(reading.views)
    .bind(reading.clicks)
    .bind(reading.conversions)
    .bind(reading.revenue_cents)
    .bind(at)
    .bind(source)
    .execute(conn)
    .await?;
    Ok(())
}

/// Wake live views for a reading that is not a state change (no event).
pub async fn notify_reading(conn: &mut PgConnection, item_id: i64) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(crate::metrics::CHANNEL)
        .bind(format!("{}:{item_id}", super::WORKFLOW))
        .execute(conn)
        .await?;
    Ok(())
}

/// Does the campaign exist?
pub async fn campaign_exists(conn: &mut PgConnection, key: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT key FROM campaigns WHERE key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Performance totals since a moment (`readings`: how many were summed).
pub async fn totals(conn: &mut PgConnection, item_id: i64, since: DateTime<Utc>) -> Result<Totals> {
    Ok(sqlx::query_as(
        "SELECT coalesce(sum(views), 0)::bigint AS views, coalesce(sum(clicks), 0)::bigint AS clicks,
                coalesce(sum(conversions), 0)::bigint AS conversions, coalesce(sum(revenue_cents), 0)::bigint AS revenue_cents,
                count(*) AS readings
         FROM content_metrics WHERE item_id = $1 AND recorded_at >= $2",
    )
    .bind(item_id)
    .bind(since)
    .fetch_one(conn)
    .await?)
}

/// The content tile's counts: in review, optimising, live, and overdue or
/// re-routed reviews.
pub async fn tile_counts(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    workflow: &str,
) -> Result<(i64, i64, i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'review'),
                count(*) FILTER (WHERE state = 'optimization'),
                count(*) FILTER (WHERE state IN ('published', 'performance', 'optimization', 'maintenance')),
                (SELECT count(*) FROM approval_requests
                  WHERE workflow = $2 AND status = 'pending'
                    AND (escalate_to <> '{}' OR deadline < $1))
         FROM content_items WHERE state IN ('review', 'published', 'performance', 'optimization', 'maintenance')",
    )
    .bind(now)
    .bind(workflow)
    .fetch_one(&mut *conn)
    .await?)
}

/// (state, items) for every state that has items.
pub async fn counts_by_state(conn: &mut PgConnection) -> Result<Vec<(String, i64)>> {
    Ok(
        sqlx::query_as("SELECT state, count(*) FROM content_items GROUP BY state")
            .fetch_all(conn)
            .await?,
    )
}

/// The `per_state` most recently updated items of every state; with `ids`,
/// only those items.
pub async fn latest_per_state(
    conn: &mut PgConnection,
    ids: Option<&[i64]>,
    per_state: i64,
) -> Result<Vec<Item>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM (
            SELECT *, row_number() OVER (PARTITION BY state ORDER BY updated_at DESC, id DESC) AS nth
            FROM content_items WHERE ($1::bigint[] IS NULL OR id = ANY($1))
         ) i WHERE nth <= $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .bind(per_state)
        .fetch_all(&mut *conn)
        .await?)
}
