//! A report's cut of the timeline: the runs a window covers, and the worker counts from its
//! start on.

use super::{Entry, Timeline, WorkersFrom};
use chrono::{DateTime, Utc};

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

impl Timeline {
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
}
