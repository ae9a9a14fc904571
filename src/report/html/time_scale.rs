//! Time → x for the timeline. A long stretch where nothing ran (between two sessions, a night)
//! is cut down to a narrow break, so a journal of many sessions still gives its runs the width
//! of the page instead of drawing them as slivers beside empty hours.

use super::timeline_svg::{GUTTER, PLOT_WIDTH};
use chrono::{DateTime, TimeDelta, Utc};

/// How wide a cut idle stretch is drawn.
pub(super) const BREAK_WIDTH: f64 = 40.0;
/// An idle stretch is cut when it is longer than this and than a tenth of the whole span.
const MIN_CUT: TimeDelta = TimeDelta::seconds(60);

/// A stretch of time drawn to scale.
struct Piece {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    x: f64,
}

/// An idle stretch drawn `BREAK_WIDTH` wide from `x`.
pub(super) struct Break {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub x: f64,
}

pub(super) struct Scale {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pieces: Vec<Piece>,
    pub breaks: Vec<Break>,
    px_per_ms: f64,
}

impl Scale {
    /// [from, to] with the long stretches between the `busy` spans (when something ran or a
    /// session started) cut.
    pub fn fitted(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut busy: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Scale {
        busy.sort();
        let longer_than = MIN_CUT.max((to - from) / 10);
        let mut cuts = Vec::new();
        let mut reached = from;
        for (start, end) in busy {
            if start - reached > longer_than {
                cuts.push((reached, start));
            }
            reached = reached.max(end);
        }
        Scale::cutting(from, to, cuts)
    }

    fn cutting(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cuts: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Scale {
        let cut_ms: i64 = cuts.iter().map(|(a, b)| (*b - *a).num_milliseconds()).sum();
        let shown_ms = ((to - from).num_milliseconds() - cut_ms).max(1000) as f64;
        let px_per_ms = (PLOT_WIDTH - BREAK_WIDTH * cuts.len() as f64) / shown_ms;
        let mut pieces = Vec::new();
        let mut breaks = Vec::new();
        let (mut x, mut piece_from) = (GUTTER, from);
        for (cut_from, cut_to) in cuts {
            pieces.push(Piece {
                from: piece_from,
                to: cut_from,
                x,
            });
            x += (cut_from - piece_from).num_milliseconds() as f64 * px_per_ms;
            breaks.push(Break {
                from: cut_from,
                to: cut_to,
                x,
            });
            x += BREAK_WIDTH;
            piece_from = cut_to;
        }
        pieces.push(Piece {
            from: piece_from,
            to,
            x,
        });
        Scale {
            from,
            to,
            pieces,
            breaks,
            px_per_ms,
        }
    }

    pub fn x(&self, at: DateTime<Utc>) -> f64 {
        let at = at.clamp(self.from, self.to);
        let index = self.pieces.partition_point(|piece| piece.to < at);
        let piece = &self.pieces[index.min(self.pieces.len() - 1)];
        if at >= piece.from {
            return piece.x + (at - piece.from).num_milliseconds() as f64 * self.px_per_ms;
        }
        // Inside a break: spread evenly across its width.
        let cut = &self.breaks[index - 1];
        let part = (at - cut.from).num_milliseconds() as f64
            / (cut.to - cut.from).num_milliseconds().max(1) as f64;
        cut.x + part * BREAK_WIDTH
    }

    /// How much time is drawn to scale (the cut stretches left out).
    pub fn shown(&self) -> TimeDelta {
        self.pieces.iter().map(|p| p.to - p.from).sum()
    }

    /// Every `step` seconds on the clock within the stretches drawn to scale.
    pub fn ticks(&self, step: i64) -> Vec<DateTime<Utc>> {
        let mut ticks = Vec::new();
        for piece in &self.pieces {
            let first = piece.from.timestamp().div_euclid(step) * step + step;
            let mut secs = first;
            while secs <= piece.to.timestamp() {
                ticks.extend(DateTime::from_timestamp(secs, 0));
                secs += step;
            }
        }
        ticks
    }
}
