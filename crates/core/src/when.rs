//! One meaning for every time a person types (`--due`, `--received`,
//! `--at`, `--since`, `--from`, `--to`), wherever they type it:
//!
//! - `2026-11-26`: a date in the org's time zone: its first instant where a
//!   period starts ([`Bound::Start`]), its last where something is due
//!   ([`Bound::End`]);
//! - `2026-11-26 14:30` (or `T14:30`, seconds optional): local wall time;
//! - RFC 3339 (`2026-11-26T14:30:00-05:00`, `…Z`): that instant;
//! - `2d`, `90m`, `1h30m`: that long before or after now (the caller says
//!   which, [`Relative`]);
//! - `now`.
//!
//! Anything else is refused with a sentence; nothing here panics.

use std::ops::RangeInclusive;

use chrono::{DateTime, Datelike, LocalResult, Month, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::calendar::Calendar;
use crate::duration::HumanDuration;

/// Which instant of a bare local date is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Its first instant: received, since, at, from.
    Start,
    /// Its last instant: due, to.
    End,
}

/// Which way a bare duration counts from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relative {
    /// "2d" is two days ago.
    Past,
    /// "2d" is two days from now.
    Future,
}

/// Years a person may mean; anything else is a typo.
pub const YEARS: RangeInclusive<i32> = 1900..=2999;

/// A time that could not be read, with the reason: shown as
/// `"2026-02-30" is not a date: February 2026 has 28 days`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} {reason}")]
pub struct WhenError {
    pub input: String,
    pub reason: String,
}

const HOW: &str = "write a date (2026-11-26, a local date), a local time (2026-11-26 14:30), \
an RFC 3339 timestamp (2026-11-26T14:30:00-05:00), \"now\", or a duration like 2d or 1h30m";

/// Read a time a person typed; see the module comment for the forms.
pub fn parse_when(
    input: &str,
    bound: Bound,
    relative: Relative,
    now: DateTime<Utc>,
    calendar: &Calendar,
) -> Result<DateTime<Utc>, WhenError> {
    let s = input.trim();
    let fail = |reason: String| WhenError {
        input: s.to_string(),
        reason,
    };
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    let leading_digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if leading_digits > 0 && s[leading_digits..].starts_with('-') {
        return parse_dated(s, bound, calendar).map_err(fail);
    }
    if leading_digits == 0 {
        return Err(fail(format!("is not a time: {HOW}")));
    }
    let d: HumanDuration = s.parse().map_err(|e: crate::duration::DurationError| {
        if e.is_too_long() {
            fail("is too far from now".into())
        } else {
            fail(format!("is not a time: {HOW}"))
        }
    })?;
    let t = match relative {
        Relative::Past => now.checked_sub_signed(d.delta()),
        Relative::Future => now.checked_add_signed(d.delta()),
    };
    t.filter(|t| YEARS.contains(&t.year()))
        .ok_or_else(|| fail("is too far from now".into()))
}

/// Everything that starts like a date: a bare date, a local time, RFC 3339.
fn parse_dated(s: &str, bound: Bound, calendar: &Calendar) -> Result<DateTime<Utc>, String> {
    let (date, rest) = parse_date(s)?;
    if rest.is_empty() {
        return Ok(match bound {
            Bound::Start => calendar.start_of_day(date),
            Bound::End => calendar.end_of_day(date),
        });
    }
    let Some(time) = rest
        .strip_prefix([' ', 'T', 't'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Err(format!("is not a date: write it as YYYY-MM-DD; {HOW}"));
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let time = parse_time(time)?;
    let local = date.and_time(time);
    let tz = calendar.timezone();
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(early, late) => Err(format!(
            "happens twice in {} (the clocks go back that night): give the offset, {} ({}) or {} ({})",
            tz.name(),
            early.format("%Y-%m-%dT%H:%M:%S%:z"),
            early.format("%Z"),
            late.format("%Y-%m-%dT%H:%M:%S%:z"),
            late.format("%Z"),
        )),
        LocalResult::None => Err(format!(
            "does not exist in {}: the clocks skip it when daylight saving time starts (a moment later it is {})",
            tz.name(),
            calendar.format_local(calendar.at_local(local)),
        )),
    }
}

/// "YYYY-MM-DD" and whatever follows it.
fn parse_date(s: &str) -> Result<(NaiveDate, &str), String> {
    let shape = || format!("is not a date: write it as YYYY-MM-DD; {HOW}");
    let (year, rest) = s.split_once('-').ok_or_else(shape)?;
    let (month, rest) = rest.split_once('-').ok_or_else(shape)?;
    let day_len = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (day, rest) = rest.split_at(day_len);
    let two_digits = |p: &str| p.len() == 2 && p.chars().all(|c| c.is_ascii_digit());
    if !two_digits(month) || !two_digits(day) {
        return Err(shape());
    }
    let year: i32 = year
        .parse()
        .ok()
        .filter(|y| YEARS.contains(y))
        .ok_or_else(|| {
            format!(
                "is out of range: the year must be between {} and {}",
                YEARS.start(),
                YEARS.end()
            )
        })?;
    let (month, day): (u32, u32) = (
        month.parse().map_err(|_| shape())?,
        day.parse().map_err(|_| shape())?,
    );
    let name = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| format!("is not a date: there is no month {month}"))?;
    let days = name.num_days(year).unwrap_or(31);
    let date = NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| format!("is not a date: {} {year} has {days} days", name.name()))?;
    Ok((date, rest))
}

/// "HH:MM" or "HH:MM:SS".
fn parse_time(s: &str) -> Result<NaiveTime, String> {
    let shape = || {
        "is not a time: write a local time as YYYY-MM-DD HH:MM, or RFC 3339 with seconds and an offset (2026-11-26T14:30:00-05:00)".to_string()
    };
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || !parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(shape());
    }
    let number = |i: usize| -> u32 { parts.get(i).and_then(|p| p.parse().ok()).unwrap_or(0) };
    NaiveTime::from_hms_opt(number(0), number(1), number(2))
        .ok_or_else(|| format!("is not a time: {s} is not a time of day (00:00 to 23:59)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::tests::{new_york, ny};

    fn now() -> DateTime<Utc> {
        ny("2026-11-18 10:00")
    }

    fn when(s: &str, bound: Bound, relative: Relative) -> Result<DateTime<Utc>, String> {
        parse_when(s, bound, relative, now(), &new_york()).map_err(|e| e.to_string())
    }

    fn since(s: &str) -> Result<DateTime<Utc>, String> {
        when(s, Bound::Start, Relative::Past)
    }

    fn due(s: &str) -> Result<DateTime<Utc>, String> {
        when(s, Bound::End, Relative::Future)
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_bare_date_is_a_local_date() {
        assert_eq!(since("2026-11-26"), Ok(utc("2026-11-26T05:00:00Z")));
        assert_eq!(due("2026-11-26"), Ok(utc("2026-11-27T04:59:59.999999Z")));
        // In summer the day starts at 04:00 UTC.
        assert_eq!(since("2026-07-15"), Ok(utc("2026-07-15T04:00:00Z")));
    }

    #[test]
    fn a_local_time_is_wall_time_and_rfc_3339_keeps_its_offset() {
        assert_eq!(since("2026-11-26 14:30"), Ok(ny("2026-11-26 14:30")));
        assert_eq!(due("2026-11-26T14:30"), Ok(ny("2026-11-26 14:30")));
        assert_eq!(
            since("2026-07-15 09:00:30"),
            Ok(utc("2026-07-15T13:00:30Z"))
        );
        assert_eq!(
            since("2026-11-26T14:30:00+01:00"),
            Ok(utc("2026-11-26T13:30:00Z"))
        );
        assert_eq!(due("2026-11-26T14:30:00Z"), Ok(utc("2026-11-26T14:30:00Z")));
    }

    #[test]
    fn durations_count_back_or_forward_from_now() {
        assert_eq!(since("2d"), Ok(now() - chrono::TimeDelta::days(2)));
        assert_eq!(due("2d"), Ok(now() + chrono::TimeDelta::days(2)));
        assert_eq!(since("90m"), Ok(now() - chrono::TimeDelta::minutes(90)));
        assert_eq!(due("1h30m"), Ok(now() + chrono::TimeDelta::minutes(90)));
        assert_eq!(since("now"), Ok(now()));
        assert_eq!(due(" NOW "), Ok(now()));
    }

    fn refused(s: &str) -> String {
        since(s).err().unwrap_or_default()
    }

    #[test]
    fn nonsense_is_refused_with_a_sentence() {
        for (input, says) in [
            (
                "2026-02-30",
                "\"2026-02-30\" is not a date: February 2026 has 28 days",
            ),
            ("2028-02-30", "February 2028 has 29 days"),
            ("2026-13-01", "there is no month 13"),
            ("2026-00-10", "there is no month 0"),
            ("12026-01-01", "the year must be between 1900 and 2999"),
            ("0000-01-01", "the year must be between 1900 and 2999"),
            ("2026-1-5", "write it as YYYY-MM-DD"),
            ("2026-11-26x", "write it as YYYY-MM-DD"),
            ("2026-11-26 25:00", "25:00 is not a time of day"),
            ("2026-11-26 14:60", "14:60 is not a time of day"),
            ("2026-11-26 2pm", "write a local time as YYYY-MM-DD HH:MM"),
            ("2026-11-26T14:30Z", "RFC 3339 with seconds"),
            ("tomorrow", "is not a time: write a date"),
            ("", "is not a time"),
            ("-2d", "is not a time"),
            ("15x", "is not a time"),
            ("2026", "is not a time"),
            ("9999999999w", "is too far from now"),
            ("10000w", "is too far from now"),
        ] {
            let msg = refused(input);
            assert!(msg.contains(says), "{input:?}: {msg}");
        }
    }

    #[test]
    fn a_local_time_skipped_or_repeated_by_daylight_saving_says_so() {
        let skipped = refused("2027-03-14 02:30");
        assert!(
            skipped.contains("does not exist in America/New_York")
                && skipped.contains("2027-03-14 03:30 EDT"),
            "{skipped}"
        );
        let twice = refused("2026-11-01 01:30");
        assert!(
            twice.contains("happens twice")
                && twice.contains("2026-11-01T01:30:00-04:00 (EDT)")
                && twice.contains("2026-11-01T01:30:00-05:00 (EST)"),
            "{twice}"
        );
        // The dates themselves are fine, and 24 or 25 hours long as they are.
        assert_eq!(since("2027-03-14"), Ok(utc("2027-03-14T05:00:00Z")));
        assert_eq!(due("2027-03-14"), Ok(utc("2027-03-15T03:59:59.999999Z")));
    }
}
