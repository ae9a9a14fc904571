//! The journal folded into what it says: pending and interrupted items, successes, and each
//! (server, action)'s latest run (with its log, check mode and health), which every face shows.

use super::Record;
use super::wire::Line;
use crate::engine::model::Purpose;
use crate::engine::model::{Action, Item, ItemId, Outcome, Recap, Slot};
use crate::engine::rollout::{
    DEPLOY_INTERRUPTED, HEALTH_CHECK_INTERRUPTED, MemberState, Rollout, RolloutId, Step,
};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What the journal says, folded one record at a time (`apply`), so the engine can fold in what
/// it writes at start (runs it marks interrupted) and hand its faces the same truth.
#[derive(Debug, Default)]
pub struct Replay {
    /// Queued and never started, by id (= enqueue order).
    pub(super) queued: BTreeMap<ItemId, Item>,
    /// Started and never finished: fleetdeck died while they ran.
    pub(super) running: BTreeMap<ItemId, Item>,
    /// Log files of started runs, known once their child started.
    pub(super) logs: HashMap<ItemId, PathBuf>,
    /// When (and in which slot) each run in flight started: an interrupted run is dated by
    /// it, not by the next start of fleetdeck that noticed.
    pub(super) started: HashMap<ItemId, (DateTime<Utc>, Slot)>,
    /// The execution node of each run in flight, when config.yml names nodes.
    pub nodes: HashMap<ItemId, String>,
    /// Queued items merged into a held twin (the same work, queued again by a session that
    /// crashed in turn): their end is no outcome of the server's, the twin still holds the work.
    merged: HashSet<ItemId>,
    /// Every success ever (chain links wait on them). Not every finished record is kept: that
    /// is the whole history, and the journal's compaction drops it.
    pub succeeded: HashSet<ItemId>,
    /// The latest run that really ran, per (server, action): what a server "is" now.
    pub latest: BTreeMap<(String, Action), Latest>,
    /// How long the last successful real run (not check mode) of each (server, action) took:
    /// the dashboard's ETA.
    pub durations: HashMap<(String, Action), u64>,
    pub next_id: ItemId,
    /// Every rollout the journal holds, as its steps left it.
    pub rollouts: BTreeMap<RolloutId, Rollout>,
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
    /// Ansible's final counts, when the run got that far (kept so compaction keeps them).
    pub recap: Option<Recap>,
    /// When and on which worker slot it started, when it ran (kept so compaction keeps where
    /// the run was on the timeline).
    pub started: Option<(DateTime<Utc>, Slot)>,
    /// The execution node it ran on, when config.yml named nodes (kept so compaction keeps it).
    pub node: Option<String>,
    /// Another attempt followed it (kept so compaction keeps it).
    pub retried: bool,
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

    /// Rollouts still under way (or stopped): they come back with the work they hold.
    pub fn live_rollouts(&self) -> Vec<Rollout> {
        self.rollouts
            .values()
            .filter(|rollout| rollout.phase.is_live())
            .cloned()
            .collect()
    }

    /// Live rollouts as the next start finds them when nobody holds the environment: a member
    /// whose deploy or health check was running when fleetdeck stopped has failed (the engine
    /// journals the same at its start), which may stop the rollout.
    pub fn rollouts_after_stop(&self) -> Vec<Rollout> {
        let mut rollouts = self.live_rollouts();
        for rollout in &mut rollouts {
            let cut: Vec<Step> = rollout
                .members
                .iter()
                .filter_map(|member| {
                    let reason = match member.state {
                        MemberState::Waiting | MemberState::Deploying
                            if self.running.contains_key(&member.item) =>
                        {
                            DEPLOY_INTERRUPTED
                        }
                        MemberState::AwaitingHealth
                            if self.running.values().any(|item| {
                                item.purpose
                                    == Purpose::HealthCheck {
                                        deploy: member.item,
                                    }
                            }) =>
                        {
                            HEALTH_CHECK_INTERRUPTED
                        }
                        _ => return None,
                    };
                    Some(Step::Failed {
                        server: member.server.clone(),
                        reason: reason.to_string(),
                    })
                })
                .collect();
            for step in &cut {
                rollout.apply(step);
            }
        }
        rollouts
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
        self.apply_owned(record.clone());
    }

    /// `apply`, taking the record: replay owns what it parsed, so items and paths move into
    /// the state instead of being copied (a million lines make that count).
    pub fn apply_owned(&mut self, record: Record) {
        match record {
            Record::Enqueued { item, .. } => {
                self.next_id = self.next_id.max(item.id + 1);
                self.queued.insert(item.id, item);
            }
            Record::Started { id, at, slot, node } => {
                if let Some(item) = self.queued.remove(&id) {
                    self.running.insert(id, item);
                    self.started.insert(id, (at, slot));
                    if let Some(node) = node {
                        self.nodes.insert(id, node);
                    }
                }
            }
            Record::LogOpened { id, log, .. } => {
                self.logs.insert(id, log);
            }
            Record::Finished {
                at,
                id,
                outcome,
                duration_ms,
                log,
                recap,
                retried,
                ..
            } => {
                let ran = self.running.remove(&id);
                let never_ran = self.queued.remove(&id);
                let opened = self.logs.remove(&id);
                let log = log.or(opened);
                let started = self.started.remove(&id);
                let node = self.nodes.remove(&id);
                let merged = self.merged.remove(&id);
                if outcome.is_success() {
                    self.succeeded.insert(id);
                }
                if let (Some(item), Outcome::Succeeded, Some(ms)) = (&ran, &outcome, duration_ms)
                    && !item.check_mode
                {
                    self.durations
                        .insert((item.server.clone(), item.action), ms);
                }
                // What ran is the server's latest. A link skipped before it ran shows only where
                // nothing ran before (it would hide what the server is); a cancelled queue
                // entry or a merged twin changes nothing.
                let shown = match (ran, never_ran) {
                    (Some(item), _) => Some(item),
                    // A skip never hides a run; a newer skip replaces an older one.
                    (None, Some(item)) if matches!(outcome, Outcome::Skipped { .. }) && !merged => {
                        Some(item).filter(|item| {
                            self.latest
                                .get(&(item.server.clone(), item.action))
                                .is_none_or(|latest| {
                                    matches!(latest.outcome, Outcome::Skipped { .. })
                                })
                        })
                    }
                    _ => None,
                };
                if let Some(item) = shown {
                    let at = match outcome {
                        Outcome::Interrupted => started.map_or(at, |(at, _)| at),
                        _ => at,
                    };
                    let latest = Latest {
                        item,
                        at,
                        outcome,
                        duration_ms,
                        log,
                        healthy: None,
                        recap,
                        started,
                        node,
                        retried,
                    };
                    let key = (latest.item.server.clone(), latest.item.action);
                    self.latest.insert(key, latest);
                }
            }
            Record::Reprioritized { id, priority, .. } => {
                if let Some(item) = self.queued.get_mut(&id) {
                    item.priority = priority;
                }
            }
            Record::Repointed { old, new, .. } => {
                if self.queued.contains_key(&old) {
                    self.merged.insert(old);
                }
                for item in self
                    .queued
                    .values_mut()
                    .filter(|item| item.after == Some(old))
                {
                    item.after = Some(new);
                }
            }
            Record::Health {
                deploy,
                server,
                healthy,
                ..
            } => {
                if let Some(latest) = self.latest.get_mut(&(server, Action::Deploy))
                    && latest.item.id == deploy
                {
                    latest.healthy = Some(healthy);
                }
            }
            Record::RolloutBegan { rollout, .. } => {
                self.next_id = self.next_id.max(rollout.id + 1);
                self.rollouts.insert(rollout.id, *rollout);
            }
            Record::RolloutStep { rollout, step, .. } => {
                if let Some(rollout) = self.rollouts.get_mut(&rollout) {
                    rollout.apply(&step);
                }
            }
            Record::Compacted {
                next_id,
                succeeded,
                durations,
                ..
            } => {
                self.next_id = self.next_id.max(next_id);
                self.succeeded.extend(succeeded);
                for d in durations {
                    self.durations.insert((d.server, d.action), d.ms);
                }
            }
            Record::Session { .. }
            | Record::Resized { .. }
            | Record::Paused { .. }
            | Record::Resumed { .. } => {}
        }
    }
}

/// Calls `each` with every readable record of the journal at `path`, in order (none when it
/// does not exist): what the reports and the timeline fold, without a replay's bookkeeping.
pub fn for_each_record(path: &Path, mut each: impl FnMut(Record)) -> Result<()> {
    for_each_line_of(path, super::wire::threads(), |line| {
        if let Line::Read(record) = line {
            each(record);
        }
    })
}

/// Calls `each` with every line of the journal at `path`, decoded (none when it does not
/// exist). Read whole: one allocation for the file instead of one per line, and blocks of it
/// can be decoded on `threads` threads beside the calling one (0: on it alone).
fn for_each_line_of(path: &Path, threads: usize, each: impl FnMut(Line)) -> Result<()> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    // A final newline ends the last line; it does not start an empty one.
    let text = text.strip_suffix(b"\n").unwrap_or(&text);
    super::wire::for_each_line(text, threads, each);
    Ok(())
}

pub fn replay(path: &Path) -> Result<Replay> {
    replay_on(path, super::wire::threads())
}

/// `replay`, decoding on `threads` threads beside the calling one (0: on it alone).
pub(super) fn replay_on(path: &Path, threads: usize) -> Result<Replay> {
    let mut replay = Replay::empty();
    let mut index = 0;
    for_each_line_of(path, threads, |line| {
        index += 1;
        match line {
            Line::Blank => {}
            Line::Unreadable => {
                replay.last_line = index;
                replay.skipped_lines.push(index);
            }
            Line::Read(record) => {
                replay.last_line = index;
                replay.apply_owned(record);
            }
        }
    })?;
    Ok(replay)
}
