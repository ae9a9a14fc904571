//! The bottom line: the last notice, or the key hints of the focused pane from the key table.

use crate::tui::app::App;
use crate::tui::keymap::{self, Action, Scope};
use crate::tui::mode::Mode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let line = match (&app.mode, &app.notice) {
        (Mode::Filter(_), _) => Line::from(vec![
            Span::styled(" filter: ", Style::new().fg(Color::Cyan)),
            Span::raw(format!("{}▏", app.filter)),
            Span::styled(
                format!("  {}", keymap::hint_line(Scope::Filter)),
                Style::new().fg(Color::DarkGray),
            ),
        ]),
        (Mode::Command(line), _) => {
            let mut spans = vec![
                Span::styled(" :", Style::new().fg(Color::Cyan)),
                Span::raw(format!("{}▏", line.text)),
            ];
            let help = if line.candidates.is_empty() {
                format!("  {}", keymap::hint_line(Scope::CommandLine))
            } else {
                format!("  {}", line.candidates.join(" "))
            };
            spans.push(Span::styled(help, Style::new().fg(Color::DarkGray)));
            Line::from(spans)
        }
        (_, Some(notice)) => Line::from(Span::styled(
            format!(" {notice}"),
            Style::new().fg(Color::Yellow),
        )),
        // The views draw their own keys; the footer keeps their notices only.
        (Mode::Timeline(_) | Mode::Matrix(_), None) => Line::default(),
        _ => hints(app.focus.scope()),
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn hints(scope: Scope) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    // Help and quit first, so a narrow terminal still shows the way out; then the pane's own.
    let essential = |b: &&keymap::Binding| matches!(b.action, Action::Help | Action::Quit);
    let shown = keymap::NORMAL
        .iter()
        .filter(essential)
        .chain(keymap::NORMAL.iter().filter(|b| b.scope == scope))
        .chain(
            keymap::NORMAL
                .iter()
                .filter(|b| b.scope == Scope::Global && !essential(b)),
        )
        .filter_map(|b| Some((keymap::label(b.keys.first()?), b.hint?)));
    let mut seen_keys = Vec::new();
    for (key, hint) in shown {
        if seen_keys.contains(&key) {
            continue;
        }
        seen_keys.push(key.clone());
        spans.push(Span::styled(
            key,
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(
            format!(" {hint}  "),
            Style::new().fg(Color::Gray),
        ));
    }
    Line::from(spans)
}
