//! Bringing back what an earlier session left: held items, successes chain links wait on, the
//! failures "retry" requeues, and links that can never run.

use super::{Core, ENGINE_TARGET, Effect, finished_record, log};
use crate::engine::journal::{Record, Replay};
use crate::engine::model::{Item, ItemId, Outcome, Purpose};
use crate::engine::rollout::{
    DEPLOY_INTERRUPTED, HEALTH_CHECK_INTERRUPTED, MemberState, Rollout, RolloutId, Step,
};
use chrono::{DateTime, Utc};
use log::Level;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What an earlier session left, as the journal says.
#[derive(Debug, Default)]
pub struct Restore {
    pub pending: Vec<Item>,
    pub interrupted: Vec<ItemId>,
    pub succeeded: HashSet<ItemId>,
    /// The latest failed or interrupted run per (server, action).
    pub retryable: Vec<Item>,
    pub next_id: ItemId,
    /// Rollouts under way (or stopped) when the earlier session ended.
    pub rollouts: Vec<Rollout>,
}

impl Core {
    /// `restore` from the journal's history, whose runs cut by a crash are already marked
    /// interrupted (`interrupted` names them). What it decides (links skipped because their
    /// predecessor was cut, held twins merged, work of servers gone) is folded back into
    /// `history`, so whatever draws from it says what the journal will say.
    pub fn restore_from(
        &mut self,
        history: &mut Replay,
        interrupted: Vec<ItemId>,
        now: DateTime<Utc>,
    ) -> Vec<Effect> {
        let retryable = history
            .latest
            .values()
            .filter(|latest| latest.outcome.went_wrong())
            .map(|latest| latest.item.clone())
            .collect();
        let restored = self.restore(
            Restore {
                pending: history.pending(),
                interrupted,
                succeeded: history.succeeded.clone(),
                retryable,
                next_id: history.next_id,
                rollouts: history.live_rollouts(),
            },
            now,
        );
        for effect in &restored {
            if let Effect::Journal(record) = effect {
                history.apply(record);
            }
        }
        restored
    }

    /// Brings back what the journal knew: finished successes (chain links may wait on them),
    /// the next id, the latest failures (what "retry" requeues, also after a restart) and
    /// pending items, which return held: a stale queue is never re-run without the operator
    /// saying so, and new work does not wait behind it. Links whose predecessor will never
    /// succeed (it was interrupted, or failed) are skipped, so nothing waits forever.
    pub fn restore(&mut self, restore: Restore, now: DateTime<Utc>) -> Vec<Effect> {
        let mut fx = Vec::new();
        // Rollouts first: what happens to their items below (skipped, merged) is theirs to hear.
        for mut rollout in restore.rollouts {
            rollout.index();
            for member in rollout.members.iter().filter(|m| !m.state.is_final()) {
                self.rollout_items
                    .insert(member.item, (rollout.id, member.server.clone()));
            }
            self.rollouts.insert(rollout.id, Arc::new(rollout));
        }
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
                        &item, &outcome, None, None, None, false, now,
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
        self.regate_rollouts(&merged_into, now, &mut fx);
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
        self.settle_restored_rollouts(&restore.interrupted, now, &mut fx);
        // Those belong to an earlier session: journaled and logged, not part of this one's results.
        fx.retain(|effect| !matches!(effect, Effect::Emit(_)));
        let held = self.queue.held_count();
        if held > 0 {
            let msg = format!(
                "{held} item(s) from an earlier session are queued and held until released (P in the dashboard, run --resume) or discarded (X, run --discard-held)"
            );
            log(&mut fx, ENGINE_TARGET, Level::Warn, msg);
        }
        fx
    }
}

impl Core {
    /// Each live member's item with its rollout and server, taken out so steps can follow.
    fn rollout_members(&self) -> Vec<(ItemId, (RolloutId, String))> {
        let members = self.rollout_items.iter();
        members
            .map(|(item, member)| (*item, member.clone()))
            .collect()
    }

    /// Members whose deploy is queued wait at their rollout's gate again, in their turn (one
    /// let in whose deploy had not started is not let in twice).
    fn regate_rollouts(
        &mut self,
        merged_into: &HashMap<ItemId, ItemId>,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let members = self.rollout_members();
        for (item, (id, server)) in members {
            let state = self.rollouts[&id].member(&server).map(|m| m.state.clone());
            if let Some(kept) = merged_into.get(&item) {
                self.rollout_items.remove(&item);
                let reason = format!("merged into the same held deploy #{kept}");
                self.rollout_step(id, Step::Dropped { server, reason }, now, fx);
                continue;
            }
            if !self.queue.contains(item) {
                continue;
            }
            self.queue.gate(item, id);
            if state == Some(MemberState::Deploying) {
                self.rollout_step(id, Step::Requeued { server }, now, fx);
            }
        }
    }

    /// Members the journal left in flight get their verdict: a deploy or health check that was
    /// running when fleetdeck stopped is interrupted, which a rollout counts as failed (nobody
    /// knows what it left on the server).
    fn settle_restored_rollouts(
        &mut self,
        interrupted: &[ItemId],
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let members = self.rollout_members();
        for (item, (id, server)) in members {
            let Some(state) = self.rollouts[&id].member(&server).map(|m| m.state.clone()) else {
                continue;
            };
            let health_pending = || {
                self.queue
                    .iter()
                    .any(|queued| queued.purpose == Purpose::HealthCheck { deploy: item })
            };
            let reason = match state {
                MemberState::Waiting | MemberState::Deploying if interrupted.contains(&item) => {
                    DEPLOY_INTERRUPTED
                }
                MemberState::Waiting | MemberState::Deploying if !self.queue.contains(item) => {
                    "deploy no longer queued"
                }
                MemberState::AwaitingHealth if !health_pending() => HEALTH_CHECK_INTERRUPTED,
                _ => continue,
            };
            let step = Step::Failed {
                server,
                reason: reason.to_string(),
            };
            self.rollout_step(id, step, now, fx);
        }
        let held: Vec<String> = self
            .rollouts
            .values()
            .filter(|r| r.phase.is_live())
            .map(|r| format!("{} ({})", r.name(), r.step_text()))
            .collect();
        if !held.is_empty() {
            let msg = format!(
                "Rollout(s) from an earlier session: {}; their deploys are held with the rest",
                held.join(", ")
            );
            log(fx, ENGINE_TARGET, Level::Warn, msg);
        }
    }
}
