//! Holidays: when they fall and the weekday they are observed on. Pure.
//!
//! A holiday is written one of three ways in `[org] holidays`: an annual
//! date ("12-25"), a one-off date ("2026-12-24"), or a rule ("fourth
//! thursday of november", "last monday of may").

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Month, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// One entry of `[org] holidays` as written in config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayConfig {
    pub name: String,
    /// "MM-DD" every year, "YYYY-MM-DD" once, or a rule such as
    /// "third monday of january" or "last monday of may".
    pub on: String,
    /// What happens when it falls on a weekend.
    #[serde(default)]
    pub observed: Observed,
}

/// Which weekday a weekend holiday is observed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observed {
    /// US federal practice: a Saturday holiday is observed the Friday
    /// before, a Sunday one the Monday after.
    #[default]
    NearestWeekday,
    /// Only the day itself.
    None,
}

/// The nth weekday of a month a rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occurrence {
    /// First to fourth: every month has at least four of each weekday.
    Nth(u8),
    Last,
}

/// When a holiday falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolidayRule {
    /// Every year on this month (1-12) and day.
    Annual { month: u32, day: u32 },
    /// One year only.
    Once(NaiveDate),
    /// "fourth thursday of november".
    Weekday {
        occurrence: Occurrence,
        weekday: Weekday,
        month: u32,
    },
}

impl HolidayRule {
    /// The day it falls on in `year`, if it falls in that year.
    pub fn date_in(self, year: i32) -> Option<NaiveDate> {
        match self {
            HolidayRule::Annual { month, day } => NaiveDate::from_ymd_opt(year, month, day),
            HolidayRule::Once(date) => (date.year() == year).then_some(date),
            HolidayRule::Weekday {
                occurrence,
                weekday,
                month,
            } => {
                let first = NaiveDate::from_ymd_opt(year, month, 1)?;
                match occurrence {
                    Occurrence::Nth(n) => {
                        let to_weekday = days_forward(first.weekday(), weekday);
                        let day = 1 + to_weekday + 7 * (u32::from(n).checked_sub(1)?);
                        NaiveDate::from_ymd_opt(year, month, day)
                    }
                    Occurrence::Last => {
                        let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
                        let back = days_forward(weekday, last.weekday());
                        last.checked_sub_days(chrono::Days::new(u64::from(back)))
                    }
                }
            }
        }
    }
}

/// Days from `from` forward to the next `to` (0 when they are the same).
fn days_forward(from: Weekday, to: Weekday) -> u32 {
    (to.num_days_from_monday() + 7 - from.num_days_from_monday()) % 7
}

const ORDINALS: [(&str, Occurrence); 9] = [
    ("first", Occurrence::Nth(1)),
    ("1st", Occurrence::Nth(1)),
    ("second", Occurrence::Nth(2)),
    ("2nd", Occurrence::Nth(2)),
    ("third", Occurrence::Nth(3)),
    ("3rd", Occurrence::Nth(3)),
    ("fourth", Occurrence::Nth(4)),
    ("4th", Occurrence::Nth(4)),
    ("last", Occurrence::Last),
];

const HOW_TO_WRITE: &str = "write \"MM-DD\" (every year), \"YYYY-MM-DD\" (once) or a rule like \"fourth thursday of november\"";

impl FromStr for HolidayRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let s = text.trim();
        let first = s.chars().next();
        if first.is_some_and(|c| c.is_ascii_digit()) {
            return parse_fixed(s);
        }
        let words: Vec<String> = s.split_whitespace().map(str::to_lowercase).collect();
        let [nth, weekday, of, month] = words.as_slice() else {
            return Err(format!("{text:?} is not a holiday date: {HOW_TO_WRITE}"));
        };
        if of != "of" {
            return Err(format!(
                "{text:?} is not a holiday rule: write it like \"third monday of january\""
            ));
        }
        let occurrence = match ORDINALS.iter().find(|(w, _)| *w == nth.as_str()) {
            Some((_, o)) => *o,
            None if nth == "fifth" || nth == "5th" => {
                return Err(format!(
                    "{text:?}: not every month has a fifth {weekday}; use \"last\""
                ));
            }
            None => {
                return Err(format!(
                    "{text:?}: {nth:?} is not first, second, third, fourth or last"
                ));
            }
        };
        let weekday: Weekday = weekday
            .parse()
            .map_err(|_| format!("{text:?}: {weekday:?} is not a weekday"))?;
        let month: Month = month
            .parse()
            .map_err(|_| format!("{text:?}: {month:?} is not a month"))?;
        Ok(HolidayRule::Weekday {
            occurrence,
            weekday,
            month: month.number_from_month(),
        })
    }
}

/// "12-25" or "2026-12-24".
fn parse_fixed(s: &str) -> Result<HolidayRule, String> {
    let parts: Vec<&str> = s.split('-').collect();
    let number = |p: &str| -> Result<u32, String> {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) || p.len() > 4 {
            return Err(format!("{s:?} is not a holiday date: {HOW_TO_WRITE}"));
        }
        p.parse()
            .map_err(|_| format!("{s:?} is not a holiday date: {HOW_TO_WRITE}"))
    };
    match parts.as_slice() {
        [m, d] if m.len() == 2 && d.len() == 2 => {
            let (month, day) = (number(m)?, number(d)?);
            if (month, day) == (2, 29) {
                return Err(format!(
                    "{s:?}: 29 February does not come every year; give the year (\"2028-02-29\")"
                ));
            }
            // Any non-leap year checks the day exists in that month.
            if NaiveDate::from_ymd_opt(2027, month, day).is_none() {
                return Err(format!("{s:?} is not a day of the year"));
            }
            Ok(HolidayRule::Annual { month, day })
        }
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            let year = i32::try_from(number(y)?).map_err(|_| format!("{s:?}: bad year"))?;
            NaiveDate::from_ymd_opt(year, number(m)?, number(d)?)
                .map(HolidayRule::Once)
                .ok_or_else(|| format!("{s:?} is not a date"))
        }
        _ => Err(format!("{s:?} is not a holiday date: {HOW_TO_WRITE}")),
    }
}

impl fmt::Display for HolidayRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HolidayRule::Annual { month, day } => write!(f, "{month:02}-{day:02}"),
            HolidayRule::Once(date) => write!(f, "{date}"),
            HolidayRule::Weekday {
                occurrence,
                weekday,
                month,
            } => {
                let nth = ORDINALS
                    .iter()
                    .find(|(w, o)| o == occurrence && !w.starts_with(|c: char| c.is_ascii_digit()))
                    .map(|(w, _)| *w)
                    .unwrap_or("?");
                let month = u8::try_from(*month)
                    .ok()
                    .and_then(|m| Month::try_from(m).ok())
                    .map(|m| m.name().to_lowercase())
                    .unwrap_or_default();
                let weekday = match weekday {
                    Weekday::Mon => "monday",
                    Weekday::Tue => "tuesday",
                    Weekday::Wed => "wednesday",
                    Weekday::Thu => "thursday",
                    Weekday::Fri => "friday",
                    Weekday::Sat => "saturday",
                    Weekday::Sun => "sunday",
                };
                write!(f, "{nth} {weekday} of {month}")
            }
        }
    }
}

/// A validated holiday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub name: String,
    pub rule: HolidayRule,
    pub observed: Observed,
}

impl Holiday {
    /// Check one config entry; errors are (key, reason) under `key`.
    pub fn from_config(key: &str, c: &HolidayConfig) -> Result<Self, (String, String)> {
        if c.name.trim().is_empty() {
            return Err((format!("{key}.name"), "a holiday needs a name".into()));
        }
        let rule = c.on.parse().map_err(|e| (format!("{key}.on"), e))?;
        Ok(Self {
            name: c.name.trim().to_string(),
            rule,
            observed: c.observed,
        })
    }

    /// The weekday an occurrence on `actual` is observed on.
    pub fn observed_on(&self, actual: NaiveDate) -> NaiveDate {
        match (self.observed, actual.weekday()) {
            (Observed::NearestWeekday, Weekday::Sat) => actual.pred_opt().unwrap_or(actual),
            (Observed::NearestWeekday, Weekday::Sun) => actual.succ_opt().unwrap_or(actual),
            _ => actual,
        }
    }

    /// Is `date` this holiday, or the weekday it is observed on? The
    /// observed day may be in another year (1 January on a Saturday is
    /// observed on 31 December).
    pub fn falls_on(&self, date: NaiveDate) -> bool {
        let year = date.year();
        (year.saturating_sub(1)..=year.saturating_add(1))
            .filter_map(|y| self.rule.date_in(y))
            .any(|actual| actual == date || self.observed_on(actual) == date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn rule(s: &str) -> HolidayRule {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn holiday(on: &str, observed: Observed) -> Holiday {
        Holiday {
            name: on.into(),
            rule: rule(on),
            observed,
        }
    }

    #[test]
    fn weekday_rules_find_the_us_federal_dates() {
        assert_eq!(
            rule("fourth thursday of november").date_in(2026),
            Some(date(2026, 11, 26))
        );
        assert_eq!(
            rule("third monday of january").date_in(2027),
            Some(date(2027, 1, 18))
        );
        assert_eq!(
            rule("last monday of may").date_in(2026),
            Some(date(2026, 5, 25))
        );
        assert_eq!(
            rule("first monday of september").date_in(2026),
            Some(date(2026, 9, 7))
        );
        assert_eq!(
            rule("Second Monday of Oct").date_in(2026),
            Some(date(2026, 10, 12))
        );
        // The last day of the month is itself the weekday.
        assert_eq!(
            rule("last friday of july").date_in(2026),
            Some(date(2026, 7, 31))
        );
        assert_eq!(rule("12-25").date_in(2026), Some(date(2026, 12, 25)));
        assert_eq!(rule("2026-12-24").date_in(2026), Some(date(2026, 12, 24)));
        assert_eq!(rule("2026-12-24").date_in(2027), None);
    }

    #[test]
    fn malformed_rules_are_refused_with_a_reason() {
        for (bad, says) in [
            ("fifth monday of may", "use \"last\""),
            ("third moonday of january", "not a weekday"),
            ("third monday of smarch", "not a month"),
            ("third monday in january", "third monday of january"),
            ("02-30", "not a day of the year"),
            ("02-29", "does not come every year"),
            ("13-01", "not a day of the year"),
            ("2026-02-30", "not a date"),
            ("12/25", "MM-DD"),
            ("christmas", "MM-DD"),
            ("", "MM-DD"),
        ] {
            let err = bad.parse::<HolidayRule>().err().unwrap_or_default();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn rules_display_as_written() {
        for s in ["12-25", "2026-12-24", "fourth thursday of november"] {
            assert_eq!(rule(s).to_string(), s);
        }
    }

    #[test]
    fn weekend_holidays_are_observed_on_the_nearest_weekday() {
        let christmas = holiday("12-25", Observed::NearestWeekday);
        // 2026: a Friday, the day itself.
        assert!(christmas.falls_on(date(2026, 12, 25)));
        assert!(!christmas.falls_on(date(2026, 12, 24)));
        // 2027: a Saturday, observed Friday the 24th.
        assert!(christmas.falls_on(date(2027, 12, 24)));
        assert!(christmas.falls_on(date(2027, 12, 25)));
        // 2022: a Sunday, observed Monday the 26th.
        assert!(christmas.falls_on(date(2022, 12, 26)));
        let new_year = holiday("01-01", Observed::NearestWeekday);
        // 2028 begins on a Saturday: observed Friday 31 December 2027.
        assert!(new_year.falls_on(date(2027, 12, 31)));
        // 2023 began on a Sunday: observed Monday 2 January.
        assert!(new_year.falls_on(date(2023, 1, 2)));
        assert!(!new_year.falls_on(date(2026, 12, 31)));
        let unshifted = holiday("12-25", Observed::None);
        assert!(!unshifted.falls_on(date(2027, 12, 24)));
        assert!(unshifted.falls_on(date(2027, 12, 25)));
    }
}
