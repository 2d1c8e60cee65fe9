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

fn acting(db: &TestDb, key: &str, args: &[&str]) -> serde_json::Value {
    let mut cmd = vivid(&db.url);
    cmd.env("VIVID_MASTER_KEY", key)
        .arg("journey")
        .args(args)
        .arg("--json");
    let ran = run(cmd);
    assert_eq!(ran.code, Some(0), "{args:?}: {}{}", ran.stdout, ran.stderr);
    match serde_json::from_str(&ran.stdout) {
        Ok(v) => v,
        Err(e) => panic!("{args:?}: not JSON ({e}): {}", ran.stdout),
    }
}

/// Issue 19's "Done when": a prospect from first touch to a hand-off that
/// shows its breakdown and timeline, routed round-robin across two Sales
/// members, accepted, contacted (the contact read is in the privacy access
/// log), converted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_goes_from_first_touch_to_customer_through_sales() -> TestResult {
    let db = fresh_db().await?;
    let key = json(&db, &["privacy", "keygen", "--json"]);
    let key = key["key"].as_str().ok_or("no key")?.to_string();
    // Contact details live in the privacy vault only.
    let mut collect = vivid(&db.url);
    collect.env("VIVID_MASTER_KEY", &key).args([
        "privacy",
        "collect",
        "--subject",
        "cust-ivy",
        "--field",
        "email=ivy@example.com",
        "--as",
        "olu",
    ]);
    let ran = run(collect);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);

    journey(
        &db,
        &[
            "touch",
            "cust-ivy",
            "--channel",
            "ad",
            "--kind",
            "clicked",
            "--key",
            "i1",
            "--campaign",
            "spring-lobbies",
            "--segment",
            "hotels",
            "--attribute",
            "hospitality",
        ],
    );
    let form = journey(
        &db,
        &[
            "touch",
            "cust-ivy",
            "--channel",
            "site",
            "--kind",
            "form_submitted",
            "--key",
            "i2",
        ],
    );
    assert!(form["handed_off"].is_number(), "{form}");
    assert_eq!(form["prospect"]["owner"], "nico");
    // A second lead goes to the other Sales member.
    let other = journey(
        &db,
        &[
            "touch",
            "cust-jay",
            "--channel",
            "site",
            "--kind",
            "form_submitted",
            "--key",
            "j1",
        ],
    );
    assert_eq!(other["prospect"]["owner"], "sam", "round-robin");

    // The hand-off explains the lead; `lead show` too (and the old form).
    let lead = journey(&db, &["lead", "show", "cust-ivy"]);
    let payload = &lead["handoff"]["payload"];
    assert_eq!(payload["campaign"], "spring-lobbies");
    assert_eq!(payload["source_channel"], "ad");
    assert_eq!(payload["fit"], 30.0);
    assert_eq!(payload["owner"], "nico");
    assert_eq!(
        payload["breakdown"].as_array().map(Vec::len),
        Some(2),
        "{payload}"
    );
    assert_eq!(
        payload["timeline"].as_array().map(Vec::len),
        Some(2),
        "{payload}"
    );
    assert_eq!(lead["lifecycle"], "mql");
    assert_eq!(lead["brief"]["breakdown"][0]["kind"], "form_submitted");
    let old = journey(&db, &["lead", "cust-ivy"]);
    assert_eq!(old["prospect"]["key"], "cust-ivy");
    let mut text = vivid(&db.url);
    text.args(["journey", "lead", "show", "cust-ivy"]);
    let shown = run(text);
    assert!(
        shown.stdout.contains("Engagement by touch"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("hospitality +30"), "{}", shown.stdout);

    // The queues.
    let nico = journey(&db, &["leads", "--for", "nico"]);
    assert_eq!(nico.as_array().map(Vec::len), Some(1));
    let mql = journey(&db, &["leads", "--state", "mql"]);
    assert_eq!(mql.as_array().map(Vec::len), Some(2));
    assert!(refused(&db, &["leads", "--state", "won"]).contains("unknown lead state"));

    // Creative may not convert; Sales accepts, contacts (reading the
    // contact details through privacy), converts.
    assert!(
        refused(
            &db,
            &["convert", "cust-ivy", "--value", "100", "--as", "remy"]
        )
        .contains("not in Sales")
    );
    assert!(refused(&db, &["accept", "cust-ivy", "--as", "lena"]).contains("not in Sales"));
    let accepted = journey(&db, &["accept", "cust-ivy", "--as", "nico"]);
    assert_eq!(accepted["status"], "accepted");
    let contacted = acting(
        &db,
        &key,
        &[
            "contact",
            "cust-ivy",
            "--details",
            "--note",
            "Called",
            "--as",
            "nico",
        ],
    );
    assert_eq!(contacted["prospect"]["status"], "contacted");
    assert_eq!(contacted["contact"]["values"]["email"], "ivy@example.com");
    let logged: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, purpose, outcome FROM privacy_access_log WHERE subject_ref = 'cust-ivy'",
    )
    .fetch_all(&db.pool)
    .await?;
    assert_eq!(
        logged,
        vec![("nico".into(), "sales_contact".into(), "granted".into())]
    );
    let copied: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload::text LIKE '%ivy@example.com%'",
    )
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(copied, 0, "no contact detail in the journey's records");
    let customer = journey(
        &db,
        &["convert", "cust-ivy", "--value", "1200", "--as", "nico"],
    );
    assert_eq!(customer["status"], "customer");
    let lead = journey(&db, &["lead", "show", "cust-ivy"]);
    assert_eq!(lead["handoff"]["status"], "done");

    // The other lead: disqualified with a reason, then recycled.
    assert!(
        refused(
            &db,
            &["disqualify", "cust-jay", "--reason", " ", "--as", "sam"]
        )
        .contains("needs a reason")
    );
    journey(
        &db,
        &[
            "disqualify",
            "cust-jay",
            "--reason",
            "No budget",
            "--as",
            "sam",
        ],
    );
    let back = journey(&db, &["recycle", "cust-jay", "--as", "lena"]);
    assert_eq!(back["status"], "prospect");
    let funnel = journey(&db, &["funnel"]);
    assert_eq!(funnel["handoff_quality"]["handed_off"], 2);
    assert_eq!(funnel["handoff_quality"]["disqualified"], 1);
    Ok(())
}
