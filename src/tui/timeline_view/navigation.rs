//! Where the cursor's keys lead: the next bar in a lane, the nearest bar in the lane above or
//! below, the first and the newest run, and the bar a cursor starts on.

use super::{Cursor, TimelineView};
use crate::timeline::{Entry, Timeline};
use chrono::{DateTime, TimeDelta, Utc};
use std::ops::Range;

impl TimelineView {
    /// With no cursor yet: the newest bar on screen, else the newest of all.
    pub(super) fn default_bar<'t>(
        &self,
        timeline: &'t Timeline,
        now: DateTime<Utc>,
        columns: u16,
    ) -> Option<&'t Entry> {
        let window = self.window(now, columns);
        let lanes = timeline.shown_lanes();
        lanes
            .clone()
            .filter_map(|lane| {
                timeline
                    .lane_between(lane, window.left, window.right(), now)
                    .last()
            })
            .max_by_key(|entry| start_of(entry))
            .or_else(|| newest_run(timeline, &lanes))
    }
}

pub(super) fn is_at(entry: &Entry, cursor: Cursor) -> bool {
    entry.id == cursor.id && entry.ran.is_some_and(|ran| ran.start == cursor.start)
}

fn start_of(entry: &Entry) -> DateTime<Utc> {
    entry.ran.map_or(DateTime::UNIX_EPOCH, |ran| ran.start)
}

pub(super) fn cursor_of(entry: &Entry) -> Option<Cursor> {
    entry.ran.map(|ran| Cursor {
        lane: ran.lane as usize,
        id: entry.id,
        start: ran.start,
    })
}

pub(super) fn step_in_lane<'t>(
    timeline: &'t Timeline,
    entry: &Entry,
    forward: bool,
) -> Option<&'t Entry> {
    let cursor = cursor_of(entry)?;
    let mut lane = timeline.lane(cursor.lane);
    if forward {
        lane.by_ref().find(|e| is_at(e, cursor))?;
        lane.next()
    } else {
        let mut lane = lane.rev();
        lane.by_ref().find(|e| is_at(e, cursor))?;
        lane.next()
    }
}

/// In the next lane up or down that has bars, the one closest in time to `entry`.
pub(super) fn nearest_across<'t>(
    timeline: &'t Timeline,
    entry: &Entry,
    down: bool,
    now: DateTime<Utc>,
) -> Option<&'t Entry> {
    let ran = entry.ran?;
    let (from, to) = (ran.start, entry.end.unwrap_or(now));
    let lanes = timeline.shown_lanes();
    let here = ran.lane as usize;
    let candidates: Box<dyn Iterator<Item = usize>> = if down {
        Box::new(here + 1..lanes.end)
    } else {
        Box::new((lanes.start..here).rev())
    };
    let distance = |other: &Entry| {
        let start = start_of(other);
        let end = other.end.unwrap_or(now);
        if end < from {
            from - end
        } else if start > to {
            start - to
        } else {
            TimeDelta::zero()
        }
    };
    candidates
        .filter_map(|lane| timeline.lane(lane).min_by_key(|other| distance(other)))
        .next()
}

pub(super) fn first_run(timeline: &Timeline) -> Option<&Entry> {
    timeline
        .shown_lanes()
        .filter_map(|lane| timeline.lane(lane).next())
        .min_by_key(|entry| start_of(entry))
}

pub(super) fn newest_run<'t>(timeline: &'t Timeline, lanes: &Range<usize>) -> Option<&'t Entry> {
    lanes
        .clone()
        .filter_map(|lane| timeline.lane(lane).next_back())
        .max_by_key(|entry| start_of(entry))
}
