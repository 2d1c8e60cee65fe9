//! Reading the database into a [`Snapshot`], through core.

use std::collections::VecDeque;

use sqlx::PgConnection;
use vivid_core::engine::approvals::{self, ApprovalRequest};
use vivid_core::engine::events::{self, Event, Filter};
use vivid_core::{Ctx, Result, status};

use crate::snapshot::{ApprovalRow, Snapshot, status_tiles};

/// How many events the log keeps in memory.
pub const EVENT_TAIL: usize = 2_000;

/// Ids are handed out before commit, so an event can become visible after
/// one with a larger id; re-reading this many ids back catches it.
const LATE_COMMIT_WINDOW: i64 = 200;

/// Reads snapshots, keeping the event tail between reads so a refresh
/// fetches only new events.
#[derive(Debug)]
pub struct Loader {
    operator: String,
    events: VecDeque<Event>,
}

impl Loader {
    pub fn new(operator: impl Into<String>) -> Self {
        Self {
            operator: operator.into(),
            events: VecDeque::new(),
        }
    }

    /// Forget what was read: the next load re-reads everything (after a
    /// reconnect, notifications may have been lost).
    pub fn reset(&mut self) {
        self.events.clear();
    }

    pub async fn load(&mut self, ctx: &Ctx) -> Result<Snapshot> {
        let status = status::collect(ctx).await?;
        let mut conn = ctx.pool.acquire().await?;
        self.read_events(&mut conn).await?;
        let approvals = pending_approvals(ctx, &mut conn, &self.operator).await?;
        Ok(Snapshot {
            taken_at: Some(ctx.now()),
            organisation: status.organisation.clone(),
            // A workflow shows itself on the overview by adding its tiles here.
            tiles: status_tiles(&status),
            kpis: status.kpis,
            approvals,
            events: self.events.iter().cloned().collect(),
        })
    }

    async fn read_events(&mut self, conn: &mut PgConnection) -> Result<()> {
        let limit = i64::try_from(EVENT_TAIL).unwrap_or(i64::MAX);
        let Some(last) = self.events.back().map(|e| e.id) else {
            let newest = events::list(
                conn,
                &Filter {
                    limit,
                    ..Filter::default()
                },
            )
            .await?;
            self.events.extend(newest);
            return Ok(());
        };
        let mut after = last.saturating_sub(LATE_COMMIT_WINDOW);
        loop {
            let batch = events::list(
                conn,
                &Filter {
                    after_id: Some(after),
                    limit,
                    ..Filter::default()
                },
            )
            .await?;
            let full = batch.len() == EVENT_TAIL;
            if let Some(e) = batch.last() {
                after = e.id;
            }
            for e in batch {
                self.insert(e);
            }
            if !full {
                break;
            }
        }
        while self.events.len() > EVENT_TAIL {
            self.events.pop_front();
        }
        Ok(())
    }

    /// Insert in id order, once.
    fn insert(&mut self, event: Event) {
        let slice = self.events.make_contiguous();
        if let Err(at) = slice.binary_search_by_key(&event.id, |e| e.id) {
            self.events.insert(at, event);
        }
    }
}

/// The pending queue, soonest deadline first, with decisions so far.
async fn pending_approvals(
    ctx: &Ctx,
    conn: &mut PgConnection,
    operator: &str,
) -> Result<Vec<ApprovalRow>> {
    // Core has no "all pending requests" read (only `queue_for` one
    // person): pick the ids here and read each request through core.
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM approval_requests WHERE status = 'pending' ORDER BY deadline, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut pending: Vec<ApprovalRequest> = Vec::with_capacity(ids.len());
    for id in ids {
        match approvals::get(conn, id).await {
            Ok(r) if r.status == "pending" => pending.push(r),
            // Decided between the two reads: no longer pending.
            Ok(_) | Err(vivid_core::Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let me = ctx.org.person(operator);
    let mut rows = Vec::with_capacity(pending.len());
    for request in pending {
        let decisions = approvals::decisions(conn, request.id).await?;
        let operator_may_decide = me.is_some_and(|p| {
            p.handle != request.requested_by
                && ctx.org.holds_any(p, &request.deciding_roles())
                && !decisions.iter().any(|d| d.approver == p.handle)
        });
        rows.push(ApprovalRow {
            request,
            decisions,
            operator_may_decide,
        });
    }
    Ok(rows)
}
