//! The server × action matrix: for each server, the last few attempts of each action, newest
//! first. Rows are the servers asked for (the inventory) followed by any others the timeline
//! saw (servers that left the inventory still show what ran on them).

use super::{Entry, Timeline};
use crate::engine::model::{Action, ItemId, Outcome};
use std::collections::HashMap;

/// The actions, in the matrix's column order.
pub const ACTIONS: [Action; 3] = [Action::Provision, Action::Deploy, Action::Check];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub server: String,
    /// Per action (in `ACTIONS` order), indexes into the timeline's entries, newest first, at
    /// most the matrix's `last`.
    pub cells: [Vec<usize>; 3],
    /// Not among the servers asked for (left the inventory).
    pub unlisted: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matrix {
    pub rows: Vec<Row>,
    pub last: usize,
    /// How many of the timeline's entries are folded in, and the id of the last of them: a
    /// live timeline only grows, so the next refresh folds just the new ones.
    seen: usize,
    seen_id: Option<ItemId>,
    row_of: HashMap<String, usize>,
}

/// Whether an entry belongs in the matrix and the reports: it ran, or it was skipped (a chain
/// link whose predecessor failed). An item cancelled while queued never ran and says nothing
/// about its server.
pub fn counts(entry: &Entry) -> bool {
    entry.ran.is_some() || matches!(entry.outcome, Some(Outcome::Skipped { .. }))
}

pub fn column(action: Action) -> usize {
    ACTIONS.iter().position(|a| *a == action).unwrap_or(0)
}

impl Matrix {
    /// One row per server of `servers` (in that order), then the timeline's other servers by
    /// name; each cell the `last` newest attempts. One pass over the entries.
    pub fn build(timeline: &Timeline, servers: &[String], last: usize) -> Matrix {
        let rows: Vec<Row> = servers
            .iter()
            .map(|server| Row {
                server: server.clone(),
                ..Row::default()
            })
            .collect();
        let mut matrix = Matrix {
            rows,
            last,
            ..Matrix::default()
        };
        matrix.index_rows();
        matrix.fold(timeline.entries());
        matrix.sort_unlisted();
        matrix
    }

    /// Folds the entries the timeline gained since the matrix was built or last extended;
    /// `false` (and nothing changed) when `timeline` is not a continuation of what was folded
    /// (another window, a replaced timeline): build the matrix again then. Runs that only
    /// finished need nothing: cells hold indexes, and the entries themselves changed.
    pub fn extend(&mut self, timeline: &Timeline) -> bool {
        let entries = timeline.entries();
        let continues = entries.len() >= self.seen
            && (self.seen == 0 || Some(entries[self.seen - 1].id) == self.seen_id);
        if !continues {
            return false;
        }
        let before = self.rows.len();
        self.fold(entries);
        if self.rows.len() > before {
            self.sort_unlisted();
        }
        true
    }

    /// The row of `server`, if it has one.
    pub fn row_of(&self, server: &str) -> Option<usize> {
        self.row_of.get(server).copied()
    }

    fn fold(&mut self, entries: &[Entry]) {
        for (index, entry) in entries.iter().enumerate().skip(self.seen) {
            if !counts(entry) {
                continue;
            }
            let row = match self.row_of.get(entry.server.as_str()) {
                Some(row) => *row,
                None => {
                    self.rows.push(Row {
                        server: entry.server.clone(),
                        unlisted: true,
                        ..Row::default()
                    });
                    self.row_of
                        .insert(entry.server.clone(), self.rows.len() - 1);
                    self.rows.len() - 1
                }
            };
            let cell = &mut self.rows[row].cells[column(entry.action)];
            if cell.capacity() == 0 {
                cell.reserve_exact(self.last);
            }
            // Entries come oldest first: each is the newest of its cell so far.
            cell.insert(0, index);
            cell.truncate(self.last);
        }
        self.seen = entries.len();
        self.seen_id = entries.last().map(|entry| entry.id);
    }

    /// The unlisted servers (after the listed ones) by name.
    fn sort_unlisted(&mut self) {
        let listed = self.rows.iter().take_while(|row| !row.unlisted).count();
        if self.rows[listed..].is_sorted_by(|a, b| a.server <= b.server) {
            return;
        }
        self.rows[listed..].sort_by(|a, b| a.server.cmp(&b.server));
        self.index_rows();
    }

    fn index_rows(&mut self) {
        self.row_of = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| (row.server.clone(), i))
            .collect();
    }
}
