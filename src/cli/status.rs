//! `vivid status`.

use anyhow::Result;
use vivid_core::config::Config;
use vivid_core::status::{self, Status};

use super::JsonFlag;
use crate::app::{self, Schema};
use crate::output;

pub async fn status(config: Config, flag: JsonFlag) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 2).await?;
    let status = status::collect(&ctx).await?;
    if flag.json {
        return output::json(&status);
    }
    println!("{}", render(&status, &ctx.calendar));
    Ok(())
}

/// A sparkline of a series, eight levels.
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
            let i = ((t * 7.0).round() as usize).min(7);
            BARS.get(i).copied().unwrap_or(' ')
        })
        .collect()
}

fn number(v: f64, unit: &str) -> String {
    match unit {
        "USD" => format!("${v:.0}"),
        "ratio" => format!("{v:.3}"),
        _ => format!("{v:.0}"),
    }
}

/// The status as text for people.
pub fn render(s: &Status, calendar: &vivid_core::calendar::Calendar) -> String {
    let mut out = String::new();
    let e = &s.engine;
    out.push_str(&format!(
        "{} control room — {}\n\n",
        s.organisation,
        calendar.format_local(s.generated_at)
    ));
    out.push_str(&format!(
        "ENGINE      {} worker(s){}  timers: {} pending, {} overdue, {} failed  outbox: {} pending, {} dead\n",
        e.workers.len(),
        if e.workers.is_empty() { " (none running: `vivid engine`)" } else { "" },
        e.timers_pending,
        e.timers_overdue,
        e.timers_failed,
        e.outbox_pending,
        e.outbox_dead
    ));
    out.push_str(&format!(
        "APPROVALS   {} pending, {} overdue, {} escalated\n",
        s.approvals.pending, s.approvals.overdue, s.approvals.escalated
    ));
    out.push_str(&format!(
        "ESCALATIONS {} active, {} exhausted\n",
        s.escalations.active, s.escalations.exhausted
    ));
    out.push_str(&format!(
        "EVENTS      {} in the last 24h, latest #{}\n",
        s.events.last_24h,
        s.events.last_id.unwrap_or(0)
    ));
    if !s.workflows.is_empty() {
        out.push_str("\nWORKFLOWS\n");
        for w in &s.workflows {
            let kpis: Vec<String> = w.kpis.iter().map(|(k, v)| format!("{k} {v}")).collect();
            out.push_str(&format!(
                "  {:<12} {:>3} open  {:>3} breached  {}  {}\n",
                w.name,
                w.open,
                w.breaches,
                kpis.join(" · "),
                sparkline(&w.trend)
            ));
        }
    }
    if !s.kpis.is_empty() {
        out.push_str("\nKPIs\n");
        for k in &s.kpis {
            out.push_str(&format!(
                "  {:<22} {:>10}  {}\n",
                k.metric,
                number(k.value, &k.unit),
                sparkline(&k.trend)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_spans_the_range() {
        assert_eq!(sparkline(&[0.0, 7.0]), "▁█");
        assert_eq!(sparkline(&[3.0, 3.0]), "▅▅");
        assert_eq!(sparkline(&[]), "");
    }
}
