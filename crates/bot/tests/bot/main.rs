//! The bot against a real PostgreSQL: handlers as plain functions, the
//! Discord delivery target and live messages against a local fake Discord,
//! and the HTTP endpoint in process.

mod collab;
mod content;
mod delivery;
mod endpoint;
mod experiments;
mod handlers;
mod journey;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use vivid_bot::model::{Interaction, Message, Response};
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::config::Config;
use vivid_core::crisis::Severity;
use vivid_core::crisis::service::{self, NewIncident, Source};
use vivid_core::testing::{TestDb, default_config, fresh_db};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Setup<T> = Result<T, Box<dyn std::error::Error>>;

/// Directors and others from config/default.toml.
pub const OMAR: &str = "100000000000000004"; // operations director, operator
pub const THEO: &str = "100000000000000009"; // technology director
pub const REMY: &str = "100000000000000020"; // creative, member only
pub const STRANGER: &str = "999999999999999999";

/// Wednesday 2026-12-02 15:00 UTC (10:00 in New York): omar and theo are on call.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T15:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub async fn setup_with(config: Config) -> Setup<(TestDb, Ctx, SimClock)> {
    let db = fresh_db().await?;
    let clock = SimClock::at(t0());
    let ctx = db.ctx(config, Arc::new(clock.clone())).await?;
    Ok((db, ctx, clock))
}

pub async fn setup() -> Setup<(TestDb, Ctx, SimClock)> {
    setup_with(default_config()).await
}

pub async fn open(ctx: &Ctx, title: &str, severity: Severity) -> Setup<i64> {
    let inc = service::open(
        ctx,
        &NewIncident {
            title: title.into(),
            description: "Customers cannot pay.".into(),
            severity,
            source: Source::Manual,
            source_ref: None,
            departments: vec!["technology".into()],
            commander: None,
            trigger_key: None,
        },
        "olu",
    )
    .await?
    .ok_or("no incident opened")?;
    Ok(inc.id)
}

/// Parse Discord's JSON (as the endpoint does) and run the handler.
pub async fn run(ctx: &Ctx, json: &Value) -> Setup<Response> {
    let i = Interaction::from_json(json.to_string().as_bytes())?;
    Ok(vivid_bot::handle(ctx, &i).await)
}

/// The message of a type 4 response, and whether only the asker sees it.
pub fn message(r: &Response) -> Setup<&Message> {
    match r {
        Response::Message(m) => Ok(m),
        other => Err(format!("expected a message, got {other:?}").into()),
    }
}

pub fn ephemeral_text(r: &Response) -> Setup<String> {
    let m = message(r)?;
    if !m.ephemeral {
        return Err(format!("expected an ephemeral reply, got {m:?}").into());
    }
    Ok(m.plain_text())
}

pub async fn incident_row(ctx: &Ctx, id: i64) -> Setup<(String, Option<String>, Option<String>)> {
    Ok(
        sqlx::query_as("SELECT status, acknowledged_by, resolved_by FROM incidents WHERE id = $1")
            .bind(id)
            .fetch_one(&ctx.pool)
            .await?,
    )
}
