//! What the transports need from core: the page to send (its contact
//! revealed, title, text, how to acknowledge), the signature of a webhook
//! body, and the per-channel rate limit the outbox applies. The transports
//! themselves (SMTP, HTTP) live outside core, in `vivid-notify`.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use zeroize::Zeroizing;

use super::contacts;
use super::model::Method;
use crate::engine::Ctx;
use crate::engine::outbox::{DeliveryError, Notification};
use crate::error::Result;

/// One page ready for its transport.
pub struct Outgoing {
    pub method: Method,
    /// The address, number, topic or URL. Never log it.
    pub to: Zeroizing<String>,
    pub person: String,
    /// One line: "[VividWalls P1] checkout down".
    pub title: String,
    /// The text, ending with how to acknowledge.
    pub body: String,
    /// ntfy priority: "urgent" for critical pages, "default" otherwise.
    pub priority: &'static str,
    /// The JSON a webhook receives.
    pub json: WebhookBody,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("method", &self.method)
            .field("to", &"(redacted)")
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

/// The body of a webhook page.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookBody {
    /// "page" or "test".
    pub kind: &'static str,
    pub page_id: i64,
    pub person: String,
    pub title: String,
    pub body: String,
    pub severity: String,
    pub workflow: String,
    pub entity_id: String,
    pub escalation_id: Option<i64>,
    /// 1-based escalation level.
    pub level: Option<i32>,
    pub acknowledge: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Turn a queued page into what its transport sends. A removed contact or
/// one that cannot be opened is a permanent failure.
pub async fn prepare(ctx: &Ctx, n: &Notification) -> Result<Outgoing, DeliveryError> {
    let id = n
        .contact_id
        .ok_or_else(|| DeliveryError::Permanent("the page names no contact method".into()))?;
    let c = contacts::reveal(ctx, id).await.map_err(|e| match e {
        crate::Error::Db(e) => DeliveryError::Retry {
            reason: format!("database: {e}"),
            after: None,
        },
        other => DeliveryError::Permanent(other.to_string()),
    })?;
    let title = format!("[VividWalls] {}", n.subject);
    let acknowledge = n
        .payload
        .get("acknowledge")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let json = WebhookBody {
        kind: if n.escalation_id.is_some() {
            "page"
        } else {
            "test"
        },
        page_id: n.id,
        person: c.person.clone(),
        title: title.clone(),
        body: n.body.clone(),
        severity: n.severity.clone(),
        workflow: n.workflow.clone(),
        entity_id: n.entity_id.clone(),
        escalation_id: n.escalation_id,
        level: n.esc_level.map(|l| l + 1),
        acknowledge,
        created_at: n.created_at,
    };
    Ok(Outgoing {
        method: c.method,
        to: c.detail,
        person: c.person,
        title,
        body: n.body.clone(),
        priority: if n.severity == "critical" {
            "urgent"
        } else {
            "default"
        },
        json,
    })
}

/// Pages of one channel let through now, and the waits of those held back.
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    pub granted: usize,
    /// For each page held back, in order: how long before it may try again.
    pub waits: Vec<TimeDelta>,
}

/// May `count` pages of this channel go now? A token bucket per channel
/// (`rate` per minute, bursts up to `rate`) kept in PostgreSQL and taken
/// from in one atomic statement, so the limit holds across every engine
/// process. Unlimited channels and notifications without a channel always
/// go.
pub async fn admit(
    ctx: &Ctx,
    conn: &mut PgConnection,
    channel: Option<&str>,
    count: usize,
    now: DateTime<Utc>,
) -> Result<Admitted> {
    let all = Admitted {
        granted: count,
        waits: Vec::new(),
    };
    let Some(method) = channel.and_then(|c| c.parse::<Method>().ok()) else {
        return Ok(all);
    };
    let Some(rate) = ctx.config.notify.rate(method) else {
        return Ok(all);
    };
    if count == 0 {
        return Ok(all);
    }
    let rate = f64::from(rate.max(1));
    let want = i64::try_from(count).unwrap_or(i64::MAX);
    // The bucket refilled since its last take, then `want` taken from it
    // (as many whole tokens as it holds).
    let (granted, left): (i64, f64) = sqlx::query_as(
        "INSERT INTO notify_rate_buckets AS b (channel, tokens, at, granted)
         VALUES ($1, $3 - least($4, floor($3)), $2, least($4, floor($3))::int8)
         ON CONFLICT (channel) DO UPDATE SET
            tokens = least($3, b.tokens + greatest(0, extract(epoch FROM $2 - b.at)::float8) * $3 / 60.0)
                     - least($4, floor(least($3, b.tokens + greatest(0, extract(epoch FROM $2 - b.at)::float8) * $3 / 60.0))),
            granted = least($4, floor(least($3, b.tokens + greatest(0, extract(epoch FROM $2 - b.at)::float8) * $3 / 60.0)))::int8,
            at = greatest(b.at, $2)
         RETURNING granted, tokens",
    )
    .bind(method.as_str())
    .bind(now)
    .bind(rate)
    .bind(want as f64)
    .fetch_one(conn)
    .await?;
    let granted = usize::try_from(granted.max(0)).unwrap_or(0).min(count);
    Ok(Admitted {
        granted,
        waits: waits(rate, left, count - granted),
    })
}

/// When each of `held` pages may try again, spread at the channel's rate
/// from a bucket holding `left` tokens.
fn waits(rate: f64, left: f64, held: usize) -> Vec<TimeDelta> {
    let per_sec = rate / 60.0;
    (0..held)
        .map(|i| {
            let need = (i as f64 + 1.0 - left).max(0.0);
            let micros = (need / per_sec * 1e6).ceil() as i64;
            TimeDelta::microseconds(micros.max(1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_held_back_are_spread_at_the_rate() {
        // 2 per minute, half a token left: the first in 15 s, then every 30 s.
        assert_eq!(
            waits(2.0, 0.5, 3),
            vec![
                TimeDelta::seconds(15),
                TimeDelta::seconds(45),
                TimeDelta::seconds(75)
            ]
        );
        assert!(waits(2.0, 0.5, 0).is_empty());
    }
}
