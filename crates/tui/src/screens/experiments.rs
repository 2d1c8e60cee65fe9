//! Experiments: every A/B test with its state and metric, and below the
//! list the analysis of the selected one (run by the loader, never here):
//! a sample-ratio mismatch first, then each treatment's lift with its
//! interval drawn as a bar, the evidence in words, and the stop check.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Wrap};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use vivid_core::Ctx;
use vivid_core::engine::events::Change;
use vivid_core::experiments::model::{self, State, StopCheck};
use vivid_core::experiments::service::{self, Experiment, Report};
use vivid_core::stats::{Difference, MetricKind, VariationResult};

use super::list::{TableSpec, table_rows};
use super::{Detail, Screen};
use crate::app::{AppState, ListView};
use crate::data::{self, BoxFuture, PartData};
use crate::format;
use crate::snapshot::{Level, Snapshot};
use crate::theme;

pub struct Experiments;

/// An experiment and, when it runs, core's analysis of it.
#[derive(Debug, Clone)]
pub struct ExperimentRow {
    pub experiment: Experiment,
    pub analysis: Analysis,
    /// When the analysis was run (it is reused while fresh and the
    /// experiment unchanged).
    pub analysed_at: Option<DateTime<Utc>>,
}

/// The analysis the loader ran (never `view`).
#[derive(Debug, Clone)]
pub enum Analysis {
    /// Not running: nothing to analyse.
    None,
    Ready(Box<Report>),
    /// Core could not analyse it; its sentence.
    Failed(String),
}

impl Analysis {
    pub fn report(&self) -> Option<&Report> {
        match self {
            Analysis::Ready(r) => Some(r),
            _ => None,
        }
    }
}

/// The screen's part: every experiment, running ones first, each running
/// one analysed.
#[derive(Debug, Clone, Default)]
pub struct Lab {
    pub rows: Vec<ExperimentRow>,
}

/// The experiments on screen.
pub fn experiments(snap: &Snapshot) -> &[ExperimentRow] {
    snap.get::<Lab>().map(|l| l.rows.as_slice()).unwrap_or(&[])
}

/// Re-run an unchanged experiment's analysis at most this often: it
/// aggregates every exposure, and traffic writes no events.
const ANALYSIS_EVERY: TimeDelta = TimeDelta::seconds(10);

/// Reads the experiments when one changes, and re-analyses running ones
/// every ten seconds (their traffic announces nothing).
struct Part;

impl data::Part for Part {
    fn concerns(&self, change: &Change) -> bool {
        change.workflow == vivid_core::experiments::WORKFLOW
    }

    fn every(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn poll(&self, data: &PartData) -> Option<Duration> {
        let lab = data.downcast_ref::<Lab>()?;
        lab.rows
            .iter()
            .any(|r| r.experiment.state == State::Running)
            .then(|| Duration::from_secs(10))
    }

    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        _operator: &'a str,
        previous: Option<PartData>,
        _changes: &'a [Change],
    ) -> BoxFuture<'a, vivid_core::Result<PartData>> {
        Box::pin(async move {
            let previous = data::previous::<Lab>(previous).unwrap_or_default();
            let mut list = service::list(ctx, None).await?;
            let rank = |state: State| match state {
                State::Running => 0,
                State::Draft => 1,
                State::Decided => 2,
                State::Documented => 3,
            };
            list.sort_by_key(|e| rank(e.state));
            let now = ctx.now();
            let mut rows = Vec::with_capacity(list.len());
            for experiment in list {
                if experiment.state != State::Running {
                    rows.push(ExperimentRow {
                        experiment,
                        analysis: Analysis::None,
                        analysed_at: None,
                    });
                    continue;
                }
                let fresh = previous.rows.iter().find(|r| {
                    r.experiment.id == experiment.id
                        && r.experiment.updated_at == experiment.updated_at
                        && r.analysed_at.is_some_and(|at| now - at < ANALYSIS_EVERY)
                });
                if let Some(fresh) = fresh {
                    rows.push(ExperimentRow {
                        experiment,
                        analysis: fresh.analysis.clone(),
                        analysed_at: fresh.analysed_at,
                    });
                    continue;
                }
                // A refusal from the statistics is shown on the screen; it
                // does not stop the rest of the control room.
                let analysis = match service::analyze(ctx, &experiment.key).await {
                    Ok(report) => Analysis::Ready(Box::new(report)),
                    // The database going away is an outage, not a refusal.
                    Err(e @ (vivid_core::Error::Db(_) | vivid_core::Error::Unreachable(_))) => {
                        return Err(e);
                    }
                    Err(e) => Analysis::Failed(e.to_string()),
                };
                rows.push(ExperimentRow {
                    experiment,
                    analysis,
                    analysed_at: Some(now),
                });
            }
            Ok(Arc::new(Lab { rows }) as PartData)
        })
    }
}

const NAME_W: usize = 12;
const MIN_BAR: usize = 11;
const MAX_BAR: usize = 41;

/// Which side of zero an interval lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Above,
    Below,
    Crosses,
}

impl Verdict {
    pub fn of(lo: f64, hi: f64) -> Self {
        if lo > 0.0 {
            Verdict::Above
        } else if hi < 0.0 {
            Verdict::Below
        } else {
            Verdict::Crosses
        }
    }

    fn style(self) -> Style {
        match self {
            Verdict::Above => theme::good(),
            Verdict::Below => theme::error(),
            Verdict::Crosses => theme::inconclusive(),
        }
    }
}

/// An interval drawn on a scale from `-scale` to `+scale`, `width` cells
/// wide: `·` outside it, `━` across it, `│` at zero, `●` at the estimate.
/// Coloured by where it lies: green above zero, red below, grey across.
pub fn interval_bar(lo: f64, point: f64, hi: f64, scale: f64, width: usize) -> Vec<Span<'static>> {
    let width = width.max(3);
    let scale = if scale > 0.0 && scale.is_finite() {
        scale
    } else {
        1.0
    };
    let last = (width - 1) as f64;
    let col = |v: f64| -> usize {
        let t = ((v / scale + 1.0) / 2.0 * last).round();
        t.clamp(0.0, last) as usize
    };
    let (from, to, at, zero) = (col(lo), col(hi), col(point), col(0.0));
    let bar = Verdict::of(lo, hi).style();
    let mut spans: Vec<Span> = Vec::new();
    let mut run = String::new();
    let mut run_style = Style::default();
    for x in 0..width {
        let (ch, style) = if x == at {
            ('●', bar)
        } else if x == zero {
            ('│', Style::default())
        } else if (from..=to).contains(&x) {
            ('━', bar)
        } else {
            ('·', theme::muted())
        };
        if style != run_style && !run.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut run), run_style));
        }
        run_style = style;
        run.push(ch);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, run_style));
    }
    spans
}

fn relative(exp: &Experiment) -> bool {
    exp.difference != Difference::Absolute
}

fn mean_text(report: &Report, m: f64) -> String {
    if report.primary.kind == MetricKind::Binomial {
        format!("{:.2}%", m * 100.0)
    } else {
        format!("{m:.2}")
    }
}

/// The evidence for one treatment, in words, with how it reads.
fn evidence(v: &VariationResult, alpha: f64) -> (String, Style) {
    match (v.p_value, v.chance_to_win) {
        (Some(Some(p)), _) if p < alpha => (
            format!("statistically significant (p = {p:.4})"),
            theme::bold(),
        ),
        (Some(Some(p)), _) => (
            format!("not significant (p = {p:.3}): consistent with no difference"),
            Style::default(),
        ),
        (_, Some(Some(c))) => {
            let style = if c > 1.0 - alpha || c < alpha {
                theme::bold()
            } else {
                Style::default()
            };
            (
                format!("{:.1}% chance to beat the control", c * 100.0),
                style,
            )
        }
        _ => (
            v.message
                .clone()
                .unwrap_or_else(|| "not enough data yet".into()),
            theme::muted(),
        ),
    }
}

fn stop_line(stop: &StopCheck) -> Line<'static> {
    match stop {
        StopCheck::KeepRunning { reason } => Line::from(vec![
            Span::styled("keep running: ", theme::level(Level::Warn)),
            Span::raw(reason.clone()),
        ]),
        StopCheck::MayStop { reason } => Line::from(vec![
            Span::styled("may stop: ", theme::good()),
            Span::raw(reason.clone()),
        ]),
    }
}

fn pad(s: &str, w: usize) -> String {
    let mut out: String = s.chars().take(w).collect();
    let n = out.chars().count();
    out.push_str(&" ".repeat(w.saturating_sub(n)));
    out
}

/// The analysis of a running experiment, SRM first.
fn analysis_lines(report: &Report, width: u16) -> Vec<Line<'static>> {
    let exp = &report.experiment;
    let result = &report.primary.result;
    let rel = relative(exp);
    let mut lines = Vec::new();
    if result.srm_flag {
        let text = report.summary.first().cloned().unwrap_or_else(|| {
            format!(
                "WARNING: sample ratio mismatch (p = {:.6}).",
                result.srm_p_value
            )
        });
        lines.push(Line::styled(format!("⚠ {text}"), theme::error()));
    }
    let treatments: Vec<&VariationResult> = result.variations.iter().skip(1).collect();
    // One scale for every treatment, so their bars compare.
    let scale = treatments
        .iter()
        .flat_map(|v| {
            let ci = v.ci.unwrap_or([0.0, 0.0]);
            [ci[0].abs(), ci[1].abs(), v.lift.unwrap_or(0.0).abs()]
        })
        .fold(0.0_f64, f64::max);
    let bar_w = {
        let room = usize::from(width).saturating_sub(NAME_W + 30);
        let w = room.clamp(MIN_BAR, MAX_BAR);
        if w.is_multiple_of(2) { w - 1 } else { w }
    };
    if let Some(control) = result.variations.first() {
        lines.push(Line::styled(
            format!(
                "{}control · n={} · mean {}",
                pad(&control.name, NAME_W),
                format::count(control.n),
                mean_text(report, control.mean)
            ),
            theme::muted(),
        ));
    }
    let level = ((1.0 - exp.alpha) * 100.0).round();
    for v in treatments {
        let mut head = vec![Span::raw(pad(&v.name, NAME_W))];
        match (v.lift, v.ci) {
            (Some(lift), Some([lo, hi])) => {
                head.extend(interval_bar(lo, lift, hi, scale, bar_w));
                head.push(Span::styled(
                    format!(" {}", format::effect(lift, rel)),
                    Verdict::of(lo, hi).style(),
                ));
                head.push(Span::styled(
                    format!(
                        " ({level}%: {} to {})",
                        format::effect(lo, rel),
                        format::effect(hi, rel)
                    ),
                    theme::muted(),
                ));
            }
            _ => head.push(Span::styled("no interval yet", theme::muted())),
        }
        lines.push(Line::from(head));
        let (words, style) = evidence(v, exp.alpha);
        let figures = format!(
            " · n={} · mean {}",
            format::count(v.n),
            mean_text(report, v.mean)
        );
        let mut line = vec![Span::raw(" ".repeat(NAME_W))];
        // The figures only where they fit: the words matter more.
        let fits = NAME_W + words.chars().count() + figures.chars().count() <= usize::from(width);
        line.push(Span::styled(words, style));
        if fits {
            line.push(Span::styled(figures, theme::muted()));
        }
        lines.push(Line::from(line));
    }
    for s in report
        .summary
        .iter()
        .filter(|s| s.contains("hurts the guardrail"))
    {
        lines.push(Line::styled(s.clone(), theme::error()));
    }
    lines.push(stop_line(&report.stop));
    lines
}

/// What the panel says about an experiment that is not running.
fn state_lines(exp: &Experiment) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    match exp.state {
        State::Draft => {
            lines.push(Line::from(format!(
                "Not started. Plan: {} units per variation over {} days.",
                format::count(u64::try_from(exp.planned_per_variation).unwrap_or(0)),
                exp.planned_days
            )));
            lines.push(Line::styled(
                format!("Hypothesis: {}", exp.hypothesis),
                theme::muted(),
            ));
        }
        _ => {
            let who = exp
                .decided_by
                .as_deref()
                .map(|h| format!(" by @{h}"))
                .unwrap_or_default();
            lines.push(Line::from(match &exp.winner {
                Some(w) => format!("Decided{who}: {w} implemented."),
                None => format!("Decided{who}: no winner, the control stays."),
            }));
            if let Some(r) = &exp.decision_reason {
                lines.push(Line::styled(r.clone(), theme::muted()));
            }
            if let Some(l) = &exp.learnings {
                lines.push(Line::from(format!("Learnings: {l}")));
            }
        }
    }
    lines
}

fn days_run(exp: &Experiment, now: DateTime<Utc>) -> String {
    exp.started_at
        .map(|s| format!("{:.1}d", (now - s).num_seconds().max(0) as f64 / 86_400.0))
        .unwrap_or_else(|| "—".into())
}

fn check_span(row: &ExperimentRow) -> Span<'static> {
    let exp = &row.experiment;
    match &row.analysis {
        Analysis::Ready(r) if r.primary.result.srm_flag => {
            Span::styled("SRM mismatch", theme::error())
        }
        Analysis::Ready(r) => match (&r.suggested_winner, &r.stop) {
            (Some(w), StopCheck::MayStop { .. }) => {
                Span::styled(format!("winner {w}"), theme::good())
            }
            (_, StopCheck::MayStop { .. }) => Span::styled("may stop", theme::good()),
            (_, StopCheck::KeepRunning { .. }) => Span::styled("keep running", theme::muted()),
        },
        Analysis::Failed(_) => Span::styled("analysis failed", theme::error()),
        Analysis::None if exp.state == State::Running => Span::styled("analysing…", theme::muted()),
        Analysis::None => match (&exp.winner, exp.state) {
            (_, State::Draft) => Span::styled("—", theme::muted()),
            (Some(w), _) => Span::raw(format!("→ {w}")),
            (None, _) => Span::styled("no winner", theme::muted()),
        },
    }
}

fn units(row: &ExperimentRow) -> String {
    row.analysis
        .report()
        .map(|r| format::count(r.primary.result.variations.iter().map(|v| v.n).sum()))
        .unwrap_or_else(|| "—".into())
}

fn matches(row: &ExperimentRow, filter: &str) -> bool {
    let e = &row.experiment;
    [
        e.key.as_str(),
        e.name.as_str(),
        e.metric.as_str(),
        e.state.as_str(),
        e.owner.as_str(),
        e.hypothesis.as_str(),
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(filter))
        || (filter.contains("srm")
            && row
                .analysis
                .report()
                .is_some_and(|r| r.primary.result.srm_flag))
}

/// The list, then the analysis panel.
fn split(state: &AppState, body: Rect) -> (Rect, Rect) {
    let rows = experiments(&state.snapshot).len();
    let want = u16::try_from(rows + 3).unwrap_or(u16::MAX).max(4);
    let cap = (body.height * 2 / 5).max(4);
    let height = want.min(cap).min(body.height);
    let [list, panel] =
        Layout::vertical([Constraint::Length(height), Constraint::Fill(1)]).areas(body);
    (list, panel)
}

impl Screen for Experiments {
    fn id(&self) -> &'static str {
        "experiments"
    }

    fn part(&self) -> Option<&'static dyn data::Part> {
        Some(&Part)
    }

    fn title(&self) -> &'static str {
        "Experiments"
    }

    fn short_title(&self) -> &'static str {
        "A/B"
    }

    fn badge(&self, state: &AppState) -> Option<(String, Level)> {
        let running: Vec<&ExperimentRow> = experiments(&state.snapshot)
            .iter()
            .filter(|r| r.experiment.state == State::Running)
            .collect();
        let srm = running.iter().any(|r| {
            r.analysis
                .report()
                .is_some_and(|x| x.primary.result.srm_flag)
        });
        let level = if srm { Level::Alert } else { Level::Normal };
        (!running.is_empty()).then(|| (running.len().to_string(), level))
    }

    fn matching(&self, snap: &Snapshot, filter: &str) -> Vec<usize> {
        experiments(snap)
            .iter()
            .enumerate()
            .filter(|(_, r)| filter.is_empty() || matches(r, filter))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_id(&self, snap: &Snapshot, row: usize) -> Option<i64> {
        experiments(snap).get(row).map(|r| r.experiment.id)
    }

    fn list_area(&self, state: &AppState, body: Rect) -> Rect {
        split(state, body).0
    }

    fn render(&self, state: &AppState, list: &ListView, frame: &mut Frame, body: Rect) {
        let snap = &state.snapshot;
        let (top, panel) = split(state, body);
        let spec = TableSpec {
            title: Line::styled(" Experiments ", theme::bold()),
            header: Row::new(vec!["Key", "State", "Metric", "Days", "Units", "Check"]),
            widths: vec![
                Constraint::Fill(1),
                Constraint::Length(10),
                Constraint::Length(14),
                Constraint::Length(5),
                Constraint::Length(8),
                Constraint::Length(12),
            ],
            empty: if list.filter.is_empty() {
                "No experiments yet.".into()
            } else {
                format!("No experiment matches “{}”.", list.filter)
            },
        };
        table_rows(frame, top, list, spec, |i| {
            let Some(row) = experiments(snap).get(i) else {
                return Row::default();
            };
            let e = &row.experiment;
            let state_style = if e.state == State::Running {
                theme::accent()
            } else {
                Style::default()
            };
            Row::new(vec![
                Cell::from(e.key.clone()),
                Cell::from(Span::styled(e.state.as_str(), state_style)),
                Cell::from(e.metric.clone()),
                Cell::from(days_run(e, state.now)),
                Cell::from(Line::from(units(row)).right_aligned()),
                Cell::from(check_span(row)),
            ])
        });
        if panel.height < 3 {
            return;
        }
        let selected = list.current().and_then(|r| experiments(snap).get(r));
        let title = selected
            .map(|r| format!(" {} · {} ", r.experiment.key, r.experiment.name))
            .unwrap_or_else(|| " Analysis ".into());
        let block = Block::bordered()
            .title(Line::styled(title, theme::bold()))
            .border_style(theme::border())
            .padding(ratatui::widgets::Padding::horizontal(1));
        let inner = block.inner(panel);
        frame.render_widget(block, panel);
        let lines = match selected {
            None => vec![Line::styled("Select an experiment.", theme::muted())],
            Some(row) => match &row.analysis {
                Analysis::Ready(report) => analysis_lines(report, inner.width),
                Analysis::Failed(e) => vec![Line::styled(
                    format!("The analysis failed: {e}"),
                    theme::error(),
                )],
                Analysis::None if row.experiment.state == State::Running => {
                    vec![Line::styled("Analysing…", theme::muted())]
                }
                Analysis::None => state_lines(&row.experiment),
            },
        };
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }

    fn detail(&self, state: &AppState, row: usize) -> Option<Detail> {
        let row = experiments(&state.snapshot).get(row)?;
        let e = &row.experiment;
        let label = |s: &str| Span::styled(format!("{s:<11}"), theme::muted());
        let mut lines = vec![
            Line::from(vec![label("hypothesis"), Span::raw(e.hypothesis.clone())]),
            Line::from(vec![
                label("owner"),
                Span::raw(format!("@{} · {}", e.owner, e.state)),
            ]),
            Line::from(vec![
                label("metric"),
                Span::raw(format!(
                    "{} ({})",
                    e.metric,
                    model::metric_kind_str(e.metric_kind)
                )),
            ]),
            Line::from(vec![
                label("design"),
                Span::raw(format!(
                    "{}{}, {} difference, α {}, power {}, MDE {}",
                    model::engine_str(e.engine),
                    if e.sequential { " sequential" } else { "" },
                    model::difference_str(e.difference),
                    e.alpha,
                    e.power,
                    format::effect(e.mde, true)
                )),
            ]),
            Line::from(vec![
                label("plan"),
                Span::raw(format!(
                    "{} per variation over {} days",
                    format::count(u64::try_from(e.planned_per_variation).unwrap_or(0)),
                    e.planned_days
                )),
            ]),
        ];
        if !e.guardrails.is_empty() {
            lines.push(Line::from(vec![
                label("guardrails"),
                Span::raw(e.guardrails.join(", ")),
            ]));
        }
        lines.push(Line::default());
        match &row.analysis {
            Analysis::Ready(r) => {
                lines.push(Line::styled("What it means", theme::bold()));
                for (i, s) in r.summary.iter().enumerate() {
                    let style = if i == 0 && r.primary.result.srm_flag {
                        theme::error()
                    } else {
                        Style::default()
                    };
                    lines.push(Line::styled(format!("• {s}"), style));
                }
                if !r.adjusted_p_values.is_empty() {
                    lines.push(Line::default());
                    lines.push(Line::styled(
                        "Holm-adjusted p-values (every metric and arm)",
                        theme::bold(),
                    ));
                    for (metric, arm, p) in &r.adjusted_p_values {
                        lines.push(Line::from(format!("  {metric} · {arm}: {p:.4}")));
                    }
                }
            }
            Analysis::Failed(msg) => lines.push(Line::styled(
                format!("The analysis failed: {msg}"),
                theme::error(),
            )),
            Analysis::None => lines.extend(state_lines(e)),
        }
        Some(Detail {
            title: format!("{} · {}", e.key, e.name),
            lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Color;

    fn text(spans: &[Span]) -> String {
        spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn colour_of(spans: &[Span], ch: char) -> Option<Color> {
        spans
            .iter()
            .find(|s| s.content.contains(ch))
            .and_then(|s| s.style.fg)
    }

    #[test]
    fn an_interval_above_zero_is_green_with_zero_left_of_it() {
        let bar = interval_bar(0.02, 0.05, 0.08, 0.1, 21);
        assert_eq!(text(&bar), "··········│·━━━●━━━··");
        assert_eq!(colour_of(&bar, '●'), Some(Color::Green));
    }

    #[test]
    fn an_interval_below_zero_is_red() {
        let bar = interval_bar(-0.08, -0.05, -0.02, 0.1, 21);
        assert_eq!(text(&bar), "··━━━●━━━·│··········");
        assert_eq!(colour_of(&bar, '━'), Some(Color::Red));
    }

    #[test]
    fn an_interval_across_zero_is_grey_and_keeps_the_zero_line() {
        let bar = interval_bar(-0.04, 0.02, 0.08, 0.1, 21);
        assert_eq!(text(&bar), "······━━━━│━●━━━━━━··");
        assert_eq!(colour_of(&bar, '━'), Some(Color::DarkGray));
        assert_eq!(Verdict::of(-0.04, 0.08), Verdict::Crosses);
    }

    #[test]
    fn a_degenerate_scale_still_draws() {
        let bar = interval_bar(0.0, 0.0, 0.0, 0.0, 5);
        assert_eq!(text(&bar).chars().count(), 5);
    }
}
