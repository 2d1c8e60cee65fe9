//! Status updates and post-mortems rendered from the templates in
//! `assets/crisis/` (embedded in the binary).

use chrono::{DateTime, Utc};

use super::model::ActionItemStatus;
use super::service::{Audience, Detail, PostmortemText};
use super::store::Incident;
use crate::engine::Ctx;
use crate::error::{Error, Result};

pub const POSTMORTEM: &str = include_str!("../../../../assets/crisis/postmortem.md");
pub const STATUS_INTERNAL: &str = include_str!("../../../../assets/crisis/status-internal.md");
pub const STATUS_CUSTOMER: &str = include_str!("../../../../assets/crisis/status-customer.md");

/// Replace `{{name}}` placeholders; an unknown placeholder is an error.
pub fn render(template: &str, vars: &[(&str, String)]) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| Error::invalid("a template has an unclosed {{ placeholder"))?;
        let name = after[..end].trim();
        let value = vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "the template uses an unknown placeholder {{{{{name}}}}}"
                ))
            })?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn person(ctx: &Ctx, handle: Option<&str>) -> String {
    handle
        .and_then(|h| ctx.org.person(h))
        .map(|p| p.label())
        .unwrap_or_else(|| "unassigned".into())
}

pub fn status_update(
    ctx: &Ctx,
    inc: &Incident,
    audience: Audience,
    message: &str,
    next: DateTime<Utc>,
) -> Result<String> {
    let customer_title = if inc.status.is_open() {
        "We are working on an issue affecting our shop".to_string()
    } else {
        "Resolved: the issue affecting our shop is fixed".to_string()
    };
    let vars = [
        ("id", inc.id.to_string()),
        ("title", inc.title.clone()),
        ("severity", inc.severity.as_str().to_string()),
        ("status", inc.status.as_str().to_string()),
        ("phase", inc.phase.label().to_string()),
        ("commander", person(ctx, inc.commander.as_deref())),
        ("departments", inc.departments.join(", ")),
        ("message", message.to_string()),
        ("next_update", ctx.calendar.format_local(next)),
        ("customer_title", customer_title),
    ];
    let template = match audience {
        Audience::Internal => STATUS_INTERNAL,
        Audience::Customer => STATUS_CUSTOMER,
    };
    Ok(render(template, &vars)?.trim_end().to_string())
}

/// The post-mortem as Markdown: written sections (or prompts when blank),
/// the timeline from the event log, and the action items.
pub fn postmortem_markdown(ctx: &Ctx, d: &Detail) -> Result<String> {
    let inc = &d.incident;
    let pm = d.postmortem.as_ref();
    let section = |written: Option<&String>, prompt: &str| -> String {
        written
            .cloned()
            .unwrap_or_else(|| format!("<!-- {prompt} -->"))
    };
    let timeline = d
        .timeline
        .iter()
        .map(|e| {
            let what = match super::read::change_text(e) {
                Some(change) => format!("{} ({change})", e.action.replace('_', " ")),
                None => e.action.replace('_', " "),
            };
            let why = e
                .reason
                .as_deref()
                .map(|r| format!(": {}", r.lines().next().unwrap_or_default()))
                .unwrap_or_default();
            format!(
                "- {} — {} by {}{}",
                e.occurred_at.format("%Y-%m-%d %H:%M:%S UTC"),
                what,
                e.actor,
                why
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let items = if d.action_items.is_empty() {
        "<!-- vivid crisis postmortem ID action add --owner HANDLE --due 2026-12-01 \"what\" -->"
            .to_string()
    } else {
        d.action_items
            .iter()
            .map(|a| {
                format!(
                    "- [{}] #{} {} — owner @{}, due {}",
                    if a.status == ActionItemStatus::Done {
                        "x"
                    } else {
                        " "
                    },
                    a.id,
                    a.description,
                    a.owner,
                    a.due_at.format("%Y-%m-%d")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let vars = [
        ("id", inc.id.to_string()),
        ("title", inc.title.clone()),
        ("severity", inc.severity.as_str().to_string()),
        (
            "overview",
            section(
                pm.map(|p| &p.overview),
                "A few sentences: what broke, for whom, how long.",
            ),
        ),
        (
            "what_happened",
            section(pm.map(|p| &p.what_happened), "The story, in order."),
        ),
        (
            "contributing_factors",
            section(
                pm.map(|p| &p.contributing_factors),
                "Systems and decisions that made it possible.",
            ),
        ),
        (
            "resolution",
            section(pm.map(|p| &p.resolution), "What fixed it."),
        ),
        (
            "impact",
            section(
                pm.map(|p| &p.impact),
                "Customers, orders, revenue, data affected.",
            ),
        ),
        ("timeline", timeline),
        ("action_items", items),
    ];
    let _ = ctx;
    render(POSTMORTEM, &vars)
}

/// Read the five written sections back from a Markdown post-mortem (the
/// template's `## ` headings). HTML comments (prompts) count as empty.
pub fn parse_postmortem(markdown: &str) -> PostmortemText {
    let mut text = PostmortemText::default();
    let mut current: Option<&mut String> = None;
    for line in markdown.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            current = match heading.trim().to_ascii_lowercase().as_str() {
                "overview" => Some(&mut text.overview),
                "what happened" => Some(&mut text.what_happened),
                "contributing factors" => Some(&mut text.contributing_factors),
                "resolution" => Some(&mut text.resolution),
                "impact" => Some(&mut text.impact),
                _ => None,
            };
            continue;
        }
        if line.starts_with("# ") {
            current = None;
            continue;
        }
        if let Some(buf) = current.as_deref_mut() {
            if line.trim_start().starts_with("<!--") {
                continue;
            }
            buf.push_str(line);
            buf.push('\n');
        }
    }
    for s in [
        &mut text.overview,
        &mut text.what_happened,
        &mut text.contributing_factors,
        &mut text.resolution,
        &mut text.impact,
    ] {
        *s = s.trim().to_string();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_fills_and_refuses_unknown_placeholders() {
        let out = render(
            "Hi {{name}}, {{ n }}!",
            &[("name", "Maya".into()), ("n", "2".into())],
        );
        assert_eq!(out.ok().as_deref(), Some("Hi Maya, 2!"));
        assert!(render("{{nope}}", &[]).is_err());
        assert!(render("{{open", &[]).is_err());
    }

    #[test]
    fn postmortem_sections_round_trip() {
        let md = "# Post-mortem: x\n\n## Overview\nCheckout was down.\n\n## What happened\n<!-- prompt -->\nA deploy broke it.\nThen we rolled back.\n\n## Contributing factors\nNo canary.\n## Resolution\nRollback.\n## Impact\n40 orders.\n## Timeline\n- stuff\n";
        let t = parse_postmortem(md);
        assert_eq!(t.overview, "Checkout was down.");
        assert_eq!(t.what_happened, "A deploy broke it.\nThen we rolled back.");
        assert_eq!(t.contributing_factors, "No canary.");
        assert_eq!(t.impact, "40 orders.");
    }
}
