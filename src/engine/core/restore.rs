//! Bringing back what an earlier session left: held items, successes chain links wait on, the
//! failures "retry" requeues, and links that can never run.

use super::{Core, ENGINE_TARGET, Effect, finished_record, log};
use crate::engine::journal::Record;
use crate::engine::model::{Item, ItemId, Outcome};
use chrono::{DateTime, Utc};
use log::Level;
use std::collections::{HashMap, HashSet};

/// What an earlier session left, as the journal says.
#[derive(Debug, Default)]
pub struct Restore {
    pub pending: Vec<Item>,
    pub interrupted: Vec<ItemId>,
    pub succeeded: HashSet<ItemId>,
    /// The latest failed or interrupted run per (server, action).
    pub retryable: Vec<Item>,
    pub next_id: ItemId,
}

impl Core {
    /// Brings back what the journal knew: finished successes (chain links may wait on them),
    /// the next id, the latest failures (what "retry" requeues, also after a restart) and
    /// pending items, which return held: a stale queue is never re-run without the operator
    /// saying so, and new work does not wait behind it. Links whose predecessor will never
    /// succeed (it was interrupted, or failed) are skipped, so nothing waits forever.
    pub fn restore(&mut self, restore: Restore, now: DateTime<Utc>) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.succeeded = restore.succeeded.into_iter().collect();
        self.next_id = self.next_id.max(restore.next_id);
        for item in restore.retryable {
            self.retryable
                .insert((item.server.clone(), item.action), item);
        }
        // Sessions that crashed one after another leave the same work queued several times
        // (a deploy held from each): one of each is kept, the rest merge into it, and links that
        // waited for a merged item wait for the one kept.
        let mut merged_into: HashMap<ItemId, ItemId> = HashMap::new();
        for mut item in restore.pending {
            item.held = true;
            if let Some(kept) = item.after.and_then(|dep| merged_into.get(&dep)) {
                item.after = Some(*kept);
            }
            match self.queue.held_twin(&item) {
                Some(kept) => {
                    fx.push(Effect::Journal(Record::Repointed {
                        at: now,
                        old: item.id,
                        new: kept,
                    }));
                    let outcome = Outcome::Skipped {
                        reason: format!("merged into the same held item #{kept}"),
                    };
                    fx.push(Effect::Journal(finished_record(
                        &item, &outcome, None, None, None, now,
                    )));
                    merged_into.insert(item.id, kept);
                }
                None => {
                    self.queue.push(item);
                }
            }
        }
        if !merged_into.is_empty() {
            let msg = format!(
                "{} held item(s) were the same work as others held (sessions that crashed in turn): merged",
                merged_into.len()
            );
            log(&mut fx, ENGINE_TARGET, Level::Info, msg);
        }
        // Nothing runs on a server the operator cannot see: held work of servers that left the
        // inventory while fleetdeck was stopped is skipped, saying why.
        self.skip_items_of_gone_servers(now, &mut fx);
        for id in &restore.interrupted {
            self.skip_dependents(*id, "upstream interrupted", now, &mut fx);
        }
        let stranded: Vec<ItemId> = self
            .queue
            .iter()
            .filter(|item| {
                item.after
                    .is_some_and(|dep| !self.queue.contains(dep) && !self.succeeded.contains(&dep))
            })
            .map(|item| item.id)
            .collect();
        for id in stranded {
            if let Some(item) = self.queue.remove(id) {
                let outcome = Outcome::Skipped {
                    reason: "upstream did not succeed".into(),
                };
                self.drop_item(item, outcome, now, &mut fx);
            }
        }
        // Those belong to an earlier session: journaled and logged, not part of this one's results.
        fx.retain(|effect| !matches!(effect, Effect::Emit(_)));
        let held = self.queue.held_count();
        if held > 0 {
            let msg = format!(
                "{held} item(s) from an earlier session are queued and held: P runs them (or run --resume), X discards them"
            );
            log(&mut fx, ENGINE_TARGET, Level::Warn, msg);
        }
        fx
    }
}
