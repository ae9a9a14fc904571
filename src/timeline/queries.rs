//! What the views and reports ask of the timeline: its entries, its lanes and the runs in a
//! stretch of one, the worker counts, the span of it all.

use super::{Entry, Timeline, WorkersFrom};
use crate::engine::model::ItemId;
use chrono::{DateTime, Utc};
use std::ops::Range;

impl Timeline {
    /// Every entry, in the order it started (or ended, when it never ran).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
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
        let runs = self.lane_runs(lane);
        runs.between(from, to, now)
            .map(move |position| runs.get(position))
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
