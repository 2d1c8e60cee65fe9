//! The workflow descriptor and the one list of workflows.
//!
//! A workflow is one folder under `crates/core/src/` and one line in
//! [`all`]. Everything outside its folder learns about it through its
//! [`Workflow`] descriptor: the configuration loads and validates its section,
//! the engine gets its timer handlers, `vivid status` its tile, `vivid seed`
//! its demo data, `vivid simulate` its simulator step, approval decisions
//! their route, and `vivid guide` its operator guide. Nothing else names it.

use std::future::Future;
use std::pin::Pin;

use sqlx::PgConnection;

use crate::config::{Config, SectionSpec};
use crate::engine::Ctx;
use crate::engine::approvals::{ApprovalRequest, Decision, Outcome};
use crate::engine::timers;
use crate::error::{Error, Result};
use crate::org::Org;
use crate::rng::Rng;
use crate::simulate::SimReport;
use crate::status::WorkflowStatus;

/// A boxed future that borrows for `'a` (async fns in a trait object).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one workflow tells the rest of the system about itself.
pub trait Workflow: Send + Sync {
    /// Its name in events, timers, approvals and notifications ("crisis").
    fn name(&self) -> &'static str;

    /// For people: "Crisis management".
    fn title(&self) -> &'static str;

    /// Its own table in the configuration, when it has one.
    fn section(&self) -> Option<SectionSpec> {
        None
    }

    /// Check its configuration against the org. Errors are (key, reason).
    fn validate(&self, _config: &Config, _org: &Org) -> Result<(), (String, String)> {
        Ok(())
    }

    /// Register its timer handlers.
    fn timers(&self, _registry: &mut timers::Registry) {}

    /// Its tile for `vivid status` and the control room's overview: open
    /// items, breaches and KPIs, in a bounded number of queries.
    fn tile<'a>(
        &'a self,
        ctx: &'a Ctx,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<WorkflowStatus>>;

    /// Load its part of the demo data set (through its own services).
    fn seed<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Seeded>>;

    /// A fresh simulator step for one `vivid simulate` run, when it has one.
    fn simulator(&self) -> Option<Box<dyn SimStep>> {
        None
    }

    /// Decide one of its approval requests through its own state machine.
    /// `None`: it has no approvals (a request naming it is refused).
    fn decide<'a>(
        &'a self,
        _ctx: &'a Ctx,
        _decision: &'a ApprovalDecision<'a>,
    ) -> Option<BoxFuture<'a, Result<Outcome>>> {
        None
    }

    /// What an approver reads before deciding one of its requests: the
    /// text under review and what changed. `None`: nothing to read beyond
    /// the request's title.
    fn review<'a>(
        &'a self,
        _ctx: &'a Ctx,
        _request: &'a ApprovalRequest,
    ) -> Option<BoxFuture<'a, Result<ReviewText>>> {
        None
    }

    /// Its operator guide (`assets/guides/<name>.md`): what it does, its
    /// states and clocks, its commands, its KPIs.
    fn guide(&self) -> &'static str;
}

/// The text an approver decides on, and its changes since the last
/// approved version (or the previous one when none was approved).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewText {
    pub version: i32,
    pub body: String,
    /// The version the diff starts from; `None` for a first version.
    pub base_version: Option<i32>,
    /// A unified diff from `base_version`; empty for a first version.
    pub diff: String,
}

/// What seeding a workflow's demo data did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeded {
    Loaded,
    /// It cannot load now (the sentence says why); a later run will.
    Skipped(String),
}

/// One workflow's share of the simulator: state it keeps between steps.
pub trait SimStep: Send {
    /// Produce this workflow's business events for one simulator tick.
    fn step<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        rng: &'a mut Rng,
        report: &'a mut SimReport,
    ) -> BoxFuture<'a, Result<()>>;
}

/// An approval decision on its way to the workflow that owns the request.
#[derive(Debug, Clone)]
pub struct ApprovalDecision<'a> {
    pub request: &'a ApprovalRequest,
    pub approver: &'a str,
    pub decision: Decision,
    pub comment: &'a str,
    /// The version the approver saw, when they say.
    pub version: Option<i32>,
}

/// Every workflow, in display order. Adding a workflow is one line here.
pub fn all() -> &'static [&'static dyn Workflow] {
    &[
        &crate::crisis::Descriptor,
        &crate::content::Descriptor,
        &crate::experiments::Descriptor,
        &crate::journey::Descriptor,
        &crate::privacy::Descriptor,
        &crate::budget::Descriptor,
        &crate::vendor::Descriptor,
        &crate::collab::Descriptor,
    ]
}

/// The workflow with this name.
pub fn get(name: &str) -> Option<&'static dyn Workflow> {
    all().iter().copied().find(|w| w.name() == name)
}

/// The workflow with this name, or a sentence listing the ones there are.
pub fn named(name: &str) -> Result<&'static dyn Workflow> {
    get(name).ok_or_else(|| {
        Error::not_found(format!(
            "no workflow {name:?}; workflows: {}",
            names().join(", ")
        ))
    })
}

/// The names of every workflow, in display order.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|w| w.name()).collect()
}

/// The config sections of every workflow.
pub fn sections() -> Vec<SectionSpec> {
    all().iter().filter_map(|w| w.section()).collect()
}

/// Every timer handler: the engine's own, then each workflow's.
pub fn timer_registry() -> timers::Registry {
    let mut registry = timers::Registry::default();
    crate::engine::register_timers(&mut registry);
    for w in all() {
        w.timers(&mut registry);
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folders under `src/` that are shared mechanisms, not workflows.
    const NOT_WORKFLOWS: &[&str] = &["calendar", "db", "engine", "notify", "stats"];

    #[test]
    fn every_workflow_folder_is_in_the_list() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut folders = Vec::new();
        for entry in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            if entry.path().is_dir()
                && let Some(name) = entry.file_name().to_str()
                && !NOT_WORKFLOWS.contains(&name)
            {
                folders.push(name.to_string());
            }
        }
        assert!(!folders.is_empty(), "read {}", src.display());
        for folder in &folders {
            assert!(
                get(folder).is_some(),
                "crates/core/src/{folder}/ looks like a workflow but is not in workflow::all() \
                 (add it there, or to NOT_WORKFLOWS if it is a shared mechanism)"
            );
        }
        for w in all() {
            assert!(
                folders.iter().any(|f| f == w.name()),
                "{} is listed but has no folder of that name",
                w.name()
            );
        }
    }

    #[test]
    fn names_are_unique_and_every_workflow_has_a_guide_and_a_title() {
        let mut seen = std::collections::HashSet::new();
        for w in all() {
            assert!(seen.insert(w.name()), "{} is listed twice", w.name());
            assert!(!w.title().is_empty(), "{} has no title", w.name());
            let guide = w.guide();
            assert!(
                guide.starts_with("# "),
                "{}'s guide has no title line",
                w.name()
            );
            for heading in ["Commands", "KPIs"] {
                let has = guide
                    .lines()
                    .any(|l| (l.starts_with("## ") || l.starts_with("**")) && l.contains(heading));
                assert!(has, "{}'s guide has no {heading:?} section", w.name());
            }
        }
    }

    #[test]
    fn every_guide_is_the_file_in_assets() {
        let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/guides");
        for w in all() {
            let path = assets.join(format!("{}.md", w.name()));
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                on_disk,
                w.guide(),
                "{} must embed {}",
                w.name(),
                path.display()
            );
        }
    }

    /// Every `.rs` file under `dir`, recursively.
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn a_workflows_sql_is_all_in_its_store() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for w in all() {
            let mut files = Vec::new();
            sources(&src.join(w.name()), &mut files);
            assert!(!files.is_empty(), "{} has no sources", w.name());
            for file in files {
                let in_store = file
                    .strip_prefix(src.join(w.name()))
                    .ok()
                    .and_then(|rel| rel.components().next())
                    .and_then(|c| c.as_os_str().to_str())
                    .is_some_and(|first| first == "store.rs" || first == "store");
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                assert!(
                    in_store || !text.contains("sqlx::query"),
                    "{} runs SQL outside {}/store (move the query into the store)",
                    file.display(),
                    w.name()
                );
            }
        }
    }
}
