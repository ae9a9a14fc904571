//! The server × action matrix: for each server, the last few attempts of each action, newest
//! first. Rows are the servers asked for (the inventory) followed by any others the timeline
//! saw (servers that left the inventory still show what ran on them).

use super::{Entry, Timeline};
use crate::engine::model::{Action, Outcome};
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
        let mut rows: Vec<Row> = servers
            .iter()
            .map(|server| Row {
                server: server.clone(),
                ..Row::default()
            })
            .collect();
        let mut row_of: HashMap<&str, usize> = servers
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let entries = timeline.entries();
        // Newest first: walk backwards and stop filling a cell once it holds `last`.
        for (index, entry) in entries.iter().enumerate().rev() {
            if !counts(entry) {
                continue;
            }
            let row = match row_of.get(entry.server.as_str()) {
                Some(row) => *row,
                None => {
                    rows.push(Row {
                        server: entry.server.clone(),
                        unlisted: true,
                        ..Row::default()
                    });
                    row_of.insert(&entry.server, rows.len() - 1);
                    rows.len() - 1
                }
            };
            let cell = &mut rows[row].cells[column(entry.action)];
            if cell.len() < last {
                cell.push(index);
            }
        }
        let listed = servers.len();
        rows[listed..].sort_by(|a, b| a.server.cmp(&b.server));
        Matrix { rows, last }
    }
}
