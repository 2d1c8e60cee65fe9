//! The one handler both transports call: `(ctx, interaction) -> response`.
//! It maps the Discord user to a person of the org directory, routes to the
//! command group, and turns every failure into a reply only the asker sees.
//! Role checks stay in core: the group calls the core service with the
//! person's handle and shows core's sentence when it refuses.

use vivid_core::Ctx;

use crate::model::{Interaction, Kind, Response};
use crate::registry::{self, Call, CustomId, Failure};

/// Answer one interaction.
pub async fn handle(ctx: &Ctx, interaction: &Interaction) -> Response {
    if interaction.kind == Kind::Ping {
        return Response::Pong;
    }
    let Some(user_id) = interaction.user_id.as_deref() else {
        return Response::ephemeral("This interaction names no Discord user, so nobody can act.");
    };
    let Some(actor) = ctx.org.by_discord_id(user_id) else {
        if matches!(interaction.kind, Kind::Autocomplete(_)) {
            return Response::Choices(Vec::new());
        }
        return Response::ephemeral(format!(
            "You are not in the {} directory: Discord user {user_id} is not linked to a person, \
             so the bot will not act for you. Ask an operator to add `discord_id = \"{user_id}\"` \
             to your entry in `org.people`.",
            ctx.org.name
        ));
    };
    let call = Call {
        ctx,
        actor,
        interaction,
    };
    let reply = match &interaction.kind {
        Kind::Ping => return Response::Pong,
        Kind::Command(inv) => match registry::group(&inv.name) {
            Some(g) => g.run(call, inv).await,
            None => Err(Failure::usage(format!(
                "Unknown command /{}: this bot serves {}.",
                inv.name,
                command_list()
            ))),
        },
        Kind::Autocomplete(inv) => {
            return match registry::group(&inv.name) {
                Some(g) => Response::Choices(g.autocomplete(call, inv).await),
                None => Response::Choices(Vec::new()),
            };
        }
        Kind::Component { custom_id } => match routed(custom_id) {
            Some((g, id)) => g.component(call, id).await,
            None => Err(stale(custom_id)),
        },
        Kind::ModalSubmit { custom_id, fields } => match routed(custom_id) {
            Some((g, id)) => g.modal(call, id, fields).await,
            None => Err(stale(custom_id)),
        },
    };
    match reply {
        Ok(r) => r,
        Err(f) => refusal(&f),
    }
}

fn routed(custom_id: &str) -> Option<(&'static dyn registry::CommandGroup, CustomId<'_>)> {
    let id = CustomId::parse(custom_id)?;
    Some((registry::group(id.group)?, id))
}

fn stale(custom_id: &str) -> Failure {
    Failure::usage(format!(
        "This button or form ({custom_id}) is not one this bot knows."
    ))
}

fn command_list() -> String {
    registry::groups()
        .iter()
        .map(|g| format!("/{}", g.definition().name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ephemeral reply for a failure: core's sentence for anything the
/// person can act on; for anything else (the database, an internal fault) a
/// generic line with a short reference, and the details go to the log under
/// that reference, not to the chat.
pub fn refusal(f: &Failure) -> Response {
    match f {
        Failure::Usage(msg) => Response::ephemeral(msg.clone()),
        Failure::Core(e) if e.is_user_error() => Response::ephemeral(e.to_string()),
        Failure::Core(e) => {
            let reference = reference();
            tracing::error!(%reference, kind = e.kind(), error = %e, "interaction failed");
            Response::ephemeral(format!(
                "Something went wrong on our side; it has been logged as {reference}. \
                 Try again in a moment, or give an operator that reference."
            ))
        }
    }
}

/// A short reference that ties a reply to its log line ("E-1a2b3c4d").
fn reference() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("E-{:08x}", h.finish() & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Response;

    fn text(r: &Response) -> String {
        format!("{r:?}")
    }

    #[test]
    fn an_internal_fault_is_answered_with_a_reference_not_its_text() {
        let r = refusal(&Failure::Core(vivid_core::Error::internal(
            "incident #9 has an unknown phase \"lunch\" in the database",
        )));
        let t = text(&r);
        assert!(t.contains("Something went wrong on our side"), "{t}");
        assert!(t.contains("E-"), "{t}");
        assert!(!t.contains("lunch") && !t.contains("internal"), "{t}");
        // A refusal the person can act on is shown as core says it.
        let r = refusal(&Failure::Core(vivid_core::Error::forbidden(
            "Remy cannot acknowledge incidents",
        )));
        assert!(text(&r).contains("Remy cannot acknowledge incidents"));
    }

    #[test]
    fn references_differ() {
        assert_ne!(reference(), reference());
    }
}
