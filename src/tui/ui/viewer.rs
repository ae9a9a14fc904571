//! A run's full log over the screen: scroll, follow, search.

use crate::tui::viewer::Viewer;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// `live`: the log's run is still in flight (only then is there anything to follow).
pub fn draw(frame: &mut Frame, area: Rect, viewer: &Viewer, live: bool) {
    frame.render_widget(Clear, area);
    let follow = match (live, viewer.follow) {
        (true, true) => " · following",
        (true, false) => " · still running",
        (false, _) => "",
    };
    let title = format!(" {} · {}{follow} ", viewer.title, viewer.path.display());
    let block = Block::bordered()
        .title(title)
        .border_style(Style::new().fg(Color::Cyan));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [text, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let height = text.height as usize;
    // The scroll line is the last one shown when following, the first one otherwise.
    let first = if viewer.follow {
        viewer.scroll.saturating_sub(height.saturating_sub(1))
    } else {
        viewer.scroll
    };
    let needle = viewer.search.to_lowercase();
    let lines: Vec<Line> = viewer
        .lines
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, line)| {
            let hit = !needle.is_empty() && line.to_lowercase().contains(&needle);
            let style = match (hit, i == viewer.scroll && !viewer.follow) {
                (_, true) => Style::new().bg(super::style::CURSOR_BG),
                (true, false) => Style::new().fg(Color::Yellow),
                _ => Style::new(),
            };
            Line::from(vec![
                Span::styled(format!("{:>5} ", i + 1), Style::new().fg(Color::DarkGray)),
                Span::styled(line.clone(), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), text);
    let status = if viewer.searching {
        format!(" search: {}▏  Enter find · Esc cancel", viewer.search)
    } else if viewer.no_match {
        let shown = if viewer.hidden_bytes > 0 {
            " in the part shown (the file has more)"
        } else {
            ""
        };
        format!(
            " no line matches \"{}\"{shown} · / search again · Esc close",
            viewer.search
        )
    } else {
        let of = if viewer.hidden_bytes > 0 {
            " of the part shown"
        } else {
            ""
        };
        format!(
            " line {}/{}{of} · ↑↓ PgUp PgDn scroll · F follow · / search · n N next · Esc close",
            viewer.scroll + 1,
            viewer.lines.len()
        )
    };
    frame.render_widget(
        Paragraph::new(Span::styled(
            status,
            Style::new().fg(Color::Gray).add_modifier(Modifier::DIM),
        )),
        foot,
    );
}
