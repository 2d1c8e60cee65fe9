//! Business metric readings (revenue, orders, ROAS, sentiment, ...): recorded
//! by people, the simulator or integrations; read by KPI tiles and triggers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::engine::Ctx;
use crate::error::{Error, Result};

/// NOTIFY channel for new readings.
pub const CHANNEL: &str = "vivid_metrics";

/// The metrics VividWalls tracks: (name, unit, what it is).
pub const KNOWN: &[(&str, &str, &str)] = &[
    ("daily_revenue", "USD", "revenue of the trailing day"),
    ("orders", "count", "orders placed in the trailing day"),
    ("sessions", "count", "site sessions in the trailing day"),
    ("conversion_rate", "ratio", "orders / sessions"),
    ("roas", "ratio", "return on ad spend"),
    ("order_backlog", "count", "orders waiting to ship"),
    (
        "daily_capacity",
        "count",
        "orders the studio can ship per day",
    ),
    (
        "negative_sentiment",
        "ratio",
        "share of negative mentions and reviews",
    ),
    (
        "critical_out_of_stock",
        "count",
        "critical products out of stock",
    ),
];

pub fn check_metric(name: &str) -> Result<()> {
    if KNOWN.iter().any(|(n, _, _)| *n == name) {
        return Ok(());
    }
    let names: Vec<&str> = KNOWN.iter().map(|(n, _, _)| *n).collect();
    Err(Error::invalid(format!(
        "unknown metric {name:?}; known metrics: {}",
        names.join(", ")
    )))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Reading {
    pub metric: String,
    pub value: f64,
    pub recorded_at: DateTime<Utc>,
    pub source: String,
}

/// Record one reading.
pub async fn record(
    conn: &mut PgConnection,
    metric: &str,
    value: f64,
    at: DateTime<Utc>,
    source: &str,
) -> Result<i64> {
    check_metric(metric)?;
    if !value.is_finite() {
        return Err(Error::invalid(format!(
            "{metric}: the value must be a finite number"
        )));
    }
    let id: i64 = sqlx::query_scalar(
        "WITH ins AS (INSERT INTO metric_readings (metric, value, recorded_at, source) VALUES ($1, $2, $3, $4) RETURNING id)
         SELECT id FROM ins, LATERAL (SELECT pg_notify('vivid_metrics', $1)) n",
    )
    .bind(metric)
    .bind(value)
    .bind(at)
    .bind(source)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// The latest reading of every metric.
pub async fn latest(conn: &mut PgConnection) -> Result<Vec<Reading>> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT ON (metric) metric, value, recorded_at, source FROM metric_readings
         ORDER BY metric, recorded_at DESC, id DESC",
    )
    .fetch_all(conn)
    .await?)
}

/// The last `n` readings of one metric, oldest first.
pub async fn series(conn: &mut PgConnection, metric: &str, n: i64) -> Result<Vec<Reading>> {
    let mut rows: Vec<Reading> = sqlx::query_as(
        "SELECT metric, value, recorded_at, source FROM metric_readings WHERE metric = $1
         ORDER BY recorded_at DESC, id DESC LIMIT $2",
    )
    .bind(metric)
    .bind(n)
    .fetch_all(conn)
    .await?;
    rows.reverse();
    Ok(rows)
}

/// Record through a context (its own transaction).
pub async fn record_now(ctx: &Ctx, metric: &str, value: f64, source: &str) -> Result<i64> {
    let mut conn = ctx.pool.acquire().await?;
    record(&mut conn, metric, value, ctx.now(), source).await
}
