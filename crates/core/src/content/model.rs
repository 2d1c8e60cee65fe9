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

#[cfg(test)]
mod tests {
    use super::*;
    use Command::*;
    use State::*;

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
        // Exhaustively: no command reaches a state the seed has no edge to.
        let edges: &[(State, State)] = &[
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
        let commands = [
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
        for from in State::ALL {
            for cmd in commands {
                if let Ok(to) = decide(from, cmd) {
                    assert!(
                        to == from || edges.contains(&(from, to)),
                        "{from:?} -> {to:?} is not in the seed"
                    );
                }
            }
        }
    }
}
