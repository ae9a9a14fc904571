//! The timeline over the whole screen: one lane per worker slot, time left to right.
//!
//! ```text
//! ┌ Timeline · 10 s/col · following now ──────────────────────────────────────────┐
//! │     08:00:00    08:02:00    08:04:00                                      ▼    │
//! │w1   web-01     ✓ web-03 ✗                                                 │    │
//! │w2 ▸  web-02 ✓              db-01       ▶                                  │    │
//! │w3   ············                                                          │    │
//! │web-03 · deploy · 0:40 · failed: task 'restart app' (rc 2) · Enter log          │
//! │←→ bar · ↑↓ lane · + - zoom · PgUp PgDn scroll · Home first · End now · Esc close│
//! └────────────────────────────────────────────────────────────────────────────────┘
//! ```
//! Bars are written straight into the buffer (`lane`): a frame of 64 lanes costs the cells it
//! shows, found by bisection, not the history behind them.

use super::style;
use crate::engine::model::Outcome;
use crate::timeline::{Entry, Timeline};
use crate::tui::keymap::{self, Scope};
use crate::tui::timeline_view::{LABEL_WIDTH, TimeWindow, TimelineView};
use chrono::{DateTime, FixedOffset, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Clear, Paragraph};

/// Tick spacings in seconds; one is chosen so labels stay apart.
const TICKS: [i64; 17] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400,
];
const NOW_MARK: Color = Color::Yellow;

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    view: &TimelineView,
    timeline: &Timeline,
    now: DateTime<Utc>,
) {
    frame.render_widget(Clear, area);
    let lanes: Vec<usize> = timeline.shown_lanes().collect();
    let inner_width = area.width.saturating_sub(2);
    let columns = inner_width.saturating_sub(LABEL_WIDTH).max(1);
    let window = view.window(now, columns);
    let lane_rows = area.height.saturating_sub(5) as usize;
    // The cursor's lane stays on screen: lanes scroll under it.
    let cursor_row = view
        .cursor
        .and_then(|cursor| lanes.iter().position(|lane| *lane == cursor.lane))
        .unwrap_or(0);
    let first = (cursor_row + 1).saturating_sub(lane_rows);
    let visible = &lanes[first.min(lanes.len())..(first + lane_rows).min(lanes.len())];

    let block = Block::bordered()
        .title(title(view, &window, &lanes, visible))
        .border_style(Style::new().fg(Color::Cyan));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [axis, body, detail, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let bars = Rect {
        x: inner.x + LABEL_WIDTH,
        width: columns.min(inner_width),
        ..axis
    };
    draw_axis(frame.buffer_mut(), bars, &window, view.offset, now);
    let ran_anything = lanes
        .iter()
        .any(|lane| timeline.lane(*lane).next().is_some());
    if ran_anything {
        let cursor = view.cursor_entry(timeline, now);
        let workers = workers_by_column(timeline, &window);
        for (row, lane) in visible.iter().enumerate() {
            let y = body.y + row as u16;
            let lane_area = Rect { y, ..bars };
            let marked = cursor
                .and_then(|e| e.ran)
                .is_some_and(|r| r.lane as usize == *lane);
            draw_label(frame.buffer_mut(), inner.x, y, *lane, marked);
            // Slots are numbered from 1; a timeline that used slot 0 has one more lane.
            let number = *lane as u32 + u32::from(lanes.first() == Some(&0));
            let existed = |column: usize| workers.as_ref().is_none_or(|w| number <= w[column]);
            lane::draw_lane(
                frame.buffer_mut(),
                lane_area,
                timeline.lane_runs(*lane),
                &window,
                now,
                cursor,
                existed,
            );
        }
    } else {
        frame.render_widget(
            Paragraph::new("nothing has run yet in this environment")
                .style(Style::new().fg(style::DIM)),
            Rect {
                y: body.y,
                height: body.height.min(1),
                ..bars
            },
        );
    }
    let line = match view.cursor_entry(timeline, now) {
        Some(entry) => describe(entry, now, view.offset),
        None => "no bar chosen · ← → pick one".into(),
    };
    frame.render_widget(Paragraph::new(line), detail);
    frame.render_widget(
        Paragraph::new(keymap::hint_line(Scope::Timeline))
            .style(Style::new().fg(Color::Gray).add_modifier(Modifier::DIM)),
        hints,
    );
}

fn title(view: &TimelineView, window: &TimeWindow, lanes: &[usize], visible: &[usize]) -> String {
    let step = match view.seconds_per_column() {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    };
    let when = if view.following() {
        "following now".to_string()
    } else {
        let clock = |at: DateTime<Utc>| at.with_timezone(&view.offset).format("%H:%M:%S");
        format!("{}–{}", clock(window.left), clock(window.right()))
    };
    let scrolled = match (visible.first(), visible.last()) {
        (Some(top), Some(bottom)) if visible.len() < lanes.len() => {
            format!(" · lanes w{top}–w{bottom} of {}", lanes.len())
        }
        _ => String::new(),
    };
    format!(" Timeline · {step}/col · {when}{scrolled} ")
}

/// Clock labels at round times, and a mark over now.
fn draw_axis(
    buf: &mut Buffer,
    area: Rect,
    window: &TimeWindow,
    offset: FixedOffset,
    now: DateTime<Utc>,
) {
    let step = window.step.num_seconds();
    let long = step * 14 >= 3600;
    let (format, spacing) = if long {
        ("%m-%d %H:%M", 14)
    } else {
        ("%H:%M:%S", 11)
    };
    let tick = TICKS
        .iter()
        .copied()
        .find(|tick| *tick >= step * spacing)
        .unwrap_or_else(|| (step * spacing + 86_399) / 86_400 * 86_400);
    let local = |at: DateTime<Utc>| at.timestamp() + i64::from(offset.local_minus_utc());
    let shift = i64::from(offset.local_minus_utc());
    let mut at = (local(window.left).div_euclid(tick) + 1) * tick - shift;
    let dim = Style::new().fg(style::DIM);
    while let Some(time) = DateTime::from_timestamp(at, 0).filter(|t| *t < window.right()) {
        let column = window.column(time) as u16;
        let label = time.with_timezone(&offset).format(format).to_string();
        let room = area.width.saturating_sub(column) as usize;
        buf.set_stringn(area.x + column, area.y, label, room, dim);
        at += tick;
    }
    let column = window.column(now);
    if (0..i64::from(area.width)).contains(&column) {
        buf[(area.x + column as u16, area.y)]
            .set_char('▼')
            .set_style(Style::new().fg(NOW_MARK));
    }
}

fn draw_label(buf: &mut Buffer, x: u16, y: u16, lane: usize, marked: bool) {
    let (label, style) = if marked {
        (
            format!("w{lane:<3}▸"),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )
    } else {
        (format!("w{lane:<3} "), Style::new().fg(style::DIM))
    };
    buf.set_stringn(x, y, label, LABEL_WIDTH as usize, style);
}

/// How many workers there were at each column's start; `None` when nothing says (every lane
/// counts as there).
fn workers_by_column(timeline: &Timeline, window: &TimeWindow) -> Option<Vec<u32>> {
    let changes = timeline.workers();
    if changes.is_empty() {
        return None;
    }
    let mut next = changes.partition_point(|w| w.at <= window.left);
    // Before the first record nothing is known of the lanes: blank, not absent.
    let mut workers = next
        .checked_sub(1)
        .map_or(u32::MAX, |i| changes[i].workers.max(1));
    let mut counts = Vec::with_capacity(window.columns as usize);
    for column in 0..i32::from(window.columns) {
        let at = window.left + window.step * column;
        while let Some(change) = changes.get(next).filter(|w| w.at <= at) {
            workers = change.workers.max(1);
            next += 1;
        }
        counts.push(workers);
    }
    Some(counts)
}

/// "web-01 · deploy · 0:42 · failed: task 'restart app' (rc 2) · started 08:00:50 on w1 · Enter log"
fn describe(entry: &Entry, now: DateTime<Utc>, offset: FixedOffset) -> String {
    let mut line = format!(
        "{} · {} · {} · {}",
        entry.server,
        entry.action,
        super::clock(entry.duration(now)),
        outcome_text(entry)
    );
    if entry.check_mode {
        line.push_str(" (check mode)");
    }
    if let Some(ran) = entry.ran {
        let start = ran.start.with_timezone(&offset).format("%H:%M:%S");
        line.push_str(&format!(" · started {start} on w{}", ran.lane));
    }
    if entry.log.is_some() {
        line.push_str(" · Enter log");
    }
    line
}

fn outcome_text(entry: &Entry) -> String {
    let Some(outcome) = &entry.outcome else {
        return "running".into();
    };
    let mut text = match (outcome, entry.healthy) {
        (Outcome::Succeeded, Some(false)) => "ok, unhealthy".to_string(),
        (Outcome::Succeeded, Some(true)) => "ok, healthy".to_string(),
        _ => outcome.label().to_string(),
    };
    // One line: the task says where, or else the message says what.
    match (outcome.task(), outcome.message()) {
        (Some(task), _) => text.push_str(&format!(": task '{task}'")),
        (None, Some(message)) => text.push_str(&format!(": {message}")),
        (None, None) => {}
    }
    if let Outcome::Failed { rc: Some(rc), .. } = outcome {
        text.push_str(&format!(" (rc {rc})"));
    }
    text
}

mod lane;
#[cfg(test)]
mod tests;
