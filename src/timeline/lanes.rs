//! One lane's runs addressed by position, with the positions of those that went wrong kept
//! as outcomes arrive: zoomed out, one cell of a lane holds hundreds of runs, and the frame
//! needs only the one that matters most in each (a failure before successes), found by
//! bisection instead of a visit to every run.

use super::{Entry, Timeline};
use crate::engine::model::Outcome;
use chrono::{DateTime, Utc};
use std::ops::Range;

/// The runs of one lane, in start order.
#[derive(Clone, Copy, Debug)]
pub struct LaneRuns<'t> {
    entries: &'t [Entry],
    /// Indexes into `entries`, in start order (ascending, unless the journal held the runs out
    /// of time order).
    indexes: &'t [usize],
    /// Positions in `indexes` of the runs that went wrong, ascending.
    went_wrong: &'t [usize],
}

impl<'t> LaneRuns<'t> {
    pub fn len(&self) -> usize {
        self.indexes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indexes.is_empty()
    }

    /// The run at `position` (0 is the lane's first).
    pub fn get(&self, position: usize) -> &'t Entry {
        &self.entries[self.indexes[position]]
    }

    /// The positions of the runs that overlap [from, to], found by bisection; `now` ends the
    /// runs still running.
    pub fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Range<usize> {
        // Runs in one lane never overlap (a worker runs one at a time), so their ends are in
        // start order too.
        let first = self
            .indexes
            .partition_point(|index| self.entries[*index].end.unwrap_or(now) < from);
        let past = first
            + self.indexes[first..].partition_point(|index| {
                self.entries[*index].ran.is_some_and(|ran| ran.start <= to)
            });
        first..past
    }

    /// The last run in `positions` that went wrong (failed, unreachable, timed out, …).
    pub fn last_went_wrong(&self, positions: Range<usize>) -> Option<usize> {
        let before_end = self.went_wrong.partition_point(|p| *p < positions.end);
        self.went_wrong[..before_end]
            .last()
            .copied()
            .filter(|p| *p >= positions.start)
    }

    /// Where `entry` (a reference into this timeline) sits in the lane; `None` when it did not
    /// run here.
    pub fn position(&self, entry: &Entry) -> Option<usize> {
        let start = entry.ran?.start;
        let first = self.indexes.partition_point(|index| {
            self.entries[*index]
                .ran
                .is_some_and(|ran| ran.start < start)
        });
        (first..self.len())
            .take_while(|p| self.get(*p).ran.is_some_and(|ran| ran.start == start))
            .find(|p| std::ptr::eq(self.get(*p), entry))
    }
}

impl Timeline {
    /// The runs of `lane` by position (none for a lane never used).
    pub fn lane_runs(&self, lane: usize) -> LaneRuns<'_> {
        LaneRuns {
            entries: &self.entries,
            indexes: self.lanes.get(lane).map(Vec::as_slice).unwrap_or_default(),
            went_wrong: self
                .went_wrong
                .get(lane)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        }
    }

    /// Puts the run at `index` on `lane` in start order, which the bisection of
    /// `lane_between` needs, even when the journal holds the runs out of time order.
    pub(super) fn join_lane(&mut self, lane: usize, index: usize) {
        if self.lanes.len() <= lane {
            self.lanes.resize_with(lane + 1, Vec::new);
        }
        let start = |entries: &[Entry], index: usize| entries[index].ran.map(|ran| ran.start);
        let at = start(&self.entries, index);
        let runs = &self.lanes[lane];
        let position = match runs.last() {
            Some(last) if start(&self.entries, *last) > at => {
                runs.partition_point(|other| start(&self.entries, *other) <= at)
            }
            _ => runs.len(),
        };
        self.lanes[lane].insert(position, index);
        // Positions after it moved one on.
        if let Some(listed) = self.went_wrong.get_mut(lane) {
            listed
                .iter_mut()
                .filter(|p| **p >= position)
                .for_each(|p| *p += 1);
        }
    }

    /// Called whenever the entry at `index` gets its outcome or joins a lane: a run that went
    /// wrong is listed under its lane.
    pub(super) fn note_outcome(&mut self, index: usize) {
        let entry = &self.entries[index];
        let (Some(ran), Some(outcome)) = (entry.ran, &entry.outcome) else {
            return;
        };
        if !Outcome::went_wrong(outcome) {
            return;
        }
        let lane = ran.lane as usize;
        let Some(runs) = self.lanes.get(lane) else {
            return;
        };
        let found = match runs.binary_search(&index) {
            Ok(position) => Some(position),
            // A lane put in start order from runs read out of it.
            Err(_) => runs.iter().position(|i| *i == index),
        };
        let Some(position) = found else {
            return;
        };
        if self.went_wrong.len() <= lane {
            self.went_wrong.resize_with(lane + 1, Vec::new);
        }
        let listed = &mut self.went_wrong[lane];
        if let Err(at) = listed.binary_search(&position) {
            listed.insert(at, position);
        }
    }
}
