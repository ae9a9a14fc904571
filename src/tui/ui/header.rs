//! The top line: environment, quitting, mode, workers, the nodes (when config.yml names
//! execution nodes), paused, held, counts, failing servers, session totals, runner; the
//! session's working time in its own corner.

mod nodes;

use super::clock;
use crate::engine::ShutdownMode;
use crate::engine::warm::RunnerMode;
use crate::tui::app::App;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, now: DateTime<Utc>) {
    let s = &app.snapshot;
    // Below this width the words shorten; what does not fit is cut from the right, in order
    // of importance, and the clock keeps its own corner.
    let narrow = area.width < 110;
    let sep = move || {
        Span::styled(
            if narrow { " " } else { " │ " },
            Style::new().fg(Color::DarkGray),
        )
    };
    let mode = match (s.target_workers, narrow) {
        (0, false) => "SEQUENTIAL".to_string(),
        (0, true) => "SEQ".to_string(),
        (n, false) => format!("PARALLEL {n}"),
        (n, true) => format!("PAR {n}"),
    };
    let badge = if narrow { "" } else { " fleetdeck " };
    let mut spans = vec![
        Span::styled(
            badge,
            Style::new()
                .bg(Color::Cyan)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(app.env.clone(), Style::new().add_modifier(Modifier::BOLD)),
    ];
    if let Some(mode) = app.quitting {
        spans.push(sep());
        let words = match mode {
            ShutdownMode::Wait => "quitting: waiting for runs to finish…",
            ShutdownMode::Cancel => "quitting: cancelling runs…",
            ShutdownMode::Kill => "quitting: killing runs…",
        };
        spans.push(Span::styled(words, Style::new().fg(Color::Yellow)));
    }
    spans.extend([
        sep(),
        Span::raw(mode),
        sep(),
        Span::raw(format!("workers {}/{}", s.active, s.target_workers.max(1))),
    ]);
    if s.draining > 0 {
        let from = s.workers.len();
        spans.push(Span::styled(
            format!(
                " (resizing {from} → {}, {} draining)",
                s.target_workers, s.draining
            ),
            Style::new().fg(Color::Yellow),
        ));
    }
    // The nodes come with the workers they run; their form is chosen once the rest is known.
    let nodes_at = spans.len();
    if let Some(reason) = &s.paused {
        spans.push(sep());
        let text = if narrow {
            "⏸ PAUSED".to_string()
        } else {
            format!("⏸ PAUSED: {reason}")
        };
        spans.push(Span::styled(
            text,
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    let held = app.held_count();
    if held > 0 {
        spans.push(sep());
        let text = if narrow {
            format!("held {held}")
        } else {
            format!("held {held}: P runs · X discards")
        };
        spans.push(Span::styled(
            text,
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    spans.extend([
        sep(),
        Span::raw(format!("queued {}", s.queue.len() - held)),
        Span::raw(" · "),
        Span::styled(
            format!("running {}", s.active),
            Style::new().fg(Color::Cyan),
        ),
    ]);
    // Servers failing now (their latest run), apart from what this session has seen fail.
    let failing = app.failing_servers();
    spans.push(sep());
    spans.push(if failing > 0 {
        Span::styled(
            format!("✗ {failing} failing"),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        )
    } else {
        Span::styled("✓ none failing", Style::new().fg(Color::Green))
    });
    let before_session = spans.len();
    spans.push(sep());
    spans.push(Span::styled(
        if narrow {
            format!("ran {} ({} ✗)", s.finished, s.failed)
        } else {
            format!("session: {} ran, {} failed", s.finished, s.failed)
        },
        Style::new().fg(Color::Gray),
    ));
    let elapsed = app.busy_total
        + app
            .busy_since
            .map(|since| (now - since).to_std().unwrap_or_default())
            .unwrap_or_default();
    let clock = format!(" ⏱ {} ", clock(elapsed));
    let room = usize::from(area.width).saturating_sub(clock.chars().count());
    if s.nodes.configured() {
        let session: usize = spans[before_session..].iter().map(Span::width).sum();
        let view = s.nodes.view(s.target_workers.max(1));
        let form = nodes::fitting(&view, width(&spans) + sep().width(), session, room);
        spans.splice(nodes_at..nodes_at, std::iter::once(sep()).chain(form));
    }
    // What does not fit goes whole, from the right: a number cut in half ("ran 1" for
    // "ran 11") would say something untrue.
    let separator = sep();
    let mut dropped = false;
    while width(&spans) > room {
        let Some(last) = spans.iter().rposition(|span| *span == separator) else {
            break;
        };
        spans.truncate(last);
        dropped = true;
    }
    // The runner comes last: whole, else in its short form, else not at all, never cut into
    // half a word ("runn").
    let used = width(&spans) + sep().width();
    // Nor does it take the place of something more important dropped for room.
    if let Some(runner) = [runner(&app.runner, narrow), runner(&app.runner, true)]
        .into_iter()
        .find(|runner| !dropped && used + runner.width() <= room)
    {
        spans.push(sep());
        spans.push(runner);
    }
    let [left, right] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(clock.chars().count() as u16),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new(clock), right);
}

fn width(spans: &[Span]) -> usize {
    spans.iter().map(Span::width).sum()
}

/// Which runner starts the runs; a fallback to fresh is shown in yellow (the log says why).
fn runner(mode: &RunnerMode, narrow: bool) -> Span<'static> {
    let text = match (mode, narrow) {
        (RunnerMode::Fresh, true) => "fresh".to_string(),
        (RunnerMode::FreshFallback { .. }, true) => "fresh!".to_string(),
        (RunnerMode::WarmIdle | RunnerMode::Warm { .. }, true) => "warm".to_string(),
        (mode, false) => format!("runner {}", mode.label()),
    };
    match mode {
        RunnerMode::FreshFallback { .. } => Span::styled(text, Style::new().fg(Color::Yellow)),
        _ => Span::raw(text),
    }
}
