//! The rollout strip under the header: one line per rollout under way (a stopped one first, in
//! a warning colour, with the keys that answer it), and the last one to end, for a while.
//!
//! ```text
//! Rollout deploy #12 · window 2/2 · 5/9 healthy · 2 in deploy · 2 waiting
//! Rollout deploy #15 · STOPPED: db-02 deploy failed (rc 2 …) · C continues, A aborts · 3/9 …
//! ```

use crate::engine::rollout::{Phase, Rollout};
use crate::tui::app::App;
use crate::tui::rollouts;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Rows the strip may take: one on a short screen, where the panes need every row, a few on a
/// tall one.
const MOST_ROWS_SHORT: usize = 1;
const MOST_ROWS_TALL: usize = 3;
/// The counts give way before a stop reason would be cut shorter than this.
const MIN_REASON: usize = 40;
/// Room for where a rollout is when several share one row.
const STEP_SHORT: usize = 32;
/// From this screen height on, the strip may take `MOST_ROWS_TALL` rows.
const TALL: u16 = 36;

/// The rows the strip takes on a screen `screen_height` tall (0: no rollout to show).
pub fn height(app: &App, screen_height: u16, now: DateTime<Utc>) -> u16 {
    let most = if screen_height >= TALL {
        MOST_ROWS_TALL
    } else {
        MOST_ROWS_SHORT
    };
    rollouts::shown_rollouts(app, now).len().min(most) as u16
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, now: DateTime<Utc>) {
    let shown = rollouts::shown_rollouts(app, now);
    let rows = area.height as usize;
    if rows == 0 {
        return;
    }
    let width = area.width as usize;
    let mut lines: Vec<Line> = shown
        .iter()
        .take(rows)
        .map(|rollout| line(rollout, rollouts::rollout_held(app, rollout), width))
        .collect();
    // More than fit: the last row names the others rather than hide that they exist.
    if shown.len() > rows {
        let rest = &shown[rows - 1..];
        let names: Vec<String> = rest
            .iter()
            .map(|r| format!("{} ({})", r.name(), shorten(&r.step_text(), STEP_SHORT)))
            .collect();
        let count = if rows == 1 {
            format!(" {} rollouts: ", rest.len())
        } else {
            format!(" +{} more rollouts: ", rest.len())
        };
        let mut spans = vec![
            Span::styled(count, Style::new().fg(Color::Cyan)),
            Span::raw(names.join(" · ")),
        ];
        if rest
            .iter()
            .any(|r| matches!(r.phase, Phase::Stopped { .. }))
        {
            spans.push(Span::styled(
                " · C continues, A aborts",
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ));
        }
        lines[rows - 1] = Line::from(spans);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// One rollout in `width` columns: its name and where it is come first, then (stopped) the
/// keys that answer it, then its counts, dropped first when the line is too long; a long stop
/// reason is shortened rather than the keys cut off.
pub fn line(rollout: &Rollout, held: bool, width: usize) -> Line<'static> {
    let sep = || Span::styled(" · ", Style::new().fg(Color::DarkGray));
    let warning = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    let head = vec![
        Span::styled(" Rollout ", Style::new().fg(Color::Cyan)),
        Span::styled(rollout.name(), Style::new().add_modifier(Modifier::BOLD)),
        sep(),
    ];
    let (phase_prefix, phase_text, phase_style) = match &rollout.phase {
        Phase::Canary | Phase::Window => (
            String::new(),
            rollout.step_text(),
            Style::new().fg(Color::Cyan),
        ),
        Phase::Stopped { reason } => ("STOPPED: ".to_string(), reason.clone(), warning),
        Phase::Done if rollout.tally().failed > 0 => {
            (String::new(), "done".into(), Style::new().fg(Color::Yellow))
        }
        Phase::Done => (String::new(), "done".into(), Style::new().fg(Color::Green)),
        Phase::Aborted => (
            String::new(),
            "aborted".into(),
            Style::new().fg(Color::Magenta),
        ),
    };
    let mut tail = Vec::new();
    if held {
        tail.push(sep());
        tail.push(Span::styled(
            "HELD from an earlier session: P runs, X discards",
            warning,
        ));
    }
    if matches!(rollout.phase, Phase::Stopped { .. }) {
        tail.push(sep());
        tail.push(Span::styled(
            "C continues, A aborts",
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
    }
    let progress = vec![
        sep(),
        Span::styled(rollout.progress_text(), Style::new().fg(Color::Gray)),
    ];
    let used = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    let fixed = used(&head) + phase_prefix.chars().count() + used(&tail);
    // The counts stay while the reason keeps enough words to be read; otherwise they go first.
    let room_with_progress = width.saturating_sub(fixed + used(&progress));
    let with_progress = room_with_progress >= phase_text.chars().count().min(MIN_REASON);
    let room = if with_progress {
        room_with_progress
    } else {
        width.saturating_sub(fixed)
    };
    let phase_text = shorten(&phase_text, room);
    let mut spans = head;
    spans.push(Span::styled(
        format!("{phase_prefix}{phase_text}"),
        phase_style,
    ));
    spans.extend(tail);
    if with_progress {
        spans.extend(progress);
    }
    Line::from(spans)
}

/// `text` in at most `room` characters, ending in `…` when cut.
fn shorten(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
