//! The shared engine against a real PostgreSQL, a fresh database per test.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{Connection, PgConnection};
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::engine::approvals::{self, Decision, NewApproval, Outcome};
use vivid_core::engine::escalation::{self, Policy};
use vivid_core::engine::events::{self, NewEvent};
use vivid_core::engine::outbox::{
    self, DeliveryError, DeliveryFuture, DeliveryTarget, NewNotification, Notification,
};
use vivid_core::engine::timers::{self, HandlerFuture, NewTimer, Registry, Timer};
use vivid_core::engine::{Engine, oncall};
use vivid_core::testing::{TestDb, default_config, fresh_db};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

async fn setup() -> Result<(TestDb, Ctx, SimClock), Box<dyn std::error::Error>> {
    let db = fresh_db().await?;
    let clock = SimClock::at(t0());
    let ctx = db.ctx(default_config(), Arc::new(clock.clone())).await?;
    Ok((db, ctx, clock))
}

async fn count(ctx: &Ctx, sql: &'static str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(sql).fetch_one(&ctx.pool).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_to_change_the_event_log() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    let mut tx = ctx.pool.begin().await?;
    events::append(
        &mut tx,
        &NewEvent::new("test", "thing", 1, "created", "maya"),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    for sql in [
        "UPDATE events SET actor = 'mallory'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&ctx.pool)
            .await;
        let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("append-only"), "{sql}: {msg}");
    }
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM events WHERE actor = 'maya'").await?,
        1
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_change_leaves_no_event_and_no_notification() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    let mut listener = sqlx::postgres::PgListener::connect_with(&ctx.pool).await?;
    listener.listen(events::CHANNEL).await?;
    {
        let mut tx = ctx.pool.begin().await?;
        events::append(
            &mut tx,
            &NewEvent::new("test", "thing", 1, "created", "maya"),
            ctx.now(),
        )
        .await?;
        tx.rollback().await?;
    }
    let mut tx = ctx.pool.begin().await?;
    let id = events::append(
        &mut tx,
        &NewEvent::new("test", "thing", 2, "created", "maya"),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv()).await??;
    let payload: serde_json::Value = serde_json::from_str(n.payload())?;
    assert_eq!(
        payload["id"], id,
        "the first NOTIFY is the committed event's"
    );
    assert_eq!(payload["entity_id"], "2");
    assert_eq!(count(&ctx, "SELECT count(*) FROM events").await?, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_fire_once_when_due_and_reschedule_instead_of_duplicating() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    let registry = vivid_core::workflow::timer_registry();
    let mut conn = ctx.pool.acquire().await?;
    let due = t0() + TimeDelta::minutes(10);
    let a = timers::schedule(
        &mut conn,
        &NewTimer::new("engine.probe", "test", "x", due),
        ctx.now(),
    )
    .await?;
    // Same kind/entity/key: moves the pending timer instead of adding one.
    let b = timers::schedule(
        &mut conn,
        &NewTimer::new("engine.probe", "test", "x", due + TimeDelta::minutes(5)),
        ctx.now(),
    )
    .await?;
    assert_eq!(a, b);
    timers::schedule(
        &mut conn,
        &NewTimer::new("engine.probe", "test", "y", due),
        ctx.now(),
    )
    .await?;
    timers::schedule(
        &mut conn,
        &NewTimer::new("engine.probe", "test", "z", due),
        ctx.now(),
    )
    .await?;
    assert_eq!(timers::cancel(&mut conn, "test", "z", None).await?, 1);
    drop(conn);

    let r = timers::fire_due_batch(&ctx, &registry, "w1", 100).await?;
    assert_eq!((r.fired, r.failed), (0, 0), "nothing is due yet");
    clock.advance(TimeDelta::minutes(10));
    let r = timers::fire_due_batch(&ctx, &registry, "w1", 100).await?;
    assert_eq!(r.fired, 1, "only y is due");
    clock.advance(TimeDelta::minutes(5));
    let r = timers::fire_due_batch(&ctx, &registry, "w1", 100).await?;
    assert_eq!(r.fired, 1, "x after its reschedule");
    let r = timers::fire_due_batch(&ctx, &registry, "w1", 100).await?;
    assert_eq!(r.fired, 0);
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM events WHERE action = 'probe_fired'"
        )
        .await?,
        2
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM timers WHERE status = 'cancelled'"
        )
        .await?,
        1
    );
    Ok(())
}

static FAILS: AtomicU32 = AtomicU32::new(0);

fn flaky<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        if t.entity_id == "bad" {
            FAILS.fetch_add(1, Ordering::SeqCst);
            // Write something first: it must be rolled back with the failure.
            events::append(
                conn,
                &NewEvent::new("test", "t", "bad", "half_done", "engine"),
                ctx.now(),
            )
            .await?;
            return Err(vivid_core::Error::invalid("boom"));
        }
        events::append(
            conn,
            &NewEvent::new("test", "t", &t.entity_id, "done", "engine"),
            ctx.now(),
        )
        .await?;
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_timer_does_not_take_its_batch_down_and_is_retried_then_failed() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    let mut registry = Registry::default();
    registry.register("test.flaky", flaky);
    let mut conn = ctx.pool.acquire().await?;
    for id in ["a", "bad", "c"] {
        timers::schedule(
            &mut conn,
            &NewTimer::new("test.flaky", "test", id, ctx.now()),
            ctx.now(),
        )
        .await?;
    }
    drop(conn);
    let r = timers::fire_due_batch(&ctx, &registry, "w", 10).await?;
    assert_eq!((r.fired, r.failed), (2, 1));
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM events WHERE action = 'done'").await?,
        2
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM events WHERE action = 'half_done'"
        )
        .await?,
        0
    );
    // Retried with backoff until timer_max_attempts (5), then failed.
    for _ in 0..10 {
        clock.advance(TimeDelta::hours(1));
        timers::fire_due_batch(&ctx, &registry, "w", 10).await?;
    }
    let (status, attempts, err): (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, last_error FROM timers WHERE entity_id = 'bad'")
            .fetch_one(&ctx.pool)
            .await?;
    assert_eq!(status, "failed");
    assert_eq!(attempts, 5);
    assert_eq!(err.as_deref(), Some("boom"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_this_binary_cannot_run_fails_as_an_internal_fault() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    let registry = vivid_core::workflow::timer_registry();
    let mut conn = ctx.pool.acquire().await?;
    for (kind, entity) in [
        ("escalation.step", "bad-payload"),
        ("test.unknown", "no-handler"),
    ] {
        timers::schedule(
            &mut conn,
            &NewTimer::new(kind, "test", entity, ctx.now()),
            ctx.now(),
        )
        .await?;
    }
    drop(conn);
    let r = timers::fire_due_batch(&ctx, &registry, "w", 10).await?;
    assert_eq!((r.fired, r.failed), (0, 2));
    let errors: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT entity_id, last_error FROM timers ORDER BY entity_id")
            .fetch_all(&ctx.pool)
            .await?;
    let text = |entity: &str| {
        errors
            .iter()
            .find(|(e, _)| e == entity)
            .and_then(|(_, m)| m.clone())
            .unwrap_or_default()
    };
    assert!(
        text("bad-payload").starts_with("internal error: escalation timer")
            && text("bad-payload").ends_with("has no escalation_id"),
        "{errors:?}"
    );
    assert_eq!(
        text("no-handler"),
        "internal error: no handler for timer kind \"test.unknown\" in this binary"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_racing_fire_every_timer_exactly_once() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    sqlx::query(
        "INSERT INTO timers (kind, workflow, entity_id, due_at, created_at)
         SELECT 'engine.probe', 'test', g::text, $1, $1 FROM generate_series(1, 3000) g",
    )
    .bind(ctx.now())
    .execute(&ctx.pool)
    .await?;
    let registry = vivid_core::workflow::timer_registry();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let ctx = ctx.clone();
        let registry = registry.clone();
        tasks.push(tokio::spawn(async move {
            let mut fired = 0;
            loop {
                let r = timers::fire_due_batch(&ctx, &registry, &format!("w{w}"), 50).await?;
                if r.fired + r.failed == 0 {
                    break;
                }
                fired += r.fired;
            }
            Ok::<u64, vivid_core::Error>(fired)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    assert_eq!(total, 3000);
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM events WHERE action = 'probe_fired'"
        )
        .await?,
        3000
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(DISTINCT payload->>'timer_id') FROM events WHERE action = 'probe_fired'"
        )
        .await?,
        3000
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM timers WHERE attempts <> 1").await?,
        0
    );
    assert!(
        count(&ctx, "SELECT count(DISTINCT fired_by) FROM timers").await? >= 2,
        "the work was shared"
    );
    Ok(())
}

/// A target that fails a given number of times, then delivers.
struct Flaky {
    failures_left: AtomicU32,
    retry_after: Option<std::time::Duration>,
    delivered: AtomicU32,
}

impl DeliveryTarget for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn deliver<'a>(&'a self, _ctx: &'a Ctx, _n: &'a Notification) -> DeliveryFuture<'a> {
        Box::pin(async move {
            if self.failures_left.load(Ordering::SeqCst) > 0 {
                self.failures_left.fetch_sub(1, Ordering::SeqCst);
                return Err(DeliveryError::Retry {
                    reason: "429 Too Many Requests".into(),
                    after: self.retry_after,
                });
            }
            self.delivered.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_retries_with_backoff_honours_retry_after_and_gives_up() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    let mut tx = ctx.pool.begin().await?;
    let n = NewNotification::to_person("maya", "test", 1, "hello").dedupe("k1");
    assert!(outbox::enqueue(&ctx, &mut tx, &n).await?.is_some());
    assert!(
        outbox::enqueue(&ctx, &mut tx, &n).await?.is_none(),
        "deduplicated"
    );
    tx.commit().await?;

    let target = Flaky {
        failures_left: AtomicU32::new(2),
        retry_after: Some(std::time::Duration::from_secs(30)),
        delivered: AtomicU32::new(0),
    };
    let r = outbox::deliver_due(&ctx, &target, 10).await?;
    assert_eq!(r.retried, 1);
    let next: DateTime<Utc> = sqlx::query_scalar("SELECT next_attempt_at FROM outbox")
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(
        next - ctx.now(),
        TimeDelta::seconds(30),
        "Retry-After honoured"
    );
    assert_eq!(
        outbox::deliver_due(&ctx, &target, 10).await?.retried,
        0,
        "not before it is due"
    );
    clock.advance(TimeDelta::seconds(30));
    assert_eq!(outbox::deliver_due(&ctx, &target, 10).await?.retried, 1);
    clock.advance(TimeDelta::seconds(30));
    assert_eq!(outbox::deliver_due(&ctx, &target, 10).await?.delivered, 1);
    assert_eq!(target.delivered.load(Ordering::SeqCst), 1);

    // A notification that never gets through is marked dead after max attempts.
    let mut tx = ctx.pool.begin().await?;
    outbox::enqueue(
        &ctx,
        &mut tx,
        &NewNotification::to_person("sam", "test", 2, "never"),
    )
    .await?;
    tx.commit().await?;
    let hopeless = Flaky {
        failures_left: AtomicU32::new(1000),
        retry_after: None,
        delivered: AtomicU32::new(0),
    };
    for _ in 0..20 {
        clock.advance(TimeDelta::hours(1));
        outbox::deliver_due(&ctx, &hopeless, 10).await?;
    }
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM outbox WHERE recipient = 'sam'")
            .fetch_one(&ctx.pool)
            .await?;
    assert_eq!((status.as_str(), attempts), ("dead", 8));
    // Unknown recipients are refused when queued.
    let mut tx = ctx.pool.begin().await?;
    let bad = outbox::enqueue(
        &ctx,
        &mut tx,
        &NewNotification::to_person("nobody", "test", 3, "x"),
    )
    .await;
    assert!(matches!(bad, Err(vivid_core::Error::NotFound(_))));
    Ok(())
}

fn content_approval(version: i32, required: u32) -> NewApproval {
    NewApproval {
        workflow: "content".into(),
        entity_id: "42".into(),
        subject_version: version,
        title: "Coastal launch e-mail".into(),
        requested_by: "lena".into(),
        eligible: vec![
            "director:marketing"
                .parse()
                .unwrap_or_else(|e: String| panic!("{e}")),
            "director:creative"
                .parse()
                .unwrap_or_else(|e: String| panic!("{e}")),
        ],
        required,
        must_include: vec![],
        deadline: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_two_of_two_with_concurrent_deciders() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    let mut tx = ctx.pool.begin().await?;
    let req = approvals::request(&ctx, &mut tx, &content_approval(1, 2)).await?;
    tx.commit().await?;
    // Both directors notified, the requester not.
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM outbox WHERE subject LIKE 'Approval needed%'"
        )
        .await?,
        2
    );

    // Self-approval refused, nothing written.
    let mut tx = ctx.pool.begin().await?;
    let own = approvals::decide(&ctx, &mut tx, req.id, "lena", Decision::Approve, "", None).await;
    assert!(matches!(own, Err(vivid_core::Error::Forbidden(_))));
    tx.rollback().await?;

    // Two directors at the same instant: serialised by the row lock.
    let mut handles = Vec::new();
    for who in ["maya", "iris"] {
        let ctx = ctx.clone();
        handles.push(tokio::spawn(async move {
            let mut conn = ctx.pool.acquire().await?;
            let mut tx = conn.begin().await?;
            let (_, outcome) = approvals::decide(
                &ctx,
                &mut tx,
                req.id,
                who,
                Decision::Approve,
                "looks good",
                Some(1),
            )
            .await?;
            tx.commit().await?;
            Ok::<Outcome, vivid_core::Error>(outcome)
        }));
    }
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.push(h.await??);
    }
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Approved).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM approval_decisions").await?,
        2
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM events WHERE to_state = 'approved'"
        )
        .await?,
        1
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM timers WHERE status = 'pending'").await?,
        0,
        "deadline timers cancelled"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_approval_decided_twice_at_once_is_approved_once_and_both_recorded() -> TestResult
{
    let (_db, ctx, _) = setup().await?;
    let mut tx = ctx.pool.begin().await?;
    let req = approvals::request(&ctx, &mut tx, &content_approval(1, 1)).await?;
    tx.commit().await?;
    let mut handles = Vec::new();
    for who in ["maya", "iris"] {
        let ctx = ctx.clone();
        handles.push(tokio::spawn(async move {
            let mut tx = ctx.pool.begin().await?;
            let (_, outcome) =
                approvals::decide(&ctx, &mut tx, req.id, who, Decision::Approve, "", None).await?;
            tx.commit().await?;
            Ok::<Outcome, vivid_core::Error>(outcome)
        }));
    }
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.push(h.await??);
    }
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, vec![Outcome::AlreadyApproved, Outcome::Approved]);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM approval_decisions").await?,
        2
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecided_approval_reminds_then_is_rerouted_until_someone_decides() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    let engine = Engine::new(ctx.clone(), Arc::new(outbox::LogTarget));
    let mut tx = ctx.pool.begin().await?;
    let req = approvals::request(&ctx, &mut tx, &content_approval(1, 1)).await?;
    tx.commit().await?;
    // A new version supersedes the old request.
    let mut tx = ctx.pool.begin().await?;
    let req2 = approvals::request(&ctx, &mut tx, &content_approval(2, 1)).await?;
    tx.commit().await?;
    let mut tx = ctx.pool.begin().await?;
    let stale = approvals::decide(
        &ctx,
        &mut tx,
        req.id,
        "maya",
        Decision::Approve,
        "",
        Some(1),
    )
    .await;
    assert!(matches!(stale, Err(vivid_core::Error::Conflict(m)) if m.contains("superseded")));
    tx.rollback().await?;

    clock.advance(TimeDelta::hours(20));
    engine.run_pass().await?;
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM outbox WHERE subject LIKE 'Reminder:%'"
        )
        .await?,
        2
    );
    // Past the deadline: re-routed to the deciding roles' directors, who
    // may decide alone, with a fresh deadline; the request stays open.
    clock.advance(TimeDelta::hours(4) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    let rerouted = approvals::get(&mut *ctx.pool.acquire().await?, req2.id).await?;
    assert_eq!(rerouted.status, "pending");
    assert_eq!(rerouted.escalate_to, vec!["iris", "maya"]);
    assert_eq!(rerouted.display_status(), "escalated");
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM outbox WHERE person IN ('iris', 'maya') AND subject LIKE 'Overdue approval re-routed to you:%'"
        )
        .await?,
        2
    );
    // Nobody decides again: the Business Manager is made a decider.
    clock.advance(ctx.config.approvals.reroute_window.delta() + TimeDelta::seconds(1));
    engine.run_pass().await?;
    let to_bea = approvals::get(&mut *ctx.pool.acquire().await?, req2.id).await?;
    assert_eq!(to_bea.escalate_to, vec!["iris", "maya", "bea"]);
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM outbox WHERE person = 'bea' AND subject LIKE 'Overdue approval re-routed to you:%'"
        )
        .await?,
        1
    );
    // Every level let it pass: the overdue policy pages; still decidable.
    clock.advance(ctx.config.approvals.reroute_window.delta() + TimeDelta::seconds(1));
    engine.run_pass().await?;
    // Its first step is a timer of its own, due at once.
    engine.run_pass().await?;
    let started: i64 = sqlx::query_scalar("SELECT count(*) FROM escalations WHERE entity_id = $1")
        .bind(format!("approval:{}", req2.id))
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(started, 1, "the overdue policy runs once");
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM outbox WHERE person = 'bea' AND subject LIKE '%Overdue approval:%'"
        )
        .await?,
        1,
        "the overdue policy pages the Business Manager"
    );
    // The Business Manager decides alone (2 of 2 were asked for): approved,
    // and the paging stops.
    let mut tx = ctx.pool.begin().await?;
    let (done, outcome) =
        approvals::decide(&ctx, &mut tx, req2.id, "bea", Decision::Approve, "", None).await?;
    tx.commit().await?;
    assert_eq!(outcome, Outcome::Approved);
    assert_eq!(done.status, "approved");
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM escalations WHERE entity_id = $1 AND status = 'active'",
    )
    .bind(format!("approval:{}", req2.id))
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(active, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_climbs_levels_until_acknowledged() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    let engine = Engine::new(ctx.clone(), Arc::new(outbox::LogTarget));
    let policy = Policy::named(&ctx, "default")?;
    let mut tx = ctx.pool.begin().await?;
    escalation::start(
        &ctx,
        &mut tx,
        &escalation::Start::new("crisis", "7", "P1: checkout down", &policy),
    )
    .await?;
    tx.commit().await?;
    engine.run_pass().await?;
    // Level 1: whoever the operations rotation has on call at t0.
    let on_call = ctx
        .org
        .schedule("operations-primary")
        .and_then(|s| s.rotation_at(t0()))
        .unwrap_or_default()
        .to_string();
    let notified: Vec<String> =
        sqlx::query_scalar("SELECT person FROM outbox WHERE subject LIKE '[escalation L1]%'")
            .fetch_all(&ctx.pool)
            .await?;
    assert_eq!(notified, vec![on_call]);
    clock.advance(TimeDelta::minutes(14));
    engine.run_pass().await?;
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM outbox WHERE subject LIKE '[escalation L2]%'"
        )
        .await?,
        0
    );
    clock.advance(TimeDelta::minutes(1));
    engine.run_pass().await?;
    let l2: Vec<String> =
        sqlx::query_scalar("SELECT person FROM outbox WHERE subject LIKE '[escalation L2]%'")
            .fetch_all(&ctx.pool)
            .await?;
    assert_eq!(l2, vec!["omar".to_string()], "the operations director");
    let mut tx = ctx.pool.begin().await?;
    assert!(escalation::acknowledge(&ctx, &mut tx, "crisis", "7", "omar").await?);
    tx.commit().await?;
    clock.advance(TimeDelta::hours(2));
    engine.run_pass().await?;
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM outbox WHERE subject LIKE '[escalation L3]%'"
        )
        .await?,
        0
    );
    let esc = escalation::latest(&mut *ctx.pool.acquire().await?, "crisis", "7").await?;
    assert_eq!(
        esc.map(|e| (e.status, e.acknowledged_by)),
        Some(("acknowledged".into(), Some("omar".into())))
    );
    Ok(())
}

async fn escalated_events(
    ctx: &Ctx,
    entity: &str,
) -> Result<Vec<(Option<String>, serde_json::Value)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT reason, payload FROM events WHERE action = 'escalated' AND entity_id = $1 ORDER BY id",
    )
    .bind(entity)
    .fetch_all(&ctx.pool)
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_that_reaches_nobody_falls_back_to_the_next_then_the_business_manager() -> TestResult
{
    let (_db, ctx, clock) = setup().await?;
    let engine = Engine::new(ctx.clone(), Arc::new(outbox::LogTarget));
    // "ghost" has left; nobody in Executive is an analyst.
    let ladder = Policy::custom(
        "gaps",
        vec![
            (TimeDelta::zero(), vec!["person:ghost".into()]),
            (TimeDelta::minutes(15), vec!["person:omar".into()]),
            (TimeDelta::minutes(15), vec!["department:technology".into()]),
        ],
        0,
        TimeDelta::minutes(30),
    );
    let empty = Policy::custom(
        "empty",
        vec![
            (
                TimeDelta::zero(),
                vec!["person:ghost".into(), "role:analyst:executive".into()],
            ),
            (TimeDelta::minutes(15), vec!["person:gone".into()]),
        ],
        0,
        TimeDelta::minutes(30),
    );
    let mut tx = ctx.pool.begin().await?;
    escalation::start(
        &ctx,
        &mut tx,
        &escalation::Start::new("crisis", "1", "P1: checkout down", &ladder),
    )
    .await?;
    escalation::start(
        &ctx,
        &mut tx,
        &escalation::Start::new("crisis", "2", "P1: search down", &empty),
    )
    .await?;
    tx.commit().await?;
    engine.run_pass().await?;

    // Level 1 reaches nobody: level 2 is paged at once, and says why.
    let l2: Vec<String> = sqlx::query_scalar(
        "SELECT person FROM outbox WHERE subject = '[escalation L2] P1: checkout down'",
    )
    .fetch_all(&ctx.pool)
    .await?;
    assert_eq!(l2, vec!["omar".to_string()]);
    let events = escalated_events(&ctx, "1").await?;
    let (reason, payload) = events.first().ok_or("no escalated event")?;
    assert_eq!(payload["level"], 2);
    assert_eq!(payload["fallback"], "level 2");
    assert_eq!(payload["unresolved"], serde_json::json!(["person:ghost"]));
    assert_eq!(payload["notified"], serde_json::json!(["omar"]));
    assert_eq!(
        reason.as_deref(),
        Some("level 1 reaches nobody (person:ghost); fell back to level 2")
    );
    // The ladder goes on from level 2: level 3 after its own delay.
    clock.advance(TimeDelta::minutes(15));
    engine.run_pass().await?;
    let events = escalated_events(&ctx, "1").await?;
    assert_eq!(events.len(), 2);
    let (reason, payload) = events.get(1).ok_or("no second escalated event")?;
    assert_eq!(payload["level"], 3);
    assert_eq!(payload["notified"], serde_json::json!(["theo"]));
    assert!(payload.get("fallback").is_none() && reason.is_none());

    // No level reaches anyone: the business manager is paged.
    let events = escalated_events(&ctx, "2").await?;
    let (reason, payload) = events.first().ok_or("no escalated event")?;
    assert_eq!(payload["fallback"], "role:business_manager");
    assert_eq!(payload["notified"], serde_json::json!(["bea"]));
    assert_eq!(
        payload["unresolved"],
        serde_json::json!(["person:ghost", "role:analyst:executive", "person:gone"])
    );
    assert_eq!(
        reason.as_deref(),
        Some(
            "levels 1 to 2 reach nobody (person:ghost, role:analyst:executive, person:gone); \
             fell back to role:business_manager"
        )
    );
    // The ladder kept its pace: when level 2 fell due, she stood in again.
    let (reason, payload) = events.get(1).ok_or("no second escalated event")?;
    assert_eq!(payload["level"], 2);
    assert_eq!(payload["notified"], serde_json::json!(["bea"]));
    assert_eq!(
        reason.as_deref(),
        Some("level 2 reaches nobody (person:gone); fell back to role:business_manager")
    );
    let bea: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM outbox WHERE person = 'bea' AND subject LIKE '%search down' ORDER BY id",
    )
    .fetch_all(&ctx.pool)
    .await?;
    assert_eq!(bea.len(), 2);
    assert!(
        bea.first()
            .is_some_and(|b| b.contains("You are paged because levels 1 to 2 reach nobody")),
        "{bea:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_puts_someone_else_on_call() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    let mut conn = ctx.pool.acquire().await?;
    let before = oncall::all_at(&ctx, &mut conn, ctx.now()).await?;
    let ops = before
        .iter()
        .find(|o| o.schedule == "operations-primary")
        .map(|o| o.via);
    assert_eq!(ops, Some("rotation"));
    let respond: Vec<vivid_core::org::RoleRef> = vec!["operator".parse()?];
    let req = |schedule: &'static str| oncall::NewOverride {
        schedule,
        person: "kai",
        starts_at: ctx.now(),
        ends_at: ctx.now() + TimeDelta::hours(8),
        actor: "omar",
        replace: false,
    };
    oncall::add_override(&ctx, &mut conn, &req("operations-primary"), &respond).await?;
    let after = oncall::all_at(&ctx, &mut conn, ctx.now()).await?;
    let ops = after
        .iter()
        .find(|o| o.schedule == "operations-primary")
        .map(|o| (o.person.as_str(), o.via));
    assert_eq!(ops, Some(("kai", "override")));
    let bad = oncall::add_override(&ctx, &mut conn, &req("nope"), &respond).await;
    assert!(matches!(bad, Err(vivid_core::Error::NotFound(_))));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_sync_is_idempotent_and_keeps_removed_people_inactive() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    ctx.org.sync(&ctx.pool).await?;
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM people WHERE active").await?,
        ctx.org.people.len() as i64
    );
    let mut config = default_config();
    config.org.people.retain(|p| p.handle != "remy");
    let smaller = Ctx::new(ctx.pool.clone(), config, ctx.clock.clone())?;
    smaller.org.sync(&ctx.pool).await?;
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM people WHERE NOT active").await?,
        1
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_twice_loads_once() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    let first = vivid_core::seed::demo(&ctx).await?;
    let readings = count(&ctx, "SELECT count(*) FROM metric_readings").await?;
    let second = vivid_core::seed::demo(&ctx).await?;
    assert!(!first.loaded.is_empty());
    assert!(second.loaded.is_empty());
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM metric_readings").await?,
        readings
    );
    let status = vivid_core::status::collect(&ctx).await?;
    assert!(
        status
            .kpis
            .iter()
            .any(|k| k.metric == "daily_revenue" && k.trend.len() == 14)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_has_a_tile_for_every_listed_workflow() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    let status = vivid_core::status::collect(&ctx).await?;
    let tiles: Vec<&str> = status.workflows.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(tiles, vivid_core::workflow::names());
    assert!(tiles.contains(&"journey"), "{tiles:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_without_a_decision_route_is_refused_and_stays_pending() -> TestResult {
    let (_db, ctx, _) = setup().await?;
    for (workflow, says) in [
        ("experiments", "takes no approval decisions"),
        ("nonexistent", "not a workflow"),
    ] {
        let mut tx = ctx.pool.begin().await?;
        let req = approvals::request(
            &ctx,
            &mut tx,
            &NewApproval {
                workflow: workflow.into(),
                ..content_approval(1, 1)
            },
        )
        .await?;
        tx.commit().await?;
        let refused = vivid_core::decisions::decide_request(
            &ctx,
            req.id,
            "maya",
            Decision::Approve,
            "looks good",
            None,
        )
        .await;
        let msg = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains(says), "{workflow}: {msg}");
        let mut conn = ctx.pool.acquire().await?;
        assert_eq!(approvals::get(&mut conn, req.id).await?.status, "pending");
        assert!(approvals::decisions(&mut conn, req.id).await?.is_empty());
    }
    Ok(())
}

/// Owns the "test" clocks: reminds and breaches until the entity is "done".
struct TestClocks {
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl vivid_core::engine::deadlines::ClockOwner for TestClocks {
    fn reached<'a>(
        &'a self,
        _ctx: &'a Ctx,
        _conn: &'a mut PgConnection,
        r: &'a vivid_core::engine::deadlines::Reached<'a>,
    ) -> vivid_core::workflow::BoxFuture<
        'a,
        vivid_core::Result<vivid_core::engine::deadlines::Reaction>,
    > {
        use vivid_core::engine::deadlines::Reaction;
        Box::pin(async move {
            if self.done.load(Ordering::SeqCst) {
                return Ok(Reaction::Stale);
            }
            Ok(Reaction::notified(vec![format!(
                "{:?}#{}",
                r.stage, r.reminder
            )]))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_clock_reminds_breaches_escalates_and_stops() -> TestResult {
    use vivid_core::engine::deadlines::{self, Clock, EscalateAfter};
    let (_db, mut ctx, clock) = setup().await?;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut registry = vivid_core::workflow::timer_registry();
    registry.clock_owner("test", TestClocks { done: done.clone() });
    ctx.timers = Arc::new(registry);
    let engine = Engine::new(ctx.clone(), Arc::new(outbox::LogTarget));
    let due = t0() + TimeDelta::hours(4);
    let start = |due| {
        Clock::new("test", 7, "response", due)
            .remind_at([due - TimeDelta::hours(2), due - TimeDelta::hours(1)])
            .escalate(EscalateAfter::new(
                TimeDelta::minutes(30),
                "approval-overdue",
                "Test clock overdue",
            ))
    };
    let mut tx = ctx.pool.begin().await?;
    deadlines::start(&ctx, &mut tx, &start(due)).await?;
    // Started again: moved, not doubled.
    deadlines::start(&ctx, &mut tx, &start(due)).await?;
    tx.commit().await?;
    let stages = |ctx: Ctx| async move {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM events WHERE workflow = 'test' AND entity_type = 'deadline' ORDER BY id",
        )
        .fetch_all(&ctx.pool)
        .await?;
        Ok::<_, sqlx::Error>(rows)
    };
    clock.set(due - TimeDelta::minutes(90));
    engine.run_pass().await?;
    assert_eq!(stages(ctx.clone()).await?, ["deadline_reminded"]);
    clock.set(due + TimeDelta::minutes(1));
    engine.run_pass().await?;
    assert_eq!(
        stages(ctx.clone()).await?,
        [
            "deadline_reminded",
            "deadline_reminded",
            "deadline_breached"
        ]
    );
    clock.set(due + TimeDelta::minutes(31));
    engine.run_pass().await?;
    assert_eq!(
        stages(ctx.clone()).await?.last().map(String::as_str),
        Some("deadline_escalated")
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM escalations WHERE workflow = 'test' AND entity_id = 'response:7'"
        )
        .await?,
        1
    );

    // A second clock that is done before its breach records nothing more.
    let due2 = ctx.now() + TimeDelta::hours(2);
    let mut tx = ctx.pool.begin().await?;
    deadlines::start(
        &ctx,
        &mut tx,
        &Clock::new("test", 8, "response", due2).remind_at([due2 - TimeDelta::hours(1)]),
    )
    .await?;
    tx.commit().await?;
    done.store(true, Ordering::SeqCst);
    clock.set(due2 + TimeDelta::hours(1));
    engine.run_pass().await?;
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM events WHERE workflow = 'test' AND entity_id = '8'"
        )
        .await?,
        0
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM timers WHERE workflow = 'test' AND entity_id = '8' AND status = 'pending'"
        )
        .await?,
        0,
        "a stale clock's later stages are cancelled"
    );

    // Stopping a clock cancels every stage still pending.
    let mut tx = ctx.pool.begin().await?;
    deadlines::start(&ctx, &mut tx, &start(ctx.now() + TimeDelta::hours(4))).await?;
    let stopped = deadlines::stop(&mut tx, "test", "7", "response").await?;
    tx.commit().await?;
    assert_eq!(stopped, 4, "two reminders, the breach and the escalation");
    Ok(())
}

/// Start escalations on entities `prefix0..prefixN` (the default ladder,
/// every third one a ladder whose first level reaches nobody) and a second
/// step timer for the first of them.
async fn start_storm(ctx: &Ctx, prefix: &str, n: u32) -> Result<(), Box<dyn std::error::Error>> {
    let default = Policy::named(ctx, "default")?;
    let gaps = Policy::custom(
        "gaps",
        vec![
            (TimeDelta::zero(), vec!["person:ghost".into()]),
            (TimeDelta::minutes(15), vec!["person:omar".into()]),
        ],
        0,
        TimeDelta::minutes(30),
    );
    let mut tx = ctx.pool.begin().await?;
    let mut first = None;
    for i in 0..n {
        let entity = format!("{prefix}{i}");
        let policy = if i % 3 == 2 { &gaps } else { &default };
        let id = escalation::start(
            ctx,
            &mut tx,
            &escalation::Start::new("crisis", &entity, "P1: storm", policy),
        )
        .await?;
        first.get_or_insert(id);
    }
    // A second timer for one escalation: it steps twice, one after the other.
    timers::schedule(
        &mut tx,
        &NewTimer::new(
            escalation::STEP_TIMER,
            "crisis",
            format!("{prefix}0"),
            ctx.now(),
        )
        .key("again")
        .payload(serde_json::json!({ "escalation_id": first })),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn same(one: &[String], all: &[String]) {
    let only_one: Vec<&String> = one.iter().filter(|r| !all.contains(r)).collect();
    let only_all: Vec<&String> = all.iter().filter(|r| !one.contains(r)).collect();
    assert!(
        only_one.is_empty() && only_all.is_empty() && one.len() == all.len(),
        "one by one only: {only_one:#?}\nbatched only: {only_all:#?}"
    );
}

/// What a storm left, without its ids: pages, events and next timers.
async fn storm_outcome(ctx: &Ctx, prefix: &str) -> Result<Vec<String>, sqlx::Error> {
    let like = format!("{prefix}%");
    let mut out: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws('|', 'page', entity_id, person, subject, body, channel, severity, next_attempt_at::text,
                          payload - 'escalation_id', esc_level, esc_round)
         FROM outbox WHERE entity_id LIKE $1
         UNION ALL
         SELECT concat_ws('|', 'event', entity_id, action, from_state, to_state, actor, reason,
                          payload - 'escalation_id', occurred_at::text)
         FROM events WHERE entity_type = 'escalation' AND entity_id LIKE $1
         UNION ALL
         SELECT concat_ws('|', 'timer', entity_id, kind, dedupe_key, status, due_at::text)
         FROM timers WHERE entity_id LIKE $1
         UNION ALL
         SELECT concat_ws('|', 'escalation', entity_id, level, round, status, updated_at::text)
         FROM escalations WHERE entity_id LIKE $1",
    )
    .bind(&like)
    .fetch_all(&ctx.pool)
    .await?;
    for row in &mut out {
        *row = row.replace(prefix, "");
    }
    out.sort();
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_steps_fired_together_pages_as_one_by_one_would() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    // One by one: the step handler alone.
    let mut single = Registry::default();
    timers::register_builtin(&mut single);
    single.register(escalation::STEP_TIMER, escalation::on_step);
    let batched = vivid_core::workflow::timer_registry();
    assert!(batched.kinds().contains(&escalation::STEP_TIMER));

    start_storm(&ctx, "s1x", 30).await?;
    while timers::fire_due_batch(&ctx, &single, "w", 500).await?.fired > 0 {}
    start_storm(&ctx, "s2x", 30).await?;
    while timers::fire_due_batch(&ctx, &batched, "w", 500)
        .await?
        .fired
        > 0
    {}
    let one = storm_outcome(&ctx, "s1x").await?;
    let all = storm_outcome(&ctx, "s2x").await?;
    assert!(one.iter().filter(|r| r.starts_with("page|")).count() >= 30);
    same(&one, &all);

    // The next level, due together for both: two engines race, in small
    // batches, and every escalation still steps exactly once.
    clock.advance(TimeDelta::minutes(15));
    let mut tasks = Vec::new();
    for w in 0..2 {
        let (ctx, registry) = (ctx.clone(), batched.clone());
        tasks.push(tokio::spawn(async move {
            while timers::fire_due_batch(&ctx, &registry, &format!("w{w}"), 7)
                .await?
                .fired
                > 0
            {}
            Ok::<(), vivid_core::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    same(
        &storm_outcome(&ctx, "s1x").await?,
        &storm_outcome(&ctx, "s2x").await?,
    );
    let twice: i64 = count(
        &ctx,
        "SELECT count(*) FROM (SELECT entity_id, to_state FROM events WHERE action = 'escalated'
                               GROUP BY 1, 2 HAVING count(*) > 1) x",
    )
    .await?;
    assert_eq!(twice, 0, "no level was paged twice");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_urgency_ladder_waits_for_support_hours_and_does_not_climb_outside_them() -> TestResult
{
    use vivid_core::crisis::{Severity, service};
    let at = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    };
    // Saturday 5 December 2026, 03:00 in New York (EST).
    let db = fresh_db().await?;
    let clock = SimClock::at(at("2026-12-05T03:00:00-05:00"));
    let ctx = db.ctx(default_config(), Arc::new(clock.clone())).await?;
    let engine = Engine::new(ctx.clone(), Arc::new(outbox::LogTarget));
    let inc = service::open(
        &ctx,
        &service::NewIncident {
            title: "Gift cards slow".into(),
            description: String::new(),
            severity: Severity::P3,
            source: service::Source::Manual,
            source_ref: None,
            departments: vec!["technology".into()],
            commander: None,
            trigger_key: None,
        },
        "olu",
    )
    .await?
    .ok_or("the incident was not opened")?;
    let entity = inc.id.to_string();
    let pages = |level: u32| {
        let (ctx, entity) = (ctx.clone(), entity.clone());
        async move {
            sqlx::query_as::<_, (String, DateTime<Utc>)>(
                "SELECT person, created_at FROM outbox WHERE entity_id = $1 AND esc_level = $2",
            )
            .bind(entity)
            .bind(i32::try_from(level).unwrap_or(0) - 1)
            .fetch_all(&ctx.pool)
            .await
        }
    };
    engine.run_pass().await?;
    assert!(
        pages(1).await?.is_empty(),
        "nobody is paged on a Saturday night"
    );
    let paused: Vec<(Option<String>, serde_json::Value)> = sqlx::query_as(
        "SELECT reason, payload FROM events WHERE action = 'escalation_paused' AND entity_id = $1",
    )
    .bind(&entity)
    .fetch_all(&ctx.pool)
    .await?;
    let monday = at("2026-12-07T09:00:00-05:00");
    assert_eq!(paused.len(), 1);
    assert_eq!(
        paused.first().map(|(_, p)| p["until"].clone()),
        Some(serde_json::json!(monday))
    );
    assert!(
        paused
            .first()
            .and_then(|(r, _)| r.as_deref())
            .is_some_and(|r| r.starts_with("low urgency waits for support hours")),
        "{paused:?}"
    );
    // Sunday: still nothing, and the ladder has not climbed.
    clock.set(at("2026-12-06T12:00:00-05:00"));
    engine.run_pass().await?;
    assert!(pages(1).await?.is_empty() && pages(2).await?.is_empty());
    // Monday 08:59: still closed.
    clock.set(monday - TimeDelta::minutes(1));
    engine.run_pass().await?;
    assert!(pages(1).await?.is_empty());
    // Monday 09:00: the first level is paged (and sent) at once.
    clock.set(monday);
    engine.run_pass().await?;
    let first = pages(1).await?;
    assert!(!first.is_empty());
    assert!(first.iter().all(|(_, due)| *due == monday), "{first:?}");
    assert!(pages(2).await?.is_empty());
    // The next level after its own delay (2h), inside support hours.
    clock.set(monday + TimeDelta::hours(2));
    engine.run_pass().await?;
    assert!(!pages(2).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_rate_limit_holds_across_engine_processes() -> TestResult {
    use vivid_core::engine::outbox::Page;
    use vivid_core::notify::Method;
    let db = fresh_db().await?;
    let clock = SimClock::at(t0());
    let mut config = default_config();
    config.notify.rate_per_minute.insert("sms".into(), 2);
    let ctx = db.ctx(config, Arc::new(clock.clone())).await?;
    let pages: Vec<NewNotification> = (0..5)
        .map(|i| {
            NewNotification::to_person("kai", "crisis", "1", format!("page {i}"))
                .dedupe(format!("rate:{i}"))
                .page(Page {
                    channel: Some(Method::Sms),
                    contact_id: None,
                    escalation_id: None,
                    level: 0,
                    round: 0,
                })
        })
        .collect();
    let mut tx = ctx.pool.begin().await?;
    outbox::enqueue_many(&ctx, &mut tx, &pages).await?;
    tx.commit().await?;
    // Another engine process already took one of the two tokens this minute.
    sqlx::query("INSERT INTO notify_rate_buckets (channel, tokens, at) VALUES ('sms', 1, $1)")
        .bind(ctx.now())
        .execute(&ctx.pool)
        .await?;
    let target = Flaky {
        failures_left: AtomicU32::new(0),
        retry_after: None,
        delivered: AtomicU32::new(0),
    };
    // Two engines at once: one page between them.
    let (a, b) = tokio::join!(
        outbox::deliver_due(&ctx, &target, 10),
        outbox::deliver_due(&ctx, &target, 10)
    );
    assert_eq!(a?.delivered + b?.delivered, 1);
    // The rest wait their turn, spread at the rate (one every 30 s), their
    // attempts not spent.
    let waiting: Vec<(DateTime<Utc>, i32)> = sqlx::query_as(
        "SELECT next_attempt_at, attempts FROM outbox WHERE status = 'pending' ORDER BY next_attempt_at",
    )
    .fetch_all(&ctx.pool)
    .await?;
    let at: Vec<DateTime<Utc>> = waiting.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        at,
        (1..=4)
            .map(|i| t0() + TimeDelta::seconds(30 * i))
            .collect::<Vec<_>>()
    );
    assert!(waiting.iter().all(|(_, attempts)| *attempts == 0));
    clock.advance(TimeDelta::seconds(30));
    let (a, b) = tokio::join!(
        outbox::deliver_due(&ctx, &target, 10),
        outbox::deliver_due(&ctx, &target, 10)
    );
    assert_eq!(a?.delivered + b?.delivered, 1);
    assert_eq!(target.delivered.load(Ordering::SeqCst), 2);
    Ok(())
}
