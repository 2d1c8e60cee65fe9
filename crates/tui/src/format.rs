//! Figures as people read them: countdowns, times, numbers, sparklines.

use std::cell::Cell;

use chrono::{DateTime, TimeDelta, Utc};
use vivid_core::calendar::Tz;

thread_local! {
    /// The zone times are drawn in, for the frame being drawn.
    static ZONE: Cell<Tz> = const { Cell::new(Tz::UTC) };
}

/// Draw with every time in `zone` (the organisation's): the view sets it
/// for one frame, so the many places that print a time need no argument.
pub fn in_zone<R>(zone: Tz, draw: impl FnOnce() -> R) -> R {
    let before = ZONE.with(|z| z.replace(zone));
    let out = draw();
    ZONE.with(|z| z.set(before));
    out
}

fn local(t: DateTime<Utc>) -> DateTime<Tz> {
    t.with_timezone(&ZONE.with(Cell::get))
}

/// "06:12:35", local.
pub fn time_of_day(t: DateTime<Utc>) -> String {
    local(t).format("%H:%M:%S").to_string()
}

/// "EST", "EDT", "UTC": the zone's name at that instant.
pub fn zone_abbreviation(t: DateTime<Utc>) -> String {
    local(t).format("%Z").to_string()
}

/// "in 2h 13m", "in 4m 05s", "overdue 1d 2h".
pub fn countdown(left: TimeDelta) -> String {
    let overdue = left < TimeDelta::zero();
    let secs = left.num_seconds().unsigned_abs();
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let span = if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m {s:02}s")
    };
    if overdue {
        format!("overdue {span}")
    } else {
        format!("in {span}")
    }
}

/// A countdown for a narrow column that ticks each second: "04:05",
/// "1:04:05", "2d 04h"; negative once past ("-12:04").
pub fn clock(left: TimeDelta) -> String {
    let sign = if left < TimeDelta::zero() { "-" } else { "" };
    let secs = left.num_seconds().unsigned_abs();
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{sign}{d}d {h:02}h")
    } else if h > 0 {
        format!("{sign}{h}:{m:02}:{s:02}")
    } else {
        format!("{sign}{m:02}:{s:02}")
    }
}

/// How long ago, coarsely: "45s", "12m", "3h 05m", "2d 4h".
pub fn age(elapsed: TimeDelta) -> String {
    let secs = elapsed.num_seconds().max(0);
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{secs}s")
    }
}

/// A count with thousands separated: "12,480".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An effect: relative ones as percentages, absolute ones as numbers.
pub fn effect(x: f64, relative: bool) -> String {
    if relative {
        format!("{:+.1}%", x * 100.0)
    } else {
        format!("{x:+.4}")
    }
}

/// "06:12:35", with the date when it is not today (local).
pub fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let (t, now) = (local(t), local(now));
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// "2026-11-26 01:00:00 EST": local, with the zone named.
pub fn timestamp(t: DateTime<Utc>) -> String {
    local(t).format("%Y-%m-%d %H:%M:%S %Z").to_string()
}

/// A metric value in its unit.
pub fn number(v: f64, unit: &str) -> String {
    match unit {
        "USD" => format!("${v:.0}"),
        "ratio" => format!("{v:.3}"),
        _ => format!("{v:.0}"),
    }
}

/// A series as eight-level bars, oldest first.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    values
        .iter()
        .map(|v| {
            let t = if max > min {
                (v - min) / (max - min)
            } else {
                0.5
            };
            let i = (t * 7.0).round().clamp(0.0, 7.0) as usize;
            BARS.get(i).copied().unwrap_or(' ')
        })
        .collect()
}

/// The last `width` readings of a series (what fits).
pub fn tail(values: &[f64], width: usize) -> &[f64] {
    &values[values.len().saturating_sub(width)..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_drawn_in_the_zone_of_the_frame() {
        let t = DateTime::parse_from_rfc3339("2026-11-26T03:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(timestamp(t), "2026-11-26 03:30:00 UTC");
        let ny = vivid_core::calendar::Tz::America__New_York;
        in_zone(ny, || {
            assert_eq!(timestamp(t), "2026-11-25 22:30:00 EST");
            // The 25th in New York: not "today" for a reader on the 26th there.
            let later = t + TimeDelta::hours(6);
            assert_eq!(when(t, later), "11-25 22:30");
            assert_eq!(when(later, later), "04:30:00");
            assert_eq!(zone_abbreviation(t), "EST");
        });
        // Summer time is named as such.
        let july = t + TimeDelta::days(230);
        assert_eq!(in_zone(ny, || zone_abbreviation(july)), "EDT");
        assert_eq!(
            timestamp(t),
            "2026-11-26 03:30:00 UTC",
            "the zone is restored"
        );
    }

    #[test]
    fn countdowns_read_naturally() {
        assert_eq!(countdown(TimeDelta::seconds(4 * 60 + 5)), "in 4m 05s");
        assert_eq!(
            countdown(TimeDelta::seconds(2 * 3600 + 13 * 60 + 59)),
            "in 2h 13m"
        );
        assert_eq!(countdown(TimeDelta::seconds(-(26 * 3600))), "overdue 1d 2h");
        assert_eq!(countdown(TimeDelta::zero()), "in 0m 00s");
    }

    #[test]
    fn clocks_tick_and_go_negative() {
        assert_eq!(clock(TimeDelta::seconds(4 * 60 + 5)), "04:05");
        assert_eq!(clock(TimeDelta::seconds(3600 + 4 * 60 + 5)), "1:04:05");
        assert_eq!(clock(TimeDelta::seconds(-(12 * 60 + 4))), "-12:04");
        assert_eq!(clock(TimeDelta::seconds(-(50 * 3600))), "-2d 02h");
        assert_eq!(clock(TimeDelta::zero()), "00:00");
    }

    #[test]
    fn ages_and_counts_read_naturally() {
        assert_eq!(age(TimeDelta::seconds(45)), "45s");
        assert_eq!(age(TimeDelta::seconds(12 * 60 + 3)), "12m");
        assert_eq!(age(TimeDelta::seconds(3 * 3600 + 5 * 60)), "3h 05m");
        assert_eq!(age(TimeDelta::seconds(-5)), "0s");
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(12_480), "12,480");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(effect(0.0421, true), "+4.2%");
        assert_eq!(effect(-0.01, false), "-0.0100");
    }

    #[test]
    fn sparklines_span_the_range() {
        assert_eq!(sparkline(&[0.0, 7.0]), "▁█");
        assert_eq!(sparkline(&[3.0, 3.0]), "▅▅");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(tail(&[1.0, 2.0, 3.0], 2), &[2.0, 3.0]);
    }
}
