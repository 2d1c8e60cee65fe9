//! `update`: how each message changes the state. No I/O here; what must
//! touch the world comes back as an [`Action`].

use chrono::TimeDelta;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Size;
use vivid_core::engine::approvals::Decision;

use super::{Action, AppState, CrisisCmd, CrisisOp, DbHealth, Flash, Msg, Overlay};
use crate::screens::{self, Reaction, visible_window};
use crate::snapshot::Snapshot;

/// How long a status-line message stays.
const FLASH_FOR: TimeDelta = TimeDelta::seconds(6);

pub fn update(state: &mut AppState, msg: Msg) -> Option<Action> {
    match msg {
        Msg::Key(key) if key.kind == KeyEventKind::Release => None,
        Msg::Key(key) => on_key(state, key),
        Msg::Resize(width, height) => {
            state.size = Size::new(width, height);
            for i in 0..state.lists.len() {
                rescroll(state, i);
            }
            None
        }
        Msg::Tick(now) => {
            state.now = now;
            if state
                .flash
                .as_ref()
                .is_some_and(|f| !f.error && now - f.at > FLASH_FOR)
            {
                state.flash = None;
            }
            None
        }
        Msg::Loaded(snapshot) => {
            apply_snapshot(state, *snapshot);
            state.db = DbHealth::Up;
            state.loaded = true;
            // Data changed: re-read what the open detail shows (a timeline grows).
            match state.overlay {
                Some(Overlay::Detail { screen, id }) => {
                    let row = row_of(state, screen, id)?;
                    screens::get(screen).load_detail(&state.snapshot, row)
                }
                _ => None,
            }
        }
        Msg::IncidentLoaded(fetched) => {
            // Keep it only if its detail is still the one open.
            if matches!(state.overlay, Some(Overlay::Detail { id, .. }) if id == fetched.id) {
                state.incident = Some(fetched);
            }
            None
        }
        Msg::ReviewLoaded(fetched) => {
            if matches!(state.overlay, Some(Overlay::Detail { id, .. }) if id == fetched.id) {
                state.review = Some(fetched);
            }
            None
        }
        Msg::DbDown {
            error,
            at,
            retry_at,
        } => {
            let since = match &state.db {
                DbHealth::Down { since, .. } => *since,
                DbHealth::Up => at,
            };
            state.db = DbHealth::Down {
                error,
                since,
                retry_at,
            };
            None
        }
        Msg::InputLost(why) => {
            tracing::warn!(%why, "keyboard input lost; leaving the control room");
            Some(Action::Quit)
        }
        Msg::Done(result) => {
            state.busy = None;
            match result {
                Ok(text) => flash(state, text, false),
                Err(message) => {
                    state.overlay = Some(Overlay::Error {
                        title: "Not done".into(),
                        message,
                    })
                }
            }
            None
        }
    }
}

fn flash(state: &mut AppState, text: impl Into<String>, error: bool) {
    state.flash = Some(Flash {
        text: text.into(),
        error,
        at: state.now,
    });
}

fn ctrl(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL)
}

fn on_key(state: &mut AppState, key: KeyEvent) -> Option<Action> {
    if ctrl(&key) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    // Esc and a key typed quickly after it arrive as Alt+key: take both.
    if key.modifiers.contains(KeyModifiers::ALT) && matches!(key.code, KeyCode::Char(_)) {
        let esc = on_key(state, KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        let plain = KeyEvent::new(key.code, key.modifiers - KeyModifiers::ALT);
        return esc.or(on_key(state, plain));
    }
    if state.editing_filter {
        edit_filter(state, key);
        return None;
    }
    if let Some(overlay) = state.overlay.take() {
        return on_overlay_key(state, overlay, key);
    }
    let page = screens::page_height(state, state.tab).max(1);
    let count = screens::all().len();
    match key.code {
        KeyCode::Char('q') => return Some(Action::Quit),
        KeyCode::Char('?') => state.overlay = Some(Overlay::Help { scroll: 0 }),
        KeyCode::Tab => switch(state, (state.tab + 1) % count),
        KeyCode::BackTab => switch(state, (state.tab + count - 1) % count),
        // 1–9 and 0 for the first ten tabs, F1–F12 for all of them.
        KeyCode::Char(c @ '0'..='9') => {
            let index = match c {
                '0' => 9,
                _ => usize::from(c as u8 - b'1'),
            };
            if index < count {
                switch(state, index);
            }
        }
        KeyCode::F(n @ 1..=12) => {
            let index = usize::from(n - 1);
            if index < count {
                switch(state, index);
            }
        }
        KeyCode::Char('d') if ctrl(&key) => move_by(state, page as isize),
        KeyCode::Char('u') if ctrl(&key) => move_by(state, -(page as isize)),
        KeyCode::Down | KeyCode::Char('j') => move_by(state, 1),
        KeyCode::Up | KeyCode::Char('k') => move_by(state, -1),
        KeyCode::PageDown => move_by(state, page as isize),
        KeyCode::PageUp => move_by(state, -(page as isize)),
        KeyCode::Home | KeyCode::Char('g') => move_to(state, 0),
        KeyCode::End | KeyCode::Char('G') => move_to(state, usize::MAX),
        KeyCode::Enter => return open_detail(state),
        KeyCode::Esc => {
            if !state.list().filter.is_empty() {
                set_filter(state, String::new());
            }
        }
        KeyCode::Char('/') => state.editing_filter = true,
        KeyCode::Char('r') => {
            flash(state, "reloading…", false);
            return Some(Action::Reload);
        }
        KeyCode::Char('f') if state.screen().follows() => {
            let tab = state.tab;
            let follow = !state.lists.get(tab).is_some_and(|l| l.follow);
            if follow {
                move_to(state, usize::MAX);
            }
            if let Some(list) = state.lists.get_mut(tab) {
                list.follow = follow;
            }
            flash(
                state,
                if follow {
                    "following new events"
                } else {
                    "follow off"
                },
                false,
            );
        }
        _ => {
            let row = state.list().current();
            if let Some(reaction) = state.screen().on_key(state, row, &key) {
                return react(state, reaction);
            }
        }
    }
    None
}

/// Carry out what a screen's key asked for.
fn react(state: &mut AppState, reaction: Reaction) -> Option<Action> {
    match reaction {
        Reaction::Open(overlay) => {
            state.overlay = Some(overlay);
            None
        }
        Reaction::Act(action) => start(state, action),
    }
}

/// Hand a command to the runtime, one at a time.
fn start(state: &mut AppState, action: Action) -> Option<Action> {
    if action.is_command() {
        if let Some(busy) = &state.busy {
            let text = format!("wait: still {busy}");
            flash(state, text, true);
            return None;
        }
        state.busy = Some(action.describe());
    }
    Some(action)
}

/// How far the help can scroll at the current size.
fn help_overflow(state: &AppState) -> u16 {
    let area = ratatui::layout::Rect::from((ratatui::layout::Position::ORIGIN, state.size));
    crate::view::help_overflow(area)
}

fn on_overlay_key(state: &mut AppState, overlay: Overlay, key: KeyEvent) -> Option<Action> {
    let code = key.code;
    match overlay {
        Overlay::Help { scroll } => {
            let scroll = match code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?') | KeyCode::Char('q') => {
                    return None;
                }
                KeyCode::Down | KeyCode::Char('j') | KeyCode::PageDown => {
                    scroll.saturating_add(1).min(help_overflow(state))
                }
                KeyCode::Up | KeyCode::Char('k') | KeyCode::PageUp => scroll.saturating_sub(1),
                _ => scroll,
            };
            state.overlay = Some(Overlay::Help { scroll });
            None
        }
        Overlay::Detail { screen, id } => {
            let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
            match code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => {}
                // Long text (a review's body and diff) scrolls inside the box.
                KeyCode::PageDown | KeyCode::Char(' ') => {
                    scroll_detail(state, screen, id, true);
                    state.overlay = Some(Overlay::Detail { screen, id });
                }
                KeyCode::Char('d') if ctrl => {
                    scroll_detail(state, screen, id, true);
                    state.overlay = Some(Overlay::Detail { screen, id });
                }
                KeyCode::PageUp => {
                    scroll_detail(state, screen, id, false);
                    state.overlay = Some(Overlay::Detail { screen, id });
                }
                KeyCode::Char('u') if ctrl => {
                    scroll_detail(state, screen, id, false);
                    state.overlay = Some(Overlay::Detail { screen, id });
                }
                KeyCode::Down | KeyCode::Char('j') | KeyCode::Up | KeyCode::Char('k') => {
                    // Walk the list without leaving the detail.
                    let delta = if matches!(code, KeyCode::Down | KeyCode::Char('j')) {
                        1
                    } else {
                        -1
                    };
                    move_by(state, delta);
                    let target = screens::get(screen);
                    let row = state.list().current();
                    let next = row
                        .and_then(|r| target.row_id(&state.snapshot, r))
                        .unwrap_or(id);
                    state.overlay = Some(Overlay::Detail { screen, id: next });
                    if next != id {
                        state.detail_scroll = 0;
                        return row.and_then(|r| target.load_detail(&state.snapshot, r));
                    }
                }
                _ => {
                    state.overlay = Some(Overlay::Detail { screen, id });
                    let target = screens::get(screen);
                    let row = row_of(state, screen, id);
                    if let Some(reaction) = target.on_key(state, row, &key) {
                        return react(state, reaction);
                    }
                }
            }
            None
        }
        Overlay::Prompt {
            title,
            label,
            mut input,
            mut hint,
            then,
        } => {
            match code {
                KeyCode::Esc => {
                    flash(state, "cancelled", false);
                    return None;
                }
                KeyCode::Enter if input.trim().is_empty() => {
                    hint = Some("nothing typed yet: type it, or Esc cancels".into());
                }
                KeyCode::Enter => {
                    let action = then.with_comment(&input);
                    state.overlay = Some(confirm(state, action));
                    return None;
                }
                KeyCode::Backspace => {
                    input.pop();
                }
                KeyCode::Char('u') if ctrl(&key) => input.clear(),
                KeyCode::Char(c) if !ctrl(&key) => input.push(c),
                _ => {}
            }
            state.overlay = Some(Overlay::Prompt {
                title,
                label,
                input,
                hint,
                then,
            });
            None
        }
        Overlay::Confirm {
            title,
            lines,
            action,
        } => match code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => start(state, action),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                flash(state, "cancelled", false);
                None
            }
            _ => {
                state.overlay = Some(Overlay::Confirm {
                    title,
                    lines,
                    action,
                });
                None
            }
        },
        Overlay::Error { title, message } => {
            if !matches!(
                code,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char(' ')
            ) {
                state.overlay = Some(Overlay::Error { title, message });
            }
            None
        }
    }
}

/// The confirmation for an action that cannot be undone.
pub fn confirm(state: &AppState, action: Action) -> Overlay {
    let mut footer = "This cannot be undone.";
    let (title, mut lines) = match &action {
        Action::Decide(d) => {
            let verb = match d.decision {
                Decision::Approve => "Approve",
                Decision::Reject => "Reject",
                Decision::RequestChanges => "Request changes on",
            };
            (
                format!("{verb} #{}?", d.request_id),
                vec![
                    format!("{verb} “{}” (version {})", d.title, d.version),
                    format!("as @{}.", state.operator),
                ],
            )
        }
        Action::Crisis(CrisisCmd {
            op: CrisisOp::Open { text },
            ..
        }) => {
            footer = "The on-call responders are paged now.";
            (
                "Open an incident?".to_string(),
                vec![format!("Open “{text}”"), format!("as @{}.", state.operator)],
            )
        }
        Action::Crisis(c) => {
            let (verb, then) = match &c.op {
                CrisisOp::Acknowledge => ("Acknowledge", "Escalation stops: you have it."),
                CrisisOp::Resolve { .. } => (
                    "Resolve",
                    "Escalation stops; reopen it if the problem comes back.",
                ),
                CrisisOp::Escalate => ("Escalate", "The next level is paged now."),
                CrisisOp::AdvancePhase => (
                    "Advance",
                    "The next phase starts its time box; phases never go back.",
                ),
                CrisisOp::Note { .. } => ("Add a note to", "It goes on the timeline."),
                CrisisOp::Severity { .. } => (
                    "Change the severity of",
                    "The new severity's clocks and ladder apply.",
                ),
                CrisisOp::Commander { .. } => (
                    "Hand over command of",
                    "Both commanders are told; it is on the timeline.",
                ),
                CrisisOp::Update { customer: true, .. } => (
                    "Post a customer update on",
                    "It goes to the status page; the next is due within the hour.",
                ),
                CrisisOp::Update { .. } => (
                    "Post an internal update on",
                    "It goes to the incidents channel; the next is due within the hour.",
                ),
                CrisisOp::Open { .. } => ("Open", ""),
            };
            footer = then;
            (
                format!("{verb} incident #{}?", c.id),
                vec![
                    format!("{verb} “{}”", c.title),
                    format!("as @{}.", state.operator),
                ],
            )
        }
        other => (other.describe(), Vec::new()),
    };
    match &action {
        Action::Decide(d) if !d.comment.is_empty() => {
            lines.push(format!("Comment: {}", d.comment));
        }
        Action::Crisis(c) => match &c.op {
            CrisisOp::Resolve { note } => lines.push(format!("Note: {note}")),
            CrisisOp::Open { .. } => {}
            op => {
                if let Some(text) = op.text() {
                    lines.push(format!("Text: {text}"));
                }
            }
        },
        _ => {}
    }
    lines.push(String::new());
    lines.push(footer.into());
    Overlay::Confirm {
        title,
        lines,
        action,
    }
}

fn edit_filter(state: &mut AppState, key: KeyEvent) {
    let mut filter = state.list().filter.clone();
    match key.code {
        KeyCode::Enter => {
            state.editing_filter = false;
            return;
        }
        KeyCode::Esc => {
            state.editing_filter = false;
            filter.clear();
        }
        KeyCode::Backspace => {
            filter.pop();
        }
        KeyCode::Char('u') if ctrl(&key) => filter.clear(),
        KeyCode::Char(c) if !ctrl(&key) => filter.push(c),
        _ => return,
    }
    set_filter(state, filter);
}

fn set_filter(state: &mut AppState, filter: String) {
    let tab = state.tab;
    let keep = current_id(state, tab);
    if let Some(list) = state.lists.get_mut(tab) {
        list.filter = filter;
    }
    refilter(state, tab, keep);
}

fn switch(state: &mut AppState, tab: usize) {
    state.tab = tab;
    state.editing_filter = false;
    rescroll(state, tab);
}

fn move_by(state: &mut AppState, delta: isize) {
    let tab = state.tab;
    let Some(list) = state.lists.get(tab) else {
        return;
    };
    let target = list.selected.saturating_add_signed(delta);
    move_to(state, target);
}

/// Put the cursor on `index` (clamped); at the newest row of a following
/// list, follow again.
fn move_to(state: &mut AppState, index: usize) {
    let tab = state.tab;
    let follows = state.screen().follows();
    if let Some(list) = state.lists.get_mut(tab) {
        let last = list.rows.len().saturating_sub(1);
        list.selected = index.min(last);
        list.follow = follows && list.selected == last;
    }
    rescroll(state, tab);
}

/// Scroll the open detail by a page, within its text.
fn scroll_detail(state: &mut AppState, screen: usize, id: i64, down: bool) {
    let area = ratatui::layout::Rect::from((ratatui::layout::Position::ORIGIN, state.size));
    let page = state.size.height.saturating_sub(6).max(1);
    let overflow = crate::view::detail_overflow(state, screen, id, area);
    state.detail_scroll = if down {
        state.detail_scroll.saturating_add(page).min(overflow)
    } else {
        state.detail_scroll.saturating_sub(page)
    };
}

fn open_detail(state: &mut AppState) -> Option<Action> {
    let screen = state.screen();
    let row = state.list().current()?;
    screen.detail(state, row)?;
    let id = screen.row_id(&state.snapshot, row)?;
    state.detail_scroll = 0;
    state.overlay = Some(Overlay::Detail {
        screen: state.tab,
        id,
    });
    screen.load_detail(&state.snapshot, row)
}

fn current_id(state: &AppState, tab: usize) -> Option<i64> {
    let row = state.lists.get(tab)?.current()?;
    screens::get(tab).row_id(&state.snapshot, row)
}

/// The snapshot row with this id on screen `tab`.
fn row_of(state: &AppState, tab: usize, id: i64) -> Option<usize> {
    let screen = screens::get(tab);
    state
        .lists
        .get(tab)?
        .rows
        .iter()
        .copied()
        .find(|&r| screen.row_id(&state.snapshot, r) == Some(id))
}

fn apply_snapshot(state: &mut AppState, snapshot: Snapshot) {
    let keep: Vec<Option<i64>> = (0..state.lists.len())
        .map(|i| current_id(state, i))
        .collect();
    state.snapshot = snapshot;
    for (i, id) in keep.into_iter().enumerate() {
        refilter(state, i, id);
    }
}

/// Recompute the rows of list `tab`, keeping the cursor on row `keep`.
fn refilter(state: &mut AppState, tab: usize, keep: Option<i64>) {
    let screen = screens::get(tab);
    let Some(filter) = state.lists.get(tab).map(|l| l.filter.to_lowercase()) else {
        return;
    };
    let rows = screen.matching(&state.snapshot, &filter);
    let position = keep.and_then(|id| {
        rows.iter()
            .position(|&r| screen.row_id(&state.snapshot, r) == Some(id))
    });
    if let Some(list) = state.lists.get_mut(tab) {
        list.rows = rows;
        let last = list.rows.len().saturating_sub(1);
        list.selected = if list.follow {
            last
        } else {
            position.unwrap_or(list.selected).min(last)
        };
    }
    rescroll(state, tab);
}

/// Keep the cursor of list `tab` on screen.
fn rescroll(state: &mut AppState, tab: usize) {
    let height = screens::page_height(state, tab);
    if let Some(list) = state.lists.get_mut(tab) {
        list.offset = visible_window(list, height);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{CrisisCmd, DecideCmd};
    use crate::screens::approvals::{Pending, rows as approvals};
    use crate::screens::crisis::incidents;
    use crate::screens::events::{Log, log};
    use crate::test_data::{self, key, now};

    fn press(state: &mut AppState, keys: &str) -> Vec<Action> {
        keys.chars()
            .filter_map(|c| update(state, Msg::Key(key(KeyCode::Char(c)))))
            .collect()
    }

    fn code(state: &mut AppState, code: KeyCode) -> Option<Action> {
        update(state, Msg::Key(key(code)))
    }

    fn tab_of(id: &str) -> usize {
        screens::position(id).unwrap_or_else(|| panic!("no {id} screen"))
    }

    #[test]
    fn tabs_switch_by_number_and_tab_key() {
        let mut s = test_data::state(100, 30);
        let ids: Vec<&str> = screens::all().iter().map(|x| x.id()).collect();
        assert_eq!(
            ids,
            [
                "overview",
                "crisis",
                "approvals",
                "content",
                "experiments",
                "events",
                "privacy",
                "journey",
                "budget",
                "vendors",
                "collab",
            ],
            "Crisis is the first tab after the overview"
        );
        press(&mut s, "2");
        assert_eq!(s.screen().id(), "crisis");
        press(&mut s, "9");
        assert_eq!(s.screen().id(), "budget", "the ninth tab");
        press(&mut s, "0");
        assert_eq!(s.screen().id(), "vendors", "0 is the tenth tab");
        for (n, id) in ids.iter().enumerate() {
            code(&mut s, KeyCode::F(n as u8 + 1));
            assert_eq!(s.screen().id(), *id, "F{} reaches every tab", n + 1);
        }
        press(&mut s, "2");
        code(&mut s, KeyCode::Tab);
        assert_eq!(s.screen().id(), "approvals");
        code(&mut s, KeyCode::F(ids.len() as u8));
        code(&mut s, KeyCode::Tab);
        assert_eq!(s.tab, 0, "Tab wraps around");
        code(&mut s, KeyCode::BackTab);
        assert_eq!(
            Some(&s.screen().id()),
            ids.last(),
            "BackTab wraps to the last"
        );
    }

    #[test]
    fn cursor_moves_and_clamps() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("approvals");
        assert_eq!(s.list().selected, 0);
        press(&mut s, "jjj");
        assert_eq!(s.list().selected, 3);
        press(&mut s, "kkkkkkk");
        assert_eq!(s.list().selected, 0);
        press(&mut s, "G");
        assert_eq!(s.list().selected, s.list().rows.len() - 1);
        press(&mut s, "g");
        assert_eq!(s.list().selected, 0);
        code(&mut s, KeyCode::End);
        code(&mut s, KeyCode::Down);
        assert_eq!(s.list().selected, s.list().rows.len() - 1);
    }

    #[test]
    fn the_cursor_stays_on_screen_when_paging_a_long_list() {
        let mut s = test_data::state_with(80, 24, test_data::snapshot_with_events(500));
        s.tab = tab_of("events");
        press(&mut s, "g");
        assert_eq!((s.list().selected, s.list().offset), (0, 0));
        let page = screens::page_height(&s, s.tab);
        assert!(page > 5, "an 80x24 screen shows a useful page ({page})");
        code(&mut s, KeyCode::PageDown);
        assert_eq!(s.list().selected, page);
        assert!(s.list().offset <= s.list().selected && s.list().selected < s.list().offset + page);
        update(&mut s, Msg::Resize(80, 12));
        let small = screens::page_height(&s, s.tab);
        assert!(
            s.list().offset <= s.list().selected && s.list().selected < s.list().offset + small
        );
    }

    #[test]
    fn filter_narrows_the_list_and_esc_clears_it() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("approvals");
        let all = s.list().rows.len();
        press(&mut s, "/");
        assert!(s.editing_filter);
        press(&mut s, "COASTAL");
        assert_eq!(s.list().filter, "COASTAL");
        assert_eq!(
            s.list().rows.len(),
            1,
            "case-insensitive match on the title"
        );
        // While typing, letters are text, not commands.
        assert!(press(&mut s, "q").is_empty());
        code(&mut s, KeyCode::Backspace);
        code(&mut s, KeyCode::Enter);
        assert!(!s.editing_filter);
        assert_eq!(s.list().filter, "COASTAL");
        code(&mut s, KeyCode::Esc);
        assert_eq!(s.list().filter, "");
        assert_eq!(s.list().rows.len(), all);
        press(&mut s, "/zzz-nothing");
        assert_eq!(s.list().rows.len(), 0);
        code(&mut s, KeyCode::Esc);
        assert!(!s.editing_filter);
        assert_eq!(s.list().rows.len(), all);
    }

    #[test]
    fn filters_are_per_screen() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("events");
        press(&mut s, "/approval");
        code(&mut s, KeyCode::Enter);
        let events_rows = s.list().rows.len();
        assert!(events_rows > 0 && events_rows < log(&s.snapshot).len());
        press(&mut s, "2");
        assert_eq!(s.list().filter, "");
        press(&mut s, &(tab_of("events") + 1).to_string());
        assert_eq!(s.list().rows.len(), events_rows);
    }

    #[test]
    fn help_opens_and_closes() {
        let mut s = test_data::state(100, 30);
        press(&mut s, "?");
        assert_eq!(s.overlay, Some(Overlay::Help { scroll: 0 }));
        assert!(press(&mut s, "x").is_empty());
        assert_eq!(
            s.overlay,
            Some(Overlay::Help { scroll: 0 }),
            "other keys keep it open"
        );
        code(&mut s, KeyCode::Esc);
        assert_eq!(s.overlay, None);
        assert_eq!(press(&mut s, "q"), vec![Action::Quit]);
    }

    #[test]
    fn ctrl_c_quits_from_anywhere() {
        let mut s = test_data::state(100, 30);
        press(&mut s, "/");
        let quit = update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        );
        assert_eq!(quit, Some(Action::Quit));
    }

    #[test]
    fn approve_asks_for_confirmation_then_acts() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("approvals");
        let row = s.list().current().unwrap_or_else(|| panic!("a row"));
        let req = approvals(&s.snapshot)[row].request.clone();
        press(&mut s, "a");
        assert!(matches!(s.overlay, Some(Overlay::Confirm { .. })));
        assert!(press(&mut s, "x").is_empty(), "stray keys do nothing");
        let acted = press(&mut s, "y");
        assert_eq!(
            acted,
            vec![Action::Decide(DecideCmd {
                request_id: req.id,
                version: req.subject_version,
                title: req.title.clone(),
                decision: Decision::Approve,
                comment: String::new(),
            })]
        );
        assert!(s.busy.is_some());
        update(
            &mut s,
            Msg::Done(Err("not allowed, because reasons".into())),
        );
        assert!(s.busy.is_none());
        assert!(
            matches!(&s.overlay, Some(Overlay::Error { message, .. }) if message.contains("reasons")),
            "core's refusal is shown in a modal"
        );
        code(&mut s, KeyCode::Esc);
        assert_eq!(s.overlay, None);
    }

    #[test]
    fn declining_the_confirmation_does_nothing() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("approvals");
        press(&mut s, "a");
        assert!(press(&mut s, "n").is_empty());
        assert_eq!(s.overlay, None);
        assert!(s.busy.is_none());
    }

    #[test]
    fn request_changes_needs_a_comment_and_a_confirmation() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("approvals");
        press(&mut s, "c");
        assert!(matches!(s.overlay, Some(Overlay::Prompt { .. })));
        code(&mut s, KeyCode::Enter);
        assert!(
            matches!(&s.overlay, Some(Overlay::Prompt { hint: Some(_), .. })),
            "an empty comment is not submitted"
        );
        press(&mut s, "crop is off");
        code(&mut s, KeyCode::Enter);
        let Some(Overlay::Confirm { lines, .. }) = &s.overlay else {
            panic!("expected a confirmation, got {:?}", s.overlay);
        };
        assert!(lines.iter().any(|l| l.contains("crop is off")));
        let acted = press(&mut s, "y");
        assert!(matches!(
            acted.as_slice(),
            [Action::Decide(DecideCmd { decision: Decision::RequestChanges, comment, .. })] if comment == "crop is off"
        ));
    }

    #[test]
    fn detail_opens_on_enter_and_follows_the_cursor() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("approvals");
        code(&mut s, KeyCode::Enter);
        let first = approvals(&s.snapshot)[s.list().rows[0]].request.id;
        assert_eq!(
            s.overlay,
            Some(Overlay::Detail {
                screen: s.tab,
                id: first
            })
        );
        press(&mut s, "j");
        let second = approvals(&s.snapshot)[s.list().rows[1]].request.id;
        assert_eq!(
            s.overlay,
            Some(Overlay::Detail {
                screen: s.tab,
                id: second
            })
        );
        press(&mut s, "a");
        assert!(
            matches!(s.overlay, Some(Overlay::Confirm { ref title, .. }) if title.contains(&second.to_string()))
        );
    }

    #[test]
    fn the_event_log_follows_new_events_until_the_cursor_moves_up() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("events");
        let last = s.list().rows.len() - 1;
        assert_eq!(s.list().selected, last, "follows from the start");
        let mut more = s.snapshot.clone();
        more.update(|l: &mut Log| {
            l.events
                .push(test_data::event(999, "crisis", "declared", now()))
        });
        update(&mut s, Msg::Loaded(Box::new(more.clone())));
        assert_eq!(s.list().selected, last + 1, "moved to the new event");
        press(&mut s, "k");
        assert!(!s.list().follow);
        let held = s.list().current();
        more.update(|l: &mut Log| {
            l.events
                .push(test_data::event(1000, "crisis", "triaged", now()))
        });
        update(&mut s, Msg::Loaded(Box::new(more)));
        assert_eq!(s.list().current(), held, "the cursor stays on its event");
        press(&mut s, "f");
        assert!(s.list().follow);
        assert_eq!(s.list().selected, s.list().rows.len() - 1);
    }

    #[test]
    fn the_cursor_keeps_its_row_when_rows_before_it_vanish() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("approvals");
        press(&mut s, "jj");
        let id = approvals(&s.snapshot)[s.list().current().unwrap_or(0)]
            .request
            .id;
        let mut next = s.snapshot.clone();
        next.update(|p: &mut Pending| {
            p.rows.remove(0);
        });
        update(&mut s, Msg::Loaded(Box::new(next)));
        let now_id = approvals(&s.snapshot)[s.list().current().unwrap_or(0)]
            .request
            .id;
        assert_eq!(now_id, id);
        assert_eq!(s.list().selected, 1);
    }

    #[test]
    fn database_outage_is_remembered_from_its_start_and_cleared_by_data() {
        let mut s = test_data::state(100, 30);
        let t0 = now();
        let down = |at: i64, retry: i64| Msg::DbDown {
            error: "refused".into(),
            at: t0 + TimeDelta::seconds(at),
            retry_at: t0 + TimeDelta::seconds(retry),
        };
        update(&mut s, down(0, 1));
        update(&mut s, Msg::Tick(t0 + TimeDelta::seconds(5)));
        update(&mut s, down(5, 9));
        assert!(matches!(s.db, DbHealth::Down { since, .. } if since == t0));
        let snap = s.snapshot.clone();
        update(&mut s, Msg::Loaded(Box::new(snap)));
        assert_eq!(s.db, DbHealth::Up);
    }

    #[test]
    fn esc_then_a_quick_key_is_both() {
        let mut s = test_data::state(100, 30);
        press(&mut s, "?");
        let alt_g = KeyEvent::new(KeyCode::Char('2'), KeyModifiers::ALT);
        update(&mut s, Msg::Key(alt_g));
        assert_eq!(s.overlay, None, "Esc closed the help");
        assert_eq!(s.screen().id(), "crisis", "and 2 switched screens");
    }

    fn incident_on_cursor(s: &AppState) -> (i64, String) {
        let row = s.list().current().unwrap_or_else(|| panic!("a row"));
        let inc = &incidents(&s.snapshot)[row].incident;
        (inc.id, inc.title.clone())
    }

    #[test]
    fn acknowledge_acts_at_once_without_confirmation() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("crisis");
        let (id, title) = incident_on_cursor(&s);
        let acted = press(&mut s, "a");
        assert_eq!(
            acted,
            vec![Action::Crisis(CrisisCmd {
                id,
                title,
                op: CrisisOp::Acknowledge
            })]
        );
        assert_eq!(
            s.overlay, None,
            "no confirmation for a safe, idempotent act"
        );
        assert!(
            s.busy
                .as_deref()
                .is_some_and(|b| b.contains("acknowledging #12"))
        );
        // One command at a time.
        assert!(press(&mut s, "a").is_empty());
        assert!(
            s.flash
                .as_ref()
                .is_some_and(|f| f.error && f.text.contains("wait"))
        );
        update(
            &mut s,
            Msg::Done(Ok(
                "incident #12 was already acknowledged by @kai at 2026-11-26 06:00:00 UTC".into(),
            )),
        );
        assert!(s.busy.is_none());
        assert!(
            s.flash
                .as_ref()
                .is_some_and(|f| !f.error && f.text.contains("already acknowledged by @kai")),
            "who was first is shown"
        );
    }

    #[test]
    fn resolve_needs_a_note_and_a_confirmation() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("crisis");
        press(&mut s, "jj");
        let (id, _) = incident_on_cursor(&s);
        press(&mut s, "R");
        assert!(
            matches!(&s.overlay, Some(Overlay::Prompt { title, .. }) if title.contains(&id.to_string()))
        );
        code(&mut s, KeyCode::Enter);
        assert!(
            matches!(&s.overlay, Some(Overlay::Prompt { hint: Some(_), .. })),
            "core requires a note: an empty one is not sent"
        );
        press(&mut s, "rolled back");
        code(&mut s, KeyCode::Enter);
        let Some(Overlay::Confirm { lines, .. }) = &s.overlay else {
            panic!("expected a confirmation, got {:?}", s.overlay);
        };
        assert!(lines.iter().any(|l| l.contains("Note: rolled back")));
        assert!(lines.iter().any(|l| l.contains("@olu")));
        let acted = press(&mut s, "y");
        assert!(matches!(
            acted.as_slice(),
            [Action::Crisis(CrisisCmd { id: got, op: CrisisOp::Resolve { note }, .. })]
                if *got == id && note == "rolled back"
        ));
    }

    #[test]
    fn escalate_asks_first_and_can_be_declined() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("crisis");
        let (id, _) = incident_on_cursor(&s);
        press(&mut s, "e");
        assert!(
            matches!(&s.overlay, Some(Overlay::Confirm { title, .. }) if title.contains("Escalate"))
        );
        assert!(press(&mut s, "n").is_empty());
        assert_eq!(s.overlay, None);
        press(&mut s, "e");
        let acted = press(&mut s, "y");
        assert!(matches!(
            acted.as_slice(),
            [Action::Crisis(CrisisCmd { id: got, op: CrisisOp::Escalate, .. })] if *got == id
        ));
    }

    #[test]
    fn crisis_keys_do_nothing_elsewhere() {
        let mut s = test_data::state(100, 30);
        for id in ["content", "experiments", "events", "overview"] {
            s.tab = tab_of(id);
            assert!(press(&mut s, "aRe").is_empty(), "{id}");
            assert_eq!(s.overlay, None, "{id}");
        }
    }

    #[test]
    fn an_incident_detail_is_read_through_core_and_kept_fresh() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("crisis");
        let (first, _) = incident_on_cursor(&s);
        assert_eq!(
            code(&mut s, KeyCode::Enter),
            Some(Action::LoadIncident(first))
        );
        assert!(s.busy.is_none(), "reading is not a command");
        assert_eq!(
            s.overlay,
            Some(Overlay::Detail {
                screen: s.tab,
                id: first
            })
        );
        update(
            &mut s,
            Msg::IncidentLoaded(test_data::incident_detail(first)),
        );
        assert_eq!(s.incident.as_ref().map(|f| f.id), Some(first));
        // New data while it is open: read it again (the timeline grows).
        let snap = s.snapshot.clone();
        assert_eq!(
            update(&mut s, Msg::Loaded(Box::new(snap))),
            Some(Action::LoadIncident(first))
        );
        // Walking to the next incident reads that one; a late answer for
        // the first is dropped.
        let acted = press(&mut s, "j");
        let (second, _) = incident_on_cursor(&s);
        assert_eq!(acted, vec![Action::LoadIncident(second)]);
        update(
            &mut s,
            Msg::IncidentLoaded(test_data::incident_detail(first)),
        );
        assert_ne!(s.incident.as_ref().map(|f| f.id), Some(second));
        // Keys act on the incident the detail shows.
        let acted = press(&mut s, "a");
        assert!(matches!(
            acted.as_slice(),
            [Action::Crisis(CrisisCmd { id, op: CrisisOp::Acknowledge, .. })] if *id == second
        ));
        // Once closed, data arriving reads nothing.
        update(&mut s, Msg::Done(Ok("ok".into())));
        code(&mut s, KeyCode::Esc);
        let snap = s.snapshot.clone();
        assert_eq!(update(&mut s, Msg::Loaded(Box::new(snap))), None);
    }

    #[test]
    fn other_details_read_nothing() {
        let mut s = test_data::state(100, 30);
        for id in ["content", "experiments"] {
            s.tab = tab_of(id);
            assert_eq!(code(&mut s, KeyCode::Enter), None, "{id}");
            assert!(matches!(s.overlay, Some(Overlay::Detail { .. })), "{id}");
            code(&mut s, KeyCode::Esc);
        }
    }

    #[test]
    fn an_approval_detail_reads_the_text_under_review() {
        let mut s = test_data::state(100, 30);
        s.tab = tab_of("approvals");
        let acted = code(&mut s, KeyCode::Enter);
        let Some(Overlay::Detail { id, .. }) = s.overlay else {
            panic!("no detail open");
        };
        assert_eq!(acted, Some(Action::LoadReview(id)));
        // Walking to the next request reads its text and starts at the top.
        s.detail_scroll = 3;
        let next = code(&mut s, KeyCode::Char('j'));
        assert!(
            matches!(next, Some(Action::LoadReview(n)) if n != id),
            "{next:?}"
        );
        assert_eq!(s.detail_scroll, 0);
    }

    #[test]
    fn the_help_scrolls_within_its_text() {
        let mut s = test_data::state(80, 12);
        press(&mut s, "?");
        press(&mut s, "jjj");
        assert_eq!(s.overlay, Some(Overlay::Help { scroll: 3 }));
        press(&mut s, &"j".repeat(100));
        let Some(Overlay::Help { scroll }) = s.overlay else {
            panic!("the help closed");
        };
        assert_eq!(scroll, help_overflow(&s), "stops at the end");
        press(&mut s, "k");
        assert_eq!(s.overlay, Some(Overlay::Help { scroll: scroll - 1 }));
    }

    #[test]
    fn a_status_message_fades() {
        let mut s = test_data::state(100, 30);
        update(&mut s, Msg::Done(Ok("approved #3".into())));
        assert!(s.flash.is_some());
        update(&mut s, Msg::Tick(now() + TimeDelta::seconds(10)));
        assert!(s.flash.is_none());
    }
}
