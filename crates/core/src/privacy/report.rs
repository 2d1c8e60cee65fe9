//! The compliance report for a period: audits, findings, incidents,
//! breaches, data-subject requests and their timeliness, retention actions,
//! access and keys; as JSON and as Markdown. Counts only, never values.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::store;
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::status::WorkflowStatus;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub organisation: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub kpis: Kpis,
    pub audits: AuditSummary,
    pub findings: FindingSummary,
    pub incidents: Vec<IncidentLine>,
    pub breaches: Vec<BreachLine>,
    pub requests: RequestSummary,
    pub retention: Vec<RetentionLine>,
    pub access: AccessSummary,
    pub keys: KeySummary,
}

/// The workflow's KPIs for the period (None when there is nothing to measure).
#[derive(Debug, Clone, Serialize)]
pub struct Kpis {
    /// Requests completed in the period that met their deadline.
    pub requests_on_time: Option<f64>,
    /// Mean days from receipt to completion.
    pub request_days_mean: Option<f64>,
    /// Breaches notified in the period within the notification deadline.
    pub breaches_notified_on_time: Option<f64>,
    /// Audits in the period with no findings.
    pub audits_compliant: Option<f64>,
    /// Mean hours from a finding being raised to its resolution.
    pub finding_hours_to_resolve: Option<f64>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditSummary {
    pub total: i64,
    pub compliant: i64,
    pub with_findings: i64,
    pub scheduled: i64,
    pub manual: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingSummary {
    pub raised: i64,
    pub resolved: i64,
    pub open_now: i64,
    pub by_kind: BTreeMap<String, i64>,
    pub lines: Vec<FindingLine>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FindingLine {
    pub id: i64,
    pub kind: String,
    pub severity: String,
    pub detail: String,
    pub status: String,
    pub incident_id: Option<i64>,
    pub opened_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct IncidentLine {
    pub id: i64,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BreachLine {
    pub id: i64,
    pub title: String,
    pub status: String,
    pub incident_id: i64,
    pub aware_at: DateTime<Utc>,
    pub notify_by: DateTime<Utc>,
    pub notified_at: Option<DateTime<Utc>>,
    pub people_approx: Option<i64>,
    pub records_approx: Option<i64>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestSummary {
    pub received: i64,
    pub completed: i64,
    pub completed_on_time: i64,
    pub completed_late: i64,
    pub refused: i64,
    pub extended: i64,
    pub open_now: i64,
    pub overdue_now: i64,
    pub by_kind: BTreeMap<String, i64>,
    pub lines: Vec<RequestLine>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RequestLine {
    pub id: i64,
    pub subject: String,
    pub kind: String,
    pub status: String,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub extended_months: i32,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RetentionLine {
    pub category: String,
    pub store: String,
    pub records: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccessSummary {
    pub granted: i64,
    pub refused: i64,
    pub readers: i64,
    /// (person, granted reads), most first.
    pub top_readers: Vec<(String, i64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeySummary {
    pub current_version: Option<i32>,
    pub rotations: i64,
    pub data_keys: i64,
    pub destroyed_keys: i64,
    pub erasures: i64,
}

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

pub async fn build(ctx: &Ctx, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Report> {
    if from >= to {
        return Err(Error::invalid("the period must end after it starts"));
    }
    let mut conn = ctx.pool.acquire().await?;
    let now = ctx.now();
    let store::PeriodRows {
        audits,
        findings: lines,
        findings_resolved: resolved,
        findings_open_now: open_now,
        finding_hours: hours,
        incidents,
        breaches,
        requests,
        retention,
        access: (granted, refused, readers),
        top_readers,
        keys: (current_version, rotations, data_keys, destroyed_keys, erasures),
    } = store::period_rows(&mut conn, from, to).await?;
    let mut by_kind = BTreeMap::new();
    for l in &lines {
        *by_kind.entry(l.kind.clone()).or_insert(0) += 1;
    }
    let notified: Vec<&BreachLine> = breaches
        .iter()
        .filter(|b| b.notified_at.is_some_and(|n| n >= from && n < to))
        .collect();
    let notified_on_time = notified
        .iter()
        .filter(|b| b.notified_at.is_some_and(|n| n <= b.notify_by))
        .count() as i64;
    let in_period = |t: DateTime<Utc>| t >= from && t < to;
    let done: Vec<&RequestLine> = requests
        .iter()
        .filter(|r| r.status == "completed" && r.completed_at.is_some_and(in_period))
        .collect();
    let on_time = done
        .iter()
        .filter(|r| r.completed_at.is_some_and(|c| c <= r.due_at))
        .count() as i64;
    let days: Vec<f64> = done
        .iter()
        .filter_map(|r| {
            r.completed_at
                .map(|c| (c - r.received_at).num_seconds() as f64 / 86_400.0)
        })
        .collect();
    let mut req_kinds = BTreeMap::new();
    for r in requests.iter().filter(|r| in_period(r.received_at)) {
        *req_kinds.entry(r.kind.clone()).or_insert(0) += 1;
    }
    let request_summary = RequestSummary {
        received: requests.iter().filter(|r| in_period(r.received_at)).count() as i64,
        completed: done.len() as i64,
        completed_on_time: on_time,
        completed_late: done.len() as i64 - on_time,
        refused: requests
            .iter()
            .filter(|r| r.status == "refused" && r.completed_at.is_some_and(in_period))
            .count() as i64,
        extended: requests.iter().filter(|r| r.extended_months > 0).count() as i64,
        open_now: requests.iter().filter(|r| open(&r.status)).count() as i64,
        overdue_now: requests
            .iter()
            .filter(|r| open(&r.status) && r.due_at < now)
            .count() as i64,
        by_kind: req_kinds,
        lines: requests.clone(),
    };
    Ok(Report {
        organisation: ctx.org.name.clone(),
        from,
        to,
        generated_at: now,
        kpis: Kpis {
            requests_on_time: rate(on_time, done.len() as i64),
            request_days_mean: (!days.is_empty())
                .then(|| days.iter().sum::<f64>() / days.len() as f64),
            breaches_notified_on_time: rate(notified_on_time, notified.len() as i64),
            audits_compliant: rate(audits.compliant, audits.total),
            finding_hours_to_resolve: hours,
        },
        audits,
        findings: FindingSummary {
            raised: lines.len() as i64,
            resolved,
            open_now,
            by_kind,
            lines,
        },
        incidents,
        breaches,
        requests: request_summary,
        retention,
        access: AccessSummary {
            granted,
            refused,
            readers,
            top_readers,
        },
        keys: KeySummary {
            current_version,
            rotations,
            data_keys,
            destroyed_keys,
            erasures,
        },
    })
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.0}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The report as Markdown, for people and for the record.
pub fn markdown(r: &Report) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "# {} compliance and data-privacy report\n\nPeriod {} to {} (UTC). Generated {}.\n",
        r.organisation,
        minute(r.from),
        minute(r.to),
        minute(r.generated_at)
    );
    let _ = writeln!(m, "## Key figures\n");
    let _ = writeln!(m, "| KPI | value |\n|---|---|");
    let _ = writeln!(
        m,
        "| data-subject requests completed on time | {} |",
        pct(r.kpis.requests_on_time)
    );
    let _ = writeln!(
        m,
        "| mean days to complete a request | {} |",
        r.kpis
            .request_days_mean
            .map(|d| format!("{d:.1}"))
            .unwrap_or_else(|| "-".into())
    );
    let _ = writeln!(
        m,
        "| breaches notified within the deadline | {} |",
        pct(r.kpis.breaches_notified_on_time)
    );
    let _ = writeln!(
        m,
        "| audits without findings | {} |",
        pct(r.kpis.audits_compliant)
    );
    let _ = writeln!(
        m,
        "| mean hours to resolve a finding | {} |\n",
        r.kpis
            .finding_hours_to_resolve
            .map(|h| format!("{h:.1}"))
            .unwrap_or_else(|| "-".into())
    );
    let a = &r.audits;
    let _ = writeln!(
        m,
        "## Audits\n\n{} audit(s) ({} scheduled, {} manual): {} compliant, {} with findings.\n",
        a.total, a.scheduled, a.manual, a.compliant, a.with_findings
    );
    let f = &r.findings;
    let _ = writeln!(
        m,
        "## Findings\n\n{} raised, {} resolved in the period; {} open now.\n",
        f.raised, f.resolved, f.open_now
    );
    if !f.lines.is_empty() {
        let _ = writeln!(
            m,
            "| # | severity | kind | status | incident | detail |\n|---|---|---|---|---|---|"
        );
        for l in &f.lines {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} |",
                l.id,
                l.severity,
                l.kind,
                l.status,
                l.incident_id
                    .map(|i| format!("#{i}"))
                    .unwrap_or_else(|| "-".into()),
                l.detail.replace('|', "/")
            );
        }
        m.push('\n');
    }
    let _ = writeln!(
        m,
        "## Incidents\n\n{} privacy incident(s) opened in the crisis workflow.\n",
        r.incidents.len()
    );
    for i in &r.incidents {
        let _ = writeln!(
            m,
            "- #{} [{}] {} — {} (opened {})",
            i.id,
            i.severity,
            i.title,
            i.status,
            minute(i.opened_at)
        );
    }
    if !r.incidents.is_empty() {
        m.push('\n');
    }
    let _ = writeln!(m, "## Personal-data breaches\n");
    if r.breaches.is_empty() {
        let _ = writeln!(m, "None.\n");
    } else {
        let _ = writeln!(
            m,
            "| # | status | aware | notify by | notified | on time | people | records |\n|---|---|---|---|---|---|---|---|"
        );
        for b in &r.breaches {
            let on_time = match b.notified_at {
                Some(n) if n <= b.notify_by => "yes",
                Some(_) => "no",
                None => "-",
            };
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                b.id,
                b.status,
                minute(b.aware_at),
                minute(b.notify_by),
                b.notified_at.map(minute).unwrap_or_else(|| "-".into()),
                on_time,
                b.people_approx
                    .map(|n| format!("~{n}"))
                    .unwrap_or_else(|| "?".into()),
                b.records_approx
                    .map(|n| format!("~{n}"))
                    .unwrap_or_else(|| "?".into()),
            );
        }
        m.push('\n');
    }
    let q = &r.requests;
    let _ = writeln!(
        m,
        "## Data-subject requests\n\n{} received, {} completed ({} on time, {} late), {} refused, {} extended; {} open now, {} of them overdue.\n",
        q.received,
        q.completed,
        q.completed_on_time,
        q.completed_late,
        q.refused,
        q.extended,
        q.open_now,
        q.overdue_now
    );
    if !q.lines.is_empty() {
        let _ = writeln!(
            m,
            "| # | subject | kind | status | received | due | completed |\n|---|---|---|---|---|---|---|"
        );
        for l in &q.lines {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {}{} | {} |",
                l.id,
                l.subject,
                l.kind,
                l.status,
                day(l.received_at),
                day(l.due_at),
                if l.extended_months > 0 {
                    format!(" (+{}mo)", l.extended_months)
                } else {
                    String::new()
                },
                l.completed_at.map(day).unwrap_or_else(|| "-".into())
            );
        }
        m.push('\n');
    }
    let _ = writeln!(m, "## Retention\n");
    if r.retention.is_empty() {
        let _ = writeln!(m, "No records purged.\n");
    } else {
        for l in &r.retention {
            let _ = writeln!(
                m,
                "- {}: {} record(s) purged from {}",
                l.category, l.records, l.store
            );
        }
        m.push('\n');
    }
    let x = &r.access;
    let _ = writeln!(
        m,
        "## Access to personal data\n\n{} read(s) by {} person(s), {} refused.",
        x.granted, x.readers, x.refused
    );
    if !x.top_readers.is_empty() {
        let tops: Vec<String> = x
            .top_readers
            .iter()
            .map(|(p, n)| format!("@{p} {n}"))
            .collect();
        let _ = writeln!(m, "Most reads: {}.", tops.join(", "));
    }
    let k = &r.keys;
    let _ = writeln!(
        m,
        "\n## Keys\n\nMaster key version {}; {} rotation(s) in the period. {} live data key(s), {} destroyed; {} subject(s) erased in the period.",
        k.current_version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "none".into()),
        k.rotations,
        k.data_keys,
        k.destroyed_keys,
        k.erasures
    );
    m
}

/// A request status that is still open.
fn open(status: &str) -> bool {
    super::model::RequestStatus::parse(status).is_some_and(super::model::RequestStatus::is_open)
}

/// The privacy tile for `vivid status` and the control room.
pub async fn tile(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<WorkflowStatus> {
    let store::TileCounts {
        open_requests,
        overdue,
        findings,
        breaches,
        breach_late,
        last_audit,
    } = store::tile_counts(conn, now).await?;
    Ok(WorkflowStatus {
        name: "privacy".into(),
        open: open_requests + findings + breaches,
        breaches: overdue + breach_late,
        kpis: vec![
            ("open requests".into(), open_requests.to_string()),
            ("open findings".into(), findings.to_string()),
            ("breaches".into(), breaches.to_string()),
            (
                "last audit".into(),
                last_audit.unwrap_or_else(|| "-".into()),
            ),
        ],
        trend: Vec::new(),
    })
}
