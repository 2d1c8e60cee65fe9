//! Calendar arithmetic for the privacy clocks, all pure.
//!
//! A data-subject request is due "within one month of receipt" (GDPR Art.
//! 12(3)), counted the way Regulation 1182/71 and the regulators count it:
//! the same date in the next month, or that month's last day when it has no
//! such date (31 January -> 28/29 February); a deadline on a weekend or a
//! holiday moves to the next business day (see `calendar`). It may be extended by up to two further
//! months when the person is told, with reasons, within the first month.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Months, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::calendar::Calendar;

/// The last instant of the business day on which a period of `months` ends,
/// for a request received at `received_at`, on the org's calendar (its time
/// zone, working days and holidays).
pub fn request_deadline(
    calendar: &Calendar,
    received_at: DateTime<Utc>,
    months: u32,
) -> DateTime<Utc> {
    calendar.end_of_month_period(received_at, months)
}

/// May a request be extended now by `more` months? `already` months were
/// added before; `first_period_due` is the original deadline, by which the
/// person must be told.
pub fn check_extension(
    now: DateTime<Utc>,
    first_period_due: DateTime<Utc>,
    already: u32,
    more: u32,
    max: u32,
) -> Result<(), String> {
    if more == 0 {
        return Err("an extension adds at least one month".into());
    }
    if already + more > max {
        return Err(format!(
            "a request may be extended by at most {max} month(s) in total ({already} already)"
        ));
    }
    if now > first_period_due {
        return Err(format!(
            "too late to extend: the person must be told within the first period, which ended {}",
            first_period_due.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    Ok(())
}

/// How long records of a category are kept: calendar months or days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Months(u32),
    Days(u32),
}

impl Retention {
    /// Records collected before this instant are past their retention.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Retention::Months(m) => now
                .checked_sub_months(Months::new(m))
                .unwrap_or(DateTime::UNIX_EPOCH),
            Retention::Days(d) => now - TimeDelta::days(i64::from(d)),
        }
    }

    /// When a record collected at `at` falls due for deletion.
    pub fn expires(self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Retention::Months(m) => at
                .checked_add_months(Months::new(m))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Retention::Days(d) => at + TimeDelta::days(i64::from(d)),
        }
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retention::Months(m) if m % 12 == 0 => write!(f, "{}y", m / 12),
            Retention::Months(m) => write!(f, "{m}mo"),
            Retention::Days(d) => write!(f, "{d}d"),
        }
    }
}

impl FromStr for Retention {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let bad = || format!("invalid retention {s:?}: write it like \"7y\", \"24mo\" or \"90d\"");
        let n: u32 = s[..digits].parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(format!("invalid retention {s:?}: must be longer than zero"));
        }
        match &s[digits..] {
            "y" => n.checked_mul(12).map(Retention::Months).ok_or_else(bad),
            "mo" => Ok(Retention::Months(n)),
            "d" => Ok(Retention::Days(n)),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Retention {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn new_york() -> Calendar {
        let config =
            crate::config::Config::from_toml_str("default", crate::config::EMBEDDED_DEFAULT)
                .unwrap_or_else(|e| panic!("{e}"));
        Calendar::from_config(&config.org).unwrap_or_else(|(k, r)| panic!("{k}: {r}"))
    }

    #[test]
    fn the_deadline_is_the_end_of_the_working_day_in_the_org_time_zone() {
        let cal = new_york();
        let day = |t: DateTime<Utc>| cal.local_date(t).to_string();
        // Received Tue 2026-09-15 10:00 New York: due Thu 2026-10-15, 23:59:59.999999 EDT.
        let due = request_deadline(&cal, utc("2026-09-15T14:00:00Z"), 1);
        assert_eq!(due, utc("2026-10-16T03:59:59.999999Z"));
        // Received late on 31 Jan local time (already 1 Feb in UTC): 28 Feb 2026
        // is a Saturday, so Monday 2 March.
        let due = request_deadline(&cal, utc("2026-02-01T03:00:00Z"), 1);
        assert_eq!(day(due), "2026-03-02");
        // Extended by two months: 31 Jan + 3 months = 30 April (a Thursday).
        let due = request_deadline(&cal, utc("2026-02-01T03:00:00Z"), 3);
        assert_eq!(day(due), "2026-04-30");
        // A period ending on a holiday runs to the next business day:
        // 7 August + 1 month = Monday 7 September, Labor Day, so Tuesday.
        let due = request_deadline(&cal, utc("2026-08-07T14:00:00Z"), 1);
        assert_eq!(day(due), "2026-09-08");
    }

    #[test]
    fn extensions_need_telling_within_the_first_month_and_cap_at_two() {
        let due = utc("2026-10-16T03:59:59Z");
        let before = due - TimeDelta::days(3);
        assert!(check_extension(before, due, 0, 2, 2).is_ok());
        assert!(check_extension(before, due, 1, 1, 2).is_ok());
        assert!(
            check_extension(before, due, 1, 2, 2).is_err_and(|e| e.contains("at most 2 month(s)"))
        );
        assert!(check_extension(before, due, 0, 0, 2).is_err());
        let after = due + TimeDelta::seconds(1);
        assert!(check_extension(after, due, 0, 1, 2).is_err_and(|e| e.contains("too late")));
    }

    #[test]
    fn retention_periods_parse_and_count_calendar_time() {
        assert_eq!("7y".parse(), Ok(Retention::Months(84)));
        assert_eq!("18mo".parse(), Ok(Retention::Months(18)));
        assert_eq!("90d".parse(), Ok(Retention::Days(90)));
        assert!("7 years".parse::<Retention>().is_err());
        assert!("0d".parse::<Retention>().is_err());
        assert!("y".parse::<Retention>().is_err());
        assert_eq!(Retention::Months(84).to_string(), "7y");
        let now = utc("2026-02-28T12:00:00Z");
        assert_eq!(
            Retention::Months(84).cutoff(now),
            utc("2019-02-28T12:00:00Z")
        );
        assert_eq!(
            Retention::Months(12).expires(utc("2024-02-29T08:00:00Z")),
            utc("2025-02-28T08:00:00Z")
        );
        assert_eq!(Retention::Days(30).cutoff(now), utc("2026-01-29T12:00:00Z"));
    }
}
