//! Vendor management end to end through the binary: an RFP scored and
//! awarded (one approval from Discord through a signed request, one from the
//! CLI), a contract, deliveries from a late critical vendor that open one
//! crisis incident, and a scorecard in JSON.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta, Utc};
use serde_json::{Value, json};
use vivid_bot::testing::{FakeDiscord, Signer, command, post_signed};

use crate::util::*;

const OMAR: &str = "100000000000000004";

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
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut bot = Bot {
        child,
        url: String::new(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| "vivid bot did not say where it listens")?;
    bot.url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| format!("no address in {line:?}"))?
        .to_string();
    Ok(bot)
}

fn vendor(db: &TestDb, args: &[&str]) -> Value {
    let mut all = vec!["vendor"];
    all.extend_from_slice(args);
    all.push("--json");
    json(db, &all)
}

fn refused(db: &TestDb, args: &[&str]) -> Ran {
    let mut cmd = vivid(&db.url);
    cmd.arg("vendor").args(args);
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

/// A local date safely in the past wherever the org's zone is.
fn days_ago(n: i64) -> NaiveDate {
    Utc::now().date_naive() - TimeDelta::days(n + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rfp_is_awarded_from_discord_and_a_late_critical_vendor_opens_one_incident() -> TestResult
{
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let signer = Signer::generate();
    let bot = start_bot(&db, &signer, &fake)?;
    let client = vivid_bot::testing::HttpClient::new();

    vendor(
        &db,
        &[
            "add",
            "Northline Freight",
            "--category",
            "carrier",
            "--critical",
            "--as",
            "olu",
        ],
    );
    vendor(
        &db,
        &["add", "Slowboat", "--category", "carrier", "--as", "olu"],
    );
    let ran = refused(&db, &["add", "X", "--category", "bakery", "--as", "olu"]);
    assert!(
        ran.stderr.contains("unknown vendor category"),
        "{}",
        ran.stderr
    );

    // Weights totalling 95 are refused; 100 is an RFP.
    let ran = refused(
        &db,
        &[
            "rfp",
            "new",
            "Freight",
            "--criterion",
            "price:40",
            "reliability:30",
            "coverage:25",
            "--as",
            "victor",
        ],
    );
    assert!(ran.stderr.contains("total 100"), "{}", ran.stderr);
    let rfp = vendor(
        &db,
        &[
            "rfp",
            "new",
            "Freight",
            "--criterion",
            "price:40",
            "reliability:30",
            "coverage:30",
            "--deal-breaker",
            "insured",
            "--evaluator",
            "victor",
            "olu",
            "--as",
            "victor",
        ],
    );
    let id = rfp["rfp"]["id"].as_i64().ok_or("no rfp id")?;
    let id_text = id.to_string();
    for v in ["Northline Freight", "Slowboat"] {
        vendor(&db, &["rfp", "invite", &id_text, v, "--as", "olu"]);
    }
    vendor(
        &db,
        &[
            "propose",
            &id_text,
            "Northline Freight",
            "--price",
            "42,000",
            "--as",
            "olu",
        ],
    );
    vendor(
        &db,
        &[
            "propose", &id_text, "Slowboat", "--price", "30000", "--as", "olu",
        ],
    );
    vendor(
        &db,
        &[
            "rfp",
            "score",
            &id_text,
            "Northline Freight",
            "--criterion",
            "price=7",
            "reliability=9",
            "coverage=8",
            "insured=10",
            "--as",
            "victor",
        ],
    );
    vendor(
        &db,
        &[
            "rfp",
            "score",
            &id_text,
            "Northline Freight",
            "--criterion",
            "reliability=7",
            "--as",
            "olu",
        ],
    );
    vendor(
        &db,
        &[
            "rfp",
            "score",
            &id_text,
            "Slowboat",
            "--criterion",
            "price=9",
            "reliability=5",
            "coverage=6",
            "insured=2",
            "--as",
            "victor",
        ],
    );
    let rank = vendor(&db, &["rfp", "rank", &id_text]);
    assert_eq!(rank["entries"][0]["vendor"], "Northline Freight", "{rank}");
    // price 7×4 + reliability mean(9, 7)=8 ×3 + coverage 8×3 = 76.
    assert_eq!(rank["entries"][0]["total"], 76.0, "{rank}");
    assert_eq!(
        rank["entries"][1]["out"], true,
        "Slowboat fails the deal breaker: {rank}"
    );

    let asked = vendor(
        &db,
        &["award", &id_text, "Northline Freight", "--as", "victor"],
    );
    assert_eq!(asked["approval"]["required"], 2, "{asked}");

    // Omar (Operations director) approves from Discord, Felix from the CLI.
    let (status, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &command(
            OMAR,
            "vendor",
            Some("approve"),
            json!([{ "name": "rfp", "type": 4, "value": id }]),
        ),
    )
    .await?;
    assert_eq!(status, 200);
    assert!(
        reply["data"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("Omar Haddad") && c.contains("approved")),
        "{reply}"
    );
    let approver: String = sqlx::query_scalar(
        "SELECT d.approver FROM approval_decisions d JOIN approval_requests r ON r.id = d.request_id
         WHERE r.workflow = 'vendor' AND r.entity_id = $1",
    )
    .bind(format!("rfp:{id}"))
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(approver, "omar");
    let done = vendor(&db, &["approve", &id_text, "--as", "felix"]);
    assert_eq!(done["rfp"]["state"], "awarded", "{done}");
    let shown = vendor(&db, &["show", "Northline Freight"]);
    assert_eq!(shown["vendor"]["state"], "contracted");
    assert_eq!(
        vendor(&db, &["show", "Slowboat"])["vendor"]["state"],
        "refused"
    );

    // The contract: notice date from the calendar.
    let start = days_ago(40).to_string();
    let end = (days_ago(40) + TimeDelta::days(364)).to_string();
    let c = vendor(
        &db,
        &[
            "contract",
            "new",
            "Northline Freight",
            "--start",
            &start,
            "--end",
            &end,
            "--monthly",
            "3500",
            "--auto-renew",
            "--notice",
            "1",
            "month",
            "--budget",
            "operations:shipping",
            "--as",
            "olu",
        ],
    );
    assert_eq!(c["auto_renew"], true);
    assert_eq!(c["department"], "operations");
    assert!(c["notice_date"].is_string());
    assert_eq!(
        vendor(&db, &["show", "Northline Freight"])["vendor"]["state"],
        "active"
    );

    // Late deliveries: the third in a row opens an incident, the fourth none.
    let promised = days_ago(10).to_string();
    let delivered = days_ago(8).to_string();
    let mut opened = Vec::new();
    for i in 0..4 {
        let po = format!("PO-{i}");
        let d = vendor(
            &db,
            &[
                "deliver",
                "Northline Freight",
                "--po",
                &po,
                "--promised",
                &promised,
                "--delivered",
                &delivered,
                "--ordered",
                "100",
                "--received",
                "100",
                "--as",
                "olu",
            ],
        );
        assert_eq!(d["late"], true);
        opened.extend(d["incidents"].as_array().cloned().unwrap_or_default());
        assert_eq!(
            opened.len(),
            usize::from(i >= 2),
            "after delivery {i}: {opened:?}"
        );
    }
    let incidents: i64 =
        sqlx::query_scalar("SELECT count(*) FROM incidents WHERE title LIKE '%Northline%'")
            .fetch_one(&db.pool)
            .await?;
    assert_eq!(incidents, 1);
    // Bad input changes nothing.
    let ran = refused(
        &db,
        &[
            "deliver",
            "Northline Freight",
            "--po",
            "X",
            "--promised",
            "tomorrow",
            "--delivered",
            &delivered,
            "--ordered",
            "1",
            "--received",
            "1",
            "--as",
            "olu",
        ],
    );
    assert!(ran.stderr.contains("not a date"), "{}", ran.stderr);

    // The scorecard of the month, in JSON.
    let period = delivered[..7].to_string();
    let card = vendor(
        &db,
        &[
            "review",
            "Northline Freight",
            "--period",
            &period,
            "--score",
            "responsiveness=80",
            "--as",
            "olu",
        ],
    );
    assert_eq!(card["kpis"]["orders"], 4);
    assert_eq!(card["kpis"]["on_time_rate"], 0.0);
    assert!(card["period_score"].is_number(), "{card}");
    assert!(
        card["plan_opened"].is_number(),
        "a poor month opens a plan: {card}"
    );
    let shown = vendor(
        &db,
        &["scorecard", "Northline Freight", "--period", &period],
    );
    for key in [
        "vendor",
        "period",
        "criteria",
        "period_score",
        "overall_score",
        "standing",
        "kpis",
    ] {
        assert!(shown.get(key).is_some(), "{key} missing: {shown}");
    }
    assert_eq!(shown["criteria"][0]["name"], "quality");
    // A month without deliveries: null figures, no score.
    let empty = vendor(
        &db,
        &["scorecard", "Northline Freight", "--period", "2020-01"],
    );
    assert!(
        empty["period_score"].is_null()
            && empty["kpis"]["on_time_rate"].is_null()
            && empty["kpis"]["ppm"].is_null(),
        "{empty}"
    );
    assert_eq!(
        vendor(&db, &["show", "Northline Freight"])["vendor"]["state"],
        "improvement"
    );

    // `/vendor scorecard` reads the same card.
    let (status, reply) = post_signed(
        &client,
        &bot.url,
        &signer,
        &command(
            OMAR,
            "vendor",
            Some("scorecard"),
            json!([{ "name": "name", "type": 3, "value": "Northline Freight" }]),
        ),
    )
    .await?;
    assert_eq!(status, 200);
    assert!(reply.to_string().contains("Northline Freight"), "{reply}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_data_has_vendors_alive() -> TestResult {
    let db = fresh_db().await?;
    json(&db, &["seed", "demo", "--json"]);
    let list = vendor(&db, &["list"]);
    let states: Vec<&str> = list
        .as_array()
        .map(|a| a.iter().filter_map(|v| v["state"].as_str()).collect())
        .unwrap_or_default();
    assert!(states.contains(&"active"), "{states:?}");
    assert!(states.contains(&"improvement"), "{states:?}");
    assert!(states.contains(&"refused"), "{states:?}");
    let card = vendor(&db, &["scorecard", "Lumen Print Lab"]);
    assert!(card["period_score"].is_number(), "{card}");
    let status = json(&db, &["status", "--json"]);
    let tile = status["workflows"]
        .as_array()
        .and_then(|w| w.iter().find(|t| t["name"] == "vendor"))
        .cloned()
        .ok_or("no vendor tile")?;
    assert!(tile["open"].as_i64().is_some_and(|n| n >= 1), "{tile}");
    Ok(())
}
