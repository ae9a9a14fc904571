//! The dashboard's state and its `update`: engine events are folded in, keys become engine
//! commands and UI effects. No terminal, no clock, no I/O here: tested with plain values.

use super::keymap::Scope;
use super::mode::{Effect, Mode};
use crate::engine::model::{Action as Job, Outcome};
use crate::engine::snapshot::RunView;
use crate::engine::warm::RunnerMode;
use crate::engine::{Command, EngineEvent, FinishedRun, Policy, ShutdownMode, Snapshot};
use crate::inventory::Inventory;
use crate::status::{FleetStatus, LastRun};
use crate::timeline::Timeline;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// Rows a page key moves.
pub(super) const PAGE: usize = 10;
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

    pub(super) fn step(self, by: isize) -> Pane {
        let i = Pane::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        Pane::ORDER[(i + by).rem_euclid(Pane::ORDER.len() as isize) as usize]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerRow {
    pub name: String,
    pub groups: Vec<String>,
}

#[derive(Clone)]
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
    /// When the current burst of work began; the clock stands still while idle so an idle
    /// screen is still.
    pub busy_since: Option<DateTime<Utc>>,
    /// Time spent working in this session before the current burst: the clock counts the
    /// session, never restarting at a resume or a retry.
    pub busy_total: Duration,
    /// Workers asked for and not yet in a snapshot: quick `+ + +` presses add up.
    pub requested_workers: Option<u32>,
    /// How runs start (warm runner or fresh processes), as the engine last said.
    pub runner: RunnerMode,
    /// Ask before a provision / deploy / chain of several servers (`confirm_actions`).
    pub confirm_actions: bool,
    /// Actions whose playbook cannot run (missing, not YAML), with why: refused when queued.
    pub unusable: BTreeMap<Job, String>,
    /// Servers the become password was already asked for: asked once, not after every run.
    pub become_asked: BTreeSet<String>,
    /// Of those, the ones not asked yet: another mode (a view, the log viewer) was open; the
    /// question comes when the operator is back on the panes.
    pub become_waiting: Vec<String>,
    /// An item whose priority the operator changed, and to what: the queue cursor follows it
    /// to its new place once the engine has moved it, so the next K or J moves it again.
    pub follow_queued: Option<(crate::engine::model::ItemId, i32)>,
    /// The rollout that ended last and the snapshot time it was first seen ended: the strip
    /// under the header shows its verdict for a while.
    pub rollout_ended: Option<(crate::engine::rollout::RolloutId, DateTime<Utc>)>,
    /// The engine's rules from `config.yml`, as it was started with them: what a request will
    /// become (a rollout, tags by default) is said before it is sent. `None` in tests that do
    /// not need it: no rollouts, no default tags.
    pub policy: Option<Policy>,
    /// What ran where and when: the journal's history at start, then the engine's events.
    pub timeline: Timeline,
    /// The view a log was opened from (timeline, matrix): closing the log goes back to it.
    pub behind_viewer: Option<Mode>,
    /// The loop's time at the last key, and the screen's size at the last frame: what the
    /// views that cover the screen page and scroll by (App itself reads no clock).
    pub clock: DateTime<Utc>,
    pub screen: (u16, u16),
    /// The operator's time zone, for the timeline's clock times.
    pub zone: chrono::FixedOffset,
}

impl App {
    pub fn new(env: &str, inventory: &Inventory, status: FleetStatus) -> App {
        let servers = server_rows(inventory);
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
            busy_total: Duration::ZERO,
            requested_workers: None,
            runner: RunnerMode::WarmIdle,
            confirm_actions: true,
            unusable: BTreeMap::new(),
            become_asked: BTreeSet::new(),
            become_waiting: Vec::new(),
            follow_queued: None,
            rollout_ended: None,
            policy: None,
            timeline: Timeline::default(),
            behind_viewer: None,
            clock: DateTime::UNIX_EPOCH,
            screen: (super::ui::MIN_WIDTH, super::ui::MIN_HEIGHT),
            zone: chrono::FixedOffset::east_opt(0).expect("UTC is an offset"),
        }
    }

    /// The inventory as read again: the list follows it, the selection keeps only servers that
    /// are still there, and the engine is told (it skips what was queued for servers gone).
    pub fn replace_inventory(&mut self, inventory: &Inventory) -> Vec<Effect> {
        let rows = server_rows(inventory);
        let before: BTreeSet<&str> = self.servers.iter().map(|row| row.name.as_str()).collect();
        let after: BTreeSet<&str> = rows.iter().map(|row| row.name.as_str()).collect();
        let added: Vec<String> = after.difference(&before).map(|s| s.to_string()).collect();
        let gone: Vec<String> = before.difference(&after).map(|s| s.to_string()).collect();
        let unchanged = added.is_empty() && gone.is_empty() && self.servers == rows;
        self.notice = Some(if unchanged {
            format!("inventory read again: {} servers, unchanged", rows.len())
        } else {
            let mut words = format!("inventory read again: {} servers", rows.len());
            if !added.is_empty() {
                let names = super::intents::names(&added);
                words.push_str(&format!(", {} new ({names})", added.len()));
            }
            if !gone.is_empty() {
                let names = super::intents::names(&gone);
                words.push_str(&format!(", {} gone ({names})", gone.len()));
            }
            words
        });
        self.selected.retain(|name| !gone.contains(name));
        self.servers = rows;
        if unchanged {
            return Vec::new();
        }
        let names = self.servers.iter().map(|row| row.name.clone()).collect();
        vec![Effect::Engine(Command::SetServers(names))]
    }

    /// Folds one engine event; returns whether the screen must change.
    pub fn apply(&mut self, event: EngineEvent) -> Vec<Effect> {
        super::rollouts::note_ended_rollouts(self, &event);
        self.timeline.follow(&event);
        match event {
            EngineEvent::Snapshot(snapshot) => {
                let busy = snapshot.active > 0;
                match (busy, self.busy_since) {
                    (true, None) => self.busy_since = Some(snapshot.at),
                    (false, Some(since)) => {
                        self.busy_total += (snapshot.at - since).to_std().unwrap_or_default();
                        self.busy_since = None;
                    }
                    _ => {}
                }
                if self.requested_workers == Some(snapshot.target_workers) {
                    self.requested_workers = None;
                }
                self.snapshot = *snapshot;
                if let Some((id, priority)) = self.follow_queued {
                    match self.snapshot.queue.get(id).map(|item| item.priority) {
                        Some(now) if now == priority => {
                            if let Some(at) = self.snapshot.queue.iter().position(|i| i.id == id) {
                                self.cursor.insert(Pane::Queue, at);
                            }
                            self.follow_queued = None;
                        }
                        Some(_) => {}
                        None => self.follow_queued = None,
                    }
                }
            }
            EngineEvent::Runner(mode) => self.runner = mode,
            EngineEvent::Finished(run) => {
                if run.outcome.is_success() && run.ran.is_some() && !run.item.check_mode {
                    self.last_duration
                        .insert((run.item.server.clone(), run.item.action), run.duration);
                }
                // The same rule as the journal's: what ran replaces the server's last outcome;
                // a skipped link shows only where nothing ran before; a cancelled queue entry
                // never ran and changes nothing.
                let latest = self
                    .status
                    .get(&run.item.server)
                    .and_then(|runs| runs.get(&run.item.action));
                let replaces = match (&run.outcome, run.ran) {
                    (_, Some(_)) => true,
                    (Outcome::Skipped { .. }, None) => latest.is_none(),
                    _ => false,
                };
                if replaces {
                    let last = LastRun {
                        id: run.item.id,
                        at: self.snapshot.at,
                        outcome: run.outcome.clone(),
                        healthy: None,
                        check_mode: run.item.check_mode,
                        log: run.log_path.clone(),
                        node: None,
                    };
                    let runs = self.status.entry(run.item.server.clone()).or_default();
                    runs.insert(run.item.action, last);
                }
                // A run that failed for want of a become password: ask for it, once, masked.
                if let Outcome::Failed { message, .. } = &run.outcome
                    && message.contains("needs a become (sudo) password")
                    && self.become_asked.insert(run.item.server.clone())
                {
                    self.become_waiting.push(run.item.server.clone());
                    self.ask_waiting_become();
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

    /// Asks for the become password for the servers waiting for the question, when nothing
    /// else is open (or the question already is).
    pub fn ask_waiting_become(&mut self) {
        self.become_waiting
            .retain(|server| !self.mode.ask_become_password(server.clone()));
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
        for queued in self.snapshot.queue.of_server(server) {
            words.push(if queued.held { "held" } else { "queued" });
        }
        if self
            .status
            .get(server)
            .is_some_and(|runs| runs.values().any(|last| last.is_failing()))
        {
            words.push("failing");
        }
        words
    }

    /// Servers whose latest run of some action failed, was unreachable, timed out, could not
    /// start or was interrupted.
    pub fn failing_servers(&self) -> usize {
        // Counted among the servers listed (the journal may remember servers that left the
        // inventory), so the header and the `failing` filter agree.
        self.status
            .iter()
            .filter(|(name, _)| {
                self.servers
                    .binary_search_by(|row| row.name.as_str().cmp(name.as_str()))
                    .is_ok()
            })
            .filter(|(_, runs)| runs.values().any(|last| last.is_failing()))
            .count()
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

    pub(super) fn pane_len(&self, pane: Pane) -> usize {
        match pane {
            Pane::Servers => self.visible_servers().len(),
            Pane::Queue => self.snapshot.queue.len(),
            Pane::Workers => self.snapshot.workers.len(),
            Pane::Log => 0,
        }
    }

    /// Whether the open viewer shows the log of a run still in flight: only that log grows.
    pub fn viewing_live_log(&self) -> bool {
        let Mode::Viewer(viewer) = &self.mode else {
            return false;
        };
        self.snapshot
            .workers
            .iter()
            .filter_map(|w| w.run.as_ref())
            .any(|run| run.log_path.as_ref() == Some(&viewer.path))
    }

    pub fn cursor_server(&self) -> Option<String> {
        self.visible_servers()
            .get(self.cursor(Pane::Servers))
            .map(|row| row.name.clone())
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;

fn server_rows(inventory: &Inventory) -> Vec<ServerRow> {
    inventory
        .hosts
        .iter()
        .map(|(name, groups)| ServerRow {
            name: name.clone(),
            groups: groups.iter().cloned().collect(),
        })
        .collect()
}
