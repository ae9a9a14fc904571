//! Rollouts on screen: the strip under the header in each of its states, the servers' parts in
//! the DEPLOY column and the details, the whole screen at 150×42 and 80×24.

use super::*;
use crate::engine::rollout::Step;
use crate::tui::fixtures::{admit, deploy_failed, deployed, passes, rollout, stage};
use crate::tui::ui::rollouts;

/// The demo fleet in the rollout's order: the web servers, then the databases, then lb-01.
const FLEET: [&str; 9] = [
    "web-01", "web-02", "web-03", "web-04", "web-05", "web-06", "db-01", "db-02", "lb-01",
];

/// Rollout deploy #30 of the whole fleet, canary 1, window 2, after `steps`; `not_running`
/// are let in and wait for a worker.
fn rollout_app(steps: &[Step], not_running: &[&str], held: bool) -> App {
    let mut app = idle_app();
    stage(
        &mut app,
        rollout(30, &FLEET, 1, 2, steps),
        not_running,
        held,
    );
    app
}

/// The canary web-01 deploys alone; the other eight wait for it.
fn canary() -> App {
    rollout_app(&[admit("web-01")], &[], false)
}

/// web-01..03 healthy; web-04 deploys, web-05 waits for its health check: the window (2) is
/// full; four wait.
fn window() -> App {
    let mut steps = passes(&["web-01", "web-02", "web-03"]);
    steps.extend([admit("web-04"), admit("web-05"), deployed("web-05")]);
    rollout_app(&steps, &[], false)
}

/// As `window`, then web-04's deploy failed: nothing more is let in.
fn stopped() -> App {
    let mut steps = passes(&["web-01", "web-02", "web-03"]);
    steps.extend([
        admit("web-04"),
        admit("web-05"),
        deployed("web-05"),
        deploy_failed("web-04"),
    ]);
    rollout_app(&steps, &[], false)
}

/// An earlier session's rollout: web-01 and web-02 healthy, the rest held.
fn held() -> App {
    rollout_app(&passes(&["web-01", "web-02"]), &[], true)
}

/// Every server healthy, ten seconds ago.
fn done() -> App {
    let mut app = rollout_app(&passes(&FLEET), &[], false);
    app.rollout_ended = Some((30, ago(10)));
    app
}

fn strip(app: &App, width: u16) -> Terminal<TestBackend> {
    render_pane(width, 1, |frame, area| {
        rollouts::draw(frame, area, app, now())
    })
}

#[test]
fn rollout_strip_in_each_state() {
    let cases: [(&str, App, &str); 5] = [
        (
            "canary",
            canary(),
            "Rollout deploy #30 · canary web-01 · 0/9 healthy · 1 deploying · 8 waiting",
        ),
        (
            "window",
            window(),
            "Rollout deploy #30 · window 2/2 · 3/9 healthy · 1 deploying · 1 in health check · 4 waiting",
        ),
        (
            "stopped",
            stopped(),
            // The counts give way to the whole reason.
            "Rollout deploy #30 · STOPPED: web-04 deploy failed (rc 2, task \"Verify release checksum\") · C continues, A aborts",
        ),
        (
            "held",
            held(),
            "Rollout deploy #30 · window 0/2 · HELD from an earlier session: P runs, X discards · 2/9 healthy · 7 waiting",
        ),
        ("done", done(), "Rollout deploy #30 · done · 9/9 healthy"),
    ];
    for (name, app, expected) in cases {
        let terminal = strip(&app, 150);
        let text = screen(&terminal);
        assert!(text.contains(expected), "{name}: {text}");
        insta::assert_snapshot!(format!("rollout_strip_{name}"), terminal.backend());
    }
}

#[test]
fn a_narrow_strip_shortens_the_reason_and_keeps_the_keys() {
    let terminal = strip(&stopped(), 80);
    let text = screen(&terminal);
    assert!(text.contains("STOPPED: web-04 deploy failed (rc"), "{text}");
    assert!(text.contains("… · C continues, A aborts"), "{text}");
    assert!(!text.contains("healthy"), "{text}");
    insta::assert_snapshot!("rollout_strip_stopped_80", terminal.backend());
}

#[test]
fn a_finished_rollout_leaves_the_strip_after_a_while() {
    let mut app = done();
    assert_eq!(rollouts::height(&app, HEIGHT, now()), 1);
    app.rollout_ended = Some((30, ago(61)));
    assert_eq!(rollouts::height(&app, HEIGHT, now()), 0);
    // Nothing live and nothing ended: no strip, the panes keep every row.
    let terminal = render(&idle_app(), WIDTH, HEIGHT);
    assert!(!screen(&terminal).contains("Rollout"));
}

#[test]
fn more_rollouts_than_rows_are_named_on_the_last_one() {
    let mut app = stopped();
    let later = rollout(40, &["lb-01"], 0, 1, &[]);
    app.snapshot.rollouts.push(later.into());
    // A short screen gives the strip one row: the stopped rollout goes first, so it is named.
    assert_eq!(rollouts::height(&app, 24, now()), 1);
    let terminal = strip(&app, 100);
    let text = screen(&terminal);
    assert!(
        text.contains(" 2 rollouts: deploy #30 (stopped: web-04"),
        "{text}"
    );
    assert!(text.contains("deploy #40 (window 0/1)"), "{text}");
    // A tall one has a row each.
    assert_eq!(rollouts::height(&app, 42, now()), 2);
}

#[test]
fn pane_servers_with_rollout_members() {
    // web-06 is let in and waits for a worker; the canary is over.
    let mut steps = passes(&["web-01", "web-02", "web-03"]);
    steps.extend([admit("web-04"), admit("web-05"), deployed("web-05")]);
    let mut app = idle_app();
    let mut wide = rollout(30, &FLEET, 1, 3, &steps);
    wide.apply(&admit("web-06"));
    stage(&mut app, wide, &["web-06"], false);
    app.cursor.insert(Pane::Servers, 8);
    app.details = true;
    let terminal = render_pane(67, 21, |frame, area| {
        servers::draw(frame, area, &app, now())
    });
    let text = screen(&terminal);
    assert!(text.contains("✓ 20s ♥"), "healthy: {text}");
    assert!(
        text.contains("✓ 20s ?"),
        "awaiting its health check: {text}"
    );
    assert!(text.contains("▷"), "let in, waiting for a worker: {text}");
    assert!(text.contains("✓ 2h ◌"), "waiting its turn: {text}");
    assert!(
        text.contains("rollout deploy #30 (window 3/3): deploying"),
        "{text}"
    );
    insta::assert_snapshot!("pane_servers_rollout_members", terminal.backend());
}

#[test]
fn pane_servers_canary_failed_and_held() {
    let mut app = canary();
    let terminal = render_pane(67, 14, |frame, area| {
        servers::draw(frame, area, &app, now())
    });
    let text = screen(&terminal);
    assert!(text.contains("▶ canary"), "{text}");
    insta::assert_snapshot!("pane_servers_rollout_canary", terminal.backend());

    app = stopped();
    let terminal = render_pane(67, 14, |frame, area| {
        servers::draw(frame, area, &app, now())
    });
    let text = screen(&terminal);
    assert!(text.contains("✗ 20s"), "{text}");
    insta::assert_snapshot!("pane_servers_rollout_stopped", terminal.backend());

    app = held();
    let terminal = render_pane(67, 14, |frame, area| {
        servers::draw(frame, area, &app, now())
    });
    let text = screen(&terminal);
    assert!(text.contains("✓ 2h ‖"), "{text}");
    insta::assert_snapshot!("pane_servers_rollout_held", terminal.backend());
}

#[test]
fn stopped_rollout_150x42() {
    let mut app = stopped();
    app.focus = Pane::Queue;
    let terminal = render(&app, 150, 42);
    let text = screen(&terminal);
    assert!(text.contains("rollout #30: stopped: web-04"), "{text}");
    insta::assert_snapshot!("rollout_stopped_150x42", terminal.backend());
}

#[test]
fn window_rollout_80x24() {
    let terminal = render(&window(), 80, 24);
    let text = screen(&terminal);
    assert!(text.contains("Rollout deploy #30 · window 2/2"), "{text}");
    insta::assert_snapshot!("rollout_window_80x24", terminal.backend());
}

#[test]
fn tiny_terminals_with_rollouts_do_not_panic() {
    for (width, height) in [(20, 5), (1, 1), (80, 3), (80, 24), (200, 2)] {
        for app in [stopped(), done(), held()] {
            let _ = render(&app, width, height);
            let _ = strip(&app, width);
        }
    }
}

#[test]
fn dialog_continue_and_abort_a_rollout() {
    let mut app = stopped();
    app.handle_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('C'),
    ));
    let terminal = render(&app, 120, 36);
    let text = screen(&terminal);
    assert!(text.contains("Continue rollout deploy #30"), "{text}");
    assert!(
        text.contains("servers waiting: web-06, db-01, db-02, lb-01"),
        "{text}"
    );
    insta::assert_snapshot!("dialog_continue_rollout", terminal.backend());

    let mut app = window();
    app.handle_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('A'),
    ));
    let terminal = render(&app, 120, 36);
    let text = screen(&terminal);
    assert!(
        text.contains("Abort rollout deploy #30 (window 2/2)?"),
        "{text}"
    );
    insta::assert_snapshot!("dialog_abort_rollout", terminal.backend());
}

#[test]
fn queue_ids_over_100_stay_whole_at_80x24() {
    // Rollout deploy #130: web-01..04 healthy, web-05 .. lb-01 (#135..#139) wait.
    let mut app = idle_app();
    let steps = passes(&["web-01", "web-02", "web-03", "web-04"]);
    stage(&mut app, rollout(130, &FLEET, 1, 2, &steps), &[], false);
    app.focus = Pane::Queue;
    let terminal = render(&app, 80, 24);
    let text = screen(&terminal);
    for id in ["#135 ", "#136 ", "#137 ", "#138 ", "#139 "] {
        assert!(text.contains(id), "{id}: {text}");
    }
    insta::assert_snapshot!("queue_ids_over_100_80x24", terminal.backend());
}

#[test]
fn a_narrow_queue_cuts_every_other_column_before_an_id() {
    let mut app = idle_app();
    let mut deploy = crate::tui::fixtures::deploy_item(1_234_567, "web-01");
    deploy.check_mode = true;
    app.snapshot.queue.insert(deploy);
    // From the id and the four column gaps on (the screen is "too small" long before).
    for width in [14, 16, 20, 24, 30] {
        let terminal = render_pane(width, 5, |frame, area| queue::draw(frame, area, &app));
        let text = screen(&terminal);
        assert!(text.contains("#1234567"), "{width}: {text}");
    }
}

#[test]
fn a_rollout_held_on_its_health_checks_alone_shows_held() {
    // After a restart web-02 and web-03 await their health, their checks held.
    let mut steps = passes(&["web-01"]);
    steps.extend([admit("web-02"), admit("web-03")]);
    steps.extend([deployed("web-02"), deployed("web-03")]);
    let mut app = idle_app();
    let servers = ["web-01", "web-02", "web-03"];
    stage(&mut app, rollout(30, &servers, 1, 2, &steps), &[], true);
    let text = screen(&strip(&app, 150));
    assert!(
        text.contains("HELD from an earlier session: P runs, X discards"),
        "{text}"
    );
}

#[test]
fn dialog_rolling_deploy() {
    use crate::engine::rollout::WindowSize;
    let mut app = idle_app();
    app.policy = Some(crate::tui::fixtures::policy(Some((
        1,
        WindowSize::Servers(2),
    ))));
    app.selected = FLEET.iter().map(|s| s.to_string()).collect();
    app.handle_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('d'),
    ));
    let terminal = render(&app, 120, 36);
    let text = screen(&terminal);
    assert!(
        text.contains("deploy 9 servers as a rolling deploy: canary db-01 first, then 2 at a"),
        "{text}"
    );
    insta::assert_snapshot!("dialog_rolling_deploy", terminal.backend());
}
