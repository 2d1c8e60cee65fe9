//! The CLI as a person or a script uses it.

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_is_valid_and_reports_the_engine() -> TestResult {
    let db = fresh_db().await?;
    let seeded = json(&db, &["seed", "demo", "--json"]);
    let loaded: Vec<String> = seeded["loaded"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for part in [
        "catalog",
        "metrics",
        "crisis",
        "content",
        "experiments",
        "journey",
    ] {
        assert!(
            loaded.iter().any(|l| l == part),
            "{part} not loaded: {loaded:?}"
        );
    }
    let status = json(&db, &["status", "--json"]);
    assert_eq!(status["organisation"], "VividWalls");
    assert!(status["engine"]["timers_pending"].is_number());
    assert!(status["kpis"].as_array().is_some_and(|k| k.len() >= 8));
    let again = json(&db, &["seed", "demo", "--json"]);
    assert_eq!(
        again["loaded"].as_array().map(Vec::len),
        Some(0),
        "seeding is idempotent"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_list_names_eleven_directors_and_the_business_manager() -> TestResult {
    let db = fresh_db().await?;
    let org = json(&db, &["org", "list", "--json"]);
    let people = org["people"].as_array().cloned().unwrap_or_default();
    let directors = people
        .iter()
        .filter(|p| {
            p["roles"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == "director"))
        })
        .count();
    assert_eq!(directors, 11);
    assert!(people.iter().any(|p| p["roles"][0] == "business_manager"));
    let who = json(
        &db,
        &["oncall", "who", "--department", "operations", "--json"],
    );
    assert_eq!(who.as_array().map(Vec::len), Some(1));
    let mut cmd = vivid(&db.url);
    cmd.args(["oncall", "who", "--department", "moon"]);
    let ran = run(cmd);
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr.contains("unknown department \"moon\""),
        "{}",
        ran.stderr
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_refuse_a_schema_that_is_behind_until_migrated() -> TestResult {
    let db = empty_db().await?;
    let mut cmd = vivid(&db.url);
    cmd.args(["status"]);
    let ran = run(cmd);
    assert_ne!(ran.code, Some(0));
    assert!(ran.stderr.contains("run `vivid migrate`"), "{}", ran.stderr);
    let migrated = json(&db, &["migrate", "--json"]);
    let available = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(
        migrated["applied"].as_u64(),
        Some(available as u64),
        "every migration applied"
    );
    let again = json(&db, &["migrate", "--json"]);
    assert_eq!(again["applied"], 0);
    json(&db, &["status", "--json"]);
    Ok(())
}

fn with_config(db: &TestDb, name: &str, text: &str) -> Ran {
    let dir = scratch_dir("config");
    let file = dir.join(name);
    if let Err(e) = std::fs::write(&file, text) {
        panic!("cannot write {}: {e}", file.display());
    }
    let mut cmd = vivid(&db.url);
    cmd.arg("--config").arg(&file).arg("status");
    run(cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_config_stops_start_up_naming_file_key_and_reason() -> TestResult {
    let db = fresh_db().await?;
    let ran = with_config(
        &db,
        "bad-duration.toml",
        "[engine]\npoll_interval = \"fortnight\"\n",
    );
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("bad-duration.toml"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("engine.poll_interval"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("invalid duration"), "{}", ran.stderr);

    let ran = with_config(
        &db,
        "bad-people.toml",
        "[org]\npeople = [\n  { handle = \"ann\", name = \"Ann\", department = \"sales\", roles = [\"director\"] },\n  { handle = \"ann\", name = \"Ann Two\", department = \"sales\" },\n]\n",
    );
    assert!(
        ran.stderr.contains("bad-people.toml") && ran.stderr.contains("org.people[1].handle"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("duplicate person \"ann\""),
        "{}",
        ran.stderr
    );

    let ran = with_config(
        &db,
        "bad-role.toml",
        "[escalation.policies.x]\nlevels = [{ delay = \"5m\", targets = [\"role:wizard\"] }]\n",
    );
    assert!(
        ran.stderr
            .contains("escalation.policies.x.levels[0].targets[0]"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("unknown role \"wizard\""),
        "{}",
        ran.stderr
    );

    let ran = with_config(
        &db,
        "bad-director.toml",
        "[escalation.policies.x]\nlevels = [{ delay = \"5m\", targets = [\"person:nobody\"] }]\n",
    );
    assert!(
        ran.stderr.contains("unknown person \"nobody\""),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stderr.lines().count(), 1, "one line: {}", ran.stderr);
    Ok(())
}

#[test]
fn an_unreachable_database_is_one_clear_line() {
    let mut cmd = vivid("postgres://vivid@127.0.0.1:1/vividwalls");
    cmd.arg("status");
    let ran = run(cmd);
    assert_eq!(ran.code, Some(1));
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.starts_with(
            "error: cannot reach the database at postgres://vivid@127.0.0.1:1/vividwalls"
        ),
        "{}",
        ran.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_tail_shows_what_happened() -> TestResult {
    let db = fresh_db().await?;
    let mut conn = db.pool.acquire().await?;
    sqlx::query(
        "INSERT INTO timers (kind, workflow, entity_id, due_at, created_at) VALUES ('engine.probe', 'test', 'p1', now(), now())",
    )
    .execute(&mut *conn)
    .await?;
    let pass = json(&db, &["engine", "--once"]);
    assert_eq!(pass["timers_fired"], 1);
    let mut cmd = vivid(&db.url);
    cmd.args(["events", "tail", "--json", "--workflow", "engine"]);
    let ran = run(cmd);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    // One JSON object per line, so `| jq` and `| head` both work.
    let events: Vec<serde_json::Value> = ran
        .stdout
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(events.len(), 1, "{}", ran.stdout);
    assert_eq!(events[0]["action"], "probe_fired");
    assert_eq!(events[0]["entity_id"], "p1");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_headless_with_engine_and_simulator() -> TestResult {
    let db = fresh_db().await?;
    let mut cmd = vivid(&db.url);
    cmd.args(["demo", "--headless", "--for", "3s", "--rate", "20"]);
    let ran = run(cmd);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let simulated: i64 =
        sqlx::query_scalar("SELECT count(*) FROM metric_readings WHERE source = 'simulator'")
            .fetch_one(&db.pool)
            .await?;
    assert!(
        simulated >= 10,
        "the simulator produced {simulated} readings"
    );
    let products: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(products, 20);
    let workers: i64 = sqlx::query_scalar("SELECT count(*) FROM engine_workers")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(workers, 0, "the engine deregisters when it stops");
    Ok(())
}

/// Stops the private cluster and removes its home when the test ends,
/// however it ends: a failed assertion must not leave a server running.
struct PrivateHome(std::path::PathBuf);

impl Drop for PrivateHome {
    fn drop(&mut self) {
        if self.0.join("pg").exists() {
            let mut cmd = vivid("");
            cmd.env_remove("DATABASE_URL")
                .env("VIVID_DB_MODE", "private")
                .env("VIVID_HOME", &self.0)
                .args(["db", "stop"]);
            cmd.output().ok();
        }
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// With no server to use, `vivid` runs its own cluster.
#[test]
fn the_private_cluster_starts_serves_and_stops() {
    let home = scratch_dir("private-cluster");
    std::fs::remove_dir_all(&home).ok();
    let _cleanup = PrivateHome(home.clone());
    let private = |args: &[&str]| {
        let mut cmd = vivid("");
        cmd.env_remove("DATABASE_URL")
            .env("VIVID_DB_MODE", "private")
            .env("VIVID_HOME", &home)
            .args(args);
        run(cmd)
    };
    let started = private(&["db", "start", "--json"]);
    assert_eq!(
        started.code,
        Some(0),
        "{}{}",
        started.stdout,
        started.stderr
    );
    let url = private(&["db", "url"]);
    assert!(url.stdout.trim().ends_with("/vividwalls"), "{}", url.stdout);
    let migrated = private(&["migrate"]);
    assert_eq!(migrated.code, Some(0), "{}", migrated.stderr);
    let status = private(&["status", "--json"]);
    assert_eq!(status.code, Some(0), "{}", status.stderr);
    let db_status = private(&["db", "status", "--json"]);
    let parsed: serde_json::Value = serde_json::from_str(&db_status.stdout).unwrap_or_default();
    assert_eq!(parsed["source"], "private_cluster");
    assert_eq!(parsed["private_cluster"]["state"], "running");
    let stopped = private(&["db", "stop", "--json"]);
    assert!(
        stopped.stdout.contains("\"stopped\": true"),
        "{}{}",
        stopped.stdout,
        stopped.stderr
    );
}

/// A state in the database this binary does not know is its fault, not the
/// user's: exit 1 like other failures (not 2, "fix your input") and say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impossible_stored_state_is_an_internal_error_not_bad_input() -> TestResult {
    let db = fresh_db().await?;
    let opened = json(
        &db,
        &[
            "crisis",
            "open",
            "Checkout down",
            "--severity",
            "P2",
            "--as",
            "olu",
            "--json",
        ],
    );
    let id = opened["incident"]["id"]
        .as_i64()
        .or_else(|| opened["id"].as_i64())
        .ok_or("no incident id")?;
    sqlx::query("UPDATE incidents SET phase = 'lunch' WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    let mut cmd = vivid(&db.url);
    cmd.args(["crisis", "ack", &id.to_string(), "--as", "olu"]);
    let ran = run(cmd);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("error: internal error: column \"phase\": unknown incident phase \"lunch\""),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("not of your input"), "{}", ran.stderr);
    Ok(())
}
