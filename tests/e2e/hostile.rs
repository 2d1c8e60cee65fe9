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

/// Commands that run until stopped, start servers or rebuild the database:
/// not for a sweep.
const LONG_RUNNING: &[&str] = &[
    "demo", "engine", "tui", "bot", "serve", "simulate", "bench", "db", "migrate", "seed", "help",
];

/// Every leaf command of `vivid`, read from its own `--help`: the words
/// that name it and its usage line after "vivid".
fn leaf_commands() -> Vec<(Vec<String>, Vec<String>, bool)> {
    fn help(path: &[String]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vivid"))
            .args(path)
            .arg("--help")
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
    fn walk(path: Vec<String>, out: &mut Vec<(Vec<String>, Vec<String>, bool)>) {
        let text = help(&path);
        let subcommands: Vec<String> = text
            .split_once("\nCommands:\n")
            .map(|(_, rest)| {
                rest.lines()
                    .take_while(|l| !l.trim().is_empty())
                    .filter_map(|l| l.split_whitespace().next())
                    .filter(|name| *name != "help")
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if subcommands.is_empty() {
            let usage = text
                .lines()
                .find_map(|l| l.strip_prefix("Usage: vivid "))
                .unwrap_or("")
                .split_whitespace()
                .map(String::from)
                .collect();
            let acts = text.contains("--as <");
            out.push((path, usage, acts));
            return;
        }
        for name in subcommands {
            if path.is_empty() && LONG_RUNNING.contains(&name.as_str()) {
                continue;
            }
            let mut next = path.clone();
            next.push(name);
            walk(next, out);
        }
    }
    let mut out = Vec::new();
    walk(Vec::new(), &mut out);
    out
}

/// The arguments for one leaf: every required value from `fill` (the
/// positional ones), required options with "1" unless `hostile_option`
/// names it, then `extra`.
fn arguments(
    usage: &[String],
    fill: &str,
    hostile_option: Option<(&str, &str)>,
    acts: bool,
) -> Vec<String> {
    let mut args = Vec::new();
    let mut tokens = usage.iter().peekable();
    while let Some(t) = tokens.next() {
        if t.starts_with("--") {
            let value = tokens.next_if(|v| v.starts_with('<'));
            args.push(t.clone());
            if value.is_some() {
                let v = match hostile_option {
                    Some((name, v)) if name == t => v,
                    _ => "1",
                };
                args.push(v.to_string());
            }
        } else if t.starts_with('<') {
            args.push(fill.to_string());
        } else if !t.starts_with('[') {
            args.push(t.clone());
        }
    }
    if let Some((name, v)) = hostile_option
        && !args.iter().any(|a| a == name)
    {
        args.push(name.to_string());
        args.push(v.to_string());
    }
    if acts && !args.iter().any(|a| a == "--as") {
        args.push("--as".into());
        args.push("olu".into());
    }
    args
}

async fn event_count(db: &vivid_core::testing::TestDb) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
}

/// Every command, with hostile text, numbers and sizes in every argument
/// and option: no panic, no raw control character on the terminal, an exit
/// code of 0, 1 or 2, and a refused command writes nothing to the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_survives_hostile_arguments() -> TestResult {
    let escape = "x\u{1b}[31m\u{7}".to_string();
    let huge = "99999999999999999999999999d".to_string();
    let long = "y".repeat(70_000);
    let hostile = [escape, huge, long];
    let leaves = leaf_commands();
    assert!(leaves.len() > 100, "found only {} commands", leaves.len());
    let mut runs: Vec<Vec<String>> = Vec::new();
    for (path, usage, acts) in &leaves {
        assert!(
            usage.len() >= path.len(),
            "{path:?}: no usage line in its help"
        );
        for value in &hostile {
            runs.push(arguments(usage, value, None, *acts));
        }
        let help = std::process::Command::new(env!("CARGO_BIN_EXE_vivid"))
            .args(path)
            .arg("--help")
            .output()?;
        let help = String::from_utf8_lossy(&help.stdout).into_owned();
        let options: Vec<&str> = help
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l
                    .strip_prefix("-")
                    .and_then(|r| r.get(3..))
                    .filter(|_| !l.starts_with("--"))
                    .unwrap_or(l);
                let (name, rest) = l.split_once(' ')?;
                (name.starts_with("--") && rest.starts_with('<') && name != "--config")
                    .then_some(name)
            })
            .collect();
        for (i, option) in options.iter().enumerate() {
            let value = &hostile[i % hostile.len()];
            runs.push(arguments(usage, "1", Some((option, value)), *acts));
        }
    }
    // Three workers, each on its own database with one incident, so a
    // refused command's "nothing written" is measured alone.
    let runs = std::sync::Arc::new(std::sync::Mutex::new(runs));
    let mut workers = Vec::new();
    for _ in 0..3 {
        let runs = runs.clone();
        workers.push(tokio::spawn(async move {
            let mut problems: Vec<String> = Vec::new();
            let db = fresh_db().await.map_err(|e| e.to_string())?;
            let mut cmd = vivid(&db.url);
            cmd.args([
                "crisis",
                "open",
                "Checkout slow",
                "--severity",
                "P3",
                "--as",
                "olu",
            ]);
            run(cmd);
            loop {
                let Some(args) = runs.lock().map_err(|e| e.to_string())?.pop() else {
                    break;
                };
                let before = event_count(&db).await.map_err(|e| e.to_string())?;
                let url = db.url.clone();
                let shown: Vec<String> =
                    args.iter().map(|a| a.chars().take(24).collect()).collect();
                let ran = tokio::task::spawn_blocking(move || {
                    let mut cmd = vivid(&url);
                    cmd.args(&args);
                    run(cmd)
                })
                .await
                .map_err(|e| e.to_string())?;
                let after = event_count(&db).await.map_err(|e| e.to_string())?;
                if !matches!(ran.code, Some(0..=2)) || ran.stderr.contains("panicked") {
                    problems.push(format!("{shown:?}: exit {:?}: {}", ran.code, ran.stderr));
                }
                if [&ran.stdout, &ran.stderr]
                    .iter()
                    .any(|o| o.contains('\u{1b}') || o.contains('\u{7}'))
                {
                    problems.push(format!(
                        "{shown:?}: a raw control character reached the terminal"
                    ));
                }
                if ran.code != Some(0) && after != before {
                    problems.push(format!(
                        "{shown:?}: refused (exit {:?}) but wrote {} event(s)",
                        ran.code,
                        after - before
                    ));
                }
            }
            Ok::<Vec<String>, String>(problems)
        }));
    }
    let mut problems = Vec::new();
    for w in workers {
        problems.extend(w.await??);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}
