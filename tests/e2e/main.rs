//! End-to-end tests of the `vivid` binary against real PostgreSQL.

mod bot;
mod budget;
mod cli;
mod collab;
mod contact;
mod content;
mod crisis;
mod engine_kill;
mod experiments;
mod hostile;
mod journey;
mod privacy;
mod serve;
mod tui;
mod util;
mod vendor;
