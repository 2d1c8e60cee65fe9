//! `vivid bench`: measure the engine in a scratch database and print the
//! figures. Nothing is asserted: these are measurements, not tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use vivid_core::clock::SystemClock;
use vivid_core::config::Config;
use vivid_core::engine::events::{self, NewEvent};
use vivid_core::{Ctx, db};

use crate::output;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Fire N due no-op timers with 1, 2, ... engine processes.
    Timers(TimerArgs),
    /// Append N events through the engine, then the same rows by a raw multi-row INSERT.
    Events(EventArgs),
    /// N touches through the scoring path, then the same rows by a raw INSERT.
    Touches(TouchArgs),
    /// Analysis of an experiment with N exposure rows, and the statistics alone.
    Experiment(ExperimentArgs),
    /// Bulk import of N exposures (CSV through COPY, with a covariate and a
    /// device), then the CUPED analysis over them.
    ExperimentImport(ExperimentImportArgs),
    /// N open P1 incidents whose first escalation falls due at one instant:
    /// lateness from due time to queued notification.
    Escalation(EscalationArgs),
    /// The control room over 10,000 open incidents, 10,000 content items and
    /// 1,000 pending approvals: load, load while idle, one change to screen.
    ControlRoom(super::bench_room::RoomArgs),
    /// The collaboration matrix over N closed hand-offs (30 days, six edges).
    CollabMatrix(CollabMatrixArgs),
    /// N open hand-offs with due clocks, M of them due in one minute:
    /// lateness of their imminent and breach notices from due time.
    CollabClocks(CollabClocksArgs),
    /// Pages per second per channel (e-mail, SMS, push, webhook) against local servers.
    Pages(super::bench_pages::PagesArgs),
    /// Alert ingestion through `vivid serve`: requests per second and latency.
    Alerts(super::bench_pages::AlertArgs),
}

#[derive(Debug, Args)]
pub struct CollabMatrixArgs {
    /// Closed hand-offs to fill the table with (N).
    #[arg(long, default_value_t = 1_000_000)]
    closed: i64,
    /// Reads of the matrix to time.
    #[arg(long, default_value_t = 10)]
    reads: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct CollabMatrixBench {
    closed: u64,
    fill_seconds: f64,
    reads: usize,
    p50_ms: f64,
    max_ms: f64,
}

async fn collab_matrix_bench(config: Config, args: CollabMatrixArgs) -> Result<()> {
    let r = in_scratch("collab", async |scratch| {
        let pool = db::connect(&scratch.url, 2).await?;
        let ctx = Ctx::new(
            pool.clone(),
            config,
            Arc::new(vivid_core::clock::SystemClock),
        )?;
        ctx.org.sync(&pool).await?;
        let started = Instant::now();
        let mut conn = pool.acquire().await?;
        let closed =
            vivid_core::collab::store::bench_fill_closed(&mut conn, args.closed.max(1), ctx.now())
                .await?;
        drop(conn);
        let fill_seconds = started.elapsed().as_secs_f64();
        let mut times = Vec::new();
        for _ in 0..args.reads.max(1) {
            let t = Instant::now();
            vivid_core::collab::read::matrix(&ctx, ctx.now() - chrono::TimeDelta::days(30)).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        Ok(CollabMatrixBench {
            closed,
            fill_seconds,
            reads: times.len(),
            p50_ms: times.get(times.len() / 2).copied().unwrap_or_default(),
            max_ms: times.last().copied().unwrap_or_default(),
        })
    })
    .await?;
    if args.json {
        return output::json(&r);
    }
    println!(
        "collaboration matrix over {} closed hand-offs (filled in {:.1}s): p50 {:.0} ms, max {:.0} ms over {} reads",
        r.closed, r.fill_seconds, r.p50_ms, r.max_ms, r.reads
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct CollabClocksArgs {
    /// Open hand-offs with due clocks (N).
    #[arg(long, default_value_t = 100_000)]
    open: i64,
    /// Of them, how many fall due within the same minute (M).
    #[arg(long, default_value_t = 1_000)]
    due: u32,
    /// Engine processes running the clocks.
    #[arg(long, default_value_t = 1)]
    engines: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct CollabClocksBench {
    open: i64,
    due_in_one_minute: u32,
    engines: u32,
    fill_seconds: f64,
    imminent: i64,
    imminent_p50_ms: f64,
    imminent_p99_ms: f64,
    imminent_max_ms: f64,
    breached: i64,
    breach_p50_ms: f64,
    breach_p99_ms: f64,
    breach_max_ms: f64,
}

async fn collab_clocks_bench(config: Config, args: CollabClocksArgs) -> Result<()> {
    let r = in_scratch("collab_clocks", async |scratch| {
        collab_clocks_run(config, scratch, &args).await
    })
    .await?;
    if args.json {
        return output::json(&r);
    }
    println!(
        "{} open hand-offs with due clocks (filled in {:.1}s), {} of them due within one minute, {} engine process(es):",
        r.open, r.fill_seconds, r.due_in_one_minute, r.engines
    );
    println!(
        "  imminent (75%) notice after its time: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} notices)",
        r.imminent_p50_ms, r.imminent_p99_ms, r.imminent_max_ms, r.imminent
    );
    println!(
        "  breach after due:                     p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} breaches)",
        r.breach_p50_ms, r.breach_p99_ms, r.breach_max_ms, r.breached
    );
    Ok(())
}

async fn collab_clocks_run(
    config: Config,
    scratch: &Scratch,
    args: &CollabClocksArgs,
) -> Result<CollabClocksBench> {
    use vivid_core::calendar::CalendarKind;
    use vivid_core::clock::SimClock;
    use vivid_core::duration::HumanDuration;
    use vivid_core::engine::handoffs::{self, NewHandoff, Raci};
    let pool = db::connect(&scratch.url, 4).await?;
    let started = Instant::now();
    let clock = SimClock::at(chrono::Utc::now());
    let ctx = Ctx::new(pool.clone(), config, Arc::new(clock.clone()))?;
    ctx.org.sync(&pool).await?;
    let new = |sla: u64, i: u64| NewHandoff {
        kind: "campaign_data".into(),
        from_department: "marketing".into(),
        to_department: "sales".into(),
        workflow: "collab".into(),
        entity_id: String::new(),
        subject: format!("Bench hand-off {i}"),
        assignee: None,
        payload: serde_json::json!({}),
        response_sla: HumanDuration::from_secs(sla),
        resolution_sla: None,
        calendar: CalendarKind::AroundTheClock,
        raci: Raci {
            accountable: "sam".into(),
            responsible: vec!["nico".into()],
            ..Raci::default()
        },
        policy: "handoff-breach".into(),
        correlation_id: None,
        channel: None,
    };
    // The background: hand-offs due from an hour on, every five seconds.
    let background = (args.open - i64::from(args.due)).max(1);
    let mut conn = pool.acquire().await?;
    let template = handoffs::create(&ctx, &mut conn, &new(3600, 0), "maya").await?;
    vivid_core::collab::store::bench_clone_open(&mut conn, template.id, background - 1, 5).await?;
    drop(conn);
    let fill_seconds = started.elapsed().as_secs_f64();
    // The burst: an 80-second response SLA (imminent at 60 s), opened so
    // that every one falls due within the same minute, starting at `first`.
    let sla = 80i64;
    let budget = Duration::from_millis(u64::from(args.due) * 20 + 10_000);
    let first_imminent = chrono::Utc::now() + chrono::TimeDelta::from_std(budget)?;
    let first_due = first_imminent + chrono::TimeDelta::seconds(sla / 4);
    let step = chrono::TimeDelta::microseconds(60_000_000 / i64::from(args.due.max(1)));
    for i in 0..args.due {
        let due = first_due + step * i as i32;
        clock.set(due - chrono::TimeDelta::seconds(sla));
        let mut tx = pool.begin().await?;
        handoffs::create(&ctx, &mut tx, &new(sla as u64, u64::from(i) + 1), "maya").await?;
        tx.commit().await?;
    }
    if chrono::Utc::now() >= first_imminent {
        anyhow::bail!(
            "opening the hand-offs took longer than planned; their clocks were already due"
        );
    }
    let children = spawn_engines(&scratch.url, args.engines)?;
    let last_due = first_due + chrono::TimeDelta::seconds(60);
    let wait = (last_due - chrono::Utc::now()).to_std().unwrap_or_default();
    let deadline = Instant::now() + wait + Duration::from_secs(120);
    let burst = "SELECT e.action, extract(epoch FROM e.recorded_at - CASE WHEN e.action = 'handoff_breached'
                    THEN h.due_at ELSE h.created_at + (h.due_at - h.created_at) * 0.75 END) * 1000 AS l
                 FROM events e JOIN handoffs h ON h.id = (e.payload->>'handoff_id')::bigint
                WHERE e.action IN ('handoff_imminent', 'handoff_breached')
                  AND h.due_at >= $1 AND h.due_at < $1 + interval '61 seconds'";
    while Instant::now() < deadline {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM ({burst}) x WHERE action = 'handoff_breached'"
        )))
        .bind(first_due)
        .fetch_one(&pool)
        .await?;
        if n >= i64::from(args.due) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for mut c in children {
        c.kill().await.ok();
    }
    type Stats = (i64, Option<f64>, Option<f64>, Option<f64>);
    let stats = async |action: &str| -> Result<Stats> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY l),
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY l), max(l)::float8
               FROM ({burst}) x WHERE action = $2"
        )))
        .bind(first_due)
        .bind(action)
        .fetch_one(&pool)
        .await?)
    };
    let (imminent, i50, i99, imax) = stats("handoff_imminent").await?;
    let (breached, b50, b99, bmax) = stats("handoff_breached").await?;
    pool.close().await;
    Ok(CollabClocksBench {
        open: background + i64::from(args.due),
        due_in_one_minute: args.due,
        engines: args.engines,
        fill_seconds,
        imminent,
        imminent_p50_ms: i50.unwrap_or(0.0),
        imminent_p99_ms: i99.unwrap_or(0.0),
        imminent_max_ms: imax.unwrap_or(0.0),
        breached,
        breach_p50_ms: b50.unwrap_or(0.0),
        breach_p99_ms: b99.unwrap_or(0.0),
        breach_max_ms: bmax.unwrap_or(0.0),
    })
}

#[derive(Debug, Args)]
pub struct TouchArgs {
    /// Touches to score (N).
    #[arg(long, default_value_t = 20_000)]
    count: u32,
    /// Concurrent writers on the scoring path.
    #[arg(long, default_value_t = 4)]
    writers: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// Exposures to load (N).
    #[arg(long, default_value_t = 10_000_000)]
    exposures: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ExperimentImportArgs {
    /// Exposure rows to import (N).
    #[arg(long, default_value_t = 10_000_000)]
    rows: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EscalationArgs {
    /// Incidents to open and escalate (N).
    #[arg(long, default_value_t = 10_000)]
    incidents: u32,
    /// Engine processes firing the escalations.
    #[arg(long, default_value_t = 1)]
    engines: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct TimerArgs {
    /// Timers to schedule and fire (N).
    #[arg(long, default_value_t = 50_000)]
    count: u32,
    /// Engine process counts to try, e.g. "1,2".
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    engines: Vec<u32>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EventArgs {
    /// Events to append (N).
    #[arg(long, default_value_t = 100_000)]
    count: u32,
    /// Concurrent writers for the engine path.
    #[arg(long, default_value_t = 4)]
    writers: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Run a measurement in a scratch database that is dropped afterwards,
/// whether the measurement succeeded or not. One left by a bench run that
/// was killed is dropped by the next.
pub(super) async fn in_scratch<T>(
    tag: &str,
    run: impl AsyncFnOnce(&Scratch) -> Result<T>,
) -> Result<T> {
    let scratch = Scratch::create(tag).await?;
    let result = run(&scratch).await;
    scratch.drop_db().await;
    result
}

/// A scratch database, dropped afterwards.
pub(super) struct Scratch {
    maintenance: String,
    name: String,
    pub(super) url: String,
}

impl Scratch {
    async fn create(tag: &str) -> Result<Self> {
        let server = db::locate_server().await?;
        let name = format!("vivid_bench_{tag}_{}", std::process::id());
        let maintenance = if server.source == db::Source::Environment {
            db::with_database(&server.url, "postgres")
        } else {
            server.url
        };
        let mut scratch = Self {
            url: db::with_database(&maintenance, &name),
            maintenance,
            name,
        };
        scratch.drop_leftovers().await;
        let made = async {
            let url = db::ensure_database(&scratch.maintenance, &scratch.name).await?;
            let pool = db::connect(&url, 2).await?;
            db::migrate(&pool).await?;
            pool.close().await;
            Ok::<_, anyhow::Error>(url)
        }
        .await;
        match made {
            Ok(url) => {
                scratch.url = url;
                Ok(scratch)
            }
            Err(e) => {
                scratch.drop_db().await;
                Err(e)
            }
        }
    }

    /// Scratch databases of bench runs that died before dropping theirs
    /// (killed, interrupted), and one an earlier process with this pid left:
    /// a measurement must start from an empty database.
    async fn drop_leftovers(&self) {
        let Ok(mut conn) = db::try_connect(&self.maintenance, Duration::from_secs(5)).await else {
            return;
        };
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'vivid\\_bench\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
        for name in names {
            let pid = name.rsplit('_').next().unwrap_or_default();
            let dead = !pid.is_empty()
                && pid.chars().all(|c| c.is_ascii_digit())
                && !std::path::Path::new(&format!("/proc/{pid}")).exists();
            // Without FORCE: a database still in use is left alone.
            if name == self.name || dead {
                let sql = format!("DROP DATABASE IF EXISTS {}", db::quote_ident(&name));
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .ok();
            }
        }
    }

    async fn drop_db(&self) {
        if let Ok(mut conn) = db::try_connect(&self.maintenance, Duration::from_secs(5)).await {
            let sql = format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                db::quote_ident(&self.name)
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .ok();
        }
    }
}

#[derive(Debug, Serialize)]
struct TimerRun {
    engines: u32,
    timers: u32,
    seconds: f64,
    timers_per_second: f64,
    lateness_p50_ms: f64,
    lateness_p99_ms: f64,
    fired: i64,
    fired_twice_or_more: i64,
}

pub async fn run(config: Config, cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Timers(args) => timers(args).await,
        BenchCommand::Events(args) => events_bench(config, args).await,
        BenchCommand::Escalation(args) => escalation_bench(config, args).await,
        BenchCommand::Experiment(args) => experiment_bench(config, args).await,
        BenchCommand::ExperimentImport(args) => experiment_import_bench(config, args).await,
        BenchCommand::Touches(args) => touch_bench(config, args).await,
        BenchCommand::ControlRoom(args) => super::bench_room::run(config, args).await,
        BenchCommand::CollabMatrix(args) => collab_matrix_bench(config, args).await,
        BenchCommand::CollabClocks(args) => collab_clocks_bench(config, args).await,
        BenchCommand::Pages(args) => super::bench_pages::pages(config, args).await,
        BenchCommand::Alerts(args) => super::bench_pages::alerts(config, args).await,
    }
}

async fn timers(args: TimerArgs) -> Result<()> {
    let runs = in_scratch("timers", async |scratch| timer_runs(scratch, &args).await).await?;
    if args.json {
        return output::json(&runs);
    }
    println!(
        "Firing {} due no-op timers (fired_at - due_at is the lateness):",
        args.count
    );
    for r in &runs {
        println!(
            "  {} engine process(es): {:>8.0} timers/s  ({:.2}s)  lateness p50 {:.0} ms, p99 {:.0} ms  fired {} (twice: {})",
            r.engines,
            r.timers_per_second,
            r.seconds,
            r.lateness_p50_ms,
            r.lateness_p99_ms,
            r.fired,
            r.fired_twice_or_more
        );
    }
    Ok(())
}

async fn timer_runs(scratch: &Scratch, args: &TimerArgs) -> Result<Vec<TimerRun>> {
    let pool = db::connect(&scratch.url, 2).await?;
    let exe = std::env::current_exe().context("cannot find the vivid executable")?;
    let mut runs = Vec::new();
    for &engines in &args.engines {
        sqlx::query("TRUNCATE timers").execute(&pool).await?;
        sqlx::query(
            "INSERT INTO timers (kind, workflow, entity_id, due_at, created_at)
             SELECT 'engine.noop', 'bench', g::text, now(), now() FROM generate_series(1, $1) g",
        )
        .bind(i64::from(args.count))
        .execute(&pool)
        .await?;
        let started = Instant::now();
        let mut children = Vec::new();
        for _ in 0..engines.max(1) {
            children.push(
                tokio::process::Command::new(&exe)
                    .args(["engine", "--exit-when-idle"])
                    .env("DATABASE_URL", &scratch.url)
                    .env("RUST_LOG", "warn")
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .context("cannot start an engine process")?,
            );
        }
        for mut child in children {
            let status = child.wait().await?;
            if !status.success() {
                anyhow::bail!("an engine process failed: {status}");
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let (p50, p99, fired, twice): (Option<f64>, Option<f64>, i64, i64) = sqlx::query_as(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - due_at)) * 1000,
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - due_at)) * 1000,
                    count(*) FILTER (WHERE status = 'fired'),
                    count(*) FILTER (WHERE attempts > 1)
             FROM timers",
        )
        .fetch_one(&pool)
        .await?;
        runs.push(TimerRun {
            engines,
            timers: args.count,
            seconds,
            timers_per_second: f64::from(args.count) / seconds,
            lateness_p50_ms: p50.unwrap_or(0.0),
            lateness_p99_ms: p99.unwrap_or(0.0),
            fired,
            fired_twice_or_more: twice,
        });
    }
    pool.close().await;
    Ok(runs)
}

#[derive(Debug, Serialize)]
struct EventBench {
    events: u32,
    writers: u32,
    engine_seconds: f64,
    engine_events_per_second: f64,
    raw_seconds: f64,
    raw_events_per_second: f64,
    raw_to_engine_ratio: f64,
}

async fn events_bench(config: Config, args: EventArgs) -> Result<()> {
    let r = in_scratch("events", async |scratch| {
        event_runs(config, scratch, &args).await
    })
    .await?;
    if args.json {
        return output::json(&r);
    }
    println!("Appending {} events:", r.events);
    println!(
        "  through the engine ({} writers, one transaction + NOTIFY each): {:>8.0} events/s ({:.2}s)",
        r.writers, r.engine_events_per_second, r.engine_seconds
    );
    println!(
        "  raw multi-row INSERT (10,000 rows a statement):               {:>8.0} events/s ({:.2}s)",
        r.raw_events_per_second, r.raw_seconds
    );
    println!("  raw / engine: {:.1}x", r.raw_to_engine_ratio);
    Ok(())
}

fn bench_event(i: u32) -> NewEvent {
    NewEvent::new("bench", "item", i, "moved", "bench")
        .transition(Some("a"), "b")
        .payload(serde_json::json!({ "i": i }))
}

async fn event_runs(config: Config, scratch: &Scratch, args: &EventArgs) -> Result<EventBench> {
    let writers = args.writers.max(1);
    let pool = db::connect(&scratch.url, writers + 2).await?;
    let ctx = Ctx::new(pool.clone(), config, Arc::new(SystemClock))?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let ctx = ctx.clone();
        let count = args.count;
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < count {
                let mut tx = ctx.pool.begin().await?;
                events::append(&mut tx, &bench_event(i), ctx.now()).await?;
                tx.commit().await?;
                i += writers;
            }
            Ok::<_, vivid_core::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let engine_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let chunk = 10_000u32;
    let mut from = 0;
    while from < args.count {
        let to = (from + chunk).min(args.count);
        let ids: Vec<String> = (from..to).map(|i| i.to_string()).collect();
        let payloads: Vec<serde_json::Value> =
            (from..to).map(|i| serde_json::json!({ "i": i })).collect();
        sqlx::query(
            "INSERT INTO events (workflow, entity_type, entity_id, action, from_state, to_state, actor, payload, occurred_at)
             SELECT 'bench', 'item', id, 'moved', 'a', 'b', 'bench', p, now()
             FROM UNNEST($1::text[], $2::jsonb[]) AS t(id, p)",
        )
        .bind(&ids)
        .bind(&payloads)
        .execute(&pool)
        .await?;
        from = to;
    }
    let raw_seconds = started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(EventBench {
        events: args.count,
        writers,
        engine_seconds,
        engine_events_per_second: f64::from(args.count) / engine_seconds,
        raw_seconds,
        raw_events_per_second: f64::from(args.count) / raw_seconds,
        raw_to_engine_ratio: engine_seconds / raw_seconds,
    })
}

#[derive(Debug, Serialize)]
struct EscalationBench {
    incidents: u32,
    engines: u32,
    open_seconds: f64,
    notifications: i64,
    lateness_p50_ms: f64,
    lateness_p99_ms: f64,
    lateness_max_ms: f64,
}

async fn escalation_bench(config: Config, args: EscalationArgs) -> Result<()> {
    let r = in_scratch("escalation", async |scratch| {
        escalation_run(config, scratch, &args).await
    })
    .await?;
    if args.json {
        return output::json(&r);
    }
    println!(
        "{} open P1 incidents, first escalation level due at one instant, {} engine process(es):",
        r.incidents, r.engines
    );
    println!(
        "  opening them took {:.1}s ({:.0} incidents/s through the crisis service)",
        r.open_seconds,
        f64::from(r.incidents) / r.open_seconds
    );
    println!(
        "  due -> queued notification: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} notifications)",
        r.lateness_p50_ms, r.lateness_p99_ms, r.lateness_max_ms, r.notifications
    );
    Ok(())
}

async fn escalation_run(
    config: Config,
    scratch: &Scratch,
    args: &EscalationArgs,
) -> Result<EscalationBench> {
    use vivid_core::clock::SimClock;
    use vivid_core::crisis::{Severity, service};
    let pool = db::connect(&scratch.url, 8).await?;
    // Open every incident "at" one instant in the near future, so all their
    // first-level escalation timers fall due together.
    // (Generous: a debug build on a busy machine opens them slowly.)
    let estimate = Duration::from_millis(u64::from(args.incidents) * 12 + 10_000);
    let due = chrono::Utc::now() + chrono::TimeDelta::from_std(estimate).unwrap_or_default();
    let clock = SimClock::at(due);
    let ctx = Ctx::new(pool.clone(), config, Arc::new(clock))?;
    ctx.org.sync(&pool).await?;
    let started = Instant::now();
    let writers = 4u32;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let ctx = ctx.clone();
        let count = args.incidents;
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < count {
                let new = service::NewIncident {
                    title: format!("Bench incident {i}"),
                    description: String::new(),
                    severity: Severity::P1,
                    source: service::Source::Manual,
                    source_ref: None,
                    departments: vec!["technology".into()],
                    commander: None,
                    trigger_key: None,
                };
                service::open(&ctx, &new, "olu").await?;
                i += writers;
            }
            Ok::<_, vivid_core::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let open_seconds = started.elapsed().as_secs_f64();
    if chrono::Utc::now() >= due {
        anyhow::bail!(
            "opening the incidents took longer than planned; the timers were already due"
        );
    }
    let children = spawn_engines(&scratch.url, args.engines)?;
    let expected = i64::from(args.incidents) * 2; // two schedules on call for a P1
    let deadline = Instant::now() + estimate + Duration::from_secs(120);
    let mut notifications = 0;
    while Instant::now() < deadline {
        notifications =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject LIKE '[escalation L1]%'")
                .fetch_one(&pool)
                .await?;
        if notifications >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for mut c in children {
        c.kill().await.ok();
    }
    let (p50, p99, max): (Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY l), percentile_cont(0.99) WITHIN GROUP (ORDER BY l), max(l)::float8
         FROM (SELECT extract(epoch FROM created_at - $1) * 1000 AS l FROM outbox WHERE subject LIKE '[escalation L1]%') x",
    )
    .bind(due)
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    Ok(EscalationBench {
        incidents: args.incidents,
        engines: args.engines,
        open_seconds,
        notifications,
        lateness_p50_ms: p50.unwrap_or(0.0),
        lateness_p99_ms: p99.unwrap_or(0.0),
        lateness_max_ms: max.unwrap_or(0.0),
    })
}

#[derive(Debug, Serialize)]
struct ExperimentBench {
    exposures: i64,
    conversions: i64,
    load_seconds: f64,
    analysis_ms_runs: Vec<f64>,
    analysis_ms_median: f64,
    stats_frequentist_us: f64,
    stats_bayesian_us: f64,
    stats_sequential_us: f64,
}

async fn experiment_bench(config: Config, args: ExperimentArgs) -> Result<()> {
    let r = in_scratch("experiment", async |scratch| {
        experiment_run(config, scratch, &args).await
    })
    .await?;
    if args.json {
        return output::json(&r);
    }
    println!(
        "Experiment with {} exposure rows and {} conversion events (loaded in {:.1}s):",
        r.exposures, r.conversions, r.load_seconds
    );
    println!(
        "  full analysis (SQL aggregation + statistics + guardrails): median {:.0} ms over {} runs ({:?})",
        r.analysis_ms_median,
        r.analysis_ms_runs.len(),
        r.analysis_ms_runs
            .iter()
            .map(|m| m.round())
            .collect::<Vec<_>>()
    );
    println!(
        "  statistics alone, per analysis of two arms: frequentist {:.2} µs, sequential {:.2} µs, Bayesian {:.2} µs",
        r.stats_frequentist_us, r.stats_sequential_us, r.stats_bayesian_us
    );
    Ok(())
}

fn time_stats(input: &vivid_core::stats::AnalysisInput) -> Result<f64> {
    let rounds = 100_000u32;
    let started = Instant::now();
    let mut sink = 0.0;
    for _ in 0..rounds {
        let out = vivid_core::stats::analyze(std::hint::black_box(input))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        sink += out.srm_p_value;
    }
    std::hint::black_box(sink);
    Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds))
}

async fn experiment_run(
    config: Config,
    scratch: &Scratch,
    args: &ExperimentArgs,
) -> Result<ExperimentBench> {
    use vivid_core::experiments::service::{self, NewExperiment};
    use vivid_core::stats::{AnalysisInput, Difference, Engine, MetricKind, VariationInput};
    let pool = db::connect(&scratch.url, 4).await?;
    let ctx = Ctx::new(pool.clone(), config, Arc::new(SystemClock))?;
    ctx.org.sync(&pool).await?;
    let exp = service::create(
        &ctx,
        &NewExperiment {
            key: "bench".into(),
            name: "Benchmark".into(),
            hypothesis: "A benchmark".into(),
            owner: "ana".into(),
            metric: "purchase".into(),
            metric_kind: MetricKind::Binomial,
            guardrails: vec!["refund:binomial".into()],
            secondary: vec![],
            texts: vec![],
            engine: Engine::Frequentist,
            difference: Difference::Relative,
            sequential: false,
            alpha: 0.05,
            power: 0.8,
            mde: 0.05,
            baseline: 0.03,
            baseline_variance: None,
            daily_traffic: 100_000,
            variations: vec![("control".into(), 0.5), ("treatment".into(), 0.5)],
            content_id: None,
            follows: None,
        },
        "ana",
    )
    .await?;
    service::start(&ctx, "bench", "ana").await?;
    let started = Instant::now();
    // Exposures in chunks (a few transactions rather than one huge one).
    let chunk = 1_000_000i64;
    let mut from = 0i64;
    while from < args.exposures {
        let to = (from + chunk).min(args.exposures);
        sqlx::query(
            "INSERT INTO experiment_exposures (experiment_id, unit_id, variation, exposed_at)
             SELECT $1, 'u' || g, CASE WHEN g % 2 = 0 THEN 'control' ELSE 'treatment' END, now()
             FROM generate_series($2, $3 - 1) g",
        )
        .bind(exp.id)
        .bind(from)
        .bind(to)
        .execute(&pool)
        .await?;
        from = to;
    }
    // About 3% convert (a little more in the treatment); 0.5% refund.
    sqlx::query(
        "INSERT INTO experiment_events (experiment_id, unit_id, variation, metric, value, recorded_at)
         SELECT $1, 'u' || g, CASE WHEN g % 2 = 0 THEN 'control' ELSE 'treatment' END, 'purchase', 1, now()
         FROM generate_series(0, $2 - 1) g
         WHERE (g * 2654435761 % 1000) < CASE WHEN g % 2 = 0 THEN 30 ELSE 32 END",
    )
    .bind(exp.id)
    .bind(args.exposures)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO experiment_events (experiment_id, unit_id, variation, metric, value, recorded_at)
         SELECT $1, 'u' || g, CASE WHEN g % 2 = 0 THEN 'control' ELSE 'treatment' END, 'refund', 1, now()
         FROM generate_series(0, $2 - 1) g WHERE (g * 40503 % 1000) < 5",
    )
    .bind(exp.id)
    .bind(args.exposures)
    .execute(&pool)
    .await?;
    sqlx::query("VACUUM ANALYZE experiment_exposures")
        .execute(&pool)
        .await?;
    sqlx::query("VACUUM ANALYZE experiment_events")
        .execute(&pool)
        .await?;
    let load_seconds = started.elapsed().as_secs_f64();
    let conversions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM experiment_events WHERE metric = 'purchase'")
            .fetch_one(&pool)
            .await?;
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let report = service::analyze(&ctx, "bench").await?;
        std::hint::black_box(&report);
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    pool.close().await;

    let input = |engine: Engine, sequential: bool| AnalysisInput {
        metric: MetricKind::Binomial,
        engine,
        difference: Difference::Relative,
        sequential,
        sequential_tuning: 5000.0,
        alpha: 0.05,
        weights: Some(vec![0.5, 0.5]),
        prior: None,
        cuped: false,
        variations: vec![
            VariationInput {
                name: "control".into(),
                n: 5_000_000,
                sum: 150_000.0,
                sum_squares: None,
                ..Default::default()
            },
            VariationInput {
                name: "treatment".into(),
                n: 5_000_000,
                sum: 160_000.0,
                sum_squares: None,
                ..Default::default()
            },
        ],
    };
    Ok(ExperimentBench {
        exposures: args.exposures,
        conversions,
        load_seconds,
        analysis_ms_runs: runs,
        analysis_ms_median: median,
        stats_frequentist_us: time_stats(&input(Engine::Frequentist, false))?,
        stats_sequential_us: time_stats(&input(Engine::Frequentist, true))?,
        stats_bayesian_us: time_stats(&input(Engine::Bayesian, false))?,
    })
}

/// CSV rows made on the fly: "u{i},{device},{covariate}" after a header.
struct CsvRows {
    next: i64,
    end: i64,
    buf: Vec<u8>,
    pos: usize,
}

impl std::io::Read for CsvRows {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::io::Write;
        if self.pos >= self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            while self.buf.len() < 1 << 16 && self.next < self.end {
                let i = self.next;
                let device = ["mobile", "desktop", "tablet"][usize::try_from(i % 3).unwrap_or(0)];
                // A pre-period purchase for about 1 unit in 20.
                let covariate = u8::from(i.wrapping_mul(2_654_435_761) % 1000 < 50);
                writeln!(self.buf, "u{i},{device},{covariate}")?;
                self.next += 1;
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[derive(Debug, Serialize)]
struct ExperimentImportBench {
    rows: i64,
    import_seconds: f64,
    rows_per_second: f64,
    conversions: i64,
    cuped_analysis_ms_runs: Vec<f64>,
    cuped_analysis_ms_median: f64,
    analysis_with_breakdowns_ms: f64,
}

async fn experiment_import_bench(config: Config, args: ExperimentImportArgs) -> Result<()> {
    let r = in_scratch("experiment_import", async |scratch| {
        experiment_import_run(config, scratch, &args).await
    })
    .await?;
    if args.json {
        return output::json(&r);
    }
    println!(
        "Import of {} exposures (CSV -> COPY -> anti-join INSERT, with covariate and device): {:.1} s, {:.0} rows/s",
        r.rows, r.import_seconds, r.rows_per_second
    );
    println!(
        "  CUPED analysis over them ({} conversions; SQL aggregation + statistics + guardrail): median {:.0} ms over {} runs ({:?})",
        r.conversions,
        r.cuped_analysis_ms_median,
        r.cuped_analysis_ms_runs.len(),
        r.cuped_analysis_ms_runs
            .iter()
            .map(|m| m.round())
            .collect::<Vec<_>>()
    );
    println!(
        "  with the device breakdown (Benjamini-Hochberg): {:.0} ms",
        r.analysis_with_breakdowns_ms
    );
    Ok(())
}

async fn experiment_import_run(
    config: Config,
    scratch: &Scratch,
    args: &ExperimentImportArgs,
) -> Result<ExperimentImportBench> {
    use vivid_core::experiments::{import, service};
    let pool = db::connect(&scratch.url, 4).await?;
    let ctx = Ctx::new(pool.clone(), config, Arc::new(SystemClock))?;
    ctx.org.sync(&pool).await?;
    let design = service::NewExperiment {
        key: "bench".into(),
        name: "Import benchmark".into(),
        hypothesis: "A benchmark".into(),
        owner: "ana".into(),
        metric: "purchase".into(),
        metric_kind: vivid_core::stats::MetricKind::Binomial,
        guardrails: vec!["refund:binomial".into()],
        secondary: vec![],
        texts: vec![],
        engine: vivid_core::stats::Engine::Frequentist,
        difference: vivid_core::stats::Difference::Relative,
        sequential: false,
        alpha: 0.05,
        power: 0.8,
        mde: 0.05,
        baseline: 0.03,
        baseline_variance: None,
        daily_traffic: 100_000,
        variations: vec![("control".into(), 0.5), ("treatment".into(), 0.5)],
        content_id: None,
        follows: None,
    };
    let exp = service::create(&ctx, &design, "ana").await?;
    service::start(&ctx, "bench", "ana").await?;
    let mut header = std::io::Cursor::new(b"unit_id,device,covariate\n".to_vec());
    let rows = CsvRows {
        next: 0,
        end: args.rows,
        buf: Vec::new(),
        pos: 0,
    };
    let mut reader =
        std::io::BufReader::with_capacity(1 << 20, std::io::Read::chain(&mut header, rows));
    let started = Instant::now();
    let summary = import::exposures(&ctx, "bench", "ana", &mut reader).await?;
    let import_seconds = started.elapsed().as_secs_f64();
    // Conversions follow the pre-period purchase (what CUPED exploits).
    sqlx::query(
        "INSERT INTO experiment_events (experiment_id, unit_id, variation, metric, value, recorded_at)
         SELECT $1, x.unit_id, x.variation, 'purchase', 1, now() FROM experiment_exposures x
         WHERE x.experiment_id = $1
           AND (hashtext(x.unit_id) & 1023) < CASE WHEN x.covariate > 0 THEN 300 ELSE 20 END
                + CASE WHEN x.variation = 'treatment' THEN 2 ELSE 0 END",
    )
    .bind(exp.id)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO experiment_events (experiment_id, unit_id, variation, metric, value, recorded_at)
         SELECT $1, x.unit_id, x.variation, 'refund', 1, now() FROM experiment_exposures x
         WHERE x.experiment_id = $1 AND (hashtext(x.unit_id || 'r') & 1023) < 5",
    )
    .bind(exp.id)
    .execute(&pool)
    .await?;
    sqlx::query("VACUUM ANALYZE experiment_exposures")
        .execute(&pool)
        .await?;
    sqlx::query("VACUUM ANALYZE experiment_events")
        .execute(&pool)
        .await?;
    let conversions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM experiment_events WHERE metric = 'purchase'")
            .fetch_one(&pool)
            .await?;
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let report = service::analyze_with(&ctx, "bench", false).await?;
        if !report.cuped {
            anyhow::bail!("the benchmark's analysis did not use CUPED");
        }
        std::hint::black_box(&report);
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let t = Instant::now();
    std::hint::black_box(service::analyze(&ctx, "bench").await?);
    let with_breakdowns = t.elapsed().as_secs_f64() * 1000.0;
    pool.close().await;
    Ok(ExperimentImportBench {
        rows: i64::try_from(summary.inserted).unwrap_or(i64::MAX),
        import_seconds,
        rows_per_second: summary.inserted as f64 / import_seconds.max(1e-9),
        conversions,
        cuped_analysis_ms_runs: runs,
        cuped_analysis_ms_median: median,
        analysis_with_breakdowns_ms: with_breakdowns,
    })
}

#[derive(Debug, Serialize)]
struct TouchBench {
    touches: u32,
    writers: u32,
    scored_per_second: f64,
    raw_per_second: f64,
    raw_to_scored_ratio: f64,
}

async fn touch_bench(config: Config, args: TouchArgs) -> Result<()> {
    let r = in_scratch("touches", async |scratch| {
        touch_run(config, scratch, &args).await
    })
    .await?;
    if args.json {
        return output::json(&r);
    }
    println!("{} touches over 2,000 prospects:", r.touches);
    println!(
        "  through the scoring path ({} writers, one transaction each): {:>8.0} touches/s",
        r.writers, r.scored_per_second
    );
    println!(
        "  raw multi-row INSERT of the same rows:                     {:>8.0} touches/s",
        r.raw_per_second
    );
    println!("  raw / scored: {:.1}x", r.raw_to_scored_ratio);
    Ok(())
}

async fn touch_run(config: Config, scratch: &Scratch, args: &TouchArgs) -> Result<TouchBench> {
    use vivid_core::journey::service::{self, NewTouch};
    let writers = args.writers.max(1);
    let pool = db::connect(&scratch.url, writers + 2).await?;
    let ctx = Ctx::new(pool.clone(), config, Arc::new(SystemClock))?;
    ctx.org.sync(&pool).await?;
    let kinds = ["delivered", "opened", "clicked", "delivered", "opened"];
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let ctx = ctx.clone();
        let count = args.count;
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < count {
                let t = NewTouch {
                    prospect: format!("p{}", i % 2000),
                    channel: "email".into(),
                    kind: kinds[(i as usize) % kinds.len()].into(),
                    idempotency_key: format!("k{i}"),
                    segment: None,
                    content_id: None,
                };
                service::touch(&ctx, &t, "bench").await?;
                i += writers;
            }
            Ok::<_, vivid_core::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let scored = started.elapsed().as_secs_f64();
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO touches (prospect_id, channel, kind, points, idempotency_key, occurred_at)
         SELECT (SELECT id FROM prospects WHERE key = 'p' || (g % 2000)), 'email', 'opened', 10, 'raw' || g, now()
         FROM generate_series(0, $1 - 1) g",
    )
    .bind(i64::from(args.count))
    .execute(&pool)
    .await?;
    let raw = started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(TouchBench {
        touches: args.count,
        writers,
        scored_per_second: f64::from(args.count) / scored,
        raw_per_second: f64::from(args.count) / raw,
        raw_to_scored_ratio: scored / raw,
    })
}

/// `n` (at least one) `vivid engine` processes on a scratch database,
/// polling every 200 ms; they stop when the returned handles are dropped.
fn spawn_engines(url: &str, n: u32) -> Result<Vec<tokio::process::Child>> {
    let exe = std::env::current_exe().context("cannot find the vivid executable")?;
    (0..n.max(1))
        .map(|_| {
            tokio::process::Command::new(&exe)
                .args(["engine"])
                .env("DATABASE_URL", url)
                .env("RUST_LOG", "warn")
                .env("VIVID__ENGINE__POLL_INTERVAL", "200ms")
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("cannot start an engine process")
        })
        .collect()
}
