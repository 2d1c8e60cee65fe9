//! The pure state machines: data-subject requests and personal-data
//! breaches. `(state, command, now) -> Result<new state, refusal>`; no I/O.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A sentence saying why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(msg.into()))
}

macro_rules! str_enum {
    ($name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(RequestKind {
    Access => "access",
    Rectification => "rectification",
    Erasure => "erasure",
});

str_enum!(RequestStatus {
    Open => "open",
    Completed => "completed",
    Refused => "refused",
});

str_enum!(BreachStatus {
    Assessing => "assessing",
    Notified => "notified",
    Exempt => "exempt",
    Closing => "closing",
    Closed => "closed",
});

/// A request as the state machine sees it.
#[derive(Debug, Clone, Copy)]
pub struct RequestState {
    pub id: i64,
    pub status: RequestStatus,
    /// The end of the first period: the person must be told of an extension by then.
    pub first_due: DateTime<Utc>,
    pub extended_months: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestCommand {
    Extend { months: u32, max: u32 },
    Complete,
    Refuse,
}

/// Decide a request command. `Ok` carries the new status.
pub fn decide_request(
    s: RequestState,
    cmd: RequestCommand,
    now: DateTime<Utc>,
) -> Result<RequestStatus, Refusal> {
    if s.status != RequestStatus::Open {
        return refuse(format!(
            "request #{} is already {}: nothing more can be done with it",
            s.id, s.status
        ));
    }
    match cmd {
        RequestCommand::Extend { months, max } => {
            super::deadline::check_extension(now, s.first_due, s.extended_months, months, max)
                .map_err(Refusal)?;
            Ok(RequestStatus::Open)
        }
        RequestCommand::Complete => Ok(RequestStatus::Completed),
        RequestCommand::Refuse => Ok(RequestStatus::Refused),
    }
}

/// What the breach record holds so far (presence only: the state machine
/// never sees the text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreachInfo {
    pub nature: bool,
    pub people_approx: bool,
    pub records_approx: bool,
    pub contact_point: bool,
    pub consequences: bool,
    pub measures: bool,
}

impl BreachInfo {
    /// What a first notification must hold (the rest may follow in phases,
    /// GDPR Art. 33(4)).
    fn missing_for_notification(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if !self.nature {
            m.push("the nature of the breach");
        }
        if !self.people_approx {
            m.push("the approximate number of people concerned");
        }
        if !self.records_approx {
            m.push("the approximate number of records concerned");
        }
        if !self.contact_point {
            m.push("a contact point");
        }
        m
    }
}

#[derive(Debug, Clone, Copy)]
pub struct BreachState {
    pub id: i64,
    pub status: BreachStatus,
    pub notify_by: DateTime<Utc>,
    pub notified: bool,
    pub info: BreachInfo,
    pub tasks_open: u32,
    pub tasks_done: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreachCommand {
    /// Add or correct information (after notification: a further phase).
    Update,
    Notify {
        has_delay_reason: bool,
    },
    /// Documented as unlikely to result in a risk: no notification.
    Exempt,
    AddTask,
    CompleteTask,
    RequestClose,
    CloseApproved,
    CloseRejected,
}

/// What a breach command does besides changing the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreachEffect {
    None,
    /// The notification clock stops.
    StopClock,
    /// Information added after notification is a further phase to send.
    Phase,
    RequestApproval,
    Close,
}

pub fn decide_breach(
    s: BreachState,
    cmd: BreachCommand,
    now: DateTime<Utc>,
) -> Result<(BreachStatus, BreachEffect), Refusal> {
    use BreachCommand as C;
    use BreachStatus as S;
    if s.status == S::Closed {
        return refuse(format!("breach #{} is closed", s.id));
    }
    match (s.status, cmd) {
        (S::Closing, C::CloseApproved) => Ok((S::Closed, BreachEffect::Close)),
        (S::Closing, C::CloseRejected) => Ok((
            if s.notified { S::Notified } else { S::Exempt },
            BreachEffect::None,
        )),
        (_, C::CloseApproved | C::CloseRejected) => refuse(format!(
            "breach #{} has no close-out waiting for approval",
            s.id
        )),
        (S::Closing, _) => refuse(format!(
            "breach #{} is waiting for its close-out approval; reject it to make changes",
            s.id
        )),
        (status, C::Update) => Ok((
            status,
            if s.notified {
                BreachEffect::Phase
            } else {
                BreachEffect::None
            },
        )),
        (S::Assessing, C::Notify { has_delay_reason }) => {
            let missing = s.info.missing_for_notification();
            if !missing.is_empty() {
                return refuse(format!(
                    "the notification needs {} (consequences and measures may follow in phases)",
                    missing.join(", ")
                ));
            }
            if now > s.notify_by && !has_delay_reason {
                return refuse(format!(
                    "the notification deadline passed at {}: a late notification must give the reasons for the delay",
                    s.notify_by.format("%Y-%m-%d %H:%M UTC")
                ));
            }
            Ok((S::Notified, BreachEffect::StopClock))
        }
        (S::Assessing, C::Exempt) => Ok((S::Exempt, BreachEffect::StopClock)),
        (_, C::Notify { .. } | C::Exempt) => {
            refuse(format!("breach #{} is already {}", s.id, s.status))
        }
        (status, C::AddTask | C::CompleteTask) => Ok((status, BreachEffect::None)),
        (S::Assessing, C::RequestClose) => refuse(format!(
            "breach #{} is still being assessed: notify the authority or record why no notification is needed first",
            s.id
        )),
        (status @ (S::Notified | S::Exempt), C::RequestClose) => {
            if s.tasks_open > 0 {
                return refuse(format!(
                    "{} remediation task(s) are still open",
                    s.tasks_open
                ));
            }
            if s.tasks_done == 0 {
                return refuse("a close-out needs at least one completed remediation task");
            }
            if !s.info.consequences || !s.info.measures {
                return refuse(
                    "the record must describe the likely consequences and the measures taken before close-out",
                );
            }
            let _ = status;
            Ok((S::Closing, BreachEffect::RequestApproval))
        }
        (S::Closed, _) => refuse(format!("breach #{} is closed", s.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn req(status: RequestStatus, extended: u32) -> RequestState {
        RequestState {
            id: 4,
            status,
            first_due: now() + TimeDelta::days(10),
            extended_months: extended,
        }
    }

    #[test]
    fn requests_extend_within_limits_and_finish_once() {
        let ext = |m| RequestCommand::Extend { months: m, max: 2 };
        assert_eq!(
            decide_request(req(RequestStatus::Open, 0), ext(2), now()),
            Ok(RequestStatus::Open)
        );
        assert!(decide_request(req(RequestStatus::Open, 2), ext(1), now()).is_err());
        let late = now() + TimeDelta::days(11);
        assert!(
            decide_request(req(RequestStatus::Open, 0), ext(1), late)
                .is_err_and(|r| r.0.contains("too late"))
        );
        assert_eq!(
            decide_request(req(RequestStatus::Open, 0), RequestCommand::Complete, late),
            Ok(RequestStatus::Completed),
            "a late request can still be completed"
        );
        assert!(
            decide_request(
                req(RequestStatus::Completed, 0),
                RequestCommand::Refuse,
                now()
            )
            .is_err_and(|r| r.0.contains("already completed"))
        );
    }

    fn breach(status: BreachStatus) -> BreachState {
        BreachState {
            id: 9,
            status,
            notify_by: now() + TimeDelta::hours(72),
            notified: status != BreachStatus::Assessing && status != BreachStatus::Exempt,
            info: BreachInfo::default(),
            tasks_open: 0,
            tasks_done: 0,
        }
    }

    #[test]
    fn a_notification_needs_the_core_facts_and_a_reason_when_late() {
        let notify = BreachCommand::Notify {
            has_delay_reason: false,
        };
        let empty = decide_breach(breach(BreachStatus::Assessing), notify, now());
        assert!(empty.is_err_and(|r| r.0.contains("nature") && r.0.contains("contact point")));
        let mut s = breach(BreachStatus::Assessing);
        s.info = BreachInfo {
            nature: true,
            people_approx: true,
            records_approx: true,
            contact_point: true,
            ..Default::default()
        };
        assert_eq!(
            decide_breach(s, notify, now()),
            Ok((BreachStatus::Notified, BreachEffect::StopClock))
        );
        let late = now() + TimeDelta::hours(73);
        assert!(
            decide_breach(s, notify, late).is_err_and(|r| r.0.contains("reasons for the delay"))
        );
        assert!(
            decide_breach(
                s,
                BreachCommand::Notify {
                    has_delay_reason: true
                },
                late
            )
            .is_ok()
        );
    }

    #[test]
    fn information_after_notification_is_a_phase_and_close_out_needs_remediation() {
        let mut s = breach(BreachStatus::Notified);
        assert_eq!(
            decide_breach(s, BreachCommand::Update, now()),
            Ok((BreachStatus::Notified, BreachEffect::Phase))
        );
        assert!(
            decide_breach(s, BreachCommand::RequestClose, now())
                .is_err_and(|r| r.0.contains("at least one completed"))
        );
        s.tasks_done = 1;
        s.tasks_open = 1;
        assert!(
            decide_breach(s, BreachCommand::RequestClose, now())
                .is_err_and(|r| r.0.contains("still open"))
        );
        s.tasks_open = 0;
        assert!(
            decide_breach(s, BreachCommand::RequestClose, now())
                .is_err_and(|r| r.0.contains("consequences"))
        );
        s.info.consequences = true;
        s.info.measures = true;
        assert_eq!(
            decide_breach(s, BreachCommand::RequestClose, now()),
            Ok((BreachStatus::Closing, BreachEffect::RequestApproval))
        );
        s.status = BreachStatus::Closing;
        assert!(decide_breach(s, BreachCommand::AddTask, now()).is_err());
        assert_eq!(
            decide_breach(s, BreachCommand::CloseRejected, now()),
            Ok((BreachStatus::Notified, BreachEffect::None))
        );
        assert_eq!(
            decide_breach(s, BreachCommand::CloseApproved, now()),
            Ok((BreachStatus::Closed, BreachEffect::Close))
        );
        s.status = BreachStatus::Closed;
        assert!(decide_breach(s, BreachCommand::Update, now()).is_err());
    }

    #[test]
    fn assessing_breaches_cannot_close_and_exemption_stops_the_clock() {
        let s = breach(BreachStatus::Assessing);
        assert!(decide_breach(s, BreachCommand::RequestClose, now()).is_err());
        assert_eq!(
            decide_breach(s, BreachCommand::Exempt, now()),
            Ok((BreachStatus::Exempt, BreachEffect::StopClock))
        );
        assert!(decide_breach(breach(BreachStatus::Exempt), BreachCommand::Exempt, now()).is_err());
    }
}
