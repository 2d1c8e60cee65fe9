//! All of the customer journey's SQL: prospects, touches, orders, support
//! tickets, feedback, campaigns and the funnel's aggregates. Lead and ticket
//! statuses are stored as text (see `text_column!` below); a stored value no
//! state machine knows reads back as an internal fault.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model::{LeadStatus, TicketStatus};
use crate::db::text_column;
use crate::error::{Error, Result};

text_column!(
    LeadStatus,
    "lead status",
    all = LeadStatus::ALL,
    text = LeadStatus::as_str
);
text_column!(
    TicketStatus,
    "ticket status",
    all = TicketStatus::ALL,
    text = TicketStatus::as_str
);

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Prospect {
    pub id: i64,
    pub key: String,
    pub segment: String,
    pub first_channel: String,
    pub last_channel: String,
    pub status: LeadStatus,
    pub stage: String,
    pub score: f64,
    pub score_at: DateTime<Utc>,
    pub clicks: i32,
    pub alerted: bool,
    pub referred_by: Option<i64>,
    pub handed_off_at: Option<DateTime<Utc>>,
    pub contacted_at: Option<DateTime<Utc>>,
    pub contacted_by: Option<String>,
    pub converted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The Sales member who owns the lead (routing or reassignment).
    pub owner: Option<String>,
    pub region: Option<String>,
    /// Profile attributes the fit score counts (not personal data).
    pub attributes: Vec<String>,
    /// The campaign of the first touch that named one.
    pub source_campaign: Option<String>,
    pub fit: f64,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<String>,
    pub disqualified_at: Option<DateTime<Utc>>,
    pub disqualified_by: Option<String>,
    pub disqualify_reason: Option<String>,
    pub recycled_at: Option<DateTime<Utc>>,
    pub recycles: i32,
}

const COLUMNS: &str = "id, key, segment, first_channel, last_channel, status, stage, score, score_at, clicks, alerted,
    referred_by, handed_off_at, contacted_at, contacted_by, converted_at, created_at, owner, region, attributes,
    source_campaign, fit, accepted_at, accepted_by, disqualified_at, disqualified_by, disqualify_reason, recycled_at, recycles";

fn unknown(key: &str) -> Error {
    Error::not_found(format!("unknown prospect {key:?}"))
}

/// Create the prospect on its first touch (a known key is left alone).
pub async fn insert_prospect_if_new(
    conn: &mut PgConnection,
    key: &str,
    segment: &str,
    channel: &str,
    campaign: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO prospects (key, segment, first_channel, last_channel, status, stage, score_at, created_at, source_campaign)
         VALUES ($1, $2, $3, $3, $4, 'new', $5, $5, $6) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(segment)
    .bind(channel)
    .bind(LeadStatus::Prospect)
    .bind(now)
    .bind(campaign)
    .execute(conn)
    .await?;
    Ok(())
}

/// A referred person starts their journey: None when the key is known.
pub async fn insert_referred(
    conn: &mut PgConnection,
    key: &str,
    segment: &str,
    referred_by: i64,
    now: DateTime<Utc>,
) -> Result<Option<Prospect>> {
    let sql = format!(
        "INSERT INTO prospects (key, segment, first_channel, last_channel, status, stage, score_at, referred_by, created_at)
         VALUES ($1, $2, 'referral', 'referral', $5, 'new', $3, $4, $3) ON CONFLICT (key) DO NOTHING RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .bind(segment)
        .bind(now)
        .bind(referred_by)
        .bind(LeadStatus::Prospect)
        .fetch_optional(conn)
        .await?)
}

/// Load a prospect by key, locking it for the rest of the transaction.
pub async fn lock_key(conn: &mut PgConnection, key: &str) -> Result<Prospect> {
    let sql = format!("SELECT {COLUMNS} FROM prospects WHERE key = $1 FOR UPDATE");
    let row: Option<Prospect> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| unknown(key))
}

pub async fn get(conn: &mut PgConnection, key: &str) -> Result<Prospect> {
    let sql = format!("SELECT {COLUMNS} FROM prospects WHERE key = $1");
    let row: Option<Prospect> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| unknown(key))
}

/// A lead handed to Sales and not yet contacted, with its hand-off's clock.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct QueuedLead {
    #[sqlx(flatten)]
    pub prospect: Prospect,
    /// The lead hand-off (absent only for data older than hand-offs).
    pub handoff_id: Option<i64>,
    pub due_at: Option<DateTime<Utc>>,
    pub breached: bool,
}

/// The leads waiting on Sales, with their latest lead hand-off (one query,
/// by the partial index on waiting prospects and the hand-offs' entity
/// index): soonest due first, then longest waiting.
pub async fn lead_queue(
    conn: &mut PgConnection,
    workflow: &str,
    handoff_kind: &str,
    limit: i64,
) -> Result<Vec<QueuedLead>> {
    let cols = COLUMNS
        .split(',')
        .map(|c| format!("p.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols}, h.id AS handoff_id, h.due_at, coalesce(h.breached, false) AS breached
         FROM prospects p
         LEFT JOIN LATERAL (
             SELECT id, due_at, breached FROM handoffs
             WHERE workflow = $1 AND entity_id = p.key AND kind = $2 ORDER BY id DESC LIMIT 1) h ON true
         WHERE p.status = $3
         ORDER BY h.due_at NULLS LAST, p.handed_off_at, p.id LIMIT $4"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(workflow)
        .bind(handoff_kind)
        .bind(LeadStatus::HandedOff)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// The first customer who gave a promoter's NPS (the demo's referrer).
pub async fn first_promoter(conn: &mut PgConnection) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT p.key FROM prospects p JOIN feedback f ON f.prospect_id = p.id WHERE f.nps >= 9 ORDER BY p.id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn save(conn: &mut PgConnection, p: &Prospect) -> Result<()> {
    sqlx::query(
        "UPDATE prospects SET last_channel = $2, status = $3, stage = $4, score = $5, score_at = $6, clicks = $7, alerted = $8,
            handed_off_at = $9, contacted_at = $10, contacted_by = $11, converted_at = $12, owner = $13, region = $14,
            attributes = $15, source_campaign = $16, fit = $17, accepted_at = $18, accepted_by = $19, disqualified_at = $20,
            disqualified_by = $21, disqualify_reason = $22, recycled_at = $23, recycles = $24, segment = $25 WHERE id = $1",
    )
    .bind(p.id)
    .bind(&p.last_channel)
    .bind(p.status)
    .bind(&p.stage)
    .bind(p.score)
    .bind(p.score_at)
    .bind(p.clicks)
    .bind(p.alerted)
    .bind(p.handed_off_at)
    .bind(p.contacted_at)
    .bind(&p.contacted_by)
    .bind(p.converted_at)
    .bind(&p.owner)
    .bind(&p.region)
    .bind(&p.attributes)
    .bind(&p.source_campaign)
    .bind(p.fit)
    .bind(p.accepted_at)
    .bind(&p.accepted_by)
    .bind(p.disqualified_at)
    .bind(&p.disqualified_by)
    .bind(&p.disqualify_reason)
    .bind(p.recycled_at)
    .bind(p.recycles)
    .bind(&p.segment)
    .execute(conn)
    .await?;
    Ok(())
}

/// A scored touch; false when its idempotency key was seen before.
#[allow(clippy::too_many_arguments)]
pub async fn insert_touch(
    conn: &mut PgConnection,
    prospect_id: i64,
    channel: &str,
    kind: &str,
    points: i32,
    content_id: Option<i64>,
    idempotency_key: &str,
    campaign: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO touches (prospect_id, channel, kind, points, content_id, idempotency_key, occurred_at, campaign)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(prospect_id)
    .bind(channel)
    .bind(kind)
    .bind(points)
    .bind(content_id)
    .bind(idempotency_key)
    .bind(now)
    .bind(campaign)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

pub async fn insert_order(
    conn: &mut PgConnection,
    p: &Prospect,
    value_cents: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO orders (prospect_id, value_cents, first_channel, last_channel, created_by, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(p.id)
    .bind(value_cents)
    .bind(&p.first_channel)
    .bind(&p.last_channel)
    .bind(actor)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Ticket {
    pub id: i64,
    pub prospect_id: i64,
    pub subject: String,
    pub status: TicketStatus,
    pub due_at: DateTime<Utc>,
    pub breached: bool,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

const TICKET_COLUMNS: &str = "id, prospect_id, subject, status, due_at, breached, opened_by, opened_at, resolved_by, resolved_at, resolution";

pub async fn insert_ticket(
    conn: &mut PgConnection,
    prospect_id: i64,
    subject: &str,
    due: DateTime<Utc>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Ticket> {
    let sql = format!(
        "INSERT INTO tickets (prospect_id, subject, status, due_at, opened_by, opened_at) VALUES ($1, $2, $6, $3, $4, $5) RETURNING {TICKET_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(prospect_id)
        .bind(subject)
        .bind(due)
        .bind(actor)
        .bind(now)
        .bind(TicketStatus::Open)
        .fetch_one(conn)
        .await?)
}

/// Load a ticket, locking it for the rest of the transaction.
pub async fn lock_ticket(conn: &mut PgConnection, id: i64) -> Result<Ticket> {
    let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1 FOR UPDATE");
    let t: Option<Ticket> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    t.ok_or_else(|| Error::not_found(format!("no ticket #{id}")))
}

pub async fn save_ticket(conn: &mut PgConnection, t: &Ticket) -> Result<()> {
    sqlx::query(
        "UPDATE tickets SET status = $2, breached = $3, resolved_by = $4, resolved_at = $5, resolution = $6 WHERE id = $1",
    )
    .bind(t.id)
    .bind(t.status)
    .bind(t.breached)
    .bind(&t.resolved_by)
    .bind(t.resolved_at)
    .bind(&t.resolution)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_feedback(
    conn: &mut PgConnection,
    prospect_id: i64,
    nps: Option<i32>,
    csat: Option<i32>,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("INSERT INTO feedback (prospect_id, nps, csat, comment, given_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(prospect_id)
        .bind(nps)
        .bind(csat)
        .bind(comment)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Satisfied customers (NPS or CSAT at the level), referrers first:
/// (id, key).
pub async fn satisfied_customers(
    conn: &mut PgConnection,
    nps: i32,
    csat: i32,
) -> Result<Vec<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.key FROM prospects p
         WHERE p.status = $3 AND EXISTS (
             SELECT 1 FROM feedback f WHERE f.prospect_id = p.id AND (f.nps >= $1 OR f.csat >= $2))
         ORDER BY EXISTS (SELECT 1 FROM prospects r WHERE r.referred_by = p.id) DESC, p.id",
    )
    .bind(nps)
    .bind(csat)
    .bind(LeadStatus::Customer)
    .fetch_all(conn)
    .await?)
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_campaign(
    conn: &mut PgConnection,
    name: &str,
    kind: &str,
    audience: &[i64],
    content_id: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO journey_campaigns (name, kind, audience, content_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(name)
    .bind(kind)
    .bind(audience)
    .bind(content_id)
    .bind(actor)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// The content to send next: an approved, live item (published, in
/// performance or maintenance), best first by (targeted at this stage and
/// segment) > (not targeted elsewhere) > (the stage's configured kind) >
/// click-through; `None` only when no item is live: (id, title).
pub async fn best_content(
    conn: &mut PgConnection,
    kind: Option<&str>,
    stage: &str,
    segment: &str,
) -> Result<Option<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.title FROM content_items c
         LEFT JOIN journey_content_targets t ON t.content_id = c.id
         LEFT JOIN (SELECT item_id, sum(clicks)::float8 / nullif(sum(views), 0) AS ctr FROM content_metrics GROUP BY item_id) m ON m.item_id = c.id
         WHERE c.state IN ('published', 'performance', 'maintenance')
         ORDER BY (t.content_id IS NOT NULL AND (cardinality(t.stages) = 0 OR $2 = ANY(t.stages))
                      AND (cardinality(t.segments) = 0 OR $3 = ANY(t.segments))) DESC,
                  (t.content_id IS NULL) DESC,
                  (c.kind = $1) IS TRUE DESC,
                  m.ctr DESC NULLS LAST, c.id
         LIMIT 1",
    )
    .bind(kind)
    .bind(stage)
    .bind(segment)
    .fetch_optional(conn)
    .await?)
}

/// Say which segments and stages a content item suits (empty: any).
pub async fn set_content_target(
    conn: &mut PgConnection,
    content_id: i64,
    segments: &[String],
    stages: &[String],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO journey_content_targets (content_id, segments, stages, set_by, set_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (content_id) DO UPDATE SET segments = $2, stages = $3, set_by = $4, set_at = $5",
    )
    .bind(content_id)
    .bind(segments)
    .bind(stages)
    .bind(actor)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a content item exists (for a clear refusal).
pub async fn content_exists(conn: &mut PgConnection, id: i64) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM content_items WHERE id = $1)")
            .bind(id)
            .fetch_one(conn)
            .await?,
    )
}

/// One touch of a lead, as its timeline shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TouchRow {
    pub occurred_at: DateTime<Utc>,
    pub channel: String,
    pub kind: String,
    pub points: i32,
    pub campaign: Option<String>,
    pub content_id: Option<i64>,
}

/// A prospect's touches, newest first (at most `limit`).
pub async fn touches(
    conn: &mut PgConnection,
    prospect_id: i64,
    limit: i64,
) -> Result<Vec<TouchRow>> {
    Ok(sqlx::query_as(
        "SELECT occurred_at, channel, kind, points, campaign, content_id FROM touches
         WHERE prospect_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2",
    )
    .bind(prospect_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The value of a prospect's orders, in cents.
pub async fn order_total(conn: &mut PgConnection, prospect_id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(value_cents), 0)::bigint FROM orders WHERE prospect_id = $1",
    )
    .bind(prospect_id)
    .fetch_one(conn)
    .await?)
}

/// Open leads (handed off, accepted, contacted) per owner.
pub async fn open_leads_by_owner(conn: &mut PgConnection) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT owner, count(*) FROM prospects
         WHERE owner IS NOT NULL AND status IN ($1, $2, $3) GROUP BY owner",
    )
    .bind(LeadStatus::HandedOff)
    .bind(LeadStatus::Accepted)
    .bind(LeadStatus::Contacted)
    .fetch_all(conn)
    .await?)
}

/// Who got the last round-robin lead, locking the row so two hand-offs at
/// once take turns.
pub async fn lock_routing(conn: &mut PgConnection) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT last_owner FROM journey_routing WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        Some((last,)) => Ok(last),
        None => {
            sqlx::query("INSERT INTO journey_routing (id) VALUES (1) ON CONFLICT DO NOTHING")
                .execute(conn)
                .await?;
            Ok(None)
        }
    }
}

pub async fn save_routing(conn: &mut PgConnection, last: &str) -> Result<()> {
    sqlx::query("UPDATE journey_routing SET last_owner = $1 WHERE id = 1")
        .bind(last)
        .execute(conn)
        .await?;
    Ok(())
}

/// Leads in the given statuses (all with Sales when empty), optionally of
/// one owner, with their latest lead hand-off: soonest due first.
pub async fn leads(
    conn: &mut PgConnection,
    workflow: &str,
    handoff_kind: &str,
    statuses: &[LeadStatus],
    owner: Option<&str>,
    limit: i64,
) -> Result<Vec<QueuedLead>> {
    let cols = COLUMNS
        .split(',')
        .map(|c| format!("p.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let sql = format!(
        "SELECT {cols}, h.id AS handoff_id, h.due_at, coalesce(h.breached, false) AS breached
         FROM prospects p
         LEFT JOIN LATERAL (
             SELECT id, due_at, breached FROM handoffs
             WHERE workflow = $1 AND entity_id = p.key AND kind = $2 ORDER BY id DESC LIMIT 1) h ON true
         WHERE p.status = ANY($3) AND ($4::text IS NULL OR p.owner = $4)
         ORDER BY h.due_at NULLS LAST, p.handed_off_at, p.id LIMIT $5"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(workflow)
        .bind(handoff_kind)
        .bind(&statuses)
        .bind(owner)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Hand-off quality since `from`: (handed off, accepted, disqualified) of
/// the leads handed over in the window.
pub async fn handoff_quality(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
) -> Result<(i64, i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE accepted_at IS NOT NULL),
                count(*) FILTER (WHERE disqualified_at IS NOT NULL AND disqualified_at >= handed_off_at)
         FROM prospects WHERE handed_off_at >= $1",
    )
    .bind(from)
    .fetch_one(conn)
    .await?)
}

/// The funnel's aggregates over prospects, tickets, feedback and orders
/// since `from`, as stored (the read model shapes them).
#[derive(Debug, Clone, Default)]
pub struct FunnelRows {
    /// (stage, prospects now at it)
    pub by_stage: Vec<(String, i64)>,
    pub handed_off: i64,
    pub contacted: i64,
    pub customers: i64,
    pub mean_time_to_first_contact_secs: Option<f64>,
    /// Tickets due by now or resolved, and those resolved within the SLA.
    pub tickets_due: i64,
    pub tickets_met: i64,
    pub promoters: i64,
    pub detractors: i64,
    pub nps_answers: i64,
    pub csat: Option<f64>,
    pub referrers: i64,
    /// (channel, revenue in cents) by first and by last touch.
    pub revenue_first: Vec<(String, i64)>,
    pub revenue_last: Vec<(String, i64)>,
}

pub async fn funnel_rows(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<FunnelRows> {
    let by_stage: Vec<(String, i64)> = sqlx::query_as(
        "SELECT stage, count(*) FROM prospects WHERE created_at >= $1 GROUP BY stage",
    )
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    let (handed_off, contacted, customers, ttfc): (i64, i64, i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE handed_off_at IS NOT NULL), count(*) FILTER (WHERE contacted_at IS NOT NULL),
                count(*) FILTER (WHERE converted_at IS NOT NULL),
                avg(extract(epoch FROM contacted_at - handed_off_at)::float8) FILTER (WHERE contacted_at IS NOT NULL AND handed_off_at IS NOT NULL)
         FROM prospects WHERE created_at >= $1",
    )
    .bind(from)
    .fetch_one(&mut *conn)
    .await?;
    let (tickets_due, tickets_met): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE due_at <= $2 OR resolved_at IS NOT NULL), count(*) FILTER (WHERE resolved_at IS NOT NULL AND resolved_at <= due_at)
         FROM tickets WHERE opened_at >= $1",
    )
    .bind(from)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let (promoters, detractors, nps_answers, csat): (i64, i64, i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE nps >= 9), count(*) FILTER (WHERE nps <= 6), count(nps), avg(csat)::float8 FROM feedback WHERE given_at >= $1",
    )
    .bind(from)
    .fetch_one(&mut *conn)
    .await?;
    let referrers: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT referred_by) FROM prospects WHERE referred_by IS NOT NULL AND created_at >= $1",
    )
    .bind(from)
    .fetch_one(&mut *conn)
    .await?;
    let revenue_first: Vec<(String, i64)> = sqlx::query_as(
        "SELECT first_channel, sum(value_cents)::bigint FROM orders WHERE occurred_at >= $1 GROUP BY 1",
    )
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    let revenue_last: Vec<(String, i64)> = sqlx::query_as(
        "SELECT last_channel, sum(value_cents)::bigint FROM orders WHERE occurred_at >= $1 GROUP BY 1",
    )
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    Ok(FunnelRows {
        by_stage,
        handed_off,
        contacted,
        customers,
        mean_time_to_first_contact_secs: ttfc,
        tickets_due,
        tickets_met,
        promoters,
        detractors,
        nps_answers,
        csat,
        referrers,
        revenue_first,
        revenue_last,
    })
}

/// The journey tile's counts: (lead hand-offs with Sales, those past due,
/// open tickets, those past due, hand-offs in 30 days, orders in 30 days).
pub async fn tile_counts(
    conn: &mut PgConnection,
    workflow: &str,
    now: DateTime<Utc>,
) -> Result<(i64, i64, i64, i64, i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM handoffs WHERE workflow = $2 AND status IN ('open', 'acknowledged', 'in_progress', 'waiting')),
                (SELECT count(*) FROM handoffs WHERE workflow = $2 AND status = 'open' AND due_at < $1),
                (SELECT count(*) FROM tickets WHERE status = $3),
                (SELECT count(*) FROM tickets WHERE status = $3 AND due_at < $1),
                (SELECT count(*) FROM handoffs WHERE workflow = $2 AND created_at > $1 - interval '30 days'),
                (SELECT count(*) FROM orders WHERE occurred_at > $1 - interval '30 days')",
    )
    .bind(now)
    .bind(workflow)
    .bind(TicketStatus::Open)
    .fetch_one(conn)
    .await?)
}

/// Whether a timer of this kind is pending for the workflow.
pub async fn timer_pending(conn: &mut PgConnection, kind: &str, workflow: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM timers WHERE kind = $1 AND workflow = $2 AND status = 'pending')",
    )
    .bind(kind)
    .bind(workflow)
    .fetch_one(conn)
    .await?)
}
