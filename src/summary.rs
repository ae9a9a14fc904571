//! The end-of-run summary of `fleetdeck run`: a table for people, JSON for scripts.

use crate::engine::FinishedRun;
use crate::engine::model::{Action, ItemId, Outcome};
use crate::engine::queue::QueueView;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

pub struct Summary {
    rows: Vec<FinishedRun>,
    health: BTreeMap<ItemId, bool>,
    /// What the queue still held when the run ended. The text and `left_queued` both read
    /// these two counts, so a script and a person are told the same number.
    left: Left,
}

/// Items still queued when the run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Left {
    /// Every item that stays queued for later (`--resume` runs them).
    pub queued: usize,
    /// Of those, the ones an earlier session left, held: not this run's business, so they do
    /// not make it fail.
    pub from_earlier: usize,
}

impl Left {
    pub fn of(queue: &QueueView) -> Left {
        Left {
            queued: queue.len(),
            from_earlier: queue.held_count(),
        }
    }

    /// This run's own items that never ran (stopped by Ctrl-C or the failure brake).
    fn ours(&self) -> usize {
        self.queued - self.from_earlier
    }
}

impl Summary {
    pub fn new(
        mut rows: Vec<FinishedRun>,
        health: BTreeMap<ItemId, bool>,
        queue: &QueueView,
    ) -> Summary {
        rows.sort_by(|a, b| {
            (&a.item.server, a.item.action, a.item.id).cmp(&(
                &b.item.server,
                b.item.action,
                b.item.id,
            ))
        });
        Summary {
            rows,
            health,
            left: Left::of(queue),
        }
    }

    pub fn left(&self) -> Left {
        self.left
    }

    /// Everything asked for ran and succeeded, and no deploy was found unhealthy.
    /// Attempts followed by a retry are history, not the verdict: the retry's row is.
    pub fn all_succeeded(&self) -> bool {
        self.left.ours() == 0
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

    /// The line under the table when items stay queued; `None` when the queue is empty.
    pub fn left_note(&self, env: &str) -> Option<String> {
        let Left {
            queued,
            from_earlier,
        } = self.left;
        if queued == 0 {
            return None;
        }
        let earlier = if from_earlier > 0 {
            format!(" ({from_earlier} from an earlier session)")
        } else {
            String::new()
        };
        Some(format!(
            "{queued} item(s) stay queued for later{earlier}: \
             `fleetdeck run -e {env} --resume` runs them"
        ))
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
        json!({
            "all_succeeded": self.all_succeeded(),
            "left_queued": self.left.queued,
            "left_queued_from_earlier": self.left.from_earlier,
            "runs": runs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::{Item, Purpose};
    use chrono::Utc;
    use std::time::Duration;

    fn item(id: ItemId, server: &str, held: bool) -> Item {
        Item {
            id,
            server: server.into(),
            action: Action::Check,
            priority: 0,
            tags: Vec::new(),
            check_mode: false,
            attempt: 1,
            enqueued_at: Utc::now(),
            after: None,
            purpose: Purpose::Requested,
            not_before: None,
            held,
        }
    }

    fn summary(queue: &[(ItemId, bool)]) -> Summary {
        let run = FinishedRun {
            item: item(1, "web-01", false),
            slot: Some(1),
            outcome: Outcome::Succeeded,
            recap: None,
            duration: Duration::from_secs(2),
            log_path: None,
            retried: false,
        };
        let queue = QueueView::of(queue.iter().map(|(id, held)| item(*id, "db-01", *held)));
        Summary::new(vec![run], BTreeMap::new(), &queue)
    }

    #[test]
    fn the_text_and_the_json_count_the_same_items_left_queued() {
        let cases = [
            // (queue: id, held from an earlier session), left_queued, note, all succeeded
            (vec![], 0, None, true),
            (
                vec![(7, true), (8, true), (9, true)],
                3,
                Some(
                    "3 item(s) stay queued for later (3 from an earlier session): `fleetdeck run -e demo --resume` runs them",
                ),
                true,
            ),
            (
                vec![(7, true), (10, false)],
                2,
                Some(
                    "2 item(s) stay queued for later (1 from an earlier session): `fleetdeck run -e demo --resume` runs them",
                ),
                false,
            ),
            (
                vec![(10, false)],
                1,
                Some("1 item(s) stay queued for later: `fleetdeck run -e demo --resume` runs them"),
                false,
            ),
        ];
        for (queue, left, note, succeeded) in cases {
            let summary = summary(&queue);
            let json = summary.to_json();
            assert_eq!(json["left_queued"], left, "{queue:?}");
            assert_eq!(summary.left().queued, left);
            assert_eq!(summary.left_note("demo").as_deref(), note);
            assert_eq!(json["all_succeeded"], succeeded, "{queue:?}");
        }
    }
}
