//! Crisis management against a real PostgreSQL, with simulated time.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::crisis::model::ActionItemStatus;
use vivid_core::crisis::service::{self, NewIncident, PostmortemText, Source};
use vivid_core::crisis::{CrisisConfig, Phase, Severity, Status, report, triggers};
use vivid_core::engine::{Engine, outbox::LogTarget};
use vivid_core::testing::{TestDb, default_config, fresh_db};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Wednesday 2026-12-02 15:00 UTC (10:00 in New York).
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T15:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

async fn setup() -> Result<(TestDb, Ctx, SimClock, Engine), Box<dyn std::error::Error>> {
    let db = fresh_db().await?;
    let clock = SimClock::at(t0());
    let ctx = db.ctx(default_config(), Arc::new(clock.clone())).await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    Ok((db, ctx, clock, engine))
}

fn p1(title: &str) -> NewIncident {
    NewIncident {
        title: title.into(),
        description: "Customers cannot pay.".into(),
        severity: Severity::P1,
        source: Source::Manual,
        source_ref: None,
        departments: vec!["technology".into(), "sales".into()],
        commander: None,
        trigger_key: None,
    }
}

async fn notified(ctx: &Ctx, like: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT person FROM outbox WHERE subject LIKE $1 AND person IS NOT NULL ORDER BY person",
    )
    .bind(like)
    .fetch_all(&ctx.pool)
    .await
}

fn err_text<T: std::fmt::Debug>(r: Result<T, vivid_core::Error>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p1_runs_the_whole_protocol_and_its_metrics_are_exact() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let inc = service::open(&ctx, &p1("Checkout fails"), "olu")
        .await?
        .ok_or("not opened")?;
    assert_eq!(inc.ack_deadline - inc.opened_at, TimeDelta::minutes(15));
    engine.run_pass().await?;
    // Level one: whoever is on call for operations and technology.
    let level1 = notified(&ctx, "[escalation L1]%").await?;
    assert_eq!(level1.len(), 2, "{level1:?}");

    // Refusals change nothing.
    assert!(err_text(service::resolve(&ctx, inc.id, "olu", "fixed").await).contains("acknowledge"));
    assert!(
        err_text(service::advance_phase(&ctx, inc.id, "olu", Some(Phase::Triage), None).await)
            .contains("acknowledge")
    );
    assert!(err_text(service::acknowledge(&ctx, inc.id, "remy").await).contains("cannot respond"));
    assert!(err_text(service::acknowledge(&ctx, 999, "olu").await).contains("no incident #999"));
    assert!(
        err_text(service::acknowledge(&ctx, inc.id, "nobody").await).contains("unknown person")
    );

    // Nobody acknowledges: after 15 minutes every director and the business manager are paged.
    clock.advance(TimeDelta::minutes(15));
    engine.run_pass().await?;
    let level2 = notified(&ctx, "[escalation L2]%").await?;
    assert_eq!(level2.len(), 12, "{level2:?}");
    clock.advance(TimeDelta::seconds(42));
    let acked = service::acknowledge(&ctx, inc.id, "theo").await?;
    assert!(acked.unchanged.is_none());
    let again = service::acknowledge(&ctx, inc.id, "omar").await?;
    assert_eq!(
        again
            .unchanged
            .as_deref()
            .map(|m| m.contains("already acknowledged by @theo")),
        Some(true)
    );

    // Phases in order; skipping is refused.
    let skip = err_text(
        service::advance_phase(&ctx, inc.id, "theo", Some(Phase::ImplementFix), None).await,
    );
    assert!(skip.contains("cannot skip"), "{skip}");
    service::advance_phase(
        &ctx,
        inc.id,
        "theo",
        None,
        Some("payments provider confirmed"),
    )
    .await?; // Triage
    assert!(
        err_text(service::resolve(&ctx, inc.id, "theo", "fixed").await).contains("Implement Fix")
    );
    // Triage runs past its 2h time box: the next level is paged and directors told.
    let before = notified(&ctx, "[escalation L%").await?.len();
    for _ in 0..4 {
        // Notes are progress: they keep the incident acknowledged.
        clock.advance(TimeDelta::minutes(25));
        service::note(&ctx, inc.id, "theo", "still digging").await?;
        engine.run_pass().await?;
    }
    clock.advance(TimeDelta::minutes(20) + TimeDelta::seconds(1));
    engine.run_pass().await?;

    assert!(
        notified(&ctx, "[escalation L%").await?.len() > before,
        "the overrun escalated"
    );
    // The commander (theo, who is also the technology director) and the sales director.
    assert_eq!(
        notified(&ctx, "%Triage & Severity is over its time box").await?,
        vec!["sam".to_string(), "theo".to_string()]
    );

    for _ in 0..3 {
        service::advance_phase(&ctx, inc.id, "theo", None, None).await?; // internal, customer comms, implement fix
    }
    clock.advance(TimeDelta::minutes(30));
    let resolved = service::resolve(&ctx, inc.id, "theo", "rolled back the payment SDK").await?;
    assert_eq!(resolved.incident.phase, Phase::FollowUp);

    // Closing a P1 needs its post-mortem and the last phase.
    assert!(err_text(service::close(&ctx, inc.id, "theo").await).contains("post-mortem"));
    service::advance_phase(&ctx, inc.id, "theo", None, None).await?; // post-mortem
    assert!(
        err_text(service::advance_phase(&ctx, inc.id, "theo", None, None).await)
            .contains("write the post-mortem")
    );
    let pm = PostmortemText {
        overview: "Checkout failed for 2h47m.".into(),
        what_happened: "A payment SDK upgrade broke card tokenisation.".into(),
        contributing_factors: "No canary for the payments path.".into(),
        resolution: "Rolled back.".into(),
        impact: "About 60 orders lost.".into(),
    };
    let partial = PostmortemText {
        impact: String::new(),
        ..pm.clone()
    };
    assert!(
        err_text(service::write_postmortem(&ctx, inc.id, "theo", &partial).await)
            .contains("impact")
    );
    service::write_postmortem(&ctx, inc.id, "theo", &pm).await?;
    let item = service::add_action_item(
        &ctx,
        inc.id,
        "theo",
        "kai",
        ctx.now() + TimeDelta::days(3),
        "Add a payments canary",
    )
    .await?;
    service::advance_phase(&ctx, inc.id, "theo", None, None).await?; // update protocols
    let closed = service::close(&ctx, inc.id, "theo").await?;
    assert_eq!(closed.incident.status, Status::Closed);
    assert!(err_text(service::acknowledge(&ctx, inc.id, "theo").await).contains("closed"));

    // The action item's owner hears about it when overdue.
    clock.advance(TimeDelta::days(3) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    assert_eq!(
        notified(&ctx, "Overdue action item%").await?,
        vec!["kai".to_string()]
    );
    service::complete_action_item(&ctx, item.id, "kai").await?;

    // MTTA: 15m42s; MTTR: 15m42s + 2h + 1s + 30m.
    let r = report::metrics(&ctx, t0() - TimeDelta::hours(1), ctx.now()).await?;
    let m = r.by_severity.get("P1").ok_or("no P1 metrics")?;
    assert_eq!(m.mtta_seconds, Some(15.0 * 60.0 + 42.0));
    assert_eq!(
        m.mttr_seconds,
        Some((15 * 60 + 42 + 2 * 3600 + 1 + 30 * 60) as f64)
    );
    assert_eq!(m.ack_sla_breaches, 1, "acknowledged after the 15m deadline");
    assert_eq!(m.phase_overruns, 1);
    assert_eq!(
        m.mean_phase_seconds.get("triage"),
        Some(&((2 * 3600 + 1) as f64))
    );

    // The timeline tells the story.
    let d = service::detail(&ctx, inc.id).await?;
    let actions: Vec<&str> = d.timeline.iter().map(|e| e.action.as_str()).collect();
    for expected in [
        "opened",
        "escalated",
        "acknowledged",
        "phase_changed",
        "phase_overrun",
        "resolved",
        "postmortem_written",
        "action_item_added",
        "closed",
        "action_item_overdue",
        "action_item_done",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_one_action_item_keeps_the_reminders_of_the_others() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let inc = service::open(&ctx, &p1("Search returns nothing"), "olu")
        .await?
        .ok_or("not opened")?;
    let canary = service::add_action_item(
        &ctx,
        inc.id,
        "olu",
        "kai",
        ctx.now() + TimeDelta::days(1),
        "Add a search canary",
    )
    .await?;
    service::add_action_item(
        &ctx,
        inc.id,
        "olu",
        "omar",
        ctx.now() + TimeDelta::days(2),
        "Write the index rebuild runbook",
    )
    .await?;
    service::complete_action_item(&ctx, canary.id, "kai").await?;
    clock.advance(TimeDelta::days(2) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    assert_eq!(
        notified(&ctx, "Overdue action item%").await?,
        vec!["omar".to_string()],
        "the open item is reminded, the done one is not"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_the_binary_does_not_know_is_an_internal_fault() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let inc = service::open(&ctx, &p1("Checkout fails"), "olu")
        .await?
        .ok_or("not opened")?;
    sqlx::query("UPDATE incidents SET phase = 'lunch' WHERE id = $1")
        .bind(inc.id)
        .execute(&ctx.pool)
        .await?;
    match service::acknowledge(&ctx, inc.id, "olu").await {
        Err(e @ vivid_core::Error::Internal(_)) => {
            assert_eq!(e.kind(), "internal");
            assert!(!e.is_user_error());
            assert!(e.to_string().contains("phase \"lunch\""), "{e}");
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_incident_without_progress_retriggers() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let inc = service::open(&ctx, &p1("Site slow"), "olu")
        .await?
        .ok_or("not opened")?;
    service::acknowledge(&ctx, inc.id, "olu").await?;
    clock.advance(TimeDelta::minutes(20));
    service::note(&ctx, inc.id, "olu", "looking at the CDN").await?; // progress resets the clock
    clock.advance(TimeDelta::minutes(20));
    engine.run_pass().await?;
    assert_eq!(
        service::detail(&ctx, inc.id).await?.incident.status,
        Status::Acknowledged
    );
    clock.advance(TimeDelta::minutes(11));
    engine.run_pass().await?;
    let d = service::detail(&ctx, inc.id).await?;
    assert_eq!(
        d.incident.status,
        Status::Triggered,
        "30m without progress re-triggers"
    );
    assert_eq!(d.escalation.map(|e| e.status), Some("active".to_string()));
    assert_eq!(
        d.incident.acknowledged_by.as_deref(),
        Some("olu"),
        "MTTA keeps the first acknowledgement"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severity_changes_need_a_lead_and_a_reason_and_reopen_retriggers() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let mut new = p1("Wrong prices on product pages");
    new.severity = Severity::P3;
    let inc = service::open(&ctx, &new, "tess")
        .await?
        .ok_or("not opened")?;
    assert_eq!(inc.ack_deadline - inc.opened_at, TimeDelta::hours(2));
    assert!(
        err_text(service::change_severity(&ctx, inc.id, "tess", Severity::P2, "").await)
            .contains("reason")
    );
    assert!(
        err_text(service::change_severity(&ctx, inc.id, "tess", Severity::P2, "spreading").await)
            .contains("commander, a director")
    );
    let up = service::change_severity(
        &ctx,
        inc.id,
        "priya",
        Severity::P2,
        "affects every product page",
    )
    .await?;
    assert_eq!(up.incident.severity, Severity::P2);
    assert_eq!(
        up.incident.ack_deadline - up.incident.opened_at,
        TimeDelta::minutes(30)
    );
    let mut p3 = p1("Typo in footer");
    p3.severity = Severity::P3;
    let small = service::open(&ctx, &p3, "tess")
        .await?
        .ok_or("not opened")?;
    service::acknowledge(&ctx, small.id, "tess").await?;
    service::resolve(&ctx, small.id, "tess", "fixed the copy").await?; // P3: any phase
    let reopened = service::reopen(&ctx, small.id, "tess", "still wrong on mobile").await?;
    assert_eq!(
        (reopened.incident.status, reopened.incident.phase),
        (Status::Triggered, Phase::ImplementFix)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p4_is_due_by_the_close_of_the_next_business_day() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    // Friday 2026-12-04 20:00 UTC (15:00 New York) -> Monday 17:00 New York.
    clock.set(
        DateTime::parse_from_rfc3339("2026-12-04T20:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    );
    let mut new = p1("Broken link in the careers page");
    new.severity = Severity::P4;
    new.departments = vec!["marketing".into()];
    let inc = service::open(&ctx, &new, "lena")
        .await?
        .ok_or("not opened")?;
    assert_eq!(inc.ack_deadline.to_rfc3339(), "2026-12-07T22:00:00+00:00");
    engine.run_pass().await?;
    clock.set(inc.ack_deadline + TimeDelta::seconds(1));
    engine.run_pass().await?;
    // Low urgency does not climb outside support hours: the next level is
    // paged when they open again, Tuesday 09:00 New York.
    assert!(notified(&ctx, "[escalation L2]%").await?.is_empty());
    clock.set(
        DateTime::parse_from_rfc3339("2026-12-08T14:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    );
    engine.run_pass().await?;
    assert_eq!(
        notified(&ctx, "[escalation L2]%").await?,
        vec!["lena".to_string()],
        "marketing's team lead"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kpi_rules_open_one_incident_per_ongoing_condition() -> TestResult {
    let (_db, ctx, clock, _engine) = setup().await?;
    let r = triggers::record_metric(&ctx, "roas", 2.4, "test").await?;
    assert!(r.opened.is_empty());
    let r = triggers::record_metric(&ctx, "roas", 1.2, "test").await?;
    assert_eq!(r.opened.len(), 1);
    assert_eq!(r.opened[0].severity, Severity::P3);
    assert_eq!(r.opened[0].source, "kpi_trigger");
    let r = triggers::record_metric(&ctx, "roas", 1.1, "test").await?;
    assert!(r.opened.is_empty());
    assert_eq!(r.ongoing, vec!["roas-low".to_string()]);

    // Revenue: seven normal days, then a drop below 70% of the trailing average.
    for day in 0..7 {
        clock.advance(TimeDelta::days(1));
        triggers::record_metric(
            &ctx,
            "daily_revenue",
            9000.0 + f64::from(day) * 10.0,
            "test",
        )
        .await?;
    }
    clock.advance(TimeDelta::days(1));
    let r = triggers::record_metric(&ctx, "daily_revenue", 6000.0, "test").await?;
    assert_eq!(r.opened.len(), 1, "{:?}", r.ongoing);
    assert!(r.opened[0].description.contains("trailing average"));

    // Backlog above twice the capacity, whichever of the two metrics moves.
    triggers::record_metric(&ctx, "daily_capacity", 140.0, "test").await?;
    assert!(
        triggers::record_metric(&ctx, "order_backlog", 200.0, "test")
            .await?
            .opened
            .is_empty()
    );
    let r = triggers::record_metric(&ctx, "daily_capacity", 90.0, "test").await?;
    assert_eq!(r.opened.len(), 1);

    let bad = triggers::record_metric(&ctx, "happiness", 1.0, "test").await;
    assert!(err_text(bad).contains("unknown metric"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_responds_and_where_an_incident_lands_come_from_config() -> TestResult {
    let db = fresh_db().await?;
    let mut config = default_config();
    let section = config
        .section_mut::<CrisisConfig>()
        .ok_or("no [crisis] section")?;
    section.roles.respond = vec!["director:technology".into(), "operator:operations".into()];
    section.default_department = "technology".into();
    let ctx = db.ctx(config, Arc::new(SimClock::at(t0()))).await?;
    let mut new = p1("Search returns nothing");
    new.departments.clear();
    let inc = service::open(&ctx, &new, "tess")
        .await?
        .ok_or("not opened")?;
    assert_eq!(inc.departments, vec!["technology".to_string()]);
    // Kai is a technology operator, which this org does not let respond.
    let refused = err_text(service::acknowledge(&ctx, inc.id, "kai").await);
    assert!(
        refused.contains(
            "cannot respond to incidents: it takes the Technology director or an Operations operator"
        ),
        "{refused}"
    );
    service::acknowledge(&ctx, inc.id, "tess").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_an_action_item_leaves_the_other_items_reminded() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let mut new = p1("Label printer offline");
    new.severity = Severity::P3;
    let inc = service::open(&ctx, &new, "olu")
        .await?
        .ok_or("not opened")?;
    service::acknowledge(&ctx, inc.id, "olu").await?;
    service::resolve(&ctx, inc.id, "olu", "spare printer in place").await?;
    let due = ctx.now() + TimeDelta::days(1);
    let first = service::add_action_item(&ctx, inc.id, "olu", "tess", due, "Order a spare").await?;
    service::add_action_item(&ctx, inc.id, "olu", "kai", due, "Monitor the printer").await?;
    let done = service::complete_action_item(&ctx, first.id, "tess").await?;
    assert_eq!(done.status, ActionItemStatus::Done);
    clock.advance(TimeDelta::days(1) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    assert_eq!(
        notified(&ctx, "Overdue action item%").await?,
        vec!["kai".to_string()],
        "the open item reminds its owner; the done one stays quiet"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_stored_state_is_an_error_not_a_panic() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let inc = service::open(&ctx, &p1("Odd row"), "olu")
        .await?
        .ok_or("not opened")?;
    sqlx::query("UPDATE incidents SET phase = 'lunch' WHERE id = $1")
        .bind(inc.id)
        .execute(&ctx.pool)
        .await?;
    let err = err_text(service::detail(&ctx, inc.id).await);
    assert!(err.contains("unknown incident phase \"lunch\""), "{err}");
    Ok(())
}

fn cover<'a>(
    ctx: &Ctx,
    schedule: &'a str,
    person: &'a str,
    actor: &'a str,
    hours: i64,
) -> vivid_core::engine::oncall::NewOverride<'a> {
    vivid_core::engine::oncall::NewOverride {
        schedule,
        person,
        starts_at: ctx.now(),
        ends_at: ctx.now() + TimeDelta::hours(hours),
        actor,
        replace: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_call_overrides_follow_the_rules() -> TestResult {
    use vivid_core::engine::oncall;
    let (_db, ctx, _clock, _engine) = setup().await?;
    // The cases: a non-responder put on call by someone else...
    let m = err_text(
        service::put_on_call(&ctx, &cover(&ctx, "operations-primary", "remy", "tess", 1)).await,
    );
    assert!(m.contains("cannot put Remy Laurent"), "{m}");
    // ... a non-responder put on call by the schedule's own team lead ...
    let m = err_text(
        service::put_on_call(&ctx, &cover(&ctx, "operations-primary", "remy", "olu", 1)).await,
    );
    assert!(
        m.contains("Remy Laurent (@remy) cannot be put on call"),
        "{m}"
    );
    // ... and one set by a member of another department.
    let m = err_text(
        service::put_on_call(&ctx, &cover(&ctx, "technology-primary", "kai", "remy", 1)).await,
    );
    assert!(
        m.contains(
            "only the person taking the shift, a Technology team lead or the Technology director"
        ),
        "{m}"
    );
    // Another department's director cannot either.
    let m = err_text(
        service::put_on_call(&ctx, &cover(&ctx, "technology-primary", "kai", "omar", 1)).await,
    );
    assert!(m.contains("cannot put"), "{m}");
    let mut conn = ctx.pool.acquire().await?;
    assert!(
        oncall::all_at(&ctx, &mut conn, ctx.now())
            .await?
            .iter()
            .all(|o| o.via == "rotation"),
        "refusals change nothing"
    );
    // Taking the shift yourself, and a team lead covering: allowed.
    let kai =
        service::put_on_call(&ctx, &cover(&ctx, "technology-primary", "kai", "kai", 2)).await?;
    let m = err_text(
        service::put_on_call(&ctx, &cover(&ctx, "technology-primary", "theo", "theo", 1)).await,
    );
    assert!(m.contains("add --replace"), "{m}");
    // Replacing someone else's cover takes a lead or the director.
    let mut theo_self = cover(&ctx, "technology-primary", "theo", "kai", 1);
    theo_self.replace = true;
    let replaced = service::put_on_call(&ctx, &theo_self).await?;
    assert_eq!(
        replaced.replaced.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![kai.id]
    );
    let mut tess_self = cover(&ctx, "technology-primary", "tess", "tess", 1);
    tess_self.replace = true;
    assert!(err_text(service::put_on_call(&ctx, &tess_self).await).contains("cannot"));
    let now = oncall::all_at(&ctx, &mut conn, ctx.now()).await?;
    let tech = now
        .iter()
        .find(|o| o.schedule == "technology-primary")
        .ok_or("no technology schedule")?;
    assert_eq!(
        (
            tech.person.as_str(),
            tech.name.as_str(),
            tech.via,
            tech.until
        ),
        (
            "theo",
            "Theo Novak",
            "override",
            Some(ctx.now() + TimeDelta::hours(1))
        )
    );
    // The rotation says until when too: the weekly hand-over, Monday 09:00 New York.
    let ops = now
        .iter()
        .find(|o| o.schedule == "operations-primary")
        .ok_or("no operations schedule")?;
    assert_eq!(
        ops.until.map(|t| ctx.calendar.format_local(t)),
        Some("2026-12-07 09:00 EST".to_string())
    );
    // Every change is an event on the schedule.
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM events WHERE workflow = 'oncall' ORDER BY id")
            .fetch_all(&ctx.pool)
            .await?;
    assert_eq!(
        actions,
        vec!["override_added", "override_replaced", "override_added"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_over_moves_the_acknowledger_and_command_moves_only_when_handed_over() -> TestResult
{
    let (_db, ctx, _clock, _engine) = setup().await?;
    let inc = service::open(&ctx, &p1("Checkout slow"), "olu")
        .await?
        .ok_or("not opened")?;
    service::acknowledge(&ctx, inc.id, "tess").await?;
    let back = service::unacknowledge(&ctx, inc.id, "tess", "handing over").await?;
    assert_eq!(back.incident.responder, None);
    let omar = service::acknowledge(&ctx, inc.id, "omar").await?;
    let i = &omar.incident;
    assert_eq!(i.responder.as_deref(), Some("omar"), "the new acknowledger");
    assert_eq!(
        i.acknowledged_by.as_deref(),
        Some("tess"),
        "MTTA keeps the first"
    );
    assert_eq!(
        i.commander.as_deref(),
        Some("tess"),
        "command stays until handed over"
    );

    // olu may respond but not take command from tess, nor change severity.
    let m = err_text(service::hand_over_command(&ctx, inc.id, "olu", "olu", None).await);
    assert!(m.contains("cannot hand over command of incident"), "{m}");
    let m = err_text(service::assign(&ctx, inc.id, "olu", "commander".parse()?, "olu").await);
    assert!(m.contains("cannot hand over command"), "{m}");
    // Nobody who cannot respond may command.
    let m = err_text(service::hand_over_command(&ctx, inc.id, "tess", "remy", None).await);
    assert!(m.contains("cannot respond to incidents"), "{m}");
    // The commander hands over: recorded, both told.
    let done = service::hand_over_command(&ctx, inc.id, "tess", "omar", Some("shift ends")).await?;
    assert_eq!(done.incident.commander.as_deref(), Some("omar"));
    assert_eq!(
        notified(&ctx, "You command [P1]%").await?,
        vec!["omar".to_string()]
    );
    // The Business Manager hands it on: the commander who loses it is told.
    let m = err_text(service::hand_over_command(&ctx, inc.id, "omar", "omar", None).await);
    assert!(m.contains("already commands"), "{m}");
    service::hand_over_command(&ctx, inc.id, "bea", "kai", None).await?;
    assert_eq!(
        notified(&ctx, "@kai now commands%").await?,
        vec!["omar".to_string()]
    );
    assert_eq!(
        notified(&ctx, "You command [P1]%").await?,
        vec!["kai", "omar"]
    );
    let d = service::detail(&ctx, inc.id).await?;
    let handed = d
        .timeline
        .iter()
        .find(|e| e.action == "commander_changed")
        .ok_or("no commander event")?;
    // (the first hand-over: tess to omar)
    assert_eq!(
        vivid_core::crisis::read::change_text(handed).as_deref(),
        Some("commander @tess → @omar")
    );

    // Phase events name their phases, in show and in the post-mortem.
    service::advance_phase(&ctx, inc.id, "omar", None, None).await?;
    let d = service::detail(&ctx, inc.id).await?;
    let phase = d
        .timeline
        .iter()
        .find(|e| e.action == "phase_changed")
        .ok_or("no phase event")?;
    assert_eq!(
        vivid_core::crisis::read::change_text(phase).as_deref(),
        Some("Detection → Triage & Severity")
    );
    let md = vivid_core::crisis::templates::postmortem_markdown(&ctx, &d)?;
    assert!(
        md.contains("phase changed (Detection → Triage & Severity) by omar"),
        "{md}"
    );
    assert!(!md.contains("acknowledged → acknowledged"), "{md}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commander_is_reminded_when_a_promised_status_update_does_not_come() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let inc = service::open(&ctx, &p1("Search down"), "olu")
        .await?
        .ok_or("not opened")?;
    service::acknowledge(&ctx, inc.id, "kai").await?;
    let (done, _) = service::status_update(
        &ctx,
        inc.id,
        "kai",
        service::Audience::Internal,
        "Investigating",
        TimeDelta::minutes(30),
    )
    .await?;
    assert_eq!(
        done.incident.next_update_at,
        Some(ctx.now() + TimeDelta::minutes(30))
    );
    // A second update moves the promise; the first deadline passes quietly.
    clock.advance(TimeDelta::minutes(20));
    service::status_update(
        &ctx,
        inc.id,
        "kai",
        service::Audience::Internal,
        "Found it",
        TimeDelta::minutes(30),
    )
    .await?;
    clock.advance(TimeDelta::minutes(15));
    engine.run_pass().await?;
    assert!(notified(&ctx, "%a status update is due").await?.is_empty());
    clock.advance(TimeDelta::minutes(16));
    engine.run_pass().await?;
    assert_eq!(
        notified(&ctx, "%a status update is due").await?,
        vec!["kai".to_string()]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_refuses_a_real_database_and_leaves_hand_made_incidents_alone() -> TestResult
{
    use vivid_core::simulate;
    let (_db, ctx, _clock, _engine) = setup().await?;
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let m = err_text(simulate::run(&ctx, 1000.0, Some(5), false, shutdown.clone()).await);
    assert!(m.contains("not created by `vivid demo`"), "{m}");

    vivid_core::seed::demo(&ctx).await?;
    let mut hand = p1("Hand-made: warehouse scanner offline");
    hand.severity = Severity::P3;
    let hand = service::open(&ctx, &hand, "olu")
        .await?
        .ok_or("not opened")?;
    let before: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, status, phase FROM incidents WHERE NOT simulated ORDER BY id")
            .fetch_all(&ctx.pool)
            .await?;
    let events_before: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE workflow = 'crisis' AND entity_id IN (SELECT id::text FROM incidents WHERE NOT simulated)",
    )
    .fetch_one(&ctx.pool)
    .await?;
    let report = simulate::run(&ctx, 100_000.0, Some(3000), false, shutdown).await?;
    assert!(report.events >= 3000);
    let after: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, status, phase FROM incidents WHERE NOT simulated ORDER BY id")
            .fetch_all(&ctx.pool)
            .await?;
    assert_eq!(before, after, "hand-made incidents are untouched");
    assert!(
        after
            .iter()
            .any(|(id, status, _)| *id == hand.id && status == "triggered")
    );
    let events_after: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE workflow = 'crisis' AND entity_id IN (SELECT id::text FROM incidents WHERE NOT simulated)",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(events_before, events_after);
    // What it did make is marked, and left out of the metrics.
    let simulated: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents WHERE simulated")
        .fetch_one(&ctx.pool)
        .await?;
    let from = t0() - TimeDelta::days(365);
    let to = ctx.now() + TimeDelta::days(1);
    let real = report::metrics(&ctx, from, to).await?;
    let all = report::metrics_with(&ctx, from, to, true).await?;
    assert_eq!(all.all.opened - real.all.opened, u32::try_from(simulated)?);
    Ok(())
}
