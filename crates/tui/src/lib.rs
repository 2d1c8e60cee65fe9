//! vivid-tui: the VividWalls control room, a live ratatui terminal UI for
//! operators.
//!
//! Shape (ratatui's async guidance, gitui's message style):
//! - [`runtime`] owns the terminal and runs one `tokio::select!` loop over
//!   keyboard input ([`terminal`]), snapshots from the data feed ([`feed`],
//!   LISTEN/NOTIFY plus re-reads through core in [`data`]), a one-second
//!   tick for countdowns, and shutdown;
//! - [`app`] holds the state and `update(state, msg) -> Option<Action>`;
//! - [`view`] draws the state, with no I/O; [`screens`] are the tabs, one
//!   module each.

mod actions;
pub mod app;
pub mod data;
mod feed;
pub mod format;
mod runtime;
pub mod screens;
pub mod snapshot;
mod terminal;
pub mod theme;
pub mod view;

#[cfg(test)]
mod crisis_flow;
#[cfg(test)]
mod test_data;
#[cfg(test)]
mod tests;

use tokio::sync::watch;
use vivid_core::Ctx;

pub use app::{Action, AppState, Msg, update};
pub use snapshot::Snapshot;
pub use view::view;

/// How the control room is opened.
#[derive(Debug, Clone, Default)]
pub struct TuiOptions {
    /// The person the operator acts as (config `operator`, or `--as`).
    pub operator: String,
    /// Leave when this turns true (e.g. `vivid demo --for 30s`, SIGTERM).
    pub shutdown: Option<watch::Receiver<bool>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// A task the control room depends on died (a bug: see the log).
    #[error("the control room stopped: {0}")]
    Background(String),
}

/// The control room's data feed without a terminal (benchmarks, tools):
/// reads everything, then sends a snapshot each time a change has been
/// read, until `ui` closes. A message on `reload` re-reads everything.
pub async fn feed(
    ctx: Ctx,
    operator: String,
    ui: tokio::sync::mpsc::UnboundedSender<Msg>,
    reload: tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    feed::run(ctx, operator, ui, reload).await
}

/// Open the control room and run it until the operator quits or `shutdown`
/// turns true. The terminal is restored on return, on error and on panic.
pub async fn run(ctx: Ctx, opts: TuiOptions) -> Result<(), TuiError> {
    runtime::run(ctx, opts).await
}
