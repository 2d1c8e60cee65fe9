//! `vivid bench control-room`: what one control room costs the database.
//!
//! A scratch database gets 10,000 open incidents (a third escalating),
//! 10,000 content items (a tenth in review), 1,000 pending approvals and
//! 100,000 events. The control room's data feed runs headless (the same
//! code as `vivid tui`) and this measures:
//! - the first full read;
//! - queries and server transactions while nothing happens, per second;
//! - for one incident acknowledged elsewhere: the queries the feed runs to
//!   catch up, its read time, and the time from the commit to the changed
//!   row drawn on screen (through `view`, on a test backend).
//!
//! Queries are counted in this process from sqlx's own statement log
//! (target `sqlx::query`), seen only inside the feed's task.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::instrument::WithSubscriber;
use tracing_subscriber::layer::SubscriberExt;
use vivid_core::clock::SystemClock;
use vivid_core::config::Config;
use vivid_core::crisis::Status;
use vivid_core::{Ctx, db};
use vivid_tui::screens::crisis::incidents;
use vivid_tui::{AppState, Msg, Snapshot, update, view};

use super::bench::{Scratch, in_scratch};
use crate::output;

#[derive(Debug, Args)]
pub struct RoomArgs {
    /// Open incidents to load.
    #[arg(long, default_value_t = 10_000)]
    incidents: u32,
    /// Content items to load.
    #[arg(long, default_value_t = 10_000)]
    content: u32,
    /// Pending approval requests to load.
    #[arg(long, default_value_t = 1_000)]
    approvals: u32,
    /// How long to watch the idle control room, in seconds.
    #[arg(long, default_value_t = 30)]
    idle_seconds: u64,
    /// How many single changes to time.
    #[arg(long, default_value_t = 20)]
    changes: u32,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct RoomReport {
    incidents: u32,
    content_items: u32,
    pending_approvals: u32,
    first_read_ms: f64,
    first_read_queries: u64,
    idle_seconds: u64,
    idle_queries: u64,
    idle_queries_per_second: f64,
    idle_server_transactions_per_second: f64,
    change_queries_mean: f64,
    change_queries_max: u64,
    change_read_ms_p50: f64,
    change_read_ms_max: f64,
    commit_to_screen_ms_p50: f64,
    commit_to_screen_ms_p99: f64,
    commit_to_screen_ms_max: f64,
}

/// Counts the statements sqlx logs.
#[derive(Clone, Default)]
struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for QueryCounter {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

pub async fn run(config: Config, args: RoomArgs) -> Result<()> {
    let r = in_scratch("control_room", async |scratch| {
        measure(config, scratch, &args).await
    })
    .await?;
    if args.json {
        return output::json(&r);
    }
    println!(
        "Control room over {} open incidents, {} content items, {} pending approvals:",
        r.incidents, r.content_items, r.pending_approvals
    );
    println!(
        "  first full read      {:>8.1} ms  ({} queries)",
        r.first_read_ms, r.first_read_queries
    );
    println!(
        "  idle {:>3} s          {:>8.2} queries/s  ({} queries; server: {:.2} transactions/s, this probe's included)",
        r.idle_seconds,
        r.idle_queries_per_second,
        r.idle_queries,
        r.idle_server_transactions_per_second
    );
    println!(
        "  one incident changes {:>8.1} queries (max {}), read {:.1} ms p50 (max {:.1} ms)",
        r.change_queries_mean, r.change_queries_max, r.change_read_ms_p50, r.change_read_ms_max
    );
    println!(
        "  commit to screen     {:>8.1} ms p50, {:.1} ms p99, {:.1} ms max",
        r.commit_to_screen_ms_p50, r.commit_to_screen_ms_p99, r.commit_to_screen_ms_max
    );
    Ok(())
}

async fn measure(config: Config, scratch: &Scratch, args: &RoomArgs) -> Result<RoomReport> {
    let pool = db::connect(&scratch.url, 8).await?;
    let ctx = Ctx::new(pool.clone(), config.clone(), Arc::new(SystemClock))?;
    ctx.org.sync(&ctx.pool).await?;
    eprintln!("bench: loading the data set…");
    load(&ctx, args).await?;

    // The feed, headless, with its queries counted.
    let counter = QueryCounter::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::query", tracing::Level::DEBUG),
        )
        .with(counter.clone());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_reload_tx, reload_rx) = mpsc::unbounded_channel();
    let operator = config.operator.clone().unwrap_or_else(|| "olu".into());
    let feed_pool = db::connect_logging(&scratch.url, 4, log::LevelFilter::Debug).await?;
    let feed_ctx = Ctx::new(feed_pool, config, Arc::new(SystemClock))?;
    let started = Instant::now();
    let feed = tokio::spawn(
        vivid_tui::feed(feed_ctx, operator.clone(), tx, reload_rx).with_subscriber(subscriber),
    );
    let mut state = AppState::new(operator, ctx.now(), ratatui::layout::Size::new(120, 40));
    let first = next_snapshot(&mut rx).await?;
    let first_read_ms = started.elapsed().as_secs_f64() * 1000.0;
    let first_read_queries = counter.get();
    update(&mut state, Msg::Loaded(Box::new(first)));

    // Idle: nothing changes.
    eprintln!(
        "bench: watching the idle control room for {} s…",
        args.idle_seconds
    );
    let xacts_before = transactions(&pool).await?;
    let q0 = counter.get();
    let idle = Duration::from_secs(args.idle_seconds.max(1));
    let until = Instant::now() + idle;
    while let Ok(Some(msg)) = tokio::time::timeout_at(until.into(), rx.recv()).await {
        update(&mut state, msg);
    }
    let idle_queries = counter.get() - q0;
    let xacts_after = transactions(&pool).await?;

    // One change at a time, from another connection.
    eprintln!("bench: {} single changes…", args.changes);
    let triggered: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM incidents WHERE status = 'triggered' ORDER BY id LIMIT $1",
    )
    .bind(i64::from(args.changes))
    .fetch_all(&pool)
    .await?;
    let mut terminal = Terminal::new(TestBackend::new(120, 40))?;
    state.tab = vivid_tui::screens::position("crisis").unwrap_or(1);
    let mut queries = Vec::new();
    let mut reads = Vec::new();
    let mut to_screen = Vec::new();
    for id in triggered {
        vivid_core::crisis::service::acknowledge(&ctx, id, "olu").await?;
        let committed = Instant::now();
        let q = counter.get();
        loop {
            let snap = next_snapshot(&mut rx).await?;
            let read = snap.read_time;
            let done = incidents(&snap)
                .iter()
                .any(|r| r.incident.id == id && r.status() == Status::Acknowledged);
            update(&mut state, Msg::Loaded(Box::new(snap)));
            if done {
                terminal.draw(|f| view(&state, f))?;
                to_screen.push(committed.elapsed());
                reads.push(read);
                queries.push(counter.get() - q);
                break;
            }
        }
    }
    feed.abort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |v: &[Duration], p: usize| -> f64 {
        let mut v = v.to_vec();
        v.sort();
        v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
            .copied()
            .map(ms)
            .unwrap_or(0.0)
    };
    let n = queries.len().max(1) as f64;
    Ok(RoomReport {
        incidents: args.incidents,
        content_items: args.content,
        pending_approvals: args.approvals,
        first_read_ms,
        first_read_queries,
        idle_seconds: idle.as_secs(),
        idle_queries,
        idle_queries_per_second: idle_queries as f64 / idle.as_secs_f64(),
        idle_server_transactions_per_second: (xacts_after - xacts_before) as f64
            / idle.as_secs_f64(),
        change_queries_mean: queries.iter().sum::<u64>() as f64 / n,
        change_queries_max: queries.iter().copied().max().unwrap_or(0),
        change_read_ms_p50: pct(&reads, 50),
        change_read_ms_max: reads.iter().copied().max().map(ms).unwrap_or(0.0),
        commit_to_screen_ms_p50: pct(&to_screen, 50),
        commit_to_screen_ms_p99: pct(&to_screen, 99),
        commit_to_screen_ms_max: to_screen.iter().copied().max().map(ms).unwrap_or(0.0),
    })
}

/// The next snapshot from the feed (an outage is an error here).
async fn next_snapshot(rx: &mut mpsc::UnboundedReceiver<Msg>) -> Result<Snapshot> {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(Msg::Loaded(s))) => return Ok(*s),
            Ok(Some(Msg::DbDown { error, .. })) => {
                anyhow::bail!("the feed lost the database: {error}")
            }
            Ok(Some(_)) => {}
            Ok(None) => anyhow::bail!("the feed stopped"),
            Err(_) => anyhow::bail!("no snapshot within 60 s"),
        }
    }
}

/// Transactions the server has counted for this database (committed and
/// rolled back). The statistics are flushed by each backend at most once a
/// second, so a window of many seconds is needed for a fair figure.
async fn transactions(pool: &sqlx::PgPool) -> Result<i64> {
    // Our own pending counts go out now.
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(pool)
        .await
        .ok();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Ok(sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await?)
}

/// The data set, written directly (the services would take minutes).
async fn load(ctx: &Ctx, args: &RoomArgs) -> Result<()> {
    let pool = &ctx.pool;
    let n_incidents = i64::from(args.incidents);
    // Open incidents: a third triggered (escalating), the rest acknowledged.
    sqlx::query(
        "INSERT INTO incidents (title, description, severity, source, departments, status, phase,
             phase_started_at, ack_deadline, commander, opened_by, opened_at, acknowledged_by,
             acknowledged_at, last_progress_at, updated_at)
         SELECT 'Incident ' || g || ': checkout latency above threshold in region ' || (g % 7),
                'Synthetic incident for the control-room benchmark.',
                'P' || (1 + g % 4), 'manual', ARRAY['technology', 'operations'],
                CASE WHEN g % 3 = 0 THEN 'triggered' ELSE 'acknowledged' END,
                CASE WHEN g % 3 = 0 THEN 'detection' ELSE 'triage' END,
                now() - (g % 600) * interval '1 second', now() + interval '15 minutes',
                CASE WHEN g % 3 = 0 THEN NULL ELSE 'kai' END, 'olu',
                now() - (g % 86400) * interval '1 second',
                CASE WHEN g % 3 = 0 THEN NULL ELSE 'kai' END,
                CASE WHEN g % 3 = 0 THEN NULL ELSE now() END, now(), now()
         FROM generate_series(1, $1) g",
    )
    .bind(n_incidents)
    .execute(pool)
    .await
    .context("loading incidents")?;
    sqlx::query(
        "INSERT INTO escalations (workflow, entity_id, subject, policy, departments, level, started_at, updated_at)
         SELECT 'crisis', id::text, title,
                '{\"name\": \"p1\", \"levels\": [{\"delay_secs\": 0, \"targets\": []}, {\"delay_secs\": 900, \"targets\": []}], \"repeat\": 0, \"repeat_after_secs\": 900}'::jsonb,
                departments, 0, now(), now()
         FROM incidents WHERE status = 'triggered'",
    )
    .execute(pool)
    .await
    .context("loading escalations")?;
    // Content items across the pipeline; a tenth in review with a pending approval.
    let n_content = i64::from(args.content);
    sqlx::query(
        "INSERT INTO content_items (kind, title, owner, channel, state, version, created_by,
             created_at, updated_at, last_edit_at)
         SELECT (ARRAY['email', 'blog_post', 'social_post'])[1 + g % 3],
                'Content item ' || g || ': spring collection feature',
                (ARRAY['lena', 'remy', 'maya'])[1 + g % 3],
                (ARRAY['email', 'web', 'social'])[1 + g % 3],
                (ARRAY['planning', 'creation', 'review', 'approved', 'published', 'performance',
                       'optimization', 'maintenance', 'archival', 'creation'])[1 + g % 10],
                1, 'lena', now() - interval '3 days', now() - g * interval '1 second', now()
         FROM generate_series(1, $1) g",
    )
    .bind(n_content)
    .execute(pool)
    .await
    .context("loading content")?;
    sqlx::query(
        "WITH reviews AS (
            SELECT id FROM content_items WHERE state = 'review' ORDER BY id LIMIT $1),
         requests AS (
            INSERT INTO approval_requests (workflow, entity_id, subject_version, title, requested_by,
                eligible_roles, required, deadline, created_at)
            SELECT 'content', r.id::text, 1, 'Review of content item ' || r.id, 'lena',
                   ARRAY['director:marketing', 'director:creative'], 2,
                   now() + (r.id % 48) * interval '1 hour', now()
            FROM reviews r RETURNING id, entity_id)
         UPDATE content_items c SET approval_id = q.id FROM requests q WHERE c.id = q.entity_id::bigint",
    )
    .bind(i64::from(args.approvals))
    .execute(pool)
    .await
    .context("loading approvals")?;
    // A history in the event log.
    sqlx::query(
        "INSERT INTO events (workflow, entity_type, entity_id, action, actor, occurred_at)
         SELECT 'crisis', 'incident', (1 + g % $1)::text, 'noted', 'kai', now() - (100000 - g) * interval '1 second'
         FROM generate_series(1, 100000) g",
    )
    .bind(n_incidents.max(1))
    .execute(pool)
    .await
    .context("loading events")?;
    for table in [
        "incidents",
        "escalations",
        "content_items",
        "approval_requests",
        "events",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(pool)
            .await?;
    }
    Ok(())
}
