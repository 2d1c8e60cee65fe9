//! `vivid bot`: the HTTP endpoint and/or the gateway, plus the live-message
//! updater whenever the bot token is available.

use ed25519_dalek::VerifyingKey;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use vivid_core::Ctx;

use crate::http::{self, Endpoint};
use crate::live;
use crate::rest::Rest;

/// What to run.
pub struct Options {
    /// Serve the interactions endpoint on this listener, verifying with this key.
    pub http: Option<(TcpListener, VerifyingKey)>,
    /// Connect to the gateway with this bot token.
    pub gateway_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("interactions endpoint: {0}")]
    Http(#[from] std::io::Error),
    #[error("Discord gateway: {0}")]
    Gateway(String),
    #[error("a bot task crashed: {0}")]
    Crashed(String),
}

/// Run until `shutdown` turns true, or until a transport fails.
pub async fn run(
    ctx: Ctx,
    rest: Rest,
    options: Options,
    shutdown: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let mut tasks: JoinSet<Result<(), RunError>> = JoinSet::new();
    if rest.has_token() {
        let (ctx, rest, stop) = (ctx.clone(), rest.clone(), shutdown.clone());
        tasks.spawn(async move {
            live::run(ctx, rest, stop).await;
            Ok(())
        });
    } else {
        tracing::warn!(
            "DISCORD_TOKEN is not set: messages the bot posted are not edited when incidents change"
        );
    }
    if let Some((listener, key)) = options.http {
        let endpoint = Endpoint::new(ctx.clone(), key, rest.clone());
        let mut stop = shutdown.clone();
        tasks.spawn(async move {
            let stopped = async move {
                while !*stop.borrow_and_update() {
                    if stop.changed().await.is_err() {
                        break;
                    }
                }
            };
            http::serve(listener, endpoint, stopped).await?;
            Ok(())
        });
    }
    if let Some(token) = options.gateway_token {
        let (ctx, rest, stop) = (ctx.clone(), rest.clone(), shutdown.clone());
        tasks.spawn(async move {
            crate::gateway::run(ctx, rest, &token, stop)
                .await
                .map_err(|e| RunError::Gateway(e.to_string()))
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(RunError::Crashed(e.to_string())),
        }
    }
    Ok(())
}
