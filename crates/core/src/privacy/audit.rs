//! Regular audits. One audit is one transaction: gather facts, judge them
//! (pure), purge what is past retention, record the audit (the
//! documentation record), record or re-see findings, and open a privacy
//! incident in the crisis workflow for findings whose rule says so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::anomaly::{self, Thresholds};
use super::classify::{Classifier, Detector};
use super::config::PrivacyConfig;
use super::service;
use super::store::{self, Audit, Finding};
use crate::crisis::service::{NewIncident, Source};
use crate::duration::format_delta;
use crate::engine::Ctx;
use crate::engine::timers::{HandlerFuture, Timer};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Scheduled,
    Manual,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
        }
    }
}

/// Every kind of finding an audit raises.
pub const FINDING_KINDS: &[&str] = &[
    "unencrypted_pii",
    "undecryptable_pii",
    "stale_key_wrap",
    "unclassified_field",
    "pii_in_clear",
    "access_anomaly",
    "refused_reads",
    "retention_overdue",
    "request_near_deadline",
    "request_overdue",
];

/// Findings whose condition can simply stop (a request completed, a rule
/// added): resolved by the audit that no longer sees them. The others
/// (anomalies, PII in the clear) need a person to say what was done.
const SELF_CLEARING: &[&str] = &[
    "request_near_deadline",
    "request_overdue",
    "retention_overdue",
    "stale_key_wrap",
    "unclassified_field",
];

/// Everything an audit looks at, gathered from the database.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    pub master_version: Option<i32>,
    pub sealed_values: i64,
    pub subjects: i64,
    pub erased_subjects: i64,
    /// (subject, field) whose stored bytes cannot be a sealed value.
    pub unsealed: Vec<(String, String)>,
    /// Active subjects with sealed fields but no live data key.
    pub keyless: Vec<String>,
    /// Data keys wrapped by a master version that is not the current one.
    pub stale_wraps: i64,
    /// (store, field, category) of every field held.
    pub stored_fields: Vec<(String, String, String)>,
    /// (field, detector, count): PII-shaped values found in analytics.
    pub clear_values: Vec<(String, String, i64)>,
    /// (where, rows): e-mail-shaped text in events or notifications since the last audit.
    pub leaks: Vec<(String, i64)>,
    pub rows_scanned: i64,
    /// person -> (reads in the window, reads per earlier window).
    pub reads: BTreeMap<String, (u64, Vec<u64>)>,
    pub refused: BTreeMap<String, u64>,
    /// (category, store, records, cutoff): past retention.
    pub overdue: Vec<(String, String, i64, DateTime<Utc>)>,
    /// (id, subject, kind, due).
    pub open_requests: Vec<(i64, String, String, DateTime<Utc>)>,
}

/// A finding before it is recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub kind: &'static str,
    pub severity: &'static str,
    pub condition: String,
    pub person: Option<String>,
    pub subject_ref: Option<String>,
    pub detail: String,
    pub facts: serde_json::Value,
    /// Reads over baseline, for severity rules.
    pub ratio: Option<f64>,
}

fn draft(kind: &'static str, severity: &'static str, condition: String, detail: String) -> Draft {
    Draft {
        kind,
        severity,
        condition,
        person: None,
        subject_ref: None,
        detail,
        facts: serde_json::json!({}),
        ratio: None,
    }
}

/// Judge the facts: pure.
pub fn evaluate(f: &Facts, config: &PrivacyConfig, now: DateTime<Utc>) -> Vec<Draft> {
    let classifier = Classifier::new(config);
    let mut out = Vec::new();
    for (subject, field) in &f.unsealed {
        let mut d = draft(
            "unencrypted_pii",
            "high",
            format!("unencrypted_pii:{subject}:{field}"),
            format!("`{field}` of {subject} is stored in the PII vault but is not a sealed value"),
        );
        d.subject_ref = Some(subject.clone());
        out.push(d);
    }
    for subject in &f.keyless {
        let mut d = draft(
            "undecryptable_pii",
            "high",
            format!("undecryptable_pii:{subject}"),
            format!(
                "{subject} is active but has sealed fields and no data key: their data cannot be read or erased properly"
            ),
        );
        d.subject_ref = Some(subject.clone());
        out.push(d);
    }
    if f.stale_wraps > 0 {
        out.push(draft(
            "stale_key_wrap",
            "medium",
            "stale_key_wrap".into(),
            format!(
                "{} data key(s) are wrapped by a retired master key version; run `vivid privacy rotate-key`",
                f.stale_wraps
            ),
        ));
    }
    for (store, field, category) in &f.stored_fields {
        match classifier.classify(field) {
            None => out.push(draft(
                "unclassified_field",
                "medium",
                format!("unclassified_field:{store}:{field}"),
                format!("`{field}` ({store}, collected as {category}) matches no classification rule today"),
            )),
            Some(c) if c.pii && store == "analytics" => out.push(draft(
                "pii_in_clear",
                "high",
                format!("pii_in_clear:field:{field}"),
                format!("`{field}` is PII by today's rules ({}) but is held in the clear in analytics", c.category),
            )),
            Some(_) => {}
        }
    }
    for (field, detector, count) in &f.clear_values {
        let mut d = draft(
            "pii_in_clear",
            "high",
            format!("pii_in_clear:value:{field}:{detector}"),
            format!("{count} analytics value(s) of `{field}` look like {detector}"),
        );
        d.facts = serde_json::json!({ "field": field, "detector": detector, "count": count });
        out.push(d);
    }
    for (place, rows) in &f.leaks {
        let mut d = draft(
            "pii_in_clear",
            "high",
            format!("pii_in_clear:{place}"),
            format!("{rows} row(s) of the {place} contain an e-mail address"),
        );
        d.facts = serde_json::json!({ "where": place, "rows": rows });
        out.push(d);
    }
    let t = Thresholds {
        ratio: config.anomaly.ratio,
        min_reads: u64::from(config.anomaly.min_reads),
    };
    let window = config.anomaly.window.to_string();
    for (person, (current, baseline)) in &f.reads {
        if let Some(a) = anomaly::detect(*current, baseline, t) {
            let mut d = draft(
                "access_anomaly",
                "high",
                format!("access_anomaly:{person}"),
                format!(
                    "@{person} read personal data {} time(s) in the last {window}: {:.1}x their baseline of {:.1} per {window}",
                    a.reads, a.ratio, a.baseline
                ),
            );
            d.person = Some(person.clone());
            d.ratio = Some(a.ratio);
            d.facts = serde_json::json!({ "reads": a.reads, "baseline": a.baseline, "ratio": a.ratio, "window": window });
            out.push(d);
        }
    }
    for (person, refused) in &f.refused {
        if *refused >= u64::from(config.anomaly.refused_reads.max(1)) {
            let mut d = draft(
                "refused_reads",
                "medium",
                format!("refused_reads:{person}"),
                format!(
                    "@{person} was refused {refused} read(s) of personal data in the last {window}"
                ),
            );
            d.person = Some(person.clone());
            d.facts = serde_json::json!({ "refused": refused });
            out.push(d);
        }
    }
    for (category, store, records, cutoff) in &f.overdue {
        if *records > 0 && !config.retention_purge {
            out.push(draft(
                "retention_overdue",
                "medium",
                format!("retention_overdue:{category}:{store}"),
                format!(
                    "{records} {category} record(s) in {store} were collected before {} and are past retention",
                    cutoff.format("%Y-%m-%d")
                ),
            ));
        }
    }
    let warn = config.requests.warn_within.delta();
    for (id, subject, kind, due) in &f.open_requests {
        let (k, severity, text) = if *due < now {
            (
                "request_overdue",
                "high",
                format!(
                    "{kind} request #{id} for {subject} is overdue since {}",
                    due.format("%Y-%m-%d")
                ),
            )
        } else if *due - now <= warn {
            (
                "request_near_deadline",
                "low",
                format!(
                    "{kind} request #{id} for {subject} is due in {}",
                    format_delta(*due - now)
                ),
            )
        } else {
            continue;
        };
        let mut d = draft(k, severity, format!("{k}:{id}"), text);
        d.subject_ref = Some(subject.clone());
        d.facts = serde_json::json!({ "request": id, "due_at": due });
        out.push(d);
    }
    out
}

async fn gather(ctx: &Ctx, conn: &mut PgConnection, now: DateTime<Utc>) -> Result<Facts> {
    let cfg = &super::config::settings(&ctx.config)?;
    let seal = store::seal_facts(conn).await?;
    let mut f = Facts {
        master_version: seal.master_version,
        sealed_values: seal.sealed_values,
        subjects: seal.subjects,
        erased_subjects: seal.erased_subjects,
        unsealed: seal.unsealed,
        keyless: seal.keyless,
        stale_wraps: seal.stale_wraps,
        stored_fields: seal.stored_fields,
        ..Default::default()
    };
    let since = store::last_audit_at(conn).await?;
    // PII-shaped values in analytics collected since the last audit.
    let classifier = Classifier::new(cfg);
    let values = store::analytics_since(conn, since).await?;
    f.rows_scanned += values.len() as i64;
    let mut clear: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (field, value) in &values {
        for d in classifier.detect(value) {
            *clear
                .entry((field.clone(), d.as_str().to_string()))
                .or_default() += 1;
        }
    }
    f.clear_values = clear.into_iter().map(|((a, b), n)| (a, b, n)).collect();
    // E-mail addresses where no personal data belongs: the event log and the outbox.
    for place in [store::FreeText::Events, store::FreeText::Outbox] {
        let texts = store::free_text_since(conn, place, since).await?;
        f.rows_scanned += texts.len() as i64;
        let hits = texts.iter().filter(|t| Detector::Email.finds(t)).count() as i64;
        if hits > 0 {
            f.leaks.push((place.place().to_string(), hits));
        }
    }
    // Reads per person: the current window and the baseline windows before it.
    let window = cfg.anomaly.window.delta();
    let windows = cfg.anomaly.baseline_windows;
    let span = window * (i32::try_from(windows).unwrap_or(i32::MAX).saturating_add(1));
    let reads = store::reads_within(conn, now, span).await?;
    let mut ages: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (actor, age, granted) in reads {
        if granted {
            ages.entry(actor).or_default().push(age);
        } else if age < window.num_seconds() {
            *f.refused.entry(actor).or_default() += 1;
        }
    }
    for (actor, a) in ages {
        f.reads
            .insert(actor, anomaly::bucket(&a, window.num_seconds(), windows));
    }
    // Retention.
    for (name, cat) in &cfg.categories {
        let cutoff = cat.retention.cutoff(now);
        let n = store::count_past_retention(conn, cat.pii, name, cutoff).await?;
        if n > 0 {
            let place = if cat.pii { "pii" } else { "analytics" };
            f.overdue.push((name.clone(), place.into(), n, cutoff));
        }
    }
    f.open_requests = store::open_request_lines(conn).await?;
    Ok(f)
}

/// A retention purge the audit carried out.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionAction {
    pub category: String,
    pub store: String,
    pub records: i64,
    pub cutoff: DateTime<Utc>,
}

/// What an audit did.
#[derive(Debug, Clone, Serialize)]
pub struct AuditResult {
    pub audit: Audit,
    /// Findings this audit raised or saw again.
    pub findings: Vec<Finding>,
    /// Incidents opened for new findings.
    pub incidents: Vec<i64>,
    pub retention: Vec<RetentionAction>,
    pub resolved: Vec<i64>,
}

fn checks_json(f: &Facts, purged: &[RetentionAction]) -> serde_json::Value {
    let reads: u64 = f.reads.values().map(|(c, _)| c).sum();
    serde_json::json!({
        "encryption": { "master_version": f.master_version, "sealed_values": f.sealed_values, "unsealed": f.unsealed.len(), "keyless_subjects": f.keyless.len(), "stale_wraps": f.stale_wraps },
        "subjects": { "active": f.subjects, "erased": f.erased_subjects },
        "classification": { "stored_fields": f.stored_fields.len() },
        "clear_text": { "rows_scanned": f.rows_scanned, "pii_values": f.clear_values.iter().map(|x| x.2).sum::<i64>(), "leaks": f.leaks.iter().map(|x| x.1).sum::<i64>() },
        "access": { "reads_in_window": reads, "readers": f.reads.len(), "refused_in_window": f.refused.values().sum::<u64>() },
        "retention": { "overdue": f.overdue.iter().map(|x| x.2).sum::<i64>(), "purged": purged.iter().map(|p| p.records).sum::<i64>() },
        "requests": { "open": f.open_requests.len() },
    })
}

#[allow(clippy::too_many_arguments)]
fn documentation(
    id: i64,
    trigger: Trigger,
    actor: &str,
    now: DateTime<Utc>,
    f: &Facts,
    cfg: &PrivacyConfig,
    purged: &[RetentionAction],
    findings: &[Finding],
    resolved: &[i64],
) -> String {
    let mut d = String::new();
    let outcome = if findings.is_empty() {
        "compliant".to_string()
    } else {
        format!("{} finding(s)", findings.len())
    };
    let _ = writeln!(
        d,
        "# Privacy audit #{id}\n\n{} ({}, by {actor}). Outcome: **{outcome}**.\n\n## Checks\n",
        now.format("%Y-%m-%d %H:%M UTC"),
        trigger.as_str()
    );
    let _ = writeln!(
        d,
        "- Encryption at rest: {} sealed PII value(s) for {} active subject(s) under master key version {}; {} unsealed value(s), {} subject(s) without a key, {} stale key wrap(s). {} subject(s) erased.",
        f.sealed_values,
        f.subjects,
        f.master_version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "none yet".into()),
        f.unsealed.len(),
        f.keyless.len(),
        f.stale_wraps,
        f.erased_subjects
    );
    let _ = writeln!(
        d,
        "- Classification: {} stored field(s) checked against today's rules.",
        f.stored_fields.len()
    );
    let _ = writeln!(
        d,
        "- Personal data in the clear: {} row(s) of analytics, events and notifications scanned since the previous audit; {} PII-shaped value(s), {} row(s) with an e-mail address.",
        f.rows_scanned,
        f.clear_values.iter().map(|x| x.2).sum::<i64>(),
        f.leaks.iter().map(|x| x.1).sum::<i64>()
    );
    let reads: u64 = f.reads.values().map(|(c, _)| c).sum();
    let _ = writeln!(
        d,
        "- Access: {reads} read(s) by {} person(s) in the last {}; {} refused; baseline of {} window(s).",
        f.reads.values().filter(|(c, _)| *c > 0).count(),
        cfg.anomaly.window,
        f.refused.values().sum::<u64>(),
        cfg.anomaly.baseline_windows
    );
    if purged.is_empty() && f.overdue.is_empty() {
        let _ = writeln!(d, "- Retention: nothing past its retention period.");
    } else if purged.is_empty() {
        let _ = writeln!(
            d,
            "- Retention: {} record(s) past retention (purging is off).",
            f.overdue.iter().map(|x| x.2).sum::<i64>()
        );
    } else {
        let parts: Vec<String> = purged
            .iter()
            .map(|p| {
                format!(
                    "{} {} record(s) from {} (before {})",
                    p.records,
                    p.category,
                    p.store,
                    p.cutoff.format("%Y-%m-%d")
                )
            })
            .collect();
        let _ = writeln!(d, "- Retention: purged {}.", parts.join("; "));
    }
    let _ = writeln!(
        d,
        "- Data-subject requests: {} open.",
        f.open_requests.len()
    );
    if !findings.is_empty() {
        let _ = writeln!(d, "\n## Findings\n");
        for x in findings {
            let _ = writeln!(
                d,
                "- #{} [{}] {}: {}{}",
                x.id,
                x.severity,
                x.kind,
                x.detail,
                x.incident_id
                    .map(|i| format!(" (incident #{i})"))
                    .unwrap_or_default()
            );
        }
    }
    if !resolved.is_empty() {
        let ids: Vec<String> = resolved.iter().map(|i| format!("#{i}")).collect();
        let _ = writeln!(d, "\nNo longer observed, resolved: {}.", ids.join(", "));
    }
    d
}

/// Run an audit now, in the caller's transaction.
pub async fn run_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    trigger: Trigger,
    actor: &str,
) -> Result<AuditResult> {
    let now = ctx.now();
    let cfg = &super::config::settings(&ctx.config)?;
    let facts = gather(ctx, conn, now).await?;
    let drafts = evaluate(&facts, cfg, now);
    let outcome = if drafts.is_empty() {
        "compliant"
    } else {
        "findings"
    };
    let audit_id = store::insert_audit(conn, trigger.as_str(), actor, now, outcome).await?;
    // Retention purges.
    let mut purged = Vec::new();
    if cfg.retention_purge {
        for (category, place, _, cutoff) in &facts.overdue {
            let records =
                store::purge_past_retention(conn, audit_id, place == "pii", category, *cutoff, now)
                    .await?;
            purged.push(RetentionAction {
                category: category.clone(),
                store: place.clone(),
                records,
                cutoff: *cutoff,
            });
        }
    }
    // Findings: new ones are recorded, ongoing ones seen again.
    let mut findings = Vec::new();
    let mut incidents = Vec::new();
    for d in &drafts {
        let (id, inserted) = store::raise_finding(conn, audit_id, d, now).await?;
        if inserted {
            service::event(ctx, conn, "finding", id, "finding_raised", actor, |e| {
                e.transition(None::<&str>, "open")
                    .reason(d.detail.clone())
                    .payload(serde_json::json!({ "kind": d.kind, "severity": d.severity, "audit_id": audit_id }))
            })
            .await?;
            let subject = format!(
                "Privacy finding #{id} [{}]: {}",
                d.severity,
                d.kind.replace('_', " ")
            );
            let sev = if d.severity == "high" {
                "critical"
            } else {
                "warning"
            };
            service::notify_channel(
                ctx,
                conn,
                id,
                &subject,
                &d.detail,
                sev,
                &format!("finding:{id}:raised"),
            )
            .await?;
            if d.severity != "low" {
                service::notify_roles(
                    ctx,
                    conn,
                    &cfg.closeout_approvers,
                    id,
                    &subject,
                    &d.detail,
                    sev,
                    &format!("finding:{id}:raised"),
                )
                .await?;
            }
            if let Some(severity) = anomaly::incident_severity(&cfg.incident_rules, d.kind, d.ratio)
            {
                let title = format!("Privacy: {}", d.detail);
                let inc = crate::crisis::service::open_in(
                    ctx,
                    conn,
                    &NewIncident {
                        title: title.chars().take(200).collect(),
                        description: format!(
                            "Raised by privacy audit #{audit_id} (finding #{id}). Assess whether it is a personal-data breach: `vivid privacy breach open --finding {id}`."
                        ),
                        severity,
                        source: Source::PrivacyBreach,
                        source_ref: Some(format!("privacy-finding:{id}")),
                        departments: cfg.incident_departments.clone(),
                        commander: None,
                        trigger_key: Some(format!("privacy:{}", d.condition)),
                    },
                    "engine",
                )
                .await?;
                if let Some(inc) = inc {
                    store::link_finding_incident(conn, id, inc.id).await?;
                    incidents.push(inc.id);
                }
            }
        }
        findings.push(store::finding(conn, id, false).await?);
    }
    // Conditions that stopped by themselves.
    let current: BTreeSet<&str> = drafts.iter().map(|d| d.condition.as_str()).collect();
    let open_clearing = store::open_findings_of_kinds(conn, SELF_CLEARING).await?;
    let mut resolved = Vec::new();
    for (id, condition) in open_clearing {
        if current.contains(condition.as_str()) {
            continue;
        }
        let resolution = format!("no longer observed by audit #{audit_id}");
        store::clear_finding(conn, id, now, &resolution).await?;
        resolved.push(id);
    }
    let checks = checks_json(&facts, &purged);
    let doc = documentation(
        audit_id, trigger, actor, now, &facts, cfg, &purged, &findings, &resolved,
    );
    store::finish_audit(conn, audit_id, &checks, &doc).await?;
    service::event(ctx, conn, "audit", audit_id, "audit_completed", actor, |e| {
        e.transition(None::<&str>, outcome).payload(serde_json::json!({
            "trigger": trigger, "findings": findings.iter().map(|f| f.id).collect::<Vec<_>>(),
            "incidents": incidents, "purged": purged.iter().map(|p| p.records).sum::<i64>(), "resolved": resolved,
        }))
    })
    .await?;
    Ok(AuditResult {
        audit: store::audit(conn, audit_id).await?,
        findings,
        incidents,
        retention: purged,
        resolved,
    })
}

/// `vivid privacy audit run`: an audit now, by an officer.
pub async fn run(ctx: &Ctx, actor: &str) -> Result<AuditResult> {
    let person = ctx.org.actor(actor)?.clone();
    if !ctx.org.holds_any(
        &person,
        &service::roles(&super::config::settings(&ctx.config)?.officers),
    ) && !ctx.org.holds_any(
        &person,
        &service::roles(&super::config::settings(&ctx.config)?.responders),
    ) {
        return Err(crate::error::Error::forbidden(format!(
            "{} cannot run privacy audits: it takes a privacy officer or responder",
            person.label()
        )));
    }
    let mut tx = ctx.pool.begin().await?;
    let result = run_in(ctx, &mut tx, Trigger::Manual, actor).await?;
    super::timers::ensure_audit_scheduled(ctx, &mut tx).await?;
    tx.commit().await?;
    Ok(result)
}

/// The next slot after `due`, on the schedule's grid, later than `now`.
pub fn next_slot(
    due: DateTime<Utc>,
    every: chrono::TimeDelta,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    if every <= chrono::TimeDelta::zero() {
        return now + chrono::TimeDelta::days(1);
    }
    let mut next = due + every;
    if next <= now {
        // Missed slots are not run in a burst: skip to the next one ahead.
        let behind = (now - next).num_seconds() / every.num_seconds().max(1) + 1;
        next += every * i32::try_from(behind).unwrap_or(i32::MAX);
    }
    next
}

/// Timer handler: the scheduled audit; it schedules the next one.
pub fn on_audit<'a>(ctx: &'a Ctx, conn: &'a mut PgConnection, t: &'a Timer) -> HandlerFuture<'a> {
    Box::pin(async move {
        run_in(ctx, conn, Trigger::Scheduled, "engine").await?;
        let next = next_slot(
            t.due_at,
            super::config::settings(&ctx.config)?.audit_every.delta(),
            ctx.now(),
        );
        super::timers::schedule_audit_at(ctx, conn, next).await
    })
}

pub async fn audits(ctx: &Ctx, limit: i64) -> Result<Vec<Audit>> {
    let mut conn = ctx.pool.acquire().await?;
    store::audits(&mut conn, limit).await
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditDetail {
    pub audit: Audit,
    pub findings: Vec<Finding>,
    pub retention: Vec<RetentionAction>,
}

pub async fn detail(ctx: &Ctx, id: i64) -> Result<AuditDetail> {
    let mut conn = ctx.pool.acquire().await?;
    let audit = store::audit(&mut conn, id).await?;
    let findings: Vec<Finding> = store::findings(&mut conn, false, None)
        .await?
        .into_iter()
        .filter(|f| f.audit_id == id)
        .collect();
    let retention = store::retention_actions(&mut conn, id)
        .await?
        .into_iter()
        .map(|(category, store, records, cutoff)| RetentionAction {
            category,
            store,
            records,
            cutoff,
        })
        .collect();
    Ok(AuditDetail {
        audit,
        findings,
        retention,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EMBEDDED_DEFAULT};
    use chrono::TimeDelta;

    fn cfg() -> PrivacyConfig {
        Config::from_toml_str("default", EMBEDDED_DEFAULT)
            .and_then(|c| {
                Ok(c.section::<PrivacyConfig>()
                    .map_err(|e| panic!("{e}"))?
                    .clone())
            })
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn clean_facts_are_compliant() {
        let f = Facts {
            master_version: Some(1),
            sealed_values: 40,
            subjects: 10,
            stored_fields: vec![
                ("pii".into(), "email".into(), "contact".into()),
                ("analytics".into(), "country".into(), "profile".into()),
            ],
            reads: [("jun".to_string(), (4, vec![3, 5, 4]))]
                .into_iter()
                .collect(),
            open_requests: vec![(
                1,
                "C000001".into(),
                "access".into(),
                now() + TimeDelta::days(20),
            )],
            ..Default::default()
        };
        assert_eq!(evaluate(&f, &cfg(), now()), Vec::new());
    }

    #[test]
    fn each_problem_becomes_one_finding_with_a_stable_condition() {
        let f = Facts {
            unsealed: vec![("C1".into(), "email".into())],
            keyless: vec!["C2".into()],
            stored_fields: vec![
                ("analytics".into(), "shoe_size".into(), "profile".into()),
                ("analytics".into(), "email".into(), "profile".into()),
            ],
            clear_values: vec![("notes".into(), "email".into(), 2)],
            leaks: vec![("event log".into(), 1)],
            reads: [("dana".to_string(), (60, vec![3; 14]))]
                .into_iter()
                .collect(),
            refused: [("remy".to_string(), 9)].into_iter().collect(),
            open_requests: vec![
                (1, "C3".into(), "erasure".into(), now() + TimeDelta::days(2)),
                (2, "C4".into(), "access".into(), now() - TimeDelta::days(1)),
            ],
            ..Default::default()
        };
        let drafts = evaluate(&f, &cfg(), now());
        let conditions: Vec<&str> = drafts.iter().map(|d| d.condition.as_str()).collect();
        assert_eq!(
            conditions,
            [
                "unencrypted_pii:C1:email",
                "undecryptable_pii:C2",
                "unclassified_field:analytics:shoe_size",
                "pii_in_clear:field:email",
                "pii_in_clear:value:notes:email",
                "pii_in_clear:event log",
                "access_anomaly:dana",
                "refused_reads:remy",
                "request_near_deadline:1",
                "request_overdue:2",
            ]
        );
        let anomaly = drafts.iter().find(|d| d.kind == "access_anomaly");
        assert!(
            anomaly.is_some_and(|d| d.ratio == Some(20.0) && d.person.as_deref() == Some("dana"))
        );
    }

    #[test]
    fn the_schedule_keeps_its_grid_and_skips_missed_slots() {
        let day = TimeDelta::days(1);
        let due = now();
        assert_eq!(next_slot(due, day, due + TimeDelta::minutes(1)), due + day);
        assert_eq!(
            next_slot(due, day, due + TimeDelta::hours(50)),
            due + day * 3
        );
    }
}
