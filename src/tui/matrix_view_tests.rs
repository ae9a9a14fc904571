//! The matrix's state and keys, on plain values: a timeline fed as the engine would.

use super::*;
use crate::engine::model::{ItemId, Outcome};
use crate::tui::fixtures::{ago, now};

/// One attempt: enqueued, started `secs_ago`, ran `secs` (still running when `outcome` is
/// `None`).
pub(crate) struct Run {
    pub id: ItemId,
    pub server: &'static str,
    pub action: Action,
    pub started_ago: i64,
    pub secs: i64,
    pub outcome: Option<Outcome>,
}

pub(crate) fn run(
    id: ItemId,
    server: &'static str,
    action: Action,
    started_ago: i64,
    secs: i64,
    outcome: Option<Outcome>,
) -> Run {
    Run {
        id,
        server,
        action,
        started_ago,
        secs,
        outcome,
    }
}

pub(crate) fn feed(timeline: &mut Timeline, runs: &[Run]) {
    for r in runs {
        timeline.enqueued(r.id, r.server, r.action, false, None);
        // A skipped link never starts.
        if !matches!(r.outcome, Some(Outcome::Skipped { .. })) {
            timeline.started(r.id, (r.id % 4) as u32, ago(r.started_ago));
        }
        if let Some(outcome) = &r.outcome {
            let log = Some(format!("logs/run-{}.log", r.id).into());
            let end = ago(r.started_ago - r.secs);
            timeline.finished(r.id, r.server, r.action, outcome, end, log, None);
        }
    }
}

pub(crate) fn failed(task: &str) -> Outcome {
    Outcome::Failed {
        rc: Some(2),
        task: Some(task.into()),
        message: "checksum mismatch".into(),
    }
}

pub(crate) fn servers(names: &[&str]) -> Vec<ServerRow> {
    names
        .iter()
        .map(|name| ServerRow {
            name: name.to_string(),
            groups: vec![name.split('-').next().unwrap().to_string()],
        })
        .collect()
}

/// web-01 ok everywhere; web-02's deploy failed after a long run; db-01's deploy unreachable
/// quickly; lb-01 never ran.
fn fleet() -> (Timeline, Vec<ServerRow>) {
    let mut timeline = Timeline::default();
    feed(
        &mut timeline,
        &[
            run(
                1,
                "web-01",
                Action::Deploy,
                600,
                40,
                Some(Outcome::Succeeded),
            ),
            run(
                2,
                "web-02",
                Action::Deploy,
                600,
                90,
                Some(failed("restart")),
            ),
            run(
                3,
                "db-01",
                Action::Deploy,
                500,
                5,
                Some(Outcome::Unreachable {
                    message: "ssh".into(),
                }),
            ),
        ],
    );
    (timeline, servers(&["db-01", "lb-01", "web-01", "web-02"]))
}

fn names(view: &MatrixView) -> Vec<&str> {
    view.visible
        .iter()
        .map(|r| view.matrix.rows[*r].server.as_str())
        .collect()
}

fn view_of(timeline: &Timeline, rows: &[ServerRow]) -> MatrixView {
    let mut view = MatrixView::new();
    view.refresh(timeline, rows, now());
    view
}

#[test]
fn rows_follow_the_inventory_and_the_cursor_moves_within_them() {
    let (timeline, rows) = fleet();
    let mut view = view_of(&timeline, &rows);
    assert_eq!(names(&view), ["db-01", "lb-01", "web-01", "web-02"]);
    assert_eq!(view.handle(MatrixKey::Up, &timeline), MatrixOutcome::Stay);
    assert_eq!(view.cursor, 0, "the top stops the cursor");
    view.handle(MatrixKey::Down, &timeline);
    view.handle(MatrixKey::Down, &timeline);
    assert_eq!(view.cursor, 2);
    view.handle(MatrixKey::End, &timeline);
    assert_eq!(view.cursor, 3);
    view.handle(MatrixKey::Down, &timeline);
    assert_eq!(view.cursor, 3, "the bottom stops the cursor");
    view.handle(MatrixKey::Home, &timeline);
    assert_eq!(view.cursor, 0);
}

#[test]
fn pages_move_by_the_rows_that_fit_and_the_list_scrolls_with_the_cursor() {
    let mut timeline = Timeline::default();
    let names: Vec<String> = (0..50).map(|i| format!("web-{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    feed(&mut timeline, &[]);
    let mut view = view_of(&timeline, &servers(&refs));
    view.set_page(10);
    view.handle(MatrixKey::PageDown, &timeline);
    assert_eq!((view.cursor, view.top), (10, 1));
    view.handle(MatrixKey::PageDown, &timeline);
    view.handle(MatrixKey::PageDown, &timeline);
    view.handle(MatrixKey::PageDown, &timeline);
    view.handle(MatrixKey::PageDown, &timeline);
    assert_eq!(view.cursor, 49, "the last page stops at the last server");
    view.handle(MatrixKey::PageUp, &timeline);
    assert_eq!((view.cursor, view.top), (39, 39));
}

#[test]
fn left_and_right_choose_the_action_and_wrap() {
    let (timeline, rows) = fleet();
    let mut view = view_of(&timeline, &rows);
    assert_eq!(view.action(), Action::Provision);
    view.handle(MatrixKey::Right, &timeline);
    assert_eq!(view.action(), Action::Deploy);
    view.handle(MatrixKey::Left, &timeline);
    view.handle(MatrixKey::Left, &timeline);
    assert_eq!(view.action(), Action::Check);
}

#[test]
fn sorting_by_duration_puts_the_longest_newest_run_of_the_action_first() {
    let (timeline, rows) = fleet();
    let mut view = view_of(&timeline, &rows);
    view.handle(MatrixKey::Right, &timeline);
    view.handle(MatrixKey::Sort, &timeline);
    assert_eq!(view.sort, Sort::Duration);
    assert_eq!(names(&view), ["web-02", "web-01", "db-01", "lb-01"]);
}

#[test]
fn sorting_by_outcome_puts_the_worst_first_and_never_ran_last() {
    let (mut timeline, rows) = fleet();
    feed(
        &mut timeline,
        &[run(4, "lb-01", Action::Deploy, 30, 0, None)],
    );
    let mut view = view_of(&timeline, &rows);
    view.handle(MatrixKey::Right, &timeline);
    view.handle(MatrixKey::Sort, &timeline);
    view.handle(MatrixKey::Sort, &timeline);
    assert_eq!(view.sort, Sort::Outcome);
    assert_eq!(names(&view), ["web-02", "db-01", "lb-01", "web-01"]);
    view.handle(MatrixKey::Right, &timeline);
    assert_eq!(
        names(&view),
        ["db-01", "lb-01", "web-01", "web-02"],
        "no check ran: the name order decides"
    );
    view.handle(MatrixKey::Sort, &timeline);
    assert_eq!(view.sort, Sort::Name, "the sort cycles back to names");
}

#[test]
fn the_cursor_stays_on_its_server_when_the_order_changes() {
    let (timeline, rows) = fleet();
    let mut view = view_of(&timeline, &rows);
    view.handle(MatrixKey::End, &timeline);
    view.handle(MatrixKey::Right, &timeline);
    assert_eq!(names(&view)[view.cursor], "web-02");
    view.handle(MatrixKey::Sort, &timeline);
    assert_eq!(view.cursor, 0);
    assert_eq!(names(&view)[view.cursor], "web-02");
}

#[test]
fn the_filter_matches_names_groups_and_state_words_and_esc_clears_it() {
    let (mut timeline, rows) = fleet();
    feed(
        &mut timeline,
        &[run(4, "lb-01", Action::Check, 30, 0, None)],
    );
    let mut view = view_of(&timeline, &rows);
    let type_filter = |view: &mut MatrixView, text: &str| {
        view.handle(MatrixKey::FilterStart, &timeline);
        for c in text.chars() {
            view.handle(MatrixKey::Filter(c), &timeline);
        }
        view.handle(MatrixKey::FilterDone, &timeline);
        names(view)
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(type_filter(&mut view, "web"), ["web-01", "web-02"]);
    assert!(!view.typing, "Enter keeps the filter and stops typing");
    view.handle(MatrixKey::Close, &timeline);
    assert_eq!(view.filter, "", "Esc clears a filter before it closes");
    assert_eq!(type_filter(&mut view, "failed"), ["web-02"]);
    view.handle(MatrixKey::Close, &timeline);
    assert_eq!(type_filter(&mut view, "failing"), ["db-01", "web-02"]);
    view.handle(MatrixKey::Close, &timeline);
    assert_eq!(type_filter(&mut view, "running"), ["lb-01"]);
    view.handle(MatrixKey::Close, &timeline);
    assert_eq!(type_filter(&mut view, "nothing"), Vec::<String>::new());
    view.handle(MatrixKey::Close, &timeline);

    view.handle(MatrixKey::FilterStart, &timeline);
    view.handle(MatrixKey::Filter('d'), &timeline);
    view.handle(MatrixKey::Filter('x'), &timeline);
    view.handle(MatrixKey::FilterBackspace, &timeline);
    assert_eq!(names(&view), ["db-01"]);
    assert_eq!(
        view.handle(MatrixKey::Close, &timeline),
        MatrixOutcome::Stay
    );
    assert!(
        !view.typing && view.filter.is_empty(),
        "Esc while typing clears"
    );
    assert_eq!(view.counts(), (4, 4));
    assert_eq!(
        view.handle(MatrixKey::Close, &timeline),
        MatrixOutcome::Close
    );
}

#[test]
fn enter_opens_the_newest_log_of_the_cursor_cell_or_says_why_not() {
    let (mut timeline, rows) = fleet();
    feed(
        &mut timeline,
        &[
            run(
                5,
                "web-02",
                Action::Deploy,
                100,
                10,
                Some(Outcome::Succeeded),
            ),
            run(6, "lb-01", Action::Deploy, 10, 0, None),
        ],
    );
    let mut view = view_of(&timeline, &rows);
    view.handle(MatrixKey::Right, &timeline);
    view.handle(MatrixKey::End, &timeline);
    assert_eq!(
        view.handle(MatrixKey::Open, &timeline),
        MatrixOutcome::OpenLog {
            title: "web-02 · deploy".into(),
            path: "logs/run-5.log".into(),
        },
        "the newest attempt, not the failed one before it"
    );
    view.handle(MatrixKey::Up, &timeline);
    view.handle(MatrixKey::Up, &timeline);
    assert_eq!(
        view.handle(MatrixKey::Open, &timeline),
        MatrixOutcome::Notice("no log for deploy on lb-01: it has not opened its log yet".into())
    );
    view.handle(MatrixKey::Left, &timeline);
    assert_eq!(
        view.handle(MatrixKey::Open, &timeline),
        MatrixOutcome::Notice("provision never ran on lb-01".into())
    );
}

#[test]
fn a_refresh_folds_new_runs_and_a_replaced_timeline_is_built_again() {
    let (mut timeline, rows) = fleet();
    let mut view = view_of(&timeline, &rows);
    feed(
        &mut timeline,
        &[
            run(7, "web-01", Action::Deploy, 60, 30, Some(failed("x"))),
            run(8, "gone-01", Action::Check, 50, 3, Some(Outcome::Succeeded)),
        ],
    );
    view.refresh(&timeline, &rows, now());
    let fresh = Matrix::build(&timeline, &view.listed, MAX_RUNS);
    assert_eq!(view.matrix.rows, fresh.rows, "folding equals building");
    let web01 = view.matrix.row_of("web-01").unwrap();
    let ids: Vec<ItemId> = view.matrix.rows[web01].cells[1]
        .iter()
        .map(|i| timeline.entries()[*i].id)
        .collect();
    assert_eq!(ids, [7, 1], "newest first");
    assert!(view.matrix.rows.last().unwrap().unlisted);

    let (other, _) = fleet();
    view.refresh(&other, &rows, now());
    assert_eq!(view.counts(), (4, 4), "another timeline: built again");
}

#[test]
fn a_run_that_finishes_changes_the_outcome_order_on_the_next_refresh() {
    let (mut timeline, rows) = fleet();
    feed(
        &mut timeline,
        &[run(9, "lb-01", Action::Deploy, 30, 0, None)],
    );
    let mut view = view_of(&timeline, &rows);
    view.handle(MatrixKey::Right, &timeline);
    view.handle(MatrixKey::Sort, &timeline);
    view.handle(MatrixKey::Sort, &timeline);
    assert_eq!(names(&view)[2], "lb-01", "running sorts after the failures");
    timeline.finished(9, "lb-01", Action::Deploy, &failed("y"), ago(1), None, None);
    view.refresh(&timeline, &rows, now());
    assert_eq!(names(&view)[..2], ["lb-01", "web-02"]);
}
