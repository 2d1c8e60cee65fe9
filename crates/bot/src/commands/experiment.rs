//! `/experiment`: the list of A/B tests and one experiment's results, read on
//! a phone: a broken traffic split first (in red: nothing below can be
//! trusted), then the winner line, then each treatment with its lift and
//! interval, then whether it may stop. Core computes everything; the bot
//! only lays it out.

use serde_json::json;
use vivid_core::experiments::model::{self, State, StopCheck};
use vivid_core::experiments::service::{self, Report};
use vivid_core::stats::{Difference, MetricKind, VariationResult};

use crate::model::{Choice, Embed, Invocation, Message, Response, truncate};
use crate::registry::{BoxFuture, Call, CommandDef, CommandGroup, Failure, OptionDef, Reply};
use crate::render::{BLUE, GREEN, RED, YELLOW, relative};

pub struct Experiment;

const NAME: &str = "experiment";

impl CommandGroup for Experiment {
    fn definition(&self) -> CommandDef {
        CommandDef {
            name: NAME,
            description: "A/B tests: the list, and one experiment's results in plain words",
            options: vec![
                OptionDef::sub(
                    "list",
                    "Experiments, most recently changed first",
                    vec![OptionDef::string("state", "Only this state").choices(&[
                        ("Draft", "draft"),
                        ("Running", "running"),
                        ("Decided", "decided"),
                        ("Documented", "documented"),
                    ])],
                ),
                OptionDef::sub(
                    "results",
                    "Split check, winner, each variation's lift and interval, and the stop check",
                    vec![
                        OptionDef::string("id", "The experiment's key or number")
                            .required()
                            .autocomplete()
                            .max_length(64),
                    ],
                ),
            ],
        }
    }

    fn run<'a>(&'a self, call: Call<'a>, inv: &'a Invocation) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            match inv.subcommand.as_deref() {
                Some("list") => {
                    let state = match inv.str("state").map(str::trim).filter(|s| !s.is_empty()) {
                        Some(s) => Some(State::parse(s).ok_or_else(|| {
                            Failure::usage(format!(
                                "{s:?} is not a state: draft, running, decided or documented"
                            ))
                        })?),
                        None => None,
                    };
                    let list = service::list(ctx, state).await?;
                    Ok(Response::Message(
                        Message::embed(list_embed(&list, state)).ephemeral(),
                    ))
                }
                Some("results") => {
                    let key = inv
                        .str("id")
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            Failure::usage("say which experiment: id:free-shipping-banner")
                        })?;
                    let report = service::analyze(ctx, key).await?;
                    Ok(Response::Message(results_message(&report).ephemeral()))
                }
                other => Err(Failure::usage(format!(
                    "/experiment {} is not a subcommand: use list or results",
                    other.unwrap_or("(none)")
                ))),
            }
        })
    }

    fn autocomplete<'a>(
        &'a self,
        call: Call<'a>,
        inv: &'a Invocation,
    ) -> BoxFuture<'a, Vec<Choice>> {
        Box::pin(async move {
            let typed = inv
                .focused()
                .map(|o| match &o.value {
                    serde_json::Value::String(s) => s.trim().trim_start_matches('#').to_lowercase(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            let Ok(mut list) = service::list(call.ctx, None).await else {
                return Vec::new();
            };
            // Running experiments are the ones people look at.
            list.sort_by_key(|e| e.state != State::Running);
            list.iter()
                .filter(|e| {
                    typed.is_empty()
                        || e.key.contains(&typed)
                        || e.id.to_string() == typed
                        || e.name.to_lowercase().contains(&typed)
                })
                .take(25)
                .map(|e| Choice {
                    name: format!("{} — {} ({})", e.key, e.name, e.state),
                    value: json!(e.key),
                })
                .collect()
        })
    }
}

fn state_icon(state: State) -> &'static str {
    match state {
        State::Draft => "📝",
        State::Running => "🧪",
        State::Decided => "🏁",
        State::Documented => "📚",
    }
}

/// One line per experiment.
pub fn list_embed(list: &[service::Experiment], state: Option<State>) -> Embed {
    let mut lines = Vec::new();
    let mut used = 0;
    for (i, e) in list.iter().enumerate() {
        let when = match (e.state, e.started_at, e.decided_at) {
            (State::Decided | State::Documented, _, Some(t)) => format!(
                "decided {}{}",
                relative(t),
                match &e.winner {
                    Some(w) => format!(" · winner {w}"),
                    None => " · no winner".into(),
                }
            ),
            (_, Some(t), _) => format!("started {}", relative(t)),
            _ => format!("created {}", relative(e.created_at)),
        };
        let line = format!(
            "{} **{}** — {}\n└ {} · {} · {when}",
            state_icon(e.state),
            e.key,
            truncate(&e.name, 80),
            e.state,
            e.metric,
        );
        if used + line.len() > 3800 {
            lines.push(format!("…and {} more: narrow with state:", list.len() - i));
            break;
        }
        used += line.len() + 1;
        lines.push(line);
    }
    let title = match state {
        Some(s) => format!("Experiments: {s} ({})", list.len()),
        None => format!("Experiments ({})", list.len()),
    };
    Embed {
        title: Some(title),
        description: Some(if lines.is_empty() {
            "None.".into()
        } else {
            lines.join("\n")
        }),
        colour: Some(BLUE),
        footer: Some("/experiment results id:KEY for one experiment".into()),
        ..Embed::default()
    }
}

fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// A variation's mean: a rate for a binomial metric.
fn mean(report: &Report, m: f64) -> String {
    if report.primary.kind == MetricKind::Binomial {
        format!("{:.2}%", m * 100.0)
    } else {
        format!("{m:.2}")
    }
}

/// A lift or an interval bound, as the experiment measures differences.
fn effect(report: &Report, x: f64) -> String {
    match (report.experiment.difference, report.primary.kind) {
        (Difference::Relative, _) => pct(x),
        (_, MetricKind::Binomial) => format!("{:+.2} pp", x * 100.0),
        _ => format!("{x:+.4}"),
    }
}

/// "**+30.0%** (95% interval +12.1% to +48.0%)", the means, and the verdict.
fn treatment(report: &Report, control: Option<&VariationResult>, v: &VariationResult) -> String {
    let exp = &report.experiment;
    let (Some(lift), Some(ci)) = (v.lift, v.ci) else {
        return format!(
            "{}\nn = {}",
            v.message
                .clone()
                .unwrap_or_else(|| "not enough data yet".into()),
            v.n
        );
    };
    let level = ((1.0 - exp.alpha) * 100.0).round();
    let verdict = match (v.p_value, v.chance_to_win) {
        (Some(Some(p)), _) if p < 0.0001 => "significant (p < 0.0001)".to_string(),
        (Some(Some(p)), _) if p < exp.alpha => format!("significant (p = {p:.4})"),
        (Some(Some(p)), _) => format!("not significant (p = {p:.3})"),
        (_, Some(Some(c))) => format!(
            "{:.1}% chance to beat {}",
            c * 100.0,
            control.map(|c| c.name.as_str()).unwrap_or("the control")
        ),
        _ => String::new(),
    };
    let base = control
        .map(|c| format!(" vs {}", mean(report, c.mean)))
        .unwrap_or_default();
    format!(
        "**{}** ({level}% interval {} to {})\n{}{base} · n = {}\n{verdict}",
        effect(report, lift),
        effect(report, ci[0]),
        effect(report, ci[1]),
        mean(report, v.mean),
        v.n
    )
}

/// The results: SRM warning first (its own red embed), then the winner line,
/// each treatment, and the stop check.
pub fn results_message(report: &Report) -> Message {
    let exp = &report.experiment;
    let primary = &report.primary.result;
    let srm = primary.srm_flag;
    let mut embeds = Vec::new();
    let mut summary = report.summary.iter();
    if srm && let Some(warning) = summary.next() {
        embeds.push(Embed {
            title: Some("🚨 Sample ratio mismatch".into()),
            description: Some(warning.clone()),
            colour: Some(RED),
            ..Embed::default()
        });
    }
    // Core's order: the winner line comes next; guardrail harms follow the arms.
    let winner = summary.next().cloned().unwrap_or_default();
    let icon = match (&report.suggested_winner, srm) {
        (Some(_), false) => "🏆",
        (_, true) => "⚠️",
        (None, false) => "➖",
    };
    let mut description = vec![format!("{icon} **{winner}**")];
    description.extend(
        summary
            .filter(|line| line.contains(" hurts the guardrail "))
            .map(|line| format!("⚠️ {line}")),
    );
    let control = primary.variations.first();
    let colour = if srm {
        RED
    } else if report.suggested_winner.is_some() {
        GREEN
    } else if matches!(report.stop, StopCheck::MayStop { .. }) {
        YELLOW
    } else {
        BLUE
    };
    let mut e = Embed {
        title: Some(format!("🧪 {} ({})", exp.name, exp.key)),
        description: Some(description.join("\n")),
        colour: Some(colour),
        footer: Some(format!(
            "experiment #{} · {} · {} on {} ({}) · α = {}",
            exp.id,
            exp.state,
            model::engine_str(exp.engine),
            exp.metric,
            model::metric_kind_str(report.primary.kind),
            exp.alpha
        )),
        ..Embed::default()
    };
    for v in primary.variations.iter().skip(1) {
        let name = match control {
            Some(c) => format!("{} vs {}", v.name, c.name),
            None => v.name.clone(),
        };
        e = e.field(name, treatment(report, control, v), false);
    }
    e = e.field(
        "Stop check",
        match &report.stop {
            StopCheck::KeepRunning { reason } => format!("⏳ Keep running: {reason}."),
            StopCheck::MayStop { reason } => format!("🛑 It may stop: {reason}."),
        },
        false,
    );
    let total: f64 = report.variations.iter().map(|w| w.weight).sum();
    let traffic: Vec<String> = primary
        .variations
        .iter()
        .map(|v| {
            let weight = report
                .variations
                .iter()
                .find(|w| w.key == v.name)
                .filter(|_| total > 0.0)
                .map(|w| format!(" ({:.0}% planned)", w.weight / total * 100.0))
                .unwrap_or_default();
            format!("{} {}{weight}", v.name, v.n)
        })
        .collect();
    e = e.field("Traffic", traffic.join(" · "), false);
    embeds.push(e);
    Message {
        embeds,
        ..Message::default()
    }
}
