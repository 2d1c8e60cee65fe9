//! The control room against a real PostgreSQL: the operator takes a P1
//! from triggered to resolved through its phases with the crisis screen's
//! keys, each action run through the same core services the runtime calls,
//! the board re-read after each one and drawn into a `TestBackend`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Size;
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::crisis::{Phase, Status};
use vivid_core::testing::{default_config, fresh_db};

use crate::actions;
use crate::app::{Action, AppState, Msg, Overlay, update};
use crate::data::Loader;
use crate::screens;
use crate::test_data::key;
use crate::view::view;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T15:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn render(state: &AppState) -> Result<String, Box<dyn std::error::Error>> {
    let mut terminal = Terminal::new(TestBackend::new(state.size.width, state.size.height))?;
    terminal.draw(|f| view(state, f))?;
    Ok(terminal.backend().to_string())
}

/// Type keys; what the control room asks the runtime to do comes back.
fn press(state: &mut AppState, keys: &[KeyCode]) -> Vec<Action> {
    keys.iter()
        .filter_map(|k| update(state, Msg::Key(key(*k))))
        .collect()
}

fn chars(text: &str) -> Vec<KeyCode> {
    text.chars().map(KeyCode::Char).collect()
}

/// Do what the runtime does: run the command through core, report, re-read.
async fn perform(
    ctx: &Ctx,
    loader: &mut Loader,
    state: &mut AppState,
    acts: Vec<Action>,
) -> TestResult {
    for act in acts {
        let Action::Crisis(cmd) = act else {
            continue;
        };
        let done = actions::crisis(ctx, &state.operator.clone(), &cmd).await;
        if let Err(e) = &done {
            return Err(format!("{cmd:?} refused: {e}").into());
        }
        update(state, Msg::Done(done));
    }
    update(state, Msg::Loaded(Box::new(loader.load(ctx).await?)));
    Ok(())
}

async fn status(ctx: &Ctx) -> Result<(Status, Phase, String), Box<dyn std::error::Error>> {
    let list = vivid_core::crisis::service::list(ctx, &Default::default()).await?;
    let inc = list.first().ok_or("no incident")?;
    Ok((
        inc.status,
        inc.phase,
        inc.commander.clone().unwrap_or_default(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_room_takes_a_p1_from_triggered_to_resolved_through_its_phases() -> TestResult {
    let db = fresh_db().await?;
    let ctx = db
        .ctx(default_config(), Arc::new(SimClock::at(t0())))
        .await?;
    let mut loader = Loader::new("omar");
    let mut s = AppState::new("omar", ctx.now(), Size::new(120, 30));
    update(&mut s, Msg::Loaded(Box::new(loader.load(&ctx).await?)));
    s.tab = screens::position("crisis").ok_or("no crisis screen")?;

    // n: open, typed as "P1 title", confirmed.
    assert!(press(&mut s, &[KeyCode::Char('n')]).is_empty());
    assert!(press(&mut s, &chars("P1 Checkout fails for card payments")).is_empty());
    assert!(press(&mut s, &[KeyCode::Enter]).is_empty());
    assert!(matches!(s.overlay, Some(Overlay::Confirm { .. })));
    let acts = press(&mut s, &[KeyCode::Char('y')]);
    perform(&ctx, &mut loader, &mut s, acts).await?;
    assert_eq!(status(&ctx).await?.0, Status::Triggered);
    let screen = render(&s)?;
    assert!(
        screen.contains("Checkout fails for card payments"),
        "{screen}"
    );

    // a: acknowledge at once.
    let acts = press(&mut s, &[KeyCode::Char('a')]);
    perform(&ctx, &mut loader, &mut s, acts).await?;
    assert_eq!(
        status(&ctx).await?,
        (Status::Acknowledged, Phase::Detection, "omar".into())
    );

    // R now is refused by core, and the refusal is shown.
    let mut acts = press(&mut s, &[KeyCode::Char('R')]);
    acts.extend(press(&mut s, &chars("rolled back")));
    acts.extend(press(&mut s, &[KeyCode::Enter, KeyCode::Char('y')]));
    let [Action::Crisis(cmd)] = acts.as_slice() else {
        return Err(format!("expected one command, got {acts:?}").into());
    };
    let refused = actions::crisis(&ctx, "omar", cmd).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("Implement Fix")),
        "{refused:?}"
    );
    update(&mut s, Msg::Done(refused));
    assert!(render(&s)?.contains("Implement Fix"));
    press(&mut s, &[KeyCode::Esc]);

    // p, four times: Triage, Internal Comms, Customer Comms, Implement Fix.
    for want in [
        Phase::Triage,
        Phase::InternalComms,
        Phase::CustomerComms,
        Phase::ImplementFix,
    ] {
        let acts = press(&mut s, &[KeyCode::Char('p'), KeyCode::Char('y')]);
        assert_eq!(acts.len(), 1, "{acts:?}");
        perform(&ctx, &mut loader, &mut s, acts).await?;
        assert_eq!(status(&ctx).await?.1, want);
        let screen = render(&s)?;
        assert!(screen.contains(want.label()), "{screen}");
    }

    // A note, a status update and a severity change on the way.
    let mut acts = press(&mut s, &[KeyCode::Char('m')]);
    acts.extend(press(
        &mut s,
        &chars("payments provider confirmed the fault"),
    ));
    acts.extend(press(&mut s, &[KeyCode::Enter, KeyCode::Char('y')]));
    perform(&ctx, &mut loader, &mut s, acts).await?;
    let mut acts = press(&mut s, &[KeyCode::Char('u')]);
    acts.extend(press(&mut s, &chars("Fix is rolling out")));
    acts.extend(press(&mut s, &[KeyCode::Enter, KeyCode::Char('y')]));
    perform(&ctx, &mut loader, &mut s, acts).await?;
    let d = vivid_core::crisis::service::detail(&ctx, 1).await?;
    let actions: Vec<&str> = d.timeline.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"note"), "{actions:?}");
    assert!(actions.contains(&"status_update"), "{actions:?}");
    assert!(d.incident.next_update_at.is_some());

    // R: resolved with its note.
    let mut acts = press(&mut s, &[KeyCode::Char('R')]);
    acts.extend(press(&mut s, &chars("rolled back the payment SDK")));
    acts.extend(press(&mut s, &[KeyCode::Enter, KeyCode::Char('y')]));
    perform(&ctx, &mut loader, &mut s, acts).await?;
    assert_eq!(status(&ctx).await?.0, Status::Resolved);
    assert_eq!(status(&ctx).await?.1, Phase::FollowUp);
    let screen = render(&s)?;
    assert!(screen.contains("resolved"), "{screen}");
    Ok(())
}
