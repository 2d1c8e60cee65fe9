//! The HTTP endpoint in process: replays and the deferred path (the binary's
//! endpoint is tested end to end in the workspace's tests/e2e/bot.rs).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use vivid_bot::Rest;
use vivid_bot::http::{self, Endpoint};
use vivid_bot::testing::{FakeDiscord, Signer, command, post_signed};
use vivid_core::clock::SystemClock;
use vivid_core::crisis::Severity;
use vivid_core::testing::{default_config, fresh_db};

use crate::*;

async fn start(
    budget: Duration,
    fake: &FakeDiscord,
) -> Setup<(
    vivid_core::testing::TestDb,
    vivid_core::Ctx,
    String,
    Signer,
    tokio::sync::oneshot::Sender<()>,
)> {
    let db = fresh_db().await?;
    // Request timestamps are checked against the clock: use the real one.
    let ctx = db.ctx(default_config(), Arc::new(SystemClock)).await?;
    let signer = Signer::generate();
    let endpoint = Endpoint::new(
        ctx.clone(),
        signer.verifying_key(),
        Rest::new(&fake.base_url(), None)?,
    )
    .with_budget(budget);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/interactions", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(http::serve(listener, endpoint, async {
        stopped.await.ok();
    }));
    Ok((db, ctx, url, signer, stop))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_is_deferred_and_then_edited_in() -> TestResult {
    let fake = FakeDiscord::start()?;
    // A zero budget: every answer takes "too long".
    let (_db, ctx, url, signer, _stop) = start(Duration::ZERO, &fake).await?;
    let id = open(&ctx, "Checkout is down", Severity::P1).await?;
    let client = reqwest::Client::new();

    let list = command(OMAR, "crisis", Some("list"), json!([]));
    let (status, body) = post_signed(&client, &url, &signer, &list).await?;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "type": 5, "data": { "flags": 64 } }),
        "private thinking…"
    );
    let token = list["token"].as_str().unwrap_or_default();
    let edit = fake
        .wait_for(Duration::from_secs(10), |r| {
            r.method == "PATCH"
                && r.path == format!("/webhooks/1100000000000000001/{token}/messages/@original")
        })
        .await
        .ok_or("the deferred answer never came")?;
    assert!(
        edit.text().contains("Open incidents (1)"),
        "{}",
        edit.text()
    );
    assert_eq!(edit.authorization, None, "webhook edits need no bot token");

    // An acknowledgement is public: a public "thinking…", then the card.
    let ack = command(
        OMAR,
        "crisis",
        Some("ack"),
        json!([{ "name": "id", "type": 4, "value": id }]),
    );
    let (_, body) = post_signed(&client, &url, &signer, &ack).await?;
    assert_eq!(body, json!({ "type": 5, "data": {} }));
    let token = ack["token"].as_str().unwrap_or_default().to_string();
    fake.wait_for(Duration::from_secs(10), |r| {
        r.method == "PATCH" && r.path.contains(&token) && r.text().contains("Omar Haddad")
    })
    .await
    .ok_or("no edit with the acknowledgement")?;

    // A refusal after a public "thinking…" is removed and said privately.
    let stranger = vivid_bot::Interaction::from_json(
        command(
            STRANGER,
            "crisis",
            Some("ack"),
            json!([{ "name": "id", "type": 4, "value": id }]),
        )
        .to_string()
        .as_bytes(),
    )?;
    let refusal =
        tokio::spawn(async { vivid_bot::Response::ephemeral("You are not in the directory") });
    let rest = Rest::new(&fake.base_url(), None)?;
    vivid_bot::respond::finish(
        &rest,
        &stranger,
        &vivid_bot::Response::Deferred { ephemeral: false },
        refusal,
    )
    .await;
    let token = &stranger.token;
    let followup = fake
        .matching("POST", &format!("/webhooks/1100000000000000001/{token}"))
        .pop()
        .ok_or("no private follow-up")?;
    assert_eq!(followup.body["flags"], json!(64));
    assert_eq!(
        fake.matching("DELETE", &format!("/webhooks/1100000000000000001/{token}"))
            .len(),
        1
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_request_is_refused() -> TestResult {
    let fake = FakeDiscord::start()?;
    let (_db, _ctx, url, signer, _stop) = start(Duration::from_secs(2), &fake).await?;
    let client = reqwest::Client::new();
    let list = command(OMAR, "crisis", Some("list"), json!([]));
    let body = list.to_string().into_bytes();
    let ts = vivid_bot::testing::now_unix().to_string();
    let sig = signer.sign(&ts, &body);
    let (first, reply) =
        vivid_bot::testing::post_raw(&client, &url, Some(&sig), Some(&ts), body.clone()).await?;
    assert_eq!(first, 200);
    assert_eq!(reply["type"], 4);
    let (second, reply) =
        vivid_bot::testing::post_raw(&client, &url, Some(&sig), Some(&ts), body).await?;
    assert_eq!(second, 401, "{reply}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_request_opens_an_incident_and_another_advances_its_phase() -> TestResult {
    let fake = FakeDiscord::start()?;
    let (_db, ctx, url, signer, _stop) = start(Duration::from_secs(10), &fake).await?;
    let client = reqwest::Client::new();
    let open = command(
        OMAR,
        "crisis",
        Some("open"),
        json!([
            { "name": "title", "type": 3, "value": "Checkout fails for card payments" },
            { "name": "severity", "type": 3, "value": "P1" },
            { "name": "department", "type": 3, "value": "Technology" },
        ]),
    );
    let (status, body) = post_signed(&client, &url, &signer, &open).await?;
    assert_eq!(status, 200);
    assert_eq!(body["type"], 4, "{body}");
    let text = body.to_string();
    assert!(text.contains("Omar Haddad** opened"), "{text}");
    assert!(text.contains("Checkout fails for card payments"), "{text}");
    let list = vivid_core::crisis::service::list(&ctx, &Default::default()).await?;
    let inc = list.first().ok_or("nothing opened")?;
    assert_eq!(
        (
            inc.severity,
            inc.opened_by.as_str(),
            inc.departments.clone()
        ),
        (Severity::P1, "omar", vec!["technology".to_string()])
    );
    let id = json!([{ "name": "id", "type": 4, "value": inc.id }]);
    // Before an acknowledgement core refuses, privately, and nothing moves.
    let (_, body) = post_signed(
        &client,
        &url,
        &signer,
        &command(OMAR, "crisis", Some("phase"), id.clone()),
    )
    .await?;
    assert_eq!(body["data"]["flags"], 64, "{body}");
    assert!(body.to_string().contains("acknowledge"), "{body}");
    post_signed(
        &client,
        &url,
        &signer,
        &command(OMAR, "crisis", Some("ack"), id.clone()),
    )
    .await?;
    let (_, body) = post_signed(
        &client,
        &url,
        &signer,
        &command(OMAR, "crisis", Some("phase"), id.clone()),
    )
    .await?;
    assert_eq!(body["type"], 4, "{body}");
    assert!(
        body.to_string().contains("moved it to Triage & Severity"),
        "{body}"
    );
    let d = vivid_core::crisis::service::detail(&ctx, inc.id).await?;
    assert_eq!(d.incident.phase, vivid_core::crisis::Phase::Triage);
    let phase = d
        .timeline
        .iter()
        .find(|e| e.action == "phase_changed")
        .ok_or("no phase event")?;
    assert_eq!(phase.actor, "omar");
    Ok(())
}
