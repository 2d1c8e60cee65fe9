//! The content lifecycle end to end through the binary, with the review
//! cycle shrunk to a second and a real engine firing it.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::util::*;

const CONFIG: &str = r#"
[engine]
poll_interval = "100ms"

[content]
review_cycle = "1s"
staleness = "1h"
"#;

struct EngineProcess(Child);

impl Drop for EngineProcess {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn content(db: &TestDb, config: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--config", config.to_str().unwrap_or_default(), "content"];
    all.extend_from_slice(args);
    all.push("--json");
    json(db, &all)
}

fn refused(db: &TestDb, args: &[&str]) -> Ran {
    let mut cmd = vivid(&db.url);
    cmd.arg("content").args(args);
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

async fn wait_state(db: &TestDb, id: i64, state: &str) -> TestResult {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s: String = sqlx::query_scalar("SELECT state FROM content_items WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await?;
        if s == state {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("content #{id} stayed in {s}, expected {state}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_goes_from_brief_to_archive() -> TestResult {
    let db = fresh_db().await?;
    let dir = scratch_dir("content");
    let config = dir.join("fast-content.toml");
    std::fs::write(&config, CONFIG)?;
    let mut engine = vivid(&db.url);
    engine.arg("--config").arg(&config).arg("engine");
    let _engine = EngineProcess(engine.spawn()?);
    let draft = |n: u32| -> Result<String, std::io::Error> {
        let path = dir.join(format!("draft{n}.md"));
        std::fs::write(
            &path,
            format!("Subject: Spring sale\n\nDraft {n} of the e-mail.\n"),
        )?;
        Ok(path.to_string_lossy().into_owned())
    };

    let item = content(
        &db,
        &config,
        &[
            "new",
            "Spring sale e-mail",
            "--kind",
            "email",
            "--channel",
            "email",
            "--as",
            "lena",
        ],
    );
    let id = item["id"].as_i64().ok_or("no id")?.to_string();
    content(
        &db,
        &config,
        &["edit", &id, "--file", &draft(1)?, "--as", "lena"],
    );
    for (n, reviewer) in [(2, "maya"), (3, "iris")] {
        content(&db, &config, &["submit", &id, "--as", "lena"]);
        let d = content(
            &db,
            &config,
            &[
                "request-changes",
                &id,
                "--comment",
                "Shorter subject",
                "--as",
                reviewer,
            ],
        );
        assert_eq!(d["item"]["state"], "creation");
        content(
            &db,
            &config,
            &[
                "edit",
                &id,
                "--file",
                &draft(n)?,
                "--as",
                "lena",
                "--note",
                "shorter subject",
            ],
        );
    }
    content(&db, &config, &["submit", &id, "--as", "lena"]);
    let queue = content(&db, &config, &["queue", "--for", "maya"]);
    assert_eq!(
        queue[0]["item"]["id"].as_i64().map(|i| i.to_string()),
        Some(id.clone())
    );

    // Self-approval is refused and changes nothing.
    let own = refused(&db, &["approve", &id, "--as", "lena"]);
    assert!(own.stderr.contains("no self-approval"), "{}", own.stderr);
    let early = refused(&db, &["publish", &id, "--as", "lena"]);
    assert!(
        early.stderr.contains("cannot be published"),
        "{}",
        early.stderr
    );

    // Two directors approve at the same instant, from two processes.
    let spawn = |who: &str| -> std::io::Result<Child> {
        let mut c: Command = vivid(&db.url);
        c.args([
            "content",
            "approve",
            &id,
            "--version",
            "4",
            "--comment",
            "ok",
            "--as",
            who,
            "--json",
        ]);
        c.stdout(std::process::Stdio::piped()).spawn()
    };
    let (a, b) = (spawn("maya")?, spawn("iris")?);
    for child in [a, b] {
        let out = child.wait_with_output()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let approvals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM approval_decisions WHERE decision = 'approve'")
            .fetch_one(&db.pool)
            .await?;
    let approved_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE workflow = 'content' AND action = 'approved'",
    )
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(
        (approvals, approved_events),
        (2, 1),
        "both decisions recorded, approved once"
    );

    content(&db, &config, &["publish", &id, "--as", "lena"]);
    // 1% click-through against the e-mail baseline of 3.5%: underperforming.
    content(
        &db,
        &config,
        &["record", &id, "--views", "5000", "--clicks", "50"],
    );
    let id_n: i64 = id.parse()?;
    wait_state(&db, id_n, "optimization").await?;
    content(
        &db,
        &config,
        &[
            "edit",
            &id,
            "--file",
            &draft(5)?,
            "--as",
            "lena",
            "--note",
            "new offer",
        ],
    );
    content(&db, &config, &["submit", &id, "--as", "lena"]);
    content(&db, &config, &["approve", &id, "--as", "maya"]);
    content(&db, &config, &["approve", &id, "--as", "iris"]);
    content(&db, &config, &["publish", &id, "--as", "lena"]);
    content(
        &db,
        &config,
        &["record", &id, "--views", "5000", "--clicks", "260"],
    );
    wait_state(&db, id_n, "maintenance").await?;
    let archived = content(
        &db,
        &config,
        &["archive", &id, "--reason", "season over", "--as", "lena"],
    );
    assert_eq!(archived["state"], "archival");

    let history = content(&db, &config, &["history", &id]);
    let path: Vec<String> = history
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|e| e["entity_type"] == "content" && e["from_state"] != e["to_state"])
                .filter_map(|e| e["to_state"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        path,
        [
            "planning",
            "creation",
            "review",
            "creation",
            "review",
            "creation",
            "review",
            "approved",
            "published",
            "performance",
            "optimization",
            "performance",
            "maintenance",
            "archival"
        ]
    );
    let mut diff = vivid(&db.url);
    diff.args(["content", "diff", &id, "--from", "2", "--to", "4"]);
    let d = run(diff);
    assert!(
        d.stdout.contains("-Draft 1 of the e-mail.")
            && d.stdout.contains("+Draft 3 of the e-mail."),
        "{}",
        d.stdout
    );
    Ok(())
}

/// The Marketing director reads what she approves: `content show` prints
/// the text (any version with `--version`), times carry the org's zone,
/// `content diff` is a unified diff with hunk headers (also as JSON), and a
/// NUL byte in a file is refused as bad input, not a database fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_reads_the_text_and_a_clean_diff() -> TestResult {
    let db = fresh_db().await?;
    let dir = scratch_dir("content-review");
    let file = |name: &str, body: &str| -> Result<String, std::io::Error> {
        let path = dir.join(name);
        std::fs::write(&path, body)?;
        Ok(path.to_string_lossy().into_owned())
    };
    let item = json(
        &db,
        &[
            "content",
            "new",
            "Spring sale e-mail",
            "--kind",
            "email",
            "--channel",
            "email",
            "--as",
            "lena",
            "--json",
        ],
    );
    let id = item["id"].as_i64().ok_or("no id")?.to_string();
    let v1 = file(
        "v1.md",
        "Subject: Spring sale\n\nTwenty percent off all prints.\n",
    )?;
    let v2 = file(
        "v2.md",
        "Subject: Spring sale\n\nThirty percent off all prints.\n",
    )?;
    json(
        &db,
        &[
            "content", "edit", &id, "--file", &v1, "--as", "lena", "--json",
        ],
    );
    json(
        &db,
        &[
            "content", "edit", &id, "--file", &v2, "--as", "lena", "--json",
        ],
    );

    let mut cmd = vivid(&db.url);
    cmd.args(["content", "show", &id]);
    let shown = run(cmd);
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    assert!(
        shown.stdout.contains("Thirty percent off all prints."),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains(" EST") || shown.stdout.contains(" EDT"),
        "times carry the zone: {}",
        shown.stdout
    );
    let mut cmd = vivid(&db.url);
    cmd.args(["content", "show", &id, "--version", "2"]);
    let first = run(cmd);
    assert!(first.stdout.contains("Twenty percent"), "{}", first.stdout);
    let mut cmd = vivid(&db.url);
    cmd.args(["content", "show", &id, "--version", "9"]);
    let missing = run(cmd);
    assert_eq!(missing.code, Some(2), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("no version 9"),
        "{}",
        missing.stderr
    );

    let mut cmd = vivid(&db.url);
    cmd.args(["content", "diff", &id, "--from", "2", "--to", "3"]);
    let diff = run(cmd);
    assert_eq!(diff.code, Some(0), "{}", diff.stderr);
    assert!(diff.stdout.contains("@@ -1,3 +1,3 @@\n"), "{}", diff.stdout);
    assert!(
        diff.stdout
            .contains("-Twenty percent off all prints.\n+Thirty percent off all prints.\n"),
        "{}",
        diff.stdout
    );
    assert!(!diff.stdout.trim_end().ends_with("@@"), "{}", diff.stdout);
    let as_json = json(
        &db,
        &["content", "diff", &id, "--from", "2", "--to", "3", "--json"],
    );
    assert!(
        as_json["diff"]
            .as_str()
            .unwrap_or_default()
            .contains("+Thirty")
    );

    let nul = file("nul.md", "Subject: x\0y\n")?;
    let mut cmd = vivid(&db.url);
    cmd.args(["content", "edit", &id, "--file", &nul, "--as", "lena"]);
    let refused = run(cmd);
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(refused.stderr.contains("U+0000"), "{}", refused.stderr);
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM content_versions")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(versions, 3, "the brief and two drafts, nothing more");
    Ok(())
}
