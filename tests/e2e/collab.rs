//! Cross-functional collaboration through the binary.

use crate::util::*;

fn collab(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["collab"];
    all.extend_from_slice(args);
    all.push("--json");
    json(db, &all)
}

fn refused(db: &TestDb, args: &[&str]) -> String {
    let mut cmd = vivid(&db.url);
    cmd.arg("collab").args(args);
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
async fn kinds_list_every_edge_with_fields_slas_and_raci() -> TestResult {
    let db = fresh_db().await?;
    let kinds = collab(&db, &["kinds"]);
    let list = kinds.as_array().cloned().unwrap_or_default();
    assert!(list.len() >= 12, "{kinds}");
    let cd = list
        .iter()
        .find(|k| k["name"] == "campaign_data")
        .ok_or("no campaign_data")?;
    assert_eq!(cd["from"], "marketing");
    assert_eq!(cd["to"], "sales");
    assert_eq!(cd["response_sla"], 3600);
    assert_eq!(cd["calendar"], "business");
    assert_eq!(cd["raci"]["accountable"], "director:sales");
    let fields = cd["fields"].as_array().cloned().unwrap_or_default();
    assert!(
        fields
            .iter()
            .any(|f| f["name"] == "campaign" && f["type"] == "text" && f["required"] == true)
    );
    let fr = list
        .iter()
        .find(|k| k["name"] == "feature_request")
        .ok_or("no feature_request")?;
    assert_eq!(fr["from"], "customer_experience");
    assert_eq!(fr["to"], "product");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_answered_waited_on_and_done() -> TestResult {
    let db = fresh_db().await?;
    let e = refused(
        &db,
        &[
            "request",
            "campaign_data",
            "Holiday results",
            "--field",
            "campaign=Holiday",
            "--as",
            "maya",
        ],
    );
    assert!(e.contains("field \"period\" is required"), "{e}");
    let h = collab(
        &db,
        &[
            "request",
            "campaign_data",
            "Holiday results",
            "--field",
            "campaign=Holiday",
            "--field",
            "period=2026-11",
            "--field",
            "metrics=ROAS 3.1",
            "--to",
            "nico",
            "--as",
            "maya",
        ],
    );
    let id = h["id"].as_i64().ok_or("no id")?.to_string();
    let shown = collab(&db, &["show", &id]);
    for key in [
        "kind",
        "from",
        "to",
        "state",
        "requested_at",
        "response_due_at",
        "resolution_due_at",
        "acknowledged_at",
        "paused_seconds",
        "correlation_id",
    ] {
        assert!(shown.get(key).is_some(), "show lacks {key}: {shown}");
    }
    assert_eq!(shown["state"], "open");
    assert_eq!(shown["assignee"], "nico");
    assert!(
        shown["requested_at"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
    );
    assert!(refused(&db, &["ack", &id, "--as", "maya"]).contains("may not acknowledge"));
    assert_eq!(
        collab(&db, &["ack", &id, "--as", "nico"])["state"],
        "acknowledged"
    );
    assert!(refused(&db, &["ack", &id, "--as", "nico"]).contains("already acknowledged"));
    collab(&db, &["start", &id, "--as", "nico"]);
    let w = collab(
        &db,
        &["wait", &id, "--reason", "Need the export", "--as", "nico"],
    );
    assert_eq!(w["state"], "waiting");
    collab(&db, &["comment", &id, "Export attached", "--as", "maya"]);
    assert_eq!(
        collab(&db, &["resume", &id, "--as", "maya"])["state"],
        "in_progress"
    );
    assert_eq!(collab(&db, &["done", &id, "--as", "nico"])["state"], "done");
    let done = collab(&db, &["list", "--department", "sales", "--state", "done"]);
    assert_eq!(done.as_array().map(Vec::len), Some(1));
    let m = collab(&db, &["matrix", "--since", "30d"]);
    assert!(
        m["edges"].as_array().is_some_and(|e| e
            .iter()
            .any(|x| x["from"] == "marketing" && x["to"] == "sales")),
        "{m}"
    );
    let metrics = collab(&db, &["metrics"]);
    assert!(metrics["departments"].is_array());
    // The whole story under one correlation id.
    let correlation = shown["correlation_id"].as_str().ok_or("no correlation")?;
    let mut cmd = vivid(&db.url);
    cmd.args(["events", "tail", "--correlation", correlation, "--json"]);
    let ran = run(cmd);
    assert!(ran.stdout.contains("handoff_done"), "{}", ran.stdout);
    assert!(
        refused(&db, &["decline", &id, "--reason", "late", "--as", "nico"])
            .contains("already done")
    );
    assert!(refused(&db, &["list", "--state", "lost"]).contains("unknown state"));
    assert!(
        refused(&db, &["request", "nope", "x", "--as", "maya"]).contains("unknown hand-off kind")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_commander_asks_the_departments_of_a_crisis_for_work() -> TestResult {
    let db = fresh_db().await?;
    let inc = json(
        &db,
        &[
            "crisis",
            "open",
            "Carrier lost a day of shipments",
            "--severity",
            "P2",
            "--department",
            "operations,vendor,product",
            "--commander",
            "omar",
            "--as",
            "omar",
            "--json",
        ],
    );
    let id = inc["id"].as_i64().ok_or("no incident id")?.to_string();
    let mut handoffs = Vec::new();
    for to in ["vendor", "product"] {
        let h = json(
            &db,
            &[
                "crisis",
                "request",
                &id,
                "--to",
                to,
                "Help with the delay",
                "--field",
                "need=Status page copy",
                "--as",
                "omar",
                "--json",
            ],
        );
        assert_eq!(h["kind"], "incident_support");
        assert_eq!(h["from"], "operations");
        assert_eq!(h["to"], to);
        assert_eq!(h["state"], "open");
        assert_eq!(h["correlation_id"], format!("incident:{id}"));
        handoffs.push(h["id"].as_i64().ok_or("no hand-off id")?.to_string());
    }
    // Refused with the reason, nothing opened.
    let mut cmd = vivid(&db.url);
    cmd.args([
        "crisis",
        "request",
        &id,
        "--to",
        "operations",
        "x",
        "--as",
        "omar",
    ]);
    let ran = run(cmd);
    assert_eq!(ran.code, Some(2), "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("own"), "{}", ran.stderr);
    // The department asked answers with the usual commands.
    let acked = collab(&db, &["ack", &handoffs[1], "--as", "priya"]);
    assert_eq!(acked["state"], "acknowledged");
    let listed = collab(&db, &["list", "--department", "vendor"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    // `events tail` links the incident and its hand-offs.
    let mut cmd = vivid(&db.url);
    cmd.args([
        "events",
        "tail",
        "--correlation",
        &format!("incident:{id}"),
        "--json",
    ]);
    let ran = run(cmd);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    for action in ["support_requested", "handed_off", "handoff_acknowledged"] {
        assert!(ran.stdout.contains(action), "{action}: {}", ran.stdout);
    }
    Ok(())
}
