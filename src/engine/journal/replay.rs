//! The journal folded into what it says: pending and interrupted items, successes, and each
//! (server, action)'s latest run (with its log, check mode and health), which every face shows.

use super::Record;
use crate::engine::model::{Action, Item, ItemId, Outcome};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// What the journal says, folded one record at a time (`apply`), so the engine can fold in what
/// it writes at start (runs it marks interrupted) and hand its faces the same truth.
#[derive(Debug, Default)]
pub struct Replay {
    /// Queued and never started, by id (= enqueue order).
    queued: BTreeMap<ItemId, Item>,
    /// Started and never finished: fleetdeck died while they ran.
    running: BTreeMap<ItemId, Item>,
    /// Log files of started runs, known once their child started.
    logs: HashMap<ItemId, PathBuf>,
    /// When each run in flight started: an interrupted run is dated by it, not by the next
    /// start of fleetdeck that noticed.
    started: HashMap<ItemId, DateTime<Utc>>,
    pub finished: Vec<Record>,
    pub succeeded: HashSet<ItemId>,
    /// The latest run that really ran, per (server, action): what a server "is" now.
    pub latest: BTreeMap<(String, Action), Latest>,
    /// How long the last successful real run (not check mode) of each (server, action) took:
    /// the dashboard's ETA.
    pub durations: HashMap<(String, Action), u64>,
    pub next_id: ItemId,
    /// Lines that could not be read (a torn last line after a crash), by line number.
    pub skipped_lines: Vec<usize>,
    /// The number of the last line that holds anything: a skipped line before it was not torn
    /// by a crash but damaged.
    pub last_line: usize,
}

/// One (server, action)'s latest run, as the journal recorded it.
#[derive(Clone, Debug, PartialEq)]
pub struct Latest {
    /// The item as it was queued (tags, check mode, priority): what a retry repeats.
    pub item: Item,
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    pub duration_ms: Option<u64>,
    pub log: Option<PathBuf>,
    /// For a deploy: what its health check said, once one did.
    pub healthy: Option<bool>,
}

impl Replay {
    pub fn empty() -> Replay {
        Replay {
            next_id: 1,
            ..Replay::default()
        }
    }

    /// Queued and never started, in enqueue order.
    pub fn pending(&self) -> Vec<Item> {
        self.queued.values().cloned().collect()
    }

    /// Started and never finished, in id order.
    pub fn interrupted(&self) -> Vec<Item> {
        self.running.values().cloned().collect()
    }

    /// The log a started run was writing, if its child got that far.
    pub fn log_of(&self, id: ItemId) -> Option<&PathBuf> {
        self.logs.get(&id)
    }

    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::Enqueued { item, .. } => {
                self.next_id = self.next_id.max(item.id + 1);
                self.queued.insert(item.id, item.clone());
            }
            Record::Started { id, at, .. } => {
                if let Some(item) = self.queued.remove(id) {
                    self.running.insert(*id, item);
                    self.started.insert(*id, *at);
                }
            }
            Record::LogOpened { id, log, .. } => {
                self.logs.insert(*id, log.clone());
            }
            Record::Finished {
                at,
                id,
                outcome,
                duration_ms,
                log,
                ..
            } => {
                let ran = self.running.remove(id);
                let never_ran = self.queued.remove(id);
                let log = log.clone().or_else(|| self.logs.remove(id));
                self.logs.remove(id);
                let started = self.started.remove(id);
                if outcome.is_success() {
                    self.succeeded.insert(*id);
                }
                if let (Some(item), Outcome::Succeeded, Some(ms)) = (&ran, outcome, duration_ms)
                    && !item.check_mode
                {
                    self.durations
                        .insert((item.server.clone(), item.action), *ms);
                }
                // What ran is the server's latest. A link skipped before it ran shows only where
                // nothing ran before (it would hide what the server is); a cancelled queue
                // entry changes nothing.
                let shown = match (ran, never_ran) {
                    (Some(item), _) => Some(item),
                    (None, Some(item)) if matches!(outcome, Outcome::Skipped { .. }) => Some(item)
                        .filter(|item| {
                            !self
                                .latest
                                .contains_key(&(item.server.clone(), item.action))
                        }),
                    _ => None,
                };
                if let Some(item) = shown {
                    let key = (item.server.clone(), item.action);
                    let at = match outcome {
                        Outcome::Interrupted => started.unwrap_or(*at),
                        _ => *at,
                    };
                    let latest = Latest {
                        item,
                        at,
                        outcome: outcome.clone(),
                        duration_ms: *duration_ms,
                        log,
                        healthy: None,
                    };
                    self.latest.insert(key, latest);
                }
                self.finished.push(record.clone());
            }
            Record::Reprioritized { id, priority, .. } => {
                if let Some(item) = self.queued.get_mut(id) {
                    item.priority = *priority;
                }
            }
            Record::Repointed { old, new, .. } => {
                for item in self
                    .queued
                    .values_mut()
                    .filter(|item| item.after == Some(*old))
                {
                    item.after = Some(*new);
                }
            }
            Record::Health {
                deploy,
                server,
                healthy,
                ..
            } => {
                if let Some(latest) = self.latest.get_mut(&(server.clone(), Action::Deploy))
                    && latest.item.id == *deploy
                {
                    latest.healthy = Some(*healthy);
                }
                self.finished.push(record.clone());
            }
            Record::Session { .. }
            | Record::Resized { .. }
            | Record::Paused { .. }
            | Record::Resumed { .. } => {}
        }
    }
}

pub fn replay(path: &Path) -> Result<Replay> {
    let mut replay = Replay::empty();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(replay),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    for (index, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        replay.last_line = index + 1;
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => replay.apply(&record),
            Err(_) => replay.skipped_lines.push(index + 1),
        }
    }
    Ok(replay)
}
