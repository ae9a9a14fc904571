//! Key handling and event folding without a terminal: plain `App` values in, `Effect`s out.

use super::{App, Pane};
use crate::engine::model::{Action as Job, Item, ItemId, Outcome, Recap, Slot};
use crate::engine::queue::QueueView;
use crate::engine::snapshot::{RunView, WorkerView};
use crate::engine::{
    Command, EngineEvent, EnqueueRequest, FinishedRun, RanOn, ShutdownMode, Snapshot, Target,
};
use crate::inventory::Inventory;
use crate::status::{FleetStatus, LastRun};
use crate::tui::dialogs::{Dialog, EnqueueForm, Field};
use crate::tui::filter::FilterInput;
use crate::tui::fixtures::{ago, demo_inventory, now};
use crate::tui::help::Help;
use crate::tui::keymap::{self, Action, Binding, Key, Scope};
use crate::tui::mode::{Effect, Mode};
use crate::tui::viewer::Viewer;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use tui_logger::TuiWidgetEvent;

/// The demo fleet; web-01, web-02 and db-01 are also in `zone-a` (a group no name contains).
fn inventory() -> Inventory {
    demo_inventory(&[("zone-a", &["web-01", "web-02", "db-01"])])
}

/// Servers in display order (sorted by name).
const SERVERS: [&str; 9] = [
    "db-01", "db-02", "lb-01", "web-01", "web-02", "web-03", "web-04", "web-05", "web-06",
];

fn item(id: ItemId, server: &str, action: Job) -> Item {
    Item::requested(id, server, action, ago(60))
}

/// Changes the queued item at `index` (dispatch order), as the engine's next snapshot would.
pub(super) fn change_queued(app: &mut App, index: usize, change: impl FnOnce(&mut Item)) {
    let mut item = app
        .snapshot
        .queue
        .nth(index)
        .expect("no item there")
        .clone();
    change(&mut item);
    app.snapshot.queue.insert(item);
}

fn log_path(id: ItemId) -> PathBuf {
    PathBuf::from(format!("/var/lib/fleetdeck/demo/runs/{id}.log"))
}

fn run_view(item: Item) -> RunView {
    RunView {
        log_path: Some(log_path(item.id)),
        node: None,
        item,
        started_at: ago(30),
        task: Some("Gathering Facts".into()),
        tasks_started: 1,
        counts: Recap::default(),
        last_line: None,
        last_event_at: ago(1),
        stopping: None,
    }
}

/// Idle: three idle workers, nothing queued, no history.
fn idle() -> App {
    let mut app = App::new("demo", &inventory(), FleetStatus::new());
    app.snapshot = Snapshot {
        at: now(),
        target_workers: 3,
        workers: (1..=3).map(|slot| WorkerView { slot, run: None }).collect(),
        ..Snapshot::default()
    };
    app
}

/// Runs in flight: deploy of web-01 on worker 1, worker 2 idle, check of db-02 on worker 3
/// (without a log yet); three items queued; db-02's last deploy failed.
fn busy() -> App {
    let mut app = idle();
    app.snapshot.workers[0].run = Some(run_view(item(10, "web-01", Job::Deploy)));
    let mut no_log = run_view(item(11, "db-02", Job::Check));
    no_log.log_path = None;
    app.snapshot.workers[2].run = Some(no_log);
    app.snapshot.active = 2;
    let mut high = item(13, "web-03", Job::Deploy);
    high.priority = 2;
    app.snapshot.queue = QueueView::of([
        high,
        item(12, "web-02", Job::Deploy),
        item(14, "web-01", Job::Check),
    ]);
    app.status.entry("db-02".into()).or_default().insert(
        Job::Deploy,
        LastRun {
            id: 3,
            at: ago(600),
            outcome: Outcome::Failed {
                rc: Some(2),
                task: Some("Verify release checksum".into()),
                message: String::new(),
            },
            healthy: None,
            check_mode: false,
            log: Some("logs/db-02_deploy.log".into()),
            node: None,
        },
    );
    app
}

fn code(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    code(KeyCode::Char(c))
}

fn event(key: &Key) -> KeyEvent {
    KeyEvent::new(key.code, key.mods)
}

fn press(app: &mut App, keys: &[KeyEvent]) -> Vec<Effect> {
    keys.iter().flat_map(|key| app.handle_key(*key)).collect()
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| app.handle_key(ch(c))).collect()
}

fn engine(command: Command) -> Vec<Effect> {
    vec![Effect::Engine(command)]
}

fn enqueue(servers: &[&str], target: Target) -> Vec<Effect> {
    engine(Command::Enqueue(EnqueueRequest {
        servers: servers.iter().map(|s| s.to_string()).collect(),
        target,
        tags: None,
        check_mode: false,
        priority: 0,
    }))
}

fn visible(app: &App) -> Vec<&str> {
    app.visible_servers()
        .iter()
        .map(|row| row.name.as_str())
        .collect()
}

fn selection(servers: &[&str]) -> BTreeSet<String> {
    servers.iter().map(|s| s.to_string()).collect()
}

fn focus_for(scope: Scope) -> Pane {
    match scope {
        Scope::Global | Scope::Servers => Pane::Servers,
        Scope::Queue => Pane::Queue,
        Scope::Workers => Pane::Workers,
        Scope::Log => Pane::Log,
        mode => unreachable!("{mode:?} is a mode's scope, not a pane's"),
    }
}

/// The app a binding's key is pressed in: the state its action needs to show an effect.
fn before(action: Action) -> App {
    let mut app = busy();
    match action {
        Action::Up | Action::Down | Action::Top | Action::Details => {
            app.cursor.insert(Pane::Servers, 3);
        }
        Action::PageUp => {
            app.cursor.insert(Pane::Servers, 8);
        }
        Action::Back => app.filter = "web".into(),
        Action::SelectGroup => {
            app.cursor.insert(Pane::Servers, 3);
        }
        Action::Provision
        | Action::Deploy
        | Action::Check
        | Action::Chain
        | Action::EnqueueWithOptions => app.selected = selection(&["web-01", "web-02"]),
        // db-02's latest deploy failed.
        Action::Retry => app.selected = selection(&["db-02", "web-01"]),
        Action::DiscardHeld => change_queued(&mut app, 0, |item| item.held = true),
        Action::Quit => app = idle(),
        Action::Cancel | Action::RaisePriority | Action::LowerPriority | Action::Open => {
            app.cursor.insert(Pane::Queue, 1);
        }
        _ => {}
    }
    app
}

/// What `y` in the confirmation the app shows would send.
fn confirmed(app: &App) -> Vec<Effect> {
    let mut app = app.clone();
    assert!(
        matches!(app.mode, Mode::Dialog(Dialog::Confirm(_))),
        "a confirmation is open: {:?}",
        app.mode
    );
    press(&mut app, &[ch('y')])
}

/// What pressing a key bound to `action` in `scope` must do. One arm per `Action` and no
/// wildcard: a new action does not compile until it has a case here.
fn expect(action: Action, scope: Scope, app: &App, effects: &[Effect]) {
    let none: &[Effect] = &[];
    let log = |event| vec![Effect::Log(event)];
    match action {
        Action::Up => {
            assert_eq!(app.cursor(Pane::Servers), 2);
            assert_eq!(effects, none);
        }
        Action::Down => assert_eq!(app.cursor(Pane::Servers), 4),
        Action::PageUp => assert_eq!(app.cursor(Pane::Servers), 0),
        Action::PageDown => assert_eq!(app.cursor(Pane::Servers), 8),
        Action::Top => assert_eq!(app.cursor(Pane::Servers), 0),
        Action::Bottom => assert_eq!(app.cursor(Pane::Servers), 8),
        Action::NextPane => assert_eq!(app.focus, Pane::Queue),
        Action::PrevPane => assert_eq!(app.focus, Pane::Log),
        Action::Filter => {
            assert_eq!(app.mode, Mode::Filter(FilterInput));
            assert_eq!(app.focus, Pane::Servers);
        }
        Action::Back => {
            assert_eq!(app.filter, "");
            assert_eq!(effects, none);
        }
        Action::ToggleSelect => assert_eq!(app.selected, selection(&["db-01"])),
        Action::SelectAll => assert_eq!(app.selected, selection(&SERVERS)),
        Action::SelectGroup => {
            let web = &SERVERS[3..];
            assert_eq!(app.selected, selection(web));
            assert_eq!(
                app.notice.as_deref(),
                Some("selected group web (6 servers)")
            );
        }
        // Changing two servers asks first; a check changes nothing and goes at once.
        Action::Provision => {
            assert_eq!(effects, none);
            assert_eq!(
                confirmed(app),
                enqueue(&["web-01", "web-02"], Target::Action(Job::Provision))
            );
        }
        Action::Deploy => {
            assert_eq!(effects, none);
            assert_eq!(
                confirmed(app),
                enqueue(&["web-01", "web-02"], Target::Action(Job::Deploy))
            );
        }
        Action::Check => assert_eq!(
            effects,
            enqueue(&["web-01", "web-02"], Target::Action(Job::Check))
        ),
        Action::Chain => {
            assert_eq!(effects, none);
            assert_eq!(
                confirmed(app),
                enqueue(&["web-01", "web-02"], Target::Chain)
            );
        }
        Action::EnqueueWithOptions => {
            assert_eq!(
                app.mode,
                Mode::Dialog(Dialog::Enqueue(EnqueueForm::new(
                    vec!["web-01".into(), "web-02".into()],
                    Vec::new(),
                )))
            );
            assert_eq!(effects, none);
        }
        Action::WorkersUp => assert_eq!(effects, engine(Command::SetWorkers(4))),
        Action::WorkersDown => assert_eq!(effects, engine(Command::SetWorkers(2))),
        Action::SetWorkers => assert_eq!(app.mode, Mode::Dialog(Dialog::Workers(String::new()))),
        Action::Cancel => match scope {
            // The cursor is on the second queued item.
            Scope::Queue => assert_eq!(effects, engine(Command::Cancel(12))),
            // The cursor is on worker 1, which runs item 10.
            Scope::Workers => {
                assert_eq!(effects, none);
                assert_eq!(
                    app.mode,
                    Mode::Dialog(Dialog::StopRun {
                        id: 10,
                        slot: 1,
                        label: "deploy for server web-01".into(),
                    })
                );
            }
            other => panic!("Cancel bound in {other:?}"),
        },
        Action::RaisePriority => assert_eq!(
            effects,
            engine(Command::SetPriority {
                id: 12,
                priority: 1
            })
        ),
        Action::LowerPriority => assert_eq!(
            effects,
            engine(Command::SetPriority {
                id: 12,
                priority: -1
            })
        ),
        Action::TogglePause => assert_eq!(effects, engine(Command::Pause)),
        Action::Retry => {
            // Only db-02 of the selection has a failed run to retry.
            assert_eq!(
                effects,
                engine(Command::RetryFailed {
                    servers: Some(vec!["db-02".into()])
                })
            );
            assert_eq!(app.notice.as_deref(), Some("retrying deploy on db-02"));
        }
        Action::ReloadInventory => assert_eq!(effects, vec![Effect::ReloadInventory]),
        Action::DiscardHeld => {
            assert_eq!(effects, none);
            assert_eq!(confirmed(app), engine(Command::DiscardHeld));
        }
        // No rollout in the busy fleet: the footer says so (app_tests/rollouts.rs has the rest).
        Action::ContinueRollout => {
            assert_eq!(effects, none);
            assert_eq!(
                app.notice.as_deref(),
                Some("no rollout is stopped: nothing to continue")
            );
        }
        Action::AbortRollout => {
            assert_eq!(effects, none);
            assert_eq!(
                app.notice.as_deref(),
                Some("no rollout under way: nothing to abort")
            );
        }
        Action::CommandLine => assert!(matches!(app.mode, Mode::Command(_))),
        // Servers pane, cursor on db-01: no run and no history there.
        Action::Open => {
            assert_eq!(effects, none);
            assert_eq!(
                app.notice.as_deref(),
                Some("no run log for this server yet: nothing has run on it")
            );
        }
        Action::Details => assert!(app.details),
        Action::Help => assert_eq!(app.mode, Mode::Help(Help::default())),
        Action::Quit => {
            assert_eq!(effects, engine(Command::Shutdown(ShutdownMode::Wait)));
            assert_eq!(app.quitting, Some(ShutdownMode::Wait));
        }
        Action::LogMore => assert_eq!(effects, log(TuiWidgetEvent::RightKey)),
        Action::LogLess => assert_eq!(effects, log(TuiWidgetEvent::LeftKey)),
        Action::LogTargets => assert_eq!(effects, log(TuiWidgetEvent::HideKey)),
        Action::LogFocus => assert_eq!(effects, log(TuiWidgetEvent::FocusKey)),
        Action::Timeline => {
            assert!(matches!(app.mode, Mode::Timeline(_)));
            assert_eq!(effects, none);
        }
        Action::Matrix => {
            let Mode::Matrix(view) = &app.mode else {
                panic!("the matrix is open: {:?}", app.mode)
            };
            // Every server of the inventory has its row, run or not.
            assert_eq!(view.counts().1, app.servers.len());
            assert_eq!(effects, none);
        }
    }
}

#[test]
fn every_binding_of_the_key_table_does_what_it_says() {
    let mut covered = Vec::new();
    for binding in keymap::NORMAL {
        for key in binding.keys {
            let mut app = before(binding.action);
            app.focus = focus_for(binding.scope);
            let found: Option<&Binding> =
                keymap::lookup(keymap::NORMAL, app.focus.scope(), &event(key));
            assert!(
                found.is_some_and(|b| std::ptr::eq(b, binding)),
                "{} in {:?} does not reach {:?}",
                keymap::label(key),
                binding.scope,
                binding.action
            );
            let effects = app.handle_key(event(key));
            expect(binding.action, binding.scope, &app, &effects);
            covered.push(binding.action);
        }
    }
    for binding in keymap::NORMAL {
        assert!(covered.contains(&binding.action), "{:?}", binding.action);
    }
}

#[test]
fn actions_apply_to_the_selection_else_the_cursor_server() {
    let mut app = idle();
    app.cursor.insert(Pane::Servers, 4);
    assert_eq!(
        press(&mut app, &[ch('d')]),
        enqueue(&["web-02"], Target::Action(Job::Deploy))
    );
    assert_eq!(app.notice.as_deref(), Some("queued deploy on web-02"));
    press(&mut app, &[ch(' '), code(KeyCode::Down), ch(' ')]);
    // Two servers: a provision asks first, and `y` sends it.
    assert_eq!(press(&mut app, &[ch('p')]), Vec::new());
    assert_eq!(
        press(&mut app, &[ch('y')]),
        enqueue(&["web-02", "web-03"], Target::Action(Job::Provision))
    );
    assert_eq!(
        app.notice.as_deref(),
        Some("queued provision on web-02, web-03")
    );
    assert_eq!(
        press(&mut app, &[ch('c')]),
        enqueue(&["web-02", "web-03"], Target::Action(Job::Check))
    );
    assert_eq!(
        press(&mut app, &[ch('f'), ch('y')]),
        enqueue(&["web-02", "web-03"], Target::Chain)
    );
    // Space again unselects.
    press(&mut app, &[ch(' ')]);
    assert_eq!(app.selected, selection(&["web-02"]));
}

#[test]
fn nothing_is_queued_without_a_server() {
    let mut app = idle();
    app.filter = "nothing matches this".into();
    assert_eq!(press(&mut app, &[ch('d')]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("no server: select some with Space, a or g")
    );
    // And no options dialog either.
    press(&mut app, &[ch('t')]);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn select_all_and_group_follow_the_filter() {
    let mut app = idle();
    press(&mut app, &[ch('a')]);
    assert_eq!(app.selected.len(), 9);
    // Again: all were selected, so none are.
    press(&mut app, &[ch('a')]);
    assert!(app.selected.is_empty());
    app.filter = "db".into();
    press(&mut app, &[ch('a')]);
    assert_eq!(app.selected, selection(&["db-01", "db-02"]));
    // Esc clears the filter first, then the selection.
    press(&mut app, &[code(KeyCode::Esc)]);
    assert_eq!(app.filter, "");
    assert_eq!(app.selected.len(), 2);
    press(&mut app, &[code(KeyCode::Esc)]);
    assert!(app.selected.is_empty());
    // `g` on lb-01 takes its (first) group, whatever the filter shows.
    app.cursor.insert(Pane::Servers, 2);
    press(&mut app, &[ch('g')]);
    assert_eq!(app.selected, selection(&["lb-01"]));
    assert_eq!(app.notice.as_deref(), Some("selected group lb (1 servers)"));
}

#[test]
fn quick_worker_presses_add_up_before_a_snapshot_arrives() {
    let mut app = idle();
    let plus = ch('+');
    assert_eq!(
        press(&mut app, &[plus, plus, plus]),
        [4, 5, 6]
            .map(|n| Effect::Engine(Command::SetWorkers(n)))
            .to_vec()
    );
    assert_eq!(app.workers_target(), 6);
    // A snapshot of the first resize does not forget the later ones.
    let mut snapshot = app.snapshot.clone();
    snapshot.target_workers = 4;
    app.apply(EngineEvent::Snapshot(Box::new(snapshot.clone())));
    assert_eq!(press(&mut app, &[ch('=')]), engine(Command::SetWorkers(7)));
    // Once the engine has caught up, the snapshot is the truth again.
    snapshot.target_workers = 7;
    app.apply(EngineEvent::Snapshot(Box::new(snapshot)));
    assert_eq!(app.requested_workers, None);
    assert_eq!(
        press(&mut app, &[ch('-'), ch('-')]),
        vec![
            Effect::Engine(Command::SetWorkers(6)),
            Effect::Engine(Command::SetWorkers(5))
        ]
    );
    assert_eq!(app.notice.as_deref(), Some("workers → 5"));
}

#[test]
fn fewer_workers_stops_at_sequential() {
    let mut app = idle();
    app.snapshot.target_workers = 0;
    assert_eq!(press(&mut app, &[ch('-')]), engine(Command::SetWorkers(0)));
}

#[test]
fn workers_dialog_takes_a_number() {
    let mut app = idle();
    press(&mut app, &[ch('w')]);
    // Letters are ignored; digits are typed.
    assert_eq!(type_text(&mut app, "x1z2"), Vec::new());
    assert_eq!(app.mode, Mode::Dialog(Dialog::Workers("12".into())));
    press(&mut app, &[code(KeyCode::Backspace)]);
    assert_eq!(
        press(&mut app, &[code(KeyCode::Enter)]),
        engine(Command::SetWorkers(1))
    );
    assert_eq!(app.mode, Mode::Normal);
    // Empty: a notice, nothing sent.
    press(&mut app, &[ch('w')]);
    assert_eq!(press(&mut app, &[code(KeyCode::Enter)]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("workers unchanged: no number typed")
    );
    // Esc closes.
    press(&mut app, &[ch('w'), ch('4'), code(KeyCode::Esc)]);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn x_cancels_a_queued_item_and_asks_before_stopping_a_run() {
    let mut app = busy();
    app.focus = Pane::Queue;
    assert_eq!(press(&mut app, &[ch('x')]), engine(Command::Cancel(13)));
    app.cursor.insert(Pane::Queue, 2);
    assert_eq!(
        press(&mut app, &[code(KeyCode::Delete)]),
        engine(Command::Cancel(14))
    );

    app.focus = Pane::Workers;
    // i: graceful interrupt.
    assert_eq!(press(&mut app, &[ch('x')]), Vec::new());
    assert!(matches!(
        app.mode,
        Mode::Dialog(Dialog::StopRun {
            id: 10,
            slot: 1,
            ..
        })
    ));
    assert_eq!(press(&mut app, &[ch('i')]), engine(Command::Cancel(10)));
    assert_eq!(app.mode, Mode::Normal);
    // k: kill.
    assert_eq!(
        press(&mut app, &[ch('x'), ch('k')]),
        engine(Command::Kill(10))
    );
    assert_eq!(app.mode, Mode::Normal);
    // Esc: keep it running; other keys do nothing while the dialog is open.
    assert_eq!(
        press(&mut app, &[ch('x'), ch('q'), ch('d'), code(KeyCode::Esc)]),
        Vec::new()
    );
    assert_eq!(app.mode, Mode::Normal);
    // The third worker's run, by its own id and slot.
    app.cursor.insert(Pane::Workers, 2);
    press(&mut app, &[ch('x')]);
    assert!(matches!(
        app.mode,
        Mode::Dialog(Dialog::StopRun {
            id: 11,
            slot: 3,
            ..
        })
    ));
    press(&mut app, &[code(KeyCode::Esc)]);
    // A run on an execution node: the dialog names the node.
    if let Some(run) = app.snapshot.workers[2].run.as_mut() {
        run.node = Some("exec-a".into());
    }
    press(&mut app, &[ch('x')]);
    match &app.mode {
        Mode::Dialog(Dialog::StopRun { label, .. }) => {
            assert_eq!(label, "check for server db-02 · on exec-a")
        }
        other => panic!("the stop dialog, not {other:?}"),
    }
    press(&mut app, &[code(KeyCode::Esc)]);
    // An idle worker has nothing to stop.
    app.cursor.insert(Pane::Workers, 1);
    assert_eq!(press(&mut app, &[ch('x')]), Vec::new());
    assert_eq!(app.mode, Mode::Normal);
    // Nothing to cancel in the servers pane, nor in an empty queue.
    app.focus = Pane::Servers;
    assert_eq!(press(&mut app, &[ch('x')]), Vec::new());
    let mut empty = idle();
    empty.focus = Pane::Queue;
    assert_eq!(press(&mut empty, &[ch('x'), ch('K'), ch('J')]), Vec::new());
}

#[test]
fn priority_keys_move_the_cursor_item() {
    let mut app = busy();
    app.focus = Pane::Queue;
    assert_eq!(
        press(&mut app, &[ch('K')]),
        engine(Command::SetPriority {
            id: 13,
            priority: 3
        })
    );
    assert_eq!(
        press(
            &mut app,
            &[KeyEvent::new(KeyCode::Char('J'), KeyModifiers::SHIFT)]
        ),
        engine(Command::SetPriority {
            id: 13,
            priority: 1
        })
    );
}

#[test]
fn pause_and_resume() {
    let mut app = busy();
    assert_eq!(press(&mut app, &[ch('P')]), engine(Command::Pause));
    app.snapshot.paused = Some("operator".into());
    assert_eq!(
        press(&mut app, &[ch('P')]),
        engine(Command::Resume { release_held: true })
    );
    // Not paused, but holding an earlier session's items: P lets them run, once the operator
    // has seen what they are.
    app.snapshot.paused = None;
    change_queued(&mut app, 0, |item| item.held = true);
    assert_eq!(press(&mut app, &[ch('P')]), Vec::new());
    let Mode::Dialog(Dialog::Confirm(confirm)) = &app.mode else {
        panic!("P asks first: {:?}", app.mode);
    };
    assert_eq!(
        confirm.question,
        "run the 1 held item from an earlier session?"
    );
    assert_eq!(confirm.items, ["deploy on web-03"]);
    assert_eq!(
        press(&mut app, &[ch('y')]),
        engine(Command::Resume { release_held: true })
    );
}

#[test]
fn retry_takes_the_selection_or_everything() {
    let mut app = busy();
    let db02 = || {
        engine(Command::RetryFailed {
            servers: Some(vec!["db-02".into()]),
        })
    };
    // db-02's latest deploy failed (in this session or an earlier one: the status is the
    // journal's), and `r` names it.
    assert_eq!(press(&mut app, &[ch('r')]), db02());
    assert_eq!(app.notice.as_deref(), Some("retrying deploy on db-02"));
    app.selected = selection(&["db-02"]);
    assert_eq!(press(&mut app, &[ch('r')]), db02());
    // Nothing failed among the selection: nothing is sent, and the footer says so.
    app.selected = selection(&["web-01"]);
    assert_eq!(press(&mut app, &[ch('r')]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("nothing to retry: no failed run among the selection")
    );
    // No selection: the servers shown. A filter hiding db-02 leaves nothing to retry.
    app.selected.clear();
    app.filter = "web".into();
    assert_eq!(press(&mut app, &[ch('r')]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("nothing to retry: no failed run among the servers shown")
    );
    // A selection the filter hides: asked first, naming it.
    app.selected = selection(&["db-02"]);
    assert_eq!(press(&mut app, &[ch('r')]), Vec::new());
    let Mode::Dialog(Dialog::Confirm(confirm)) = &app.mode else {
        panic!("r asks first: {:?}", app.mode);
    };
    assert_eq!(
        confirm.question,
        "retry 1 run, on 1 server hidden by the filter: db-02?"
    );
    assert_eq!(press(&mut app, &[ch('y')]), db02());
    // An interrupted run is retried like a failure.
    app.filter.clear();
    app.selected.clear();
    app.status
        .get_mut("db-02")
        .unwrap()
        .get_mut(&Job::Deploy)
        .unwrap()
        .outcome = Outcome::Interrupted;
    assert_eq!(press(&mut app, &[ch('r')]), db02());
    // Several servers to re-run changes on: asked, as a deploy would be.
    let failed = app.status["db-02"][&Job::Deploy].clone();
    app.status
        .entry("web-04".into())
        .or_default()
        .insert(Job::Provision, failed);
    assert_eq!(press(&mut app, &[ch('r')]), Vec::new());
    assert_eq!(
        press(&mut app, &[ch('y')]),
        engine(Command::RetryFailed {
            servers: Some(vec!["db-02".into(), "web-04".into()])
        })
    );
    assert_eq!(
        app.notice.as_deref(),
        Some("retrying deploy on db-02, provision on web-04")
    );
}

#[test]
fn enter_opens_the_run_log() {
    let mut app = busy();
    app.focus = Pane::Workers;
    assert_eq!(
        press(&mut app, &[code(KeyCode::Enter)]),
        vec![Effect::OpenLog {
            title: "deploy for server web-01".into(),
            path: log_path(10),
        }]
    );
    // A run without a log yet, and an idle worker.
    for (slot, says) in [
        (2, "this run has not opened its log yet"),
        (1, "this worker is idle: no run log"),
    ] {
        app.cursor.insert(Pane::Workers, slot);
        assert_eq!(press(&mut app, &[code(KeyCode::Enter)]), Vec::new());
        assert_eq!(app.notice.as_deref(), Some(says));
    }
    // Servers pane: the running run of the cursor server...
    app.focus = Pane::Servers;
    app.cursor.insert(Pane::Servers, 3);
    assert_eq!(
        press(&mut app, &[code(KeyCode::Enter)]),
        vec![Effect::OpenLog {
            title: "deploy for server web-01".into(),
            path: log_path(10),
        }]
    );
    // ... else its latest finished run with a log.
    for (id, action) in [(5, Job::Provision), (6, Job::Deploy)] {
        app.apply(EngineEvent::Finished(finished(
            item(id, "web-02", action),
            Some(2),
            Outcome::Succeeded,
        )));
    }
    app.cursor.insert(Pane::Servers, 4);
    assert_eq!(
        press(&mut app, &[code(KeyCode::Enter)]),
        vec![Effect::OpenLog {
            title: "deploy for server web-02".into(),
            path: log_path(6),
        }]
    );
    // A run cut (fleetdeck killed) before it opened its log: it ran, and the notice says so.
    app.status.entry("lb-01".into()).or_default().insert(
        Job::Provision,
        LastRun {
            id: 7,
            at: ago(60),
            outcome: Outcome::Interrupted,
            healthy: None,
            check_mode: false,
            log: None,
            node: None,
        },
    );
    app.cursor.insert(Pane::Servers, 2);
    assert_eq!(press(&mut app, &[code(KeyCode::Enter)]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("no run log recorded for lb-01: its provision (interrupted) ended before one was")
    );
    // Nothing to open in the queue pane.
    app.focus = Pane::Queue;
    assert_eq!(press(&mut app, &[code(KeyCode::Enter)]), Vec::new());
}

#[test]
fn help_opens_and_any_key_closes_it() {
    let mut app = busy();
    press(&mut app, &[ch('?')]);
    assert_eq!(app.mode, Mode::Help(Help::default()));
    // `q` closes the help; it does not quit.
    assert_eq!(press(&mut app, &[ch('q')]), Vec::new());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.quitting, None);
    press(&mut app, &[ch('?'), code(KeyCode::Esc)]);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn filter_narrows_by_name_group_and_status_word() {
    let mut app = busy();
    app.cursor.insert(Pane::Servers, 5);
    press(&mut app, &[ch('/')]);
    assert_eq!(app.mode, Mode::Filter(FilterInput));
    // Keys are text while filtering: `d` does not deploy, `q` does not quit.
    assert_eq!(type_text(&mut app, "web"), Vec::new());
    assert_eq!(visible(&app), &SERVERS[3..]);
    assert_eq!(app.cursor(Pane::Servers), 0);
    press(&mut app, &[code(KeyCode::Backspace); 3]);
    type_text(&mut app, "zone");
    assert_eq!(visible(&app), ["db-01", "web-01", "web-02"]);
    // Enter keeps the filter.
    press(&mut app, &[code(KeyCode::Enter)]);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.filter, "zone");
    // Status words: the last outcome, a run in flight, a queued item.
    for (word, servers) in [
        ("failed", &["db-02"][..]),
        ("running", &["db-02", "web-01"][..]),
        ("queued", &["web-01", "web-02", "web-03"][..]),
        ("FAILED", &["db-02"][..]),
    ] {
        app.filter = word.into();
        assert_eq!(visible(&app), servers, "{word}");
    }
    // Esc while typing clears it.
    press(&mut app, &[ch('/'), ch('x'), code(KeyCode::Esc)]);
    assert_eq!(app.filter, "");
    assert_eq!(visible(&app).len(), 9);
}

#[test]
fn quit_asks_while_runs_are_in_flight() {
    let mut app = busy();
    assert_eq!(press(&mut app, &[ch('q')]), Vec::new());
    assert_eq!(app.mode, Mode::Dialog(Dialog::Quit));
    // Esc: stay.
    assert_eq!(press(&mut app, &[code(KeyCode::Esc)]), Vec::new());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.quitting, None);
    // w: wait for the runs.
    assert_eq!(
        press(&mut app, &[ch('q'), ch('w')]),
        engine(Command::Shutdown(ShutdownMode::Wait))
    );
    assert_eq!(app.quitting, Some(ShutdownMode::Wait));
    assert_eq!(app.mode, Mode::Normal);
    // c: cancel them (Ctrl-C opens the same dialog).
    let mut app = busy();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(
        press(&mut app, &[ctrl_c, ch('c')]),
        engine(Command::Shutdown(ShutdownMode::Cancel))
    );
    assert_eq!(app.quitting, Some(ShutdownMode::Cancel));
}

#[test]
fn quit_when_idle_waits_without_asking() {
    let mut app = idle();
    assert_eq!(
        press(&mut app, &[ch('q')]),
        engine(Command::Shutdown(ShutdownMode::Wait))
    );
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.quitting, Some(ShutdownMode::Wait));
}

#[test]
fn tab_and_shift_tab_cycle_the_panes() {
    let mut app = idle();
    let mut seen = Vec::new();
    for _ in 0..4 {
        press(&mut app, &[code(KeyCode::Tab)]);
        seen.push(app.focus);
    }
    assert_eq!(seen, [Pane::Queue, Pane::Workers, Pane::Log, Pane::Servers]);
    let back_tab = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
    seen.clear();
    for _ in 0..4 {
        press(&mut app, &[back_tab]);
        seen.push(app.focus);
    }
    assert_eq!(seen, [Pane::Log, Pane::Workers, Pane::Queue, Pane::Servers]);
}

#[test]
fn cursor_keys_stay_within_each_pane() {
    let up = code(KeyCode::Up);
    let down = code(KeyCode::Down);
    let (home, end) = (code(KeyCode::Home), code(KeyCode::End));
    let (page_up, page_down) = (code(KeyCode::PageUp), code(KeyCode::PageDown));
    for (pane, len) in [(Pane::Servers, 9), (Pane::Queue, 3), (Pane::Workers, 3)] {
        let mut app = busy();
        app.focus = pane;
        press(&mut app, &[up, ch('k')]);
        assert_eq!(app.cursor(pane), 0, "{pane:?}");
        press(&mut app, &[down, ch('j')]);
        assert_eq!(app.cursor(pane), 2, "{pane:?}");
        press(&mut app, &[page_down]);
        assert_eq!(app.cursor(pane), len - 1, "{pane:?}");
        press(&mut app, &[down]);
        assert_eq!(app.cursor(pane), len - 1, "{pane:?}");
        press(&mut app, &[page_up]);
        assert_eq!(app.cursor(pane), 0, "{pane:?}");
        press(&mut app, &[end]);
        assert_eq!(app.cursor(pane), len - 1, "{pane:?}");
        press(&mut app, &[home]);
        assert_eq!(app.cursor(pane), 0, "{pane:?}");
    }
    // An empty queue keeps its cursor at 0.
    let mut app = idle();
    app.focus = Pane::Queue;
    press(&mut app, &[down, end, page_down]);
    assert_eq!(app.cursor(Pane::Queue), 0);
    // A shrinking list pulls the cursor back in.
    let mut app = busy();
    app.cursor.insert(Pane::Servers, 8);
    app.filter = "db".into();
    assert_eq!(app.cursor(Pane::Servers), 1);
    assert_eq!(app.cursor_server().as_deref(), Some("db-02"));
}

#[test]
fn log_pane_keys_go_to_the_log_widget() {
    let mut app = busy();
    app.focus = Pane::Log;
    app.filter = "web".into();
    let effects = press(
        &mut app,
        &[
            code(KeyCode::PageUp),
            code(KeyCode::PageDown),
            code(KeyCode::Esc),
            ch('h'),
            ch('f'),
            code(KeyCode::Left),
            code(KeyCode::Right),
        ],
    );
    let events = [
        TuiWidgetEvent::PrevPageKey,
        TuiWidgetEvent::NextPageKey,
        TuiWidgetEvent::EscapeKey,
        TuiWidgetEvent::HideKey,
        TuiWidgetEvent::FocusKey,
        TuiWidgetEvent::LeftKey,
        TuiWidgetEvent::RightKey,
    ];
    assert_eq!(effects, events.map(Effect::Log).to_vec());
    // Esc went to the widget (leaving its page mode) and did its usual back: the filter is gone.
    assert_eq!(app.filter, "");
}

#[test]
fn esc_in_the_log_pane_also_goes_back() {
    let mut app = busy();
    app.focus = Pane::Log;
    app.selected = selection(&["web-01"]);
    app.filter = "web".into();
    let esc = || vec![Effect::Log(TuiWidgetEvent::EscapeKey)];
    // Each Esc reaches the widget; the back steps go as in any pane: filter, then selection.
    assert_eq!(press(&mut app, &[code(KeyCode::Esc)]), esc());
    assert_eq!((app.filter.as_str(), app.selected.len()), ("", 1));
    assert_eq!(press(&mut app, &[code(KeyCode::Esc)]), esc());
    assert!(app.selected.is_empty());
    assert_eq!(app.focus, Pane::Log);
}

/// Puts an app in some mode.
type Enter = fn(&mut App);

/// Every mode Ctrl-C can be pressed in, with how to get there.
fn modes_for_ctrl_c() -> Vec<(&'static str, Enter)> {
    vec![
        ("normal", |_| {}),
        ("log pane", |app| app.focus = Pane::Log),
        ("filter", |app| {
            press(app, &[ch('/'), ch('w')]);
        }),
        ("help", |app| {
            press(app, &[ch('?')]);
        }),
        ("options dialog, tags field", |app| {
            press(app, &[ch('t'), code(KeyCode::Tab)]);
            type_text(app, "web");
        }),
        ("options dialog, priority field", |app| {
            press(app, &[ch('t'), code(KeyCode::BackTab)]);
        }),
        ("workers dialog", |app| {
            press(app, &[ch('w'), ch('4')]);
        }),
        ("stop dialog", |app| {
            app.mode = Mode::Dialog(Dialog::StopRun {
                id: 10,
                slot: 1,
                label: "deploy for server web-01".into(),
            });
        }),
        ("quit dialog", |app| app.mode = Mode::Dialog(Dialog::Quit)),
        ("viewer", |app| {
            app.mode = Mode::Viewer(Viewer::new("log".into(), log_path(10), "a\nb\n"));
        }),
        ("viewer search", |app| {
            app.mode = Mode::Viewer(Viewer::new("log".into(), log_path(10), "a\nb\n"));
            press(app, &[ch('/'), ch('x')]);
        }),
    ]
}

#[test]
fn ctrl_c_quits_from_every_mode() {
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    for (name, enter) in modes_for_ctrl_c() {
        // Idle: it quits at once, whatever was open closes.
        let mut app = idle();
        app.selected = selection(&["web-01"]);
        enter(&mut app);
        let filter = app.filter.clone();
        assert_eq!(
            press(&mut app, &[ctrl_c]),
            engine(Command::Shutdown(ShutdownMode::Wait)),
            "{name}"
        );
        assert_eq!(app.mode, Mode::Normal, "{name}");
        assert_eq!(app.quitting, Some(ShutdownMode::Wait), "{name}");
        // It was not typed anywhere.
        assert_eq!(app.filter, filter, "{name}");
        assert!(!app.filter.contains('c'), "{name}");

        // Runs in flight: it asks, as q does; c then cancels them.
        let mut app = busy();
        app.selected = selection(&["web-01"]);
        enter(&mut app);
        assert_eq!(press(&mut app, &[ctrl_c]), Vec::new(), "{name}");
        assert_eq!(app.mode, Mode::Dialog(Dialog::Quit), "{name}");
        assert_eq!(app.quitting, None, "{name}");
        assert_eq!(
            press(&mut app, &[ch('c')]),
            engine(Command::Shutdown(ShutdownMode::Cancel)),
            "{name}"
        );
        assert_eq!(app.quitting, Some(ShutdownMode::Cancel), "{name}");
    }
    // Some terminals report it as an upper-case C.
    let mut app = idle();
    press(&mut app, &[ch('/')]);
    let shifted = KeyEvent::new(
        KeyCode::Char('C'),
        KeyModifiers::CONTROL | KeyModifiers::SHIFT,
    );
    assert_eq!(
        press(&mut app, &[shifted]),
        engine(Command::Shutdown(ShutdownMode::Wait))
    );
    assert_eq!((app.mode, app.filter.as_str()), (Mode::Normal, ""));
}

fn open_form(app: &mut App) -> EnqueueForm {
    press(app, &[ch('t')]);
    form(app)
}

fn form(app: &App) -> EnqueueForm {
    match &app.mode {
        Mode::Dialog(Dialog::Enqueue(form)) => form.clone(),
        other => panic!("no enqueue form: {other:?}"),
    }
}

#[test]
fn enqueue_dialog_fields() {
    let mut app = idle();
    app.selected = selection(&["web-01", "web-02"]);
    let start = open_form(&mut app);
    assert_eq!(start.servers, ["web-01", "web-02"]);
    assert_eq!(start.field, Field::Action);
    assert_eq!(start.target, Target::Action(Job::Deploy));

    // Space cycles the action.
    let mut targets = Vec::new();
    for _ in 0..4 {
        press(&mut app, &[ch(' ')]);
        targets.push(form(&app).target);
    }
    assert_eq!(
        targets,
        [
            Target::Action(Job::Check),
            Target::Chain,
            Target::Action(Job::Provision),
            Target::Action(Job::Deploy),
        ]
    );
    // Typing on the action field does nothing (and `q` does not quit).
    assert_eq!(type_text(&mut app, "qd"), Vec::new());
    assert_eq!(form(&app).target, Target::Action(Job::Deploy));

    // Tab through the fields, and Shift-Tab back round.
    let mut fields = Vec::new();
    for _ in 0..4 {
        press(&mut app, &[code(KeyCode::Tab)]);
        fields.push(form(&app).field);
    }
    assert_eq!(
        fields,
        [
            Field::Tags,
            Field::CheckMode,
            Field::Priority,
            Field::Action
        ]
    );
    press(
        &mut app,
        &[KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)],
    );
    assert_eq!(form(&app).field, Field::Priority);
    press(&mut app, &[code(KeyCode::Tab), code(KeyCode::Tab)]);
    assert_eq!(form(&app).field, Field::Tags);

    // Tags: any text, Space included, Backspace edits.
    type_text(&mut app, "nginx, configx");
    press(&mut app, &[code(KeyCode::Backspace)]);
    assert_eq!(form(&app).tags, "nginx, config");

    // Check mode: Space toggles.
    press(&mut app, &[code(KeyCode::Tab), ch(' ')]);
    assert!(form(&app).check_mode);
    press(&mut app, &[ch(' ')]);
    assert!(!form(&app).check_mode);
    press(&mut app, &[ch(' ')]);

    // Priority: digits and minus only.
    press(&mut app, &[code(KeyCode::Tab), code(KeyCode::Backspace)]);
    type_text(&mut app, "-1a2");
    assert_eq!(form(&app).priority, "-12");

    // Enter queues for the form's servers (two: after a confirmation), and the selection is
    // left as it was.
    assert_eq!(
        press(&mut app, &[code(KeyCode::Enter), ch('y')]),
        engine(Command::Enqueue(EnqueueRequest {
            servers: vec!["web-01".into(), "web-02".into()],
            target: Target::Action(Job::Deploy),
            tags: Some(vec!["nginx".into(), "config".into()]),
            check_mode: true,
            priority: -12,
        }))
    );
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.selected, selection(&["web-01", "web-02"]));
}

#[test]
fn enqueue_dialog_defaults_to_the_cursor_server_and_default_tags() {
    let mut app = idle();
    app.cursor.insert(Pane::Servers, 2);
    assert_eq!(open_form(&mut app).servers, ["lb-01"]);
    // Chain, blank tags (the config's defaults), priority 7.
    press(&mut app, &[ch(' '), ch(' ')]);
    press(&mut app, &[code(KeyCode::Tab)]);
    type_text(&mut app, "   ");
    press(&mut app, &[code(KeyCode::Tab), code(KeyCode::Tab)]);
    press(&mut app, &[code(KeyCode::Backspace)]);
    type_text(&mut app, "7");
    assert_eq!(
        press(&mut app, &[code(KeyCode::Enter)]),
        engine(Command::Enqueue(EnqueueRequest {
            servers: vec!["lb-01".into()],
            target: Target::Chain,
            tags: None,
            check_mode: false,
            priority: 7,
        }))
    );
    // The form did not leave a selection behind.
    assert!(app.selected.is_empty());
}

#[test]
fn enqueue_dialog_rejects_a_bad_priority() {
    let mut app = idle();
    open_form(&mut app);
    press(
        &mut app,
        &[KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)],
    );
    assert_eq!(form(&app).field, Field::Priority);
    type_text(&mut app, "-");
    assert_eq!(form(&app).priority, "0-");
    assert_eq!(press(&mut app, &[code(KeyCode::Enter)]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("priority `0-` is not a whole number")
    );
    // The dialog stays open to fix it.
    assert_eq!(form(&app).priority, "0-");
    press(
        &mut app,
        &[code(KeyCode::Backspace), code(KeyCode::Backspace)],
    );
    assert_eq!(press(&mut app, &[code(KeyCode::Enter)]), Vec::new());
    assert!(app.notice.is_some());
    // Esc closes without queueing.
    assert_eq!(press(&mut app, &[code(KeyCode::Esc)]), Vec::new());
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn viewer_keys_scroll_search_and_close() {
    let mut app = idle();
    let text = "PLAY [x]\nTASK [a]\nok: [web-01]\nTASK [b]\nchanged: [web-01]\nPLAY RECAP";
    app.mode = Mode::Viewer(Viewer::new(
        "deploy for server web-01".into(),
        log_path(1),
        text,
    ));
    let viewer = |app: &App| match &app.mode {
        Mode::Viewer(viewer) => viewer.clone(),
        other => panic!("no viewer: {other:?}"),
    };
    assert!(viewer(&app).follow);
    assert_eq!(viewer(&app).scroll, 5);
    press(&mut app, &[code(KeyCode::Home)]);
    assert_eq!((viewer(&app).scroll, viewer(&app).follow), (0, false));
    // Search: typed keys are text, Enter jumps to the next hit, n and N move between hits.
    press(&mut app, &[ch('/')]);
    type_text(&mut app, "TASK");
    press(&mut app, &[code(KeyCode::Enter)]);
    assert_eq!(viewer(&app).scroll, 1);
    press(&mut app, &[ch('n')]);
    assert_eq!(viewer(&app).scroll, 3);
    press(&mut app, &[ch('n')]);
    assert_eq!(viewer(&app).scroll, 1);
    press(&mut app, &[ch('N')]);
    assert_eq!(viewer(&app).scroll, 3);
    press(&mut app, &[code(KeyCode::PageDown)]);
    assert_eq!(viewer(&app).scroll, 5);
    press(&mut app, &[ch('F')]);
    assert!(viewer(&app).follow);
    // q closes the viewer; it does not quit.
    assert_eq!(press(&mut app, &[ch('q')]), Vec::new());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.quitting, None);
}

#[test]
fn viewer_appends_what_the_log_grew_by() {
    let mut viewer = Viewer::new("log".into(), log_path(10), "PLAY [x]\nTASK [a]\nok: [web");
    assert_eq!(viewer.lines, ["PLAY [x]", "TASK [a]", "ok: [web"]);
    // The unfinished line is not counted as read: the next read starts with it again.
    assert_eq!((viewer.read_to, viewer.partial), (18, true));
    assert_eq!(viewer.scroll, 2);
    viewer.append(b"ok: [web-01]\n\nTASK [b]\n");
    assert_eq!(
        viewer.lines,
        ["PLAY [x]", "TASK [a]", "ok: [web-01]", "", "TASK [b]"]
    );
    assert_eq!((viewer.read_to, viewer.partial), (18 + 23, false));
    assert_eq!(viewer.scroll, 4);
    // Nothing new: nothing changes.
    let before = viewer.clone();
    viewer.append(b"");
    assert_eq!(viewer, before);
    // Not following: the view stays where it is while lines arrive.
    viewer.follow = false;
    viewer.scroll = 1;
    viewer.append(b"changed: [web-01]\r\nPLAY RECAP");
    assert_eq!(viewer.lines[5..], ["changed: [web-01]", "PLAY RECAP"]);
    assert_eq!((viewer.scroll, viewer.partial), (1, true));
    // A multi-byte character cut by the read shows replaced, then whole once it is complete.
    let mut viewer = Viewer::new("log".into(), log_path(10), "");
    assert_eq!((viewer.lines.len(), viewer.read_to), (0, 0));
    let text = "état: ok\n".as_bytes();
    viewer.append(&text[..1]);
    assert_eq!(viewer.lines, ["\u{FFFD}"]);
    viewer.append(text);
    assert_eq!(viewer.lines, ["état: ok"]);
    assert_eq!(viewer.read_to, text.len() as u64);
}

#[test]
fn viewer_reads_only_the_bytes_appended_since_the_last_read() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("10-deploy-web-01.log");
    std::fs::write(&path, "PLAY [x]\nTASK [a]\nok: [w").unwrap();
    let mut viewer = Viewer::open("deploy".into(), path.clone());
    assert_eq!(viewer.lines, ["PLAY [x]", "TASK [a]", "ok: [w"]);
    assert!(viewer.follow);
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    write!(log, "eb-01]\nTASK [b]\n").unwrap();
    viewer.read_more().unwrap();
    assert_eq!(
        viewer.lines,
        ["PLAY [x]", "TASK [a]", "ok: [web-01]", "TASK [b]"]
    );
    assert_eq!(viewer.read_to, std::fs::metadata(&path).unwrap().len());
    assert_eq!(viewer.scroll, 3);
    // The bytes already read are not read again: changing them shows nothing.
    let mut text = std::fs::read(&path).unwrap();
    text[0] = b'X';
    text.extend_from_slice(b"PLAY RECAP\n");
    std::fs::write(&path, &text).unwrap();
    viewer.read_more().unwrap();
    assert_eq!(viewer.lines[0], "PLAY [x]");
    assert_eq!(viewer.lines[4], "PLAY RECAP");
    // A log that shrank was rewritten: read again from its start.
    std::fs::write(&path, "new\n").unwrap();
    viewer.read_more().unwrap();
    assert_eq!(
        (viewer.lines.clone(), viewer.read_to),
        (vec!["new".into()], 4)
    );
    // A log that cannot be read says so.
    let missing = Viewer::open("deploy".into(), dir.path().join("nope.log"));
    assert_eq!(missing.lines.len(), 1);
    assert!(
        missing.lines[0].starts_with("cannot read "),
        "{:?}",
        missing.lines
    );
}

#[test]
fn only_the_log_of_a_run_in_flight_is_live() {
    let mut app = busy();
    assert!(!app.viewing_live_log());
    // Worker 1 runs item 10: its log grows.
    app.mode = Mode::Viewer(Viewer::new("log".into(), log_path(10), "a\n"));
    assert!(app.viewing_live_log());
    // An older run's log does not.
    app.mode = Mode::Viewer(Viewer::new("log".into(), log_path(3), "a\n"));
    assert!(!app.viewing_live_log());
    // Nor item 10's once it finished, nor anything when idle.
    let mut app = idle();
    app.mode = Mode::Viewer(Viewer::new("log".into(), log_path(10), "a\n"));
    assert!(!app.viewing_live_log());
}

fn finished(item: Item, slot: Option<Slot>, outcome: Outcome) -> FinishedRun {
    FinishedRun {
        log_path: slot.map(|_| log_path(item.id)),
        retried: false,
        ran: slot.map(|slot| RanOn {
            slot,
            started_at: ago(30),
        }),
        item,
        outcome,
        recap: None,
        duration: Duration::from_secs(42),
    }
}

#[test]
fn finished_runs_update_status_and_the_eta() {
    let mut app = busy();
    let key = ("web-01".to_string(), Job::Deploy);
    // A success on a worker: status and the duration the gauge compares with.
    let effects = app.apply(EngineEvent::Finished(finished(
        item(10, "web-01", Job::Deploy),
        Some(1),
        Outcome::Succeeded,
    )));
    assert_eq!(effects, Vec::new());
    assert_eq!(app.last_duration.get(&key), Some(&Duration::from_secs(42)));
    let last = &app.status["web-01"][&Job::Deploy];
    assert_eq!(
        (last.id, last.at, &last.outcome),
        (10, now(), &Outcome::Succeeded)
    );

    // A failure: the status says so, the ETA keeps the last success.
    let mut failure = finished(
        item(15, "web-01", Job::Deploy),
        Some(2),
        Outcome::Failed {
            rc: Some(2),
            task: None,
            message: String::new(),
        },
    );
    failure.duration = Duration::from_secs(5);
    app.apply(EngineEvent::Finished(failure));
    assert_eq!(app.last_duration.get(&key), Some(&Duration::from_secs(42)));
    assert_eq!(app.status["web-01"][&Job::Deploy].id, 15);
    assert_eq!(app.status["web-01"][&Job::Deploy].outcome.label(), "failed");

    // A queued item cancelled before it ran: history only, the status is untouched.
    app.apply(EngineEvent::Finished(finished(
        item(16, "web-01", Job::Deploy),
        None,
        Outcome::Cancelled { during_task: None },
    )));
    assert_eq!(app.status["web-01"][&Job::Deploy].id, 15);
    assert_eq!(app.history.len(), 3);

    // Its health check result lands on that deploy, not an older one.
    app.apply(EngineEvent::Health {
        deploy: 10,
        server: "web-01".into(),
        healthy: false,
    });
    assert_eq!(app.status["web-01"][&Job::Deploy].healthy, None);
    app.apply(EngineEvent::Health {
        deploy: 15,
        server: "web-01".into(),
        healthy: false,
    });
    assert_eq!(app.status["web-01"][&Job::Deploy].healthy, Some(false));
}

#[test]
fn snapshots_time_the_busy_period() {
    let mut app = idle();
    let mut snapshot = app.snapshot.clone();
    snapshot.at = ago(100);
    snapshot.active = 1;
    app.apply(EngineEvent::Snapshot(Box::new(snapshot.clone())));
    assert_eq!(app.busy_since, Some(ago(100)));
    snapshot.at = ago(40);
    app.apply(EngineEvent::Snapshot(Box::new(snapshot.clone())));
    assert_eq!(app.busy_since, Some(ago(100)));
    snapshot.at = now();
    snapshot.active = 0;
    assert_eq!(
        app.apply(EngineEvent::Snapshot(Box::new(snapshot.clone()))),
        Vec::new()
    );
    assert_eq!(app.busy_since, None);
    assert_eq!(app.busy_total, Duration::from_secs(100));
    assert_eq!(app.snapshot, snapshot);
    assert_eq!(app.apply(EngineEvent::Idle), Vec::new());
    // A retry later in the session adds to the clock instead of starting it again at 0:00.
    snapshot.active = 1;
    app.apply(EngineEvent::Snapshot(Box::new(snapshot.clone())));
    snapshot.at = now() + chrono::TimeDelta::seconds(20);
    snapshot.active = 0;
    app.apply(EngineEvent::Snapshot(Box::new(snapshot.clone())));
    assert_eq!(app.busy_total, Duration::from_secs(120));
}

#[test]
fn stopped_engine_closes_the_dashboard() {
    let mut app = busy();
    assert_eq!(app.apply(EngineEvent::Stopped), vec![Effect::Exit]);
}

#[path = "app_tests/trust.rs"]
mod trust;

#[path = "app_tests/rollouts.rs"]
mod rollouts;

#[path = "app_tests/views.rs"]
mod views;
