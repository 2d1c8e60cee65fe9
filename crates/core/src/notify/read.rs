//! Delivery you can see: for an entity's escalations, per level, who was
//! paged, when, by which method, delivered or not, and the next step with
//! its time. Two queries whatever the size of the story.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::engine::escalation::STEP_TIMER;
use crate::error::Result;

/// The pages of one entity's escalations.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delivery {
    /// Oldest level first.
    pub levels: Vec<LevelDelivery>,
    /// What happens next, if anything is still to come.
    pub next: Vec<NextStep>,
}

impl Delivery {
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty() && self.next.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelDelivery {
    pub escalation_id: i64,
    /// 1-based.
    pub level: i32,
    /// 1-based.
    pub round: i32,
    pub pages: Vec<PageRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageRow {
    pub id: i64,
    pub person: String,
    /// discord, email, sms, push, webhook, or "default" (Discord or the log).
    pub method: String,
    /// The contact, masked (None for the default notification).
    pub hint: Option<String>,
    pub queued_at: DateTime<Utc>,
    /// When it goes (or went) out: a later rule step waits.
    pub due_at: DateTime<Utc>,
    /// scheduled, retrying, delivered, failed, cancelled
    pub state: String,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    /// Why it failed (or why the last attempt did).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NextStep {
    pub at: DateTime<Utc>,
    /// "sms to maya", "escalation level 2"
    pub what: String,
}

type Row = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<DateTime<Utc>>,
    i32,
    Option<String>,
    i64,
    i32,
    i32,
);

/// The delivery of an entity's pages, up to `limit` pages (newest kept).
pub async fn for_entity(
    conn: &mut PgConnection,
    workflow: &str,
    entity_id: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Delivery> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT * FROM (
            SELECT o.id, o.person, o.channel, c.hint, o.created_at, o.next_attempt_at, o.status, o.delivered_at,
                   o.attempts, o.last_error, o.escalation_id, o.esc_level, o.esc_round
            FROM outbox o LEFT JOIN contact_methods c ON c.id = o.contact_id
            WHERE o.escalation_id = ANY(SELECT id FROM escalations WHERE workflow = $1 AND entity_id = $2)
            ORDER BY o.id DESC LIMIT $3) x
         ORDER BY escalation_id, esc_round, esc_level, id",
    )
    .bind(workflow)
    .bind(entity_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let next_level: Option<(DateTime<Utc>, i32, i32)> = sqlx::query_as(
        "SELECT t.due_at, e.level, jsonb_array_length(e.policy->'levels')
         FROM timers t JOIN escalations e ON e.id = (t.payload->>'escalation_id')::bigint
         WHERE t.kind = $3 AND t.workflow = $1 AND t.entity_id = $2 AND t.status = 'pending'
         ORDER BY t.due_at LIMIT 1",
    )
    .bind(workflow)
    .bind(entity_id)
    .bind(STEP_TIMER)
    .fetch_optional(&mut *conn)
    .await?;
    let mut out = Delivery::default();
    for (
        id,
        person,
        channel,
        hint,
        queued,
        due,
        status,
        delivered_at,
        attempts,
        error,
        esc,
        level,
        round,
    ) in rows
    {
        let state = match status.as_str() {
            "delivered" => "delivered",
            "dead" => "failed",
            "cancelled" => "cancelled",
            _ if attempts > 0 => "retrying",
            _ => "scheduled",
        };
        if state == "scheduled" || state == "retrying" {
            out.next.push(NextStep {
                at: due.max(now),
                what: format!(
                    "{} to {}",
                    channel.as_deref().unwrap_or("notification"),
                    person.as_deref().unwrap_or("-")
                ),
            });
        }
        let page = PageRow {
            id,
            person: person.unwrap_or_default(),
            method: channel.unwrap_or_else(|| "default".into()),
            hint,
            queued_at: queued,
            due_at: due,
            state: state.into(),
            delivered_at,
            attempts,
            // A cancelled page says why in last_error too.
            error,
        };
        match out
            .levels
            .last_mut()
            .filter(|l| l.escalation_id == esc && l.level == level + 1 && l.round == round + 1)
        {
            Some(l) => l.pages.push(page),
            None => out.levels.push(LevelDelivery {
                escalation_id: esc,
                level: level + 1,
                round: round + 1,
                pages: vec![page],
            }),
        }
    }
    if let Some((at, level, levels)) = next_level {
        let next = level + 2;
        out.next.push(NextStep {
            at,
            what: if next <= levels {
                format!("escalation level {next}")
            } else {
                "escalation repeats from level 1".into()
            },
        });
    }
    out.next.sort_by_key(|n| n.at);
    out.next.truncate(5);
    Ok(out)
}
