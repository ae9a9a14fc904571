//! The one key table: it drives key handling, the footer hints and the `?` help overlay, so the
//! three can never disagree.

use crossterm::event::{KeyCode, KeyModifiers};

mod modes;
mod reading;
pub use modes::{MODES, ModeAction, SECTIONS};
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

use Action as A;
use Scope as S;

/// Pane-scoped bindings come before global ones with the same key, so `x` cancels a queued
/// item in the queue and stops a run in the workers pane.
pub const NORMAL: &[Binding] = &[
    bind(
        &[ch('x'), key(KeyCode::Delete)],
        S::Queue,
        A::Cancel,
        "cancel the queued item",
        Some("cancel"),
    ),
    bind(
        &[ch('K')],
        S::Queue,
        A::RaisePriority,
        "raise its priority",
        Some("prio+"),
    ),
    bind(
        &[ch('J')],
        S::Queue,
        A::LowerPriority,
        "lower its priority",
        Some("prio-"),
    ),
    bind(
        &[ch('x'), key(KeyCode::Delete)],
        S::Workers,
        A::Cancel,
        "stop the run: interrupt / kill / keep",
        Some("stop"),
    ),
    bind(
        &[key(KeyCode::Left)],
        S::Log,
        A::LogLess,
        "show fewer levels for the target",
        None,
    ),
    bind(
        &[key(KeyCode::Right)],
        S::Log,
        A::LogMore,
        "show more levels for the target",
        None,
    ),
    bind(
        &[ch('h')],
        S::Log,
        A::LogTargets,
        "show / hide the target list",
        Some("targets"),
    ),
    bind(
        &[ch('f')],
        S::Log,
        A::LogFocus,
        "only the selected target (a worker)",
        Some("focus"),
    ),
    bind(
        &[key(KeyCode::Up), ch('k')],
        S::Global,
        A::Up,
        "move up (log pane: previous target)",
        None,
    ),
    bind(
        &[key(KeyCode::Down), ch('j')],
        S::Global,
        A::Down,
        "move down (log pane: next target)",
        None,
    ),
    bind(
        &[key(KeyCode::PageUp)],
        S::Global,
        A::PageUp,
        "page up (log: page mode)",
        None,
    ),
    bind(
        &[key(KeyCode::PageDown)],
        S::Global,
        A::PageDown,
        "page down",
        None,
    ),
    bind(&[key(KeyCode::Home)], S::Global, A::Top, "first row", None),
    bind(&[key(KeyCode::End)], S::Global, A::Bottom, "last row", None),
    bind(
        &[key(KeyCode::Tab)],
        S::Global,
        A::NextPane,
        "next pane",
        Some("pane"),
    ),
    bind(
        &[key(KeyCode::BackTab)],
        S::Global,
        A::PrevPane,
        "previous pane",
        None,
    ),
    bind(
        &[ch('/')],
        S::Global,
        A::Filter,
        "filter servers by name, group or status",
        Some("filter"),
    ),
    bind(
        &[key(KeyCode::Esc)],
        S::Global,
        A::Back,
        "back: clear filter, then selection",
        None,
    ),
    bind(
        &[ch(' ')],
        S::Global,
        A::ToggleSelect,
        "select / unselect the cursor server",
        Some("select"),
    ),
    bind(
        &[ch('a')],
        S::Global,
        A::SelectAll,
        "select all visible servers, or none",
        Some("all"),
    ),
    bind(
        &[ch('g')],
        S::Global,
        A::SelectGroup,
        "select the cursor server's group",
        None,
    ),
    bind(
        &[ch('p')],
        S::Global,
        A::Provision,
        "provision the selection (or the cursor server)",
        Some("provision"),
    ),
    bind(
        &[ch('d')],
        S::Global,
        A::Deploy,
        "deploy the selection",
        Some("deploy"),
    ),
    bind(
        &[ch('c')],
        S::Global,
        A::Check,
        "check the selection",
        Some("check"),
    ),
    bind(
        &[ch('f')],
        S::Global,
        A::Chain,
        "chain provision → deploy → check",
        Some("chain"),
    ),
    bind(
        &[ch('t')],
        S::Global,
        A::EnqueueWithOptions,
        "queue with tags, check mode, priority",
        None,
    ),
    bind(
        &[ch('+'), ch('=')],
        S::Global,
        A::WorkersUp,
        "one more worker",
        Some("workers"),
    ),
    bind(
        &[ch('-')],
        S::Global,
        A::WorkersDown,
        "one worker less (running runs finish)",
        None,
    ),
    bind(
        &[ch('w')],
        S::Global,
        A::SetWorkers,
        "set the number of workers (0 = sequential)",
        None,
    ),
    bind(
        &[ch('P')],
        S::Global,
        A::TogglePause,
        "pause / resume (resume also runs held items)",
        Some("pause"),
    ),
    bind(
        &[ch('r')],
        S::Global,
        A::Retry,
        "retry failed / interrupted runs (selection, or all)",
        Some("retry"),
    ),
    bind(
        &[ch('X')],
        S::Global,
        A::DiscardHeld,
        "discard items held from an earlier session (asks)",
        None,
    ),
    bind(
        &[ch('C')],
        S::Global,
        A::ContinueRollout,
        "continue a stopped rollout (asks)",
        None,
    ),
    bind(
        &[ch('A')],
        S::Global,
        A::AbortRollout,
        "abort a rollout: cancel its queued deploys (asks)",
        None,
    ),
    bind(
        &[ch('R')],
        S::Global,
        A::ReloadInventory,
        "read the inventory again (ansible-inventory --list)",
        None,
    ),
    bind(
        &[ch(':')],
        S::Global,
        A::CommandLine,
        "command line: deploy web, workers 5, … (see below)",
        Some("command"),
    ),
    bind(
        &[key(KeyCode::Enter)],
        S::Global,
        A::Open,
        "open the run log",
        Some("log"),
    ),
    bind(
        &[ch('i')],
        S::Global,
        A::Details,
        "details of the cursor server",
        None,
    ),
    bind(
        &[ch('T')],
        S::Global,
        A::Timeline,
        "timeline: what ran on each worker, when",
        Some("timeline"),
    ),
    bind(
        &[ch('M')],
        S::Global,
        A::Matrix,
        "matrix: each server's latest runs per action",
        Some("matrix"),
    ),
    bind(&[ch('?')], S::Global, A::Help, "this help", Some("help")),
    bind(
        &[ch('q'), ctrl('c')],
        S::Global,
        A::Quit,
        "quit (asks while runs are in flight)",
        Some("quit"),
    ),
];

#[cfg(test)]
mod tests;
