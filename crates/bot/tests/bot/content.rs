//! `/content` and the review card: handlers called with Discord's JSON, and
//! the card posted and kept current against a local fake Discord.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vivid_bot::model::Response;
use vivid_bot::testing::{FakeDiscord, autocomplete, command, component, modal_submit};
use vivid_bot::{DiscordTarget, Rest, live};
use vivid_core::Ctx;
use vivid_core::content::service::{self as content, NewContent};
use vivid_core::engine::Engine;
use vivid_core::engine::approvals::Decision;

use crate::*;

const MAYA: &str = "100000000000000002"; // marketing director
const IRIS: &str = "100000000000000010"; // creative director
const LENA: &str = "100000000000000016"; // marketing team lead, owns the content
const CONTENT_REVIEW: &str = "200000000000000003";

/// Lena writes a first draft (version 2) and submits it for review.
async fn submitted(ctx: &Ctx, kind: &str, title: &str) -> Setup<i64> {
    let item = content::create(
        ctx,
        &NewContent {
            kind: kind.into(),
            title: title.into(),
            body: "brief".into(),
            owner: "lena".into(),
            channel: "web".into(),
            campaign: None,
            cost_cents: 0,
        },
        "lena",
    )
    .await?;
    content::edit(
        ctx,
        item.id,
        "lena",
        None,
        "Spring is here: 20% off every canvas this week.",
        Some("first draft"),
    )
    .await?;
    content::submit(ctx, item.id, "lena").await?;
    Ok(item.id)
}

fn opts(id: i64, comment: Option<&str>, version: Option<i64>) -> Value {
    let mut o = vec![json!({ "name": "id", "type": 4, "value": id })];
    if let Some(c) = comment {
        o.push(json!({ "name": "comment", "type": 3, "value": c }));
    }
    if let Some(v) = version {
        o.push(json!({ "name": "version", "type": 4, "value": v }));
    }
    Value::Array(o)
}

async fn item_row(ctx: &Ctx, id: i64) -> Setup<(String, Option<i32>, i32)> {
    Ok(sqlx::query_as(
        "SELECT state, approved_version, revision_rounds FROM content_items WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&ctx.pool)
    .await?)
}

/// (approver, decision, comment) of every decision on the item's approvals.
async fn decisions(ctx: &Ctx, id: i64) -> Setup<Vec<(String, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT d.approver, d.decision, d.comment FROM approval_decisions d
         JOIN approval_requests r ON r.id = d.request_id
         WHERE r.workflow = 'content' AND r.entity_id = $1 ORDER BY d.id",
    )
    .bind(id.to_string())
    .fetch_all(&ctx.pool)
    .await?)
}

fn update(r: &Response) -> Setup<&vivid_bot::model::Message> {
    match r {
        Response::Update(m) => Ok(m),
        other => Err(format!("expected the card to be edited, got {other:?}").into()),
    }
}

fn custom_ids(m: &vivid_bot::model::Message) -> Vec<String> {
    m.components
        .iter()
        .flatten()
        .map(|b| b.custom_id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_director_approves_content_by_slash_command_as_themselves() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let id = submitted(&ctx, "blog_post", "Spring sale post").await?;

    // The queue: what waits on Maya, with its deadline as a Discord timestamp.
    let r = run(&ctx, &command(MAYA, "content", Some("queue"), json!([]))).await?;
    let text = ephemeral_text(&r)?;
    assert!(text.contains("Waiting on your review (1)"), "{text}");
    assert!(
        text.contains(&format!("**#{id} Spring sale post** · v2")),
        "{text}"
    );
    assert!(
        text.contains("by Lena Fischer · 0/1 approved · due <t:"),
        "{text}"
    );

    let r = run(
        &ctx,
        &command(
            MAYA,
            "content",
            Some("approve"),
            opts(id, Some("Lovely"), None),
        ),
    )
    .await?;
    let m = message(&r)?;
    assert!(!m.ephemeral, "a decision is announced: {m:?}");
    let text = m.plain_text();
    assert!(
        text.contains(&format!("**Maya Chen** approved v2 of #{id}")),
        "{text}"
    );
    assert!(text.contains("can be published — Lovely"), "{text}");
    assert!(text.contains("State: Approved"), "{text}");
    assert!(text.contains("Approvals: 1 of 1 · approved"), "{text}");
    assert!(
        text.contains("Decisions: ✅ Maya Chen approved <t:") && text.contains(": Lovely"),
        "{text}"
    );
    assert!(m.components.is_empty(), "nothing left to decide");

    // The database says Maya approved version 2.
    assert_eq!(
        decisions(&ctx, id).await?,
        vec![("maya".into(), "approve".into(), "Lovely".into())]
    );
    assert_eq!(item_row(&ctx, id).await?, ("approved".into(), Some(2), 0));
    let text =
        ephemeral_text(&run(&ctx, &command(MAYA, "content", Some("queue"), json!([]))).await?)?;
    assert!(text.contains("Nothing waits on you"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_approval_and_cores_other_refusals_are_private() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let id = submitted(&ctx, "blog_post", "Spring sale post").await?;
    let refused = |user: &'static str, sub: &'static str, o: Value| {
        let ctx = ctx.clone();
        async move { ephemeral_text(&run(&ctx, &command(user, "content", Some(sub), o)).await?) }
    };

    let text = refused(LENA, "approve", opts(id, None, None)).await?;
    assert!(text.contains("no self-approval"), "{text}");
    let text = refused(REMY, "approve", opts(id, None, None)).await?;
    assert!(
        text.contains("may not decide") && text.contains("director:marketing"),
        "{text}"
    );
    let text = refused(MAYA, "approve", opts(id, None, Some(1))).await?;
    assert!(text.contains("version 1 is superseded"), "{text}");
    let text = refused(MAYA, "reject", opts(id, Some("  "), None)).await?;
    assert!(text.contains("needs a comment"), "{text}");
    let text = refused(MAYA, "show", opts(424_242, None, None)).await?;
    assert!(text.contains("no content item #424242"), "{text}");
    let text = ephemeral_text(&run(&ctx, &component(MAYA, "content:approve:x:2", "1")).await?)?;
    assert!(text.contains("not a content item number"), "{text}");

    // (Past the deadline a decision is still taken: the request is
    // re-routed, never refused for lateness; see the engine's tests.)
    assert!(decisions(&ctx, id).await?.is_empty(), "nothing was decided");
    assert_eq!(item_row(&ctx, id).await?.0, "review");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_discord_user_cannot_review_content() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let id = submitted(&ctx, "blog_post", "Spring sale post").await?;
    for json in [
        command(STRANGER, "content", Some("approve"), opts(id, None, None)),
        command(STRANGER, "content", Some("queue"), json!([])),
        component(STRANGER, &format!("content:approve:{id}:2"), "1"),
        modal_submit(
            STRANGER,
            &format!("content:changes:{id}:2"),
            &[("comment", "no")],
            Some("1"),
        ),
    ] {
        let text = ephemeral_text(&run(&ctx, &json).await?)?;
        assert!(
            text.contains("not in the VividWalls directory") && text.contains(STRANGER),
            "{text}"
        );
    }
    assert!(decisions(&ctx, id).await?.is_empty());
    assert_eq!(item_row(&ctx, id).await?.0, "review");
    let r = run(
        &ctx,
        &autocomplete(STRANGER, "content", Some("approve"), "id", json!("")),
    )
    .await?;
    assert_eq!(r, Response::Choices(vec![]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_approve_and_request_changes_through_a_modal() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    // An e-mail needs two approvals.
    let id = submitted(&ctx, "email", "Spring sale e-mail").await?;

    let r = run(
        &ctx,
        &command(MAYA, "content", Some("show"), opts(id, None, None)),
    )
    .await?;
    let m = message(&r)?;
    assert!(m.ephemeral);
    let text = m.plain_text();
    assert!(
        text.contains(&format!("#{id} Spring sale e-mail")),
        "{text}"
    );
    assert!(
        text.contains("Spring is here: 20% off"),
        "the version under review: {text}"
    );
    assert!(text.contains("Owner: Lena Fischer"), "{text}");
    assert!(text.contains("Version: v2"), "{text}");
    assert!(text.contains("State: Review"), "{text}");
    assert!(text.contains("Approvals: 0 of 2"), "{text}");
    assert!(text.contains("Deadline: due <t:"), "{text}");
    assert_eq!(
        custom_ids(m),
        vec![
            format!("content:approve:{id}:2"),
            format!("content:changes:{id}:2")
        ]
    );

    // Approve: the card the button sits on shows one of two.
    let r = run(
        &ctx,
        &component(MAYA, &format!("content:approve:{id}:2"), "555"),
    )
    .await?;
    let text = update(&r)?.plain_text();
    assert!(text.contains("Approvals: 1 of 2"), "{text}");
    assert!(text.contains("✅ Maya Chen approved <t:"), "{text}");
    assert_eq!(update(&r)?.components.len(), 1, "Iris can still decide");

    // Request changes asks for the comment first.
    let r = run(
        &ctx,
        &component(IRIS, &format!("content:changes:{id}:2"), "555"),
    )
    .await?;
    let Response::Modal(modal) = &r else {
        return Err(format!("expected a modal, got {r:?}").into());
    };
    assert_eq!(modal.custom_id, format!("content:changes:{id}:2"));
    assert_eq!(modal.inputs[0].custom_id, "comment");
    assert_eq!(decisions(&ctx, id).await?.len(), 1, "nothing yet");

    let r = run(
        &ctx,
        &modal_submit(
            IRIS,
            &modal.custom_id,
            &[("comment", "A shorter subject line")],
            Some("555"),
        ),
    )
    .await?;
    let m = update(&r)?;
    let text = m.plain_text();
    assert!(text.contains("State: Creation"), "{text}");
    assert!(text.contains("changes requested"), "{text}");
    assert!(
        text.contains("✏️ Iris Kowalski requested changes <t:")
            && text.contains(": A shorter subject line"),
        "{text}"
    );
    assert!(m.components.is_empty(), "the review is over");
    assert_eq!(
        decisions(&ctx, id).await?,
        vec![
            ("maya".into(), "approve".into(), String::new()),
            (
                "iris".into(),
                "request_changes".into(),
                "A shorter subject line".into()
            ),
        ]
    );
    assert_eq!(item_row(&ctx, id).await?, ("creation".into(), None, 1));

    // A button on a stale card: core says why, privately.
    let text = ephemeral_text(
        &run(
            &ctx,
            &component(OMAR, &format!("content:approve:{id}:2"), "555"),
        )
        .await?,
    )?;
    assert!(!text.is_empty());

    // The same from a slash command, announced with the comment.
    content::edit(&ctx, id, "lena", None, "Spring sale: 20% off", None).await?;
    content::submit(&ctx, id, "lena").await?;
    let r = run(
        &ctx,
        &command(
            IRIS,
            "content",
            Some("reject"),
            opts(id, Some("Off-brand"), Some(3)),
        ),
    )
    .await?;
    let m = message(&r)?;
    assert!(!m.ephemeral);
    assert!(
        m.plain_text().contains(&format!(
            "⛔ **Iris Kowalski** rejected v3 of #{id} — Off-brand"
        )),
        "{}",
        m.plain_text()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_offers_the_askers_queue_or_any_item() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let post = submitted(&ctx, "blog_post", "Spring sale post").await?;
    let page = submitted(&ctx, "product_page", "Dune Shadows").await?;
    // Product pages may also be approved by the Product director, not blog posts.
    let choices = |user: &'static str, sub: &'static str, typed: Value| {
        let ctx = ctx.clone();
        async move {
            match run(&ctx, &autocomplete(user, "content", Some(sub), "id", typed)).await? {
                Response::Choices(c) => Ok::<_, Box<dyn std::error::Error>>(c),
                other => Err(format!("expected choices, got {other:?}").into()),
            }
        }
    };
    let c = choices(MAYA, "approve", json!("")).await?;
    assert_eq!(
        c.iter().map(|c| c.value.clone()).collect::<Vec<_>>(),
        vec![json!(post), json!(page)],
        "oldest first"
    );
    let c = choices(MAYA, "approve", json!("dune")).await?;
    assert_eq!(c.len(), 1);
    assert!(
        c[0].name.contains("v2 0/1 approved — Dune Shadows"),
        "{}",
        c[0].name
    );
    let priya = "100000000000000006";
    let c = choices(priya, "approve", json!("")).await?;
    assert_eq!(
        c.iter().map(|c| c.value.clone()).collect::<Vec<_>>(),
        vec![json!(page)]
    );
    // Show looks at everything, by number too.
    let c = choices(REMY, "show", json!(format!("#{post}"))).await?;
    assert_eq!(c[0].value, json!(post));
    Ok(())
}

fn target(fake: &FakeDiscord) -> Setup<DiscordTarget> {
    Ok(DiscordTarget::new(Rest::new(
        &fake.base_url(),
        Some("test-token".into()),
    )?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_item_is_posted_for_review_and_its_card_follows_a_cli_approval() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let fake = FakeDiscord::start()?;
    let rest = Rest::new(&fake.base_url(), Some("test-token".into()))?;
    let id = submitted(&ctx, "blog_post", "Spring sale post").await?;
    let engine = Engine::new(ctx.clone(), Arc::new(target(&fake)?));
    let report = engine.run_pass().await?;
    assert_eq!(report.dead, 0, "{report:?}");

    // The review card, in the content-review channel, with its buttons.
    let posts = fake.matching("POST", &format!("/channels/{CONTENT_REVIEW}/messages"));
    assert_eq!(posts.len(), 1, "{:?}", fake.requests());
    let card = &posts[0].body;
    let title = card["embeds"][0]["title"].as_str().unwrap_or_default();
    assert!(
        title.contains(&format!("blog post #{id} Spring sale post")),
        "{card}"
    );
    assert_eq!(card["embeds"][0]["color"], json!(vivid_bot::render::YELLOW));
    let buttons = &card["components"][0]["components"];
    assert_eq!(
        buttons[0]["custom_id"],
        json!(format!("content:approve:{id}:2"))
    );
    assert_eq!(
        buttons[1]["custom_id"],
        json!(format!("content:changes:{id}:2"))
    );
    let posted = vivid_core::cards::for_entity(&ctx.pool, "content", &id.to_string()).await?;
    assert_eq!(posted.len(), 1);
    let message_id = posted[0].message_id.clone();

    // Each reviewer gets "Approval needed" as a direct message, with the buttons.
    let mut recipients: Vec<String> = fake
        .matching("POST", "/users/@me/channels")
        .iter()
        .filter_map(|r| r.body["recipient_id"].as_str().map(str::to_string))
        .collect();
    recipients.sort();
    assert_eq!(recipients, vec![MAYA.to_string(), IRIS.to_string()]);
    let asks: Vec<_> = fake
        .matching("POST", "/channels/")
        .into_iter()
        .filter(|r| r.text().contains("Approval needed"))
        .collect();
    assert_eq!(asks.len(), 2);
    assert_eq!(
        asks[0].body["components"][0]["components"][0]["custom_id"],
        json!(format!("content:approve:{id}:2"))
    );

    // Maya approves from the CLI (core's service): the posted card follows.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let updater = tokio::spawn(live::run(ctx.clone(), rest.clone(), stopped));
    tokio::time::sleep(Duration::from_millis(300)).await;
    content::decide(&ctx, id, "maya", Decision::Approve, "ship it", Some(2)).await?;
    let path = format!("/channels/{CONTENT_REVIEW}/messages/{message_id}");
    let patch = fake
        .wait_for(Duration::from_secs(10), |r| {
            r.method == "PATCH" && r.path == path && r.text().contains("Maya Chen")
        })
        .await
        .ok_or("the card was not edited after the approval")?;
    let text = patch.text();
    assert!(
        text.contains("Approved") && text.contains("ship it") && text.contains("1 of 1"),
        "{text}"
    );
    assert_eq!(
        patch.body["components"],
        json!([]),
        "no buttons once decided"
    );
    assert_eq!(
        patch.body["embeds"][0]["color"],
        json!(vivid_bot::render::GREEN)
    );
    stop.send(true).ok();
    updater.await?;

    // Lena hears the outcome by direct message, without buttons to decide.
    engine.run_pass().await?;
    let outcome = fake
        .matching("POST", "/channels/")
        .into_iter()
        .find(|r| r.text().contains(": approved"))
        .ok_or("the owner was not told")?;
    assert_eq!(outcome.body["components"], json!([]));
    assert!(
        fake.matching("POST", "/users/@me/channels")
            .iter()
            .any(|r| r.body["recipient_id"] == json!(LENA))
    );
    Ok(())
}
