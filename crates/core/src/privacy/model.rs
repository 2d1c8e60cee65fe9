//! The pure state machines: data-subject requests and personal-data
//! breaches. `(state, command, now) -> Result<new state, refusal>`; no I/O.
//!
//! A request: received -> verifying -> verified -> in progress -> completed,
//! or refused from any open state. The person's identity is checked before
//! anything is done (an erasure waits in progress for its second approver);
//! the deadline runs from receipt whatever the state (extensions within the
//! first period).

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
    Restriction => "restriction",
    Portability => "portability",
    Objection => "objection",
});

impl RequestKind {
    /// The GDPR article the right comes from.
    pub fn article(self) -> u8 {
        match self {
            RequestKind::Access => 15,
            RequestKind::Rectification => 16,
            RequestKind::Erasure => 17,
            RequestKind::Restriction => 18,
            RequestKind::Portability => 20,
            RequestKind::Objection => 21,
        }
    }

    /// "access, rectification, ...": for error messages.
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

str_enum!(RequestStatus {
    Received => "received",
    Verifying => "verifying",
    Verified => "verified",
    InProgress => "in_progress",
    Completed => "completed",
    Refused => "refused",
});

impl RequestStatus {
    /// Still to be answered (the deadline clock runs).
    pub fn is_open(self) -> bool {
        !matches!(self, RequestStatus::Completed | RequestStatus::Refused)
    }

    /// The statuses of open requests, for queries.
    pub fn open_names() -> Vec<String> {
        Self::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.as_str().to_string())
            .collect()
    }
}

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
    Extend {
        months: u32,
        max: u32,
    },
    /// Proof of identity was asked for.
    StartVerification,
    /// The person's identity is established.
    Verify,
    /// The work is started and waits on something (an erasure's second approver).
    Start,
    /// A started piece of work was sent back (the erasure approval was refused).
    SendBack,
    Complete,
    Refuse,
}

/// Decide a request command. `Ok` carries the new status.
pub fn decide_request(
    s: RequestState,
    cmd: RequestCommand,
    now: DateTime<Utc>,
) -> Result<RequestStatus, Refusal> {
    use RequestCommand as C;
    use RequestStatus as S;
    if !s.status.is_open() {
        return refuse(format!(
            "request #{} is already {}: nothing more can be done with it",
            s.id, s.status
        ));
    }
    match (s.status, cmd) {
        (status, C::Extend { months, max }) => {
            super::deadline::check_extension(now, s.first_due, s.extended_months, months, max)
                .map_err(Refusal)?;
            Ok(status)
        }
        (_, C::Refuse) => Ok(S::Refused),
        (S::Received, C::StartVerification) => Ok(S::Verifying),
        (S::Received | S::Verifying, C::Verify) => Ok(S::Verified),
        (_, C::StartVerification | C::Verify) => refuse(format!(
            "request #{}: the person's identity is already verified",
            s.id
        )),
        (S::Received | S::Verifying, C::Start | C::Complete) => refuse(format!(
            "request #{} is {}: verify the person's identity first (`privacy dsar verify {}`)",
            s.id, s.status, s.id
        )),
        (S::Verified, C::Start) => Ok(S::InProgress),
        (S::InProgress, C::Start) => refuse(format!(
            "request #{} is already in progress (waiting for its approval)",
            s.id
        )),
        (S::InProgress, C::SendBack) => Ok(S::Verified),
        (_, C::SendBack) => refuse(format!("request #{} is not in progress", s.id)),
        (S::Verified | S::InProgress, C::Complete) => Ok(S::Completed),
        (S::Completed | S::Refused, _) => refuse(format!(
            "request #{} is already {}: nothing more can be done with it",
            s.id, s.status
        )),
    }
}

/// What the breach record holds so far (presence only: the state machine
/// never sees the text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreachInfo {
    pub nature: bool,
    pub categories: bool,
    pub people_approx: bool,
    pub records_approx: bool,
    pub contact_point: bool,
    pub consequences: bool,
    pub measures: bool,
}

impl BreachInfo {
    /// What a notification must hold (GDPR Art. 33(3)): each missing item
    /// with the option that records it. Later information follows in
    /// phases (Art. 33(4)).
    pub fn missing_for_notification(&self) -> Vec<&'static str> {
        [
            (self.nature, "the nature of the breach (--nature)"),
            (
                self.categories,
                "the categories of people and records concerned (--categories)",
            ),
            (
                self.people_approx,
                "the approximate number of people concerned (--people)",
            ),
            (
                self.records_approx,
                "the approximate number of records concerned (--records)",
            ),
            (self.contact_point, "a contact point (--contact)"),
            (
                self.consequences,
                "the likely consequences (--consequences)",
            ),
            (self.measures, "the measures taken or proposed (--measures)"),
        ]
        .into_iter()
        .filter(|(present, _)| !present)
        .map(|(_, what)| what)
        .collect()
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
                    "the notification needs {} (GDPR Art. 33(3)); record them with `privacy breach update`, then notify; later facts follow as phases",
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
            decide_request(req(RequestStatus::Received, 0), ext(2), now()),
            Ok(RequestStatus::Received)
        );
        assert!(decide_request(req(RequestStatus::Verified, 2), ext(1), now()).is_err());
        let late = now() + TimeDelta::days(11);
        assert!(
            decide_request(req(RequestStatus::Verified, 0), ext(1), late)
                .is_err_and(|r| r.0.contains("too late"))
        );
        assert_eq!(
            decide_request(
                req(RequestStatus::Verified, 0),
                RequestCommand::Complete,
                late
            ),
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

    /// Every (state, command) pair: the seed's path and nothing else.
    #[test]
    fn the_request_machine_is_exactly_the_lifecycle() {
        use RequestCommand as C;
        use RequestStatus as S;
        let commands = [
            C::Extend { months: 1, max: 2 },
            C::StartVerification,
            C::Verify,
            C::Start,
            C::SendBack,
            C::Complete,
            C::Refuse,
        ];
        for &from in S::ALL {
            for cmd in commands {
                let got = decide_request(req(from, 0), cmd, now()).ok();
                let want = match (from, cmd) {
                    (S::Completed | S::Refused, _) => None,
                    (f, C::Extend { .. }) => Some(f),
                    (_, C::Refuse) => Some(S::Refused),
                    (S::Received, C::StartVerification) => Some(S::Verifying),
                    (S::Received | S::Verifying, C::Verify) => Some(S::Verified),
                    (S::Verified, C::Start) => Some(S::InProgress),
                    (S::InProgress, C::SendBack) => Some(S::Verified),
                    (S::Verified | S::InProgress, C::Complete) => Some(S::Completed),
                    _ => None,
                };
                assert_eq!(got, want, "{from} + {cmd:?}");
            }
        }
        assert!(
            decide_request(req(S::Received, 0), C::Complete, now())
                .is_err_and(|r| r.0.contains("verify the person's identity first"))
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
        let all = BreachInfo {
            nature: true,
            categories: true,
            people_approx: true,
            records_approx: true,
            contact_point: true,
            consequences: true,
            measures: true,
        };
        // Each Art. 33(3) item is required and named when missing.
        for (i, name) in [
            "--nature",
            "--categories",
            "--people",
            "--records",
            "--contact",
            "--consequences",
            "--measures",
        ]
        .into_iter()
        .enumerate()
        {
            let mut info = all;
            let slot = match i {
                0 => &mut info.nature,
                1 => &mut info.categories,
                2 => &mut info.people_approx,
                3 => &mut info.records_approx,
                4 => &mut info.contact_point,
                5 => &mut info.consequences,
                _ => &mut info.measures,
            };
            *slot = false;
            s.info = info;
            assert!(
                decide_breach(s, notify, now())
                    .is_err_and(|r| r.0.contains(name) && r.0.matches("(--").count() == 1),
                "{name}"
            );
        }
        s.info = all;
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
