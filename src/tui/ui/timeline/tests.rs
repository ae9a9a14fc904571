//! Snapshots of the timeline overlay, 100 × 20, times relative to a fixed `t(0)` in UTC.

use super::draw;
use crate::engine::model::{Action, Outcome};
use crate::timeline::Timeline;
use crate::tui::timeline_view::tests::{Runs, failed, t};
use crate::tui::timeline_view::{Cursor, TimelineKey, TimelineView};
use chrono::FixedOffset;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

const WIDTH: u16 = 100;
const HEIGHT: u16 = 20;
const NOW: i64 = 300;

fn view(keys: &[TimelineKey], timeline: &Timeline) -> TimelineView {
    let mut view = TimelineView::new(FixedOffset::east_opt(0).unwrap());
    for key in keys {
        view.handle(*key, timeline, t(NOW), WIDTH);
    }
    view
}

fn render(view: &TimelineView, timeline: &Timeline) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    terminal
        .draw(|frame| draw(frame, frame.area(), view, timeline, t(NOW)))
        .unwrap();
    terminal
}

/// Four workers, every outcome: ok, failed, unreachable, timed out, cancelled, a 2 s run, and
/// two still running at 300 s.
fn every_outcome() -> Timeline {
    let unreachable = Outcome::Unreachable {
        message: "ssh: connect to host db-02 port 22: No route to host".into(),
    };
    let timed_out = Outcome::TimedOut {
        during_task: Some("wait for port".into()),
    };
    let cancelled = Outcome::Cancelled { during_task: None };
    Runs::default()
        .session(0, 4)
        .run(
            "web-01",
            Action::Deploy,
            1,
            0,
            Some((60, Outcome::Succeeded)),
        )
        .run(
            "web-04",
            Action::Deploy,
            1,
            70,
            Some((150, failed("restart app"))),
        )
        .run("web-06", Action::Deploy, 1, 160, None)
        .run("web-02", Action::Deploy, 2, 10, Some((100, unreachable)))
        .run(
            "db-01",
            Action::Provision,
            2,
            110,
            Some((200, Outcome::Succeeded)),
        )
        .run("db-02", Action::Provision, 2, 210, Some((290, timed_out)))
        .run("web-03", Action::Check, 3, 5, Some((50, cancelled)))
        .run(
            "lb-01",
            Action::Check,
            3,
            60,
            Some((62, Outcome::Succeeded)),
        )
        .run("web-05", Action::Check, 3, 120, None)
        .run(
            "db-03",
            Action::Deploy,
            4,
            30,
            Some((280, Outcome::Succeeded)),
        )
        .timeline
}

#[test]
fn every_outcome_with_now_marked() {
    let timeline = every_outcome();
    let view = view(&[TimelineKey::ZoomIn], &timeline);
    let terminal = render(&view, &timeline);
    insta::assert_snapshot!("timeline_outcomes", terminal.backend());
    // Colours by outcome: web-04 failed (red), web-06 runs (cyan), db-03 ok (green).
    let buffer = terminal.backend().buffer();
    let bg_of = |name: &str| {
        let (x, y) = find(buffer, name);
        buffer[(x, y)].bg
    };
    assert_eq!(hue(bg_of("web-04")), Color::Red);
    assert_eq!(hue(bg_of("web-06")), Color::Cyan);
    assert_eq!(hue(bg_of("db-03")), Color::Green);
}

#[test]
fn a_resize_shows_lanes_appear_and_drain() {
    let timeline = Runs::default()
        .session(0, 2)
        .resize(60, 4)
        .resize(180, 2)
        .run(
            "web-01",
            Action::Deploy,
            1,
            0,
            Some((120, Outcome::Succeeded)),
        )
        .run(
            "web-02",
            Action::Deploy,
            2,
            0,
            Some((250, Outcome::Succeeded)),
        )
        .run(
            "web-03",
            Action::Deploy,
            3,
            60,
            Some((150, Outcome::Succeeded)),
        )
        // Slot 4 finishes its run after the pool shrank: it drains, then goes away.
        .run(
            "web-04",
            Action::Deploy,
            4,
            65,
            Some((230, Outcome::Succeeded)),
        )
        .run("web-05", Action::Deploy, 1, 125, None)
        .timeline;
    let view = view(&[TimelineKey::ZoomIn], &timeline);
    insta::assert_snapshot!("timeline_resize", render(&view, &timeline).backend());
}

#[test]
fn zoomed_in_and_out() {
    let timeline = every_outcome();
    let fine = view(&[TimelineKey::ZoomIn; 3], &timeline);
    insta::assert_snapshot!("timeline_zoom_1s", render(&fine, &timeline).backend());
    let coarse = view(&[TimelineKey::ZoomOut], &timeline);
    insta::assert_snapshot!("timeline_zoom_30s", render(&coarse, &timeline).backend());
}

#[test]
fn the_cursor_bar_is_highlighted_and_described() {
    let timeline = every_outcome();
    let view = view(
        &[TimelineKey::ZoomIn, TimelineKey::Home, TimelineKey::Right],
        &timeline,
    );
    let terminal = render(&view, &timeline);
    insta::assert_snapshot!("timeline_cursor_failed", terminal.backend());
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "web-04");
    assert!(buffer[(x, y)].modifier.contains(Modifier::REVERSED));
    let (x, y) = find(buffer, "web-01");
    assert!(!buffer[(x, y)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn an_empty_timeline_says_nothing_ran() {
    let timeline = Runs::default().session(0, 2).timeline;
    let view = view(&[], &timeline);
    insta::assert_snapshot!("timeline_empty", render(&view, &timeline).backend());
}

#[test]
fn more_lanes_than_rows_scroll_with_the_cursor() {
    let mut runs = Runs::default().session(0, 30);
    for lane in 1..=30u32 {
        let start = i64::from(lane) * 5;
        let server = format!("s{lane:02}");
        runs = runs.run(
            &server,
            Action::Check,
            lane,
            start,
            Some((start + 60, Outcome::Succeeded)),
        );
    }
    let timeline = runs.timeline;
    let view = view(&[TimelineKey::End], &timeline);
    let terminal = render(&view, &timeline);
    insta::assert_snapshot!("timeline_many_lanes", terminal.backend());
}

/// Where `text` starts on screen.
fn find(buffer: &ratatui::buffer::Buffer, text: &str) -> (u16, u16) {
    let area = buffer.area;
    for y in 0..area.height {
        let line: String = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
        if let Some(byte) = line.find(text) {
            let x = line[..byte].chars().count() as u16;
            return (x, y);
        }
    }
    panic!("{text:?} is not on screen");
}

#[test]
fn zoomed_out_a_failure_is_not_hidden_by_the_runs_sharing_its_cell() {
    // Ten 2 s runs in one 30 s column; the third failed.
    let mut runs = Runs::default().session(0, 1);
    for n in 0..10 {
        let outcome = if n == 2 {
            failed("restart app")
        } else {
            Outcome::Succeeded
        };
        runs = runs.run(
            &format!("web-{n:02}"),
            Action::Check,
            1,
            182 + n * 2,
            Some((183 + n * 2, outcome)),
        );
    }
    let timeline = runs.timeline;
    let view = view(&[TimelineKey::ZoomOut], &timeline);
    assert_eq!(view.seconds_per_column(), 30);
    let terminal = render(&view, &timeline);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "✗");
    assert_eq!(y, 2, "in w1's row");
    assert_eq!(hue(buffer[(x, y)].bg), Color::Red);
    assert!(!buffer.content.iter().any(|cell| cell.symbol() == "✓"));
}

#[test]
fn scrolled_back_the_title_gives_the_stretch_of_time_shown() {
    let timeline = every_outcome();
    let view = view(&[TimelineKey::Earlier], &timeline);
    let terminal = render(&view, &timeline);
    let top: String = (0..WIDTH)
        .map(|x| terminal.backend().buffer()[(x, 0)].symbol().to_string())
        .collect();
    // Half a screen (46 columns of 10 s) back from 08:05:00: the last column is 07:57:20–30,
    // the first of 93 starts 15:30 earlier.
    assert!(
        top.contains(" Timeline · 10 s/col · 07:42:00–07:57:30 "),
        "{top}"
    );
}

#[test]
fn zoomed_out_a_cell_shows_the_cursor_else_its_last_failure_else_its_latest_run() {
    // At 30 s a column: ten 1 s runs in 180–210 (the third failed, the seventh was
    // unreachable), then five that all went well in 210–240.
    let mut runs = Runs::default().session(0, 1);
    for n in 0..15 {
        let outcome = match n {
            2 => failed("restart app"),
            6 => Outcome::Unreachable {
                message: "no route to host".into(),
            },
            _ => Outcome::Succeeded,
        };
        let start = if n < 10 {
            182 + n * 2
        } else {
            212 + (n - 10) * 5
        };
        runs = runs.run(
            &format!("web-{n:02}"),
            Action::Check,
            1,
            start,
            Some((start + 1, outcome)),
        );
    }
    let timeline = runs.timeline;
    let mut view = view(&[TimelineKey::ZoomOut], &timeline);
    assert_eq!(view.seconds_per_column(), 30);
    let terminal = render(&view, &timeline);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "!");
    assert_eq!(y, 2, "in w1's row");
    assert_eq!(
        buffer[(x, y)].bg,
        Color::Yellow,
        "the later of the two that went wrong"
    );
    assert_eq!(
        buffer[(x + 1, y)].symbol(),
        "✓",
        "the next cell's latest run"
    );
    assert_eq!(buffer[(x + 1, y)].bg, Color::Green);
    assert!(!buffer.content.iter().any(|cell| cell.symbol() == "✗"));

    // The chosen bar outranks the failures sharing its cell.
    view.cursor = Some(Cursor {
        lane: 1,
        id: 5,
        start: t(190),
    });
    let terminal = render(&view, &timeline);
    let buffer = terminal.backend().buffer();
    assert_eq!(buffer[(x, y)].symbol(), "✓");
    assert!(buffer[(x, y)].modifier.contains(Modifier::REVERSED));
    assert!(!buffer.content.iter().any(|cell| cell.symbol() == "!"));
}

#[test]
fn a_failure_keeps_its_cell_when_the_next_bar_starts_in_it() {
    // At 10 s a column: a 2 s failure, then a long success starting in the same column.
    let timeline = Runs::default()
        .session(0, 1)
        .run(
            "db-02",
            Action::Deploy,
            1,
            181,
            Some((183, failed("checksum"))),
        )
        .run(
            "web-01",
            Action::Provision,
            1,
            184,
            Some((260, Outcome::Succeeded)),
        )
        .timeline;
    let view = view(&[], &timeline);
    assert_eq!(view.seconds_per_column(), 10);
    let terminal = render(&view, &timeline);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "✗");
    assert_eq!(y, 2, "in w1's row");
    assert_eq!(hue(buffer[(x, y)].bg), Color::Red);
    // The success follows it, named.
    let (name_x, name_y) = find(buffer, "web-01");
    assert_eq!(name_y, y);
    assert!(name_x > x);
}

/// An outcome's colour whichever of its two shades a bar has.
fn hue(colour: Color) -> Color {
    match colour {
        Color::LightRed => Color::Red,
        Color::LightGreen => Color::Green,
        Color::LightCyan => Color::Cyan,
        Color::LightYellow => Color::Yellow,
        Color::LightMagenta => Color::Magenta,
        Color::LightBlue => Color::Blue,
        Color::White => Color::Gray,
        other => other,
    }
}

#[test]
fn runs_back_to_back_with_the_same_outcome_read_as_two_bars() {
    let timeline = Runs::default()
        .session(0, 1)
        .run(
            "web-01",
            Action::Check,
            1,
            200,
            Some((240, Outcome::Succeeded)),
        )
        .run(
            "web-02",
            Action::Check,
            1,
            240,
            Some((280, Outcome::Succeeded)),
        )
        .timeline;
    let view = view(&[TimelineKey::ZoomIn], &timeline);
    let terminal = render(&view, &timeline);
    let buffer = terminal.backend().buffer();
    let bg_of = |name: &str| {
        let (x, y) = find(buffer, name);
        buffer[(x, y)].bg
    };
    assert_eq!(hue(bg_of("web-01")), Color::Green);
    assert_eq!(hue(bg_of("web-02")), Color::Green);
    assert_ne!(bg_of("web-01"), bg_of("web-02"));
}
