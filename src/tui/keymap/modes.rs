//! The modes' part of the key table: the keys of the filter, the command line, the help, the
//! log viewer and each dialog. Text typed into a field is text; these are the other keys. A mode
//! looks its keys up here (`keymap::lookup(MODES, mode.scope(), key)`), its hints are drawn from
//! here, and the `?` overlay lists them by `SECTIONS`.

use super::{Binding, Key, Scope, bind, ch, ctrl, key};
use crossterm::event::KeyCode;

/// What a key asks of a mode. One flat list; the mode's scope says which apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeAction {
    /// Leave the mode (a dialog: answer no).
    Close,
    /// Enter: keep, run, set, queue, find.
    Confirm,
    /// Backspace: delete the last character typed.
    Erase,
    /// Empty the line.
    ClearText,
    /// Complete the word under the cursor.
    Complete,
    NextField,
    PrevField,
    /// Change the focused field's choice.
    Toggle,
    /// Stop a run gracefully.
    Interrupt,
    /// Kill a run.
    Kill,
    /// Yes, do what the question says.
    Yes,
    /// Quit once running runs are done.
    QuitWaiting,
    /// Cancel running runs and quit.
    QuitCancelling,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Follow the end of a growing log.
    Follow,
    /// Type a search.
    Search,
    NextMatch,
    PrevMatch,
    /// Timeline: the previous bar; matrix: the previous action.
    Left,
    /// Timeline: the next bar; matrix: the next action.
    Right,
    ZoomIn,
    ZoomOut,
    /// Matrix: the next sort order.
    Sort,
}

use ModeAction as M;
use Scope as S;

const ENTER: &[Key] = &[key(KeyCode::Enter)];
const ESC: &[Key] = &[key(KeyCode::Esc)];
const BACKSPACE: &[Key] = &[key(KeyCode::Backspace)];
const UP: &[Key] = &[key(KeyCode::Up), ch('k')];
const DOWN: &[Key] = &[key(KeyCode::Down), ch('j')];

/// A dialog's binding: its foot shows every one of its keys.
const fn dialog(keys: &'static [Key], scope: Scope, action: M, help: &'static str) -> Binding<M> {
    bind(keys, scope, action, help, Some(help))
}

pub const MODES: &[Binding<M>] = &[
    // The filter: typed letters filter as they are typed.
    bind(
        ENTER,
        S::Filter,
        M::Confirm,
        "keep the filter",
        Some("keep"),
    ),
    bind(ESC, S::Filter, M::Close, "clear the filter", Some("clear")),
    bind(BACKSPACE, S::Filter, M::Erase, "delete a character", None),
    bind(
        &[ctrl('u')],
        S::Filter,
        M::ClearText,
        "empty the line",
        None,
    ),
    // The command line.
    bind(
        &[key(KeyCode::Tab)],
        S::CommandLine,
        M::Complete,
        "complete the word",
        Some("complete"),
    ),
    bind(
        ENTER,
        S::CommandLine,
        M::Confirm,
        "run the command",
        Some("run"),
    ),
    bind(ESC, S::CommandLine, M::Close, "close", Some("close")),
    bind(
        BACKSPACE,
        S::CommandLine,
        M::Erase,
        "delete a character",
        None,
    ),
    // The help: any key not here closes it.
    bind(
        &[key(KeyCode::Up), ch('k')],
        S::Help,
        M::ScrollUp,
        "scroll up",
        None,
    ),
    bind(
        &[key(KeyCode::Down), ch('j')],
        S::Help,
        M::ScrollDown,
        "scroll down",
        None,
    ),
    bind(&[key(KeyCode::PageUp)], S::Help, M::PageUp, "page up", None),
    bind(
        &[key(KeyCode::PageDown)],
        S::Help,
        M::PageDown,
        "page down",
        None,
    ),
    bind(&[key(KeyCode::Home)], S::Help, M::Top, "to the top", None),
    bind(&[key(KeyCode::End)], S::Help, M::Bottom, "to the end", None),
    // The log viewer.
    bind(
        &[key(KeyCode::Up), ch('k')],
        S::Viewer,
        M::ScrollUp,
        "scroll up",
        None,
    ),
    bind(
        &[key(KeyCode::Down), ch('j')],
        S::Viewer,
        M::ScrollDown,
        "scroll down",
        None,
    ),
    bind(
        &[key(KeyCode::PageUp)],
        S::Viewer,
        M::PageUp,
        "page up",
        None,
    ),
    bind(
        &[key(KeyCode::PageDown)],
        S::Viewer,
        M::PageDown,
        "page down",
        None,
    ),
    bind(&[key(KeyCode::Home)], S::Viewer, M::Top, "first line", None),
    bind(
        &[key(KeyCode::End)],
        S::Viewer,
        M::Bottom,
        "last line",
        None,
    ),
    bind(&[ch('F')], S::Viewer, M::Follow, "follow the end", None),
    bind(&[ch('/')], S::Viewer, M::Search, "search", None),
    bind(&[ch('n')], S::Viewer, M::NextMatch, "next match", None),
    bind(&[ch('N')], S::Viewer, M::PrevMatch, "previous match", None),
    bind(
        &[key(KeyCode::Esc), ch('q')],
        S::Viewer,
        M::Close,
        "close",
        None,
    ),
    bind(ENTER, S::ViewerSearch, M::Confirm, "find", None),
    bind(ESC, S::ViewerSearch, M::Close, "cancel the search", None),
    bind(
        BACKSPACE,
        S::ViewerSearch,
        M::Erase,
        "delete a character",
        None,
    ),
    // The dialogs.
    dialog(
        &[key(KeyCode::Tab)],
        S::EnqueueForm,
        M::NextField,
        "next field",
    ),
    dialog(
        &[key(KeyCode::BackTab)],
        S::EnqueueForm,
        M::PrevField,
        "previous field",
    ),
    dialog(
        &[ch(' ')],
        S::EnqueueForm,
        M::Toggle,
        "change action / check mode",
    ),
    dialog(ENTER, S::EnqueueForm, M::Confirm, "queue"),
    dialog(ESC, S::EnqueueForm, M::Close, "cancel"),
    bind(
        BACKSPACE,
        S::EnqueueForm,
        M::Erase,
        "delete a character",
        None,
    ),
    dialog(ENTER, S::WorkersDialog, M::Confirm, "set"),
    dialog(ESC, S::WorkersDialog, M::Close, "cancel"),
    bind(
        BACKSPACE,
        S::WorkersDialog,
        M::Erase,
        "delete a digit",
        None,
    ),
    dialog(
        &[ch('i')],
        S::StopDialog,
        M::Interrupt,
        "interrupt (graceful)",
    ),
    dialog(&[ch('k')], S::StopDialog, M::Kill, "kill"),
    dialog(ESC, S::StopDialog, M::Close, "keep running"),
    dialog(&[ch('y')], S::ConfirmDialog, M::Yes, "yes, do it"),
    dialog(&[ch('n')], S::ConfirmDialog, M::Close, "no"),
    dialog(ESC, S::ConfirmDialog, M::Close, "no"),
    dialog(ENTER, S::PasswordDialog, M::Confirm, "use it and retry"),
    dialog(ESC, S::PasswordDialog, M::Close, "not now"),
    bind(
        BACKSPACE,
        S::PasswordDialog,
        M::Erase,
        "delete a character",
        None,
    ),
    dialog(
        &[ch('w')],
        S::QuitDialog,
        M::QuitWaiting,
        "wait for running runs, then quit",
    ),
    dialog(
        &[ch('c')],
        S::QuitDialog,
        M::QuitCancelling,
        "cancel them and quit",
    ),
    dialog(ESC, S::QuitDialog, M::Close, "stay"),
    // The timeline of worker lanes. Neighbours with the same hint share it in the hint line.
    bind(
        &[key(KeyCode::Left)],
        S::Timeline,
        M::Left,
        "previous bar in the lane",
        Some("bar"),
    ),
    bind(
        &[key(KeyCode::Right)],
        S::Timeline,
        M::Right,
        "next bar in the lane",
        Some("bar"),
    ),
    bind(UP, S::Timeline, M::ScrollUp, "the lane above", Some("lane")),
    bind(
        DOWN,
        S::Timeline,
        M::ScrollDown,
        "the lane below",
        Some("lane"),
    ),
    bind(
        &[ch('+'), ch('=')],
        S::Timeline,
        M::ZoomIn,
        "zoom in",
        Some("zoom"),
    ),
    bind(
        &[ch('-')],
        S::Timeline,
        M::ZoomOut,
        "zoom out",
        Some("zoom"),
    ),
    bind(
        &[key(KeyCode::PageUp)],
        S::Timeline,
        M::PageUp,
        "half a screen earlier",
        Some("scroll"),
    ),
    bind(
        &[key(KeyCode::PageDown)],
        S::Timeline,
        M::PageDown,
        "half a screen later",
        Some("scroll"),
    ),
    bind(
        &[key(KeyCode::Home)],
        S::Timeline,
        M::Top,
        "the first run",
        None,
    ),
    bind(
        &[key(KeyCode::End)],
        S::Timeline,
        M::Bottom,
        "back to now",
        Some("now"),
    ),
    bind(
        ENTER,
        S::Timeline,
        M::Confirm,
        "open the bar's log",
        Some("log"),
    ),
    bind(
        &[key(KeyCode::Esc), ch('q')],
        S::Timeline,
        M::Close,
        "close",
        Some("close"),
    ),
    // The server × action matrix.
    bind(UP, S::Matrix, M::ScrollUp, "up a server", Some("server")),
    bind(
        DOWN,
        S::Matrix,
        M::ScrollDown,
        "down a server",
        Some("server"),
    ),
    bind(
        &[key(KeyCode::PageUp)],
        S::Matrix,
        M::PageUp,
        "up a page",
        None,
    ),
    bind(
        &[key(KeyCode::PageDown)],
        S::Matrix,
        M::PageDown,
        "down a page",
        None,
    ),
    bind(
        &[key(KeyCode::Home)],
        S::Matrix,
        M::Top,
        "first server",
        None,
    ),
    bind(
        &[key(KeyCode::End)],
        S::Matrix,
        M::Bottom,
        "last server",
        None,
    ),
    bind(
        &[key(KeyCode::Left)],
        S::Matrix,
        M::Left,
        "previous action",
        Some("action"),
    ),
    bind(
        &[key(KeyCode::Right)],
        S::Matrix,
        M::Right,
        "next action",
        Some("action"),
    ),
    bind(
        &[ch('s')],
        S::Matrix,
        M::Sort,
        "sort by name, duration, outcome",
        Some("sort"),
    ),
    bind(
        &[ch('/')],
        S::Matrix,
        M::Search,
        "filter (name, group, outcome)",
        Some("filter"),
    ),
    bind(
        ENTER,
        S::Matrix,
        M::Confirm,
        "open the cell's newest log",
        Some("log"),
    ),
    bind(
        &[key(KeyCode::Esc), ch('q')],
        S::Matrix,
        M::Close,
        "clear the filter, else close",
        Some("close"),
    ),
    bind(
        ENTER,
        S::MatrixFilter,
        M::Confirm,
        "keep the filter",
        Some("keep"),
    ),
    bind(
        ESC,
        S::MatrixFilter,
        M::Close,
        "clear the filter",
        Some("clear"),
    ),
    bind(
        BACKSPACE,
        S::MatrixFilter,
        M::Erase,
        "delete a character",
        None,
    ),
    bind(
        &[ctrl('u')],
        S::MatrixFilter,
        M::ClearText,
        "empty the line",
        None,
    ),
];

/// The modes' sections of the `?` overlay, in its order, after the panes'.
pub const SECTIONS: &[(Scope, &str)] = &[
    (S::Filter, "Filter (/)"),
    (S::CommandLine, "Command line (:, Tab completes)"),
    (S::Help, "Help (?): any other key closes it"),
    (S::EnqueueForm, "Queue with options (t)"),
    (S::WorkersDialog, "Workers (w)"),
    (S::StopDialog, "Stop a run (x on a worker)"),
    (S::ConfirmDialog, "Confirm (multi-server or hidden)"),
    (S::PasswordDialog, "Become password (after a sudo refusal)"),
    (S::Timeline, "Timeline (T)"),
    (S::Matrix, "Matrix (M)"),
    (
        S::MatrixFilter,
        "Typing the matrix's filter (/ in the matrix)",
    ),
    (S::ViewerSearch, "Searching a log (/ in the log viewer)"),
    (S::QuitDialog, "Quit (q)"),
    (S::Viewer, "Log viewer (Enter)"),
];
