//! `vivid serve`: one HTTP server for everything that calls in — Discord's
//! interactions endpoint, alerts from monitoring, health and metrics.
//!
//! - `POST /discord/interactions` — the bot's signed endpoint (when
//!   `DISCORD_PUBLIC_KEY` is set);
//! - `POST /alerts/alertmanager`, `POST /alerts/grafana`, `POST /alerts` —
//!   alerts to incidents, with `Authorization: Bearer $VIVID_ALERT_TOKEN`;
//! - `GET /healthz` — 200 when the database answers, else 503;
//! - `GET /metrics` — Prometheus text format.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use serde_json::json;
use tokio::net::TcpListener;
use vivid_core::crisis::alerts::{self, Alert};
use vivid_core::{Ctx, Error};

use super::shutdown_signal;
use crate::app::{self, Schema};

/// The environment variable holding the alert routes' bearer token.
pub const ALERT_TOKEN_VAR: &str = "VIVID_ALERT_TOKEN";
/// Alert bodies larger than this are refused (413).
const MAX_ALERT_BODY: usize = 512 * 1024;
/// How long an alert request may wait for a database that is briefly away
/// before it answers 503 so the sender retries.
const ALERT_DEADLINE: Duration = Duration::from_secs(8);

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the bound address is
    /// printed on the first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

struct Server {
    ctx: Ctx,
    alert_token: Option<String>,
}

pub async fn run(config: vivid_core::config::Config, args: ServeArgs) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 8).await?;
    let alert_token = std::env::var(ALERT_TOKEN_VAR)
        .ok()
        .filter(|t| !t.trim().is_empty());
    let discord = match std::env::var("DISCORD_PUBLIC_KEY") {
        Ok(_) => {
            let key = vivid_bot::secrets::public_key()?;
            let rest =
                vivid_bot::Rest::new(&ctx.config.discord.api_base, vivid_bot::secrets::token())?;
            let endpoint = vivid_bot::http::Endpoint::new(ctx.clone(), key, rest);
            Some(vivid_bot::http::router(Arc::new(endpoint)))
        }
        Err(_) => None,
    };
    let server = Arc::new(Server {
        ctx: ctx.clone(),
        alert_token,
    });
    let mut app = Router::new()
        .route("/alerts", post(generic))
        .route("/alerts/alertmanager", post(alertmanager))
        .route("/alerts/grafana", post(grafana))
        .layer(DefaultBodyLimit::max(MAX_ALERT_BODY))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(server.clone());
    let with_discord = discord.is_some();
    if let Some(d) = discord {
        app = app.nest("/discord", d);
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener.local_addr()?;
    // Scripts and tests read the bound address from the first line.
    println!("vivid serve: listening on http://{bound}");
    println!(
        "  alerts: {} · discord: {} · /healthz · /metrics",
        if server.alert_token.is_some() {
            "POST /alerts, /alerts/alertmanager, /alerts/grafana"
        } else {
            "off (set VIVID_ALERT_TOKEN)"
        },
        if with_discord {
            "POST /discord/interactions"
        } else {
            "off (set DISCORD_PUBLIC_KEY)"
        }
    );
    std::io::stdout().flush().ok();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server stopped")?;
    Ok(())
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Compare without leaking where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

/// `Authorization: Bearer TOKEN`, checked against `VIVID_ALERT_TOKEN`:
/// the refusal to send, if any.
fn authorised(server: &Server, headers: &HeaderMap) -> Option<Response> {
    let Some(expected) = &server.alert_token else {
        return Some(reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": "alert ingestion is off: set VIVID_ALERT_TOKEN on the server" }),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if same_secret(given.as_bytes(), expected.as_bytes()) {
        None
    } else {
        Some(reply(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "missing or wrong bearer token" }),
        ))
    }
}

async fn alertmanager(State(s): State<Arc<Server>>, headers: HeaderMap, body: Bytes) -> Response {
    receive(&s, &headers, || {
        alerts::parse_webhook(&body, "alertmanager")
    })
    .await
}

async fn grafana(State(s): State<Arc<Server>>, headers: HeaderMap, body: Bytes) -> Response {
    receive(&s, &headers, || alerts::parse_webhook(&body, "grafana")).await
}

async fn generic(State(s): State<Arc<Server>>, headers: HeaderMap, body: Bytes) -> Response {
    receive(&s, &headers, || alerts::parse_generic(&body)).await
}

/// Check, parse, ingest: 200 with what happened to each alert; 400 for a
/// malformed payload (with the reason); 503 when the database stays away
/// past the deadline, so the sender retries and nothing is lost.
async fn receive(
    s: &Server,
    headers: &HeaderMap,
    parse: impl FnOnce() -> vivid_core::Result<Vec<Alert>>,
) -> Response {
    if let Some(refused) = authorised(s, headers) {
        return refused;
    }
    let parsed = match parse() {
        Ok(a) => a,
        Err(e) => return reply(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
    };
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(100);
    loop {
        match alerts::ingest(&s.ctx, &parsed).await {
            Ok(done) => return reply(StatusCode::OK, json!({ "alerts": done })),
            Err(e) if e.is_user_error() => {
                return reply(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() }));
            }
            Err(e @ Error::Internal(_)) => {
                tracing::error!(error = %e, "alert ingestion failed");
                return reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": "internal error; the alert was not recorded" }),
                );
            }
            Err(e) => {
                if started.elapsed() + wait > ALERT_DEADLINE {
                    tracing::warn!(error = %e, "alert not recorded: database unavailable");
                    return reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({ "error": "the database is unavailable; retry" }),
                    );
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn healthz(State(s): State<Arc<Server>>) -> Response {
    match vivid_core::db::ping(&s.ctx.pool).await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database unavailable: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<Arc<Server>>) -> Response {
    match gather(&s.ctx).await {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("# metrics unavailable: {e}\n"),
        )
            .into_response(),
    }
}

async fn gather(ctx: &Ctx) -> vivid_core::Result<String> {
    let status = vivid_core::status::collect(ctx).await?;
    let mut conn = ctx.pool.acquire().await?;
    let by_severity = vivid_core::crisis::read::open_by_severity(&mut conn).await?;
    Ok(prometheus(&status, &by_severity))
}

/// A label value escaped as the text format wants it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The status as Prometheus text format: one HELP/TYPE pair per family.
fn prometheus(
    s: &vivid_core::status::Status,
    by_severity: &[(vivid_core::crisis::model::Severity, i64)],
) -> String {
    let mut out = String::new();
    let mut family = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            out.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let plain = |v: i64| vec![(String::new(), v as f64)];
    family(
        "vivid_incidents_open",
        "Open incidents (triggered or acknowledged) by severity.",
        by_severity
            .iter()
            .map(|(sev, n)| (format!("{{severity=\"{sev}\"}}"), *n as f64))
            .collect(),
    );
    let e = &s.engine;
    family(
        "vivid_engine_workers",
        "Engine processes with a heartbeat in the last minute.",
        plain(e.workers.len() as i64),
    );
    family(
        "vivid_timers_pending",
        "Timers waiting to fire.",
        plain(e.timers_pending),
    );
    family(
        "vivid_timers_late",
        "Pending timers more than a minute past due.",
        plain(e.timers_overdue),
    );
    family(
        "vivid_timers_failed",
        "Timers that failed for good.",
        plain(e.timers_failed),
    );
    family(
        "vivid_outbox_pending",
        "Notifications waiting to be delivered.",
        plain(e.outbox_pending),
    );
    family(
        "vivid_outbox_dead",
        "Notifications that could not be delivered.",
        plain(e.outbox_dead),
    );
    family(
        "vivid_approvals_pending",
        "Approval requests waiting for a decision.",
        plain(s.approvals.pending),
    );
    family(
        "vivid_approvals_overdue",
        "Approval requests past their deadline.",
        plain(s.approvals.overdue),
    );
    family(
        "vivid_escalations_active",
        "Escalations still paging.",
        plain(s.escalations.active),
    );
    family(
        "vivid_workflow_open",
        "Open items per workflow.",
        s.workflows
            .iter()
            .map(|w| {
                (
                    format!("{{workflow=\"{}\"}}", label(&w.name)),
                    w.open as f64,
                )
            })
            .collect(),
    );
    family(
        "vivid_workflow_breaches",
        "SLA breaches or items needing attention now, per workflow.",
        s.workflows
            .iter()
            .map(|w| {
                (
                    format!("{{workflow=\"{}\"}}", label(&w.name)),
                    w.breaches as f64,
                )
            })
            .collect(),
    );
    family(
        "vivid_kpi",
        "The latest reading of each business metric.",
        s.kpis
            .iter()
            .filter(|k| k.value.is_finite())
            .map(|k| {
                (
                    format!(
                        "{{metric=\"{}\",unit=\"{}\"}}",
                        label(&k.metric),
                        label(&k.unit)
                    ),
                    k.value,
                )
            })
            .collect(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"s3cret!", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
        assert!(!same_secret(b"S3cret", b"s3cret"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
