//! Read models of crisis management for the front ends: each answers a
//! screen in a bounded number of queries.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::store::Incident;
use super::{Phase, Severity, Status};
use crate::engine::Ctx;
use crate::engine::escalation;
use crate::error::Result;
use crate::status::WorkflowStatus;

/// The crisis tile: open incidents, missed acknowledgement deadlines, open
/// P1s, MTTA over 30 days and incidents opened per day for two weeks.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let super::store::TileCounts {
        open,
        p1,
        unacked_late,
        mtta,
        daily,
    } = super::store::tile_counts(conn, now).await?;
    Ok(WorkflowStatus {
        name: super::WORKFLOW.into(),
        open,
        breaches: unacked_late,
        kpis: vec![
            ("open P1".into(), p1.to_string()),
            (
                "MTTA 30d".into(),
                mtta.map(|s| {
                    crate::duration::format_delta(chrono::TimeDelta::seconds(s.round() as i64))
                })
                .unwrap_or_else(|| "-".into()),
            ),
        ],
        trend: daily,
    })
}

/// Where an incident's escalation ladder stands ("L2/3").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationProgress {
    /// The last level notified, counting from one; zero before the first.
    pub reached: i32,
    pub levels: usize,
    /// active, acknowledged, exhausted, cancelled.
    pub status: String,
}

/// The clock that matters now for an incident: the acknowledgement deadline
/// while nobody has it, then the current phase's time box, none once closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "clock", content = "due_at", rename_all = "snake_case")]
pub enum IncidentClock {
    Ack(DateTime<Utc>),
    PhaseBox(DateTime<Utc>),
    None,
}

impl IncidentClock {
    /// The one clock for this status (pure: the same in every front end).
    pub fn of(
        status: Status,
        ack_deadline: DateTime<Utc>,
        phase_deadline: Option<DateTime<Utc>>,
    ) -> Self {
        match (status, phase_deadline) {
            (Status::Triggered, _) => IncidentClock::Ack(ack_deadline),
            (Status::Closed, _) | (_, None) => IncidentClock::None,
            (_, Some(d)) => IncidentClock::PhaseBox(d),
        }
    }

    pub fn due_at(self) -> Option<DateTime<Utc>> {
        match self {
            IncidentClock::Ack(t) | IncidentClock::PhaseBox(t) => Some(t),
            IncidentClock::None => None,
        }
    }
}

/// An incident on the board with the clocks core computes for it.
#[derive(Debug, Clone, Serialize)]
pub struct BoardRow {
    pub incident: Incident,
    /// When the current phase's time box ends.
    pub phase_deadline: Option<DateTime<Utc>>,
    /// How far its escalation ladder has gone (open incidents only).
    pub escalation: Option<EscalationProgress>,
}

impl BoardRow {
    pub fn severity(&self) -> Severity {
        self.incident.severity
    }

    pub fn status(&self) -> Status {
        self.incident.status
    }

    pub fn phase(&self) -> Phase {
        self.incident.phase
    }

    /// Still needs people: triggered or acknowledged.
    pub fn is_open(&self) -> bool {
        self.status().is_open()
    }

    /// The clock that matters now.
    pub fn clock(&self) -> IncidentClock {
        IncidentClock::of(
            self.status(),
            self.incident.ack_deadline,
            self.phase_deadline,
        )
    }

    /// Time left to acknowledge; only a triggered incident has one.
    pub fn ack_left(&self, now: DateTime<Utc>) -> Option<TimeDelta> {
        (self.status() == Status::Triggered).then(|| self.incident.ack_deadline - now)
    }

    /// Time left in the current phase's time box (negative: over it).
    pub fn phase_left(&self, now: DateTime<Utc>) -> Option<TimeDelta> {
        if self.status() == Status::Closed {
            return None;
        }
        self.phase_deadline.map(|d| d - now)
    }

    /// The board's order: triggered, acknowledged, resolved; then severity,
    /// then the oldest first.
    pub fn urgency(&self) -> (u8, String, DateTime<Utc>, i64) {
        let rank = match self.status() {
            Status::Triggered => 0,
            Status::Acknowledged => 1,
            Status::Resolved => 2,
            Status::Closed => 3,
        };
        (
            rank,
            self.incident.severity.as_str().to_string(),
            self.incident.opened_at,
            self.incident.id,
        )
    }
}

/// What the board shows: triggered, acknowledged and resolved incidents.
pub const BOARD_STATUSES: [&str; 3] = ["triggered", "acknowledged", "resolved"];

/// The most incidents the board reads.
pub const BOARD_LIMIT: i64 = 10_000;

/// The board, most urgent first, in two queries (the incidents, then the
/// latest escalation of each open one). With `ids`, only those incidents
/// (a refresh after they changed); one that left the board is absent.
pub async fn board(
    ctx: &Ctx,
    conn: &mut PgConnection,
    ids: Option<&[i64]>,
) -> Result<Vec<BoardRow>> {
    let incidents = super::store::board_rows(conn, &BOARD_STATUSES, ids, BOARD_LIMIT).await?;
    let open: Vec<String> = incidents
        .iter()
        .filter(|i| i.status.is_open())
        .map(|i| i.id.to_string())
        .collect();
    let mut ladders = escalation::latest_of_many(conn, super::WORKFLOW, &open).await?;
    Ok(incidents
        .into_iter()
        .map(|incident| {
            let escalation = ladders
                .remove(&incident.id.to_string())
                .map(|e| EscalationProgress {
                    reached: e.level + 1,
                    levels: e.policy.levels.len(),
                    status: e.status,
                });
            BoardRow {
                phase_deadline: super::service::phase_deadline(ctx, &incident),
                escalation,
                incident,
            }
        })
        .collect())
}

/// Bring a board up to date after `changed` incidents changed: two queries.
pub async fn refresh_board(
    ctx: &Ctx,
    conn: &mut PgConnection,
    rows: &mut Vec<BoardRow>,
    changed: &[i64],
) -> Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let fresh = board(ctx, conn, Some(changed)).await?;
    crate::refresh::merge_by_id(rows, changed, fresh, |r| r.incident.id, BoardRow::urgency);
    Ok(())
}

/// Open incidents (triggered or acknowledged) per severity, every severity
/// listed (zero included), for gauges.
pub async fn open_by_severity(
    conn: &mut sqlx::PgConnection,
) -> crate::Result<Vec<(super::model::Severity, i64)>> {
    let rows = super::store::open_counts_by_severity(conn).await?;
    Ok(super::model::Severity::ALL
        .iter()
        .map(|s| {
            let n = rows
                .iter()
                .find(|(name, _)| name == s.as_str())
                .map(|(_, n)| *n)
                .unwrap_or(0);
            (*s, n)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_that_matters_follows_the_status() {
        let ack = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let phase = ack + TimeDelta::hours(1);
        assert_eq!(
            IncidentClock::of(Status::Triggered, ack, Some(phase)),
            IncidentClock::Ack(ack)
        );
        assert_eq!(
            IncidentClock::of(Status::Acknowledged, ack, Some(phase)),
            IncidentClock::PhaseBox(phase)
        );
        assert_eq!(
            IncidentClock::of(Status::Resolved, ack, Some(phase)),
            IncidentClock::PhaseBox(phase)
        );
        assert_eq!(
            IncidentClock::of(Status::Closed, ack, Some(phase)),
            IncidentClock::None
        );
        assert_eq!(
            IncidentClock::of(Status::Acknowledged, ack, None),
            IncidentClock::None
        );
    }
}

/// What an incident event changed, as people read it, the same in every
/// front end: a phase move names its phases ("Detection → Triage &
/// Severity"), a status move its statuses, a commander hand-over its
/// people. None when the event changed neither.
pub fn change_text(e: &crate::engine::events::Event) -> Option<String> {
    let field = |k: &str| e.payload.get(k).and_then(|v| v.as_str());
    let phase = |k: &str| field(k).and_then(|p| p.parse::<Phase>().ok());
    let mut parts = Vec::new();
    match (&e.from_state, &e.to_state) {
        (Some(f), Some(t)) if f != t => parts.push(format!("{f} → {t}")),
        (None, Some(t)) => parts.push(format!("→ {t}")),
        _ => {}
    }
    if e.payload.get("phase_changed").and_then(|v| v.as_bool()) == Some(true)
        && let (Some(f), Some(t)) = (phase("from_phase"), phase("phase"))
    {
        parts.push(format!("{f} → {t}"));
    }
    if e.payload.get("from_commander").is_some() {
        let who = |k: &str| {
            field(k)
                .map(|h| format!("@{h}"))
                .unwrap_or_else(|| "nobody".into())
        };
        parts.push(format!(
            "commander {} → {}",
            who("from_commander"),
            who("commander")
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod change_tests {
    use super::*;

    fn event(
        action: &str,
        from: &str,
        to: &str,
        payload: serde_json::Value,
    ) -> crate::engine::events::Event {
        crate::engine::events::Event {
            id: 1,
            workflow: "crisis".into(),
            entity_type: "incident".into(),
            entity_id: "1".into(),
            action: action.into(),
            from_state: Some(from.into()),
            to_state: Some(to.into()),
            actor: "olu".into(),
            reason: None,
            payload,
            occurred_at: chrono::DateTime::UNIX_EPOCH,
            correlation_id: None,
        }
    }

    #[test]
    fn a_phase_change_names_its_phases_not_the_unchanged_status() {
        let e = event(
            "phase_changed",
            "acknowledged",
            "acknowledged",
            serde_json::json!({ "phase": "triage", "from_phase": "detection", "phase_changed": true }),
        );
        assert_eq!(
            change_text(&e).as_deref(),
            Some("Detection → Triage & Severity")
        );
        let e = event(
            "resolved",
            "acknowledged",
            "resolved",
            serde_json::json!({ "phase": "follow_up", "from_phase": "implement_fix", "phase_changed": true }),
        );
        assert_eq!(
            change_text(&e).as_deref(),
            Some("acknowledged → resolved, Implement Fix → Follow-up")
        );
        let note = event(
            "note",
            "acknowledged",
            "acknowledged",
            serde_json::json!({ "phase": "triage" }),
        );
        assert_eq!(change_text(&note), None);
    }
}
