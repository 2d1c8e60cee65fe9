//! Experiment commands and the stored analysis.

use serde::Serialize;
use sqlx::PgConnection;

use super::WORKFLOW;
use super::assign;
use super::model::{self, Command, State, StopCheck, stop_check};
use super::report::{self, BreakdownRow, MetricRole, Verdict};
use super::store::{self, combine, metric_sums};
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::error::{Error, Result};
use crate::org::or_list;
use crate::stats::{
    self, AnalysisInput, AnalysisOutput, Baseline, Difference, Engine, MetricKind, VariationInput,
};

pub use super::store::{
    Experiment, Variation, exposure_counts, find, sufficient_stats, variations,
};

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
    /// Secondary metrics, "name:binomial" or "name:mean": reported with a
    /// verdict, never blocking a winner.
    pub secondary: Vec<String>,
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
    /// (key, text) of variations: a winner's text becomes the linked content
    /// item's next version. Every treatment needs one when `content_id` is set.
    pub texts: Vec<(String, String)>,
    pub content_id: Option<i64>,
    pub follows: Option<i64>,
}

/// Who runs experiments comes from `[experiments.roles] run`.
pub(super) fn require_runner(ctx: &Ctx, actor: &str) -> Result<()> {
    let person = ctx.org.actor(actor)?;
    let runners = super::config::settings(&ctx.config)?.roles.run_refs()?;
    if ctx.org.holds_any(person, &runners) {
        return Ok(());
    }
    let who: Vec<String> = runners.iter().map(|r| ctx.org.describe_role(r)).collect();
    Err(Error::forbidden(format!(
        "{} cannot run experiments: it takes {}",
        person.label(),
        or_list(&who)
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

/// The power calculation for a design: per arm with its weight; the
/// duration set by the arm that needs the most traffic; sequential designs
/// with the penalty of an always-valid interval tuned to the planned total.
pub fn plan(new: &NewExperiment) -> Result<stats::WeightedPlan> {
    let baseline = match new.metric_kind {
        MetricKind::Binomial => Baseline::Binomial { rate: new.baseline },
        MetricKind::Mean => Baseline::Mean {
            mean: new.baseline,
            variance: new.baseline_variance.ok_or_else(|| {
                Error::invalid("a mean metric needs the baseline variance (--baseline-variance)")
            })?,
        },
    };
    let weights: Vec<f64> = new.variations.iter().map(|(_, w)| *w).collect();
    stats::check_weights(&weights).map_err(|e| weights_err(new, e))?;
    stats::weighted_plan(
        &baseline,
        new.mde,
        new.alpha,
        new.power,
        &weights,
        new.daily_traffic as f64,
        new.sequential,
    )
    .map_err(stats_err)
}

/// A refused split as a sentence naming the variations.
fn weights_err(new: &NewExperiment, e: stats::StatsError) -> Error {
    let split: Vec<String> = new
        .variations
        .iter()
        .map(|(k, w)| format!("{k}:{w}"))
        .collect();
    let why = match &e {
        stats::StatsError::InvalidInput { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    Error::invalid(format!(
        "the traffic split {} is refused: {why}",
        split.join(", ")
    ))
}

pub async fn create(ctx: &Ctx, new: &NewExperiment, actor: &str) -> Result<Experiment> {
    require_runner(ctx, actor)?;
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
    for (k, _) in &new.variations {
        if !valid_key(k) || !seen.insert(k.clone()) {
            return Err(Error::invalid(format!(
                "variation {k:?} is not a valid, distinct key"
            )));
        }
    }
    let weights: Vec<f64> = new.variations.iter().map(|(_, w)| *w).collect();
    stats::check_weights(&weights).map_err(|e| weights_err(new, e))?;
    for (k, t) in &new.texts {
        if !new.variations.iter().any(|(v, _)| v == k) {
            return Err(Error::invalid(format!(
                "text for {k:?}, which is not a variation"
            )));
        }
        if t.trim().is_empty() {
            return Err(Error::invalid(format!("the text of {k:?} is empty")));
        }
    }
    if let Some(c) = new.content_id {
        for (k, _) in new.variations.iter().skip(1) {
            if !new.texts.iter().any(|(t, _)| t == k) {
                return Err(Error::invalid(format!(
                    "experiment {} is linked to content item #{c}: give the text of variation {k:?} (--text {k}=TEXT), which becomes the item's next version if it wins",
                    new.key
                )));
            }
        }
    }
    let mut names = std::collections::HashSet::new();
    for (what, g) in new
        .guardrails
        .iter()
        .map(|g| ("guardrail", g))
        .chain(new.secondary.iter().map(|g| ("secondary metric", g)))
    {
        let mut parts = g.split(':');
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            return Err(Error::invalid(format!(
                "{what} {g:?} must be NAME:binomial or NAME:mean (optionally :lower or :higher, the good direction)"
            )));
        };
        model::parse_metric_kind(kind).map_err(Error::invalid)?;
        report::lower_is_better(g, MetricRole::Secondary).map_err(Error::invalid)?;
        if parts.nth(1).is_some() {
            return Err(Error::invalid(format!("{what} {g:?} has too many parts")));
        }
        if name.is_empty() || name == new.metric || !names.insert(name.to_string()) {
            return Err(Error::invalid(format!(
                "{what} {g:?} must name another metric, once"
            )));
        }
    }
    if new.sequential && new.engine == Engine::Bayesian {
        return Err(Error::invalid(
            "sequential testing is frequentist: choose one",
        ));
    }
    let planned = plan(new)?;
    let (planned_arms, planned_total, planned_days, sequential_tuning) = match &planned.sequential {
        Some(sq) => (sq.per_arm.clone(), sq.total, sq.planned_days, sq.tuning),
        None => (
            planned.per_arm.clone(),
            planned.total,
            planned.planned_days,
            stats::DEFAULT_SEQUENTIAL_TUNING,
        ),
    };
    let now = ctx.now();
    let mut tx = ctx.pool.begin().await?;
    if let Some(c) = new.content_id {
        crate::content::store::get(&mut tx, c).await?;
    }
    let row = store::NewRow {
        key: &new.key,
        name: new.name.trim(),
        hypothesis: new.hypothesis.trim(),
        owner: &new.owner,
        metric: &new.metric,
        metric_kind: new.metric_kind,
        guardrails: &new.guardrails,
        secondary: &new.secondary,
        engine: new.engine,
        difference: new.difference,
        sequential: new.sequential,
        alpha: new.alpha,
        power: new.power,
        mde: new.mde,
        baseline: new.baseline,
        baseline_variance: new.baseline_variance,
        daily_traffic: new.daily_traffic,
        planned_per_variation: i64::try_from(planned_arms.iter().copied().min().unwrap_or(0))
            .unwrap_or(i64::MAX),
        planned_days: i32::try_from(planned_days).unwrap_or(i32::MAX),
        planned_total: i64::try_from(planned_total).unwrap_or(i64::MAX),
        fixed_total: i64::try_from(planned.total).unwrap_or(i64::MAX),
        sequential_tuning,
        content_id: new.content_id,
        follows: new.follows,
    };
    let exp = store::insert(&mut tx, &row, &new.variations, now)
        .await?
        .ok_or_else(|| {
            Error::conflict(format!(
                "an experiment with key {:?} exists already",
                new.key
            ))
        })?;
    store::set_variation_bodies(&mut tx, exp.id, &new.texts).await?;
    events::append(
        &mut tx,
        &NewEvent::new(WORKFLOW, "experiment", exp.id, "designed", actor)
            .transition(None::<&str>, State::Draft.as_str())
            .reason(exp.hypothesis.clone())
            .payload(serde_json::json!({
                "key": exp.key, "metric": exp.metric, "mde": exp.mde, "power": exp.power, "alpha": exp.alpha,
                "planned_per_variation": exp.planned_per_variation, "planned_days": exp.planned_days,
                "plan": planned, "sequential_tuning": exp.sequential_tuning,
                "variations": new.variations,
            })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(exp)
}

/// Experiments, most recently changed first.
pub async fn list(ctx: &Ctx, state: Option<State>) -> Result<Vec<Experiment>> {
    let mut conn = ctx.pool.acquire().await?;
    store::list(&mut conn, state).await
}

/// One experiment by id or key.
pub async fn get(ctx: &Ctx, id_or_key: &str) -> Result<Experiment> {
    let mut conn = ctx.pool.acquire().await?;
    store::find(&mut conn, id_or_key.trim()).await
}

/// One experiment with its variations, control first.
pub async fn show(ctx: &Ctx, id_or_key: &str) -> Result<(Experiment, Vec<Variation>)> {
    let mut conn = ctx.pool.acquire().await?;
    let exp = store::find(&mut conn, id_or_key.trim()).await?;
    let vars = store::variations(&mut conn, exp.id).await?;
    Ok((exp, vars))
}

/// Ask the pure state machine whether `command` may happen to `exp` now:
/// the state it leads to, or the refusal as bad input. A stored state no
/// machine knows is an internal fault.
fn allowed(exp: &Experiment, command: Command) -> Result<State> {
    model::decide(&exp.key, exp.state, command).map_err(|r| Error::invalid(r.0))
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
    store::set_state(conn, exp.id, to, ctx.now()).await?;
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
    require_runner(ctx, actor)?;
    let mut tx = ctx.pool.begin().await?;
    let found = store::find(&mut tx, id_or_key).await?;
    let exp = store::lock(&mut tx, found.id).await?;
    let to = allowed(&exp, Command::Start)?;
    store::set_started(&mut tx, exp.id, ctx.now()).await?;
    super::timers::schedule_check(ctx, &mut tx, exp.id).await?;
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
    store::find(&mut conn, &exp.id.to_string()).await
}

/// The variation of a unit: assigned once, by hash, then stored.
pub async fn assign(ctx: &Ctx, id_or_key: &str, unit_id: &str) -> Result<String> {
    let mut conn = ctx.pool.acquire().await?;
    let exp = store::find(&mut conn, id_or_key).await?;
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
    let vars = store::variations(conn, exp.id).await?;
    let weights: Vec<f64> = vars.iter().map(|v| v.weight).collect();
    let chosen = assign::choose(&exp.key, unit_id, &weights)
        .and_then(|i| vars.get(i))
        .ok_or_else(|| Error::invalid("every variation has weight zero"))?;
    store::expose(conn, exp.id, unit_id, &chosen.key, ctx.now()).await
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
    let exp = store::find(&mut conn, id_or_key).await?;
    if !value.is_finite() {
        return Err(Error::invalid("the value must be a finite number"));
    }
    let known = metric == exp.metric
        || exp
            .guardrails
            .iter()
            .chain(&exp.secondary)
            .any(|g| g.split(':').next() == Some(metric));
    if !known {
        return Err(Error::invalid(format!(
            "experiment {} does not measure {metric:?} (metric {}, guardrails {:?})",
            exp.key, exp.metric, exp.guardrails
        )));
    }
    let exposed = store::exposure_of(&mut conn, exp.id, unit_id).await?;
    let Some(variation) = exposed else {
        return Err(Error::not_found(format!(
            "unit {unit_id:?} was never assigned in experiment {}",
            exp.key
        )));
    };
    store::insert_event(
        &mut conn,
        exp.id,
        unit_id,
        &variation,
        metric,
        value,
        ctx.now(),
    )
    .await
}

/// One treatment's verdict on one metric, in a sentence.
#[derive(Debug, Clone, Serialize)]
pub struct ArmVerdict {
    pub variation: String,
    pub verdict: Verdict,
    pub sentence: String,
}

/// One metric's analysis.
#[derive(Debug, Clone, Serialize)]
pub struct MetricAnalysis {
    pub metric: String,
    pub kind: MetricKind,
    pub role: MetricRole,
    pub result: AnalysisOutput,
    /// Per treatment: hurt, fine or inconclusive.
    pub verdicts: Vec<ArmVerdict>,
}

/// The sample-ratio check, read first: a broken split voids everything else.
#[derive(Debug, Clone, Serialize)]
pub struct SrmCheck {
    pub p_value: f64,
    pub mismatch: bool,
    /// (variation, units, expected share).
    pub arms: Vec<(String, u64, f64)>,
    pub sentence: String,
}

/// The stored experiment analysed, with plain words for directors.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub experiment: Experiment,
    pub variations: Vec<Variation>,
    pub srm: SrmCheck,
    pub primary: MetricAnalysis,
    pub guardrails: Vec<MetricAnalysis>,
    pub secondary: Vec<MetricAnalysis>,
    /// The primary metric analysed with CUPED (a pre-period covariate).
    pub cuped: bool,
    /// Holm-adjusted p-values across every metric and arm (frequentist).
    pub adjusted_p_values: Vec<(String, String, f64)>,
    /// The primary metric by device, channel and segment.
    pub breakdowns: Vec<BreakdownRow>,
    /// The multiple-testing correction the breakdowns use.
    pub breakdown_correction: String,
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
        engine: exp.engine,
        difference: exp.difference,
        sequential: exp.sequential,
        sequential_tuning: exp.sequential_tuning,
        alpha: exp.alpha,
        weights: Some(vars.iter().map(|v| v.weight).collect()),
        prior: None,
        cuped: false,
        variations: stats_rows
            .iter()
            .map(|(name, n, sum, ss)| VariationInput {
                name: name.clone(),
                n: *n,
                sum: *sum,
                sum_squares: (kind == MetricKind::Mean).then_some(*ss),
                ..Default::default()
            })
            .collect(),
    }
}

fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// "name:kind" as stored, split and checked.
fn metric_spec(exp: &Experiment, spec: &str) -> Result<(String, MetricKind)> {
    let mut parts = spec.split(':');
    let (Some(name), Some(k)) = (parts.next(), parts.next()) else {
        return Err(Error::internal(format!(
            "experiment {}: metric {spec:?}",
            exp.key
        )));
    };
    let kind = model::parse_metric_kind(k)
        .map_err(|e| Error::internal(format!("experiment {}: {e}", exp.key)))?;
    Ok((name.to_string(), kind))
}

/// The effect in words: "+12.0% (95% interval +3.1% to +20.9%)".
fn effect_words(exp: &Experiment, v: &stats::VariationResult) -> String {
    match (v.lift, v.ci) {
        (Some(l), Some(ci)) => {
            let level = ((1.0 - exp.alpha) * 100.0).round();
            if exp.difference == Difference::Relative {
                format!(
                    "{} ({level}% interval {} to {})",
                    pct(l),
                    pct(ci[0]),
                    pct(ci[1])
                )
            } else {
                format!("{l:+.4} ({level}% interval {:+.4} to {:+.4})", ci[0], ci[1])
            }
        }
        _ => v
            .message
            .clone()
            .unwrap_or_else(|| "not enough data yet".into()),
    }
}

fn verdicts_for(
    exp: &Experiment,
    out: &AnalysisOutput,
    role: MetricRole,
    metric: &str,
    lower_better: bool,
) -> Vec<ArmVerdict> {
    let control_mean = out.variations.first().map(|c| c.mean).unwrap_or(0.0);
    let margin = match exp.difference {
        Difference::Relative => exp.mde,
        Difference::Absolute => exp.mde * control_mean.abs(),
    };
    out.variations
        .iter()
        .skip(1)
        .map(|v| {
            let verdict = if lower_better {
                report::verdict(&report::flipped(v), exp.alpha, margin)
            } else {
                report::verdict(v, exp.alpha, margin)
            };
            let what = match (role, verdict) {
                (MetricRole::Guardrail, Verdict::Hurt) => "HURT: it cannot win",
                (_, Verdict::Hurt) => "hurt",
                (_, Verdict::Fine) => "fine",
                (_, Verdict::Inconclusive) => "inconclusive",
            };
            ArmVerdict {
                variation: v.name.clone(),
                verdict,
                sentence: format!(
                    "{} {metric} ({}): {what} — {}",
                    v.name,
                    role.as_str(),
                    effect_words(exp, v)
                ),
            }
        })
        .collect()
}

/// Analyse a stored experiment with its breakdowns.
pub async fn analyze(ctx: &Ctx, id_or_key: &str) -> Result<Report> {
    analyze_with(ctx, id_or_key, true).await
}

/// Analyse a stored experiment; `breakdowns` adds the dimension breakdowns
/// (when its exposures carry dimensions).
pub async fn analyze_with(ctx: &Ctx, id_or_key: &str, breakdowns: bool) -> Result<Report> {
    let mut conn = ctx.pool.acquire().await?;
    let exp = store::find(&mut conn, id_or_key).await?;
    let vars = store::variations(&mut conn, exp.id).await?;
    let kind = exp.metric_kind;
    let cuped = exp.covariates;
    let primary = if cuped {
        let cov = store::exposure_covariates(&mut conn, exp.id).await?;
        let sums = store::metric_sums_cuped(&mut conn, exp.id, &exp.metric, kind).await?;
        let counts: Vec<(String, i64)> = cov.iter().map(|(k, n, _, _)| (k.clone(), *n)).collect();
        let plain: Vec<(String, f64, f64)> = sums
            .iter()
            .map(|(k, s, q, _)| (k.clone(), *s, *q))
            .collect();
        let mut input = input_for(&exp, &vars, kind, &combine(&counts, &plain));
        input.cuped = true;
        for (v, (key, _, cs, css)) in input.variations.iter_mut().zip(&cov) {
            let sp = sums
                .iter()
                .find(|(k, ..)| k == key)
                .map(|(_, _, _, p)| *p)
                .unwrap_or(0.0);
            v.covariate_sum = Some(*cs);
            // A binomial covariate is 0/1: its squares are itself.
            v.covariate_sum_squares = Some(if kind == MetricKind::Binomial {
                *cs
            } else {
                *css
            });
            v.main_covariate_sum_product = Some(sp);
            if kind == MetricKind::Binomial {
                v.sum_squares = None;
            }
        }
        stats::analyze(&input).map_err(stats_err)?
    } else {
        let counts = store::exposure_counts(&mut conn, exp.id).await?;
        let rows = combine(
            &counts,
            &metric_sums(&mut conn, exp.id, &exp.metric, kind).await?,
        );
        stats::analyze(&input_for(&exp, &vars, kind, &rows)).map_err(stats_err)?
    };
    let counts: Vec<(String, i64)> = primary
        .variations
        .iter()
        .map(|v| (v.name.clone(), i64::try_from(v.n).unwrap_or(i64::MAX)))
        .collect();
    let mut others = Vec::new();
    for (role, specs) in [
        (MetricRole::Guardrail, &exp.guardrails),
        (MetricRole::Secondary, &exp.secondary),
    ] {
        for g in specs {
            let (name, gk) = metric_spec(&exp, g)?;
            let rows = combine(&counts, &metric_sums(&mut conn, exp.id, &name, gk).await?);
            let result = stats::analyze(&input_for(&exp, &vars, gk, &rows)).map_err(stats_err)?;
            let lower = report::lower_is_better(g, role)
                .map_err(|e| Error::internal(format!("experiment {}: {e}", exp.key)))?;
            let verdicts = verdicts_for(&exp, &result, role, &name, lower);
            others.push(MetricAnalysis {
                metric: name,
                kind: gk,
                role,
                result,
                verdicts,
            });
        }
    }
    let (guardrails, secondary): (Vec<_>, Vec<_>) = others
        .into_iter()
        .partition(|m| m.role == MetricRole::Guardrail);

    // Holm across every metric and arm.
    let mut labels = Vec::new();
    let mut ps = Vec::new();
    for (metric, out) in std::iter::once((&exp.metric, &primary))
        .chain(guardrails.iter().map(|g| (&g.metric, &g.result)))
        .chain(secondary.iter().map(|g| (&g.metric, &g.result)))
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

    let harmful = |name: &str| -> Option<String> {
        guardrails.iter().find_map(|g| {
            g.verdicts
                .iter()
                .any(|v| v.variation == name && v.verdict == Verdict::Hurt)
                .then(|| g.metric.clone())
        })
    };
    let best = primary
        .variations
        .iter()
        .skip(1)
        .filter(|v| report::better(v, exp.alpha) && harmful(&v.name).is_none())
        .max_by(|a, b| a.lift.unwrap_or(0.0).total_cmp(&b.lift.unwrap_or(0.0)))
        .map(|v| v.name.clone());
    // The arm furthest from its planned sample sets how far along it is.
    let total_planned = if exp.planned_total > 0 {
        exp.planned_total as f64
    } else {
        exp.planned_per_variation as f64 * vars.len() as f64
    };
    let weight_sum: f64 = vars
        .iter()
        .map(|v| v.weight)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    let (behind_n, behind_planned) = primary
        .variations
        .iter()
        .zip(&vars)
        .map(|(v, var)| {
            let planned = (total_planned * var.weight / weight_sum).ceil().max(1.0) as u64;
            (v.n, planned)
        })
        .min_by(|a, b| (a.0 as f64 / a.1 as f64).total_cmp(&(b.0 as f64 / b.1 as f64)))
        .unwrap_or((0, 0));
    let days = exp
        .started_at
        .map(|s| (ctx.now() - s).num_seconds() as f64 / 86_400.0)
        .unwrap_or(0.0);
    let any_significant = primary
        .variations
        .iter()
        .skip(1)
        .any(|v| report::better(v, exp.alpha));
    let stop = stop_check(
        exp.sequential,
        behind_n,
        behind_planned,
        days,
        f64::from(exp.planned_days),
        any_significant,
    );

    let weights_total: f64 = weight_sum;
    let srm = SrmCheck {
        p_value: primary.srm_p_value,
        mismatch: primary.srm_flag,
        arms: primary
            .variations
            .iter()
            .zip(&vars)
            .map(|(v, var)| (v.name.clone(), v.n, var.weight / weights_total))
            .collect(),
        sentence: if primary.srm_flag {
            format!(
                "WARNING: sample ratio mismatch (p = {:.6}). The traffic split does not match the weights, so these results cannot be trusted until the assignment is fixed.",
                primary.srm_p_value
            )
        } else {
            format!(
                "Sample ratio check passed (p = {:.3}): the split matches the weights.",
                primary.srm_p_value
            )
        },
    };

    // The warning leads the summary only when the split is broken.
    let mut summary = Vec::new();
    if srm.mismatch {
        summary.push(srm.sentence.clone());
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
            (Some(_), Some(_)) => {
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
                    "{}: {} vs {base} — {}, {words}.",
                    v.name,
                    fmt_mean(v.mean),
                    effect_words(&exp, v)
                )
            }
            _ => format!("{}: {}", v.name, effect_words(&exp, v)),
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

    let breakdowns = if breakdowns && exp.dimensions {
        let mut cells = Vec::new();
        for dim in store::DIMENSIONS {
            let rows = store::dimension_stats(&mut conn, exp.id, dim, &exp.metric, kind).await?;
            let mut values: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
            values.dedup();
            for value in values {
                let arms: Vec<(String, stats::ArmStats)> = vars
                    .iter()
                    .map(|var| {
                        let r = rows.iter().find(|r| r.0 == value && r.1 == var.key);
                        let (n, s, q) = r.map(|r| (r.2, r.3, r.4)).unwrap_or((0, 0.0, 0.0));
                        let n = u64::try_from(n).unwrap_or(0);
                        let stats = if kind == MetricKind::Binomial {
                            stats::ArmStats::binomial(n, s)
                        } else {
                            stats::ArmStats::new(n, s, q)
                        };
                        (var.key.clone(), stats)
                    })
                    .collect();
                cells.push((dim.to_string(), value.to_string(), arms));
            }
        }
        report::breakdowns(&cells, kind, exp.difference, exp.alpha)
    } else {
        Vec::new()
    };

    let srm_ok = !primary.srm_flag;
    let primary_verdicts = verdicts_for(&exp, &primary, MetricRole::Primary, &exp.metric, false);
    Ok(Report {
        primary: MetricAnalysis {
            metric: exp.metric.clone(),
            kind,
            role: MetricRole::Primary,
            result: primary,
            verdicts: primary_verdicts,
        },
        experiment: exp,
        variations: vars,
        srm,
        guardrails,
        secondary,
        cuped,
        adjusted_p_values,
        breakdowns,
        breakdown_correction: report::BREAKDOWN_CORRECTION.to_string(),
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
    require_runner(ctx, actor)?;
    let report = analyze(ctx, id_or_key).await?;
    let mut tx = ctx.pool.begin().await?;
    let exp = store::lock(&mut tx, report.experiment.id).await?;
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
    store::set_decision(&mut tx, exp.id, actor, winner, reason.trim(), now).await?;
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
    super::timers::cancel_check(&mut tx, exp.id).await?;
    let winning_text = match (winner, exp.content_id) {
        (Some(w), Some(_)) if report.variations.first().map(|v| v.key.as_str()) != Some(w) => {
            store::variation_body(&mut tx, exp.id, w).await?
        }
        _ => None,
    };
    let n = NewNotification::to_channel(
        &super::config::settings(&ctx.config)?.channel,
        WORKFLOW,
        exp.id,
        format!("Experiment decided: {}", exp.name),
    )
    .body(report.summary.join("\n"))
    .payload(serde_json::json!({ "experiment_id": exp.id, "winner": winner }));
    outbox::enqueue(ctx, &mut tx, &n).await?;
    let cfg = super::config::settings(&ctx.config)?;
    let decided = match winner {
        Some(w) => format!("Experiment {} decided: {w} wins", exp.key),
        None => format!("Experiment {} stopped without a winner", exp.key),
    };
    let mut told: Vec<String> = Vec::new();
    for role in super::config::role_refs("decisions", &cfg.decisions)? {
        for p in ctx.org.with_role(&role) {
            if told.contains(&p.handle) {
                continue;
            }
            told.push(p.handle.clone());
            let n = NewNotification::to_person(&p.handle, WORKFLOW, exp.id, decided.clone())
                .body(format!(
                    "{}\nDecided by @{actor}{}.",
                    report.summary.join("\n"),
                    if reason.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", reason.trim())
                    }
                ))
                .dedupe(format!("experiments:{}:decided:{}", exp.id, p.handle))
                .payload(serde_json::json!({ "experiment_id": exp.id, "winner": winner, "kind": "experiment_decided" }));
            outbox::enqueue(ctx, &mut tx, &n).await?;
        }
    }
    tx.commit().await?;
    if let (Some(w), Some(content_id), Some(text)) = (winner, exp.content_id, winning_text) {
        implement_winner(ctx, &exp, w, content_id, &text, actor).await?;
    }
    let mut conn = ctx.pool.acquire().await?;
    store::find(&mut conn, &exp.id.to_string()).await
}

/// The winner for real: the winning variation's text becomes the linked
/// item's next version, submitted for review through the content workflow
/// (so the live item changes only when it is approved and published). The
/// decider edits if the content roles allow it, else the item's owner does
/// (the note names the decider). When the item cannot take a new version
/// now, its owner gets the task instead.
async fn implement_winner(
    ctx: &Ctx,
    exp: &Experiment,
    winner: &str,
    content_id: i64,
    text: &str,
    actor: &str,
) -> Result<()> {
    use crate::content::service as content;
    let note = format!(
        "winner {winner} of experiment {} (decided by @{actor})",
        exp.key
    );
    let owner = {
        let mut conn = ctx.pool.acquire().await?;
        crate::content::store::get(&mut conn, content_id)
            .await?
            .owner
    };
    let edited = match content::edit(ctx, content_id, actor, None, text, Some(&note)).await {
        Err(Error::Forbidden(_)) if owner != actor => {
            content::edit(ctx, content_id, &owner, None, text, Some(&note))
                .await
                .map(|i| (i, owner.clone()))
        }
        other => other.map(|i| (i, actor.to_string())),
    };
    let outcome = match edited {
        Ok((_, editor)) => content::submit(ctx, content_id, &editor).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let mut tx = ctx.pool.begin().await?;
    let (action, why) = match &outcome {
        Ok(()) => (
            "experiment_winner_submitted",
            format!(
                "experiment {}: {winner}'s text submitted for review as the next version",
                exp.key
            ),
        ),
        Err(e) => (
            "experiment_winner",
            format!(
                "experiment {}: apply variation {winner} by hand ({e})",
                exp.key
            ),
        ),
    };
    events::append(
        &mut tx,
        &NewEvent::new(
            crate::content::WORKFLOW,
            "content",
            content_id,
            action,
            actor,
        )
        .reason(why.clone())
        .payload(serde_json::json!({ "experiment": exp.key, "winner": winner })),
        ctx.now(),
    )
    .await?;
    if outcome.is_err() {
        let n = NewNotification::to_person(&owner, WORKFLOW, exp.id, format!("Apply the winner of {}: {winner}", exp.name))
            .body(format!("Experiment {} chose {winner} for content #{content_id}, but its text could not be submitted automatically: {why}. Edit the item with the winning text and submit it for review.", exp.key))
            .payload(serde_json::json!({ "experiment_id": exp.id, "content_id": content_id, "kind": "experiment_handoff" }));
        outbox::enqueue(ctx, &mut tx, &n).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Document what was learned; the experiment joins the searchable library.
pub async fn document(
    ctx: &Ctx,
    id_or_key: &str,
    actor: &str,
    learnings: &str,
) -> Result<Experiment> {
    require_runner(ctx, actor)?;
    if learnings.trim().is_empty() {
        return Err(Error::invalid("write what was learned"));
    }
    let mut tx = ctx.pool.begin().await?;
    let found = store::find(&mut tx, id_or_key).await?;
    let exp = store::lock(&mut tx, found.id).await?;
    let to = allowed(&exp, Command::Document)?;
    store::set_learnings(&mut tx, exp.id, learnings.trim(), ctx.now()).await?;
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
    store::find(&mut conn, &exp.id.to_string()).await
}

/// The learnings library: documented experiments matching words, best first.
pub async fn search(ctx: &Ctx, query: &str) -> Result<Vec<Experiment>> {
    let mut conn = ctx.pool.acquire().await?;
    store::search(&mut conn, query.trim()).await
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
    let vars = store::variations(conn, exp.id).await?;
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
    store::expose_many(conn, exp.id, units, &chosen, ctx.now()).await?;
    Ok(chosen)
}

/// Record many events at once (unit, metric, value).
pub async fn record_many(
    ctx: &Ctx,
    conn: &mut PgConnection,
    exp: &Experiment,
    events: &[(String, String, f64)],
) -> Result<()> {
    store::insert_events(conn, exp.id, events, ctx.now()).await
}
