//! A/B testing: the seed's loop from hypothesis to documented learning, with
//! deterministic assignment, exposures and events stored in Postgres,
//! aggregated in SQL to sufficient statistics, and analysed by `crate::stats`.

pub mod assign;
pub mod demo;
pub mod model;
pub mod service;

pub const WORKFLOW: &str = "experiments";
