//! The dashboard's log pane drawn into a `TestBackend` with real tui-logger records. A test
//! binary of its own: tui-logger's buffer is global, and the dashboard's snapshot tests expect
//! it empty.

use fleetdeck::tui::log_pane::{self, LogPane, PaneLook};
use log::Level;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Style;
use std::sync::Once;
use tui_logger::TuiWidgetEvent;

const LONG_ENGINE_LINE: &str = "Rollout paused: 3 of 12 servers failed deploy (25% > max_fail_percentage 20%); resume to go on";

/// A short session: four workers start and run, the engine says something long, then the
/// operator lowers the workers to 2 and workers 3 and 4 stop once their runs end.
fn log_a_session() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let lines = [
            ("engine", Level::Info, "Running in PARALLEL mode with 4 workers"),
            ("worker-1", Level::Info, "Worker 1 started"),
            ("worker-2", Level::Info, "Worker 2 started"),
            ("worker-3", Level::Info, "Worker 3 started"),
            ("worker-4", Level::Info, "Worker 4 started"),
            ("worker-1", Level::Info, "Worker 1 processing: deploy for server db-01 (active: 1/4)"),
            ("worker-3", Level::Error, "Worker 3 failed: deploy for server web-02 (rc 2, task \"Verify release checksum\")"),
            ("engine", Level::Warn, LONG_ENGINE_LINE),
            ("engine", Level::Info, "Workers resized: 4 → 2"),
            ("worker-4", Level::Info, "Worker 4 completed: deploy for server web-03"),
            ("worker-4", Level::Info, "Worker 4 stopped"),
            ("worker-2", Level::Info, "Worker 2 completed: deploy for server lb-01"),
        ];
        let drain = tui_logger::Drain::new();
        for (target, level, message) in lines {
            drain.log(
                &log::Record::builder()
                    .target(target)
                    .level(level)
                    .args(format_args!("{message}"))
                    .build(),
            );
        }
        tui_logger::move_events();
    });
}

fn render(width: u16, height: u16, pane: &LogPane) -> Terminal<TestBackend> {
    log_a_session();
    let look = PaneLook {
        targets: pane.targets().to_vec(),
        border: Style::new(),
    };
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| log_pane::draw(frame, frame.area(), &look, pane))
        .unwrap();
    terminal
}

/// The screen as text, each `HH:MM:SS` (the time the test ran) written `hh:mm:ss`.
fn screen(terminal: &Terminal<TestBackend>) -> String {
    let text = terminal.backend().to_string();
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let clock = chars.len() - i >= 8
            && (0..8).all(|k| match k {
                2 | 5 => chars[i + k] == ':',
                _ => chars[i + k].is_ascii_digit(),
            });
        if clock {
            out.push_str("hh:mm:ss");
            i += 8;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The pane as the dashboard holds it after the workers went from 4 to 2.
fn drained_pane() -> LogPane {
    let mut pane = LogPane::default();
    pane.follow(1..=4);
    pane.follow(1..=2);
    pane
}

#[test]
fn a_long_engine_line_wraps_between_words_under_its_message() {
    let mut pane = LogPane::default();
    pane.follow(1..=4);
    let terminal = render(64, 18, &pane);
    let text = screen(&terminal);
    // Each word of the long line is on screen whole: none was cut at the pane's edge.
    let rows: Vec<&str> = text.lines().collect();
    for word in LONG_ENGINE_LINE.split(' ') {
        assert!(
            rows.iter().any(|row| row.contains(word)),
            "{word:?} cut:\n{text}"
        );
    }
    // Its continuation rows start under the message, not under the timestamp.
    let first = rows
        .iter()
        .position(|row| row.contains(":W:engine:Rollout"))
        .unwrap();
    let column = |row: &str, at: usize| row[..at].chars().count();
    let message_column = column(rows[first], rows[first].find("Rollout").unwrap());
    let next: Vec<char> = rows[first + 1].chars().collect();
    assert_eq!(next[message_column - 1], ' ', "{text}");
    assert!(next[message_column].is_alphanumeric(), "{text}");
    insta::assert_snapshot!("long_engine_line_narrow", text);
}

#[test]
fn the_title_has_no_rate_counter() {
    let terminal = render(80, 10, &LogPane::default());
    let text = screen(&terminal);
    let top = text.lines().next().unwrap();
    assert!(top.contains(" Log "), "{text}");
    assert!(!top.contains("/s"), "a rate counter came back: {top}");
}

/// The names in the target list (the column left of the log).
fn listed(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|row| row.split('│').nth(1))
        .filter_map(|cell| cell.split_once(':'))
        .map(|(_, name)| name.trim().to_string())
        .collect()
}

#[test]
fn drained_workers_leave_the_target_list_and_their_lines_stay() {
    let terminal = render(90, 16, &drained_pane());
    let text = screen(&terminal);
    assert_eq!(listed(&text), ["engine", "worker-1", "worker-2"], "{text}");
    assert!(text.contains(":E:worker-3:Worker 3 failed"), "{text}");
    assert!(text.contains(":I:worker-4:Worker 4 stopped"), "{text}");
    insta::assert_snapshot!("targets_after_drain", text);
}

#[test]
fn the_arrows_and_focus_still_choose_among_the_workers_left() {
    let mut pane = drained_pane();
    // Down past the end stops at the last target left, worker-2; `f` shows only its lines.
    for _ in 0..5 {
        pane.transition(TuiWidgetEvent::DownKey);
    }
    pane.transition(TuiWidgetEvent::FocusKey);
    let text = screen(&render(90, 16, &pane));
    let log_rows: Vec<&str> = text
        .lines()
        .filter(|row| row.contains("hh:mm:ss"))
        .collect();
    assert_eq!(log_rows.len(), 2, "{text}");
    assert!(
        log_rows
            .iter()
            .all(|row| row.contains(":I:worker-2:Worker 2")),
        "{text}"
    );
    // ← twice (Info → Warn → Error) leaves nothing of worker 2's to show; `f` again shows all.
    pane.transition(TuiWidgetEvent::LeftKey);
    pane.transition(TuiWidgetEvent::LeftKey);
    let text = screen(&render(90, 16, &pane));
    assert!(!text.contains("hh:mm:ss"), "{text}");
    pane.transition(TuiWidgetEvent::FocusKey);
    let text = screen(&render(90, 16, &pane));
    assert!(text.contains(":E:worker-3:Worker 3 failed"), "{text}");
    assert!(!text.contains(":I:worker-2:"), "{text}");
}
