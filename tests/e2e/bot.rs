//! The Discord bot through the binary: `vivid bot --http` with real
//! Ed25519-signed requests on loopback, and `vivid engine` delivering to a
//! local fake Discord whose posted incident card `vivid bot` keeps current.

use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use vivid_bot::testing::{
    FakeDiscord, Signer, command, component, now_unix, ping, post_raw, post_signed,
};

use crate::util::*;

const OMAR: &str = "100000000000000004";
const MAYA: &str = "100000000000000002";
const STRANGER: &str = "999999999999999999";
const INCIDENTS: &str = "200000000000000001";

/// A running `vivid bot --http 127.0.0.1:0`, killed when the test ends.
struct Bot {
    child: Child,
    url: String,
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn start_bot(
    db: &TestDb,
    signer: &Signer,
    fake: &FakeDiscord,
) -> Result<Bot, Box<dyn std::error::Error>> {
    let mut cmd = vivid(&db.url);
    cmd.args(["bot", "--http", "127.0.0.1:0"])
        .env("DISCORD_PUBLIC_KEY", signer.public_key_hex())
        .env("DISCORD_TOKEN", "e2e-token")
        .env("VIVID__DISCORD__API_BASE", fake.base_url())
        .stderr(Stdio::null());
    let (child, url) = spawn_listening(cmd)?;
    Ok(Bot { child, url })
}

fn open_incident(
    db: &TestDb,
    title: &str,
    severity: &str,
) -> Result<i64, Box<dyn std::error::Error>> {
    let inc = json(
        db,
        &[
            "crisis",
            "open",
            title,
            "--severity",
            severity,
            "--department",
            "technology",
            "--as",
            "olu",
            "--json",
        ],
    );
    Ok(inc["id"].as_i64().ok_or("no incident id")?)
}

async fn status_of(db: &TestDb, id: i64) -> Result<(String, Option<String>), sqlx::Error> {
    sqlx::query_as("SELECT status, acknowledged_by FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
}

fn id_opt(id: i64) -> Value {
    json!([{ "name": "id", "type": 4, "value": id }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_refuses_unsigned_stale_and_malformed_requests() -> TestResult {
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let signer = Signer::generate();
    let bot = start_bot(&db, &signer, &fake)?;
    let client = reqwest_client();

    let (status, body) = post_signed(&client, &bot.url, &signer, &ping()).await?;
    assert_eq!(
        (status, body),
        (200, json!({ "type": 1 })),
        "PING is answered with PONG"
    );

    // Signed by another key.
    let (status, _) = post_signed(&client, &bot.url, &Signer::generate(), &ping()).await?;
    assert_eq!(status, 401, "a bad signature");
    // Signed, but the body was changed on the way.
    let body = ping().to_string().into_bytes();
    let ts = now_unix().to_string();
    let sig = signer.sign(&ts, &body);
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert_eq!(
        post_raw(&client, &bot.url, Some(&sig), Some(&ts), tampered)
            .await?
            .0,
        401
    );
    assert_eq!(
        post_raw(&client, &bot.url, None, None, body).await?.0,
        401,
        "no signature"
    );

    // Correctly signed, but ten minutes old.
    let body = ping().to_string().into_bytes();
    let old = (now_unix() - 600).to_string();
    let sig = signer.sign(&old, &body);
    let (status, reply) = post_raw(&client, &bot.url, Some(&sig), Some(&old), body).await?;
    assert_eq!(status, 401, "a stale timestamp: {reply}");

    // Correctly signed, but not JSON.
    let body = b"{\"type\": 2, ".to_vec();
    let ts = now_unix().to_string();
    let sig = signer.sign(&ts, &body);
    assert_eq!(
        post_raw(&client, &bot.url, Some(&sig), Some(&ts), body)
            .await?
            .0,
        400
    );

    // An unknown command is answered, privately.
    let (status, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &command(OMAR, "weather", None, json!([])),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(reply["type"], 4);
    assert_eq!(reply["data"]["flags"], 64);
    assert!(
        reply["data"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("Unknown command /weather")),
        "{reply}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_and_buttons_act_as_the_director_behind_the_discord_id() -> TestResult {
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let signer = Signer::generate();
    let bot = start_bot(&db, &signer, &fake)?;
    let client = reqwest_client();
    let id = open_incident(&db, "Checkout is down", "P1")?;

    // A stranger is refused and nothing changes.
    let (status, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &command(STRANGER, "crisis", Some("ack"), id_opt(id)),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(reply["data"]["flags"], 64);
    assert!(
        reply
            .to_string()
            .contains("not in the VividWalls directory"),
        "{reply}"
    );
    assert_eq!(status_of(&db, id).await?, ("triggered".into(), None));

    // Omar acknowledges by slash command: the database says omar.
    let (status, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &command(OMAR, "crisis", Some("ack"), id_opt(id)),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(reply["type"], 4, "{reply}");
    assert!(
        reply["data"]["flags"].is_null(),
        "announced in the channel: {reply}"
    );
    assert!(reply.to_string().contains("Omar Haddad"), "{reply}");
    assert_eq!(
        status_of(&db, id).await?,
        ("acknowledged".into(), Some("omar".into()))
    );

    // An incident that does not exist.
    let (_, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &command(OMAR, "crisis", Some("status"), id_opt(987_654)),
    )
    .await?;
    assert!(reply.to_string().contains("no incident #987654"), "{reply}");
    assert_eq!(reply["data"]["flags"], 64);

    // Buttons: Escalate edits the card; Resolve asks for a note in a modal.
    let (_, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &component(OMAR, &format!("crisis:escalate:{id}"), "300000000000000001"),
    )
    .await?;
    assert_eq!(reply["type"], 7, "{reply}");
    assert!(
        reply.to_string().contains("last: escalated by Omar Haddad"),
        "{reply}"
    );
    let escalated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE entity_id = $1 AND action = 'escalated' AND actor = 'omar'",
    )
    .bind(id.to_string())
    .fetch_one(&db.pool)
    .await?;
    assert!(escalated >= 1);
    let (_, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &component(OMAR, &format!("crisis:resolve:{id}"), "300000000000000001"),
    )
    .await?;
    assert_eq!(reply["type"], 9, "{reply}");
    assert_eq!(
        reply["data"]["custom_id"],
        json!(format!("crisis:resolve:{id}"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_stops_start_up_naming_the_variable() -> TestResult {
    let db = fresh_db().await?;
    for (args, var) in [
        (vec!["bot", "--http", "127.0.0.1:0"], "DISCORD_PUBLIC_KEY"),
        (vec!["bot"], "DISCORD_TOKEN"),
    ] {
        let mut cmd = vivid(&db.url);
        cmd.args(&args)
            .env_remove("DISCORD_TOKEN")
            .env_remove("DISCORD_PUBLIC_KEY");
        let ran = run(cmd);
        assert_eq!(ran.code, Some(1), "{args:?}: {}", ran.stderr);
        assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
        assert!(ran.stderr.contains(&format!("set {var}")), "{}", ran.stderr);
    }
    let mut cmd = vivid(&db.url);
    cmd.args(["bot", "commands"]);
    let ran = run(cmd);
    let manifest: Value = serde_json::from_str(&ran.stdout)?;
    assert_eq!(manifest, vivid_bot::registry::commands_json());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_posts_incidents_honours_rate_limits_and_the_card_follows_the_cli() -> TestResult
{
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let engine = || {
        let mut cmd = vivid(&db.url);
        cmd.args(["engine", "--exit-when-idle"])
            .env("DISCORD_TOKEN", "e2e-token")
            .env("VIVID__DISCORD__API_BASE", fake.base_url())
            // A long backoff: only Discord's retry_after can make the retry come soon.
            .env("VIVID__ENGINE__OUTBOX_BACKOFF", "1m");
        run(cmd)
    };
    let id = open_incident(&db, "Checkout is down", "P3")?;
    let post_path = format!("/channels/{INCIDENTS}/messages");
    fake.respond_once(
        "POST",
        &post_path,
        429,
        json!({ "message": "You are being rate limited.", "retry_after": 1.0, "global": false }),
        &[],
    );
    let first = engine();
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let (status, error): (String, Option<String>) = sqlx::query_as(
        "SELECT status, last_error FROM outbox WHERE subject LIKE 'Incident opened%'",
    )
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(status, "pending");
    assert!(error.is_some_and(|e| e.contains("rate limit")));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = engine();
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let status: String =
        sqlx::query_scalar("SELECT status FROM outbox WHERE subject LIKE 'Incident opened%'")
            .fetch_one(&db.pool)
            .await?;
    assert_eq!(
        status, "delivered",
        "retried after retry_after, not the 1m backoff"
    );
    let posts = fake.matching("POST", &post_path);
    assert_eq!(posts.len(), 2, "the 429, then the card");
    assert_eq!(posts[1].authorization.as_deref(), Some("Bot e2e-token"));
    let message_id: String = sqlx::query_scalar(
        "SELECT message_id FROM discord_messages WHERE workflow = 'crisis' AND entity_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&db.pool)
    .await?;

    // The bot keeps the card current: an acknowledgement from the CLI edits it.
    let signer = Signer::generate();
    let _bot = start_bot(&db, &signer, &fake)?;
    json(
        &db,
        &["crisis", "ack", &id.to_string(), "--as", "omar", "--json"],
    );
    let path = format!("/channels/{INCIDENTS}/messages/{message_id}");
    let patch = fake
        .wait_for(Duration::from_secs(30), |r| {
            r.method == "PATCH" && r.path == path && r.text().contains("Omar Haddad")
        })
        .await
        .ok_or("the posted card was not edited after the CLI acknowledgement")?;
    let fields = patch.body["embeds"][0]["fields"].to_string();
    assert!(
        fields.contains("Acknowledged") && fields.contains("Omar Haddad <t:"),
        "{fields}"
    );
    assert_eq!(patch.authorization.as_deref(), Some("Bot e2e-token"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_interaction_approves_content_as_the_director() -> TestResult {
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let signer = Signer::generate();
    let bot = start_bot(&db, &signer, &fake)?;
    let client = reqwest_client();
    // Lena writes a blog post (one approval needed) and submits version 2.
    let item = json(
        &db,
        &[
            "content",
            "new",
            "Spring sale post",
            "--kind",
            "blog_post",
            "--channel",
            "web",
            "--as",
            "lena",
            "--json",
        ],
    );
    let id = item["id"].as_i64().ok_or("no content id")?;
    let draft = scratch_dir("bot-content").join("draft.md");
    std::fs::write(&draft, "Spring is here: 20% off every canvas.\n")?;
    let draft = draft.to_string_lossy().into_owned();
    let id_text = id.to_string();
    json(
        &db,
        &[
            "content", "edit", &id_text, "--file", &draft, "--as", "lena", "--json",
        ],
    );
    json(
        &db,
        &["content", "submit", &id_text, "--as", "lena", "--json"],
    );

    // Maya approves version 2 by slash command: announced, and recorded as maya.
    let (status, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &command(
            MAYA,
            "content",
            Some("approve"),
            json!([{ "name": "id", "type": 4, "value": id }, { "name": "version", "type": 4, "value": 2 }]),
        ),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(reply["type"], 4, "{reply}");
    assert!(reply["data"]["flags"].is_null(), "announced: {reply}");
    assert!(
        reply["data"]["content"]
            .as_str()
            .is_some_and(|c| c.contains(&format!("**Maya Chen** approved v2 of #{id}"))),
        "{reply}"
    );
    let (state, approved): (String, Option<i32>) =
        sqlx::query_as("SELECT state, approved_version FROM content_items WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await?;
    assert_eq!((state.as_str(), approved), ("approved", Some(2)));
    let approver: String = sqlx::query_scalar(
        "SELECT d.approver FROM approval_decisions d JOIN approval_requests r ON r.id = d.request_id
         WHERE r.workflow = 'content' AND r.entity_id = $1 AND d.decision = 'approve'",
    )
    .bind(id.to_string())
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(approver, "maya");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_journey_button_marks_a_lead_contacted_as_the_sales_lead() -> TestResult {
    const NICO: &str = "100000000000000017"; // sales team lead
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let signer = Signer::generate();
    let bot = start_bot(&db, &signer, &fake)?;
    let client = reqwest_client();
    // A form submitted: the lead is handed to Sales.
    let touched = json(
        &db,
        &[
            "journey",
            "touch",
            "cust-ava",
            "--channel",
            "site",
            "--kind",
            "form_submitted",
            "--json",
        ],
    );
    assert!(touched["handed_off"].is_i64(), "{touched}");

    // The queue, for Nico only, with a Contacted button.
    let (status, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &command(NICO, "journey", Some("leads"), json!([])),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(reply["type"], 4, "{reply}");
    assert_eq!(
        reply["data"]["flags"], 64,
        "only the asker sees it: {reply}"
    );
    let text = reply.to_string();
    assert!(text.contains("Leads waiting on Sales (1)"), "{reply}");
    assert!(text.contains("journey:queue-contact:cust-ava"), "{reply}");

    // The signed button press: the queue message is edited, the lead is Nico's.
    let (_, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &component(NICO, "journey:queue-contact:cust-ava", "300000000000000002"),
    )
    .await?;
    assert_eq!(reply["type"], 7, "{reply}");
    assert!(
        reply
            .to_string()
            .contains("cust-ava contacted by Nico Rossi"),
        "{reply}"
    );
    let (status, by): (String, Option<String>) =
        sqlx::query_as("SELECT status, contacted_by FROM prospects WHERE key = 'cust-ava'")
            .fetch_one(&db.pool)
            .await?;
    assert_eq!(
        (status.as_str(), by.as_deref()),
        ("contacted", Some("nico"))
    );
    Ok(())
}

fn reqwest_client() -> vivid_bot::testing::HttpClient {
    vivid_bot::testing::HttpClient::new()
}
