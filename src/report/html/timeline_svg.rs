//! The timeline as inline SVG: one lane per worker slot ("worker N"), time flowing left to
//! right, each run a bar coloured by its outcome (a CSS class, so 10,000 bars stay small),
//! labelled with its server where it is wide enough, with a tooltip; shaded where a lane did
//! not exist (before a resize added it, after one drained it); sessions and resizes marked.
//!
//! ```text
//!            start · 3 workers          → 4 workers
//! worker 1 │ [web-01 ][db-01  ]  ┊        ┊ [web-02]
//! worker 2 │ [db-02 ][lb-01    ] ┊        ┊
//! worker 4 │░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░┊ [web-04]
//!          └──┬────────┬────────┬────────┬───
//!          04:55:00 04:55:10 04:55:20 04:55:30
//! ```

use super::time_scale::{BREAK_WIDTH, Scale};
use super::{clock_time, duration_words, outcome_key, outcome_word, rfc3339, to_std};
use crate::engine::model::Outcome;
use crate::timeline::{Entry, Timeline, WorkersFrom};
use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};

pub(super) const GUTTER: f64 = 84.0;
pub(super) const PLOT_WIDTH: f64 = 1200.0;
const RIGHT_MARGIN: f64 = 32.0;
/// Room above the lanes for the session and resize labels.
const TOP: f64 = 20.0;
const LANE_HEIGHT: f64 = 22.0;
const BAR_HEIGHT: f64 = 18.0;
/// A lane's group starts where its bars do, so that 10,000 bars need no `y`.
const BAR_TOP: f64 = 2.0;
/// Where a label's baseline sits in a bar.
const LABEL_BASELINE: &str = "13";
const AXIS_HEIGHT: f64 = 24.0;
/// Roughly how wide one character of a bar's label is (11 px system font).
const CHAR_WIDTH: f64 = 6.6;
/// Tick steps to choose from, in seconds: the first that gives at most `MAX_TICKS`.
const TICK_STEPS: [i64; 16] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400,
];
const MAX_TICKS: i64 = 12;
/// Room a tick's label needs ("04:55:30").
const TICK_LABEL_WIDTH: f64 = 62.0;
/// Room a session's or resize's label needs ("start · 64 workers").
const MARKER_LABEL_WIDTH: f64 = 120.0;

pub fn timeline(timeline: &Timeline, now: DateTime<Utc>) -> Markup {
    let Some((first_start, to)) = timeline.span(now) else {
        return html! { p.dim { "Nothing ran in this window." } };
    };
    // A session starts a moment before its first run: widen a little to show its mark.
    let lead = (to - first_start) / 20;
    let from = timeline
        .workers()
        .iter()
        .map(|w| w.at)
        .filter(|at| *at >= first_start - lead)
        .fold(first_start, DateTime::min);
    let busy = (timeline.entries().iter())
        .filter_map(|e| e.ran.map(|ran| (ran.start, e.end.unwrap_or(now))))
        .chain(timeline.workers().iter().map(|w| (w.at, w.at)))
        .collect();
    let scale = Scale::fitted(from, to, busy);
    let lanes = timeline.shown_lanes().collect::<Vec<_>>();
    let lanes_bottom = TOP + lanes.len() as f64 * LANE_HEIGHT;
    let width = GUTTER + PLOT_WIDTH + RIGHT_MARGIN;
    let height = lanes_bottom + AXIS_HEIGHT;
    html! {
        div.scroll {
            svg.timeline width=(width) height=(height)
                viewBox=(format_args!("0 0 {width} {height}")) role="img"
                aria-label="Runs on worker lanes over time" {
                defs {
                    pattern #hatch width="6" height="6" patternUnits="userSpaceOnUse"
                        patternTransform="rotate(45)" {
                        rect width="2.5" height="6" fill="#d8dde3" {}
                    }
                }
                (axis(&scale, lanes_bottom))
                (breaks(&scale, lanes_bottom))
                @for (row, lane) in lanes.iter().enumerate() {
                    (lane_row(timeline, *lane, row, &scale, now))
                }
                (markers(timeline.workers(), &scale, lanes_bottom))
            }
        }
        (legend())
    }
}

fn lane_row(
    timeline: &Timeline,
    lane: usize,
    row: usize,
    scale: &Scale,
    now: DateTime<Utc>,
) -> Markup {
    let y = TOP + row as f64 * LANE_HEIGHT + BAR_TOP;
    let stripe = if row.is_multiple_of(2) {
        "lane even"
    } else {
        "lane"
    };
    html! {
        g class=(stripe) data-lane=(lane) transform=(format_args!("translate(0,{y})")) {
            rect.stripe x=(GUTTER) y=(-BAR_TOP) width=(PLOT_WIDTH) height=(LANE_HEIGHT) {}
            text.name x=(GUTTER - 8.0) y=(LABEL_BASELINE) { "worker " (lane) }
            @for (start, end) in absent(timeline.workers(), lane, scale) {
                rect.absent x=(format_args!("{:.1}", scale.x(start))) y=(-BAR_TOP)
                    width=(format_args!("{:.1}", scale.x(end) - scale.x(start)))
                    height=(LANE_HEIGHT) {}
            }
            @for entry in timeline.lane(lane) {
                (bar(entry, lane, scale, now))
            }
        }
    }
}

fn bar(entry: &Entry, lane: usize, scale: &Scale, now: DateTime<Utc>) -> Markup {
    let Some(ran) = entry.ran else {
        return html! {};
    };
    let x = scale.x(ran.start);
    let width = (scale.x(entry.end.unwrap_or(now)) - x).max(1.0);
    let key = outcome_key(entry);
    let label_fits = width >= entry.server.chars().count() as f64 * CHAR_WIDTH + 6.0;
    html! {
        rect class=(key) x=(format_args!("{x:.1}")) width=(format_args!("{width:.1}"))
            height=(BAR_HEIGHT) data-lane=(lane) data-server=(entry.server)
            data-action=(entry.action.as_str()) data-outcome=(key) data-start=(rfc3339(ran.start))
            data-end=[entry.end.map(rfc3339)] {
            title { (tooltip(entry, now)) }
        }
        @if label_fits {
            text x=(format_args!("{:.1}", x + 3.0)) y=(LABEL_BASELINE) { (entry.server) }
        }
    }
}

/// "db-02 · deploy · 04:55:14 for 5.5s · failed: Verify release checksum".
fn tooltip(entry: &Entry, now: DateTime<Utc>) -> String {
    let start = entry
        .ran
        .map(|ran| clock_time(ran.start))
        .unwrap_or_default();
    let mut text = format!(
        "{} · {}{} · {} for {} · {}",
        entry.server,
        entry.action.as_str(),
        if entry.check_mode {
            " (check mode)"
        } else {
            ""
        },
        start,
        duration_words(entry.duration(now)),
        outcome_word(entry),
    );
    if let Some(task) = entry.outcome.as_ref().and_then(Outcome::task) {
        text.push_str(&format!(": {task}"));
    }
    if entry.healthy == Some(false) {
        text.push_str(" (health check failed)");
    }
    text
}

/// Where worker slot `lane` did not exist within the scale: before a start or resize made
/// room for it, and after a resize took it away (a run it was still finishing shows on top).
pub(super) fn absent(
    workers: &[WorkersFrom],
    lane: usize,
    scale: &Scale,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    if lane == 0 {
        return Vec::new();
    }
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let mut push = |from: DateTime<Utc>, to: DateTime<Utc>| {
        let (from, to) = (from.max(scale.from), to.min(scale.to));
        if from >= to {
            return;
        }
        match spans.last_mut() {
            Some(last) if last.1 >= from => last.1 = last.1.max(to),
            _ => spans.push((from, to)),
        }
    };
    let first = workers.first().map_or(scale.to, |w| w.at);
    push(scale.from, first);
    for (i, change) in workers.iter().enumerate() {
        let until = workers.get(i + 1).map_or(scale.to, |next| next.at);
        // Sequential (0 workers) still runs on one.
        if (change.workers.max(1) as usize) < lane {
            push(change.at, until);
        }
    }
    spans
}

fn axis(scale: &Scale, lanes_bottom: f64) -> Markup {
    let shown_secs = scale.shown().num_seconds().max(1);
    let step = TICK_STEPS
        .iter()
        .copied()
        .find(|step| shown_secs / step <= MAX_TICKS)
        .unwrap_or(86400 * ((shown_secs / 86400 / MAX_TICKS) + 1));
    // A tick whose label would run into a break's or the previous tick's is left out.
    let taken: Vec<f64> = (scale.breaks.iter())
        .map(|cut| cut.x + BREAK_WIDTH / 2.0)
        .collect();
    let mut ticks: Vec<(f64, DateTime<Utc>)> = Vec::new();
    for tick in scale.ticks(step) {
        let x = scale.x(tick);
        let clear = |other: &f64| (x - other).abs() >= TICK_LABEL_WIDTH;
        if taken.iter().all(clear) && ticks.last().is_none_or(|(last, _)| clear(last)) {
            ticks.push((x, tick));
        }
    }
    let long = scale.to - scale.from > TimeDelta::days(1);
    html! {
        g.axis {
            line x1=(GUTTER) x2=(GUTTER + PLOT_WIDTH) y1=(lanes_bottom) y2=(lanes_bottom) {}
            @for (x, tick) in ticks {
                @let x = format!("{x:.1}");
                line.tick x1=(x) x2=(x) y1=(TOP) y2=(lanes_bottom + 4.0) {}
                text x=(x) y=(lanes_bottom + 16.0) {
                    @if long { (tick.format("%m-%d %H:%M")) } @else { (clock_time(tick)) }
                }
            }
        }
    }
}

/// Each idle stretch cut from the picture: a band across the lanes saying how long it was.
fn breaks(scale: &Scale, lanes_bottom: f64) -> Markup {
    html! {
        @for cut in &scale.breaks {
            g.gap {
                rect x=(format_args!("{:.1}", cut.x)) y=(TOP) width=(BREAK_WIDTH)
                    height=(lanes_bottom - TOP) {}
                text x=(format_args!("{:.1}", cut.x + BREAK_WIDTH / 2.0)) y=(lanes_bottom + 16.0) {
                    (duration_words(to_std(cut.to - cut.from)))
                    title {
                        "nothing ran from " (clock_time(cut.from)) " to " (clock_time(cut.to))
                        " (left out of the picture)"
                    }
                }
            }
        }
    }
}

/// A line where each session started and each resize happened, labelled above the lanes.
fn markers(workers: &[WorkersFrom], scale: &Scale, lanes_bottom: f64) -> Markup {
    let shown = workers
        .iter()
        .filter(|w| w.at >= scale.from && w.at <= scale.to);
    html! {
        @for change in shown {
            @let at = scale.x(change.at);
            @let x = format!("{at:.1}");
            @let class = if change.session { "marker session" } else { "marker resize" };
            // Near the right edge the label goes left of its line, or it would be cut.
            @let near_end = at > GUTTER + PLOT_WIDTH - MARKER_LABEL_WIDTH;
            @let (label_x, anchor) = if near_end { (at - 3.0, "end") } else { (at + 3.0, "start") };
            g class=(class) {
                line x1=(x) x2=(x) y1="4" y2=(lanes_bottom) {}
                text x=(format_args!("{label_x:.1}")) y="12" text-anchor=(anchor) {
                    @if change.session {
                        "start · " (workers_words(change.workers))
                    } @else {
                        "→ " (workers_words(change.workers))
                    }
                    title { (clock_time(change.at)) }
                }
            }
        }
    }
}

/// What the colours and shades mean, in HTML under the picture.
fn legend() -> Markup {
    const SHOWN: [(&str, &str); 8] = [
        ("succeeded", "ok"),
        ("running", "running"),
        ("failed", "failed"),
        ("unreachable", "unreachable"),
        ("timed_out", "timed out"),
        ("error", "error"),
        ("interrupted", "interrupted"),
        ("cancelled", "cancelled"),
    ];
    html! {
        ul.legend {
            @for (key, word) in SHOWN {
                li class=(key) { span.swatch {} (word) }
            }
            li.absent { span.swatch {} "no such worker then" }
            li.session { span.line {} "fleetdeck started" }
            li.resize { span.line {} "resized" }
        }
    }
}

/// "3 workers", "1 worker", "sequential" (0: one at a time).
fn workers_words(workers: u32) -> String {
    match workers {
        0 => "sequential".into(),
        1 => "1 worker".into(),
        n => format!("{n} workers"),
    }
}
