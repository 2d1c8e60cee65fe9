//! Frame render time of the control room with big lists (a benchmark, not a
//! test: figures are printed, nothing is asserted).
//!
//! `CARGO_TARGET_DIR=/work/target-tui cargo bench -p vivid-tui --bench render`

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Size;
use vivid_core::engine::approvals::{ApprovalRequest, DecisionRecord};
use vivid_core::engine::events::Event;
use vivid_core::status::{
    ApprovalStatus, EngineStatus, EscalationStatus, EventStatus, Kpi, Status,
};
use vivid_tui::snapshot::{ApprovalRow, Snapshot, status_tiles};
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
            outbox_delivered: 90_000,
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
            total: 1_000_000,
            last_24h: 86_400,
            last_id: Some(ROWS as i64),
        },
        kpis: kpis.clone(),
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
        })
        .collect();
    Snapshot {
        taken_at: Some(t),
        organisation: status.organisation.clone(),
        tiles: status_tiles(&status),
        kpis,
        approvals,
        events,
    }
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
    println!("state with {ROWS} approvals and {ROWS} events; applying a snapshot took {load:.1?}");
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "resident memory: {after} KiB after building the state ({before} KiB before; \
             the state and one spare snapshot copy)"
        );
    }
    let mut terminal =
        Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap_or_else(|e| panic!("{e}"));
    bench_screen(&mut state, &mut terminal, "overview");
    bench_screen(&mut state, &mut terminal, "approvals");
    bench_screen(&mut state, &mut terminal, "events");

    // Typing a filter re-filters the whole list on each keystroke.
    state.tab = screens::position("events").unwrap_or(0);
    update(&mut state, key(KeyCode::Char('/')));
    let mut times = Vec::new();
    for c in "crisis".chars() {
        let start = Instant::now();
        update(&mut state, key(KeyCode::Char(c)));
        times.push(start.elapsed());
    }
    update(&mut state, key(KeyCode::Esc));
    report("filter keystroke (10k events)", times);

    // A new snapshot arriving (the feed's steady state).
    let mut times = Vec::new();
    for _ in 0..20 {
        let next = Box::new(snapshot.clone());
        let start = Instant::now();
        update(&mut state, Msg::Loaded(next));
        times.push(start.elapsed());
    }
    report("apply snapshot (10k + 10k rows)", times);
}
