//! The business calendar: the organisation's time zone, business hours (the
//! org's, or a department's own), holidays with their observed days, and the
//! arithmetic every deadline a person or a law defines is computed with.
//! Pure: no I/O, no clock.
//!
//! Local wall times that a DST change skips are read as the same distance
//! past the jump (02:30 on a spring-forward night is 03:30); local times
//! that happen twice are read as the earlier.

mod holiday;
mod sla;

pub use holiday::{Holiday, HolidayConfig, HolidayRule, Observed, Occurrence};
pub use sla::{CalendarKind, ClockError, Pause, SlaClock};

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{
    DateTime, Datelike, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeDelta, TimeZone, Utc, Weekday,
};
pub use chrono_tz::Tz;

use crate::config::{BusinessHours, OrgConfig};

/// How far the day-by-day walks look before giving up: 200 years. Only an
/// absurd duration or a calendar without a single business day gets there.
const MAX_DAYS: u32 = 200 * 366;

/// When a calendar is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hours {
    /// Between two local times on some weekdays, closed on holidays.
    Business {
        open: NaiveTime,
        close: NaiveTime,
        /// Indexed by `Weekday::num_days_from_monday`.
        days: [bool; 7],
    },
    /// Always, holidays included (SLAs that run around the clock).
    AroundTheClock,
}

const MON_TO_FRI: [bool; 7] = [true, true, true, true, true, false, false];

impl Hours {
    /// Lenient: a malformed part falls back to 09:00-17:00, Monday to Friday.
    fn lenient(hours: &BusinessHours) -> Self {
        let time = |s: &str, fallback| NaiveTime::parse_from_str(s, "%H:%M").unwrap_or(fallback);
        let mut days = [false; 7];
        for d in hours.days.iter().filter_map(|d| d.parse::<Weekday>().ok()) {
            set_day(&mut days, d);
        }
        Hours::Business {
            open: time(&hours.start, nine()),
            close: time(&hours.end, five()),
            days: if days.contains(&true) {
                days
            } else {
                MON_TO_FRI
            },
        }
    }

    /// Strict: errors are (key, reason) under `key`.
    fn from_config(key: &str, hours: &BusinessHours) -> Result<Self, (String, String)> {
        let time = |field: &str, s: &str| {
            NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| {
                (
                    format!("{key}.{field}"),
                    format!("{s:?} is not a time like \"09:00\""),
                )
            })
        };
        let open = time("start", &hours.start)?;
        let close = time("end", &hours.end)?;
        if close <= open {
            return Err((
                format!("{key}.end"),
                format!(
                    "{:?} must be after the start, {:?} (hours that run past midnight are not supported)",
                    hours.end, hours.start
                ),
            ));
        }
        if hours.days.is_empty() {
            return Err((
                format!("{key}.days"),
                "business hours need at least one weekday".into(),
            ));
        }
        let mut days = [false; 7];
        for (i, d) in hours.days.iter().enumerate() {
            let day = d.parse::<Weekday>().map_err(|_| {
                (
                    format!("{key}.days[{i}]"),
                    format!("{d:?} is not a weekday"),
                )
            })?;
            set_day(&mut days, day);
        }
        Ok(Hours::Business { open, close, days })
    }
}

fn set_day(days: &mut [bool; 7], day: Weekday) {
    if let Some(slot) = days.get_mut(day.num_days_from_monday() as usize) {
        *slot = true;
    }
}

fn nine() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN)
}

fn five() -> NaiveTime {
    NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// What every calendar of the organisation shares.
#[derive(Debug)]
struct Shared {
    org_hours: Hours,
    departments: BTreeMap<String, Hours>,
    holidays: Vec<Holiday>,
}

/// The organisation's calendar, seen through one set of hours: the org's,
/// a department's, or around the clock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: Tz,
    hours: Hours,
    shared: Arc<Shared>,
}

impl Calendar {
    /// Hours in a time zone, without holidays (invalid parts fall back to
    /// 09:00-17:00 Monday-Friday UTC). The org's calendar is
    /// [`Calendar::from_config`].
    pub fn new(timezone: &str, hours: &BusinessHours) -> Self {
        let hours = Hours::lenient(hours);
        Self {
            tz: timezone.parse().unwrap_or(Tz::UTC),
            hours,
            shared: Arc::new(Shared {
                org_hours: hours,
                departments: BTreeMap::new(),
                holidays: Vec::new(),
            }),
        }
    }

    /// The organisation's calendar from `[org]`: time zone, business hours,
    /// departments' own hours and holidays. Errors are (key, reason).
    pub fn from_config(org: &OrgConfig) -> Result<Self, (String, String)> {
        let tz: Tz = org.timezone.parse().map_err(|_| {
            (
                "org.timezone".to_string(),
                format!(
                    "unknown time zone {:?} (use an IANA name like \"America/New_York\")",
                    org.timezone
                ),
            )
        })?;
        let org_hours = Hours::from_config("org.business_hours", &org.business_hours)?;
        let mut departments = BTreeMap::new();
        for (i, d) in org.departments.iter().enumerate() {
            if let Some(h) = &d.business_hours {
                let key = format!("org.departments[{i}].business_hours");
                departments.insert(d.key.clone(), Hours::from_config(&key, h)?);
            }
        }
        let holidays = org
            .holidays
            .iter()
            .enumerate()
            .map(|(i, h)| Holiday::from_config(&format!("org.holidays[{i}]"), h))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            tz,
            hours: org_hours,
            shared: Arc::new(Shared {
                org_hours,
                departments,
                holidays,
            }),
        })
    }

    /// The same calendar, open around the clock (holidays included).
    pub fn around_the_clock(&self) -> Self {
        Self {
            hours: Hours::AroundTheClock,
            ..self.clone()
        }
    }

    /// The same calendar with a department's hours: its own when it has
    /// them, else the organisation's.
    pub fn for_department(&self, department: &str) -> Self {
        Self {
            hours: self
                .shared
                .departments
                .get(department)
                .copied()
                .unwrap_or(self.shared.org_hours),
            ..self.clone()
        }
    }

    /// The same calendar with the hours an SLA clock runs on.
    pub fn for_kind(&self, kind: &CalendarKind) -> Self {
        match kind {
            CalendarKind::AroundTheClock => self.around_the_clock(),
            CalendarKind::BusinessHours {
                department: Some(d),
            } => self.for_department(d),
            CalendarKind::BusinessHours { department: None } => Self {
                hours: self.shared.org_hours,
                ..self.clone()
            },
        }
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    pub fn is_around_the_clock(&self) -> bool {
        self.hours == Hours::AroundTheClock
    }

    /// The holidays, as configured.
    pub fn holidays(&self) -> &[Holiday] {
        &self.shared.holidays
    }

    /// The holiday `date` is (or is observed on), if any.
    pub fn holiday(&self, date: NaiveDate) -> Option<&Holiday> {
        self.shared.holidays.iter().find(|h| h.falls_on(date))
    }

    /// Is `date` a holiday, or the weekday a weekend holiday is observed on?
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holiday(date).is_some()
    }

    /// A working weekday that is not a holiday (every day around the clock).
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        match self.hours {
            Hours::AroundTheClock => true,
            Hours::Business { days, .. } => {
                days.get(date.weekday().num_days_from_monday() as usize)
                    .copied()
                    .unwrap_or(false)
                    && !self.is_holiday(date)
            }
        }
    }

    /// The first business day after `date`; `None` only for a calendar
    /// without one in the next 200 years.
    pub fn next_business_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        let mut day = date;
        for _ in 0..MAX_DAYS {
            day = day.succ_opt()?;
            if self.is_business_day(day) {
                return Some(day);
            }
        }
        None
    }

    /// Is `at` inside business hours?
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.window(self.local_date(at))
            .is_some_and(|(open, close)| open <= at && at < close)
    }

    /// The close of business on the first business day after the local
    /// date of `at` (the end of the next day around the clock).
    pub fn next_business_day_close(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.next_business_day(self.local_date(at))
            .and_then(|day| self.window(day))
            .map(|(_, close)| close)
            .unwrap_or_else(|| at.checked_add_signed(TimeDelta::days(1)).unwrap_or(at))
    }

    /// The moment `duration` of business time after `start` has passed. A
    /// start outside business hours counts from the next opening. Saturates
    /// at the end of time for absurd durations.
    pub fn add_business_duration(
        &self,
        start: DateTime<Utc>,
        duration: TimeDelta,
    ) -> DateTime<Utc> {
        if duration <= TimeDelta::zero() {
            return start;
        }
        if self.is_around_the_clock() {
            return start
                .checked_add_signed(duration)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
        }
        let mut left = duration;
        let mut at = start;
        let mut day = self.local_date(start);
        for _ in 0..MAX_DAYS {
            if let Some((open, close)) = self.window(day)
                && close > at
            {
                let from = open.max(at);
                let available = close - from;
                if left <= available {
                    return from + left;
                }
                left -= available;
                at = close;
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        DateTime::<Utc>::MAX_UTC
    }

    /// Business time between two moments (negative when `to` is earlier).
    pub fn business_duration_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to < from {
            return -self.business_duration_between(to, from);
        }
        if self.is_around_the_clock() {
            return to - from;
        }
        let mut total = TimeDelta::zero();
        let last = self.local_date(to);
        let mut day = self.local_date(from);
        for _ in 0..MAX_DAYS {
            if day > last {
                break;
            }
            if let Some((open, close)) = self.window(day) {
                let (a, b) = (open.max(from), close.min(to));
                if b > a {
                    total += b - a;
                }
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        total
    }

    /// The deadline of a period of whole calendar months, as data-protection
    /// law counts it: the local date of receipt plus `months`, clamped to the
    /// end of a short month; on a weekend or holiday, the next business day;
    /// due at the end of that local day.
    pub fn end_of_month_period(&self, received_at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
        let mut due = add_calendar_months(self.local_date(received_at), months);
        if !self.is_business_day(due) {
            due = self.next_business_day(due).unwrap_or(due);
        }
        self.end_of_day(due)
    }

    /// The date on the organisation's wall calendar at `at`.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// The first instant of a local day.
    pub fn start_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        self.at_local(date.and_time(NaiveTime::MIN))
    }

    /// The last instant (to the microsecond) of a local day; 23 or 25 hours
    /// after its start on the days the clocks change.
    pub fn end_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        match date.succ_opt() {
            Some(next) => self.start_of_day(next) - TimeDelta::microseconds(1),
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// The instant a local wall time names (see the module comment for the
    /// hours a DST change skips or repeats).
    pub fn at_local(&self, local: NaiveDateTime) -> DateTime<Utc> {
        at_local(self.tz, local)
    }

    /// "2026-12-28 23:59 EST": local time with its zone, for people.
    pub fn format_local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    /// "2026-12-28 23:59:07 EST": to the second, for logs people read.
    pub fn format_local_seconds(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }

    /// "2026-12-28T23:59:59-05:00": local date and time with its offset,
    /// for machine-readable output beside the UTC instant.
    pub fn local_rfc3339(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }

    /// Business hours on `date` as instants, if it is a business day.
    fn window(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match self.hours {
            Hours::AroundTheClock => {
                Some((self.start_of_day(date), self.start_of_day(date.succ_opt()?)))
            }
            Hours::Business { open, close, .. } => {
                if !self.is_business_day(date) {
                    return None;
                }
                let (open, close) = (
                    self.at_local(date.and_time(open)),
                    self.at_local(date.and_time(close)),
                );
                (close > open).then_some((open, close))
            }
        }
    }
}

/// The instant a wall time in `tz` names: a time a DST jump skips is read
/// with the offset in force before the jump (02:30 -> 03:30 on a
/// spring-forward night); a time that happens twice is the earlier.
pub fn at_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            let before = local
                .checked_sub_signed(TimeDelta::days(1))
                .unwrap_or(local);
            let offset = tz.offset_from_utc_datetime(&before).fix();
            let utc = local
                .checked_sub_signed(TimeDelta::seconds(i64::from(offset.local_minus_utc())))
                .unwrap_or(local);
            Utc.from_utc_datetime(&utc)
        }
    }
}

/// `date` plus whole calendar months: the same day of the month, or the
/// month's last day when it is shorter (31 January + 1 = 28 February, or 29
/// in a leap year). Saturates at the last representable date.
pub fn add_calendar_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{Config, EMBEDDED_DEFAULT};

    /// The shipped calendar: New York, 09:00-17:00 Monday-Friday, US federal holidays.
    pub(crate) fn new_york() -> Calendar {
        let config = Config::from_toml_str("default", EMBEDDED_DEFAULT)
            .unwrap_or_else(|e| panic!("default config: {e}"));
        Calendar::from_config(&config.org).unwrap_or_else(|(k, r)| panic!("{k}: {r}"))
    }

    /// A New York wall time.
    pub(crate) fn ny(s: &str) -> DateTime<Utc> {
        let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap_or_else(|e| panic!("{s}: {e}"));
        chrono_tz::America::New_York
            .from_local_datetime(&local)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| panic!("{s} is not a single New York time"))
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn hour() -> TimeDelta {
        TimeDelta::minutes(60)
    }

    #[test]
    fn friday_rolls_to_monday_close() {
        // Friday 2026-11-27 15:00 New York = 20:00 UTC.
        let cal = new_york();
        let fri = utc("2026-11-27T20:00:00Z");
        let due = cal.next_business_day_close(fri);
        assert_eq!(due, utc("2026-11-30T22:00:00Z"), "Monday 17:00 EST");
        assert!(cal.is_open(fri));
        assert!(!cal.is_open(due));
    }

    #[test]
    fn the_next_business_day_close_skips_holidays() {
        let cal = new_york();
        // Wednesday before Thanksgiving: Thursday is a holiday, so Friday 17:00.
        assert_eq!(
            cal.next_business_day_close(ny("2026-11-25 10:00")),
            ny("2026-11-27 17:00")
        );
        // Without holidays (the old constructor) it stays Thursday.
        let plain = Calendar::new(
            "America/New_York",
            &BusinessHours {
                start: "09:00".into(),
                end: "17:00".into(),
                days: vec![
                    "Mon".into(),
                    "Tue".into(),
                    "Wed".into(),
                    "Thu".into(),
                    "Fri".into(),
                ],
            },
        );
        assert_eq!(
            plain.next_business_day_close(ny("2026-11-25 10:00")),
            ny("2026-11-26 17:00")
        );
    }

    #[test]
    fn a_business_hour_sla_requested_friday_afternoon_is_due_monday_morning() {
        let due = new_york().add_business_duration(ny("2026-11-20 16:30"), hour());
        assert_eq!(due, ny("2026-11-23 09:30"));
    }

    #[test]
    fn a_business_hour_sla_requested_wednesday_morning_is_due_an_hour_later() {
        let due = new_york().add_business_duration(ny("2026-11-18 10:00"), hour());
        assert_eq!(due, ny("2026-11-18 11:00"));
    }

    #[test]
    fn around_the_clock_friday_afternoon_is_due_an_hour_later() {
        let cal = new_york().around_the_clock();
        assert_eq!(
            cal.add_business_duration(ny("2026-11-20 16:30"), hour()),
            ny("2026-11-20 17:30")
        );
        // Holidays do not stop it either.
        assert_eq!(
            cal.add_business_duration(ny("2026-11-26 10:00"), hour()),
            ny("2026-11-26 11:00")
        );
        assert!(cal.is_open(ny("2026-11-26 03:00")));
    }

    #[test]
    fn an_sla_requested_on_thanksgiving_starts_friday_morning() {
        let cal = new_york();
        assert!(cal.is_holiday(date(2026, 11, 26)));
        assert!(!cal.is_open(ny("2026-11-26 10:00")));
        assert_eq!(
            cal.add_business_duration(ny("2026-11-26 10:00"), hour()),
            ny("2026-11-27 10:00")
        );
    }

    #[test]
    fn business_time_spans_nights_weekends_and_holidays() {
        let cal = new_york();
        // Friday 16:30 to Monday 09:30: 30 minutes Friday, 30 Monday.
        assert_eq!(
            cal.business_duration_between(ny("2026-11-20 16:30"), ny("2026-11-23 09:30")),
            hour()
        );
        assert_eq!(
            cal.business_duration_between(ny("2026-11-23 09:30"), ny("2026-11-20 16:30")),
            -hour()
        );
        // Wednesday 9:00 to Monday 9:00 across Thanksgiving: Wed and Fri.
        assert_eq!(
            cal.business_duration_between(ny("2026-11-25 09:00"), ny("2026-11-30 09:00")),
            TimeDelta::hours(16)
        );
        // A start before opening counts from the opening.
        assert_eq!(
            cal.add_business_duration(ny("2026-11-18 06:00"), TimeDelta::hours(9)),
            ny("2026-11-19 10:00")
        );
        // Adding exactly the rest of the day lands on the close.
        assert_eq!(
            cal.add_business_duration(ny("2026-11-18 16:00"), hour()),
            ny("2026-11-18 17:00")
        );
    }

    #[test]
    fn us_federal_holidays_of_2026_and_2027() {
        let cal = new_york();
        let holidays_2026 = [
            (date(2026, 1, 1), "New Year's Day"),
            (date(2026, 1, 19), "Birthday of Martin Luther King, Jr."),
            (date(2026, 2, 16), "Washington's Birthday"),
            (date(2026, 5, 25), "Memorial Day"),
            (date(2026, 6, 19), "Juneteenth National Independence Day"),
            // 4 July 2026 is a Saturday: observed Friday 3 July.
            (date(2026, 7, 3), "Independence Day"),
            (date(2026, 9, 7), "Labor Day"),
            (date(2026, 10, 12), "Columbus Day"),
            (date(2026, 11, 11), "Veterans Day"),
            (date(2026, 11, 26), "Thanksgiving Day"),
            (date(2026, 12, 25), "Christmas Day"),
        ];
        for (day, name) in holidays_2026 {
            assert_eq!(
                cal.holiday(day).map(|h| h.name.as_str()),
                Some(name),
                "{day}"
            );
            assert!(!cal.is_business_day(day), "{day}");
        }
        // Christmas 2026 is a Friday: only the day itself; Thursday the 24th works.
        assert!(cal.is_business_day(date(2026, 12, 24)));
        // New Year's Day 2027 is a Friday; 2028's is a Saturday, observed
        // Friday 31 December 2027; 2023's was a Sunday, observed Monday 2 January.
        assert!(cal.is_holiday(date(2027, 1, 1)));
        assert!(cal.is_business_day(date(2026, 12, 31)));
        assert!(!cal.is_business_day(date(2027, 12, 31)));
        assert!(!cal.is_business_day(date(2023, 1, 2)));
        // Christmas 2027 is a Saturday: observed Friday 24 December.
        assert!(!cal.is_business_day(date(2027, 12, 24)));
        assert_eq!(cal.holidays().len(), 11);
    }

    #[test]
    fn the_next_business_day_skips_weekends_and_holidays() {
        let cal = new_york();
        assert_eq!(
            cal.next_business_day(date(2026, 11, 25)),
            Some(date(2026, 11, 27))
        );
        assert_eq!(
            cal.next_business_day(date(2026, 12, 24)),
            Some(date(2026, 12, 28))
        );
        assert_eq!(
            cal.next_business_day(date(2027, 12, 23)),
            Some(date(2027, 12, 27))
        );
    }

    #[test]
    fn jan_31_plus_one_calendar_month_is_the_end_of_february() {
        assert_eq!(add_calendar_months(date(2027, 1, 31), 1), date(2027, 2, 28));
        assert_eq!(add_calendar_months(date(2028, 1, 31), 1), date(2028, 2, 29));
        assert_eq!(add_calendar_months(date(2026, 3, 15), 1), date(2026, 4, 15));
        assert_eq!(add_calendar_months(date(2026, 8, 31), 1), date(2026, 9, 30));
        assert_eq!(
            add_calendar_months(date(2026, 11, 30), 3),
            date(2027, 2, 28)
        );
        assert_eq!(add_calendar_months(NaiveDate::MAX, 1), NaiveDate::MAX);
    }

    #[test]
    fn a_request_received_on_thanksgiving_is_due_monday_28_december() {
        let cal = new_york();
        // 26 December 2026 is a Saturday.
        let due = cal.end_of_month_period(ny("2026-11-26 14:00"), 1);
        assert_eq!(cal.local_date(due), date(2026, 12, 28));
        assert_eq!(due, cal.end_of_day(date(2026, 12, 28)));
        assert_eq!(due, utc("2026-12-29T04:59:59.999999Z"));
        assert_eq!(cal.format_local(due), "2026-12-28 23:59 EST");
        assert_eq!(cal.local_rfc3339(due), "2026-12-28T23:59:59-05:00");
    }

    #[test]
    fn a_request_received_31_january_2027_is_due_1_march() {
        // 28 February 2027 is a Sunday.
        let cal = new_york();
        let due = cal.end_of_month_period(ny("2027-01-31 09:00"), 1);
        assert_eq!(cal.local_date(due), date(2027, 3, 1));
    }

    #[test]
    fn a_request_received_christmas_eve_is_due_monday_25_january() {
        // 24 January 2027 is a Sunday.
        let cal = new_york();
        let due = cal.end_of_month_period(ny("2026-12-24 16:00"), 1);
        assert_eq!(cal.local_date(due), date(2027, 1, 25));
    }

    #[test]
    fn a_request_counts_from_the_local_date_of_receipt() {
        let cal = new_york();
        // 31 January 23:00 New York is already 1 February in UTC.
        let due = cal.end_of_month_period(utc("2026-02-01T04:00:00Z"), 1);
        // 28 February 2026 is a Saturday: Monday 2 March.
        assert_eq!(cal.local_date(due), date(2026, 3, 2));
        // A period ending on a holiday moves past it: 18 December 2026 + 1
        // month = Monday 18 January 2027, Martin Luther King Day.
        let due = cal.end_of_month_period(ny("2026-12-18 10:00"), 1);
        assert_eq!(cal.local_date(due), date(2027, 1, 19));
    }

    #[test]
    fn days_and_deadlines_are_right_in_both_halves_of_daylight_saving() {
        let cal = new_york();
        // Summer (EDT, UTC-4) and winter (EST, UTC-5).
        assert_eq!(
            cal.start_of_day(date(2026, 7, 15)),
            utc("2026-07-15T04:00:00Z")
        );
        assert_eq!(
            cal.start_of_day(date(2026, 12, 15)),
            utc("2026-12-15T05:00:00Z")
        );
        assert_eq!(
            cal.format_local(utc("2026-07-15T13:00:00Z")),
            "2026-07-15 09:00 EDT"
        );
        // The day the clocks go back has 25 hours, the day they go forward 23.
        let fall = date(2026, 11, 1);
        assert_eq!(
            cal.end_of_day(fall) - cal.start_of_day(fall),
            TimeDelta::hours(25) - TimeDelta::microseconds(1)
        );
        let spring = date(2027, 3, 14);
        assert_eq!(
            cal.end_of_day(spring) - cal.start_of_day(spring),
            TimeDelta::hours(23) - TimeDelta::microseconds(1)
        );
        // A month received in summer ends in winter: 9 October (Friday,
        // EDT) + 1 month = Monday 9 November, end of day EST.
        let due = cal.end_of_month_period(ny("2026-10-09 12:00"), 1);
        assert_eq!(due, utc("2026-11-10T04:59:59.999999Z"));
        // Business hours stay 09:00-17:00 local across the change.
        assert_eq!(
            cal.add_business_duration(ny("2026-10-30 16:00"), TimeDelta::hours(2)),
            ny("2026-11-02 10:00")
        );
        assert_eq!(ny("2026-11-02 10:00"), utc("2026-11-02T15:00:00Z"));
        assert!(cal.is_open(utc("2026-10-30T13:00:00Z")), "09:00 EDT");
        assert!(!cal.is_open(utc("2026-11-02T13:00:00Z")), "08:00 EST");
        // A wall time the spring jump skips is read past the jump.
        let skipped = NaiveDate::from_ymd_opt(2027, 3, 14)
            .and_then(|d| d.and_hms_opt(2, 30, 0))
            .unwrap_or_default();
        assert_eq!(cal.at_local(skipped), utc("2027-03-14T07:30:00Z"));
        assert_eq!(
            cal.format_local(cal.at_local(skipped)),
            "2027-03-14 03:30 EDT"
        );
    }

    #[test]
    fn departments_may_keep_their_own_hours() {
        let text = EMBEDDED_DEFAULT.replace(
            "{ key = \"customer_experience\", name = \"Customer Experience\" }",
            "{ key = \"customer_experience\", name = \"Customer Experience\", business_hours = { start = \"08:00\", end = \"20:00\", days = [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\", \"Sat\"] } }",
        );
        let config = Config::from_toml_str("x", &text).unwrap_or_else(|e| panic!("{e}"));
        let cal = Calendar::from_config(&config.org).unwrap_or_else(|(k, r)| panic!("{k}: {r}"));
        let support = cal.for_department("customer_experience");
        assert!(support.is_open(ny("2026-11-21 08:30")), "Saturday morning");
        assert!(!cal.is_open(ny("2026-11-21 10:00")));
        assert!(!support.is_open(ny("2026-11-26 10:00")), "Thanksgiving");
        // Others, and unknown departments, keep the org's hours.
        assert!(!cal.for_department("sales").is_open(ny("2026-11-21 10:00")));
        assert!(!cal.for_department("nobody").is_open(ny("2026-11-20 08:30")));
    }

    fn refused(text: &str) -> String {
        match Config::from_toml_str("x", text) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn malformed_calendar_config_names_the_key() {
        let bad_rule =
            EMBEDDED_DEFAULT.replace("fourth thursday of november", "fourth thursday of novembre");
        let msg = refused(&bad_rule);
        assert!(msg.contains("org.holidays[9].on"), "{msg}");
        assert!(msg.contains("\"novembre\" is not a month"), "{msg}");
        let bad_date = EMBEDDED_DEFAULT.replace("on = \"12-25\"", "on = \"12-32\"");
        let msg = refused(&bad_date);
        assert!(
            msg.contains("org.holidays[10].on") && msg.contains("not a day of the year"),
            "{msg}"
        );
        let bad_observed =
            EMBEDDED_DEFAULT.replace("on = \"12-25\"", "on = \"12-25\", observed = \"sometimes\"");
        let msg = refused(&bad_observed);
        assert!(
            msg.contains("org.holidays[10].observed") && msg.contains("nearest_weekday"),
            "{msg}"
        );
        let backwards = EMBEDDED_DEFAULT.replace("end = \"17:00\"", "end = \"08:00\"");
        let msg = refused(&backwards);
        assert!(
            msg.contains("org.business_hours.end") && msg.contains("after the start"),
            "{msg}"
        );
        let dept = EMBEDDED_DEFAULT.replace(
            "{ key = \"sales\", name = \"Sales\" }",
            "{ key = \"sales\", name = \"Sales\", business_hours = { start = \"9am\", end = \"17:00\", days = [\"Mon\"] } }",
        );
        let msg = refused(&dept);
        assert!(
            msg.contains("org.departments[2].business_hours.start"),
            "{msg}"
        );
    }
}
