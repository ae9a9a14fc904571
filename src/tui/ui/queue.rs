//! Pending items in dispatch order, and why each one waits.

use super::style;
use crate::engine::model::Item;
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
    let shown: Vec<_> = queue.iter().skip(first).take(height.max(1)).collect();
    let widths = column_widths(area.width.saturating_sub(2), &shown);
    let rows = shown.iter().map(|item| {
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
    let headings = Row::new(["ID", "PRI", "ACTION", "SERVER", "WAITS FOR"]);
    let title = format!(" Queue {} ", queue.len());
    let table = style::pane_table(rows, widths, headings, title, focused);
    let mut state =
        TableState::default().with_selected((!queue.is_empty()).then_some(cursor - first));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The ACTION and SERVER columns' width when there is room; ids take at least `ID_WIDTH`.
const ID_WIDTH: usize = 5;
const ACTION_WIDTH: usize = 10;
const SERVER_WIDTH: usize = 10;
/// WAITS FOR gets at least this much while the other columns only lose blank space, then at
/// least `LEAST_WAITS` while they are cut.
const WAITS_WIDTH: usize = 10;
const LEAST_WAITS: usize = 6;
const COLUMN_SPACING: usize = 4;

/// The columns' widths in `inner` columns for the rows `shown`. The ID column is always as
/// wide as the widest id shown: two ids cut to "#13" look the same, and an operator who acts on
/// the wrong item is worse off than one who cannot read a reason. When room is short the other
/// columns first lose their blank space, then the reason, the server, the action and the
/// priority are cut, in that order.
fn column_widths(inner: u16, shown: &[&Item]) -> [Constraint; 5] {
    let widest = |heading: &str, cell: &dyn Fn(&Item) -> usize| {
        shown
            .iter()
            .map(|item| cell(item))
            .fold(heading.chars().count(), usize::max)
    };
    let id = widest("ID", &|item| format!("#{}", item.id).len());
    let priority = widest("PRI", &|item| format!("{:+}", item.priority).len());
    let action = widest("ACTION", &|item| {
        item.action.as_str().len() + if item.check_mode { 2 } else { 0 }
    });
    let server = widest("SERVER", &|item| item.server.chars().count());
    // Id, priority, action, server.
    let mut cut = [id.max(ID_WIDTH), priority, ACTION_WIDTH, SERVER_WIDTH];
    let room = (inner as usize).saturating_sub(COLUMN_SPACING);
    // (the reason's least width meanwhile, the column cut, down to): in order, until all fit.
    // The id never goes below its widest id.
    let steps = [
        (WAITS_WIDTH, 3, server.min(SERVER_WIDTH)),
        (WAITS_WIDTH, 2, action.min(ACTION_WIDTH)),
        (WAITS_WIDTH, 0, id),
        (LEAST_WAITS, 3, 5),
        (LEAST_WAITS, 2, 4),
        (0, 3, 0),
        (0, 2, 0),
        (0, 1, 0),
    ];
    for (waits, column, floor) in steps {
        let over = (cut.iter().sum::<usize>() + waits).saturating_sub(room);
        cut[column] -= over.min(cut[column].saturating_sub(floor));
    }
    let [id, priority, action, server] = cut.map(|w| Constraint::Length(w as u16));
    [id, priority, action, server, Constraint::Fill(1)]
}
