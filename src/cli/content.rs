//! `vivid content ...`: the content lifecycle with director approvals.

use std::path::PathBuf;

use anyhow::Result;
use chrono::TimeDelta;
use clap::{Args, Subcommand};
use vivid_core::Ctx;
use vivid_core::config::Config;
use vivid_core::content::model::State;
use vivid_core::content::service::{self, NewContent, Reading};
use vivid_core::duration::format_delta;
use vivid_core::engine::approvals::Decision;
use vivid_core::engine::events;

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output::{self, clean};

#[derive(Debug, Subcommand)]
pub enum ContentCommand {
    /// Plan a new item (its brief is version 1).
    New(NewArgs),
    /// Items, most recently changed first.
    List(ListArgs),
    /// One item: state, versions, approval, performance.
    Show(ShowArgs),
    /// Write a new version (the first draft starts Creation).
    Edit(EditArgs),
    /// Ask for approval of the current version.
    Submit(ActArgs),
    /// Approve the current version.
    Approve(DecideArgs),
    /// Reject the current version (back to Creation, with a comment).
    Reject(DecideArgs),
    /// Ask for changes (back to Creation, with a comment).
    RequestChanges(DecideArgs),
    /// Publish the approved version.
    Publish(ActArgs),
    /// Record performance numbers.
    Record(RecordArgs),
    /// Archive content in Maintenance (content stale).
    Archive(ArchiveArgs),
    /// Everything that happened to an item, from the event log.
    History(IdArgs),
    /// What changed between two versions (default: the last two).
    Diff(DiffArgs),
    /// What waits on a person's review, oldest first, with deadlines.
    Queue(QueueArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The item's working title, in a few words.
    title: String,
    /// blog_post, email, newsletter, social_post, ad_creative, product_page
    #[arg(long)]
    kind: String,
    /// web, email, social, ads
    #[arg(long)]
    channel: String,
    /// Owner handle (default: the actor).
    #[arg(long)]
    owner: Option<String>,
    /// The campaign it belongs to (its name).
    #[arg(long)]
    campaign: Option<String>,
    /// Cost in dollars (e.g. 1250 or 1250.50).
    #[arg(long, value_name = "DOLLARS")]
    cost: Option<String>,
    /// The brief.
    #[arg(long, default_value = "")]
    brief: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only items in this state (planning, creation, review, approved, published, ...).
    #[arg(long)]
    state: Option<String>,
    /// Only items owned by this person (a handle from `vivid org list`).
    #[arg(long)]
    owner: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The content item number (from `vivid content list`).
    id: i64,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ActArgs {
    /// The content item number (from `vivid content list`).
    id: i64,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The content item number (from `vivid content list`).
    id: i64,
    /// The new body, from a file ("-" for standard input).
    #[arg(long)]
    file: PathBuf,
    /// A new title for the item.
    #[arg(long)]
    title: Option<String>,
    /// What changed and why.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The content item number (from `vivid content list`).
    id: i64,
    /// A comment for the author, in a sentence (recorded in the event log).
    #[arg(long, short, default_value = "")]
    comment: String,
    /// The version you reviewed (refused if it is no longer current).
    #[arg(long)]
    version: Option<i32>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The content item number (from `vivid content list`).
    id: i64,
    /// How many times it was seen.
    #[arg(long)]
    views: i64,
    /// How many clicks it got.
    #[arg(long)]
    clicks: i64,
    /// How many conversions it led to.
    #[arg(long, default_value_t = 0)]
    conversions: i64,
    /// Revenue in dollars.
    #[arg(long, value_name = "DOLLARS")]
    revenue: Option<String>,
    /// Where the numbers come from (default: manual).
    #[arg(long, default_value = "manual")]
    source: String,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The content item number (from `vivid content list`).
    id: i64,
    /// Why, in a sentence (recorded in the event log).
    #[arg(long, short)]
    reason: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The content item number (from `vivid content list`).
    id: i64,
    /// The older version (default: the last approved one, else the one before).
    #[arg(long)]
    from: Option<i32>,
    /// The newer version (default: the current one).
    #[arg(long)]
    to: Option<i32>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The content item number (from `vivid content list`).
    id: i64,
    /// Print this version's text instead of the current one's.
    #[arg(long)]
    version: Option<i32>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Whose queue (default: the actor).
    #[arg(long = "for")]
    person: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

pub async fn run(config: Config, cmd: ContentCommand) -> Result<()> {
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    match cmd {
        ContentCommand::New(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let new = NewContent {
                kind: a.kind,
                title: a.title,
                body: a.brief,
                owner: a.owner.unwrap_or_else(|| actor.clone()),
                channel: a.channel,
                campaign: a.campaign,
                cost_cents: match &a.cost {
                    // Money is parsed one way everywhere: the budget's rules.
                    Some(text) => vivid_core::budget::service::parse_amount(&ctx, text)
                        .map_err(|e| anyhow::anyhow!(e).context("--cost"))?,
                    None => 0,
                },
            };
            let item = service::create(&ctx, &new, &actor).await?;
            if a.json.json {
                return output::json(&item);
            }
            println!(
                "content #{} planned: {} ({}, owner @{})",
                item.id, item.title, item.kind, item.owner
            );
            Ok(())
        }
        ContentCommand::List(a) => {
            let state = a
                .state
                .as_deref()
                .map(|s| s.parse::<State>().map_err(vivid_core::Error::invalid))
                .transpose()?;
            let items = service::list(&ctx, state, a.owner.as_deref()).await?;
            if a.json.json {
                return output::json(&items);
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| {
                    vec![
                        format!("#{}", i.id),
                        i.state.as_str().to_string(),
                        i.kind.clone(),
                        format!("v{}", i.version),
                        format!("@{}", i.owner),
                        i.channel.clone(),
                        format_delta(ctx.now() - i.updated_at),
                        i.title.clone(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "ID", "STATE", "KIND", "VER", "OWNER", "CHANNEL", "CHANGED", "TITLE",
                ],
                &rows,
            );
            Ok(())
        }
        ContentCommand::Show(a) => {
            let d = service::detail(&ctx, a.id).await?;
            if let Some(v) = a.version
                && !d.versions.iter().any(|x| x.version == v)
            {
                return Err(vivid_core::Error::not_found(format!(
                    "content #{} has no version {v} (versions 1 to {})",
                    d.item.id, d.item.version
                ))
                .into());
            }
            if a.json.json {
                return output::json(&d);
            }
            show(&ctx, &d, a.version.unwrap_or(d.item.version));
            Ok(())
        }
        ContentCommand::Edit(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let body = if a.file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&a.file).map_err(|e| {
                    vivid_core::Error::invalid(format!("cannot read {}: {e}", a.file.display()))
                })?
            };
            let item = service::edit(
                &ctx,
                a.id,
                &actor,
                a.title.as_deref(),
                &body,
                a.note.as_deref(),
            )
            .await?;
            if a.json.json {
                return output::json(&item);
            }
            println!(
                "content #{} is at version {} ({})",
                item.id,
                item.version,
                item.state.as_str()
            );
            Ok(())
        }
        ContentCommand::Submit(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let (item, req) = service::submit(&ctx, a.id, &actor).await?;
            if a.json.json {
                return output::json(&serde_json::json!({ "item": item, "approval": req }));
            }
            println!(
                "content #{} v{} submitted: needs {} approval(s) from {}{} by {}",
                item.id,
                item.version,
                req.required,
                req.eligible_roles.join(", "),
                if req.must_include.is_empty() {
                    String::new()
                } else {
                    format!(" including one of {}", req.must_include.join(", "))
                },
                ctx.calendar.format_local(req.deadline)
            );
            Ok(())
        }
        ContentCommand::Approve(a) => decide(&ctx, a, Decision::Approve).await,
        ContentCommand::Reject(a) => decide(&ctx, a, Decision::Reject).await,
        ContentCommand::RequestChanges(a) => decide(&ctx, a, Decision::RequestChanges).await,
        ContentCommand::Publish(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let item = service::publish(&ctx, a.id, &actor).await?;
            if a.json.json {
                return output::json(&item);
            }
            println!(
                "content #{} v{} is live on {} ({})",
                item.id,
                item.version,
                item.channel,
                item.state.as_str()
            );
            Ok(())
        }
        ContentCommand::Record(a) => {
            let reading = Reading {
                views: a.views,
                clicks: a.clicks,
                conversions: a.conversions,
                revenue_cents: match &a.revenue {
                    Some(text) => vivid_core::budget::service::parse_amount(&ctx, text)
                        .map_err(|e| anyhow::anyhow!(e).context("--revenue"))?,
                    None => 0,
                },
            };
            let item = service::record_metrics(&ctx, a.id, reading, &a.source).await?;
            if a.json.json {
                return output::json(&item);
            }
            println!(
                "recorded for content #{} ({})",
                item.id,
                item.state.as_str()
            );
            Ok(())
        }
        ContentCommand::Archive(a) => {
            let actor = a.actor.resolve(&ctx)?;
            let item = service::archive(&ctx, a.id, &actor, &a.reason).await?;
            if a.json.json {
                return output::json(&item);
            }
            println!("content #{} archived", item.id);
            Ok(())
        }
        ContentCommand::History(a) => {
            let mut conn = ctx.pool.acquire().await?;
            service::detail(&ctx, a.id).await?;
            let list = events::list(
                &mut conn,
                &events::Filter {
                    workflow: Some("content".into()),
                    entity_id: Some(a.id.to_string()),
                    after_id: Some(0),
                    limit: 10_000,
                    ..events::Filter::default()
                },
            )
            .await?;
            if a.json.json {
                return output::json(&list);
            }
            for e in &list {
                let t = match (&e.from_state, &e.to_state) {
                    (Some(f), Some(t)) if f != t => format!(" {f} -> {t}"),
                    (None, Some(t)) => format!(" -> {t}"),
                    _ => String::new(),
                };
                let r = e
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                let line = format!(
                    "{} {:<20} @{}{t}{r}",
                    ctx.calendar.format_local_seconds(e.occurred_at),
                    e.action,
                    e.actor
                );
                println!("{}", output::clean(&line));
            }
            Ok(())
        }
        ContentCommand::Diff(a) => {
            let diff = service::diff(&ctx, a.id, a.from, a.to).await?;
            if a.json.json {
                return output::json(&serde_json::json!({ "id": a.id, "diff": diff }));
            }
            print!("{}", output::clean_text(&diff, true));
            Ok(())
        }
        ContentCommand::Queue(a) => {
            let person = match a.person {
                Some(p) => {
                    ctx.org.actor(&p)?;
                    p
                }
                None => a.actor.resolve(&ctx)?,
            };
            let queue = service::queue(&ctx, &person).await?;
            if a.json.json {
                return output::json(&queue);
            }
            if queue.is_empty() {
                println!("nothing waits on @{person}");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = queue
                .iter()
                .map(|q| {
                    let left = q.approval.deadline - ctx.now();
                    vec![
                        format!("#{}", q.item.id),
                        format!("v{}", q.approval.subject_version),
                        format!("{}/{}", q.approvals_so_far, q.approval.required),
                        if left < TimeDelta::zero() {
                            format!("OVERDUE {}", format_delta(-left))
                        } else {
                            format!("{} left", format_delta(left))
                        },
                        format!("@{}", q.item.owner),
                        q.item.title.clone(),
                    ]
                })
                .collect();
            output::table(
                &["ID", "VER", "APPROVED", "DEADLINE", "OWNER", "TITLE"],
                &rows,
            );
            Ok(())
        }
    }
}

async fn decide(ctx: &Ctx, a: DecideArgs, decision: Decision) -> Result<()> {
    let actor = a.actor.resolve(ctx)?;
    let d = service::decide(ctx, a.id, &actor, decision, &a.comment, a.version).await?;
    if a.json.json {
        return output::json(&d);
    }
    use vivid_core::engine::approvals::Outcome;
    let what = match d.outcome {
        Outcome::Pending {
            approvals,
            required,
        } => format!("recorded: {approvals} of {required} approvals"),
        Outcome::Approved => "approved".to_string(),
        Outcome::AlreadyApproved => "recorded; it was already approved".to_string(),
        Outcome::Rejected => "rejected: back to Creation".to_string(),
        Outcome::ChangesRequested => "changes requested: back to Creation".to_string(),
    };
    println!(
        "content #{} v{}: {what} ({})",
        d.item.id,
        d.item.version,
        d.item.state.as_str()
    );
    Ok(())
}

fn show(ctx: &Ctx, d: &service::Detail, text_of: i32) {
    let i = &d.item;
    println!("#{} {} — {}", i.id, clean(&i.title), i.state.as_str());
    println!(
        "kind {} · channel {} · owner @{} · campaign {} · cost {}",
        i.kind,
        i.channel,
        i.owner,
        i.campaign.as_deref().unwrap_or("-"),
        vivid_core::budget::model::format_cents(i.cost_cents)
    );
    println!(
        "version {} (approved: {}) · {} round(s) of changes",
        i.version,
        i.approved_version
            .map(|v| format!("v{v}"))
            .unwrap_or_else(|| "none".into()),
        i.revision_rounds
    );
    if let Some(a) = &d.approval {
        let left = a.deadline - ctx.now();
        println!(
            "approval #{} for v{}: {} · needs {} from {}{} · deadline {}",
            a.id,
            a.subject_version,
            a.status,
            a.required,
            a.eligible_roles.join(", "),
            if a.must_include.is_empty() {
                String::new()
            } else {
                format!(" incl. one of {}", a.must_include.join(", "))
            },
            match (a.status.as_str(), a.decided_at) {
                ("pending", _) if left < TimeDelta::zero() =>
                    format!("passed {} ago", format_delta(-left)),
                ("pending", _) => format!("in {}", format_delta(left)),
                (_, Some(at)) => format!("closed {}", ctx.calendar.format_local(at)),
                _ => String::new(),
            }
        );
        for dec in &d.decisions {
            println!(
                "  @{} {} {}",
                dec.approver,
                dec.decision,
                clean(&dec.comment)
            );
        }
    }
    let t = &d.totals;
    if t.readings > 0 {
        println!(
            "performance: {} views, {} clicks (CTR {:.2}% vs baseline {:.2}%), {} conversions, ${:.0} revenue",
            t.views,
            t.clicks,
            t.ctr().unwrap_or(0.0) * 100.0,
            d.baseline_ctr.unwrap_or(0.0) * 100.0,
            t.conversions,
            t.revenue_cents as f64 / 100.0
        );
    }
    if let Some(v) = d.versions.iter().find(|v| v.version == text_of) {
        println!("\n── v{} · {} ──", v.version, clean(&v.title));
        println!("{}", output::clean_text(v.body.trim_end(), true));
        println!("──\n");
    }
    println!("versions:");
    for v in &d.versions {
        println!(
            "  v{} by @{} {}{}",
            v.version,
            v.author,
            ctx.calendar.format_local(v.created_at),
            v.note
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        );
    }
}
