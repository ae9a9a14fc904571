//! Colours and symbols, in one place so every pane speaks the same language.

use crate::engine::model::{Outcome, RUNNING_SYMBOL};
use ratatui::layout::Constraint;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Row, Table};

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

/// Dim text: groups, ages, ids, headings.
pub const DIM: Color = Color::DarkGray;

/// The cursor row's background: darker than `DIM`, so dim text on the cursor row stays
/// readable (colour 8 on colour 8 was invisible).
pub const CURSOR_BG: Color = Color::Indexed(236);

pub fn cursor_row() -> Style {
    Style::new().bg(CURSOR_BG).add_modifier(Modifier::BOLD)
}

/// An outcome's symbol (the model's, which the HTML report shares) and its colour;
/// `healthy: Some(false)` marks an unhealthy deploy.
pub fn outcome(outcome: &Outcome, healthy: Option<bool>) -> (&'static str, Style) {
    let color = match outcome {
        Outcome::Succeeded if healthy == Some(false) => Color::Yellow,
        Outcome::Succeeded => Color::Green,
        Outcome::Failed { .. } | Outcome::TimedOut { .. } | Outcome::Error { .. } => Color::Red,
        Outcome::Unreachable { .. } => Color::Yellow,
        Outcome::Interrupted => Color::Magenta,
        Outcome::Cancelled { .. } | Outcome::Skipped { .. } => Color::DarkGray,
    };
    (outcome.symbol(healthy), Style::new().fg(color))
}

pub const RUNNING: (&str, Color) = (RUNNING_SYMBOL, Color::Cyan);
pub const QUEUED: (&str, Color) = ("·", Color::Blue);
pub const HELD: (&str, Color) = ("‖", Color::Yellow);
/// After an outcome: the run was a dry run (`--check`), nothing was changed.
pub const CHECK_MODE: (&str, Color) = ("c", Color::Magenta);

/// A pane's table: dim column headings, the cursor row highlighted while the pane has focus,
/// and the pane's titled border.
pub fn pane_table<'a>(
    rows: impl IntoIterator<Item = Row<'a>>,
    widths: impl IntoIterator<Item = Constraint>,
    headings: Row<'a>,
    title: String,
    focused: bool,
) -> Table<'a> {
    Table::new(rows, widths)
        .header(headings.style(Style::new().fg(Color::DarkGray)))
        .column_spacing(1)
        .row_highlight_style(if focused { cursor_row() } else { Style::new() })
        .block(
            Block::bordered()
                .title(Span::styled(title, self::title(focused)))
                .border_style(pane_border(focused)),
        )
}
