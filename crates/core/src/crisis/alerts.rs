//! Alerts from monitoring to incidents: what Prometheus Alertmanager,
//! Grafana or any JSON sender reports becomes an incident, or joins the one
//! already open for it.
//!
//! - An alert is known by its dedup key (the sender's fingerprint, else a
//!   key from its labels). A firing alert opens an incident, or attaches to
//!   the open one it already belongs to; sent twice, it attaches once.
//! - Fired again soon after its incident was resolved (`reopen_within`), it
//!   reopens that incident instead of opening another.
//! - When every alert of an incident is resolved, the incident is resolved
//!   if `auto_resolve` and the protocol allows (P1/P2 walk their phases by
//!   hand; the event says so).
//! - A storm (more than `storm_alerts` new alerts from one source within
//!   `storm_window`) joins one storm incident instead of paging for each.
//!
//! Parsing is pure; `ingest` runs one transaction for a whole request.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::WORKFLOW;
use super::config::AlertsConfig;
use super::model::{Severity, Status};
use super::service::{self, ENGINE_ACTOR, NewIncident, Source};
use super::store;
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::error::{Error, Result};

/// At most this many alerts in one request.
pub const MAX_ALERTS: usize = 1_000;
/// Dedup keys longer than this are refused (they are never that long).
const MAX_KEY: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert as the senders describe it, before the org's rules apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub dedup_key: String,
    pub summary: String,
    pub status: AlertStatus,
    /// "alertmanager", "grafana", or what a generic sender says.
    pub source: String,
    /// Explicit severity ("P2") or a label value ("critical").
    pub severity: Option<String>,
    /// Explicit department, or the department label's value.
    pub department: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub details: Value,
}

/// What happened to one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ingested {
    pub dedup_key: String,
    pub incident_id: Option<i64>,
    /// opened, attached, repeated, refired, reopened, grouped, storm_opened,
    /// resolved, incident_resolved, unknown.
    pub outcome: &'static str,
}

fn bad(why: impl Into<String>) -> Error {
    Error::invalid(why.into())
}

/// Text from a sender, made one safe line of at most `max` characters:
/// monitoring summaries are cut, not refused (refusing would lose the page).
fn one_line(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.chars().count() <= max {
        return cleaned;
    }
    let mut out: String = cleaned.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn string_map(v: Option<&Value>, what: &str) -> Result<BTreeMap<String, String>> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let Some(obj) = v.as_object() else {
        return Err(bad(format!("{what} must be an object of strings")));
    };
    obj.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            _ => Err(bad(format!("{what}.{k} must be a string"))),
        })
        .collect()
}

fn status_of(v: Option<&Value>, what: &str) -> Result<AlertStatus> {
    match v.and_then(Value::as_str) {
        Some("firing") => Ok(AlertStatus::Firing),
        Some("resolved") => Ok(AlertStatus::Resolved),
        Some(other) => Err(bad(format!(
            "{what} is {other:?}; it must be \"firing\" or \"resolved\""
        ))),
        None => Err(bad(format!(
            "{what} is missing (\"firing\" or \"resolved\")"
        ))),
    }
}

fn check_key(key: String, what: &str) -> Result<String> {
    if key.trim().is_empty() {
        return Err(bad(format!("{what} is empty")));
    }
    if key.chars().count() > MAX_KEY || key.chars().any(char::is_control) {
        return Err(bad(format!(
            "{what} must be one line of at most {MAX_KEY} characters"
        )));
    }
    Ok(key)
}

/// A Prometheus Alertmanager webhook (payload version 4) or a Grafana
/// alerting webhook: both carry an `alerts` array with status, labels,
/// annotations and a fingerprint.
pub fn parse_webhook(body: &[u8], source: &str) -> Result<Vec<Alert>> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    if let Some(version) = v.get("version").and_then(Value::as_str)
        && source == "alertmanager"
        && version != "4"
    {
        return Err(bad(format!(
            "Alertmanager payload version {version:?} is not supported (version 4 is)"
        )));
    }
    let Some(list) = v.get("alerts").and_then(Value::as_array) else {
        return Err(bad("the payload has no \"alerts\" array"));
    };
    if list.len() > MAX_ALERTS {
        return Err(bad(format!(
            "{} alerts in one request; at most {MAX_ALERTS}",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            let what = format!("alerts[{i}]");
            let labels = string_map(a.get("labels"), &format!("{what}.labels"))?;
            let annotations = string_map(a.get("annotations"), &format!("{what}.annotations"))?;
            let status = status_of(a.get("status"), &format!("{what}.status"))?;
            let key = match a.get("fingerprint").and_then(Value::as_str) {
                Some(f) if !f.is_empty() => format!("{source}:{f}"),
                _ if labels.is_empty() => {
                    return Err(bad(format!("{what} has neither a fingerprint nor labels")));
                }
                // Labels identify an alert in Alertmanager's model.
                _ => format!(
                    "{source}:{}",
                    labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            };
            let summary = annotations
                .get("summary")
                .or_else(|| annotations.get("description"))
                .or_else(|| labels.get("alertname"))
                .cloned()
                .unwrap_or_else(|| "Alert from monitoring".into());
            Ok(Alert {
                dedup_key: check_key(key, &format!("{what} fingerprint"))?,
                summary,
                status,
                source: source.to_string(),
                severity: None,
                department: None,
                labels,
                details: serde_json::json!({
                    "annotations": annotations,
                    "startsAt": a.get("startsAt"),
                    "generatorURL": a.get("generatorURL"),
                }),
            })
        })
        .collect()
}

/// The generic route: one object, or an array of them, each with
/// `dedup_key`, `summary`, `status` and optional `severity`, `department`,
/// `source`, `details`.
pub fn parse_generic(body: &[u8]) -> Result<Vec<Alert>> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let items: Vec<&Value> = match &v {
        Value::Array(list) => list.iter().collect(),
        Value::Object(_) => vec![&v],
        _ => return Err(bad("the body must be an alert object or an array of them")),
    };
    if items.len() > MAX_ALERTS {
        return Err(bad(format!(
            "{} alerts in one request; at most {MAX_ALERTS}",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let field = |name: &str| a.get(name).and_then(Value::as_str).map(str::to_string);
            let what = |name: &str| {
                if items.len() == 1 {
                    name.to_string()
                } else {
                    format!("[{i}].{name}")
                }
            };
            let key = field("dedup_key")
                .ok_or_else(|| bad(format!("{} is missing", what("dedup_key"))))?;
            let summary =
                field("summary").ok_or_else(|| bad(format!("{} is missing", what("summary"))))?;
            if summary.trim().is_empty() {
                return Err(bad(format!("{} is empty", what("summary"))));
            }
            let source = field("source").unwrap_or_else(|| "generic".into());
            Ok(Alert {
                dedup_key: check_key(format!("generic:{key}"), &what("dedup_key"))?,
                summary,
                status: status_of(a.get("status"), &what("status"))?,
                source: one_line(&source, 64),
                severity: field("severity"),
                department: field("department"),
                labels: BTreeMap::new(),
                details: a.get("details").cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

/// The alert's severity by the org's rules.
pub fn severity_of(alert: &Alert, rules: &AlertsConfig) -> Severity {
    let said = alert
        .severity
        .clone()
        .or_else(|| alert.labels.get(&rules.severity_label).cloned());
    said.and_then(|s| {
        s.parse::<Severity>().ok().or_else(|| {
            rules
                .severities
                .get(&s.to_lowercase())
                .and_then(|p| p.parse().ok())
        })
    })
    .or_else(|| rules.default_severity.parse().ok())
    .unwrap_or(Severity::P3)
}

/// The department the alert concerns, by the org's rules.
fn department_of(ctx: &Ctx, alert: &Alert, rules: &AlertsConfig) -> String {
    alert
        .department
        .clone()
        .or_else(|| alert.labels.get(&rules.department_label).cloned())
        .filter(|d| ctx.org.department(d).is_some())
        .unwrap_or_else(|| rules.default_department.clone())
}

/// Turn alerts into incidents, in one transaction.
pub async fn ingest(ctx: &Ctx, alerts: &[Alert]) -> Result<Vec<Ingested>> {
    let rules = super::config::settings(&ctx.config)?.alerts.clone();
    let mut tx = ctx.pool.begin().await?;
    let mut out = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let done = match alert.status {
            AlertStatus::Firing => fire(ctx, &mut tx, alert, &rules).await?,
            AlertStatus::Resolved => resolve(ctx, &mut tx, alert, &rules).await?,
        };
        out.push(done);
    }
    tx.commit().await?;
    Ok(out)
}

async fn note(
    conn: &mut sqlx::PgConnection,
    ctx: &Ctx,
    incident_id: i64,
    action: &str,
    alert: &Alert,
) -> Result<()> {
    events::append(
        conn,
        &NewEvent::new(
            WORKFLOW,
            "incident",
            incident_id.to_string(),
            action,
            ENGINE_ACTOR,
        )
        .reason(one_line(&alert.summary, ctx.config.limits.title_chars))
        .correlation(Some(format!("incident:{incident_id}")))
        .payload(serde_json::json!({ "dedup_key": alert.dedup_key, "source": alert.source })),
        ctx.now(),
    )
    .await?;
    Ok(())
}

async fn fire(
    ctx: &Ctx,
    conn: &mut sqlx::PgConnection,
    alert: &Alert,
    rules: &AlertsConfig,
) -> Result<Ingested> {
    let now = ctx.now();
    let key = alert.dedup_key.as_str();
    let summary = one_line(&alert.summary, ctx.config.limits.title_chars);
    let labels = serde_json::to_value(&alert.labels).unwrap_or(Value::Null);
    let done = |incident_id: i64, outcome| Ingested {
        dedup_key: key.to_string(),
        incident_id: Some(incident_id),
        outcome,
    };
    store::lock_alert_key(conn, key).await?;
    if let Some(known) = store::alert(conn, key).await? {
        let inc = store::get(conn, known.incident_id).await?;
        let reopen_until = inc.resolved_at.map(|at| at + rules.reopen_within.delta());
        match inc.status {
            Status::Triggered | Status::Acknowledged => {
                store::upsert_alert(conn, key, &alert.source, inc.id, &summary, &labels, now)
                    .await?;
                if known.status == "firing" {
                    return Ok(done(inc.id, "repeated"));
                }
                note(conn, ctx, inc.id, "alert_refired", alert).await?;
                return Ok(done(inc.id, "refired"));
            }
            Status::Resolved if reopen_until.is_some_and(|until| now <= until) => {
                service::reopen_in(ctx, conn, inc.id, &format!("alert fired again: {summary}"))
                    .await?;
                store::upsert_alert(conn, key, &alert.source, inc.id, &summary, &labels, now)
                    .await?;
                return Ok(done(inc.id, "reopened"));
            }
            // Resolved long ago or closed: a new incident.
            _ => {}
        }
    }
    let window_start = now - rules.storm_window.delta();
    let recent = store::recent_alerts_from(conn, &alert.source, window_start).await?;
    let severity = severity_of(alert, rules);
    let department = department_of(ctx, alert, rules);
    if rules.storm_alerts > 0 && recent >= i64::from(rules.storm_alerts) {
        let storm_key = format!("storm:{}", alert.source);
        if let Some(storm) = store::open_for_trigger(conn, &storm_key).await? {
            store::upsert_alert(conn, key, &alert.source, storm.id, &summary, &labels, now).await?;
            note(conn, ctx, storm.id, "alert_grouped", alert).await?;
            return Ok(done(storm.id, "grouped"));
        }
        let new = NewIncident {
            title: one_line(
                &format!(
                    "Alert storm from {}: over {} alerts in {}",
                    alert.source, rules.storm_alerts, rules.storm_window
                ),
                ctx.config.limits.title_chars,
            ),
            description: format!("First grouped alert: {summary}"),
            severity,
            source: Source::Alert,
            source_ref: Some(storm_key.clone()),
            departments: vec![department.clone()],
            commander: None,
            trigger_key: Some(storm_key),
        };
        if let Some(inc) = service::open_in(ctx, conn, &new, ENGINE_ACTOR).await? {
            store::upsert_alert(conn, key, &alert.source, inc.id, &summary, &labels, now).await?;
            return Ok(done(inc.id, "storm_opened"));
        }
    }
    let trigger = format!("alert:{key}");
    let description = match &alert.details {
        Value::Null => String::new(),
        d => one_line(&d.to_string(), 2_000),
    };
    let new = NewIncident {
        title: summary.clone(),
        description,
        severity,
        source: Source::Alert,
        source_ref: Some(key.to_string()),
        departments: vec![department],
        commander: None,
        trigger_key: Some(trigger.clone()),
    };
    let (inc, outcome) = match service::open_in(ctx, conn, &new, ENGINE_ACTOR).await? {
        Some(inc) => (inc, "opened"),
        // Its incident is open under the same key: join it.
        None => match store::open_for_trigger(conn, &trigger).await? {
            Some(inc) => (inc, "attached"),
            None => {
                return Err(Error::internal(format!(
                    "alert {key}: no incident to attach to"
                )));
            }
        },
    };
    store::upsert_alert(conn, key, &alert.source, inc.id, &summary, &labels, now).await?;
    if outcome == "attached" {
        note(conn, ctx, inc.id, "alert_attached", alert).await?;
    }
    Ok(done(inc.id, outcome))
}

async fn resolve(
    ctx: &Ctx,
    conn: &mut sqlx::PgConnection,
    alert: &Alert,
    rules: &AlertsConfig,
) -> Result<Ingested> {
    let key = alert.dedup_key.as_str();
    store::lock_alert_key(conn, key).await?;
    let Some(known) = store::alert(conn, key).await? else {
        return Ok(Ingested {
            dedup_key: key.to_string(),
            incident_id: None,
            outcome: "unknown",
        });
    };
    let done = |outcome| Ingested {
        dedup_key: key.to_string(),
        incident_id: Some(known.incident_id),
        outcome,
    };
    if known.status == "resolved" {
        return Ok(done("repeated"));
    }
    store::resolve_alert(conn, key, ctx.now()).await?;
    note(conn, ctx, known.incident_id, "alert_resolved", alert).await?;
    let (firing, total) = store::alerts_firing(conn, known.incident_id).await?;
    if firing > 0 || !rules.auto_resolve {
        return Ok(done("resolved"));
    }
    let inc = store::get(conn, known.incident_id).await?;
    if !matches!(inc.status, Status::Triggered | Status::Acknowledged) {
        return Ok(done("resolved"));
    }
    let note_text = format!("monitoring: all {total} alert(s) resolved");
    match service::recovered_in(ctx, conn, inc.id, &note_text).await {
        Ok(_) => Ok(done("incident_resolved")),
        // The protocol keeps it open (a P1/P2 mid-phase): say so on it.
        Err(Error::Invalid(why)) => {
            events::append(
                conn,
                &NewEvent::new(
                    WORKFLOW,
                    "incident",
                    inc.id.to_string(),
                    "alerts_cleared",
                    ENGINE_ACTOR,
                )
                .reason(format!("{note_text}; still open: {why}"))
                .correlation(Some(format!("incident:{}", inc.id))),
                ctx.now(),
            )
            .await?;
            Ok(done("resolved"))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALERTMANAGER: &str = r#"{
      "version": "4", "groupKey": "{}:{alertname=\"CheckoutErrors\"}", "status": "firing",
      "receiver": "vivid", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
      "externalURL": "http://am:9093", "truncatedAlerts": 0,
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "CheckoutErrors", "severity": "critical", "team": "technology"},
        "annotations": {"summary": "Checkout 5xx above 5%"},
        "startsAt": "2026-12-02T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prom/graph", "fingerprint": "a1b2c3"
      }]
    }"#;

    #[test]
    fn an_alertmanager_payload_becomes_alerts_keyed_by_fingerprint() {
        let alerts = parse_webhook(ALERTMANAGER.as_bytes(), "alertmanager").unwrap_or_default();
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.dedup_key, "alertmanager:a1b2c3");
        assert_eq!(a.summary, "Checkout 5xx above 5%");
        assert_eq!(a.status, AlertStatus::Firing);
        let rules = AlertsConfig::default();
        assert_eq!(severity_of(a, &rules), Severity::P1);
    }

    #[test]
    fn malformed_payloads_say_what_is_wrong() {
        let err = |body: &str, source: &str| {
            parse_webhook(body.as_bytes(), source)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err("not json", "grafana").contains("not JSON"));
        assert!(err("{}", "grafana").contains("no \"alerts\" array"));
        assert!(err(r#"{"version":"3","alerts":[]}"#, "alertmanager").contains("version \"3\""));
        assert!(
            err(
                r#"{"alerts":[{"status":"on fire","fingerprint":"x"}]}"#,
                "grafana"
            )
            .contains("alerts[0].status is \"on fire\"")
        );
        assert!(
            err(r#"{"alerts":[{"status":"firing"}]}"#, "grafana")
                .contains("neither a fingerprint nor labels")
        );
        let generic = |body: &str| {
            parse_generic(body.as_bytes())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(generic(r#"{"summary":"x","status":"firing"}"#).contains("dedup_key is missing"));
        assert!(
            generic(r#"{"dedup_key":"k","summary":" ","status":"firing"}"#)
                .contains("summary is empty")
        );
        assert!(generic("42").contains("alert object or an array"));
    }

    #[test]
    fn without_a_fingerprint_the_labels_are_the_key() {
        let body = r#"{"alerts":[{"status":"resolved","labels":{"b":"2","a":"1"}}]}"#;
        let alerts = parse_webhook(body.as_bytes(), "grafana").unwrap_or_default();
        assert_eq!(alerts[0].dedup_key, "grafana:a=1,b=2");
        assert_eq!(alerts[0].summary, "Alert from monitoring");
        assert_eq!(alerts[0].status, AlertStatus::Resolved);
    }

    #[test]
    fn severities_come_from_the_field_the_label_or_the_default() {
        let rules = AlertsConfig::default();
        let mut a =
            parse_generic(br#"{"dedup_key":"k","summary":"s","status":"firing","severity":"P2"}"#)
                .unwrap_or_default()
                .remove(0);
        assert_eq!(severity_of(&a, &rules), Severity::P2);
        a.severity = Some("WARNING".into());
        assert_eq!(severity_of(&a, &rules), Severity::P3);
        a.severity = Some("whatever".into());
        assert_eq!(severity_of(&a, &rules), Severity::P3);
        a.severity = None;
        a.labels.insert("severity".into(), "info".into());
        assert_eq!(severity_of(&a, &rules), Severity::P4);
    }

    #[test]
    fn summaries_from_senders_are_one_safe_bounded_line() {
        assert_eq!(one_line("a\u{1b}[31m b\n\tc", 50), "a [31m b c");
        assert_eq!(
            one_line(&"x".repeat(300), 10),
            format!("{}…", "x".repeat(9))
        );
    }
}
