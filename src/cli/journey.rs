//! `vivid journey ...`: the customer journey from first touch to upsell.

use anyhow::Result;
use clap::{Args, Subcommand};
use vivid_core::config::Config;
use vivid_core::duration::format_delta;
use vivid_core::journey::read;
use vivid_core::journey::service::{self, NewTouch};
use vivid_core::when::{Bound, Relative};

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum JourneyCommand {
    /// Record a touch (a first touch creates the prospect) and score it.
    Touch(TouchArgs),
    /// A prospect's score, stage, status and next personalised content.
    Lead(KeyArgs),
    /// Hand a lead to Sales before it reaches the threshold.
    Handoff(ActKeyArgs),
    /// Sales contacted the lead (acknowledges the hand-off).
    Contact(ContactArgs),
    /// An order with its value.
    Convert(ConvertArgs),
    /// Open a support request (with the support SLA).
    Ticket(TicketArgs),
    /// Resolve a support request.
    Resolve(ResolveArgs),
    /// NPS and/or CSAT from a customer.
    Feedback(FeedbackArgs),
    /// A customer refers someone.
    Refer(ReferArgs),
    /// Start an upsell or cross-sell campaign for satisfied customers.
    Campaign(CampaignArgs),
    /// Funnel KPIs: conversion per stage, time to first contact, SLAs, NPS, referrals, revenue per channel.
    Funnel(FunnelArgs),
}

#[derive(Debug, Args)]
pub struct TouchArgs {
    /// The prospect's key (e.g. an e-mail address or CRM id); a new key creates the prospect.
    prospect: String,
    /// ad, content, email, social, site, referral
    #[arg(long)]
    channel: String,
    /// delivered, opened, clicked, reply, form_submitted, unsubscribed
    #[arg(long)]
    kind: String,
    /// Replays with the same key score once (default: a fresh key).
    #[arg(long)]
    key: Option<String>,
    /// The prospect's segment (e.g. first-home, gift-buyers).
    #[arg(long)]
    segment: Option<String>,
    /// The content item touched (its number, from `vivid content list`).
    #[arg(long)]
    content: Option<i64>,
    /// Where the touch comes from (default: manual).
    #[arg(long, default_value = "manual")]
    source: String,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The prospect's key (e.g. an e-mail address or CRM id).
    prospect: String,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ActKeyArgs {
    /// The prospect's key (e.g. an e-mail address or CRM id).
    prospect: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ContactArgs {
    /// The prospect's key (e.g. an e-mail address or CRM id).
    prospect: String,
    /// What was said, in a sentence or two.
    #[arg(long, default_value = "")]
    note: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The prospect's key (e.g. an e-mail address or CRM id).
    prospect: String,
    /// Order value in dollars.
    #[arg(long)]
    value: Option<f64>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct TicketArgs {
    /// The prospect's key (e.g. an e-mail address or CRM id).
    prospect: String,
    /// What the request is about, in a few words.
    subject: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The support request number (from `vivid journey ticket`).
    ticket: i64,
    /// How it was resolved, in a sentence.
    #[arg(long)]
    resolution: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// The prospect's key (e.g. an e-mail address or CRM id).
    prospect: String,
    /// Net Promoter Score, 0-10.
    #[arg(long)]
    nps: Option<i32>,
    /// Customer satisfaction, 1-5.
    #[arg(long)]
    csat: Option<i32>,
    /// What the customer said, in free text.
    #[arg(long, default_value = "")]
    comment: String,
}

#[derive(Debug, Args)]
pub struct ReferArgs {
    /// The referring customer's key.
    prospect: String,
    /// The referred person's key (e.g. an e-mail address); becomes a prospect.
    referred: String,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// The campaign's name.
    name: String,
    /// upsell or cross_sell
    #[arg(long, default_value = "upsell")]
    kind: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct FunnelArgs {
    /// Prospects created in the last DURATION, or since a date (YYYY-MM-DD,
    /// a local date) or time.
    #[arg(long, default_value = "30d")]
    since: String,
    #[command(flatten)]
    json: JsonFlag,
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

pub async fn run(config: Config, cmd: JourneyCommand) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    match cmd {
        JourneyCommand::Touch(a) => {
            let key = a.key.unwrap_or_else(|| {
                format!("{}-{}-{}", a.prospect, a.kind, ctx.now().timestamp_micros())
            });
            let t = service::touch(
                &ctx,
                &NewTouch {
                    prospect: a.prospect,
                    channel: a.channel,
                    kind: a.kind,
                    idempotency_key: key,
                    segment: a.segment,
                    content_id: a.content,
                },
                &a.source,
            )
            .await?;
            if a.json.json {
                return output::json(&t);
            }
            if !t.scored {
                println!(
                    "already recorded: {} stays at {:.0} ({})",
                    t.prospect.key, t.prospect.score, t.prospect.stage
                );
                return Ok(());
            }
            println!(
                "{} {:+} → score {:.0}, {}",
                t.prospect.key, t.points, t.prospect.score, t.prospect.stage
            );
            if let Some(h) = t.handed_off {
                println!("handed to Sales (hand-off #{h})");
            }
            if t.alerted {
                println!("the Sales director is alerted: qualified lead");
            }
            Ok(())
        }
        JourneyCommand::Lead(a) => {
            let p = service::get(&ctx, &a.prospect).await?;
            let next = read::next_content(&ctx, &p).await?;
            if a.json.json {
                return output::json(&serde_json::json!({ "prospect": p, "next_content": next }));
            }
            println!(
                "{} — {} ({}), score {:.0}, segment {}",
                p.key,
                p.stage,
                p.status.words(),
                p.score,
                p.segment
            );
            println!(
                "first touch {}, last touch {}",
                p.first_channel, p.last_channel
            );
            if let Some((id, title)) = next {
                println!("next touch: content #{id} {title}");
            }
            Ok(())
        }
        JourneyCommand::Handoff(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let p = service::handoff(&ctx, &a.prospect, &actor).await?;
            if a.json.json {
                return output::json(&p);
            }
            println!("{} handed to Sales", p.key);
            Ok(())
        }
        JourneyCommand::Contact(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let p = service::contact(&ctx, &a.prospect, &actor, &a.note).await?;
            if a.json.json {
                return output::json(&p);
            }
            let after = match (p.contacted_at, p.handed_off_at) {
                (Some(c), Some(h)) => format!(" {} after the hand-off", format_delta(c - h)),
                _ => String::new(),
            };
            println!("{} contacted by @{actor}{after}", p.key);
            Ok(())
        }
        JourneyCommand::Convert(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let dollars = a.value.ok_or_else(|| {
                vivid_core::Error::invalid(
                    "a conversion needs --value (the order value in dollars)",
                )
            })?;
            if !dollars.is_finite() {
                return Err(vivid_core::Error::invalid("--value must be a number").into());
            }
            let p = service::convert(&ctx, &a.prospect, (dollars * 100.0).round() as i64, &actor)
                .await?;
            if a.json.json {
                return output::json(&p);
            }
            println!("{} converted: ${dollars:.2}", p.key);
            Ok(())
        }
        JourneyCommand::Ticket(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let t = service::ticket(&ctx, &a.prospect, &a.subject, &actor).await?;
            if a.json.json {
                return output::json(&t);
            }
            println!(
                "ticket #{} opened, due {}",
                t.id,
                ctx.calendar.format_local(t.due_at)
            );
            Ok(())
        }
        JourneyCommand::Resolve(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let t = service::resolve(&ctx, a.ticket, &actor, &a.resolution).await?;
            if a.json.json {
                return output::json(&t);
            }
            println!("ticket #{} resolved", t.id);
            Ok(())
        }
        JourneyCommand::Feedback(a) => {
            service::feedback(&ctx, &a.prospect, a.nps, a.csat, &a.comment).await?;
            println!("feedback recorded");
            Ok(())
        }
        JourneyCommand::Refer(a) => {
            let p = service::refer(&ctx, &a.prospect, &a.referred).await?;
            if a.json.json {
                return output::json(&p);
            }
            println!("{} referred {}", a.prospect, p.key);
            Ok(())
        }
        JourneyCommand::Campaign(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let c = service::campaign(&ctx, &a.name, &a.kind, &actor).await?;
            if a.json.json {
                return output::json(&c);
            }
            println!(
                "campaign #{} {} for {} satisfied customers; its e-mail is content #{} (planning)",
                c.id,
                c.name,
                c.audience.len(),
                c.content_id
            );
            Ok(())
        }
        JourneyCommand::Funnel(a) => {
            let from = super::parse_when(&ctx, "--since", &a.since, Bound::Start, Relative::Past)?;
            let f = read::funnel(&ctx, ctx.now() - from).await?;
            if a.json.json {
                return output::json(&f);
            }
            println!(
                "Funnel, prospects since {} ({} prospects):",
                f.from.format("%Y-%m-%d"),
                f.prospects
            );
            let rows: Vec<Vec<String>> = f
                .stages
                .iter()
                .map(|(s, n, share)| vec![s.clone(), n.to_string(), pct(Some(*share))])
                .collect();
            output::table(&["STAGE (OR BEYOND)", "PROSPECTS", "SHARE"], &rows);
            println!(
                "handed off {} · contacted {} · customers {} · conversion {}",
                f.handed_off,
                f.contacted,
                f.customers,
                pct(f.conversion_rate)
            );
            println!(
                "time to first contact {} · lead hand-off SLA met {} · support SLA met {}",
                f.mean_time_to_first_contact_secs
                    .map(|s| format_delta(chrono::TimeDelta::seconds(s)))
                    .unwrap_or_else(|| "-".into()),
                pct(f.lead_handoff_sla_compliance),
                pct(f.support_sla_compliance)
            );
            println!(
                "NPS {} · CSAT {} · referral rate {}",
                f.nps
                    .map(|n| format!("{n:.0}"))
                    .unwrap_or_else(|| "-".into()),
                f.csat
                    .map(|c| format!("{c:.1}"))
                    .unwrap_or_else(|| "-".into()),
                pct(f.referral_rate)
            );
            if !f.revenue_by_channel.is_empty() {
                let rows: Vec<Vec<String>> = f
                    .revenue_by_channel
                    .iter()
                    .map(|(c, first, last)| {
                        vec![
                            c.clone(),
                            format!("${:.0}", *first as f64 / 100.0),
                            format!("${:.0}", *last as f64 / 100.0),
                        ]
                    })
                    .collect();
                output::table(
                    &["CHANNEL", "FIRST-TOUCH REVENUE", "LAST-TOUCH REVENUE"],
                    &rows,
                );
            }
            Ok(())
        }
    }
}
