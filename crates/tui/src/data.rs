//! Reading the database into a [`Snapshot`], through core.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;
use vivid_core::content::{self, model::State as ContentState};
use vivid_core::crisis::{self, store::ListFilter};
use vivid_core::engine::approvals::{self, ApprovalRequest};
use vivid_core::engine::escalation;
use vivid_core::engine::events::{self, Event, Filter};
use vivid_core::engine::handoffs;
use vivid_core::experiments::{self, model::State as ExperimentState};
use vivid_core::{Ctx, Result, status};
use vivid_core::{journey, privacy};

use crate::snapshot::{
    Analysis, ApprovalRow, ContentRow, EscalationLevel, ExperimentRow, IncidentRow, Review,
    Snapshot, Stage, status_tiles,
};

/// How many events the log keeps in memory.
pub const EVENT_TAIL: usize = 2_000;

/// The most incidents the board reads.
pub const INCIDENT_LIMIT: i64 = 10_000;

/// `content::service::list` returns at most this many items (per state
/// here); a state with this many may have more.
const CONTENT_CAP: usize = 1_000;

/// Re-run an unchanged experiment's analysis at most this often: it
/// aggregates every exposure, and traffic notifies many times a second.
const ANALYSIS_EVERY: TimeDelta = TimeDelta::seconds(10);

/// The period the journey funnel covers.
pub const FUNNEL_PERIOD: TimeDelta = TimeDelta::days(30);

/// An analysis and what it was computed from.
#[derive(Debug)]
struct Analysed {
    at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    analysis: Analysis,
}

/// Ids are handed out before commit, so an event can become visible after
/// one with a larger id; re-reading this many ids back catches it.
const LATE_COMMIT_WINDOW: i64 = 200;

/// Reads snapshots, keeping the event tail between reads so a refresh
/// fetches only new events.
#[derive(Debug)]
pub struct Loader {
    operator: String,
    events: VecDeque<Event>,
    /// Analyses of running experiments, by experiment id.
    analyses: HashMap<i64, Analysed>,
}

impl Loader {
    pub fn new(operator: impl Into<String>) -> Self {
        Self {
            operator: operator.into(),
            events: VecDeque::new(),
            analyses: HashMap::new(),
        }
    }

    /// Forget what was read: the next load re-reads everything (after a
    /// reconnect, notifications may have been lost).
    pub fn reset(&mut self) {
        self.events.clear();
        self.analyses.clear();
    }

    pub async fn load(&mut self, ctx: &Ctx) -> Result<Snapshot> {
        let status = status::collect(ctx).await?;
        // Held only for the engine reads: core's services take their own
        // connections from the same small pool.
        let approvals = {
            let mut conn = ctx.pool.acquire().await?;
            self.read_events(&mut conn).await?;
            pending_approvals(ctx, &mut conn, &self.operator).await?
        };
        let incidents = incidents(ctx).await?;
        let (pipeline, content) = content_items(ctx, &self.operator, &approvals).await?;
        let experiments = self.experiments(ctx).await?;
        let privacy_requests = privacy::service::requests(ctx, true).await?;
        let breaches = privacy::service::breaches(ctx, true).await?;
        let funnel = journey::service::funnel(ctx, FUNNEL_PERIOD).await?;
        let sales_handoffs = {
            let mut conn = ctx.pool.acquire().await?;
            handoffs::open_for(&mut conn, Some("sales")).await?
        };
        Ok(Snapshot {
            taken_at: Some(ctx.now()),
            organisation: status.organisation.clone(),
            // Workflows show themselves on the overview through the status report.
            tiles: status_tiles(&status),
            kpis: status.kpis,
            approvals,
            events: self.events.iter().cloned().collect(),
            incidents,
            pipeline,
            content,
            experiments,
            privacy_requests,
            breaches,
            funnel: Some(funnel),
            sales_handoffs,
        })
    }

    /// Every experiment, running ones first, each running one analysed
    /// (from the cache while it is fresh and the experiment unchanged).
    async fn experiments(&mut self, ctx: &Ctx) -> Result<Vec<ExperimentRow>> {
        let mut list = experiments::service::list(ctx, None).await?;
        let rank = |state: &str| match ExperimentState::parse(state) {
            Some(ExperimentState::Running) => 0,
            Some(ExperimentState::Draft) => 1,
            Some(ExperimentState::Decided) => 2,
            Some(ExperimentState::Documented) | None => 3,
        };
        list.sort_by_key(|e| rank(&e.state));
        let now = ctx.now();
        let running: HashSet<i64> = list
            .iter()
            .filter(|e| e.state == ExperimentState::Running.as_str())
            .map(|e| e.id)
            .collect();
        self.analyses.retain(|id, _| running.contains(id));
        let mut rows = Vec::with_capacity(list.len());
        for experiment in list {
            if !running.contains(&experiment.id) {
                rows.push(ExperimentRow {
                    experiment,
                    analysis: Analysis::None,
                });
                continue;
            }
            let fresh = self.analyses.get(&experiment.id).is_some_and(|a| {
                a.updated_at == experiment.updated_at && now - a.at < ANALYSIS_EVERY
            });
            if !fresh {
                // A refusal from the statistics is shown on the screen; it
                // does not stop the rest of the control room.
                let analysis = match experiments::service::analyze(ctx, &experiment.key).await {
                    Ok(report) => Analysis::Ready(Box::new(report)),
                    // The database going away is an outage, not a refusal.
                    Err(e @ (vivid_core::Error::Db(_) | vivid_core::Error::Unreachable(_))) => {
                        return Err(e);
                    }
                    Err(e) => Analysis::Failed(e.to_string()),
                };
                self.analyses.insert(
                    experiment.id,
                    Analysed {
                        at: now,
                        updated_at: experiment.updated_at,
                        analysis,
                    },
                );
            }
            let analysis = self
                .analyses
                .get(&experiment.id)
                .map(|a| a.analysis.clone())
                .unwrap_or(Analysis::None);
            rows.push(ExperimentRow {
                experiment,
                analysis,
            });
        }
        Ok(rows)
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

/// Open and resolved incidents, most urgent first, with their clocks and
/// how far their escalation has gone.
async fn incidents(ctx: &Ctx) -> Result<Vec<IncidentRow>> {
    let list = crisis::service::list(
        ctx,
        &ListFilter {
            statuses: ["triggered", "acknowledged", "resolved"]
                .map(String::from)
                .to_vec(),
            limit: INCIDENT_LIMIT,
            ..ListFilter::default()
        },
    )
    .await?;
    let mut conn = ctx.pool.acquire().await?;
    let mut rows = Vec::with_capacity(list.len());
    for incident in list {
        // Core has no batch read of escalations: read the open incidents'
        // (resolved ones no longer escalate).
        let open = incident.status.is_open();
        let escalation = if open {
            let key = incident.id.to_string();
            escalation::latest(&mut conn, crisis::WORKFLOW, &key)
                .await?
                .map(|e| EscalationLevel {
                    reached: e.level + 1,
                    levels: e.policy.levels.len(),
                    status: e.status,
                })
        } else {
            None
        };
        rows.push(IncidentRow {
            phase_deadline: crisis::service::phase_deadline(ctx, &incident),
            escalation,
            incident,
        });
    }
    Ok(rows)
}

/// The pipeline's counts and its items in the seed's order, with the review
/// of each item in review.
async fn content_items(
    ctx: &Ctx,
    operator: &str,
    pending: &[ApprovalRow],
) -> Result<(Vec<Stage>, Vec<ContentRow>)> {
    let waiting: HashSet<i64> = if ctx.org.person(operator).is_some() {
        content::service::queue(ctx, operator)
            .await?
            .into_iter()
            .map(|q| q.item.id)
            .collect()
    } else {
        HashSet::new()
    };
    let mut stages = Vec::with_capacity(ContentState::ALL.len());
    let mut rows = Vec::new();
    for state in ContentState::ALL {
        let items = content::service::list(ctx, Some(state), None).await?;
        stages.push(Stage {
            state,
            count: items.len(),
            capped: items.len() >= CONTENT_CAP,
        });
        for item in items {
            let review = match (state, item.approval_id) {
                (ContentState::Review, Some(request)) => {
                    Some(review_of(ctx, request, pending).await?)
                }
                _ => None,
            };
            rows.push(ContentRow {
                waits_on_operator: waiting.contains(&item.id),
                item,
                review,
            });
        }
    }
    Ok((stages, rows))
}

/// The approval of an item in review: from the pending queue already read,
/// else (escalated past its deadline) from core.
async fn review_of(ctx: &Ctx, request: i64, pending: &[ApprovalRow]) -> Result<Review> {
    if let Some(row) = pending.iter().find(|r| r.request.id == request) {
        return Ok(Review {
            request_id: request,
            status: row.request.status.clone(),
            deadline: row.request.deadline,
            approvals: row.approvals(),
            required: row.request.required,
        });
    }
    let mut conn = ctx.pool.acquire().await?;
    let r = approvals::get(&mut conn, request).await?;
    let approvals = approvals::decisions(&mut conn, request)
        .await?
        .iter()
        .filter(|d| d.decision == "approve")
        .count();
    Ok(Review {
        request_id: request,
        status: r.status,
        deadline: r.deadline,
        approvals,
        required: r.required,
    })
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
