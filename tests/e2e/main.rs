//! End-to-end tests of the `vivid` binary against real PostgreSQL.

mod bot;
mod cli;
mod collab;
mod content;
mod crisis;
mod engine_kill;
mod experiments;
mod journey;
mod privacy;
mod tui;
mod util;
