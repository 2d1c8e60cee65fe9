//! A process killed with SIGKILL while firing timers loses none and applies
//! none twice.

use std::time::{Duration, Instant};

use crate::util::*;

const TIMERS: i64 = 20_000;

async fn probes(db: &TestDb) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM events WHERE action = 'probe_fired'),
                (SELECT count(DISTINCT payload->>'timer_id') FROM events WHERE action = 'probe_fired'),
                (SELECT count(*) FROM timers WHERE status = 'fired')",
    )
    .fetch_one(&db.pool)
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_firing_loses_nothing_and_repeats_nothing() -> TestResult {
    let db = fresh_db().await?;
    sqlx::query(
        "INSERT INTO timers (kind, workflow, entity_id, due_at, created_at)
         SELECT 'engine.probe', 'test', g::text, now(), now() FROM generate_series(1, $1) g",
    )
    .bind(TIMERS)
    .execute(&db.pool)
    .await?;
    let mut kills = 0;
    for round in 1..=3 {
        let mut cmd = vivid(&db.url);
        cmd.args(["engine"])
            .env("VIVID__ENGINE__TIMER_BATCH", "100");
        let mut child = cmd.spawn()?;
        // Let it fire some, then kill it without warning.
        let target = TIMERS * round / 5;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (events, _, _) = probes(&db).await?;
            if events >= target || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill()?; // SIGKILL
        child.wait()?;
        kills += 1;
        // At every instant, a timer is fired if and only if its effect exists.
        let (events, distinct, fired) = probes(&db).await?;
        assert_eq!(events, distinct, "no effect applied twice");
        assert_eq!(
            events, fired,
            "fired timers and their effects commit together"
        );
    }
    assert_eq!(kills, 3);
    let (events, _, _) = probes(&db).await?;
    assert!(
        events < TIMERS,
        "the kills happened mid-way ({events} fired)"
    );
    let mut finish = vivid(&db.url);
    finish.args(["engine", "--exit-when-idle"]);
    let ran = run(finish);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let (events, distinct, fired) = probes(&db).await?;
    assert_eq!((events, distinct, fired), (TIMERS, TIMERS, TIMERS));
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM timers WHERE status <> 'fired' OR attempts <> 1")
            .fetch_one(&db.pool)
            .await?;
    assert_eq!(
        pending, 0,
        "every timer fired once, on its first recorded attempt"
    );
    Ok(())
}
