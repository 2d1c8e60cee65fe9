//! Frame render time and resident memory of the control room with big lists:
//! 10,000 approvals, events, incidents and content items (a benchmark, not
//! a test: figures are printed, nothing is asserted).
//!
//! `CARGO_TARGET_DIR=/work/target-tui cargo bench -p vivid-tui --bench render`

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Size;
use vivid_core::content::model::State as ContentState;
use vivid_core::content::read::{Review, Stage};
use vivid_core::content::store::Item;
use vivid_core::crisis::read::EscalationProgress as EscalationLevel;
use vivid_core::crisis::store::Incident;
use vivid_core::crisis::{Phase, Severity, Status as IncidentStatus};
use vivid_core::engine::approvals::{ApprovalRequest, DecisionRecord};
use vivid_core::engine::events::Event;
use vivid_core::experiments::model::{State, StopCheck};
use vivid_core::experiments::report::MetricRole;
use vivid_core::experiments::service::{Experiment, MetricAnalysis, Report, SrmCheck, Variation};
use vivid_core::stats::{
    AnalysisOutput, Difference, Engine, MetricKind, VariationResult, VariationStatus,
};
use vivid_core::status::{
    ApprovalStatus, EngineStatus, EscalationStatus, EventStatus, Kpi, Status, WorkflowStatus,
};
use vivid_tui::screens::approvals::{ApprovalRow, Pending};
use vivid_tui::screens::content::{ContentRow, Pipeline};
use vivid_tui::screens::crisis::{Board, IncidentRow};
use vivid_tui::screens::events::Log;
use vivid_tui::screens::experiments::{Analysis, ExperimentRow, Lab};
use vivid_tui::screens::overview::Figures;
use vivid_tui::snapshot::{Snapshot, status_tiles};
use vivid_tui::{AppState, Msg, screens, update, view};

const ROWS: usize = 10_000;
const FRAMES: usize = 1_000;
const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 6, 12, 35)
        .single()
        .unwrap_or_else(|| panic!("a valid instant"))
}

fn snapshot() -> Snapshot {
    let t = now();
    let kpis: Vec<Kpi> = [
        "conversion_rate",
        "critical_out_of_stock",
        "daily_capacity",
        "daily_revenue",
        "negative_sentiment",
        "order_backlog",
        "orders",
        "roas",
        "sessions",
    ]
    .iter()
    .enumerate()
    .map(|(i, m)| Kpi {
        metric: (*m).into(),
        unit: "count".into(),
        value: 100.0 + i as f64,
        at: t,
        trend: (0..24).map(|k| ((k * 7 + i * 3) % 11) as f64).collect(),
    })
    .collect();
    let status = Status {
        generated_at: t,
        organisation: "VividWalls".into(),
        engine: EngineStatus {
            workers: vec!["bench:1:0001".into()],
            timers_pending: 1200,
            timers_overdue: 3,
            timers_failed: 0,
            outbox_pending: 40,
            outbox_dead: 1,
        },
        approvals: ApprovalStatus {
            pending: ROWS as i64,
            overdue: 120,
            escalated: 4,
        },
        escalations: EscalationStatus {
            active: 7,
            exhausted: 1,
        },
        events: EventStatus {
            last_24h: 86_400,
            last_id: Some(ROWS as i64),
        },
        kpis: kpis.clone(),
        workflows: ["crisis", "content", "experiments"]
            .iter()
            .map(|name| WorkflowStatus {
                name: (*name).into(),
                open: ROWS as i64,
                breaches: 12,
                kpis: vec![("live".into(), "1,204".into())],
                trend: (0..14).map(|d| (d % 5) as f64).collect(),
            })
            .collect(),
    };
    let approvals = (0..ROWS)
        .map(|i| {
            let id = i as i64 + 1;
            ApprovalRow {
                request: ApprovalRequest {
                    id,
                    workflow: ["content", "budget", "vendor"][i % 3].into(),
                    entity_id: (i % 977).to_string(),
                    subject_version: 1,
                    title: format!("Approval request number {id} for the spring campaign"),
                    requested_by: "lena".into(),
                    eligible_roles: vec!["director:marketing".into(), "operator".into()],
                    required: 2,
                    must_include: Vec::new(),
                    status: "pending".into(),
                    deadline: t + TimeDelta::seconds(i as i64 * 37 - 3600),
                    created_at: t - TimeDelta::hours(20),
                    decided_at: None,
                    escalate_to: Vec::new(),
                },
                decisions: vec![DecisionRecord {
                    approver: "maya".into(),
                    decision: "approve".into(),
                    comment: String::new(),
                    decided_at: t - TimeDelta::hours(1),
                }],
                operator_may_decide: i % 2 == 0,
            }
        })
        .collect();
    let events = (0..ROWS)
        .map(|i| Event {
            id: i as i64 + 1,
            workflow: ["content", "crisis", "budget", "engine"][i % 4].into(),
            entity_type: "approval".into(),
            entity_id: (i % 977).to_string(),
            action: [
                "approval_requested",
                "approval_approve",
                "escalated",
                "timer_failed",
            ][i % 4]
                .into(),
            from_state: Some("pending".into()),
            to_state: Some("approved".into()),
            actor: "maya".into(),
            reason: (i % 5 == 0).then(|| "looks good to me".to_string()),
            payload: serde_json::json!({ "approval_id": i, "version": 1 }),
            occurred_at: t - TimeDelta::seconds((ROWS - i) as i64),
            correlation_id: None,
        })
        .collect();
    let content = content(t);
    // Privacy and Journey are not benchmarked: short lists.
    let mut snap = Snapshot::new(Some(t), status.organisation.clone());
    snap.set(Figures {
        tiles: status_tiles(&status),
        kpis,
        status: Some(status),
        engine_read: None,
    });
    snap.set(Pending { rows: approvals });
    snap.set(Log { events });
    snap.set(Board { rows: incidents(t) });
    snap.set(Pipeline {
        stages: ContentState::ALL
            .iter()
            .map(|&state| Stage {
                state,
                count: content.iter().filter(|r| r.item.state == state).count(),
                capped: false,
            })
            .collect(),
        rows: content,
    });
    snap.set(Lab {
        rows: experiments(t),
    });
    snap
}

/// Incidents as core lists them: triggered, then acknowledged, then resolved.
fn incidents(t: DateTime<Utc>) -> Vec<IncidentRow> {
    // A tenth triggered, four tenths acknowledged, half resolved.
    let rows: Vec<IncidentRow> = (0..ROWS)
        .map(|i| {
            let id = i as i64 + 1;
            let status = if i < ROWS / 10 {
                IncidentStatus::Triggered
            } else if i < ROWS / 2 {
                IncidentStatus::Acknowledged
            } else {
                IncidentStatus::Resolved
            };
            let phase = match status {
                IncidentStatus::Triggered => Phase::Detection,
                IncidentStatus::Acknowledged => Phase::ALL[1 + i % 4],
                _ => Phase::ALL[5 + i % 3],
            };
            let opened = t - TimeDelta::seconds(60 + (i as i64 * 53) % 86_400);
            let started = opened + TimeDelta::seconds(30);
            let acked = status != IncidentStatus::Triggered;
            IncidentRow {
                incident: Incident {
                    id,
                    title: format!(
                        "Incident {id}: checkout latency above threshold in region {}",
                        i % 7
                    ),
                    description: "Synthetic incident for the render benchmark.".into(),
                    severity: Severity::ALL[i % 4],
                    source: "kpi_trigger".into(),
                    source_ref: None,
                    departments: vec!["technology".into(), "operations".into()],
                    status,
                    phase,
                    phase_started_at: started,
                    ack_deadline: opened + TimeDelta::minutes(15),
                    commander: acked.then(|| "kai".to_string()),
                    scribe: None,
                    liaison: None,
                    opened_by: "engine".into(),
                    opened_at: opened,
                    acknowledged_by: acked.then(|| ["kai", "olu", "omar"][i % 3].to_string()),
                    acknowledged_at: acked.then_some(opened + TimeDelta::minutes(4)),
                    resolved_by: None,
                    resolved_at: None,
                    closed_by: None,
                    closed_at: None,
                    last_progress_at: started,
                    trigger_key: None,
                    updated_at: started,
                    responder: acked.then(|| ["kai", "olu", "omar"][i % 3].to_string()),
                    next_update_at: None,
                    simulated: false,
                },
                phase_deadline: Some(started + TimeDelta::hours(2)),
                escalation: (status != IncidentStatus::Resolved).then(|| EscalationLevel {
                    reached: 1 + (i % 3) as i32,
                    levels: 3,
                    status: if acked { "acknowledged" } else { "active" }.into(),
                }),
            }
        })
        .collect();
    rows
}

/// Content items in pipeline order; a tenth of them in review.
fn content(t: DateTime<Utc>) -> Vec<ContentRow> {
    let mut rows: Vec<ContentRow> = (0..ROWS)
        .map(|i| {
            let id = i as i64 + 1;
            let state = ContentState::ALL[i % ContentState::ALL.len()];
            let in_review = state == ContentState::Review;
            ContentRow {
                item: Item {
                    id,
                    kind: ["email", "blog_post", "social_post"][i % 3].into(),
                    title: format!("Content item {id}: spring collection feature"),
                    owner: ["lena", "remy", "maya"][i % 3].into(),
                    channel: ["email", "blog", "instagram"][i % 3].into(),
                    campaign: Some("spring-2027".into()),
                    cost_cents: 0,
                    state,
                    version: 1 + (i % 4) as i32,
                    approved_version: None,
                    approval_id: in_review.then_some(id),
                    revision_rounds: 0,
                    created_by: "lena".into(),
                    created_at: t - TimeDelta::days(3),
                    updated_at: t - TimeDelta::seconds(i as i64),
                    last_edit_at: t - TimeDelta::seconds(i as i64),
                    published_at: None,
                    archived_at: None,
                },
                review: in_review.then(|| Review {
                    request_id: id,
                    status: "pending".into(),
                    deadline: t + TimeDelta::seconds(i as i64 * 13 - 7200),
                    approvals: i % 2,
                    required: 2,
                }),
                waits_on_reader: i % 5 == 0,
            }
        })
        .collect();
    let rank = |s: ContentState| ContentState::ALL.iter().position(|x| *x == s);
    rows.sort_by_key(|r| rank(r.item.state));
    rows
}

fn arm(name: &str, n: u64, lift: Option<[f64; 3]>) -> VariationResult {
    VariationResult {
        name: name.into(),
        n,
        mean: 0.03,
        lift: lift.map(|l| l[1]),
        ci: lift.map(|l| [l[0], l[2]]),
        p_value: Some(lift.map(|_| 0.04)),
        chance_to_win: None,
        risk: None,
        status: if lift.is_some() {
            VariationStatus::Ok
        } else {
            VariationStatus::Control
        },
        message: None,
        theta: None,
    }
}

/// Twenty experiments, the running ones analysed.
fn experiments(t: DateTime<Utc>) -> Vec<ExperimentRow> {
    (0..20)
        .map(|i| {
            let running = i < 12;
            let experiment = Experiment {
                id: i + 1,
                key: format!("experiment-{i}"),
                name: format!("Experiment number {i}"),
                hypothesis: "A clearer call to action lifts add to cart.".into(),
                owner: "maya".into(),
                state: if running {
                    State::Running
                } else {
                    State::Decided
                },
                metric: "add_to_cart".into(),
                metric_kind: MetricKind::Binomial,
                guardrails: Vec::new(),
                engine: Engine::Frequentist,
                difference: Difference::Relative,
                sequential: false,
                sequential_tuning: 5000.0,
                alpha: 0.05,
                power: 0.8,
                mde: 0.1,
                baseline: 0.03,
                baseline_variance: None,
                daily_traffic: 4000,
                planned_per_variation: 20_000,
                planned_days: 14,
                planned_total: 40_000,
                fixed_total: 40_000,
                secondary: Vec::new(),
                covariates: false,
                dimensions: false,
                content_id: None,
                follows: None,
                started_at: Some(t - TimeDelta::days(3)),
                decided_at: None,
                decided_by: None,
                winner: None,
                decision_reason: None,
                learnings: None,
                documented_at: None,
                created_at: t - TimeDelta::days(9),
                updated_at: t - TimeDelta::hours(1),
            };
            let shift = i as f64 / 100.0;
            let analysis = if running {
                let arms = vec![
                    arm("a", 10_000, None),
                    arm(
                        "b",
                        10_050,
                        Some([-0.02 + shift, 0.02 + shift, 0.06 + shift]),
                    ),
                    arm("c", 9_990, Some([-0.07, -0.04, -0.01])),
                ];
                Analysis::Ready(Box::new(Report {
                    experiment: experiment.clone(),
                    variations: arms
                        .iter()
                        .enumerate()
                        .map(|(p, a)| Variation {
                            key: a.name.clone(),
                            weight: 1.0 / 3.0,
                            position: p as i32,
                        })
                        .collect(),
                    srm: SrmCheck {
                        p_value: if i % 4 == 0 { 0.0001 } else { 0.5 },
                        mismatch: i % 4 == 0,
                        arms: Vec::new(),
                        sentence: String::new(),
                    },
                    primary: MetricAnalysis {
                        metric: "add_to_cart".into(),
                        kind: MetricKind::Binomial,
                        role: MetricRole::Primary,
                        result: AnalysisOutput {
                            srm_p_value: if i % 4 == 0 { 0.0001 } else { 0.5 },
                            srm_flag: i % 4 == 0,
                            variations: arms,
                        },
                        verdicts: Vec::new(),
                    },
                    guardrails: Vec::new(),
                    secondary: Vec::new(),
                    cuped: false,
                    breakdowns: Vec::new(),
                    breakdown_correction: String::new(),
                    adjusted_p_values: Vec::new(),
                    stop: StopCheck::KeepRunning {
                        reason: "10000 of 20000 units per variation and 3.0 of 14 days".into(),
                    },
                    suggested_winner: None,
                    summary: vec!["WARNING: sample ratio mismatch (p = 0.000100).".into()],
                }))
            } else {
                Analysis::None
            };
            ExperimentRow {
                experiment,
                analysis,
                analysed_at: None,
            }
        })
        .collect()
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// A figure from /proc/self/status, in KiB (VmRSS: resident now; VmHWM:
/// the peak).
fn proc_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn resident_kib() -> Option<u64> {
    proc_kib("VmRSS:")
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let n = times.len().max(1);
    let mean = times.iter().sum::<Duration>() / u32::try_from(n).unwrap_or(u32::MAX);
    let p99 = times
        .get((n * 99 / 100).min(n - 1))
        .copied()
        .unwrap_or_default();
    let max = times.last().copied().unwrap_or_default();
    println!("{name:<34} mean {mean:>10.1?}  p99 {p99:>10.1?}  max {max:>10.1?}  ({n} frames)");
}

/// Render `FRAMES` frames of screen `id`, moving the cursor between frames
/// so every frame has something new to draw.
fn bench_screen(state: &mut AppState, terminal: &mut Terminal<TestBackend>, id: &str) {
    state.tab = screens::position(id).unwrap_or_else(|| panic!("no {id} screen"));
    update(state, key(KeyCode::Char('g')));
    let mut times = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        update(
            state,
            key(if i % 200 < 100 {
                KeyCode::Down
            } else {
                KeyCode::PageDown
            }),
        );
        let start = Instant::now();
        terminal
            .draw(|f| view(state, f))
            .unwrap_or_else(|e| panic!("{e}"));
        times.push(start.elapsed());
    }
    report(&format!("render {id} ({WIDTH}x{HEIGHT})"), times);
}

fn main() {
    let rss_before = resident_kib();
    let snapshot = snapshot();
    let mut state = AppState::new("olu", now(), Size::new(WIDTH, HEIGHT));
    let start = Instant::now();
    update(&mut state, Msg::Loaded(Box::new(snapshot.clone())));
    let load = start.elapsed();
    let rss_after = resident_kib();
    println!(
        "state with {ROWS} approvals, {ROWS} events, {ROWS} incidents and {ROWS} content items; \
         applying a snapshot took {load:.1?}"
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "resident memory: {after} KiB after building the state ({before} KiB before; \
             the state and one spare snapshot copy: about {} KiB each)",
            after.saturating_sub(before) / 2
        );
    }
    let mut terminal =
        Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap_or_else(|e| panic!("{e}"));
    for id in [
        "overview",
        "crisis",
        "approvals",
        "content",
        "experiments",
        "events",
    ] {
        bench_screen(&mut state, &mut terminal, id);
    }
    // The clocks tick every second: a frame where only the time moved.
    state.tab = screens::position("crisis").unwrap_or(0);
    let mut times = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        update(&mut state, Msg::Tick(now() + TimeDelta::seconds(i as i64)));
        let start = Instant::now();
        terminal
            .draw(|f| view(&state, f))
            .unwrap_or_else(|e| panic!("{e}"));
        times.push(start.elapsed());
    }
    report(
        &format!("render crisis, tick only ({WIDTH}x{HEIGHT})"),
        times,
    );

    // Typing a filter re-filters the whole list on each keystroke.
    for (id, text) in [
        ("events", "crisis"),
        ("crisis", "checkout"),
        ("content", "spring"),
    ] {
        state.tab = screens::position(id).unwrap_or(0);
        update(&mut state, key(KeyCode::Char('/')));
        let mut times = Vec::new();
        for c in text.chars() {
            let start = Instant::now();
            update(&mut state, key(KeyCode::Char(c)));
            times.push(start.elapsed());
        }
        update(&mut state, key(KeyCode::Esc));
        report(&format!("filter keystroke (10k {id})"), times);
    }

    // A new snapshot arriving (the feed's steady state).
    let mut times = Vec::new();
    for _ in 0..20 {
        let next = Box::new(snapshot.clone());
        let start = Instant::now();
        update(&mut state, Msg::Loaded(next));
        times.push(start.elapsed());
    }
    report("apply snapshot (4 x 10k rows)", times);
    drop(snapshot);
    if let (Some(rss), Some(peak)) = (resident_kib(), proc_kib("VmHWM:")) {
        println!("resident memory at the end: {rss} KiB (peak {peak} KiB)");
    }
}
