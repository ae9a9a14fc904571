//! The matrix's rows in the order asked for: the filter's matches (names, groups, state
//! words), sorted by name, by the newest run's duration, or worst outcome first.

use super::MatrixView;
use crate::engine::model::Outcome;
use crate::timeline::matrix::Row;
use crate::timeline::{Entry, Timeline};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Sort {
    /// Inventory order, then the servers that left it by name.
    #[default]
    Name,
    /// The newest run of the cursor's action, longest first.
    Duration,
    /// The newest run of the cursor's action, worst first.
    Outcome,
}

impl Sort {
    pub fn label(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Duration => "duration",
            Sort::Outcome => "outcome",
        }
    }

    pub(super) fn next(self) -> Sort {
        match self {
            Sort::Name => Sort::Duration,
            Sort::Duration => Sort::Outcome,
            Sort::Outcome => Sort::Name,
        }
    }
}

impl MatrixView {
    /// Filters and sorts the rows, keeping the cursor on the server it was on.
    pub(super) fn arrange(&mut self, timeline: &Timeline) {
        let was_on = self
            .cursor_row()
            .map(|r| self.matrix.rows[r].server.clone());
        let needle = self.filter.trim().to_lowercase();
        let mut visible: Vec<usize> = (0..self.matrix.rows.len())
            .filter(|r| needle.is_empty() || self.matches(*r, &needle, timeline))
            .collect();
        let column = self.column;
        let entries = timeline.entries();
        let newest = |r: usize| {
            self.matrix.rows[r].cells[column]
                .first()
                .map(|index| &entries[*index])
        };
        match self.sort {
            Sort::Name => {}
            Sort::Duration => {
                let now = self.now;
                // Longest first; never ran last. Stable: ties keep the name order.
                visible
                    .sort_by_cached_key(|r| std::cmp::Reverse(newest(*r).map(|e| e.duration(now))));
            }
            Sort::Outcome => {
                visible.sort_by_cached_key(|r| newest(*r).map_or(NEVER_RAN, rank));
            }
        }
        self.visible = visible;
        self.cursor = was_on
            .and_then(|server| {
                let row = self.matrix.row_of(&server)?;
                self.visible.iter().position(|r| *r == row)
            })
            .unwrap_or(self.cursor)
            .min(self.visible.len().saturating_sub(1));
        self.keep_cursor_on_screen();
    }

    fn matches(&self, r: usize, needle: &str, timeline: &Timeline) -> bool {
        let row = &self.matrix.rows[r];
        let listed = self.searchable.get(r).filter(|_| !row.unlisted);
        let named = match listed {
            Some(words) => {
                words.name.contains(needle) || words.groups.iter().any(|g| g.contains(needle))
            }
            None => row.server.to_lowercase().contains(needle),
        };
        named || state_words(row, timeline).any(|word| word == needle)
    }
}

/// What the servers pane's filter matches besides names and groups: each action's newest
/// outcome ("failed", "ok", …), "running", and "failing" when one went wrong.
fn state_words<'a>(
    row: &'a Row,
    timeline: &'a Timeline,
) -> impl Iterator<Item = &'static str> + 'a {
    let newest = row
        .cells
        .iter()
        .filter_map(|cell| cell.first())
        .map(|index| &timeline.entries()[*index]);
    newest.flat_map(|entry| {
        let (word, failing) = match &entry.outcome {
            None if is_cut(entry) => ("interrupted", true),
            None => ("running", false),
            Some(outcome) => (
                outcome.label(),
                outcome.went_wrong() || entry.healthy == Some(false),
            ),
        };
        [Some(word), failing.then_some("failing")]
            .into_iter()
            .flatten()
    })
}

const NEVER_RAN: u8 = 10;

/// Ended without an outcome: its session died while it ran (the next one has not said so yet).
pub fn is_cut(entry: &Entry) -> bool {
    entry.outcome.is_none() && entry.end.is_some()
}

/// Worst first: what needs a look comes to the top.
pub fn rank(entry: &Entry) -> u8 {
    if is_cut(entry) {
        return 4;
    }
    match &entry.outcome {
        Some(Outcome::Failed { .. }) => 0,
        Some(Outcome::Error { .. }) => 1,
        Some(Outcome::TimedOut { .. }) => 2,
        Some(Outcome::Unreachable { .. }) => 3,
        Some(Outcome::Interrupted) => 4,
        Some(Outcome::Cancelled { .. }) => 5,
        Some(Outcome::Skipped { .. }) => 6,
        Some(Outcome::Succeeded) if entry.healthy == Some(false) => 7,
        None => 8,
        Some(Outcome::Succeeded) => 9,
    }
}
