//! The server × action matrix over the screen:
//!
//! ```text
//! ┌ Matrix · sort: outcome (deploy) · filter: web · 12/4000 ─────────────────────┐
//! │ SERVER              PROVISION              DEPLOY                CHECK        │
//! │ web-01              ✓ 0:42  ✓ 0:40         ✗ 1:03  ✓ 0:58        ·            │
//! │ web-02              ✓ 0:41                 ▶ 0:12                ·            │
//! │ web-02 · deploy · 2 attempts · ✗ failed (rc 2, task "x"): boom                │
//! └ ↑↓ server · ←→ action · s sort · / filter · Enter log · Esc close ────────────┘
//! ```
//! Each action shows its newest attempts, newest first, as many as the width allows. Only the
//! rows on screen are built: the cost of a frame is what it shows.

use super::{clock, style};
use crate::timeline::matrix::{ACTIONS, Row};
use crate::timeline::{Entry, Timeline};
use crate::tui::keymap::{self, Scope};
use crate::tui::matrix_view::{MAX_RUNS, MatrixView, Sort, is_cut};
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

const NEWEST_FIRST: &str = " (newest first)";

/// One attempt: glyph, space, "m:ss", and a space before the next.
const CELL: usize = 8;

/// How many attempts per action fit in an inner width of `width` (at least one).
pub fn runs_shown(width: u16) -> usize {
    let room = (width as usize).saturating_sub(name_width(width) + 1) / ACTIONS.len();
    (room / CELL).clamp(1, MAX_RUNS)
}

fn name_width(width: u16) -> usize {
    (width as usize * 22 / 100).clamp(12, 28)
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    view: &MatrixView,
    timeline: &Timeline,
    now: DateTime<Utc>,
) {
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .title(Span::styled(title(view), style::title(true)))
        .title_bottom(Span::styled(
            format!(" {} ", keymap::hint_line(Scope::Matrix)),
            Style::new().fg(Color::Gray),
        ))
        .border_style(style::pane_border(true));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(inner);
    let layout = Columns {
        name: name_width(inner.width),
        runs: runs_shown(inner.width),
        group: (inner.width as usize).saturating_sub(name_width(inner.width) + 1) / ACTIONS.len(),
    };
    frame.render_widget(Paragraph::new(headings(&layout, view)), head);

    let height = body.height as usize;
    // The view scrolls by its page; a smaller screen than it was told still shows the cursor.
    let first = if view.cursor >= view.top + height.max(1) {
        view.cursor + 1 - height.max(1)
    } else {
        view.top
    };
    let lines: Vec<Line> = view
        .visible
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(at, r)| {
            let cursor = at == view.cursor;
            row_line(
                &layout,
                &view.matrix.rows[*r],
                timeline,
                now,
                cursor,
                view.column,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(Paragraph::new(footer(view, timeline, now)), foot);
}

struct Columns {
    name: usize,
    runs: usize,
    /// Characters per action.
    group: usize,
}

fn title(view: &MatrixView) -> String {
    let mut title = String::from(" Matrix · sort: ");
    title.push_str(view.sort.label());
    if view.sort != Sort::Name {
        title.push_str(&format!(" ({})", view.action()));
    }
    if !view.filter.is_empty() {
        title.push_str(&format!(" · filter: {}", view.filter));
    }
    let (shown, all) = view.counts();
    title.push_str(&format!(" · {shown}/{all} "));
    title
}

fn headings(layout: &Columns, view: &MatrixView) -> Line<'static> {
    let dim = Style::new().fg(style::DIM);
    let mut spans = vec![Span::styled(pad(" SERVER", layout.name + 1), dim)];
    for (column, action) in ACTIONS.iter().enumerate() {
        let mut heading = action.to_string().to_uppercase();
        // Room allowing, say which way the attempts go.
        if layout.runs > 1 && heading.len() + NEWEST_FIRST.len() < layout.group {
            heading.push_str(NEWEST_FIRST);
        }
        let style = if column == view.column {
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            dim
        };
        spans.push(Span::styled(pad(&heading, layout.group), style));
    }
    Line::from(spans)
}

fn row_line(
    layout: &Columns,
    row: &Row,
    timeline: &Timeline,
    now: DateTime<Utc>,
    cursor: bool,
    column: usize,
) -> Line<'static> {
    let name = if row.unlisted {
        Span::styled(
            pad(&format!(" {} (left)", row.server), layout.name + 1),
            Style::new().fg(style::DIM).add_modifier(Modifier::ITALIC),
        )
    } else {
        Span::raw(pad(&format!(" {}", row.server), layout.name + 1))
    };
    let mut spans = vec![name];
    for (at, cell) in row.cells.iter().enumerate() {
        let mut used = 0;
        if cell.is_empty() {
            spans.push(Span::styled("·", Style::new().fg(style::DIM)));
            used = 1;
        }
        for (n, index) in cell.iter().take(layout.runs).enumerate() {
            let (glyph, mut glyph_style, time) = attempt(&timeline.entries()[*index], now);
            if cursor && at == column && n == 0 {
                glyph_style = glyph_style.add_modifier(Modifier::REVERSED);
            }
            let dry = timeline.entries()[*index].check_mode;
            let mark = if dry { style::CHECK_MODE.0 } else { "" };
            let wide = glyph.chars().count() + mark.chars().count();
            let text = pad(&format!(" {time}"), CELL.saturating_sub(wide));
            used += wide + text.chars().count();
            spans.push(Span::styled(glyph, glyph_style));
            spans.push(Span::styled(mark, Style::new().fg(style::CHECK_MODE.1)));
            spans.push(Span::raw(text));
        }
        spans.push(Span::raw(" ".repeat(layout.group.saturating_sub(used))));
    }
    let line = Line::from(spans);
    if cursor {
        line.style(style::cursor_row())
    } else {
        line
    }
}

/// An attempt's glyph (the servers pane's), its colour, and its duration (to `now` while it
/// runs).
fn attempt(entry: &Entry, now: DateTime<Utc>) -> (&'static str, Style, String) {
    let time = clock(entry.duration(now));
    match &entry.outcome {
        Some(outcome) => {
            let (glyph, style) = style::outcome(outcome, entry.healthy);
            let time = if entry.ran.is_none() {
                String::new()
            } else {
                time
            };
            (glyph, style, time)
        }
        None if is_cut(entry) => ("↯", Style::new().fg(Color::Magenta), time),
        None => (style::RUNNING.0, Style::new().fg(style::RUNNING.1), time),
    }
}

/// The filter being typed, else what the cursor cell holds.
fn footer(view: &MatrixView, timeline: &Timeline, now: DateTime<Utc>) -> Line<'static> {
    if view.typing {
        return Line::from(format!(
            " filter: {}▏  {}",
            view.filter,
            keymap::hint_line(Scope::MatrixFilter)
        ));
    }
    let dim = Style::new().fg(Color::Gray);
    let Some(row) = view.cursor_row().map(|r| &view.matrix.rows[r]) else {
        let text = if view.matrix.rows.is_empty() {
            " nothing has run yet".to_string()
        } else {
            format!(" no server matches \"{}\"", view.filter)
        };
        return Line::styled(text, dim);
    };
    let action = view.action();
    let cell = &row.cells[view.column];
    let mut text = format!(" {} · {action}", row.server);
    if row.unlisted {
        text.push_str(" · left the inventory");
    }
    let Some(entry) = cell.first().map(|index| &timeline.entries()[*index]) else {
        let nothing = if timeline.entries().is_empty() {
            " · nothing has run yet"
        } else {
            " · never ran"
        };
        text.push_str(nothing);
        return Line::styled(text, dim);
    };
    let attempts = match cell.len() {
        MAX_RUNS => format!("{MAX_RUNS}+ attempts"),
        1 => "1 attempt".to_string(),
        n => format!("{n} attempts"),
    };
    let (glyph, glyph_style, time) = attempt(entry, now);
    let what = match &entry.outcome {
        Some(outcome) => format!("{outcome}"),
        None if is_cut(entry) => "cut short: fleetdeck stopped while it ran".to_string(),
        None => match entry.ran {
            Some(ran) => format!("running on worker {}", ran.lane + 1),
            None => "running".to_string(),
        },
    };
    let dry = if entry.check_mode { " · dry run" } else { "" };
    let time = if time.is_empty() {
        String::new()
    } else {
        format!(" · {time}")
    };
    Line::from(vec![
        Span::styled(format!("{text} · {attempts} · "), dim),
        Span::styled(glyph, glyph_style),
        Span::raw(format!(" {what}{time}{dry}")),
    ])
}

/// `text` cut or padded with spaces to `width` characters.
fn pad(text: &str, width: usize) -> String {
    let mut out: String = text.chars().take(width).collect();
    let len = out.chars().count();
    out.extend(std::iter::repeat_n(' ', width - len));
    out
}

#[cfg(test)]
#[path = "matrix_tests.rs"]
mod tests;
