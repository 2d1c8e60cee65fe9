//! `/budget status [department]`: every line's spend, forecast and alarms;
//! Approve / Deny buttons on budget approval requests (spend reviews, spend
//! requests, line changes, reallocations) sent to those who may decide.
//! Threshold alerts reach the department head and the finance channel as
//! ordinary notifications.

use serde_json::json;
use vivid_core::budget::model::format_cents;
use vivid_core::budget::read;
use vivid_core::decisions;
use vivid_core::engine::approvals::{self, Decision};
use vivid_core::engine::outbox::Notification;

use crate::model::{Button, Choice, Embed, Invocation, Message, Response, Style};
use crate::registry::{
    BoxFuture, Call, CommandDef, CommandGroup, CustomId, Failure, OptionDef, Reply,
};
use crate::render::{self, GREEN, ORANGE, RED};

pub struct Budget;

impl CommandGroup for Budget {
    fn definition(&self) -> CommandDef {
        CommandDef {
            name: "budget",
            description: "Budget lines: spend, forecast and alarms",
            options: vec![OptionDef::sub(
                "status",
                "Every line of the current period (or one department's)",
                vec![OptionDef::string("department", "Only this department").autocomplete()],
            )],
        }
    }

    fn run<'a>(&'a self, call: Call<'a>, inv: &'a Invocation) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            let dept = inv
                .str("department")
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| {
                    let lower = d.to_lowercase();
                    ctx.org
                        .departments
                        .iter()
                        .find(|x| x.key == lower || x.name.to_lowercase() == lower)
                        .map(|x| x.key.clone())
                        .ok_or_else(|| {
                            Failure::Core(vivid_core::Error::not_found(format!(
                                "unknown department {d:?}"
                            )))
                        })
                })
                .transpose()?;
            let st = read::status(ctx, dept.as_deref(), None, None).await?;
            Ok(Response::Message(
                Message::embed(status_embed(ctx, &st)).ephemeral(),
            ))
        })
    }

    fn component<'a>(&'a self, call: Call<'a>, id: CustomId<'a>) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let approval: i64 = id
                .arg
                .parse()
                .map_err(|_| Failure::usage(format!("{:?} is not an approval number", id.arg)))?;
            let decision = match id.action {
                "approve" => Decision::Approve,
                "deny" => Decision::Reject,
                other => return Err(Failure::usage(format!("unknown budget button {other:?}"))),
            };
            let comment = match decision {
                Decision::Approve => "approved in Discord",
                _ => "denied in Discord",
            };
            let (req, outcome) = decisions::decide_request(
                call.ctx,
                approval,
                &call.actor.handle,
                decision,
                comment,
                None,
            )
            .await?;
            let text = format!(
                "{} **{}** {}: {}",
                if decision == Decision::Approve {
                    "✅"
                } else {
                    "⛔"
                },
                call.actor.name,
                decision.as_str().replace('_', " "),
                req.title
            );
            let e = Embed {
                title: Some(req.title.clone()),
                description: Some(format!("{outcome:?}")),
                colour: Some(if decision == Decision::Approve {
                    GREEN
                } else {
                    RED
                }),
                ..Embed::default()
            };
            Ok(Response::Update(Message::embed(e).content(text)))
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
                .and_then(|o| o.value.as_str())
                .unwrap_or_default()
                .to_lowercase();
            call.ctx
                .org
                .departments
                .iter()
                .filter(|d| d.key.contains(&typed) || d.name.to_lowercase().contains(&typed))
                .take(25)
                .map(|d| Choice {
                    name: d.name.clone(),
                    value: json!(d.key),
                })
                .collect()
        })
    }

    fn workflow(&self) -> Option<&'static str> {
        Some(vivid_core::budget::WORKFLOW)
    }

    /// Approve / Deny on a budget approval request sent to someone who may
    /// decide it, while it is pending.
    fn notification_buttons<'a>(
        &'a self,
        ctx: &'a vivid_core::Ctx,
        n: &'a Notification,
    ) -> BoxFuture<'a, Vec<Vec<Button>>> {
        Box::pin(async move {
            if n.workflow != vivid_core::budget::WORKFLOW {
                return Vec::new();
            }
            let Some(id) = n.payload.get("approval_id").and_then(|v| v.as_i64()) else {
                return Vec::new();
            };
            let Some(person) = n.person.as_deref().and_then(|h| ctx.org.person(h)) else {
                return Vec::new();
            };
            let Ok(mut conn) = ctx.pool.acquire().await else {
                return Vec::new();
            };
            let Ok(req) = approvals::get(&mut conn, id).await else {
                return Vec::new();
            };
            let Ok(prior) = approvals::decisions(&mut conn, id).await else {
                return Vec::new();
            };
            if !approvals::may_decide(&ctx.org, person, &req, &prior) {
                return Vec::new();
            }
            vec![vec![
                Button::new("Approve", format!("budget:approve:{id}"), Style::Success),
                Button::new("Deny", format!("budget:deny:{id}"), Style::Danger),
            ]]
        })
    }
}

fn status_embed(ctx: &vivid_core::Ctx, st: &read::StatusView) -> Embed {
    let alarm = st.lines.iter().any(|l| !l.alerts.is_empty());
    let mut e = Embed {
        title: Some(format!(
            "Budget {} · day {} of {}",
            st.period, st.elapsed_days, st.total_days
        )),
        colour: Some(if alarm { ORANGE } else { GREEN }),
        ..Embed::default()
    };
    if st.lines.is_empty() {
        e.description = Some("No budget lines in this period.".into());
    }
    for l in st.lines.iter().take(25) {
        let mut name = render::department(ctx, &l.department);
        for part in [&l.channel, &l.campaign].into_iter().flatten() {
            name.push_str(" / ");
            name.push_str(part);
        }
        let alarms: Vec<String> = l
            .alerts
            .iter()
            .map(|a| format!("{} {:.0}%", a.basis.as_str(), a.threshold * 100.0))
            .collect();
        e = e.field(
            name,
            format!(
                "{} spent + {} committed of {} ({:.0}%)\nforecast {}{}",
                format_cents(l.spent_cents),
                format_cents(l.committed_cents),
                format_cents(l.budget_cents),
                l.utilization * 100.0,
                format_cents(l.forecast_cents),
                if alarms.is_empty() {
                    String::new()
                } else {
                    format!("\n⚠ {}", alarms.join(", "))
                }
            ),
            true,
        );
    }
    e
}
