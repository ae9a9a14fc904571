//! The server × action matrix over the screen: its state and keys. Everything the draw needs
//! (the rows' order for the sort, the filter's matches) is worked out here, on a refresh or a
//! key, never while drawing: the fleet may hold 10,000 servers.

use super::keymap::{ModeAction, Scope};
use super::mode::{Context, Effect, ModeKeys, Reply};
use crate::engine::model::Action;
use crate::timeline::Timeline;
use crate::timeline::matrix::{ACTIONS, Matrix};
use crate::tui::app::ServerRow;
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::PathBuf;

mod order;
pub use order::{Sort, is_cut, rank};

/// The most attempts a cell keeps per action; the draw shows as many as its width allows.
pub const MAX_RUNS: usize = 5;

/// Rows moved by PageUp/PageDown until the dashboard says how many fit (`set_page`).
const DEFAULT_PAGE: usize = 20;

/// What the matrix understands; the dashboard's key table maps terminal keys to these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixKey {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// The previous action column.
    Left,
    /// The next action column.
    Right,
    /// Name → duration → outcome → name.
    Sort,
    /// Start typing a filter (`/`).
    FilterStart,
    /// A character of the filter being typed.
    Filter(char),
    FilterBackspace,
    /// Ctrl-U while typing: empty the filter.
    FilterClear,
    /// Enter while typing: keep the filter, back to moving.
    FilterDone,
    /// Enter: the cursor cell's newest log.
    Open,
    /// Esc: clears the filter being typed (or the one set), else closes the matrix.
    Close,
}

/// What a key asks of the dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatrixOutcome {
    /// Handled inside the matrix; redraw.
    Stay,
    Close,
    /// Open this log in the viewer.
    OpenLog {
        title: String,
        path: PathBuf,
    },
    /// Say this in the footer.
    Notice(String),
}

/// A listed server's words for the filter, lowercased once per inventory.
#[derive(Clone, Debug, Default, PartialEq)]
struct Searchable {
    name: String,
    groups: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MatrixView {
    pub matrix: Matrix,
    pub sort: Sort,
    /// The filter, matched like the servers pane's: name, group, or a state word.
    pub filter: String,
    /// The filter is being typed: characters go to it.
    pub typing: bool,
    /// Row indexes of `matrix.rows` that pass the filter, in the sort's order.
    pub visible: Vec<usize>,
    /// Position in `visible`.
    pub cursor: usize,
    /// The first visible row drawn (kept so the list scrolls, not jumps).
    pub top: usize,
    /// The action column (index into `ACTIONS`).
    pub column: usize,
    page: usize,
    /// The inventory the rows were built for, to notice when it changes.
    listed: Vec<String>,
    searchable: Vec<Searchable>,
    now: DateTime<Utc>,
}

impl MatrixView {
    pub fn new() -> MatrixView {
        MatrixView {
            page: DEFAULT_PAGE,
            ..MatrixView::default()
        }
    }

    /// Brings the matrix up to date with `timeline` (call after folding events, at most once
    /// per snapshot). A growing timeline costs only its new entries plus one sort of the rows;
    /// a changed inventory or a replaced timeline builds the matrix again.
    pub fn refresh(&mut self, timeline: &Timeline, servers: &[ServerRow], now: DateTime<Utc>) {
        self.now = now;
        let same_inventory = self.listed.len() == servers.len()
            && self.listed.iter().zip(servers).all(|(a, b)| *a == b.name);
        if !same_inventory {
            self.listed = servers.iter().map(|row| row.name.clone()).collect();
            self.searchable = servers
                .iter()
                .map(|row| Searchable {
                    name: row.name.to_lowercase(),
                    groups: row.groups.iter().map(|g| g.to_lowercase()).collect(),
                })
                .collect();
        }
        if !same_inventory || !self.matrix.extend(timeline) {
            self.matrix = Matrix::build(timeline, &self.listed, MAX_RUNS);
        }
        self.arrange(timeline);
    }

    /// How many servers the matrix has, and how many pass the filter.
    pub fn counts(&self) -> (usize, usize) {
        (self.visible.len(), self.matrix.rows.len())
    }

    /// The action of the cursor's column.
    pub fn action(&self) -> Action {
        ACTIONS[self.column]
    }

    /// The row (of `matrix.rows`) under the cursor.
    pub fn cursor_row(&self) -> Option<usize> {
        self.visible.get(self.cursor).copied()
    }

    /// Rows that fit on screen, for PageUp/PageDown and scrolling.
    pub fn set_page(&mut self, rows: usize) {
        self.page = rows.max(1);
        self.keep_cursor_on_screen();
    }

    /// A default-made view has no page yet: one row.
    fn page(&self) -> usize {
        self.page.max(1)
    }

    pub fn handle(&mut self, key: MatrixKey, timeline: &Timeline) -> MatrixOutcome {
        if self.typing {
            match key {
                MatrixKey::Filter(c) => self.filter.push(c),
                MatrixKey::FilterBackspace => {
                    self.filter.pop();
                }
                MatrixKey::FilterClear => self.filter.clear(),
                MatrixKey::FilterDone => self.typing = false,
                MatrixKey::Close => {
                    self.typing = false;
                    self.filter.clear();
                }
                _ => return MatrixOutcome::Stay,
            }
            self.arrange(timeline);
            return MatrixOutcome::Stay;
        }
        let last = self.visible.len().saturating_sub(1);
        match key {
            MatrixKey::Up => self.cursor = self.cursor.saturating_sub(1),
            MatrixKey::Down => self.cursor = (self.cursor + 1).min(last),
            MatrixKey::PageUp => self.cursor = self.cursor.saturating_sub(self.page()),
            MatrixKey::PageDown => self.cursor = (self.cursor + self.page()).min(last),
            MatrixKey::Home => self.cursor = 0,
            MatrixKey::End => self.cursor = last,
            MatrixKey::Left | MatrixKey::Right => {
                self.column = if key == MatrixKey::Left {
                    (self.column + ACTIONS.len() - 1) % ACTIONS.len()
                } else {
                    (self.column + 1) % ACTIONS.len()
                };
                // Duration and outcome sort by the cursor's action.
                if self.sort != Sort::Name {
                    self.arrange(timeline);
                }
            }
            MatrixKey::Sort => {
                self.sort = self.sort.next();
                self.arrange(timeline);
            }
            MatrixKey::FilterStart => self.typing = true,
            MatrixKey::Filter(_)
            | MatrixKey::FilterBackspace
            | MatrixKey::FilterClear
            | MatrixKey::FilterDone => {}
            MatrixKey::Open => return self.open(timeline),
            MatrixKey::Close if !self.filter.is_empty() => {
                self.filter.clear();
                self.arrange(timeline);
            }
            MatrixKey::Close => return MatrixOutcome::Close,
        }
        self.keep_cursor_on_screen();
        MatrixOutcome::Stay
    }

    fn open(&self, timeline: &Timeline) -> MatrixOutcome {
        let Some(row) = self.cursor_row().map(|r| &self.matrix.rows[r]) else {
            return MatrixOutcome::Notice("no server here: the filter matches none".into());
        };
        let action = self.action();
        let newest = row.cells[self.column]
            .first()
            .map(|index| &timeline.entries()[*index]);
        match newest {
            None => MatrixOutcome::Notice(format!("{action} never ran on {}", row.server)),
            Some(entry) => match &entry.log {
                Some(path) => MatrixOutcome::OpenLog {
                    title: format!("{} · {action}", row.server),
                    path: path.clone(),
                },
                None => MatrixOutcome::Notice(format!(
                    "no log for {action} on {}: it {}",
                    row.server,
                    match &entry.outcome {
                        None => "has not opened its log yet".to_string(),
                        Some(outcome) => format!("ended {} without one", outcome.label()),
                    }
                )),
            },
        }
    }

    fn keep_cursor_on_screen(&mut self) {
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if self.cursor >= self.top + self.page() {
            self.top = self.cursor + 1 - self.page();
        }
        self.top = self.top.min(self.visible.len().saturating_sub(1));
    }
}

#[cfg(test)]
#[path = "matrix_view_tests.rs"]
pub(crate) mod tests;

/// The matrix as a dashboard mode: its keys come from the key table's `Matrix` scope, and
/// while a filter is typed from `MatrixFilter` (characters not in it are the filter's text).
impl ModeKeys for MatrixView {
    fn scope(&self) -> Scope {
        if self.typing {
            Scope::MatrixFilter
        } else {
            Scope::Matrix
        }
    }

    fn key(&mut self, bound: Option<ModeAction>, key: &KeyEvent, cx: &Context) -> Reply {
        // The dashboard's header and footer, the border, the headings and the line under the
        // rows: what is left is a page.
        self.set_page(usize::from(cx.height.saturating_sub(6)));
        let key = match (self.typing, bound) {
            (true, Some(ModeAction::Confirm)) => MatrixKey::FilterDone,
            (true, Some(ModeAction::Erase)) => MatrixKey::FilterBackspace,
            (true, Some(ModeAction::Close)) => MatrixKey::Close,
            (true, Some(ModeAction::ClearText)) => MatrixKey::FilterClear,
            // Text, as in the servers' filter: a Ctrl or Alt chord is not a letter.
            (true, None) => match key.code {
                KeyCode::Char(c)
                    if !key
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
                {
                    MatrixKey::Filter(c)
                }
                _ => return Reply::Stay,
            },
            (false, Some(ModeAction::ScrollUp)) => MatrixKey::Up,
            (false, Some(ModeAction::ScrollDown)) => MatrixKey::Down,
            (false, Some(ModeAction::PageUp)) => MatrixKey::PageUp,
            (false, Some(ModeAction::PageDown)) => MatrixKey::PageDown,
            (false, Some(ModeAction::Top)) => MatrixKey::Home,
            (false, Some(ModeAction::Bottom)) => MatrixKey::End,
            (false, Some(ModeAction::Left)) => MatrixKey::Left,
            (false, Some(ModeAction::Right)) => MatrixKey::Right,
            (false, Some(ModeAction::Sort)) => MatrixKey::Sort,
            (false, Some(ModeAction::Search)) => MatrixKey::FilterStart,
            (false, Some(ModeAction::Confirm)) => MatrixKey::Open,
            (false, Some(ModeAction::Close)) => MatrixKey::Close,
            _ => return Reply::Stay,
        };
        match self.handle(key, cx.timeline) {
            MatrixOutcome::Stay => Reply::Stay,
            MatrixOutcome::Close => Reply::Close,
            MatrixOutcome::OpenLog { title, path } => {
                Reply::Effects(vec![Effect::OpenLog { title, path }])
            }
            MatrixOutcome::Notice(notice) => Reply::Say(notice),
        }
    }
}
