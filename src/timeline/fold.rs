//! Folding what happened into the timeline, one record (or live event) at a time: an item
//! enqueued, started on a worker, finished; a session began; the workers resized.

use super::{Entry, Pending, Ran, Timeline, WorkersFrom};
use crate::engine::journal::Record;
use crate::engine::model::{Action, Item, ItemId, Outcome, Purpose, Recap, Slot};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

impl Timeline {
    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::Session { at, workers, .. } => {
                self.in_compacted = false;
                self.session(*at, *workers);
            }
            Record::Enqueued { item, .. } => self.enqueue_item(item),
            Record::Started { at, id, slot, .. } => {
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
            self.seen(at);
        }
    }

    /// The time of a record or event: the last one seen is where a session that died stopped.
    pub(super) fn seen(&mut self, at: DateTime<Utc>) {
        self.last_seen = Some(self.last_seen.map_or(at, |seen| seen.max(at)));
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

    /// An item as the engine holds it enqueued: a health check names the deploy it decides.
    pub(super) fn enqueue_item(&mut self, item: &Item) {
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

    pub fn started(&mut self, id: ItemId, lane: Slot, at: DateTime<Utc>) {
        self.start(id, lane, at, false);
    }

    fn start(&mut self, id: ItemId, lane: Slot, at: DateTime<Utc>, lane_lost: bool) {
        let Some(pending) = self.pending.get(&id) else {
            return;
        };
        let entry = Entry::attempt(
            id,
            pending,
            Some(Ran { lane, start: at }),
            self.current_session(),
            lane_lost,
        );
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
                let what = Pending {
                    server: server.to_string(),
                    action,
                    check_mode: pending.is_some_and(|p| p.check_mode),
                    health_of: pending.and_then(|p| p.health_of),
                };
                let entry = Entry::attempt(id, &what, None, self.current_session(), false);
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

    /// The index of the session under way (of the records folded so far).
    fn current_session(&self) -> usize {
        self.sessions.saturating_sub(1)
    }

    pub(super) fn latest_mut(&mut self, id: ItemId) -> Option<&mut Entry> {
        let index = *self.latest.get(&id)?;
        self.entries.get_mut(index)
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

impl Entry {
    /// One attempt of what `what` enqueued, before it ended: a bar from `ran` on, or (`None`)
    /// a mark of one that never ran.
    fn attempt(
        id: ItemId,
        what: &Pending,
        ran: Option<Ran>,
        session: usize,
        lane_lost: bool,
    ) -> Entry {
        Entry {
            id,
            server: what.server.clone(),
            action: what.action,
            check_mode: what.check_mode,
            health_of: what.health_of,
            ran,
            end: None,
            outcome: None,
            recap: None,
            log: None,
            healthy: None,
            session,
            retried: false,
            lane_lost,
        }
    }
}
