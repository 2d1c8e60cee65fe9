//! The context every service takes: the database, the validated config and
//! org, the clock and the timer handlers of every workflow.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::calendar::Calendar;
use crate::clock::{Clock, trunc_micros};
use crate::config::Config;
use crate::engine::timers;
use crate::error::Result;
use crate::org::Org;

/// Everything a service needs: the database, the validated config, org and
/// business calendar, and the clock. Cheap to clone.
#[derive(Clone)]
pub struct Ctx {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub org: Arc<Org>,
    /// The org's time zone, business hours and holidays, parsed once.
    pub calendar: Arc<Calendar>,
    pub clock: Arc<dyn Clock>,
    /// Every timer handler: the engine's and each listed workflow's.
    pub timers: Arc<timers::Registry>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    pub fn new(pool: PgPool, config: Config, clock: Arc<dyn Clock>) -> Result<Self> {
        let invalid = |(key, reason)| crate::config::ConfigError {
            file: "configuration".into(),
            key,
            reason,
        };
        let org = Org::from_config(&config).map_err(invalid)?;
        let calendar = Calendar::from_config(&config.org).map_err(invalid)?;
        Ok(Self {
            pool,
            config: Arc::new(config),
            org: Arc::new(org),
            calendar: Arc::new(calendar),
            clock,
            timers: Arc::new(crate::workflow::timer_registry()),
        })
    }

    /// Now, at the database's precision.
    pub fn now(&self) -> DateTime<Utc> {
        trunc_micros(self.clock.now())
    }
}
