//! Pages for the people an escalation level reaches: one outbox row per
//! contact method and rule step (queued together, later steps not before
//! their time), and what happens when a person's every method has failed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};

use super::model::{self, Method, Urgency};
use crate::engine::Ctx;
use crate::engine::escalation;
use crate::engine::outbox::{NewNotification, Notification, Page};
use crate::error::Result;

/// One escalation level about to page people.
#[derive(Debug, Clone)]
pub struct LevelPages<'a> {
    pub escalation_id: i64,
    pub workflow: &'a str,
    pub entity_id: &'a str,
    /// "[escalation L1] P1 #12 checkout down"
    pub subject: &'a str,
    pub body: &'a str,
    pub urgency: Urgency,
    /// 0-based.
    pub level: i32,
    pub round: i32,
    pub payload: serde_json::Value,
}

/// The outbox rows paging `people` at one level: each person's contact
/// methods by the urgency's rule (their default notification when the rule
/// can use none of them). Pure apart from reading the config and calendar.
pub fn build(
    ctx: &Ctx,
    spec: &LevelPages<'_>,
    people: &[String],
    contacts: &HashMap<String, Vec<(i64, Method)>>,
    now: DateTime<Utc>,
) -> Vec<NewNotification> {
    let notify = &ctx.config.notify;
    let rule = notify.rule(spec.urgency);
    let support = notify.support_calendar(&ctx.calendar);
    let none = Vec::new();
    let mut out = Vec::new();
    for handle in people {
        let mine = contacts.get(handle).unwrap_or(&none);
        let acknowledge = notify.how_to_acknowledge(spec.workflow, spec.entity_id, handle);
        let body = if spec.body.is_empty() {
            acknowledge.clone()
        } else {
            format!("{}\n{acknowledge}", spec.body)
        };
        for p in model::plan(&rule, mine, now, |t| model::open_at(&support, t)) {
            let mut payload = spec.payload.clone();
            if let Some(obj) = payload.as_object_mut() {
                obj.insert("acknowledge".into(), acknowledge.clone().into());
                obj.insert("urgency".into(), spec.urgency.as_str().into());
                if let Some(m) = p.method {
                    obj.insert("method".into(), m.as_str().into());
                    obj.insert("step".into(), p.step.into());
                }
            }
            let dedupe = match (p.method, p.contact_id) {
                (Some(m), Some(c)) => format!(
                    "esc:{}:{}:{}:{handle}:{m}:{c}",
                    spec.escalation_id, spec.round, spec.level
                ),
                _ => format!(
                    "esc:{}:{}:{}:{handle}",
                    spec.escalation_id, spec.round, spec.level
                ),
            };
            out.push(
                NewNotification::to_person(handle, spec.workflow, spec.entity_id, spec.subject)
                    .body(body.clone())
                    .severity(if spec.urgency == Urgency::High {
                        "critical"
                    } else {
                        "warning"
                    })
                    .dedupe(dedupe)
                    .payload(payload)
                    .not_before(p.due)
                    .page(Page {
                        channel: p.method,
                        contact_id: p.contact_id,
                        escalation_id: Some(spec.escalation_id),
                        level: spec.level,
                        round: spec.round,
                    }),
            );
        }
    }
    out
}

/// A page failed for good. When every page of every person at its level has
/// failed (nobody there can be reached), the escalation moves to the next
/// level at once, and its event says why.
pub async fn on_failed(ctx: &Ctx, n: &Notification) -> Result<()> {
    let (Some(esc_id), Some(level), Some(round)) = (n.escalation_id, n.esc_level, n.esc_round)
    else {
        return Ok(());
    };
    let mut conn = ctx.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let unreachable = unreachable_at_level(&mut tx, esc_id, level, round).await?;
    let Some(why) = unreachable else {
        tx.commit().await?;
        return Ok(());
    };
    escalation::skip_unreachable(ctx, &mut tx, esc_id, level, round, &why).await?;
    tx.commit().await?;
    Ok(())
}

/// Why nobody at a level can be reached, when every page of that level has
/// failed: "maya: sms failed (500 Internal Server Error)". None while any
/// page is delivered or still to be tried.
async fn unreachable_at_level(
    conn: &mut PgConnection,
    esc_id: i64,
    level: i32,
    round: i32,
) -> Result<Option<String>> {
    /// person, channel, status, last error
    type PageState = (Option<String>, Option<String>, String, Option<String>);
    let rows: Vec<PageState> = sqlx::query_as(
        "SELECT person, channel, status, last_error FROM outbox
         WHERE escalation_id = $1 AND esc_level = $2 AND esc_round = $3 ORDER BY person, id",
    )
    .bind(esc_id)
    .bind(level)
    .bind(round)
    .fetch_all(conn)
    .await?;
    if rows.is_empty() || rows.iter().any(|(_, _, status, _)| status != "dead") {
        return Ok(None);
    }
    let mut by_person: Vec<(String, Vec<String>)> = Vec::new();
    for (person, channel, _, error) in rows {
        let person = person.unwrap_or_default();
        let what = format!(
            "{} failed ({})",
            channel.as_deref().unwrap_or("notification"),
            error.as_deref().unwrap_or("no reason given")
        );
        match by_person.iter_mut().find(|(p, _)| *p == person) {
            Some((_, list)) => list.push(what),
            None => by_person.push((person, vec![what])),
        }
    }
    Ok(Some(
        by_person
            .into_iter()
            .map(|(p, l)| format!("{p}: {}", l.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    ))
}
