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

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

async fn setup_at(
    when: &str,
) -> Result<(TestDb, Ctx, SimClock, Engine), Box<dyn std::error::Error>> {
    let db = fresh_db().await?;
    let clock = SimClock::at(at(when));
    let ctx = db.ctx(default_config(), Arc::new(clock.clone())).await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    Ok((db, ctx, clock, engine))
}

/// Issue 19's worked case: a lead handed over Friday 16:30 New York is due
/// Monday 10:30 — the 2-hour SLA runs on Sales' business calendar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_handed_over_friday_1630_is_due_monday_1030() -> TestResult {
    // Friday 2026-12-04 16:30 EST.
    let (_db, ctx, _clock, _engine) = setup_at("2026-12-04T21:30:00Z").await?;
    let t = service::touch(
        &ctx,
        &touch("cust-fri", "site", "form_submitted", "f1"),
        "site",
    )
    .await?;
    assert!(t.handed_off.is_some(), "a form scores 150");
    let mut conn = ctx.pool.acquire().await?;
    let h = handoffs::latest_for(&mut conn, "journey", "cust-fri", "lead")
        .await?
        .ok_or("no hand-off")?;
    // Monday 2026-12-07 10:30 EST.
    assert_eq!(h.due_at, at("2026-12-07T15:30:00Z"));
    assert_eq!(
        ctx.calendar.format_local(h.due_at),
        ctx.calendar.format_local(at("2026-12-07T10:30:00-05:00"))
    );
    Ok(())
}

/// Leads Sales can act on: the hand-off carries the score breakdown, the
/// timeline, source channel and campaign, segment and next content; owners
/// take turns; the lifecycle and its permissions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_off_explains_the_lead_and_owners_take_turns() -> TestResult {
    use vivid_core::journey::model::LeadStatus;
    use vivid_core::journey::read;
    use vivid_core::journey::service::TouchExtra;
    let (_db, ctx, clock, engine) = setup().await?;
    // A live content item for warm/hot leads of the segment.
    let item = vivid_core::content::service::create(
        &ctx,
        &vivid_core::content::service::NewContent {
            kind: "product_page".into(),
            title: "Hotel lobby canvases".into(),
            body: "Large canvases for lobbies.".into(),
            owner: "lena".into(),
            channel: "web".into(),
            campaign: None,
            cost_cents: 0,
        },
        "lena",
    )
    .await?;
    sqlx::query("UPDATE content_items SET state = 'published' WHERE id = $1")
        .bind(item.id)
        .execute(&ctx.pool)
        .await?;
    assert!(
        err_text(service::target_content(&ctx, item.id, &[], &["boiling".into()], "lena").await)
            .contains("unknown stage")
    );
    assert!(
        err_text(service::target_content(&ctx, item.id, &[], &[], "nico").await)
            .contains("not in Marketing")
    );
    service::target_content(
        &ctx,
        item.id,
        &["interior-designers".into()],
        &["qualified".into()],
        "lena",
    )
    .await?;
    let extra = TouchExtra {
        campaign: Some("spring-lobbies".into()),
        region: Some("east".into()),
        attributes: vec!["interior_designer".into()],
    };
    let mut keys = Vec::new();
    for (i, name) in ["cust-1", "cust-2", "cust-3"].iter().enumerate() {
        service::touch_with(
            &ctx,
            &touch(name, "ad", "clicked", &format!("{name}-a")),
            &extra,
            "ads",
        )
        .await?;
        clock.advance(TimeDelta::days(3));
        let t = service::touch(
            &ctx,
            &touch(name, "site", "form_submitted", &format!("{name}-b")),
            "site",
        )
        .await?;
        assert!(t.handed_off.is_some(), "{i}: {t:?}");
        keys.push(t.prospect);
    }
    let owners: Vec<_> = keys.iter().map(|p| p.owner.clone()).collect();
    assert_eq!(
        owners,
        [Some("nico".into()), Some("sam".into()), Some("nico".into())],
        "round-robin across the two Sales members"
    );
    let lead = read::lead(&ctx, "cust-1").await?;
    let h = lead.handoff.clone().ok_or("no hand-off")?;
    assert_eq!(h.assignee.as_deref(), Some("nico"));
    let payload = &h.payload;
    assert_eq!(payload["campaign"], "spring-lobbies");
    assert_eq!(payload["source_channel"], "ad");
    assert_eq!(payload["segment"], "interior-designers");
    assert_eq!(payload["fit"], 30.0);
    let breakdown = payload["breakdown"].as_array().ok_or("no breakdown")?;
    assert_eq!(breakdown.len(), 2, "{payload}");
    assert!(
        breakdown[0]
            .as_str()
            .is_some_and(|l| l.starts_with("form_submitted 1× +150"))
    );
    assert_eq!(payload["timeline"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        payload["next_content"],
        format!("#{} Hotel lobby canvases", item.id)
    );
    // The brief explains both scores; decay shows on the older click.
    let b = &lead.brief;
    let clicked = b
        .breakdown
        .iter()
        .find(|k| k.kind == "clicked")
        .ok_or("no clicks")?;
    // Clicked nine days ago; the half-life is 30 days.
    let want = 25.0 * 0.5f64.powf(9.0 / 30.0);
    assert!((clicked.decayed - want).abs() < 1e-6, "{clicked:?}");
    let sum: f64 = b.breakdown.iter().map(|k| k.decayed).sum();
    assert!(
        (sum - b.engagement).abs() < 1e-6,
        "{sum} vs {}",
        b.engagement
    );
    assert_eq!(b.fit_breakdown[0].attribute, "interior_designer");
    assert_eq!(lead.next_content.map(|(id, _)| id), Some(item.id));

    // The queue by owner and state.
    let nico = read::leads(&ctx, &[], Some("nico"), 50).await?;
    assert_eq!(nico.len(), 2);
    // Permissions: Sales accepts, contacts, disqualifies; Creative converts nothing.
    assert!(err_text(service::accept(&ctx, "cust-1", "lena").await).contains("not in Sales"));
    assert!(
        err_text(service::convert(&ctx, "cust-1", 1_000, "remy").await).contains("not in Sales")
    );
    let p = service::accept(&ctx, "cust-1", "nico").await?;
    assert_eq!(
        (p.status, p.status.lifecycle()),
        (LeadStatus::Accepted, "sql")
    );
    assert!(err_text(service::accept(&ctx, "cust-1", "nico").await).contains("already accepted"));
    // Reassignment: the owner hands it on; another member may not take it.
    assert!(
        err_text(service::assign(&ctx, "cust-3", "sam", "lena").await).contains("not in Sales")
    );
    assert!(
        err_text(service::assign(&ctx, "cust-3", "lena", "nico").await).contains("not in Sales")
    );
    let p = service::assign(&ctx, "cust-3", "sam", "nico").await?;
    assert_eq!(p.owner.as_deref(), Some("sam"));
    let mut conn = ctx.pool.acquire().await?;
    let h3 = handoffs::latest_for(&mut conn, "journey", "cust-3", "lead")
        .await?
        .ok_or("no hand-off")?;
    assert_eq!(h3.assignee.as_deref(), Some("sam"));
    drop(conn);
    // Disqualify needs a reason; it declines the hand-off and recycles later.
    assert!(
        err_text(service::disqualify(&ctx, "cust-2", " ", "sam").await).contains("needs a reason")
    );
    let p = service::disqualify(&ctx, "cust-2", "Student project, no budget", "sam").await?;
    assert_eq!(p.status, LeadStatus::Disqualified);
    let lead2 = read::lead(&ctx, "cust-2").await?;
    assert_eq!(
        lead2.handoff.map(|h| h.status),
        Some("declined".to_string())
    );
    assert!(
        err_text(service::handoff(&ctx, "cust-2", "lena").await).contains("recycle it to nurture")
    );
    // Contacted → converted by Sales: the hand-off is done.
    service::contact(&ctx, "cust-1", "nico", "Called").await?;
    let p = service::convert(&ctx, "cust-1", 250_000, "nico").await?;
    assert_eq!(p.status, LeadStatus::Customer);
    assert_eq!(p.fit, 50.0, "order history adds to fit");
    let lead1 = read::lead(&ctx, "cust-1").await?;
    assert_eq!(lead1.handoff.map(|h| h.status), Some("done".to_string()));
    // The system (the shop's order feed) may record a sale too.
    service::convert(&ctx, "cust-3", 5_000, service::SYSTEM).await?;
    // Hand-off quality: 3 handed off, 1 accepted by hand + 1 by contact? cust-1 accepted; cust-2 disqualified.
    let q = read::quality(&ctx, TimeDelta::days(30)).await?;
    assert_eq!((q.handed_off, q.accepted, q.disqualified), (3, 1, 1));

    // After 90 days the disqualified lead is back in nurture, score reset.
    clock.advance(TimeDelta::days(90) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    let p = service::get(&ctx, "cust-2").await?;
    assert_eq!(
        (p.status, p.score, p.owner.clone()),
        (LeadStatus::Prospect, 0.0, None)
    );
    assert_eq!(p.recycles, 1);
    // The Marketing director got the weekly funnel review.
    let reviews: Vec<String> =
        sqlx::query_scalar("SELECT person FROM outbox WHERE subject LIKE 'Weekly funnel review%'")
            .fetch_all(&ctx.pool)
            .await?;
    assert!(
        !reviews.is_empty() && reviews.iter().all(|p| p == "maya"),
        "{reviews:?}"
    );
    let body: String = sqlx::query_scalar(
        "SELECT body FROM outbox WHERE subject LIKE 'Weekly funnel review%' ORDER BY id LIMIT 1",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert!(body.contains("Hand-off quality"), "{body}");
    Ok(())
}

/// Fit and engagement together: a strong fit needs less engagement; the
/// profile is kept by Marketing or Sales, with attributes from config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strong_fit_is_handed_over_with_less_engagement() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let t = service::touch(&ctx, &touch("cust-h", "email", "reply", "h1"), "esp").await?;
    assert!(t.handed_off.is_some(), "100 engagement, any fit");
    service::touch(&ctx, &touch("cust-g", "email", "clicked", "g1"), "esp").await?;
    service::touch(&ctx, &touch("cust-g", "email", "clicked", "g2"), "esp").await?;
    assert!(
        err_text(
            service::profile(
                &ctx,
                "cust-g",
                Some(&["astronaut".into()]),
                None,
                None,
                "lena"
            )
            .await
        )
        .contains("unknown profile attribute")
    );
    assert!(
        err_text(
            service::profile(
                &ctx,
                "cust-g",
                Some(&["hospitality".into()]),
                None,
                None,
                "remy"
            )
            .await
        )
        .contains("not in Marketing or Sales")
    );
    // 75 engagement + 30 fit < 150: not yet.
    let t = service::profile(
        &ctx,
        "cust-g",
        Some(&["hospitality".into()]),
        None,
        None,
        "lena",
    )
    .await?;
    assert!(t.handed_off.is_none());
    // + trade buyer: 75 + 70 = 145; a reply later passes 100 anyway, so use a click: 125... check the combined rule.
    let t = service::profile(
        &ctx,
        "cust-g",
        Some(&["hospitality".into(), "trade_buyer".into()]),
        Some("west"),
        None,
        "lena",
    )
    .await?;
    assert_eq!(t.prospect.fit, 70.0);
    assert!(t.handed_off.is_none(), "75 + 70 = 145 < 150");
    let t = service::touch(&ctx, &touch("cust-g", "email", "opened", "g3"), "esp").await?;
    assert!(
        t.handed_off.is_some(),
        "85 + 70 ≥ 150: {:?}",
        t.prospect.score
    );
    let mut conn = ctx.pool.acquire().await?;
    let h = handoffs::latest_for(&mut conn, "journey", "cust-g", "lead")
        .await?
        .ok_or("no hand-off")?;
    assert!(
        h.payload["rule"]
            .as_str()
            .is_some_and(|r| r.contains("+ fit 70")),
        "{}",
        h.payload
    );
    assert_eq!(h.payload["region"], "west");
    Ok(())
}

/// Issue 15's journey triggers: each opens a typed hand-off through
/// `collab::open`, in the story of what caused it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_feedback_and_feature_tickets_open_hand_offs() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    service::touch(&ctx, &touch("cust-z", "email", "opened", "z1"), "esp").await?;
    service::convert(&ctx, "cust-z", 9_000, "nico").await?;
    // Feedback tagged product → product feedback to Product.
    assert!(
        err_text(
            service::feedback_with(&ctx, "cust-z", Some(9), None, "", &["product".into()], None)
                .await
        )
        .contains("needs the customer's words")
    );
    assert!(
        err_text(
            service::feedback_with(&ctx, "cust-z", Some(9), None, "x", &["gossip".into()], None)
                .await
        )
        .contains("unknown feedback tag")
    );
    let pf = service::feedback_with(
        &ctx,
        "cust-z",
        Some(9),
        Some(5),
        "Wish the frames came in walnut",
        &["product".into()],
        Some("Frames"),
    )
    .await?
    .ok_or("no product feedback")?;
    // Ticket tagged feature → feature request to Product.
    let t = service::ticket_with(
        &ctx,
        "cust-z",
        "Custom sizes for canvases",
        &["feature".into()],
        Some("Trade buyers need 2m canvases"),
        "jun",
    )
    .await?;
    // Campaign launch → campaign data to Sales.
    let c = service::campaign(&ctx, "Walnut frames upsell", "upsell", "lena").await?;
    let rows: Vec<(i64, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, kind, from_department, to_department, correlation_id FROM handoffs WHERE kind <> 'lead' ORDER BY id",
    )
    .fetch_all(&ctx.pool)
    .await?;
    assert_eq!(
        rows,
        vec![
            (
                pf,
                "product_feedback".into(),
                "marketing".into(),
                "product".into(),
                Some("lead:cust-z".into())
            ),
            (
                rows.get(1).map_or(0, |r| r.0),
                "feature_request".into(),
                "customer_experience".into(),
                "product".into(),
                Some(format!("ticket:{}", t.id))
            ),
            (
                c.handoff_id,
                "campaign_data".into(),
                "marketing".into(),
                "sales".into(),
                Some(format!("campaign:{}", c.id))
            ),
        ]
    );
    // The stories link the workflows' events.
    for (corr, kinds) in [
        (
            format!("ticket:{}", t.id),
            vec!["handed_off", "ticket_opened"],
        ),
        (
            format!("campaign:{}", c.id),
            vec!["campaign_started", "handed_off"],
        ),
    ] {
        let mut got: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT action FROM events WHERE correlation_id = $1")
                .bind(&corr)
                .fetch_all(&ctx.pool)
                .await?;
        got.sort();
        assert_eq!(got, kinds, "{corr}");
    }
    Ok(())
}
