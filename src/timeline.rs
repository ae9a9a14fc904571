//! What ran where and when: every run as a bar on its worker's lane, from its start to its end,
//! with its outcome. The dashboard's timeline and matrix and the JUnit and HTML reports all
//! draw from this one model, built the same way from the journal's records (a report, an
//! earlier session) or from the engine's events (the live dashboard), so they cannot disagree.

mod abandoned;
mod fold;
pub mod lanes;
pub mod live;
pub mod matrix;
mod queries;
mod window;

pub use window::Window;

use crate::engine::journal::for_each_record;
use crate::engine::model::{Action, ItemId, Outcome, Recap, Slot};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
}

#[cfg(test)]
mod journal_cases_tests;
#[cfg(test)]
mod tests;
