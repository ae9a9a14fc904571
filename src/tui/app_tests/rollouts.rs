//! `C` and `A`: which rollout they mean, the question naming it, what `y` sends and `n` does
//! not; and the strip's memory of the rollout that ended last.

use super::*;
use crate::engine::rollout::Step;
use crate::tui::dialogs::Confirm;
use crate::tui::fixtures::{admit, deploy_failed, deployed, passes, rollout, stage};
use crate::tui::rollouts::{rollout_held, rollout_held_items, rollout_of};

const WEB: [&str; 6] = ["web-01", "web-02", "web-03", "web-04", "web-05", "web-06"];

/// web-01..03 healthy; web-04 deploys on worker 1, web-05 waits for its health check.
fn window_steps() -> Vec<Step> {
    let mut steps = passes(&["web-01", "web-02", "web-03"]);
    steps.extend([admit("web-04"), admit("web-05"), deployed("web-05")]);
    steps
}

/// As `window_steps`, then web-04's deploy failed.
fn stopped_steps() -> Vec<Step> {
    let mut steps = window_steps();
    steps.push(deploy_failed("web-04"));
    steps
}

/// Rollout deploy #30 of the web servers, canary 1, window 2, after `steps`.
fn with_rollout(steps: &[Step]) -> App {
    let mut app = idle();
    stage(&mut app, rollout(30, &WEB, 1, 2, steps), &[], false);
    app
}

fn confirmation(app: &App) -> Confirm {
    match &app.mode {
        Mode::Dialog(Dialog::Confirm(confirm)) => confirm.clone(),
        other => panic!("no confirmation open: {other:?}"),
    }
}

#[test]
fn c_asks_before_continuing_a_stopped_rollout_and_y_resumes_it() {
    let mut app = with_rollout(&stopped_steps());
    assert_eq!(press(&mut app, &[ch('C')]), Vec::new());
    let confirm = confirmation(&app);
    assert_eq!(
        confirm.question,
        "Continue rollout deploy #30 (stopped: web-04 deploy failed (rc 2, task \"Verify release checksum\"))? 1 deploy waits."
    );
    assert_eq!(confirm.items, ["web-06"]);
    assert_eq!(
        press(&mut app, &[ch('y')]),
        engine(Command::ResumeRollout(Some(30)))
    );
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(
        app.notice.as_deref(),
        Some("rollout deploy #30 continues: at most 2 at a time")
    );
}

#[test]
fn n_and_esc_send_nothing() {
    for no in [ch('n'), code(KeyCode::Esc)] {
        let mut app = with_rollout(&stopped_steps());
        for key in ['C', 'A'] {
            press(&mut app, &[ch(key)]);
            confirmation(&app);
            assert_eq!(press(&mut app, &[no]), Vec::new());
            assert_eq!(app.mode, Mode::Normal);
            assert_eq!(app.notice.as_deref(), Some("nothing done"));
        }
    }
}

#[test]
fn a_asks_before_aborting_and_says_what_is_cancelled_and_what_finishes() {
    let mut app = with_rollout(&window_steps());
    assert_eq!(press(&mut app, &[ch('A')]), Vec::new());
    let confirm = confirmation(&app);
    assert_eq!(
        confirm.question,
        "Abort rollout deploy #30 (window 2/2)? 1 queued deploy is cancelled; 1 running finishes, 1 health check still runs."
    );
    assert_eq!(confirm.items, ["web-06"]);
    assert_eq!(
        press(&mut app, &[ch('y')]),
        engine(Command::AbortRollout(Some(30)))
    );
    assert_eq!(
        app.notice.as_deref(),
        Some("rollout deploy #30 aborted: 1 deploy cancelled")
    );
}

/// #20 (the databases) and #30 (the web servers) are both stopped.
fn two_stopped() -> App {
    let mut app = idle();
    let mut databases = rollout(20, &["db-01", "db-02"], 1, 1, &[admit("db-01")]);
    databases.apply(&deploy_failed("db-01"));
    // The older one comes first, as in the engine's snapshot.
    stage(&mut app, databases, &[], false);
    stage(
        &mut app,
        rollout(30, &WEB, 1, 2, &stopped_steps()),
        &[],
        false,
    );
    app
}

fn asked_about(app: &mut App, key: char) -> Command {
    press(app, &[ch(key)]);
    let confirm = confirmation(app);
    let command = confirm.then[0].clone();
    press(app, &[code(KeyCode::Esc)]);
    command
}

#[test]
fn the_cursor_servers_rollout_first_else_the_newest() {
    let mut app = two_stopped();
    // db-01 is the first row: its rollout, though older.
    assert_eq!(asked_about(&mut app, 'C'), Command::ResumeRollout(Some(20)));
    assert_eq!(asked_about(&mut app, 'A'), Command::AbortRollout(Some(20)));
    // lb-01 is in none: the newest.
    app.cursor.insert(Pane::Servers, 2);
    assert_eq!(asked_about(&mut app, 'C'), Command::ResumeRollout(Some(30)));
    assert_eq!(asked_about(&mut app, 'A'), Command::AbortRollout(Some(30)));
    // In the queue pane, the cursor item's server: web-06's deploy waits in #30.
    app.cursor.insert(Pane::Servers, 0);
    app.focus = Pane::Queue;
    let at = app
        .snapshot
        .queue
        .iter()
        .position(|item| item.server == "web-06")
        .unwrap();
    app.cursor.insert(Pane::Queue, at);
    assert_eq!(asked_about(&mut app, 'C'), Command::ResumeRollout(Some(30)));
}

#[test]
fn c_passes_over_a_rollout_that_is_not_stopped() {
    // The cursor server's rollout goes on fine: C means the stopped one elsewhere.
    let mut app = with_rollout(&window_steps());
    let mut databases = rollout(20, &["db-01", "db-02"], 1, 1, &[admit("db-01")]);
    databases.apply(&deploy_failed("db-01"));
    app.snapshot.rollouts.insert(0, databases.into());
    app.cursor.insert(Pane::Servers, 3);
    assert_eq!(app.cursor_server().as_deref(), Some("web-01"));
    assert_eq!(asked_about(&mut app, 'C'), Command::ResumeRollout(Some(20)));
    assert_eq!(asked_about(&mut app, 'A'), Command::AbortRollout(Some(30)));
}

#[test]
fn without_a_rollout_to_act_on_the_footer_says_so() {
    // A finished rollout is neither stopped nor live.
    let mut app = with_rollout(&passes(&WEB));
    assert_eq!(press(&mut app, &[ch('C')]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("no rollout is stopped: nothing to continue")
    );
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(press(&mut app, &[ch('A')]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("no rollout under way: nothing to abort")
    );
    // A rollout under way but not stopped: nothing to continue either.
    let mut app = with_rollout(&window_steps());
    assert_eq!(press(&mut app, &[ch('C')]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("no rollout is stopped: nothing to continue")
    );
}

#[test]
fn the_rollout_that_ended_is_remembered_with_the_time_it_was_seen() {
    let mut app = with_rollout(&window_steps());
    let mut next = app.snapshot.clone();
    next.at = ago(5);
    next.rollouts = vec![rollout(30, &WEB, 1, 2, &passes(&WEB)).into()];
    app.apply(EngineEvent::Snapshot(Box::new(next.clone())));
    assert_eq!(app.rollout_ended, Some((30, ago(5))));
    // The same ended rollout in the next snapshot is not news.
    next.at = now();
    app.apply(EngineEvent::Snapshot(Box::new(next)));
    assert_eq!(app.rollout_ended, Some((30, ago(5))));
    assert!(rollout_of(&app, "web-01").is_none());
}

#[test]
fn a_servers_part_is_in_the_newest_live_rollout() {
    let app = with_rollout(&window_steps());
    let (rollout, member) = rollout_of(&app, "web-05").unwrap();
    assert_eq!(rollout.id, 30);
    assert_eq!(member.state.label(), "health check");
    assert!(rollout_of(&app, "db-01").is_none());
    let held = {
        let mut app = idle();
        stage(&mut app, rollout_of_web(), &[], true);
        app
    };
    assert!(rollout_held(&held, &held.snapshot.rollouts[0]));
    assert!(!rollout_held(&app, &app.snapshot.rollouts[0]));
}

fn rollout_of_web() -> crate::engine::rollout::Rollout {
    rollout(30, &WEB, 1, 2, &passes(&["web-01"]))
}

/// As `stopped_steps`, from an earlier session: web-06's deploy and web-05's health check are
/// held.
fn stopped_and_held() -> App {
    let mut app = idle();
    stage(
        &mut app,
        rollout(30, &WEB, 1, 2, &stopped_steps()),
        &[],
        true,
    );
    app
}

#[test]
fn c_on_a_held_rollout_says_nothing_runs_until_p_releases_it() {
    let mut app = stopped_and_held();
    press(&mut app, &[ch('C')]);
    let confirm = confirmation(&app);
    assert!(
        confirm.question.ends_with(
            "1 deploy waits. Nothing runs yet: its 1 deploy and 1 health check are held from an earlier session: P releases them."
        ),
        "{}",
        confirm.question
    );
    assert_eq!(
        press(&mut app, &[ch('y')]),
        engine(Command::ResumeRollout(Some(30)))
    );
    assert_eq!(
        app.notice.as_deref(),
        Some(
            "rollout deploy #30 continues: at most 2 at a time once released; its 1 deploy and 1 health check are held from an earlier session: P releases them"
        )
    );
}

#[test]
fn p_says_which_released_items_still_wait_for_a_stopped_rollout() {
    // web-05's check runs once released; web-06's deploy stays behind the stopped rollout.
    let mut app = stopped_and_held();
    press(&mut app, &[ch('P')]);
    let confirm = confirmation(&app);
    assert_eq!(
        confirm.question,
        "run the 2 held items from an earlier session? 1 waits for stopped rollout deploy #30 (C continues it)."
    );
    assert_eq!(
        press(&mut app, &[ch('y')]),
        engine(Command::Resume { release_held: true })
    );
    assert_eq!(
        app.notice.as_deref(),
        Some(
            "resumed: 1 of the 2 held items run; 1 waits for stopped rollout deploy #30 (C continues it)"
        )
    );

    // Everything held is behind the stopped rollout: nothing runs.
    let mut app = idle();
    let mut databases = rollout(67, &["db-01", "db-02"], 1, 1, &[admit("db-01")]);
    databases.apply(&deploy_failed("db-01"));
    stage(&mut app, databases, &[], true);
    press(&mut app, &[ch('P'), ch('y')]);
    assert_eq!(
        app.notice.as_deref(),
        Some("released 1 held item, but it waits for stopped rollout deploy #67 (C continues it)")
    );
}

#[test]
fn a_rollout_whose_only_held_work_is_health_checks_is_held() {
    // After a restart web-02 and web-03 await their health; nothing else of it is queued.
    let steps = {
        let mut steps = passes(&["web-01"]);
        steps.extend([admit("web-02"), admit("web-03")]);
        steps.extend([deployed("web-02"), deployed("web-03")]);
        steps
    };
    let servers = ["web-01", "web-02", "web-03"];
    let mut app = idle();
    stage(&mut app, rollout(30, &servers, 1, 2, &steps), &[], true);
    assert!(rollout_held(&app, &app.snapshot.rollouts[0]));
    assert_eq!(
        rollout_held_items(&app, &app.snapshot.rollouts[0]).count(),
        2
    );
    let mut app = idle();
    stage(&mut app, rollout(30, &servers, 1, 2, &steps), &[], false);
    assert!(!rollout_held(&app, &app.snapshot.rollouts[0]));
}
