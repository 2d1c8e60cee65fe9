//! The incident model and its pure state machine.
//!
//! Two axes run side by side:
//! - the on-call status an incident tool has: Triggered → Acknowledged →
//!   Resolved → Closed (with un-acknowledge and reopen going back);
//! - the seed's protocol phases, each with a time box: Detection, Triage &
//!   Severity, Internal Comms, Customer Comms, Implement Fix (while
//!   acknowledged), then Follow-up, Post-Mortem, Update Protocols (once
//!   resolved). Phases advance one at a time, never skipped.
//!
//! `decide(state, command)` is pure: it returns the new state and the effects
//! the service must carry out in the same transaction, or a refusal with a
//! sentence a person can read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    P1,
    P2,
    P3,
    P4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::P1, Severity::P2, Severity::P3, Severity::P4];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
            Severity::P4 => "P4",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "P1" | "1" => Ok(Severity::P1),
            "P2" | "2" => Ok(Severity::P2),
            "P3" | "3" => Ok(Severity::P3),
            "P4" | "4" => Ok(Severity::P4),
            _ => Err(format!("severity {s:?} is not one of P1, P2, P3, P4")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Triggered,
    Acknowledged,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Triggered,
        Status::Acknowledged,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still needs people (not resolved or closed).
    pub fn is_open(self) -> bool {
        matches!(self, Status::Triggered | Status::Acknowledged)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Detection,
    Triage,
    InternalComms,
    CustomerComms,
    ImplementFix,
    FollowUp,
    PostMortem,
    UpdateProtocols,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::Detection,
        Phase::Triage,
        Phase::InternalComms,
        Phase::CustomerComms,
        Phase::ImplementFix,
        Phase::FollowUp,
        Phase::PostMortem,
        Phase::UpdateProtocols,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Phase::Detection => "detection",
            Phase::Triage => "triage",
            Phase::InternalComms => "internal_comms",
            Phase::CustomerComms => "customer_comms",
            Phase::ImplementFix => "implement_fix",
            Phase::FollowUp => "follow_up",
            Phase::PostMortem => "post_mortem",
            Phase::UpdateProtocols => "update_protocols",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::Detection => "Detection",
            Phase::Triage => "Triage & Severity",
            Phase::InternalComms => "Internal Comms",
            Phase::CustomerComms => "Customer Comms",
            Phase::ImplementFix => "Implement Fix",
            Phase::FollowUp => "Follow-up",
            Phase::PostMortem => "Post-Mortem",
            Phase::UpdateProtocols => "Update Protocols",
        }
    }

    pub fn next(self) -> Option<Phase> {
        let i = Phase::ALL.iter().position(|p| *p == self)?;
        Phase::ALL.get(i + 1).copied()
    }

    /// Phases that run after the fix is in (the incident is resolved).
    pub fn after_resolution(self) -> bool {
        self >= Phase::FollowUp
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' ', '&'], "_");
        let norm = norm.replace("__", "_");
        Phase::ALL
            .into_iter()
            .find(|p| p.key() == norm || p.label().eq_ignore_ascii_case(s.trim()))
            .or(match norm.as_str() {
                "triage_severity" | "triage_and_severity" => Some(Phase::Triage),
                "fix" => Some(Phase::ImplementFix),
                "followup" => Some(Phase::FollowUp),
                "postmortem" => Some(Phase::PostMortem),
                _ => None,
            })
            .ok_or_else(|| {
                let keys: Vec<&str> = Phase::ALL.iter().map(|p| p.key()).collect();
                format!("unknown phase {s:?} (phases: {})", keys.join(", "))
            })
    }
}

/// Incident roles besides the on-call responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentRole {
    Commander,
    Scribe,
    Liaison,
}

impl FromStr for IncidentRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "commander" => Ok(IncidentRole::Commander),
            "scribe" => Ok(IncidentRole::Scribe),
            "liaison" => Ok(IncidentRole::Liaison),
            _ => Err(format!(
                "unknown incident role {s:?} (commander, scribe or liaison)"
            )),
        }
    }
}

impl IncidentRole {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentRole::Commander => "commander",
            IncidentRole::Scribe => "scribe",
            IncidentRole::Liaison => "liaison",
        }
    }
}

/// A post-mortem action item: open until its owner marks it done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionItemStatus {
    Open,
    Done,
}

impl ActionItemStatus {
    pub const ALL: [ActionItemStatus; 2] = [ActionItemStatus::Open, ActionItemStatus::Done];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionItemStatus::Open => "open",
            ActionItemStatus::Done => "done",
        }
    }
}

impl fmt::Display for ActionItemStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the state machine needs to know about an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub id: i64,
    pub status: Status,
    pub phase: Phase,
    pub severity: Severity,
    /// The severity requires every phase and a post-mortem.
    pub full_protocol: bool,
    pub postmortem_written: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Acknowledge,
    /// A person hands the incident back (it re-triggers).
    Unacknowledge,
    /// No progress on an acknowledged incident for too long.
    UnackTimeout,
    Resolve,
    /// Monitoring says every alert behind the incident cleared: a P3/P4
    /// resolves even unacknowledged (nobody needs waking for it any more);
    /// a P1/P2 still walks its phases by hand.
    Recovered,
    Reopen,
    Close,
    AdvancePhase(Phase),
    ChangeSeverity {
        to: Severity,
        full_protocol: bool,
    },
    Escalate,
    /// Notes, status updates and role changes: progress, not a move.
    Progress,
    /// The time box of `phase` ran out.
    PhaseOverrun(Phase),
}

/// What the service must do in the transaction of the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Start (or restart) the severity's escalation ladder from level one.
    StartEscalation,
    /// Stop escalating: somebody has it.
    AcknowledgeEscalation,
    /// Stop escalating without an acknowledgement.
    CancelEscalation,
    /// Notify the next level now.
    EscalateNow,
    /// (Re)start the time box of the current phase.
    StartPhaseBox,
    CancelPhaseBox,
    /// (Re)start the un-acknowledge countdown: progress was made.
    StartUnackTimer,
    CancelUnackTimer,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Changed {
        state: State,
        effects: Vec<Effect>,
    },
    /// Nothing to do (e.g. a second acknowledgement); the reason says why.
    Unchanged(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(msg.into()))
}

fn changed(state: State, effects: &[Effect]) -> Result<Outcome, Refusal> {
    Ok(Outcome::Changed {
        state,
        effects: effects.to_vec(),
    })
}

/// The state machine: may `command` happen to an incident in `state`?
pub fn decide(state: State, command: &Command) -> Result<Outcome, Refusal> {
    use Effect::*;
    let id = state.id;
    if state.status == Status::Closed
        && !matches!(command, Command::PhaseOverrun(_) | Command::UnackTimeout)
    {
        return refuse(format!(
            "incident #{id} is closed; open a new incident that refers to it"
        ));
    }
    match command {
        Command::Acknowledge => match state.status {
            Status::Triggered => changed(
                State {
                    status: Status::Acknowledged,
                    ..state
                },
                &[AcknowledgeEscalation, StartUnackTimer],
            ),
            Status::Acknowledged => Ok(Outcome::Unchanged(format!(
                "incident #{id} is already acknowledged"
            ))),
            Status::Resolved => refuse(format!(
                "incident #{id} is resolved; reopen it if the problem is back"
            )),
            Status::Closed => refuse(format!("incident #{id} is closed")),
        },
        Command::Unacknowledge => match state.status {
            Status::Acknowledged => changed(
                State {
                    status: Status::Triggered,
                    ..state
                },
                &[CancelUnackTimer, StartEscalation],
            ),
            other => refuse(format!(
                "only an acknowledged incident can be un-acknowledged; #{id} is {other}"
            )),
        },
        Command::UnackTimeout => match state.status {
            Status::Acknowledged => changed(
                State {
                    status: Status::Triggered,
                    ..state
                },
                &[StartEscalation],
            ),
            _ => Ok(Outcome::Unchanged("no longer acknowledged".into())),
        },
        Command::Resolve => match state.status {
            Status::Triggered => refuse(format!(
                "incident #{id} has not been acknowledged: someone must acknowledge it before it can be resolved"
            )),
            Status::Acknowledged => {
                if state.full_protocol && state.phase < Phase::ImplementFix {
                    return refuse(format!(
                        "a {} is resolved once its fix is in: #{id} is still in {}; advance it through the phases to Implement Fix first",
                        state.severity, state.phase
                    ));
                }
                changed(
                    State {
                        status: Status::Resolved,
                        phase: state.phase.max(Phase::FollowUp),
                        ..state
                    },
                    &[CancelEscalation, CancelUnackTimer, StartPhaseBox],
                )
            }
            Status::Resolved => refuse(format!("incident #{id} is already resolved")),
            Status::Closed => refuse(format!("incident #{id} is closed")),
        },
        Command::Recovered => match state.status {
            Status::Triggered | Status::Acknowledged if state.full_protocol => refuse(format!(
                "a {} is resolved by people once its fix is in: #{id} stays open in {}",
                state.severity, state.phase
            )),
            Status::Triggered | Status::Acknowledged => changed(
                State {
                    status: Status::Resolved,
                    phase: state.phase.max(Phase::FollowUp),
                    ..state
                },
                &[CancelEscalation, CancelUnackTimer, StartPhaseBox],
            ),
            Status::Resolved | Status::Closed => Ok(Outcome::Unchanged(format!(
                "incident #{id} is no longer open"
            ))),
        },
        Command::Reopen => match state.status {
            Status::Resolved => changed(
                State {
                    status: Status::Triggered,
                    phase: Phase::ImplementFix,
                    ..state
                },
                &[StartEscalation, StartPhaseBox],
            ),
            other => refuse(format!(
                "only a resolved incident can be reopened; #{id} is {other}"
            )),
        },
        Command::Close => match state.status {
            Status::Resolved => {
                if state.full_protocol {
                    if !state.postmortem_written {
                        return refuse(format!(
                            "a {} closes only with its post-mortem: write it first (vivid crisis postmortem {id} write)",
                            state.severity
                        ));
                    }
                    if state.phase != Phase::UpdateProtocols {
                        return refuse(format!(
                            "a {} closes after Update Protocols; #{id} is in {}",
                            state.severity, state.phase
                        ));
                    }
                }
                changed(
                    State {
                        status: Status::Closed,
                        ..state
                    },
                    &[CancelPhaseBox, CancelUnackTimer, CancelEscalation],
                )
            }
            Status::Triggered | Status::Acknowledged => refuse(format!(
                "incident #{id} is not resolved yet: resolve it before closing it"
            )),
            Status::Closed => refuse(format!("incident #{id} is already closed")),
        },
        Command::AdvancePhase(to) => {
            let Some(next) = state.phase.next() else {
                return refuse(format!(
                    "#{id} is in {}, the last phase: close it",
                    state.phase
                ));
            };
            if *to <= state.phase {
                return refuse(format!(
                    "#{id} is already past {to} (it is in {})",
                    state.phase
                ));
            }
            if *to != next {
                let skipped: Vec<&str> = Phase::ALL
                    .iter()
                    .filter(|p| **p > state.phase && **p < *to)
                    .map(|p| p.label())
                    .collect();
                return refuse(format!(
                    "cannot skip from {} to {to}: {} comes first",
                    state.phase,
                    skipped.join(", then ")
                ));
            }
            match state.status {
                Status::Triggered => {
                    refuse(format!("acknowledge #{id} before advancing its phases"))
                }
                Status::Acknowledged if next.after_resolution() => refuse(format!(
                    "{next} starts once the fix is in: resolve #{id} first"
                )),
                Status::Resolved
                    if next == Phase::UpdateProtocols
                        && state.full_protocol
                        && !state.postmortem_written =>
                {
                    refuse(format!(
                        "write the post-mortem of #{id} before Update Protocols"
                    ))
                }
                Status::Acknowledged => changed(
                    State {
                        phase: next,
                        ..state
                    },
                    &[StartPhaseBox, StartUnackTimer],
                ),
                _ => changed(
                    State {
                        phase: next,
                        ..state
                    },
                    &[StartPhaseBox],
                ),
            }
        }
        Command::ChangeSeverity { to, full_protocol } => {
            if *to == state.severity {
                return refuse(format!("#{id} is already {to}"));
            }
            let effects: &[Effect] = match state.status {
                // The new severity's ladder takes over.
                Status::Triggered => &[StartEscalation],
                Status::Acknowledged => &[StartUnackTimer],
                _ => &[],
            };
            changed(
                State {
                    severity: *to,
                    full_protocol: *full_protocol,
                    ..state
                },
                effects,
            )
        }
        Command::Escalate => match state.status {
            Status::Triggered | Status::Acknowledged => changed(state, &[EscalateNow]),
            _ => refuse(format!(
                "#{id} is {}: reopen it before escalating",
                state.status
            )),
        },
        Command::Progress => match state.status {
            Status::Acknowledged => changed(state, &[StartUnackTimer]),
            _ => changed(state, &[]),
        },
        Command::PhaseOverrun(phase) => {
            if *phase == state.phase && state.status.is_open() {
                changed(state, &[EscalateNow])
            } else if *phase == state.phase && state.status == Status::Resolved {
                // After the fix nobody is paged: the overrun is recorded and
                // the commander and directors are told.
                changed(state, &[])
            } else {
                Ok(Outcome::Unchanged("the phase has moved on".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(status: Status, phase: Phase, sev: Severity) -> State {
        State {
            id: 42,
            status,
            phase,
            severity: sev,
            full_protocol: matches!(sev, Severity::P1 | Severity::P2),
            postmortem_written: false,
        }
    }

    fn new_state(outcome: Result<Outcome, Refusal>) -> Option<State> {
        match outcome {
            Ok(Outcome::Changed { state, .. }) => Some(state),
            _ => None,
        }
    }

    fn refusal(outcome: Result<Outcome, Refusal>) -> String {
        match outcome {
            Err(Refusal(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// What a command does to an incident's status.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Expect {
        /// A change; the status afterwards (possibly the same).
        To(Status),
        /// Nothing to do, said politely.
        Unchanged,
        Refused,
    }

    /// One of every command, aimed at an incident in `state` (advance to
    /// the next phase, overrun the current one, move the severity).
    fn every_command(state: State) -> Vec<Command> {
        let all = vec![
            Command::Acknowledge,
            Command::Unacknowledge,
            Command::UnackTimeout,
            Command::Resolve,
            Command::Reopen,
            Command::Close,
            Command::AdvancePhase(state.phase.next().unwrap_or(state.phase)),
            Command::ChangeSeverity {
                to: Severity::P2,
                full_protocol: true,
            },
            Command::Escalate,
            Command::Progress,
            Command::PhaseOverrun(state.phase),
            Command::Recovered,
        ];
        // A new command does not compile until it is listed above.
        for c in &all {
            match c {
                Command::Acknowledge
                | Command::Unacknowledge
                | Command::UnackTimeout
                | Command::Resolve
                | Command::Recovered
                | Command::Reopen
                | Command::Close
                | Command::AdvancePhase(_)
                | Command::ChangeSeverity { .. }
                | Command::Escalate
                | Command::Progress
                | Command::PhaseOverrun(_) => {}
            }
        }
        all
    }

    #[test]
    fn every_status_and_command_pair_has_a_known_answer() {
        use Expect::{Refused as No, Unchanged as Same};
        use Status::{Acknowledged as Ack, Closed, Resolved, Triggered as Trig};
        let to = Expect::To;
        // Columns in the order of `every_command`: acknowledge, unacknowledge,
        // un-ack timeout, resolve, reopen, close, advance phase, change
        // severity, escalate, progress, phase overrun, recovered.
        #[rustfmt::skip]
        let table = [
            (Trig,     Phase::Detection, [to(Ack), No,       Same,     No,           No,       No,         No,           to(Trig),     to(Trig), to(Trig),     to(Trig),     to(Resolved)]),
            (Ack,      Phase::Triage,    [Same,    to(Trig), to(Trig), to(Resolved), No,       No,         to(Ack),      to(Ack),      to(Ack),  to(Ack),      to(Ack),      to(Resolved)]),
            (Resolved, Phase::FollowUp,  [No,      No,       Same,     No,           to(Trig), to(Closed), to(Resolved), to(Resolved), No,       to(Resolved), to(Resolved), Same]),
            (Closed,   Phase::FollowUp,  [No,      No,       Same,     No,           No,       No,         No,           No,           No,       No,           Same,         No]),
        ];
        assert_eq!(
            table.iter().map(|(s, _, _)| *s).collect::<Vec<_>>(),
            Status::ALL.to_vec(),
            "one row per status"
        );
        for (status, phase, expected) in table {
            let state = st(status, phase, Severity::P3);
            let commands = every_command(state);
            assert_eq!(commands.len(), expected.len(), "one column per command");
            for (command, want) in commands.iter().zip(expected) {
                let got = match decide(state, command) {
                    Ok(Outcome::Changed { state, .. }) => Expect::To(state.status),
                    Ok(Outcome::Unchanged(why)) => {
                        assert!(!why.is_empty(), "{status:?} --{command:?}--> says nothing");
                        Expect::Unchanged
                    }
                    Err(Refusal(why)) => {
                        assert!(
                            !why.is_empty(),
                            "{status:?} --{command:?}--> refused silently"
                        );
                        Expect::Refused
                    }
                };
                assert_eq!(got, want, "{status:?} in {phase:?} --{command:?}-->");
            }
        }
    }

    #[test]
    fn parses_severities_and_phases() {
        assert_eq!("p1".parse::<Severity>(), Ok(Severity::P1));
        assert!("P5".parse::<Severity>().is_err());
        assert_eq!("Triage & Severity".parse::<Phase>(), Ok(Phase::Triage));
        assert_eq!("implement-fix".parse::<Phase>(), Ok(Phase::ImplementFix));
        assert_eq!("post_mortem".parse::<Phase>(), Ok(Phase::PostMortem));
        assert!("lunch".parse::<Phase>().is_err());
    }

    #[test]
    fn cannot_resolve_what_was_never_acknowledged() {
        let m = refusal(decide(
            st(Status::Triggered, Phase::Detection, Severity::P3),
            &Command::Resolve,
        ));
        assert!(m.contains("acknowledge"), "{m}");
    }

    #[test]
    fn a_p1_resolves_only_once_the_fix_phase_is_reached() {
        let m = refusal(decide(
            st(Status::Acknowledged, Phase::Triage, Severity::P1),
            &Command::Resolve,
        ));
        assert!(m.contains("Implement Fix"), "{m}");
        let s = new_state(decide(
            st(Status::Acknowledged, Phase::ImplementFix, Severity::P1),
            &Command::Resolve,
        ));
        assert_eq!(
            s.map(|s| (s.status, s.phase)),
            Some((Status::Resolved, Phase::FollowUp))
        );
        // A P3 may be resolved from any phase.
        let s = new_state(decide(
            st(Status::Acknowledged, Phase::Detection, Severity::P3),
            &Command::Resolve,
        ));
        assert_eq!(s.map(|s| s.status), Some(Status::Resolved));
    }

    #[test]
    fn phases_cannot_be_skipped_or_reversed() {
        let m = refusal(decide(
            st(Status::Acknowledged, Phase::Triage, Severity::P2),
            &Command::AdvancePhase(Phase::ImplementFix),
        ));
        assert!(m.contains("Internal Comms, then Customer Comms"), "{m}");
        let m = refusal(decide(
            st(Status::Acknowledged, Phase::Triage, Severity::P2),
            &Command::AdvancePhase(Phase::Detection),
        ));
        assert!(m.contains("already past"), "{m}");
        let m = refusal(decide(
            st(Status::Triggered, Phase::Detection, Severity::P2),
            &Command::AdvancePhase(Phase::Triage),
        ));
        assert!(m.contains("acknowledge"), "{m}");
        let m = refusal(decide(
            st(Status::Acknowledged, Phase::ImplementFix, Severity::P2),
            &Command::AdvancePhase(Phase::FollowUp),
        ));
        assert!(m.contains("resolve"), "{m}");
    }

    #[test]
    fn closing_a_p1_needs_its_postmortem_and_the_last_phase() {
        let m = refusal(decide(
            st(Status::Resolved, Phase::UpdateProtocols, Severity::P1),
            &Command::Close,
        ));
        assert!(m.contains("post-mortem"), "{m}");
        let mut s = st(Status::Resolved, Phase::PostMortem, Severity::P1);
        s.postmortem_written = true;
        let m = refusal(decide(s, &Command::Close));
        assert!(m.contains("Update Protocols"), "{m}");
        s.phase = Phase::UpdateProtocols;
        assert_eq!(
            new_state(decide(s, &Command::Close)).map(|s| s.status),
            Some(Status::Closed)
        );
        // A P4 closes straight after resolution.
        let p4 = st(Status::Resolved, Phase::FollowUp, Severity::P4);
        assert_eq!(
            new_state(decide(p4, &Command::Close)).map(|s| s.status),
            Some(Status::Closed)
        );
        let m = refusal(decide(
            st(Status::Acknowledged, Phase::Triage, Severity::P4),
            &Command::Close,
        ));
        assert!(m.contains("not resolved"), "{m}");
    }

    #[test]
    fn a_second_ack_changes_nothing_and_a_resolved_incident_cannot_be_acked() {
        assert!(matches!(
            decide(
                st(Status::Acknowledged, Phase::Triage, Severity::P1),
                &Command::Acknowledge
            ),
            Ok(Outcome::Unchanged(_))
        ));
        let m = refusal(decide(
            st(Status::Resolved, Phase::FollowUp, Severity::P1),
            &Command::Acknowledge,
        ));
        assert!(m.contains("reopen"), "{m}");
    }

    #[test]
    fn reopen_and_unack_retrigger_the_ladder() {
        match decide(
            st(Status::Resolved, Phase::FollowUp, Severity::P2),
            &Command::Reopen,
        ) {
            Ok(Outcome::Changed { state, effects }) => {
                assert_eq!(
                    (state.status, state.phase),
                    (Status::Triggered, Phase::ImplementFix)
                );
                assert!(effects.contains(&Effect::StartEscalation));
            }
            other => panic!("{other:?}"),
        }
        match decide(
            st(Status::Acknowledged, Phase::Triage, Severity::P2),
            &Command::UnackTimeout,
        ) {
            Ok(Outcome::Changed { state, effects }) => {
                assert_eq!(state.status, Status::Triggered);
                assert_eq!(effects, vec![Effect::StartEscalation]);
            }
            other => panic!("{other:?}"),
        }
        let closed = st(Status::Closed, Phase::UpdateProtocols, Severity::P2);
        assert!(refusal(decide(closed, &Command::Reopen)).contains("closed"));
    }

    #[test]
    fn an_overrun_escalates_only_if_the_phase_is_still_current() {
        let s = st(Status::Acknowledged, Phase::Triage, Severity::P1);
        assert!(matches!(
            decide(s, &Command::PhaseOverrun(Phase::Triage)),
            Ok(Outcome::Changed { ref effects, .. }) if effects == &vec![Effect::EscalateNow]
        ));
        assert!(matches!(
            decide(s, &Command::PhaseOverrun(Phase::Detection)),
            Ok(Outcome::Unchanged(_))
        ));
        let resolved = st(Status::Resolved, Phase::FollowUp, Severity::P1);
        assert!(matches!(
            decide(resolved, &Command::PhaseOverrun(Phase::FollowUp)),
            Ok(Outcome::Changed { ref effects, .. }) if effects.is_empty()
        ));
    }
}
