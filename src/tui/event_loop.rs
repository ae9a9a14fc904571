//! The dashboard's loop: it selects over terminal input, engine events, new log lines and (only
//! while runs are in flight) a clock tick, and redraws only when something changed. A hangup,
//! SIGTERM or a terminal that cannot be drawn on any more cancels the runs and waits for the
//! engine to stop before leaving, so no run is killed without its log's footer.

use super::app::App;
use super::log_pane::LogPane;
use super::mode::{Effect, Mode};
use super::ui;
use super::viewer::Viewer;
use crate::engine::feed::Feed;
use crate::engine::{Command, EngineHandle, ShutdownMode};
use crate::inventory::Inventory;
use crate::inventory::cache::Source;
use anyhow::{Context, Result};
use chrono::Utc;
use crossterm::event::{Event, KeyEventKind};
use nix::sys::signal::Signal;
use tokio::signal::unix::Signal as SignalStream;
use tokio::sync::mpsc;

/// Everything the loop owns.
pub(super) struct Parts {
    pub app: App,
    pub logs: LogPane,
    pub input: mpsc::UnboundedReceiver<Event>,
    pub events: Feed,
    pub new_logs: mpsc::UnboundedReceiver<()>,
    pub terminate: SignalStream,
    pub hangup: SignalStream,
    pub ticker: tokio::time::Interval,
    pub engine: EngineHandle,
    pub inventory_reader: InventoryReader,
}

/// Reads the inventory again on a thread of its own (`ansible-inventory` takes seconds at
/// scale); one read at a time, its result comes back into the loop.
pub(super) struct InventoryReader {
    source: Source,
    results: mpsc::UnboundedSender<anyhow::Result<Inventory>>,
    done: mpsc::UnboundedReceiver<anyhow::Result<Inventory>>,
    reading: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl InventoryReader {
    pub fn new(source: Source) -> InventoryReader {
        let (results, done) = mpsc::unbounded_channel();
        InventoryReader {
            source,
            results,
            done,
            reading: Default::default(),
        }
    }

    /// Starts a read unless one is under way.
    pub fn start(&self) {
        use std::sync::atomic::Ordering;
        if self.reading.swap(true, Ordering::SeqCst) {
            return;
        }
        let (source, results, reading) = (
            self.source.clone(),
            self.results.clone(),
            self.reading.clone(),
        );
        std::thread::spawn(move || {
            let read = source.refresh();
            reading.store(false, Ordering::SeqCst);
            let _ = results.send(read);
        });
    }
}

/// Returns the exit code: 0, or 128 + the signal that ended the dashboard (SIGHUP, SIGTERM),
/// as a shell reports it, so a script that killed it is not told all went well.
pub(super) async fn drive(parts: Parts) -> Result<u8> {
    let Parts {
        mut app,
        mut logs,
        mut input,
        mut events,
        mut new_logs,
        mut terminate,
        mut hangup,
        mut ticker,
        engine: parts_engine,
        mut inventory_reader,
    } = parts;
    #[cfg(debug_assertions)]
    let crash_key = crash_key_for_tests();
    let mut terminal = ratatui::init();
    // A dashboard that was killed leaves its screen behind (still the alternate one): start
    // from a cleared screen, or the first frame is drawn over the dead session's cells.
    // (Not `Terminal::clear`: it asks the terminal for the cursor position, and the input
    // thread would take the answer.)
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )
    .context("clearing the screen")?;
    // Set once the screen cannot be used: a hangup, SIGTERM, or a draw that failed. From then
    // on nothing is drawn; the runs are cancelled and the loop waits for the engine to stop,
    // so every run log gets its footer.
    let mut screen_gone = false;
    let mut exit_code = 0u8;
    let mut dirty = true;
    // Under load the engine changes the state hundreds of times a second: news waits for the
    // next frame (at most one per refresh tick), an operator's key is drawn at once.
    let frame_gap = ticker.period();
    let mut urgent = true;
    let mut last_draw = tokio::time::Instant::now();
    // The engine's answer to a key (the queue after a cancel, the header after a pause) is drawn
    // at once too: a screen a tick behind the key would have the next key act on rows the
    // operator cannot see.
    let mut awaiting_answer = false;
    'dashboard: loop {
        let mut effects = Vec::new();
        let frame_due = urgent || last_draw.elapsed() >= frame_gap;
        if dirty && frame_due && !screen_gone {
            dirty = false;
            let slots = app.snapshot.workers.iter().map(|worker| worker.slot);
            logs.follow(slots);
            urgent = false;
            last_draw = tokio::time::Instant::now();
            let now = Utc::now();
            app.settle(now);
            let drawn = terminal.draw(|frame| {
                let area = frame.area();
                app.screen = (area.width, area.height);
                ui::draw(frame, &app, &logs, now)
            });
            if drawn.is_err() {
                effects = lose_screen(&mut screen_gone);
            }
        }
        // A log only grows while its run is in flight: the viewer reads nothing otherwise.
        let live_log = app.viewing_live_log();
        // Idle too: the ages of outcomes ("3m") must not stand still on screen.
        let ticking = !screen_gone;
        if effects.is_empty() {
            effects = tokio::select! {
                Some(event) = input.recv() => {
                    dirty = true;
                    urgent = true;
                    match event {
                        Event::Key(key) if key.kind != KeyEventKind::Release => {
                            #[cfg(debug_assertions)]
                            if crash_key == Some(key.code) {
                                panic!("crash key pressed (FLEETDECK_TEST_CRASH_KEY)");
                            }
                            app.clock = Utc::now();
                            app.handle_key(key)
                        }
                        _ => Vec::new(),
                    }
                }
                event = events.recv() => {
                    dirty = true;
                    // Only the first news after a command is its answer: drawing every event
                    // at once would be the flood of frames the tick is there to prevent.
                    urgent |= std::mem::take(&mut awaiting_answer);
                    match event {
                        Some(event) => {
                            let mut effects = app.apply(event);
                            // Fold whatever else is waiting before drawing once.
                            while let Some(more) = events.try_recv() {
                                effects.extend(app.apply(more));
                            }
                            effects
                        }
                        None => vec![Effect::Exit],
                    }
                }
                Some(()) = new_logs.recv() => { dirty = true; Vec::new() }
                Some(read) = inventory_reader.done.recv() => {
                    dirty = true;
                    match read {
                        Ok(inventory) => app.replace_inventory(&inventory),
                        Err(err) => {
                            log::error!(target: "engine", "reading the inventory again: {err:#}");
                            app.notice = Some(format!("the inventory could not be read again: {err:#}"));
                            Vec::new()
                        }
                    }
                }
                _ = ticker.tick(), if ticking => {
                    dirty = true;
                    if live_log && let Mode::Viewer(viewer) = &mut app.mode {
                        let _ = viewer.read_more();
                    }
                    Vec::new()
                }
                _ = tokio::time::sleep_until(last_draw + frame_gap), if dirty && !screen_gone => Vec::new(),
                _ = terminate.recv() => {
                    exit_code = 128 + Signal::SIGTERM as u8;
                    lose_screen(&mut screen_gone)
                }
                _ = hangup.recv() => {
                    exit_code = 128 + Signal::SIGHUP as u8;
                    lose_screen(&mut screen_gone)
                }
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
                    awaiting_answer = true;
                    if let Command::Shutdown(mode) = &command {
                        app.quitting = Some(*mode);
                    }
                    parts_engine.send(command);
                }
                Effect::OpenLog { title, path } => {
                    app.open_viewer(Viewer::open(title, path));
                }
                Effect::Log(event) => logs.transition(event),
                Effect::ReloadInventory => inventory_reader.start(),
                Effect::Exit => break 'dashboard,
                Effect::BecomePassword(typed) => match crate::secrets::Secret::new(typed) {
                    Ok(secret) => crate::secrets::session().set_become(secret),
                    Err(err) => app.notice = Some(format!("become password not kept: {err:#}")),
                },
            }
        }
    }
    // The terminal may be gone (a hangup): nothing to restore then, and nobody to tell.
    let _ = ratatui::try_restore();
    if terminal.show_cursor().is_err() {
        // Dropping the terminal would try again and complain on stderr.
        std::mem::forget(terminal);
    }
    Ok(exit_code)
}

/// The screen is gone or about to be: stop drawing and cancel the runs, once. Nobody can
/// watch or steer them any more, and waiting lets every run end cleanly with its log footer.
fn lose_screen(screen_gone: &mut bool) -> Vec<Effect> {
    if std::mem::replace(screen_gone, true) {
        return Vec::new();
    }
    vec![Effect::Engine(Command::Shutdown(ShutdownMode::Cancel))]
}

/// Debug builds only: a key that makes the dashboard panic, so the tests can prove a crash
/// restores the terminal and cancels the runs cleanly. Release builds have no such key.
#[cfg(debug_assertions)]
fn crash_key_for_tests() -> Option<crossterm::event::KeyCode> {
    let key = std::env::var("FLEETDECK_TEST_CRASH_KEY").ok()?;
    let mut chars = key.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(crossterm::event::KeyCode::Char(c)),
        _ => None,
    }
}
