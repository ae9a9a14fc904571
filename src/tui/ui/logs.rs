//! The log pane: tui-logger's smart widget, one target per worker and one for the engine.

use super::style;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use tui_logger::{TuiLoggerLevelOutput, TuiLoggerSmartWidget, TuiWidgetState};

pub fn draw(frame: &mut Frame, area: Rect, focused: bool, state: &TuiWidgetState) {
    let widget = TuiLoggerSmartWidget::default()
        .title_log(" Log ")
        .title_target(" Targets ")
        .border_style(style::pane_border(focused))
        .style_error(Style::new().fg(Color::Red))
        .style_warn(Style::new().fg(Color::Yellow))
        .style_info(Style::new().fg(Color::Gray))
        .output_timestamp(Some("%H:%M:%S".into()))
        .output_level(Some(TuiLoggerLevelOutput::Abbreviated))
        .output_target(true)
        .output_file(false)
        .output_line(false)
        .state(state);
    frame.render_widget(widget, area);
}
