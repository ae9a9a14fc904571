//! One panel per worker slot: server, action, the node it runs on (when config.yml names
//! execution nodes), current task, counts, elapsed, a gauge with ETA from an earlier run of the
//! same server and action, the last output line, and a stall mark. When the panels do not fit,
//! each worker gets one line instead.

use super::{clock, style};
use crate::engine::StopMode;
use crate::engine::snapshot::{RunView, WorkerView};
use crate::tui::app::{App, Pane};
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};
use std::time::Duration;

/// A run with no event for this long gets a "stalled" mark.
pub const STALL_AFTER: Duration = Duration::from_secs(60);
const PANEL_HEIGHT: u16 = 6;
const PANEL_MIN_WIDTH: u16 = 34;
/// The log pane keeps at least this many rows.
const LOG_MIN_HEIGHT: u16 = 7;

fn columns(width: u16) -> u16 {
    (width / PANEL_MIN_WIDTH).max(1)
}

/// Height of the workers area: full panels when they fit beside a usable log, else one line each.
pub fn height_for(app: &App, area: Rect) -> u16 {
    let n = app.snapshot.workers.len().max(1) as u16;
    let cols = columns(area.width - 2);
    let full = n.div_ceil(cols) * PANEL_HEIGHT + 2;
    let compact = n + 2;
    let room = area.height.saturating_sub(LOG_MIN_HEIGHT);
    if full <= room {
        full
    } else {
        compact.min(room.max(3))
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, now: DateTime<Utc>) {
    let focused = app.focus == Pane::Workers;
    let s = &app.snapshot;
    let title = format!(" Workers {}/{} ", s.active, s.target_workers.max(1));
    let block = Block::bordered()
        .title(Span::styled(title, style::title(focused)))
        .border_style(style::pane_border(focused));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let workers = &s.workers;
    let cursor = app.cursor(Pane::Workers);
    let cols = columns(inner.width);
    let full = (workers.len() as u16).div_ceil(cols) * PANEL_HEIGHT <= inner.height;
    if full {
        let rows = Layout::vertical(vec![
            Constraint::Length(PANEL_HEIGHT);
            (workers.len() as u16).div_ceil(cols) as usize
        ])
        .split(inner);
        for (i, worker) in workers.iter().enumerate() {
            let row = rows[i / cols as usize];
            let cells = Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols as usize])
                .split(row);
            panel(
                frame,
                cells[i % cols as usize],
                app,
                worker,
                focused && i == cursor,
                now,
            );
        }
    } else {
        let lines: Vec<Line> = workers
            .iter()
            .enumerate()
            .take(inner.height as usize)
            .map(|(i, w)| compact_line(app, w, focused && i == cursor, now))
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

fn panel(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    worker: &WorkerView,
    cursor: bool,
    now: DateTime<Utc>,
) {
    let border = if cursor {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    let draining = worker.slot > app.snapshot.target_workers.max(1);
    let Some(run) = &worker.run else {
        let block = Block::bordered()
            .title(format!(" {} · idle ", worker.slot))
            .border_style(border);
        // More workers than node slots: with work queued, the spare ones wait for a node.
        let nodes = &app.snapshot.nodes;
        let queue = &app.snapshot.queue;
        let work_waits = queue.len() > queue.held_count();
        let waits_for = if work_waits
            && nodes.configured()
            && !nodes.any_room(app.snapshot.target_workers.max(1))
        {
            "waiting for a node slot"
        } else {
            "waiting for work"
        };
        let text =
            Paragraph::new(Span::styled(waits_for, Style::new().fg(Color::DarkGray))).block(block);
        frame.render_widget(text, area);
        return;
    };
    let elapsed = elapsed(run, now);
    let mut title = vec![
        Span::raw(format!(" {} · ", worker.slot)),
        Span::styled(
            run.item.server.clone(),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" · {} ", run.item.action)),
    ];
    let marks = marks(run, draining, now);
    let clock = format!(" {} ", clock(elapsed));
    // The node goes beside the server when the title has room for it with the marks (which
    // must not be cut), else at the end of the counts line.
    let node_in_title = run
        .node
        .as_ref()
        .map(|node| Span::raw(format!("· on {node} ")));
    let title_width = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    let room = usize::from(area.width.saturating_sub(2)).saturating_sub(clock.chars().count());
    let node_in_counts = match node_in_title {
        Some(node) if title_width(&title) + node.width() + title_width(&marks) <= room => {
            title.push(node);
            None
        }
        _ => run.node.as_ref(),
    };
    title.extend(marks);
    let block = Block::bordered()
        .title(Line::from(title))
        .title_top(Line::from(clock).right_aligned())
        .border_style(border);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [task, counts, gauge, last] = Layout::vertical([Constraint::Length(1); 4]).areas(inner);
    let task_name = run
        .task
        .clone()
        .unwrap_or_else(|| "starting ansible-playbook…".into());
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("▶ ", Style::new().fg(Color::Cyan)),
            Span::raw(task_name),
            Span::styled(
                format!("  (task {})", run.tasks_started),
                Style::new().fg(Color::DarkGray),
            ),
        ])),
        task,
    );
    let mut counts_line = counts_line(run);
    if let Some(node) = node_in_counts {
        counts_line.push_span(Span::raw(format!("  on {node}")));
    }
    frame.render_widget(Paragraph::new(counts_line), counts);
    let (ratio, label) = progress(app, run, elapsed);
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(label)
            .gauge_style(Style::new().fg(Color::Cyan).bg(Color::Black)),
        gauge,
    );
    let last_line = run.last_line.clone().unwrap_or_default();
    frame.render_widget(
        Paragraph::new(Span::styled(last_line, Style::new().fg(Color::DarkGray))),
        last,
    );
}

fn compact_line(app: &App, worker: &WorkerView, cursor: bool, now: DateTime<Utc>) -> Line<'static> {
    let base = if cursor {
        style::cursor_row()
    } else {
        Style::new()
    };
    let Some(run) = &worker.run else {
        return Line::from(Span::styled(
            format!("{:>2} idle", worker.slot),
            base.fg(Color::DarkGray),
        ));
    };
    let elapsed = elapsed(run, now);
    let draining = worker.slot > app.snapshot.target_workers.max(1);
    let (ratio, _) = progress(app, run, elapsed);
    // `as_str`: `Action`'s Display ignores the width. The marks come right after the name, so
    // a narrow pane cuts the counts, never the stall or stop mark.
    let mut spans = vec![
        Span::styled(format!("{:>2} ", worker.slot), base),
        Span::styled(
            format!("{:<10} {:<9} ", run.item.server, run.item.action.as_str()),
            base.add_modifier(Modifier::BOLD),
        ),
    ];
    spans.extend(marks(run, draining, now));
    // Failures first: a narrow pane cuts the end of the line, and this must not be cut.
    if run.counts.failed > 0 {
        spans.push(Span::styled(
            format!("✗ {} failed ", run.counts.failed),
            base.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    // After the marks and failures, which a narrow pane must not lose to it.
    if let Some(node) = &run.node {
        spans.push(Span::styled(format!("on {node} "), base));
    }
    spans.extend([
        Span::styled(format!("{:>6} ", clock(elapsed)), base),
        Span::styled(bar(ratio, 8), base.fg(Color::Cyan)),
        Span::raw(" "),
    ]);
    spans.extend(counts_line(run).spans);
    spans.push(Span::raw(" "));
    spans.push(Span::styled(
        run.task.clone().unwrap_or_default(),
        base.fg(Color::Gray),
    ));
    Line::from(spans)
}

fn elapsed(run: &RunView, now: DateTime<Utc>) -> Duration {
    (now - run.started_at).to_std().unwrap_or_default()
}

fn counts_line(run: &RunView) -> Line<'static> {
    let c = &run.counts;
    Line::from(vec![
        Span::styled(format!("ok {}", c.ok), Style::new().fg(Color::Green)),
        Span::raw(" "),
        Span::styled(
            format!("changed {}", c.changed),
            Style::new().fg(Color::Yellow),
        ),
        Span::raw(" "),
        Span::styled(
            format!("failed {}", c.failed),
            Style::new().fg(if c.failed > 0 {
                Color::Red
            } else {
                Color::DarkGray
            }),
        ),
    ])
}

/// Stopping, draining, stalled: the things an operator must notice.
fn marks(run: &RunView, draining: bool, now: DateTime<Utc>) -> Vec<Span<'static>> {
    let mut marks = Vec::new();
    match run.stopping {
        Some(StopMode::Graceful) => marks.push(Span::styled(
            "interrupting ",
            Style::new().fg(Color::Yellow),
        )),
        Some(StopMode::Kill) => marks.push(Span::styled("killing ", Style::new().fg(Color::Red))),
        None => {}
    }
    if draining {
        marks.push(Span::styled("draining ", Style::new().fg(Color::Yellow)));
    }
    let quiet = (now - run.last_event_at).to_std().unwrap_or_default();
    if quiet >= STALL_AFTER {
        marks.push(Span::styled(
            format!("⚠ stalled {} ", clock(quiet)),
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    marks
}

/// Progress against the last successful run of the same server and action, if there was one.
fn progress(app: &App, run: &RunView, elapsed: Duration) -> (f64, String) {
    // A dry run does different work than a real one: no real run's duration predicts it.
    let earlier = (!run.item.check_mode)
        .then(|| {
            app.last_duration
                .get(&(run.item.server.clone(), run.item.action))
        })
        .flatten();
    match earlier {
        Some(previous) if !previous.is_zero() => {
            let ratio = (elapsed.as_secs_f64() / previous.as_secs_f64()).min(0.99);
            let left = previous.saturating_sub(elapsed);
            let eta = if left.is_zero() {
                "overdue".to_string()
            } else {
                format!("ETA {}", clock(left))
            };
            (ratio, format!("{:.0}% {eta}", ratio * 100.0))
        }
        _ => (
            0.0,
            format!(
                "{} tasks done · no ETA yet",
                run.tasks_started.saturating_sub(1)
            ),
        ),
    }
}

fn bar(ratio: f64, width: usize) -> String {
    let filled = ((ratio * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}
