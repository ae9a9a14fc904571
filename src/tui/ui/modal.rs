//! Dialogs drawn over the screen; each shows its own key table at its foot.

use super::centered;
use crate::engine::Target;
use crate::tui::dialogs::{Dialog, EnqueueForm, Field};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

const POPUP_WIDTH: u16 = 72;

pub fn draw(frame: &mut Frame, area: Rect, dialog: &Dialog) {
    let (title, body): (&str, Vec<Line>) = match dialog {
        Dialog::Enqueue(form) => (" Queue with options ", form_lines(form)),
        Dialog::Workers(text) => (
            " Workers ",
            vec![Line::from(format!(
                "number of workers (0 = sequential): {text}▏"
            ))],
        ),
        Dialog::StopRun { label, slot, .. } => (
            " Stop a run ",
            vec![Line::from(format!("worker {slot}: {label}"))],
        ),
        Dialog::Quit => (
            " Quit ",
            vec![Line::from(
                "Runs are still in flight. Queued items stay in the journal and come back held.",
            )],
        ),
        Dialog::BecomePassword { typed, servers } => (
            " Become (sudo) password ",
            vec![
                Line::from(format!(
                    "{} need a become (sudo) password. It is kept in memory for this session",
                    crate::tui::intents::names(servers)
                )),
                Line::from("and handed to each run through a pipe; their runs are retried."),
                Line::from(format!("password: {}▏", "•".repeat(typed.chars().count()))),
            ],
        ),
        Dialog::Confirm(confirm) => {
            let mut lines = vec![Line::from(Span::styled(
                confirm.question.clone(),
                Style::new().add_modifier(Modifier::BOLD),
            ))];
            if !confirm.items.is_empty() {
                lines.push(Line::from(list_line(
                    confirm.label,
                    &confirm.items,
                    POPUP_WIDTH as usize - 2,
                )));
            }
            (" Confirm ", lines)
        }
    };
    // Wrapped lines take more rows than there are lines.
    let text_width = usize::from(POPUP_WIDTH - 2);
    let rows: usize = body
        .iter()
        .map(|line| line.width().max(1).div_ceil(text_width))
        .sum();
    let height = rows as u16 + 5;
    let popup = centered(area, POPUP_WIDTH, height);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(title)
        .border_style(Style::new().fg(Color::Cyan));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let [text, keys] = Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(inner);
    frame.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), text);
    let hint = Paragraph::new(Span::styled(
        dialog.hint(),
        Style::new().fg(Color::DarkGray),
    ))
    .wrap(Wrap { trim: true });
    frame.render_widget(hint, keys);
}

fn form_lines(form: &EnqueueForm) -> Vec<Line<'static>> {
    let field = |name: &str, value: String, this: Field| {
        let focused = form.field == this;
        let style = if focused {
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        Line::from(vec![
            Span::styled(
                format!("{} {name:<11}", if focused { "▸" } else { " " }),
                style,
            ),
            Span::raw(value),
            Span::raw(
                if focused && matches!(this, Field::Tags | Field::Priority) {
                    "▏"
                } else {
                    ""
                },
            ),
        ])
    };
    let action = match form.target {
        Target::Action(job) => job.to_string(),
        Target::Chain => "chain (provision → deploy → check)".into(),
    };
    vec![
        Line::from(list_line(
            "servers",
            &form.servers,
            POPUP_WIDTH as usize - 2,
        )),
        field("action", action, Field::Action),
        field(
            "tags",
            if form.tags.is_empty() {
                String::new()
            } else {
                form.tags.clone()
            },
            Field::Tags,
        ),
        field(
            "check mode",
            if form.check_mode {
                "yes (--check --diff)".into()
            } else {
                "no".into()
            },
            Field::CheckMode,
        ),
        field("priority", form.priority.clone(), Field::Priority),
    ]
}

/// A list on one line: a long selection (`a` on a big fleet) would wrap and push the fields out
/// of the dialog, so it is cut to "servers (30): web-01, web-02, … +28 more".
fn list_line(label: &str, servers: &[String], width: usize) -> String {
    // Joined only when short: the list may name 100,000 held items.
    let mut length = label.chars().count() + 2;
    let fits = servers.iter().all(|server| {
        length += server.chars().count() + 2;
        length <= width + 2
    });
    if fits {
        return format!("{label}: {}", servers.join(", "));
    }
    let mut line = format!("{label} ({}):", servers.len());
    for (shown, server) in servers.iter().enumerate() {
        let rest = format!(" … +{} more", servers.len() - shown - 1);
        if line.chars().count() + server.chars().count() + 2 + rest.chars().count() > width {
            return format!("{line} … +{} more", servers.len() - shown);
        }
        line.push(' ');
        line.push_str(server);
        line.push(',');
    }
    line.trim_end_matches(',').to_string()
}
