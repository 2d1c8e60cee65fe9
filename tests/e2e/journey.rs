//! The customer journey through the binary.

use crate::util::*;

fn journey(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["journey"];
    all.extend_from_slice(args);
    all.push("--json");
    json(db, &all)
}

fn refused(db: &TestDb, args: &[&str]) -> String {
    let mut cmd = vivid(&db.url);
    cmd.arg("journey").args(args);
    let ran = run(cmd);
    assert_eq!(
        ran.code,
        Some(2),
        "expected a refusal: {}{}",
        ran.stdout,
        ran.stderr
    );
    ran.stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prospect_becomes_a_customer_who_refers_a_friend() -> TestResult {
    let db = fresh_db().await?;
    let t = journey(
        &db,
        &[
            "touch",
            "cust-1",
            "--channel",
            "ad",
            "--kind",
            "delivered",
            "--key",
            "k1",
        ],
    );
    assert_eq!(t["prospect"]["score"], 5.0);
    let replay = journey(
        &db,
        &[
            "touch",
            "cust-1",
            "--channel",
            "ad",
            "--kind",
            "delivered",
            "--key",
            "k1",
        ],
    );
    assert_eq!(replay["scored"], false, "the same key scores once");
    assert!(
        refused(
            &db,
            &["touch", "cust-1", "--channel", "ad", "--kind", "poked"]
        )
        .contains("not in the scoring rules")
    );
    let form = journey(
        &db,
        &[
            "touch",
            "cust-1",
            "--channel",
            "site",
            "--kind",
            "form_submitted",
            "--key",
            "k2",
        ],
    );
    assert!(form["handed_off"].is_number(), "{form}");
    assert!(refused(&db, &["contact", "ghost", "--as", "nico"]).contains("unknown prospect"));
    journey(
        &db,
        &["contact", "cust-1", "--note", "called", "--as", "nico"],
    );
    assert!(refused(&db, &["convert", "cust-1", "--as", "nico"]).contains("--value"));
    journey(
        &db,
        &["convert", "cust-1", "--value", "249", "--as", "nico"],
    );
    let ticket = journey(
        &db,
        &["ticket", "cust-1", "Frame arrived scratched", "--as", "jun"],
    );
    let id = ticket["id"].as_i64().unwrap_or_default().to_string();
    journey(
        &db,
        &[
            "resolve",
            &id,
            "--resolution",
            "Replacement sent",
            "--as",
            "jun",
        ],
    );
    assert!(
        refused(
            &db,
            &["resolve", &id, "--resolution", "again", "--as", "jun"]
        )
        .contains("already resolved")
    );
    let mut fb = vivid(&db.url);
    fb.args(["journey", "feedback", "cust-1", "--nps", "10"]);
    assert_eq!(run(fb).code, Some(0));
    journey(&db, &["refer", "cust-1", "cust-2"]);
    let campaign = journey(&db, &["campaign", "Bundles", "--as", "lena"]);
    assert_eq!(campaign["audience"][0], "cust-1");
    let funnel = journey(&db, &["funnel"]);
    assert_eq!(funnel["customers"], 1);
    assert_eq!(funnel["referral_rate"], 1.0);
    assert_eq!(funnel["revenue_by_channel"][0][0], "ad");
    Ok(())
}
