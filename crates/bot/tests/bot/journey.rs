//! `/journey`: the queue of leads waiting on Sales, one lead's card, and
//! "Contacted" by subcommand and by button: handlers called with Discord's
//! JSON.

use chrono::TimeDelta;
use serde_json::{Value, json};
use vivid_bot::model::Response;
use vivid_bot::testing::{autocomplete, command, component};
use vivid_core::Ctx;
use vivid_core::journey::service::{self, NewTouch};

use crate::*;

const LENA: &str = "100000000000000016"; // marketing team lead
const NICO: &str = "100000000000000017"; // sales team lead

/// A form submitted (150 points): the lead is handed to Sales at once.
async fn qualified(ctx: &Ctx, key: &str) -> TestResult {
    let t = service::touch(
        ctx,
        &NewTouch {
            prospect: key.into(),
            channel: "site".into(),
            kind: "form_submitted".into(),
            idempotency_key: format!("{key}-form"),
            segment: Some("interior-designers".into()),
            content_id: None,
        },
        "site",
    )
    .await?;
    if t.handed_off.is_none() {
        return Err(format!("{key} was not handed off: {t:?}").into());
    }
    Ok(())
}

fn key(k: &str) -> Value {
    json!([{ "name": "key", "type": 3, "value": k }])
}

fn button_ids(m: &vivid_bot::model::Message) -> Vec<String> {
    m.components
        .iter()
        .flatten()
        .map(|b| b.custom_id.clone())
        .collect()
}

async fn status(ctx: &Ctx, key: &str) -> Setup<(String, Option<String>)> {
    Ok(
        sqlx::query_as("SELECT status, contacted_by FROM prospects WHERE key = $1")
            .bind(key)
            .fetch_one(&ctx.pool)
            .await?,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_sees_the_lead_queue_and_marks_a_lead_contacted_by_button() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    qualified(&ctx, "cust-ava").await?;
    clock.advance(TimeDelta::minutes(30));
    qualified(&ctx, "cust-ben").await?;

    // The queue: both leads, soonest due first, a Contacted button each.
    let r = run(&ctx, &command(NICO, "journey", Some("leads"), json!([]))).await?;
    let m = message(&r)?;
    assert!(m.ephemeral);
    let text = m.plain_text();
    assert!(text.contains("Leads waiting on Sales (2)"), "{text}");
    let (ava, ben) = (
        text.find("cust-ava · qualified · score 150")
            .ok_or(text.clone())?,
        text.find("cust-ben · qualified · score 150")
            .ok_or(text.clone())?,
    );
    assert!(ava < ben, "soonest due first: {text}");
    assert!(text.contains("contact <t:"), "{text}");
    assert_eq!(m.embeds[0].colour, Some(vivid_bot::render::YELLOW));
    assert_eq!(
        button_ids(m),
        vec![
            "journey:queue-contact:cust-ava",
            "journey:queue-contact:cust-ben"
        ]
    );

    // Two hours on, Ava's hand-off is past its SLA: red, "late since".
    clock.advance(TimeDelta::hours(1) + TimeDelta::minutes(31));
    let r = run(&ctx, &command(NICO, "journey", Some("leads"), json!([]))).await?;
    let m = message(&r)?;
    let text = m.plain_text();
    assert_eq!(m.embeds[0].colour, Some(vivid_bot::render::RED), "{text}");
    assert!(text.contains("1 past the hand-off SLA"), "{text}");
    assert!(text.contains("🔴 late since <t:"), "{text}");

    // Lena (Marketing) cannot mark a lead contacted: refused, nothing changes.
    let r = run(
        &ctx,
        &component(LENA, "journey:queue-contact:cust-ava", "1"),
    )
    .await?;
    let text = ephemeral_text(&r)?;
    assert!(text.contains("is not in Sales"), "{text}");
    assert_eq!(status(&ctx, "cust-ava").await?, ("handed_off".into(), None));

    // Nico presses Contacted under the queue: the queue is edited in place.
    let r = run(
        &ctx,
        &component(NICO, "journey:queue-contact:cust-ava", "1"),
    )
    .await?;
    let Response::Update(m) = &r else {
        return Err(format!("expected the queue to be edited, got {r:?}").into());
    };
    let text = m.plain_text();
    assert!(
        text.contains("cust-ava contacted by Nico Rossi.") && text.contains("(1)"),
        "{text}"
    );
    assert_eq!(button_ids(m), vec!["journey:queue-contact:cust-ben"]);
    assert_eq!(
        status(&ctx, "cust-ava").await?,
        ("contacted".into(), Some("nico".into()))
    );
    let ack: Option<String> = sqlx::query_scalar(
        "SELECT acknowledged_by FROM handoffs WHERE workflow = 'journey' AND entity_id = 'cust-ava'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(
        ack.as_deref(),
        Some("nico"),
        "contact acknowledges the hand-off"
    );

    // Pressed again (a stale button): a conflict in words, nothing changes.
    let r = run(
        &ctx,
        &component(NICO, "journey:queue-contact:cust-ava", "1"),
    )
    .await?;
    let text = ephemeral_text(&r)?;
    assert!(
        text.contains("cust-ava is contacted: Sales contacts leads handed to it"),
        "{text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leads_card_the_contact_subcommand_and_autocomplete() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    qualified(&ctx, "cust-ava").await?;
    qualified(&ctx, "cust-cal").await?;

    // Autocomplete offers the waiting leads matching what is typed.
    let r = run(
        &ctx,
        &autocomplete(NICO, "journey", Some("lead"), "key", json!("cal")),
    )
    .await?;
    let Response::Choices(c) = r else {
        return Err("expected choices".into());
    };
    assert_eq!(
        c.iter().map(|c| c.value.clone()).collect::<Vec<_>>(),
        vec![json!("cust-cal")]
    );

    // The card: handed off, the hand-off clock, a Contacted button.
    let r = run(
        &ctx,
        &command(NICO, "journey", Some("lead"), key("cust-ava")),
    )
    .await?;
    let m = message(&r)?;
    let text = m.plain_text();
    assert!(
        text.contains("Lead cust-ava") && text.contains("**handed off** (mql) · stage qualified"),
        "{text}"
    );
    assert!(text.contains("Hand-off #"), "{text}");
    assert!(
        text.contains("Engagement by touch (decay applied)"),
        "{text}"
    );
    assert!(text.contains("form_submitted 1× +150"), "{text}");
    assert_eq!(
        button_ids(m),
        vec![
            "lead:accept:cust-ava",
            "lead:contact:cust-ava",
            "lead:disqualify:cust-ava"
        ]
    );

    // The old button still works and edits the card: contacted; only
    // Disqualify is left.
    let r = run(&ctx, &component(NICO, "journey:contact:cust-ava", "1")).await?;
    let Response::Update(m) = &r else {
        return Err(format!("expected the card to be edited, got {r:?}").into());
    };
    let text = m.plain_text();
    assert!(text.contains("**contacted**"), "{text}");
    assert!(text.contains("Contacted: Nico Rossi <t:"), "{text}");
    assert_eq!(button_ids(m), vec!["lead:disqualify:cust-ava"]);

    // The subcommand, with a note; an unknown key is refused by name.
    let r = run(
        &ctx,
        &command(
            NICO,
            "journey",
            Some("contact"),
            json!([
                { "name": "key", "type": 3, "value": "cust-cal" },
                { "name": "note", "type": 3, "value": "Wants a quote for 40 prints" },
            ]),
        ),
    )
    .await?;
    assert!(ephemeral_text(&r)?.contains("**contacted**"));
    let reason: Option<String> = sqlx::query_scalar(
        "SELECT reason FROM events WHERE workflow = 'journey' AND entity_id = 'cust-cal' AND action = 'contacted'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(reason.as_deref(), Some("Wants a quote for 40 prints"));
    let r = run(&ctx, &command(NICO, "journey", Some("lead"), key("nobody"))).await?;
    assert!(ephemeral_text(&r)?.contains("unknown prospect \"nobody\""));

    // Nothing waits any more.
    let r = run(&ctx, &command(NICO, "journey", Some("leads"), json!([]))).await?;
    let m = message(&r)?;
    assert!(m.plain_text().contains("No lead waits for contact."));
    assert!(m.components.is_empty());
    Ok(())
}

/// `/lead list` and the card's buttons: Accept, Disqualify with a reason
/// (a form); Marketing may not accept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_accepts_and_disqualifies_leads_from_the_lead_card() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    qualified(&ctx, "cust-ava").await?;
    qualified(&ctx, "cust-ben").await?;
    let r = run(&ctx, &command(NICO, "lead", Some("list"), json!([]))).await?;
    let text = ephemeral_text(&r)?;
    assert!(text.contains("Leads with Sales (2)"), "{text}");
    assert!(text.contains("cust-ava · mql"), "{text}");
    assert!(text.contains("owner @nico"), "{text}");
    assert!(text.contains("owner @sam"), "round-robin: {text}");
    let r = run(
        &ctx,
        &command(
            NICO,
            "lead",
            Some("list"),
            json!([{ "name": "mine", "type": 5, "value": true }]),
        ),
    )
    .await?;
    let text = ephemeral_text(&r)?;
    assert!(text.contains("Leads with Sales (1)"), "{text}");

    // Marketing may not accept; Sales does, on the card.
    let r = run(&ctx, &component(LENA, "lead:accept:cust-ava", "1")).await?;
    assert!(ephemeral_text(&r)?.contains("not in Sales"));
    let r = run(&ctx, &component(NICO, "lead:accept:cust-ava", "1")).await?;
    let Response::Update(m) = &r else {
        return Err(format!("expected the card to be edited, got {r:?}").into());
    };
    assert!(
        m.plain_text().contains("**accepted** (sql)"),
        "{}",
        m.plain_text()
    );
    assert_eq!(
        button_ids(m),
        vec!["lead:contact:cust-ava", "lead:disqualify:cust-ava"]
    );

    // Disqualify asks why; the form's answer disqualifies.
    let r = run(&ctx, &component(NICO, "lead:disqualify:cust-ben", "2")).await?;
    let Response::Modal(form) = &r else {
        return Err(format!("expected a form, got {r:?}").into());
    };
    assert_eq!(form.custom_id, "lead:disqualify:cust-ben");
    let r = run(
        &ctx,
        &vivid_bot::testing::modal_submit(
            NICO,
            "lead:disqualify:cust-ben",
            &[("reason", "Student project")],
            Some("2"),
        ),
    )
    .await?;
    let Response::Update(m) = &r else {
        return Err(format!("expected the card to be edited, got {r:?}").into());
    };
    let text = m.plain_text();
    assert!(
        text.contains("**disqualified**") && text.contains("Student project"),
        "{text}"
    );
    assert!(button_ids(m).is_empty());
    let (state, _) = status(&ctx, "cust-ben").await?;
    assert_eq!(state, "disqualified");
    Ok(())
}
