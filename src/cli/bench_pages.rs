//! `vivid bench pages` (pages per second per channel against local servers)
//! and `vivid bench alerts` (alert ingestion through `vivid serve`).
//! Figures are printed; nothing is asserted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::routing::post;
use clap::Args;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use vivid_core::clock::SystemClock;
use vivid_core::config::Config;
use vivid_core::engine::outbox::{self, LogTarget, NewNotification, Page};
use vivid_core::notify::config::Security;
use vivid_core::notify::{Method, contacts};
use vivid_core::privacy::crypto::{MasterKey, install_process_key};
use vivid_core::{Ctx, db};

use super::bench::{Scratch, in_scratch};
use crate::output;

#[derive(Debug, Args)]
pub struct PagesArgs {
    /// Pages per channel.
    #[arg(long, default_value_t = 1_000)]
    count: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct AlertArgs {
    /// Requests to send.
    #[arg(long, default_value_t = 2_000)]
    requests: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: u32,
    /// Distinct dedup keys (the rest attach to open incidents).
    #[arg(long, default_value_t = 200)]
    keys: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct ChannelRun {
    channel: &'static str,
    pages: u32,
    delivered: u64,
    failed: u64,
    seconds: f64,
    pages_per_second: f64,
}

pub async fn pages(config: Config, args: PagesArgs) -> Result<()> {
    let runs = in_scratch("pages", async |scratch| {
        pages_run(config, scratch, &args).await
    })
    .await?;
    if args.json {
        return output::json(&runs);
    }
    println!(
        "{} pages per channel against local servers (one engine, {} deliveries in parallel):",
        args.count,
        runs.first().map(|r| r.1).unwrap_or(0)
    );
    for (r, _) in &runs {
        println!(
            "  {:<8} {:>7.0} pages/s ({} delivered, {} failed, {:.2}s)",
            r.channel, r.pages_per_second, r.delivered, r.failed, r.seconds
        );
    }
    Ok(())
}

async fn pages_run(
    mut config: Config,
    scratch: &Scratch,
    args: &PagesArgs,
) -> Result<Vec<(ChannelRun, u32)>> {
    install_process_key(MasterKey::generate()?);
    let received = Arc::new(AtomicU64::new(0));
    let http = http_sink(received.clone()).await?;
    let smtp = smtp_sink(received.clone()).await?;
    let n = &mut config.notify;
    n.email.host = "127.0.0.1".into();
    n.email.port = smtp;
    n.email.security = Security::None;
    n.sms.base_url = http.clone();
    n.push.server = format!("{http}/ntfy");
    n.rate_per_minute.clear();
    let parallel = n.parallel_deliveries;
    let pool = db::connect(&scratch.url, 10).await?;
    let ctx = Ctx::new(pool.clone(), config, Arc::new(SystemClock))?;
    ctx.org.sync(&pool).await?;
    let secrets = vivid_notify::Secrets {
        sms_account: Some("ACbench".into()),
        sms_token: Some("token".into()),
        webhook_secret: Some("secret".into()),
        ..Default::default()
    };
    let router =
        vivid_notify::Router::with_secrets(&ctx.config.notify, secrets, Arc::new(LogTarget))
            .map_err(anyhow::Error::msg)?;
    let mut runs = Vec::new();
    for (method, to) in [
        (Method::Push, "bench-topic".to_string()),
        (Method::Sms, "+15551230001".to_string()),
        (Method::Webhook, format!("{http}/hook/bench")),
        (Method::Email, "bench@example.com".to_string()),
    ] {
        let contact = contacts::add(&ctx, "kai", method, &to, "kai").await?;
        let mut queued = 0u32;
        while queued < args.count {
            let chunk: Vec<NewNotification> = (queued..(queued + 1000).min(args.count))
                .map(|i| {
                    NewNotification::to_person("kai", "bench", i, "[P1] bench page")
                        .body("Acknowledge: vivid crisis ack 1 --as kai")
                        .severity("critical")
                        .page(Page {
                            channel: Some(method),
                            contact_id: Some(contact.id),
                            escalation_id: None,
                            level: 0,
                            round: 0,
                        })
                })
                .collect();
            queued += u32::try_from(chunk.len()).unwrap_or(0);
            let mut conn = pool.acquire().await?;
            outbox::enqueue_many(&ctx, &mut conn, &chunk).await?;
        }
        let started = Instant::now();
        let (mut delivered, mut failed) = (0, 0);
        loop {
            let r = outbox::deliver_due(&ctx, &router, 500).await?;
            delivered += r.delivered;
            failed += r.dead;
            if r.delivered + r.retried + r.dead == 0 {
                break;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        runs.push((
            ChannelRun {
                channel: method.as_str(),
                pages: args.count,
                delivered,
                failed,
                seconds,
                pages_per_second: delivered as f64 / seconds.max(1e-9),
            },
            parallel,
        ));
    }
    pool.close().await;
    Ok(runs)
}

/// Answers every POST with 200 and counts it.
async fn http_sink(count: Arc<AtomicU64>) -> Result<String> {
    let app = axum::Router::new().fallback(post(move || {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::Relaxed);
            "{}"
        }
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    Ok(url)
}

/// Accepts every message (enough SMTP for one client: EHLO, MAIL, RCPT,
/// DATA, QUIT) and counts it.
async fn smtp_sink(count: Arc<AtomicU64>) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                if write.write_all(b"220 bench SMTP\r\n").await.is_err() {
                    return;
                }
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-localhost\r\n250 8BITMIME\r\n"
                    } else if upper == "DATA" {
                        if write.write_all(b"354 go\r\n").await.is_err() {
                            return;
                        }
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        write.write_all(b"221 bye\r\n").await.ok();
                        return;
                    } else {
                        b"250 OK\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(port)
}

#[derive(Debug, Serialize)]
struct AlertBench {
    requests: u32,
    concurrency: u32,
    ok: u64,
    errors: u64,
    seconds: f64,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    incidents_opened: i64,
}

pub async fn alerts(config: Config, args: AlertArgs) -> Result<()> {
    let _ = config;
    let r = in_scratch("alerts", async |scratch| alerts_run(scratch, &args).await).await?;
    if args.json {
        return output::json(&r);
    }
    println!(
        "{} generic alerts through `vivid serve`, {} in flight, {} dedup keys:",
        r.requests, r.concurrency, args.keys
    );
    println!(
        "  {:.0} requests/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} ok, {} errors; {} incidents)",
        r.requests_per_second, r.p50_ms, r.p99_ms, r.max_ms, r.ok, r.errors, r.incidents_opened
    );
    Ok(())
}

async fn alerts_run(scratch: &Scratch, args: &AlertArgs) -> Result<AlertBench> {
    let exe = std::env::current_exe().context("cannot find the vivid executable")?;
    let token = "bench-alert-token";
    let mut child = tokio::process::Command::new(&exe)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &scratch.url)
        .env("VIVID_ALERT_TOKEN", token)
        .env("RUST_LOG", "warn")
        .env_remove("DISCORD_PUBLIC_KEY")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start `vivid serve`")?;
    let stdout = child
        .stdout
        .take()
        .context("no stdout from `vivid serve`")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .context("`vivid serve` did not start within 60 s")??
        .unwrap_or_default();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(str::to_string)
        .with_context(|| format!("unexpected first line from `vivid serve`: {first:?}"))?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{base}/alerts");
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        let (total, keys) = (u64::from(args.requests), u64::from(args.keys.max(1)));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let body = serde_json::json!({
                    "dedup_key": format!("bench-{}", i % keys),
                    "summary": format!("Bench alert {}", i % keys),
                    "severity": "P3",
                    "department": "technology",
                    "status": "firing",
                    "source": format!("bench-{}", i % 8),
                });
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .bearer_auth(token)
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    child.kill().await.ok();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if lat.is_empty() {
            0.0
        } else {
            let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
            lat[i.min(lat.len() - 1)]
        }
    };
    let pool = db::connect(&scratch.url, 1).await?;
    let incidents: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(AlertBench {
        requests: args.requests,
        concurrency: args.concurrency,
        ok: lat.len() as u64,
        errors,
        seconds,
        requests_per_second: lat.len() as f64 / seconds.max(1e-9),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: lat.last().copied().unwrap_or(0.0),
        incidents_opened: incidents,
    })
}
