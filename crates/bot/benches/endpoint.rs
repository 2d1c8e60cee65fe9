//! Latency of the HTTP interactions endpoint under a steady load of signed
//! slash commands (`/crisis list` and `/crisis status`), open loop: each
//! request leaves at its scheduled moment whether or not earlier ones have
//! been answered, and its latency counts from that moment (no coordinated
//! omission). Figures are printed, nothing is asserted.
//!
//! `cargo bench -p vivid-bot --bench endpoint` (VIVID_BENCH_RATE=200,
//! VIVID_BENCH_SECS=10 by default). Uses a scratch database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use vivid_bot::Rest;
use vivid_bot::http::{self, Endpoint};
use vivid_bot::testing::{Signer, command, post_signed};
use vivid_core::clock::SystemClock;
use vivid_core::crisis::Severity;
use vivid_core::crisis::service::{self, NewIncident, Source};
use vivid_core::testing::{default_config, fresh_db};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// What one request saw.
struct Sample {
    latency: Duration,
    ok: bool,
    deferred: bool,
}

async fn bench() -> BenchResult<()> {
    let rate = env_number("VIVID_BENCH_RATE", 200);
    let secs = env_number("VIVID_BENCH_SECS", 10);
    let db = fresh_db().await?;
    let ctx = db.ctx(default_config(), Arc::new(SystemClock)).await?;
    let mut ids = Vec::new();
    for (i, severity) in [Severity::P1, Severity::P2, Severity::P3, Severity::P4]
        .into_iter()
        .cycle()
        .take(24)
        .enumerate()
    {
        let inc = service::open(
            &ctx,
            &NewIncident {
                title: format!("Benchmark incident {i}"),
                description: "Opened by the endpoint benchmark.".into(),
                severity,
                source: Source::Manual,
                source_ref: None,
                departments: vec!["operations".into()],
                commander: None,
                trigger_key: None,
            },
            "olu",
        )
        .await?;
        ids.extend(inc.map(|i| i.id));
    }

    let signer = Signer::generate();
    // Deferred answers would go to this base; none are expected at this load.
    let rest = Rest::new("http://127.0.0.1:9", None)?;
    let endpoint = Endpoint::new(ctx.clone(), signer.verifying_key(), rest);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/interactions", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, endpoint, async {
        stopped.await.ok();
    }));

    let client = vivid_bot::testing::HttpClient::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let signer = Arc::new(signer);
    let omar = "100000000000000004";
    let total = rate * secs;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    println!(
        "endpoint benchmark: {rate} signed slash commands/s for {secs} s ({total} requests), {} open incidents",
        ids.len()
    );
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for n in 0..total {
        let at = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(at).await;
        let body = if n % 2 == 0 {
            command(omar, "crisis", Some("list"), json!([]))
        } else {
            let id = ids
                .get(usize::try_from(n).unwrap_or(0) % ids.len().max(1))
                .copied()
                .unwrap_or(1);
            command(
                omar,
                "crisis",
                Some("status"),
                json!([{ "name": "id", "type": 4, "value": id }]),
            )
        };
        let (client, url, signer) = (client.clone(), url.clone(), signer.clone());
        let scheduled: Instant = at.into_std();
        tasks.push(tokio::spawn(async move {
            let result = post_signed(&client, &url, &signer, &body).await;
            let latency = scheduled.elapsed();
            match result {
                Ok((status, reply)) => Sample {
                    latency,
                    ok: status == 200 && reply["type"] == 4,
                    deferred: reply["type"] == 5,
                },
                Err(_) => Sample {
                    latency,
                    ok: false,
                    deferred: false,
                },
            }
        }));
    }
    let sent_in = start.elapsed();
    let mut samples = Vec::with_capacity(tasks.len());
    for t in tasks {
        samples.push(t.await?);
    }
    stop.send(()).ok();
    server.await.ok();

    let failed = samples.iter().filter(|s| !s.ok && !s.deferred).count();
    let deferred = samples.iter().filter(|s| s.deferred).count();
    let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    latencies.sort();
    println!(
        "sent {} requests in {:.2} s ({:.0}/s achieved)",
        samples.len(),
        sent_in.as_secs_f64(),
        samples.len() as f64 / sent_in.as_secs_f64()
    );
    println!(
        "latency  p50 {}  p90 {}  p99 {}  max {}",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(percentile(&latencies, 100.0)),
    );
    println!(
        "answered in time: {}  deferred: {deferred}  failed: {failed}",
        samples.len() - failed - deferred
    );
    Ok(())
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(bench()) {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}
