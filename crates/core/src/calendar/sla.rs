//! An SLA clock: a target duration counted on a calendar (a department's
//! business hours, or around the clock) from a start, minus the time it was
//! paused (waiting on the requester, say). A plain value: a workflow stores
//! it as JSONB or columns and asks it questions with the org's calendar.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::Calendar;
use crate::duration::HumanDuration;

/// Which hours an SLA counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CalendarKind {
    /// A department's business hours (the org's when `None` or when the
    /// department has none of its own); closed on holidays.
    BusinessHours {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        department: Option<String>,
    },
    /// Every hour of every day.
    AroundTheClock,
}

/// A stretch of time the clock stood still; `until` is `None` while it
/// still does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: DateTime<Utc>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// Why a clock refused to pause or resume.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the clock has been paused since {0}; resume it first")]
    AlreadyPaused(DateTime<Utc>),
    #[error("the clock is running; there is nothing to resume")]
    NotPaused,
    #[error("the clock cannot change at {at}: it started at {started}")]
    BeforeStart {
        at: DateTime<Utc>,
        started: DateTime<Utc>,
    },
    #[error("the clock cannot change at {at}: it last changed at {last}")]
    BeforeLastChange {
        at: DateTime<Utc>,
        last: DateTime<Utc>,
    },
}

/// A target duration on a calendar, with pauses. Change it with
/// [`SlaClock::pause`] and [`SlaClock::resume`], which keep the pauses in
/// order and apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    pub target: HumanDuration,
    pub calendar: CalendarKind,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pauses: Vec<Pause>,
}

impl SlaClock {
    pub fn start(target: HumanDuration, calendar: CalendarKind, at: DateTime<Utc>) -> Self {
        Self {
            target,
            calendar,
            started_at: at,
            pauses: Vec::new(),
        }
    }

    /// Since when the clock has stood still, if it does.
    pub fn paused_since(&self) -> Option<DateTime<Utc>> {
        self.pauses
            .last()
            .filter(|p| p.until.is_none())
            .map(|p| p.from)
    }

    pub fn is_paused(&self) -> bool {
        self.paused_since().is_some()
    }

    /// Stop counting from `at`.
    pub fn pause(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        if let Some(since) = self.paused_since() {
            return Err(ClockError::AlreadyPaused(since));
        }
        self.check_order(at)?;
        self.pauses.push(Pause {
            from: at,
            until: None,
        });
        Ok(())
    }

    /// Count again from `at`.
    pub fn resume(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        if !self.is_paused() {
            return Err(ClockError::NotPaused);
        }
        self.check_order(at)?;
        if let Some(p) = self.pauses.last_mut() {
            p.until = Some(at);
        }
        Ok(())
    }

    fn check_order(&self, at: DateTime<Utc>) -> Result<(), ClockError> {
        if at < self.started_at {
            return Err(ClockError::BeforeStart {
                at,
                started: self.started_at,
            });
        }
        let last = self.pauses.last().map(|p| p.until.unwrap_or(p.from));
        match last {
            Some(last) if at < last => Err(ClockError::BeforeLastChange { at, last }),
            _ => Ok(()),
        }
    }

    /// When the target is reached, counting only time the clock ran; `None`
    /// while it is paused short of the target (resuming decides). A pause
    /// that began after the target was reached does not move it.
    pub fn due_at(&self, org: &Calendar) -> Option<DateTime<Utc>> {
        let cal = org.for_kind(&self.calendar);
        let mut left = self.target.delta();
        let mut at = self.started_at;
        for p in &self.pauses {
            if p.from > at {
                let ran = cal.business_duration_between(at, p.from);
                if ran >= left {
                    return Some(cal.add_business_duration(at, left));
                }
                left -= ran;
            }
            at = at.max(p.until?);
        }
        Some(cal.add_business_duration(at, left))
    }

    /// Time counted by `now`: calendar time since the start, less the time
    /// it was paused.
    pub fn elapsed(&self, org: &Calendar, now: DateTime<Utc>) -> TimeDelta {
        let cal = org.for_kind(&self.calendar);
        if now <= self.started_at {
            return TimeDelta::zero();
        }
        let total = cal.business_duration_between(self.started_at, now);
        let paused: TimeDelta = self
            .pauses
            .iter()
            .map(|p| {
                let from = p.from.max(self.started_at);
                let until = p.until.unwrap_or(now).min(now);
                if until > from {
                    cal.business_duration_between(from, until)
                } else {
                    TimeDelta::zero()
                }
            })
            .sum();
        (total - paused).max(TimeDelta::zero())
    }

    /// Time left before the target (negative once it is overdue).
    pub fn remaining(&self, org: &Calendar, now: DateTime<Utc>) -> TimeDelta {
        self.target.delta() - self.elapsed(org, now)
    }

    /// Share of the target used: 0.75 is "imminent" for a 75% warning, 1.0
    /// and above is breached. A zero target is always fully used.
    pub fn fraction_used(&self, org: &Calendar, now: DateTime<Utc>) -> f64 {
        let target = self.target.delta().num_milliseconds();
        if target <= 0 {
            return 1.0;
        }
        self.elapsed(org, now).num_milliseconds() as f64 / target as f64
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{new_york, ny};
    use super::*;

    fn business(department: Option<&str>) -> CalendarKind {
        CalendarKind::BusinessHours {
            department: department.map(str::to_string),
        }
    }

    fn hour() -> HumanDuration {
        HumanDuration::from_secs(3600)
    }

    #[test]
    fn a_business_hour_requested_friday_afternoon_is_due_monday_0930() {
        let clock = SlaClock::start(hour(), business(None), ny("2026-11-20 16:30"));
        assert_eq!(clock.due_at(&new_york()), Some(ny("2026-11-23 09:30")));
    }

    #[test]
    fn a_business_hour_requested_wednesday_1000_is_due_1100() {
        let cal = new_york();
        let clock = SlaClock::start(hour(), business(Some("sales")), ny("2026-11-18 10:00"));
        assert_eq!(clock.due_at(&cal), Some(ny("2026-11-18 11:00")));
        let now = ny("2026-11-18 10:45");
        assert_eq!(clock.elapsed(&cal, now), TimeDelta::minutes(45));
        assert_eq!(clock.remaining(&cal, now), TimeDelta::minutes(15));
        assert!((clock.fraction_used(&cal, now) - 0.75).abs() < 1e-9);
        let late = ny("2026-11-18 11:30");
        assert_eq!(clock.remaining(&cal, late), TimeDelta::minutes(-30));
        assert!(clock.fraction_used(&cal, late) > 1.0);
    }

    #[test]
    fn twenty_minutes_paused_waiting_on_the_requester_are_due_twenty_minutes_later() {
        let cal = new_york();
        let mut clock = SlaClock::start(hour(), business(None), ny("2026-11-18 10:00"));
        assert_eq!(clock.pause(ny("2026-11-18 10:10")), Ok(()));
        assert_eq!(clock.due_at(&cal), None, "no due time while paused");
        assert_eq!(
            clock.elapsed(&cal, ny("2026-11-18 10:25")),
            TimeDelta::minutes(10)
        );
        assert_eq!(clock.resume(ny("2026-11-18 10:30")), Ok(()));
        assert_eq!(clock.due_at(&cal), Some(ny("2026-11-18 11:20")));
        assert_eq!(
            clock.elapsed(&cal, ny("2026-11-18 11:20")),
            TimeDelta::minutes(60)
        );
        // Paused overnight: only the business time of the pause counts.
        let mut overnight = SlaClock::start(hour(), business(None), ny("2026-11-18 16:30"));
        assert_eq!(overnight.pause(ny("2026-11-18 16:50")), Ok(()));
        assert_eq!(overnight.resume(ny("2026-11-19 09:10")), Ok(()));
        // 20 minutes ran Wednesday; 10 minutes of Thursday were paused.
        assert_eq!(overnight.due_at(&cal), Some(ny("2026-11-19 09:50")));
    }

    #[test]
    fn a_pause_after_the_target_does_not_move_it() {
        let cal = new_york();
        let mut clock = SlaClock::start(hour(), business(None), ny("2026-11-18 10:00"));
        assert_eq!(clock.pause(ny("2026-11-18 11:30")), Ok(()));
        assert_eq!(clock.due_at(&cal), Some(ny("2026-11-18 11:00")));
        assert_eq!(clock.resume(ny("2026-11-18 12:00")), Ok(()));
        assert_eq!(clock.due_at(&cal), Some(ny("2026-11-18 11:00")));
    }

    #[test]
    fn around_the_clock_friday_1630_is_due_1730() {
        let clock = SlaClock::start(hour(), CalendarKind::AroundTheClock, ny("2026-11-20 16:30"));
        assert_eq!(clock.due_at(&new_york()), Some(ny("2026-11-20 17:30")));
    }

    #[test]
    fn a_business_hour_requested_on_thanksgiving_is_due_friday_1000() {
        let clock = SlaClock::start(hour(), business(None), ny("2026-11-26 10:00"));
        assert_eq!(clock.due_at(&new_york()), Some(ny("2026-11-27 10:00")));
    }

    #[test]
    fn pauses_and_resumes_out_of_order_are_refused() {
        let start = ny("2026-11-18 10:00");
        let mut clock = SlaClock::start(hour(), business(None), start);
        assert_eq!(clock.resume(start), Err(ClockError::NotPaused));
        assert!(matches!(
            clock.pause(ny("2026-11-18 09:00")),
            Err(ClockError::BeforeStart { .. })
        ));
        assert_eq!(clock.pause(ny("2026-11-18 10:30")), Ok(()));
        assert!(matches!(
            clock.pause(ny("2026-11-18 10:40")),
            Err(ClockError::AlreadyPaused(_))
        ));
        assert!(matches!(
            clock.resume(ny("2026-11-18 10:20")),
            Err(ClockError::BeforeLastChange { .. })
        ));
        let msg = clock
            .pause(ny("2026-11-18 10:40"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("resume it first"), "{msg}");
    }

    #[test]
    fn a_clock_round_trips_through_json() {
        let mut clock = SlaClock::start(
            HumanDuration::from_secs(5400),
            business(Some("customer_experience")),
            ny("2026-11-18 10:00"),
        );
        assert_eq!(clock.pause(ny("2026-11-18 10:10")), Ok(()));
        let json = serde_json::to_value(&clock).unwrap_or_default();
        assert_eq!(json["target"], "1h30m");
        assert_eq!(json["calendar"]["kind"], "business_hours");
        assert_eq!(json["calendar"]["department"], "customer_experience");
        assert_eq!(json["pauses"][0]["until"], serde_json::Value::Null);
        let back: Result<SlaClock, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(clock));
        let always: Result<SlaClock, _> = serde_json::from_str(
            r#"{"target":"72h","calendar":{"kind":"around_the_clock"},"started_at":"2026-11-18T15:00:00Z"}"#,
        );
        assert_eq!(
            always.ok().and_then(|c| c.due_at(&new_york())),
            Some(ny("2026-11-21 10:00"))
        );
    }
}
