//! The dashboard: one loop that selects over terminal input, engine events, new log lines and
//! (only while runs are in flight) a clock tick, and redraws only when something changed. A
//! hangup, SIGTERM or a terminal that cannot be drawn on any more cancels the runs and waits for
//! the engine to stop before leaving, so no run is killed without its log's footer.

pub mod actions;
pub mod app;
pub mod command_line;
pub mod dialogs;
#[cfg(test)]
mod fixtures;
pub mod intents;
pub mod keymap;
pub mod picker;
pub mod ui;
pub mod viewer;

use crate::engine::{Command, Engine, EngineEvent, ShutdownMode, Started};
use crate::project::Environment;
use anyhow::{Context, Result};
use app::{App, Effect, Mode, Viewer};
use chrono::Utc;
use crossterm::event::{Event, KeyEventKind};
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tui_logger::TuiWidgetState;

pub async fn run(env: Environment) -> Result<ExitCode> {
    tui_logger::init_logger(log::LevelFilter::Info).context("starting the log pane")?;
    tui_logger::set_default_level(log::LevelFilter::Info);
    tui_logger::set_buffer_depth(env.config.log_retention_lines);
    for warning in &env.warnings {
        log::warn!(target: "engine", "{warning}");
    }
    // Errors before the screen is up print like any command's.
    crate::engine::journal::ensure_free(&env.name, &env.journal_path())?;
    let inventory = env.load_inventory()?;
    // The warm runner's server starts with the operator's first action.
    let setup = env.engine_setup(&inventory, None, env.warm_runner()?)?;
    let Started {
        handle: engine,
        mut events,
        task,
        history,
        snapshot,
    } = Engine::start(setup)?;
    let mut app = App::new(&env.name, &inventory, crate::status::derive(&history));
    app.apply(EngineEvent::Snapshot(snapshot));
    app.last_duration = crate::status::last_durations(&history);
    app.confirm_actions = env.config.confirm_actions;
    app.unusable = env.playbook_problems();
    for why in app.unusable.values() {
        log::error!(target: "engine", "{why}");
    }
    let logs = TuiWidgetState::new().set_default_display_level(log::LevelFilter::Info);

    let (input_tx, mut input) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        // crossterm's blocking read: no CPU while nobody types.
        while let Ok(event) = crossterm::event::read() {
            if input_tx.send(event).is_err() {
                break;
            }
        }
    });
    let (log_tx, mut new_logs) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        loop {
            tui_logger::wait();
            if log_tx.send(()).is_err() {
                break;
            }
        }
    });
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    let mut ticker = tokio::time::interval(env.config.refresh_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut terminal = ratatui::init();
    // Set once the screen cannot be used: a hangup, SIGTERM, or a draw that failed. From then
    // on nothing is drawn; the runs are cancelled and the loop waits for the engine to stop,
    // so every run log gets its footer.
    let mut screen_gone = false;
    let mut dirty = true;
    'dashboard: loop {
        let mut effects = Vec::new();
        if dirty && !screen_gone {
            dirty = false;
            let drawn = terminal.draw(|frame| ui::draw(frame, &app, &logs, Utc::now()));
            if drawn.is_err() {
                effects = lose_screen(&mut screen_gone);
            }
        }
        // A log only grows while its run is in flight: the viewer reads nothing otherwise.
        let live_log = app.viewing_live_log();
        let ticking = !screen_gone && app.snapshot.active > 0;
        if effects.is_empty() {
            effects = tokio::select! {
                Some(event) = input.recv() => {
                    dirty = true;
                    match event {
                        Event::Key(key) if key.kind != KeyEventKind::Release => app.handle_key(key),
                        _ => Vec::new(),
                    }
                }
                event = events.recv() => {
                    dirty = true;
                    match event {
                        Some(event) => {
                            let mut effects = app.apply(event);
                            // Fold whatever else is waiting before drawing once.
                            while let Ok(more) = events.try_recv() {
                                effects.extend(app.apply(more));
                            }
                            effects
                        }
                        None => vec![Effect::Exit],
                    }
                }
                Some(()) = new_logs.recv() => { dirty = true; Vec::new() }
                _ = ticker.tick(), if ticking => {
                    dirty = true;
                    if live_log && let Mode::Viewer(viewer) = &mut app.mode {
                        let _ = viewer.read_more();
                    }
                    Vec::new()
                }
                _ = terminate.recv() => lose_screen(&mut screen_gone),
                _ = hangup.recv() => lose_screen(&mut screen_gone),
            };
        }
        // The run just ended: its log got its footer, read it one last time.
        if live_log
            && !app.viewing_live_log()
            && let Mode::Viewer(viewer) = &mut app.mode
        {
            let _ = viewer.read_more();
        }
        for effect in effects {
            match effect {
                Effect::Engine(command) => {
                    if let Command::Shutdown(mode) = &command {
                        app.quitting = Some(*mode);
                    }
                    engine.send(command);
                }
                Effect::OpenLog { title, path } => {
                    app.mode = Mode::Viewer(Viewer::open(title, path));
                }
                Effect::Log(event) => logs.transition(event),
                Effect::Exit => break 'dashboard,
            }
        }
    }
    // The terminal may be gone (a hangup): nothing to restore then, and nobody to tell.
    let _ = ratatui::try_restore();
    if terminal.show_cursor().is_err() {
        // Dropping the terminal would try again and complain on stderr.
        std::mem::forget(terminal);
    }
    drop(engine);
    task.await.context("engine task")??;
    Ok(ExitCode::SUCCESS)
}

/// The screen is gone or about to be: stop drawing and cancel the runs, once. Nobody can
/// watch or steer them any more, and waiting lets every run end cleanly with its log footer.
fn lose_screen(screen_gone: &mut bool) -> Vec<Effect> {
    if std::mem::replace(screen_gone, true) {
        return Vec::new();
    }
    vec![Effect::Engine(Command::Shutdown(ShutdownMode::Cancel))]
}
