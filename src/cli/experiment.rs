//! `vivid experiment ...`: A/B tests from hypothesis to documented learning.

use std::io::Read;

use anyhow::Result;
use clap::{Args, Subcommand};
use vivid_core::config::Config;
use vivid_core::experiments::import;
use vivid_core::experiments::model::{self, State};
use vivid_core::experiments::service::{self, NewExperiment, Report};
use vivid_core::stats::{self, Difference, Engine, MetricKind};

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Hypothesis, design (with the power calculation) and variables.
    New(Box<NewArgs>),
    /// Experiments, most recently changed first.
    List(ListArgs),
    /// One experiment: design, plan and state.
    Show(IdArgs),
    /// Split the audience: start assigning units.
    Start(ActArgs),
    /// The variation of a unit (deterministic; stored on first exposure).
    Assign(AssignArgs),
    /// Record a metric event for an exposed unit.
    Record(RecordArgs),
    /// Analyse a stored experiment, or (without ID) sufficient statistics
    /// given as JSON on stdin.
    Analyze(AnalyzeArgs),
    /// Stop: implement the winner, or stop without one (--abandon).
    Decide(DecideArgs),
    /// Bulk-load exposures or events from a CSV file (COPY; idempotent by
    /// unit and by event id).
    Import(ImportArgs),
    /// Document what was learned, or search the learnings library.
    Learnings(LearningsArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// A short key, e.g. free-shipping-banner.
    key: String,
    /// A human-readable name, in a few words.
    #[arg(long)]
    name: String,
    /// "If we ..., then ... because ...".
    #[arg(long)]
    hypothesis: String,
    /// Primary metric name (e.g. purchase, revenue).
    #[arg(long)]
    metric: String,
    /// binomial (converted or not) or mean (a value per unit).
    #[arg(long, default_value = "binomial")]
    kind: String,
    /// Guardrails, NAME:binomial or NAME:mean (repeatable).
    #[arg(long = "guardrail")]
    guardrails: Vec<String>,
    /// Secondary metrics, NAME:binomial or NAME:mean (repeatable): reported, never blocking.
    #[arg(long = "secondary")]
    secondary: Vec<String>,
    /// Baseline conversion rate (binomial) or mean (mean metric).
    #[arg(long)]
    baseline: f64,
    /// Per-unit variance of a mean metric.
    #[arg(long)]
    baseline_variance: Option<f64>,
    /// Minimum detectable effect, relative (0.1 = 10%).
    #[arg(long, default_value_t = 0.1)]
    mde: f64,
    /// Statistical power wanted: the chance of detecting the MDE (0-1).
    #[arg(long, default_value_t = 0.8)]
    power: f64,
    /// Significance level: the false-positive rate accepted (0-1).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Units entering the experiment per day.
    #[arg(long)]
    daily_traffic: i64,
    /// KEY:WEIGHT, the control first (repeatable). Default control:0.5, treatment:0.5.
    #[arg(long = "variation")]
    variations: Vec<String>,
    /// KEY=TEXT: what a variation shows (repeatable); with --content, every
    /// treatment needs one: the winner's text becomes the item's next version.
    #[arg(long = "text")]
    texts: Vec<String>,
    /// frequentist or bayesian.
    #[arg(long, default_value = "frequentist")]
    engine: String,
    /// relative or absolute.
    #[arg(long, default_value = "relative")]
    difference: String,
    /// Always-valid (sequential) testing: may stop early.
    #[arg(long)]
    sequential: bool,
    /// Owner (default: the actor).
    #[arg(long)]
    owner: Option<String>,
    /// The content item a winner is handed to.
    #[arg(long)]
    content: Option<i64>,
    /// The experiment whose learnings led to this hypothesis.
    #[arg(long)]
    follows: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only experiments in this state (draft, running, decided, documented).
    #[arg(long)]
    state: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The experiment (its number or key, from `vivid experiment list`).
    experiment: String,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ActArgs {
    /// The experiment (its number or key, from `vivid experiment list`).
    experiment: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The experiment (its number or key, from `vivid experiment list`).
    experiment: String,
    /// The unit to assign (e.g. a visitor or customer id); the same unit always gets the same variation.
    unit: String,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The experiment (its number or key, from `vivid experiment list`).
    experiment: String,
    /// The unit the outcome belongs to (e.g. a visitor or customer id).
    unit: String,
    /// The metric's name (the primary metric or a guardrail).
    metric: String,
    /// The value observed (default 1: converted, for a binomial metric).
    #[arg(default_value_t = 1.0)]
    value: f64,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Experiment id or key; without it, read sufficient statistics from stdin.
    experiment: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// exposures (unit_id[,variation,exposed_at,device,channel,segment,covariate])
    /// or events (event_id,unit_id[,metric,value,recorded_at]).
    kind: String,
    /// The CSV file, with a header line ("-" reads stdin).
    file: String,
    /// The experiment (its number or key, from `vivid experiment list`).
    #[arg(long, short)]
    experiment: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The experiment (its number or key, from `vivid experiment list`).
    experiment: String,
    /// The winning variation (it is handed to the content workflow).
    #[arg(long, conflicts_with = "abandon")]
    winner: Option<String>,
    /// Stop without a winner (the control stays).
    #[arg(long)]
    abandon: bool,
    /// Why, in a sentence (recorded in the event log).
    #[arg(long, short, default_value = "")]
    reason: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct LearningsArgs {
    /// Document the learnings of this (decided) experiment...
    experiment: Option<String>,
    /// ...with this text.
    #[arg(long)]
    text: Option<String>,
    /// Or search the library.
    #[arg(long)]
    search: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

/// The power calculation per arm, and the sequential penalty beside it.
fn print_plan(variations: &[(String, f64)], p: &stats::WeightedPlan) {
    let arms = |per_arm: &[u64]| -> String {
        variations
            .iter()
            .zip(per_arm)
            .map(|((k, w), n)| format!("{k} ({:.0}%) {n}", w * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let limiting = variations
        .get(p.limiting_arm)
        .map(|(k, _)| k.as_str())
        .unwrap_or("?");
    println!(
        "  fixed horizon: {} units — {}; {} days (set by the smallest arm, {limiting})",
        p.total,
        arms(&p.per_arm),
        p.planned_days
    );
    if let Some(s) = &p.sequential {
        println!(
            "  sequential:    {} units — {}; {} days ({:.2}x the fixed horizon, the price of stopping early); sequential_tuning = {:.0}",
            s.total,
            arms(&s.per_arm),
            s.planned_days,
            s.inflation,
            s.tuning
        );
    }
}

fn invalid(msg: impl Into<String>) -> anyhow::Error {
    vivid_core::Error::invalid(msg).into()
}

fn arm_table(kind: MetricKind, out: &stats::AnalysisOutput, verdicts: &[service::ArmVerdict]) {
    output::table(
        &[
            "VARIATION",
            "UNITS",
            "MEAN",
            "LIFT",
            "INTERVAL",
            "P / CHANCE",
            "VERDICT",
        ],
        &out.variations
            .iter()
            .map(|v| {
                let mean = if kind == MetricKind::Binomial {
                    format!("{:.2}%", v.mean * 100.0)
                } else {
                    format!("{:.3}", v.mean)
                };
                let lift = v
                    .lift
                    .map(|l| format!("{:+.2}%", l * 100.0))
                    .unwrap_or_else(|| "-".into());
                let ci =
                    v.ci.map(|c| format!("[{:+.2}%, {:+.2}%]", c[0] * 100.0, c[1] * 100.0))
                        .unwrap_or_else(|| "-".into());
                let p = match (v.p_value, v.chance_to_win) {
                    (Some(Some(p)), _) => format!("p={p:.4}"),
                    (_, Some(Some(c))) => format!("{:.1}% to win", c * 100.0),
                    _ => "-".into(),
                };
                let verdict = verdicts
                    .iter()
                    .find(|x| x.variation == v.name)
                    .map(|x| x.verdict.as_str().to_string())
                    .unwrap_or_else(|| "control".into());
                vec![v.name.clone(), v.n.to_string(), mean, lift, ci, p, verdict]
            })
            .collect::<Vec<_>>(),
    );
}

/// The analysis as a director reads it: the sample-ratio check first, then
/// the primary metric, every guardrail and secondary metric with a verdict,
/// then the breakdowns.
fn print_report(r: &Report) {
    let e = &r.experiment;
    println!("{} — {} ({})", e.key, e.name, e.state);
    println!();
    println!("1. {}", r.srm.sentence);
    let split: Vec<String> = r
        .srm
        .arms
        .iter()
        .map(|(k, n, w)| format!("{k} {n} units (planned {:.0}%)", w * 100.0))
        .collect();
    println!("   {}", split.join(", "));
    println!();
    println!(
        "2. Primary metric {} ({}){}:",
        r.primary.metric,
        model::metric_kind_str(r.primary.kind),
        if r.cuped {
            ", CUPED-adjusted with the pre-period covariate"
        } else {
            ""
        }
    );
    arm_table(r.primary.kind, &r.primary.result, &r.primary.verdicts);
    for line in r.summary.iter().skip(usize::from(r.srm.mismatch)) {
        println!("   {line}");
    }
    println!();
    if r.guardrails.is_empty() {
        println!("3. Guardrails: none in the design.");
    } else {
        println!("3. Guardrails:");
    }
    for g in &r.guardrails {
        for v in &g.verdicts {
            println!("   {}", v.sentence);
        }
    }
    if !r.secondary.is_empty() {
        println!();
        println!("4. Secondary metrics:");
        for g in &r.secondary {
            for v in &g.verdicts {
                println!("   {}", v.sentence);
            }
        }
    }
    if !r.breakdowns.is_empty() {
        println!();
        println!(
            "Breakdowns of {} (p-values corrected with {}):",
            r.primary.metric, r.breakdown_correction
        );
        output::table(
            &[
                "DIMENSION",
                "VALUE",
                "VARIATION",
                "UNITS",
                "LIFT",
                "P",
                "ADJUSTED P",
                "",
            ],
            &r.breakdowns
                .iter()
                .map(|b| {
                    vec![
                        b.dimension.clone(),
                        b.value.clone(),
                        b.variation.clone(),
                        format!("{} vs {}", b.n, b.n_control),
                        b.lift
                            .map(|l| format!("{:+.2}%", l * 100.0))
                            .unwrap_or_else(|| "-".into()),
                        b.p_value
                            .map(|p| format!("{p:.4}"))
                            .unwrap_or_else(|| "-".into()),
                        b.adjusted_p_value
                            .map(|p| format!("{p:.4}"))
                            .unwrap_or_else(|| b.message.clone().unwrap_or_default()),
                        if b.significant {
                            "significant".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
}

pub async fn run(config: Config, cmd: ExperimentCommand) -> Result<()> {
    if let ExperimentCommand::Analyze(AnalyzeArgs {
        experiment: None, ..
    }) = &cmd
    {
        // Offline analysis: no database needed.
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        let out = stats::analyze_json(&input).map_err(|e| invalid(e.to_string()))?;
        return output::json(&out);
    }
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    match cmd {
        ExperimentCommand::New(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let kind = model::parse_metric_kind(&a.kind)
                .map_err(|_| invalid(format!("--kind {:?}: binomial or mean", a.kind)))?;
            let engine = match a.engine.as_str() {
                "frequentist" => Engine::Frequentist,
                "bayesian" => Engine::Bayesian,
                other => {
                    return Err(invalid(format!(
                        "--engine {other:?}: frequentist or bayesian"
                    )));
                }
            };
            let difference = match a.difference.as_str() {
                "relative" => Difference::Relative,
                "absolute" => Difference::Absolute,
                other => {
                    return Err(invalid(format!(
                        "--difference {other:?}: relative or absolute"
                    )));
                }
            };
            let mut variations = Vec::new();
            for v in &a.variations {
                let (k, w) = v
                    .split_once(':')
                    .ok_or_else(|| invalid(format!("--variation {v:?} must be KEY:WEIGHT")))?;
                let w: f64 = w
                    .parse()
                    .map_err(|_| invalid(format!("--variation {v:?}: {w:?} is not a number")))?;
                variations.push((k.to_string(), w));
            }
            if variations.is_empty() {
                variations = vec![("control".into(), 0.5), ("treatment".into(), 0.5)];
            }
            let mut texts = Vec::new();
            for t in &a.texts {
                let (k, body) = t
                    .split_once('=')
                    .ok_or_else(|| invalid(format!("--text {t:?} must be KEY=TEXT")))?;
                texts.push((k.to_string(), body.to_string()));
            }
            let follows = match &a.follows {
                Some(f) => Some(service::get(&ctx, f).await?.id),
                None => None,
            };
            let new = NewExperiment {
                key: a.key.clone(),
                name: a.name.clone(),
                hypothesis: a.hypothesis.clone(),
                owner: a.owner.clone().unwrap_or_else(|| actor.clone()),
                metric: a.metric.clone(),
                metric_kind: kind,
                guardrails: a.guardrails.clone(),
                secondary: a.secondary.clone(),
                engine,
                difference,
                sequential: a.sequential,
                alpha: a.alpha,
                power: a.power,
                mde: a.mde,
                baseline: a.baseline,
                baseline_variance: a.baseline_variance,
                daily_traffic: a.daily_traffic,
                variations,
                texts,
                content_id: a.content,
                follows,
            };
            let exp = service::create(&ctx, &new, &actor).await?;
            let planned = service::plan(&new)?;
            if a.json.json {
                return output::json(&serde_json::json!({ "experiment": exp, "plan": planned }));
            }
            println!(
                "experiment {} designed (MDE {:.1}%, power {:.0}%, alpha {}, {} units/day):",
                exp.key,
                exp.mde * 100.0,
                exp.power * 100.0,
                exp.alpha,
                exp.daily_traffic,
            );
            print_plan(&new.variations, &planned);
            Ok(())
        }
        ExperimentCommand::List(a) => {
            let state = match a.state.as_deref() {
                Some(s) => Some(State::parse(s).ok_or_else(|| {
                    invalid(format!(
                        "--state {s:?}: draft, running, decided or documented"
                    ))
                })?),
                None => None,
            };
            let list = service::list(&ctx, state).await?;
            if a.json.json {
                return output::json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|e| {
                    vec![
                        format!("#{}", e.id),
                        e.key.clone(),
                        e.state.to_string(),
                        e.metric.clone(),
                        e.winner.clone().unwrap_or_else(|| "-".into()),
                        e.name.clone(),
                    ]
                })
                .collect();
            output::table(&["ID", "KEY", "STATE", "METRIC", "WINNER", "NAME"], &rows);
            Ok(())
        }
        ExperimentCommand::Show(a) => {
            let (e, vars) = service::show(&ctx, &a.experiment).await?;
            if a.json.json {
                return output::json(&serde_json::json!({ "experiment": e, "variations": vars }));
            }
            println!("{} — {} ({}), owner @{}", e.key, e.name, e.state, e.owner);
            println!("hypothesis: {}", e.hypothesis);
            println!(
                "design: {} ({}), guardrails [{}], {} {}{}, MDE {:.1}%, power {:.0}%, alpha {}",
                e.metric,
                model::metric_kind_str(e.metric_kind),
                e.guardrails.join(", "),
                model::engine_str(e.engine),
                model::difference_str(e.difference),
                if e.sequential {
                    ", sequential"
                } else {
                    ", fixed horizon"
                },
                e.mde * 100.0,
                e.power * 100.0,
                e.alpha
            );
            let total = if e.planned_total > 0 {
                e.planned_total
            } else {
                e.planned_per_variation * vars.len() as i64
            };
            let arms: Vec<String> = vars
                .iter()
                .map(|v| format!("{} {:.0}", v.key, (total as f64 * v.weight).ceil()))
                .collect();
            println!(
                "plan: {total} units ({}), {} days at {}/day{}",
                arms.join(", "),
                e.planned_days,
                e.daily_traffic,
                if e.sequential {
                    format!(
                        "; sequential, tuned to {:.0} units (fixed horizon would need {})",
                        e.sequential_tuning, e.fixed_total
                    )
                } else {
                    String::new()
                }
            );
            let weights: Vec<String> = vars
                .iter()
                .map(|v| format!("{}:{}", v.key, v.weight))
                .collect();
            println!("variations: {}", weights.join(", "));
            if let Some(w) = &e.winner {
                println!("winner: {w}");
            }
            if let Some(l) = &e.learnings {
                println!("learnings: {l}");
            }
            Ok(())
        }
        ExperimentCommand::Start(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let e = service::start(&ctx, &a.experiment, &actor).await?;
            if a.json.json {
                return output::json(&e);
            }
            println!("experiment {} is running", e.key);
            Ok(())
        }
        ExperimentCommand::Assign(a) => {
            let v = service::assign(&ctx, &a.experiment, &a.unit).await?;
            if a.json.json {
                return output::json(&serde_json::json!({ "unit": a.unit, "variation": v }));
            }
            println!("{v}");
            Ok(())
        }
        ExperimentCommand::Record(a) => {
            service::record(&ctx, &a.experiment, &a.unit, &a.metric, a.value).await?;
            Ok(())
        }
        ExperimentCommand::Analyze(a) => {
            let id = a.experiment.unwrap_or_default();
            let r = service::analyze(&ctx, &id).await?;
            if a.json.json {
                return output::json(&r);
            }
            print_report(&r);
            Ok(())
        }
        ExperimentCommand::Decide(a) => {
            let actor = a.actor.resolve(&ctx)?;
            if a.winner.is_none() && !a.abandon {
                return Err(invalid(
                    "name the winner with --winner KEY, or stop without one with --abandon --reason TEXT",
                ));
            }
            let e = service::decide(&ctx, &a.experiment, &actor, a.winner.as_deref(), &a.reason)
                .await?;
            if a.json.json {
                return output::json(&e);
            }
            match &e.winner {
                Some(w) => println!("experiment {} decided: {w} is implemented", e.key),
                None => println!("experiment {} stopped without a winner", e.key),
            }
            Ok(())
        }
        ExperimentCommand::Import(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let started = std::time::Instant::now();
            let mut reader: Box<dyn std::io::BufRead> = if a.file == "-" {
                Box::new(std::io::BufReader::new(std::io::stdin()))
            } else {
                let f = std::fs::File::open(&a.file)
                    .map_err(|e| invalid(format!("cannot open {}: {e}", a.file)))?;
                Box::new(std::io::BufReader::with_capacity(1 << 20, f))
            };
            let summary = match a.kind.as_str() {
                "exposures" => import::exposures(&ctx, &a.experiment, &actor, &mut reader).await?,
                "events" => import::events(&ctx, &a.experiment, &actor, &mut reader).await?,
                other => {
                    return Err(invalid(format!("import {other:?}: exposures or events")));
                }
            };
            if a.json.json {
                return output::json(&summary);
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{} {}: {} rows read, {} new, {} skipped (already there{}) in {secs:.1} s",
                summary.experiment,
                summary.kind,
                summary.read,
                summary.inserted,
                summary.skipped,
                if summary.kind == "events" {
                    " or unit never exposed"
                } else {
                    ""
                }
            );
            Ok(())
        }
        ExperimentCommand::Learnings(a) => {
            if let (Some(id), Some(text)) = (&a.experiment, &a.text) {
                let actor = a.actor.resolve(&ctx)?;
                let e = service::document(&ctx, id, &actor, text).await?;
                if a.json.json {
                    return output::json(&e);
                }
                println!("learnings of {} documented", e.key);
                return Ok(());
            }
            if a.experiment.is_some() {
                return Err(invalid(
                    "give the learnings with --text, or search with --search WORDS",
                ));
            }
            let found = service::search(&ctx, a.search.as_deref().unwrap_or("")).await?;
            if a.json.json {
                return output::json(&found);
            }
            for e in &found {
                println!(
                    "{} — {} (winner: {})",
                    e.key,
                    e.name,
                    e.winner.as_deref().unwrap_or("none")
                );
                println!("  hypothesis: {}", e.hypothesis);
                println!("  learned: {}", e.learnings.as_deref().unwrap_or_default());
            }
            if found.is_empty() {
                println!("no documented experiments match");
            }
            Ok(())
        }
    }
}
