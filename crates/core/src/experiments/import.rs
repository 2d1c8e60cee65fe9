//! Bulk ingestion: exposures and events from CSV, parsed here, streamed to
//! PostgreSQL with COPY into a temporary table, then inserted idempotently
//! (a unit is exposed once; an event id is recorded once). A bad row refuses
//! the whole file, naming its line, and changes nothing.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::assign;
use super::model::Command;
use super::service::{self, Experiment};
use super::store::{self, Variation};
use crate::engine::Ctx;
use crate::engine::events::{self, NewEvent};
use crate::error::{Error, Result};

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub experiment: String,
    pub kind: &'static str,
    /// Data rows read from the file.
    pub read: u64,
    /// Rows new to the experiment.
    pub inserted: u64,
    /// Rows already there (or, for events, of units never exposed).
    pub skipped: u64,
}

/// Bytes per COPY message.
const CHUNK: usize = 1 << 20;

/// A field for COPY's text format: backslash, tab and line breaks escaped.
fn push_field(out: &mut Vec<u8>, field: &str) {
    for b in field.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

fn push_opt(out: &mut Vec<u8>, field: Option<&str>) {
    match field {
        Some(f) if !f.is_empty() => push_field(out, f),
        _ => out.extend_from_slice(b"\\N"),
    }
}

/// The columns of a CSV header: the index of each wanted name.
struct Header {
    names: Vec<String>,
}

impl Header {
    fn parse(line: &str, allowed: &[&str], required: &[&str]) -> Result<Self> {
        let names: Vec<String> = line
            .trim()
            .split(',')
            .map(|c| c.trim().to_string())
            .collect();
        for n in &names {
            if !allowed.contains(&n.as_str()) {
                return Err(Error::invalid(format!(
                    "line 1: unknown column {n:?} (the columns are {})",
                    allowed.join(", ")
                )));
            }
        }
        for r in required {
            if !names.iter().any(|n| n == r) {
                return Err(Error::invalid(format!(
                    "line 1: the header needs a {r:?} column (the columns are {})",
                    allowed.join(", ")
                )));
            }
        }
        Ok(Self { names })
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

fn bad(line: u64, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("line {line}: {why}"))
}

fn parse_time(line: u64, s: &str) -> Result<Option<DateTime<Utc>>> {
    if s.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| bad(line, format!("{s:?} is not an RFC 3339 time")))
}

fn parse_number(line: u64, what: &str, s: &str) -> Result<f64> {
    let v: f64 = s
        .parse()
        .map_err(|_| bad(line, format!("{what} {s:?} is not a number")))?;
    if !v.is_finite() {
        return Err(bad(line, format!("{what} {s:?} is not a finite number")));
    }
    Ok(v)
}

/// Rows of a CSV file as COPY chunks; the first error ends the stream.
struct Rows<'a, R: BufRead, F: FnMut(u64, &[&str], &mut Vec<u8>) -> Result<()>> {
    reader: &'a mut R,
    line_no: u64,
    rows: &'a mut u64,
    width: usize,
    encode: F,
    done: bool,
    buf: String,
}

impl<R: BufRead, F: FnMut(u64, &[&str], &mut Vec<u8>) -> Result<()>> Iterator for Rows<'_, R, F> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut out = Vec::with_capacity(CHUNK + 4096);
        while out.len() < CHUNK {
            self.buf.clear();
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::invalid(format!(
                        "line {}: cannot read the file: {e}",
                        self.line_no + 1
                    ))));
                }
            }
            self.line_no += 1;
            let line = self.buf.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                continue;
            }
            if line.contains('"') {
                self.done = true;
                return Some(Err(bad(
                    self.line_no,
                    "quoted fields are not supported: values may not contain commas or quotes",
                )));
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != self.width {
                self.done = true;
                return Some(Err(bad(
                    self.line_no,
                    format!("{} fields, the header has {}", fields.len(), self.width),
                )));
            }
            if let Err(e) = (self.encode)(self.line_no, &fields, &mut out) {
                self.done = true;
                return Some(Err(e));
            }
            *self.rows += 1;
        }
        if out.is_empty() {
            return None;
        }
        Some(Ok(out))
    }
}

fn running(exp: &Experiment) -> Result<()> {
    super::model::decide(&exp.key, exp.state, Command::Assign)
        .map(|_| ())
        .map_err(|r| Error::invalid(r.0))
}

fn header_line(reader: &mut impl BufRead) -> Result<String> {
    let mut first = String::new();
    reader
        .read_line(&mut first)
        .map_err(|e| Error::invalid(format!("cannot read the file: {e}")))?;
    if first.trim().is_empty() {
        return Err(Error::invalid(
            "the file is empty: it needs a header line and rows",
        ));
    }
    Ok(first)
}

/// Import exposures: columns `unit_id` (required), `variation` (else the
/// deterministic assignment decides), `exposed_at` (RFC 3339, else now),
/// `device`, `channel`, `segment`, `covariate` (the unit's pre-period value
/// of the primary metric, for CUPED).
pub async fn exposures(
    ctx: &Ctx,
    id_or_key: &str,
    actor: &str,
    reader: &mut impl BufRead,
) -> Result<ImportSummary> {
    service::require_runner(ctx, actor)?;
    let mut conn = ctx.pool.acquire().await?;
    let exp = store::find(&mut conn, id_or_key).await?;
    drop(conn);
    running(&exp)?;
    let allowed = [
        "unit_id",
        "variation",
        "exposed_at",
        "device",
        "channel",
        "segment",
        "covariate",
    ];
    let header = Header::parse(&header_line(reader)?, &allowed, &["unit_id"])?;
    let mut tx = ctx.pool.begin().await?;
    let vars: Vec<Variation> = store::variations(&mut tx, exp.id).await?;
    let weights: Vec<f64> = vars.iter().map(|v| v.weight).collect();
    let col = |n: &str| header.index(n);
    let (i_unit, i_var, i_at, i_dev, i_ch, i_seg, i_cov) = (
        col("unit_id").unwrap_or(0),
        col("variation"),
        col("exposed_at"),
        col("device"),
        col("channel"),
        col("segment"),
        col("covariate"),
    );
    let now = ctx.now().to_rfc3339();
    let mut rows = 0u64;
    let key = exp.key.clone();
    let encode = |line: u64, f: &[&str], out: &mut Vec<u8>| -> Result<()> {
        let unit = f.get(i_unit).copied().unwrap_or("");
        if unit.is_empty() {
            return Err(bad(line, "the unit_id is empty"));
        }
        let variation = match i_var.and_then(|i| f.get(i)).filter(|v| !v.is_empty()) {
            Some(v) => {
                if !vars.iter().any(|x| x.key == *v) {
                    return Err(bad(line, format!("{v:?} is not a variation of {key}")));
                }
                (*v).to_string()
            }
            None => assign::choose(&key, unit, &weights)
                .and_then(|i| vars.get(i))
                .map(|v| v.key.clone())
                .ok_or_else(|| bad(line, "no variation has a positive weight"))?,
        };
        let at = match i_at.and_then(|i| f.get(i)) {
            Some(s) if !s.is_empty() => {
                parse_time(line, s)?;
                (*s).to_string()
            }
            _ => now.clone(),
        };
        push_field(out, unit);
        out.push(b'\t');
        push_field(out, &variation);
        out.push(b'\t');
        push_field(out, &at);
        for i in [i_dev, i_ch, i_seg] {
            out.push(b'\t');
            let v = i.and_then(|i| f.get(i)).copied();
            push_opt(out, v);
        }
        out.push(b'\t');
        match i_cov.and_then(|i| f.get(i)).filter(|v| !v.is_empty()) {
            Some(c) => {
                parse_number(line, "covariate", c)?;
                push_field(out, c);
            }
            None => out.extend_from_slice(b"\\N"),
        }
        out.push(b'\n');
        Ok(())
    };
    let chunks = Rows {
        reader,
        line_no: 1,
        rows: &mut rows,
        width: header.names.len(),
        encode,
        done: false,
        buf: String::new(),
    };
    let (_, inserted) = store::copy_exposures(&mut tx, exp.id, chunks).await?;
    // Columns present: CUPED and breakdowns apply from now on.
    store::mark_imported(
        &mut tx,
        exp.id,
        any_cov_flag(&header),
        any_dim_flag(&header),
    )
    .await?;
    finish(ctx, tx, &exp, actor, "exposures", rows, inserted).await
}

fn any_cov_flag(h: &Header) -> bool {
    h.index("covariate").is_some()
}

fn any_dim_flag(h: &Header) -> bool {
    ["device", "channel", "segment"]
        .iter()
        .any(|d| h.index(d).is_some())
}

/// Import metric events: columns `event_id` and `unit_id` (required),
/// `metric` (else the primary metric), `value` (else 1), `recorded_at`
/// (RFC 3339, else now). Events of units never exposed are skipped.
pub async fn events(
    ctx: &Ctx,
    id_or_key: &str,
    actor: &str,
    reader: &mut impl BufRead,
) -> Result<ImportSummary> {
    service::require_runner(ctx, actor)?;
    let mut conn = ctx.pool.acquire().await?;
    let exp = store::find(&mut conn, id_or_key).await?;
    drop(conn);
    running(&exp)?;
    let allowed = ["event_id", "unit_id", "metric", "value", "recorded_at"];
    let header = Header::parse(&header_line(reader)?, &allowed, &["event_id", "unit_id"])?;
    let col = |n: &str| header.index(n);
    let (i_id, i_unit, i_metric, i_value, i_at) = (
        col("event_id").unwrap_or(0),
        col("unit_id").unwrap_or(0),
        col("metric"),
        col("value"),
        col("recorded_at"),
    );
    let known: Vec<String> = std::iter::once(exp.metric.clone())
        .chain(
            exp.guardrails
                .iter()
                .chain(&exp.secondary)
                .filter_map(|g| g.split(':').next().map(str::to_string)),
        )
        .collect();
    let now = ctx.now().to_rfc3339();
    let mut rows = 0u64;
    let key = exp.key.clone();
    let primary = exp.metric.clone();
    let encode = |line: u64, f: &[&str], out: &mut Vec<u8>| -> Result<()> {
        let id = f.get(i_id).copied().unwrap_or("");
        let unit = f.get(i_unit).copied().unwrap_or("");
        if id.is_empty() || unit.is_empty() {
            return Err(bad(line, "event_id and unit_id may not be empty"));
        }
        let metric = match i_metric.and_then(|i| f.get(i)).filter(|m| !m.is_empty()) {
            Some(m) => {
                if !known.iter().any(|k| k == m) {
                    return Err(bad(
                        line,
                        format!(
                            "experiment {key} does not measure {m:?} ({})",
                            known.join(", ")
                        ),
                    ));
                }
                *m
            }
            None => primary.as_str(),
        };
        let value = match i_value.and_then(|i| f.get(i)).filter(|v| !v.is_empty()) {
            Some(v) => {
                parse_number(line, "value", v)?;
                *v
            }
            None => "1",
        };
        let at = match i_at.and_then(|i| f.get(i)) {
            Some(s) if !s.is_empty() => {
                parse_time(line, s)?;
                *s
            }
            _ => now.as_str(),
        };
        for (i, v) in [id, unit, metric, value, at].into_iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            push_field(out, v);
        }
        out.push(b'\n');
        Ok(())
    };
    let mut tx = ctx.pool.begin().await?;
    let chunks = Rows {
        reader,
        line_no: 1,
        rows: &mut rows,
        width: header.names.len(),
        encode,
        done: false,
        buf: String::new(),
    };
    let (_, inserted) = store::copy_events(&mut tx, exp.id, chunks).await?;
    finish(ctx, tx, &exp, actor, "events", rows, inserted).await
}

async fn finish(
    ctx: &Ctx,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    exp: &Experiment,
    actor: &str,
    kind: &'static str,
    read: u64,
    inserted: u64,
) -> Result<ImportSummary> {
    events::append(
        &mut tx,
        &NewEvent::new(super::WORKFLOW, "experiment", exp.id, "imported", actor)
            .reason(format!("{inserted} of {read} {kind} imported"))
            .payload(serde_json::json!({ "kind": kind, "read": read, "inserted": inserted })),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    // New data: check the alerts now rather than at the next timer.
    let mut conn = ctx.pool.acquire().await?;
    super::timers::check(ctx, &mut conn, exp.id).await?;
    Ok(ImportSummary {
        experiment: exp.key.clone(),
        kind,
        read,
        inserted,
        skipped: read.saturating_sub(inserted),
    })
}
