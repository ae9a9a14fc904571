//! The end-of-run summary of `fleetdeck run`: a table for people, JSON for scripts.

use crate::engine::FinishedRun;
use crate::engine::model::{Action, ItemId, Outcome};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

pub struct Summary {
    rows: Vec<FinishedRun>,
    health: BTreeMap<ItemId, bool>,
    /// Items still queued when the run ended (paused or held).
    left: usize,
}

impl Summary {
    pub fn new(mut rows: Vec<FinishedRun>, health: BTreeMap<ItemId, bool>, left: usize) -> Summary {
        rows.sort_by(|a, b| {
            (&a.item.server, a.item.action, a.item.id).cmp(&(
                &b.item.server,
                b.item.action,
                b.item.id,
            ))
        });
        Summary { rows, health, left }
    }

    /// Everything asked for ran and succeeded, and no deploy was found unhealthy.
    /// Attempts followed by a retry are history, not the verdict: the retry's row is.
    pub fn all_succeeded(&self) -> bool {
        self.left == 0
            && self
                .rows
                .iter()
                .filter(|row| !row.retried)
                .all(|row| row.outcome.is_success())
            && self.health.values().all(|healthy| *healthy)
    }

    fn outcome_word(&self, row: &FinishedRun) -> String {
        let mut word = row.outcome.label().to_string();
        if row.retried {
            word.push_str(" (retried)");
        }
        if row.item.action == Action::Deploy
            && let Some(healthy) = self.health.get(&row.item.id)
        {
            word.push_str(if *healthy {
                " (healthy)"
            } else {
                " (unhealthy)"
            });
        }
        word
    }

    pub fn table(&self) -> String {
        let header = ["SERVER", "ACTION", "OUTCOME", "DURATION", "RECAP"].map(String::from);
        let mut lines = vec![header];
        for row in &self.rows {
            let action = if row.item.check_mode {
                format!("{} (check)", row.item.action)
            } else {
                row.item.action.to_string()
            };
            let duration = if row.slot.is_some() {
                format!("{:.1}s", row.duration.as_secs_f64())
            } else {
                "-".into()
            };
            let recap = row
                .recap
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into());
            lines.push([
                row.item.server.clone(),
                action,
                self.outcome_word(row),
                duration,
                recap,
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|col| {
                lines
                    .iter()
                    .map(|l| l[col].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::from("\n");
        for line in &lines {
            let mut text = String::new();
            for (col, cell) in line.iter().enumerate() {
                let _ = write!(text, "{cell:<width$}  ", width = widths[col]);
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        let problems: Vec<&FinishedRun> = self
            .rows
            .iter()
            .filter(|r| !r.outcome.is_success() && !matches!(r.outcome, Outcome::Skipped { .. }))
            .collect();
        if !problems.is_empty() {
            out.push('\n');
            for row in problems {
                let _ = writeln!(
                    out,
                    "{} {}: {}",
                    row.item.server, row.item.action, row.outcome
                );
                if let Some(log) = &row.log_path {
                    let _ = writeln!(out, "    log: {}", log.display());
                }
            }
        }
        let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
        for row in &self.rows {
            *tally.entry(row.outcome.label()).or_default() += 1;
        }
        let tally = tally
            .iter()
            .map(|(word, n)| format!("{n} {word}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "\n{} item(s): {tally}", self.rows.len());
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        let runs: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "id": row.item.id,
                    "server": row.item.server,
                    "action": row.item.action,
                    "check_mode": row.item.check_mode,
                    "attempt": row.item.attempt,
                    "outcome": row.outcome,
                    "healthy": self.health.get(&row.item.id),
                    "duration_s": row.duration.as_secs_f64(),
                    "recap": row.recap,
                    "log": row.log_path,
                    "retried": row.retried,
                })
            })
            .collect();
        json!({ "all_succeeded": self.all_succeeded(), "left_queued": self.left, "runs": runs })
    }
}
