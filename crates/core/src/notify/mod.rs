//! Paging people, a shared mechanism escalation uses (not a workflow):
//!
//! - **contact methods** per person, PagerDuty's model (`discord`, `email`,
//!   `sms`, `push`, `webhook`), their details sealed as personal data
//!   (`contacts`);
//! - **notification rules** per urgency (`[notify.rules.high]`, `.low`):
//!   which methods, how long after the page, and whether only inside support
//!   hours (`config`, pure planning in `model`);
//! - **pages** as outbox rows, one per method and step, queued in the
//!   escalation's transaction; acknowledging cancels the ones not yet
//!   delivered; a level whose people all failed moves on at once (`pages`);
//! - **delivery you can see** (`read`), and what the transports outside core
//!   need (`delivery`: the page revealed for sending, rate limits).

pub mod config;
pub mod contacts;
pub mod delivery;
pub mod model;
pub mod pages;
pub mod read;

pub use config::NotifyConfig;
pub use model::{Method, Urgency};
