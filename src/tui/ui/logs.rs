//! The log pane: tui-logger's target list and log, one target per worker and one for the
//! engine. Put together here rather than with tui-logger's smart widget, which writes its own
//! rate counter ("[log=7000.0/s]") into the title.

use super::style;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::Block;
use tui_logger::{TuiLoggerLevelOutput, TuiLoggerTargetWidget, TuiLoggerWidget, TuiWidgetState};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool, state: &TuiWidgetState) {
    let border = style::pane_border(focused);
    let log = TuiLoggerWidget::default()
        .block(Block::bordered().title(" Log ").border_style(border))
        .style_error(Style::new().fg(Color::Red))
        .style_warn(Style::new().fg(Color::Yellow))
        .style_info(Style::new().fg(Color::Gray))
        .output_timestamp(Some("%H:%M:%S".into()))
        .output_level(Some(TuiLoggerLevelOutput::Abbreviated))
        .output_target(true)
        .output_file(false)
        .output_line(false)
        .state(state);
    if app.log_targets_hidden {
        frame.render_widget(log, area);
        return;
    }
    // As wide as the longest target ("worker-12") plus the level columns and borders.
    let slots = app.snapshot.workers.len().max(1);
    let longest = "worker-".len() + slots.to_string().len();
    let [targets_area, log_area] =
        Layout::horizontal([Constraint::Length(longest as u16 + 8), Constraint::Min(10)])
            .areas(area);
    let targets = TuiLoggerTargetWidget::default()
        .block(Block::bordered().title(" Targets ").border_style(border))
        .state(state);
    frame.render_widget(targets, targets_area);
    frame.render_widget(log, log_area);
}
