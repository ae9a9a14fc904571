//! One worker's lane: its bars written straight into the buffer. Zoomed out, many runs share a
//! cell and only the one that matters most is drawn (the cursor, then the last that went wrong,
//! then the latest), so a failure never hides behind the zoom. The runs sharing a cell are
//! passed over by bisection, not visited: a frame of the whole history costs its cells, not
//! the hundreds of runs behind each.

use super::NOW_MARK;
use crate::timeline::Entry;
use crate::timeline::lanes::LaneRuns;
use crate::tui::timeline_view::TimeWindow;
use crate::tui::ui::style;
use chrono::{DateTime, TimeDelta, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use std::ops::Range;

/// Narrower bars show their outcome's symbol instead of the start of a name.
const NAME_MIN_WIDTH: usize = 3;

/// Where a run sits on screen: columns `from..=to` (clamped to the lane), and whether its
/// end is on screen.
#[derive(Clone, Copy)]
struct Span {
    from: i64,
    to: i64,
    ends_on_screen: bool,
}

pub(super) fn draw_lane(
    buf: &mut Buffer,
    area: Rect,
    runs: LaneRuns,
    window: &TimeWindow,
    now: DateTime<Utc>,
    cursor: Option<&Entry>,
    existed: impl Fn(usize) -> bool,
) {
    let absent = Style::new().fg(style::DIM);
    for column in 0..area.width {
        if !existed(column as usize) {
            buf[(area.x + column, area.y)]
                .set_char('·')
                .set_style(absent);
        }
    }
    let now_column = window.column(now);
    if (0..i64::from(area.width)).contains(&now_column) {
        buf[(area.x + now_column as u16, area.y)]
            .set_char('│')
            .set_style(Style::new().fg(NOW_MARK));
    }
    let last = i64::from(area.width) - 1;
    let span = |position: usize| span(runs.get(position), window, now, last);
    let cursor_at = cursor.and_then(|entry| runs.position(entry));
    let rank = |position: usize| {
        let entry = runs.get(position);
        (
            cursor_at == Some(position),
            entry.outcome.as_ref().is_some_and(|o| o.went_wrong()),
        )
    };
    let draw = |buf: &mut Buffer, position: usize, (from, to): (i64, i64), ends: bool| {
        let entry = runs.get(position);
        draw_bar(
            buf,
            area,
            entry,
            (from, to),
            cursor_at == Some(position),
            ends,
            // Every other run of a lane a shade apart: runs back to back, same outcome, still
            // read as two bars. By position in the lane, so a bar keeps its shade as time moves.
            position % 2 == 1,
        );
    };
    // The single-cell run waiting for its cell to be settled: (column, position).
    let mut held: Option<(i64, usize)> = None;
    let shown = runs.between(window.left, window.right(), now);
    let mut position = shown.start;
    while position < shown.end {
        let Some(Span {
            from,
            to,
            ends_on_screen,
        }) = span(position)
        else {
            position += 1;
            continue;
        };
        if from == to {
            // The runs after it that end in this cell too share it (a lane's runs follow
            // one another, so they are the ones up to the first ending further right).
            let sharing = position..first_failing(position, shown.end, |p| {
                span(p).is_some_and(|s| s.to <= from)
            });
            let best = best_of(&runs, sharing.clone(), cursor_at);
            match held {
                Some((column, other)) if column == from && rank(other) > rank(best) => {}
                Some((column, other)) if column != from => {
                    draw(buf, other, (column, column), true);
                    held = Some((from, best));
                }
                _ => held = Some((from, best)),
            }
            position = sharing.end;
            continue;
        }
        let mut from = from;
        if let Some((column, other)) = held.take() {
            draw(buf, other, (column, column), true);
            // A bar starting in the held cell does not cover a run that outranks it there
            // (a failure stays visible); it starts one column later.
            if column == from && rank(other) > rank(position) {
                from += 1;
            }
        }
        draw(buf, position, (from, to), ends_on_screen);
        position += 1;
    }
    if let Some((column, other)) = held {
        draw(buf, other, (column, column), true);
    }
}

fn span(entry: &Entry, window: &TimeWindow, now: DateTime<Utc>, last: i64) -> Option<Span> {
    let ran = entry.ran?;
    let end = entry.end.unwrap_or(now);
    let first_column = window.column(ran.start);
    let end_column = if end > ran.start {
        window.column(end - TimeDelta::milliseconds(1))
    } else {
        first_column
    };
    Some(Span {
        from: first_column.clamp(0, last),
        to: end_column.clamp(0, last),
        ends_on_screen: end_column <= last,
    })
}

/// Of runs sharing one cell, the one drawn: the cursor's, else the last that went wrong, else
/// the latest.
fn best_of(runs: &LaneRuns, sharing: Range<usize>, cursor_at: Option<usize>) -> usize {
    cursor_at
        .filter(|at| sharing.contains(at))
        .or_else(|| runs.last_went_wrong(sharing.clone()))
        .unwrap_or(sharing.end - 1)
}

/// The first position after `start` (and before `end`) where `holds` fails, `end` if none:
/// `holds` is true at `start` and stays true up to some point. Galloping, then bisecting, so
/// a run alone in its cell costs one look ahead and a cell of hundreds about twenty.
fn first_failing(start: usize, end: usize, holds: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (start + 1, end);
    let mut step = 1;
    while start + step < end {
        if !holds(start + step) {
            high = start + step;
            break;
        }
        low = start + step + 1;
        step *= 2;
    }
    // `holds` is true below `low` and false at `high` (or `high` is the end).
    while low < high {
        let middle = low + (high - low) / 2;
        if holds(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

/// One bar over columns `from..=to` of the lane: the server's name as far as it fits, and the
/// outcome's symbol in its last cell when there is room and the bar ends on screen.
fn draw_bar(
    buf: &mut Buffer,
    area: Rect,
    entry: &Entry,
    (from, to): (i64, i64),
    cursor: bool,
    ends_on_screen: bool,
    other_shade: bool,
) {
    let (symbol, colour) = match &entry.outcome {
        None => (style::RUNNING.0, style::RUNNING.1),
        Some(outcome) => {
            let (symbol, style) = style::outcome(outcome, entry.healthy);
            (symbol, style.fg.unwrap_or(Color::Gray))
        }
    };
    let colour = if other_shade { shade(colour) } else { colour };
    let mut bar = Style::new().bg(colour).fg(Color::Black);
    if cursor {
        bar = bar.add_modifier(Modifier::REVERSED | Modifier::BOLD);
    }
    let width = (to - from + 1) as usize;
    let x = area.x + from as u16;
    for column in x..x + width as u16 {
        buf[(column, area.y)].set_char(' ').set_style(bar);
    }
    if width < NAME_MIN_WIDTH {
        // Two letters of a name say less than the outcome's symbol.
        buf[(x, area.y)].set_symbol(symbol);
        return;
    }
    let name_width = entry.server.chars().count();
    if width > name_width + 1 && ends_on_screen {
        buf[(x + (to - from) as u16, area.y)].set_symbol(symbol);
    }
    // A name cut short leaves the bar's last cell blank, so two bars in a row read as two
    // ("db-0 web-01", not "db-0web-01").
    let shown = if width > name_width {
        name_width
    } else {
        width - 1
    };
    put_name(buf, x, area.y, &entry.server, shown);
}

/// Host names are ASCII: one cell a byte, written without the grapheme walk `set_stringn`
/// does (thousands of bars a frame at the default zoom). Anything else takes the careful way.
fn put_name(buf: &mut Buffer, x: u16, y: u16, name: &str, width: usize) {
    if name.is_ascii() {
        for (i, byte) in name.bytes().take(width).enumerate() {
            buf[(x + i as u16, y)].set_char(char::from(byte));
        }
    } else {
        let style = buf[(x, y)].style();
        buf.set_stringn(x, y, name, width, style);
    }
}

/// The other shade of an outcome's colour: the light one of the terminal's pair.
fn shade(colour: Color) -> Color {
    match colour {
        Color::Green => Color::LightGreen,
        Color::Red => Color::LightRed,
        Color::Yellow => Color::LightYellow,
        Color::Blue => Color::LightBlue,
        Color::Magenta => Color::LightMagenta,
        Color::Cyan => Color::LightCyan,
        Color::Gray => Color::White,
        Color::DarkGray => Color::Gray,
        other => other,
    }
}
