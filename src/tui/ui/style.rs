//! Colours and symbols, in one place so every pane speaks the same language.

use crate::engine::model::Outcome;
use ratatui::style::{Color, Modifier, Style};

pub fn pane_border(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

pub fn title(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

pub fn cursor_row() -> Style {
    Style::new()
        .bg(Color::DarkGray)
        .add_modifier(Modifier::BOLD)
}

/// One narrow symbol and colour per outcome; `healthy: Some(false)` marks an unhealthy deploy.
pub fn outcome(outcome: &Outcome, healthy: Option<bool>) -> (&'static str, Style) {
    let (symbol, color) = match outcome {
        Outcome::Succeeded if healthy == Some(false) => ("✓!", Color::Yellow),
        Outcome::Succeeded => ("✓", Color::Green),
        Outcome::Failed { .. } => ("✗", Color::Red),
        Outcome::Unreachable { .. } => ("!", Color::Yellow),
        Outcome::TimedOut { .. } => ("T", Color::Red),
        Outcome::Error { .. } => ("E", Color::Red),
        Outcome::Cancelled { .. } | Outcome::Skipped { .. } | Outcome::Interrupted => {
            ("⊘", Color::DarkGray)
        }
    };
    (symbol, Style::new().fg(color))
}

pub const RUNNING: (&str, Color) = ("▶", Color::Cyan);
pub const QUEUED: (&str, Color) = ("·", Color::Blue);
