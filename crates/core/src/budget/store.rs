//! All of budget management's SQL: periods, lines with their running
//! totals, spend requests, commitments, expenses (one by one and in bulk),
//! reported revenue, spend reviews and reallocations.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model::{Period, PeriodKind, PeriodState, ReviewState, Rollover};
use crate::db::text_column;
use crate::error::{Error, Result};

text_column!(
    PeriodState,
    "budget period state",
    all = PeriodState::ALL,
    text = PeriodState::as_str
);
text_column!(
    Rollover,
    "budget rollover",
    all = Rollover::ALL,
    text = Rollover::as_str
);
text_column!(
    ReviewState,
    "spend review state",
    all = ReviewState::ALL,
    text = ReviewState::as_str
);

// ---------------------------------------------------------------------------
// Periods

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PeriodRow {
    pub key: String,
    pub kind: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub state: PeriodState,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl PeriodRow {
    pub fn period(&self) -> Period {
        let kind = match self.kind.as_str() {
            "quarter" => PeriodKind::Quarter,
            "year" => PeriodKind::Year,
            _ => PeriodKind::Month,
        };
        Period {
            kind,
            start: self.starts_on,
            end: self.ends_on,
        }
    }
}

const PERIOD_COLUMNS: &str = "key, kind, starts_on, ends_on, state, closed_by, closed_at";

fn kind_str(k: PeriodKind) -> &'static str {
    match k {
        PeriodKind::Month => "month",
        PeriodKind::Quarter => "quarter",
        PeriodKind::Year => "year",
    }
}

/// The period's row, created open when it is new; locked.
pub async fn ensure_period(
    conn: &mut PgConnection,
    p: &Period,
    now: DateTime<Utc>,
) -> Result<(PeriodRow, bool)> {
    let created: Option<String> = sqlx::query_scalar(
        "INSERT INTO budget_periods (key, kind, starts_on, ends_on, state, created_at)
         VALUES ($1, $2, $3, $4, 'open', $5) ON CONFLICT (key) DO NOTHING RETURNING key",
    )
    .bind(p.key())
    .bind(kind_str(p.kind))
    .bind(p.start)
    .bind(p.end)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let row = lock_period(conn, &p.key()).await?;
    Ok((row, created.is_some()))
}

pub async fn lock_period(conn: &mut PgConnection, key: &str) -> Result<PeriodRow> {
    let sql = format!("SELECT {PERIOD_COLUMNS} FROM budget_periods WHERE key = $1 FOR UPDATE");
    let row: Option<PeriodRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no budget period {key}")))
}

pub async fn get_period(conn: &mut PgConnection, key: &str) -> Result<Option<PeriodRow>> {
    let sql = format!("SELECT {PERIOD_COLUMNS} FROM budget_periods WHERE key = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?)
}

pub async fn close_period(
    conn: &mut PgConnection,
    key: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE budget_periods SET state = 'closed', closed_by = $2, closed_at = $3 WHERE key = $1",
    )
    .bind(key)
    .bind(by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Lines

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Line {
    pub id: i64,
    pub period: String,
    pub department: String,
    pub channel: String,
    pub campaign: String,
    pub budget_cents: i64,
    pub spent_cents: i64,
    pub committed_cents: i64,
    pub hard: bool,
    pub rollover: Rollover,
    pub paused: bool,
    pub pending_cents: Option<i64>,
    pub approval_id: Option<i64>,
    pub alarms: Vec<String>,
    pub mid_forecast_cents: Option<i64>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Line {
    /// "marketing/ads/spring-sale (2026-11)".
    pub fn label(&self) -> String {
        let mut s = self.department.clone();
        if !self.channel.is_empty() {
            s.push('/');
            s.push_str(&self.channel);
        }
        if !self.campaign.is_empty() {
            s.push('/');
            s.push_str(&self.campaign);
        }
        format!("{s} ({})", self.period)
    }
}

const LINE_COLUMNS: &str = "id, period, department, channel, campaign, budget_cents, spent_cents, committed_cents,
    hard, rollover, paused, pending_cents, approval_id, alarms, mid_forecast_cents, created_by, created_at, updated_at";

pub async fn insert_line(conn: &mut PgConnection, l: &Line) -> Result<Line> {
    let sql = format!(
        "INSERT INTO budget_lines (period, department, channel, campaign, budget_cents, hard, rollover,
            pending_cents, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {LINE_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&l.period)
        .bind(&l.department)
        .bind(&l.channel)
        .bind(&l.campaign)
        .bind(l.budget_cents)
        .bind(l.hard)
        .bind(l.rollover)
        .bind(l.pending_cents)
        .bind(&l.created_by)
        .bind(l.created_at)
        .fetch_one(conn)
        .await?)
}

/// Write back everything a command may change on a line.
pub async fn save_line(conn: &mut PgConnection, l: &Line) -> Result<()> {
    sqlx::query(
        "UPDATE budget_lines SET budget_cents = $2, spent_cents = $3, committed_cents = $4, hard = $5,
            rollover = $6, paused = $7, pending_cents = $8, approval_id = $9, alarms = $10,
            mid_forecast_cents = $11, updated_at = $12 WHERE id = $1",
    )
    .bind(l.id)
    .bind(l.budget_cents)
    .bind(l.spent_cents)
    .bind(l.committed_cents)
    .bind(l.hard)
    .bind(l.rollover)
    .bind(l.paused)
    .bind(l.pending_cents)
    .bind(l.approval_id)
    .bind(&l.alarms)
    .bind(l.mid_forecast_cents)
    .bind(l.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn lock_line(conn: &mut PgConnection, id: i64) -> Result<Line> {
    let sql = format!("SELECT {LINE_COLUMNS} FROM budget_lines WHERE id = $1 FOR UPDATE");
    let row: Option<Line> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no budget line #{id}")))
}

/// The line exactly matching (period, department, channel, campaign), locked.
pub async fn find_line(
    conn: &mut PgConnection,
    period: &str,
    department: &str,
    channel: &str,
    campaign: &str,
) -> Result<Option<Line>> {
    let sql = format!(
        "SELECT {LINE_COLUMNS} FROM budget_lines
         WHERE period = $1 AND department = $2 AND channel = $3 AND campaign = $4 FOR UPDATE"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(period)
        .bind(department)
        .bind(channel)
        .bind(campaign)
        .fetch_optional(conn)
        .await?)
}

/// The most specific line for spend: campaign line, else channel line, else
/// the department's line; locked.
pub async fn line_for_spend(
    conn: &mut PgConnection,
    period: &str,
    department: &str,
    channel: &str,
    campaign: &str,
) -> Result<Option<Line>> {
    let sql = format!(
        "SELECT {LINE_COLUMNS} FROM budget_lines
         WHERE period = $1 AND department = $2
           AND (channel = $3 OR channel = '') AND (campaign = $4 OR campaign = '')
           AND NOT (channel = '' AND campaign <> '')
         ORDER BY (campaign <> '') DESC, (channel <> '') DESC LIMIT 1 FOR UPDATE"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(period)
        .bind(department)
        .bind(channel)
        .bind(campaign)
        .fetch_optional(conn)
        .await?)
}

/// A period's lines (of one department), in a stable order.
pub async fn lines(
    conn: &mut PgConnection,
    period: &str,
    department: Option<&str>,
) -> Result<Vec<Line>> {
    let sql = format!(
        "SELECT {LINE_COLUMNS} FROM budget_lines WHERE period = $1 AND ($2::text IS NULL OR department = $2)
         ORDER BY department, channel, campaign"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(period)
        .bind(department)
        .fetch_all(conn)
        .await?)
}

/// The line a campaign's budget lives on in a period.
pub async fn campaign_line(
    conn: &mut PgConnection,
    period: &str,
    campaign: &str,
) -> Result<Option<Line>> {
    let sql = format!(
        "SELECT {LINE_COLUMNS} FROM budget_lines WHERE period = $1 AND campaign = $2 ORDER BY id LIMIT 1"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(period)
        .bind(campaign)
        .fetch_optional(conn)
        .await?)
}

/// Add to a line's running totals (negative to take away).
pub async fn add_totals(
    conn: &mut PgConnection,
    line_id: i64,
    spent: i64,
    committed: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE budget_lines SET spent_cents = spent_cents + $2, committed_cents = committed_cents + $3,
            updated_at = $4 WHERE id = $1",
    )
    .bind(line_id)
    .bind(spent)
    .bind(committed)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Campaigns (the shared campaigns table)

pub async fn campaign_exists(conn: &mut PgConnection, key: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT key FROM campaigns WHERE key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

pub async fn insert_campaign(
    conn: &mut PgConnection,
    key: &str,
    name: &str,
    channel: &str,
    department: &str,
    starts_on: NaiveDate,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO campaigns (key, name, channel, department, starts_on) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(name)
    .bind(channel)
    .bind(department)
    .bind(starts_on)
    .execute(conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Spend requests

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Request {
    pub id: i64,
    pub line_id: i64,
    pub r#ref: String,
    pub amount_cents: i64,
    pub reason: String,
    pub requested_by: String,
    pub state: String,
    pub approval_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

const REQUEST_COLUMNS: &str = "id, line_id, ref, amount_cents, reason, requested_by, state, approval_id, created_at, decided_at";

pub async fn insert_request(
    conn: &mut PgConnection,
    line_id: i64,
    r: Option<&str>,
    amount: i64,
    reason: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Request> {
    let sql = format!(
        "INSERT INTO budget_requests (line_id, ref, amount_cents, reason, requested_by, state, created_at)
         VALUES ($1, COALESCE($2, 'REQ-' || nextval('budget_requests_id_seq')::text), $3, $4, $5, 'pending', $6)
         RETURNING {REQUEST_COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(line_id)
        .bind(r)
        .bind(amount)
        .bind(reason)
        .bind(by)
        .bind(now)
        .fetch_one(conn)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => Error::conflict(format!(
                "a spend request with reference {r:?} exists already"
            )),
            e => e.into(),
        })
}

pub async fn lock_request(conn: &mut PgConnection, id: i64) -> Result<Request> {
    let sql = format!("SELECT {REQUEST_COLUMNS} FROM budget_requests WHERE id = $1 FOR UPDATE");
    let row: Option<Request> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no spend request #{id}")))
}

pub async fn save_request(conn: &mut PgConnection, r: &Request) -> Result<()> {
    sqlx::query(
        "UPDATE budget_requests SET state = $2, approval_id = $3, decided_at = $4 WHERE id = $1",
    )
    .bind(r.id)
    .bind(&r.state)
    .bind(r.approval_id)
    .bind(r.decided_at)
    .execute(conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Commitments

/// A new open commitment; `None` when its reference exists already.
#[allow(clippy::too_many_arguments)]
pub async fn insert_commitment(
    conn: &mut PgConnection,
    line_id: i64,
    r: &str,
    amount: i64,
    source_workflow: &str,
    source_entity: &str,
    correlation_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "INSERT INTO budget_commitments (line_id, ref, amount_cents, source_workflow, source_entity, correlation_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (ref) DO NOTHING RETURNING id",
    )
    .bind(line_id)
    .bind(r)
    .bind(amount)
    .bind(source_workflow)
    .bind(source_entity)
    .bind(correlation_id)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Replace the open commitment with this reference (an expense arrived):
/// its (line, amount), once.
pub async fn replace_commitment(
    conn: &mut PgConnection,
    r: &str,
    now: DateTime<Utc>,
) -> Result<Option<(i64, i64)>> {
    Ok(sqlx::query_as(
        "UPDATE budget_commitments SET state = 'replaced', replaced_at = $2
         WHERE ref = $1 AND state = 'open' RETURNING line_id, amount_cents",
    )
    .bind(r)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

// ---------------------------------------------------------------------------
// Expenses

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Expense {
    pub id: i64,
    pub line_id: i64,
    pub r#ref: String,
    pub spent_on: NaiveDate,
    pub campaign: String,
    pub vendor: String,
    pub amount_cents: i64,
    pub source: String,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
}

const EXPENSE_COLUMNS: &str =
    "id, line_id, ref, spent_on, campaign, vendor, amount_cents, source, recorded_by, created_at";

/// A new expense; `None` when its reference is known already (idempotent).
pub async fn insert_expense(conn: &mut PgConnection, e: &Expense) -> Result<Option<Expense>> {
    let sql = format!(
        "INSERT INTO budget_expenses (line_id, ref, spent_on, campaign, vendor, amount_cents, source, recorded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (ref) DO NOTHING RETURNING {EXPENSE_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(e.line_id)
        .bind(&e.r#ref)
        .bind(e.spent_on)
        .bind(&e.campaign)
        .bind(&e.vendor)
        .bind(e.amount_cents)
        .bind(&e.source)
        .bind(&e.recorded_by)
        .bind(e.created_at)
        .fetch_optional(conn)
        .await?)
}

/// One row of a bulk import, already matched to its line.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line_id: i64,
    pub r#ref: String,
    pub spent_on: NaiveDate,
    pub campaign: String,
    pub vendor: String,
    pub amount_cents: i64,
}

/// Insert many expenses at once (unknown references only) and return, per
/// line, the amount and count inserted; and the references inserted.
pub async fn insert_expenses_bulk(
    conn: &mut PgConnection,
    rows: &[ImportRow],
    by: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, String, i64)>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let line_ids: Vec<i64> = rows.iter().map(|r| r.line_id).collect();
    let refs: Vec<&str> = rows.iter().map(|r| r.r#ref.as_str()).collect();
    let dates: Vec<NaiveDate> = rows.iter().map(|r| r.spent_on).collect();
    let campaigns: Vec<&str> = rows.iter().map(|r| r.campaign.as_str()).collect();
    let vendors: Vec<&str> = rows.iter().map(|r| r.vendor.as_str()).collect();
    let amounts: Vec<i64> = rows.iter().map(|r| r.amount_cents).collect();
    Ok(sqlx::query_as(
        "INSERT INTO budget_expenses (line_id, ref, spent_on, campaign, vendor, amount_cents, source, recorded_by, created_at)
         SELECT l, r, d, c, v, a, 'import', $7, $8
           FROM UNNEST($1::bigint[], $2::text[], $3::date[], $4::text[], $5::text[], $6::bigint[]) AS t(l, r, d, c, v, a)
         ON CONFLICT (ref) DO NOTHING RETURNING line_id, ref, amount_cents",
    )
    .bind(&line_ids)
    .bind(&refs)
    .bind(&dates)
    .bind(&campaigns)
    .bind(&vendors)
    .bind(&amounts)
    .bind(by)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// Replace the open commitments with these references: (line, amount) each.
pub async fn replace_commitments(
    conn: &mut PgConnection,
    refs: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<(i64, i64)>> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(
        "UPDATE budget_commitments SET state = 'replaced', replaced_at = $2
         WHERE ref = ANY($1) AND state = 'open' RETURNING line_id, amount_cents",
    )
    .bind(refs)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// The largest expenses of a line (a spend review's inputs).
pub async fn top_expenses(
    conn: &mut PgConnection,
    line_id: i64,
    limit: i64,
) -> Result<Vec<Expense>> {
    let sql = format!(
        "SELECT {EXPENSE_COLUMNS} FROM budget_expenses WHERE line_id = $1 ORDER BY amount_cents DESC, id LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(line_id)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

// ---------------------------------------------------------------------------
// Revenue and ROI

/// Reported revenue; `false` when its reference is known already.
pub async fn insert_revenue(
    conn: &mut PgConnection,
    campaign: &str,
    r: &str,
    on: NaiveDate,
    amount: i64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO budget_revenue (campaign, ref, earned_on, amount_cents, recorded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ref) DO NOTHING RETURNING id",
    )
    .bind(campaign)
    .bind(r)
    .bind(on)
    .bind(amount)
    .bind(by)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(id.is_some())
}

/// Per campaign over local dates [from, to): (campaign, spend, revenue).
pub async fn campaign_roi(
    conn: &mut PgConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, i64, i64)>> {
    Ok(sqlx::query_as(
        "WITH s AS (SELECT campaign, SUM(amount_cents)::bigint AS spend FROM budget_expenses
                     WHERE campaign <> '' AND spent_on >= $1 AND spent_on < $2 GROUP BY campaign),
              r AS (SELECT campaign, SUM(amount_cents)::bigint AS revenue FROM budget_revenue
                     WHERE earned_on >= $1 AND earned_on < $2 GROUP BY campaign)
         SELECT COALESCE(s.campaign, r.campaign), COALESCE(s.spend, 0), COALESCE(r.revenue, 0)
           FROM s FULL JOIN r ON r.campaign = s.campaign ORDER BY 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

// ---------------------------------------------------------------------------
// Spend reviews

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Review {
    pub id: i64,
    pub line_id: i64,
    pub state: ReviewState,
    pub approval_id: Option<i64>,
    pub inputs: serde_json::Value,
    pub deadline: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

const REVIEW_COLUMNS: &str =
    "id, line_id, state, approval_id, inputs, deadline, opened_at, decided_at, decided_by, reason";

pub async fn insert_review(
    conn: &mut PgConnection,
    line_id: i64,
    inputs: &serde_json::Value,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Review> {
    let sql = format!(
        "INSERT INTO budget_reviews (line_id, state, inputs, deadline, opened_at) VALUES ($1, 'open', $2, $3, $4)
         RETURNING {REVIEW_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(line_id)
        .bind(inputs)
        .bind(deadline)
        .bind(now)
        .fetch_one(conn)
        .await?)
}

pub async fn lock_review(conn: &mut PgConnection, id: i64) -> Result<Review> {
    let sql = format!("SELECT {REVIEW_COLUMNS} FROM budget_reviews WHERE id = $1 FOR UPDATE");
    let row: Option<Review> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no spend review #{id}")))
}

pub async fn save_review(conn: &mut PgConnection, r: &Review) -> Result<()> {
    sqlx::query(
        "UPDATE budget_reviews SET state = $2, approval_id = $3, decided_at = $4, decided_by = $5, reason = $6
         WHERE id = $1",
    )
    .bind(r.id)
    .bind(r.state)
    .bind(r.approval_id)
    .bind(r.decided_at)
    .bind(&r.decided_by)
    .bind(&r.reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// An open (or escalated) review of a line, if any.
pub async fn open_review_of(conn: &mut PgConnection, line_id: i64) -> Result<Option<Review>> {
    let sql = format!(
        "SELECT {REVIEW_COLUMNS} FROM budget_reviews WHERE line_id = $1 AND state IN ('open', 'escalated') LIMIT 1"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(line_id)
        .fetch_optional(conn)
        .await?)
}

/// Reviews, open ones first, newest first (bounded).
pub async fn reviews(conn: &mut PgConnection, open_only: bool, limit: i64) -> Result<Vec<Review>> {
    let sql = format!(
        "SELECT {REVIEW_COLUMNS} FROM budget_reviews
         WHERE (NOT $1 OR state IN ('open', 'escalated'))
         ORDER BY (state IN ('open', 'escalated')) DESC, id DESC LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(open_only)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Counts for the tile: open reviews, reviews decided, mean hours to decide.
pub async fn review_counts(conn: &mut PgConnection) -> Result<(i64, i64, Option<f64>)> {
    Ok(sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE state IN ('open', 'escalated')),
                COUNT(*) FILTER (WHERE decided_at IS NOT NULL AND state NOT IN ('open', 'escalated')),
                (AVG(EXTRACT(EPOCH FROM decided_at - opened_at)) FILTER (WHERE decided_at IS NOT NULL AND state NOT IN ('open', 'escalated')) / 3600.0)::float8
           FROM budget_reviews",
    )
    .fetch_one(conn)
    .await?)
}

// ---------------------------------------------------------------------------
// Reallocations

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Reallocation {
    pub id: i64,
    pub from_line: i64,
    pub to_line: i64,
    pub amount_cents: i64,
    pub reason: String,
    pub inputs: serde_json::Value,
    pub state: String,
    pub proposed_by: String,
    pub approver: Option<String>,
    pub approval_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

const REALLOC_COLUMNS: &str = "id, from_line, to_line, amount_cents, reason, inputs, state, proposed_by, approver, approval_id, created_at, decided_at";

pub async fn insert_reallocation(
    conn: &mut PgConnection,
    r: &Reallocation,
) -> Result<Reallocation> {
    let sql = format!(
        "INSERT INTO budget_reallocations (from_line, to_line, amount_cents, reason, inputs, state, proposed_by, approver, created_at, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {REALLOC_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(r.from_line)
        .bind(r.to_line)
        .bind(r.amount_cents)
        .bind(&r.reason)
        .bind(&r.inputs)
        .bind(&r.state)
        .bind(&r.proposed_by)
        .bind(&r.approver)
        .bind(r.created_at)
        .bind(r.decided_at)
        .fetch_one(conn)
        .await?)
}

pub async fn lock_reallocation(conn: &mut PgConnection, id: i64) -> Result<Reallocation> {
    let sql =
        format!("SELECT {REALLOC_COLUMNS} FROM budget_reallocations WHERE id = $1 FOR UPDATE");
    let row: Option<Reallocation> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no reallocation #{id}")))
}

pub async fn save_reallocation(conn: &mut PgConnection, r: &Reallocation) -> Result<()> {
    sqlx::query(
        "UPDATE budget_reallocations SET state = $2, approver = $3, approval_id = $4, decided_at = $5 WHERE id = $1",
    )
    .bind(r.id)
    .bind(&r.state)
    .bind(&r.approver)
    .bind(r.approval_id)
    .bind(r.decided_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Pending spend requests and reallocations (tile and screen), bounded.
pub async fn pending_counts(conn: &mut PgConnection) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM budget_requests WHERE state = 'pending'),
                (SELECT COUNT(*) FROM budget_reallocations WHERE state = 'pending')",
    )
    .fetch_one(conn)
    .await?)
}
