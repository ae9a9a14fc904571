//! The `?` overlay: every binding of the key table, by where it applies.

use super::centered;
use crate::tui::dialogs::{ENQUEUE_KEYS, QUIT_KEYS, STOP_KEYS};
use crate::tui::keymap::{self, Scope};
use crate::tui::viewer::VIEWER_KEYS;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect) {
    let heading = |text: &str| {
        Line::from(Span::styled(
            text.to_string(),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ))
    };
    let entry = |keys: String, help: &str| {
        Line::from(vec![
            Span::styled(
                format!("  {keys:<16}"),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(help.to_string()),
        ])
    };
    let mut lines = Vec::new();
    for (scope, name) in [
        (Scope::Global, "Everywhere"),
        (Scope::Queue, "Queue pane"),
        (Scope::Workers, "Workers pane"),
        (Scope::Log, "Log pane"),
    ] {
        lines.push(heading(name));
        for binding in keymap::NORMAL.iter().filter(|b| b.scope == scope) {
            lines.push(entry(keymap::labels(binding), binding.help));
        }
    }
    for (name, table) in [
        ("Queue with options (t)", ENQUEUE_KEYS),
        ("Stop a run (x on a worker)", STOP_KEYS),
        ("Quit (q)", QUIT_KEYS),
    ] {
        lines.push(heading(name));
        for (key, _, help) in table {
            lines.push(entry(keymap::label(key), help));
        }
    }
    lines.push(heading("Log viewer (Enter)"));
    for (keys, help) in VIEWER_KEYS {
        lines.push(entry((*keys).to_string(), help));
    }
    // Two columns when the screen is wide enough, one otherwise.
    let half = lines.len().div_ceil(2);
    let two_columns = area.width >= 120 && area.height >= half as u16 + 2;
    let (width, height) = if two_columns {
        (116, half as u16 + 2)
    } else {
        (70, area.height)
    };
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(" Keys · any key closes ")
        .border_style(Style::new().fg(Color::Cyan));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    if two_columns {
        let right = lines.split_off(half);
        let [l, r] =
            ratatui::layout::Layout::horizontal([ratatui::layout::Constraint::Percentage(50); 2])
                .areas(inner);
        frame.render_widget(Paragraph::new(lines), l);
        frame.render_widget(Paragraph::new(right), r);
    } else {
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
