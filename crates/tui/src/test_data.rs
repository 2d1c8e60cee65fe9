//! Fixed data for tests: a snapshot at a fixed instant, built by hand.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Size;
use vivid_core::collab::read::{EdgeStats, Matrix};
use vivid_core::collab::service::View;
use vivid_core::content::model::State as ContentState;
use vivid_core::content::store::Item;
use vivid_core::crisis::service::Detail;
use vivid_core::crisis::store::Incident;
use vivid_core::crisis::{Phase, Status as IncidentStatus};
use vivid_core::engine::approvals::{ApprovalRequest, DecisionRecord};
use vivid_core::engine::escalation::{Escalation, Level as EscalationStep, Policy};
use vivid_core::engine::events::Event;
use vivid_core::engine::handoffs::Handoff;
use vivid_core::experiments::model::{State, StopCheck};
use vivid_core::experiments::report::MetricRole;
use vivid_core::experiments::service::{Experiment, MetricAnalysis, Report, SrmCheck, Variation};
use vivid_core::journey::read::Funnel;
use vivid_core::privacy::store::{Breach, Request as PrivacyRequest};
use vivid_core::stats::{
    AnalysisOutput, Difference, Engine, MetricKind, VariationResult, VariationStatus,
};
use vivid_core::status::{
    ApprovalStatus, EngineStatus, EscalationStatus, EventStatus, Kpi, Status, WorkflowStatus,
};
use vivid_core::vendor::model::State as VendorState;

use crate::app::{AppState, Fetched, Msg, update};
use crate::screens::approvals::{ApprovalRow, Pending};
use crate::screens::collab::Board as Collaboration;
use crate::screens::content::{ContentRow, Pipeline};
use crate::screens::crisis::{Board, IncidentRow};
use crate::screens::events::Log;
use crate::screens::experiments::{Analysis, ExperimentRow, Lab};
use crate::screens::journey::Leads;
use crate::screens::overview::Figures;
use crate::screens::privacy::Clocks;
use crate::snapshot::{Snapshot, status_tiles};
use vivid_core::content::read::{Review, Stage};
use vivid_core::crisis::read::EscalationProgress as EscalationLevel;

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
            last_24h: 321,
            last_id: Some(1230),
        },
        kpis: kpis(),
        workflows: workflows(),
    }
}

fn workflows() -> Vec<WorkflowStatus> {
    let kpis = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(l, v)| (l.to_string(), v.to_string()))
            .collect()
    };
    vec![
        WorkflowStatus {
            name: "crisis".into(),
            open: 4,
            breaches: 1,
            kpis: kpis(&[("open P1", "1"), ("MTTA 30d", "7m 12s")]),
            trend: vec![
                0.0, 1.0, 0.0, 0.0, 2.0, 1.0, 0.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 2.0,
            ],
        },
        WorkflowStatus {
            name: "content".into(),
            open: 3,
            breaches: 1,
            kpis: kpis(&[("live", "8"), ("optimising", "1")]),
            trend: Vec::new(),
        },
        WorkflowStatus {
            name: "experiments".into(),
            open: 3,
            breaches: 0,
            kpis: kpis(&[("exposures 24h", "4,812"), ("learnings", "6")]),
            trend: Vec::new(),
        },
    ]
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
        escalate_to: Vec::new(),
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
        correlation_id: None,
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
                correlation_id: None,
            }
        })
        .collect()
}

pub fn snapshot() -> Snapshot {
    snapshot_with_events(30)
}

/// The fields every incident shares; tests set the rest.
pub fn incident(id: i64, severity: &str, status: &str, title: &str) -> Incident {
    Incident {
        id,
        title: title.into(),
        description: String::new(),
        severity: severity.parse().unwrap_or_else(|e| panic!("{e}")),
        source: "manual".into(),
        source_ref: None,
        departments: vec!["operations".into()],
        status: IncidentStatus::parse(status)
            .unwrap_or_else(|| panic!("unknown incident status {status:?}")),
        phase: Phase::Detection,
        phase_started_at: ago(60),
        ack_deadline: now() + TimeDelta::minutes(10),
        commander: None,
        scribe: None,
        liaison: None,
        opened_by: "kai".into(),
        opened_at: ago(60),
        acknowledged_by: None,
        acknowledged_at: None,
        resolved_by: None,
        resolved_at: None,
        closed_by: None,
        closed_at: None,
        last_progress_at: ago(60),
        trigger_key: None,
        updated_at: ago(60),
        responder: None,
        next_update_at: None,
        simulated: false,
    }
}

fn escalated(reached: i32, levels: usize, status: &str) -> Option<EscalationLevel> {
    Some(EscalationLevel {
        reached,
        levels,
        status: status.into(),
    })
}

/// The board as core lists it (triggered first, by severity, oldest first),
/// with a P1 past its acknowledgement deadline and a P2 over its time box.
pub fn incidents() -> Vec<IncidentRow> {
    let phase_box = |phase: &str, started_secs_ago: i64, box_secs: i64| {
        (
            phase.parse::<Phase>().unwrap_or_else(|e| panic!("{e}")),
            ago(started_secs_ago),
            Some(ago(started_secs_ago) + TimeDelta::seconds(box_secs)),
        )
    };
    let mut rows = Vec::new();

    let mut p1 = incident(12, "P1", "triggered", "Checkout is down");
    p1.description = "Payments fail at the last step for every card.".into();
    p1.departments = vec!["technology".into(), "operations".into()];
    p1.opened_at = ago(19 * 60 + 12);
    p1.ack_deadline = p1.opened_at + TimeDelta::minutes(15);
    let (phase, started, deadline) = phase_box("detection", 19 * 60 + 12, 3600);
    p1.phase = phase;
    p1.phase_started_at = started;
    rows.push(IncidentRow {
        incident: p1,
        phase_deadline: deadline,
        escalation: escalated(2, 3, "active"),
    });

    let mut p4 = incident(13, "P4", "triggered", "Typo on the About page");
    p4.opened_at = ago(3 * 60);
    p4.ack_deadline = now() + TimeDelta::hours(10) + TimeDelta::minutes(47);
    let (phase, started, deadline) = phase_box("detection", 3 * 60, 3600);
    p4.phase = phase;
    p4.phase_started_at = started;
    rows.push(IncidentRow {
        incident: p4,
        phase_deadline: deadline,
        escalation: escalated(1, 2, "active"),
    });

    let mut p2 = incident(11, "P2", "acknowledged", "Payment provider latency");
    p2.opened_at = ago(2 * 3600 + 31 * 60);
    p2.acknowledged_by = Some("kai".into());
    p2.acknowledged_at = Some(ago(2 * 3600 + 20 * 60));
    p2.commander = Some("kai".into());
    let (phase, started, deadline) = phase_box("triage", 2 * 3600 + 12 * 60 + 4, 2 * 3600);
    p2.phase = phase;
    p2.phase_started_at = started;
    rows.push(IncidentRow {
        incident: p2,
        phase_deadline: deadline,
        escalation: escalated(1, 3, "acknowledged"),
    });

    let mut p3 = incident(9, "P3", "acknowledged", "Print queue backlog at the lab");
    p3.opened_at = ago(5 * 3600);
    p3.acknowledged_by = Some("olu".into());
    p3.acknowledged_at = Some(ago(4 * 3600 + 50 * 60));
    let (phase, started, deadline) = phase_box("implement_fix", 3600, 4 * 3600);
    p3.phase = phase;
    p3.phase_started_at = started;
    rows.push(IncidentRow {
        incident: p3,
        phase_deadline: deadline,
        escalation: escalated(1, 2, "acknowledged"),
    });

    let mut done = incident(7, "P2", "resolved", "Image CDN outage");
    done.opened_at = ago(26 * 3600);
    done.acknowledged_by = Some("tess".into());
    done.acknowledged_at = Some(ago(25 * 3600 + 50 * 60));
    done.resolved_by = Some("kai".into());
    done.resolved_at = Some(ago(30 * 60));
    let (phase, started, deadline) = phase_box("follow_up", 30 * 60, 2 * 3600);
    done.phase = phase;
    done.phase_started_at = started;
    rows.push(IncidentRow {
        incident: done,
        phase_deadline: deadline,
        escalation: None,
    });
    rows
}

/// What core's `detail` returns for the P1.
pub fn incident_detail(id: i64) -> Fetched<Detail> {
    let row = incidents()
        .into_iter()
        .find(|r| r.incident.id == id)
        .unwrap_or_else(|| panic!("no incident #{id}"));
    let inc = row.incident;
    let event = |n: i64,
                 action: &str,
                 actor: &str,
                 from: Option<&str>,
                 to: Option<&str>,
                 secs: i64,
                 reason: Option<&str>| Event {
        id: 2000 + n,
        workflow: "crisis".into(),
        entity_type: "incident".into(),
        entity_id: id.to_string(),
        action: action.into(),
        from_state: from.map(String::from),
        to_state: to.map(String::from),
        actor: actor.into(),
        reason: reason.map(String::from),
        payload: serde_json::json!({}),
        occurred_at: ago(secs),
        correlation_id: None,
    };
    let timeline = vec![
        event(
            1,
            "opened",
            "kai",
            None,
            Some("triggered"),
            19 * 60 + 12,
            Some("P1 Checkout is down"),
        ),
        event(
            2,
            "escalation_started",
            "engine",
            None,
            None,
            19 * 60 + 12,
            None,
        ),
        event(
            3,
            "escalated",
            "engine",
            Some("1"),
            Some("2"),
            4 * 60 + 12,
            Some("no acknowledgement"),
        ),
    ];
    let escalation = Escalation {
        id: 77,
        workflow: "crisis".into(),
        entity_id: id.to_string(),
        subject: format!("[P1] #{id} {}", inc.title),
        policy: Policy {
            name: "crisis-p1".into(),
            levels: (0..3)
                .map(|i| EscalationStep {
                    delay_secs: i * 300,
                    targets: vec![format!("schedule:level-{i}")],
                })
                .collect(),
            repeat: 0,
            repeat_after_secs: 0,
        },
        departments: inc.departments.clone(),
        level: 1,
        round: 0,
        status: "active".into(),
        acknowledged_by: None,
        started_at: inc.opened_at,
        updated_at: ago(4 * 60 + 12),
        urgency: "high".into(),
    };
    Fetched {
        id,
        result: Ok(Box::new(Detail {
            ack_seconds_left: Some((inc.ack_deadline - now()).num_seconds()),
            phase_seconds_left: row.phase_deadline.map(|d| (d - now()).num_seconds()),
            incident: inc,
            escalation: Some(escalation),
            delivery: Default::default(),
            timeline,
            postmortem: None,
            action_items: Vec::new(),
        })),
    }
}

fn item(id: i64, state: ContentState, title: &str, owner: &str, channel: &str) -> Item {
    Item {
        id,
        kind: if channel == "email" {
            "email"
        } else {
            "social_post"
        }
        .into(),
        title: title.into(),
        owner: owner.into(),
        channel: channel.into(),
        campaign: Some("coastal-2026".into()),
        cost_cents: 0,
        state,
        version: 1 + (id % 3) as i32,
        approved_version: None,
        approval_id: None,
        revision_rounds: 0,
        created_by: owner.into(),
        created_at: ago(5 * 86_400),
        updated_at: ago(id * 600),
        last_edit_at: ago(id * 600),
        published_at: None,
        archived_at: None,
    }
}

/// Items in the pipeline's order, with two reviews (one overdue).
pub fn content() -> Vec<ContentRow> {
    use ContentState::{
        Approved, Archival, Creation, Maintenance, Optimization, Performance, Planning, Published,
    };
    let plain = |id, state, title: &str, owner: &str, channel: &str| ContentRow {
        item: item(id, state, title, owner, channel),
        review: None,
        waits_on_reader: false,
    };
    let mut hero = item(
        20,
        ContentState::Review,
        "Homepage hero refresh",
        "remy",
        "web",
    );
    hero.approval_id = Some(44);
    let mut coastal = item(
        17,
        ContentState::Review,
        "Coastal Collection launch e-mail",
        "lena",
        "email",
    );
    coastal.approval_id = Some(41);
    let mut banner = item(
        15,
        ContentState::Review,
        "Black Friday banner",
        "lena",
        "instagram",
    );
    banner.approval_id = Some(39);
    banner.cost_cents = 250_000;
    vec![
        plain(
            31,
            Planning,
            "Winter gallery walkthrough",
            "lena",
            "youtube",
        ),
        plain(30, Planning, "Artist spotlight: Mara Quist", "remy", "blog"),
        plain(28, Creation, "Gift guide 2026", "lena", "blog"),
        ContentRow {
            item: banner,
            review: Some(Review {
                request_id: 39,
                status: "escalated".into(),
                deadline: ago(40 * 60),
                approvals: 0,
                required: 2,
            }),
            waits_on_reader: false,
        },
        ContentRow {
            item: coastal,
            review: Some(Review {
                request_id: 41,
                status: "pending".into(),
                deadline: now() + TimeDelta::seconds(2 * 3600 + 13 * 60 + 20),
                approvals: 1,
                required: 2,
            }),
            waits_on_reader: false,
        },
        ContentRow {
            item: hero,
            review: Some(Review {
                request_id: 44,
                status: "pending".into(),
                deadline: now() + TimeDelta::seconds(3 * 3600 + 5),
                approvals: 0,
                required: 1,
            }),
            waits_on_reader: true,
        },
        plain(12, Approved, "Framing guide e-mail", "lena", "email"),
        plain(
            10,
            Published,
            "Coastal prints on Pinterest",
            "remy",
            "pinterest",
        ),
        plain(8, Performance, "Summer sale recap", "lena", "blog"),
        plain(6, Performance, "Studio tour reel", "remy", "instagram"),
        plain(5, Optimization, "Abandoned-cart e-mail", "lena", "email"),
        plain(4, Maintenance, "How to hang a gallery wall", "remy", "blog"),
        plain(2, Archival, "Spring 2025 lookbook", "lena", "blog"),
    ]
}

/// The pipeline of `content()`, the archive capped as core would.
pub fn pipeline(rows: &[ContentRow]) -> Vec<Stage> {
    ContentState::ALL
        .iter()
        .map(|&state| Stage {
            state,
            count: rows.iter().filter(|r| r.item.state == state).count(),
            capped: false,
        })
        .collect()
}

fn experiment(id: i64, key: &str, name: &str, state: &str, metric: &str) -> Experiment {
    Experiment {
        id,
        key: key.into(),
        name: name.into(),
        hypothesis: format!("Changing {name} lifts {metric}."),
        owner: "maya".into(),
        state: State::parse(state).unwrap_or(State::Draft),
        metric: metric.into(),
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
        started_at: (state != "draft").then(|| ago(5 * 86_400 + 4 * 3600)),
        decided_at: None,
        decided_by: None,
        winner: None,
        decision_reason: None,
        learnings: None,
        documented_at: None,
        created_at: ago(9 * 86_400),
        updated_at: ago(3600),
    }
}

fn arm(
    name: &str,
    n: u64,
    mean: f64,
    lift: Option<(f64, f64, f64)>,
    p: Option<f64>,
    chance: Option<f64>,
) -> VariationResult {
    VariationResult {
        name: name.into(),
        n,
        mean,
        lift: lift.map(|l| l.1),
        ci: lift.map(|l| [l.0, l.2]),
        p_value: p.map(Some),
        chance_to_win: chance.map(Some),
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

fn report(
    exp: &Experiment,
    srm: Option<f64>,
    arms: Vec<VariationResult>,
    stop: StopCheck,
    summary: Vec<String>,
) -> Analysis {
    Analysis::Ready(Box::new(Report {
        experiment: exp.clone(),
        variations: arms
            .iter()
            .enumerate()
            .map(|(i, a)| Variation {
                key: a.name.clone(),
                weight: 1.0 / arms.len() as f64,
                position: i32::try_from(i).unwrap_or(0),
            })
            .collect(),
        srm: SrmCheck {
            p_value: srm.unwrap_or(0.41),
            mismatch: srm.is_some(),
            arms: Vec::new(),
            sentence: String::new(),
        },
        primary: MetricAnalysis {
            metric: exp.metric.clone(),
            kind: exp.metric_kind,
            role: MetricRole::Primary,
            result: AnalysisOutput {
                srm_p_value: srm.unwrap_or(0.41),
                srm_flag: srm.is_some(),
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
        stop,
        suggested_winner: None,
        summary,
    }))
}

/// Running experiments first: one with a sample ratio mismatch, one whose
/// intervals cross zero and fall below it, one Bayesian; then the rest.
pub fn experiments() -> Vec<ExperimentRow> {
    let keep = |reason: &str| StopCheck::KeepRunning {
        reason: reason.into(),
    };
    let hero = experiment(
        3,
        "hero-cta",
        "Hero call to action",
        "running",
        "add_to_cart",
    );
    let hero_analysis = report(
        &hero,
        Some(0.000_12),
        vec![
            arm("a", 10_412, 0.0321, None, None, None),
            arm("b", 9_588, 0.0341, Some((0.012, 0.061, 0.110)), Some(0.014), None),
        ],
        keep("9588 of 20000 units per variation and 5.2 of 14 days; a fixed-horizon test does not stop early"),
        vec![
            "WARNING: sample ratio mismatch (p = 0.000120). The traffic split does not match the weights, so these results cannot be trusted until the assignment is fixed.".into(),
            "b looks better, but with a broken split no winner can be called.".into(),
        ],
    );
    let copy = experiment(
        4,
        "checkout-copy",
        "Checkout reassurance copy",
        "running",
        "purchase",
    );
    let copy_analysis = report(
        &copy,
        None,
        vec![
            arm("a", 6_020, 0.0180, None, None, None),
            arm(
                "b",
                5_977,
                0.0184,
                Some((-0.018, 0.021, 0.060)),
                Some(0.29),
                None,
            ),
            arm(
                "c",
                6_003,
                0.0171,
                Some((-0.090, -0.052, -0.014)),
                Some(0.008),
                None,
            ),
        ],
        keep(
            "5977 of 20000 units per variation and 5.2 of 14 days; a fixed-horizon test does not stop early",
        ),
        vec!["No winner yet on purchase.".into()],
    );
    let mut banner = experiment(
        5,
        "free-shipping-banner",
        "Free shipping banner",
        "running",
        "purchase",
    );
    banner.engine = Engine::Bayesian;
    let banner_analysis = report(
        &banner,
        None,
        vec![
            arm("a", 21_000, 0.0200, None, None, None),
            arm(
                "b",
                21_100,
                0.0208,
                Some((0.005, 0.040, 0.075)),
                None,
                Some(0.987),
            ),
        ],
        StopCheck::MayStop {
            reason: "the planned horizon is reached (20000 units per variation, 14 days)".into(),
        },
        vec!["Winner: b beats a on purchase.".into()],
    );
    let draft = experiment(
        6,
        "gallery-layout",
        "Gallery grid layout",
        "draft",
        "add_to_cart",
    );
    let mut decided = experiment(
        2,
        "newsletter-subject",
        "Newsletter subject line",
        "decided",
        "open_rate",
    );
    decided.winner = Some("b".into());
    decided.decided_by = Some("maya".into());
    decided.decision_reason = Some("b lifted open rate by 8.3% (p = 0.002)".into());
    vec![
        ExperimentRow {
            experiment: hero,
            analysis: hero_analysis,
            analysed_at: None,
        },
        ExperimentRow {
            experiment: copy,
            analysis: copy_analysis,
            analysed_at: None,
        },
        ExperimentRow {
            experiment: banner,
            analysis: banner_analysis,
            analysed_at: None,
        },
        ExperimentRow {
            experiment: draft,
            analysis: Analysis::None,
            analysed_at: None,
        },
        ExperimentRow {
            experiment: decided,
            analysis: Analysis::None,
            analysed_at: None,
        },
    ]
}

pub fn snapshot_with_events(n: usize) -> Snapshot {
    let status = status();
    let mut snap = Snapshot::new(Some(ago(1)), status.organisation.clone());
    snap.set(Figures {
        tiles: status_tiles(&status),
        kpis: status.kpis.clone(),
        status: Some(status),
        engine_read: None,
    });
    snap.set(Pending { rows: approvals() });
    snap.set(Log { events: events(n) });
    snap.set(Board { rows: incidents() });
    snap.set(Pipeline {
        stages: pipeline(&content()),
        rows: content(),
    });
    snap.set(Lab {
        rows: experiments(),
    });
    snap.set(Clocks {
        requests: privacy_requests(),
        breaches: breaches(),
    });
    snap.set(Leads {
        funnel: Some(funnel()),
        handoffs: sales_handoffs(),
    });
    snap.set(vendor_board());
    snap.set(collaboration());
    snap
}

fn vendor(
    id: i64,
    name: &str,
    category: &str,
    critical: bool,
    state: VendorState,
    score: Option<f64>,
    standing: Option<&str>,
) -> vivid_core::vendor::store::Vendor {
    vivid_core::vendor::store::Vendor {
        id,
        name: name.into(),
        category: category.into(),
        critical,
        state,
        overall_score: score,
        standing: standing.map(str::to_string),
        contact_subject: None,
        created_by: "olu".into(),
        created_at: ago(90 * DAY),
        updated_at: ago(DAY),
    }
}

/// Four vendors (one on a plan), a renewal coming due and the open plan.
pub fn vendor_board() -> vivid_core::vendor::read::Board {
    use vivid_core::vendor::read::{Board as VendorBoard, OpenPlan, Renewal, Row as VendorRow};
    let row = |v, otd: &[f64], otif: &[f64], last| VendorRow {
        vendor: v,
        otd: otd.to_vec(),
        otif: otif.to_vec(),
        last_period_score: last,
    };
    let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    VendorBoard {
        rows: vec![
            row(
                vendor(
                    1,
                    "Lumen Print Lab",
                    "print_lab",
                    true,
                    VendorState::Active,
                    Some(96.2),
                    Some("good"),
                ),
                &[0.97, 0.99, 1.0],
                &[0.95, 0.98, 1.0],
                Some(97.0),
            ),
            row(
                vendor(
                    2,
                    "Oakline Framing",
                    "framing",
                    false,
                    VendorState::Renewed,
                    Some(88.0),
                    Some("good"),
                ),
                &[0.9, 0.92, 0.9],
                &[0.88, 0.9, 0.9],
                Some(89.5),
            ),
            row(
                vendor(
                    3,
                    "BoxCraft Packaging",
                    "packaging",
                    false,
                    VendorState::Improvement,
                    Some(41.3),
                    Some("poor"),
                ),
                &[0.7, 0.6, 0.55],
                &[0.6, 0.5, 0.45],
                Some(39.8),
            ),
            row(
                vendor(
                    4,
                    "QuickPrint Co",
                    "print_lab",
                    false,
                    VendorState::Refused,
                    None,
                    None,
                ),
                &[],
                &[],
                None,
            ),
        ],
        renewals: vec![Renewal {
            vendor: "Oakline Framing".into(),
            contract_id: 7,
            notice_date: date(2026, 12, 14),
            end_date: date(2027, 1, 14),
            auto_renew: false,
            days_left: 18,
        }],
        plans: vec![OpenPlan {
            vendor: "BoxCraft Packaging".into(),
            plan_id: 2,
            status: "open".into(),
            owner: "victor".into(),
            period: "2026-10".into(),
            period_score: Some(39.8),
            deadline: now() + TimeDelta::days(12),
            seconds_left: 12 * DAY,
        }],
        at: now(),
    }
}

fn edge(from: &str, to: &str, open: i64, soon: i64, late: i64, volume: i64) -> EdgeStats {
    EdgeStats {
        from: Some(from.into()),
        to: to.into(),
        open,
        imminent: soon,
        breached: late,
        closed: volume - open,
        volume,
        breach_rate: Some(late as f64 / volume.max(1) as f64),
        response_median_seconds: Some(1_500 + 300 * volume),
        response_p90_seconds: Some(3_300 + 300 * volume),
        resolution_median_seconds: Some(20 * HOUR),
        resolution_p90_seconds: Some(2 * DAY),
    }
}

#[allow(clippy::too_many_arguments)]
fn collab_handoff(
    id: i64,
    kind: &str,
    from: &str,
    status: &str,
    title: &str,
    created_ago: i64,
    due_in: i64,
    imminent: bool,
) -> Option<View> {
    let h = Handoff {
        id,
        kind: kind.into(),
        from_department: from.into(),
        to_department: "finance".into(),
        workflow: "collab".into(),
        entity_id: id.to_string(),
        subject: title.into(),
        status: status.into(),
        due_at: ago(-due_in),
        breached: due_in < 0 && status == "open",
        created_by: "maya".into(),
        created_at: ago(created_ago),
        resolution_due_at: (status != "waiting").then(|| ago(-due_in - 2 * DAY)),
        imminent,
        correlation_id: Some(format!("handoff:{id}")),
        ..Handoff::default()
    };
    View::of(&h).ok()
}

/// Finance's queue and the matrix: one breached, one imminent, one waiting.
pub fn collaboration() -> Collaboration {
    Collaboration {
        matrix: Some(Matrix {
            since: ago(30 * DAY),
            generated_at: now(),
            edges: vec![
                edge("marketing", "sales", 2, 1, 0, 14),
                edge("marketing", "finance", 1, 0, 1, 6),
                edge("sales", "finance", 1, 1, 0, 9),
                edge("customer_experience", "product", 3, 0, 1, 11),
            ],
            departments: Vec::new(),
        }),
        department: Some("finance".into()),
        queue: [
            collab_handoff(
                41,
                "budget_roi",
                "marketing",
                "open",
                "Q4 paid social ROI",
                2 * HOUR,
                -HOUR,
                true,
            ),
            collab_handoff(
                42,
                "deal_insights",
                "sales",
                "open",
                "Harbor Hotels deal",
                40 * 60,
                15 * 60,
                true,
            ),
            collab_handoff(
                43,
                "budget_roi",
                "marketing",
                "waiting",
                "Spring catalogue budget",
                DAY,
                0,
                false,
            ),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

fn privacy_request(
    id: i64,
    subject: &str,
    kind: &str,
    received_days_ago: i64,
    due_in: i64,
) -> PrivacyRequest {
    PrivacyRequest {
        id,
        subject_id: Some(id + 100),
        subject_ref: subject.into(),
        kind: kind.into(),
        status: "open".into(),
        received_at: ago(received_days_ago * DAY),
        first_due_at: ago(-due_in),
        due_at: ago(-due_in),
        extended_months: 0,
        extension_reason: None,
        person_told_at: None,
        opened_by: "mara".into(),
        note: String::new(),
        completed_at: None,
        completed_by: None,
        outcome: None,
        updated_at: ago(received_days_ago * DAY),
        verified_at: None,
        verified_by: None,
        verification: None,
        approval_id: None,
    }
}

/// Open requests, soonest due first: one overdue, one due within three
/// days, one with time left (extended).
pub fn privacy_requests() -> Vec<PrivacyRequest> {
    let mut extended = privacy_request(14, "cust-7781", "access", 40, 52 * DAY);
    extended.extended_months = 2;
    extended.first_due_at = ago(10 * DAY);
    extended.extension_reason = Some("complex: three systems".into());
    vec![
        privacy_request(11, "cust-1042", "erasure", 31, -(DAY + 2 * HOUR)),
        privacy_request(12, "lead-0388", "access", 28, 2 * DAY + 5 * HOUR),
        privacy_request(13, "cust-2210", "rectification", 3, 27 * DAY),
        extended,
    ]
}

fn breach(id: i64, title: &str, status: &str, aware_ago: i64) -> Breach {
    Breach {
        id,
        incident_id: id + 40,
        finding_id: None,
        status: status.into(),
        title: title.into(),
        aware_at: ago(aware_ago),
        notify_by: ago(aware_ago - 72 * HOUR),
        notified_at: None,
        notified_by: None,
        late_reason: None,
        exempt_reason: None,
        nature: Some("unauthorised access".into()),
        categories: None,
        people_approx: Some(120),
        records_approx: None,
        contact_point: None,
        consequences: None,
        measures: None,
        phases: 1,
        approval_id: None,
        opened_by: "mara".into(),
        opened_at: ago(aware_ago),
        closed_at: None,
        updated_at: ago(aware_ago),
    }
}

/// Breaches not closed: one past its 72 hours, one counting, one notified.
pub fn breaches() -> Vec<Breach> {
    let mut notified = breach(3, "Lost laptop (encrypted)", "notified", 5 * DAY);
    notified.notified_at = Some(ago(4 * DAY));
    notified.notified_by = Some("mara".into());
    vec![
        breach(
            1,
            "Mailing list exposed via export link",
            "assessing",
            80 * HOUR,
        ),
        breach(2, "Misdirected invoice email", "assessing", 20 * HOUR),
        notified,
    ]
}

pub fn funnel() -> Funnel {
    let stages = [
        ("new", 412),
        ("aware", 288),
        ("engaged", 164),
        ("warm", 92),
        ("hot", 41),
        ("qualified", 23),
    ];
    Funnel {
        from: ago(30 * DAY),
        prospects: 412,
        stages: stages
            .iter()
            .map(|(s, n)| (s.to_string(), *n, *n as f64 / 412.0))
            .collect(),
        handed_off: 23,
        contacted: 19,
        customers: 7,
        conversion_rate: Some(7.0 / 412.0),
        mean_time_to_first_contact_secs: Some(3 * HOUR + 25 * 60),
        lead_handoff_sla_compliance: Some(0.826),
        support_sla_compliance: Some(0.95),
        nps: Some(38.0),
        csat: Some(4.4),
        referral_rate: Some(0.041),
        revenue_by_channel: [
            ("ad", 412_000, 198_000),
            ("content", 86_500, 120_000),
            ("email", 54_000, 210_500),
            ("social", 31_000, 12_000),
            ("site", 0, 42_000),
            ("referral", 18_000, 18_000),
        ]
        .iter()
        .map(|(c, f, l)| (c.to_string(), *f, *l))
        .collect(),
    }
}

fn handoff(
    id: i64,
    subject: &str,
    assignee: Option<&str>,
    created_ago: i64,
    due_in: i64,
) -> Handoff {
    Handoff {
        id,
        kind: "lead".into(),
        from_department: "marketing".into(),
        to_department: "sales".into(),
        workflow: "journey".into(),
        entity_id: format!("p-{id}"),
        subject: subject.into(),
        assignee: assignee.map(String::from),
        status: "open".into(),
        due_at: ago(-due_in),
        breached: due_in < 0,
        payload: serde_json::Value::Null,
        created_by: "engine".into(),
        created_at: ago(created_ago),
        acknowledged_by: None,
        acknowledged_at: None,
        completed_by: None,
        completed_at: None,
        ..Handoff::default()
    }
}

/// Lead hand-offs waiting on Sales, soonest due first: one breached.
pub fn sales_handoffs() -> Vec<Handoff> {
    vec![
        handoff(
            501,
            "Harbor Hotels (score 162)",
            Some("dev"),
            6 * HOUR,
            -2 * HOUR,
        ),
        handoff(
            502,
            "Studio Nord (score 118)",
            None,
            90 * 60,
            2 * HOUR + 30 * 60,
        ),
        handoff(
            503,
            "Café Lumen (score 104)",
            Some("dev"),
            20 * 60,
            3 * HOUR + 40 * 60,
        ),
    ]
}

/// A loaded state at a fixed instant, at `width` x `height`.
pub fn state(width: u16, height: u16) -> AppState {
    state_with(width, height, snapshot())
}

pub fn state_with(width: u16, height: u16, snapshot: Snapshot) -> AppState {
    let mut s = AppState::new("olu", now(), Size::new(width, height));
    s.zone = vivid_core::calendar::Tz::America__New_York;
    update(&mut s, Msg::Loaded(Box::new(snapshot)));
    s
}
