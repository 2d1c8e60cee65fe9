//! Handlers called as plain functions with Discord's JSON.

use serde_json::json;
use vivid_bot::model::Response;
use vivid_bot::testing::{autocomplete, command, component, modal_submit};
use vivid_core::crisis::Severity;

use crate::*;

fn id_opt(id: i64) -> serde_json::Value {
    json!([{ "name": "id", "type": 4, "value": id }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_director_acknowledges_by_slash_command_as_themselves() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let id = open(&ctx, "Checkout is down", Severity::P1).await?;
    let r = run(&ctx, &command(OMAR, "crisis", Some("ack"), id_opt(id))).await?;
    let m = message(&r)?;
    assert!(!m.ephemeral, "an acknowledgement is announced: {m:?}");
    let text = m.plain_text();
    assert!(text.contains("**Omar Haddad** acknowledged"), "{text}");
    assert!(
        text.contains(&format!("P1 · #{id} Checkout is down")),
        "{text}"
    );
    assert!(text.contains("Acknowledged: Omar Haddad <t:"), "{text}");
    assert_eq!(
        incident_row(&ctx, id).await?,
        ("acknowledged".into(), Some("omar".into()), None)
    );
    // The card keeps Resolve and Escalate; Acknowledge is spent.
    let buttons = &m.components[0];
    assert_eq!(buttons[0].custom_id, format!("crisis:ack:{id}"));
    assert!(buttons[0].disabled && !buttons[1].disabled);

    // A second acknowledgement changes nothing and says who was first, privately.
    let again = run(&ctx, &command(THEO, "crisis", Some("ack"), id_opt(id))).await?;
    let text = ephemeral_text(&again)?;
    assert!(text.contains("already acknowledged by @omar"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_discord_user_is_refused_and_nothing_changes() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let id = open(&ctx, "Checkout is down", Severity::P1).await?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&ctx.pool)
        .await?;
    for json in [
        command(STRANGER, "crisis", Some("ack"), id_opt(id)),
        command(STRANGER, "crisis", Some("list"), json!([])),
        component(STRANGER, &format!("crisis:escalate:{id}"), "1"),
    ] {
        let text = ephemeral_text(&run(&ctx, &json).await?)?;
        assert!(
            text.contains("not in the VividWalls directory") && text.contains(STRANGER),
            "{text}"
        );
    }
    assert_eq!(incident_row(&ctx, id).await?.0, "triggered");
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(events, after, "nothing was recorded");
    // Autocomplete shows strangers nothing.
    let r = run(
        &ctx,
        &autocomplete(STRANGER, "crisis", Some("ack"), "id", json!("")),
    )
    .await?;
    assert_eq!(r, Response::Choices(vec![]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_decides_roles_and_its_refusals_are_private() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let id = open(&ctx, "Checkout is down", Severity::P1).await?;
    let text =
        ephemeral_text(&run(&ctx, &command(REMY, "crisis", Some("ack"), id_opt(id))).await?)?;
    assert!(text.contains("cannot respond to incidents"), "{text}");
    assert_eq!(incident_row(&ctx, id).await?.0, "triggered");

    let text =
        ephemeral_text(&run(&ctx, &command(OMAR, "crisis", Some("ack"), id_opt(424_242))).await?)?;
    assert!(text.contains("no incident #424242"), "{text}");
    let text = ephemeral_text(&run(&ctx, &component(OMAR, "crisis:resolve:x", "1")).await?)?;
    assert!(text.contains("not an incident number"), "{text}");
    let text = ephemeral_text(
        &run(
            &ctx,
            &command(OMAR, "crisis", Some("resolve"), json!([{ "name": "id", "type": 4, "value": id }, { "name": "note", "type": 3, "value": "  " }])),
        )
        .await?,
    )?;
    assert!(text.contains("say how it was resolved"), "{text}");
    let text = ephemeral_text(&run(&ctx, &command(OMAR, "nope", None, json!([]))).await?)?;
    assert!(
        text.contains("Unknown command /nope") && text.contains("/crisis"),
        "{text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_acknowledge_resolve_through_a_modal_and_escalate() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    // P3: no phases to walk before resolving.
    let id = open(&ctx, "Checkout is slow", Severity::P3).await?;
    let r = run(&ctx, &component(OMAR, &format!("crisis:ack:{id}"), "555")).await?;
    let Response::Update(m) = &r else {
        return Err(format!("expected the card to be edited, got {r:?}").into());
    };
    assert!(
        m.plain_text().contains("last: acknowledged by Omar Haddad"),
        "{}",
        m.plain_text()
    );
    assert_eq!(incident_row(&ctx, id).await?.1.as_deref(), Some("omar"));

    // Resolve asks for the note in a modal, then edits the card.
    let r = run(
        &ctx,
        &component(OMAR, &format!("crisis:resolve:{id}"), "555"),
    )
    .await?;
    let Response::Modal(modal) = &r else {
        return Err(format!("expected a modal, got {r:?}").into());
    };
    assert_eq!(modal.custom_id, format!("crisis:resolve:{id}"));
    assert_eq!(
        incident_row(&ctx, id).await?.0,
        "acknowledged",
        "nothing yet"
    );
    let r = run(
        &ctx,
        &modal_submit(
            OMAR,
            &modal.custom_id,
            &[("note", "rolled back the deploy")],
            Some("555"),
        ),
    )
    .await?;
    let Response::Update(m) = &r else {
        return Err(format!("expected the card to be edited, got {r:?}").into());
    };
    assert!(
        m.components.is_empty(),
        "a resolved incident has no buttons"
    );
    assert!(
        m.plain_text().contains("Resolved: Omar Haddad"),
        "{}",
        m.plain_text()
    );
    assert_eq!(
        incident_row(&ctx, id).await?,
        ("resolved".into(), Some("omar".into()), Some("omar".into()))
    );
    let reason: Option<String> = sqlx::query_scalar(
        "SELECT reason FROM events WHERE entity_id = $1 AND action = 'resolved'",
    )
    .bind(id.to_string())
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(reason.as_deref(), Some("rolled back the deploy"));

    // Escalate notifies the next level now.
    let other = open(&ctx, "Payments slow", Severity::P2).await?;
    let r = run(
        &ctx,
        &component(THEO, &format!("crisis:escalate:{other}"), "556"),
    )
    .await?;
    let Response::Update(m) = &r else {
        return Err(format!("expected the card to be edited, got {r:?}").into());
    };
    assert!(
        m.plain_text().contains("Escalation: level"),
        "{}",
        m.plain_text()
    );
    let escalated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE entity_id = $1 AND action = 'escalated' AND actor = 'theo'",
    )
    .bind(other.to_string())
    .fetch_one(&ctx.pool)
    .await?;
    assert!(escalated >= 1);
    // A resolved incident cannot be escalated: core says so, privately.
    let text = ephemeral_text(
        &run(
            &ctx,
            &component(OMAR, &format!("crisis:escalate:{id}"), "555"),
        )
        .await?,
    )?;
    assert!(!text.is_empty());
    assert_eq!(incident_row(&ctx, id).await?.0, "resolved");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_resolve_and_escalate_announce_what_happened() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let id = open(&ctx, "Checkout is slow", Severity::P3).await?;
    let r = run(&ctx, &command(THEO, "crisis", Some("escalate"), id_opt(id))).await?;
    let m = message(&r)?;
    assert!(!m.ephemeral);
    assert!(
        m.plain_text()
            .contains("**Theo Novak** escalated — notified"),
        "{}",
        m.plain_text()
    );
    // Resolving takes an acknowledgement first: core says so.
    let early = command(
        OMAR,
        "crisis",
        Some("resolve"),
        json!([{ "name": "id", "type": 4, "value": id }, { "name": "note", "type": 3, "value": "x" }]),
    );
    assert!(ephemeral_text(&run(&ctx, &early).await?)?.contains("has not been acknowledged"));
    run(&ctx, &command(OMAR, "crisis", Some("ack"), id_opt(id))).await?;
    let r = run(
        &ctx,
        &command(
            OMAR,
            "crisis",
            Some("resolve"),
            json!([{ "name": "id", "type": 4, "value": id }, { "name": "note", "type": 3, "value": "restarted the payment worker" }]),
        ),
    )
    .await?;
    let text = message(&r)?.plain_text();
    assert!(
        text.contains("**Omar Haddad** resolved — restarted the payment worker"),
        "{text}"
    );
    assert_eq!(incident_row(&ctx, id).await?.2.as_deref(), Some("omar"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_status_are_private_with_clocks_as_discord_timestamps() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let a = open(&ctx, "Checkout is down", Severity::P1).await?;
    let b = open(&ctx, "Slow images", Severity::P3).await?;
    let r = run(&ctx, &command(OMAR, "crisis", Some("list"), json!([]))).await?;
    let m = message(&r)?;
    assert!(m.ephemeral);
    let text = m.plain_text();
    assert!(text.contains("Open incidents (2)"), "{text}");
    assert!(
        text.contains(&format!("P1 #{a}")) && text.contains(&format!("P3 #{b}")),
        "{text}"
    );
    assert!(text.contains("due <t:"), "{text}");
    assert_eq!(
        m.embeds[0].colour,
        Some(vivid_bot::render::RED),
        "the most severe leads"
    );

    let only_p3 = run(
        &ctx,
        &command(
            OMAR,
            "crisis",
            Some("list"),
            json!([{ "name": "severity", "type": 3, "value": "P3" }]),
        ),
    )
    .await?;
    assert!(
        message(&only_p3)?
            .plain_text()
            .contains("Open incidents (1)")
    );

    let r = run(&ctx, &command(OMAR, "crisis", Some("status"), id_opt(a))).await?;
    let m = message(&r)?;
    assert!(m.ephemeral);
    let text = m.plain_text();
    assert!(text.contains("Status: Triggered"), "{text}");
    assert!(text.contains("Phase: Detection\nends <t:"), "{text}");
    assert!(text.contains("Acknowledged: not yet — due <t:"), "{text}");
    assert_eq!(m.components[0].len(), 4, "the asker can act from here");

    // Autocomplete offers open incidents by number or title.
    let r = run(
        &ctx,
        &autocomplete(OMAR, "crisis", Some("ack"), "id", json!("slow")),
    )
    .await?;
    let Response::Choices(choices) = r else {
        return Err("expected choices".into());
    };
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0].value, json!(b));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oncall_shows_who_until_when_and_who_is_next() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let r = run(&ctx, &command(OMAR, "oncall", None, json!([]))).await?;
    let m = message(&r)?;
    assert!(m.ephemeral);
    let text = m.plain_text();
    assert!(
        text.contains("Operations · operations-primary: **Omar Haddad** <@100000000000000004>"),
        "{text}"
    );
    assert!(
        text.contains("until 2026-12-07 09:00 EST (<t:") && text.contains("next: Olu Bankole"),
        "{text}"
    );
    assert!(
        text.contains("Technology · technology-primary: **Theo Novak**"),
        "{text}"
    );

    let r = run(
        &ctx,
        &command(
            OMAR,
            "oncall",
            None,
            json!([{ "name": "department", "type": 3, "value": "technology" }]),
        ),
    )
    .await?;
    let text = message(&r)?.plain_text();
    assert!(
        text.contains("Theo Novak") && !text.contains("Omar Haddad"),
        "{text}"
    );

    let r = run(
        &ctx,
        &command(
            OMAR,
            "oncall",
            None,
            json!([{ "name": "department", "type": 3, "value": "Marketing" }]),
        ),
    )
    .await?;
    let text = ephemeral_text(&r)?;
    assert!(
        text.contains("No on-call rotation covers Marketing") && text.contains("Maya Chen"),
        "{text}"
    );

    let r = run(
        &ctx,
        &command(
            OMAR,
            "oncall",
            None,
            json!([{ "name": "department", "type": 3, "value": "moon" }]),
        ),
    )
    .await?;
    assert!(ephemeral_text(&r)?.contains("unknown department \"moon\""));
    Ok(())
}
