//! The content lifecycle against a real PostgreSQL, with simulated time.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::content::ContentConfig;
use vivid_core::content::model::State;
use vivid_core::content::service::{self, NewContent, Reading};
use vivid_core::engine::approvals::{Decision, Outcome};
use vivid_core::engine::{Engine, outbox::LogTarget};
use vivid_core::testing::{TestDb, default_config, fresh_db};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T14:00:00Z")
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

fn newsletter(cost_cents: i64, kind: &str, channel: &str) -> NewContent {
    NewContent {
        kind: kind.into(),
        title: "Spring sale".into(),
        body: "brief".into(),
        owner: "lena".into(),
        channel: channel.into(),
        campaign: None,
        cost_cents,
    }
}

fn err_text<T: std::fmt::Debug>(r: Result<T, vivid_core::Error>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

/// The item's state as stored ("approved").
async fn state(ctx: &Ctx, id: i64) -> Result<String, vivid_core::Error> {
    Ok(service::detail(ctx, id)
        .await?
        .item
        .state
        .as_str()
        .to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_lives_its_whole_life_and_the_log_tells_it() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let item = service::create(&ctx, &newsletter(0, "newsletter", "email"), "lena").await?;
    assert!(err_text(service::submit(&ctx, item.id, "lena").await).contains("first draft"));
    assert!(err_text(service::publish(&ctx, item.id, "lena").await).contains("approved version"));
    service::edit(&ctx, item.id, "lena", None, "Draft one", None).await?;
    // Two rounds of changes.
    for (round, reviewer) in [(1, "maya"), (2, "iris")] {
        service::submit(&ctx, item.id, "lena").await?;
        assert!(
            err_text(service::edit(&ctx, item.id, "lena", None, "sneaky", None).await)
                .contains("cannot be edited")
        );
        let d = service::decide(
            &ctx,
            item.id,
            reviewer,
            Decision::RequestChanges,
            "Sharper subject line",
            None,
        )
        .await?;
        assert_eq!(
            (d.item.state.as_str(), d.item.revision_rounds),
            ("creation", round)
        );
        service::edit(
            &ctx,
            item.id,
            "lena",
            None,
            &format!("Draft {}", round + 1),
            Some("sharper subject"),
        )
        .await?;
    }
    let (submitted, req) = service::submit(&ctx, item.id, "lena").await?;
    assert_eq!((submitted.version, req.required), (4, 2));
    // Self-approval, no role, superseded version: refused.
    assert!(
        err_text(service::decide(&ctx, item.id, "lena", Decision::Approve, "", None).await)
            .contains("no self-approval")
    );
    assert!(
        err_text(service::decide(&ctx, item.id, "sam", Decision::Approve, "", None).await)
            .contains("may not decide")
    );
    assert!(
        err_text(service::decide(&ctx, item.id, "maya", Decision::Approve, "", Some(3)).await)
            .contains("superseded")
    );
    assert!(
        err_text(service::decide(&ctx, item.id, "maya", Decision::Reject, "", None).await)
            .contains("comment")
    );
    // Two directors at the same instant: both recorded, approved once.
    let (a, b) = tokio::join!(
        service::decide(&ctx, item.id, "maya", Decision::Approve, "Good", Some(4)),
        service::decide(&ctx, item.id, "iris", Decision::Approve, "Lovely", Some(4)),
    );
    let outcomes = [a?.outcome, b?.outcome];
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Approved).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(state(&ctx, item.id).await?, "approved");
    let published = service::publish(&ctx, item.id, "lena").await?;
    assert_eq!(published.state, State::Published);

    // Underperforming: 1% CTR against a 3.5% baseline.
    service::record_metrics(
        &ctx,
        item.id,
        Reading {
            views: 10_000,
            clicks: 100,
            conversions: 4,
            revenue_cents: 60_000,
        },
        "esp",
    )
    .await?;
    assert_eq!(state(&ctx, item.id).await?, "performance");
    clock.advance(TimeDelta::days(7));
    engine.run_pass().await?;
    assert_eq!(state(&ctx, item.id).await?, "optimization");
    let task: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE person = 'lena' AND subject LIKE 'Optimise content%'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(task, 1, "an optimisation task for the owner");
    // Optimise: a new version needs its own approval before it goes back out.
    service::edit(
        &ctx,
        item.id,
        "lena",
        Some("Spring sale: 20% off frames"),
        "Optimised",
        Some("new subject"),
    )
    .await?;
    assert!(err_text(service::publish(&ctx, item.id, "lena").await).contains("not approved"));
    service::submit(&ctx, item.id, "lena").await?;
    service::decide(&ctx, item.id, "maya", Decision::Approve, "", None).await?;
    service::decide(&ctx, item.id, "iris", Decision::Approve, "", None).await?;
    service::publish(&ctx, item.id, "lena").await?;
    assert_eq!(state(&ctx, item.id).await?, "performance");
    service::record_metrics(
        &ctx,
        item.id,
        Reading {
            views: 10_000,
            clicks: 420,
            conversions: 30,
            revenue_cents: 450_000,
        },
        "esp",
    )
    .await?;
    clock.advance(TimeDelta::days(7));
    engine.run_pass().await?;
    assert_eq!(
        state(&ctx, item.id).await?,
        "maintenance",
        "performing well"
    );
    // Stale after 90 days without an update, with no recent clicks: archived.
    clock.advance(TimeDelta::days(91));
    engine.run_pass().await?;
    assert_eq!(state(&ctx, item.id).await?, "archival");
    assert!(
        err_text(service::edit(&ctx, item.id, "lena", None, "x", None).await).contains("final")
    );

    let events: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT action, from_state, to_state FROM events WHERE workflow = 'content' AND entity_type = 'content' ORDER BY id",
    )
    .fetch_all(&ctx.pool)
    .await?;
    let path: Vec<String> = events
        .iter()
        .filter(|(_, f, t)| f != t)
        .filter_map(|(_, _, t)| t.clone())
        .collect();
    assert_eq!(
        path,
        [
            "planning",
            "creation",
            "review",
            "creation",
            "review",
            "creation",
            "review",
            "approved",
            "published",
            "performance",
            "optimization",
            "performance",
            "maintenance",
            "archival"
        ]
    );
    let diff = service::diff(&ctx, item.id, Some(1), Some(5)).await?;
    assert!(
        diff.contains("-brief") && diff.contains("+Optimised"),
        "{diff}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expensive_ads_need_finance_and_the_revision_cap_hands_over_to_marketing() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let ad = service::create(
        &ctx,
        &NewContent {
            owner: "remy".into(),
            ..newsletter(150_000, "ad_creative", "ads")
        },
        "remy",
    )
    .await?;
    service::edit(&ctx, ad.id, "remy", None, "v2", None).await?;
    let (_, req) = service::submit(&ctx, ad.id, "remy").await?;
    assert_eq!(req.required, 2);
    assert_eq!(
        req.must_include,
        vec![
            "director:finance".to_string(),
            "business_manager".to_string()
        ]
    );
    let d = service::decide(&ctx, ad.id, "maya", Decision::Approve, "", None).await?;
    assert_eq!(
        d.outcome,
        Outcome::Pending {
            approvals: 1,
            required: 2
        }
    );
    let d = service::decide(&ctx, ad.id, "iris", Decision::Approve, "", None).await?;
    assert!(
        matches!(d.outcome, Outcome::Pending { .. }),
        "two creative approvals are not enough: {:?}",
        d.outcome
    );
    let d = service::decide(&ctx, ad.id, "felix", Decision::Approve, "Budget OK", None).await?;
    assert_eq!(d.outcome, Outcome::Approved);

    let post = service::create(
        &ctx,
        &NewContent {
            owner: "remy".into(),
            ..newsletter(0, "social_post", "social")
        },
        "remy",
    )
    .await?;
    service::edit(&ctx, post.id, "remy", None, "v", None).await?;
    for _ in 0..5 {
        service::submit(&ctx, post.id, "remy").await?;
        service::decide(
            &ctx,
            post.id,
            "iris",
            Decision::RequestChanges,
            "again",
            None,
        )
        .await?;
        service::edit(&ctx, post.id, "remy", None, "v", None).await?;
    }
    let (_, req) = service::submit(&ctx, post.id, "remy").await?;
    assert_eq!(
        req.eligible_roles,
        vec!["director:marketing".to_string()],
        "after 5 rounds the Marketing director decides"
    );
    assert!(
        err_text(service::decide(&ctx, post.id, "iris", Decision::Approve, "", None).await)
            .contains("may not decide")
    );
    service::decide(&ctx, post.id, "maya", Decision::Approve, "Ship it", None).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_past_its_deadline_is_rerouted_never_stuck() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let item = service::create(&ctx, &newsletter(0, "blog_post", "web"), "lena").await?;
    service::edit(&ctx, item.id, "lena", None, "draft", None).await?;
    service::submit(&ctx, item.id, "lena").await?;
    let queue = service::queue(&ctx, "maya").await?;
    assert_eq!(queue.len(), 1);
    assert!(
        service::queue(&ctx, "lena").await?.is_empty(),
        "nothing waits on the owner"
    );
    clock.advance(TimeDelta::hours(20));
    engine.run_pass().await?;
    clock.advance(TimeDelta::hours(4) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    // Past the deadline the request is re-routed to the Marketing director
    // (who may decide alone), and then to the Business Manager.
    let rerouted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE person = 'maya' AND subject LIKE 'Overdue approval re-routed to you:%'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(rerouted, 1);
    clock.advance(ctx.config.approvals.reroute_window.delta() + TimeDelta::seconds(1));
    engine.run_pass().await?;
    let bea: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE person = 'bea' AND subject LIKE 'Overdue approval re-routed to you:%'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(bea, 1);
    assert_eq!(
        service::queue(&ctx, "bea").await?.len(),
        1,
        "bea may decide it now"
    );
    // The owner may still resubmit an overdue review ...
    service::submit(&ctx, item.id, "lena").await?;
    // ... and a late decision is taken, not refused.
    service::decide(&ctx, item.id, "maya", Decision::Approve, "", None).await?;
    assert_eq!(state(&ctx, item.id).await?, "approved");
    // Bad input.
    assert!(
        err_text(
            service::record_metrics(
                &ctx,
                item.id,
                Reading {
                    views: 10,
                    clicks: 20,
                    conversions: 0,
                    revenue_cents: 0
                },
                "x"
            )
            .await
        )
        .contains("not possible")
    );
    assert!(
        err_text(service::create(&ctx, &newsletter(0, "billboard", "web"), "lena").await)
            .contains("unknown content type")
    );
    assert!(
        err_text(service::decide(&ctx, 999, "maya", Decision::Approve, "", None).await)
            .contains("no content item #999")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valuable_content_in_maintenance_goes_back_to_performance() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    let item = service::create(&ctx, &newsletter(0, "blog_post", "web"), "lena").await?;
    service::edit(&ctx, item.id, "lena", None, "draft", None).await?;
    service::submit(&ctx, item.id, "lena").await?;
    service::decide(&ctx, item.id, "iris", Decision::Approve, "", None).await?;
    service::publish(&ctx, item.id, "lena").await?;
    service::record_metrics(
        &ctx,
        item.id,
        Reading {
            views: 1000,
            clicks: 30,
            conversions: 2,
            revenue_cents: 0,
        },
        "ga",
    )
    .await?;
    clock.advance(TimeDelta::days(7));
    engine.run_pass().await?;
    assert_eq!(state(&ctx, item.id).await?, "maintenance");
    for _ in 0..14 {
        clock.advance(TimeDelta::days(7));
        service::record_metrics(
            &ctx,
            item.id,
            Reading {
                views: 1000,
                clicks: 30,
                conversions: 2,
                revenue_cents: 0,
            },
            "ga",
        )
        .await?;
        engine.run_pass().await?;
    }
    // Stale by age, but still earning its clicks: back to Performance.
    let history: Vec<String> = sqlx::query_scalar("SELECT action FROM events WHERE workflow = 'content' AND entity_type = 'content' ORDER BY id")
        .fetch_all(&ctx.pool)
        .await?;
    assert!(
        history.iter().any(|a| a == "content_valuable"),
        "{history:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_edit_comes_from_config() -> TestResult {
    let db = fresh_db().await?;
    let mut config = default_config();
    config
        .section_mut::<ContentConfig>()
        .ok_or("no [content] section")?
        .roles
        .edit = vec!["director:creative".into()];
    let ctx = db.ctx(config, Arc::new(SimClock::at(t0()))).await?;
    let item = service::create(&ctx, &newsletter(0, "newsletter", "email"), "lena").await?;
    // The owner always may; the Creative director now may; Maya no longer.
    service::edit(&ctx, item.id, "lena", None, "Draft one", None).await?;
    service::edit(&ctx, item.id, "iris", None, "Draft two", None).await?;
    let refused = err_text(service::edit(&ctx, item.id, "maya", None, "Draft three", None).await);
    assert!(
        refused.contains("it takes its owner (@lena) or the Creative director"),
        "{refused}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_stored_state_is_an_error_not_a_panic() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let item = service::create(&ctx, &newsletter(0, "newsletter", "email"), "lena").await?;
    sqlx::query("UPDATE content_items SET state = 'limbo' WHERE id = $1")
        .bind(item.id)
        .execute(&ctx.pool)
        .await?;
    let err = err_text(service::detail(&ctx, item.id).await);
    assert!(err.contains("unknown content state \"limbo\""), "{err}");
    Ok(())
}

/// Money flows one way: an approved piece's cost lands on its owner's
/// department's budget line, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_cost_is_committed_on_the_owners_budget_line() -> TestResult {
    use vivid_core::budget::service::{SetLine, set_line};
    let (db, ctx, _clock, _engine) = setup().await?;
    let line = SetLine {
        department: "creative".into(),
        amount_cents: 1_000_000,
        channel: None,
        campaign: None,
        period: None,
        hard: false,
        rollover: None,
    };
    set_line(&ctx, &line, "felix").await?;
    let ad = service::create(
        &ctx,
        &NewContent {
            owner: "remy".into(),
            ..newsletter(150_000, "ad_creative", "ads")
        },
        "remy",
    )
    .await?;
    service::edit(&ctx, ad.id, "remy", None, "v2", None).await?;
    service::submit(&ctx, ad.id, "remy").await?;
    for approver in ["maya", "iris", "felix"] {
        service::decide(&ctx, ad.id, approver, Decision::Approve, "ok", None).await?;
    }
    let committed: i64 = sqlx::query_scalar(
        "SELECT committed_cents FROM budget_lines WHERE department = 'creative'",
    )
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(committed, 150_000);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvers_read_the_text_and_the_changes_since_the_last_approved_version() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let item = service::create(&ctx, &newsletter(0, "blog_post", "web"), "lena").await?;
    let v1 = service::edit(
        &ctx,
        item.id,
        "lena",
        None,
        "Spring sale: 10% off\nSee you",
        None,
    )
    .await?
    .version;
    let (_, first) = service::submit(&ctx, item.id, "lena").await?;
    let review = vivid_core::decisions::review_text(&ctx, first.id)
        .await?
        .unwrap_or_else(|| panic!("content has a review text"));
    assert_eq!(review.version, v1);
    assert_eq!(review.body, "Spring sale: 10% off\nSee you");
    service::decide(&ctx, item.id, "maya", Decision::RequestChanges, "20%", None).await?;
    let v2 = service::edit(
        &ctx,
        item.id,
        "lena",
        None,
        "Spring sale: 20% off\nSee you",
        None,
    )
    .await?
    .version;
    let (_, second) = service::submit(&ctx, item.id, "lena").await?;
    let review = vivid_core::decisions::review_text(&ctx, second.id)
        .await?
        .unwrap_or_else(|| panic!("content has a review text"));
    assert_eq!(review.version, v2);
    assert_eq!(
        review.base_version,
        Some(v1),
        "nothing approved yet: the previous version"
    );
    assert!(review.diff.contains("@@ -1,2 +1,2 @@"), "{}", review.diff);
    assert!(
        review.diff.contains("-Spring sale: 10% off"),
        "{}",
        review.diff
    );
    assert!(
        review.diff.contains("+Spring sale: 20% off"),
        "{}",
        review.diff
    );
    Ok(())
}
