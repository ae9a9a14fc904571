//! The live dashboard's timeline: the engine's events folded into the same model the journal
//! builds, so a view opened mid-run shows what the journal held at start and what ran since.

use super::Timeline;
use crate::engine::snapshot::Snapshot;
use crate::engine::{EngineEvent, FinishedRun};
use chrono::{DateTime, Utc};

impl Timeline {
    /// Folds one engine event in: a snapshot starts the bars of runs not seen yet and records
    /// a change of the worker target; a finished run ends its bar.
    pub fn follow(&mut self, event: &EngineEvent) {
        match event {
            EngineEvent::Snapshot(snapshot) => self.follow_snapshot(snapshot),
            EngineEvent::Finished(run) => self.follow_finished(run),
            EngineEvent::Health {
                deploy, healthy, ..
            } => {
                if let Some(entry) = self.latest_mut(*deploy) {
                    entry.healthy = Some(*healthy);
                }
            }
            EngineEvent::Idle | EngineEvent::Stopped | EngineEvent::Runner(_) => {}
        }
    }

    fn follow_snapshot(&mut self, snapshot: &Snapshot) {
        self.seen(snapshot.at);
        let target_changed = self
            .workers
            .last()
            .is_none_or(|w| w.workers != snapshot.target_workers);
        if target_changed {
            self.resized(snapshot.at, snapshot.target_workers);
        }
        for worker in &snapshot.workers {
            let Some(run) = &worker.run else { continue };
            if !self.knows_attempt(run.item.id, run.started_at) {
                self.enqueue_item(&run.item);
                self.started(run.item.id, worker.slot, run.started_at);
            }
            // The log is opened just after the start: a later snapshot names it.
            if let (Some(log), Some(entry)) = (&run.log_path, self.latest_mut(run.item.id))
                && entry.log.is_none()
                && entry.is_running()
            {
                entry.log = Some(log.clone());
            }
        }
    }

    fn follow_finished(&mut self, run: &FinishedRun) {
        let id = run.item.id;
        let known = self.get(id);
        // This attempt has its outcome already: the journal read at start holds it (the
        // engine ran before the dashboard read it), and its finish must change nothing.
        if known.is_some_and(|entry| {
            !entry.is_running() && entry.ran.map(|ran| ran.start) == run.started_at
        }) {
            return;
        }
        let running_start = known
            .filter(|entry| entry.is_running())
            .and_then(|entry| entry.ran)
            .map(|ran| ran.start);
        let end = match (run.started_at.or(running_start), run.slot) {
            (Some(start), Some(slot)) => {
                // It started and ended between two snapshots: its bar is where it really ran.
                if running_start.is_none() {
                    self.enqueue_item(&run.item);
                    self.started(id, slot, start);
                }
                start + run.duration
            }
            // A run whose start was not told: it ended no later than the engine was last heard
            // of.
            (_, Some(slot)) => {
                let end = self.last_seen.unwrap_or_else(Utc::now);
                self.enqueue_item(&run.item);
                self.started(id, slot, end - run.duration);
                end
            }
            // Never ran (skipped, cancelled while queued): a mark, not a bar.
            (_, None) => self.last_seen.unwrap_or_else(Utc::now),
        };
        self.finished(
            id,
            &run.item.server,
            run.item.action,
            &run.outcome,
            end,
            run.log_path.clone(),
            run.recap,
        );
        if let Some(entry) = self.latest_mut(id) {
            entry.retried = run.retried;
        }
        self.seen(end);
    }

    /// This attempt already has its bar: it runs, or it started at that very time (the
    /// journal read at start holds the runs in flight then).
    fn knows_attempt(&self, id: crate::engine::model::ItemId, start: DateTime<Utc>) -> bool {
        self.get(id).is_some_and(|entry| {
            entry.is_running() || entry.ran.is_some_and(|ran| ran.start == start)
        })
    }
}

#[cfg(test)]
mod tests;
