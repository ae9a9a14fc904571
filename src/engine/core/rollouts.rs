//! Rollouts in the engine: a deploy queued on several servers at once goes as one rollout when
//! deployment_strategy is rolling. Its deploys wait at a gate in the queue; the rollout lets
//! them in (canaries first, then a sliding window) and learns each member's verdict from the
//! runs and health checks that end.

use super::{Core, ENGINE_TARGET, Effect, finish::failure_detail, log};
use crate::engine::journal::Record;
use crate::engine::model::{Action, Item, ItemId, Outcome, Purpose};
use crate::engine::rollout::{MemberState, Phase, Rollout, RolloutId, Rules, Step};
use chrono::{DateTime, Utc};
use log::Level;
use std::sync::Arc;

/// Skip reasons that take a server out of a rollout rather than fail it: nobody deployed it
/// and nothing went wrong on it.
pub(super) const LEFT_INVENTORY: &str = "server left the inventory";
pub(super) const UPSTREAM_CANCELLED: &str = "upstream cancelled";

impl Core {
    /// Makes the deploys `members` (server, deploy item) one rollout, gated in the queue.
    pub(super) fn begin_rollout(
        &mut self,
        members: Vec<(String, ItemId)>,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(rolling) = self.policy.rolling else {
            return;
        };
        // A deploy already in a live rollout stays in it: one gate per item.
        let (mut joining, taken): (Vec<_>, Vec<_>) = members
            .into_iter()
            .partition(|(_, item)| !self.rollout_items.contains_key(item));
        for (server, item) in taken {
            let msg = format!(
                "deploy for server {server} (#{item}) is already part of a rollout; it stays there"
            );
            log(fx, ENGINE_TARGET, Level::Info, msg);
        }
        // A server named twice is one member: its one deploy item.
        let mut seen = std::collections::HashSet::new();
        joining.retain(|(_, item)| seen.insert(*item));
        if joining.len() < 2 {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let window = rolling.max_unavailable.resolve(joining.len());
        let rules = Rules {
            canary: rolling.canary,
            window,
            max_fail_percentage: self.policy.max_fail_percentage,
            health_gate: self.policy.health_check_enabled,
        };
        let rollout = Rollout::new(id, Action::Deploy, now, joining, rules);
        for member in &rollout.members {
            self.queue.gate(member.item, id);
            self.rollout_items
                .insert(member.item, (id, member.server.clone()));
        }
        let gate = if rollout.rules.health_gate {
            "each counted once its health check passed"
        } else {
            "each counted once deployed (health checks are off)"
        };
        let canary = match rollout.rules.canary {
            0 => "no canary".to_string(),
            n => format!("canary {n} first, alone"),
        };
        let msg = format!(
            "Rollout {}: {} servers; {canary}, then at most {} at a time, {gate}",
            rollout.name(),
            rollout.members.len(),
            rollout.rules.window
        );
        log(fx, ENGINE_TARGET, Level::Info, msg);
        fx.push(Effect::Journal(Record::RolloutBegan {
            at: now,
            rollout: Box::new(rollout.clone()),
        }));
        self.rollouts.insert(id, Arc::new(rollout));
        self.rollouts_dirty = true;
    }

    /// Lets members in while their rollouts have room: the next ready ones, in order.
    pub(super) fn admit(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let live: Vec<RolloutId> = self
            .rollouts
            .values()
            .filter(|rollout| rollout.phase.is_live())
            .map(|rollout| rollout.id)
            .collect();
        for id in live {
            let rollout = &self.rollouts[&id];
            let room = rollout.room();
            if room == 0 {
                continue;
            }
            // Ready: in the queue, not held from an earlier session, its chain's earlier links
            // done. A member still waiting for its provision does not take a place.
            let ready: Vec<(String, ItemId)> = rollout
                .waiting()
                .filter(|member| {
                    self.queue.get(member.item).is_some_and(|item| {
                        !item.held && item.after.is_none_or(|dep| self.succeeded.contains(&dep))
                    })
                })
                .take(room)
                .map(|member| (member.server.clone(), member.item))
                .collect();
            for (server, item) in ready {
                self.queue.open_gate(item);
                self.rollout_step(id, Step::Admit { server }, now, fx);
            }
        }
    }

    /// Applies a step, journals it, and says what it changed.
    pub(super) fn rollout_step(
        &mut self,
        id: RolloutId,
        step: Step,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(rollout) = self.rollouts.get_mut(&id) else {
            return;
        };
        let rollout = Arc::make_mut(rollout);
        let left = rollout.apply(&step);
        fx.push(Effect::Journal(Record::RolloutStep {
            at: now,
            rollout: id,
            step: step.clone(),
        }));
        self.rollouts_dirty = true;
        let rollout = Arc::clone(&self.rollouts[&id]);
        let name = rollout.name();
        let tally = rollout.tally();
        let total = rollout.members.len();
        match (&step, &left, &rollout.phase) {
            (Step::Admit { server }, _, _) if rollout.member(server).is_some_and(|m| m.canary) => {
                let msg = format!("Rollout {name}: canary {server} goes first");
                log(fx, ENGINE_TARGET, Level::Info, msg);
            }
            (Step::Healthy { server }, Some(Phase::Canary), Phase::Window) => {
                let msg = format!(
                    "Rollout {name}: canary {server} healthy, window {}",
                    rollout.rules.window
                );
                log(fx, ENGINE_TARGET, Level::Info, msg);
            }
            (Step::Healthy { server }, None, Phase::Canary) => {
                let msg = format!(
                    "Rollout {name}: canary {server} healthy; the window opens when all {} canaries are",
                    rollout.rules.canary.min(total as u32)
                );
                log(fx, ENGINE_TARGET, Level::Info, msg);
            }
            (Step::Healthy { server }, _, _) => {
                let msg = format!(
                    "Rollout {name}: {server} healthy ({}/{total})",
                    tally.healthy
                );
                log(fx, ENGINE_TARGET, Level::Info, msg);
            }
            (Step::Failed { server, reason }, _, phase) => {
                let msg = match (left.as_ref(), phase) {
                    (Some(_), Phase::Stopped { reason: why }) if tally.waiting > 0 => format!(
                        "Rollout {name} stopped: {why}; {} deploy(s) held until it is resumed or aborted",
                        tally.waiting
                    ),
                    // Nobody waits: it ends as the runs still in flight do.
                    (Some(_), Phase::Stopped { reason: why }) => {
                        format!("Rollout {name} stopped: {why}; no deploy waits")
                    }
                    (None, Phase::Window) => {
                        let (failed, counted) = rollout.failure_rate();
                        let limit = rollout.rules.max_fail_percentage.unwrap_or_default();
                        format!(
                            "Rollout {name}: {server} {reason} ({failed} of {counted} failed, within max_fail_percentage {limit}%); going on"
                        )
                    }
                    _ => format!("Rollout {name}: {server} {reason}"),
                };
                log(fx, ENGINE_TARGET, Level::Warn, msg);
            }
            (Step::Dropped { server, reason }, _, _) => {
                let msg = format!("Rollout {name}: {server} left the rollout ({reason})");
                log(fx, ENGINE_TARGET, Level::Info, msg);
            }
            (Step::Resumed, Some(_), _) => {
                let msg = format!(
                    "Rollout {name} resumed: window {}, {} waiting",
                    rollout.rules.window, tally.waiting
                );
                log(fx, ENGINE_TARGET, Level::Info, msg);
            }
            _ => {}
        }
        if rollout.phase == Phase::Done && left.is_some() {
            let level = if tally.failed > 0 {
                Level::Warn
            } else {
                Level::Info
            };
            let msg = format!("Rollout {name} done: {}", rollout.progress_text());
            log(fx, ENGINE_TARGET, level, msg);
        }
        // A member with its verdict has nothing more to say: its items no longer map to it.
        let decided = match &step {
            Step::Healthy { server }
            | Step::Failed { server, .. }
            | Step::Dropped { server, .. } => rollout.member(server).filter(|m| m.state.is_final()),
            _ => None,
        };
        if let Some(member) = decided {
            self.rollout_items.remove(&member.item);
        }
    }

    /// Whether `item` is a live rollout member's deploy or its health check: the rollout
    /// judges it.
    pub(super) fn in_rollout(&self, item: &Item) -> bool {
        let deploy = match item.purpose {
            Purpose::HealthCheck { deploy } => deploy,
            Purpose::Requested => item.id,
        };
        self.rollout_items.contains_key(&deploy)
    }

    /// What an item that ended (ran, or dropped without running) tells its rollout, if it is a
    /// member's deploy or the health check of one.
    pub(super) fn rollout_item_ended(
        &mut self,
        item: &Item,
        outcome: &Outcome,
        ran: bool,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        if let Some((id, server)) = self.rollout_items.get(&item.id).cloned() {
            let health_gate = self.rollouts[&id].rules.health_gate;
            let aborted = self.rollouts[&id].phase == Phase::Aborted;
            let step = match outcome {
                Outcome::Succeeded if health_gate => Step::Deployed { server },
                Outcome::Succeeded => Step::Healthy { server },
                Outcome::Cancelled { .. } | Outcome::Skipped { .. } if aborted && !ran => {
                    Step::Dropped {
                        server,
                        reason: "rollout aborted".into(),
                    }
                }
                Outcome::Cancelled { .. } if !ran => Step::Dropped {
                    server,
                    reason: "cancelled before it ran".into(),
                },
                Outcome::Skipped { reason }
                    if reason == LEFT_INVENTORY || reason == UPSTREAM_CANCELLED =>
                {
                    Step::Dropped {
                        server,
                        reason: reason.clone(),
                    }
                }
                Outcome::Skipped { reason } => Step::Failed {
                    server,
                    reason: format!("not deployed ({reason})"),
                },
                other => Step::Failed {
                    server,
                    reason: what_went_wrong("deploy", other),
                },
            };
            self.rollout_step(id, step, now, fx);
        }
        if let Purpose::HealthCheck { deploy } = item.purpose
            && let Some((id, server)) = self.rollout_items.get(&deploy).cloned()
            && self.rollouts[&id]
                .member(&server)
                .is_some_and(|m| m.state == MemberState::AwaitingHealth)
        {
            let step = match outcome {
                Outcome::Succeeded => Step::Healthy { server },
                other => Step::Failed {
                    server,
                    reason: what_went_wrong("health check", other),
                },
            };
            self.rollout_step(id, step, now, fx);
        }
    }

    /// An unreachable member's deploy is retried: the rollout follows the new item, let in.
    pub(super) fn rollout_retarget(
        &mut self,
        old: ItemId,
        new: ItemId,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let Some((id, server)) = self.rollout_items.remove(&old) else {
            return;
        };
        self.rollout_items.insert(new, (id, server.clone()));
        self.rollout_step(id, Step::Retarget { server, item: new }, now, fx);
    }

    pub(super) fn resume_rollouts(
        &mut self,
        which: Option<RolloutId>,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let stopped: Vec<RolloutId> = self
            .rollouts
            .values()
            .filter(|r| which.is_none_or(|id| id == r.id))
            .filter(|r| matches!(r.phase, Phase::Stopped { .. }))
            .map(|r| r.id)
            .collect();
        if stopped.is_empty() {
            let msg = match which {
                Some(id) => format!("Rollout #{id} is not stopped: nothing to resume"),
                None => "No rollout is stopped: nothing to resume".to_string(),
            };
            log(fx, ENGINE_TARGET, Level::Info, msg);
        }
        for id in stopped {
            self.rollout_step(id, Step::Resumed, now, fx);
        }
    }

    /// Cancels what the rollouts have not started (their chains too: an aborted deploy's
    /// provision would be work nobody wants); running deploys finish.
    pub(super) fn abort_rollouts(
        &mut self,
        which: Option<RolloutId>,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let live: Vec<Arc<Rollout>> = self
            .rollouts
            .values()
            .filter(|r| which.is_none_or(|id| id == r.id))
            .filter(|r| r.phase.is_live())
            .cloned()
            .collect();
        if live.is_empty() {
            let msg = match which {
                Some(id) => format!("Rollout #{id} is not under way: nothing to abort"),
                None => "No rollout is under way: nothing to abort".to_string(),
            };
            log(fx, ENGINE_TARGET, Level::Info, msg);
        }
        for rollout in live {
            self.rollout_step(rollout.id, Step::Aborted, now, fx);
            // Each cancelled deploy tells the rollout itself (dropped: rollout aborted).
            let mut cancelled = 0;
            for member in rollout.members.iter().filter(|m| !m.state.is_final()) {
                if !self.queue.contains(member.item) {
                    continue;
                }
                for link in self.queue.chain_of(member.item) {
                    if let Some(item) = self.queue.remove(link) {
                        self.drop_item(item, Outcome::Cancelled { during_task: None }, now, fx);
                    }
                }
                cancelled += 1;
            }
            let tally = self.rollouts[&rollout.id].tally();
            let mut msg = format!(
                "Rollout {} aborted: {cancelled} deploy(s) cancelled before they ran",
                rollout.name()
            );
            if tally.deploying > 0 {
                msg.push_str(&format!("; {} running finish", tally.deploying));
            }
            if tally.awaiting_health > 0 {
                let checks = tally.awaiting_health;
                msg.push_str(&format!("; {checks} deployed wait for their health check"));
            }
            log(fx, ENGINE_TARGET, Level::Warn, msg);
        }
    }
}

/// `deploy failed (rc 2, task "X")`, `health check timed out during "Y"`, `deploy cancelled`.
fn what_went_wrong(run: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed { .. } => format!("{run} failed{}", failure_detail(outcome)),
        other => format!("{run} {other}"),
    }
}
