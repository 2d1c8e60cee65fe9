//! The content lifecycle, exactly as the seed draws it:
//!
//! ```text
//! Planning → Creation → Review ─(revisions needed)→ Creation
//!                          └→ Approved → Published → Performance
//! Performance ─(underperforming)→ Optimization → Performance
//! Performance ─(performing well)→ Maintenance
//! Maintenance ─(content stale)→ Archival (end)
//! Maintenance ─(content valuable)→ Performance
//! ```
//!
//! Editing (a new version) happens in Creation and Optimization; an approval
//! binds to one version, so a new version needs a new approval before it is
//! published. Anything else is refused with a reason.
//!
//! Two pure functions: [`decide`] moves an item along the diagram, and
//! [`verdict`] judges a live item at the end of its review cycle (whose
//! verdict is then a command for `decide`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Planning,
    Creation,
    Review,
    Approved,
    Published,
    Performance,
    Optimization,
    Maintenance,
    Archival,
}

impl State {
    pub const ALL: [State; 9] = [
        State::Planning,
        State::Creation,
        State::Review,
        State::Approved,
        State::Published,
        State::Performance,
        State::Optimization,
        State::Maintenance,
        State::Archival,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Planning => "planning",
            State::Creation => "creation",
            State::Review => "review",
            State::Approved => "approved",
            State::Published => "published",
            State::Performance => "performance",
            State::Optimization => "optimization",
            State::Maintenance => "maintenance",
            State::Archival => "archival",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Planning => "Planning",
            State::Creation => "Creation",
            State::Review => "Review",
            State::Approved => "Approved",
            State::Published => "Published",
            State::Performance => "Performance",
            State::Optimization => "Optimization",
            State::Maintenance => "Maintenance",
            State::Archival => "Archival",
        }
    }

    /// Live on a channel (metrics may be recorded).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            State::Published | State::Performance | State::Optimization | State::Maintenance
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        State::ALL
            .into_iter()
            .find(|x| x.as_str() == s.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown content state {s:?}"))
    }
}

/// The kinds of content VividWalls makes.
pub const KINDS: [&str; 6] = [
    "blog_post",
    "email",
    "newsletter",
    "social_post",
    "ad_creative",
    "product_page",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// A new version: the first draft starts Creation; later ones stay.
    Edit,
    /// Ask for approval of the current version.
    Submit {
        approval_escalated: bool,
    },
    /// A reviewer asked for changes (or rejected the version).
    RevisionsNeeded,
    /// The approval completed.
    Approve,
    /// Go live; needs the current version approved.
    Publish {
        current_version_approved: bool,
    },
    /// The first performance numbers arrived.
    Measure,
    /// Review cycle verdicts.
    Underperforming,
    PerformingWell,
    ContentStale,
    ContentValuable,
}

/// One performance reading of a live item.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Reading {
    pub views: i64,
    pub clicks: i64,
    pub conversions: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(msg.into()))
}

/// The state machine: where `command` takes an item in `state`.
pub fn decide(state: State, command: Command) -> Result<State, Refusal> {
    use Command::*;
    use State::*;
    match (state, command) {
        (Archival, _) => refuse("archived content is final: create a new item"),
        (Planning, Edit) => Ok(Creation),
        (Creation | Optimization, Edit) => Ok(state),
        (_, Edit) => refuse(format!(
            "content in {state} cannot be edited{}",
            match state {
                Review => ": ask for changes first",
                Approved | Published | Performance =>
                    ": it is approved or live; edits happen in Creation or Optimization",
                Maintenance => ": it is in maintenance",
                _ => "",
            }
        )),
        (Creation, Submit { .. }) => Ok(Review),
        (Optimization, Submit { .. }) => Ok(Optimization),
        (
            Review,
            Submit {
                approval_escalated: true,
            },
        ) => Ok(Review),
        (
            Review,
            Submit {
                approval_escalated: false,
            },
        ) => refuse("it is already in review"),
        (Planning, Submit { .. }) => {
            refuse("nothing to review yet: write a first draft (vivid content edit)")
        }
        (_, Submit { .. }) => refuse(format!("content in {state} is not submitted for review")),
        (Review, RevisionsNeeded) => Ok(Creation),
        (Optimization, RevisionsNeeded) => Ok(Optimization),
        (_, RevisionsNeeded) => refuse(format!("content in {state} is not under review")),
        (Review, Approve) => Ok(Approved),
        (Optimization, Approve) => Ok(Optimization),
        (_, Approve) => refuse(format!("content in {state} is not under review")),
        (
            Approved,
            Publish {
                current_version_approved: true,
            },
        ) => Ok(Published),
        (
            Optimization,
            Publish {
                current_version_approved: true,
            },
        ) => Ok(Performance),
        (
            Approved | Optimization,
            Publish {
                current_version_approved: false,
            },
        ) => refuse("the current version is not approved: submit it for review before publishing"),
        (Published | Performance | Maintenance, Publish { .. }) => {
            refuse("it is already published")
        }
        (_, Publish { .. }) => refuse(format!(
            "content in {state} cannot be published: it needs an approved version"
        )),
        (Published, Measure) => Ok(Performance),
        (Performance | Optimization | Maintenance, Measure) => Ok(state),
        (_, Measure) => refuse(format!(
            "content in {state} is not live, so it has no performance to record"
        )),
        (Performance, Underperforming) => Ok(Optimization),
        (Performance, PerformingWell) => Ok(Maintenance),
        (Maintenance, ContentStale) => Ok(Archival),
        (Maintenance, ContentValuable) => Ok(Performance),
        (_, ContentStale) => refuse(format!(
            "only content in Maintenance is archived (Maintenance → Content Stale → Archival); this is in {state}"
        )),
        (_, c) => refuse(format!("{c:?} does not apply to content in {state}")),
    }
}

/// The verdict of a review cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Underperforming,
    PerformingWell,
    ContentStale,
    ContentValuable,
    /// Not enough data, or nothing to decide in this state.
    Wait,
}

impl Verdict {
    /// Its name in the event log ("performing_well").
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Underperforming => "underperforming",
            Verdict::PerformingWell => "performing_well",
            Verdict::ContentStale => "content_stale",
            Verdict::ContentValuable => "content_valuable",
            Verdict::Wait => "wait",
        }
    }

    /// The move it asks of the state machine, if any.
    pub fn command(self) -> Option<Command> {
        match self {
            Verdict::Underperforming => Some(Command::Underperforming),
            Verdict::PerformingWell => Some(Command::PerformingWell),
            Verdict::ContentStale => Some(Command::ContentStale),
            Verdict::ContentValuable => Some(Command::ContentValuable),
            Verdict::Wait => None,
        }
    }
}

/// Judge an item: click-through over the last cycle against the channel's
/// baseline; in Maintenance only once it has gone stale.
pub fn verdict(state: State, ctr: Option<f64>, baseline: f64, ratio: f64, stale: bool) -> Verdict {
    let good = ctr.map(|c| c >= ratio * baseline);
    match (state, good) {
        (State::Performance, Some(false)) => Verdict::Underperforming,
        (State::Performance, Some(true)) => Verdict::PerformingWell,
        (State::Maintenance, _) if !stale => Verdict::Wait,
        (State::Maintenance, Some(true)) => Verdict::ContentValuable,
        (State::Maintenance, _) => Verdict::ContentStale,
        _ => Verdict::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Command::*;
    use State::*;

    /// The seed's diagram, edge for edge.
    const EDGES: &[(State, State)] = &[
        (Planning, Creation),
        (Creation, Review),
        (Review, Creation),
        (Review, Approved),
        (Approved, Published),
        (Published, Performance),
        (Performance, Optimization),
        (Optimization, Performance),
        (Performance, Maintenance),
        (Maintenance, Archival),
        (Maintenance, Performance),
    ];

    /// Every command in every variation; the match makes a new command fail
    /// to compile until it is listed here.
    fn every_command() -> Vec<Command> {
        let all = vec![
            Edit,
            Submit {
                approval_escalated: true,
            },
            Submit {
                approval_escalated: false,
            },
            RevisionsNeeded,
            Approve,
            Publish {
                current_version_approved: true,
            },
            Publish {
                current_version_approved: false,
            },
            Measure,
            Underperforming,
            PerformingWell,
            ContentStale,
            ContentValuable,
        ];
        for c in &all {
            match c {
                Edit
                | Submit { .. }
                | RevisionsNeeded
                | Approve
                | Publish { .. }
                | Measure
                | Underperforming
                | PerformingWell
                | ContentStale
                | ContentValuable => {}
            }
        }
        all
    }

    #[test]
    fn nothing_leaves_the_seeds_diagram_and_all_of_it_is_reachable() {
        let mut reached = Vec::new();
        for from in State::ALL {
            for cmd in every_command() {
                match decide(from, cmd) {
                    Ok(to) if to == from => {}
                    Ok(to) => {
                        assert!(
                            EDGES.contains(&(from, to)),
                            "{from:?} --{cmd:?}--> {to:?} is not in the seed's diagram"
                        );
                        reached.push((from, to));
                    }
                    Err(Refusal(why)) => {
                        assert!(!why.is_empty(), "{from:?} --{cmd:?}--> refused silently")
                    }
                }
            }
        }
        for edge in EDGES {
            assert!(reached.contains(edge), "no command takes {edge:?}");
        }
        // Archival is the end.
        assert!(
            every_command()
                .into_iter()
                .all(|cmd| decide(Archival, cmd).is_err())
        );
    }

    #[test]
    fn verdicts_follow_the_baseline() {
        assert_eq!(
            verdict(Performance, Some(0.01), 0.02, 0.8, false),
            Verdict::Underperforming
        );
        assert_eq!(
            verdict(Performance, Some(0.017), 0.02, 0.8, false),
            Verdict::PerformingWell
        );
        assert_eq!(verdict(Performance, None, 0.02, 0.8, false), Verdict::Wait);
        assert_eq!(
            verdict(Maintenance, Some(0.001), 0.02, 0.8, false),
            Verdict::Wait
        );
        assert_eq!(
            verdict(Maintenance, Some(0.03), 0.02, 0.8, true),
            Verdict::ContentValuable
        );
        assert_eq!(
            verdict(Maintenance, Some(0.001), 0.02, 0.8, true),
            Verdict::ContentStale
        );
        assert_eq!(
            verdict(Maintenance, None, 0.02, 0.8, true),
            Verdict::ContentStale
        );
    }

    #[test]
    fn every_verdict_is_a_move_the_diagram_allows() {
        for (state, verdict) in [
            (Performance, Verdict::Underperforming),
            (Performance, Verdict::PerformingWell),
            (Maintenance, Verdict::ContentStale),
            (Maintenance, Verdict::ContentValuable),
        ] {
            let cmd = verdict.command();
            assert!(cmd.is_some(), "{verdict:?} asks for no move");
            let to = cmd.map(|c| decide(state, c));
            assert!(
                matches!(to, Some(Ok(to)) if EDGES.contains(&(state, to))),
                "{state:?} --{verdict:?}--> {to:?}"
            );
            let name = serde_json::to_value(verdict).ok();
            assert_eq!(
                name.as_ref().and_then(|v| v.as_str()),
                Some(verdict.as_str())
            );
        }
        assert_eq!(Verdict::Wait.command(), None);
    }

    #[test]
    fn the_seed_path_is_allowed() {
        let path = [
            (Planning, Edit, Creation),
            (
                Creation,
                Submit {
                    approval_escalated: false,
                },
                Review,
            ),
            (Review, RevisionsNeeded, Creation),
            (Review, Approve, Approved),
            (
                Approved,
                Publish {
                    current_version_approved: true,
                },
                Published,
            ),
            (Published, Measure, Performance),
            (Performance, Underperforming, Optimization),
            (
                Optimization,
                Publish {
                    current_version_approved: true,
                },
                Performance,
            ),
            (Performance, PerformingWell, Maintenance),
            (Maintenance, ContentValuable, Performance),
            (Maintenance, ContentStale, Archival),
        ];
        for (from, cmd, to) in path {
            assert_eq!(decide(from, cmd), Ok(to), "{from:?} --{cmd:?}-->");
        }
    }

    #[test]
    fn everything_else_is_refused_with_a_reason() {
        let refused = [
            (
                Planning,
                Publish {
                    current_version_approved: true,
                },
            ),
            (
                Approved,
                Publish {
                    current_version_approved: false,
                },
            ),
            (Review, Edit),
            (Published, Edit),
            (Creation, Approve),
            (Performance, ContentStale),
            (Archival, Edit),
            (Creation, Measure),
            (
                Planning,
                Submit {
                    approval_escalated: false,
                },
            ),
            (
                Review,
                Submit {
                    approval_escalated: false,
                },
            ),
            (Published, Underperforming),
        ];
        for (from, cmd) in refused {
            let r = decide(from, cmd);
            assert!(
                matches!(&r, Err(Refusal(m)) if !m.is_empty()),
                "{from:?} --{cmd:?}--> {r:?}"
            );
        }
    }
}
