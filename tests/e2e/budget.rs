//! Budget management end to end through the binary: the worked pacing case
//! with `--json`, refusals that change nothing, an idempotent import, ROI,
//! and a spend review that reaches the Finance director in Discord (with
//! Approve / Deny buttons), is decided by a signed button press, and
//! escalates when ignored.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use vivid_bot::testing::{FakeDiscord, Signer, component, post_signed};

use crate::util::*;

const FELIX: &str = "100000000000000007";

fn budget(db: &TestDb, args: &[&str]) -> Value {
    let mut all = vec!["budget"];
    all.extend_from_slice(args);
    all.push("--json");
    json(db, &all)
}

fn refused(db: &TestDb, args: &[&str]) -> Ran {
    let mut cmd = vivid(&db.url);
    cmd.arg("budget").args(args);
    let ran = run(cmd);
    assert_eq!(
        ran.code,
        Some(2),
        "expected a refusal: {}{}",
        ran.stdout,
        ran.stderr
    );
    ran
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worked_case_and_the_loop_through_the_cli() -> TestResult {
    let db = fresh_db().await?;
    // $30,000 needs approval: Felix asks, Bea decides.
    let set = budget(
        &db,
        &[
            "set",
            "marketing",
            "30000",
            "--period",
            "2026-11",
            "--as",
            "felix",
        ],
    );
    let approval = set["approval"]["id"].as_i64().ok_or("needs approval")?;
    let approval = approval.to_string();
    let r = refused(
        &db,
        &[
            "decide", &approval, "approve", "--reason", "ok", "--as", "felix",
        ],
    );
    assert!(r.stderr.contains("no self-approval"), "{}", r.stderr);
    budget(
        &db,
        &[
            "decide", &approval, "approve", "--reason", "ok", "--as", "bea",
        ],
    );
    budget(
        &db,
        &[
            "expense",
            "marketing",
            "14500",
            "--on",
            "2026-11-10",
            "--ref",
            "INV-1",
            "--as",
            "maya",
        ],
    );
    let st = budget(
        &db,
        &[
            "status",
            "marketing",
            "--period",
            "2026-11",
            "--at",
            "2026-11-12",
        ],
    );
    assert_eq!(st["period"], "2026-11");
    let line = &st["lines"][0];
    assert_eq!(line["budget_cents"], 3_000_000);
    assert_eq!(line["spent_cents"], 1_450_000);
    assert_eq!(line["expected_to_date_cents"], 1_200_000);
    assert_eq!(line["forecast_cents"], 3_625_000);
    let alerts = line["alerts"].as_array().ok_or("alerts")?;
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    assert!(alerts.iter().all(|a| a["basis"] == "forecast"));

    // Bad input is refused with exit 2 and changes nothing.
    for amount in ["1.005", "-5", "100 EUR", "5000000"] {
        refused(
            &db,
            &[
                "expense",
                "marketing",
                amount,
                "--on",
                "2026-11-10",
                "--ref",
                "BAD",
                "--as",
                "maya",
            ],
        );
    }
    let again = budget(&db, &["status", "marketing", "--period", "2026-11"]);
    assert_eq!(again["lines"][0]["spent_cents"], 1_450_000);

    // The split, exactly.
    let split = budget(
        &db,
        &["split", "sales", "1000.01", "--dry-run", "--as", "felix"],
    );
    let parts: Vec<i64> = split["parts"]
        .as_array()
        .ok_or("parts")?
        .iter()
        .filter_map(|p| p["amount_cents"].as_i64())
        .collect();
    assert_eq!(parts, vec![40_001, 30_000, 20_000, 10_000]);

    // Import twice: the second changes nothing and says so.
    let dir = scratch_dir("budget");
    let csv = dir.join("expenses.csv");
    std::fs::write(
        &csv,
        "ref,date,department,channel,campaign,vendor,amount\n\
         C-1,2026-11-05,marketing,,,Meta,100\n\
         C-2,2026-11-06,marketing,,,Google,200.50\n\
         C-3,2026-11-06,nowhere,,,X,1\n",
    )?;
    let csv = csv.to_string_lossy().into_owned();
    let first = budget(&db, &["import", &csv, "--as", "felix"]);
    assert_eq!(first["imported"], 2);
    assert_eq!(first["bad"][0]["line"], 4);
    let second = budget(&db, &["import", &csv, "--as", "felix"]);
    assert_eq!(second["imported"], 0);
    assert_eq!(second["duplicates"], 2);
    let mut cmd = vivid(&db.url);
    cmd.args(["budget", "import", &csv, "--as", "felix"]);
    let text = run(cmd);
    assert!(text.stdout.contains("nothing changed"), "{}", text.stdout);

    // ROI as proposals.
    budget(
        &db,
        &[
            "campaign",
            "new",
            "holiday-ads",
            "--department",
            "marketing",
            "--channel",
            "ads",
            "--budget",
            "1000",
            "--as",
            "felix",
        ],
    );
    let today = chrono::Utc::now().date_naive().to_string();
    budget(
        &db,
        &[
            "expense",
            "marketing",
            "1000",
            "--on",
            &today,
            "--ref",
            "HA-1",
            "--channel",
            "ads",
            "--campaign",
            "holiday-ads",
            "--as",
            "maya",
        ],
    );
    budget(
        &db,
        &[
            "revenue",
            "holiday-ads",
            "4200",
            "--on",
            &today,
            "--ref",
            "SHOP-1",
            "--as",
            "maya",
        ],
    );
    let roi = budget(&db, &["roi"]);
    assert_eq!(roi["proposals"][0]["campaign"], "holiday-ads");
    assert_eq!(roi["proposals"][0]["action"], "increase");
    assert_eq!(roi["proposals"][0]["proposed_cents"], 125_000);
    let report = budget(&db, &["report"]);
    assert!(report["departments"].is_array());
    Ok(())
}

/// A running `vivid bot --http 127.0.0.1:0`, killed when the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spend_review_reaches_finance_in_discord_and_escalates_when_ignored() -> TestResult {
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let dir = scratch_dir("budget-bot");
    let config = dir.join("fast-budget.toml");
    std::fs::write(
        &config,
        "[budget]\nreview_deadline = \"3s\"\n[approvals]\nremind_before = \"1s\"\nreroute_window = \"1s\"\n",
    )?;
    let config = config.to_string_lossy().into_owned();
    let cli = |args: &[&str]| {
        let mut all = vec!["--config", config.as_str(), "budget"];
        all.extend_from_slice(args);
        all.push("--json");
        json(&db, &all)
    };
    let today = chrono::Utc::now().date_naive().to_string();
    cli(&["set", "operations", "1000", "--as", "felix"]);
    cli(&["set", "product", "1000", "--as", "felix"]);
    let out = cli(&[
        "expense",
        "operations",
        "1200",
        "--on",
        &today,
        "--ref",
        "OP-1",
        "--as",
        "omar",
    ]);
    let review = out["review_id"]
        .as_i64()
        .ok_or("crossing 100% opens a review")?;
    let pending = cli(&["reviews"]);
    let first = pending["pending"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|p| p["subject_id"] == review && p["kind"] == "review")
        })
        .ok_or("the review is pending")?
        .clone();
    let approval = first["approval_id"].as_i64().ok_or("approval id")?;

    // The engine delivers: Felix gets the card with Approve / Deny.
    let mut engine = vivid(&db.url);
    engine
        .args(["--config", &config, "engine", "--exit-when-idle"])
        .env("DISCORD_TOKEN", "e2e-token")
        .env("VIVID__DISCORD__API_BASE", fake.base_url());
    let ran = run(engine);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let button = format!("budget:approve:{approval}");
    let card = fake
        .wait_for(Duration::from_secs(20), |r| {
            r.method == "POST" && r.text().contains(&button)
        })
        .await
        .ok_or("no Approve button reached Discord")?;
    assert!(card.text().contains("Spend review"), "{}", card.text());

    // Felix presses Approve through a signed request: the review is decided.
    let signer = Signer::generate();
    let mut bot = vivid(&db.url);
    bot.args(["--config", &config, "bot", "--http", "127.0.0.1:0"])
        .env("DISCORD_PUBLIC_KEY", signer.public_key_hex())
        .env("DISCORD_TOKEN", "e2e-token")
        .env("VIVID__DISCORD__API_BASE", fake.base_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Child(bot.spawn()?);
    let stdout = child.0.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| "vivid bot did not say where it listens")?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or("no address")?
        .to_string();
    let client = vivid_bot::testing::HttpClient::new();
    let (status, reply) =
        post_signed(&client, &url, &signer, &component(FELIX, &button, "1")).await?;
    assert_eq!(status, 200, "{reply}");
    let mut state = String::new();
    for _ in 0..100 {
        state = sqlx::query_scalar("SELECT state FROM budget_reviews WHERE id = $1")
            .bind(review)
            .fetch_one(&db.pool)
            .await?;
        if state == "approved" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "approved", "{reply}");
    drop(child);

    // A second overspend, ignored past its deadline: escalated to the Business Manager.
    let out = cli(&[
        "expense", "product", "1500", "--on", &today, "--ref", "PR-1", "--as", "priya",
    ]);
    let second = out["review_id"].as_i64().ok_or("a second review")?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut engine = vivid(&db.url);
    engine.args(["--config", &config, "engine", "--exit-when-idle"]);
    let ran = run(engine);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    // Each level has a second (reroute_window): the Business Manager next,
    // then the overdue policy pages.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut engine = vivid(&db.url);
        engine.args(["--config", &config, "engine", "--exit-when-idle"]);
        let ran = run(engine);
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    }
    // Re-routed (still decidable) to the deciders' directors, then the
    // Business Manager, then paged by the overdue policy.
    let (status, rerouted): (String, Vec<String>) = sqlx::query_as(
        "SELECT r.status, r.escalate_to FROM approval_requests r JOIN budget_reviews b ON b.approval_id = r.id WHERE b.id = $1",
    )
    .bind(second)
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(status, "pending");
    assert!(rerouted.contains(&"bea".to_string()), "{rerouted:?}");
    let escalated: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM escalations WHERE workflow = 'budget'")
            .fetch_one(&db.pool)
            .await?;
    assert!(escalated >= 1);
    // The Business Manager decides it now.
    let pending = cli(&["reviews"]);
    let p = pending["pending"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["subject_id"] == second))
        .ok_or("the escalated review is still listed")?
        .clone();
    let id = p["approval_id"].as_i64().ok_or("id")?.to_string();
    let d = cli(&[
        "decide",
        &id,
        "approve",
        "--raise",
        "500",
        "--reason",
        "launch week",
        "--as",
        "bea",
    ]);
    assert_eq!(d["state"], "approved");
    Ok(())
}
