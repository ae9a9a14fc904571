//! The timeline view's state and what its keys do: which stretch of time it shows (a zoom
//! level and either "now" or a fixed right edge) and which bar the cursor is on. The bars
//! themselves live in the shared `Timeline`; the view only points into it.

use super::keymap::{ModeAction, Scope};
use super::mode::{Context, Effect, ModeKeys, Reply};
use crate::engine::model::ItemId;
use crate::timeline::{Entry, Timeline};
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use crossterm::event::KeyEvent;
use std::path::PathBuf;

mod navigation;
use navigation::{cursor_of, first_run, is_at, nearest_across, newest_run, step_in_lane};

/// Seconds per column, finest first.
pub const ZOOM_LADDER: [i64; 9] = [1, 2, 5, 10, 30, 60, 300, 900, 3600];
const DEFAULT_ZOOM: usize = 3;

/// Columns left of the bars: "w12 ▸".
pub const LABEL_WIDTH: u16 = 5;

/// How many columns of bars a screen `width` wide has (the overlay's border and the lane labels
/// take the rest).
pub fn bar_columns(width: u16) -> u16 {
    width.saturating_sub(2 + LABEL_WIDTH).max(1)
}

/// What the view's keys do; the dashboard's key table maps keys to these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimelineKey {
    /// The previous bar in the cursor's lane.
    Left,
    /// The next bar in the cursor's lane.
    Right,
    /// The nearest bar, in time, in the next lane up that has one.
    Up,
    /// The nearest bar, in time, in the next lane down that has one.
    Down,
    /// Fewer seconds per column.
    ZoomIn,
    /// More seconds per column.
    ZoomOut,
    /// Half a screen back in time (stops following now).
    Earlier,
    /// Half a screen forward in time (follows now again on reaching it).
    Later,
    /// The first run.
    Home,
    /// Back to now, on the newest run.
    End,
    /// Open the cursor bar's log.
    Open,
    Close,
}

/// What the dashboard does after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimelineOutcome {
    Stay,
    Close,
    OpenLog { title: String, path: PathBuf },
    Notice(String),
}

/// The bar under the cursor: an attempt, found again by its item and start as time moves
/// and bars are added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub lane: usize,
    pub id: ItemId,
    pub start: DateTime<Utc>,
}

/// The stretch of time on screen: `columns` columns of `step` each from `left`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    pub left: DateTime<Utc>,
    pub step: TimeDelta,
    pub columns: u16,
}

impl TimeWindow {
    pub fn right(&self) -> DateTime<Utc> {
        self.left + self.step * i32::from(self.columns)
    }

    /// The column `at` falls in (negative or past the last column when off screen).
    pub fn column(&self, at: DateTime<Utc>) -> i64 {
        (at - self.left)
            .num_milliseconds()
            .div_euclid(self.step.num_milliseconds())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimelineView {
    zoom: usize,
    /// The right edge is now.
    following: bool,
    /// The time in the last column while not following.
    anchor: DateTime<Utc>,
    pub cursor: Option<Cursor>,
    /// Where the axis's clock times are read (the operator's time zone).
    pub offset: FixedOffset,
}

impl TimelineView {
    /// Following now at 10 s per column, no bar chosen; clock times in `offset`.
    pub fn new(offset: FixedOffset) -> TimelineView {
        TimelineView {
            zoom: DEFAULT_ZOOM,
            following: true,
            anchor: DateTime::UNIX_EPOCH,
            cursor: None,
            offset,
        }
    }

    /// Following now, zoomed so the current session (from its start to now) fills the screen:
    /// what an operator opening it mid-run wants to see, not the default's half hour.
    pub fn fitted(
        offset: FixedOffset,
        timeline: &Timeline,
        now: DateTime<Utc>,
        screen_width: u16,
    ) -> TimelineView {
        let mut view = TimelineView::new(offset);
        let session = timeline.workers().iter().rev().find(|w| w.session);
        let Some(from) = session
            .map(|w| w.at)
            .or(timeline.span(now).map(|(from, _)| from))
        else {
            return view;
        };
        let seconds = (now - from).num_seconds().max(1);
        // A tenth of the screen to spare, so the newest bar is not on the edge.
        let columns = i64::from(bar_columns(screen_width)) * 9 / 10;
        view.zoom = ZOOM_LADDER
            .iter()
            .position(|step| seconds <= step * columns.max(1))
            .unwrap_or(ZOOM_LADDER.len() - 1);
        view
    }

    pub fn following(&self) -> bool {
        self.following
    }

    pub fn seconds_per_column(&self) -> i64 {
        ZOOM_LADDER[self.zoom]
    }

    /// What a screen of `columns` shows at `now`. Columns are aligned to whole steps, so the
    /// picture does not shimmer as seconds pass; the last column holds now (or the anchor).
    pub fn window(&self, now: DateTime<Utc>, columns: u16) -> TimeWindow {
        let step = self.seconds_per_column();
        let edge = if self.following { now } else { self.anchor };
        let last = edge.timestamp().div_euclid(step) * step;
        let left = last - (i64::from(columns) - 1) * step;
        TimeWindow {
            left: DateTime::from_timestamp(left, 0).unwrap_or(edge),
            step: TimeDelta::seconds(step),
            columns,
        }
    }

    /// The cursor's bar, if it is still in the timeline.
    pub fn cursor_entry<'t>(
        &self,
        timeline: &'t Timeline,
        now: DateTime<Utc>,
    ) -> Option<&'t Entry> {
        let cursor = self.cursor?;
        timeline
            .lane_between(cursor.lane, cursor.start, cursor.start, now)
            .find(|entry| is_at(entry, cursor))
    }

    /// `screen_width`: the terminal's width (the view is drawn over the whole screen).
    pub fn handle(
        &mut self,
        key: TimelineKey,
        timeline: &Timeline,
        now: DateTime<Utc>,
        screen_width: u16,
    ) -> TimelineOutcome {
        let columns = bar_columns(screen_width);
        let current = self.cursor_entry(timeline, now);
        let target = match key {
            TimelineKey::Close => return TimelineOutcome::Close,
            TimelineKey::Open => return open(current),
            TimelineKey::ZoomIn | TimelineKey::ZoomOut => {
                self.zoom(key == TimelineKey::ZoomIn, now, columns);
                current
            }
            TimelineKey::Earlier | TimelineKey::Later => {
                let half = self.window(now, columns).step * i32::from(columns / 2).max(1);
                let edge = if self.following { now } else { self.anchor };
                let shift = if key == TimelineKey::Later {
                    half
                } else {
                    -half
                };
                self.scroll_to(edge + shift, now);
                return TimelineOutcome::Stay;
            }
            TimelineKey::Home => first_run(timeline),
            TimelineKey::End => {
                // Now is on screen again; the newest bar is there, whenever it started.
                self.following = true;
                if let Some(entry) = newest_run(timeline, &timeline.shown_lanes()) {
                    self.cursor = cursor_of(entry);
                }
                return TimelineOutcome::Stay;
            }
            TimelineKey::Left | TimelineKey::Right => match current {
                Some(entry) => step_in_lane(timeline, entry, key == TimelineKey::Right),
                None => self.default_bar(timeline, now, columns),
            },
            TimelineKey::Up | TimelineKey::Down => match current {
                Some(entry) => nearest_across(timeline, entry, key == TimelineKey::Down, now),
                None => self.default_bar(timeline, now, columns),
            },
        };
        if let Some(entry) = target {
            self.put_cursor(entry, now, columns);
        }
        TimelineOutcome::Stay
    }

    fn zoom(&mut self, finer: bool, now: DateTime<Utc>, columns: u16) {
        let before = self.window(now, columns);
        let centre = before.left + before.step * i32::from(columns / 2);
        self.zoom = match finer {
            true => self.zoom.saturating_sub(1),
            false => (self.zoom + 1).min(ZOOM_LADDER.len() - 1),
        };
        if !self.following {
            let step = TimeDelta::seconds(self.seconds_per_column());
            self.scroll_to(centre + step * i32::from(columns / 2), now);
        }
    }

    /// Puts `edge` in the last column; reaching now follows now again.
    fn scroll_to(&mut self, edge: DateTime<Utc>, now: DateTime<Utc>) {
        self.following = edge >= now;
        self.anchor = edge.min(now);
    }

    /// Moves the cursor to `entry` and scrolls the least that shows its start.
    fn put_cursor(&mut self, entry: &Entry, now: DateTime<Utc>, columns: u16) {
        let Some(ran) = entry.ran else { return };
        self.cursor = cursor_of(entry);
        let window = self.window(now, columns);
        let column = window.column(ran.start);
        if column < 0 {
            // One column of what came before stays in sight.
            self.scroll_to(
                ran.start + window.step * (i32::from(columns) - 2).max(0),
                now,
            );
        } else if column >= i64::from(columns) {
            self.scroll_to(ran.start + window.step * i32::from(columns / 4), now);
        }
    }
}

fn open(entry: Option<&Entry>) -> TimelineOutcome {
    let Some(entry) = entry else {
        return TimelineOutcome::Notice("no run under the cursor: ← → pick one".into());
    };
    match &entry.log {
        Some(path) => TimelineOutcome::OpenLog {
            title: format!("{} · {}", entry.server, entry.action),
            path: path.clone(),
        },
        None if entry.is_running() => {
            TimelineOutcome::Notice(format!("no log for {} {} yet", entry.server, entry.action))
        }
        None => TimelineOutcome::Notice(format!("no log for {} {}", entry.server, entry.action)),
    }
}

#[cfg(test)]
pub(crate) mod tests;

/// The timeline as a dashboard mode: its keys come from the key table's `Timeline` scope.
impl ModeKeys for TimelineView {
    fn scope(&self) -> Scope {
        Scope::Timeline
    }

    fn key(&mut self, bound: Option<ModeAction>, _key: &KeyEvent, cx: &Context) -> Reply {
        let key = match bound {
            Some(ModeAction::Left) => TimelineKey::Left,
            Some(ModeAction::Right) => TimelineKey::Right,
            Some(ModeAction::ScrollUp) => TimelineKey::Up,
            Some(ModeAction::ScrollDown) => TimelineKey::Down,
            Some(ModeAction::ZoomIn) => TimelineKey::ZoomIn,
            Some(ModeAction::ZoomOut) => TimelineKey::ZoomOut,
            Some(ModeAction::PageUp) => TimelineKey::Earlier,
            Some(ModeAction::PageDown) => TimelineKey::Later,
            Some(ModeAction::Top) => TimelineKey::Home,
            Some(ModeAction::Bottom) => TimelineKey::End,
            Some(ModeAction::Confirm) => TimelineKey::Open,
            Some(ModeAction::Close) => TimelineKey::Close,
            _ => return Reply::Stay,
        };
        match self.handle(key, cx.timeline, cx.now, cx.width) {
            TimelineOutcome::Stay => Reply::Stay,
            TimelineOutcome::Close => Reply::Close,
            TimelineOutcome::OpenLog { title, path } => {
                Reply::Effects(vec![Effect::OpenLog { title, path }])
            }
            TimelineOutcome::Notice(notice) => Reply::Say(notice),
        }
    }
}
