//! The customer journey against a real PostgreSQL, with simulated time.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::engine::handoffs;
use vivid_core::engine::{Engine, outbox::LogTarget};
use vivid_core::journey::service::{self, NewTouch};
use vivid_core::testing::{TestDb, default_config, fresh_db};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn setup() -> Result<(TestDb, Ctx, SimClock, Engine), Box<dyn std::error::Error>> {
    let db = fresh_db().await?;
    let clock = SimClock::at(
        DateTime::parse_from_rfc3339("2026-12-01T15:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    );
    let ctx = db.ctx(default_config(), Arc::new(clock.clone())).await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    Ok((db, ctx, clock, engine))
}

fn touch(prospect: &str, channel: &str, kind: &str, key: &str) -> NewTouch {
    NewTouch {
        prospect: prospect.into(),
        channel: channel.into(),
        kind: kind.into(),
        idempotency_key: key.into(),
        segment: Some("interior-designers".into()),
        content_id: None,
    }
}

fn err_text<T: std::fmt::Debug>(r: Result<T, vivid_core::Error>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_first_touch_to_a_referral_driven_upsell_with_a_breached_handoff() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    // First touch from an ad; engagement builds up.
    let t = service::touch(&ctx, &touch("cust-ava", "ad", "delivered", "t1"), "ads").await?;
    assert_eq!((t.prospect.score, t.prospect.stage.as_str()), (5.0, "new"));
    let again = service::touch(&ctx, &touch("cust-ava", "ad", "delivered", "t1"), "ads").await?;
    assert!(!again.scored, "the same idempotency key scores once");
    assert_eq!(again.prospect.score, 5.0);
    service::touch(&ctx, &touch("cust-ava", "email", "opened", "t2"), "esp").await?;
    let c1 = service::touch(&ctx, &touch("cust-ava", "email", "clicked", "t3"), "esp").await?;
    assert_eq!(c1.points, 25);
    let c2 = service::touch(&ctx, &touch("cust-ava", "site", "clicked", "t4"), "site").await?;
    assert_eq!(c2.points, 50, "multiple clicks");
    assert_eq!(c2.prospect.stage, "warm");
    assert!(c2.handed_off.is_none());
    assert!(
        err_text(service::touch(&ctx, &touch("cust-ava", "site", "liked", "t5"), "site").await)
            .contains("not in the scoring rules")
    );
    assert!(
        err_text(service::touch(&ctx, &touch("cust-ava", "fax", "opened", "t5"), "site").await)
            .contains("unknown channel")
    );
    // A form at score >= 100 hands the lead to Sales with a 2h SLA; >= 150 alerts the Sales director.
    let form = service::touch(
        &ctx,
        &touch("cust-ava", "site", "form_submitted", "t6"),
        "site",
    )
    .await?;
    assert!(form.handed_off.is_some() && form.alerted, "{form:?}");
    assert_eq!(form.prospect.stage, "qualified");
    let alert: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE person = 'sam' AND subject LIKE 'Qualified lead%'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(alert, 1);
    // Nobody in Sales acknowledges within 2h: breached and escalated to the Sales director.
    clock.advance(TimeDelta::hours(2) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    let mut conn = ctx.pool.acquire().await?;
    let h = handoffs::latest_for(&mut conn, "journey", "cust-ava", "lead")
        .await?
        .ok_or("no hand-off")?;
    assert!(h.breached);
    let escalated: Vec<String> = sqlx::query_scalar(
        "SELECT person FROM outbox WHERE subject LIKE '[escalation L1] Hand-off SLA breached%'",
    )
    .fetch_all(&ctx.pool)
    .await?;
    assert_eq!(escalated, vec!["sam".to_string()]);
    // Sales contacts (late): the hand-off is acknowledged and the escalation stops.
    assert!(
        err_text(service::contact(&ctx, "cust-ava", "lena", "").await).contains("not in Sales")
    );
    clock.advance(TimeDelta::minutes(20));
    service::contact(
        &ctx,
        "cust-ava",
        "nico",
        "Called; wants framed prints for a hotel lobby",
    )
    .await?;
    clock.advance(TimeDelta::hours(2));
    engine.run_pass().await?;
    let bea: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE person = 'bea' AND subject LIKE '%Hand-off SLA%'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(bea, 0, "acknowledged before the business manager's level");

    // Conversion, support, feedback, referral.
    assert!(err_text(service::convert(&ctx, "cust-ava", 0, "nico").await).contains("above zero"));
    assert!(
        err_text(service::convert(&ctx, "nobody", 100, "nico").await).contains("unknown prospect")
    );
    service::convert(&ctx, "cust-ava", 480_000, "nico").await?;
    let ticket = service::ticket(&ctx, "cust-ava", "One frame arrived scratched", "jun").await?;
    service::resolve(&ctx, ticket.id, "jun", "Replacement shipped").await?;
    assert!(
        err_text(service::resolve(&ctx, ticket.id, "jun", "again").await)
            .contains("already resolved")
    );
    service::feedback(&ctx, "cust-ava", Some(10), Some(5), "Lovely quality").await?;
    assert!(
        err_text(service::feedback(&ctx, "cust-ava", Some(11), None, "").await).contains("0 to 10")
    );
    let referred = service::refer(&ctx, "cust-ava", "cust-ben").await?;
    assert_eq!(referred.first_channel, "referral");
    service::touch(&ctx, &touch("cust-ben", "email", "opened", "b1"), "esp").await?;
    service::convert(&ctx, "cust-ben", 12_900, "nico").await?;

    // Marketing closes the loop: an upsell for satisfied customers, referrers first.
    assert!(
        err_text(service::campaign(&ctx, "Hotel collection", "upsell", "nico").await)
            .contains("not in Marketing")
    );
    let campaign = service::campaign(&ctx, "Hotel collection", "upsell", "lena").await?;
    assert_eq!(campaign.audience, vec!["cust-ava".to_string()]);
    let planned: String = sqlx::query_scalar("SELECT state FROM content_items WHERE id = $1")
        .bind(campaign.content_id)
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(planned, "planning");

    let f = vivid_core::journey::read::funnel(&ctx, TimeDelta::days(30)).await?;
    assert_eq!(
        (f.prospects, f.handed_off, f.contacted, f.customers),
        (2, 1, 1, 2)
    );
    assert_eq!(
        f.lead_handoff_sla_compliance,
        Some(0.0),
        "the one hand-off was late"
    );
    assert_eq!(
        f.mean_time_to_first_contact_secs,
        Some(2 * 3600 + 1 + 20 * 60)
    );
    assert_eq!(f.nps, Some(100.0));
    assert_eq!(f.referral_rate, Some(0.5));

    let ad = f
        .revenue_by_channel
        .iter()
        .find(|(c, _, _)| c == "ad")
        .map(|(_, first, last)| (*first, *last));
    assert_eq!(ad, Some((480_000, 0)), "first-touch credit to the ad");
    let site = f
        .revenue_by_channel
        .iter()
        .find(|(c, _, _)| c == "site")
        .map(|(_, first, last)| (*first, *last));
    assert_eq!(site, Some((0, 480_000)), "last-touch credit to the site");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engagement_decays_and_unsubscribing_costs_points() -> TestResult {
    let (_db, ctx, clock, _engine) = setup().await?;
    service::touch(&ctx, &touch("p", "email", "reply", "r1"), "esp").await?;
    clock.advance(TimeDelta::days(30));
    let t = service::touch(&ctx, &touch("p", "email", "opened", "r2"), "esp").await?;
    assert!(
        (t.prospect.score - 60.0).abs() < 1e-6,
        "100 halves in 30 days, plus 10: {}",
        t.prospect.score
    );
    let t = service::touch(&ctx, &touch("p", "email", "unsubscribed", "r3"), "esp").await?;
    assert!(t.prospect.score < 0.0);
    assert_eq!(t.prospect.stage, "new");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_ticket_reaches_the_configured_support_department_once() -> TestResult {
    // Support moves to Sales in config: Nico and Sam hear, not Jun and Cleo.
    let toml = vivid_core::config::EMBEDDED_DEFAULT
        .replace("support = \"customer_experience\"", "support = \"sales\"");
    let config = vivid_core::config::Config::from_toml_str("test", &toml)?;
    let db = fresh_db().await?;
    let clock = SimClock::at(
        DateTime::parse_from_rfc3339("2026-12-01T15:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    );
    let ctx = db.ctx(config, Arc::new(clock.clone())).await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    service::touch(&ctx, &touch("cust-dan", "email", "opened", "d1"), "esp").await?;
    let late = service::ticket(&ctx, "cust-dan", "Where is my order?", "jun").await?;
    let quick = service::ticket(&ctx, "cust-dan", "Change my address", "jun").await?;
    service::resolve(&ctx, quick.id, "jun", "Address changed").await?;
    assert!(
        err_text(service::resolve(&ctx, quick.id, "nico", "again").await).contains(&format!(
            "ticket #{} was already resolved by @jun",
            quick.id
        ))
    );
    clock.advance(TimeDelta::hours(24) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    engine.run_pass().await?;
    let told: Vec<String> = sqlx::query_scalar(
        "SELECT person FROM outbox WHERE subject LIKE 'Support ticket #% is past its SLA' ORDER BY person",
    )
    .fetch_all(&ctx.pool)
    .await?;
    assert_eq!(told, vec!["nico".to_string(), "sam".to_string()]);
    let breached: Vec<(i64, bool)> = sqlx::query_as("SELECT id, breached FROM tickets ORDER BY id")
        .fetch_all(&ctx.pool)
        .await?;
    assert_eq!(
        breached,
        vec![(late.id, true), (quick.id, false)],
        "the resolved ticket is never late"
    );
    // Resolved late, it says so; the breach is not undone.
    let t = service::resolve(&ctx, late.id, "jun", "Found in the depot").await?;
    assert!(t.breached);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_status_no_machine_knows_is_an_internal_fault() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    service::touch(&ctx, &touch("cust-eve", "email", "opened", "e1"), "esp").await?;
    // Data written by something else (a newer binary, a hand edit).
    sqlx::query("ALTER TABLE prospects DROP CONSTRAINT prospects_status_check")
        .execute(&ctx.pool)
        .await?;
    sqlx::query("UPDATE prospects SET status = 'nurtured' WHERE key = 'cust-eve'")
        .execute(&ctx.pool)
        .await?;
    for r in [
        service::get(&ctx, "cust-eve").await.map(|_| ()),
        service::contact(&ctx, "cust-eve", "nico", "")
            .await
            .map(|_| ()),
    ] {
        let Err(e) = r else {
            panic!("an unknown status was read as a known one")
        };
        assert_eq!(e.kind(), "internal", "{e}");
        assert!(
            e.to_string().contains("unknown lead status \"nurtured\""),
            "{e}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lead_queue_lists_leads_waiting_on_sales_soonest_due_first() -> TestResult {
    use vivid_core::journey::read;
    let (_db, ctx, clock, _engine) = setup().await?;
    service::touch(
        &ctx,
        &touch("cust-a", "site", "form_submitted", "a1"),
        "site",
    )
    .await?;
    clock.advance(TimeDelta::minutes(10));
    service::touch(&ctx, &touch("cust-b", "email", "opened", "b1"), "esp").await?;
    service::handoff(&ctx, "cust-b", "lena").await?;
    service::touch(&ctx, &touch("cust-c", "email", "opened", "c1"), "esp").await?;
    let q = read::lead_queue(&ctx, 50).await?;
    assert_eq!(
        q.iter()
            .map(|l| l.prospect.key.as_str())
            .collect::<Vec<_>>(),
        ["cust-a", "cust-b"],
        "cust-c is a prospect, not a lead"
    );
    assert!(q.iter().all(|l| l.handoff_id.is_some() && !l.breached));
    service::contact(&ctx, "cust-a", "nico", "").await?;
    let q = read::lead_queue(&ctx, 50).await?;
    assert_eq!(q.len(), 1);
    let lead = read::lead(&ctx, "cust-a").await?;
    assert_eq!(
        lead.prospect.status,
        vivid_core::journey::model::LeadStatus::Contacted
    );
    assert_eq!(
        lead.handoff.map(|h| h.acknowledged_by),
        Some(Some("nico".to_string()))
    );
    Ok(())
}
