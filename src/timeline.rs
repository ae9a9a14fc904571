//! What ran where and when: every run as a bar on its worker's lane, from its start to its end,
//! with its outcome. The dashboard's timeline and matrix and the JUnit and HTML reports all
//! draw from this one model, built the same way from the journal's records (a report, an
//! earlier session) or from the engine's events (the live dashboard), so they cannot disagree.

mod abandoned;
pub mod lanes;
pub mod live;
pub mod matrix;

use crate::engine::journal::{Record, for_each_record};
use crate::engine::model::{Action, ItemId, Outcome, Purpose, Recap, Slot};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which part of the journal a report covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    All,
    /// Runs that started or ended at or after this time.
    Since(DateTime<Utc>),
    /// The runs of the last session (the last time fleetdeck started on the environment),
    /// including held work an earlier session queued and this one ran.
    LastSession,
}

/// One attempt of one (server, action): a bar when it ran, a mark when it never did (skipped,
/// cancelled while queued).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: ItemId,
    pub server: String,
    pub action: Action,
    pub check_mode: bool,
    /// A health check deciding this deploy, not a check the operator asked for.
    pub health_of: Option<ItemId>,
    /// Where and when it started; `None` when it never ran.
    pub ran: Option<Ran>,
    /// When it ended; `None` while it runs. A run cut by a crash ends at the last record its
    /// session wrote, not when the next session noticed.
    pub end: Option<DateTime<Utc>>,
    /// `None` while it runs.
    pub outcome: Option<Outcome>,
    pub recap: Option<Recap>,
    pub log: Option<PathBuf>,
    /// For a deploy: what its health check said.
    pub healthy: Option<bool>,
    /// The index of the session it started in (or ended in, when it never ran).
    pub session: usize,
    /// Another attempt followed (an unreachable host or a health check tried again, under a
    /// new id): superseded, not the item's verdict.
    pub retried: bool,
    /// The journal lost which worker ran it (compacted before slots were kept): it has its
    /// start and end but is on no lane (`ran.lane` is 0 and means nothing).
    pub lane_lost: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ran {
    pub lane: Slot,
    pub start: DateTime<Utc>,
}

impl Entry {
    pub fn is_running(&self) -> bool {
        self.outcome.is_none()
    }

    /// How long it ran, up to `now` while it runs; zero when it never ran.
    pub fn duration(&self, now: DateTime<Utc>) -> Duration {
        match self.ran {
            Some(ran) => (self.end.unwrap_or(now) - ran.start)
                .to_std()
                .unwrap_or_default(),
            None => Duration::ZERO,
        }
    }

    /// The entry's time: its start, or its end when it never ran.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        self.ran.map(|ran| ran.start).or(self.end)
    }
}

/// How many workers there were from a time on (a session's start or a resize).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkersFrom {
    pub at: DateTime<Utc>,
    pub workers: u32,
    /// A session began here (fleetdeck started).
    pub session: bool,
}

/// What an enqueued item is, kept until it ends: `Started` names only the id.
#[derive(Clone, Debug)]
struct Pending {
    server: String,
    action: Action,
    check_mode: bool,
    health_of: Option<ItemId>,
}

#[derive(Clone, Debug, Default)]
pub struct Timeline {
    entries: Vec<Entry>,
    /// The entry of each item: one attempt per id (a retry is a new item with a new id), but
    /// a run the journal cut is marked interrupted by the next session under the same id.
    latest: HashMap<ItemId, usize>,
    pending: HashMap<ItemId, Pending>,
    /// Per lane, the entries that ran in it, in start order.
    lanes: Vec<Vec<usize>>,
    /// Per lane, the positions in `lanes` of the runs that went wrong (see `lanes.rs`).
    went_wrong: Vec<Vec<usize>>,
    workers: Vec<WorkersFrom>,
    /// The time of the last record seen: where a session that died stopped.
    last_seen: Option<DateTime<Utc>>,
    sessions: usize,
    /// Reading the runs a compaction kept, up to the next session: there a start on slot 0
    /// is one whose slot was not kept (worker slots are numbered from 1).
    in_compacted: bool,
}

impl Timeline {
    /// The journal at `path` (none yet: an empty timeline), cut to `window`.
    pub fn read(path: &Path, window: Window) -> Result<Timeline> {
        let mut timeline = Timeline::default();
        for_each_record(path, |record| timeline.apply(&record))?;
        Ok(timeline.within(window))
    }

    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::Session { at, workers, .. } => {
                self.in_compacted = false;
                self.session(*at, *workers);
            }
            Record::Enqueued { item, .. } => {
                let health_of = match item.purpose {
                    Purpose::HealthCheck { deploy } => Some(deploy),
                    Purpose::Requested => None,
                };
                self.enqueued(
                    item.id,
                    &item.server,
                    item.action,
                    item.check_mode,
                    health_of,
                );
            }
            Record::Started { at, id, slot } => {
                let lane_lost = self.in_compacted && *slot == 0;
                self.start(*id, *slot, *at, lane_lost);
            }
            Record::Finished {
                at,
                id,
                server,
                action,
                outcome,
                recap,
                log,
                duration_ms,
                retried,
            } => {
                self.finished(*id, server, *action, outcome, *at, log.clone(), *recap);
                if let Some(entry) = self.latest_mut(*id) {
                    entry.retried = *retried;
                    // A lost slot came with a made-up start (the finish time): the duration
                    // the record kept says when it really started.
                    if let (true, Some(ran), Some(ms)) =
                        (entry.lane_lost, &mut entry.ran, duration_ms)
                    {
                        ran.start = *at - chrono::Duration::milliseconds(*ms as i64);
                    }
                }
            }
            Record::Compacted { .. } => self.in_compacted = true,
            Record::LogOpened { id, log, .. } => {
                if let Some(entry) = self.latest_mut(*id) {
                    entry.log = Some(log.clone());
                }
            }
            Record::Resized { at, to, .. } => self.resized(*at, *to),
            Record::Health {
                deploy, healthy, ..
            } => {
                if let Some(entry) = self.latest_mut(*deploy) {
                    entry.healthy = Some(*healthy);
                }
            }
            _ => {}
        }
        // A run marked interrupted is news of the session before, written by the next one: it
        // says nothing of when that session was last heard of.
        let about_the_past = matches!(
            record,
            Record::Finished {
                outcome: Outcome::Interrupted,
                ..
            }
        );
        if let Some(at) = record_time(record).filter(|_| !about_the_past) {
            self.last_seen = Some(self.last_seen.map_or(at, |seen| seen.max(at)));
        }
    }

    /// fleetdeck started with `workers`: whatever the last session left running was cut when
    /// that session was last heard of.
    pub fn session(&mut self, at: DateTime<Utc>, workers: u32) {
        let cut_at = self.last_seen.unwrap_or(at);
        for index in self.latest.values() {
            let entry = &mut self.entries[*index];
            if entry.end.is_none() && entry.ran.is_some() {
                entry.end = Some(cut_at.max(entry.ran.map_or(cut_at, |r| r.start)));
            }
        }
        self.sessions += 1;
        self.workers.push(WorkersFrom {
            at,
            workers,
            session: true,
        });
    }

    pub fn enqueued(
        &mut self,
        id: ItemId,
        server: &str,
        action: Action,
        check_mode: bool,
        health_of: Option<ItemId>,
    ) {
        self.pending.insert(
            id,
            Pending {
                server: server.to_string(),
                action,
                check_mode,
                health_of,
            },
        );
    }

    pub fn started(&mut self, id: ItemId, lane: Slot, at: DateTime<Utc>) {
        self.start(id, lane, at, false);
    }

    fn start(&mut self, id: ItemId, lane: Slot, at: DateTime<Utc>, lane_lost: bool) {
        let Some(pending) = self.pending.get(&id) else {
            return;
        };
        let entry = Entry {
            id,
            server: pending.server.clone(),
            action: pending.action,
            check_mode: pending.check_mode,
            health_of: pending.health_of,
            ran: Some(Ran { lane, start: at }),
            end: None,
            outcome: None,
            recap: None,
            log: None,
            healthy: None,
            session: self.sessions.saturating_sub(1),
            retried: false,
            lane_lost,
        };
        let index = self.entries.len();
        self.entries.push(entry);
        self.latest.insert(id, index);
        if !lane_lost {
            self.join_lane(lane as usize, index);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn finished(
        &mut self,
        id: ItemId,
        server: &str,
        action: Action,
        outcome: &Outcome,
        at: DateTime<Utc>,
        log: Option<PathBuf>,
        recap: Option<Recap>,
    ) {
        let running = self
            .latest
            .get(&id)
            .copied()
            .filter(|index| self.entries[*index].outcome.is_none());
        let index = match running {
            Some(index) => index,
            // Never started: a skip, a cancel while queued.
            None => {
                let pending = self.pending.get(&id);
                let entry = Entry {
                    id,
                    server: server.to_string(),
                    action,
                    check_mode: pending.is_some_and(|p| p.check_mode),
                    health_of: pending.and_then(|p| p.health_of),
                    ran: None,
                    end: None,
                    outcome: None,
                    recap: None,
                    log: None,
                    healthy: None,
                    session: self.sessions.saturating_sub(1),
                    retried: false,
                    lane_lost: false,
                };
                self.entries.push(entry);
                self.latest.insert(id, self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        let last_seen = self.last_seen;
        let entry = &mut self.entries[index];
        entry.end = match (outcome, entry.end) {
            // Cut by a crash: it ends where its session was last heard of (the next session
            // writes this record, maybe hours later), or where a session start already cut it.
            (Outcome::Interrupted, Some(cut)) => Some(cut),
            (Outcome::Interrupted, None) => {
                let start = entry.ran.map(|ran| ran.start);
                Some(last_seen.unwrap_or(at).max(start.unwrap_or(at)).min(at))
            }
            _ => Some(at),
        };
        entry.outcome = Some(outcome.clone());
        entry.recap = recap.or(entry.recap);
        if log.is_some() {
            entry.log = log;
        }
        self.note_outcome(index);
    }

    pub fn resized(&mut self, at: DateTime<Utc>, workers: u32) {
        self.workers.push(WorkersFrom {
            at,
            workers,
            session: false,
        });
    }

    fn latest_mut(&mut self, id: ItemId) -> Option<&mut Entry> {
        let index = *self.latest.get(&id)?;
        self.entries.get_mut(index)
    }

    /// Only what `window` covers: runs that started or ended in it, and the worker counts
    /// from its start on.
    pub fn within(self, window: Window) -> Timeline {
        let from = match window {
            Window::All => return self,
            Window::Since(at) => at,
            Window::LastSession => match self.workers.iter().rev().find(|w| w.session) {
                Some(session) => session.at,
                None => return self,
            },
        };
        let keep = |entry: &Entry| {
            entry.ran.is_some_and(|ran| ran.start >= from)
                || entry.end.is_none_or(|end| end >= from)
        };
        let workers_before = self
            .workers
            .iter()
            .rev()
            .find(|w| w.at <= from)
            // The window's first marker is a session start only when one began right there.
            .map(|w| WorkersFrom {
                at: from,
                session: w.session && w.at == from,
                ..*w
            });
        let mut timeline = Timeline {
            pending: self.pending,
            last_seen: self.last_seen,
            sessions: self.sessions,
            ..Timeline::default()
        };
        timeline.workers = workers_before
            .into_iter()
            .chain(self.workers.into_iter().filter(|w| w.at > from))
            .collect();
        for entry in self.entries.into_iter().filter(keep) {
            timeline.push(entry);
        }
        timeline
    }

    fn push(&mut self, entry: Entry) {
        let index = self.entries.len();
        let lane = entry.ran.filter(|_| !entry.lane_lost).map(|ran| ran.lane);
        self.latest.insert(entry.id, index);
        self.entries.push(entry);
        if let Some(lane) = lane {
            self.join_lane(lane as usize, index);
        }
        self.note_outcome(index);
    }

    /// Every entry, in the order it started (or ended, when it never ran).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Lanes: one per worker slot that ever ran something, or that the workers allow.
    pub fn lane_count(&self) -> usize {
        let allowed = self.workers.iter().map(|w| w.workers).max().unwrap_or(0) as usize;
        self.lanes.len().max(allowed)
    }

    /// The lanes worth a row: the worker slots, numbered from 1, up to the most workers there
    /// ever were or the highest slot that ran something (lane 0 only when something ran in it,
    /// as in hand-made timelines).
    pub fn shown_lanes(&self) -> Range<usize> {
        let first = usize::from(self.lane(0).next().is_none());
        let highest_used = (0..self.lanes.len())
            .rev()
            .find(|lane| !self.lanes[*lane].is_empty());
        let most_workers = self.workers.iter().map(|w| w.workers.max(1) as usize).max();
        let last = highest_used
            .map_or(0, |lane| lane + 1)
            .max(most_workers.unwrap_or(0) + first);
        first..last.max(first)
    }

    /// The entries that ran in `lane`, in start order.
    pub fn lane(&self, lane: usize) -> impl DoubleEndedIterator<Item = &Entry> + '_ {
        self.lanes
            .get(lane)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|index| &self.entries[*index])
    }

    /// The entries of `lane` that overlap [from, to], found by bisection: a frame of a long
    /// history costs what it shows, not what it holds. `now` ends the bars still running.
    pub fn lane_between(
        &self,
        lane: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = &Entry> + '_ {
        let indexes = self.lanes.get(lane).map(Vec::as_slice).unwrap_or_default();
        // Runs in one lane never overlap (a worker runs one at a time), so their ends are in
        // start order too: the first that ends at or after `from` is found by bisection.
        let first = indexes.partition_point(|index| {
            let entry = &self.entries[*index];
            entry.end.unwrap_or(now) < from
        });
        indexes[first..]
            .iter()
            .map(|index| &self.entries[*index])
            .take_while(move |entry| entry.ran.is_some_and(|ran| ran.start <= to))
    }

    /// The worker counts over time, in order.
    pub fn workers(&self) -> &[WorkersFrom] {
        &self.workers
    }

    /// How many workers there were at `at` (0 before anything was recorded).
    pub fn workers_at(&self, at: DateTime<Utc>) -> u32 {
        self.workers
            .iter()
            .rev()
            .find(|w| w.at <= at)
            .map_or(0, |w| w.workers)
    }

    /// The first start and the last end (or `now`, while something runs).
    pub fn span(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let start = self
            .entries
            .iter()
            .filter_map(|e| e.ran)
            .map(|r| r.start)
            .min()?;
        let end = self
            .entries
            .iter()
            .filter(|e| e.ran.is_some())
            .map(|e| e.end.unwrap_or(now))
            .max()
            .unwrap_or(start);
        Some((start, end.max(start)))
    }

    /// The latest attempt of an item.
    pub fn get(&self, id: ItemId) -> Option<&Entry> {
        self.latest.get(&id).map(|index| &self.entries[*index])
    }
}

fn record_time(record: &Record) -> Option<DateTime<Utc>> {
    match record {
        Record::Session { at, .. }
        | Record::Enqueued { at, .. }
        | Record::Started { at, .. }
        | Record::Finished { at, .. }
        | Record::LogOpened { at, .. }
        | Record::Reprioritized { at, .. }
        | Record::Repointed { at, .. }
        | Record::Resized { at, .. }
        | Record::Paused { at, .. }
        | Record::Resumed { at, .. }
        | Record::Health { at, .. }
        | Record::RolloutBegan { at, .. }
        | Record::RolloutStep { at, .. } => Some(*at),
        _ => None,
    }
}

#[cfg(test)]
mod journal_cases_tests;
#[cfg(test)]
mod tests;
