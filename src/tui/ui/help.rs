//! The `?` overlay: every binding of the key table, the panes' and the modes', by where it
//! applies.

use super::centered;
use crate::tui::command_line::COMMANDS;
use crate::tui::keymap::{self, Scope};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// Blank columns between the two columns of keys.
const COLUMN_GAP: u16 = 2;

/// `scroll`: first line shown when the help is one column taller than the screen.
pub fn draw(frame: &mut Frame, area: Rect, scroll: u16) {
    let heading = |text: &str| {
        Line::from(Span::styled(
            text.to_string(),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ))
    };
    let entry = |keys: String, help: &str| {
        Line::from(vec![
            Span::styled(
                // The trailing space keeps a long key list off its help text.
                format!("  {keys:<16} "),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(help.to_string()),
        ])
    };
    let mut lines = Vec::new();
    // Where each section starts: two columns are split there, never inside a section.
    let mut sections = Vec::new();
    for (scope, name) in [
        (Scope::Global, "Everywhere"),
        (Scope::Queue, "Queue pane"),
        (Scope::Workers, "Workers pane"),
        (Scope::Log, "Log pane"),
    ] {
        sections.push(lines.len());
        lines.push(heading(name));
        for binding in keymap::NORMAL.iter().filter(|b| b.scope == scope) {
            lines.push(entry(keymap::labels(binding), binding.help));
        }
    }
    // Each mode's keys, from the same table; the command line's commands after its keys.
    for &(scope, name) in keymap::SECTIONS {
        sections.push(lines.len());
        lines.push(heading(name));
        for binding in keymap::MODES.iter().filter(|b| b.scope == scope) {
            lines.push(entry(keymap::labels(binding), binding.help));
        }
        if scope == Scope::CommandLine {
            for (command, args) in COMMANDS {
                lines.push(entry(command.to_string(), args));
            }
        }
    }
    // Two columns as wide as their longest entry, apart, when the screen is wide enough; one
    // otherwise.
    let column = lines.iter().map(Line::width).max().unwrap_or(0) as u16;
    let split = sections
        .iter()
        .copied()
        .min_by_key(|&at| at.abs_diff(lines.len() - at))
        .unwrap_or(0);
    let rows = split.max(lines.len() - split) as u16;
    // Two columns taller than the screen scroll together, as one column does: on a wide screen
    // that is still far less to scroll.
    let two_columns = area.width >= 120;
    let (width, height) = if two_columns {
        (column * 2 + COLUMN_GAP + 2, (rows + 2).min(area.height))
    } else {
        (70, area.height)
    };
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(" Keys · any key closes · ↑↓ PgUp PgDn Home End scroll ")
        .border_style(Style::new().fg(Color::Cyan));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    if two_columns {
        let right = lines.split_off(split);
        let [l, r] = Layout::horizontal([Constraint::Fill(1); 2])
            .spacing(COLUMN_GAP)
            .areas(inner);
        let scroll = scroll.min(rows.saturating_sub(inner.height));
        frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), l);
        frame.render_widget(Paragraph::new(right).scroll((scroll, 0)), r);
    } else {
        let most = (lines.len() as u16).saturating_sub(inner.height);
        frame.render_widget(Paragraph::new(lines).scroll((scroll.min(most), 0)), inner);
    }
}
