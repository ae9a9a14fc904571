//! The dashboard's modes behind one small interface. A mode (the filter, the help, a dialog, the
//! log viewer, the command line) owns its state and answers its keys, found in the key table
//! under its scope, with a `Reply`; it never touches `App`. `App` applies the reply in one place
//! (`App::answer`), so it stays the one owner of the dashboard's state.
//!
//! A new mode is a state type that implements `ModeKeys`, a variant of `Mode`, an arm of
//! `Mode::keys`, a `Scope` with its bindings in `keymap::MODES`, and a draw arm in `ui`.

use super::app::ServerRow;
use super::command_line::CommandLine;
use super::dialogs::Dialog;
use super::filter::FilterInput;
use super::help::Help;
use super::keymap::{self, ModeAction, Scope};
use super::matrix_view::MatrixView;
use super::timeline_view::TimelineView;
use super::viewer::Viewer;
use crate::engine::model::ItemId;
use crate::engine::{Command, EnqueueRequest, ShutdownMode, StopMode};
use crate::timeline::Timeline;
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// The panes answer the keys (`keymap::NORMAL`).
    Normal,
    /// Typing into the server filter.
    Filter(FilterInput),
    Help(Help),
    Dialog(Dialog),
    Viewer(Viewer),
    /// Typing a `:` command.
    Command(CommandLine),
    Timeline(TimelineView),
    Matrix(Box<MatrixView>),
}

/// What the loop must do after a key or an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Engine(Command),
    /// Read the inventory again, off the loop (`ansible-inventory` takes seconds at scale).
    ReloadInventory,
    /// Read this log into the viewer.
    OpenLog {
        title: String,
        path: PathBuf,
    },
    /// Forward to the tui-logger widget state.
    Log(tui_logger::TuiWidgetEvent),
    /// Leave the dashboard now.
    Exit,
    /// Keep this become (sudo) password for the session's runs (the loop hands it to the
    /// engine's secrets; it is never drawn, logged or journaled).
    BecomePassword(String),
}

/// What a mode may read of the dashboard while it answers a key.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Every server of the inventory, sorted by name (completion).
    pub servers: &'a [ServerRow],
    /// The server filter as it stands.
    pub filter: &'a str,
    /// What ran where and when (the timeline and the matrix).
    pub timeline: &'a Timeline,
    /// The time of the key, as the loop read it.
    pub now: DateTime<Utc>,
    /// The screen's size: the views that cover it page by it.
    pub width: u16,
    pub height: u16,
}

/// A mode's answer to a key. The variants that close the mode say so; the others leave it open.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Handled (or ignored): the mode stays as it is.
    Stay,
    /// Stays open, with this footer line.
    Say(String),
    /// Stays open; these go to the loop.
    Effects(Vec<Effect>),
    /// Stays open; `App` carries this out now (the filter, as it is typed).
    Live(Request),
    /// Closes: back to the panes.
    Close,
    /// Closes with this footer line.
    CloseSaying(String),
    /// Closes with this footer line; these go to the loop.
    Done {
        notice: String,
        effects: Vec<Effect>,
    },
    /// Closes, then `App` carries this out (it may answer in the footer or open another mode).
    Request(Request),
}

/// What only `App` can do: it changes the dashboard's state or needs more of it than a mode sees.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// The server filter is now this text.
    Filter(String),
    /// Set the number of workers.
    Resize(u32),
    /// Queue this, asking first as a key would (`hidden`: its servers the filter hides).
    Enqueue {
        request: EnqueueRequest,
        hidden: Vec<String>,
    },
    /// Stop a running run.
    Stop(ItemId, StopMode),
    /// Shut down and leave.
    Quit(ShutdownMode),
    /// Run a `:` command line.
    Command(String),
}

/// The interface every mode implements.
pub trait ModeKeys {
    /// Where the mode's keys are in the key table (`keymap::MODES`).
    fn scope(&self) -> Scope;
    /// One key. `bound` is the table's action for it in `scope()`; `None` when the table does
    /// not bind it (text, where the mode takes text).
    fn key(&mut self, bound: Option<ModeAction>, key: &KeyEvent, cx: &Context) -> Reply;
}

/// Looks `key` up in the mode's scope of the key table and hands it to the mode.
pub fn press(mode: &mut dyn ModeKeys, key: &KeyEvent, cx: &Context) -> Reply {
    let bound = keymap::lookup(keymap::MODES, mode.scope(), key).map(|b| b.action);
    mode.key(bound, key, cx)
}

impl Mode {
    /// The open mode, as the interface; `None` in normal mode (the panes' keys).
    pub fn keys(&mut self) -> Option<&mut dyn ModeKeys> {
        match self {
            Mode::Normal => None,
            Mode::Filter(filter) => Some(filter),
            Mode::Help(help) => Some(help),
            Mode::Dialog(dialog) => Some(dialog),
            Mode::Viewer(viewer) => Some(viewer),
            Mode::Command(line) => Some(line),
            Mode::Timeline(view) => Some(view),
            Mode::Matrix(view) => Some(view.as_mut()),
        }
    }

    /// A run failed for want of a become password: the password dialog opens for its server,
    /// or, already open, names it too. Another mode is not interrupted: `false`, ask later.
    pub fn ask_become_password(&mut self, server: String) -> bool {
        match self {
            Mode::Dialog(Dialog::BecomePassword { servers, .. }) => servers.push(server),
            Mode::Normal => {
                *self = Mode::Dialog(Dialog::BecomePassword {
                    typed: String::new(),
                    servers: vec![server],
                })
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests;
