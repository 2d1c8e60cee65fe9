//! vivid-core: the VividWalls domain, its eight workflows, the shared engine
//! and storage. It knows nothing of terminals or Discord: front ends call the
//! services here, so an action from the control room, the CLI or the bot is
//! the same code path.

pub mod clock;
pub mod config;
pub mod ctx;
pub mod db;
pub mod duration;
pub mod engine;
pub mod error;
pub mod org;

pub use ctx::Ctx;
pub use error::{Error, Result};
pub mod budget;
pub mod calendar;
pub mod cards;
pub mod collab;
pub mod content;
pub mod crisis;
pub mod decisions;
pub mod experiments;
pub mod journey;
pub mod metrics;
pub mod notify;
pub mod privacy;
pub mod refresh;
pub mod rng;
pub mod seed;
pub mod simulate;
pub mod stats;
pub mod status;
pub mod testing;
pub mod text;
pub mod vendor;
pub mod when;
pub mod workflow;
