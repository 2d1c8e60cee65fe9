//! Experiment commands and the stored analysis.

use serde::Serialize;
use sqlx::PgConnection;

use super::WORKFLOW;
use super::assign;
use super::model::{self, Command, State, StopCheck, stop_check};
use super::store::{self, combine, metric_sums};
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::engine::outbox::{self, NewNotification};
use crate::error::{Error, Result};
use crate::org::or_list;
use crate::stats::{
    self, AnalysisInput, AnalysisOutput, Baseline, Difference, Engine, MetricKind, PowerDesign,
    VariationInput,
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

/// Who runs experiments comes from `[experiments.roles] run`.
fn require_runner(ctx: &Ctx, actor: &str) -> Result<()> {
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
        model::parse_metric_kind(kind).map_err(Error::invalid)?;
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
    let row = store::NewRow {
        key: &new.key,
        name: new.name.trim(),
        hypothesis: new.hypothesis.trim(),
        owner: &new.owner,
        metric: &new.metric,
        metric_kind: new.metric_kind,
        guardrails: &new.guardrails,
        engine: new.engine,
        difference: new.difference,
        sequential: new.sequential,
        alpha: new.alpha,
        power: new.power,
        mde: new.mde,
        baseline: new.baseline,
        baseline_variance: new.baseline_variance,
        daily_traffic: new.daily_traffic,
        planned_per_variation: i64::try_from(planned.per_variation).unwrap_or(i64::MAX),
        planned_days: i32::try_from(planned.planned_days).unwrap_or(i32::MAX),
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

/// One metric's analysis.
#[derive(Debug, Clone, Serialize)]
pub struct MetricAnalysis {
    pub metric: String,
    pub kind: MetricKind,
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
        engine: exp.engine,
        difference: exp.difference,
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
    let exp = store::find(&mut conn, id_or_key).await?;
    let vars = store::variations(&mut conn, exp.id).await?;
    let kind = exp.metric_kind;
    let counts = store::exposure_counts(&mut conn, exp.id).await?;
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
        // Checked when designed: another kind is a fault of the stored data.
        let gk = model::parse_metric_kind(k)
            .map_err(|e| Error::internal(format!("experiment {}: {e}", exp.key)))?;
        let grows = combine(&counts, &metric_sums(&mut conn, exp.id, name, gk).await?);
        let result = stats::analyze(&input_for(&exp, &vars, gk, &grows)).map_err(stats_err)?;
        guardrails.push(MetricAnalysis {
            metric: name.to_string(),
            kind: gk,
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
                let effect = if exp.difference == Difference::Relative {
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
            kind,
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
        &super::config::settings(&ctx.config)?.channel,
        WORKFLOW,
        exp.id,
        format!("Experiment decided: {}", exp.name),
    )
    .body(report.summary.join("\n"))
    .payload(serde_json::json!({ "experiment_id": exp.id, "winner": winner }));
    outbox::enqueue(ctx, &mut tx, &n).await?;
    tx.commit().await?;
    let mut conn = ctx.pool.acquire().await?;
    store::find(&mut conn, &exp.id.to_string()).await
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
