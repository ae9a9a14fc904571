//! `T` and `M` through the key table: the timeline and the matrix open over what the engine
//! said, answer their keys, open a log and come back to it, and close.

use super::*;
use crate::tui::matrix_view::Sort;

/// web-01's deploy ran on worker 1 and failed; db-02's check runs on worker 2 now.
fn with_history() -> App {
    let mut app = idle();
    app.clock = now();
    app.screen = (120, 30);
    let mut snapshot = app.snapshot.clone();
    snapshot.at = ago(60);
    let mut deploy = run_view(item(1, "web-01", Job::Deploy));
    deploy.started_at = ago(100);
    snapshot.workers[0].run = Some(deploy);
    app.apply(EngineEvent::Snapshot(Box::new(snapshot.clone())));
    app.apply(EngineEvent::Finished(finished(
        item(1, "web-01", Job::Deploy),
        Some(1),
        Outcome::Failed {
            rc: Some(2),
            task: Some("restart app".into()),
            message: "boom".into(),
        },
    )));
    snapshot.at = ago(10);
    snapshot.workers[0].run = None;
    let mut check = run_view(item(2, "db-02", Job::Check));
    check.started_at = ago(20);
    snapshot.workers[1].run = Some(check);
    snapshot.active = 1;
    app.apply(EngineEvent::Snapshot(Box::new(snapshot)));
    app
}

#[test]
fn the_timeline_holds_what_the_engine_said_and_enter_opens_a_bars_log() {
    let mut app = with_history();
    let bars: Vec<(u32, &str, bool)> = app
        .timeline
        .entries()
        .iter()
        .map(|e| (e.ran.unwrap().lane, e.server.as_str(), e.is_running()))
        .collect();
    assert_eq!(bars, [(1, "web-01", false), (2, "db-02", true)]);

    press(&mut app, &[ch('T')]);
    assert!(matches!(app.mode, Mode::Timeline(_)));
    // ← from no bar picks the newest bar; Enter asks the loop to open its log.
    press(&mut app, &[code(KeyCode::Left)]);
    let effects = press(&mut app, &[code(KeyCode::Enter)]);
    let [Effect::OpenLog { title, path }] = effects.as_slice() else {
        panic!("Enter opens a log: {effects:?}")
    };
    assert!(
        title.contains("web-01") || title.contains("db-02"),
        "{title}"
    );
    // The loop opens the viewer; closing it goes back to the timeline, not to the panes.
    app.open_viewer(Viewer::open(title.clone(), path.clone()));
    assert!(matches!(app.mode, Mode::Viewer(_)));
    press(&mut app, &[code(KeyCode::Esc)]);
    assert!(matches!(app.mode, Mode::Timeline(_)), "{:?}", app.mode);
    press(&mut app, &[code(KeyCode::Esc)]);
    assert_eq!(app.mode, Mode::Normal);
    // A log opened from the panes closes back to the panes.
    app.open_viewer(Viewer::open("x".into(), "/nonexistent".into()));
    press(&mut app, &[code(KeyCode::Esc)]);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn the_matrix_sorts_filters_and_catches_up_with_new_runs() {
    let mut app = with_history();
    press(&mut app, &[ch('M')]);
    let rows = |app: &App| -> (Vec<String>, Sort) {
        let Mode::Matrix(view) = &app.mode else {
            panic!("the matrix is open: {:?}", app.mode)
        };
        let names = view
            .visible
            .iter()
            .map(|r| view.matrix.rows[*r].server.clone())
            .collect();
        (names, view.sort)
    };
    assert_eq!(rows(&app).0.len(), 9, "every server of the demo");
    // `/` then text filters like the servers pane; Enter keeps it; Esc clears it, then closes.
    press(&mut app, &[ch('/')]);
    type_text(&mut app, "db");
    press(&mut app, &[code(KeyCode::Enter)]);
    assert_eq!(rows(&app).0, ["db-01", "db-02"]);
    press(&mut app, &[code(KeyCode::Esc)]);
    assert_eq!(rows(&app).0.len(), 9);
    // `s` moves to the next sort order.
    let before = rows(&app).1;
    press(&mut app, &[ch('s')]);
    assert_ne!(rows(&app).1, before);
    // A run finishing while the matrix is open shows once the loop settles before a frame.
    app.apply(EngineEvent::Finished(finished(
        item(2, "db-02", Job::Check),
        Some(2),
        Outcome::Succeeded,
    )));
    app.settle(now());
    let Mode::Matrix(view) = &app.mode else {
        unreachable!()
    };
    let db02 = view.matrix.row_of("db-02").map(|r| &view.matrix.rows[r]);
    let check = db02.and_then(|row| row.cells[2].first()).copied();
    let outcome = check.and_then(|i| app.timeline.entries()[i].outcome.clone());
    assert_eq!(outcome, Some(Outcome::Succeeded));
    press(&mut app, &[code(KeyCode::Esc)]);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn the_matrix_filter_takes_letters_not_chords_and_ctrl_u_empties_it() {
    let mut app = with_history();
    press(&mut app, &[ch('M'), ch('/')]);
    type_text(&mut app, "web");
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    let alt = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT);
    press(&mut app, &[alt('x'), ctrl('w')]);
    let filter = |app: &App| match &app.mode {
        Mode::Matrix(view) => view.filter.clone(),
        other => panic!("the matrix is open: {other:?}"),
    };
    assert_eq!(filter(&app), "web");
    press(&mut app, &[ctrl('u')]);
    assert_eq!(filter(&app), "");
}

#[test]
fn a_become_password_question_waits_for_the_timeline_to_close() {
    let mut app = with_history();
    press(&mut app, &[ch('T')]);
    app.apply(EngineEvent::Finished(finished(
        item(2, "db-02", Job::Check),
        Some(2),
        Outcome::Failed {
            rc: Some(2),
            task: Some("Gathering Facts".into()),
            message: "db-02 needs a become (sudo) password".into(),
        },
    )));
    assert!(
        matches!(app.mode, Mode::Timeline(_)),
        "the view is not taken away"
    );
    press(&mut app, &[code(KeyCode::Esc)]);
    match &app.mode {
        Mode::Dialog(Dialog::BecomePassword { servers, .. }) => assert_eq!(servers, &["db-02"]),
        other => panic!("the question comes on the panes: {other:?}"),
    }
}
