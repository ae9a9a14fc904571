//! The log pane as the dashboard draws it: `tui::log_pane` framed by the App's focus, with the
//! target list unless the operator hid it.

use super::style;
use crate::tui::app::App;
use crate::tui::log_pane::{self, LogPane, PaneLook};
use ratatui::Frame;
use ratatui::layout::Rect;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool, pane: &LogPane) {
    let look = PaneLook {
        targets: log_pane::targets::listed(app.snapshot.workers.iter().map(|w| w.slot)),
        border: style::pane_border(focused),
    };
    log_pane::draw(frame, area, &look, pane);
}
