//! Read models of the content lifecycle for the front ends: each answers a
//! screen in a bounded number of queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::model::State;
use super::store::Item;
use crate::engine::Ctx;
use crate::engine::approvals;
use crate::error::Result;
use crate::status::WorkflowStatus;

/// The content tile: items in review, overdue reviews, live and optimising items.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let (in_review, optimizing, live, overdue) =
        super::store::tile_counts(conn, now, super::WORKFLOW).await?;
    Ok(WorkflowStatus {
        name: super::WORKFLOW.into(),
        open: in_review,
        breaches: overdue,
        kpis: vec![
            ("live".into(), live.to_string()),
            ("optimising".into(), optimizing.to_string()),
        ],
        trend: Vec::new(),
    })
}

/// One state of the pipeline and how many items are in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stage {
    pub state: State,
    pub count: usize,
    /// The pipeline lists at most [`PER_STATE`] items of a state: there are more.
    pub capped: bool,
}

/// The approval a content item in review waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub request_id: i64,
    /// pending, or escalated once its deadline passed and it was re-routed.
    pub status: String,
    pub deadline: DateTime<Utc>,
    pub approvals: usize,
    pub required: i32,
}

/// A content item with its review when it is in one.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineItem {
    pub item: Item,
    pub review: Option<Review>,
    /// Its approval waits on the person the pipeline is read for.
    pub waits_on_reader: bool,
}

/// The most items of one state the pipeline lists.
pub const PER_STATE: i64 = 1_000;

/// The pipeline's counts per state, in the seed's order (one query).
pub async fn stages(conn: &mut PgConnection) -> Result<Vec<Stage>> {
    let counts = super::store::counts_by_state(conn).await?;
    Ok(State::ALL
        .iter()
        .map(|state| {
            let n = counts
                .iter()
                .find(|(s, _)| s == state.as_str())
                .map(|(_, n)| *n)
                .unwrap_or(0);
            Stage {
                state: *state,
                count: usize::try_from(n).unwrap_or(0),
                capped: n > PER_STATE,
            }
        })
        .collect())
}

/// The pipeline's order: the seed's state order, most recently changed first.
pub fn pipeline_order(
    p: &PipelineItem,
) -> (
    usize,
    std::cmp::Reverse<DateTime<Utc>>,
    std::cmp::Reverse<i64>,
) {
    let rank = State::ALL
        .iter()
        .position(|x| *x == p.item.state)
        .unwrap_or(State::ALL.len());
    (
        rank,
        std::cmp::Reverse(p.item.updated_at),
        std::cmp::Reverse(p.item.id),
    )
}

/// The pipeline's items for `reader` in three queries (items, the reviews
/// of those in review, their decisions). With `ids`, only those items.
pub async fn pipeline(
    ctx: &Ctx,
    conn: &mut PgConnection,
    reader: &str,
    ids: Option<&[i64]>,
) -> Result<Vec<PipelineItem>> {
    let items = super::store::latest_per_state(conn, ids, PER_STATE).await?;
    let in_review: Vec<i64> = items
        .iter()
        .filter(|i| i.state == State::Review)
        .filter_map(|i| i.approval_id)
        .collect();
    let requests = approvals::requests_by_id(conn, &in_review).await?;
    let reviews = approvals::decisions_of(conn, requests).await?;
    let person = ctx.org.person(reader);
    let mut out: Vec<PipelineItem> = items
        .into_iter()
        .map(|item| {
            let open = item
                .approval_id
                .filter(|_| item.state == State::Review)
                .and_then(|id| reviews.iter().find(|r| r.request.id == id));
            let waits_on_reader = open.is_some_and(|r| {
                item.owner != reader
                    && person.is_some_and(|p| {
                        approvals::may_decide(&ctx.org, p, &r.request, &r.decisions)
                    })
            });
            PipelineItem {
                review: open.map(|r| Review {
                    request_id: r.request.id,
                    status: r.request.display_status().to_string(),
                    deadline: r.request.deadline,
                    approvals: r.approvals(),
                    required: r.request.required,
                }),
                waits_on_reader,
                item,
            }
        })
        .collect();
    out.sort_by_key(pipeline_order);
    Ok(out)
}

/// Bring a pipeline up to date after `changed` items changed.
pub async fn refresh_pipeline(
    ctx: &Ctx,
    conn: &mut PgConnection,
    reader: &str,
    rows: &mut Vec<PipelineItem>,
    changed: &[i64],
) -> Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let fresh = pipeline(ctx, conn, reader, Some(changed)).await?;
    crate::refresh::merge_by_id(rows, changed, fresh, |r| r.item.id, pipeline_order);
    Ok(())
}
