//! Read models for the front ends (CLI, control room, bot): bounded
//! queries, no values of personal data.

use serde::Serialize;

use super::store::{self, Breach, Request};
use crate::engine::Ctx;
use crate::error::Result;

pub use super::store::SubjectSummary;

/// Subjects at a glance (references, status, fields held; never values).
pub async fn subjects(ctx: &Ctx, limit: i64) -> Result<Vec<SubjectSummary>> {
    let mut conn = ctx.pool.acquire().await?;
    store::subject_summaries(&mut conn, if limit > 0 { limit } else { 1000 }).await
}

/// The access log, newest first.
pub async fn access_log(ctx: &Ctx, f: &store::AccessFilter) -> Result<Vec<store::AccessEntry>> {
    let mut conn = ctx.pool.acquire().await?;
    store::access_log(&mut conn, f).await
}

/// Data-subject requests (open ones first, by deadline).
pub async fn requests(ctx: &Ctx, open_only: bool) -> Result<Vec<Request>> {
    let mut conn = ctx.pool.acquire().await?;
    store::requests(&mut conn, open_only, None).await
}

pub async fn request(ctx: &Ctx, id: i64) -> Result<Request> {
    let mut conn = ctx.pool.acquire().await?;
    store::request(&mut conn, id, false).await
}

/// A request as the front ends show it: the stored row (instants in UTC)
/// with its state and its deadline in the org's local time.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    #[serde(flatten)]
    pub request: Request,
    /// Where the request stands (the same as `status`).
    pub state: String,
    /// The deadline as local date and time with its offset
    /// ("2026-12-28T23:59:59-05:00").
    pub due_local: String,
    /// The local date of receipt the month is counted from.
    pub received_local: String,
    /// The org's time zone (IANA name).
    pub time_zone: String,
}

impl RequestView {
    pub fn new(ctx: &Ctx, request: Request) -> Self {
        let cal = &ctx.calendar;
        RequestView {
            state: request.status.clone(),
            due_local: cal.local_rfc3339(request.due_at),
            received_local: cal.local_date(request.received_at).to_string(),
            time_zone: cal.timezone().name().to_string(),
            request,
        }
    }
}

/// A breach with its tasks, phases and incident.
#[derive(Debug, Clone, Serialize)]
pub struct BreachDetail {
    pub breach: Breach,
    pub tasks: Vec<store::Task>,
    pub phases: Vec<store::Phase>,
    pub incident_status: String,
    pub authority: String,
    pub on_time: Option<bool>,
}

pub async fn breach_detail(ctx: &Ctx, id: i64) -> Result<BreachDetail> {
    let mut conn = ctx.pool.acquire().await?;
    let breach = store::breach(&mut conn, id, false).await?;
    let tasks = store::tasks(&mut conn, id).await?;
    let phases = store::phases(&mut conn, id).await?;
    let incident = crate::crisis::store::get(&mut conn, breach.incident_id).await?;
    Ok(BreachDetail {
        on_time: breach.on_time(),
        breach,
        tasks,
        phases,
        incident_status: incident.status.as_str().to_string(),
        authority: super::config::settings(&ctx.config)?
            .breach
            .authority
            .clone(),
    })
}

pub async fn breaches(ctx: &Ctx, open_only: bool) -> Result<Vec<Breach>> {
    let mut conn = ctx.pool.acquire().await?;
    store::breaches(&mut conn, open_only).await
}

pub async fn findings(ctx: &Ctx, open_only: bool) -> Result<Vec<store::Finding>> {
    let mut conn = ctx.pool.acquire().await?;
    store::findings(&mut conn, open_only, None).await
}
