//! `/oncall [department]`: who is on call now, until when, and who is next.

use chrono::{DateTime, Utc};
use serde_json::json;
use vivid_core::engine::oncall;
use vivid_core::org::Schedule;

use crate::model::{Choice, Embed, Invocation, Message, Response};
use crate::registry::{BoxFuture, Call, CommandDef, CommandGroup, Failure, OptionDef, Reply};
use crate::render::{self, BLUE, name, relative};

pub struct Oncall;

impl CommandGroup for Oncall {
    fn definition(&self) -> CommandDef {
        CommandDef {
            name: "oncall",
            description: "Who is on call now",
            options: vec![
                OptionDef::string("department", "Only this department's rotation").autocomplete(),
            ],
        }
    }

    fn run<'a>(&'a self, call: Call<'a>, inv: &'a Invocation) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let ctx = call.ctx;
            let wanted = inv
                .str("department")
                .map(str::trim)
                .filter(|d| !d.is_empty());
            let department = match wanted {
                Some(d) => Some(find_department(ctx, d)?),
                None => None,
            };
            let now = ctx.now();
            let mut conn = ctx.pool.acquire().await.map_err(vivid_core::Error::from)?;
            let on_call = oncall::all_at(ctx, &mut conn, now).await?;
            let shown: Vec<_> = on_call
                .iter()
                .filter(|o| department.as_ref().is_none_or(|d| &o.department == d))
                .collect();
            if shown.is_empty() {
                let text = match &department {
                    Some(d) => {
                        let director = ctx
                            .org
                            .director_of(d)
                            .map(|p| format!("; escalations for it go to its director, {}", p.name))
                            .unwrap_or_default();
                        format!(
                            "No on-call rotation covers {}{director}.",
                            render::department(ctx, d)
                        )
                    }
                    None => "No on-call rotation is configured.".into(),
                };
                return Ok(Response::ephemeral(text));
            }
            let mut e = Embed {
                title: Some("On call now".into()),
                colour: Some(BLUE),
                ..Embed::default()
            };
            for o in shown {
                let who = match ctx.org.person(&o.person) {
                    Some(p) => match &p.discord_id {
                        Some(id) => format!("**{}** <@{id}>", p.name),
                        None => format!("**{}**", p.name),
                    },
                    None => format!("@{}", o.person),
                };
                let mut value = who;
                match ctx.org.schedule(&o.schedule) {
                    Some(s) if o.via == "rotation" => {
                        if let Some(end) = shift_end(s, now) {
                            value.push_str(&format!(
                                "\nuntil {} ({})",
                                ctx.calendar.format_local(end),
                                relative(end)
                            ));
                            if let Some(next) = s.rotation_at(end) {
                                value.push_str(&format!(" · next: {}", name(ctx, next)));
                            }
                        }
                    }
                    _ => {
                        value.push_str("\ncovering the rotation (override)");
                        if let Some(end) = o.until {
                            value.push_str(&format!(
                                " until {} ({})",
                                ctx.calendar.format_local(end),
                                relative(end)
                            ));
                        }
                    }
                }
                e = e.field(
                    format!(
                        "{} · {}",
                        render::department(ctx, &o.department),
                        o.schedule
                    ),
                    value,
                    false,
                );
            }
            Ok(Response::Message(Message::embed(e).ephemeral()))
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
            let org = &call.ctx.org;
            // Departments with a rotation first: they are the useful answers.
            let mut depts: Vec<_> = org.departments.iter().collect();
            depts.sort_by_key(|d| !org.schedules.iter().any(|s| s.department == d.key));
            depts
                .into_iter()
                .filter(|d| d.key.contains(&typed) || d.name.to_lowercase().contains(&typed))
                .take(25)
                .map(|d| Choice {
                    name: d.name.clone(),
                    value: json!(d.key),
                })
                .collect()
        })
    }
}

/// A department by key or name, or core's kind of "unknown" sentence.
fn find_department(ctx: &vivid_core::Ctx, wanted: &str) -> Result<String, Failure> {
    let lower = wanted.to_lowercase();
    ctx.org
        .departments
        .iter()
        .find(|d| d.key == lower || d.name.to_lowercase() == lower)
        .map(|d| d.key.clone())
        .ok_or_else(|| {
            let keys: Vec<&str> = ctx.org.departments.iter().map(|d| d.key.as_str()).collect();
            Failure::Core(vivid_core::Error::not_found(format!(
                "unknown department {wanted:?}; departments: {}",
                keys.join(", ")
            )))
        })
}

/// When the current shift of a rotation hands over (at its local hour).
fn shift_end(s: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    oncall::shift_end(s, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn a_shift_ends_at_the_next_handoff() {
        let start = DateTime::from_timestamp(1_767_621_600, 0).unwrap_or_default();
        let s = Schedule {
            name: "x".into(),
            department: "operations".into(),
            rotation: vec!["a".into(), "b".into()],
            shift: TimeDelta::days(7),
            handoff: start,
            layers: Vec::new(),
            timezone: Default::default(),
        };
        assert_eq!(
            shift_end(&s, start + TimeDelta::hours(1)),
            Some(start + TimeDelta::days(7))
        );
        assert_eq!(shift_end(&s, start - TimeDelta::hours(1)), Some(start));
        assert_eq!(shift_end(&s, start), Some(start + TimeDelta::days(7)));
    }
}
