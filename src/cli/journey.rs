//! `vivid journey ...`: the customer journey from first touch to upsell.

use anyhow::Result;
use clap::{Args, Subcommand};
use vivid_core::config::Config;
use vivid_core::duration::format_delta;
use vivid_core::journey::model::LeadStatus;
use vivid_core::journey::read;
use vivid_core::journey::service::{self, NewTouch, TouchExtra};
use vivid_core::privacy::crypto::{MASTER_KEY_VAR, MasterKey};
use vivid_core::when::{Bound, Relative};

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum JourneyCommand {
    /// Record a touch (a first touch creates the prospect) and score it.
    Touch(TouchArgs),
    /// One lead: `journey lead show KEY` (or `journey lead KEY`) explains
    /// engagement (by touch kind, decay applied) and fit, its timeline,
    /// source, owner, hand-off clock and next content.
    Lead(LeadArgs),
    /// The lead queue: leads with Sales, soonest due first.
    Leads(LeadsArgs),
    /// Sales accepts a lead (MQL → SQL; acknowledges the hand-off).
    Accept(ActKeyArgs),
    /// Sales turns a lead down, with a reason (back to nurture later).
    Disqualify(DisqualifyArgs),
    /// Back to nurture now (Sales or Marketing).
    Recycle(ActKeyArgs),
    /// Give a lead to another Sales member.
    Assign(AssignArgs),
    /// Set a prospect's profile: fit attributes, region, segment.
    Profile(ProfileArgs),
    /// Say which segments and stages a content item suits.
    Target(TargetArgs),
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
    /// The campaign the touch came from (the lead's source campaign).
    #[arg(long)]
    campaign: Option<String>,
    /// The prospect's region (routing rules).
    #[arg(long)]
    region: Option<String>,
    /// A profile attribute for the fit score (repeatable).
    #[arg(long = "attribute", value_name = "A")]
    attributes: Vec<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct LeadArgs {
    /// `show KEY`, or just KEY (the older form).
    #[arg(num_args = 1..=2, value_name = "show KEY")]
    words: Vec<String>,
    /// Also reveal the lead's contact details (a logged read, purpose
    /// sales_contact; needs VIVID_MASTER_KEY).
    #[arg(long)]
    contact: bool,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct LeadsArgs {
    /// Only this Sales member's leads.
    #[arg(long = "for", value_name = "PERSON")]
    for_person: Option<String>,
    /// handed_off (mql), accepted (sql), contacted (opportunity),
    /// disqualified, customer, prospect; default: every lead with Sales.
    #[arg(long = "state", value_name = "S")]
    state: Vec<String>,
    /// At most this many (1-500).
    #[arg(long, default_value_t = 100)]
    limit: i64,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DisqualifyArgs {
    /// The prospect's key.
    prospect: String,
    /// Why (required): Marketing learns from it.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The prospect's key.
    prospect: String,
    /// The Sales member who takes the lead.
    person: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The prospect's key.
    prospect: String,
    /// A profile attribute the fit score counts (repeatable; replaces the
    /// old ones): trade_buyer, interior_designer, hospitality, ...
    #[arg(long = "attribute", value_name = "A")]
    attributes: Vec<String>,
    /// Remove every attribute.
    #[arg(long, conflicts_with = "attributes")]
    clear_attributes: bool,
    /// The prospect's region (routing rules).
    #[arg(long)]
    region: Option<String>,
    /// The prospect's segment.
    #[arg(long)]
    segment: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The content item's number (from `vivid content list`).
    content: i64,
    /// A segment it suits (repeatable; none: any segment).
    #[arg(long = "segment", value_name = "S")]
    segments: Vec<String>,
    /// A stage it suits (repeatable; none: any stage).
    #[arg(long = "stage", value_name = "S")]
    stages: Vec<String>,
    #[command(flatten)]
    actor: ActorArg,
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
    /// Also reveal the lead's contact details first (a logged read,
    /// purpose sales_contact; needs VIVID_MASTER_KEY).
    #[arg(long)]
    details: bool,
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
    /// Recorded by the shop's order feed (the system), not a person.
    #[arg(long)]
    system: bool,
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
    /// "feature": also send Product a feature request.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// The customer impact, for a feature request.
    #[arg(long)]
    impact: Option<String>,
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
    /// "product": also send the comment to Product as product feedback.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// The product the feedback is about (with --tag product).
    #[arg(long)]
    product: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
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
            let t = service::touch_with(
                &ctx,
                &NewTouch {
                    prospect: a.prospect,
                    channel: a.channel,
                    kind: a.kind,
                    idempotency_key: key,
                    segment: a.segment,
                    content_id: a.content,
                },
                &TouchExtra {
                    campaign: a.campaign,
                    region: a.region,
                    attributes: a.attributes,
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
            let key = match a.words.as_slice() {
                [key] => key.clone(),
                [show, key] if show == "show" => key.clone(),
                _ => {
                    return Err(vivid_core::Error::invalid(
                        "say which lead: journey lead show KEY (or journey lead KEY)",
                    )
                    .into());
                }
            };
            let lead = read::lead(&ctx, &key).await?;
            let details = if a.contact {
                let actor = a.actor.resolve(&ctx)?;
                Some(service::contact_details(&ctx, &master_key()?, &key, &actor).await?)
            } else {
                None
            };
            if a.json.json {
                return output::json(&serde_json::json!({
                    "prospect": lead.prospect,
                    "lifecycle": lead.lifecycle,
                    "handoff": lead.handoff,
                    "next_content": lead.next_content,
                    "brief": lead.brief,
                    "contact": details,
                }));
            }
            print_lead(&ctx, &lead);
            if let Some(d) = details {
                print_details(&d);
            }
            Ok(())
        }
        JourneyCommand::Leads(a) => {
            let mut states = Vec::new();
            for s in &a.state {
                states.push(LeadStatus::parse(s).ok_or_else(|| {
                    vivid_core::Error::invalid(format!(
                        "unknown lead state {s:?} (states: {})",
                        LeadStatus::ALL
                            .iter()
                            .map(|x| format!("{} ({})", x.as_str(), x.lifecycle()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?);
            }
            if let Some(p) = &a.for_person {
                ctx.org.actor(p)?;
            }
            if !(1..=500).contains(&a.limit) {
                return Err(vivid_core::Error::invalid("--limit is 1 to 500").into());
            }
            let leads = read::leads(&ctx, &states, a.for_person.as_deref(), a.limit).await?;
            if a.json.json {
                return output::json(&leads);
            }
            if leads.is_empty() {
                println!("no leads");
                return Ok(());
            }
            let now = ctx.now();
            let rows: Vec<Vec<String>> = leads
                .iter()
                .map(|q| {
                    let p = &q.prospect;
                    let due = match (q.due_at, p.status) {
                        (Some(d), LeadStatus::HandedOff) if q.breached || d < now => {
                            format!("LATE {}", ctx.calendar.format_local(d))
                        }
                        (Some(d), LeadStatus::HandedOff) => ctx.calendar.format_local(d),
                        _ => "-".into(),
                    };
                    vec![
                        p.key.clone(),
                        p.status.lifecycle().to_string(),
                        p.owner.clone().unwrap_or_else(|| "-".into()),
                        format!("{:.0}/{:.0}", p.score, p.fit),
                        p.segment.clone(),
                        due,
                    ]
                })
                .collect();
            output::table(
                &["LEAD", "STATE", "OWNER", "ENG/FIT", "SEGMENT", "RESPOND BY"],
                &rows,
            );
            Ok(())
        }
        JourneyCommand::Accept(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let p = service::accept(&ctx, &a.prospect, &actor).await?;
            if a.json.json {
                return output::json(&p);
            }
            println!(
                "{} accepted by @{actor} (sql), owner @{}",
                p.key,
                p.owner.as_deref().unwrap_or(&actor)
            );
            Ok(())
        }
        JourneyCommand::Disqualify(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let p = service::disqualify(&ctx, &a.prospect, &a.reason, &actor).await?;
            if a.json.json {
                return output::json(&p);
            }
            let after = recycle_after(&ctx);
            println!(
                "{} disqualified: {}; back to nurture in {after}",
                p.key,
                a.reason.trim()
            );
            Ok(())
        }
        JourneyCommand::Recycle(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let p = service::recycle(&ctx, &a.prospect, &actor).await?;
            if a.json.json {
                return output::json(&p);
            }
            println!("{} is back in nurture (score restarts at 0)", p.key);
            Ok(())
        }
        JourneyCommand::Assign(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let p = service::assign(&ctx, &a.prospect, &a.person, &actor).await?;
            if a.json.json {
                return output::json(&p);
            }
            println!(
                "{} is now owned by @{}",
                p.key,
                p.owner.as_deref().unwrap_or("-")
            );
            Ok(())
        }
        JourneyCommand::Profile(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let attrs = (a.clear_attributes || !a.attributes.is_empty()).then_some(a.attributes);
            let t = service::profile(
                &ctx,
                &a.prospect,
                attrs.as_deref(),
                a.region.as_deref(),
                a.segment.as_deref(),
                &actor,
            )
            .await?;
            if a.json.json {
                return output::json(&t);
            }
            let p = &t.prospect;
            println!(
                "{}: fit {:.0} ({}), segment {}, region {}",
                p.key,
                p.fit,
                if p.attributes.is_empty() {
                    "no attributes".to_string()
                } else {
                    p.attributes.join(", ")
                },
                p.segment,
                p.region.as_deref().unwrap_or("-")
            );
            if let Some(h) = t.handed_off {
                println!("handed to Sales (hand-off #{h})");
            }
            Ok(())
        }
        JourneyCommand::Target(a) => {
            let actor = a.actor.resolve(&ctx)?;
            service::target_content(&ctx, a.content, &a.segments, &a.stages, &actor).await?;
            if a.json.json {
                return output::json(&serde_json::json!({
                    "content_id": a.content, "segments": a.segments, "stages": a.stages
                }));
            }
            println!(
                "content #{} suits segments {} at stages {}",
                a.content,
                if a.segments.is_empty() {
                    "(any)".into()
                } else {
                    a.segments.join(", ")
                },
                if a.stages.is_empty() {
                    "(any)".into()
                } else {
                    a.stages.join(", ")
                }
            );
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
            let details = if a.details {
                Some(service::contact_details(&ctx, &master_key()?, &a.prospect, &actor).await?)
            } else {
                None
            };
            let p = service::contact(&ctx, &a.prospect, &actor, &a.note).await?;
            if a.json.json {
                return output::json(&serde_json::json!({ "prospect": p, "contact": details }));
            }
            if let Some(d) = &details {
                print_details(d);
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
            let by = if a.system {
                service::SYSTEM.to_string()
            } else {
                actor
            };
            let p =
                service::convert(&ctx, &a.prospect, (dollars * 100.0).round() as i64, &by).await?;
            if a.json.json {
                return output::json(&p);
            }
            println!("{} converted: ${dollars:.2}", p.key);
            Ok(())
        }
        JourneyCommand::Ticket(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let t = service::ticket_with(
                &ctx,
                &a.prospect,
                &a.subject,
                &a.tags,
                a.impact.as_deref(),
                &actor,
            )
            .await?;
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
            let h = service::feedback_with(
                &ctx,
                &a.prospect,
                a.nps,
                a.csat,
                &a.comment,
                &a.tags,
                a.product.as_deref(),
            )
            .await?;
            if a.json.json {
                return output::json(
                    &serde_json::json!({ "recorded": true, "product_feedback": h }),
                );
            }
            println!("feedback recorded");
            if let Some(h) = h {
                println!("sent to Product as product feedback (hand-off #{h})");
            }
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
            println!("campaign data sent to Sales (hand-off #{})", c.handoff_id);
            Ok(())
        }
        JourneyCommand::Funnel(a) => {
            let from = super::parse_when(&ctx, "--since", &a.since, Bound::Start, Relative::Past)?;
            let f = read::funnel(&ctx, ctx.now() - from).await?;
            let q = read::quality(&ctx, ctx.now() - from).await?;
            if a.json.json {
                #[derive(serde::Serialize)]
                struct WithQuality<'a> {
                    #[serde(flatten)]
                    funnel: &'a read::Funnel,
                    handoff_quality: &'a read::Quality,
                }
                return output::json(&WithQuality {
                    funnel: &f,
                    handoff_quality: &q,
                });
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
            println!(
                "hand-off quality: {} handed off · {} accepted ({}) · {} disqualified ({})",
                q.handed_off,
                q.accepted,
                pct(q.accepted_rate),
                q.disqualified,
                pct(q.disqualified_rate)
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

fn master_key() -> Result<MasterKey> {
    Ok(MasterKey::from_env(MASTER_KEY_VAR)?)
}

fn recycle_after(ctx: &vivid_core::Ctx) -> String {
    vivid_core::journey::config::settings(&ctx.config)
        .map(|c| format_delta(c.recycle_after.delta()))
        .unwrap_or_else(|_| "the configured time".into())
}

fn print_details(d: &vivid_core::privacy::service::PiiRead) {
    println!(
        "contact details (read #{} logged, purpose {}):",
        d.access_id,
        service::CONTACT_PURPOSE
    );
    for (field, value) in &d.values {
        println!("  {field}: {}", output::clean(value));
    }
}

/// `journey lead show`: why the lead is worth Sales' time.
fn print_lead(ctx: &vivid_core::Ctx, lead: &read::Lead) {
    let p = &lead.prospect;
    let b = &lead.brief;
    println!(
        "{} — {} ({}), stage {}, segment {}{}",
        p.key,
        p.status.words(),
        p.status.lifecycle(),
        p.stage,
        p.segment,
        p.region
            .as_ref()
            .map(|r| format!(", region {r}"))
            .unwrap_or_default()
    );
    println!(
        "owner {} · source {}{}",
        p.owner
            .as_deref()
            .map(|o| format!("@{o}"))
            .unwrap_or_else(|| "-".into()),
        b.source_channel,
        b.campaign
            .as_ref()
            .map(|c| format!(", campaign {c}"))
            .unwrap_or_default()
    );
    println!(
        "engagement {:.1} (decaying; half-life {}) · fit {:.0}",
        b.engagement,
        vivid_core::journey::config::settings(&ctx.config)
            .map(|c| format_delta(c.decay_half_life.delta()))
            .unwrap_or_default(),
        b.fit
    );
    match &b.qualifies {
        Some(rule) => println!("hand-off rule met: {rule}"),
        None => println!("hand-off rule not met now"),
    }
    if !b.breakdown.is_empty() {
        println!("Engagement by touch:");
        let rows: Vec<Vec<String>> = b
            .breakdown
            .iter()
            .map(|k| {
                vec![
                    k.kind.clone(),
                    k.touches.to_string(),
                    format!("{:+}", k.points),
                    format!("{:.1}", k.decayed),
                ]
            })
            .collect();
        output::table(&["TOUCH", "COUNT", "POINTS", "NOW (DECAYED)"], &rows);
    }
    if b.fit_breakdown.is_empty() {
        println!("Fit: no scored profile attributes or order history");
    } else {
        println!("Fit: {}", b.fit_lines().join(", "));
    }
    if !b.timeline.is_empty() {
        println!("Last touches:");
        for l in b.timeline_lines(&|t| ctx.calendar.format_local(t)) {
            println!("  {}", output::clean(&l));
        }
    }
    if let Some(h) = &lead.handoff {
        println!(
            "hand-off #{} {} · respond by {}{}",
            h.id,
            h.status.replace('_', " "),
            ctx.calendar.format_local(h.due_at),
            if h.breached { " (breached)" } else { "" }
        );
    }
    if let Some(r) = &p.disqualify_reason {
        println!("disqualified: {}", output::clean(r));
    }
    match &lead.next_content {
        Some((id, title)) => println!("next touch: content #{id} {}", output::clean(title)),
        None => println!("next touch: no live content yet"),
    }
}
