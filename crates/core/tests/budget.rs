//! Budget management against a real PostgreSQL, with simulated time.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use vivid_core::Ctx;
use vivid_core::budget::model::{Basis, Rollover};
use vivid_core::budget::read;
use vivid_core::budget::service::{self, DecideAs, NewCommitment, NewExpense, NewRequest, SetLine};
use vivid_core::clock::SimClock;
use vivid_core::engine::approvals::Outcome;
use vivid_core::engine::events;
use vivid_core::engine::{Engine, outbox::LogTarget};
use vivid_core::testing::{TestDb, default_config, fresh_db};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2026-11-12 12:00 in New York.
fn nov12() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-12T17:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
}

async fn setup() -> Result<(TestDb, Ctx, SimClock, Engine), Box<dyn std::error::Error>> {
    let db = fresh_db().await?;
    let clock = SimClock::at(nov12());
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

fn line(dept: &str, cents: i64, channel: Option<&str>) -> SetLine {
    SetLine {
        department: dept.into(),
        amount_cents: cents,
        channel: channel.map(str::to_string),
        campaign: None,
        period: None,
        hard: false,
        rollover: None,
    }
}

fn expense(dept: &str, cents: i64, on: &str, r: &str, channel: Option<&str>) -> NewExpense {
    NewExpense {
        department: dept.into(),
        amount_cents: cents,
        on: date(on),
        r#ref: r.into(),
        channel: channel.map(str::to_string),
        campaign: None,
        vendor: Some("Meta".into()),
    }
}

async fn count_events(ctx: &Ctx, action: &str) -> Result<usize, vivid_core::Error> {
    let mut conn = ctx.pool.acquire().await?;
    let list = events::list(
        &mut conn,
        &events::Filter {
            workflow: Some("budget".into()),
            limit: 1000,
            ..Default::default()
        },
    )
    .await?;
    Ok(list.iter().filter(|e| e.action == action).count())
}

/// The worked case through the services: a $30,000 line in
/// November 2026 with $14,500 spent as of Nov 12.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worked_case_status_on_nov_12() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    // $30,000 is above the $20,000 line threshold: Bea (Business Manager) approves Felix's line.
    let set = service::set_line(&ctx, &line("marketing", 3_000_000, None), "felix").await?;
    let approval = set.approval.ok_or("a $30,000 line needs approval")?;
    assert_eq!(set.line.budget_cents, 0);
    let refused = err_text(
        service::decide(
            &ctx,
            approval.id,
            "felix",
            &DecideAs::Approve { raise_cents: None },
            "ok",
        )
        .await,
    );
    assert!(refused.contains("no self-approval"), "{refused}");
    let d = service::decide(
        &ctx,
        approval.id,
        "bea",
        &DecideAs::Approve { raise_cents: None },
        "ok",
    )
    .await?;
    assert_eq!(d.outcome, Outcome::Approved);
    let out = service::record_expense(
        &ctx,
        &expense("marketing", 1_450_000, "2026-11-10", "INV-1", None),
        "maya",
    )
    .await?;
    assert_eq!(
        out.fired
            .iter()
            .filter(|a| a.basis == Basis::Forecast)
            .count(),
        3
    );
    assert!(out.fired.iter().all(|a| a.basis == Basis::Forecast));
    assert!(out.review_id.is_none());
    let st = read::status(&ctx, Some("marketing"), None, None).await?;
    assert_eq!(st.period, "2026-11");
    assert_eq!(st.elapsed_days, 12);
    let l = &st.lines[0];
    assert_eq!(l.expected_to_date_cents, 1_200_000);
    assert_eq!(l.forecast_cents, 3_625_000);
    let th: Vec<f64> = l.alerts.iter().map(|a| a.threshold).collect();
    assert_eq!(th, vec![0.8, 0.95, 1.0]);
    // JSON field names are the interface.
    let json = serde_json::to_value(&st)?;
    for key in [
        "department",
        "channel",
        "campaign",
        "budget_cents",
        "spent_cents",
        "committed_cents",
        "expected_to_date_cents",
        "forecast_cents",
        "utilization",
        "forecast_utilization",
        "alerts",
    ] {
        assert!(json["lines"][0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["lines"][0]["alerts"][0]["basis"], "forecast");
    // Never repeats while in alarm: another small expense fires nothing.
    let again = service::record_expense(
        &ctx,
        &expense("marketing", 10_000, "2026-11-11", "INV-2", None),
        "maya",
    )
    .await?;
    assert!(again.fired.is_empty());
    assert_eq!(count_events(&ctx, "alert_fired").await?, 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expenses_are_idempotent_and_imports_keep_good_rows() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    service::split(&ctx, "marketing", 1_000_000, None, "felix").await?;
    let first = service::record_expense(
        &ctx,
        &expense("marketing", 5_000, "2026-11-02", "A-1", Some("ads")),
        "maya",
    )
    .await?;
    assert!(!first.duplicate);
    let second = service::record_expense(
        &ctx,
        &expense("marketing", 5_000, "2026-11-02", "A-1", Some("ads")),
        "maya",
    )
    .await?;
    assert!(second.duplicate);
    assert_eq!(second.line.spent_cents, 5_000);
    let csv = "ref,date,department,channel,campaign,vendor,amount\n\
               B-1,2026-11-03,marketing,ads,,Meta,100.50\n\
               B-2,2026-11-03,marketing,email,,Mailchimp,20\n\
               B-3,2026-11-03,marketing,billboards,,X,20\n\
               B-4,2026-11-03,marketing,ads,,Meta,1.005\n\
               B-5,2026-11-03,nowhere,ads,,Meta,3\n\
               A-1,2026-11-02,marketing,ads,,Meta,50\n";
    let r = service::import_csv(&ctx, csv, "felix").await?;
    assert_eq!(r.rows, 6);
    assert_eq!(r.imported, 2);
    assert_eq!(r.duplicates, 1);
    let bad: Vec<usize> = r.bad.iter().map(|b| b.line).collect();
    assert_eq!(bad, vec![4, 5, 6]);
    let again = service::import_csv(&ctx, csv, "felix").await?;
    assert_eq!(again.imported, 0);
    assert_eq!(again.duplicates, 3);
    let st = read::status(&ctx, Some("marketing"), None, None).await?;
    let ads = st
        .lines
        .iter()
        .find(|l| l.channel.as_deref() == Some("ads"))
        .ok_or("ads")?;
    assert_eq!(ads.spent_cents, 5_000 + 10_050);
    // A person cannot spend for another department.
    let e = err_text(
        service::record_expense(
            &ctx,
            &expense("marketing", 1, "2026-11-02", "Z", Some("ads")),
            "omar",
        )
        .await,
    );
    assert!(e.contains("cannot spend"), "{e}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_commit_until_the_expense_replaces_them_and_hard_limits_refuse() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let mut l = line("technology", 500_000, None);
    l.hard = true;
    service::set_line(&ctx, &l, "felix").await?;
    let req = |amount, r: &str| NewRequest {
        department: "technology".into(),
        amount_cents: amount,
        reason: "servers".into(),
        channel: None,
        campaign: None,
        r#ref: Some(r.into()),
    };
    // Below $500: approved at once, committed.
    let small = service::request_spend(&ctx, &req(40_000, "R-1"), "theo").await?;
    assert_eq!(small.state, "approved");
    // $3,000: the Finance director decides.
    let mid = service::request_spend(&ctx, &req(300_000, "R-2"), "theo").await?;
    let appr = mid.approval.ok_or("needs approval")?;
    assert_eq!(
        appr.eligible_roles.first().map(String::as_str),
        Some("director:finance")
    );
    // Over the hard limit: refused, nothing recorded.
    let e = err_text(service::request_spend(&ctx, &req(500_000, "R-3"), "theo").await);
    assert!(e.contains("hard limit"), "{e}");
    service::decide(
        &ctx,
        appr.id,
        "felix",
        &DecideAs::Approve { raise_cents: None },
        "ok",
    )
    .await?;
    let st = read::status(&ctx, Some("technology"), None, None).await?;
    assert_eq!(st.lines[0].committed_cents, 340_000);
    // The expense with the same reference replaces the commitment.
    service::record_expense(
        &ctx,
        &expense("technology", 290_000, "2026-11-12", "R-2", None),
        "theo",
    )
    .await?;
    let st = read::status(&ctx, Some("technology"), None, None).await?;
    assert_eq!(st.lines[0].committed_cents, 40_000);
    assert_eq!(st.lines[0].spent_cents, 290_000);
    // Another workflow's commitment, with its correlation id.
    let mut tx = ctx.pool.begin().await?;
    let c = service::record_commitment(
        &ctx,
        &mut tx,
        &NewCommitment {
            department: "technology".into(),
            channel: None,
            campaign: None,
            amount_cents: 10_000,
            r#ref: "VENDOR-7".into(),
            on: date("2026-11-12"),
            source_workflow: "vendor".into(),
            source_entity: "contract:7".into(),
            correlation_id: Some("corr-7".into()),
        },
        "victor",
    )
    .await?;
    tx.commit().await?;
    assert!(c.recorded);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overspend_opens_a_review_that_escalates_and_is_decided() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    service::set_line(&ctx, &line("operations", 1_000_000, None), "felix").await?;
    let out = service::record_expense(
        &ctx,
        &expense("operations", 1_050_000, "2026-11-05", "OP-1", None),
        "omar",
    )
    .await?;
    let review = out.review_id.ok_or("crossing 100% opens a review")?;
    let pending = read::pending(&ctx).await?;
    let p = pending
        .iter()
        .find(|p| p.kind == "review" && p.subject_id == review)
        .ok_or("listed")?;
    assert!(
        p.inputs
            .as_ref()
            .is_some_and(|i| i["top_expenses"][0]["ref"] == "OP-1")
    );
    // Ignored for 24h: the shared approvals escalate it to the Business Manager.
    clock.advance(TimeDelta::hours(25));
    engine.run_pass().await?;
    engine.run_pass().await?;
    let pending = read::pending(&ctx).await?;
    let p = pending
        .iter()
        .find(|p| p.subject_id == review)
        .ok_or("still listed")?;
    assert_eq!(p.status, "escalated");
    let e = err_text(service::decide(&ctx, p.approval_id, "bea", &DecideAs::Deny, " ").await);
    assert!(e.contains("reason"), "{e}");
    let d = service::decide(
        &ctx,
        p.approval_id,
        "bea",
        &DecideAs::Approve {
            raise_cents: Some(100_000),
        },
        "peak season",
    )
    .await?;
    assert_eq!(d.state, "approved");
    let st = read::status(&ctx, Some("operations"), None, None).await?;
    assert_eq!(st.lines[0].budget_cents, 1_100_000);
    assert_eq!(count_events(&ctx, "review_approved").await?, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reallocation_is_bounded_and_keeps_the_total() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let a = service::set_line(&ctx, &line("operations", 1_000_000, None), "felix")
        .await?
        .line
        .id;
    let b = service::set_line(&ctx, &line("product", 1_000_000, None), "felix")
        .await?
        .line
        .id;
    let e = err_text(service::reallocate(&ctx, a, b, 300_001, "too much", "felix").await);
    assert!(e.contains("bounded"), "{e}");
    let small = service::reallocate(&ctx, a, b, 40_000, "small", "omar").await?;
    assert_eq!(small.reallocation.state, "applied");
    let big = service::reallocate(&ctx, a, b, 200_000, "launch", "omar").await?;
    let appr = big.approval.ok_or("needs Finance")?;
    service::decide(
        &ctx,
        appr.id,
        "felix",
        &DecideAs::Approve { raise_cents: None },
        "ok",
    )
    .await?;
    let st = read::status(&ctx, None, None, None).await?;
    let total: i64 = st.lines.iter().map(|l| l.budget_cents).sum();
    assert_eq!(total, 2_000_000);
    assert_eq!(
        st.lines.iter().find(|l| l.id == b).map(|l| l.budget_cents),
        Some(1_240_000)
    );
    assert_eq!(count_events(&ctx, "reallocated").await?, 2);
    Ok(())
}

/// Four $1,000 campaigns, $1,000 spend each, revenue $4,200 / $4,000 / $2,500 / $2,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worked_case_roi_proposals() -> TestResult {
    let (db, ctx, clock, engine) = setup().await?;
    for (name, channel, revenue) in [
        ("c-inc", "ads", 420_000),
        ("c-hold", "social", 400_000),
        ("c-dec", "email", 250_000),
        ("c-pause", "experiments", 200_000),
    ] {
        service::new_campaign(&ctx, name, "marketing", channel, 100_000, "felix").await?;
        let mut x = expense(
            "marketing",
            100_000,
            "2026-11-03",
            &format!("E-{name}"),
            Some(channel),
        );
        x.campaign = Some(name.into());
        service::record_expense(&ctx, &x, "maya").await?;
        service::record_revenue(
            &ctx,
            name,
            revenue,
            date("2026-11-04"),
            &format!("R-{name}"),
            "maya",
        )
        .await?;
    }
    let roi = read::roi(&ctx, None).await?;
    let got: Vec<(String, String, i64)> = roi
        .proposals
        .iter()
        .map(|p| {
            (
                p.campaign.clone(),
                p.action.as_str().to_string(),
                p.proposed_cents,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("c-dec".into(), "decrease".into(), 85_000),
            ("c-hold".into(), "hold".into(), 100_000),
            ("c-inc".into(), "increase".into(), 125_000),
            ("c-pause".into(), "pause".into(), 0),
        ]
    );
    // At the period's end the proposals cross to Finance as Budget & ROI
    // hand-offs (Marketing → Finance), in the period's story.
    clock.advance(TimeDelta::days(20));
    engine.run_pass().await?;
    engine.run_pass().await?;
    let handed: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT from_department, to_department, subject, correlation_id FROM handoffs
         WHERE kind = 'budget_roi' ORDER BY subject",
    )
    .fetch_all(&db.pool)
    .await?;
    assert_eq!(handed.len(), 4, "{handed:?}");
    for (from, to, subject, correlation) in &handed {
        assert_eq!((from.as_str(), to.as_str()), ("marketing", "finance"));
        assert_eq!(
            correlation.as_deref(),
            Some("budget:period:2026-11"),
            "{subject}"
        );
    }
    assert!(
        handed[0]
            .2
            .starts_with("ROI c-dec: 2026-11 $1,000.00 → $850.00"),
        "{}",
        handed[0].2
    );
    Ok(())
}

/// Planned $25 after a $100 line, through close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_carries_over_and_locks_the_period() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    for (dept, rollover, spent) in [
        ("operations", Rollover::Positive, 6_000),
        ("product", Rollover::Both, 11_000),
        ("sales", Rollover::Positive, 11_000),
    ] {
        let mut l = line(dept, 10_000, None);
        l.rollover = Some(rollover);
        service::set_line(&ctx, &l, "felix").await?;
        let mut next = line(dept, 2_500, None);
        next.period = Some("2026-12".into());
        service::set_line(&ctx, &next, "felix").await?;
        let who = match dept {
            "operations" => "omar",
            "product" => "priya",
            _ => "sam",
        };
        service::record_expense(
            &ctx,
            &expense(dept, spent, "2026-11-10", &format!("X-{dept}"), None),
            who,
        )
        .await?;
    }
    let e = err_text(service::close_period(&ctx, "2026-11", "maya").await);
    assert!(e.contains("Finance"), "{e}");
    let closed = service::close_period(&ctx, "2026-11", "felix").await?;
    let next: Vec<(String, i64, i64)> = closed
        .next
        .iter()
        .map(|n| (n.department.clone(), n.next_cents, n.uncovered_cents))
        .collect();
    assert!(next.contains(&("operations".into(), 6_500, 0)));
    assert!(next.contains(&("product".into(), 1_500, 0)));
    assert!(next.contains(&("sales".into(), 2_500, 0)));
    let e = err_text(
        service::record_expense(
            &ctx,
            &expense("operations", 1, "2026-11-11", "late", None),
            "omar",
        )
        .await,
    );
    assert!(e.contains("closed"), "{e}");
    let e = err_text(service::close_period(&ctx, "2026-11", "felix").await);
    assert!(e.contains("already closed"), "{e}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_changes_nothing() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    for bad in ["-5", "1.005", "100 EUR", "2000000", "abc"] {
        assert!(service::parse_amount(&ctx, bad).is_err(), "{bad}");
    }
    let e = err_text(service::set_line(&ctx, &line("nowhere", 100, None), "felix").await);
    assert!(e.contains("unknown department"), "{e}");
    let e = err_text(service::set_line(&ctx, &line("marketing", 100, Some("tv")), "felix").await);
    assert!(e.contains("unknown channel"), "{e}");
    let e = err_text(service::set_line(&ctx, &line("marketing", 100, None), "remy").await);
    assert!(e.contains("cannot set"), "{e}");
    let e = err_text(
        service::record_expense(
            &ctx,
            &expense("marketing", 100, "2026-11-02", "Q", None),
            "maya",
        )
        .await,
    );
    assert!(e.contains("no budget line"), "{e}");
    let st = read::status(&ctx, None, None, None).await?;
    assert!(st.lines.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seed_loads_and_the_tile_reads() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    vivid_core::budget::demo::seed(&ctx).await?;
    let mut conn = ctx.pool.acquire().await?;
    let tile = vivid_core::budget::read::tile(&ctx, &mut conn, ctx.now()).await?;
    assert_eq!(tile.name, "budget");
    assert!(tile.open >= 1, "{tile:?}");
    let pending = read::pending(&ctx).await?;
    assert!(pending.iter().any(|p| p.kind == "review"));
    assert!(pending.iter().any(|p| p.kind == "request"));
    Ok(())
}
