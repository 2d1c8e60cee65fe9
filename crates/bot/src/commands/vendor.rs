//! `/vendor`: a vendor's scorecard, renewals due, and the decisions the
//! workflow asks of directors — approve or reject an RFP's award, extend or
//! end a missed improvement plan. The "Approval needed" direct message of an
//! award carries an Approve button (`vendor:approve:RFP`). Core decides who
//! may; the bot only lays it out.

use serde_json::json;
use vivid_core::Ctx;
use vivid_core::engine::approvals::{Decision, Outcome};
use vivid_core::engine::outbox::Notification;
use vivid_core::vendor::model::{Period, money};
use vivid_core::vendor::service::{self, Scorecard};

use crate::model::{Button, Choice, Embed, Invocation, Message, Response, Style, truncate};
use crate::registry::{
    BoxFuture, Call, CommandDef, CommandGroup, CustomId, Failure, OptionDef, Reply,
};
use crate::render::{GREEN, GREY, ORANGE, RED, YELLOW, name};

pub struct Vendor;

const NAME: &str = "vendor";
const COMMENT_MAX: u16 = 1000;

fn vendor_option() -> OptionDef {
    OptionDef::string("name", "The vendor's name")
        .required()
        .autocomplete()
        .max_length(120)
}

fn rfp_option() -> OptionDef {
    OptionDef::int("rfp", "The RFP number, e.g. 3").required()
}

impl CommandGroup for Vendor {
    fn definition(&self) -> CommandDef {
        CommandDef {
            name: NAME,
            description: "Vendors: scorecards, renewals, award and improvement-plan decisions",
            options: vec![
                OptionDef::sub(
                    "scorecard",
                    "A vendor's latest monthly scorecard: criteria, score, standing, OTD/OTIF/PPM",
                    vec![
                        vendor_option(),
                        OptionDef::string(
                            "period",
                            "A month, YYYY-MM (default: the latest review)",
                        )
                        .max_length(7),
                    ],
                ),
                OptionDef::sub(
                    "renewals",
                    "Contracts whose notice date is coming up",
                    vec![],
                ),
                OptionDef::sub(
                    "approve",
                    "Approve the pending award of an RFP",
                    vec![
                        rfp_option(),
                        OptionDef::string("comment", "Anything to add").max_length(COMMENT_MAX),
                    ],
                ),
                OptionDef::sub(
                    "reject",
                    "Reject the pending award of an RFP, saying why",
                    vec![
                        rfp_option(),
                        OptionDef::string("comment", "Why it is rejected")
                            .required()
                            .max_length(COMMENT_MAX),
                    ],
                ),
                OptionDef::sub(
                    "plan",
                    "Decide a missed improvement plan: extend it, or end the vendor",
                    vec![
                        vendor_option(),
                        OptionDef::string("decision", "Extend the plan or end the vendor")
                            .required()
                            .choices(&[("Extend", "extend"), ("End", "end")]),
                        OptionDef::string("comment", "Why (needed to end)").max_length(COMMENT_MAX),
                    ],
                ),
            ],
        }
    }

    fn ephemeral(&self, inv: &Invocation) -> bool {
        // Decisions are announced; reading is private.
        !matches!(
            inv.subcommand.as_deref(),
            Some("approve" | "reject" | "plan")
        )
    }

    fn run<'a>(&'a self, call: Call<'a>, inv: &'a Invocation) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            match inv.subcommand.as_deref() {
                Some("scorecard") => {
                    let vendor = required_str(inv, "name")?;
                    let period = match inv.str("period").map(str::trim).filter(|s| !s.is_empty()) {
                        Some(p) => Some(p.parse::<Period>().map_err(|r| Failure::usage(r.0))?),
                        None => None,
                    };
                    let card = service::scorecard(ctx, vendor, period).await?;
                    Ok(Response::Message(
                        Message::embed(scorecard_embed(&card)).ephemeral(),
                    ))
                }
                Some("renewals") => {
                    let due = service::renewals_due(ctx).await?;
                    let mut lines = Vec::new();
                    for (c, v) in due.iter().take(20) {
                        lines.push(format!(
                            "**{v}** · notice {} · ends {} · {}{}",
                            c.notice_date,
                            c.end_date,
                            money(c.monthly_cents),
                            if c.auto_renew { " · auto-renews" } else { "" }
                        ));
                    }
                    let embed = Embed {
                        title: Some(format!("Renewals due ({})", due.len())),
                        description: Some(if lines.is_empty() {
                            "No notice date within the window.".into()
                        } else {
                            lines.join("\n")
                        }),
                        colour: Some(if due.is_empty() { GREEN } else { YELLOW }),
                        ..Embed::default()
                    };
                    Ok(Response::Message(Message::embed(embed).ephemeral()))
                }
                Some("approve") => award(call, rfp_id(inv)?, Decision::Approve, comment(inv)).await,
                Some("reject") => award(call, rfp_id(inv)?, Decision::Reject, comment(inv)).await,
                Some("plan") => {
                    let vendor = required_str(inv, "name")?;
                    let decision = match inv.str("decision") {
                        Some("extend") => Decision::Approve,
                        Some("end") => Decision::Reject,
                        _ => return Err(Failure::usage("decision is extend or end")),
                    };
                    let d = service::detail(ctx, vendor).await?;
                    let plan = d.plan.ok_or_else(|| {
                        Failure::usage(format!("{} has no improvement plan", d.vendor.name))
                    })?;
                    let outcome = service::decide_plan(
                        ctx,
                        plan.id,
                        &call.actor.handle,
                        decision,
                        comment(inv),
                    )
                    .await?;
                    Ok(Response::Message(Message::text(format!(
                        "**{}** decided {}'s improvement plan #{}: {}",
                        name(ctx, &call.actor.handle),
                        d.vendor.name,
                        plan.id,
                        outcome_text(&outcome, "extended", "the vendor ends")
                    ))))
                }
                other => Err(Failure::usage(format!(
                    "/vendor {} is not a subcommand: use scorecard, renewals, approve, reject or plan",
                    other.unwrap_or("(none)")
                ))),
            }
        })
    }

    fn component<'a>(&'a self, call: Call<'a>, id: CustomId<'a>) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let rfp: i64 = id
                .arg
                .parse()
                .map_err(|_| Failure::usage(format!("{:?} is not an RFP number", id.arg)))?;
            match id.action {
                "approve" => award(call, rfp, Decision::Approve, "").await,
                other => Err(Failure::usage(format!("unknown vendor button {other:?}"))),
            }
        })
    }

    fn autocomplete<'a>(
        &'a self,
        call: Call<'a>,
        inv: &'a Invocation,
    ) -> BoxFuture<'a, Vec<Choice>> {
        Box::pin(async move {
            let typed = inv
                .focused()
                .and_then(|o| o.value.as_str().map(|s| s.trim().to_lowercase()))
                .unwrap_or_default();
            let Ok(list) = service::list(call.ctx, None).await else {
                return Vec::new();
            };
            list.iter()
                .filter(|v| typed.is_empty() || v.name.to_lowercase().contains(&typed))
                .take(25)
                .map(|v| Choice {
                    name: truncate(&format!("{} ({})", v.name, v.state), 100),
                    value: json!(v.name),
                })
                .collect()
        })
    }

    fn workflow(&self) -> Option<&'static str> {
        Some(vivid_core::vendor::WORKFLOW)
    }

    /// Approve on the "Approval needed" message of an award still pending.
    fn notification_buttons<'a>(
        &'a self,
        ctx: &'a Ctx,
        n: &'a Notification,
    ) -> BoxFuture<'a, Vec<Vec<Button>>> {
        Box::pin(async move {
            let Some(rfp) = n
                .entity_id
                .strip_prefix("rfp:")
                .and_then(|s| s.parse::<i64>().ok())
            else {
                return Vec::new();
            };
            if n.payload.get("approval_id").is_none() {
                return Vec::new();
            }
            match service::rank(ctx, &rfp.to_string()).await {
                Ok(r) if r.rfp.state == vivid_core::vendor::model::RfpState::Awarding => {
                    vec![vec![Button::new(
                        "Approve award",
                        format!("{NAME}:approve:{rfp}"),
                        Style::Success,
                    )]]
                }
                _ => Vec::new(),
            }
        })
    }
}

fn required_str<'a>(inv: &'a Invocation, key: &str) -> Result<&'a str, Failure> {
    inv.str(key)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Failure::usage(format!("say which: {key}:")))
}

fn rfp_id(inv: &Invocation) -> Result<i64, Failure> {
    inv.int("rfp")
        .ok_or_else(|| Failure::usage("say which RFP: rfp:3"))
}

fn comment(inv: &Invocation) -> &str {
    inv.str("comment").unwrap_or_default()
}

fn outcome_text(o: &Outcome, approved: &str, rejected: &str) -> String {
    match o {
        Outcome::Pending {
            approvals,
            required,
        } => format!("{approvals} of {required} approvals so far"),
        Outcome::Approved => approved.to_string(),
        Outcome::AlreadyApproved => "it was approved already".into(),
        Outcome::Rejected | Outcome::ChangesRequested => rejected.to_string(),
    }
}

async fn award(call: Call<'_>, rfp: i64, decision: Decision, comment: &str) -> Reply {
    let ctx = call.ctx;
    let d = service::decide_award(ctx, rfp, &call.actor.handle, decision, comment).await?;
    let verb = match decision {
        Decision::Approve => "approved",
        _ => "rejected",
    };
    Ok(Response::Message(Message::text(format!(
        "**{}** {verb} the award of RFP #{} {}: {}",
        name(ctx, &call.actor.handle),
        d.rfp.id,
        d.rfp.title,
        outcome_text(&d.outcome, "awarded", "back to the proposals")
    ))))
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "no data".into())
}

/// The scorecard, read on a phone: score and standing first, then criteria,
/// then the delivery figures ("no data" where there is none).
pub fn scorecard_embed(c: &Scorecard) -> Embed {
    let colour = match c.standing.as_deref() {
        Some("good") => GREEN,
        Some("fair") => YELLOW,
        Some("poor") => ORANGE,
        Some("very_poor") => RED,
        _ => GREY,
    };
    let criteria: Vec<String> = c
        .criteria
        .iter()
        .map(|k| {
            format!(
                "{} ({}%): {}",
                k.name,
                k.weight,
                k.score
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or_else(|| "not scored".into())
            )
        })
        .collect();
    Embed {
        title: Some(format!("{} — {}", c.vendor, c.period)),
        description: Some(format!(
            "Period score **{}** · overall **{}** · standing **{}**{}",
            c.period_score
                .map(|s| format!("{s:.1}"))
                .unwrap_or_else(|| "none (no deliveries)".into()),
            c.overall_score
                .map(|s| format!("{s:.1}"))
                .unwrap_or_else(|| "—".into()),
            c.standing.as_deref().unwrap_or("unscored"),
            if c.reviewed { "" } else { " (preview)" }
        )),
        colour: Some(colour),
        ..Embed::default()
    }
    .field("Criteria", criteria.join("\n"), false)
    .field(
        "Deliveries",
        format!(
            "{} order(s) · on time {} · OTIF {} · in full {} · PPM {}",
            c.kpis.orders,
            pct(c.kpis.on_time_rate),
            pct(c.kpis.otif_rate),
            pct(c.kpis.in_full_rate),
            c.kpis
                .ppm
                .map(|p| format!("{p:.0}"))
                .unwrap_or_else(|| "no data".into())
        ),
        false,
    )
}
