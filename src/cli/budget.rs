//! `vivid budget ...`: allocation, spend requests, expenses, pacing and
//! alarms, spend reviews, reallocation, ROI and period close.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use vivid_core::Ctx;
use vivid_core::budget::model::{Rollover, format_cents};
use vivid_core::budget::read;
use vivid_core::budget::service::{self, DecideAs, NewExpense, NewRequest, SetLine};
use vivid_core::config::Config;
use vivid_core::when::{Bound, Relative};

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum BudgetCommand {
    /// Set or change a budget line (above a threshold it waits for approval).
    Set(SetArgs),
    /// Split a department's amount across the channels of [budget.split].
    Split(SplitArgs),
    /// Campaigns with their own budget line.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Ask for money before spending (approval layers by amount).
    Request(RequestArgs),
    /// Record one expense (idempotent by --ref).
    Expense(ExpenseArgs),
    /// Import expenses from CSV: ref,date,department,channel,campaign,vendor,amount.
    Import(ImportArgs),
    /// Record revenue for a campaign reported elsewhere (idempotent by --ref).
    Revenue(RevenueArgs),
    /// Pacing, forecast and alarms of every line, as of any instant.
    Status(StatusArgs),
    /// ROAS per campaign and the proposals it leads to.
    Roi(PeriodArgs),
    /// Move funds between two lines of a period (the total is unchanged).
    Reallocate(ReallocateArgs),
    /// Budget decisions waiting: spend reviews, requests, line changes, moves.
    Reviews(JsonOnly),
    /// Decide one of them: approve, deny, adjust or reallocate.
    Decide(DecideArgs),
    /// Close (lock) a period and carry its lines into the next.
    Close(CloseArgs),
    /// The period report: utilization, variance, forecast accuracy, ROAS, reviews.
    Report(PeriodArgs),
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// A campaign with its budget line in the current period.
    New(CampaignArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The department whose line this is (a key from `vivid org list`).
    department: String,
    /// Dollars, e.g. 30000 or 1250.50.
    amount: String,
    /// Narrow the line to this channel (e.g. ads, social, email).
    #[arg(long)]
    channel: Option<String>,
    /// Narrow the line to this campaign (its name).
    #[arg(long)]
    campaign: Option<String>,
    /// YYYY-MM (default: the current period).
    #[arg(long)]
    period: Option<String>,
    /// A hard limit: spend requests beyond it are refused.
    #[arg(long)]
    hard: bool,
    /// Carry-over at close: none, positive, both.
    #[arg(long)]
    rollover: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// The department whose budget is split (a key from `vivid org list`).
    department: String,
    /// The total to split across its lines, in dollars (e.g. 30000 or 1250.50).
    amount: String,
    /// YYYY-MM (default: the current period).
    #[arg(long)]
    period: Option<String>,
    /// Only show the parts; set no lines.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// The campaign's name (how other commands refer to it).
    name: String,
    /// The department that owns it (a key from `vivid org list`).
    #[arg(long)]
    department: String,
    /// The channel it spends on (e.g. ads, social, email).
    #[arg(long)]
    channel: String,
    /// Dollars.
    #[arg(long)]
    budget: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The department that would spend (a key from `vivid org list`).
    department: String,
    /// How much, in dollars (e.g. 2500 or 1250.50).
    amount: String,
    /// What it is for, in a sentence (recorded in the event log).
    #[arg(long)]
    reason: String,
    /// The channel it would be spent on (e.g. ads, social, email).
    #[arg(long)]
    channel: Option<String>,
    /// The campaign it would be spent on (its name).
    #[arg(long)]
    campaign: Option<String>,
    /// The reference the expense will carry (default REQ-<id>).
    #[arg(long = "ref")]
    reference: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ExpenseArgs {
    /// The department that spent it (a key from `vivid org list`).
    department: String,
    /// How much, in dollars (e.g. 2500 or 1250.50).
    amount: String,
    /// The local date it was spent.
    #[arg(long)]
    on: String,
    /// A unique reference (invoice or PO number); recording it again changes nothing.
    #[arg(long = "ref")]
    reference: String,
    /// The channel it was spent on (e.g. ads, social, email).
    #[arg(long)]
    channel: Option<String>,
    /// The campaign it was spent on (its name).
    #[arg(long)]
    campaign: Option<String>,
    /// The vendor paid (its name, from `vivid vendor list`).
    #[arg(long)]
    vendor: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file ("-" for standard input).
    file: PathBuf,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RevenueArgs {
    /// The campaign that earned it (its name).
    campaign: String,
    /// How much, in dollars (e.g. 2500 or 1250.50).
    amount: String,
    /// The local date it was earned (YYYY-MM-DD).
    #[arg(long)]
    on: String,
    /// A unique reference (e.g. an order number); recording it again changes nothing.
    #[arg(long = "ref")]
    reference: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this department's lines (a key from `vivid org list`).
    department: Option<String>,
    /// YYYY-MM (default: the current period).
    #[arg(long)]
    period: Option<String>,
    /// As of this instant (a local date or time; default now).
    #[arg(long)]
    at: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct PeriodArgs {
    /// YYYY-MM (default: the current period).
    #[arg(long)]
    period: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct JsonOnly {
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ReallocateArgs {
    /// department[/channel[/campaign]] or #id.
    from: String,
    /// The line to give to: department[/channel[/campaign]] or #id.
    to: String,
    /// How much to move, in dollars (e.g. 2500 or 1250.50).
    amount: String,
    /// Why, in a sentence (recorded in the event log).
    #[arg(long)]
    reason: String,
    /// YYYY-MM (default: the current period).
    #[arg(long)]
    period: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The approval number `budget reviews` shows.
    id: i64,
    /// approve, deny, adjust or reallocate.
    decision: String,
    /// Why, in a sentence (recorded in the event log).
    #[arg(long, default_value = "")]
    reason: String,
    /// approve: raise the line by this much (default: the overspend).
    #[arg(long)]
    raise: Option<String>,
    /// adjust: campaigns to pause (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    pause: Vec<String>,
    /// reallocate: the line to take from.
    #[arg(long)]
    from: Option<String>,
    /// reallocate: how much.
    #[arg(long)]
    amount: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// The period to close, YYYY-MM.
    period: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

fn amount(ctx: &Ctx, text: &str) -> Result<i64> {
    Ok(service::parse_amount(ctx, text)?)
}

fn local_date(ctx: &Ctx, flag: &str, text: &str) -> Result<chrono::NaiveDate> {
    let at = super::parse_when(ctx, flag, text, Bound::Start, Relative::Past)?;
    Ok(ctx.calendar.local_date(at))
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

pub async fn run(config: Config, cmd: BudgetCommand) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    match cmd {
        BudgetCommand::Set(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let rollover = a
                .rollover
                .as_deref()
                .map(|r| r.parse::<Rollover>().map_err(vivid_core::Error::invalid))
                .transpose()?;
            let out = service::set_line(
                &ctx,
                &SetLine {
                    department: a.department,
                    amount_cents: amount(&ctx, &a.amount)?,
                    channel: a.channel,
                    campaign: a.campaign,
                    period: a.period,
                    hard: a.hard,
                    rollover,
                },
                &actor,
            )
            .await?;
            if a.json.json {
                return output::json(&out);
            }
            match &out.approval {
                Some(req) => println!(
                    "line #{} {}: {} waits for approval #{} ({})",
                    out.line.id,
                    out.line.label(),
                    format_cents(out.line.pending_cents.unwrap_or_default()),
                    req.id,
                    req.eligible_roles.join(", ")
                ),
                None => println!(
                    "line #{} {} set to {}{}",
                    out.line.id,
                    out.line.label(),
                    format_cents(out.line.budget_cents),
                    if out.line.hard { " (hard limit)" } else { "" }
                ),
            }
            Ok(())
        }
        BudgetCommand::Split(a) => {
            let cents = amount(&ctx, &a.amount)?;
            if a.dry_run {
                let parts = service::split_parts(&ctx, cents)?;
                if a.json.json {
                    return output::json(&serde_json::json!({ "parts": parts }));
                }
                for p in parts {
                    println!("{:<12} {}", p.channel, format_cents(p.amount_cents));
                }
                return Ok(());
            }
            let actor = a.actor.resolve(&ctx)?;
            let out =
                service::split(&ctx, &a.department, cents, a.period.as_deref(), &actor).await?;
            if a.json.json {
                return output::json(&out);
            }
            println!("{} split for {}:", format_cents(cents), out.period);
            for (p, l) in out.parts.iter().zip(&out.lines) {
                println!(
                    "  {:<12} {:>14}{}",
                    p.channel,
                    format_cents(p.amount_cents),
                    match &l.approval {
                        Some(r) => format!("  (waits for approval #{})", r.id),
                        None => String::new(),
                    }
                );
            }
            Ok(())
        }
        BudgetCommand::Campaign(CampaignCommand::New(a)) => {
            let actor = a.actor.resolve(&ctx)?;
            let out = service::new_campaign(
                &ctx,
                &a.name,
                &a.department,
                &a.channel,
                amount(&ctx, &a.budget)?,
                &actor,
            )
            .await?;
            if a.json.json {
                return output::json(&out);
            }
            println!(
                "campaign {} with line #{} {} of {}",
                a.name,
                out.line.id,
                out.line.label(),
                format_cents(
                    out.line
                        .budget_cents
                        .max(out.line.pending_cents.unwrap_or(0))
                )
            );
            Ok(())
        }
        BudgetCommand::Request(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let out = service::request_spend(
                &ctx,
                &NewRequest {
                    department: a.department,
                    amount_cents: amount(&ctx, &a.amount)?,
                    reason: a.reason,
                    channel: a.channel,
                    campaign: a.campaign,
                    r#ref: a.reference,
                },
                &actor,
            )
            .await?;
            if a.json.json {
                return output::json(&out);
            }
            match &out.approval {
                Some(r) => println!(
                    "spend request #{} ({}) waits for approval #{}: {}",
                    out.request.id,
                    format_cents(out.request.amount_cents),
                    r.id,
                    r.eligible_roles.join(", ")
                ),
                None => println!(
                    "spend request #{} ({}) approved automatically: committed as {}",
                    out.request.id,
                    format_cents(out.request.amount_cents),
                    out.request.r#ref
                ),
            }
            Ok(())
        }
        BudgetCommand::Expense(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let on = local_date(&ctx, "--on", &a.on)?;
            let out = service::record_expense(
                &ctx,
                &NewExpense {
                    department: a.department,
                    amount_cents: amount(&ctx, &a.amount)?,
                    on,
                    r#ref: a.reference,
                    channel: a.channel,
                    campaign: a.campaign,
                    vendor: a.vendor,
                },
                &actor,
            )
            .await?;
            if a.json.json {
                return output::json(&out);
            }
            if out.duplicate {
                println!("expense already recorded (same reference): nothing changed");
                return Ok(());
            }
            println!(
                "expense recorded on line #{} {}: spent {} of {}",
                out.line.id,
                out.line.label(),
                format_cents(out.line.spent_cents),
                format_cents(out.line.budget_cents)
            );
            for f in &out.fired {
                println!("  ALARM {} {}", f.basis.as_str(), pct(f.threshold));
            }
            if let Some(r) = out.review_id {
                println!("  spend review #{r} opened for the Finance director");
            }
            Ok(())
        }
        BudgetCommand::Import(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let text = if a.file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&a.file).map_err(|e| {
                    vivid_core::Error::invalid(format!("cannot read {}: {e}", a.file.display()))
                })?
            };
            let started = std::time::Instant::now();
            let out = service::import_csv(&ctx, &text, &actor).await?;
            if a.json.json {
                return output::json(&out);
            }
            println!(
                "{} rows: {} imported ({}), {} already known{}, {} bad, in {:.2}s",
                out.rows,
                out.imported,
                format_cents(out.imported_cents),
                out.duplicates,
                if out.imported == 0 && out.duplicates > 0 {
                    " (nothing changed)"
                } else {
                    ""
                },
                out.bad.len(),
                started.elapsed().as_secs_f64()
            );
            for b in out.bad.iter().take(50) {
                println!("  line {}: {}", b.line, b.error);
            }
            if out.bad.len() > 50 {
                println!("  ... and {} more (see --json)", out.bad.len() - 50);
            }
            Ok(())
        }
        BudgetCommand::Revenue(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let on = local_date(&ctx, "--on", &a.on)?;
            let cents = amount(&ctx, &a.amount)?;
            let new =
                service::record_revenue(&ctx, &a.campaign, cents, on, &a.reference, &actor).await?;
            if a.json.json {
                return output::json(
                    &serde_json::json!({ "recorded": new, "campaign": a.campaign, "amount_cents": cents }),
                );
            }
            if new {
                println!(
                    "revenue {} recorded for {}",
                    format_cents(cents),
                    a.campaign
                );
            } else {
                println!("revenue already recorded (same reference): nothing changed");
            }
            Ok(())
        }
        BudgetCommand::Status(a) => {
            let at =
                a.at.as_deref()
                    .map(|t| super::parse_when(&ctx, "--at", t, Bound::End, Relative::Past))
                    .transpose()?;
            if let Some(d) = &a.department
                && ctx.org.department(d).is_none()
            {
                return Err(vivid_core::Error::invalid(format!("unknown department {d:?}")).into());
            }
            let st = read::status(&ctx, a.department.as_deref(), a.period.as_deref(), at).await?;
            if a.json.json {
                return output::json(&st);
            }
            println!(
                "{} ({}), day {} of {}, as of {}",
                st.period,
                st.state,
                st.elapsed_days,
                st.total_days,
                ctx.calendar.format_local(st.at)
            );
            let rows: Vec<Vec<String>> = st
                .lines
                .iter()
                .map(|l| {
                    let mut name = l.department.clone();
                    for part in [&l.channel, &l.campaign].into_iter().flatten() {
                        name.push('/');
                        name.push_str(part);
                    }
                    let alarms: Vec<String> = l
                        .alerts
                        .iter()
                        .map(|x| {
                            format!(
                                "{}{}",
                                &x.basis.as_str()[..1].to_uppercase(),
                                (x.threshold * 100.0).round()
                            )
                        })
                        .collect();
                    vec![
                        format!("#{}", l.id),
                        name,
                        format_cents(l.budget_cents),
                        format_cents(l.spent_cents),
                        format_cents(l.forecast_cents),
                        pct(l.utilization),
                        alarms.join(" "),
                    ]
                })
                .collect();
            output::table(
                &[
                    "ID", "LINE", "BUDGET", "SPENT", "FORECAST", "USED", "ALARMS",
                ],
                &rows,
            );
            for m in &st.proposals {
                println!(
                    "proposal: move {} from #{} to #{} ({})",
                    format_cents(m.amount_cents),
                    m.from,
                    m.to,
                    m.reason
                );
            }
            Ok(())
        }
        BudgetCommand::Roi(a) => {
            let v = read::roi(&ctx, a.period.as_deref()).await?;
            if a.json.json {
                return output::json(&v);
            }
            let rows: Vec<Vec<String>> = v
                .proposals
                .iter()
                .map(|p| {
                    vec![
                        p.campaign.clone(),
                        format_cents(p.spend_cents),
                        format_cents(p.revenue_cents),
                        format!("{:.2}", p.roas),
                        p.action.as_str().to_string(),
                        format_cents(p.current_cents),
                        format_cents(p.proposed_cents),
                    ]
                })
                .collect();
            output::table(
                &[
                    "CAMPAIGN", "SPEND", "REVENUE", "ROAS", "ACTION", "NOW", "PROPOSED",
                ],
                &rows,
            );
            Ok(())
        }
        BudgetCommand::Reallocate(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let from = service::resolve_line(&ctx, &a.from, a.period.as_deref()).await?;
            let to = service::resolve_line(&ctx, &a.to, a.period.as_deref()).await?;
            let out =
                service::reallocate(&ctx, from, to, amount(&ctx, &a.amount)?, &a.reason, &actor)
                    .await?;
            if a.json.json {
                return output::json(&out);
            }
            match &out.approval {
                Some(r) => println!(
                    "reallocation #{} of {} waits for approval #{}",
                    out.reallocation.id,
                    format_cents(out.reallocation.amount_cents),
                    r.id
                ),
                None => println!(
                    "reallocation #{}: {} moved from line #{} to line #{}",
                    out.reallocation.id,
                    format_cents(out.reallocation.amount_cents),
                    out.reallocation.from_line,
                    out.reallocation.to_line
                ),
            }
            Ok(())
        }
        BudgetCommand::Reviews(a) => {
            let v = read::pending(&ctx).await?;
            if a.json.json {
                return output::json(&serde_json::json!({ "pending": v }));
            }
            let rows: Vec<Vec<String>> = v
                .iter()
                .map(|p| {
                    vec![
                        format!("#{}", p.approval_id),
                        p.kind.clone(),
                        p.status.clone(),
                        ctx.calendar.format_local(p.deadline),
                        p.title.clone(),
                    ]
                })
                .collect();
            output::table(&["ID", "KIND", "STATUS", "DEADLINE", "TITLE"], &rows);
            Ok(())
        }
        BudgetCommand::Decide(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let how = match a.decision.as_str() {
                "approve" => DecideAs::Approve {
                    raise_cents: a.raise.as_deref().map(|r| amount(&ctx, r)).transpose()?,
                },
                "deny" | "reject" => DecideAs::Deny,
                "adjust" => DecideAs::Adjust { campaigns: a.pause },
                "reallocate" => {
                    let from = a.from.as_deref().ok_or_else(|| {
                        vivid_core::Error::invalid("reallocate needs --from LINE")
                    })?;
                    let amt = a.amount.as_deref().ok_or_else(|| {
                        vivid_core::Error::invalid("reallocate needs --amount AMOUNT")
                    })?;
                    DecideAs::Reallocate {
                        from: service::resolve_line(&ctx, from, None).await?,
                        amount_cents: amount(&ctx, amt)?,
                    }
                }
                other => {
                    return Err(vivid_core::Error::invalid(format!(
                        "unknown decision {other:?} (approve, deny, adjust, reallocate)"
                    ))
                    .into());
                }
            };
            let out = service::decide(&ctx, a.id, &actor, &how, &a.reason).await?;
            if a.json.json {
                return output::json(&out);
            }
            println!("{} decided: {}", out.subject, out.state);
            Ok(())
        }
        BudgetCommand::Close(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let out = service::close_period(&ctx, &a.period, &actor).await?;
            if a.json.json {
                return output::json(&out);
            }
            println!(
                "{} closed; {} lines carried into {}",
                out.period,
                out.next.len(),
                out.next_period
            );
            for n in &out.next {
                println!(
                    "  {}{}{} {} → {}{}",
                    n.department,
                    if n.channel.is_empty() { "" } else { "/" },
                    n.channel,
                    n.rollover.as_str(),
                    format_cents(n.next_cents),
                    if n.uncovered_cents > 0 {
                        format!(" (uncovered {})", format_cents(n.uncovered_cents))
                    } else {
                        String::new()
                    }
                );
            }
            Ok(())
        }
        BudgetCommand::Report(a) => {
            let r = read::report(&ctx, a.period.as_deref()).await?;
            if a.json.json {
                return output::json(&r);
            }
            println!("Budget report {}", r.period);
            let rows: Vec<Vec<String>> = r
                .departments
                .iter()
                .map(|d| {
                    vec![
                        d.department.clone(),
                        format_cents(d.budget_cents),
                        format_cents(d.spent_cents),
                        format_cents(d.variance_cents),
                        pct(d.utilization),
                    ]
                })
                .collect();
            output::table(&["DEPARTMENT", "PLAN", "ACTUAL", "VARIANCE", "USED"], &rows);
            if let Some(e) = r.forecast_error {
                println!("forecast error (mid-period): {}", pct(e));
            }
            println!(
                "spend reviews: {} open, {} decided{}",
                r.reviews_open,
                r.reviews_decided,
                r.mean_hours_to_decide
                    .map(|h| format!(", {h:.1}h to decide"))
                    .unwrap_or_default()
            );
            Ok(())
        }
    }
}
