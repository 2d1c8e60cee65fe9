//! The outbox's Discord target and live messages against a local fake Discord.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;
use vivid_bot::testing::FakeDiscord;
use vivid_bot::{DiscordTarget, Rest, live};
use vivid_core::Ctx;
use vivid_core::crisis::Severity;
use vivid_core::crisis::service;
use vivid_core::engine::Engine;
use vivid_core::testing::default_config;

use crate::*;

const INCIDENTS: &str = "200000000000000001";
const TOKEN: &str = "test-token";

fn target(fake: &FakeDiscord) -> Setup<DiscordTarget> {
    Ok(DiscordTarget::new(Rest::new(
        &fake.base_url(),
        Some(TOKEN.into()),
    )?))
}

async fn outbox(ctx: &Ctx, id_like: &str) -> Setup<Vec<(String, Option<String>, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT status, delivered_via, last_error FROM outbox WHERE subject LIKE $1 ORDER BY id",
    )
    .bind(id_like)
    .fetch_all(&ctx.pool)
    .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_incident_is_posted_with_buttons_and_pages_go_as_direct_messages() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let fake = FakeDiscord::start()?;
    let id = open(&ctx, "Checkout is down", Severity::P1).await?;
    let engine = Engine::new(ctx.clone(), Arc::new(target(&fake)?));
    let report = engine.run_pass().await?;
    assert_eq!(report.dead, 0, "{report:?}");

    let posts = fake.matching("POST", &format!("/channels/{INCIDENTS}/messages"));
    assert_eq!(posts.len(), 1, "{:?}", fake.requests());
    let post = &posts[0];
    assert_eq!(post.authorization.as_deref(), Some("Bot test-token"));
    let embed = &post.body["embeds"][0];
    assert!(
        embed["title"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("P1 · #{id} Checkout is down"))),
        "{embed}"
    );
    assert_eq!(embed["color"], json!(vivid_bot::render::RED));
    let buttons = &post.body["components"][0]["components"];
    assert_eq!(buttons[0]["custom_id"], json!(format!("crisis:ack:{id}")));
    // Next phase waits for an acknowledgement.
    assert_eq!(buttons[1]["custom_id"], json!(format!("crisis:phase:{id}")));
    assert_eq!(buttons[1]["disabled"], json!(true));
    assert_eq!(
        buttons[2]["custom_id"],
        json!(format!("crisis:resolve:{id}"))
    );
    assert_eq!(
        buttons[3]["custom_id"],
        json!(format!("crisis:escalate:{id}"))
    );
    assert_eq!(post.body["allowed_mentions"], json!({ "parse": [] }));
    let posted = vivid_core::cards::for_entity(&ctx.pool, "crisis", &id.to_string()).await?;
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].channel_id, INCIDENTS);
    assert_eq!(
        outbox(&ctx, "Incident opened%").await?[0].1.as_deref(),
        Some("discord")
    );

    // Level one pages whoever is on call (omar, theo) by direct message, with the buttons.
    let dms = fake.matching("POST", "/users/@me/channels");
    let mut recipients: Vec<String> = dms
        .iter()
        .filter_map(|r| r.body["recipient_id"].as_str().map(str::to_string))
        .collect();
    recipients.sort();
    assert_eq!(recipients, vec![OMAR.to_string(), THEO.to_string()]);
    let pages: Vec<_> = fake
        .matching("POST", "/channels/")
        .into_iter()
        .filter(|r| r.text().contains("[escalation L1]"))
        .collect();
    assert_eq!(pages.len(), 2);
    assert_eq!(
        pages[0].body["components"][0]["components"][0]["custom_id"],
        json!(format!("crisis:ack:{id}"))
    );

    // Redelivery after a crash edits the message instead of posting a second one.
    let p = &posted[0];
    live::post(
        &ctx,
        &Rest::new(&fake.base_url(), Some(TOKEN.into()))?,
        &vivid_bot::commands::crisis::Crisis,
        &p.entity_id,
        INCIDENTS,
    )
    .await?;
    assert_eq!(
        fake.matching("POST", &format!("/channels/{INCIDENTS}/messages"))
            .len(),
        1
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_retried_after_discords_retry_after() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    let fake = FakeDiscord::start()?;
    fake.respond_once(
        "POST",
        &format!("/channels/{INCIDENTS}/messages"),
        429,
        json!({ "message": "You are being rate limited.", "retry_after": 1.5, "global": false }),
        &[],
    );
    open(&ctx, "Checkout is down", Severity::P3).await?;
    let target = target(&fake)?;
    let r = vivid_core::engine::outbox::deliver_due(&ctx, &target, 100).await?;
    assert_eq!(r.retried, 1, "{r:?}");
    let (status, _, error) = outbox(&ctx, "Incident opened%").await?.remove(0);
    assert_eq!(status, "pending");
    assert!(error.is_some_and(|e| e.contains("rate limit")));
    let next: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT next_attempt_at FROM outbox WHERE subject LIKE 'Incident opened%'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(
        next - ctx.now(),
        TimeDelta::milliseconds(1500),
        "Discord's retry_after, not the backoff"
    );

    clock.advance(TimeDelta::seconds(1));
    let r = vivid_core::engine::outbox::deliver_due(&ctx, &target, 100).await?;
    assert_eq!(r.delivered + r.retried, 0, "not before retry_after");
    clock.advance(TimeDelta::milliseconds(600));
    let r = vivid_core::engine::outbox::deliver_due(&ctx, &target, 100).await?;
    assert_eq!(r.delivered, 1, "{r:?}");
    assert_eq!(outbox(&ctx, "Incident opened%").await?[0].0, "delivered");

    // Without a body, the Retry-After header says how long.
    fake.respond_once(
        "POST",
        "/channels/",
        429,
        json!(null),
        &[("Retry-After", "7")],
    );
    open(&ctx, "Images slow", Severity::P4).await?;
    vivid_core::engine::outbox::deliver_due(&ctx, &target, 100).await?;
    let next: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT next_attempt_at FROM outbox WHERE subject LIKE '%Images slow%'")
            .fetch_one(&ctx.pool)
            .await?;
    assert_eq!(next - ctx.now(), TimeDelta::seconds(7));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_refusals_are_permanent_and_its_outages_are_retried() -> TestResult {
    let mut config = default_config();
    config.discord.channels.remove("status-page");
    for p in &mut config.org.people {
        if p.handle == "maya" {
            p.discord_id = None;
        }
    }
    let (_db, ctx, _clock) = setup_with(config).await?;
    let fake = FakeDiscord::start()?;
    let target = target(&fake)?;
    let enqueue = |recipient_kind: &'static str, to: &'static str, subject: &'static str| {
        let ctx = ctx.clone();
        async move {
            let mut conn = ctx.pool.acquire().await?;
            let n = match recipient_kind {
                "channel" => vivid_core::engine::outbox::NewNotification::to_channel(
                    to, "crisis", 1, subject,
                ),
                _ => {
                    vivid_core::engine::outbox::NewNotification::to_person(to, "crisis", 1, subject)
                }
            };
            vivid_core::engine::outbox::enqueue(&ctx, &mut conn, &n).await?;
            Ok::<_, Box<dyn std::error::Error>>(())
        }
    };
    enqueue("channel", "status-page", "no channel").await?;
    enqueue("person", "maya", "no discord id").await?;
    fake.respond_once(
        "POST",
        "/channels/",
        403,
        json!({ "message": "Missing Access", "code": 50001 }),
        &[],
    );
    enqueue("channel", "incidents", "forbidden").await?;
    vivid_core::engine::outbox::deliver_due(&ctx, &target, 100).await?;
    fake.respond_once(
        "POST",
        "/channels/",
        502,
        json!({ "message": "Bad Gateway" }),
        &[],
    );
    enqueue("channel", "incidents", "outage").await?;
    vivid_core::engine::outbox::deliver_due(&ctx, &target, 100).await?;

    let (status, _, error) = outbox(&ctx, "no channel").await?.remove(0);
    assert_eq!(status, "dead");
    assert!(
        error.is_some_and(|e| e.contains("no Discord channel is configured for \"status-page\""))
    );
    let (status, _, error) = outbox(&ctx, "no discord id").await?.remove(0);
    assert_eq!(status, "dead");
    assert!(error.is_some_and(|e| e.contains("Maya Chen (@maya) has no Discord id")));
    let (status, _, error) = outbox(&ctx, "forbidden").await?.remove(0);
    assert_eq!(status, "dead");
    assert!(error.is_some_and(|e| e.contains("403 Missing Access (code 50001)")));
    let (status, _, error) = outbox(&ctx, "outage").await?.remove(0);
    assert_eq!(status, "pending");
    assert!(error.is_some_and(|e| e.contains("502")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_can_be_turned_off() -> TestResult {
    let mut config = default_config();
    config.discord.direct_messages = false;
    let (_db, ctx, _clock) = setup_with(config).await?;
    let fake = FakeDiscord::start()?;
    let mut conn = ctx.pool.acquire().await?;
    let n = vivid_core::engine::outbox::NewNotification::to_person("omar", "crisis", 1, "hello");
    vivid_core::engine::outbox::enqueue(&ctx, &mut conn, &n).await?;
    vivid_core::engine::outbox::deliver_due(&ctx, &target(&fake)?, 100).await?;
    let (status, _, error) = outbox(&ctx, "hello").await?.remove(0);
    assert_eq!(status, "dead");
    assert!(error.is_some_and(|e| e.contains("direct messages are turned off")));
    assert!(fake.requests().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_posted_card_is_edited_on_every_change_wherever_it_came_from() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let fake = FakeDiscord::start()?;
    let rest = Rest::new(&fake.base_url(), Some(TOKEN.into()))?;
    let id = open(&ctx, "Checkout is down", Severity::P3).await?;
    vivid_core::engine::outbox::deliver_due(&ctx, &target(&fake)?, 100).await?;
    let posted = vivid_core::cards::for_entity(&ctx.pool, "crisis", &id.to_string()).await?;
    let message_id = posted.first().ok_or("not posted")?.message_id.clone();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let updater = tokio::spawn(live::run(ctx.clone(), rest.clone(), stopped));
    // Give the listener a moment to subscribe before the change.
    tokio::time::sleep(Duration::from_millis(300)).await;
    service::acknowledge(&ctx, id, "omar").await?;
    let path = format!("/channels/{INCIDENTS}/messages/{message_id}");
    let patch = fake
        .wait_for(Duration::from_secs(10), |r| {
            r.method == "PATCH" && r.path == path && r.text().contains("Omar Haddad")
        })
        .await
        .ok_or("the card was not edited after the acknowledgement")?;
    assert!(patch.text().contains("Acknowledged"), "{}", patch.text());
    stop.send(true).ok();
    updater.await?;

    // While the updater was away, the incident was resolved: it catches up on start.
    service::resolve(&ctx, id, "theo", "rolled back").await?;
    assert!(!vivid_core::cards::stale(&ctx.pool).await?.is_empty());
    let caught_up = live::refresh_stale(&ctx, &rest).await?;
    assert_eq!(caught_up, 1);
    let last = fake.matching("PATCH", &path).pop().ok_or("no edit")?;
    assert!(
        last.text().contains("Resolved") && last.text().contains("Theo Novak"),
        "{}",
        last.text()
    );
    assert_eq!(
        last.body["components"],
        json!([]),
        "no buttons once resolved"
    );
    assert!(vivid_core::cards::stale(&ctx.pool).await?.is_empty());

    // A message deleted in Discord is forgotten, not retried forever.
    fake.respond_once(
        "PATCH",
        &path,
        404,
        json!({ "message": "Unknown Message", "code": 10008 }),
        &[],
    );
    service::close(&ctx, id, "omar").await?;
    live::refresh_stale(&ctx, &rest).await?;
    assert!(
        vivid_core::cards::for_entity(&ctx.pool, "crisis", &id.to_string())
            .await?
            .is_empty()
    );
    Ok(())
}

/// A hand-off opened by another workflow (here a crisis asking Product
/// for help) is posted to the receiving department's channel as the
/// hand-off's own card, with its Ack button: not as plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_off_opened_by_a_crisis_is_posted_as_a_card_with_its_buttons() -> TestResult {
    const PRODUCT: &str = "200000000000000077";
    let mut config = default_config();
    config
        .discord
        .channels
        .insert("product".into(), PRODUCT.into());
    let (_db, ctx, _clock) = setup_with(config).await?;
    let fake = FakeDiscord::start()?;
    let incident = open(&ctx, "Checkout is down", Severity::P2).await?;
    let h = service::request_support(
        &ctx,
        incident,
        "product",
        "Pause the checkout redesign rollout",
        &[],
        "omar",
    )
    .await?;
    let engine = Engine::new(ctx.clone(), Arc::new(target(&fake)?));
    let report = engine.run_pass().await?;
    assert_eq!(report.dead, 0, "{report:?}");
    let posts = fake.matching("POST", &format!("/channels/{PRODUCT}/messages"));
    assert_eq!(posts.len(), 1, "{:?}", fake.requests());
    let embed = &posts[0].body["embeds"][0];
    assert!(
        embed["title"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("Hand-off #{}", h.id))),
        "{embed}"
    );
    let buttons = &posts[0].body["components"][0]["components"];
    assert_eq!(
        buttons[0]["custom_id"],
        json!(format!("handoff:ack:{}", h.id))
    );
    Ok(())
}
