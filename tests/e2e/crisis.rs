//! The crisis protocol end to end through the binary, with durations shrunk
//! to seconds and a real engine process firing the timers.

use std::process::Child;
use std::time::{Duration, Instant};

use crate::util::*;

const CONFIG: &str = r#"
[engine]
poll_interval = "100ms"

[escalation.policies.e2e-p1]
repeat = 0
levels = [
  { delay = "0s", targets = ["person:olu"] },
  { delay = "3s", targets = ["person:omar"] },
  { delay = "1h", targets = ["role:business_manager"] },
]

[crisis.severities.P1]
description = "Critical"
ack = "3s"
unack_timeout = "1h"
policy = "e2e-p1"
full_protocol = true

[crisis.phases]
detection = "1h"
triage = "2s"
internal_comms = "1h"
customer_comms = "1h"
implement_fix = "1h"
follow_up = "1h"
post_mortem = "1h"
update_protocols = "1h"
"#;

/// Kills the engine when the test ends, however it ends.
struct EngineProcess(Child);

impl Drop for EngineProcess {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn crisis(db: &TestDb, config: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--config", config.to_str().unwrap_or_default(), "crisis"];
    all.extend_from_slice(args);
    all.push("--json");
    json(db, &all)
}

async fn wait_for(
    db: &TestDb,
    sql: &'static str,
    what: &str,
) -> Result<Instant, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&db.pool).await?;
        if n > 0 {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            return Err(format!("gave up waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p1_escalates_is_acknowledged_overruns_and_closes_with_exact_metrics() -> TestResult {
    let db = fresh_db().await?;
    let dir = scratch_dir("crisis");
    let config = dir.join("fast-crisis.toml");
    std::fs::write(&config, CONFIG)?;
    let mut engine = vivid(&db.url);
    engine.arg("--config").arg(&config).arg("engine");
    let _engine = EngineProcess(engine.spawn()?);

    let opened = Instant::now();
    let inc = crisis(
        &db,
        &config,
        &[
            "open",
            "Checkout is down",
            "--severity",
            "P1",
            "--department",
            "technology",
            "--as",
            "olu",
        ],
    );
    let id = inc["id"].as_i64().ok_or("no id")?;
    let id_s = id.to_string();

    // Level one at once; level two only after the 3 s delay, while nobody has acknowledged.
    wait_for(
        &db,
        "SELECT count(*) FROM outbox WHERE person = 'olu' AND subject LIKE '[escalation L1]%'",
        "level 1",
    )
    .await?;
    let l2: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE person = 'omar'")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(l2, 0, "level 2 waits for its delay");
    let paged = wait_for(
        &db,
        "SELECT count(*) FROM outbox WHERE person = 'omar' AND subject LIKE '[escalation L2]%'",
        "level 2",
    )
    .await?;
    assert!(
        paged - opened >= Duration::from_secs(3),
        "level 2 came after {:?}",
        paged - opened
    );

    // Level two acknowledges.
    let acked = crisis(&db, &config, &["ack", &id_s, "--as", "omar"]);
    assert_eq!(acked["incident"]["status"], "acknowledged");
    let again = crisis(&db, &config, &["ack", &id_s, "--as", "olu"]);
    assert!(
        again["unchanged"]
            .as_str()
            .is_some_and(|m| m.contains("@omar"))
    );

    // Triage has a 2 s time box: its overrun escalates to the next level (the business manager).
    crisis(&db, &config, &["phase", &id_s, "--as", "omar"]);
    wait_for(
        &db,
        "SELECT count(*) FROM events WHERE action = 'phase_overrun'",
        "the triage overrun",
    )
    .await?;
    wait_for(
        &db,
        "SELECT count(*) FROM outbox WHERE person = 'bea' AND subject LIKE '[escalation L3]%'",
        "the overrun escalation",
    )
    .await?;

    for _ in 0..3 {
        crisis(&db, &config, &["phase", &id_s, "--as", "omar"]);
    }
    let resolved = crisis(
        &db,
        &config,
        &["resolve", &id_s, "--note", "rolled back", "--as", "omar"],
    );
    assert_eq!(resolved["incident"]["phase"], "follow_up");
    crisis(&db, &config, &["phase", &id_s, "--as", "omar"]);
    let pm = dir.join("postmortem.md");
    std::fs::write(
        &pm,
        "# Post-mortem\n## Overview\nCheckout down.\n## What happened\nBad deploy.\n## Contributing factors\nNo canary.\n## Resolution\nRollback.\n## Impact\n12 orders.\n",
    )?;
    crisis(
        &db,
        &config,
        &[
            "postmortem",
            &id_s,
            "write",
            "--file",
            pm.to_str().unwrap_or_default(),
            "--as",
            "omar",
        ],
    );
    crisis(
        &db,
        &config,
        &[
            "postmortem",
            &id_s,
            "action",
            "Add a canary",
            "--owner",
            "kai",
            "--due",
            "7d",
            "--as",
            "omar",
        ],
    );
    crisis(&db, &config, &["phase", &id_s, "--as", "omar"]);
    let closed = crisis(&db, &config, &["close", &id_s, "--as", "omar"]);
    assert_eq!(closed["incident"]["status"], "closed");

    // MTTA and MTTR from that run, to the second.
    let shown = crisis(&db, &config, &["show", &id_s]);
    let at = |k: &str| -> Result<chrono::DateTime<chrono::Utc>, Box<dyn std::error::Error>> {
        Ok(shown["incident"][k]
            .as_str()
            .ok_or(format!("no {k}"))?
            .parse()?)
    };
    let mtta = (at("acknowledged_at")? - at("opened_at")?)
        .num_microseconds()
        .ok_or("overflow")? as f64
        / 1e6;
    let mttr = (at("resolved_at")? - at("opened_at")?)
        .num_microseconds()
        .ok_or("overflow")? as f64
        / 1e6;
    assert!(
        (3.0..20.0).contains(&mtta),
        "acknowledged after level 2, {mtta}s in"
    );
    let metrics = crisis(&db, &config, &["metrics", "--since", "1h"]);
    let p1 = &metrics["by_severity"]["P1"];
    let reported_mtta = p1["mtta_seconds"].as_f64().ok_or("no mtta")?;
    let reported_mttr = p1["mttr_seconds"].as_f64().ok_or("no mttr")?;
    assert_eq!(reported_mtta.floor(), mtta.floor(), "MTTA to the second");
    assert_eq!(reported_mttr.floor(), mttr.floor(), "MTTR to the second");
    assert_eq!(
        p1["ack_sla_breaches"], 1,
        "acknowledged after the 3 s deadline"
    );
    assert_eq!(p1["phase_overruns"], 1);
    let timeline: Vec<String> = shown["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|e| e["action"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for action in [
        "opened",
        "escalated",
        "acknowledged",
        "phase_overrun",
        "resolved",
        "postmortem_written",
        "closed",
    ] {
        assert!(
            timeline.iter().any(|a| a == action),
            "{action} missing from {timeline:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_crisis_input_is_refused_and_changes_nothing() -> TestResult {
    let db = fresh_db().await?;
    let refused = |args: &[&str]| {
        let mut cmd = vivid(&db.url);
        cmd.args(args);
        run(cmd)
    };
    let r = refused(&["crisis", "open", "x", "--severity", "P5", "--as", "olu"]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("not one of P1, P2, P3, P4"),
        "{}",
        r.stderr
    );
    let r = refused(&["crisis", "ack", "404", "--as", "olu"]);
    assert!(r.stderr.contains("no incident #404"), "{}", r.stderr);
    let r = refused(&["crisis", "open", "x", "--severity", "P2", "--as", "ghost"]);
    assert!(
        r.stderr.contains("unknown person \"ghost\""),
        "{}",
        r.stderr
    );
    let opened = json(
        &db,
        &[
            "crisis",
            "open",
            "Slow search",
            "--severity",
            "P3",
            "--as",
            "olu",
            "--json",
        ],
    );
    let id = opened["id"].as_i64().unwrap_or_default().to_string();
    let r = refused(&["crisis", "resolve", &id, "--note", "x", "--as", "olu"]);
    assert!(
        r.stderr.contains("has not been acknowledged"),
        "{}",
        r.stderr
    );
    let r = refused(&["crisis", "ack", &id, "--as", "remy"]);
    assert!(
        r.stderr.contains("cannot respond to incidents"),
        "{}",
        r.stderr
    );
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE workflow = 'crisis' AND action <> 'opened' AND entity_type = 'incident'")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(events, 0, "refusals wrote nothing");
    Ok(())
}

/// The simulator's incidents are nobody's work: `crisis list` leaves them
/// out unless asked, and marks them when shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crisis_list_leaves_out_simulated_incidents_unless_asked() -> TestResult {
    let db = fresh_db().await?;
    for title in ["Checkout slow", "Simulated: search down"] {
        json(
            &db,
            &[
                "crisis",
                "open",
                title,
                "--severity",
                "P3",
                "--as",
                "olu",
                "--json",
            ],
        );
    }
    sqlx::query("UPDATE incidents SET simulated = true WHERE title LIKE 'Simulated%'")
        .execute(&db.pool)
        .await?;
    let titles = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["title"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        titles(json(&db, &["crisis", "list", "--json"])),
        ["Checkout slow"]
    );
    let mut all = titles(json(
        &db,
        &["crisis", "list", "--include-simulated", "--json"],
    ));
    all.sort();
    assert_eq!(all, ["Checkout slow", "Simulated: search down"]);
    let mut cmd = vivid(&db.url);
    cmd.args(["crisis", "list", "--include-simulated"]);
    let ran = run(cmd);
    assert!(ran.stdout.contains(" sim "), "{}", ran.stdout);
    Ok(())
}

/// A schedule with a night layer: `oncall who` names the night's person
/// after 17:00 New York and says until when; `oncall schedule` walks the
/// hand-overs between the layers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_layer_takes_over_at_its_local_hours() -> TestResult {
    let db = fresh_db().await?;
    let config = scratch_dir("layers").join("layers.toml");
    std::fs::write(
        &config,
        r#"
# An extra file replaces the whole list: the shipped schedules come too.
[[oncall.schedules]]
name = "operations-primary"
department = "operations"
rotation = ["olu", "tess", "omar"]
shift = "1w"
handoff = "2026-01-05T14:00:00Z"

[[oncall.schedules]]
name = "technology-primary"
department = "technology"
rotation = ["kai", "theo"]
shift = "1w"
handoff = "2026-01-05T14:00:00Z"

[[oncall.schedules]]
name = "support-layered"
department = "operations"
rotation = ["olu"]
shift = "1w"
handoff = "2026-01-05T14:00:00Z"

[[oncall.schedules.layers]]
name = "nights"
rotation = ["tess"]
shift = "1w"
days = ["weekdays"]
from = "17:00"
to = "09:00"
"#,
    )?;
    let config = config.to_string_lossy().into_owned();
    let who = |at: &str| {
        json(
            &db,
            &["--config", &config, "oncall", "who", "--at", at, "--json"],
        )
    };
    let layered = |v: serde_json::Value| {
        v.as_array()
            .and_then(|a| {
                a.iter()
                    .find(|o| o["schedule"] == "support-layered")
                    .cloned()
            })
            .unwrap_or_default()
    };
    // Wednesday 2 December 2026, 12:00 and 20:00 New York.
    let noon = layered(who("2026-12-02T12:00:00-05:00"));
    assert_eq!(noon["person"], "olu", "{noon}");
    assert_eq!(noon["until"], "2026-12-02T22:00:00Z", "{noon}");
    let night = layered(who("2026-12-02T20:00:00-05:00"));
    assert_eq!(night["person"], "tess", "{night}");
    assert_eq!(night["layer"], "nights", "{night}");
    assert_eq!(night["until"], "2026-12-03T14:00:00Z", "{night}");
    let plan = json(
        &db,
        &[
            "--config",
            &config,
            "oncall",
            "schedule",
            "--name",
            "support-layered",
            "--shifts",
            "3",
            "--json",
        ],
    );
    let people: Vec<&str> = plan
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["person"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(people.len(), 3, "{plan}");
    assert!(
        people.contains(&"olu") && people.contains(&"tess"),
        "{plan}"
    );
    Ok(())
}
