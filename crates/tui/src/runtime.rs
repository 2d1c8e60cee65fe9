//! The event loop: the one owner of the terminal. It waits on keyboard
//! input, data from the feed, a one-second tick and shutdown; feeds each
//! message to `update`; performs the actions; draws `view`.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vivid_core::Ctx;

use crate::app::{Action, AppState, Msg, update};
use crate::terminal::{self, Input, Tui};
use crate::{TuiError, TuiOptions, actions, feed, view};

/// Aborts a background task when the loop ends, however it ends.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn run(ctx: Ctx, opts: TuiOptions) -> Result<(), TuiError> {
    let mut tui = Tui::enter()?;
    let result = event_loop(&mut tui, ctx, opts).await;
    let restored = tui.leave();
    result?;
    restored?;
    Ok(())
}

async fn event_loop(tui: &mut Tui, ctx: Ctx, opts: TuiOptions) -> Result<(), TuiError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (reload_tx, reload_rx) = mpsc::unbounded_channel();
    let _input = Input::spawn(tx.clone())?;
    let mut feed = AbortOnDrop(tokio::spawn(feed::run(
        ctx.clone(),
        opts.operator.clone(),
        tx.clone(),
        reload_rx,
    )));
    let size = tui.terminal.size()?;
    let mut state = AppState::new(opts.operator.clone(), ctx.now(), size);
    state.warn_within = ctx.config.approvals.remind_before.delta();
    state.zone = ctx.calendar.timezone();
    let mut shutdown = opts.shutdown;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tui.terminal.draw(|frame| view::view(&state, frame))?;
        let first = tokio::select! {
            m = rx.recv() => match m {
                Some(m) => m,
                None => return Ok(()),
            },
            _ = tick.tick() => Msg::Tick(ctx.now()),
            () = stopped(&mut shutdown) => return Ok(()),
            r = &mut feed.0 => {
                let why = r.err().map(|e| e.to_string()).unwrap_or_else(|| "ended".into());
                return Err(TuiError::Background(format!("the data feed failed: {why}")));
            }
        };
        // Take everything already queued before drawing again.
        let mut actions = Vec::new();
        actions.extend(update(&mut state, first));
        while let Ok(msg) = rx.try_recv() {
            actions.extend(update(&mut state, msg));
        }
        if !terminal::active() {
            return Err(TuiError::Background(
                "a background task panicked (see the log)".into(),
            ));
        }
        for action in actions {
            match action {
                Action::Quit => return Ok(()),
                Action::Reload => {
                    reload_tx.send(()).ok();
                }
                Action::Decide(cmd) => {
                    let (ctx, operator, tx) = (ctx.clone(), opts.operator.clone(), tx.clone());
                    tokio::spawn(async move {
                        tx.send(Msg::Done(actions::decide(&ctx, &operator, &cmd).await))
                            .ok();
                    });
                }
                Action::Crisis(cmd) => {
                    let (ctx, operator, tx) = (ctx.clone(), opts.operator.clone(), tx.clone());
                    tokio::spawn(async move {
                        tx.send(Msg::Done(actions::crisis(&ctx, &operator, &cmd).await))
                            .ok();
                    });
                }
                Action::Handoff(cmd) => {
                    let (ctx, operator, tx) = (ctx.clone(), opts.operator.clone(), tx.clone());
                    tokio::spawn(async move {
                        tx.send(Msg::Done(actions::handoff(&ctx, &operator, &cmd).await))
                            .ok();
                    });
                }
                Action::LoadIncident(id) => {
                    let (ctx, tx) = (ctx.clone(), tx.clone());
                    tokio::spawn(async move {
                        let fetched = actions::load_incident(&ctx, id).await;
                        tx.send(Msg::IncidentLoaded(fetched)).ok();
                    });
                }
                Action::LoadReview(id) => {
                    let (ctx, tx) = (ctx.clone(), tx.clone());
                    tokio::spawn(async move {
                        let fetched = actions::load_review(&ctx, id).await;
                        tx.send(Msg::ReviewLoaded(fetched)).ok();
                    });
                }
            }
        }
    }
}

/// Resolves when the shutdown switch turns true; never without one.
async fn stopped(shutdown: &mut Option<watch::Receiver<bool>>) {
    let Some(rx) = shutdown else {
        return std::future::pending().await;
    };
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            // The switch is gone: nobody can ask us to stop any more.
            return std::future::pending().await;
        }
    }
}
