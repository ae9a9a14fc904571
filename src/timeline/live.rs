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
        let start = run.ran.map(|ran| ran.started_at);
        // This attempt has its outcome already: the journal read at start holds it (the
        // engine ran before the dashboard read it), and its finish must change nothing.
        if self
            .get(id)
            .is_some_and(|entry| !entry.is_running() && entry.ran.map(|ran| ran.start) == start)
        {
            return;
        }
        let end = match run.ran {
            Some(ran) => {
                // It started and ended between two snapshots: its bar is where it really ran.
                if !self.get(id).is_some_and(|entry| entry.is_running()) {
                    self.enqueue_item(&run.item);
                    self.started(id, ran.slot, ran.started_at);
                }
                ran.started_at + run.duration
            }
            // Never ran (skipped, cancelled while queued): a mark, not a bar.
            None => self.last_seen.unwrap_or_else(Utc::now),
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
