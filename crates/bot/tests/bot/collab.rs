//! `/handoff` and the hand-off card's Ack / Done buttons: handlers called
//! with Discord's JSON.

use serde_json::json;
use vivid_bot::model::Response;
use vivid_bot::testing::{command, component};

use crate::*;

const MAYA: &str = "100000000000000002"; // marketing director
const NICO: &str = "100000000000000017"; // sales team lead

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_off_is_requested_listed_acknowledged_and_done_from_discord() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    // Maya asks Sales for work; a missing field is refused, naming it.
    let r = run(
        &ctx,
        &command(
            MAYA,
            "handoff",
            Some("request"),
            json!([
                { "name": "kind", "type": 3, "value": "campaign_data" },
                { "name": "title", "type": 3, "value": "Holiday results" },
                { "name": "fields", "type": 3, "value": "campaign=Holiday; period=2026-11" },
            ]),
        ),
    )
    .await?;
    let text = ephemeral_text(&r)?;
    assert!(text.contains("\"metrics\" is required"), "{text}");
    let r = run(
        &ctx,
        &command(
            MAYA,
            "handoff",
            Some("request"),
            json!([
                { "name": "kind", "type": 3, "value": "campaign_data" },
                { "name": "title", "type": 3, "value": "Holiday results" },
                { "name": "fields", "type": 3, "value": "campaign=Holiday; period=2026-11; metrics=ROAS 3.1" },
            ]),
        ),
    )
    .await?;
    let text = ephemeral_text(&r)?;
    assert!(text.contains("Holiday results"), "{text}");
    let id: i64 = sqlx::query_scalar("SELECT max(id) FROM handoffs")
        .fetch_one(&ctx.pool)
        .await?;

    // Nico's queue lists it; the card carries Ack.
    let r = run(&ctx, &command(NICO, "handoff", Some("list"), json!([]))).await?;
    let text = ephemeral_text(&r)?;
    assert!(
        text.contains(&format!("#{id} · campaign_data · open")),
        "{text}"
    );

    let r = run(&ctx, &component(NICO, &format!("handoff:ack:{id}"), "1")).await?;
    let Response::Update(card) = &r else {
        return Err(format!("expected the card to be edited, got {r:?}").into());
    };
    let ids: Vec<String> = card
        .components
        .iter()
        .flatten()
        .map(|b| b.custom_id.clone())
        .collect();
    assert_eq!(ids, vec![format!("handoff:done:{id}")]);
    // Maya (the requester) cannot press Done for Sales.
    let r = run(&ctx, &component(MAYA, &format!("handoff:done:{id}"), "1")).await?;
    assert!(ephemeral_text(&r)?.contains("may not finish"));
    run(&ctx, &component(NICO, &format!("handoff:done:{id}"), "1")).await?;
    let status: String = sqlx::query_scalar("SELECT status FROM handoffs WHERE id = $1")
        .bind(id)
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(status, "done");
    Ok(())
}
