//! Pending items in dispatch order, and why each one waits.

use super::style;
use crate::tui::app::{App, Pane};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::{Cell, Row, TableState};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let focused = app.focus == Pane::Queue;
    let queue = &app.snapshot.queue;
    // Only the rows that fit are built: the queue may hold 100,000 items.
    let height = area.height.saturating_sub(3) as usize;
    let cursor = app.cursor(Pane::Queue);
    let first = cursor.saturating_sub(height.saturating_sub(1));
    let waits = app.snapshot.waits();
    let rows = queue.iter().skip(first).take(height.max(1)).map(|item| {
        let mut what = item.action.to_string();
        if item.check_mode {
            what.push_str(" ✎");
        }
        let mut extra = Vec::new();
        if !item.tags.is_empty() {
            extra.push(format!("tags {}", item.tags.join(",")));
        }
        if item.attempt > 1 {
            extra.push(format!("try {}", item.attempt));
        }
        let wait = waits.of(item).to_string();
        let why = if extra.is_empty() {
            wait
        } else {
            format!("{wait} · {}", extra.join(" · "))
        };
        Row::new(vec![
            Cell::from(format!("#{}", item.id)).style(Style::new().fg(Color::DarkGray)),
            Cell::from(format!("{:+}", item.priority)),
            Cell::from(what),
            Cell::from(item.server.clone()),
            Cell::from(why).style(Style::new().fg(Color::DarkGray)),
        ])
    });
    let widths = [
        Constraint::Length(5),
        Constraint::Length(3),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Min(10),
    ];
    let headings = Row::new(["ID", "PRI", "ACTION", "SERVER", "WAITS FOR"]);
    let title = format!(" Queue {} ", queue.len());
    let table = style::pane_table(rows, widths, headings, title, focused);
    let mut state =
        TableState::default().with_selected((!queue.is_empty()).then_some(cursor - first));
    frame.render_stateful_widget(table, area, &mut state);
}
