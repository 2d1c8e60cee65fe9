//! The seed's A/B loop as states: hypothesis, design and variables are fixed
//! in `draft`; the audience is split when it starts `running`; the
//! significance check keeps it running until it may stop; `decided` holds the
//! analysis and the implemented winner; `documented` holds the learnings,
//! from which the next hypothesis starts.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Draft,
    Running,
    Decided,
    Documented,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Running => "running",
            State::Decided => "decided",
            State::Documented => "documented",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            State::Draft,
            State::Running,
            State::Decided,
            State::Documented,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// May the experiment stop now? The significance check of the seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum StopCheck {
    /// Keep running: the reason says until when.
    KeepRunning { reason: String },
    /// It may stop and be decided.
    MayStop { reason: String },
}

/// Fixed-horizon tests never stop before their planned sample and duration
/// (peeking inflates false positives); sequential tests may stop whenever
/// their always-valid interval excludes zero, or at the horizon.
pub fn stop_check(
    sequential: bool,
    units_per_variation_min: u64,
    planned_per_variation: u64,
    days_run: f64,
    planned_days: f64,
    significant: bool,
) -> StopCheck {
    let horizon = units_per_variation_min >= planned_per_variation && days_run >= planned_days;
    if horizon {
        return StopCheck::MayStop {
            reason: format!(
                "the planned horizon is reached ({planned_per_variation} units per variation, {planned_days:.0} days)"
            ),
        };
    }
    if sequential && significant {
        return StopCheck::MayStop {
            reason: "the sequential test's always-valid interval excludes no effect".into(),
        };
    }
    StopCheck::KeepRunning {
        reason: format!(
            "{} of {planned_per_variation} units per variation and {days_run:.1} of {planned_days:.0} days{}",
            units_per_variation_min,
            if sequential {
                "; no significant difference yet"
            } else {
                "; a fixed-horizon test does not stop early"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_horizon_test_never_stops_early_a_sequential_one_may() {
        assert!(matches!(
            stop_check(false, 500, 1000, 3.0, 14.0, true),
            StopCheck::KeepRunning { .. }
        ));
        assert!(matches!(
            stop_check(false, 1000, 1000, 14.0, 14.0, false),
            StopCheck::MayStop { .. }
        ));
        assert!(matches!(
            stop_check(false, 1000, 1000, 10.0, 14.0, true),
            StopCheck::KeepRunning { .. }
        ));
        assert!(matches!(
            stop_check(true, 500, 1000, 3.0, 14.0, true),
            StopCheck::MayStop { .. }
        ));
        assert!(matches!(
            stop_check(true, 500, 1000, 3.0, 14.0, false),
            StopCheck::KeepRunning { .. }
        ));
    }
}
