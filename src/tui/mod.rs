//! The dashboard: one loop that selects over terminal input, engine events, new log lines and
//! (only while runs are in flight) a clock tick, and redraws only when something changed.

pub mod actions;
pub mod app;
pub mod dialogs;
pub mod keymap;
pub mod picker;
pub mod ui;
pub mod viewer;

use crate::engine::journal;
use crate::engine::{Command, Engine, ShutdownMode};
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
    let inventory = env.load_inventory()?;
    let history = journal::replay(&env.journal_path())?;
    let status = crate::status::derive(&history);
    let setup = env.engine_setup(&inventory, None)?;
    let (engine, mut events, task) = Engine::start(setup)?;
    let mut app = App::new(&env.name, &inventory, status);
    app.last_duration = crate::status::last_durations(&history);
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
    let result: Result<()> = async {
        let mut dirty = true;
        loop {
            if dirty {
                terminal.draw(|frame| ui::draw(frame, &app, &logs, Utc::now())).context("drawing")?;
                dirty = false;
            }
            let ticking = app.snapshot.active > 0 || matches!(app.mode, Mode::Viewer(Viewer { follow: true, .. }));
            let effects = tokio::select! {
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
                    if let Mode::Viewer(viewer) = &mut app.mode && viewer.follow {
                        viewer.reload(&std::fs::read_to_string(&viewer.path).unwrap_or_default());
                    }
                    Vec::new()
                }
                _ = terminate.recv() => vec![Effect::Engine(Command::Shutdown(ShutdownMode::Cancel))],
                _ = hangup.recv() => vec![Effect::Engine(Command::Shutdown(ShutdownMode::Cancel))],
            };
            for effect in effects {
                match effect {
                    Effect::Engine(command) => {
                        if let Command::Shutdown(mode) = &command {
                            app.quitting = Some(*mode);
                        }
                        engine.send(command);
                    }
                    Effect::OpenLog { title, path } => {
                        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| format!("cannot read {}: {err}", path.display()));
                        app.mode = Mode::Viewer(Viewer::new(title, path, &text));
                    }
                    Effect::Log(event) => logs.transition(event),
                    Effect::Exit => return Ok(()),
                }
            }
        }
    }
    .await;
    ratatui::restore();
    drop(engine);
    task.await.context("engine task")??;
    result?;
    Ok(ExitCode::SUCCESS)
}
