//! The seed's A/B loop as states: hypothesis, design and variables are fixed
//! in `draft`; the audience is split when it starts `running`; the
//! significance check keeps it running until it may stop; `decided` holds the
//! analysis and the implemented winner; `documented` holds the learnings,
//! from which the next hypothesis starts.

use std::fmt;

use serde::Serialize;

use crate::stats::{Difference, Engine, MetricKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Draft,
    Running,
    Decided,
    Documented,
}

impl State {
    pub const ALL: [State; 4] = [
        State::Draft,
        State::Running,
        State::Decided,
        State::Documented,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Running => "running",
            State::Decided => "decided",
            State::Documented => "documented",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The design's enums as stored and typed: "binomial", "frequentist",
/// "relative" (the same words their JSON uses).
pub const METRIC_KINDS: [MetricKind; 2] = [MetricKind::Binomial, MetricKind::Mean];
pub const ENGINES: [Engine; 2] = [Engine::Frequentist, Engine::Bayesian];
pub const DIFFERENCES: [Difference; 2] = [Difference::Relative, Difference::Absolute];

pub fn metric_kind_str(k: MetricKind) -> &'static str {
    match k {
        MetricKind::Binomial => "binomial",
        MetricKind::Mean => "mean",
    }
}

pub fn engine_str(e: Engine) -> &'static str {
    match e {
        Engine::Frequentist => "frequentist",
        Engine::Bayesian => "bayesian",
    }
}

pub fn difference_str(d: Difference) -> &'static str {
    match d {
        Difference::Relative => "relative",
        Difference::Absolute => "absolute",
    }
}

/// A metric kind typed by a person ("binomial" or "mean").
pub fn parse_metric_kind(s: &str) -> Result<MetricKind, String> {
    METRIC_KINDS
        .into_iter()
        .find(|k| metric_kind_str(*k) == s)
        .ok_or_else(|| format!("metric kind {s:?} is not binomial or mean"))
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

/// What a person (or the engine) asks of an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Split the audience: a draft starts running.
    Start,
    /// Assign units or record their events: only while it runs.
    Assign,
    /// Decide it (a winner, or stop without one): only while it runs.
    Decide,
    /// Write down what was learnt: once it is decided.
    Document,
}

impl Command {
    pub const ALL: [Command; 4] = [
        Command::Start,
        Command::Assign,
        Command::Decide,
        Command::Document,
    ];
}

/// Why a command was refused, as a sentence for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// The seed's loop as a pure state machine: draft → running → decided →
/// documented (the next hypothesis starts a new draft). Assigning keeps a
/// running experiment running.
pub fn decide(key: &str, state: State, command: Command) -> Result<State, Refusal> {
    use Command::*;
    use State::*;
    let refuse = |why: &str| {
        Err(Refusal(format!(
            "experiment {key} is {}: {why}",
            state.as_str()
        )))
    };
    match (state, command) {
        (Draft, Start) => Ok(Running),
        (_, Start) => refuse("only a draft can start"),
        (Running, Assign) => Ok(Running),
        (_, Assign) => refuse("units are assigned only while it runs"),
        (Running, Decide) => Ok(Decided),
        (_, Decide) => refuse("only a running experiment is decided"),
        (Decided, Document) => Ok(Documented),
        (_, Document) => refuse("learnings are documented once it is decided"),
    }
}

#[cfg(test)]
mod machine_tests {
    use super::*;

    const ALL_STATES: [State; 4] = State::ALL;

    /// Every state and command pair has a known answer: the seed's loop and
    /// nothing else.
    #[test]
    fn every_state_and_command_pair_has_a_known_answer() {
        use Command::*;
        use State::*;
        // Columns: start, assign, decide, document. None: refused.
        let table: [(State, [Option<State>; 4]); 4] = [
            (Draft, [Some(Running), None, None, None]),
            (Running, [None, Some(Running), Some(Decided), None]),
            (Decided, [None, None, None, Some(Documented)]),
            (Documented, [None, None, None, None]),
        ];
        assert_eq!(table.map(|(s, _)| s), ALL_STATES, "one row per state");
        for (state, row) in table {
            for (command, want) in Command::ALL.into_iter().zip(row) {
                match (decide("exp", state, command), want) {
                    (Ok(got), Some(want)) => assert_eq!(got, want, "{state:?} --{command:?}-->"),
                    (Err(Refusal(why)), None) => {
                        assert!(why.starts_with("experiment exp is "), "{why}");
                    }
                    (got, want) => panic!("{state:?} --{command:?}--> {got:?}, expected {want:?}"),
                }
            }
        }
        assert_eq!(Start, Command::ALL[0]);
    }

    #[test]
    fn stored_states_round_trip() {
        for s in ALL_STATES {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("paused"), None);
        for k in METRIC_KINDS {
            assert_eq!(parse_metric_kind(metric_kind_str(k)), Ok(k));
        }
        assert!(parse_metric_kind("ratio").is_err());
        // Stored words are the JSON words.
        assert_eq!(
            serde_json::to_value((ENGINES, DIFFERENCES)).ok(),
            Some(serde_json::json!([
                ["frequentist", "bayesian"],
                ["relative", "absolute"]
            ]))
        );
    }
}
