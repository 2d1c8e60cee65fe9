//! vivid-bot: the VividWalls Discord bot. Directors acknowledge, resolve and
//! escalate incidents, see who is on call, review content (approve, reject,
//! request changes) and read experiment results without leaving Discord.
//!
//! - [`registry`]: the one registry of slash commands (definitions, the
//!   registration JSON and manifest, dispatch); [`commands`]: one module per
//!   command group.
//! - [`handler::handle`]: `(ctx, interaction) -> response`, the same for
//!   both transports: the HTTP interactions endpoint ([`http`]) and the
//!   gateway ([`gateway`], serenity).
//! - [`delivery::DiscordTarget`]: the outbox's Discord target (channels and
//!   direct messages); [`live`]: posted messages edited on every change.
//!
//! Like core, the bot decides nothing about roles: it maps the Discord user
//! to a person and calls core's services with that person's handle.

pub mod commands;
pub mod delivery;
pub mod gateway;
pub mod handler;
pub mod http;
pub mod live;
pub mod model;
pub mod registry;
pub mod render;
pub mod respond;
pub mod rest;
pub mod runner;
pub mod secrets;
pub mod testing;
pub mod verify;

pub use delivery::DiscordTarget;
pub use handler::handle;
pub use model::{Interaction, Response};
pub use rest::Rest;
