//! Answering within Discord's three seconds, whatever the transport. The
//! handler runs in its own task; if it has not answered within the budget,
//! Discord gets "thinking…" (type 5, or type 6 for a button) and the real
//! answer follows by editing the original response through the webhook.

use std::time::Duration;

use tokio::task::JoinHandle;
use vivid_core::Ctx;

use crate::handler;
use crate::model::{Interaction, Kind, Message, Response};
use crate::registry;
use crate::rest::Rest;

/// Discord waits three seconds for the first answer; keep a margin for the network.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(2500);

/// The first answer, and the work still running when it was deferred.
pub struct First {
    pub response: Response,
    pub pending: Option<JoinHandle<Response>>,
}

/// What to say while the work goes on, or None when this kind cannot wait.
fn deferral(i: &Interaction) -> Option<Response> {
    match &i.kind {
        Kind::Command(inv) => Some(Response::Deferred {
            ephemeral: registry::group(&inv.name).is_none_or(|g| g.ephemeral(inv)),
        }),
        Kind::Component { .. } => Some(Response::DeferredUpdate),
        Kind::ModalSubmit { .. } if i.message_id.is_some() => Some(Response::DeferredUpdate),
        Kind::ModalSubmit { .. } => Some(Response::Deferred { ephemeral: false }),
        Kind::Ping | Kind::Autocomplete(_) => None,
    }
}

fn crashed(e: &tokio::task::JoinError) -> Response {
    tracing::error!(error = %e, "interaction handler crashed");
    Response::ephemeral(
        "Something went wrong on our side; it has been logged. Try again in a moment.",
    )
}

/// Run the handler with a time budget.
pub async fn first(ctx: &Ctx, interaction: &Interaction, budget: Duration) -> First {
    let defer = deferral(interaction);
    let mut task = {
        let ctx = ctx.clone();
        let interaction = interaction.clone();
        tokio::spawn(async move { handler::handle(&ctx, &interaction).await })
    };
    // A zero budget defers whatever can be deferred (tests of the deferred path).
    if budget.is_zero()
        && let Some(response) = defer.clone()
    {
        return First {
            response,
            pending: Some(task),
        };
    }
    match tokio::time::timeout(budget, &mut task).await {
        Ok(Ok(response)) => First {
            response,
            pending: None,
        },
        Ok(Err(e)) => First {
            response: crashed(&e),
            pending: None,
        },
        Err(_) => match defer {
            Some(response) => First {
                response,
                pending: Some(task),
            },
            None => {
                task.abort();
                First {
                    response: Response::Choices(Vec::new()),
                    pending: None,
                }
            }
        },
    }
}

/// Deliver a deferred answer by editing (or following up) the original response.
pub async fn finish(
    rest: &Rest,
    i: &Interaction,
    deferred: &Response,
    pending: JoinHandle<Response>,
) {
    let response = match pending.await {
        Ok(r) => r,
        Err(e) => crashed(&e),
    };
    let (app, token) = (i.application_id.as_str(), i.token.as_str());
    let result = match (deferred, response) {
        // A private answer cannot replace a public "thinking…": remove it, answer privately.
        (Response::Deferred { ephemeral: false }, Response::Message(m)) if m.ephemeral => {
            if let Err(e) = rest.delete_original(app, token).await {
                tracing::warn!(error = %e, "cannot remove the deferred response");
            }
            rest.followup(app, token, &m).await
        }
        (Response::Deferred { .. }, Response::Message(m) | Response::Update(m)) => {
            rest.edit_original(app, token, &m).await
        }
        (Response::DeferredUpdate, Response::Update(m)) => rest.edit_original(app, token, &m).await,
        (Response::DeferredUpdate, Response::Message(m)) => rest.followup(app, token, &m).await,
        (_, Response::Modal(_)) => {
            let m = Message::text("That took too long to open the form: press the button again.")
                .ephemeral();
            rest.followup(app, token, &m).await
        }
        (_, other) => {
            tracing::warn!(
                kind = other.kind(),
                "a deferred interaction produced nothing to show"
            );
            Ok(())
        }
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot deliver a deferred interaction response");
    }
}
