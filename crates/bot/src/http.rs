//! The HTTP interactions endpoint (Discord's "Interactions Endpoint URL"):
//! every request is verified (Ed25519 signature, timestamp within five
//! minutes, not seen before), parsed, and answered by the same handler the
//! gateway uses, within three seconds or deferred.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use ed25519_dalek::VerifyingKey;
use serde_json::json;
use vivid_core::Ctx;

use crate::model::{Interaction, Kind, Response};
use crate::respond::{self, DEFAULT_BUDGET};
use crate::rest::Rest;
use crate::verify::{self, MAX_SKEW_SECS, Rejection, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// What the endpoint needs.
pub struct Endpoint {
    pub ctx: Ctx,
    pub key: VerifyingKey,
    /// For deferred answers (webhook edits need no bot token).
    pub rest: Rest,
    /// Time the handler gets before the answer is deferred.
    pub budget: Duration,
}

impl Endpoint {
    pub fn new(ctx: Ctx, key: VerifyingKey, rest: Rest) -> Self {
        Self {
            ctx,
            key,
            rest,
            budget: DEFAULT_BUDGET,
        }
    }

    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Remember an interaction id in the database; false when it was
    /// already seen (by this process or another, before or after a restart).
    async fn first_sighting(&self, id: &str) -> vivid_core::Result<bool> {
        // Twice the freshness window: a request older than that is stale.
        let keep = chrono::TimeDelta::seconds(2 * MAX_SKEW_SECS);
        vivid_core::cards::first_sighting(&self.ctx.pool, id, self.ctx.now(), keep).await
    }
}

pub fn router(endpoint: Arc<Endpoint>) -> Router {
    Router::new()
        .route("/interactions", post(interactions))
        .route("/", post(interactions))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(endpoint)
}

/// Serve until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    endpoint: Endpoint,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(Arc::new(endpoint)))
        .with_graceful_shutdown(shutdown)
        .await
}

fn reply(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn refuse(r: Rejection) -> HttpResponse {
    reply(StatusCode::UNAUTHORIZED, json!({ "error": r.to_string() }))
}

async fn interactions(
    State(ep): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResponse {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = ep.ctx.now().timestamp();
    if let Err(r) = verify::verify(
        &ep.key,
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        &body,
        now,
    ) {
        tracing::debug!(reason = %r, "interaction refused");
        return refuse(r);
    }
    let interaction = match Interaction::from_json(&body) {
        Ok(i) => i,
        Err(e) => return reply(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
    };
    if interaction.kind == Kind::Ping {
        // Discord's check of the endpoint repeats PINGs; they change nothing.
        return reply(StatusCode::OK, Response::Pong.to_json());
    }
    match ep.first_sighting(&interaction.id).await {
        Ok(true) => {}
        Ok(false) => return refuse(Rejection::Replayed),
        // Without the database nothing can be done anyway; the sender retries.
        Err(e) => {
            tracing::warn!(error = %e, "cannot check an interaction for replay");
            return reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "the database is unavailable; try again" }),
            );
        }
    }
    let first = respond::first(&ep.ctx, &interaction, ep.budget).await;
    if let Some(pending) = first.pending {
        let ep = ep.clone();
        let deferred = first.response.clone();
        tokio::spawn(async move {
            respond::finish(&ep.rest, &interaction, &deferred, pending).await;
        });
    }
    reply(StatusCode::OK, first.response.to_json())
}
