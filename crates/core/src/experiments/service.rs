//! Experiment commands and the stored analysis.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::WORKFLOW;
use super::assign;
use super::model::{self, Command, State, StopCheck, stop_check};
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::error::{Error, Result};
use crate::org::{Person, Role};
use crate::stats::{
    self, AnalysisInput, AnalysisOutput, Baseline, Difference, Engine, MetricKind, PowerDesign,
    VariationInput,
};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Experiment {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub hypothesis: String,
    pub owner: String,
    pub state: String,
    pub metric: String,
    pub metric_kind: String,
    pub guardrails: Vec<String>,
    pub engine: String,
    pub difference: String,
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
    content_id, follows, started_at, decided_at, decided_by, winner, decision_reason, learnings, documented_at, created_at, updated_at";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Variation {
    pub key: String,
    pub weight: f64,
    pub position: i32,
}

/// Hypothesis, design and variables of a new experiment.
#[derive(Debug, Clone)]
pub struct NewExperiment {
    pub key: String,
    pub name: String,
    pub hypothesis: String,
    pub owner: String,
    /// Primary metric name and kind.
    pub metric: String,
    pub metric_kind: MetricKind,
    /// Guardrail metrics, "name:binomial" or "name:mean".
    pub guardrails: Vec<String>,
    pub engine: Engine,
    pub difference: Difference,
    pub sequential: bool,
    pub alpha: f64,
    pub power: f64,
    /// Minimum detectable effect, relative (0.1 = 10%).
    pub mde: f64,
    /// Baseline conversion rate (binomial) or mean (mean metric).
    pub baseline: f64,
    /// Per-unit variance of a mean metric.
    pub baseline_variance: Option<f64>,
    pub daily_traffic: i64,
    /// (key, weight), the control first.
    pub variations: Vec<(String, f64)>,
    pub content_id: Option<i64>,
    pub follows: Option<i64>,
}

fn kind_str(k: MetricKind) -> &'static str {
    match k {
        MetricKind::Binomial => "binomial",
        MetricKind::Mean => "mean",
    }
}

fn parse_kind(s: &str) -> Result<MetricKind> {
    match s {
        "binomial" => Ok(MetricKind::Binomial),
        "mean" => Ok(MetricKind::Mean),
        other => Err(Error::invalid(format!(
            "metric kind {other:?} is not binomial or mean"
        ))),
    }
}

/// A metric kind read back from the database: one this binary does not know
/// is a fault of the stored data, not of the person asking.
fn stored_kind(exp: &Experiment, kind: &str) -> Result<MetricKind> {
    parse_kind(kind).map_err(|e| Error::internal(format!("experiment {}: {e}", exp.key)))
}

/// Marketing and Analytics directors, analysts and marketing team leads run experiments.
fn require_runner(person: &Person) -> Result<()> {
    let ok = person.has_role(Role::Analyst)
        || (person.has_role(Role::Director)
            && matches!(person.department.as_str(), "marketing" | "analytics"))
        || (person.has_role(Role::TeamLead) && person.department == "marketing")
        || person.has_role(Role::BusinessManager);
    if ok {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "{} cannot run experiments: it takes the Marketing or Analytics director, an analyst or a marketing team lead",
        person.label()
    )))
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn stats_err(e: stats::StatsError) -> Error {
    Error::invalid(e.to_string())
}

/// The power calculation for a design.
pub fn plan(new: &NewExperiment) -> Result<stats::SampleSizePlan> {
    let baseline = match new.metric_kind {
        MetricKind::Binomial => Baseline::Binomial { rate: new.baseline },
        MetricKind::Mean => Baseline::Mean {
            mean: new.baseline,
            variance: new.baseline_variance.ok_or_else(|| {
                Error::invalid("a mean metric needs the baseline variance (--baseline-variance)")
            })?,
        },
    };
    stats::sample_size(&PowerDesign {
        alpha: new.alpha,
        power: new.power,
        baseline,
        relative_mde: new.mde,
        variations: u32::try_from(new.variations.len()).unwrap_or(2),
        daily_traffic: new.daily_traffic as f64,
    })
    .map_err(stats_err)
}

pub async fn create(ctx: &Ctx, new: &NewExperiment, actor: &str) -> Result<Experiment> {
    require_runner(ctx.org.actor(actor)?)?;
    ctx.org.actor(&new.owner)?;
    if !valid_key(&new.key) {
        return Err(Error::invalid(format!(
            "experiment key {:?} must be lowercase letters, digits, - or _",
            new.key
        )));
    }
    if new.hypothesis.trim().is_empty() {
        return Err(Error::invalid(
            "an experiment starts from a hypothesis (--hypothesis)",
        ));
    }
    if new.variations.len() < 2 {
        return Err(Error::invalid(
            "an experiment needs a control and at least one variation",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, w) in &new.variations {
        if !valid_key(k) || !seen.insert(k.clone()) {
            return Err(Error::invalid(format!(
                "variation {k:?} is not a valid, distinct key"
            )));
        }
        if !(w.is_finite() && *w >= 0.0) {
            return Err(Error::invalid(format!(
                "variation {k:?} has a negative or invalid weight"
            )));
        }
    }
    if new.variations.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        return Err(Error::invalid("the variation weights add up to zero"));
    }
    for g in &new.guardrails {
        let (name, kind) = g.split_once(':').ok_or_else(|| {
            Error::invalid(format!(
                "guardrail {g:?} must be NAME:binomial or NAME:mean"
            ))
        })?;
        parse_kind(kind)?;
        if name.is_empty() || name == new.metric {
            return Err(Error::invalid(format!(
                "guardrail {g:?} must name another metric"
            )));
        }
    }
    if new.sequential && new.engine == Engine::Bayesian {
        return Err(Error::invalid(
            "sequential testing is frequentist: choose one",
        ));
    }
    let planned = plan(new)?;
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    if let Some(c) = new.content_id {
        crate::content::store::get(&mut tx, c).await?;
    }
    let sql = format!(
        "INSERT INTO experiments (key, name, hypothesis, owner, state, metric, metric_kind, guardrails, engine, difference,
            sequential, sequential_tuning, alpha, power, mde, baseline, baseline_variance, daily_traffic,
            planned_per_variation, planned_days, content_id, follows, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $9, $10, 5000, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)
         ON CONFLICT (key) DO NOTHING RETURNING {COLUMNS}"
    );
    let exp: Option<Experiment> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&new.key)
        .bind(new.name.trim())
        .bind(new.hypothesis.trim())
        .bind(&new.owner)
        .bind(&new.metric)
        .bind(kind_str(new.metric_kind))
        .bind(&new.guardrails)
        .bind(match new.engine {
            Engine::Frequentist => "frequentist",
            Engine::Bayesian => "bayesian",
        })
        .bind(match new.difference {
            Difference::Relative => "relative",
            Difference::Absolute => "absolute",
        })
        .bind(new.sequential)
        .bind(new.alpha)
        .bind(new.power)
        .bind(new.mde)
        .bind(new.baseline)
        .bind(new.baseline_variance)
        .bind(new.daily_traffic)
        .bind(i64::try_from(planned.per_variation).unwrap_or(i64::MAX))
        .bind(i32::try_from(planned.planned_days).unwrap_or(i32::MAX))
        .bind(new.content_id)
        .bind(new.follows)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let exp = exp.ok_or_else(|| {
        Error::conflict(format!(
            "an experiment with key {:?} exists already",
            new.key
        ))
    })?;
    for (i, (k, w)) in new.variations.iter().enumerate() {
        sqlx::query("INSERT INTO experiment_variations (experiment_id, key, weight, position) VALUES ($1, $2, $3, $4)")
            .bind(exp.id)
            .bind(k)
            .bind(w)
            .bind(i32::try_from(i).unwrap_or(0))
            .execute(&mut *tx)
            .await?;
    }
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "experiment", exp.id, "designed", actor)
            .transition(None::<&str>, State::Draft.as_str())
            .reason(exp.hypothesis.clone())
            .payload(serde_json::json!({
                "key": exp.key, "metric": exp.metric, "mde": exp.mde, "power": exp.power, "alpha": exp.alpha,
                "planned_per_variation": exp.planned_per_variation, "planned_days": exp.planned_days,
                "variations": new.variations,
            })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(exp)
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

async fn lock(conn: &mut PgConnection, id: i64) -> Result<Experiment> {
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

pub async fn list(ctx: &Ctx, state: Option<&str>) -> Result<Vec<Experiment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM experiments WHERE ($1::text IS NULL OR state = $1) ORDER BY updated_at DESC, id DESC"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(state)
        .fetch_all(&ctx.pool)
        .await?)
}

/// Ask the pure state machine whether `command` may happen to `exp` now:
/// the state it leads to, or the refusal as bad input. A stored state no
/// machine knows is an internal fault.
fn allowed(exp: &Experiment, command: Command) -> Result<State> {
    let state = State::parse(&exp.state).ok_or_else(|| {
        Error::internal(format!(
            "experiment {} has an unknown state {:?} in the database",
            exp.key, exp.state
        ))
    })?;
    model::decide(&exp.key, state, command).map_err(|r| Error::invalid(r.0))
}

#[allow(clippy::too_many_arguments)]
async fn transition(
    ctx: &Ctx,
    conn: &mut PgConnection,
    exp: &Experiment,
    to: State,
    action: &str,
    actor: &str,
    reason: Option<String>,
    payload: serde_json::Value,
) -> Result<()> {
    sqlx::query("UPDATE experiments SET state = $2, updated_at = $3 WHERE id = $1")
        .bind(exp.id)
        .bind(to.as_str())
        .bind(ctx.now())
        .execute(&mut *conn)
        .await?;
    events::append(
        conn,
        &NewEvent::new(WORKFLOW, "experiment", exp.id, action, actor)
            .transition(Some(exp.state.as_str()), to.as_str())
            .maybe_reason(reason)
            .payload(payload),
        ctx.now(),
    )
    .await?;
    Ok(())
}

/// Split the audience: start assigning units.
pub async fn start(ctx: &Ctx, id_or_key: &str, actor: &str) -> Result<Experiment> {
    require_runner(ctx.org.actor(actor)?)?;
    let mut tx = ctx.pool.begin().await?;
    let found = find(&mut tx, id_or_key).await?;
    let exp = lock(&mut tx, found.id).await?;
    let to = allowed(&exp, Command::Start)?;
    sqlx::query("UPDATE experiments SET started_at = $2 WHERE id = $1")
        .bind(exp.id)
        .bind(ctx.now())
        .execute(&mut *tx)
        .await?;
    transition(
        ctx,
        &mut tx,
        &exp,
        to,
        "started",
        actor,
        None,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    let mut conn = ctx.pool.acquire().await?;
    find(&mut conn, &exp.id.to_string()).await
}

/// The variation of a unit: assigned once, by hash, then stored.
pub async fn assign(ctx: &Ctx, id_or_key: &str, unit_id: &str) -> Result<String> {
    let mut conn = ctx.pool.acquire().await?;
    let exp = find(&mut conn, id_or_key).await?;
    assign_in(ctx, &mut conn, &exp, unit_id).await
}

pub async fn assign_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    exp: &Experiment,
    unit_id: &str,
) -> Result<String> {
    allowed(exp, Command::Assign)?;
    if unit_id.trim().is_empty() {
        return Err(Error::invalid("a unit id is needed"));
    }
    let vars = variations(conn, exp.id).await?;
    let weights: Vec<f64> = vars.iter().map(|v| v.weight).collect();
    let chosen = assign::choose(&exp.key, unit_id, &weights)
        .and_then(|i| vars.get(i))
        .ok_or_else(|| Error::invalid("every variation has weight zero"))?;
    let stored: String = sqlx::query_scalar(
        "WITH ins AS (INSERT INTO experiment_exposures (experiment_id, unit_id, variation, exposed_at) VALUES ($1, $2, $3, $4)
                      ON CONFLICT (experiment_id, unit_id) DO NOTHING RETURNING variation)
         SELECT variation FROM ins UNION ALL
         SELECT variation FROM experiment_exposures WHERE experiment_id = $1 AND unit_id = $2 LIMIT 1",
    )
    .bind(exp.id)
    .bind(unit_id)
    .bind(&chosen.key)
    .bind(ctx.now())
    .fetch_one(conn)
    .await?;
    Ok(stored)
}

/// Record a metric event for an exposed unit.
pub async fn record(
    ctx: &Ctx,
    id_or_key: &str,
    unit_id: &str,
    metric: &str,
    value: f64,
) -> Result<()> {
    let mut conn = ctx.pool.acquire().await?;
    let exp = find(&mut conn, id_or_key).await?;
    if !value.is_finite() {
        return Err(Error::invalid("the value must be a finite number"));
    }
    let known = metric == exp.metric
        || exp
            .guardrails
            .iter()
            .any(|g| g.split(':').next() == Some(metric));
    if !known {
        return Err(Error::invalid(format!(
            "experiment {} does not measure {metric:?} (metric {}, guardrails {:?})",
            exp.key, exp.metric, exp.guardrails
        )));
    }
    let exposed: Option<String> = sqlx::query_scalar(
        "SELECT variation FROM experiment_exposures WHERE experiment_id = $1 AND unit_id = $2",
    )
    .bind(exp.id)
    .bind(unit_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(variation) = exposed else {
        return Err(Error::not_found(format!(
            "unit {unit_id:?} was never assigned in experiment {}",
            exp.key
        )));
    };
    sqlx::query("INSERT INTO experiment_events (experiment_id, unit_id, variation, metric, value, recorded_at) VALUES ($1, $2, $6, $3, $4, $5)")
        .bind(exp.id)
        .bind(unit_id)
        .bind(metric)
        .bind(value)
        .bind(ctx.now())
        .bind(variation)
        .execute(&mut *conn)
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

fn combine(counts: &[(String, i64)], sums: &[(String, f64, f64)]) -> Vec<(String, i64, f64, f64)> {
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

/// One metric's analysis.
#[derive(Debug, Clone, Serialize)]
pub struct MetricAnalysis {
    pub metric: String,
    pub kind: String,
    pub result: AnalysisOutput,
}

/// The stored experiment analysed, with plain words for directors.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub experiment: Experiment,
    pub variations: Vec<Variation>,
    pub primary: MetricAnalysis,
    pub guardrails: Vec<MetricAnalysis>,
    /// Holm-adjusted p-values across every metric and arm (frequentist).
    pub adjusted_p_values: Vec<(String, String, f64)>,
    pub stop: StopCheck,
    /// The variation the data support, if any.
    pub suggested_winner: Option<String>,
    /// What it means, in order: SRM first, then the winner, then each arm.
    pub summary: Vec<String>,
}

fn input_for(
    exp: &Experiment,
    vars: &[Variation],
    kind: MetricKind,
    stats_rows: &[(String, i64, f64, f64)],
) -> AnalysisInput {
    AnalysisInput {
        metric: kind,
        engine: if exp.engine == "bayesian" {
            Engine::Bayesian
        } else {
            Engine::Frequentist
        },
        difference: if exp.difference == "absolute" {
            Difference::Absolute
        } else {
            Difference::Relative
        },
        sequential: exp.sequential,
        sequential_tuning: exp.sequential_tuning,
        alpha: exp.alpha,
        weights: Some(vars.iter().map(|v| v.weight).collect()),
        prior: None,
        variations: stats_rows
            .iter()
            .map(|(name, n, sum, ss)| VariationInput {
                name: name.clone(),
                n: *n,
                sum: *sum,
                sum_squares: (kind == MetricKind::Mean).then_some(*ss),
            })
            .collect(),
    }
}

fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

pub async fn analyze(ctx: &Ctx, id_or_key: &str) -> Result<Report> {
    let mut conn = ctx.pool.acquire().await?;
    let exp = find(&mut conn, id_or_key).await?;
    let vars = variations(&mut conn, exp.id).await?;
    let kind = stored_kind(&exp, &exp.metric_kind)?;
    let counts = exposure_counts(&mut conn, exp.id).await?;
    let rows = combine(
        &counts,
        &metric_sums(&mut conn, exp.id, &exp.metric, kind).await?,
    );
    let primary = stats::analyze(&input_for(&exp, &vars, kind, &rows)).map_err(stats_err)?;
    let mut guardrails = Vec::new();
    for g in &exp.guardrails {
        let Some((name, k)) = g.split_once(':') else {
            continue;
        };
        let gk = stored_kind(&exp, k)?;
        let grows = combine(&counts, &metric_sums(&mut conn, exp.id, name, gk).await?);
        let result = stats::analyze(&input_for(&exp, &vars, gk, &grows)).map_err(stats_err)?;
        guardrails.push(MetricAnalysis {
            metric: name.to_string(),
            kind: k.to_string(),
            result,
        });
    }
    // Holm across every metric and arm.
    let mut labels = Vec::new();
    let mut ps = Vec::new();
    for (metric, out) in std::iter::once((&exp.metric, &primary))
        .chain(guardrails.iter().map(|g| (&g.metric, &g.result)))
    {
        for v in out.variations.iter().skip(1) {
            if let Some(Some(p)) = v.p_value {
                labels.push((metric.clone(), v.name.clone()));
                ps.push(p);
            }
        }
    }
    let adjusted = if ps.is_empty() {
        Vec::new()
    } else {
        stats::holm_bonferroni(&ps).map_err(stats_err)?
    };
    let adjusted_p_values: Vec<(String, String, f64)> = labels
        .into_iter()
        .zip(adjusted)
        .map(|((m, v), p)| (m, v, p))
        .collect();

    // Is a treatment significantly better, and harmless on every guardrail?
    let significant = |v: &stats::VariationResult| -> bool {
        match (v.p_value, v.chance_to_win, v.ci) {
            (Some(Some(p)), _, Some(ci)) => p < exp.alpha && ci[0] > 0.0,
            (_, Some(Some(ctw)), _) => ctw > 1.0 - exp.alpha,
            _ => false,
        }
    };
    let harmful = |name: &str| -> Option<String> {
        guardrails.iter().find_map(|g| {
            let v = g.result.variations.iter().find(|v| v.name == name)?;
            let hurt = match (v.p_value, v.chance_to_win, v.ci) {
                (Some(Some(p)), _, Some(ci)) => p < exp.alpha && ci[1] < 0.0,
                (_, Some(Some(ctw)), _) => ctw < exp.alpha,
                _ => false,
            };
            hurt.then(|| g.metric.clone())
        })
    };
    let best = primary
        .variations
        .iter()
        .skip(1)
        .filter(|v| significant(v) && harmful(&v.name).is_none())
        .max_by(|a, b| a.lift.unwrap_or(0.0).total_cmp(&b.lift.unwrap_or(0.0)))
        .map(|v| v.name.clone());
    let min_n = primary.variations.iter().map(|v| v.n).min().unwrap_or(0);
    let days = exp
        .started_at
        .map(|s| (ctx.now() - s).num_seconds() as f64 / 86_400.0)
        .unwrap_or(0.0);
    let any_significant = primary.variations.iter().skip(1).any(significant);
    let stop = stop_check(
        exp.sequential,
        min_n,
        u64::try_from(exp.planned_per_variation).unwrap_or(0),
        days,
        f64::from(exp.planned_days),
        any_significant,
    );

    let mut summary = Vec::new();
    if primary.srm_flag {
        summary.push(format!(
            "WARNING: sample ratio mismatch (p = {:.6}). The traffic split does not match the weights, so these results cannot be trusted until the assignment is fixed.",
            primary.srm_p_value
        ));
    }
    let control = primary.variations.first();
    let fmt_mean = |m: f64| {
        if kind == MetricKind::Binomial {
            format!("{:.2}%", m * 100.0)
        } else {
            format!("{m:.2}")
        }
    };
    match (&best, primary.srm_flag) {
        (Some(w), false) => summary.push(format!(
            "Winner: {w} beats {} on {}.",
            control.map(|c| c.name.as_str()).unwrap_or("control"),
            exp.metric
        )),
        (Some(w), true) => summary.push(format!(
            "{w} looks better, but with a broken split no winner can be called."
        )),
        (None, _) => summary.push(format!("No winner yet on {}.", exp.metric)),
    }
    for v in primary.variations.iter().skip(1) {
        let base = control.map(|c| fmt_mean(c.mean)).unwrap_or_default();
        let line = match (v.lift, v.ci) {
            (Some(l), Some(ci)) => {
                let effect = if exp.difference == "relative" {
                    format!(
                        "{} ({}% interval {} to {})",
                        pct(l),
                        ((1.0 - exp.alpha) * 100.0).round(),
                        pct(ci[0]),
                        pct(ci[1])
                    )
                } else {
                    format!(
                        "{l:+.4} ({}% interval {:+.4} to {:+.4})",
                        ((1.0 - exp.alpha) * 100.0).round(),
                        ci[0],
                        ci[1]
                    )
                };
                let words = match (v.p_value, v.chance_to_win) {
                    (Some(Some(p)), _) if p < exp.alpha => {
                        format!("statistically significant (p = {p:.4})")
                    }
                    (Some(Some(p)), _) => {
                        format!("not significant (p = {p:.3}): consistent with no difference")
                    }
                    (_, Some(Some(c))) => format!("{:.1}% chance to beat the control", c * 100.0),
                    _ => String::new(),
                };
                format!(
                    "{}: {} vs {base} — {effect}, {words}.",
                    v.name,
                    fmt_mean(v.mean)
                )
            }
            _ => format!(
                "{}: {}",
                v.name,
                v.message
                    .clone()
                    .unwrap_or_else(|| "not enough data yet".into())
            ),
        };
        summary.push(line);
        if let Some(g) = harmful(&v.name) {
            summary.push(format!(
                "{} hurts the guardrail {g}: it cannot win.",
                v.name
            ));
        }
    }
    summary.push(match &stop {
        StopCheck::KeepRunning { reason } => format!("Keep running: {reason}."),
        StopCheck::MayStop { reason } => format!("It may stop: {reason}."),
    });
    let srm_ok = !primary.srm_flag;
    Ok(Report {
        primary: MetricAnalysis {
            metric: exp.metric.clone(),
            kind: kind_str(kind).into(),
            result: primary,
        },
        experiment: exp,
        variations: vars,
        guardrails,
        adjusted_p_values,
        stop,
        suggested_winner: if srm_ok { best } else { None },
        summary,
    })
}

/// Stop the experiment: implement a winner (`Some`), or abandon it (`None`,
/// with a reason; the control stays). A winner must be supported by the data.
pub async fn decide(
    ctx: &Ctx,
    id_or_key: &str,
    actor: &str,
    winner: Option<&str>,
    reason: &str,
) -> Result<Experiment> {
    require_runner(ctx.org.actor(actor)?)?;
    let report = analyze(ctx, id_or_key).await?;
    let mut tx = ctx.pool.begin().await?;
    let exp = lock(&mut tx, report.experiment.id).await?;
    let to = allowed(&exp, Command::Decide)?;
    match winner {
        None if reason.trim().is_empty() => {
            return Err(Error::invalid(
                "say why the experiment stops without a winner (--reason)",
            ));
        }
        None => {}
        Some(w) => {
            if !report.variations.iter().any(|v| v.key == w) {
                let keys: Vec<&str> = report.variations.iter().map(|v| v.key.as_str()).collect();
                return Err(Error::invalid(format!(
                    "{w:?} is not a variation of {} ({})",
                    exp.key,
                    keys.join(", ")
                )));
            }
            if report.primary.result.srm_flag {
                return Err(Error::invalid(format!(
                    "sample ratio mismatch (p = {:.6}): the split is broken, so no winner can be called; fix the assignment or stop without a winner",
                    report.primary.result.srm_p_value
                )));
            }
            if let StopCheck::KeepRunning { reason } = &report.stop {
                return Err(Error::invalid(format!("not yet: {reason}")));
            }
            let control = report.variations.first().map(|v| v.key.as_str());
            if Some(w) != control && report.suggested_winner.as_deref() != Some(w) {
                return Err(Error::invalid(format!(
                    "the data do not support {w:?} as the winner ({}); decide for the control or stop without a winner",
                    report
                        .summary
                        .iter()
                        .find(|s| s.starts_with(&format!("{w}:")))
                        .cloned()
                        .unwrap_or_default()
                )));
            }
        }
    }
    let now = ctx.now();
    sqlx::query("UPDATE experiments SET decided_at = $2, decided_by = $3, winner = $4, decision_reason = $5 WHERE id = $1")
        .bind(exp.id)
        .bind(now)
        .bind(actor)
        .bind(winner)
        .bind(reason.trim())
        .execute(&mut *tx)
        .await?;
    let action = if winner.is_some() {
        "winner_implemented"
    } else {
        "stopped_without_winner"
    };
    transition(
        ctx,
        &mut tx,
        &exp,
        to,
        action,
        actor,
        (!reason.trim().is_empty()).then(|| reason.trim().to_string()),
        serde_json::json!({ "winner": winner, "summary": report.summary }),
    )
    .await?;
    // Hand-off: the content workflow applies a winning variation to its item.
    if let (Some(w), Some(content_id)) = (winner, exp.content_id)
        && report.variations.first().map(|v| v.key.as_str()) != Some(w)
    {
        let item = crate::content::store::get(&mut tx, content_id).await?;
        events::append(
            &mut tx,
            &NewEvent::new(
                crate::content::WORKFLOW,
                "content",
                content_id,
                "experiment_winner",
                actor,
            )
            .reason(format!("experiment {}: apply variation {w}", exp.key))
            .payload(serde_json::json!({ "experiment": exp.key, "winner": w })),
            now,
        )
        .await?;
        let n = NewNotification::to_person(&item.owner, WORKFLOW, exp.id, format!("Apply the winner of {}: {w}", exp.name))
                .body(format!("Experiment {} chose {w} for content #{content_id} ({}). Edit the item with the winning variation and submit it for review.", exp.key, item.title))
                .payload(serde_json::json!({ "experiment_id": exp.id, "content_id": content_id, "kind": "experiment_handoff" }));
        outbox::enqueue(ctx, &mut tx, &n).await?;
    }
    let n = NewNotification::to_channel(
        "experiments",
        WORKFLOW,
        exp.id,
        format!("Experiment decided: {}", exp.name),
    )
    .body(report.summary.join("\n"))
    .payload(serde_json::json!({ "experiment_id": exp.id, "winner": winner }));
    outbox::enqueue(ctx, &mut tx, &n).await?;
    tx.commit().await?;
    let mut conn = ctx.pool.acquire().await?;
    find(&mut conn, &exp.id.to_string()).await
}

/// Document what was learned; the experiment joins the searchable library.
pub async fn document(
    ctx: &Ctx,
    id_or_key: &str,
    actor: &str,
    learnings: &str,
) -> Result<Experiment> {
    require_runner(ctx.org.actor(actor)?)?;
    if learnings.trim().is_empty() {
        return Err(Error::invalid("write what was learned"));
    }
    let mut tx = ctx.pool.begin().await?;
    let found = find(&mut tx, id_or_key).await?;
    let exp = lock(&mut tx, found.id).await?;
    let to = allowed(&exp, Command::Document)?;
    sqlx::query("UPDATE experiments SET learnings = $2, documented_at = $3 WHERE id = $1")
        .bind(exp.id)
        .bind(learnings.trim())
        .bind(ctx.now())
        .execute(&mut *tx)
        .await?;
    transition(
        ctx,
        &mut tx,
        &exp,
        to,
        "learnings_documented",
        actor,
        Some(learnings.trim().to_string()),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    let mut conn = ctx.pool.acquire().await?;
    find(&mut conn, &exp.id.to_string()).await
}

/// The learnings library: documented experiments matching words, best first.
pub async fn search(ctx: &Ctx, query: &str) -> Result<Vec<Experiment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM experiments
         WHERE state = 'documented' AND ($1 = '' OR to_tsvector('english', name || ' ' || hypothesis || ' ' || coalesce(learnings, ''))
                @@ websearch_to_tsquery('english', $1))
         ORDER BY documented_at DESC"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(query.trim())
        .fetch_all(&ctx.pool)
        .await?)
}

/// Assign many units at once (imports, the simulator, benchmarks): the same
/// deterministic choice as `assign`, written in one statement.
pub async fn assign_many(
    ctx: &Ctx,
    conn: &mut PgConnection,
    exp: &Experiment,
    units: &[String],
) -> Result<Vec<String>> {
    allowed(exp, Command::Assign)?;
    let vars = variations(conn, exp.id).await?;
    let weights: Vec<f64> = vars.iter().map(|v| v.weight).collect();
    let chosen: Vec<String> = units
        .iter()
        .map(|u| {
            assign::choose(&exp.key, u, &weights)
                .and_then(|i| vars.get(i))
                .map(|v| v.key.clone())
                .ok_or_else(|| Error::invalid("every variation has weight zero"))
        })
        .collect::<Result<_>>()?;
    sqlx::query(
        "INSERT INTO experiment_exposures (experiment_id, unit_id, variation, exposed_at)
         SELECT $1, u, v, $4 FROM UNNEST($2::text[], $3::text[]) AS t(u, v)
         ON CONFLICT (experiment_id, unit_id) DO NOTHING",
    )
    .bind(exp.id)
    .bind(units)
    .bind(&chosen)
    .bind(ctx.now())
    .execute(conn)
    .await?;
    Ok(chosen)
}

/// Record many events at once (unit, metric, value).
pub async fn record_many(
    ctx: &Ctx,
    conn: &mut PgConnection,
    exp: &Experiment,
    events: &[(String, String, f64)],
) -> Result<()> {
    let units: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    let metrics: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    let values: Vec<f64> = events.iter().map(|e| e.2).collect();
    sqlx::query(
        "INSERT INTO experiment_events (experiment_id, unit_id, variation, metric, value, recorded_at)
         SELECT $1, u, x.variation, m, v, $5 FROM UNNEST($2::text[], $3::text[], $4::float8[]) AS t(u, m, v)
         JOIN experiment_exposures x ON x.experiment_id = $1 AND x.unit_id = u",
    )
    .bind(exp.id)
    .bind(&units)
    .bind(&metrics)
    .bind(&values)
    .bind(ctx.now())
    .execute(conn)
    .await?;
    Ok(())
}
