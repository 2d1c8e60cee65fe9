//! Human durations in config and on the command line: "30s", "15m", "2h",
//! "1d", "1w", "1h30m", "500ms". Tests shrink them to seconds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration written the way people write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(std::time::Duration);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason} (write it like \"30s\", \"15m\", \"2h\", \"1d\" or \"1h30m\")"
)]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

impl DurationError {
    /// A well-formed duration beyond what any clock may be set to.
    pub fn is_too_long(&self) -> bool {
        self.reason.starts_with("the duration is too long")
    }
}

impl HumanDuration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    pub const fn from_std(d: std::time::Duration) -> Self {
        Self(d)
    }

    pub fn std(self) -> std::time::Duration {
        self.0
    }

    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    /// As a chrono delta, for arithmetic on timestamps.
    pub fn delta(self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.0).unwrap_or(chrono::TimeDelta::MAX)
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| DurationError {
            input: input.to_string(),
            reason,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if s == "0" {
            return Ok(Self::default());
        }
        let mut total_ms: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(err("expected a number"));
            }
            let value: u128 = rest[..digits]
                .parse()
                .map_err(|_| err("the number is too large"))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let ms_per_unit: u128 = match unit {
                "ms" => 1,
                "s" | "sec" | "secs" => 1_000,
                "m" | "min" | "mins" => 60_000,
                "h" | "hr" | "hrs" => 3_600_000,
                "d" | "day" | "days" => 86_400_000,
                "w" | "wk" | "weeks" => 604_800_000,
                "" => return Err(err("a unit is missing")),
                _ => return Err(err("unknown unit")),
            };
            total_ms = value
                .checked_mul(ms_per_unit)
                .and_then(|v| total_ms.checked_add(v))
                .ok_or_else(|| err("the duration is too long"))?;
        }
        // Far beyond any clock a person sets, and far inside what a date
        // can hold: adding it to now can never overflow.
        const MAX_MS: u128 = 100 * 366 * 86_400_000;
        if total_ms > MAX_MS {
            return Err(err("the duration is too long (at most 100 years)"));
        }
        let ms = u64::try_from(total_ms).map_err(|_| err("the duration is too long"))?;
        Ok(Self(std::time::Duration::from_millis(ms)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let mut secs = self.0.as_secs();
        // No weeks: "30d" reads back as "30d", not "4w2d".
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// "3h 12m" style rendering of a signed delta for people (countdowns, ages).
pub fn format_delta(delta: chrono::TimeDelta) -> String {
    let negative = delta < chrono::TimeDelta::zero();
    let secs = delta.num_seconds().unsigned_abs();
    let text = if secs >= 86_400 {
        format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3_600)
    } else if secs >= 3_600 {
        format!("{}h {:02}m", secs / 3_600, (secs % 3_600) / 60)
    } else if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    };
    if negative { format!("-{text}") } else { text }
}

/// Time left on a clock, for people: "12m 30s", or "OVERDUE 5s" once it
/// has passed (never a negative duration).
pub fn format_left(left: chrono::TimeDelta) -> String {
    if left < chrono::TimeDelta::zero() {
        format!("OVERDUE {}", format_delta(-left))
    } else {
        format_delta(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_clock_reads_overdue() {
        use chrono::TimeDelta;
        assert_eq!(format_left(TimeDelta::seconds(-5)), "OVERDUE 5s");
        assert_eq!(format_left(TimeDelta::seconds(750)), "12m 30s");
        assert_eq!(format_left(TimeDelta::zero()), "0s");
    }

    fn d(s: &str) -> u64 {
        s.parse::<HumanDuration>()
            .map(|d| d.as_secs())
            .unwrap_or(u64::MAX)
    }

    #[test]
    fn absurd_durations_are_refused_not_overflowed() {
        let e = "100000000000d"
            .parse::<HumanDuration>()
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("at most 100 years"));
        assert!("36500d".parse::<HumanDuration>().is_ok());
    }

    #[test]
    fn days_read_back_as_typed() {
        let shown = |s: &str| {
            s.parse::<HumanDuration>()
                .map(|d| d.to_string())
                .unwrap_or_default()
        };
        assert_eq!(shown("30d"), "30d");
        assert_eq!(shown("1w"), "7d");
        assert_eq!(shown("1h30m"), "1h30m");
    }

    #[test]
    fn parses_common_forms() {
        assert_eq!(d("30s"), 30);
        assert_eq!(d("15m"), 900);
        assert_eq!(d("2h"), 7200);
        assert_eq!(d("1d"), 86_400);
        assert_eq!(d("1w"), 604_800);
        assert_eq!(d("1h30m"), 5400);
        assert_eq!(d(" 2h "), 7200);
        assert_eq!(d("0"), 0);
        assert_eq!(
            "500ms"
                .parse::<HumanDuration>()
                .map(|d| d.std().as_millis()),
            Ok(500)
        );
    }

    #[test]
    fn refuses_garbage_with_a_reason() {
        for bad in ["", "15", "m", "15x", "-5m", "1.5h", "99999999999999999999w"] {
            let e = bad.parse::<HumanDuration>();
            assert!(e.is_err(), "{bad:?} should be refused");
        }
        let msg = "15x"
            .parse::<HumanDuration>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("unknown unit"), "{msg}");
    }

    #[test]
    fn displays_round_trip() {
        for s in ["30s", "15m", "2h", "1d", "30d", "1h30m", "500ms", "0s"] {
            let parsed: HumanDuration = s.parse().unwrap_or_default();
            assert_eq!(parsed.to_string(), s);
        }
    }

    #[test]
    fn formats_deltas_for_people() {
        assert_eq!(format_delta(chrono::TimeDelta::seconds(42)), "42s");
        assert_eq!(
            format_delta(chrono::TimeDelta::seconds(3 * 3600 + 12 * 60)),
            "3h 12m"
        );
        assert_eq!(format_delta(chrono::TimeDelta::seconds(-90)), "-1m 30s");
    }
}
