//! All of A/B testing's SQL: experiments and their variations, exposures,
//! metric events, the sufficient statistics aggregated in SQL, and the
//! learnings library. The state and the design's enums are stored as text
//! (see `text_column!` below); a stored value this binary does not know
//! reads back as an internal fault.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model::{
    DIFFERENCES, ENGINES, METRIC_KINDS, State, difference_str, engine_str, metric_kind_str,
};
use crate::db::text_column;
use crate::error::{Error, Result};
use crate::stats::{Difference, Engine, MetricKind};

text_column!(
    State,
    "experiment state",
    all = State::ALL,
    text = State::as_str
);
text_column!(
    MetricKind,
    "metric kind",
    all = METRIC_KINDS,
    text = metric_kind_str
);
text_column!(
    Engine,
    "statistical engine",
    all = ENGINES,
    text = engine_str
);
text_column!(
    Difference,
    "difference scale",
    all = DIFFERENCES,
    text = difference_str
);

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Experiment {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub hypothesis: String,
    pub owner: String,
    pub state: State,
    pub metric: String,
    pub metric_kind: MetricKind,
    pub guardrails: Vec<String>,
    pub engine: Engine,
    pub difference: Difference,
    pub sequential: bool,
    pub sequential_tuning: f64,
    pub alpha: f64,
    pub power: f64,
    pub mde: f64,
    pub baseline: f64,
    pub baseline_variance: Option<f64>,
    pub daily_traffic: i64,
    pub planned_per_variation: i64,
    pub planned_days: i32,
    /// Units planned across all arms (sequential designs: with the penalty);
    /// 0 for designs made before the per-arm plan.
    pub planned_total: i64,
    /// The fixed-horizon total, for comparison.
    pub fixed_total: i64,
    /// Secondary metrics, "name:kind": reported, never blocking a winner.
    pub secondary: Vec<String>,
    /// Exposures carry a pre-period covariate: the primary metric is
    /// analysed with CUPED.
    pub covariates: bool,
    /// Exposures carry device / channel / segment: breakdowns are shown.
    pub dimensions: bool,
    pub content_id: Option<i64>,
    pub follows: Option<i64>,
    pub started_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub winner: Option<String>,
    pub decision_reason: Option<String>,
    pub learnings: Option<String>,
    pub documented_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, key, name, hypothesis, owner, state, metric, metric_kind, guardrails, engine, difference, sequential,
    sequential_tuning, alpha, power, mde, baseline, baseline_variance, daily_traffic, planned_per_variation, planned_days,
    coalesce(planned_total, 0) AS planned_total, coalesce(fixed_total, 0) AS fixed_total, secondary, covariates, dimensions, content_id, follows, started_at, decided_at, decided_by, winner, decision_reason, learnings, documented_at, created_at, updated_at";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Variation {
    pub key: String,
    pub weight: f64,
    pub position: i32,
}

/// A new experiment's row, as `service::create` checked it.
#[derive(Debug, Clone)]
pub struct NewRow<'a> {
    pub key: &'a str,
    pub name: &'a str,
    pub hypothesis: &'a str,
    pub owner: &'a str,
    pub metric: &'a str,
    pub metric_kind: MetricKind,
    pub guardrails: &'a [String],
    pub engine: Engine,
    pub difference: Difference,
    pub sequential: bool,
    pub alpha: f64,
    pub power: f64,
    pub mde: f64,
    pub baseline: f64,
    pub baseline_variance: Option<f64>,
    pub daily_traffic: i64,
    pub planned_per_variation: i64,
    pub planned_days: i32,
    pub planned_total: i64,
    pub fixed_total: i64,
    pub sequential_tuning: f64,
    pub secondary: &'a [String],
    pub content_id: Option<i64>,
    pub follows: Option<i64>,
}

/// Insert a draft with its variations (the control first); None when the
/// key is taken.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewRow<'_>,
    variations: &[(String, f64)],
    now: DateTime<Utc>,
) -> Result<Option<Experiment>> {
    let sql = format!(
        "INSERT INTO experiments (key, name, hypothesis, owner, state, metric, metric_kind, guardrails, engine, difference,
            sequential, sequential_tuning, alpha, power, mde, baseline, baseline_variance, daily_traffic,
            planned_per_variation, planned_days, content_id, follows, created_at, updated_at, planned_total, fixed_total, secondary)
         VALUES ($1, $2, $3, $4, $22, $5, $6, $7, $8, $9, $10, $25, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21, $23, $24, $26)
         ON CONFLICT (key) DO NOTHING RETURNING {COLUMNS}"
    );
    let exp: Option<Experiment> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(new.key)
        .bind(new.name)
        .bind(new.hypothesis)
        .bind(new.owner)
        .bind(new.metric)
        .bind(new.metric_kind)
        .bind(new.guardrails)
        .bind(new.engine)
        .bind(new.difference)
        .bind(new.sequential)
        .bind(new.alpha)
        .bind(new.power)
        .bind(new.mde)
        .bind(new.baseline)
        .bind(new.baseline_variance)
        .bind(new.daily_traffic)
        .bind(new.planned_per_variation)
        .bind(new.planned_days)
        .bind(new.content_id)
        .bind(new.follows)
        .bind(now)
        .bind(State::Draft)
        .bind(new.planned_total)
        .bind(new.fixed_total)
        .bind(new.sequential_tuning)
        .bind(new.secondary)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(exp) = exp else {
        return Ok(None);
    };
    let keys: Vec<&str> = variations.iter().map(|(k, _)| k.as_str()).collect();
    let weights: Vec<f64> = variations.iter().map(|(_, w)| *w).collect();
    sqlx::query(
        "INSERT INTO experiment_variations (experiment_id, key, weight, position)
         SELECT $1, k, w, (n - 1)::int FROM UNNEST($2::text[], $3::float8[]) WITH ORDINALITY AS t(k, w, n)",
    )
    .bind(exp.id)
    .bind(&keys)
    .bind(&weights)
    .execute(conn)
    .await?;
    Ok(Some(exp))
}

/// Find by id ("12") or key ("free-shipping-banner").
pub async fn find(conn: &mut PgConnection, id_or_key: &str) -> Result<Experiment> {
    let sql = format!("SELECT {COLUMNS} FROM experiments WHERE key = $1 OR id::text = $1");
    let row: Option<Experiment> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id_or_key)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no experiment {id_or_key:?}")))
}

/// Load an experiment, locking it for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<Experiment> {
    let sql = format!("SELECT {COLUMNS} FROM experiments WHERE id = $1 FOR UPDATE");
    let row: Option<Experiment> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no experiment #{id}")))
}

pub async fn variations(conn: &mut PgConnection, id: i64) -> Result<Vec<Variation>> {
    Ok(sqlx::query_as("SELECT key, weight, position FROM experiment_variations WHERE experiment_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all(conn)
        .await?)
}

/// Experiments, most recently changed first.
pub async fn list(conn: &mut PgConnection, state: Option<State>) -> Result<Vec<Experiment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM experiments WHERE ($1::text IS NULL OR state = $1) ORDER BY updated_at DESC, id DESC"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(state)
        .fetch_all(conn)
        .await?)
}

/// Move an experiment to `to`.
pub async fn set_state(
    conn: &mut PgConnection,
    id: i64,
    to: State,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE experiments SET state = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(to)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_started(conn: &mut PgConnection, id: i64, now: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE experiments SET started_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_decision(
    conn: &mut PgConnection,
    id: i64,
    actor: &str,
    winner: Option<&str>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE experiments SET decided_at = $2, decided_by = $3, winner = $4, decision_reason = $5 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(actor)
        .bind(winner)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_learnings(
    conn: &mut PgConnection,
    id: i64,
    learnings: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE experiments SET learnings = $2, documented_at = $3 WHERE id = $1")
        .bind(id)
        .bind(learnings)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Store a unit's exposure unless it has one; the variation it has.
pub async fn expose(
    conn: &mut PgConnection,
    exp_id: i64,
    unit_id: &str,
    variation: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    Ok(sqlx::query_scalar(
        "WITH ins AS (INSERT INTO experiment_exposures (experiment_id, unit_id, variation, exposed_at) VALUES ($1, $2, $3, $4)
                      ON CONFLICT (experiment_id, unit_id) DO NOTHING RETURNING variation)
         SELECT variation FROM ins UNION ALL
         SELECT variation FROM experiment_exposures WHERE experiment_id = $1 AND unit_id = $2 LIMIT 1",
    )
    .bind(exp_id)
    .bind(unit_id)
    .bind(variation)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// Store many exposures in one statement (units already exposed keep theirs).
pub async fn expose_many(
    conn: &mut PgConnection,
    exp_id: i64,
    units: &[String],
    variations: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO experiment_exposures (experiment_id, unit_id, variation, exposed_at)
         SELECT $1, u, v, $4 FROM UNNEST($2::text[], $3::text[]) AS t(u, v)
         ON CONFLICT (experiment_id, unit_id) DO NOTHING",
    )
    .bind(exp_id)
    .bind(units)
    .bind(variations)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The variation a unit was exposed to, if it was.
pub async fn exposure_of(
    conn: &mut PgConnection,
    exp_id: i64,
    unit_id: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT variation FROM experiment_exposures WHERE experiment_id = $1 AND unit_id = $2",
    )
    .bind(exp_id)
    .bind(unit_id)
    .fetch_optional(conn)
    .await?)
}

pub async fn insert_event(
    conn: &mut PgConnection,
    exp_id: i64,
    unit_id: &str,
    variation: &str,
    metric: &str,
    value: f64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("INSERT INTO experiment_events (experiment_id, unit_id, variation, metric, value, recorded_at) VALUES ($1, $2, $6, $3, $4, $5)")
        .bind(exp_id)
        .bind(unit_id)
        .bind(metric)
        .bind(value)
        .bind(now)
        .bind(variation)
        .execute(conn)
        .await?;
    Ok(())
}

/// Record many events (unit, metric, value) in one statement; events of
/// units never exposed are dropped.
pub async fn insert_events(
    conn: &mut PgConnection,
    exp_id: i64,
    events: &[(String, String, f64)],
    now: DateTime<Utc>,
) -> Result<()> {
    let units: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    let metrics: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    let values: Vec<f64> = events.iter().map(|e| e.2).collect();
    sqlx::query(
        "INSERT INTO experiment_events (experiment_id, unit_id, variation, metric, value, recorded_at)
         SELECT $1, u, x.variation, m, v, $5 FROM UNNEST($2::text[], $3::text[], $4::float8[]) AS t(u, m, v)
         JOIN experiment_exposures x ON x.experiment_id = $1 AND x.unit_id = u",
    )
    .bind(exp_id)
    .bind(&units)
    .bind(&metrics)
    .bind(&values)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Units exposed per variation, in variation order. Counted once per
/// analysis (an index-only scan of (experiment_id, variation)).
pub async fn exposure_counts(conn: &mut PgConnection, exp_id: i64) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT v.key, coalesce(n.n, 0)
         FROM experiment_variations v
         LEFT JOIN (SELECT variation, count(*) AS n FROM experiment_exposures WHERE experiment_id = $1 GROUP BY variation) n
                ON n.variation = v.key
         WHERE v.experiment_id = $1 ORDER BY v.position",
    )
    .bind(exp_id)
    .fetch_all(conn)
    .await?)
}

/// Sum and sum of squares of a metric per variation: events are folded per
/// unit (a binomial unit counts once if it converted; a mean unit
/// contributes the sum of its values), then per variation (stored on each
/// event from the unit's exposure). Variations without events are absent.
pub async fn metric_sums(
    conn: &mut PgConnection,
    exp_id: i64,
    metric: &str,
    kind: MetricKind,
) -> Result<Vec<(String, f64, f64)>> {
    Ok(sqlx::query_as(
        "SELECT variation, sum(uv)::float8, sum(uv * uv)::float8 FROM (
             SELECT variation, CASE WHEN $3 THEN least(sum(value), 1) ELSE sum(value) END AS uv
             FROM experiment_events
             WHERE experiment_id = $1 AND metric = $2
             GROUP BY variation, unit_id) per_unit
         GROUP BY variation",
    )
    .bind(exp_id)
    .bind(metric)
    .bind(kind == MetricKind::Binomial)
    .fetch_all(conn)
    .await?)
}

/// Exposure counts joined with a metric's sums: (variation, n, sum, sum of
/// squares), in variation order.
pub fn combine(
    counts: &[(String, i64)],
    sums: &[(String, f64, f64)],
) -> Vec<(String, i64, f64, f64)> {
    counts
        .iter()
        .map(|(key, n)| {
            let (sum, ss) = sums
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, s, q)| (*s, *q))
                .unwrap_or((0.0, 0.0));
            (key.clone(), *n, sum, ss)
        })
        .collect()
}

/// Sufficient statistics (variation, n, sum, sum of squares) for one metric,
/// aggregated in SQL so exposures never travel into the process.
pub async fn sufficient_stats(
    conn: &mut PgConnection,
    exp_id: i64,
    metric: &str,
    kind: MetricKind,
) -> Result<Vec<(String, i64, f64, f64)>> {
    let counts = exposure_counts(conn, exp_id).await?;
    let sums = metric_sums(conn, exp_id, metric, kind).await?;
    Ok(combine(&counts, &sums))
}

/// The learnings library: documented experiments matching words, newest first.
pub async fn search(conn: &mut PgConnection, query: &str) -> Result<Vec<Experiment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM experiments
         WHERE state = $2 AND ($1 = '' OR to_tsvector('english', name || ' ' || hypothesis || ' ' || coalesce(learnings, ''))
                @@ websearch_to_tsquery('english', $1))
         ORDER BY documented_at DESC"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(query)
        .bind(State::Documented)
        .fetch_all(conn)
        .await?)
}

/// The experiments tile's counts: (running, documented, exposures in the
/// last day).
pub async fn tile_counts(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<(i64, i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM experiments WHERE state = $2),
                (SELECT count(*) FROM experiments WHERE state = $3),
                (SELECT count(*) FROM experiment_exposures WHERE exposed_at > $1 - interval '24 hours')",
    )
    .bind(now)
    .bind(State::Running)
    .bind(State::Documented)
    .fetch_one(conn)
    .await?)
}

/// Units per variation with their covariate's sum and sum of squares (a
/// missing covariate counts as 0, as gbstats' SQL does): (variation, n,
/// covariate sum, covariate sum of squares), in variation order.
pub async fn exposure_covariates(
    conn: &mut PgConnection,
    exp_id: i64,
) -> Result<Vec<(String, i64, f64, f64)>> {
    Ok(sqlx::query_as(
        "SELECT v.key, coalesce(a.n, 0), coalesce(a.cs, 0)::float8, coalesce(a.css, 0)::float8
         FROM experiment_variations v
         LEFT JOIN (SELECT variation, count(*) AS n, sum(coalesce(covariate, 0)) AS cs,
                           sum(coalesce(covariate, 0) * coalesce(covariate, 0)) AS css
                    FROM experiment_exposures WHERE experiment_id = $1 GROUP BY variation) a
                ON a.variation = v.key
         WHERE v.experiment_id = $1 ORDER BY v.position",
    )
    .bind(exp_id)
    .fetch_all(conn)
    .await?)
}

/// A metric's per-unit values folded as in `metric_sums`, with the sum of
/// their products with the unit's covariate: (variation, sum, sum of
/// squares, sum of products).
pub async fn metric_sums_cuped(
    conn: &mut PgConnection,
    exp_id: i64,
    metric: &str,
    kind: MetricKind,
) -> Result<Vec<(String, f64, f64, f64)>> {
    Ok(sqlx::query_as(
        "SELECT pu.variation, sum(pu.uv)::float8, sum(pu.uv * pu.uv)::float8,
                sum(pu.uv * coalesce(x.covariate, 0))::float8
         FROM (SELECT variation, unit_id, CASE WHEN $3 THEN least(sum(value), 1) ELSE sum(value) END AS uv
               FROM experiment_events
               WHERE experiment_id = $1 AND metric = $2
               GROUP BY variation, unit_id) pu
         JOIN experiment_exposures x ON x.experiment_id = $1 AND x.unit_id = pu.unit_id
         GROUP BY pu.variation",
    )
    .bind(exp_id)
    .bind(metric)
    .bind(kind == MetricKind::Binomial)
    .fetch_all(conn)
    .await?)
}

/// The dimensions exposures may carry.
pub const DIMENSIONS: [&str; 3] = ["device", "channel", "segment"];

/// Per value of a dimension and variation: units, and the metric's sum and
/// sum of squares (units without events count 0). `dimension` is one of
/// [`DIMENSIONS`]; anything else is refused.
pub async fn dimension_stats(
    conn: &mut PgConnection,
    exp_id: i64,
    dimension: &str,
    metric: &str,
    kind: MetricKind,
) -> Result<Vec<(String, String, i64, f64, f64)>> {
    let column = match dimension {
        "device" => "device",
        "channel" => "channel",
        "segment" => "segment",
        other => return Err(Error::invalid(format!("no dimension {other:?}"))),
    };
    let sql = format!(
        "SELECT x.{column}, x.variation, count(*),
                coalesce(sum(pu.uv), 0)::float8, coalesce(sum(pu.uv * pu.uv), 0)::float8
         FROM experiment_exposures x
         LEFT JOIN (SELECT unit_id, CASE WHEN $3 THEN least(sum(value), 1) ELSE sum(value) END AS uv
                    FROM experiment_events WHERE experiment_id = $1 AND metric = $2
                    GROUP BY unit_id) pu ON pu.unit_id = x.unit_id
         WHERE x.experiment_id = $1 AND x.{column} IS NOT NULL
         GROUP BY x.{column}, x.variation
         ORDER BY 1, 2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(exp_id)
        .bind(metric)
        .bind(kind == MetricKind::Binomial)
        .fetch_all(conn)
        .await?)
}

/// Mark that imported exposures carry covariates and/or dimensions.
pub async fn mark_imported(
    conn: &mut PgConnection,
    exp_id: i64,
    covariates: bool,
    dimensions: bool,
) -> Result<()> {
    sqlx::query(
        "UPDATE experiments SET covariates = covariates OR $2, dimensions = dimensions OR $3 WHERE id = $1",
    )
    .bind(exp_id)
    .bind(covariates)
    .bind(dimensions)
    .execute(conn)
    .await?;
    Ok(())
}

/// COPY exposure rows (tab-separated: unit, variation, exposed_at, device,
/// channel, segment, covariate; `\N` for null) into a temporary table, then
/// insert those not yet exposed. Returns (rows read, rows inserted).
pub async fn copy_exposures(
    conn: &mut PgConnection,
    exp_id: i64,
    chunks: impl IntoIterator<Item = Result<Vec<u8>>>,
) -> Result<(u64, u64)> {
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS import_exposures (
            unit_id text, variation text, exposed_at timestamptz, device text, channel text,
            segment text, covariate double precision) ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await?;
    let mut copy = conn
        .copy_in_raw("COPY import_exposures FROM STDIN WITH (FORMAT text)")
        .await?;
    for chunk in chunks {
        match chunk {
            Ok(c) => {
                copy.send(c).await?;
            }
            Err(e) => {
                let _ = copy.abort(e.to_string()).await;
                return Err(e);
            }
        }
    }
    let read = copy.finish().await?;
    let inserted = sqlx::query(
        // An anti-join and a plain, sorted insert: about twice as fast as
        // ON CONFLICT's speculative insertion on a text key. A unit assigned
        // concurrently in between fails the import (run it again: it is
        // idempotent).
        "INSERT INTO experiment_exposures (experiment_id, unit_id, variation, exposed_at, device, channel, segment, covariate)
         SELECT DISTINCT ON (i.unit_id) $1, i.unit_id, i.variation, i.exposed_at, i.device, i.channel, i.segment, i.covariate
         FROM import_exposures i
         WHERE NOT EXISTS (SELECT 1 FROM experiment_exposures x WHERE x.experiment_id = $1 AND x.unit_id = i.unit_id)
         ORDER BY i.unit_id",
    )
    .bind(exp_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((read, inserted))
}

/// COPY event rows (tab-separated: event id, unit, metric, value,
/// recorded_at) into a temporary table, then insert those of exposed units
/// whose event id is new. Returns (rows read, rows inserted).
pub async fn copy_events(
    conn: &mut PgConnection,
    exp_id: i64,
    chunks: impl IntoIterator<Item = Result<Vec<u8>>>,
) -> Result<(u64, u64)> {
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS import_events (
            event_id text, unit_id text, metric text, value double precision, recorded_at timestamptz)
         ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await?;
    let mut copy = conn
        .copy_in_raw("COPY import_events FROM STDIN WITH (FORMAT text)")
        .await?;
    for chunk in chunks {
        match chunk {
            Ok(c) => {
                copy.send(c).await?;
            }
            Err(e) => {
                let _ = copy.abort(e.to_string()).await;
                return Err(e);
            }
        }
    }
    let read = copy.finish().await?;
    let inserted = sqlx::query(
        "INSERT INTO experiment_events (experiment_id, unit_id, variation, metric, value, recorded_at, event_id)
         SELECT $1, e.unit_id, x.variation, e.metric, e.value, e.recorded_at, e.event_id
         FROM import_events e
         JOIN experiment_exposures x ON x.experiment_id = $1 AND x.unit_id = e.unit_id
         ON CONFLICT (experiment_id, event_id) WHERE event_id IS NOT NULL DO NOTHING",
    )
    .bind(exp_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((read, inserted))
}

/// Store the text of variations (key, text).
pub async fn set_variation_bodies(
    conn: &mut PgConnection,
    exp_id: i64,
    texts: &[(String, String)],
) -> Result<()> {
    let keys: Vec<&str> = texts.iter().map(|(k, _)| k.as_str()).collect();
    let bodies: Vec<&str> = texts.iter().map(|(_, b)| b.as_str()).collect();
    sqlx::query(
        "UPDATE experiment_variations v SET body = t.b
         FROM UNNEST($2::text[], $3::text[]) AS t(k, b)
         WHERE v.experiment_id = $1 AND v.key = t.k",
    )
    .bind(exp_id)
    .bind(&keys)
    .bind(&bodies)
    .execute(conn)
    .await?;
    Ok(())
}

/// The text of a variation, if it has one.
pub async fn variation_body(
    conn: &mut PgConnection,
    exp_id: i64,
    key: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT body FROM experiment_variations WHERE experiment_id = $1 AND key = $2",
    )
    .bind(exp_id)
    .bind(key)
    .fetch_optional(conn)
    .await?
    .flatten())
}
