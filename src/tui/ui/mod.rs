//! Drawing: a pure function of the app state, the log widget's state and the time.
//!
//! ```text
//! ┌ header: env · mode · workers · counts · paused · elapsed ─────────────────────┐
//! │ rollouts: one line per rollout under way (only while there is one)             │
//! ├ Servers ───────────────────┬ Workers (one panel per slot) ────────────────────┤
//! │ name groups  P  D  C        │ ┌ 1 web-01 deploy ┐ ┌ 2 db-01 check ┐ ┌ 3 idle ┐ │
//! │                             │ └─────────────────┘ └───────────────┘ └────────┘ │
//! ├ Queue ─────────────────────┼ Log (tui-logger: a target per worker) ────────────┤
//! │ prio action server waits    │                                                   │
//! └ footer: key hints from the key table, or the last notice ─────────────────────┘
//! ```
//! Overlays (help, dialogs, the log viewer) are drawn on top.

pub(crate) mod footer;
pub(crate) mod header;
pub(crate) mod help;
pub(crate) mod logs;
pub mod matrix;
pub(crate) mod modal;
pub(crate) mod queue;
pub(crate) mod rollouts;
pub(crate) mod servers;
pub mod style;
pub mod timeline;
pub(crate) mod viewer;
pub(crate) mod workers;

use super::app::{App, Pane};
use super::log_pane::LogPane;
use super::mode::Mode;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Paragraph;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame, app: &App, logs: &LogPane, now: DateTime<Utc>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small: {}×{}, fleetdeck needs {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let strip = rollouts::height(app, area.height, now);
    let [top, strip_area, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(strip),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, top, app, now);
    footer::draw(frame, bottom, app);
    // The views cover the panes (and cost only what they show): the header and the footer's
    // notices stay.
    let view_area = Rect {
        height: strip_area.height + body.height,
        ..strip_area
    };
    match &app.mode {
        Mode::Timeline(view) => return timeline::draw(frame, view_area, view, &app.timeline, now),
        Mode::Matrix(view) => return matrix::draw(frame, view_area, view, &app.timeline, now),
        _ => {}
    }
    rollouts::draw(frame, strip_area, app, now);

    let [left, right] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(body);
    let [servers_area, queue_area] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(left);
    servers::draw(frame, servers_area, app, now);
    queue::draw(frame, queue_area, app);

    let workers_height = workers::height_for(app, right);
    let [workers_area, log_area] =
        Layout::vertical([Constraint::Length(workers_height), Constraint::Min(0)]).areas(right);
    workers::draw(frame, workers_area, app, now);
    logs::draw(frame, log_area, app, app.focus == Pane::Log, logs);

    match &app.mode {
        Mode::Help(state) => help::draw(frame, area, state.scroll),
        Mode::Dialog(dialog) => modal::draw(frame, area, dialog),
        Mode::Viewer(viewer) => viewer::draw(frame, area, viewer, app.viewing_live_log()),
        Mode::Normal | Mode::Filter(_) | Mode::Command(_) | Mode::Timeline(_) | Mode::Matrix(_) => {
        }
    }
}

/// A rectangle of `width` × `height` centred in `area`, clipped to it.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// "0:07", "12:34", "1:02:03".
pub fn clock(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests;
