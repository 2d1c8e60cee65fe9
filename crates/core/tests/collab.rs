//! Cross-functional collaboration against a real PostgreSQL, with simulated
//! time on the New York business calendar.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::collab::model::{Command, State};
use vivid_core::collab::service::{self, Open};
use vivid_core::collab::{self, read};
use vivid_core::engine::events;
use vivid_core::engine::{Engine, outbox::LogTarget};
use vivid_core::testing::{TestDb, default_config, fresh_db};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A New York wall time.
fn ny(ctx: &Ctx, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    let local = NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(h, min, 0))
        .unwrap_or_default();
    ctx.calendar.at_local(local)
}

/// Wednesday 2026-12-02 10:00 in New York.
fn wednesday_10() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T15:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

async fn setup() -> Result<(TestDb, Ctx, SimClock, Engine), Box<dyn std::error::Error>> {
    let db = fresh_db().await?;
    let clock = SimClock::at(wednesday_10());
    let ctx = db.ctx(default_config(), Arc::new(clock.clone())).await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    Ok((db, ctx, clock, engine))
}

fn err_text<T: std::fmt::Debug>(r: Result<T, vivid_core::Error>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

fn fields(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn campaign() -> Vec<String> {
    fields(&[
        "campaign=Holiday 2026",
        "period=2026-11",
        "metrics=ROAS 3.1, CTR 2.4%",
        "file=https://drive.example/holiday.csv",
    ])
}

async fn count(ctx: &Ctx, sql: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&ctx.pool)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_off_lives_its_whole_life_with_its_clocks() -> TestResult {
    let (_db, ctx, clock, _engine) = setup().await?;
    // Refusals name the problem and change nothing.
    let missing = fields(&["campaign=Holiday", "period=2026-11"]);
    assert!(
        err_text(service::request(&ctx, "campaign_data", "Results", &missing, None, "maya").await)
            .contains("field \"metrics\" is required")
    );
    let bad = [campaign(), fields(&["file=not a link"])].concat();
    let e = err_text(service::request(&ctx, "campaign_data", "Results", &bad, None, "maya").await);
    assert!(e.contains("twice") || e.contains("\"file\""), "{e}");
    assert!(
        err_text(
            service::request(&ctx, "campaign_data", "Results", &campaign(), None, "nico").await
        )
        .contains("not in marketing")
    );
    assert!(
        err_text(service::request(&ctx, "nope", "Results", &campaign(), None, "maya").await)
            .contains("unknown hand-off kind")
    );
    assert_eq!(count(&ctx, "SELECT count(*) FROM handoffs").await?, 0);

    let h = service::request(
        &ctx,
        "campaign_data",
        "Holiday results",
        &campaign(),
        None,
        "maya",
    )
    .await?;
    assert_eq!(h.status, "open");
    assert_eq!(h.from_department, "marketing");
    assert_eq!(h.to_department, "sales");
    // 60 minutes on Sales' business hours from Wednesday 10:00.
    assert_eq!(h.due_at, ny(&ctx, 2026, 12, 2, 11, 0));
    assert_eq!(h.raci.accountable, "sam");
    assert_eq!(h.raci.responsible, vec!["nico".to_string()]);
    assert_eq!(
        h.correlation_id.as_deref(),
        Some(format!("handoff:{}", h.id).as_str())
    );
    let resolution_due = h.resolution_due_at.ok_or("no resolution due")?;

    // Only the receiving side acknowledges; the requester cannot.
    assert!(
        err_text(service::act(&ctx, h.id, Command::Acknowledge, "lena", None).await)
            .contains("may not acknowledge")
    );
    assert!(
        err_text(service::act(&ctx, h.id, Command::Wait, "nico", Some("x")).await)
            .contains("acknowledge the hand-off first")
    );
    clock.advance(TimeDelta::minutes(15));
    let h = service::act(&ctx, h.id, Command::Acknowledge, "nico", None).await?;
    assert_eq!(h.response_seconds, Some(15 * 60));
    service::act(&ctx, h.id, Command::Start, "nico", None).await?;
    assert!(
        err_text(service::act(&ctx, h.id, Command::Wait, "nico", Some("  ")).await)
            .contains("needs a reason")
    );
    let w = service::act(
        &ctx,
        h.id,
        Command::Wait,
        "nico",
        Some("Need the raw export"),
    )
    .await?;
    assert_eq!(w.status, "waiting");
    assert!(w.resolution_due_at.is_none(), "paused");
    // 20 minutes of business time waiting on the requester: due 20 minutes later.
    clock.advance(TimeDelta::minutes(20));
    let r = service::act(&ctx, h.id, Command::Resume, "maya", None).await?;
    assert_eq!(r.status, "in_progress");
    assert_eq!(r.paused_seconds, 20 * 60);
    assert_eq!(
        r.resolution_due_at,
        Some(resolution_due + TimeDelta::minutes(20))
    );
    service::comment(&ctx, h.id, "Export attached", "maya").await?;
    assert!(err_text(service::comment(&ctx, h.id, "hi", "kai").await).contains("neither"));
    clock.advance(TimeDelta::minutes(30));
    let done = service::act(&ctx, h.id, Command::Done, "nico", None).await?;
    assert_eq!(done.status, "done");
    assert_eq!(done.resolution_seconds, Some((15 + 30) * 60));
    assert!(
        err_text(service::act(&ctx, h.id, Command::Cancel, "maya", None).await)
            .contains("already done")
    );
    // Informed (the Marketing director) is told on done.
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM outbox WHERE person = 'maya' AND subject LIKE 'Hand-off #% (campaign_data)%'").await?,
        1
    );
    let d = service::detail(&ctx, h.id).await?;
    assert_eq!(d.handoff.state, State::Done);
    assert_eq!(d.comments.len(), 1);
    let json = serde_json::to_value(&d)?;
    for key in [
        "kind",
        "from",
        "to",
        "state",
        "requested_at",
        "response_due_at",
        "resolution_due_at",
        "acknowledged_at",
        "paused_seconds",
        "correlation_id",
    ] {
        assert!(json.get(key).is_some(), "show --json lacks {key}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imminent_then_breached_then_escalated_to_the_receiving_director() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let h = service::request(
        &ctx,
        "feature_request",
        "Bulk framing for hotels",
        &fields(&[
            "title=Bulk framing",
            "customer_impact=Hotels order 50 at once",
            "frequency=12",
        ]),
        None,
        "jun",
    )
    .await?;
    assert_eq!(h.due_at, ny(&ctx, 2026, 12, 2, 11, 0));
    clock.advance(TimeDelta::minutes(46));
    engine.run_pass().await?;
    // 75%: the Responsible (Product's director) is told.
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM outbox WHERE person = 'priya' AND subject LIKE '%response SLA imminent%'").await?,
        1
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM handoffs WHERE imminent AND NOT breached"
        )
        .await?,
        1
    );
    clock.advance(TimeDelta::minutes(15));
    engine.run_pass().await?;
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM handoffs WHERE breached").await?,
        1
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM outbox WHERE person = 'priya' AND subject LIKE '[escalation L1] Hand-off SLA breached%'").await?,
        1
    );
    // Acknowledging stops the escalation before the Business Manager.
    service::act(&ctx, h.id, Command::Acknowledge, "priya", None).await?;
    clock.advance(TimeDelta::hours(2));
    engine.run_pass().await?;
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM outbox WHERE person = 'bea' AND subject LIKE '%Hand-off SLA%'"
        )
        .await?,
        0
    );
    let m = read::matrix(&ctx, ctx.now() - TimeDelta::days(30)).await?;
    let edge = m
        .edges
        .iter()
        .find(|e| e.from.as_deref() == Some("customer_experience") && e.to == "product")
        .ok_or("no edge")?;
    assert_eq!(edge.open, 1);
    assert_eq!(edge.breached, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_hours_holidays_and_around_the_clock() -> TestResult {
    let (_db, ctx, clock, _engine) = setup().await?;
    clock.set(ny(&ctx, 2026, 12, 4, 16, 30)); // Friday
    let h = service::request(
        &ctx,
        "campaign_data",
        "Friday results",
        &campaign(),
        None,
        "maya",
    )
    .await?;
    assert_eq!(h.due_at, ny(&ctx, 2026, 12, 7, 9, 30));
    // The lead kind runs on Sales' business hours (issue 19): 2h from
    // Friday 16:30 is Monday 10:30.
    let o = Open::new("lead", "Lead cust-x").field("score", 120.0);
    let mut tx = ctx.pool.begin().await?;
    let lead = collab::open(&ctx, &mut tx, &o, "engine").await?;
    tx.commit().await?;
    assert_eq!(lead.due_at, ny(&ctx, 2026, 12, 7, 10, 30));
    clock.set(ny(&ctx, 2026, 11, 26, 10, 0)); // Thanksgiving
    let t = service::request(&ctx, "campaign_data", "Holiday", &campaign(), None, "maya").await?;
    assert_eq!(t.due_at, ny(&ctx, 2026, 11, 27, 10, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_workflow_opens_a_hand_off_in_its_own_transaction_and_story() -> TestResult {
    let (_db, ctx, clock, _engine) = setup().await?;
    let story = Some("budget:proposal:7".to_string());
    let o = Open::new("budget_roi", "Q1 paid social ROI proposal")
        .field("campaign", "Paid social Q1")
        .field("period", "2027-Q1")
        .field("spend", 1_250_000)
        .field("roi", 2.4)
        .from_workflow("budget", "proposal-7", story.clone());
    // A bad payload from a workflow is refused the same way, naming the field.
    let bad = Open::new("budget_roi", "x")
        .field("campaign", "c")
        .field("period", "p");
    let mut tx = ctx.pool.begin().await?;
    assert!(err_text(collab::open(&ctx, &mut tx, &bad, "felix").await).contains("\"spend\""));
    tx.rollback().await?;
    let mut tx = ctx.pool.begin().await?;
    let h = collab::open(&ctx, &mut tx, &o, "maya").await?;
    tx.commit().await?;
    assert_eq!(h.workflow, "budget");
    assert_eq!(h.entity_id, "proposal-7");
    clock.advance(TimeDelta::minutes(5));
    service::act(&ctx, h.id, Command::Start, "felix", None).await?;
    let mut conn = ctx.pool.acquire().await?;
    let story_events = events::list(
        &mut conn,
        &events::Filter {
            correlation_id: story.clone(),
            after_id: Some(0),
            limit: 100,
            ..events::Filter::default()
        },
    )
    .await?;
    let actions: Vec<&str> = story_events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["handed_off", "handoff_started"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_leaves_cancelled_hand_offs_out() -> TestResult {
    let (_db, ctx, clock, _engine) = setup().await?;
    let mut ids = Vec::new();
    for i in 0..3 {
        let h = service::request(
            &ctx,
            "campaign_data",
            &format!("R{i}"),
            &campaign(),
            None,
            "maya",
        )
        .await?;
        ids.push(h.id);
    }
    clock.advance(TimeDelta::minutes(10));
    service::act(&ctx, ids[0], Command::Start, "nico", None).await?;
    clock.advance(TimeDelta::minutes(20));
    service::act(&ctx, ids[1], Command::Start, "nico", None).await?;
    service::act(&ctx, ids[0], Command::Done, "nico", None).await?;
    service::act(&ctx, ids[1], Command::Decline, "nico", Some("Not ours")).await?;
    assert!(
        err_text(service::act(&ctx, ids[2], Command::Cancel, "nico", None).await)
            .contains("may not cancel")
    );
    service::act(&ctx, ids[2], Command::Cancel, "maya", None).await?;
    let m = read::matrix(&ctx, ctx.now() - TimeDelta::days(30)).await?;
    let e = m
        .edges
        .iter()
        .find(|e| e.from.as_deref() == Some("marketing") && e.to == "sales")
        .ok_or("no edge")?;
    assert_eq!(e.volume, 2, "the cancelled one is left out");
    assert_eq!(e.open, 0);
    assert_eq!(e.response_median_seconds, Some(20 * 60)); // 10 and 30 minutes
    let sales = m
        .departments
        .iter()
        .find(|d| d.to == "sales")
        .ok_or("no dept")?;
    assert_eq!(sales.volume, 2);
    assert_eq!(
        service::list(&ctx, Some("sales"), Some("cancelled"))
            .await?
            .len(),
        1
    );
    assert!(
        err_text(service::list(&ctx, Some("sales"), Some("lost")).await).contains("unknown state")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journey_hands_leads_and_big_deals_over_in_the_leads_story() -> TestResult {
    use vivid_core::journey::service::{self as journey, NewTouch};
    let (_db, ctx, clock, _engine) = setup().await?;
    let touch = |kind: &str, key: &str| NewTouch {
        prospect: "cust-zoe".into(),
        channel: "site".into(),
        kind: kind.into(),
        idempotency_key: key.into(),
        segment: Some("hotels".into()),
        content_id: None,
    };
    journey::touch(&ctx, &touch("form_submitted", "k1"), "site").await?;
    journey::touch(&ctx, &touch("form_submitted", "k2"), "site").await?;
    let lead = service::list(&ctx, Some("sales"), Some("open")).await?;
    let lead = lead
        .iter()
        .find(|v| v.kind == "lead")
        .ok_or("no lead hand-off")?;
    assert_eq!(lead.workflow, "journey");
    assert_eq!(lead.correlation_id.as_deref(), Some("lead:cust-zoe"));
    assert_eq!(lead.calendar, "business");
    clock.advance(TimeDelta::minutes(30));
    journey::contact(&ctx, "cust-zoe", "nico", "called").await?;
    // A small order stays with Sales; a big one tells Finance.
    journey::convert(&ctx, "cust-zoe", 20_000, "nico").await?;
    assert!(service::list(&ctx, Some("finance"), None).await?.is_empty());
    journey::convert(&ctx, "cust-zoe", 480_000, "nico").await?;
    let deals = service::list(&ctx, Some("finance"), None).await?;
    let deal = deals.first().ok_or("no deal insights")?;
    assert_eq!(deal.kind, "deal_insights");
    assert_eq!(deal.from, "sales");
    assert_eq!(deal.payload["value"], 480_000);
    let mut conn = ctx.pool.acquire().await?;
    let story = events::list(
        &mut conn,
        &events::Filter {
            correlation_id: Some("lead:cust-zoe".into()),
            after_id: Some(0),
            limit: 100,
            ..events::Filter::default()
        },
    )
    .await?;
    let actions: Vec<&str> = story.iter().map(|e| e.action.as_str()).collect();
    for a in ["handed_off", "handed_to_sales", "handoff_acknowledged"] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|a| **a == "handed_off").count(),
        2,
        "the lead and the deal: {actions:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_breaches_escalate_and_the_weekly_review_reaches_the_business_manager()
-> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let h = service::request(
        &ctx,
        "campaign_data",
        "Q4 numbers",
        &campaign(),
        None,
        "maya",
    )
    .await?;
    clock.advance(TimeDelta::minutes(5));
    service::act(&ctx, h.id, Command::Start, "nico", None).await?;
    // 24 business hours (three business days: Monday 10:00) pass; nothing is done.
    clock.advance(TimeDelta::days(7));
    engine.run_pass().await?;
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM handoffs WHERE resolution_breached AND NOT breached"
        )
        .await?,
        1
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM outbox WHERE person = 'sam' AND subject LIKE '[escalation L1] Hand-off resolution SLA breached%'").await?,
        1
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM outbox WHERE person = 'bea' AND subject = 'Weekly hand-off review: the department matrix'").await?,
        1
    );
    let m = read::matrix(&ctx, ctx.now() - TimeDelta::days(30)).await?;
    assert!(m.edges.iter().any(|e| e.breached == 1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crisis_asks_each_department_it_names_for_work_in_its_story() -> TestResult {
    use vivid_core::crisis::Severity;
    use vivid_core::crisis::service as crisis;
    let (_db, ctx, clock, _engine) = setup().await?;
    let inc = crisis::open(
        &ctx,
        &crisis::NewIncident {
            title: "Carrier lost a day of shipments".into(),
            description: String::new(),
            severity: Severity::P2,
            source: crisis::Source::Manual,
            source_ref: None,
            departments: vec!["operations".into(), "vendor".into(), "product".into()],
            commander: Some("omar".into()),
            trigger_key: None,
        },
        "omar",
    )
    .await?
    .ok_or("no incident")?;
    let need = fields(&["need=Status page copy for the delay", "by=today 15:00"]);
    // Refusals name the problem and open nothing.
    for (to, fields, actor, want) in [
        ("operations", need.clone(), "omar", "own"),
        ("nowhere", need.clone(), "omar", "unknown department"),
        ("product", fields(&["incident=3"]), "omar", "incident's own"),
        ("product", fields(&["colour=red"]), "omar", "\"colour\""),
        ("product", need.clone(), "remy", "cannot respond"),
        ("executive", need.clone(), "omar", "Accountable"),
    ] {
        let e =
            err_text(crisis::request_support(&ctx, inc.id, to, "Statement", &fields, actor).await);
        assert!(e.contains(want), "{to}: {e}");
    }
    assert_eq!(count(&ctx, "SELECT count(*) FROM handoffs").await?, 0);
    let story = format!("incident:{}", inc.id);
    let mut opened = Vec::new();
    for to in ["vendor", "product"] {
        let h =
            crisis::request_support(&ctx, inc.id, to, "Help with the delay", &need, "omar").await?;
        assert_eq!(h.from_department, "operations");
        assert_eq!(h.to_department, to);
        assert_eq!(h.kind, "incident_support");
        assert_eq!(h.workflow, "crisis");
        assert_eq!(h.entity_id, inc.id.to_string());
        assert_eq!(h.correlation_id.as_deref(), Some(story.as_str()));
        assert_eq!(h.payload["incident"], inc.id);
        assert_eq!(h.payload["severity"], "P2");
        // Around the clock, 60 minutes to respond.
        assert_eq!(h.due_at, ctx.now() + TimeDelta::minutes(60));
        opened.push(h);
    }
    assert_eq!(opened[1].raci.0.accountable, "priya");
    assert_eq!(opened[0].raci.0.accountable, "victor");
    assert!(opened[1].raci.0.informed.contains(&"omar".to_string()));
    // The department asked answers through the one hand-off lifecycle.
    clock.advance(TimeDelta::minutes(5));
    service::act(&ctx, opened[1].id, Command::Start, "priya", None).await?;
    assert!(
        err_text(service::act(&ctx, opened[0].id, Command::Acknowledge, "priya", None).await)
            .contains("may not")
    );
    // One story: the incident, both requests, the answer.
    let mut conn = ctx.pool.acquire().await?;
    let story_events = events::list(
        &mut conn,
        &events::Filter {
            correlation_id: Some(story),
            after_id: Some(0),
            limit: 100,
            ..events::Filter::default()
        },
    )
    .await?;
    let actions: Vec<&str> = story_events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "handed_off",
            "support_requested",
            "handed_off",
            "support_requested",
            "handoff_started"
        ]
    );
    // The matrix shows the edges like any other.
    let m = read::matrix(&ctx, ctx.now() - TimeDelta::days(30)).await?;
    assert!(
        m.edges
            .iter()
            .any(|e| e.from.as_deref() == Some("operations") && e.to == "product" && e.open == 1)
    );
    Ok(())
}

/// Exact percentiles of the closed hand-offs, straight from the rows.
async fn raw_percentiles(
    ctx: &Ctx,
    since: DateTime<Utc>,
) -> Result<(i64, Option<f64>, Option<f64>, Option<f64>), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY response_seconds),
                percentile_cont(0.9) WITHIN GROUP (ORDER BY response_seconds),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_seconds)
         FROM handoffs WHERE status IN ('done', 'declined') AND closed_at >= $1
           AND from_department = 'marketing' AND to_department = 'sales'",
    )
    .bind(since)
    .fetch_one(&ctx.pool)
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_reads_whole_days_from_the_rollup_and_agrees_with_the_rows() -> TestResult {
    let (_db, ctx, clock, _engine) = setup().await?;
    // Hand-offs closed over eight days, some answered later than others.
    for day in 0..8i64 {
        clock.set(wednesday_10() - TimeDelta::days(10 - day));
        for i in 0..3i64 {
            let h = service::request(&ctx, "campaign_data", "R", &campaign(), None, "maya").await?;
            clock.advance(TimeDelta::minutes(7 * (day + 1) + i * 13));
            service::act(&ctx, h.id, Command::Start, "nico", None).await?;
            clock.advance(TimeDelta::minutes(30 + day * 11));
            if i == 2 {
                service::act(&ctx, h.id, Command::Decline, "nico", Some("Not ours")).await?;
            } else {
                service::act(&ctx, h.id, Command::Done, "nico", None).await?;
            }
            clock.advance(TimeDelta::minutes(1));
        }
    }
    // One cancelled: never in the rollup.
    let c = service::request(&ctx, "campaign_data", "C", &campaign(), None, "maya").await?;
    service::act(&ctx, c.id, Command::Cancel, "maya", None).await?;
    clock.set(wednesday_10());
    assert_eq!(
        count(
            &ctx,
            "SELECT coalesce(sum(closed), 0)::bigint FROM handoff_rollup"
        )
        .await?,
        24
    );
    // Now, and with the clock set back into the closing days (hand-offs
    // closed "after now" are read from the rows, as always).
    for (back, days) in [(0, 30), (0, 7), (0, 5), (5, 30), (5, 2)] {
        clock.set(wednesday_10() - TimeDelta::days(back));
        let since = ctx.now() - TimeDelta::days(days) + TimeDelta::hours(3);
        let m = read::matrix(&ctx, since).await?;
        let e = m
            .edges
            .iter()
            .find(|e| e.from.as_deref() == Some("marketing") && e.to == "sales")
            .ok_or("no edge")?;
        let (n, r50, r90, d50) = raw_percentiles(&ctx, since).await?;
        let secs = |v: Option<f64>| v.map(|s| s.round() as i64);
        let at = format!("{days}d, {back}d back");
        assert_eq!(e.closed, n, "{at}");
        assert_eq!(e.response_median_seconds, secs(r50), "{at}");
        assert_eq!(e.response_p90_seconds, secs(r90), "{at}");
        assert_eq!(e.resolution_median_seconds, secs(d50), "{at}");
    }
    Ok(())
}
