//! Hostile input and hostile pipes: no panic, one clear line, nothing
//! changed, and stored text never drives the terminal.

use std::process::Stdio;

use crate::util::{TestResult, fresh_db, json, run, vivid};

/// `vivid org list --json | head -c 0`: the reader is gone before vivid
/// writes. It ends quietly with success, like ripgrep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_ends_quietly_with_success() -> TestResult {
    let db = fresh_db().await?;
    for args in [&["org", "list", "--json"][..], &["status"][..]] {
        let mut cmd = vivid(&db.url);
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        drop(child.stdout.take());
        let out = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    Ok(())
}

async fn incident_count(db: &vivid_core::testing::TestDb) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM incidents")
        .fetch_one(&db.pool)
        .await
}

/// Titles too long or with control characters are refused with one line
/// and exit 2, and no incident is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_titles_are_refused_and_change_nothing() -> TestResult {
    let db = fresh_db().await?;
    let before = incident_count(&db).await?;
    let long = "x".repeat(131_000);
    for (title, says) in [
        (long.as_str(), "131000 characters long; at most 200"),
        ("Checkout \u{1b}[31mdown\u{7}", "control character U+001B"),
        ("two\nlines", "control character U+000A"),
    ] {
        let mut cmd = vivid(&db.url);
        cmd.args(["crisis", "open", title, "--severity", "P3", "--as", "olu"]);
        let ran = run(cmd);
        assert_eq!(ran.code, Some(2), "{}", ran.stderr);
        assert!(ran.stderr.contains(says), "{}", ran.stderr);
        assert_eq!(ran.stderr.trim().lines().count(), 1, "{}", ran.stderr);
        assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    }
    assert_eq!(incident_count(&db).await?, before);
    Ok(())
}

/// Older data may hold a 65,536-character title with escape sequences:
/// `crisis list` and `crisis show` print it, escaped, without panicking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_long_and_escaped_titles_print_safely() -> TestResult {
    let db = fresh_db().await?;
    let opened = json(
        &db,
        &[
            "crisis",
            "open",
            "Checkout down",
            "--severity",
            "P3",
            "--as",
            "olu",
            "--json",
        ],
    );
    let id = opened["incident"]["id"]
        .as_i64()
        .or_else(|| opened["id"].as_i64())
        .ok_or("no incident id")?;
    let stored = format!("\u{1b}[31m{}\u{7}", "y".repeat(65_536));
    sqlx::query("UPDATE incidents SET title = $2 WHERE id = $1")
        .bind(id)
        .bind(&stored)
        .execute(&db.pool)
        .await?;
    for args in [
        vec!["crisis", "list"],
        vec!["crisis", "show", &id.to_string()],
    ] {
        let mut cmd = vivid(&db.url);
        cmd.args(&args);
        let ran = run(cmd);
        assert_eq!(ran.code, Some(0), "{args:?}: {}", ran.stderr);
        assert!(
            !ran.stdout.contains('\u{1b}'),
            "{args:?} printed a raw escape"
        );
        assert!(!ran.stdout.contains('\u{7}'), "{args:?} printed a raw bell");
        assert!(
            ran.stdout.contains("\\x1b[31m"),
            "{args:?}: escape not shown"
        );
    }
    Ok(())
}

/// Absurd numbers are refused, not saturated or overflowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_numbers_are_refused() -> TestResult {
    let db = fresh_db().await?;
    let mut cmd = vivid(&db.url);
    cmd.args([
        "oncall",
        "override",
        "operations-primary",
        "omar",
        "--for",
        "100000000000d",
        "--as",
        "omar",
    ]);
    let ran = run(cmd);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("at most 100 years"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);

    let mut cmd = vivid(&db.url);
    cmd.args([
        "content",
        "new",
        "Spring sale",
        "--kind",
        "email",
        "--channel",
        "email",
        "--cost",
        "1e308",
        "--as",
        "lena",
    ]);
    let ran = run(cmd);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("is not an amount in dollars"),
        "{}",
        ran.stderr
    );
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM content_items")
        .fetch_one(&db.pool)
        .await?;
    let mut cmd = vivid(&db.url);
    cmd.args(["content", "list", "--json"]);
    assert_eq!(run(cmd).code, Some(0));
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM content_items")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(items, after);
    Ok(())
}
