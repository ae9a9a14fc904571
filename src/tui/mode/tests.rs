//! The mode interface: keys reach a mode through the key table, the help lists them, and a
//! mode's reply is applied by the dashboard.

use super::*;
use crate::engine::Snapshot;
use crate::engine::snapshot::WorkerView;
use crate::status::FleetStatus;
use crate::tui::app::App;
use crate::tui::fixtures::{demo_inventory, now};
use crate::tui::keymap::{Key, MODES, SECTIONS, labels};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A mode as a new one would be written: it records what the table said of each key.
struct Recorder {
    scope: Scope,
    heard: Vec<Option<ModeAction>>,
}

impl ModeKeys for Recorder {
    fn scope(&self) -> Scope {
        self.scope
    }

    fn key(&mut self, bound: Option<ModeAction>, _: &KeyEvent, _: &Context) -> Reply {
        self.heard.push(bound);
        Reply::Stay
    }
}

fn event(key: &Key) -> KeyEvent {
    KeyEvent::new(key.code, key.mods)
}

fn idle() -> App {
    let mut app = App::new("demo", &demo_inventory(&[]), FleetStatus::new());
    app.snapshot = Snapshot {
        at: now(),
        target_workers: 3,
        workers: (1..=3).map(|slot| WorkerView { slot, run: None }).collect(),
        ..Snapshot::default()
    };
    app
}

#[test]
fn every_key_bound_in_the_table_reaches_its_mode_as_its_action() {
    let timeline = crate::timeline::Timeline::default();
    let cx = Context {
        servers: &[],
        filter: "",
        timeline: &timeline,
        now: chrono::DateTime::UNIX_EPOCH,
        width: 100,
        height: 30,
    };
    for binding in MODES {
        for key in binding.keys {
            let mut mode = Recorder {
                scope: binding.scope,
                heard: Vec::new(),
            };
            press(&mut mode, &event(key), &cx);
            assert_eq!(
                mode.heard,
                [Some(binding.action)],
                "{} in {:?}",
                crate::tui::keymap::label(key),
                binding.scope
            );
        }
    }
    // Not in the table: text, where the mode takes text. A pane's key does not leak in.
    let mut filter = Recorder {
        scope: Scope::Filter,
        heard: Vec::new(),
    };
    press(
        &mut filter,
        &KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE),
        &cx,
    );
    assert_eq!(filter.heard, [None], "d deploys in the panes, is text here");
}

#[test]
fn no_key_is_bound_twice_in_one_mode_and_every_mode_has_a_help_section() {
    for &(scope, _) in SECTIONS {
        let mut seen = Vec::new();
        for binding in MODES.iter().filter(|b| b.scope == scope) {
            for key in binding.keys {
                assert!(!seen.contains(key), "{key:?} twice in {scope:?}");
                seen.push(*key);
            }
        }
    }
    for binding in MODES {
        assert!(
            SECTIONS.iter().any(|(scope, _)| *scope == binding.scope),
            "{:?} has no section in the help",
            binding.scope
        );
    }
}

#[test]
fn the_help_overlay_lists_every_mode_key_under_its_section() {
    let mut terminal = Terminal::new(TestBackend::new(100, 300)).unwrap();
    terminal
        .draw(|frame| crate::tui::ui::help::draw(frame, frame.area(), 0))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let rows: Vec<String> = (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect();
    for &(scope, title) in SECTIONS {
        let start = rows
            .iter()
            .position(|row| row.contains(title))
            .unwrap_or_else(|| panic!("no section {title}"));
        for binding in MODES.iter().filter(|b| b.scope == scope) {
            let keys = labels(binding);
            let listed = rows[start..]
                .iter()
                .take_while(|row| {
                    !SECTIONS
                        .iter()
                        .any(|(_, other)| *other != title && row.contains(other))
                })
                .any(|row| row.contains(&format!("  {keys} ")) && row.contains(binding.help));
            assert!(listed, "{keys} {} not under {title}", binding.help);
        }
    }
}

#[test]
fn a_dialogs_foot_shows_its_keys_from_the_table() {
    let dialog = Dialog::Confirm(crate::tui::dialogs::Confirm {
        question: "deploy 3 servers?".into(),
        label: "servers",
        items: Vec::new(),
        then: Vec::new(),
        notice: String::new(),
    });
    assert_eq!(dialog.hint(), "y yes, do it · n Esc no");
}

#[test]
fn a_key_of_the_table_drives_the_open_mode_and_the_app_applies_its_reply() {
    let mut app = idle();
    app.mode = Mode::Dialog(Dialog::Workers(String::new()));
    let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
    assert!(app.handle_key(key(KeyCode::Char('7'))).is_empty());
    assert_eq!(app.mode, Mode::Dialog(Dialog::Workers("7".into())));
    // Enter is the table's Confirm in the workers dialog: the dialog asks, the app resizes.
    let effects = app.handle_key(key(KeyCode::Enter));
    assert_eq!(effects, [Effect::Engine(Command::SetWorkers(7))]);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.requested_workers, Some(7));
    assert_eq!(app.notice.as_deref(), Some("workers → 7"));
}

#[test]
fn the_app_applies_each_kind_of_reply_in_one_place() {
    let mut app = idle();
    app.mode = Mode::Help(Help { scroll: 3 });
    assert!(app.answer(Reply::Stay).is_empty());
    assert_eq!(
        app.mode,
        Mode::Help(Help { scroll: 3 }),
        "Stay keeps the mode"
    );

    // Live: the mode stays open and the filter follows what is typed.
    app.mode = Mode::Filter(FilterInput);
    app.cursor.insert(crate::tui::app::Pane::Servers, 2);
    app.answer(Reply::Live(Request::Filter("nothing-like-it".into())));
    assert_eq!(app.mode, Mode::Filter(FilterInput));
    assert_eq!(app.filter, "nothing-like-it");
    assert_eq!(app.cursor.get(&crate::tui::app::Pane::Servers), Some(&0));
    assert!(
        app.notice
            .as_deref()
            .unwrap()
            .starts_with("no server matches")
    );

    // Done: closed, the footer says it, the loop gets the effects.
    app.mode = Mode::Dialog(Dialog::Quit);
    let effects = app.answer(Reply::Done {
        notice: "done".into(),
        effects: vec![Effect::ReloadInventory],
    });
    assert_eq!(effects, [Effect::ReloadInventory]);
    assert_eq!(
        (app.mode.clone(), app.notice.as_deref()),
        (Mode::Normal, Some("done"))
    );

    // Request: closed first, then the app does it (here: quits the way the dialog says).
    app.mode = Mode::Dialog(Dialog::Quit);
    let effects = app.answer(Reply::Request(Request::Quit(ShutdownMode::Cancel)));
    assert_eq!(
        effects,
        [Effect::Engine(Command::Shutdown(ShutdownMode::Cancel))]
    );
    assert_eq!(app.quitting, Some(ShutdownMode::Cancel));
    assert_eq!(app.mode, Mode::Normal);

    // Effects: the mode stays open over what the loop does.
    app.mode = Mode::Help(Help::default());
    let open = Effect::OpenLog {
        title: "deploy".into(),
        path: "logs/x.log".into(),
    };
    assert_eq!(app.answer(Reply::Effects(vec![open.clone()])), [open]);
    assert_eq!(app.mode, Mode::Help(Help::default()));
}
