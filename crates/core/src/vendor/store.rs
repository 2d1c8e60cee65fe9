//! All of vendor management's SQL: vendors, RFPs (criteria, proposals,
//! scores, overrides), contracts, deliveries, scorecards and improvement
//! plans. States are stored as text (see `text_column!`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::types::Json;

use super::model::{CriterionScore, ProposalStatus, Receipt, RfpState, State};
use crate::db::text_column;
use crate::error::{Error, Result};

text_column!(
    State,
    "vendor state",
    all = State::ALL,
    text = State::as_str
);
text_column!(
    ProposalStatus,
    "proposal status",
    all = ProposalStatus::ALL,
    text = ProposalStatus::as_str
);
text_column!(
    RfpState,
    "RFP state",
    all = RfpState::ALL,
    text = RfpState::as_str
);

// ---- vendors -------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Vendor {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub critical: bool,
    pub state: State,
    pub overall_score: Option<f64>,
    pub standing: Option<String>,
    /// The privacy subject holding the contact (a reference, never a value).
    pub contact_subject: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const VENDOR_COLUMNS: &str = "id, name, category, critical, state, overall_score, standing, contact_subject, created_by, created_at, updated_at";

pub async fn insert_vendor(
    conn: &mut PgConnection,
    name: &str,
    category: &str,
    critical: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vendor> {
    let sql = format!(
        "INSERT INTO vendor_vendors (name, category, critical, state, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT DO NOTHING RETURNING {VENDOR_COLUMNS}"
    );
    let row: Option<Vendor> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(category)
        .bind(critical)
        .bind(State::Prospect)
        .bind(actor)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::conflict(format!("there is a vendor named {name:?} already")))
}

/// A vendor by name (any case) or `#ID`; locked when `lock`.
pub async fn vendor(conn: &mut PgConnection, name: &str, lock: bool) -> Result<Vendor> {
    let id: Option<i64> = name.trim().strip_prefix('#').and_then(|n| n.parse().ok());
    let sql = format!(
        "SELECT {VENDOR_COLUMNS} FROM vendor_vendors WHERE ($1::bigint IS NOT NULL AND id = $1) OR lower(name) = lower($2) {}",
        if lock { "FOR UPDATE" } else { "" }
    );
    let row: Option<Vendor> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(name.trim())
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no vendor {name:?} (vivid vendor list)")))
}

pub async fn vendor_by_id(conn: &mut PgConnection, id: i64, lock: bool) -> Result<Vendor> {
    vendor(conn, &format!("#{id}"), lock).await
}

pub async fn save_vendor(conn: &mut PgConnection, v: &Vendor) -> Result<()> {
    sqlx::query(
        "UPDATE vendor_vendors SET state = $2, overall_score = $3, standing = $4, contact_subject = $5,
            critical = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(v.id)
    .bind(v.state)
    .bind(v.overall_score)
    .bind(&v.standing)
    .bind(&v.contact_subject)
    .bind(v.critical)
    .bind(v.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list_vendors(
    conn: &mut PgConnection,
    state: Option<State>,
    limit: i64,
) -> Result<Vec<Vendor>> {
    let sql = format!(
        "SELECT {VENDOR_COLUMNS} FROM vendor_vendors WHERE ($1::text IS NULL OR state = $1)
         ORDER BY lower(name) LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(state)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(conn)
        .await?)
}

/// Vendors being served (scored by the monthly review).
pub async fn serving_vendors(conn: &mut PgConnection) -> Result<Vec<Vendor>> {
    let sql = format!(
        "SELECT {VENDOR_COLUMNS} FROM vendor_vendors WHERE state IN ('active', 'improvement', 'renewed') ORDER BY id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?)
}

// ---- RFPs ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Rfp {
    pub id: i64,
    pub title: String,
    pub owner: String,
    pub requirements: String,
    pub evaluators: Vec<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub state: RfpState,
    pub approval_id: Option<i64>,
    pub awarded_vendor_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const RFP_COLUMNS: &str = "id, title, owner, requirements, evaluators, due_at, state, approval_id, awarded_vendor_id, created_at, updated_at";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CriterionRow {
    pub name: String,
    pub weight: i32,
    pub deal_breaker: bool,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_rfp(
    conn: &mut PgConnection,
    title: &str,
    owner: &str,
    requirements: &str,
    evaluators: &[String],
    due_at: Option<DateTime<Utc>>,
    criteria: &[super::model::Criterion],
    now: DateTime<Utc>,
) -> Result<Rfp> {
    let sql = format!(
        "INSERT INTO vendor_rfps (title, owner, requirements, evaluators, due_at, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {RFP_COLUMNS}"
    );
    let rfp: Rfp = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(title)
        .bind(owner)
        .bind(requirements)
        .bind(evaluators)
        .bind(due_at)
        .bind(RfpState::Open)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
    for (i, c) in criteria.iter().enumerate() {
        sqlx::query(
            "INSERT INTO vendor_rfp_criteria (rfp_id, name, weight, deal_breaker, position) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(rfp.id)
        .bind(&c.name)
        .bind(i32::try_from(c.weight).unwrap_or(0))
        .bind(c.deal_breaker)
        .bind(i32::try_from(i).unwrap_or(0))
        .execute(&mut *conn)
        .await?;
    }
    Ok(rfp)
}

/// An RFP by `#ID`, number or exact title.
pub async fn rfp(conn: &mut PgConnection, key: &str, lock: bool) -> Result<Rfp> {
    let id: Option<i64> = key.trim().trim_start_matches('#').parse().ok();
    let sql = format!(
        "SELECT {RFP_COLUMNS} FROM vendor_rfps WHERE ($1::bigint IS NOT NULL AND id = $1) OR lower(title) = lower($2)
         ORDER BY id DESC LIMIT 1 {}",
        if lock { "FOR UPDATE" } else { "" }
    );
    let row: Option<Rfp> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(key.trim())
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no RFP {key:?} (vivid vendor rfp list)")))
}

pub async fn rfp_by_id(conn: &mut PgConnection, id: i64, lock: bool) -> Result<Rfp> {
    rfp(conn, &id.to_string(), lock).await
}

pub async fn save_rfp(conn: &mut PgConnection, r: &Rfp) -> Result<()> {
    sqlx::query(
        "UPDATE vendor_rfps SET state = $2, approval_id = $3, awarded_vendor_id = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(r.id)
    .bind(r.state)
    .bind(r.approval_id)
    .bind(r.awarded_vendor_id)
    .bind(r.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list_rfps(conn: &mut PgConnection, limit: i64) -> Result<Vec<Rfp>> {
    let sql = format!("SELECT {RFP_COLUMNS} FROM vendor_rfps ORDER BY id DESC LIMIT $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(conn)
        .await?)
}

pub async fn criteria(conn: &mut PgConnection, rfp_id: i64) -> Result<Vec<CriterionRow>> {
    Ok(sqlx::query_as(
        "SELECT name, weight, deal_breaker FROM vendor_rfp_criteria WHERE rfp_id = $1 ORDER BY position",
    )
    .bind(rfp_id)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Proposal {
    pub rfp_id: i64,
    pub vendor_id: i64,
    pub vendor: String,
    pub status: ProposalStatus,
    pub price_cents: Option<i64>,
    pub terms: String,
    pub invited_at: DateTime<Utc>,
    pub proposed_at: Option<DateTime<Utc>>,
}

const PROPOSAL_SELECT: &str = "SELECT p.rfp_id, p.vendor_id, v.name AS vendor, p.status, p.price_cents, p.terms, p.invited_at, p.proposed_at
     FROM vendor_proposals p JOIN vendor_vendors v ON v.id = p.vendor_id";

pub async fn proposals(conn: &mut PgConnection, rfp_id: i64) -> Result<Vec<Proposal>> {
    let sql = format!("{PROPOSAL_SELECT} WHERE p.rfp_id = $1 ORDER BY p.invited_at, p.vendor_id");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(rfp_id)
        .fetch_all(conn)
        .await?)
}

pub async fn proposal(
    conn: &mut PgConnection,
    rfp_id: i64,
    vendor_id: i64,
) -> Result<Option<Proposal>> {
    let sql = format!("{PROPOSAL_SELECT} WHERE p.rfp_id = $1 AND p.vendor_id = $2 FOR UPDATE OF p");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(rfp_id)
        .bind(vendor_id)
        .fetch_optional(conn)
        .await?)
}

pub async fn insert_proposal(
    conn: &mut PgConnection,
    rfp_id: i64,
    vendor_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO vendor_proposals (rfp_id, vendor_id, status, invited_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(rfp_id)
    .bind(vendor_id)
    .bind(ProposalStatus::Invited)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn save_proposal(conn: &mut PgConnection, p: &Proposal) -> Result<()> {
    sqlx::query(
        "UPDATE vendor_proposals SET status = $3, price_cents = $4, terms = $5, proposed_at = $6
         WHERE rfp_id = $1 AND vendor_id = $2",
    )
    .bind(p.rfp_id)
    .bind(p.vendor_id)
    .bind(p.status)
    .bind(p.price_cents)
    .bind(&p.terms)
    .bind(p.proposed_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ScoreRow {
    pub vendor_id: i64,
    pub criterion: String,
    pub evaluator: String,
    pub score: f64,
}

/// Record one evaluator's score (replacing an earlier one).
pub async fn put_score(
    conn: &mut PgConnection,
    rfp_id: i64,
    vendor_id: i64,
    criterion: &str,
    evaluator: &str,
    score: f64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO vendor_rfp_scores (rfp_id, vendor_id, criterion, evaluator, score, scored_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (rfp_id, vendor_id, criterion, evaluator) DO UPDATE SET score = EXCLUDED.score, scored_at = EXCLUDED.scored_at",
    )
    .bind(rfp_id)
    .bind(vendor_id)
    .bind(criterion)
    .bind(evaluator)
    .bind(score)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn scores(conn: &mut PgConnection, rfp_id: i64) -> Result<Vec<ScoreRow>> {
    Ok(sqlx::query_as(
        "SELECT vendor_id, criterion, evaluator, score FROM vendor_rfp_scores WHERE rfp_id = $1",
    )
    .bind(rfp_id)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OverrideRow {
    pub vendor_id: i64,
    pub criterion: String,
    pub score: f64,
    pub reason: String,
    pub by_person: String,
}

#[allow(clippy::too_many_arguments)]
pub async fn put_override(
    conn: &mut PgConnection,
    rfp_id: i64,
    vendor_id: i64,
    criterion: &str,
    score: f64,
    reason: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO vendor_rfp_overrides (rfp_id, vendor_id, criterion, score, reason, by_person, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (rfp_id, vendor_id, criterion) DO UPDATE SET score = EXCLUDED.score, reason = EXCLUDED.reason,
            by_person = EXCLUDED.by_person, at = EXCLUDED.at",
    )
    .bind(rfp_id)
    .bind(vendor_id)
    .bind(criterion)
    .bind(score)
    .bind(reason)
    .bind(by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn overrides(conn: &mut PgConnection, rfp_id: i64) -> Result<Vec<OverrideRow>> {
    Ok(sqlx::query_as(
        "SELECT vendor_id, criterion, score, reason, by_person FROM vendor_rfp_overrides WHERE rfp_id = $1",
    )
    .bind(rfp_id)
    .fetch_all(conn)
    .await?)
}

// ---- contracts ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Contract {
    pub id: i64,
    pub vendor_id: i64,
    pub rfp_id: Option<i64>,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub monthly_cents: i64,
    pub value_cents: i64,
    pub auto_renew: bool,
    pub notice: String,
    pub notice_date: NaiveDate,
    pub department: Option<String>,
    pub channel: Option<String>,
    pub status: String,
    pub decision: Option<String>,
    pub previous_id: Option<i64>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const CONTRACT_COLUMNS: &str = "id, vendor_id, rfp_id, start_date, end_date, monthly_cents, value_cents, auto_renew, notice, notice_date,
    department, channel, status, decision, previous_id, created_by, created_at, updated_at";

pub async fn insert_contract(conn: &mut PgConnection, c: &Contract) -> Result<Contract> {
    let sql = format!(
        "INSERT INTO vendor_contracts (vendor_id, rfp_id, start_date, end_date, monthly_cents, value_cents, auto_renew, notice,
            notice_date, department, channel, status, previous_id, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING {CONTRACT_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(c.vendor_id)
        .bind(c.rfp_id)
        .bind(c.start_date)
        .bind(c.end_date)
        .bind(c.monthly_cents)
        .bind(c.value_cents)
        .bind(c.auto_renew)
        .bind(&c.notice)
        .bind(c.notice_date)
        .bind(&c.department)
        .bind(&c.channel)
        .bind(&c.status)
        .bind(c.previous_id)
        .bind(&c.created_by)
        .bind(c.created_at)
        .fetch_one(conn)
        .await?)
}

/// The vendor's current contract (active or ending), locked when `lock`.
pub async fn current_contract(
    conn: &mut PgConnection,
    vendor_id: i64,
    lock: bool,
) -> Result<Option<Contract>> {
    let sql = format!(
        "SELECT {CONTRACT_COLUMNS} FROM vendor_contracts WHERE vendor_id = $1 AND status IN ('active', 'ending')
         ORDER BY id DESC LIMIT 1 {}",
        if lock { "FOR UPDATE" } else { "" }
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vendor_id)
        .fetch_optional(conn)
        .await?)
}

pub async fn contract(conn: &mut PgConnection, id: i64) -> Result<Contract> {
    let sql = format!("SELECT {CONTRACT_COLUMNS} FROM vendor_contracts WHERE id = $1 FOR UPDATE");
    let row: Option<Contract> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no vendor contract #{id}")))
}

pub async fn contracts_of(conn: &mut PgConnection, vendor_id: i64) -> Result<Vec<Contract>> {
    let sql = format!(
        "SELECT {CONTRACT_COLUMNS} FROM vendor_contracts WHERE vendor_id = $1 ORDER BY id DESC LIMIT 50"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vendor_id)
        .fetch_all(conn)
        .await?)
}

pub async fn save_contract(conn: &mut PgConnection, c: &Contract) -> Result<()> {
    sqlx::query(
        "UPDATE vendor_contracts SET status = $2, decision = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(c.id)
    .bind(&c.status)
    .bind(&c.decision)
    .bind(c.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Current contracts whose notice date falls before `before`, soonest first.
pub async fn renewals_due(
    conn: &mut PgConnection,
    before: NaiveDate,
) -> Result<Vec<(Contract, String)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        contract: Contract,
        vendor: String,
    }
    let sql = "SELECT c.id, c.vendor_id, c.rfp_id, c.start_date, c.end_date, c.monthly_cents, c.value_cents, c.auto_renew,
            c.notice, c.notice_date, c.department, c.channel, c.status, c.decision, c.previous_id, c.created_by,
            c.created_at, c.updated_at, v.name AS vendor
         FROM vendor_contracts c JOIN vendor_vendors v ON v.id = c.vendor_id
         WHERE c.status IN ('active', 'ending') AND c.notice_date <= $1 ORDER BY c.notice_date LIMIT 200";
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(before)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.contract, r.vendor)).collect())
}

/// Monthly spend under current contracts (cents).
pub async fn spend_under_contract(conn: &mut PgConnection) -> Result<i64> {
    let n: Option<i64> = sqlx::query_scalar(
        "SELECT sum(monthly_cents)::bigint FROM vendor_contracts WHERE status IN ('active', 'ending')",
    )
    .fetch_one(conn)
    .await?;
    Ok(n.unwrap_or(0))
}

// ---- deliveries --------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
pub async fn insert_delivery(
    conn: &mut PgConnection,
    vendor_id: i64,
    r: &Receipt,
    rescheduled: Option<NaiveDate>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO vendor_deliveries (vendor_id, po, promised_date, rescheduled_date, delivered_date, ordered, received,
            defective, amount_cents, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(vendor_id)
    .bind(&r.po)
    .bind(r.promised)
    .bind(rescheduled)
    .bind(r.delivered)
    .bind(r.ordered)
    .bind(r.received)
    .bind(r.defective)
    .bind(r.amount_cents)
    .bind(actor)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// The original promise of a PO already delivered against, if any.
pub async fn po_promise(
    conn: &mut PgConnection,
    vendor_id: i64,
    po: &str,
) -> Result<Option<(NaiveDate, i64)>> {
    Ok(sqlx::query_as(
        "SELECT promised_date, ordered FROM vendor_deliveries WHERE vendor_id = $1 AND po = $2 ORDER BY id LIMIT 1",
    )
    .bind(vendor_id)
    .bind(po)
    .fetch_optional(conn)
    .await?)
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    vendor_id: i64,
    po: String,
    promised_date: NaiveDate,
    delivered_date: NaiveDate,
    ordered: i64,
    received: i64,
    defective: i64,
    amount_cents: Option<i64>,
}

impl ReceiptRow {
    fn receipt(self) -> (i64, Receipt) {
        (
            self.vendor_id,
            Receipt {
                po: self.po,
                promised: self.promised_date,
                delivered: self.delivered_date,
                ordered: self.ordered,
                received: self.received,
                defective: self.defective,
                amount_cents: self.amount_cents,
            },
        )
    }
}

/// Receipts of the POs whose last delivery falls in [from, to), for the
/// given vendors (all vendors when `vendors` is None), so a split order
/// counts once, in the period it was completed.
pub async fn receipts(
    conn: &mut PgConnection,
    vendors: Option<&[i64]>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(i64, Receipt)>> {
    let rows: Vec<ReceiptRow> = sqlx::query_as(
        "WITH orders AS (
            SELECT vendor_id, po FROM vendor_deliveries
            WHERE ($1::bigint[] IS NULL OR vendor_id = ANY($1))
            GROUP BY vendor_id, po
            HAVING max(delivered_date) >= $2 AND max(delivered_date) < $3)
         SELECT d.vendor_id, d.po, d.promised_date, d.delivered_date, d.ordered, d.received, d.defective, d.amount_cents
         FROM vendor_deliveries d JOIN orders o ON o.vendor_id = d.vendor_id AND o.po = d.po
         ORDER BY d.vendor_id, d.id",
    )
    .bind(vendors)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(ReceiptRow::receipt).collect())
}

/// The vendor's latest `n` receipts, newest first (the late streak).
pub async fn latest_receipts(
    conn: &mut PgConnection,
    vendor_id: i64,
    n: i64,
) -> Result<Vec<Receipt>> {
    let rows: Vec<ReceiptRow> = sqlx::query_as(
        "SELECT vendor_id, po, promised_date, delivered_date, ordered, received, defective, amount_cents
         FROM vendor_deliveries WHERE vendor_id = $1 ORDER BY delivered_date DESC, id DESC LIMIT $2",
    )
    .bind(vendor_id)
    .bind(n.clamp(1, 1000))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.receipt().1).collect())
}

// ---- scorecards ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ScorecardRow {
    pub vendor_id: i64,
    pub period: String,
    pub criteria: Json<Vec<CriterionScore>>,
    pub period_score: Option<f64>,
    pub overall_score: Option<f64>,
    pub standing: Option<String>,
    pub kpis: Json<serde_json::Value>,
    pub reviewer: String,
    pub reviewed_at: DateTime<Utc>,
}

const SCORECARD_COLUMNS: &str = "vendor_id, period, criteria, period_score, overall_score, standing, kpis, reviewer, reviewed_at";

pub async fn put_scorecard(conn: &mut PgConnection, s: &ScorecardRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO vendor_scorecards (vendor_id, period, criteria, period_score, overall_score, standing, kpis, reviewer, reviewed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (vendor_id, period) DO UPDATE SET criteria = EXCLUDED.criteria, period_score = EXCLUDED.period_score,
            overall_score = EXCLUDED.overall_score, standing = EXCLUDED.standing, kpis = EXCLUDED.kpis,
            reviewer = EXCLUDED.reviewer, reviewed_at = EXCLUDED.reviewed_at",
    )
    .bind(s.vendor_id)
    .bind(&s.period)
    .bind(&s.criteria)
    .bind(s.period_score)
    .bind(s.overall_score)
    .bind(&s.standing)
    .bind(&s.kpis)
    .bind(&s.reviewer)
    .bind(s.reviewed_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A vendor's scorecards, newest period first.
pub async fn scorecards(
    conn: &mut PgConnection,
    vendor_id: i64,
    limit: i64,
) -> Result<Vec<ScorecardRow>> {
    let sql = format!(
        "SELECT {SCORECARD_COLUMNS} FROM vendor_scorecards WHERE vendor_id = $1 ORDER BY period DESC LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vendor_id)
        .bind(limit.clamp(1, 240))
        .fetch_all(conn)
        .await?)
}

/// Was the vendor reviewed for this period already?
pub async fn has_scorecard(conn: &mut PgConnection, vendor_id: i64, period: &str) -> Result<bool> {
    let n: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM vendor_scorecards WHERE vendor_id = $1 AND period = $2")
            .bind(vendor_id)
            .bind(period)
            .fetch_optional(conn)
            .await?;
    Ok(n.is_some())
}

/// Scored periods of many vendors (newest first), for the control room.
pub async fn recent_scorecards(
    conn: &mut PgConnection,
    vendor_ids: &[i64],
    per_vendor: i64,
) -> Result<Vec<ScorecardRow>> {
    let sql = format!(
        "SELECT {SCORECARD_COLUMNS} FROM (
            SELECT *, row_number() OVER (PARTITION BY vendor_id ORDER BY period DESC) AS rn
            FROM vendor_scorecards WHERE vendor_id = ANY($1)) s
         WHERE rn <= $2 ORDER BY vendor_id, period"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vendor_ids)
        .bind(per_vendor.clamp(1, 60))
        .fetch_all(conn)
        .await?)
}

// ---- improvement plans -----------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Plan {
    pub id: i64,
    pub vendor_id: i64,
    pub status: String,
    pub owner: String,
    pub period: String,
    pub period_score: Option<f64>,
    pub targets: Json<serde_json::Value>,
    pub deadline: DateTime<Utc>,
    pub approval_id: Option<i64>,
    pub outcome: Option<String>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

const PLAN_COLUMNS: &str = "id, vendor_id, status, owner, period, period_score, targets, deadline, approval_id, outcome, created_at, closed_at";

#[allow(clippy::too_many_arguments)]
pub async fn insert_plan(
    conn: &mut PgConnection,
    vendor_id: i64,
    owner: &str,
    period: &str,
    period_score: Option<f64>,
    targets: &serde_json::Value,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Plan> {
    let sql = format!(
        "INSERT INTO vendor_plans (vendor_id, status, owner, period, period_score, targets, deadline, created_at)
         VALUES ($1, 'open', $2, $3, $4, $5, $6, $7) RETURNING {PLAN_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vendor_id)
        .bind(owner)
        .bind(period)
        .bind(period_score)
        .bind(Json(targets))
        .bind(deadline)
        .bind(now)
        .fetch_one(conn)
        .await?)
}

pub async fn plan(conn: &mut PgConnection, id: i64) -> Result<Plan> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM vendor_plans WHERE id = $1 FOR UPDATE");
    let row: Option<Plan> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found(format!("no improvement plan #{id}")))
}

/// The vendor's open (or deciding) plan.
pub async fn open_plan(conn: &mut PgConnection, vendor_id: i64) -> Result<Option<Plan>> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM vendor_plans WHERE vendor_id = $1 AND status IN ('open', 'deciding') FOR UPDATE"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vendor_id)
        .fetch_optional(conn)
        .await?)
}

pub async fn plans(
    conn: &mut PgConnection,
    vendor_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Plan>> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM vendor_plans WHERE ($1::bigint IS NULL OR vendor_id = $1) ORDER BY id DESC LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vendor_id)
        .bind(limit.clamp(1, 1000))
        .fetch_all(conn)
        .await?)
}

pub async fn save_plan(conn: &mut PgConnection, p: &Plan) -> Result<()> {
    sqlx::query(
        "UPDATE vendor_plans SET status = $2, deadline = $3, approval_id = $4, outcome = $5, closed_at = $6 WHERE id = $1",
    )
    .bind(p.id)
    .bind(&p.status)
    .bind(p.deadline)
    .bind(p.approval_id)
    .bind(&p.outcome)
    .bind(p.closed_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Checkin {
    pub by_person: String,
    pub note: String,
    pub at: DateTime<Utc>,
}

pub async fn add_checkin(
    conn: &mut PgConnection,
    plan_id: i64,
    by: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO vendor_plan_checkins (plan_id, by_person, note, at) VALUES ($1, $2, $3, $4)",
    )
    .bind(plan_id)
    .bind(by)
    .bind(note)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn checkins(conn: &mut PgConnection, plan_id: i64) -> Result<Vec<Checkin>> {
    Ok(sqlx::query_as(
        "SELECT by_person, note, at FROM vendor_plan_checkins WHERE plan_id = $1 ORDER BY id LIMIT 200",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await?)
}

// ---- the tile -----------------------------------------------------------------------------

/// (serving vendors, open plans, plans met, plans ended, vendors by standing).
pub async fn tile_counts(
    conn: &mut PgConnection,
) -> Result<(i64, i64, i64, i64, Vec<(String, i64)>)> {
    let (serving, open, met, ended): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM vendor_vendors WHERE state IN ('active', 'improvement', 'renewed')),
                (SELECT count(*) FROM vendor_plans WHERE status IN ('open', 'deciding')),
                (SELECT count(*) FROM vendor_plans WHERE status = 'met'),
                (SELECT count(*) FROM vendor_plans WHERE status = 'ended')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let standings: Vec<(String, i64)> = sqlx::query_as(
        "SELECT coalesce(standing, 'unscored'), count(*) FROM vendor_vendors
         WHERE state IN ('active', 'improvement', 'renewed') GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(conn)
    .await?;
    Ok((serving, open, met, ended, standings))
}

/// The newest RFP awarded to a vendor, if any.
pub async fn latest_award(conn: &mut PgConnection, vendor_id: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM vendor_rfps WHERE awarded_vendor_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(vendor_id)
    .fetch_optional(conn)
    .await?)
}
