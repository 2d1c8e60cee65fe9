//! Fixed data for tests: a snapshot at a fixed instant, built by hand.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Size;
use vivid_core::engine::approvals::{ApprovalRequest, DecisionRecord};
use vivid_core::engine::events::Event;
use vivid_core::status::{
    ApprovalStatus, EngineStatus, EscalationStatus, EventStatus, Kpi, Status,
};

use crate::app::{AppState, Msg, update};
use crate::snapshot::{ApprovalRow, Snapshot, status_tiles};

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 6, 12, 35)
        .single()
        .unwrap_or_else(|| panic!("a valid instant"))
}

fn ago(secs: i64) -> DateTime<Utc> {
    now() - TimeDelta::seconds(secs)
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn status() -> Status {
    Status {
        generated_at: now(),
        organisation: "VividWalls".into(),
        engine: EngineStatus {
            workers: vec!["studio:4242:0a1b".into()],
            timers_pending: 12,
            timers_overdue: 0,
            timers_failed: 0,
            outbox_pending: 3,
            outbox_dead: 0,
            outbox_delivered: 118,
        },
        approvals: ApprovalStatus {
            pending: 4,
            overdue: 1,
            escalated: 0,
        },
        escalations: EscalationStatus {
            active: 1,
            exhausted: 0,
        },
        events: EventStatus {
            total: 1230,
            last_24h: 321,
            last_id: Some(1230),
        },
        kpis: kpis(),
    }
}

fn kpis() -> Vec<Kpi> {
    let series =
        |base: f64, wobble: &[f64]| -> Vec<f64> { wobble.iter().map(|w| base * w).collect() };
    let shape = [
        0.92, 0.95, 1.01, 0.98, 1.04, 1.10, 1.02, 0.99, 1.05, 1.06, 1.03, 1.12, 1.04, 0.97,
    ];
    let flat = [1.0; 14];
    [
        ("conversion_rate", "ratio", 0.016, &shape),
        ("critical_out_of_stock", "count", 1.0, &flat),
        ("daily_capacity", "count", 140.0, &flat),
        ("daily_revenue", "USD", 8726.0, &shape),
        ("negative_sentiment", "ratio", 0.117, &shape),
        ("order_backlog", "count", 64.0, &shape),
        ("orders", "count", 81.0, &shape),
        ("roas", "ratio", 3.037, &shape),
        ("sessions", "count", 5111.0, &shape),
    ]
    .into_iter()
    .map(|(metric, unit, value, wobble)| Kpi {
        metric: metric.into(),
        unit: unit.into(),
        value,
        at: ago(95),
        trend: series(value, wobble),
    })
    .collect()
}

fn request(
    id: i64,
    workflow: &str,
    title: &str,
    by: &str,
    roles: &[&str],
    required: i32,
    deadline_in: i64,
) -> ApprovalRequest {
    ApprovalRequest {
        id,
        workflow: workflow.into(),
        entity_id: (id - 24).to_string(),
        subject_version: 1 + (id % 3) as i32,
        title: title.into(),
        requested_by: by.into(),
        eligible_roles: roles.iter().map(|r| r.to_string()).collect(),
        required,
        must_include: Vec::new(),
        status: "pending".into(),
        deadline: now() + TimeDelta::seconds(deadline_in),
        created_at: ago(20 * 3600),
        decided_at: None,
    }
}

fn approvals() -> Vec<ApprovalRow> {
    vec![
        ApprovalRow {
            request: request(
                42,
                "budget",
                "Q4 paid social budget shift",
                "felix",
                &["business_manager"],
                1,
                -25 * 60,
            ),
            decisions: Vec::new(),
            operator_may_decide: false,
        },
        ApprovalRow {
            request: request(
                41,
                "content",
                "Coastal Collection launch e-mail",
                "lena",
                &["director:marketing", "director:creative"],
                2,
                2 * 3600 + 13 * 60 + 20,
            ),
            decisions: vec![DecisionRecord {
                approver: "maya".into(),
                decision: "approve".into(),
                comment: "Love the palette".into(),
                decided_at: ago(40 * 60),
            }],
            operator_may_decide: false,
        },
        ApprovalRow {
            request: request(
                44,
                "content",
                "Homepage hero refresh",
                "remy",
                &["operator", "director:creative"],
                1,
                3 * 3600 + 5,
            ),
            decisions: Vec::new(),
            operator_may_decide: true,
        },
        ApprovalRow {
            request: request(
                43,
                "vendor",
                "Contract renewal: FrameCo",
                "victor",
                &["director:operations", "director:finance"],
                2,
                30 * 3600,
            ),
            decisions: Vec::new(),
            operator_may_decide: false,
        },
    ]
}

/// (workflow, entity type, action, from → to)
type Sample = (
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

const ACTIONS: &[Sample] = &[
    ("content", "approval", "approval_requested", None),
    (
        "content",
        "approval",
        "approval_approve",
        Some(("pending", "pending")),
    ),
    ("approvals", "escalation", "escalation_started", None),
    (
        "budget",
        "approval",
        "approval_escalated",
        Some(("pending", "escalated")),
    ),
    ("vendor", "approval", "approval_requested", None),
    ("engine", "timer", "timer_failed", None),
    (
        "content",
        "approval",
        "approval_request_changes",
        Some(("pending", "changes_requested")),
    ),
];

const ACTORS: &[&str] = &[
    "lena", "maya", "engine", "felix", "victor", "engine", "iris",
];

pub fn event(id: i64, workflow: &str, action: &str, at: DateTime<Utc>) -> Event {
    Event {
        id,
        workflow: workflow.into(),
        entity_type: "incident".into(),
        entity_id: (id % 97).to_string(),
        action: action.into(),
        from_state: None,
        to_state: None,
        actor: "omar".into(),
        reason: None,
        payload: serde_json::json!({}),
        occurred_at: at,
    }
}

pub fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let (workflow, entity_type, action, change) = ACTIONS[i % ACTIONS.len()];
            let id = 1230 - i64::try_from(n).unwrap_or(0) + 1 + i64::try_from(i).unwrap_or(0);
            Event {
                id,
                workflow: workflow.into(),
                entity_type: entity_type.into(),
                entity_id: (40 + i % 5).to_string(),
                action: action.into(),
                from_state: change.map(|c| c.0.to_string()),
                to_state: change.map(|c| c.1.to_string()),
                actor: ACTORS[i % ACTORS.len()].into(),
                reason: (i % 7 == 6).then(|| "Crop is off on the mobile layout".to_string()),
                payload: serde_json::json!({ "approval_id": 40 + i % 5, "version": 1 }),
                occurred_at: ago(47 * (n - i) as i64),
            }
        })
        .collect()
}

pub fn snapshot() -> Snapshot {
    snapshot_with_events(30)
}

pub fn snapshot_with_events(n: usize) -> Snapshot {
    let status = status();
    Snapshot {
        taken_at: Some(ago(1)),
        organisation: status.organisation.clone(),
        tiles: status_tiles(&status),
        kpis: status.kpis,
        approvals: approvals(),
        events: events(n),
    }
}

/// A loaded state at a fixed instant, at `width` x `height`.
pub fn state(width: u16, height: u16) -> AppState {
    state_with(width, height, snapshot())
}

pub fn state_with(width: u16, height: u16, snapshot: Snapshot) -> AppState {
    let mut s = AppState::new("olu", now(), Size::new(width, height));
    update(&mut s, Msg::Loaded(Box::new(snapshot)));
    s
}
