//! The log pane as the dashboard draws it: `tui::log_pane` with the App's worker slots, focus
//! and whether the target list is hidden.

use super::style;
use crate::tui::app::App;
use crate::tui::log_pane::{self, PaneLook};
use ratatui::Frame;
use ratatui::layout::Rect;
use tui_logger::TuiWidgetState;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool, state: &TuiWidgetState) {
    let look = PaneLook {
        slots: app.snapshot.workers.len(),
        targets_hidden: app.log_targets_hidden,
        focused,
        border: style::pane_border(focused),
    };
    log_pane::draw(frame, area, &look, state);
}
