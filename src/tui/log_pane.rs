//! The log pane: a target list (the engine and each worker in the pool) and tui-logger's log.
//! Put together here rather than with tui-logger's smart widget, which writes its own rate
//! counter ("[log=7000.0/s]") into the title. Lines are laid out by `wrap` (no word cut in
//! two); the list and its keys are `targets::LogPane`.

pub mod targets;
pub mod wrap;

use log::LevelFilter;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
pub use targets::LogPane;
use tui_logger::TuiLoggerWidget;

/// How the dashboard frames the pane.
pub struct PaneLook {
    /// The list as the pool is now (`targets::listed`); the pane's selection indexes it.
    pub targets: Vec<String>,
    pub border: Style,
}

pub fn draw(frame: &mut Frame, area: Rect, look: &PaneLook, pane: &LogPane) {
    let formatter = wrap::WrappingFormatter {
        style: Style::new().fg(Color::Gray),
        style_error: Style::new().fg(Color::Red),
        style_warn: Style::new().fg(Color::Yellow),
    };
    let log = TuiLoggerWidget::default()
        .block(Block::bordered().title(" Log ").border_style(look.border))
        .formatter(Box::new(formatter))
        .state(&pane.widget);
    if pane.list_hidden() {
        frame.render_widget(log, area);
        return;
    }
    // As wide as the longest target ("worker-12") plus the level columns and borders.
    let longest = look.targets.iter().map(|t| t.len()).max().unwrap_or(0);
    let [targets_area, log_area] =
        Layout::horizontal([Constraint::Length(longest as u16 + 8), Constraint::Min(10)])
            .areas(area);
    draw_targets(frame, targets_area, look, pane);
    frame.render_widget(log, log_area);
}

/// One row per target as tui-logger drew it: `EWI  :worker-1`, a level letter reversed when
/// the log shows that level of the target, the selected name reversed.
fn draw_targets(frame: &mut Frame, area: Rect, look: &PaneLook, pane: &LogPane) {
    let block = Block::bordered()
        .title(" Targets ")
        .border_style(look.border);
    let height = block.inner(area).height as usize;
    let offset = (pane.selected() + 1).saturating_sub(height.max(1));
    let shown = Style::new().add_modifier(Modifier::REVERSED);
    let rows: Vec<Line> = look
        .targets
        .iter()
        .enumerate()
        .skip(offset)
        .map(|(i, target)| {
            let selected = i == pane.selected();
            let level = pane.level(target);
            let lit = !pane.focused() || selected;
            let mut spans: Vec<Span> = [
                ("E", LevelFilter::Error),
                ("W", LevelFilter::Warn),
                ("I", LevelFilter::Info),
            ]
            .into_iter()
            .map(|(letter, at)| {
                let style = if lit && level >= at {
                    shown
                } else {
                    Style::new()
                };
                Span::styled(letter, style)
            })
            .collect();
            spans.push(Span::raw("  :"));
            spans.push(Span::styled(
                target.as_str(),
                if selected { shown } else { Style::new() },
            ));
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(rows).block(block), area);
}
