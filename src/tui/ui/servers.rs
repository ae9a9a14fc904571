//! The servers: selection mark, name, groups, and the last outcome of each action with its age.

use super::style;
use crate::engine::model::Action as Job;
use crate::engine::rollout::{Member, MemberState};
use crate::status::age;
use crate::tui::app::{App, Pane};
use crate::tui::rollouts::rollout_of;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, TableState, Wrap};
use std::collections::HashMap;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, now: DateTime<Utc>) {
    let area = if app.details {
        // One more line for the cursor server's part in a rollout.
        let in_rollout = app
            .cursor_server()
            .is_some_and(|server| rollout_of(app, &server).is_some());
        let height = if in_rollout { 9 } else { 8 };
        let [list, details] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(height)]).areas(area);
        draw_details(frame, details, app, now);
        list
    } else {
        area
    };
    let focused = app.focus == Pane::Servers;
    let visible = app.visible_servers();
    let mut title = format!(" Servers {}/{} ", visible.len(), app.servers.len());
    if !app.selected.is_empty() {
        title.push_str(&format!("· {} selected ", app.selected.len()));
    }
    if !app.filter.is_empty() {
        title.push_str(&format!("· filter \"{}\" ", app.filter));
    }
    // Only the rows that fit are built: the list may hold thousands of servers.
    let height = area.height.saturating_sub(3) as usize;
    let cursor = app.cursor(Pane::Servers);
    let first = cursor.saturating_sub(height.saturating_sub(1));
    let activity = Activity::of(app);
    let narrow = area.width < NARROW;
    let cramped = area.width < CRAMPED;
    let rows = visible.iter().skip(first).take(height.max(1)).map(|row| {
        let mark = if app.selected.contains(&row.name) {
            "●"
        } else {
            " "
        };
        let mut cells = vec![
            Cell::from(mark).style(Style::new().fg(Color::Cyan)),
            Cell::from(row.name.clone()),
            Cell::from(row.groups.join(",")).style(Style::new().fg(style::DIM)),
        ];
        for job in Job::ALL {
            cells.push(action_cell(app, &activity, &row.name, job, now, cramped));
        }
        Row::new(cells)
    });
    // Narrow screens drop the groups column before cutting the outcome columns.
    let groups_width = if !narrow {
        Constraint::Min(4)
    } else {
        Constraint::Length(0)
    };
    let widths = [
        Constraint::Length(1),
        Constraint::Min(8),
        groups_width,
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
    ];
    let headings = Row::new(["", "SERVER", "GROUPS", "PROV", "DEPLOY", "CHECK"]);
    let table = style::pane_table(rows, widths, headings, title, focused);
    let mut state = TableState::default().with_selected(Some(cursor - first));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Below this width the groups column goes.
const NARROW: u16 = 56;
/// Below this width the outcome columns are cut to a few characters: a rollout member's mark
/// takes its outcome's age's place.
const CRAMPED: u16 = 42;

/// What runs and waits, per server, gathered once per frame.
struct Activity<'a> {
    running: HashMap<&'a str, Job>,
    queue: &'a crate::engine::queue::QueueView,
    /// Each server's part in the rollout under way that it is in (the newest, should there be
    /// two: they come oldest first, so the newest is written last).
    members: HashMap<&'a str, &'a Member>,
}

impl<'a> Activity<'a> {
    fn of(app: &'a App) -> Activity<'a> {
        let running = app
            .snapshot
            .workers
            .iter()
            .filter_map(|w| w.run.as_ref())
            .map(|run| (run.item.server.as_str(), run.item.action))
            .collect();
        let members = app
            .snapshot
            .rollouts
            .iter()
            .filter(|r| r.phase.is_live())
            .flat_map(|r| r.members.iter())
            .map(|m| (m.server.as_str(), m))
            .collect();
        Activity {
            running,
            queue: &app.snapshot.queue,
            members,
        }
    }

    /// Whether `job` is queued on `server`, and if so whether every such item is held from an
    /// earlier session. Asked only for the rows on screen: the queue may hold 100,000 items.
    fn queued(&self, server: &str, job: Job) -> Option<bool> {
        self.queue
            .of_server(server)
            .filter(|item| item.action == job)
            .fold(None, |held, item| Some(held.unwrap_or(true) && item.held))
    }
}

/// What is happening for one server and action: a run in flight, else the latest outcome
/// (with its age, and `c` for a dry run), followed by a mark when more is queued (`·`) or
/// held from an earlier session (`‖`): a queued item never hides what last happened.
/// A deploy in a rollout under way says its part instead of the queued mark (see `member_mark`).
fn action_cell(
    app: &App,
    activity: &Activity,
    server: &str,
    job: Job,
    now: DateTime<Utc>,
    cramped: bool,
) -> Cell<'static> {
    let member = (job == Job::Deploy)
        .then(|| activity.members.get(server).copied())
        .flatten();
    let running = activity.running.get(server) == Some(&job);
    // A canary going first is the one thing to watch: its word replaces the outcome while it
    // deploys.
    if member.is_some_and(|m| m.canary && m.state == MemberState::Deploying) {
        let glyph = if running { style::RUNNING.0 } else { "▷" };
        return Cell::from(Span::styled(
            format!("{glyph} canary"),
            Style::new().fg(Color::Yellow),
        ));
    }
    if running {
        return Cell::from(Span::styled(
            style::RUNNING.0,
            Style::new().fg(style::RUNNING.1),
        ));
    }
    let mut spans = match app.status.get(server).and_then(|runs| runs.get(&job)) {
        Some(last) => {
            let (symbol, color) = style::outcome(&last.outcome, last.healthy);
            let mut spans = vec![Span::styled(symbol, color)];
            if last.check_mode {
                spans.push(Span::styled(style::CHECK_MODE.0, style::CHECK_MODE.1));
            }
            // In a cramped column a rollout member's part matters more than how old its last
            // outcome is: the age gives way so the mark is not cut off.
            let marked = member.is_some_and(|m| member_mark(m, false).is_some());
            if !(cramped && marked) {
                spans.push(Span::styled(
                    format!(" {}", age(last.at, now)),
                    Style::new().fg(style::DIM),
                ));
            }
            spans
        }
        None => Vec::new(),
    };
    let queued = activity.queued(server, job);
    if let Some(member) = member
        && let Some((mark, color)) = member_mark(member, queued == Some(true))
    {
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(mark, Style::new().fg(color)));
        return Cell::from(Line::from(spans));
    }
    match queued {
        Some(held) => {
            let (mark, color) = if held { style::HELD } else { style::QUEUED };
            if !spans.is_empty() {
                spans.push(Span::raw(" "));
            }
            spans.push(Span::styled(mark, Style::new().fg(color)));
        }
        None if spans.is_empty() => {
            spans.push(Span::styled("-", Style::new().fg(style::DIM)));
        }
        None => {}
    }
    Cell::from(Line::from(spans))
}

/// A rollout member's part, after its last outcome: `◌` waits its turn (`‖` held from an
/// earlier session), `▷` is let in and waits for a worker, `?` is deployed and waits for its
/// health check, `♥` passed it. A failed or dropped member shows its outcome and no mark.
fn member_mark(member: &Member, held: bool) -> Option<(&'static str, Color)> {
    match member.state {
        MemberState::Waiting if held => Some(style::HELD),
        MemberState::Waiting => Some(("◌", Color::Blue)),
        MemberState::Deploying => Some(("▷", Color::Cyan)),
        MemberState::AwaitingHealth => Some(("?", Color::Cyan)),
        MemberState::Healthy => Some(("♥", Color::Green)),
        MemberState::Failed { .. } | MemberState::Dropped { .. } => None,
    }
}

fn draw_details(frame: &mut Frame, area: Rect, app: &App, now: DateTime<Utc>) {
    let Some(server) = app.cursor_server() else {
        return;
    };
    let groups = app
        .servers
        .iter()
        .find(|r| r.name == server)
        .map(|r| r.groups.join(", "))
        .unwrap_or_default();
    let mut lines = vec![Line::from(format!(
        "groups: {}",
        if groups.is_empty() {
            "-".into()
        } else {
            groups
        }
    ))];
    for job in Job::ALL {
        let text = match app.status.get(&server).and_then(|runs| runs.get(&job)) {
            Some(last) => {
                let dry = if last.check_mode { " (check mode)" } else { "" };
                let health = match last.healthy {
                    Some(true) => ", healthy",
                    Some(false) => ", unhealthy",
                    None => "",
                };
                format!(
                    "{job:<9} {}{dry}{health} ({} ago)",
                    last.outcome,
                    age(last.at, now)
                )
            }
            None => format!("{job:<9} never run"),
        };
        lines.push(Line::from(text));
    }
    let waiting: Vec<String> = app
        .snapshot
        .queue
        .of_server(&server)
        .map(|item| {
            let held = if item.held { " (held)" } else { "" };
            format!("{} #{}{held}", item.action, item.id)
        })
        .collect();
    if !waiting.is_empty() {
        lines.push(Line::from(format!("queued: {}", waiting.join(", "))));
    }
    if let Some((rollout, member)) = rollout_of(app, &server) {
        let canary = if member.canary { " (canary)" } else { "" };
        let detail = match &member.state {
            MemberState::Failed { reason } | MemberState::Dropped { reason } => {
                format!(": {reason}")
            }
            _ => String::new(),
        };
        lines.push(Line::from(format!(
            "rollout {} ({}): {}{canary}{detail}",
            rollout.name(),
            rollout.step_text(),
            member.state.label()
        )));
    }
    if let Some(run) = app.running_on(&server) {
        lines.push(Line::from(Span::styled(
            format!("running: {}", run.item.describe()),
            Style::new().fg(Color::Cyan),
        )));
    }
    let block = Block::bordered()
        .title(format!(" {server} "))
        .border_style(Style::new().fg(Color::DarkGray));
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}
