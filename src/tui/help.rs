//! The `?` overlay as a mode: its scroll keys scroll a help taller than the screen, any other
//! key closes it.

use super::keymap::{ModeAction, Scope};
use super::mode::{Context, ModeKeys, Reply};
use crossterm::event::KeyEvent;

/// Lines a page key scrolls.
const PAGE: u16 = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Help {
    /// First line shown (the draw clamps it to the last line).
    pub scroll: u16,
}

impl ModeKeys for Help {
    fn scope(&self) -> Scope {
        Scope::Help
    }

    fn key(&mut self, bound: Option<ModeAction>, _: &KeyEvent, _: &Context) -> Reply {
        self.scroll = match bound {
            Some(ModeAction::ScrollDown) => self.scroll.saturating_add(1),
            Some(ModeAction::ScrollUp) => self.scroll.saturating_sub(1),
            Some(ModeAction::PageDown) => self.scroll.saturating_add(PAGE),
            Some(ModeAction::PageUp) => self.scroll.saturating_sub(PAGE),
            Some(ModeAction::Bottom) => u16::MAX,
            Some(ModeAction::Top) => 0,
            _ => return Reply::Close,
        };
        Reply::Stay
    }
}
