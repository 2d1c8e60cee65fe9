//! A/B testing: the seed's loop from hypothesis to documented learning, with
//! deterministic assignment, exposures and events stored in Postgres,
//! aggregated in SQL to sufficient statistics, and analysed by `crate::stats`.

pub mod assign;
pub mod demo;
pub mod model;
pub mod read;
pub mod service;

use sqlx::PgConnection;

use crate::engine::Ctx;
use crate::error::Result;
use crate::status::WorkflowStatus;
use crate::workflow::{BoxFuture, Seeded, SimStep, Workflow};

pub const WORKFLOW: &str = "experiments";

/// A/B testing in the workflow list.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor;

impl Workflow for Descriptor {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    fn title(&self) -> &'static str {
        "A/B testing"
    }

    fn tile<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<WorkflowStatus>> {
        Box::pin(read::tile(conn, ctx.now()))
    }

    fn seed<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Seeded>> {
        Box::pin(async move {
            demo::seed(ctx).await?;
            Ok(Seeded::Loaded)
        })
    }

    fn simulator(&self) -> Option<Box<dyn SimStep>> {
        Some(Box::new(demo::Simulation))
    }

    fn guide(&self) -> &'static str {
        include_str!("../../../../assets/guides/experiments.md")
    }
}
