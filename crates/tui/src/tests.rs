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

/// The detail of the selected approval with its text read through core.
fn approval_detail_with_review() -> AppState {
    let mut s = on(test_data::state(100, 30), "approvals");
    keys(&mut s, &[KeyCode::Char('j'), KeyCode::Enter]);
    let Some(crate::app::Overlay::Detail { id, .. }) = s.overlay.clone() else {
        panic!("no detail open: {:?}", s.overlay);
    };
    let body: String = (1..=30)
        .map(|i| format!("Paragraph {i} of the spring newsletter.\n"))
        .collect::<String>()
        + "Shop the \u{1b}[31mcoastal\u{7} collection.\n";
    let review = vivid_core::workflow::ReviewText {
        version: 3,
        body,
        base_version: Some(2),
        diff: "--- v2 (lena)\n+++ v3 (lena)\n@@ -1,2 +1,2 @@\n-Spring sale: 10% off\n+Spring sale: 20% off\n Paragraph 2\n".into(),
    };
    update(
        &mut s,
        Msg::ReviewLoaded(crate::app::Fetched {
            id,
            result: Ok(Box::new(Some(review))),
        }),
    );
    s
}

#[test]
fn approval_detail_shows_the_text_under_review_and_scrolls_to_the_diff() {
    let mut s = approval_detail_with_review();
    let top = render(&s);
    assert!(top.contains("Text of version 3"), "{top}");
    assert!(top.contains("PgDn ↓ more"), "{top}");
    // Stored escape sequences are shown, never sent to the terminal.
    keys(&mut s, &[KeyCode::PageDown, KeyCode::PageDown]);
    let scrolled = render(&s);
    assert!(!scrolled.contains('\u{1b}'), "{scrolled}");
    assert!(scrolled.contains("\\x1b[31mcoastal\\x07"), "{scrolled}");
    assert!(scrolled.contains("Changes since version 2"), "{scrolled}");
    assert!(scrolled.contains("+Spring sale: 20% off"), "{scrolled}");
    insta::assert_snapshot!(scrolled);
    keys(&mut s, &[KeyCode::PageUp, KeyCode::PageUp]);
    assert_eq!(render(&s), top, "PgUp scrolls back to the top");
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
fn crisis() {
    insta::assert_snapshot!(render(&on(test_data::state(100, 30), "crisis")));
}

#[test]
fn crisis_80x24() {
    insta::assert_snapshot!(render(&on(test_data::state(80, 24), "crisis")));
}

#[test]
fn crisis_120x30() {
    insta::assert_snapshot!(render(&on(test_data::state(120, 30), "crisis")));
}

#[test]
fn incident_detail_with_timeline() {
    let mut s = on(test_data::state(100, 30), "crisis");
    keys(&mut s, &[KeyCode::Enter]);
    update(&mut s, Msg::IncidentLoaded(test_data::incident_detail(12)));
    insta::assert_snapshot!(render(&s));
}

#[test]
fn incident_detail_while_reading() {
    let mut s = on(test_data::state(80, 24), "crisis");
    keys(&mut s, &[KeyCode::Enter]);
    insta::assert_snapshot!(render(&s));
}

#[test]
fn resolve_prompt_then_confirmation() {
    let mut s = on(test_data::state(80, 24), "crisis");
    keys(
        &mut s,
        &[KeyCode::Char('j'), KeyCode::Char('j'), KeyCode::Char('R')],
    );
    for c in "rolled back the gateway".chars() {
        keys(&mut s, &[KeyCode::Char(c)]);
    }
    let prompt = render(&s);
    keys(&mut s, &[KeyCode::Enter]);
    insta::assert_snapshot!(format!("{prompt}\n{}", render(&s)));
}

#[test]
fn already_acknowledged_is_said() {
    let mut s = on(test_data::state(80, 24), "crisis");
    update(
        &mut s,
        Msg::Done(Ok(
            "incident #11 was already acknowledged by @kai at 2026-11-26 03:52:35 UTC".into(),
        )),
    );
    let screen = render(&s);
    assert!(
        screen.contains("already acknowledged by @kai at 2026-11-26 03:52:35"),
        "{screen}"
    );
}

#[test]
fn content() {
    insta::assert_snapshot!(render(&on(test_data::state(100, 30), "content")));
}

#[test]
fn content_80x24() {
    insta::assert_snapshot!(render(&on(test_data::state(80, 24), "content")));
}

#[test]
fn content_detail() {
    let mut s = on(test_data::state(100, 30), "content");
    let row = s
        .list()
        .rows
        .iter()
        .position(|&r| crate::screens::content::items(&s.snapshot)[r].item.id == 20)
        .unwrap_or_else(|| panic!("no item #20"));
    for _ in 0..row {
        keys(&mut s, &[KeyCode::Char('j')]);
    }
    keys(&mut s, &[KeyCode::Enter]);
    insta::assert_snapshot!(render(&s));
}

#[test]
fn privacy() {
    insta::assert_snapshot!(render(&on(test_data::state(100, 30), "privacy")));
}

#[test]
fn privacy_80x24() {
    insta::assert_snapshot!(render(&on(test_data::state(80, 24), "privacy")));
}

#[test]
fn privacy_80x24_filtered() {
    let mut s = on(test_data::state(80, 24), "privacy");
    keys(&mut s, &[KeyCode::Char('/')]);
    for c in "breach".chars() {
        keys(&mut s, &[KeyCode::Char(c)]);
    }
    insta::assert_snapshot!(render(&s));
}

#[test]
fn privacy_clocks_are_red_when_overdue_and_yellow_within_three_days() {
    let t = draw(&on(test_data::state(100, 30), "privacy"));
    assert_eq!(
        colour_at(&t, "overdue 1d 2h"),
        Some(Color::Red),
        "request overdue"
    );
    assert_eq!(
        colour_at(&t, "in 2d 5h"),
        Some(Color::Yellow),
        "request within 3 days"
    );
    assert_eq!(
        colour_at(&t, "overdue 8h"),
        Some(Color::Red),
        "breach past 72h"
    );
}

#[test]
fn journey() {
    insta::assert_snapshot!(render(&on(test_data::state(100, 30), "journey")));
}

#[test]
fn journey_80x24() {
    insta::assert_snapshot!(render(&on(test_data::state(80, 24), "journey")));
}

#[test]
fn journey_handoff_detail() {
    let mut s = on(test_data::state(80, 24), "journey");
    keys(&mut s, &[KeyCode::Enter]);
    insta::assert_snapshot!(render(&s));
}

#[test]
fn a_breached_handoff_is_red() {
    let t = draw(&on(test_data::state(100, 30), "journey"));
    assert_eq!(colour_at(&t, "overdue 2h"), Some(Color::Red));
}

#[test]
fn collab() {
    insta::assert_snapshot!(render(&on(test_data::state(100, 30), "collab")));
}

#[test]
fn collab_80x24() {
    insta::assert_snapshot!(render(&on(test_data::state(80, 24), "collab")));
}

#[test]
fn a_breached_collab_handoff_is_red() {
    let t = draw(&on(test_data::state(100, 30), "collab"));
    assert_eq!(colour_at(&t, "overdue 1h"), Some(Color::Red));
}

#[test]
fn experiments() {
    insta::assert_snapshot!(render(&on(test_data::state(100, 30), "experiments")));
}

#[test]
fn experiments_80x24() {
    insta::assert_snapshot!(render(&on(test_data::state(80, 24), "experiments")));
}

#[test]
fn experiment_crossing_zero() {
    let mut s = on(test_data::state(100, 30), "experiments");
    keys(&mut s, &[KeyCode::Char('j')]);
    insta::assert_snapshot!(render(&s));
}

#[test]
fn experiment_crossing_zero_80x24() {
    let mut s = on(test_data::state(80, 24), "experiments");
    keys(&mut s, &[KeyCode::Char('j')]);
    insta::assert_snapshot!(render(&s));
}

#[test]
fn experiment_detail() {
    let mut s = on(test_data::state(100, 30), "experiments");
    keys(&mut s, &[KeyCode::Enter]);
    insta::assert_snapshot!(render(&s));
}

#[test]
fn every_screen_fits_80x24() {
    for screen in screens::all() {
        let s = on(test_data::state(80, 24), screen.id());
        let text = render(&s);
        let lines: Vec<&str> = text.lines().collect();
        // The tab bar, the screen and the key hints are all there.
        assert!(lines.iter().any(|l| l.contains("q quit")), "{text}");
        assert!(
            lines.first().is_some_and(|l| l.contains(screen.title())),
            "{text}"
        );
    }
}

/// The colour of the first cell showing `text`.
fn colour_at(terminal: &Terminal<TestBackend>, text: &str) -> Option<Color> {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height).find_map(|y| {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        line.find(text).map(|byte| {
            let x = u16::try_from(line[..byte].chars().count()).unwrap_or(0);
            buffer[(x, y)].fg
        })
    })
}

#[test]
fn severities_and_late_clocks_have_their_colours() {
    let s = on(test_data::state(100, 30), "crisis");
    let t = draw(&s);
    let buffer = t.backend().buffer();
    let row_of = |text: &str| {
        (0..buffer.area.height)
            .find(|&y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .contains(text)
            })
            .unwrap_or_else(|| panic!("{text} is not on the board"))
    };
    let sev = |text: &str| {
        let y = row_of(text);
        (0..buffer.area.width)
            .find(|&x| buffer[(x, y)].symbol() == "P")
            .map(|x| (buffer[(x, y)].fg, buffer[(x, y)].modifier))
            .unwrap_or_else(|| panic!("no severity on the row of {text}"))
    };
    use ratatui::style::Modifier;
    assert_eq!(sev("Checkout is down").0, Color::Red);
    assert_eq!(sev("Payment provider latency").0, Color::Yellow);
    assert_eq!(sev("Print queue backlog").0, Color::Reset);
    assert!(sev("Typo on the About page").1.contains(Modifier::DIM));
    // The P1 is 4m 12s past its acknowledgement deadline; the P2 is 12m 04s
    // over its triage time box: both red and negative.
    assert_eq!(colour_at(&t, "-04:12"), Some(Color::Red));
    assert_eq!(colour_at(&t, "-12:04"), Some(Color::Red));
    assert_eq!(colour_at(&t, "3:00:00"), Some(Color::Reset));
}

#[test]
fn clocks_count_down_each_second() {
    let mut s = on(test_data::state(100, 30), "crisis");
    assert!(render(&s).contains("-04:12"));
    update(&mut s, Msg::Tick(now() + TimeDelta::seconds(1)));
    let after = render(&s);
    assert!(after.contains("-04:13"), "{after}");
    assert!(after.contains("-12:05"), "{after}");
}

#[test]
fn overdue_reviews_are_red() {
    let s = on(test_data::state(100, 30), "content");
    let t = draw(&s);
    assert_eq!(colour_at(&t, "overdue 40m"), Some(Color::Red));
    assert_eq!(colour_at(&t, "in 3h 00m"), Some(Color::Yellow));
}

#[test]
fn the_pipeline_is_in_the_seeds_order() {
    let text = render(&on(test_data::state(100, 30), "content"));
    let at = |w: &str| {
        text.find(w)
            .unwrap_or_else(|| panic!("{w} missing: {text}"))
    };
    let order = [
        "Planning 2",
        "Creation 1",
        "Review 3",
        "Approved 1",
        "Published 1",
        "Performance 2",
        "Optimization 1",
        "Maintenance 1",
        "Archival 1",
    ];
    for pair in order.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{} before {}", pair[0], pair[1]);
    }
}

#[test]
fn srm_comes_first_in_red_and_bars_have_their_colours() {
    let s = on(test_data::state(100, 30), "experiments");
    let t = draw(&s);
    let text = t.backend().to_string();
    let srm = text.find("sample ratio mismatch").unwrap_or(usize::MAX);
    let bar = text.find('●').unwrap_or(0);
    assert!(srm < bar, "the SRM warning comes before the lifts: {text}");
    assert_eq!(colour_at(&t, "⚠"), Some(Color::Red));
    assert_eq!(colour_at(&t, "●"), Some(Color::Green), "above zero: green");

    let mut s = s;
    keys(&mut s, &[KeyCode::Char('j')]);
    let t = draw(&s);
    let text = t.backend().to_string();
    assert!(!text.contains("sample ratio mismatch"), "{text}");
    assert_eq!(
        colour_at(&t, "●"),
        Some(Color::DarkGray),
        "across zero: grey"
    );
    assert_eq!(colour_at(&t, "-5.2%"), Some(Color::Red), "below zero: red");
    assert!(text.contains("keep running:"), "{text}");
}

#[test]
fn help_lists_every_key_of_every_screen() {
    let lines: String = crate::view::help_lines()
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    for screen in screens::all() {
        for k in screen.keys() {
            assert!(lines.contains(k.what), "{} missing from the help", k.what);
        }
    }
    for what in ["acknowledge", "resolve", "page the next level"] {
        assert!(lines.contains(what), "{what}: {lines}");
    }
}

#[test]
fn the_help_scrolls_when_the_terminal_is_short() {
    let mut s = test_data::state(80, 14);
    keys(&mut s, &[KeyCode::Char('?')]);
    let top = render(&s);
    assert!(top.contains("more"), "{top}");
    for _ in 0..40 {
        keys(&mut s, &[KeyCode::Char('j')]);
    }
    let bottom = render(&s);
    assert!(bottom.contains("In dialogs"), "{bottom}");
}

#[test]
fn filters_work_on_the_new_lists() {
    for (id, filter, expect) in [
        ("crisis", "checkout", 1),
        ("crisis", "p2", 2),
        ("crisis", "@kai", 1),
        ("crisis", "triggered", 2),
        ("content", "e-mail", 3),
        ("content", "@lena", 8),
        ("experiments", "srm", 1),
        ("experiments", "purchase", 2),
    ] {
        let mut s = on(test_data::state(100, 30), id);
        keys(&mut s, &[KeyCode::Char('/')]);
        for c in filter.chars() {
            keys(&mut s, &[KeyCode::Char(c)]);
        }
        keys(&mut s, &[KeyCode::Enter]);
        assert_eq!(s.list().rows.len(), expect, "{id} /{filter}");
        assert!(render(&s).contains(&format!("filter: {filter}")));
    }
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10), (80, 24), (300, 80)] {
        for id in [
            "overview",
            "crisis",
            "approvals",
            "content",
            "experiments",
            "events",
        ] {
            let mut s = on(test_data::state(w, h), id);
            render(&s);
            keys(&mut s, &[KeyCode::Enter]);
            update(&mut s, Msg::IncidentLoaded(test_data::incident_detail(12)));
            render(&s);
            keys(&mut s, &[KeyCode::Esc, KeyCode::Char('?')]);
            render(&s);
            keys(&mut s, &[KeyCode::Esc]);
            update(&mut s, Msg::Resize(w.saturating_add(7), h / 2));
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

#[test]
fn vendors() {
    insta::assert_snapshot!(render(&on(test_data::state(100, 30), "vendors")));
}

#[test]
fn vendors_80x24() {
    insta::assert_snapshot!(render(&on(test_data::state(80, 24), "vendors")));
}
