//! Command groups: one module per top-level slash command. A group defines
//! its command, answers it, handles its buttons and modals, and renders the
//! live messages of its workflow (see [`crate::registry::CommandGroup`]).

pub mod budget;
pub mod collab;
pub mod content;
pub mod crisis;
pub mod experiment;
pub mod journey;
pub mod lead;
pub mod oncall;
pub mod vendor;
