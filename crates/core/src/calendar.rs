//! Business hours in the organisation's time zone.

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::config::BusinessHours;

/// Parsed business hours.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: Tz,
    start: NaiveTime,
    end: NaiveTime,
    days: Vec<Weekday>,
}

impl Calendar {
    /// From validated config (invalid parts fall back to 09:00-17:00 Mon-Fri UTC).
    pub fn new(timezone: &str, hours: &BusinessHours) -> Self {
        let days: Vec<Weekday> = hours.days.iter().filter_map(|d| d.parse().ok()).collect();
        Self {
            tz: timezone.parse().unwrap_or(Tz::UTC),
            start: NaiveTime::parse_from_str(&hours.start, "%H:%M").unwrap_or(NaiveTime::MIN),
            end: NaiveTime::parse_from_str(&hours.end, "%H:%M").unwrap_or(NaiveTime::MIN),
            days: if days.is_empty() {
                vec![
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ]
            } else {
                days
            },
        }
    }

    fn is_business_day(&self, day: Weekday) -> bool {
        self.days.contains(&day)
    }

    /// The close of business on the first business day after the local date of `at`.
    pub fn next_business_day_close(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let mut date = at.with_timezone(&self.tz).date_naive();
        for _ in 0..14 {
            date += TimeDelta::days(1);
            if self.is_business_day(date.weekday()) {
                let local = date.and_time(self.end);
                if let Some(t) = self.tz.from_local_datetime(&local).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
        }
        at + TimeDelta::days(1)
    }

    /// Is `at` inside business hours?
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        self.is_business_day(local.weekday())
            && local.time() >= self.start
            && local.time() < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calendar {
        Calendar::new(
            "America/New_York",
            &BusinessHours {
                start: "09:00".into(),
                end: "17:00".into(),
                days: ["Mon", "Tue", "Wed", "Thu", "Fri"]
                    .iter()
                    .map(|d| d.to_string())
                    .collect(),
            },
        )
    }

    #[test]
    fn friday_rolls_to_monday_close() {
        // Friday 2026-11-27 15:00 New York = 20:00 UTC.
        let fri = DateTime::parse_from_rfc3339("2026-11-27T20:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        let due = cal().next_business_day_close(fri);
        assert_eq!(
            due.to_rfc3339(),
            "2026-11-30T22:00:00+00:00",
            "Monday 17:00 EST"
        );
        assert!(cal().is_open(fri));
        assert!(!cal().is_open(due));
    }
}
