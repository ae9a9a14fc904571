//! Typing the server filter (`/`): the list narrows as each letter is typed. The text itself is
//! the dashboard's (it stays after the filter closes); this mode only says what it becomes.

use super::keymap::{ModeAction, Scope};
use super::mode::{Context, ModeKeys, Reply, Request};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterInput;

impl ModeKeys for FilterInput {
    fn scope(&self) -> Scope {
        Scope::Filter
    }

    fn key(&mut self, bound: Option<ModeAction>, key: &KeyEvent, cx: &Context) -> Reply {
        let mut text = cx.filter.to_string();
        match bound {
            // Every key sets the filter again: the cursor goes back to the first server and an
            // empty list says so.
            Some(ModeAction::Confirm) => return Reply::Request(Request::Filter(text)),
            Some(ModeAction::Close) => return Reply::Request(Request::Filter(String::new())),
            Some(ModeAction::Erase) => {
                text.pop();
            }
            Some(ModeAction::ClearText) => text.clear(),
            Some(_) => {}
            None => match key.code {
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
                _ => {}
            },
        }
        Reply::Live(Request::Filter(text))
    }
}
