//! The organisation: departments, directors, people and roles. Built from
//! config, validated, and synchronised into Postgres so events and approvals
//! can reference people.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sqlx::PgPool;

use crate::config::Config;
use crate::error::{Error, Result};

/// What a person may do. Department-scoped roles use the person's department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Heads a department.
    Director,
    /// Runs the business; above the directors.
    BusinessManager,
    TeamLead,
    Analyst,
    /// Works shifts in the control room.
    Operator,
    Member,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Director,
        Role::BusinessManager,
        Role::TeamLead,
        Role::Analyst,
        Role::Operator,
        Role::Member,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Director => "director",
            Role::BusinessManager => "business_manager",
            Role::TeamLead => "team_lead",
            Role::Analyst => "analyst",
            Role::Operator => "operator",
            Role::Member => "member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown role {s:?} (known roles: {})", known.join(", "))
            })
    }
}

/// A role, optionally limited to one department: "director:marketing",
/// "director:*" (any department), "business_manager".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RoleRef {
    pub role: Role,
    pub department: Option<String>,
}

impl RoleRef {
    pub fn new(role: Role, department: Option<&str>) -> Self {
        Self {
            role,
            department: department.map(str::to_string),
        }
    }

    pub fn matches(&self, person: &Person) -> bool {
        person.roles.contains(&self.role)
            && self
                .department
                .as_ref()
                .is_none_or(|d| d == &person.department)
    }
}

impl fmt::Display for RoleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.department {
            Some(d) => write!(f, "{}:{d}", self.role),
            None => write!(f, "{}", self.role),
        }
    }
}

impl FromStr for RoleRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (role, dept) = match s.split_once(':') {
            Some((r, "*")) => (r, None),
            Some((r, d)) => (r, Some(d.to_string())),
            None => (s, None),
        };
        Ok(Self {
            role: role.parse()?,
            department: dept,
        })
    }
}

/// "a" or "an" before `word`, by its first letter.
fn article(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// "a", "a or b", "a, b or c": alternatives in a sentence.
pub fn or_list(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Whom to notify: resolved to people at the moment of notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Target {
    Person(String),
    Role(RoleRef),
    /// Whoever is on call on that schedule at that moment.
    Schedule(String),
    /// The department's director (its team leads when it has none).
    Department(String),
    /// Holders of a role in the departments concerned by the escalated
    /// entity (e.g. the directors of an incident's affected departments).
    Concerned(Role),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Person(h) => write!(f, "person:{h}"),
            Target::Role(r) => write!(f, "role:{r}"),
            Target::Schedule(s) => write!(f, "schedule:{s}"),
            Target::Department(d) => write!(f, "department:{d}"),
            Target::Concerned(r) => write!(f, "concerned:{r}"),
        }
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some(("person", h)) => Ok(Target::Person(h.to_string())),
            Some(("role", r)) => Ok(Target::Role(r.parse()?)),
            Some(("schedule", n)) => Ok(Target::Schedule(n.to_string())),
            Some(("department", d)) => Ok(Target::Department(d.to_string())),
            Some(("concerned", r)) => Ok(Target::Concerned(r.parse()?)),
            _ => Err(format!(
                "unknown target {s:?} (use person:HANDLE, role:ROLE[:DEPARTMENT], schedule:NAME, department:KEY or concerned:ROLE)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    pub key: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub handle: String,
    pub name: String,
    pub department: String,
    pub roles: Vec<Role>,
    pub discord_id: Option<String>,
    pub email: Option<String>,
}

impl Person {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_director_of(&self, department: &str) -> bool {
        self.has_role(Role::Director) && self.department == department
    }

    /// "Maya Chen (@maya, Marketing director)"
    pub fn label(&self) -> String {
        format!("{} (@{})", self.name, self.handle)
    }
}

/// An on-call schedule from config: a base rotation, and layers above it
/// that take over in their hours (PagerDuty's layers with restrictions:
/// e.g. weekdays 09:00–17:00 on the base, nights on a second layer). The
/// highest layer whose hours cover a moment and that has someone decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub name: String,
    pub department: String,
    pub rotation: Vec<String>,
    pub shift: chrono::TimeDelta,
    pub handoff: chrono::DateTime<chrono::Utc>,
    /// Layers above the base rotation, lowest first.
    pub layers: Vec<Layer>,
    /// The org's time zone: shifts of whole days turn over at the
    /// hand-over's local wall time, so 09:00 stays 09:00 across DST; layer
    /// hours are local too.
    #[serde(skip)]
    pub timezone: chrono_tz::Tz,
}

/// A rotation above a schedule's base, on call only in its hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    pub name: String,
    pub rotation: Vec<String>,
    pub shift: chrono::TimeDelta,
    pub handoff: chrono::DateTime<chrono::Utc>,
    /// Its hours; None: always (it then hides everything below it).
    pub hours: Option<Hours>,
}

/// Local hours on some days: a window opens at `from` on each of `days`
/// and lasts until `to` (the next day when `to` is not after `from`; a
/// whole day when they are equal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hours {
    pub days: Vec<chrono::Weekday>,
    pub from: chrono::NaiveTime,
    pub to: chrono::NaiveTime,
}

impl Hours {
    fn length(&self) -> chrono::TimeDelta {
        let d = self.to - self.from;
        if d > chrono::TimeDelta::zero() {
            d
        } else {
            d + chrono::TimeDelta::days(1)
        }
    }

    /// The window opening on local `date`, if it is one of the days.
    fn window_on(
        &self,
        tz: chrono_tz::Tz,
        date: chrono::NaiveDate,
    ) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
        use chrono::Datelike;
        if !self.days.contains(&date.weekday()) {
            return None;
        }
        // Local wall times at both ends: a night stays 17:00–09:00 across DST.
        let start = date.and_time(self.from);
        let end = start.checked_add_signed(self.length())?;
        Some((
            crate::calendar::at_local(tz, start),
            crate::calendar::at_local(tz, end),
        ))
    }

    /// The window covering `at`, if any.
    fn window_at(
        &self,
        tz: chrono_tz::Tz,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
        let today = at.with_timezone(&tz).date_naive();
        [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .filter_map(|d| self.window_on(tz, d))
            .find(|(start, end)| *start <= at && at < *end)
    }

    /// The next window opening after `at` (within a week and a day).
    fn next_start(
        &self,
        tz: chrono_tz::Tz,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let today = at.with_timezone(&tz).date_naive();
        today
            .iter_days()
            .take(9)
            .filter_map(|d| self.window_on(tz, d))
            .map(|(start, _)| start)
            .find(|start| *start > at)
    }
}

/// One rotation's arithmetic: who works shift n and when it begins.
struct Turns<'a> {
    rotation: &'a [String],
    shift: chrono::TimeDelta,
    handoff: chrono::DateTime<chrono::Utc>,
    timezone: chrono_tz::Tz,
}

impl<'a> Turns<'a> {
    fn on_shift(&self, index: i64) -> Option<&'a str> {
        let len = i64::try_from(self.rotation.len()).ok().filter(|&n| n > 0)?;
        usize::try_from(index.rem_euclid(len))
            .ok()
            .and_then(|i| self.rotation.get(i))
            .map(String::as_str)
    }

    fn shift_index_at(&self, at: chrono::DateTime<chrono::Utc>) -> Option<i64> {
        let shift = self.shift.num_seconds();
        if shift <= 0 || self.rotation.is_empty() {
            return None;
        }
        // A fixed-length guess, then at most a step either way: local
        // turnovers differ from it only by a change of UTC offset.
        let mut index = (at - self.handoff).num_seconds().div_euclid(shift);
        for _ in 0..3 {
            if self.turnover(index)? > at {
                index = index.checked_sub(1)?;
            } else if self.turnover(index.checked_add(1)?)? <= at {
                index = index.checked_add(1)?;
            } else {
                return Some(index);
            }
        }
        Some(index)
    }

    fn turnover(&self, index: i64) -> Option<chrono::DateTime<chrono::Utc>> {
        let shift = self.shift.num_seconds();
        if shift <= 0 {
            return None;
        }
        if shift % 86_400 == 0 {
            let days = chrono::TimeDelta::try_days(index.checked_mul(shift / 86_400)?)?;
            let local = self.handoff.with_timezone(&self.timezone).naive_local();
            let local = local.checked_add_signed(days)?;
            return Some(crate::calendar::at_local(self.timezone, local));
        }
        let offset = chrono::TimeDelta::try_seconds(index.checked_mul(shift)?)?;
        self.handoff.checked_add_signed(offset)
    }

    fn at(&self, at: chrono::DateTime<chrono::Utc>) -> Option<&'a str> {
        self.on_shift(self.shift_index_at(at)?)
    }

    fn next_turnover(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        self.turnover(self.shift_index_at(at)?.checked_add(1)?)
    }
}

/// Who a schedule puts on call at a moment, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover<'a> {
    pub person: &'a str,
    /// The layer's name; None: the base rotation.
    pub layer: Option<&'a str>,
    /// When someone else may take over: the shift's hand-over, the end of
    /// the layer's hours, or the start of a higher layer's hours.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Schedule {
    fn base(&self) -> Turns<'_> {
        Turns {
            rotation: &self.rotation,
            shift: self.shift,
            handoff: self.handoff,
            timezone: self.timezone,
        }
    }

    fn layer_turns<'a>(&'a self, l: &'a Layer) -> Turns<'a> {
        Turns {
            rotation: &l.rotation,
            shift: l.shift,
            handoff: l.handoff,
            timezone: self.timezone,
        }
    }

    /// Who the schedule puts on call at `at`, through its layers
    /// (overrides are applied by the caller).
    pub fn rotation_at(&self, at: chrono::DateTime<chrono::Utc>) -> Option<&str> {
        self.cover_at(at).map(|c| c.person)
    }

    /// Who is on call at `at`, on which layer, and until when.
    pub fn cover_at(&self, at: chrono::DateTime<chrono::Utc>) -> Option<Cover<'_>> {
        let tz = self.timezone;
        // Layers above the one that decides may open their hours later.
        let next_above = |above: &[Layer]| {
            above
                .iter()
                .filter_map(|l| l.hours.as_ref()?.next_start(tz, at))
                .min()
        };
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let window_end = match &layer.hours {
                Some(h) => match h.window_at(tz, at) {
                    Some((_, end)) => Some(end),
                    None => continue,
                },
                None => None,
            };
            let turns = self.layer_turns(layer);
            let Some(person) = turns.at(at) else {
                continue;
            };
            let until = [
                turns.next_turnover(at),
                window_end,
                next_above(&self.layers[i + 1..]),
            ]
            .into_iter()
            .flatten()
            .min();
            return Some(Cover {
                person,
                layer: Some(&layer.name),
                until,
            });
        }
        let base = self.base();
        let person = base.at(at)?;
        let until = [base.next_turnover(at), next_above(&self.layers)]
            .into_iter()
            .flatten()
            .min();
        Some(Cover {
            person,
            layer: None,
            until,
        })
    }

    /// Who works shift number `index` of the base rotation (0 starts at `handoff`).
    pub fn on_shift(&self, index: i64) -> Option<&str> {
        self.base().on_shift(index)
    }

    /// The number of the base rotation's shift under way at `at` (negative
    /// before `handoff`).
    pub fn shift_index_at(&self, at: chrono::DateTime<chrono::Utc>) -> Option<i64> {
        self.base().shift_index_at(at)
    }

    /// When shift number `index` of the base rotation begins. Shifts of
    /// whole days begin at the hand-over's local wall time on their day;
    /// others every `shift` exactly.
    pub fn turnover(&self, index: i64) -> Option<chrono::DateTime<chrono::Utc>> {
        self.base().turnover(index)
    }
}

/// A layer's hours from config: `days` ("mon".."sun", "weekdays",
/// "weekends"; default every day) and `from`/`to` ("HH:MM", both or
/// neither). None when the layer has no restriction at all.
fn layer_hours(
    l: &crate::config::LayerConfig,
) -> std::result::Result<Option<Hours>, (&'static str, String)> {
    use chrono::Weekday::*;
    if l.days.is_empty() && l.from.is_none() && l.to.is_none() {
        return Ok(None);
    }
    let mut days = Vec::new();
    for d in &l.days {
        let add: &[chrono::Weekday] = match d.to_ascii_lowercase().as_str() {
            "weekdays" => &[Mon, Tue, Wed, Thu, Fri],
            "weekends" => &[Sat, Sun],
            "mon" | "monday" => &[Mon],
            "tue" | "tuesday" => &[Tue],
            "wed" | "wednesday" => &[Wed],
            "thu" | "thursday" => &[Thu],
            "fri" | "friday" => &[Fri],
            "sat" | "saturday" => &[Sat],
            "sun" | "sunday" => &[Sun],
            _ => {
                return Err((
                    "days",
                    format!("unknown day {d:?}; use mon..sun, weekdays or weekends"),
                ));
            }
        };
        for w in add {
            if !days.contains(w) {
                days.push(*w);
            }
        }
    }
    if days.is_empty() {
        days = vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun];
    }
    let time = |field: &'static str, v: &Option<String>| match v {
        None => Ok(None),
        Some(t) => chrono::NaiveTime::parse_from_str(t, "%H:%M")
            .map(Some)
            .map_err(|_| (field, format!("{t:?} is not a time of day like \"17:00\""))),
    };
    let (from, to) = match (time("from", &l.from)?, time("to", &l.to)?) {
        (Some(f), Some(t)) => (f, t),
        (None, None) => (chrono::NaiveTime::MIN, chrono::NaiveTime::MIN),
        _ => return Err(("to", "give both `from` and `to`, or neither".into())),
    };
    Ok(Some(Hours { days, from, to }))
}

/// The validated organisation.
#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub name: String,
    pub departments: Vec<Department>,
    pub people: Vec<Person>,
    pub schedules: Vec<Schedule>,
    #[serde(skip)]
    by_handle: HashMap<String, usize>,
    #[serde(skip)]
    by_discord: HashMap<String, usize>,
}

type Invalid = (String, String);

fn bad(key: impl Into<String>, reason: impl Into<String>) -> Invalid {
    (key.into(), reason.into())
}

fn valid_handle(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 32
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Org {
    /// Build and check the organisation. Errors are (key, reason).
    pub fn from_config(config: &Config) -> Result<Self, (String, String)> {
        let oc = &config.org;
        let Ok(timezone) = oc.timezone.parse::<chrono_tz::Tz>() else {
            return Err(bad(
                "org.timezone",
                format!("unknown time zone {:?}", oc.timezone),
            ));
        };
        for (k, v) in [
            ("start", &oc.business_hours.start),
            ("end", &oc.business_hours.end),
        ] {
            if chrono::NaiveTime::parse_from_str(v, "%H:%M").is_err() {
                return Err(bad(
                    format!("org.business_hours.{k}"),
                    format!("{v:?} is not a time like \"09:00\""),
                ));
            }
        }
        for (i, d) in oc.business_hours.days.iter().enumerate() {
            if d.parse::<chrono::Weekday>().is_err() {
                return Err(bad(
                    format!("org.business_hours.days[{i}]"),
                    format!("{d:?} is not a weekday"),
                ));
            }
        }
        let mut departments = Vec::new();
        let mut dept_keys = HashSet::new();
        for (i, d) in oc.departments.iter().enumerate() {
            if !valid_handle(&d.key) {
                return Err(bad(
                    format!("org.departments[{i}].key"),
                    format!("{:?} must be lowercase letters, digits, - or _", d.key),
                ));
            }
            if !dept_keys.insert(d.key.clone()) {
                return Err(bad(
                    format!("org.departments[{i}].key"),
                    format!("duplicate department {:?}", d.key),
                ));
            }
            departments.push(Department {
                key: d.key.clone(),
                name: d.name.clone(),
            });
        }
        let mut people = Vec::new();
        let mut by_handle = HashMap::new();
        let mut by_discord = HashMap::new();
        let mut directors: BTreeMap<String, String> = BTreeMap::new();
        for (i, p) in oc.people.iter().enumerate() {
            let key = |field: &str| format!("org.people[{i}].{field}");
            if !valid_handle(&p.handle) {
                return Err(bad(
                    key("handle"),
                    format!(
                        "{:?} must be 1-32 lowercase letters, digits, - or _",
                        p.handle
                    ),
                ));
            }
            if by_handle.contains_key(&p.handle) {
                return Err(bad(
                    key("handle"),
                    format!("duplicate person {:?}", p.handle),
                ));
            }
            if !dept_keys.contains(&p.department) {
                return Err(bad(
                    key("department"),
                    format!("unknown department {:?}", p.department),
                ));
            }
            let mut roles = Vec::new();
            for (j, r) in p.roles.iter().enumerate() {
                let role: Role = r
                    .parse()
                    .map_err(|e| bad(format!("org.people[{i}].roles[{j}]"), e))?;
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            if roles.contains(&Role::Director)
                && let Some(other) = directors.insert(p.department.clone(), p.handle.clone())
            {
                return Err(bad(
                    key("roles"),
                    format!(
                        "department {:?} already has director {other:?}",
                        p.department
                    ),
                ));
            }
            if let Some(id) = &p.discord_id {
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                    return Err(bad(
                        key("discord_id"),
                        format!("{id:?} is not a Discord user id (digits only)"),
                    ));
                }
                if by_discord.insert(id.clone(), people.len()).is_some() {
                    return Err(bad(
                        key("discord_id"),
                        format!("Discord id {id} belongs to two people"),
                    ));
                }
            }
            by_handle.insert(p.handle.clone(), people.len());
            people.push(Person {
                handle: p.handle.clone(),
                name: p.name.clone(),
                department: p.department.clone(),
                roles,
                discord_id: p.discord_id.clone(),
                email: p.email.clone(),
            });
        }
        if let Some(op) = &config.operator
            && !by_handle.contains_key(op)
        {
            return Err(bad("operator", format!("unknown person {op:?}")));
        }
        let mut schedules = Vec::new();
        let mut schedule_names = HashSet::new();
        for (i, s) in config.oncall.schedules.iter().enumerate() {
            let key = |field: &str| format!("oncall.schedules[{i}].{field}");
            if !schedule_names.insert(s.name.clone()) {
                return Err(bad(key("name"), format!("duplicate schedule {:?}", s.name)));
            }
            if !dept_keys.contains(&s.department) {
                return Err(bad(
                    key("department"),
                    format!("unknown department {:?}", s.department),
                ));
            }
            if s.rotation.is_empty() {
                return Err(bad(key("rotation"), "a rotation needs at least one person"));
            }
            for (j, h) in s.rotation.iter().enumerate() {
                if !by_handle.contains_key(h) {
                    return Err(bad(
                        format!("oncall.schedules[{i}].rotation[{j}]"),
                        format!("unknown person {h:?}"),
                    ));
                }
            }
            if s.shift.is_zero() {
                return Err(bad(key("shift"), "a shift must be longer than zero"));
            }
            let mut layers = Vec::new();
            for (j, l) in s.layers.iter().enumerate() {
                let key = |field: &str| format!("oncall.schedules[{i}].layers[{j}].{field}");
                if l.name.trim().is_empty() {
                    return Err(bad(key("name"), "a layer needs a name"));
                }
                if l.rotation.is_empty() {
                    return Err(bad(key("rotation"), "a rotation needs at least one person"));
                }
                if let Some(h) = l.rotation.iter().find(|h| !by_handle.contains_key(*h)) {
                    return Err(bad(key("rotation"), format!("unknown person {h:?}")));
                }
                if l.shift.is_zero() {
                    return Err(bad(key("shift"), "a shift must be longer than zero"));
                }
                let hours = layer_hours(l).map_err(|(field, why)| bad(key(field), why))?;
                layers.push(Layer {
                    name: l.name.clone(),
                    rotation: l.rotation.clone(),
                    shift: l.shift.delta(),
                    handoff: l.handoff.unwrap_or(s.handoff),
                    hours,
                });
            }
            schedules.push(Schedule {
                name: s.name.clone(),
                department: s.department.clone(),
                rotation: s.rotation.clone(),
                shift: s.shift.delta(),
                handoff: s.handoff,
                layers,
                timezone,
            });
        }
        let org = Org {
            name: oc.name.clone(),
            departments,
            people,
            schedules,
            by_handle,
            by_discord,
        };
        for (name, policy) in &config.escalation.policies {
            if policy.levels.is_empty() {
                return Err(bad(
                    format!("escalation.policies.{name}.levels"),
                    "a policy needs at least one level",
                ));
            }
            for (i, level) in policy.levels.iter().enumerate() {
                if level.targets.is_empty() {
                    return Err(bad(
                        format!("escalation.policies.{name}.levels[{i}].targets"),
                        "a level needs at least one target",
                    ));
                }
                for (j, t) in level.targets.iter().enumerate() {
                    org.check_target(t).map_err(|e| {
                        bad(
                            format!("escalation.policies.{name}.levels[{i}].targets[{j}]"),
                            e,
                        )
                    })?;
                }
            }
        }
        if !config
            .escalation
            .policies
            .contains_key(&config.approvals.escalation_policy)
        {
            return Err(bad(
                "approvals.escalation_policy",
                format!(
                    "unknown escalation policy {:?}",
                    config.approvals.escalation_policy
                ),
            ));
        }
        Ok(org)
    }

    /// Parse a target string and check that what it names exists.
    pub fn check_target(&self, text: &str) -> Result<Target, String> {
        let target: Target = text.parse()?;
        match &target {
            Target::Person(h) if self.person(h).is_none() => Err(format!("unknown person {h:?}")),
            Target::Schedule(s) if self.schedule(s).is_none() => {
                Err(format!("unknown on-call schedule {s:?}"))
            }
            Target::Department(d) if self.department(d).is_none() => {
                Err(format!("unknown department {d:?}"))
            }
            Target::Role(RoleRef {
                department: Some(d),
                ..
            }) if self.department(d).is_none() => Err(format!("unknown department {d:?}")),
            _ => Ok(target),
        }
    }

    /// Parse a role reference from config and check that its department
    /// exists ("director:marketing", "director:*", "business_manager").
    pub fn check_role(&self, text: &str) -> Result<RoleRef, String> {
        let role: RoleRef = text.parse()?;
        match &role.department {
            Some(d) if self.department(d).is_none() => Err(format!(
                "unknown department {d:?} in role {text:?} (departments: {})",
                self.departments
                    .iter()
                    .map(|d| d.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => Ok(role),
        }
    }

    /// A role as a sentence names it: "the Marketing director", "a team
    /// lead", "an Operations operator", "the business manager".
    pub fn describe_role(&self, role: &RoleRef) -> String {
        let title = role.role.as_str().replace('_', " ");
        let department = role
            .department
            .as_deref()
            .map(|d| self.department(d).map_or(d, |d| d.name.as_str()));
        match (role.role, department) {
            // One person holds these.
            (Role::BusinessManager, _) => format!("the {title}"),
            (Role::Director, Some(d)) => format!("the {d} {title}"),
            (_, Some(d)) => format!("{} {d} {title}", article(d)),
            (_, None) => format!("{} {title}", article(&title)),
        }
    }

    pub fn person(&self, handle: &str) -> Option<&Person> {
        self.by_handle.get(handle).and_then(|&i| self.people.get(i))
    }

    /// The person acting, or a sentence saying they are unknown.
    pub fn actor(&self, handle: &str) -> Result<&Person> {
        self.person(handle).ok_or_else(|| {
            Error::not_found(format!(
                "unknown person {handle:?}: `vivid org list` shows who exists"
            ))
        })
    }

    pub fn by_discord_id(&self, id: &str) -> Option<&Person> {
        self.by_discord.get(id).and_then(|&i| self.people.get(i))
    }

    pub fn department(&self, key: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.key == key)
    }

    pub fn schedule(&self, name: &str) -> Option<&Schedule> {
        self.schedules.iter().find(|s| s.name == name)
    }

    pub fn director_of(&self, department: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.is_director_of(department))
    }

    pub fn with_role<'a>(&'a self, role: &'a RoleRef) -> impl Iterator<Item = &'a Person> + 'a {
        self.people.iter().filter(move |p| role.matches(p))
    }

    /// Does this person hold any of these roles?
    pub fn holds_any(&self, person: &Person, roles: &[RoleRef]) -> bool {
        roles.iter().any(|r| r.matches(person))
    }

    /// Resolve targets to distinct handles at a moment; `overrides` are the
    /// on-call overrides in force (schedule -> person).
    pub fn resolve(
        &self,
        targets: &[Target],
        concerned: &[String],
        on_call: &dyn Fn(&Schedule) -> Option<String>,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |h: &str| {
            if !out.iter().any(|o| o == h) {
                out.push(h.to_string());
            }
        };
        for t in targets {
            match t {
                Target::Person(h) => push(h),
                Target::Role(r) => self.with_role(r).for_each(|p| push(&p.handle)),
                Target::Schedule(s) => {
                    if let Some(h) = self.schedule(s).and_then(on_call) {
                        push(&h);
                    }
                }
                Target::Department(d) => match self.director_of(d) {
                    Some(p) => push(&p.handle),
                    None => self
                        .with_role(&RoleRef::new(Role::TeamLead, Some(d)))
                        .for_each(|p| push(&p.handle)),
                },
                Target::Concerned(role) => {
                    for d in concerned {
                        self.with_role(&RoleRef::new(*role, Some(d)))
                            .for_each(|p| push(&p.handle));
                    }
                }
            }
        }
        out
    }

    /// Write departments and people into Postgres. People and departments
    /// removed from config are marked inactive, never deleted: the event log
    /// still names them.
    pub async fn sync(&self, pool: &PgPool) -> Result<()> {
        let mut tx = pool.begin().await?;
        for d in &self.departments {
            sqlx::query(
                "INSERT INTO departments (key, name, active) VALUES ($1, $2, true)
                 ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, active = true",
            )
            .bind(&d.key)
            .bind(&d.name)
            .execute(&mut *tx)
            .await?;
        }
        let keys: Vec<&str> = self.departments.iter().map(|d| d.key.as_str()).collect();
        sqlx::query("UPDATE departments SET active = false WHERE NOT (key = ANY($1))")
            .bind(&keys)
            .execute(&mut *tx)
            .await?;
        // Free Discord ids first so a moved id does not trip the unique index.
        let handles: Vec<&str> = self.people.iter().map(|p| p.handle.as_str()).collect();
        sqlx::query(
            "UPDATE people SET discord_id = NULL, active = false WHERE NOT (handle = ANY($1))",
        )
        .bind(&handles)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE people SET discord_id = NULL")
            .execute(&mut *tx)
            .await?;
        for p in &self.people {
            let roles: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
            sqlx::query(
                "INSERT INTO people (handle, name, department, roles, discord_id, email, active)
                 VALUES ($1, $2, $3, $4, $5, $6, true)
                 ON CONFLICT (handle) DO UPDATE SET name = EXCLUDED.name, department = EXCLUDED.department,
                   roles = EXCLUDED.roles, discord_id = EXCLUDED.discord_id, email = EXCLUDED.email, active = true",
            )
            .bind(&p.handle)
            .bind(&p.name)
            .bind(&p.department)
            .bind(&roles)
            .bind(&p.discord_id)
            .bind(&p.email)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EMBEDDED_DEFAULT};

    fn default_org() -> Option<Org> {
        let config = Config::from_toml_str("default", EMBEDDED_DEFAULT).ok()?;
        Org::from_config(&config).ok()
    }

    #[test]
    fn every_director_has_a_discord_id() {
        let org = default_org().unwrap_or_else(|| panic!("default org invalid"));
        let directors: Vec<_> = org
            .people
            .iter()
            .filter(|p| p.has_role(Role::Director))
            .collect();
        assert_eq!(directors.len(), 11, "eleven directors");
        assert!(directors.iter().all(|d| d.discord_id.is_some()));
        assert_eq!(
            org.people
                .iter()
                .filter(|p| p.has_role(Role::BusinessManager))
                .count(),
            1
        );
    }

    #[test]
    fn role_refs_parse_and_match() {
        let org = default_org().unwrap_or_else(|| panic!("default org invalid"));
        let any_director: RoleRef = "director:*".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(org.with_role(&any_director).count(), 11);
        let mkt: RoleRef = "director:marketing"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(org.with_role(&mkt).count(), 1);
        assert!("wizard".parse::<RoleRef>().is_err());
    }

    #[test]
    fn roles_read_as_a_sentence() {
        let org = default_org().unwrap_or_else(|| panic!("default org invalid"));
        let described: Vec<String> = [
            "director:marketing",
            "team_lead:creative",
            "operator",
            "operator:operations",
            "director",
            "business_manager",
        ]
        .iter()
        .filter_map(|r| r.parse::<RoleRef>().ok())
        .map(|r| org.describe_role(&r))
        .collect();
        assert_eq!(
            or_list(&described),
            "the Marketing director, a Creative team lead, an operator, \
             an Operations operator, a director or the business manager"
        );
        assert_eq!(or_list(&["its owner".to_string()]), "its owner");
        assert_eq!(or_list(&[]), "");
    }

    #[test]
    fn check_role_knows_the_departments() {
        let org = default_org().unwrap_or_else(|| panic!("default org invalid"));
        assert_eq!(
            org.check_role("team_lead:creative"),
            Ok(RoleRef::new(Role::TeamLead, Some("creative")))
        );
        assert_eq!(
            org.check_role("director:*"),
            Ok(RoleRef::new(Role::Director, None))
        );
        let moon = org.check_role("director:moon").err().unwrap_or_default();
        assert!(moon.contains("unknown department \"moon\""), "{moon}");
        assert!(org.check_role("wizard:marketing").is_err());
    }

    #[test]
    fn rotation_turns_over_each_shift() {
        let start = chrono::DateTime::from_timestamp(1_767_600_000, 0).unwrap_or_default();
        let s = Schedule {
            name: "x".into(),
            department: "operations".into(),
            rotation: vec!["a".into(), "b".into(), "c".into()],
            shift: chrono::TimeDelta::days(7),
            handoff: start,
            layers: Vec::new(),
            timezone: chrono_tz::Tz::UTC,
        };
        assert_eq!(s.rotation_at(start), Some("a"));
        assert_eq!(s.rotation_at(start + chrono::TimeDelta::days(7)), Some("b"));
        assert_eq!(
            s.rotation_at(start + chrono::TimeDelta::days(20)),
            Some("c")
        );
        assert_eq!(
            s.rotation_at(start + chrono::TimeDelta::days(21)),
            Some("a")
        );
        // Before the first hand-off the rotation runs backwards.
        assert_eq!(
            s.rotation_at(start - chrono::TimeDelta::hours(1)),
            Some("c")
        );
    }

    fn rotation(shift_days: i64, handoff: &str) -> Schedule {
        Schedule {
            name: "x".into(),
            department: "operations".into(),
            rotation: vec!["a".into(), "b".into()],
            shift: chrono::TimeDelta::days(shift_days),
            handoff: handoff.parse().unwrap_or_default(),
            layers: Vec::new(),
            timezone: chrono_tz::America::New_York,
        }
    }

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_daily_rotation_hands_over_at_0900_new_york_when_the_clocks_go_back() {
        // Monday 26 October 2026, 09:00 EDT; the clocks go back on 1 November.
        let s = rotation(1, "2026-10-26T13:00:00Z");
        // Sunday 1 November is shift 6 ("a"), from 09:00 EST = 14:00 UTC.
        assert_eq!(s.turnover(6), Some(at("2026-11-01T14:00:00Z")));
        assert_eq!(s.rotation_at(at("2026-11-01T13:30:00Z")), Some("b"));
        assert_eq!(s.rotation_at(at("2026-11-01T14:00:00Z")), Some("a"));
        // Monday 2 November: still 09:00 local, not 08:00.
        assert_eq!(s.rotation_at(at("2026-11-02T13:59:59Z")), Some("a"));
        assert_eq!(s.rotation_at(at("2026-11-02T14:00:00Z")), Some("b"));
        assert_eq!(s.shift_index_at(at("2026-11-02T14:00:00Z")), Some(7));
    }

    #[test]
    fn a_daily_rotation_hands_over_at_0900_new_york_when_the_clocks_go_forward() {
        // Monday 4 January 2027, 09:00 EST; the clocks go forward on 14 March.
        let s = rotation(1, "2027-01-04T14:00:00Z");
        // Sunday 14 March is day 69: 09:00 EDT = 13:00 UTC.
        assert_eq!(s.turnover(69), Some(at("2027-03-14T13:00:00Z")));
        assert_eq!(s.rotation_at(at("2027-03-14T12:59:00Z")), Some("a"));
        assert_eq!(s.rotation_at(at("2027-03-14T13:00:00Z")), Some("b"));
        assert_eq!(s.rotation_at(at("2027-03-15T12:30:00Z")), Some("b"));
        assert_eq!(s.rotation_at(at("2027-03-15T13:00:00Z")), Some("a"));
        // Before the first hand-over the rotation runs backwards, in local time too.
        assert_eq!(s.turnover(-1), Some(at("2027-01-03T14:00:00Z")));
        assert_eq!(s.rotation_at(at("2027-01-03T13:00:00Z")), Some("a"));
    }

    #[test]
    fn a_weekly_rotation_keeps_its_local_hand_over_in_summer() {
        // The shipped schedules: Mondays 09:00 New York from 5 January 2026.
        let s = rotation(7, "2026-01-05T14:00:00Z");
        assert_eq!(s.rotation_at(at("2026-01-12T13:59:00Z")), Some("a"));
        assert_eq!(s.rotation_at(at("2026-01-12T14:00:00Z")), Some("b"));
        // Monday 6 July 2026 is shift 26, from 09:00 EDT = 13:00 UTC.
        assert_eq!(s.turnover(26), Some(at("2026-07-06T13:00:00Z")));
        assert_eq!(s.rotation_at(at("2026-07-06T12:59:00Z")), Some("b"));
        assert_eq!(s.rotation_at(at("2026-07-06T13:00:00Z")), Some("a"));
    }

    /// Weekdays 09:00–17:00 New York on the base rotation; nights
    /// (17:00–09:00 every day) and weekends on layers above it.
    fn layered() -> Schedule {
        let hours = |days: &[chrono::Weekday], from: &str, to: &str| Hours {
            days: days.to_vec(),
            from: from.parse().unwrap_or_default(),
            to: to.parse().unwrap_or_default(),
        };
        use chrono::Weekday::*;
        Schedule {
            layers: vec![
                Layer {
                    name: "nights".into(),
                    rotation: vec!["n1".into(), "n2".into()],
                    shift: chrono::TimeDelta::days(7),
                    handoff: at("2026-01-05T14:00:00Z"),
                    hours: Some(hours(
                        &[Mon, Tue, Wed, Thu, Fri, Sat, Sun],
                        "17:00",
                        "09:00",
                    )),
                },
                Layer {
                    name: "weekends".into(),
                    rotation: vec!["w".into()],
                    shift: chrono::TimeDelta::days(7),
                    handoff: at("2026-01-05T14:00:00Z"),
                    hours: Some(hours(&[Sat, Sun], "00:00", "00:00")),
                },
            ],
            ..rotation(7, "2026-01-05T14:00:00Z")
        }
    }

    #[test]
    fn layers_take_over_in_their_local_hours() {
        let s = layered();
        // Wednesday 2 December 2026, noon New York (EST): the base.
        let noon = s.cover_at(at("2026-12-02T17:00:00Z"));
        assert_eq!(
            noon.as_ref().map(|c| (c.person, c.layer)),
            Some(("b", None))
        );
        // ... until the night layer opens at 17:00 local.
        assert_eq!(noon.and_then(|c| c.until), Some(at("2026-12-02T22:00:00Z")));
        // 20:00 local: the night layer, until 09:00 local next morning.
        let night = s.cover_at(at("2026-12-03T01:00:00Z"));
        assert_eq!(night.as_ref().map(|c| c.layer), Some(Some("nights")));
        assert_eq!(
            night.and_then(|c| c.until),
            Some(at("2026-12-03T14:00:00Z"))
        );
        // 03:00 local the next night still belongs to the night opened the day before.
        assert_eq!(
            s.cover_at(at("2026-12-03T08:00:00Z")).map(|c| c.layer),
            Some(Some("nights"))
        );
        // Saturday noon: the weekend layer sits above the nights; Friday 20:00
        // is a night until the weekend opens at midnight.
        assert_eq!(s.rotation_at(at("2026-12-05T17:00:00Z")), Some("w"));
        let friday = s.cover_at(at("2026-12-05T01:00:00Z"));
        assert_eq!(friday.as_ref().map(|c| c.layer), Some(Some("nights")));
        assert_eq!(
            friday.and_then(|c| c.until),
            Some(at("2026-12-05T05:00:00Z"))
        );
        // In summer the night still opens at 17:00 local (21:00 UTC).
        assert_eq!(
            s.cover_at(at("2026-07-08T20:59:00Z")).map(|c| c.layer),
            Some(None)
        );
        assert_eq!(
            s.cover_at(at("2026-07-08T21:00:00Z")).map(|c| c.layer),
            Some(Some("nights"))
        );
    }

    #[test]
    fn layer_hours_are_checked_at_load() {
        let with_layer = |layer: &str| {
            let layer = if layer.contains("rotation") {
                layer.to_string()
            } else {
                format!("rotation = [\"tess\"]\n{layer}")
            };
            let text = format!(
                "{EMBEDDED_DEFAULT}\n[[oncall.schedules]]\nname = \"layered\"\ndepartment = \"operations\"\nrotation = [\"olu\"]\nshift = \"1w\"\nhandoff = \"2026-01-05T14:00:00Z\"\n[[oncall.schedules.layers]]\nname = \"nights\"\nshift = \"1w\"\n{layer}\n"
            );
            Config::from_toml_str("test", &text)
                .map_err(|e| e.to_string())
                .and_then(|c| Org::from_config(&c).map_err(|(k, r)| format!("{k}: {r}")))
        };
        let ok = with_layer("days = [\"weekdays\"]\nfrom = \"17:00\"\nto = \"09:00\"");
        let org = ok.unwrap_or_else(|e| panic!("{e}"));
        let s = org
            .schedule("layered")
            .unwrap_or_else(|| panic!("no schedule"));
        assert_eq!(s.layers.len(), 1);
        let bad_day = with_layer("days = [\"someday\"]").err().unwrap_or_default();
        assert!(
            bad_day.contains("layers[0].days") && bad_day.contains("someday"),
            "{bad_day}"
        );
        let bad_time = with_layer("from = \"25:00\"\nto = \"09:00\"")
            .err()
            .unwrap_or_default();
        assert!(bad_time.contains("layers[0].from"), "{bad_time}");
        let half = with_layer("from = \"17:00\"").err().unwrap_or_default();
        assert!(half.contains("both"), "{half}");
        let stranger = with_layer("rotation = [\"nobody\"]")
            .err()
            .unwrap_or_default();
        assert!(
            stranger.contains("layers[0].rotation") && stranger.contains("nobody"),
            "{stranger}"
        );
    }

    #[test]
    fn shifts_of_hours_turn_over_every_shift_exactly() {
        let s = Schedule {
            shift: chrono::TimeDelta::hours(12),
            ..rotation(1, "2026-10-31T13:00:00Z")
        };
        assert_eq!(s.turnover(2), Some(at("2026-11-01T13:00:00Z")));
        assert_eq!(s.rotation_at(at("2026-11-01T12:59:00Z")), Some("b"));
        assert_eq!(s.rotation_at(at("2026-11-01T13:00:00Z")), Some("a"));
        assert_eq!(s.turnover(i64::MAX), None);
    }

    #[test]
    fn resolve_deduplicates_in_order() {
        let org = default_org().unwrap_or_else(|| panic!("default org invalid"));
        let targets = vec![
            Target::Department("marketing".into()),
            Target::Role(
                "director:marketing"
                    .parse()
                    .unwrap_or_else(|e: String| panic!("{e}")),
            ),
        ];
        let people = org.resolve(&targets, &[], &|_| None);
        assert_eq!(people.len(), 1);
    }

    fn with_person(handle: &str, department: &str, roles: &[&str]) -> String {
        let mut config =
            Config::from_toml_str("x", EMBEDDED_DEFAULT).unwrap_or_else(|e| panic!("{e}"));
        config.org.people.push(crate::config::PersonConfig {
            handle: handle.into(),
            name: "Other".into(),
            department: department.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            discord_id: None,
            email: None,
        });
        match Org::from_config(&config) {
            Ok(_) => String::new(),
            Err((key, reason)) => format!("{key}: {reason}"),
        }
    }

    #[test]
    fn bad_org_entries_are_refused_with_the_key() {
        let dup = with_person("maya", "marketing", &[]);
        assert!(dup.contains("duplicate person \"maya\""), "{dup}");
        let role = with_person("zed", "marketing", &["wizard"]);
        assert!(
            role.contains("roles[0]") && role.contains("unknown role"),
            "{role}"
        );
        let dept = with_person("zed", "moon", &[]);
        assert!(
            dept.contains("people[21].department") && dept.contains("unknown department"),
            "{dept}"
        );
        let second_director = with_person("zed", "marketing", &["director"]);
        assert!(
            second_director.contains("already has director"),
            "{second_director}"
        );
    }
}
