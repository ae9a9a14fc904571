//! The dashboard: sets up the engine, the app state and the input threads, then hands them to
//! the loop (`event_loop`); a crash of the loop cancels the runs cleanly before leaving.

pub mod actions;
pub mod app;
pub mod command_line;
mod commands;
pub mod dialogs;
mod event_loop;
pub mod filter;
#[cfg(test)]
mod fixtures;
pub mod help;
pub mod intents;
pub mod keymap;
pub mod log_pane;
pub mod matrix_view;
pub mod mode;
mod open_log;
pub mod picker;
pub mod rollouts;
pub mod timeline_view;
pub mod ui;
pub mod viewer;

use crate::engine::{Command, Engine, EngineEvent, ShutdownMode, Started};
use crate::inventory::cache::Freshness;
use crate::project::Environment;
use anyhow::{Context, Result};
use app::App;
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

pub async fn run(env: Environment, secrets: &crate::cli::SecretArgs) -> Result<ExitCode> {
    tui_logger::init_logger(log::LevelFilter::Info).context("starting the log pane")?;
    tui_logger::set_default_level(log::LevelFilter::Info);
    tui_logger::set_buffer_depth(env.config.log_retention_lines);
    for warning in &env.warnings {
        log::warn!(target: "engine", "{warning}");
    }
    // Errors before the screen is up print like any command's.
    crate::engine::journal::ensure_free(&env.name, &env.journal_path())?;
    // Passwords are asked on the terminal before the screen opens: the inventory may need the
    // vault password to be read at all.
    crate::secrets::prepare(&env, secrets)?;
    // The first screen comes from the inventory cache when no file of the inventory changed;
    // it is read again in the background at once, and on `R`. With a vault password it is
    // read now, so a wrong password is named before the screen opens.
    let (inventory, freshness) = if crate::secrets::session().has_vault() {
        (env.refresh_inventory()?, Freshness::Fresh)
    } else {
        env.load_inventory_cached()?
    };
    // The warm runner's server starts with the operator's first action.
    let setup = env.engine_setup(&inventory, None, env.warm_runner()?)?;
    let policy = setup.policy.clone();
    let Started {
        handle: engine,
        events,
        task,
        history,
        snapshot,
    } = Engine::start(setup)?;
    let mut app = App::new(&env.name, &inventory, crate::status::derive(&history));
    app.apply(EngineEvent::Snapshot(snapshot));
    app.last_duration = crate::status::last_durations(&history);
    app.confirm_actions = env.config.confirm_actions;
    app.policy = Some(policy);
    app.unusable = env.playbook_problems();
    // Earlier runs from the journal; the engine's events add the new ones.
    app.timeline =
        crate::timeline::Timeline::read(&env.journal_path(), crate::timeline::Window::All)
            .context("reading the journal's runs for the timeline")?;
    app.timeline.end_cut_runs_at_their_logs();
    app.zone = *chrono::Local::now().offset();
    for why in app.unusable.values() {
        log::error!(target: "engine", "{why}");
    }
    let logs = log_pane::LogPane::default();

    let (input_tx, input) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        // crossterm's blocking read: no CPU while nobody types.
        while let Ok(event) = crossterm::event::read() {
            if input_tx.send(event).is_err() {
                break;
            }
        }
    });
    let (log_tx, new_logs) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        loop {
            tui_logger::wait();
            if log_tx.send(()).is_err() {
                break;
            }
        }
    });
    let inventory_reader = event_loop::InventoryReader::new(env.inventory_source());
    if freshness.is_cached() {
        inventory_reader.start();
    }
    let terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    let mut ticker = tokio::time::interval(env.config.refresh_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let parts = event_loop::Parts {
        app,
        logs,
        input,
        events,
        new_logs,
        terminate,
        hangup,
        ticker,
        engine: engine.clone(),
        inventory_reader,
    };
    // The loop runs as a task of its own so that a panic in it is caught here: the terminal is
    // restored by ratatui's panic hook, and the runs are cancelled cleanly (log footers, journal
    // records) instead of dying with the process.
    let dashboard = tokio::spawn(event_loop::drive(parts)).await;
    match dashboard {
        Ok(result) => {
            drop(engine);
            task.await.context("engine task")??;
            Ok(ExitCode::from(result?))
        }
        Err(crash) => {
            engine.send(Command::Shutdown(ShutdownMode::Cancel));
            let stopped = task.await.context("engine task");
            drop(engine);
            eprintln!(
                "fleetdeck: the dashboard crashed ({crash}); running runs were cancelled and their logs closed, the journal is intact: start fleetdeck again to see them"
            );
            stopped??;
            Ok(ExitCode::from(101))
        }
    }
}
