//! Cross-functional collaboration's pure parts. Two axes: a hand-off's
//! lifecycle (the engine's one hand-off state machine, re-exported here:
//! open → acknowledged → in progress ⇄ waiting on requester → done |
//! declined | cancelled) and its kind's contract — the payload schema
//! checked on open, the RACI checked at config load, the calendar its SLAs
//! count on. Also the matrix's statistics (median, p90).

use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::engine::handoffs::{Command, Effect, Refusal, State, decide};

use super::config::{FieldConfig, KindConfig, RaciConfig};
use crate::calendar::CalendarKind;
use crate::org::Org;

/// The types a payload field may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Integer,
    /// Integer cents; typed as "1250.50" or "1250".
    Money,
    /// A local date, YYYY-MM-DD.
    Date,
    Url,
    Bool,
    /// Comma-separated when typed; a JSON array of strings.
    List,
}

impl FieldType {
    pub const ALL: [FieldType; 8] = [
        FieldType::Text,
        FieldType::Number,
        FieldType::Integer,
        FieldType::Money,
        FieldType::Date,
        FieldType::Url,
        FieldType::Bool,
        FieldType::List,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Money => "money",
            FieldType::Date => "date",
            FieldType::Url => "url",
            FieldType::Bool => "bool",
            FieldType::List => "list",
        }
    }

    pub fn parse(text: &str) -> Option<FieldType> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    fn expects(self) -> &'static str {
        match self {
            FieldType::Text => "some text",
            FieldType::Number => "a number",
            FieldType::Integer => "a whole number",
            FieldType::Money => "an amount like 1250.50",
            FieldType::Date => "a date like 2026-12-01",
            FieldType::Url => "a link starting with http:// or https://",
            FieldType::Bool => "true or false",
            FieldType::List => "a list (comma-separated)",
        }
    }

    /// Check (and normalise) a JSON value.
    pub fn check(self, v: &Value) -> Option<Value> {
        match (self, v) {
            (FieldType::Text, Value::String(s)) if !s.trim().is_empty() => {
                Some(Value::String(s.trim().to_string()))
            }
            (FieldType::Number, Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {
                Some(v.clone())
            }
            (FieldType::Integer | FieldType::Money, Value::Number(n)) if n.is_i64() => {
                Some(v.clone())
            }
            (FieldType::Date, Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| Value::String(d.to_string())),
            (FieldType::Url, Value::String(s))
                if (s.starts_with("https://") || s.starts_with("http://"))
                    && s.len() > 8
                    && !s.contains(char::is_whitespace) =>
            {
                Some(v.clone())
            }
            (FieldType::Bool, Value::Bool(_)) => Some(v.clone()),
            (FieldType::List, Value::Array(items))
                if items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| !s.trim().is_empty())) =>
            {
                Some(v.clone())
            }
            (t, Value::String(s))
                if !matches!(t, FieldType::Text | FieldType::Date | FieldType::Url) =>
            {
                self.from_text(s).and_then(|v| t.check(&v))
            }
            _ => None,
        }
    }

    /// A value as a person typed it on the command line.
    pub fn from_text(self, text: &str) -> Option<Value> {
        let t = text.trim();
        match self {
            FieldType::Text | FieldType::Date | FieldType::Url => Some(Value::String(t.into())),
            FieldType::Number => t
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            FieldType::Integer => t.parse::<i64>().ok().map(Value::from),
            FieldType::Money => parse_cents(t).map(Value::from),
            FieldType::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" => Some(Value::Bool(true)),
                "false" | "no" | "n" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            FieldType::List => {
                let items: Vec<Value> = t
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.into()))
                    .collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
        }
    }
}

/// "1250.50" → 125050 cents, "$1,250" → 125000; `None` for anything else.
pub fn parse_cents(text: &str) -> Option<i64> {
    let t: String = text
        .trim()
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, t),
    };
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t.as_str(), ""),
    };
    if whole.is_empty() || !whole.chars().all(|c| c.is_ascii_digit()) || frac.len() > 2 {
        return None;
    }
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().ok()?
    };
    let cents = whole.checked_mul(100)?.checked_add(frac)?;
    Some(if neg { cents.checked_neg()? } else { cents })
}

/// A payload field of a kind, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub required: bool,
}

/// A payload refused, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("field {field:?} is required by {kind} hand-offs")]
    Missing { kind: String, field: String },
    #[error("field {field:?} must be {expects} (got {got})")]
    BadValue {
        field: String,
        expects: &'static str,
        got: String,
    },
    #[error("{kind} hand-offs have no field {field:?} (fields: {known})")]
    Unknown {
        kind: String,
        field: String,
        known: String,
    },
    #[error("write a field as NAME=VALUE (got {0:?})")]
    Syntax(String),
    #[error("field {0:?} is given twice")]
    Twice(String),
}

/// The fields of a kind's schema (the config load checked the types).
pub fn schema(kind: &KindConfig) -> Vec<Field> {
    kind.fields
        .iter()
        .map(|f| Field {
            name: f.name.clone(),
            kind: FieldType::parse(&f.kind).unwrap_or(FieldType::Text),
            required: f.required,
        })
        .collect()
}

/// Check a payload against a schema: every required field present, every
/// field known and of its type. Returns the normalised payload.
pub fn check_payload(
    kind_name: &str,
    fields: &[Field],
    payload: &Map<String, Value>,
) -> Result<Map<String, Value>, PayloadError> {
    let mut out = Map::new();
    for (name, v) in payload {
        let Some(f) = fields.iter().find(|f| &f.name == name) else {
            return Err(PayloadError::Unknown {
                kind: kind_name.into(),
                field: name.clone(),
                known: fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        if v.is_null() || (!f.required && v.as_str().is_some_and(|s| s.trim().is_empty())) {
            continue;
        }
        let checked = f.kind.check(v).ok_or_else(|| PayloadError::BadValue {
            field: name.clone(),
            expects: f.kind.expects(),
            got: short(v),
        })?;
        out.insert(name.clone(), checked);
    }
    for f in fields.iter().filter(|f| f.required) {
        if !out.contains_key(&f.name) {
            return Err(PayloadError::Missing {
                kind: kind_name.into(),
                field: f.name.clone(),
            });
        }
    }
    Ok(out)
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// `--field NAME=VALUE` arguments, typed by the schema, then checked.
pub fn parse_fields(
    kind_name: &str,
    fields: &[Field],
    args: &[String],
) -> Result<Map<String, Value>, PayloadError> {
    let mut raw = Map::new();
    for a in args {
        let Some((name, value)) = a.split_once('=') else {
            return Err(PayloadError::Syntax(a.clone()));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(PayloadError::Syntax(a.clone()));
        }
        let v = match fields.iter().find(|f| f.name == name) {
            Some(f) => f
                .kind
                .from_text(value)
                .ok_or_else(|| PayloadError::BadValue {
                    field: name.into(),
                    expects: f.kind.expects(),
                    got: format!("{:?}", value.trim()),
                })?,
            None => Value::String(value.into()),
        };
        if raw.insert(name.to_string(), v).is_some() {
            return Err(PayloadError::Twice(name.into()));
        }
    }
    check_payload(kind_name, fields, &raw)
}

/// The calendar a kind's SLAs count on.
pub fn calendar_kind(kind: &KindConfig) -> CalendarKind {
    calendar_to(kind, &kind.to)
}

/// The calendar of a kind's hand-off to `to` (the receiving department's
/// hours, or around the clock).
pub fn calendar_to(kind: &KindConfig, to: &str) -> CalendarKind {
    if is_around_the_clock(&kind.calendar) {
        CalendarKind::AroundTheClock
    } else {
        CalendarKind::BusinessHours {
            department: Some(to.to_string()),
        }
    }
}

/// A kind's `from` or `to` written `"*"`: the opener names the department
/// (a crisis asks any department for support). Its RACI entries may say
/// `@to` and `@from` for the departments of each hand-off
/// (`"director:@to"`).
pub const ANY_DEPARTMENT: &str = "*";

/// A RACI entry with `@to` / `@from` replaced by the hand-off's departments.
pub fn substitute(entry: &str, from: &str, to: &str) -> String {
    entry.replace("@to", to).replace("@from", from)
}

fn substituted(r: &RaciConfig, from: &str, to: &str) -> RaciConfig {
    let all = |l: &[String]| l.iter().map(|e| substitute(e, from, to)).collect();
    RaciConfig {
        accountable: all(&r.accountable),
        responsible: all(&r.responsible),
        consulted: all(&r.consulted),
        informed: all(&r.informed),
    }
}

fn is_around_the_clock(text: &str) -> bool {
    matches!(text, "24x7" | "24×7" | "around_the_clock")
}

/// Check one kind against the org. Errors are (key, reason).
pub fn check_kind(name: &str, k: &KindConfig, org: &Org) -> Result<(), (String, String)> {
    let key = |rest: &str| format!("collab.kinds.{name}.{rest}");
    for (field, d) in [("from", &k.from), ("to", &k.to)] {
        if d != ANY_DEPARTMENT && org.department(d).is_none() {
            return Err((
                key(field),
                format!("unknown department {d:?} (or \"*\": named when opened)"),
            ));
        }
    }
    if k.from == k.to && k.from != ANY_DEPARTMENT {
        return Err((key("to"), "a hand-off goes to another department".into()));
    }
    if k.response_sla.is_zero() {
        return Err((key("response_sla"), "must be longer than zero".into()));
    }
    if let Some(r) = k.resolution_sla
        && r < k.response_sla
    {
        return Err((
            key("resolution_sla"),
            "must not be shorter than the response SLA".into(),
        ));
    }
    if !(k.calendar == "business" || is_around_the_clock(&k.calendar)) {
        return Err((
            key("calendar"),
            format!("{:?}: write \"business\" or \"24x7\"", k.calendar),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, f) in k.fields.iter().enumerate() {
        check_field(&key(&format!("fields[{i}]")), f)?;
        if !seen.insert(f.name.as_str()) {
            return Err((
                key(&format!("fields[{i}]")),
                format!("field {:?} is listed twice", f.name),
            ));
        }
    }
    if k.from == ANY_DEPARTMENT || k.to == ANY_DEPARTMENT {
        // Each pair of departments may resolve differently: the entries
        // must be roles or people for every department, and the
        // Accountable is checked again when a hand-off is opened.
        return check_open_raci(&key("raci"), k, org);
    }
    check_raci(&key("raci"), &k.raci, org)
}

/// The RACI of a kind whose departments are named when opened: exactly one
/// Accountable entry, at least one Responsible, every entry a role or
/// person for every department it may name.
fn check_open_raci(key: &str, k: &KindConfig, org: &Org) -> Result<(), (String, String)> {
    let r = &k.raci;
    if r.accountable.len() != 1 {
        return Err((
            format!("{key}.accountable"),
            format!(
                "a RACI has exactly one Accountable (got {}: {})",
                r.accountable.len(),
                r.accountable.join(", ")
            ),
        ));
    }
    if r.responsible.is_empty() {
        return Err((
            format!("{key}.responsible"),
            "needs at least one Responsible".into(),
        ));
    }
    for d in &org.departments {
        let (from, to) = (
            if k.from == ANY_DEPARTMENT {
                &d.key
            } else {
                &k.from
            },
            if k.to == ANY_DEPARTMENT {
                &d.key
            } else {
                &k.to
            },
        );
        let s = substituted(r, from, to);
        for (list, entries) in [
            ("accountable", &s.accountable),
            ("responsible", &s.responsible),
            ("consulted", &s.consulted),
            ("informed", &s.informed),
        ] {
            for (i, e) in entries.iter().enumerate() {
                if org.person(e).is_none()
                    && let Err(reason) = org.check_role(e)
                {
                    return Err((format!("{key}.{list}[{i}]"), reason));
                }
            }
        }
    }
    Ok(())
}

/// The people of a kind's RACI for a hand-off from `from` to `to`; refused
/// when its Accountable does not name exactly one person there.
pub fn resolve_raci_between(
    kind_name: &str,
    r: &RaciConfig,
    org: &Org,
    from: &str,
    to: &str,
) -> Result<crate::engine::handoffs::Raci, String> {
    let s = substituted(r, from, to);
    if let [one] = s.accountable.as_slice() {
        let people = resolve(one, org);
        if people.len() != 1 {
            return Err(format!(
                "{kind_name} to {to}: its Accountable {one:?} names {} people, not one",
                people.len()
            ));
        }
    }
    Ok(resolve_raci(&s, org))
}

fn check_field(key: &str, f: &FieldConfig) -> Result<(), (String, String)> {
    if f.name.trim().is_empty() || f.name.contains(['=', ' ']) {
        return Err((
            key.into(),
            format!("{:?} is not a field name (no spaces or '=')", f.name),
        ));
    }
    if FieldType::parse(&f.kind).is_none() {
        let types: Vec<&str> = FieldType::ALL.iter().map(|t| t.as_str()).collect();
        return Err((
            format!("{key}.type"),
            format!("unknown type {:?} (types: {})", f.kind, types.join(", ")),
        ));
    }
    Ok(())
}

/// RACI: exactly one Accountable (naming one person), at least one
/// Responsible, every entry a role or a person the org has.
pub fn check_raci(key: &str, r: &RaciConfig, org: &Org) -> Result<(), (String, String)> {
    match r.accountable.as_slice() {
        [one] => {
            let people = resolve(one, org);
            if people.len() != 1 {
                return Err((
                    format!("{key}.accountable"),
                    format!(
                        "{one:?} must name exactly one person (it names {})",
                        people.len()
                    ),
                ));
            }
        }
        many => {
            return Err((
                format!("{key}.accountable"),
                format!(
                    "a RACI has exactly one Accountable (got {}: {})",
                    many.len(),
                    many.join(", ")
                ),
            ));
        }
    }
    if r.responsible.is_empty() {
        return Err((
            format!("{key}.responsible"),
            "needs at least one Responsible".into(),
        ));
    }
    for (list, entries) in [
        ("accountable", &r.accountable),
        ("responsible", &r.responsible),
        ("consulted", &r.consulted),
        ("informed", &r.informed),
    ] {
        for (i, e) in entries.iter().enumerate() {
            if org.person(e).is_none()
                && let Err(reason) = org.check_role(e)
            {
                return Err((format!("{key}.{list}[{i}]"), reason));
            }
        }
    }
    Ok(())
}

/// The people a RACI entry names: a handle, or everyone holding a role.
pub fn resolve(entry: &str, org: &Org) -> Vec<String> {
    if let Some(p) = org.person(entry) {
        return vec![p.handle.clone()];
    }
    match org.check_role(entry) {
        Ok(role) => org.with_role(&role).map(|p| p.handle.clone()).collect(),
        Err(_) => Vec::new(),
    }
}

/// The people of a RACI, resolved now.
pub fn resolve_raci(r: &RaciConfig, org: &Org) -> crate::engine::handoffs::Raci {
    let all = |list: &[String]| {
        let mut out: Vec<String> = Vec::new();
        for e in list {
            for p in resolve(e, org) {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    };
    crate::engine::handoffs::Raci {
        accountable: all(&r.accountable).into_iter().next().unwrap_or_default(),
        responsible: all(&r.responsible),
        consulted: all(&r.consulted),
        informed: all(&r.informed),
    }
}

/// The `q`-quantile (0..=1) of sorted values, linear between ranks (as
/// PostgreSQL's `percentile_cont`).
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (sorted.get(lo)?, sorted.get(hi)?);
    Some(a + (b - a) * (pos - lo as f64))
}

/// One log bucket of durations (see migration 0021's
/// `handoff_duration_bucket`): how many, the least and the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub count: i64,
    pub min: i64,
    pub max: i64,
}

/// Durations kept as log buckets, mergeable across days and edges: the
/// matrix's percentiles over a window without reading every hand-off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    buckets: std::collections::BTreeMap<i32, Bucket>,
}

impl Histogram {
    /// Add `count` durations of bucket `index` lying in `min..=max`.
    pub fn add(&mut self, index: i32, count: i64, min: i64, max: i64) {
        if count <= 0 {
            return;
        }
        let (min, max) = (min.min(max), min.max(max));
        self.buckets
            .entry(index)
            .and_modify(|b| {
                b.count += count;
                b.min = b.min.min(min);
                b.max = b.max.max(max);
            })
            .or_insert(Bucket { count, min, max });
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (i, b) in &other.buckets {
            self.add(*i, b.count, b.min, b.max);
        }
    }

    pub fn count(&self) -> i64 {
        self.buckets.values().map(|b| b.count).sum()
    }

    /// The `k`-th smallest duration (0-based): exact when its bucket holds
    /// at most two values (or equal ones), else spread evenly between the
    /// bucket's least and greatest.
    fn nth(&self, k: i64) -> Option<f64> {
        let mut start = 0;
        for b in self.buckets.values() {
            if k < start + b.count {
                let j = k - start;
                if b.count == 1 || j == 0 {
                    return Some(b.min as f64);
                }
                if j == b.count - 1 {
                    return Some(b.max as f64);
                }
                let span = (b.max - b.min) as f64;
                return Some(b.min as f64 + span * j as f64 / (b.count - 1) as f64);
            }
            start += b.count;
        }
        None
    }

    /// The `q`-quantile (0..=1), linear between ranks as [`percentile`]
    /// (and PostgreSQL's `percentile_cont`).
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let pos = q * (n - 1) as f64;
        let lo = pos.floor() as i64;
        let hi = pos.ceil() as i64;
        let (a, b) = (self.nth(lo)?, self.nth(hi)?);
        Some(a + (b - a) * (pos - lo as f64))
    }
}

/// Migration 0021's `handoff_duration_bucket`, for tests and fills that
/// build histograms outside the database.
pub fn duration_bucket(seconds: i64) -> i32 {
    if seconds <= 0 {
        0
    } else {
        ((seconds as f64).ln() / 1.05f64.ln()).floor() as i32 + 1
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

    use super::*;
    use crate::calendar::{Calendar, SlaClock};
    use crate::config::{Config, EMBEDDED_DEFAULT};
    use crate::duration::HumanDuration;
    use crate::engine::handoffs::due_and_imminent;

    fn config() -> Config {
        match Config::from_toml_str("default", EMBEDDED_DEFAULT) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    fn calendar() -> Calendar {
        match Calendar::from_config(&config().org) {
            Ok(c) => c,
            Err(e) => panic!("{e:?}"),
        }
    }

    /// A New York local time.
    fn ny(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        let local = NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, min, 0))
            .unwrap_or_default();
        calendar().at_local(local)
    }

    fn business() -> CalendarKind {
        CalendarKind::BusinessHours {
            department: Some("sales".into()),
        }
    }

    fn sixty() -> HumanDuration {
        HumanDuration::from_secs(3600)
    }

    fn due(clock: &SlaClock) -> Option<DateTime<Utc>> {
        clock.due_at(&calendar())
    }

    #[test]
    fn friday_1630_is_due_monday_0930() {
        // 2026-12-04 is a Friday.
        let c = SlaClock::start(sixty(), business(), ny(2026, 12, 4, 16, 30));
        assert_eq!(due(&c), Some(ny(2026, 12, 7, 9, 30)));
    }

    #[test]
    fn wednesday_1000_is_due_1100() {
        let c = SlaClock::start(sixty(), business(), ny(2026, 12, 2, 10, 0));
        assert_eq!(due(&c), Some(ny(2026, 12, 2, 11, 0)));
    }

    #[test]
    fn twenty_minutes_waiting_on_the_requester_moves_it_twenty_minutes() {
        let start = ny(2026, 12, 2, 10, 0);
        let mut c = SlaClock::start(sixty(), business(), start);
        c.pause(ny(2026, 12, 2, 10, 10)).ok();
        assert_eq!(
            due(&c),
            None,
            "paused short of the target: resuming decides"
        );
        c.resume(ny(2026, 12, 2, 10, 30)).ok();
        assert_eq!(due(&c), Some(ny(2026, 12, 2, 11, 20)));
        assert_eq!(
            crate::engine::handoffs::paused_seconds(&c, &calendar(), ny(2026, 12, 2, 10, 45)),
            20 * 60
        );
    }

    #[test]
    fn around_the_clock_friday_1630_is_due_1730() {
        let c = SlaClock::start(
            sixty(),
            CalendarKind::AroundTheClock,
            ny(2026, 12, 4, 16, 30),
        );
        assert_eq!(due(&c), Some(ny(2026, 12, 4, 17, 30)));
    }

    #[test]
    fn thanksgiving_1000_is_due_friday_1000() {
        let c = SlaClock::start(sixty(), business(), ny(2026, 11, 26, 10, 0));
        assert_eq!(due(&c), Some(ny(2026, 11, 27, 10, 0)));
    }

    #[test]
    fn imminent_is_at_three_quarters_of_the_sla_on_the_calendar() {
        let c = SlaClock::start(sixty(), business(), ny(2026, 12, 4, 16, 30));
        let (d, i) = due_and_imminent(&c, &calendar()).unwrap_or_default();
        assert_eq!(d, ny(2026, 12, 7, 9, 30));
        assert_eq!(i, ny(2026, 12, 7, 9, 15));
        assert!(i - ny(2026, 12, 4, 16, 30) > TimeDelta::hours(1));
    }

    #[test]
    fn two_accountables_are_refused_at_config_load() {
        let text = EMBEDDED_DEFAULT.replacen(
            "accountable = [\"director:sales\"]",
            "accountable = [\"director:sales\", \"director:marketing\"]",
            1,
        );
        assert_ne!(text, EMBEDDED_DEFAULT, "the default names director:sales");
        let err = Config::from_toml_str("two", &text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("accountable"), "{err}");
        assert!(err.contains("exactly one Accountable"), "{err}");
    }

    #[test]
    fn no_responsible_is_refused_at_config_load() {
        let text =
            EMBEDDED_DEFAULT.replacen("responsible = [\"team_lead:sales\"]", "responsible = []", 1);
        assert_ne!(text, EMBEDDED_DEFAULT);
        let err = Config::from_toml_str("none", &text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("at least one Responsible"), "{err}");
    }

    #[test]
    fn the_six_seed_edges_exist_in_both_directions() {
        let c = config();
        let s = match super::super::config::settings(&c) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let edges = [
            ("marketing", "sales"),
            ("marketing", "product"),
            ("marketing", "customer_experience"),
            ("marketing", "finance"),
            ("sales", "finance"),
            ("product", "customer_experience"),
        ];
        for (a, b) in edges {
            for (f, t) in [(a, b), (b, a)] {
                assert!(
                    s.kinds.values().any(|k| k.from == f && k.to == t),
                    "no kind from {f} to {t}"
                );
            }
        }
        for (name, k) in &s.kinds {
            if name != "lead" {
                assert_eq!(k.response_sla, sixty(), "{name} response SLA");
            }
        }
        assert!(s.kinds.contains_key("campaign_data"));
        assert!(s.kinds.contains_key("feature_request"));
    }

    fn fields() -> Vec<Field> {
        vec![
            Field {
                name: "title".into(),
                kind: FieldType::Text,
                required: true,
            },
            Field {
                name: "frequency".into(),
                kind: FieldType::Integer,
                required: false,
            },
            Field {
                name: "tickets".into(),
                kind: FieldType::List,
                required: false,
            },
        ]
    }

    #[test]
    fn payloads_are_checked_field_by_field() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = parse_fields(
            "feature_request",
            &fields(),
            &args(&["title=Bulk frames", "frequency=12", "tickets=T-1, T-2"]),
        );
        let ok = ok.unwrap_or_default();
        assert_eq!(ok["frequency"], Value::from(12));
        assert_eq!(ok["tickets"], serde_json::json!(["T-1", "T-2"]));
        let err = |a: &[&str]| {
            parse_fields("feature_request", &fields(), &args(a))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(&["frequency=3"]).contains("\"title\" is required"));
        assert!(
            err(&["title=x", "frequency=often"]).contains("\"frequency\" must be a whole number")
        );
        assert!(err(&["title=x", "colour=red"]).contains("no field \"colour\""));
        assert!(err(&["title"]).contains("NAME=VALUE"));
        assert!(err(&["title=a", "title=b"]).contains("twice"));
        // JSON payloads from other workflows are checked the same way.
        let mut m = Map::new();
        m.insert("title".into(), Value::from(""));
        assert!(matches!(
            check_payload("feature_request", &fields(), &m),
            Err(PayloadError::BadValue { .. })
        ));
    }

    #[test]
    fn money_is_parsed_to_cents() {
        assert_eq!(parse_cents("1250.5"), Some(125_050));
        assert_eq!(parse_cents("$1,250"), Some(125_000));
        assert_eq!(parse_cents("-3.07"), Some(-307));
        assert_eq!(parse_cents("1.234"), None);
        assert_eq!(parse_cents("abc"), None);
        assert_eq!(parse_cents("99999999999999999999"), None);
    }

    #[test]
    fn percentiles_match_postgres() {
        let v = [60.0, 120.0, 300.0, 600.0];
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(near(percentile(&v, 0.5), 210.0));
        assert!(near(percentile(&v, 0.9), 510.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
    #[test]
    fn a_histogram_is_exact_for_sparse_buckets_and_close_for_dense_ones() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(0.5), None);
        for s in [600, 1800] {
            h.add(duration_bucket(s), 1, s, s);
        }
        assert_eq!(h.percentile(0.5), Some(1200.0));
        assert_eq!(h.percentile(0.9), Some(1680.0));
        // Two of a bucket are its min and max: still exact.
        let mut two = Histogram::default();
        two.add(duration_bucket(1000), 2, 1000, 1010);
        assert_eq!(two.percentile(1.0), Some(1010.0));
        assert_eq!(two.percentile(0.0), Some(1000.0));
        // Dense: every second from 0 to 86,399, by day-sized pieces merged.
        let mut all = Histogram::default();
        let mut exact = Vec::new();
        for day in 0..4 {
            let mut d = Histogram::default();
            for s in (day * 21_600)..((day + 1) * 21_600) {
                d.add(duration_bucket(s), 1, s, s);
                exact.push(s as f64);
            }
            all.merge(&d);
        }
        assert_eq!(all.count(), 86_400);
        for q in [0.5, 0.9] {
            let want = percentile(&exact, q).unwrap_or_default();
            let got = all.percentile(q).unwrap_or_default();
            assert!((got - want).abs() / want < 0.01, "q {q}: {got} vs {want}");
        }
        assert_eq!(duration_bucket(0), 0);
        assert_eq!(duration_bucket(1), 1);
        assert!(duration_bucket(3600) < duration_bucket(3800));
    }
}
