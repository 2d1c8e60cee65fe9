//! `vivid vendor ...`: vendors, RFPs, contracts, deliveries, scorecards,
//! improvement plans and renewals.

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use vivid_core::Ctx;
use vivid_core::config::Config;
use vivid_core::engine::approvals::{Decision, Outcome};
use vivid_core::vendor::model::{self, Period, State, money};
use vivid_core::vendor::service::{self, NewContract, NewDelivery, NewRfp, NewVendor};
use vivid_core::when::{Bound, Relative};

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum VendorCommand {
    /// Add a vendor (a prospect).
    Add(AddArgs),
    /// Vendors with their state and standing.
    List(ListArgs),
    /// One vendor: state, contract, scorecards, plan, this month's figures.
    Show(NameArgs),
    /// Record a vendor contact (personal data goes through the privacy workflow).
    Contact(ContactArgs),
    /// Requests for proposal: new, list, invite, score, override, rank.
    #[command(subcommand)]
    Rfp(RfpCommand),
    /// Record a vendor's proposal (price and terms).
    Propose(ProposeArgs),
    /// Ask to award an RFP to a vendor (approval by Operations and Finance).
    Award(RfpVendorArgs),
    /// Approve the pending award of an RFP.
    Approve(DecideArgs),
    /// Reject the pending award of an RFP (with a comment).
    Reject(DecideArgs),
    /// Contracts: new.
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Record a delivery against a purchase order.
    Deliver(DeliverArgs),
    /// Score a vendor for a month (judged criteria with --score).
    Review(ReviewArgs),
    /// A vendor's scorecard (default: the latest review).
    Scorecard(ScorecardArgs),
    /// Improvement plans: list, show, checkin, extend, end.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Renew the vendor's current contract.
    Renew(ActNameArgs),
    /// End the relationship (at the contract's end, or --now).
    End(EndArgs),
    /// Contracts whose notice date is within the due window.
    Renewals(JsonFlag),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The vendor's name (how other commands refer to it).
    name: String,
    /// print_lab, framing, packaging, carrier, agency
    #[arg(long)]
    category: String,
    /// A critical vendor: late deliveries open crisis incidents.
    #[arg(long)]
    critical: bool,
    #[command(flatten)]
    contact: ContactFields,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ContactFields {
    /// The contact person's name (PII: encrypted by the privacy workflow).
    #[arg(long)]
    contact_name: Option<String>,
    /// The contact person's e-mail (PII: encrypted by the privacy workflow).
    #[arg(long)]
    contact_email: Option<String>,
    /// The contact person's phone number (PII: encrypted by the privacy workflow).
    #[arg(long)]
    contact_phone: Option<String>,
}

impl ContactFields {
    fn fields(&self) -> Vec<(String, String)> {
        [
            ("name", &self.contact_name),
            ("email", &self.contact_email),
            ("phone", &self.contact_phone),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v.clone())))
        .collect()
    }
}

#[derive(Debug, Args)]
pub struct ContactArgs {
    /// The vendor (its name, from `vivid vendor list`).
    name: String,
    #[command(flatten)]
    contact: ContactFields,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only vendors in this state (prospect, invited, proposed, negotiating, contracted, active, improvement, renewed, ended, refused).
    #[arg(long)]
    state: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The vendor (its name, from `vivid vendor list`).
    name: String,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ActNameArgs {
    /// The vendor (its name, from `vivid vendor list`).
    name: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct EndArgs {
    /// The vendor (its name, from `vivid vendor list`).
    name: String,
    /// Why, in a sentence (recorded in the event log).
    #[arg(long, short, default_value = "")]
    reason: String,
    /// End at once instead of at the contract's end date.
    #[arg(long)]
    now: bool,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum RfpCommand {
    /// Open an RFP: criteria with weights totalling 100.
    New(RfpNewArgs),
    /// RFPs, newest first.
    List(JsonFlag),
    /// Invite a vendor to an RFP.
    Invite(RfpVendorArgs),
    /// Score a proposal, 0-10 per criterion (blank criteria stay unscored).
    Score(ScoreArgs),
    /// Override a criterion's consensus (the RFP owner, with a reason).
    Override(OverrideArgs),
    /// The ranking: weighted totals, deal breakers, consensus per criterion.
    Rank(RfpArgs),
}

#[derive(Debug, Args)]
pub struct RfpNewArgs {
    /// The RFP's title, in a few words.
    title: String,
    /// NAME:WEIGHT, weights totalling 100 (repeat, or list several).
    #[arg(long = "criterion", num_args = 1.., required = true)]
    criteria: Vec<String>,
    /// A criterion (or requirement) whose consensus below the minimum puts a proposal out.
    #[arg(long = "deal-breaker", num_args = 1..)]
    deal_breakers: Vec<String>,
    /// People who score proposals (default: you).
    #[arg(long = "evaluator", num_args = 1..)]
    evaluators: Vec<String>,
    /// When proposals are due ("2026-12-20", "in 2 weeks").
    #[arg(long)]
    due: Option<String>,
    /// What the work requires, in free text.
    #[arg(long, default_value = "")]
    requirements: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RfpArgs {
    /// The RFP (its number or title, from `vivid vendor rfp list`).
    rfp: String,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RfpVendorArgs {
    /// The RFP (its number or title, from `vivid vendor rfp list`).
    rfp: String,
    /// The vendor (its name, from `vivid vendor list`).
    vendor: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The RFP (its number or title, from `vivid vendor rfp list`).
    rfp: String,
    /// The vendor whose proposal is scored (its name).
    vendor: String,
    /// NAME=SCORE, 0-10 (repeat, or list several).
    #[arg(long = "criterion", num_args = 1.., required = true)]
    scores: Vec<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct OverrideArgs {
    /// The RFP (its number or title, from `vivid vendor rfp list`).
    rfp: String,
    /// The vendor whose proposal is overridden (its name).
    vendor: String,
    /// NAME=SCORE, 0-10.
    #[arg(long = "criterion")]
    score: String,
    /// Why the consensus is overridden, in a sentence (recorded in the event log).
    #[arg(long, short)]
    reason: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// The RFP (its number or title, from `vivid vendor rfp list`).
    rfp: String,
    /// The proposing vendor (its name).
    vendor: String,
    /// The proposal's contract value in dollars (e.g. 42000 or 42,000.50).
    #[arg(long)]
    price: String,
    /// The proposal's terms, in free text.
    #[arg(long, default_value = "")]
    terms: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The RFP (its number or title, from `vivid vendor rfp list`).
    rfp: String,
    /// A comment on the decision, in a sentence (recorded in the event log).
    #[arg(long, short, default_value = "")]
    comment: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Sign a contract with an awarded vendor.
    New(ContractNewArgs),
}

#[derive(Debug, Args)]
pub struct ContractNewArgs {
    /// The awarded vendor (its name).
    vendor: String,
    /// First day (a local date, YYYY-MM-DD).
    #[arg(long)]
    start: String,
    /// Last day (a local date, YYYY-MM-DD).
    #[arg(long)]
    end: String,
    /// Billing per month in dollars.
    #[arg(long)]
    monthly: String,
    /// Renew automatically at the end unless notice is given.
    #[arg(long)]
    auto_renew: bool,
    /// Notice period ("1 month", "30 days"); default from config.
    #[arg(long, num_args = 1..=2)]
    notice: Vec<String>,
    /// The budget line its billing is committed to: DEPARTMENT:CHANNEL.
    #[arg(long)]
    budget: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// The delivering vendor (its name).
    vendor: String,
    /// The purchase order (several deliveries of one PO are one order).
    #[arg(long)]
    po: String,
    /// The promised date (the PO's first promise is the one measured).
    #[arg(long)]
    promised: String,
    /// The local date it arrived.
    #[arg(long)]
    delivered: String,
    /// How many units were ordered.
    #[arg(long)]
    ordered: i64,
    /// How many units arrived.
    #[arg(long)]
    received: i64,
    /// How many of the units received were defective.
    #[arg(long, default_value_t = 0)]
    defective: i64,
    /// What it cost in dollars (for the cost variance).
    #[arg(long)]
    amount: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The vendor reviewed (its name).
    vendor: String,
    /// YYYY-MM
    #[arg(long)]
    period: String,
    /// CRITERION=N (0-100) for judged criteria (repeat, or list several).
    #[arg(long = "score", num_args = 1..)]
    scores: Vec<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ScorecardArgs {
    /// The vendor (its name, from `vivid vendor list`).
    vendor: String,
    /// YYYY-MM (default: the latest review).
    #[arg(long)]
    period: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Improvement plans, newest first.
    List(PlanListArgs),
    /// A vendor's latest plan with its check-ins.
    Show(NameArgs),
    /// Note progress on a vendor's open plan.
    Checkin(CheckinArgs),
    /// Approve extending a missed plan.
    Extend(PlanDecideArgs),
    /// Reject extending a missed plan: the vendor ends.
    End(PlanDecideArgs),
}

#[derive(Debug, Args)]
pub struct PlanListArgs {
    /// Only this vendor's plans (its name).
    vendor: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CheckinArgs {
    /// The vendor on an improvement plan (its name).
    vendor: String,
    /// The progress, in a sentence or two.
    note: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct PlanDecideArgs {
    /// The vendor on a missed improvement plan (its name).
    vendor: String,
    /// A comment on the decision, in a sentence (recorded in the event log).
    #[arg(long, short, default_value = "")]
    comment: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

fn invalid(msg: impl Into<String>) -> anyhow::Error {
    vivid_core::Error::invalid(msg.into()).into()
}

fn date(flag: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| invalid(format!("{flag} {text:?} is not a date (YYYY-MM-DD, local)")))
}

/// Money is parsed one way everywhere: the budget's rules (currency,
/// two decimals, the configured maximum).
fn amount(ctx: &Ctx, flag: &str, text: &str) -> Result<i64> {
    vivid_core::budget::service::parse_amount(ctx, text)
        .map_err(|e| invalid(format!("{flag}: {e}")))
}

fn period(text: &str) -> Result<Period> {
    text.parse::<Period>().map_err(|r| invalid(r.0))
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "no data".into())
}

fn num(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Pending {
            approvals,
            required,
        } => format!("recorded: {approvals} of {required} approvals"),
        Outcome::Approved => "approved".into(),
        Outcome::AlreadyApproved => "recorded; it was already approved".into(),
        Outcome::Rejected => "rejected".into(),
        Outcome::ChangesRequested => "changes requested".into(),
    }
}

pub async fn run(config: Config, cmd: VendorCommand) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    match cmd {
        VendorCommand::Add(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let fields = a.contact.fields();
            // Check the key before creating anything.
            let key = if fields.is_empty() {
                None
            } else {
                Some(vivid_core::privacy::crypto::MasterKey::from_env(
                    vivid_core::privacy::crypto::MASTER_KEY_VAR,
                )?)
            };
            let v = service::add(
                &ctx,
                &NewVendor {
                    name: a.name,
                    category: a.category,
                    critical: a.critical,
                },
                &actor,
            )
            .await?;
            let contact = match key {
                Some(key) => {
                    Some(service::set_contact(&ctx, &key, &v.name, &fields, &actor).await?)
                }
                None => None,
            };
            if a.json.json {
                return output::json(&serde_json::json!({ "vendor": v, "contact": contact }));
            }
            println!(
                "vendor #{} {} added ({}{}, prospect)",
                v.id,
                v.name,
                v.category,
                if v.critical { ", critical" } else { "" }
            );
            if let Some(c) = contact {
                println!(
                    "contact kept by the privacy workflow as subject {}",
                    c.subject
                );
            }
            Ok(())
        }
        VendorCommand::Contact(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let key = vivid_core::privacy::crypto::MasterKey::from_env(
                vivid_core::privacy::crypto::MASTER_KEY_VAR,
            )?;
            let c = service::set_contact(&ctx, &key, &a.name, &a.contact.fields(), &actor).await?;
            if a.json.json {
                return output::json(&c);
            }
            println!(
                "{}: contact ({}) kept as privacy subject {}",
                c.vendor,
                c.fields.join(", "),
                c.subject
            );
            Ok(())
        }
        VendorCommand::List(a) => {
            let state = a
                .state
                .as_deref()
                .map(|s| s.parse::<State>().map_err(vivid_core::Error::invalid))
                .transpose()?;
            let list = service::list(&ctx, state).await?;
            if a.json.json {
                return output::json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|v| {
                    vec![
                        format!("#{}", v.id),
                        v.name.clone(),
                        v.category.clone(),
                        if v.critical { "yes".into() } else { "".into() },
                        v.state.as_str().into(),
                        num(v.overall_score),
                        v.standing.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "ID", "NAME", "CATEGORY", "CRIT", "STATE", "SCORE", "STANDING",
                ],
                &rows,
            );
            Ok(())
        }
        VendorCommand::Show(a) => {
            let d = service::detail(&ctx, &a.name).await?;
            if a.json.json {
                return output::json(&d);
            }
            show(&ctx, &d);
            Ok(())
        }
        VendorCommand::Rfp(cmd) => rfp(&ctx, cmd).await,
        VendorCommand::Propose(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let price = amount(&ctx, "--price", &a.price)?;
            let p = service::propose(&ctx, &a.rfp, &a.vendor, price, &a.terms, &actor).await?;
            if a.json.json {
                return output::json(&p);
            }
            println!(
                "{} proposed {} to RFP #{}",
                p.vendor,
                money(p.price_cents.unwrap_or(0)),
                p.rfp_id
            );
            Ok(())
        }
        VendorCommand::Award(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let asked = service::award(&ctx, &a.rfp, &a.vendor, &actor).await?;
            if a.json.json {
                return output::json(&asked);
            }
            println!(
                "award of RFP #{} to {} asked: approval #{} needs {} of {} by {}",
                asked.rfp.id,
                asked.vendor.name,
                asked.approval.id,
                asked.approval.required,
                asked.approval.eligible_roles.join(", "),
                ctx.calendar.format_local(asked.approval.deadline)
            );
            Ok(())
        }
        VendorCommand::Approve(a) => decide_award(&ctx, a, Decision::Approve).await,
        VendorCommand::Reject(a) => decide_award(&ctx, a, Decision::Reject).await,
        VendorCommand::Contract(ContractCommand::New(a)) => {
            let actor = a.actor.resolve(&ctx)?;
            let budget = match &a.budget {
                Some(b) => {
                    let (d, c) = b
                        .split_once(':')
                        .ok_or_else(|| invalid("--budget is DEPARTMENT:CHANNEL"))?;
                    Some((d.trim().to_string(), c.trim().to_string()))
                }
                None => None,
            };
            let c = service::new_contract(
                &ctx,
                &NewContract {
                    vendor: a.vendor,
                    start: date("--start", &a.start)?,
                    end: date("--end", &a.end)?,
                    monthly_cents: amount(&ctx, "--monthly", &a.monthly)?,
                    auto_renew: a.auto_renew,
                    notice: (!a.notice.is_empty()).then(|| a.notice.join(" ")),
                    budget,
                },
                &actor,
            )
            .await?;
            if a.json.json {
                return output::json(&c);
            }
            println!(
                "contract #{}: {} to {}, {} a month ({} in all){}; notice {} → notice date {}",
                c.id,
                c.start_date,
                c.end_date,
                money(c.monthly_cents),
                money(c.value_cents),
                if c.auto_renew { ", auto-renews" } else { "" },
                c.notice,
                c.notice_date
            );
            Ok(())
        }
        VendorCommand::Deliver(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let amount_cents = a
                .amount
                .as_deref()
                .map(|x| amount(&ctx, "--amount", x))
                .transpose()?;
            let d = service::deliver(
                &ctx,
                &NewDelivery {
                    vendor: a.vendor,
                    po: a.po,
                    promised: date("--promised", &a.promised)?,
                    delivered: date("--delivered", &a.delivered)?,
                    ordered: a.ordered,
                    received: a.received,
                    defective: a.defective,
                    amount_cents,
                },
                &actor,
            )
            .await?;
            if a.json.json {
                return output::json(&d);
            }
            println!(
                "{} {}: delivered{}{}; {} this month: on time {}, OTIF {}, {} order(s)",
                d.vendor,
                d.po,
                if d.late { " LATE" } else { " on time" },
                d.rescheduled
                    .map(|r| format!(" (rescheduled to {r}; measured against {})", d.promised))
                    .unwrap_or_default(),
                d.period,
                pct(d.stats.on_time_rate),
                pct(d.stats.otif_rate),
                d.stats.orders
            );
            if let Some(w) = &d.warning {
                println!("warning: {w}");
            }
            for id in &d.incidents {
                println!("crisis incident #{id} opened (critical vendor delivering late)");
            }
            Ok(())
        }
        VendorCommand::Review(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let p = period(&a.period)?;
            let mut judged = Vec::new();
            for s in &a.scores {
                judged.push(model::parse_scored(s).map_err(|r| invalid(r.0))?);
            }
            let card = service::review(&ctx, &a.vendor, p, &judged, &actor).await?;
            if a.json.json {
                return output::json(&card);
            }
            print_card(&card);
            if let Some(id) = card.plan_opened {
                println!("improvement plan #{id} opened");
            }
            Ok(())
        }
        VendorCommand::Scorecard(a) => {
            let p = a.period.as_deref().map(period).transpose()?;
            let card = service::scorecard(&ctx, &a.vendor, p).await?;
            if a.json.json {
                return output::json(&card);
            }
            print_card(&card);
            Ok(())
        }
        VendorCommand::Plan(cmd) => plan(&ctx, cmd).await,
        VendorCommand::Renew(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let c = service::renew(&ctx, &a.name, &actor).await?;
            if a.json.json {
                return output::json(&c);
            }
            if let Some(n) = &c.next {
                println!(
                    "{} renewed: contract #{} runs {} to {} (notice date {})",
                    c.vendor.name, n.id, n.start_date, n.end_date, n.notice_date
                );
            }
            Ok(())
        }
        VendorCommand::End(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let c = service::end(&ctx, &a.name, &actor, &a.reason, a.now).await?;
            if a.json.json {
                return output::json(&c);
            }
            if c.contract.status == "ending" {
                println!(
                    "{}: not renewed; contract #{} ends {}",
                    c.vendor.name, c.contract.id, c.contract.end_date
                );
            } else {
                println!("{} ended", c.vendor.name);
            }
            Ok(())
        }
        VendorCommand::Renewals(flag) => {
            let due = service::renewals_due(&ctx).await?;
            if flag.json {
                let list: Vec<serde_json::Value> = due
                    .iter()
                    .map(|(c, v)| serde_json::json!({ "vendor": v, "contract": c }))
                    .collect();
                return output::json(&list);
            }
            let rows: Vec<Vec<String>> = due
                .iter()
                .map(|(c, v)| {
                    vec![
                        v.clone(),
                        format!("#{}", c.id),
                        c.notice_date.to_string(),
                        c.end_date.to_string(),
                        if c.auto_renew {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        c.decision.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            output::table(
                &["VENDOR", "CONTRACT", "NOTICE", "ENDS", "AUTO", "DECISION"],
                &rows,
            );
            Ok(())
        }
    }
}

async fn rfp(ctx: &Ctx, cmd: RfpCommand) -> Result<()> {
    match cmd {
        RfpCommand::New(a) => {
            let actor = a.actor.resolve(ctx)?;
            let mut criteria = Vec::new();
            for c in &a.criteria {
                criteria.push(model::parse_weighted(c).map_err(|r| invalid(r.0))?);
            }
            let due_at = a
                .due
                .as_deref()
                .map(|d| super::parse_when(ctx, "--due", d, Bound::End, Relative::Future))
                .transpose()?;
            let (r, criteria) = service::new_rfp(
                ctx,
                &NewRfp {
                    title: a.title,
                    requirements: a.requirements,
                    criteria,
                    deal_breakers: a.deal_breakers,
                    evaluators: a.evaluators,
                    due_at,
                },
                &actor,
            )
            .await?;
            if a.json.json {
                return output::json(&serde_json::json!({ "rfp": r, "criteria": criteria }));
            }
            let list: Vec<String> = criteria
                .iter()
                .map(|c| {
                    format!(
                        "{} {}{}",
                        c.name,
                        c.weight,
                        if c.deal_breaker {
                            " (deal breaker)"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            println!(
                "RFP #{} {} opened: {}; evaluators {}",
                r.id,
                r.title,
                list.join(", "),
                r.evaluators.join(", ")
            );
            Ok(())
        }
        RfpCommand::List(flag) => {
            let list = service::rfps(ctx).await?;
            if flag.json {
                return output::json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        format!("#{}", r.id),
                        r.state.as_str().into(),
                        format!("@{}", r.owner),
                        r.due_at
                            .map(|d| ctx.calendar.format_local(d))
                            .unwrap_or_default(),
                        r.title.clone(),
                    ]
                })
                .collect();
            output::table(&["ID", "STATE", "OWNER", "DUE", "TITLE"], &rows);
            Ok(())
        }
        RfpCommand::Invite(a) => {
            let actor = a.actor.resolve(ctx)?;
            let v = service::invite(ctx, &a.rfp, &a.vendor, &actor).await?;
            if a.json.json {
                return output::json(&v);
            }
            println!("{} invited to RFP {} ({})", v.name, a.rfp, v.state);
            Ok(())
        }
        RfpCommand::Score(a) => {
            let actor = a.actor.resolve(ctx)?;
            let mut scores = Vec::new();
            for s in &a.scores {
                scores.push(model::parse_scored(s).map_err(|r| invalid(r.0))?);
            }
            let ranking = service::score(ctx, &a.rfp, &a.vendor, &scores, &actor).await?;
            if a.json.json {
                return output::json(&ranking);
            }
            print_ranking(&ranking);
            Ok(())
        }
        RfpCommand::Override(a) => {
            let actor = a.actor.resolve(ctx)?;
            let (name, score) = model::parse_scored(&a.score).map_err(|r| invalid(r.0))?;
            let ranking = service::override_consensus(
                ctx, &a.rfp, &a.vendor, &name, score, &a.reason, &actor,
            )
            .await?;
            if a.json.json {
                return output::json(&ranking);
            }
            print_ranking(&ranking);
            Ok(())
        }
        RfpCommand::Rank(a) => {
            let ranking = service::rank(ctx, &a.rfp).await?;
            if a.json.json {
                return output::json(&ranking);
            }
            print_ranking(&ranking);
            Ok(())
        }
    }
}

async fn decide_award(ctx: &Ctx, a: DecideArgs, decision: Decision) -> Result<()> {
    let actor = a.actor.resolve(ctx)?;
    let id = {
        let r = service::rank(ctx, &a.rfp).await?;
        r.rfp.id
    };
    let d = service::decide_award(ctx, id, &actor, decision, &a.comment).await?;
    if a.json.json {
        return output::json(&d);
    }
    println!(
        "RFP #{} award: {} ({})",
        d.rfp.id,
        outcome_text(&d.outcome),
        d.rfp.state.as_str()
    );
    Ok(())
}

async fn plan(ctx: &Ctx, cmd: PlanCommand) -> Result<()> {
    match cmd {
        PlanCommand::List(a) => {
            let list = service::plans(ctx, a.vendor.as_deref()).await?;
            if a.json.json {
                return output::json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|p| {
                    vec![
                        format!("#{}", p.id),
                        format!("vendor #{}", p.vendor_id),
                        p.status.clone(),
                        format!("@{}", p.owner),
                        p.period.clone(),
                        num(p.period_score),
                        ctx.calendar.format_local(p.deadline),
                    ]
                })
                .collect();
            output::table(
                &[
                    "ID", "VENDOR", "STATUS", "OWNER", "PERIOD", "SCORE", "DEADLINE",
                ],
                &rows,
            );
            Ok(())
        }
        PlanCommand::Show(a) => {
            let d = service::detail(ctx, &a.name).await?;
            if a.json.json {
                return output::json(
                    &serde_json::json!({ "plan": d.plan, "checkins": d.checkins }),
                );
            }
            match &d.plan {
                Some(p) => {
                    println!(
                        "plan #{} for {}: {} · owner @{} · {} scored {} · deadline {}",
                        p.id,
                        d.vendor.name,
                        p.status,
                        p.owner,
                        p.period,
                        num(p.period_score),
                        ctx.calendar.format_local(p.deadline)
                    );
                    if let Some(o) = &p.outcome {
                        println!("outcome: {o}");
                    }
                    for c in &d.checkins {
                        println!(
                            "  {} @{} {}",
                            ctx.calendar.format_local(c.at),
                            c.by_person,
                            c.note
                        );
                    }
                }
                None => println!("{} has no improvement plan", d.vendor.name),
            }
            Ok(())
        }
        PlanCommand::Checkin(a) => {
            let actor = a.actor.resolve(ctx)?;
            let p = service::checkin(ctx, &a.vendor, &a.note, &actor).await?;
            if a.json.json {
                return output::json(&p);
            }
            println!("check-in noted on plan #{}", p.id);
            Ok(())
        }
        PlanCommand::Extend(a) => plan_decide(ctx, a, Decision::Approve).await,
        PlanCommand::End(a) => plan_decide(ctx, a, Decision::Reject).await,
    }
}

async fn plan_decide(ctx: &Ctx, a: PlanDecideArgs, decision: Decision) -> Result<()> {
    let actor = a.actor.resolve(ctx)?;
    let d = service::detail(ctx, &a.vendor).await?;
    let plan = d
        .plan
        .ok_or_else(|| invalid(format!("{} has no improvement plan", d.vendor.name)))?;
    let outcome = service::decide_plan(ctx, plan.id, &actor, decision, &a.comment).await?;
    if a.json.json {
        return output::json(&serde_json::json!({ "plan_id": plan.id, "outcome": outcome }));
    }
    println!("plan #{}: {}", plan.id, outcome_text(&outcome));
    Ok(())
}

fn print_ranking(r: &service::Ranking) {
    println!(
        "RFP #{} {} ({})",
        r.rfp.id,
        r.rfp.title,
        r.rfp.state.as_str()
    );
    let mut headers: Vec<String> =
        vec!["#".into(), "VENDOR".into(), "TOTAL".into(), "PRICE".into()];
    headers.extend(r.criteria.iter().map(|c| {
        format!(
            "{}{}",
            c.name.to_uppercase(),
            if c.deal_breaker { "*" } else { "" }
        )
    }));
    headers.push("STATUS".into());
    let rows: Vec<Vec<String>> = r
        .entries
        .iter()
        .map(|e| {
            let mut row = vec![
                e.rank.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                e.vendor.clone(),
                num(e.total),
                e.price_cents.map(money).unwrap_or_default(),
            ];
            row.extend(e.criteria.iter().map(|c| {
                format!(
                    "{}{}",
                    num(c.consensus),
                    if c.overridden { "!" } else { "" }
                )
            }));
            row.push(if e.out {
                format!("out ({})", e.failed_deal_breakers.join(", "))
            } else {
                e.status.as_str().into()
            });
            row
        })
        .collect();
    let h: Vec<&str> = headers.iter().map(String::as_str).collect();
    output::table(&h, &rows);
    println!("(* deal breaker; ! owner's override; - not ranked: unscored or out)");
}

fn print_card(c: &service::Scorecard) {
    println!(
        "{} — {}{}: period score {} · overall {} · standing {}",
        c.vendor,
        c.period,
        if c.reviewed { "" } else { " (preview)" },
        c.period_score
            .map(|s| format!("{s:.1}"))
            .unwrap_or_else(|| "none (no deliveries)".into()),
        num(c.overall_score),
        c.standing.as_deref().unwrap_or("unscored")
    );
    let rows: Vec<Vec<String>> = c
        .criteria
        .iter()
        .map(|k| vec![k.name.clone(), k.weight.to_string(), num(k.score)])
        .collect();
    output::table(&["CRITERION", "WEIGHT", "SCORE"], &rows);
    let k = &c.kpis;
    println!(
        "orders {} · on time {} · OTIF {} · in full {} · PPM {}",
        k.orders,
        pct(k.on_time_rate),
        pct(k.otif_rate),
        pct(k.in_full_rate),
        k.ppm
            .map(|p| format!("{p:.0}"))
            .unwrap_or_else(|| "no data".into())
    );
}

fn show(ctx: &Ctx, d: &service::Detail) {
    let v = &d.vendor;
    println!(
        "#{} {} — {} ({}{})",
        v.id,
        v.name,
        v.state,
        v.category,
        if v.critical { ", critical" } else { "" }
    );
    println!(
        "overall score {} · standing {} · contact {}",
        num(v.overall_score),
        v.standing.as_deref().unwrap_or("unscored"),
        v.contact_subject.as_deref().unwrap_or("none")
    );
    if let Some(c) = &d.contract {
        println!(
            "contract #{}: {} to {} · {} a month · notice {} (date {}){}{}",
            c.id,
            c.start_date,
            c.end_date,
            money(c.monthly_cents),
            c.notice,
            c.notice_date,
            if c.auto_renew { " · auto-renews" } else { "" },
            match (&c.department, &c.channel) {
                (Some(d), Some(ch)) => format!(" · budget {d}:{ch}"),
                _ => String::new(),
            }
        );
    }
    println!(
        "{} so far: {} order(s) · on time {} · OTIF {} · PPM {}",
        d.period,
        d.current.orders,
        pct(d.current.on_time_rate),
        pct(d.current.otif_rate),
        d.current
            .ppm
            .map(|p| format!("{p:.0}"))
            .unwrap_or_else(|| "no data".into())
    );
    for s in d.scorecards.iter().take(6) {
        println!(
            "  {} period {} overall {} {}",
            s.period,
            num(s.period_score),
            num(s.overall_score),
            s.standing.as_deref().unwrap_or("")
        );
    }
    if let Some(p) = &d.plan {
        println!(
            "plan #{} {} · owner @{} · deadline {}",
            p.id,
            p.status,
            p.owner,
            ctx.calendar.format_local(p.deadline)
        );
    }
}
