//! What the transports need from core: the page to send (its contact
//! revealed, title, text, how to acknowledge), the signature of a webhook
//! body, and the per-channel rate limit the outbox applies. The transports
//! themselves (SMTP, HTTP) live outside core, in `vivid-notify`.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use zeroize::Zeroizing;

use super::contacts;
use super::model::Method;
use crate::engine::Ctx;
use crate::engine::outbox::{DeliveryError, Notification};

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

/// A token bucket per channel: `rate` per minute, bursts up to `rate`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

static BUCKETS: Mutex<Option<HashMap<String, Bucket>>> = Mutex::new(None);

/// May a page of this channel go now? None: yes (a token is taken);
/// Some(wait): not before `wait` has passed. Unlimited channels and
/// notifications without a channel always go.
pub fn admit(ctx: &Ctx, channel: Option<&str>, now: DateTime<Utc>) -> Option<TimeDelta> {
    let method: Method = channel?.parse().ok()?;
    let rate = ctx.config.notify.rate(method)?;
    let mut guard = BUCKETS.lock().unwrap_or_else(|p| p.into_inner());
    let buckets = guard.get_or_insert_with(HashMap::new);
    let b = buckets
        .entry(method.as_str().to_string())
        .or_insert(Bucket {
            tokens: f64::from(rate),
            at: now,
        });
    take(b, f64::from(rate), now)
}

fn take(b: &mut Bucket, rate: f64, now: DateTime<Utc>) -> Option<TimeDelta> {
    let per_sec = rate / 60.0;
    let elapsed = (now - b.at).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
    b.tokens = (b.tokens + elapsed * per_sec).min(rate);
    b.at = b.at.max(now);
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        None
    } else {
        let wait = ((1.0 - b.tokens) / per_sec * 1e6).ceil() as i64;
        Some(TimeDelta::microseconds(wait.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let mut b = Bucket {
            tokens: 2.0,
            at: t0,
        };
        // 2 per minute: two at once, then one every 30 s.
        assert_eq!(take(&mut b, 2.0, t0), None);
        assert_eq!(take(&mut b, 2.0, t0), None);
        let wait = take(&mut b, 2.0, t0).expect("over the rate");
        assert_eq!(wait, TimeDelta::seconds(30));
        assert!(take(&mut b, 2.0, t0 + TimeDelta::seconds(29)).is_some());
        assert_eq!(take(&mut b, 2.0, t0 + TimeDelta::seconds(30)), None);
    }
}
