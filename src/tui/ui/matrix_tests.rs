//! Snapshots of the matrix at 100×20: what an operator sees for each sort, a filter, a run in
//! flight, the cursor's cell, and a fleet where nothing ran yet.

use super::draw;
use crate::engine::journal::Record;
use crate::engine::model::{Action, Outcome};
use crate::timeline::Timeline;
use crate::tui::fixtures::{ago, now};
use crate::tui::matrix_view::tests::{failed, feed, run, servers};
use crate::tui::matrix_view::{MatrixKey, MatrixView};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

const WIDTH: u16 = 100;
const HEIGHT: u16 = 20;

/// The demo fleet after two chains and a retry: web-01 deployed three times (failed, then ok
/// twice), db-02's deploy fails and its check is skipped, web-03's check timed out, lb-01 is
/// unreachable, web-04's deploy is unhealthy and its check a dry run, web-05 never ran,
/// old-01 has left the inventory. web-02's deploy is running.
fn history() -> (Timeline, Vec<crate::tui::app::ServerRow>) {
    let mut timeline = Timeline::default();
    let unreachable = Outcome::Unreachable {
        message: "ssh: connection refused".into(),
    };
    let skipped = Outcome::Skipped {
        reason: "deploy failed".into(),
    };
    let timed_out = Outcome::TimedOut {
        during_task: Some("Wait for port".into()),
    };
    feed(
        &mut timeline,
        &[
            run(
                1,
                "old-01",
                Action::Provision,
                9000,
                50,
                Some(Outcome::Succeeded),
            ),
            run(
                2,
                "web-01",
                Action::Provision,
                3000,
                42,
                Some(Outcome::Succeeded),
            ),
            run(
                3,
                "web-01",
                Action::Deploy,
                2900,
                63,
                Some(failed("Restart app")),
            ),
            run(
                4,
                "web-02",
                Action::Provision,
                2900,
                41,
                Some(Outcome::Succeeded),
            ),
            run(
                5,
                "db-02",
                Action::Provision,
                2900,
                45,
                Some(Outcome::Succeeded),
            ),
            run(
                6,
                "db-02",
                Action::Deploy,
                2800,
                4,
                Some(failed("Verify checksum")),
            ),
            run(7, "db-02", Action::Check, 2790, 0, Some(skipped)),
            run(
                8,
                "web-03",
                Action::Provision,
                2800,
                38,
                Some(Outcome::Succeeded),
            ),
            run(
                9,
                "web-03",
                Action::Deploy,
                2700,
                30,
                Some(Outcome::Succeeded),
            ),
            run(10, "web-03", Action::Check, 2600, 300, Some(timed_out)),
            run(11, "lb-01", Action::Provision, 2600, 12, Some(unreachable)),
            run(
                12,
                "web-01",
                Action::Deploy,
                1200,
                58,
                Some(Outcome::Succeeded),
            ),
            run(
                13,
                "web-01",
                Action::Check,
                1100,
                3,
                Some(Outcome::Succeeded),
            ),
            run(
                14,
                "web-04",
                Action::Deploy,
                1000,
                27,
                Some(Outcome::Succeeded),
            ),
            run(
                15,
                "web-01",
                Action::Deploy,
                300,
                61,
                Some(Outcome::Succeeded),
            ),
            run(16, "web-02", Action::Deploy, 12, 0, None),
        ],
    );
    // A dry run (`--check`) of web-04's check.
    timeline.enqueued(17, "web-04", Action::Check, true, None);
    timeline.started(17, 2, ago(200));
    let log = Some("logs/run-17.log".into());
    timeline.finished(
        17,
        "web-04",
        Action::Check,
        &Outcome::Succeeded,
        ago(198),
        log,
        None,
    );
    timeline.apply(&Record::Health {
        at: now(),
        deploy: 14,
        server: "web-04".into(),
        healthy: false,
    });
    let rows = servers(&[
        "db-01", "db-02", "lb-01", "web-01", "web-02", "web-03", "web-04", "web-05",
    ]);
    (timeline, rows)
}

fn view(
    timeline: &Timeline,
    rows: &[crate::tui::app::ServerRow],
    keys: &[MatrixKey],
) -> MatrixView {
    let mut view = MatrixView::new();
    view.refresh(timeline, rows, now());
    view.set_page(HEIGHT as usize - 4);
    for key in keys {
        view.handle(*key, timeline);
    }
    view
}

fn render(view: &MatrixView, timeline: &Timeline) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    terminal
        .draw(|frame| draw(frame, frame.area(), view, timeline, now()))
        .unwrap();
    terminal
}

#[test]
fn mixed_outcomes_sorted_by_name() {
    let (timeline, rows) = history();
    let view = view(&timeline, &rows, &[MatrixKey::Down, MatrixKey::Right]);
    insta::assert_snapshot!("matrix_by_name", render(&view, &timeline).backend());
}

#[test]
fn sorted_by_deploy_duration() {
    let (timeline, rows) = history();
    let view = view(&timeline, &rows, &[MatrixKey::Right, MatrixKey::Sort]);
    insta::assert_snapshot!("matrix_by_duration", render(&view, &timeline).backend());
}

#[test]
fn sorted_by_deploy_outcome_worst_first() {
    let (timeline, rows) = history();
    let keys = [MatrixKey::Right, MatrixKey::Sort, MatrixKey::Sort];
    let view = view(&timeline, &rows, &keys);
    insta::assert_snapshot!("matrix_by_outcome", render(&view, &timeline).backend());
}

#[test]
fn filtered_to_web_servers() {
    let (timeline, rows) = history();
    let mut keys = vec![MatrixKey::FilterStart];
    keys.extend("web".chars().map(MatrixKey::Filter));
    keys.push(MatrixKey::FilterDone);
    let view = view(&timeline, &rows, &keys);
    insta::assert_snapshot!("matrix_filter_web", render(&view, &timeline).backend());
}

#[test]
fn typing_a_filter_that_matches_nothing() {
    let (timeline, rows) = history();
    let mut keys = vec![MatrixKey::FilterStart];
    keys.extend("zz".chars().map(MatrixKey::Filter));
    let view = view(&timeline, &rows, &keys);
    insta::assert_snapshot!("matrix_filter_typing", render(&view, &timeline).backend());
}

#[test]
fn a_running_deploy_shows_its_time_so_far_and_its_worker() {
    let (timeline, rows) = history();
    let keys = [
        MatrixKey::Right,
        MatrixKey::End,
        MatrixKey::Up,
        MatrixKey::Up,
        MatrixKey::Up,
        MatrixKey::Up,
    ];
    let view = view(&timeline, &rows, &keys);
    let terminal = render(&view, &timeline);
    insta::assert_snapshot!("matrix_running", terminal.backend());
}

#[test]
fn the_cursor_cell_of_a_failure_says_its_task_and_message() {
    let (timeline, rows) = history();
    let keys = [MatrixKey::Right, MatrixKey::Down];
    let view = view(&timeline, &rows, &keys);
    let terminal = render(&view, &timeline);
    insta::assert_snapshot!("matrix_cursor_failure", terminal.backend());
    // db-02's row: the failed deploy's glyph is red and marked as the cursor cell.
    let buffer = terminal.backend().buffer();
    let row = 3;
    let cross = (0..WIDTH)
        .find(|x| buffer[(*x, row)].symbol() == "✗")
        .expect("db-02's failed deploy on screen");
    let cell = &buffer[(cross, row)];
    assert_eq!(cell.fg, Color::Red);
    assert!(cell.modifier.contains(Modifier::REVERSED));
}

#[test]
fn nothing_has_run_yet() {
    let timeline = Timeline::default();
    let rows = servers(&["db-01", "web-01"]);
    let view = view(&timeline, &rows, &[]);
    insta::assert_snapshot!("matrix_empty", render(&view, &timeline).backend());
}

#[test]
fn an_80_column_screen_shows_two_attempts_per_action_and_uncut_headings() {
    let (timeline, rows) = history();
    let view = view(&timeline, &rows, &[]);
    let mut terminal = Terminal::new(TestBackend::new(80, 12)).unwrap();
    terminal
        .draw(|frame| draw(frame, frame.area(), &view, &timeline, now()))
        .unwrap();
    insta::assert_snapshot!("matrix_80_columns", terminal.backend());
}
