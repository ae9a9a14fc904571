//! With several environments and no `-e`, the dashboard starts by asking which one.

use anyhow::{Context, Result};
use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::DefaultTerminal;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, List, ListState, Paragraph};

/// The chosen environment, or `None` when the operator left.
pub fn pick(envs: &[String]) -> Result<Option<String>> {
    let mut terminal = ratatui::init();
    // Restored on every way out, an error included: it prints on a normal screen then.
    let chosen = choose(&mut terminal, envs);
    ratatui::restore();
    chosen
}

fn choose(terminal: &mut DefaultTerminal, envs: &[String]) -> Result<Option<String>> {
    let mut state = ListState::default().with_selected(Some(0));
    let chosen = loop {
        terminal
            .draw(|frame| {
                let [list, hint] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)])
                    .areas(frame.area());
                let widget = List::new(envs.iter().map(String::as_str))
                    .block(Block::bordered().title(" fleetdeck · choose an environment "))
                    .highlight_style(
                        Style::new()
                            .bg(Color::DarkGray)
                            .add_modifier(Modifier::BOLD),
                    )
                    .highlight_symbol("▸ ");
                frame.render_stateful_widget(widget, list, &mut state);
                frame.render_widget(Paragraph::new(" ↑↓ move · Enter open · q quit"), hint);
            })
            .context("drawing the environment picker")?;
        let Event::Key(key) = crossterm::event::read().context("reading the terminal")? else {
            continue;
        };
        if key.kind == KeyEventKind::Release {
            continue;
        }
        // Raw mode: Ctrl-C is a key, and it leaves like q.
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c' | 'C'))
        {
            break None;
        }
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => state.select_previous(),
            KeyCode::Down | KeyCode::Char('j') => state.select_next(),
            KeyCode::Enter => {
                break state
                    .selected()
                    .and_then(|i| envs.get(i).or(envs.last()).cloned());
            }
            KeyCode::Esc | KeyCode::Char('q') => break None,
            _ => {}
        }
    };
    Ok(chosen)
}
