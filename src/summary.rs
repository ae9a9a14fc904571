//! The end-of-run summary of `fleetdeck run`: a table for people, JSON for scripts.

use crate::engine::FinishedRun;
use crate::engine::model::{Action, ItemId, Outcome};
use crate::engine::queue::QueueView;
use crate::engine::rollout::{Phase, Rollout};
use crate::status::rollouts::{RolloutFacts, what_to_run};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

pub struct Summary {
    rows: Vec<FinishedRun>,
    health: BTreeMap<ItemId, bool>,
    /// What the queue still held when the run ended. The text and `left_queued` both read
    /// these two counts, so a script and a person are told the same number.
    left: Left,
    /// The rollouts the run's last snapshot knew: this session's and the live ones an earlier
    /// session left.
    rollouts: Vec<RolloutFacts>,
}

/// Items still queued when the run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Left {
    /// Every item that stays queued for later (`--resume` runs them).
    pub queued: usize,
    /// Of those, the ones an earlier session left, held: not this run's business, so they do
    /// not make it fail.
    pub from_earlier: usize,
    /// Of all, the ones waiting behind a stopped rollout (its deploys and their later chain
    /// links): `--resume-rollout` runs them, not `--resume`.
    pub behind_rollout: usize,
    /// Of those, the held ones (an earlier session's).
    pub held_behind_rollout: usize,
}

impl Left {
    pub fn of(queue: &QueueView, rollouts: &[impl AsRef<Rollout>]) -> Left {
        let behind = behind_stopped_rollouts(queue, rollouts);
        let held = |id: &ItemId| queue.get(*id).is_some_and(|item| item.held);
        Left {
            queued: queue.len(),
            from_earlier: queue.held_count(),
            behind_rollout: behind.len(),
            held_behind_rollout: behind.iter().filter(|id| held(id)).count(),
        }
    }

    /// This run's own items that never ran (stopped by Ctrl-C or the failure brake).
    fn ours(&self) -> usize {
        self.queued - self.from_earlier
    }
}

/// The queued items a stopped rollout holds back: its gated deploys and every chain link
/// waiting behind them. They stay queued when a run ends, so a later `--resume-rollout`
/// continues the rollout where it stopped.
pub fn behind_stopped_rollouts(
    queue: &QueueView,
    rollouts: &[impl AsRef<Rollout>],
) -> BTreeSet<ItemId> {
    let stopped = |id| {
        rollouts.iter().any(|r| {
            let r = r.as_ref();
            r.id == id && matches!(r.phase, Phase::Stopped { .. })
        })
    };
    let mut kept = BTreeSet::new();
    for item in queue.iter() {
        if queue.gate_of(item.id).is_some_and(stopped) {
            kept.insert(item.id);
            kept.extend(queue.later_links(item.id));
        }
    }
    kept
}

impl Summary {
    pub fn new(
        mut rows: Vec<FinishedRun>,
        health: BTreeMap<ItemId, bool>,
        queue: &QueueView,
        rollouts: &[impl AsRef<Rollout>],
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
            left: Left::of(queue, rollouts),
            rollouts: rollouts
                .iter()
                .map(|r| RolloutFacts::of(r.as_ref()))
                .collect(),
        }
    }

    pub fn left(&self) -> Left {
        self.left
    }

    /// Everything asked for ran and succeeded, and no deploy was found unhealthy.
    /// Attempts followed by a retry are history, not the verdict: the retry's row is. A
    /// rollout done in this run with failed servers fails it too, whichever session they
    /// failed in: `--resume-rollout` finishing a rollout that left servers broken is not a
    /// success a script may trust. (An abort is the operator's own verdict: not a failure.)
    pub fn all_succeeded(&self) -> bool {
        let rollout_failed = (self.rollouts.iter()).any(|r| r.done_with_failures());
        !rollout_failed
            && self.left.ours() == 0
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
        if self.rows.is_empty() {
            return format!("Nothing ran.\n{}", self.rollout_table());
        }
        let header = ["SERVER", "ACTION", "OUTCOME", "DURATION", "RECAP"].map(String::from);
        let mut lines = vec![header];
        for row in &self.rows {
            let action = if row.item.check_mode {
                format!("{} (check)", row.item.action)
            } else {
                row.item.action.to_string()
            };
            let duration = if row.ran.is_some() {
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
        let mut out = String::from("\n");
        out.push_str(&columns(&lines));
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
        out.push_str(&self.rollout_table());
        out
    }

    /// One row per rollout: its shape, its counts, and where it ended (done, stopped: why,
    /// aborted); empty when the run had none.
    fn rollout_table(&self) -> String {
        if self.rollouts.is_empty() {
            return String::new();
        }
        let header = [
            "ROLLOUT",
            "SERVERS",
            "CANARY",
            "WINDOW",
            "HEALTHY",
            "FAILED",
            "DROPPED",
            "IN FLIGHT",
            "WAITING",
            "PHASE",
        ];
        let mut lines = vec![header.map(String::from).to_vec()];
        for r in &self.rollouts {
            let counts = [r.servers, r.canary as usize, r.window as usize, r.healthy];
            // In flight: deployed or deploying, no verdict yet (a health check held by a quit).
            let more = [r.failed, r.dropped, r.in_deploy, r.waiting];
            let mut line = vec![r.name.clone()];
            line.extend(counts.iter().chain(&more).map(usize::to_string));
            line.push(r.step.clone());
            lines.push(line);
        }
        format!("\n{}", columns(&lines))
    }

    /// The lines under the table when items stay queued or a rollout is left stopped; `None`
    /// when there is nothing left to do.
    pub fn left_note(&self, env: &str) -> Option<String> {
        let Left {
            queued,
            from_earlier,
            behind_rollout,
            held_behind_rollout,
        } = self.left;
        let mut notes = Vec::new();
        // Items behind a stopped rollout are the rollout's note: `--resume` alone would not
        // run them.
        let others = queued - behind_rollout;
        if others > 0 {
            let earlier = from_earlier - held_behind_rollout;
            let earlier = if earlier > 0 {
                format!(" ({earlier} from an earlier session)")
            } else {
                String::new()
            };
            notes.push(format!(
                "{others} item(s) stay queued for later{earlier}: \
                 `fleetdeck run -e {env} --resume` runs them"
            ));
        }
        let stopped: Vec<&RolloutFacts> = self.rollouts.iter().filter(|r| r.is_stopped()).collect();
        let waiting: usize = stopped.iter().map(|r| r.waiting).sum();
        // A chain's later links wait behind its deploys: counted, so no queued item goes unsaid.
        let links = behind_rollout.saturating_sub(waiting);
        for rollout in stopped {
            let links = match links {
                0 => String::new(),
                n => format!(" (and {n} chain link(s) after them)"),
            };
            notes.push(format!(
                "Rollout {} is stopped ({}); {} deploy(s) wait{links}: {}",
                rollout.name,
                rollout.reason.as_deref().unwrap_or("no reason journaled"),
                rollout.waiting,
                what_to_run(env)
            ));
        }
        // The exit code's reason, when a rollout ended with broken servers.
        for rollout in (self.rollouts.iter()).filter(|r| r.done_with_failures()) {
            notes.push(format!(
                "Rollout {} is done with {} failed server(s): {} (the run exits 2)",
                rollout.name,
                rollout.failed,
                rollout.failed_servers.join(", ")
            ));
        }
        (!notes.is_empty()).then(|| notes.join("\n"))
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
            "left_queued_behind_rollouts": self.left.behind_rollout,
            "runs": runs,
            "rollouts": self.rollouts,
        })
    }
}

/// Rows as text columns, each as wide as its widest cell, two spaces apart.
fn columns(lines: &[impl AsRef<[String]>]) -> String {
    let count = lines.first().map_or(0, |l| l.as_ref().len());
    let widths: Vec<usize> = (0..count)
        .map(|col| {
            let width = |l: &_| AsRef::<[String]>::as_ref(l)[col].chars().count();
            lines.iter().map(width).max().unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (col, cell) in line.as_ref().iter().enumerate() {
            let _ = write!(text, "{cell:<width$}  ", width = widths[col]);
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
