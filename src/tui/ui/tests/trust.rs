//! What an operator sees after a restart and around actions: interrupted, check-mode and held
//! marks, the confirmation, the command line, readable cursor rows, no rate counter.

use super::*;
use crate::tui::command_line::CommandLine;
use crate::tui::dialogs::Confirm;
use crate::tui::ui::style::CURSOR_BG;
use ratatui::style::Color;

/// After `kill -9` and a restart: web-03's provision was interrupted, web-04's last provision
/// was a dry run, and two items came back held (one beside a success).
fn restarted_app() -> App {
    let mut app = idle_app();
    app.status
        .get_mut("web-03")
        .unwrap()
        .insert(Job::Provision, last(50, 30, Outcome::Interrupted));
    let mut dry = last(51, 20, Outcome::Succeeded);
    dry.check_mode = true;
    app.status
        .get_mut("web-04")
        .unwrap()
        .insert(Job::Provision, dry);
    let mut held_deploy = item(52, "web-06", Job::Deploy);
    held_deploy.held = true;
    let mut held_check = item(53, "web-06", Job::Check);
    held_check.held = true;
    held_check.after = Some(52);
    app.snapshot.queue = QueueView::of([held_deploy, held_check]);
    app
}

#[test]
fn after_a_restart_interrupted_dry_runs_and_held_items_each_have_their_mark() {
    let mut app = restarted_app();
    app.cursor.insert(Pane::Servers, 5);
    app.details = true;
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    let row = |server: &str| {
        text.lines()
            .find(|line| line.contains(&format!("  {server} ")))
            .unwrap_or_else(|| panic!("no row for {server}: {text}"))
            .to_string()
    };
    assert!(row("web-03").contains("↯ 30s"), "{}", row("web-03"));
    assert!(row("web-04").contains("✓c 20s"), "{}", row("web-04"));
    // Held: a mark beside the last outcome, never instead of it.
    assert!(row("web-06").contains("✓ 2h ‖"), "{}", row("web-06"));
    assert!(text.contains("held 2: P runs · X discards"), "{text}");
    // web-03 (interrupted, and an unhealthy deploy) and db-01 (unreachable).
    assert!(text.contains("✗ 2 failing"), "{text}");
    // `i` on web-03 says what happened, in words.
    assert!(
        text.contains("provision interrupted (fleetdeck, its warm runner or its node"),
        "{text}"
    );
    insta::assert_snapshot!("restarted", terminal.backend());
}

#[test]
fn the_confirmation_names_the_servers_the_filter_hides() {
    let mut app = idle_app();
    app.filter = "db".into();
    let servers: Vec<String> = [
        "db-01", "web-01", "web-02", "web-03", "web-04", "web-05", "web-06",
    ]
    .map(String::from)
    .to_vec();
    app.mode = Mode::Dialog(Dialog::Confirm(Confirm {
        question:
            "deploy 7 servers, 6 hidden by the filter: web-01, web-02, web-03, web-04 … +2 more?"
                .into(),
        label: "servers",
        items: servers,
        then: Vec::new(),
        notice: String::new(),
    }));
    let terminal = render(&app, 120, 36);
    let text = screen(&terminal);
    assert!(text.contains("y yes, do it"), "{text}");
    insta::assert_snapshot!("dialog_confirm_hidden", terminal.backend());
}

#[test]
fn the_command_line_shows_what_tab_found() {
    let mut app = idle_app();
    app.mode = Mode::Command(CommandLine {
        text: "deploy web".into(),
        candidates: vec!["web".into(), "web-01".into(), "web-02".into()],
    });
    let terminal = render_pane(100, 1, |frame, area| footer::draw(frame, area, &app));
    let text = screen(&terminal);
    assert!(text.contains(":deploy web▏  web web-01 web-02"), "{text}");
}

#[test]
fn the_cursor_row_is_readable_in_every_pane() {
    let mut app = running_app();
    app.status = restarted_app().status;
    // Four workers on 100×30: compact rows, which have a cursor row.
    app.snapshot.workers.push(WorkerView { slot: 4, run: None });
    app.snapshot.target_workers = 4;
    for (pane, mode) in [
        (Pane::Servers, Mode::Normal),
        (Pane::Queue, Mode::Normal),
        (Pane::Workers, Mode::Normal),
        (Pane::Servers, Mode::Viewer(viewer())),
    ] {
        app.focus = pane;
        app.mode = mode;
        let terminal = render(&app, 100, 30);
        let buffer = terminal.backend().buffer();
        let mut cursor_cells = 0;
        for cell in buffer.content() {
            if cell.bg == CURSOR_BG {
                cursor_cells += 1;
                assert_ne!(
                    cell.fg,
                    cell.bg,
                    "{pane:?}: `{}` drawn in its own background",
                    cell.symbol()
                );
            }
        }
        assert!(cursor_cells > 0, "{pane:?} draws a cursor row");
    }
}

#[test]
fn the_log_pane_has_no_rate_counter() {
    let terminal = render(&idle_app(), WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains(" Log "), "{text}");
    assert!(!text.contains("[log="), "{text}");
}

#[test]
fn compact_worker_rows_keep_the_failed_count_at_100x30() {
    let mut app = running_app();
    if let Some(run) = app.snapshot.workers[1].run.as_mut() {
        run.counts.failed = 1;
    }
    // Four workers on a 100×30 screen: the compact rows.
    app.snapshot.workers.push(WorkerView { slot: 4, run: None });
    app.snapshot.target_workers = 4;
    let terminal = render(&app, 100, 30);
    let text = screen(&terminal);
    let web02 = text
        .lines()
        .find(|line| line.contains(" 2 web-02"))
        .unwrap_or_else(|| panic!("no compact row for worker 2: {text}"));
    assert!(web02.contains("✗ 1 failed"), "{web02}");
    assert_eq!(Color::Red, {
        let buffer = terminal.backend().buffer();
        let y = text.lines().position(|l| l.contains(" 2 web-02")).unwrap() as u16;
        let x = (0..buffer.area.width)
            .find(|x| buffer[(*x, y)].symbol() == "✗")
            .unwrap();
        buffer[(x, y)].fg
    });
}

/// A header too long for its line drops whole parts from the right: at every width the
/// session's counts are whole ("ran 11", never "ran 1") or absent.
#[test]
fn the_header_never_cuts_a_number() {
    let mut app = idle_app();
    app.snapshot.finished = 11;
    app.snapshot.failed = 10;
    for width in 60..=160 {
        let terminal = render(&app, width, HEIGHT);
        let text = screen(&terminal);
        let header = text.lines().next().unwrap();
        let shown = ["ran 11 (10 ✗)", "session: 11 ran, 10 failed"];
        let partial = ["ran", "session:"].iter().any(|word| header.contains(word));
        assert!(
            !partial || shown.iter().any(|whole| header.contains(whole)),
            "{width} columns: {header}"
        );
    }
}
