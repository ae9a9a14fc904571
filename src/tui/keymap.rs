//! The one key table: it drives key handling, the footer hints and the `?` help overlay, so the
//! three can never disagree.

use crossterm::event::{KeyCode, KeyModifiers};

mod modes;
mod normal;
mod reading;
pub use modes::{MODES, ModeAction, SECTIONS};
pub use normal::NORMAL;
pub use reading::{hint_line, label, labels, lookup, normalise};

/// Everything a key can ask for. One flat list; the focused pane decides the scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Move the cursor up one row.
    Up,
    /// Move the cursor down one row.
    Down,
    /// Move the cursor up a page.
    PageUp,
    /// Move the cursor down a page.
    PageDown,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Type a filter (name, group or status).
    Filter,
    /// Close, clear the filter or the selection.
    Back,
    /// Select or unselect the cursor server.
    ToggleSelect,
    /// Select every visible server, or none.
    SelectAll,
    /// Select the cursor server's whole group.
    SelectGroup,
    /// Queue provision.
    Provision,
    /// Queue deploy.
    Deploy,
    /// Queue check.
    Check,
    /// Queue the chain provision → deploy → check.
    Chain,
    /// Queue with tags, check mode and priority.
    EnqueueWithOptions,
    /// One more worker.
    WorkersUp,
    /// One worker less.
    WorkersDown,
    /// Type the number of workers.
    SetWorkers,
    /// Cancel the queued item, or stop the worker's run.
    Cancel,
    /// Raise the queued item's priority.
    RaisePriority,
    /// Lower the queued item's priority.
    LowerPriority,
    /// Pause or resume dispatching.
    TogglePause,
    /// Requeue failed runs (the selection's, or all the journal records).
    Retry,
    /// Drop the items held from an earlier session.
    DiscardHeld,
    /// Let a stopped rollout go on (asks first).
    ContinueRollout,
    /// Cancel what a live rollout has not started (asks first).
    AbortRollout,
    /// Read the inventory again.
    ReloadInventory,
    /// Open the `:` command line.
    CommandLine,
    /// Open the run log.
    Open,
    /// Show the cursor server's details.
    Details,
    /// This help.
    Help,
    /// The timeline of worker lanes.
    Timeline,
    /// The server × action matrix.
    Matrix,
    /// Quit (asks first while runs are in flight).
    Quit,
    /// Log pane: show more levels.
    LogMore,
    /// Log pane: show fewer levels.
    LogLess,
    /// Log pane: show or hide the target list.
    LogTargets,
    /// Log pane: only the selected target.
    LogFocus,
}

/// Where a binding applies: everywhere, only in one focused pane (the `NORMAL` table), or in one
/// mode drawn over the panes (the `MODES` table: a mode sees its own keys and no others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    Servers,
    Queue,
    Workers,
    Log,
    /// Typing the server filter (`/`).
    Filter,
    /// Typing a `:` command.
    CommandLine,
    /// The `?` overlay.
    Help,
    /// The log viewer.
    Viewer,
    /// Typing a search in the log viewer.
    ViewerSearch,
    /// The dialogs, one scope each: the same key means different things in them.
    EnqueueForm,
    WorkersDialog,
    StopDialog,
    QuitDialog,
    ConfirmDialog,
    PasswordDialog,
    /// The timeline of worker lanes (`T`).
    Timeline,
    /// The server × action matrix (`M`).
    Matrix,
    /// Typing the matrix's filter.
    MatrixFilter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn key(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}
const fn ch(c: char) -> Key {
    key(KeyCode::Char(c))
}
const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

/// A key (or keys) bound to an action in a scope. `A` is `Action` for the panes, `ModeAction`
/// for the modes.
pub struct Binding<A: 'static = Action> {
    pub keys: &'static [Key],
    pub scope: Scope,
    pub action: A,
    pub help: &'static str,
    /// Shown in the footer when its scope is active.
    pub hint: Option<&'static str>,
}

const fn bind<A: Copy>(
    keys: &'static [Key],
    scope: Scope,
    action: A,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding<A> {
    Binding {
        keys,
        scope,
        action,
        help,
        hint,
    }
}

#[cfg(test)]
mod tests;
