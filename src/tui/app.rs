//! The dashboard's state and its `update`: engine events are folded in, keys become engine
//! commands and UI effects. No terminal, no clock, no I/O here: tested with plain values.

use super::dialogs::{Dialog, EnqueueForm};
use super::keymap::{self, Action, Scope};
use crate::engine::model::{Action as Job, ItemId, Outcome};
use crate::engine::queue::Wait;
use crate::engine::snapshot::RunView;
use crate::engine::{
    Command, EngineEvent, EnqueueRequest, FinishedRun, ShutdownMode, Snapshot, StopMode, Target,
};
use crate::inventory::Inventory;
use crate::status::{FleetStatus, LastRun};
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

/// Rows a page key moves.
const PAGE: usize = 10;
/// Finished runs kept for the log viewer and the retry key.
const HISTORY: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pane {
    Servers,
    Queue,
    Workers,
    Log,
}

impl Pane {
    const ORDER: [Pane; 4] = [Pane::Servers, Pane::Queue, Pane::Workers, Pane::Log];

    pub fn scope(self) -> Scope {
        match self {
            Pane::Servers => Scope::Servers,
            Pane::Queue => Scope::Queue,
            Pane::Workers => Scope::Workers,
            Pane::Log => Scope::Log,
        }
    }

    fn step(self, by: isize) -> Pane {
        let i = Pane::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        Pane::ORDER[(i + by).rem_euclid(Pane::ORDER.len() as isize) as usize]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    /// Typing into the server filter.
    Filter,
    Help,
    Dialog(Dialog),
    Viewer(Viewer),
}

/// A run's full log, read by the loop (not here) when opened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Viewer {
    pub title: String,
    pub path: PathBuf,
    pub lines: Vec<String>,
    /// First line shown.
    pub scroll: usize,
    pub follow: bool,
    pub search: String,
    pub searching: bool,
}

/// What the loop must do after a key or an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Engine(Command),
    /// Read this log into the viewer.
    OpenLog {
        title: String,
        path: PathBuf,
    },
    /// Forward to the tui-logger widget state.
    Log(tui_logger::TuiWidgetEvent),
    /// Leave the dashboard now.
    Exit,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerRow {
    pub name: String,
    pub groups: Vec<String>,
}

pub struct App {
    pub env: String,
    pub servers: Vec<ServerRow>,
    pub status: FleetStatus,
    pub snapshot: Snapshot,
    pub history: Vec<FinishedRun>,
    /// Duration of the last successful run per (server, action): the gauge's ETA.
    pub last_duration: HashMap<(String, Job), Duration>,
    pub focus: Pane,
    pub cursor: HashMap<Pane, usize>,
    pub selected: BTreeSet<String>,
    pub filter: String,
    pub mode: Mode,
    pub details: bool,
    /// Shutdown asked; the dashboard closes when the engine says it stopped.
    pub quitting: Option<ShutdownMode>,
    /// One line of feedback for the last key ("queued 9 deploys").
    pub notice: Option<String>,
    /// When the current burst of work began; frozen while idle so an idle screen is still.
    pub busy_since: Option<DateTime<Utc>>,
    pub last_busy: Duration,
    /// Workers asked for and not yet in a snapshot: quick `+ + +` presses add up.
    pub requested_workers: Option<u32>,
    /// First line of the help overlay on a screen too short for all of it.
    pub help_scroll: u16,
}

impl App {
    pub fn new(env: &str, inventory: &Inventory, status: FleetStatus) -> App {
        let servers = inventory
            .hosts
            .iter()
            .map(|(name, groups)| ServerRow {
                name: name.clone(),
                groups: groups.iter().cloned().collect(),
            })
            .collect();
        App {
            env: env.to_string(),
            servers,
            status,
            snapshot: Snapshot::default(),
            history: Vec::new(),
            last_duration: HashMap::new(),
            focus: Pane::Servers,
            cursor: HashMap::new(),
            selected: BTreeSet::new(),
            filter: String::new(),
            mode: Mode::Normal,
            details: false,
            quitting: None,
            notice: None,
            busy_since: None,
            last_busy: Duration::ZERO,
            requested_workers: None,
            help_scroll: 0,
        }
    }

    /// Folds one engine event; returns whether the screen must change.
    pub fn apply(&mut self, event: EngineEvent) -> Vec<Effect> {
        match event {
            EngineEvent::Snapshot(snapshot) => {
                let busy = snapshot.active > 0;
                match (busy, self.busy_since) {
                    (true, None) => self.busy_since = Some(snapshot.at),
                    (false, Some(since)) => {
                        self.last_busy = (snapshot.at - since).to_std().unwrap_or_default();
                        self.busy_since = None;
                    }
                    _ => {}
                }
                if self.requested_workers == Some(snapshot.target_workers) {
                    self.requested_workers = None;
                }
                self.snapshot = *snapshot;
            }
            EngineEvent::Finished(run) => {
                if run.outcome.is_success() && run.slot.is_some() {
                    self.last_duration
                        .insert((run.item.server.clone(), run.item.action), run.duration);
                }
                let never_ran =
                    matches!(run.outcome, Outcome::Cancelled { .. }) && run.slot.is_none();
                if !never_ran {
                    let last = LastRun {
                        id: run.item.id,
                        at: self.snapshot.at,
                        outcome: run.outcome.clone(),
                        healthy: None,
                    };
                    self.status
                        .entry(run.item.server.clone())
                        .or_default()
                        .insert(run.item.action, last);
                }
                self.history.push(run);
                if self.history.len() > HISTORY {
                    self.history.remove(0);
                }
            }
            EngineEvent::Health {
                deploy,
                server,
                healthy,
            } => {
                if let Some(last) = self
                    .status
                    .get_mut(&server)
                    .and_then(|s| s.get_mut(&Job::Deploy))
                    && last.id == deploy
                {
                    last.healthy = Some(healthy);
                }
            }
            EngineEvent::Idle => {}
            EngineEvent::Stopped => return vec![Effect::Exit],
        }
        Vec::new()
    }

    /// Servers passing the filter: by name, group, or the word of a last outcome or state.
    pub fn visible_servers(&self) -> Vec<&ServerRow> {
        let needle = self.filter.trim().to_lowercase();
        self.servers
            .iter()
            .filter(|row| {
                needle.is_empty()
                    || row.name.to_lowercase().contains(&needle)
                    || row
                        .groups
                        .iter()
                        .any(|g| g.to_lowercase().contains(&needle))
                    || self.state_words(&row.name).iter().any(|w| *w == needle)
            })
            .collect()
    }

    fn state_words(&self, server: &str) -> Vec<&'static str> {
        let mut words: Vec<&'static str> = self
            .status
            .get(server)
            .map(|runs| runs.values().map(|last| last.outcome.label()).collect())
            .unwrap_or_default();
        if self.running_on(server).is_some() {
            words.push("running");
        }
        if self.snapshot.queue.iter().any(|q| q.item.server == server) {
            words.push("queued");
        }
        words
    }

    pub fn running_on(&self, server: &str) -> Option<&RunView> {
        self.snapshot
            .workers
            .iter()
            .filter_map(|w| w.run.as_ref())
            .find(|run| run.item.server == server)
    }

    pub fn cursor(&self, pane: Pane) -> usize {
        let len = self.pane_len(pane);
        self.cursor
            .get(&pane)
            .copied()
            .unwrap_or(0)
            .min(len.saturating_sub(1))
    }

    fn pane_len(&self, pane: Pane) -> usize {
        match pane {
            Pane::Servers => self.visible_servers().len(),
            Pane::Queue => self.snapshot.queue.len(),
            Pane::Workers => self.snapshot.workers.len(),
            Pane::Log => 0,
        }
    }

    pub fn cursor_server(&self) -> Option<String> {
        self.visible_servers()
            .get(self.cursor(Pane::Servers))
            .map(|row| row.name.clone())
    }

    /// The servers an action applies to: the selection, else the cursor server.
    fn targets(&self) -> Vec<String> {
        if !self.selected.is_empty() {
            return self.selected.iter().cloned().collect();
        }
        self.cursor_server().into_iter().collect()
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.notice = None;
        match &mut self.mode {
            Mode::Filter => self.filter_key(key),
            Mode::Help => {
                // Scroll keys scroll a help taller than the screen; any other key closes it.
                match key.code {
                    KeyCode::Down | KeyCode::Char('j') => {
                        self.help_scroll = self.help_scroll.saturating_add(1)
                    }
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.help_scroll = self.help_scroll.saturating_sub(1)
                    }
                    KeyCode::PageDown => {
                        self.help_scroll = self.help_scroll.saturating_add(PAGE as u16)
                    }
                    KeyCode::PageUp => {
                        self.help_scroll = self.help_scroll.saturating_sub(PAGE as u16)
                    }
                    _ => self.mode = Mode::Normal,
                }
                Vec::new()
            }
            Mode::Dialog(_) => self.dialog_key(key),
            Mode::Viewer(_) => self.viewer_key(key),
            Mode::Normal => match keymap::lookup(keymap::NORMAL, self.focus.scope(), &key) {
                Some(binding) => self.act(binding.action),
                None => Vec::new(),
            },
        }
    }

    pub fn act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            // In the log pane the arrows choose a target (a worker) for `f` and ←/→.
            Action::Up if self.focus == Pane::Log => {
                return vec![Effect::Log(tui_logger::TuiWidgetEvent::UpKey)];
            }
            Action::Down if self.focus == Pane::Log => {
                return vec![Effect::Log(tui_logger::TuiWidgetEvent::DownKey)];
            }
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp if self.focus == Pane::Log => {
                return vec![Effect::Log(tui_logger::TuiWidgetEvent::PrevPageKey)];
            }
            Action::PageDown if self.focus == Pane::Log => {
                return vec![Effect::Log(tui_logger::TuiWidgetEvent::NextPageKey)];
            }
            Action::PageUp => self.move_cursor(-(PAGE as isize)),
            Action::PageDown => self.move_cursor(PAGE as isize),
            Action::Top => self.move_cursor(isize::MIN / 2),
            Action::Bottom => self.move_cursor(isize::MAX / 2),
            Action::NextPane => self.focus = self.focus.step(1),
            Action::PrevPane => self.focus = self.focus.step(-1),
            Action::Filter => {
                self.focus = Pane::Servers;
                self.mode = Mode::Filter;
            }
            Action::Back => {
                if self.focus == Pane::Log {
                    return vec![Effect::Log(tui_logger::TuiWidgetEvent::EscapeKey)];
                }
                if self.details {
                    self.details = false;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                } else {
                    self.selected.clear();
                }
            }
            Action::ToggleSelect => {
                if let Some(server) = self.cursor_server()
                    && !self.selected.remove(&server)
                {
                    self.selected.insert(server);
                }
            }
            Action::SelectAll => {
                let visible: Vec<String> = self
                    .visible_servers()
                    .iter()
                    .map(|r| r.name.clone())
                    .collect();
                if visible.iter().all(|s| self.selected.contains(s)) {
                    self.selected.clear();
                } else {
                    self.selected.extend(visible);
                }
            }
            Action::SelectGroup => {
                let group = self
                    .visible_servers()
                    .get(self.cursor(Pane::Servers))
                    .and_then(|row| row.groups.first().cloned());
                if let Some(group) = group {
                    let members: Vec<String> = self
                        .servers
                        .iter()
                        .filter(|r| r.groups.contains(&group))
                        .map(|r| r.name.clone())
                        .collect();
                    self.notice = Some(format!(
                        "selected group {group} ({} servers)",
                        members.len()
                    ));
                    self.selected.extend(members);
                }
            }
            Action::Provision => {
                return self.enqueue(Target::Action(Job::Provision), None, false, 0);
            }
            Action::Deploy => return self.enqueue(Target::Action(Job::Deploy), None, false, 0),
            Action::Check => return self.enqueue(Target::Action(Job::Check), None, false, 0),
            Action::Chain => return self.enqueue(Target::Chain, None, false, 0),
            Action::EnqueueWithOptions => {
                if !self.targets().is_empty() {
                    self.mode = Mode::Dialog(Dialog::Enqueue(EnqueueForm::new(self.targets())));
                }
            }
            Action::WorkersUp => return self.resize(self.workers_target().saturating_add(1)),
            Action::WorkersDown => return self.resize(self.workers_target().saturating_sub(1)),
            Action::SetWorkers => self.mode = Mode::Dialog(Dialog::Workers(String::new())),
            Action::Cancel => return self.cancel(),
            Action::RaisePriority => return self.reprioritise(1),
            Action::LowerPriority => return self.reprioritise(-1),
            Action::TogglePause => {
                let command = if self.snapshot.paused.is_some() {
                    Command::Resume { release_held: true }
                } else {
                    Command::Pause
                };
                return vec![Effect::Engine(command)];
            }
            Action::Retry => {
                let servers =
                    (!self.selected.is_empty()).then(|| self.selected.iter().cloned().collect());
                self.notice = Some("requeued failed runs".into());
                return vec![Effect::Engine(Command::RetryFailed { servers })];
            }
            Action::Open => return self.open_log(),
            Action::Details => self.details = !self.details,
            Action::Help => {
                self.help_scroll = 0;
                self.mode = Mode::Help;
            }
            Action::Quit => {
                if self.snapshot.active > 0 {
                    self.mode = Mode::Dialog(Dialog::Quit);
                } else {
                    self.quitting = Some(ShutdownMode::Wait);
                    return vec![Effect::Engine(Command::Shutdown(ShutdownMode::Wait))];
                }
            }
            Action::LogMore => return vec![Effect::Log(tui_logger::TuiWidgetEvent::RightKey)],
            Action::LogLess => return vec![Effect::Log(tui_logger::TuiWidgetEvent::LeftKey)],
            Action::LogTargets => return vec![Effect::Log(tui_logger::TuiWidgetEvent::HideKey)],
            Action::LogFocus => return vec![Effect::Log(tui_logger::TuiWidgetEvent::FocusKey)],
        }
        Vec::new()
    }

    fn move_cursor(&mut self, by: isize) {
        if self.focus == Pane::Log {
            return;
        }
        let len = self.pane_len(self.focus);
        let current = self.cursor(self.focus) as isize;
        let next = (current.saturating_add(by)).clamp(0, len.saturating_sub(1) as isize) as usize;
        self.cursor.insert(self.focus, next);
    }

    pub fn enqueue(
        &mut self,
        target: Target,
        tags: Option<Vec<String>>,
        check_mode: bool,
        priority: i32,
    ) -> Vec<Effect> {
        let servers = self.targets();
        if servers.is_empty() {
            self.notice = Some("no server: select some with Space, a or g".into());
            return Vec::new();
        }
        let what = match target {
            Target::Action(job) => job.to_string(),
            Target::Chain => "chain".into(),
        };
        self.notice = Some(format!("queued {what} on {} server(s)", servers.len()));
        vec![Effect::Engine(Command::Enqueue(EnqueueRequest {
            servers,
            target,
            tags,
            check_mode,
            priority,
        }))]
    }

    /// The target the engine has, or will have once it reads the last request.
    pub fn workers_target(&self) -> u32 {
        self.requested_workers
            .unwrap_or(self.snapshot.target_workers)
    }

    pub(super) fn resize(&mut self, to: u32) -> Vec<Effect> {
        self.requested_workers = Some(to);
        self.notice = Some(format!("workers → {to}"));
        vec![Effect::Engine(Command::SetWorkers(to))]
    }

    fn cancel(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Queue => match self.snapshot.queue.get(self.cursor(Pane::Queue)) {
                Some(queued) => vec![Effect::Engine(Command::Cancel(queued.item.id))],
                None => Vec::new(),
            },
            Pane::Workers => {
                let worker = self.snapshot.workers.get(self.cursor(Pane::Workers));
                if let Some(run) = worker.and_then(|w| w.run.as_ref()) {
                    let slot = worker.map(|w| w.slot).unwrap_or(0);
                    self.mode = Mode::Dialog(Dialog::StopRun {
                        id: run.item.id,
                        slot,
                        label: run.item.describe(),
                    });
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn reprioritise(&mut self, by: i32) -> Vec<Effect> {
        let Some(queued) = self.snapshot.queue.get(self.cursor(Pane::Queue)) else {
            return Vec::new();
        };
        vec![Effect::Engine(Command::SetPriority {
            id: queued.item.id,
            priority: queued.item.priority + by,
        })]
    }

    /// The log of what the cursor points at: a worker's run, a server's latest run.
    fn open_log(&mut self) -> Vec<Effect> {
        let target: Option<(String, PathBuf)> = match self.focus {
            Pane::Workers => self
                .snapshot
                .workers
                .get(self.cursor(Pane::Workers))
                .and_then(|w| w.run.as_ref())
                .and_then(|run| Some((run.item.describe(), run.log_path.clone()?))),
            Pane::Servers => self.cursor_server().and_then(|server| {
                if let Some(run) = self.running_on(&server) {
                    return Some((run.item.describe(), run.log_path.clone()?));
                }
                self.history
                    .iter()
                    .rev()
                    .find(|run| run.item.server == server && run.log_path.is_some())
                    .and_then(|run| Some((run.item.describe(), run.log_path.clone()?)))
            }),
            _ => None,
        };
        match target {
            Some((title, path)) => vec![Effect::OpenLog { title, path }],
            None => {
                self.notice = Some("no run log here yet".into());
                Vec::new()
            }
        }
    }

    fn filter_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Esc => {
                self.filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) => self.filter.push(c),
            _ => {}
        }
        self.cursor.insert(Pane::Servers, 0);
        Vec::new()
    }

    /// Id and label of the queued item under the cursor, with why it waits.
    pub fn queued_at_cursor(&self) -> Option<(ItemId, Option<&Wait>)> {
        self.snapshot
            .queue
            .get(self.cursor(Pane::Queue))
            .map(|q| (q.item.id, q.wait.as_ref()))
    }

    /// Stop mode chosen in the stop dialog.
    pub fn stop(&mut self, id: ItemId, mode: StopMode) -> Vec<Effect> {
        self.mode = Mode::Normal;
        let command = match mode {
            StopMode::Graceful => Command::Cancel(id),
            StopMode::Kill => Command::Kill(id),
        };
        vec![Effect::Engine(command)]
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
