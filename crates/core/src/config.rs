//! Configuration: `config/default.toml` (embedded in the binary, or the file
//! in the working directory's `config/`), then `config/local.toml`, then an
//! extra file (`--config` / `VIVID_CONFIG`), then `VIVID__SECTION__KEY`
//! environment variables. Secrets come only from the environment.
//!
//! Every problem names the file, the key and the reason, and stops start-up.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::duration::HumanDuration;

/// The defaults shipped with the binary, so a first run needs no files.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../config/default.toml");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "config error in {}: {}", self.file, self.reason)
        } else {
            write!(
                f,
                "config error in {}: key `{}`: {}",
                self.file, self.key, self.reason
            )
        }
    }
}

/// The whole configuration, validated: the organisation and the shared
/// engine's settings here, each workflow's own section through the
/// workflow list (`crate::workflow`), so this file names no workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who the control room acts as when no `--as` is given.
    #[serde(default)]
    pub operator: Option<String>,
    pub org: OrgConfig,
    /// How much text a field may hold (titles, notes, bodies).
    #[serde(default)]
    pub limits: crate::text::Limits,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub oncall: OnCallConfig,
    #[serde(default)]
    pub escalation: EscalationConfig,
    #[serde(default)]
    pub approvals: ApprovalsConfig,
    #[serde(default)]
    pub simulate: SimulateConfig,
    #[serde(default)]
    pub discord: DiscordConfig,
    #[serde(default)]
    pub handoffs: HandoffsConfig,
    /// Paging people: urgencies, notification rules, channels.
    #[serde(default)]
    pub notify: crate::notify::NotifyConfig,
    /// The workflows' own sections (`[crisis]`, `[content]`, ...).
    #[serde(skip)]
    sections: Sections,
}

/// A workflow's own table in the configuration. The workflow declares it
/// (its type, its key) and hands a [`SectionSpec`] to the workflow list;
/// services read it with [`Config::section`].
pub trait Section:
    Serialize + serde::de::DeserializeOwned + fmt::Debug + Clone + Send + Sync + 'static
{
    /// The table's name: `[crisis]` is "crisis".
    const KEY: &'static str;
}

/// A parsed section, whatever its type.
trait AnySection: Any + fmt::Debug + Send + Sync {
    fn clone_box(&self) -> Box<dyn AnySection>;
    fn to_toml(&self) -> Option<toml::Value>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Section> AnySection for T {
    fn clone_box(&self) -> Box<dyn AnySection> {
        Box::new(self.clone())
    }
    fn to_toml(&self) -> Option<toml::Value> {
        toml::Value::try_from(self).ok()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The parsed sections by key.
#[derive(Debug, Default)]
struct Sections(BTreeMap<&'static str, Box<dyn AnySection>>);

impl Clone for Sections {
    fn clone(&self) -> Self {
        Self(self.0.iter().map(|(k, v)| (*k, v.clone_box())).collect())
    }
}

/// Parses a section's table; errors are (path inside it, reason).
type ParseSection = fn(toml::Value) -> Result<Box<dyn AnySection>, (String, String)>;

/// How to read one section: its key and its parser.
#[derive(Clone, Copy)]
pub struct SectionSpec {
    pub key: &'static str,
    parse: ParseSection,
}

impl fmt::Debug for SectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SectionSpec")
            .field("key", &self.key)
            .finish()
    }
}

impl SectionSpec {
    pub fn of<T: Section>() -> Self {
        fn parse<T: Section>(value: toml::Value) -> Result<Box<dyn AnySection>, (String, String)> {
            let typed: T = serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                (path, e.into_inner().to_string())
            })?;
            Ok(Box::new(typed))
        }
        Self {
            key: T::KEY,
            parse: parse::<T>,
        }
    }
}

impl Config {
    /// A workflow's section. Every listed workflow's section is parsed when
    /// the configuration loads, so a miss is a bug (a workflow missing from
    /// the list), reported as an internal error.
    pub fn section<T: Section>(&self) -> crate::Result<&T> {
        self.sections
            .0
            .get(T::KEY)
            .and_then(|s| s.as_any().downcast_ref::<T>())
            .ok_or_else(|| {
                crate::Error::internal(format!(
                    "the [{}] configuration section was not loaded (is its workflow in the list?)",
                    T::KEY
                ))
            })
    }

    /// A section to change (tests shrink clocks this way).
    pub fn section_mut<T: Section>(&mut self) -> Option<&mut T> {
        self.sections
            .0
            .get_mut(T::KEY)
            .and_then(|s| s.as_any_mut().downcast_mut::<T>())
    }
}

/// Typed hand-offs between departments, each with a response SLA.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffsConfig {
    #[serde(default)]
    pub kinds: BTreeMap<String, HandoffKindConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffKindConfig {
    pub from: String,
    pub to: String,
    /// Time the receiving department has to acknowledge.
    pub sla: HumanDuration,
    /// Escalation policy started on a breach.
    pub policy: String,
}

/// The Discord bot's settings (secrets come from DISCORD_TOKEN and
/// DISCORD_PUBLIC_KEY in the environment, never from here).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// Discord's REST API; tests point this at a local server.
    pub api_base: String,
    /// The application (bot) id, for registering slash commands.
    pub application_id: Option<String>,
    /// Register commands in this guild only (instant), else globally.
    pub guild_id: Option<String>,
    /// Logical channel name (as used by notifications, e.g. "incidents",
    /// "status-page", "content-review") -> Discord channel id.
    pub channels: BTreeMap<String, String>,
    /// Send notifications addressed to a person as a direct message.
    pub direct_messages: bool,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            api_base: "https://discord.com/api/v10".into(),
            application_id: None,
            guild_id: None,
            channels: BTreeMap::new(),
            direct_messages: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    pub name: String,
    /// IANA time zone for business hours, e.g. "America/New_York".
    pub timezone: String,
    pub business_hours: BusinessHours,
    pub departments: Vec<DepartmentConfig>,
    pub people: Vec<PersonConfig>,
    /// Days the business is closed (see `calendar`).
    #[serde(default)]
    pub holidays: Vec<crate::calendar::HolidayConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// "09:00"
    pub start: String,
    /// "17:00"
    pub end: String,
    /// ["Mon", "Tue", ...]
    pub days: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentConfig {
    pub key: String,
    pub name: String,
    /// The department's own hours, when they differ from `org.business_hours`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    pub handle: String,
    pub name: String,
    pub department: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub discord_id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// How often an idle engine looks for due work (it also wakes on NOTIFY).
    pub poll_interval: HumanDuration,
    /// Timers claimed per transaction.
    pub timer_batch: u32,
    /// Times a failing timer is retried before it is marked failed.
    pub timer_max_attempts: u32,
    /// Notifications claimed per round.
    pub outbox_batch: u32,
    pub outbox_max_attempts: u32,
    /// First retry delay; doubles on each attempt up to `outbox_backoff_max`.
    pub outbox_backoff: HumanDuration,
    pub outbox_backoff_max: HumanDuration,
    /// How long a claimed notification is hidden from other engines.
    pub outbox_lease: HumanDuration,
    pub heartbeat: HumanDuration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            poll_interval: HumanDuration::from_secs(1),
            timer_batch: 500,
            timer_max_attempts: 5,
            outbox_batch: 100,
            outbox_max_attempts: 8,
            outbox_backoff: HumanDuration::from_secs(2),
            outbox_backoff_max: HumanDuration::from_secs(600),
            outbox_lease: HumanDuration::from_secs(60),
            heartbeat: HumanDuration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallConfig {
    #[serde(default)]
    pub schedules: Vec<ScheduleConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub name: String,
    pub department: String,
    /// Handles, in rotation order.
    pub rotation: Vec<String>,
    /// Length of one shift, e.g. "1w".
    pub shift: HumanDuration,
    /// A moment when the first person in `rotation` took over (RFC 3339).
    pub handoff: chrono::DateTime<chrono::Utc>,
    /// Layers above the base rotation, lowest first: each takes over in
    /// its hours (e.g. nights, weekends).
    #[serde(default)]
    pub layers: Vec<LayerConfig>,
}

/// `[[oncall.schedules.layers]]`: a rotation on call only in its hours.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    pub name: String,
    /// Handles, in rotation order.
    pub rotation: Vec<String>,
    /// Length of one shift, e.g. "1w".
    pub shift: HumanDuration,
    /// When the first person took over (default: the schedule's).
    #[serde(default)]
    pub handoff: Option<chrono::DateTime<chrono::Utc>>,
    /// "mon".."sun", "weekdays", "weekends" (default: every day).
    #[serde(default)]
    pub days: Vec<String>,
    /// Local start of its hours, "HH:MM".
    #[serde(default)]
    pub from: Option<String>,
    /// Local end, "HH:MM"; not after `from`: the next day.
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    #[serde(default)]
    pub policies: BTreeMap<String, EscalationPolicyConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicyConfig {
    pub levels: Vec<EscalationLevelConfig>,
    /// Times the whole ladder runs again after the last level (0 = once).
    #[serde(default)]
    pub repeat: u32,
    /// Wait after the last level before a repeat starts.
    #[serde(default = "default_repeat_after")]
    pub repeat_after: HumanDuration,
}

fn default_repeat_after() -> HumanDuration {
    HumanDuration::from_secs(15 * 60)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevelConfig {
    /// Wait before this level is notified (after the previous one).
    pub delay: HumanDuration,
    /// "person:HANDLE", "role:director:marketing", "role:director:*",
    /// "role:business_manager", "schedule:NAME", "department:KEY".
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// Default time approvers have to decide.
    pub deadline: HumanDuration,
    /// A reminder goes out this long before the deadline.
    pub remind_before: HumanDuration,
    /// Time each level an overdue request is re-routed to (the deciding
    /// roles' directors, then the Business Manager) has to decide.
    pub reroute_window: HumanDuration,
    /// Policy that pages once every level let its deadline pass.
    pub escalation_policy: String,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            deadline: HumanDuration::from_secs(24 * 3600),
            remind_before: HumanDuration::from_secs(4 * 3600),
            reroute_window: HumanDuration::from_secs(8 * 3600),
            escalation_policy: "approval-overdue".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulateConfig {
    /// Seed for the deterministic demo data and simulator.
    pub seed: u64,
}

impl Default for SimulateConfig {
    fn default() -> Self {
        Self { seed: 20_260_701 }
    }
}

/// Where configuration is read from.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Directory holding default.toml / local.toml; default `./config`.
    pub dir: Option<PathBuf>,
    /// An extra file applied after local.toml.
    pub extra_file: Option<PathBuf>,
    /// Environment overrides as (name, value); normally `std::env::vars()`.
    pub env: Vec<(String, String)>,
}

impl LoadOptions {
    /// Read from the process: `VIVID_CONFIG_DIR`, `VIVID_CONFIG`, `VIVID__*`.
    pub fn from_env() -> Self {
        Self {
            dir: std::env::var_os("VIVID_CONFIG_DIR").map(PathBuf::from),
            extra_file: std::env::var_os("VIVID_CONFIG").map(PathBuf::from),
            env: std::env::vars().collect(),
        }
    }
}

/// One source of settings, kept to say which file a bad key came from.
struct Layer {
    name: String,
    table: toml::Table,
}

impl Config {
    /// Load, merge and validate.
    pub fn load(opts: &LoadOptions) -> Result<Self, ConfigError> {
        let dir = opts.dir.clone().unwrap_or_else(|| PathBuf::from("config"));
        let mut layers = Vec::new();
        let default_path = dir.join("default.toml");
        if default_path.exists() {
            layers.push(read_layer(&default_path)?);
        } else {
            layers.push(parse_layer(
                "built-in config/default.toml",
                EMBEDDED_DEFAULT,
            )?);
        }
        let local = dir.join("local.toml");
        if local.exists() {
            layers.push(read_layer(&local)?);
        }
        if let Some(extra) = &opts.extra_file {
            if !extra.exists() {
                return Err(ConfigError {
                    file: extra.display().to_string(),
                    key: String::new(),
                    reason: "the file does not exist".into(),
                });
            }
            layers.push(read_layer(extra)?);
        }
        if let Some(env_layer) = env_layer(&opts.env)? {
            layers.push(env_layer);
        }
        Self::from_layers(&layers)
    }

    /// Parse one TOML document on its own (tests, tools).
    pub fn from_toml_str(name: &str, text: &str) -> Result<Self, ConfigError> {
        Self::from_layers(&[parse_layer(name, text)?])
    }

    fn from_layers(layers: &[Layer]) -> Result<Self, ConfigError> {
        let mut merged = toml::Table::new();
        for layer in layers {
            merge(&mut merged, &layer.table);
        }
        let blame = |key: &str| -> String {
            let segments = key_segments(key);
            layers
                .iter()
                .rev()
                .find(|l| defines(&l.table, &segments))
                .or_else(|| layers.last())
                .map(|l| l.name.clone())
                .unwrap_or_default()
        };
        // The workflows' sections are parsed by their own types; what is
        // left must be the shared settings (unknown keys are refused there).
        let specs = crate::workflow::sections();
        let mut raw_sections = Vec::with_capacity(specs.len());
        for spec in &specs {
            let table = merged
                .remove(spec.key)
                .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
            raw_sections.push((spec, table));
        }
        let value = toml::Value::Table(merged);
        let mut config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            ConfigError {
                file: blame(&key),
                reason: e.into_inner().to_string(),
                key,
            }
        })?;
        for (spec, table) in raw_sections {
            let parsed = (spec.parse)(table).map_err(|(path, reason)| {
                let key = if path.is_empty() {
                    spec.key.to_string()
                } else {
                    format!("{}.{path}", spec.key)
                };
                ConfigError {
                    file: blame(&key),
                    key,
                    reason,
                }
            })?;
            config.sections.0.insert(spec.key, parsed);
        }
        config.validate().map_err(|(key, reason)| ConfigError {
            file: blame(&key),
            key,
            reason,
        })?;
        Ok(config)
    }

    /// Semantic checks: the org is consistent and every reference resolves.
    fn validate(&self) -> Result<(), (String, String)> {
        let org = crate::org::Org::from_config(self)?;
        crate::calendar::Calendar::from_config(&self.org)?;
        crate::engine::handoffs::validate_config(self, &org)?;
        crate::notify::config::validate(self)?;
        for workflow in crate::workflow::all() {
            workflow.validate(self, &org)?;
        }
        Ok(())
    }

    /// A TOML rendering of the effective configuration.
    pub fn to_toml(&self) -> String {
        let mut table = match toml::Value::try_from(self) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        for (key, section) in &self.sections.0 {
            if let Some(value) = section.to_toml() {
                table.insert((*key).to_string(), value);
            }
        }
        toml::to_string_pretty(&table).unwrap_or_default()
    }
}

fn read_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        key: String::new(),
        reason: format!("cannot read it: {e}"),
    })?;
    parse_layer(&path.display().to_string(), &text)
}

fn parse_layer(name: &str, text: &str) -> Result<Layer, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError {
        file: name.to_string(),
        key: String::new(),
        reason: format!("not valid TOML: {}", e.message()),
    })?;
    Ok(Layer {
        name: name.to_string(),
        table,
    })
}

/// `VIVID__ENGINE__POLL_INTERVAL=250ms` sets `engine.poll_interval`.
fn env_layer(env: &[(String, String)]) -> Result<Option<Layer>, ConfigError> {
    let mut table = toml::Table::new();
    let mut names = Vec::new();
    for (name, raw) in env {
        let Some(path) = name.strip_prefix("VIVID__") else {
            continue;
        };
        let segments: Vec<String> = path.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(ConfigError {
                file: format!("environment variable {name}"),
                key: String::new(),
                reason: "empty key segment (use VIVID__SECTION__KEY)".into(),
            });
        }
        // A value that parses as TOML keeps its type; anything else is a string.
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.clone()));
        insert_path(&mut table, &segments, value);
        names.push(name.clone());
    }
    if names.is_empty() {
        return Ok(None);
    }
    Ok(Some(Layer {
        name: format!("environment ({})", names.join(", ")),
        table,
    }))
}

fn insert_path(table: &mut toml::Table, segments: &[String], value: toml::Value) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut cur = table;
    for seg in parents {
        let entry = cur
            .entry(seg.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        cur = next;
    }
    cur.insert(last.clone(), value);
}

/// Tables merge key by key; anything else (arrays included) is replaced.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// "org.people[3].handle" -> ["org", "people", "3", "handle"]
fn key_segments(key: &str) -> Vec<String> {
    key.split(['.', '[', ']'])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn defines(table: &toml::Table, segments: &[String]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return false;
    };
    let mut cur = match table.get(first) {
        Some(v) => v,
        None => return false,
    };
    for seg in rest {
        let next = match cur {
            toml::Value::Table(t) => t.get(seg),
            toml::Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            // The layer defines a parent that was replaced wholesale.
            None => return matches!(cur, toml::Value::Array(_)),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(extra: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!(
            "vivid-config-test-{}-{}",
            std::process::id(),
            extra.len() + env.len() * 1000
        ));
        std::fs::create_dir_all(&dir).map_err(|e| ConfigError {
            file: dir.display().to_string(),
            key: String::new(),
            reason: e.to_string(),
        })?;
        let file = dir.join("override.toml");
        std::fs::write(&file, extra).map_err(|e| ConfigError {
            file: file.display().to_string(),
            key: String::new(),
            reason: e.to_string(),
        })?;
        Config::load(&LoadOptions {
            dir: Some(dir.clone()),
            extra_file: Some(file),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    #[test]
    fn the_shipped_default_is_valid() {
        let config = Config::from_toml_str("default", EMBEDDED_DEFAULT);
        assert!(config.is_ok(), "{config:?}");
    }

    #[test]
    fn a_bad_duration_names_file_key_and_reason() {
        let err = load_with("[engine]\npoll_interval = \"15x\"\n", &[]).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("override.toml"), "{msg}");
        assert!(msg.contains("engine.poll_interval"), "{msg}");
        assert!(msg.contains("unknown unit"), "{msg}");
    }

    #[test]
    fn env_overrides_win_and_are_blamed() {
        let config = load_with("", &[("VIVID__ENGINE__TIMER_BATCH", "42")]);
        assert_eq!(config.map(|c| c.engine.timer_batch).ok(), Some(42));
        let err = load_with("", &[("VIVID__ENGINE__POLL_INTERVAL", "soon")]).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("VIVID__ENGINE__POLL_INTERVAL"), "{msg}");
    }

    #[test]
    fn unknown_sections_are_refused() {
        let err = load_with("[engin]\npoll_interval = \"1s\"\n", &[]).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("unknown field `engin`"), "{msg}");
    }

    #[test]
    fn malformed_toml_is_refused() {
        let err = load_with("[engine\n", &[]).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("not valid TOML"), "{msg}");
    }
}
