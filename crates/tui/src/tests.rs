//! Rendering tests: fixed data drawn with `view` into a `TestBackend`,
//! compared with reviewed snapshots (`cargo insta review` after a change).

use chrono::TimeDelta;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::style::Color;

use crate::app::{AppState, Msg, update};
use crate::screens;
use crate::test_data::{self, key, now};
use crate::view::view;

fn draw(state: &AppState) -> Terminal<TestBackend> {
    let backend = TestBackend::new(state.size.width, state.size.height);
    let mut terminal = Terminal::new(backend).unwrap_or_else(|e| panic!("{e}"));
    terminal
        .draw(|f| view(state, f))
        .unwrap_or_else(|e| panic!("{e}"));
    terminal
}

fn render(state: &AppState) -> String {
    draw(state).backend().to_string()
}

fn on(mut state: AppState, id: &str) -> AppState {
    state.tab = screens::position(id).unwrap_or_else(|| panic!("no {id} screen"));
    state
}

fn keys(state: &mut AppState, codes: &[KeyCode]) {
    for c in codes {
        update(state, Msg::Key(key(*c)));
    }
}

#[test]
fn overview() {
    insta::assert_snapshot!(render(&test_data::state(100, 30)));
}

#[test]
fn overview_80x24() {
    insta::assert_snapshot!(render(&test_data::state(80, 24)));
}

#[test]
fn approvals() {
    insta::assert_snapshot!(render(&on(test_data::state(100, 30), "approvals")));
}

#[test]
fn approvals_80x24() {
    insta::assert_snapshot!(render(&on(test_data::state(80, 24), "approvals")));
}

#[test]
fn approval_detail() {
    let mut s = on(test_data::state(100, 30), "approvals");
    keys(&mut s, &[KeyCode::Char('j'), KeyCode::Enter]);
    insta::assert_snapshot!(render(&s));
}

#[test]
fn approve_confirmation() {
    let mut s = on(test_data::state(80, 24), "approvals");
    keys(
        &mut s,
        &[KeyCode::Char('j'), KeyCode::Char('j'), KeyCode::Char('a')],
    );
    insta::assert_snapshot!(render(&s));
}

#[test]
fn request_changes_prompt() {
    let mut s = on(test_data::state(80, 24), "approvals");
    keys(&mut s, &[KeyCode::Char('c')]);
    for c in "needs the SLA appendix".chars() {
        keys(&mut s, &[KeyCode::Char(c)]);
    }
    insta::assert_snapshot!(render(&s));
}

#[test]
fn error_from_core() {
    let mut s = on(test_data::state(80, 24), "approvals");
    update(
        &mut s,
        Msg::Done(Err(
            "Olu Bankole (@olu) may not decide \"Q4 paid social budget shift\": it needs one of these roles: business_manager".into(),
        )),
    );
    insta::assert_snapshot!(render(&s));
}

#[test]
fn events() {
    insta::assert_snapshot!(render(&on(test_data::state(120, 30), "events")));
}

#[test]
fn events_80x24_filtered() {
    let mut s = on(test_data::state(80, 24), "events");
    keys(&mut s, &[KeyCode::Char('/')]);
    for c in "escalat".chars() {
        keys(&mut s, &[KeyCode::Char(c)]);
    }
    insta::assert_snapshot!(render(&s));
}

#[test]
fn event_detail() {
    let mut s = on(test_data::state(100, 30), "events");
    keys(&mut s, &[KeyCode::Char('k'), KeyCode::Enter]);
    insta::assert_snapshot!(render(&s));
}

#[test]
fn help_80x24() {
    let mut s = test_data::state(80, 24);
    keys(&mut s, &[KeyCode::Char('?')]);
    insta::assert_snapshot!(render(&s));
}

#[test]
fn database_down_banner() {
    let mut s = on(test_data::state(100, 30), "approvals");
    update(
        &mut s,
        Msg::DbDown {
            error: "database: error communicating with database: Connection refused (os error 111)"
                .into(),
            at: now() - TimeDelta::seconds(3),
            retry_at: now() + TimeDelta::seconds(4),
        },
    );
    insta::assert_snapshot!(render(&s));
}

#[test]
fn database_down_before_any_data() {
    let mut s = AppState::new("olu", now(), ratatui::layout::Size::new(80, 24));
    update(
        &mut s,
        Msg::DbDown {
            error: "cannot reach the database at postgres://vivid@127.0.0.1:5432/vividwalls".into(),
            at: now(),
            retry_at: now() + TimeDelta::seconds(2),
        },
    );
    insta::assert_snapshot!(render(&s));
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10), (80, 24), (300, 80)] {
        for id in ["overview", "approvals", "events"] {
            let mut s = on(test_data::state(w, h), id);
            render(&s);
            keys(&mut s, &[KeyCode::Enter]);
            render(&s);
            keys(&mut s, &[KeyCode::Esc, KeyCode::Char('?')]);
            render(&s);
        }
    }
}

#[test]
fn overdue_deadlines_are_red_and_close_ones_yellow() {
    let s = on(test_data::state(100, 30), "approvals");
    let terminal = draw(&s);
    let buffer = terminal.backend().buffer();
    let find = |text: &str| {
        (0..buffer.area.height).find_map(|y| {
            let line: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            line.find(text).map(|byte| {
                let col = line[..byte].chars().count();
                (u16::try_from(col).unwrap_or(0), y)
            })
        })
    };
    let (x, y) = find("overdue 25m").unwrap_or_else(|| panic!("no overdue deadline drawn"));
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let (x, y) = find("in 3h 00m").unwrap_or_else(|| panic!("no close deadline drawn"));
    assert_eq!(buffer[(x, y)].fg, Color::Yellow);
    let (x, y) = find("in 1d 6h").unwrap_or_else(|| panic!("no distant deadline drawn"));
    assert_eq!(buffer[(x, y)].fg, Color::Reset);
}

#[test]
fn countdowns_tick() {
    let mut s = on(test_data::state(100, 30), "approvals");
    assert!(render(&s).contains("in 2h 13m"));
    update(&mut s, Msg::Tick(now() + TimeDelta::minutes(14)));
    assert!(render(&s).contains("in 1h 59m"));
}
