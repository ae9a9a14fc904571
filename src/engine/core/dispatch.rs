//! Starting runs on free workers, and what the engine looks like from outside: idle, stopped,
//! and the snapshot consumers draw.

use super::{Core, Effect, RunState, log, worker_target};
use crate::engine::journal::Record;
use crate::engine::model::{Action, ItemId, Purpose, Recap, Slot};
use crate::engine::queue::{DispatchView, actions_at_limit};
use crate::engine::snapshot::{RunView, Snapshot, WorkerView};
use chrono::{DateTime, Utc};
use log::Level;
use std::collections::HashMap;

impl Core {
    pub(super) fn dispatch(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        if self.shutdown.is_some() || self.paused.is_some() {
            return;
        }
        if std::mem::take(&mut self.rollouts_dirty) {
            self.admit(now, fx);
        }
        self.settling.retain(|_, (_, _, until)| *until > now);
        while let Some(slot) = self.pool.free_slot() {
            if !self.nodes.any_room(self.pool.capacity()) {
                break;
            }
            let busy = self.busy_servers();
            let running = self.running_actions();
            let view = DispatchView {
                busy: &busy,
                running: &running,
                succeeded: &self.succeeded,
                now,
                at_limit: actions_at_limit(
                    self.policy.provisioning_sequential,
                    running.values().copied(),
                ),
                nodes: Some((&self.nodes, self.pool.capacity())),
            };
            let Some(item) = self.queue.take_next(&view) else {
                break;
            };
            // take_next passed over every server no node may take now.
            let Some(node) = self.nodes.place(&item.server, self.pool.capacity()) else {
                self.queue.push(item);
                break;
            };
            self.nodes.occupy(node);
            self.pool.occupy(slot, item.id);
            let active = self.pool.active();
            let target = self.pool.capacity();
            let on_node = if self.nodes.configured() {
                format!(" on {}", self.nodes.name(node))
            } else {
                String::new()
            };
            let msg = format!(
                "Worker {slot} processing: {}{on_node} (active: {active}/{target})",
                item.describe()
            );
            log(fx, &worker_target(slot), Level::Info, msg);
            fx.push(Effect::Journal(Record::Started {
                at: now,
                id: item.id,
                slot,
                node: self
                    .nodes
                    .configured()
                    .then(|| self.nodes.name(node).to_string()),
            }));
            let timeout = match item.purpose {
                Purpose::HealthCheck { .. } => self.policy.health_check_timeout,
                Purpose::Requested => self.policy.action_timeout,
            };
            fx.push(Effect::Spawn {
                item: item.clone(),
                slot,
                timeout,
                node,
            });
            self.runs.insert(
                item.id,
                RunState {
                    item,
                    slot,
                    started_at: now,
                    task: None,
                    tasks_started: 0,
                    counts: Recap::default(),
                    last_line: None,
                    last_event_at: now,
                    stopping: None,
                    log_path: None,
                    node,
                    node_lost: None,
                    ends_within: std::time::Duration::ZERO,
                },
            );
        }
        if let Some(at) = self.queue.next_wake(now) {
            fx.push(Effect::WakeAt(at));
        }
        if let Some(until) = self.settling.values().map(|(_, _, until)| *until).min() {
            fx.push(Effect::WakeAt(until));
        }
    }

    /// Servers with a run in flight, or one cut off on a node that may still be ending it.
    pub(super) fn busy_servers(&self) -> HashMap<String, (Action, Slot)> {
        let settling = self
            .settling
            .iter()
            .map(|(server, (action, slot, _))| (server.clone(), (*action, *slot)));
        settling
            .chain(
                self.runs
                    .values()
                    .map(|run| (run.item.server.clone(), (run.item.action, run.slot))),
            )
            .collect()
    }

    pub(super) fn running_actions(&self) -> HashMap<ItemId, Action> {
        self.runs
            .iter()
            .map(|(id, run)| (*id, run.item.action))
            .collect()
    }

    /// Nothing is running and nothing more will start without the operator.
    pub fn is_idle(&self) -> bool {
        if !self.runs.is_empty() {
            return false;
        }
        if self.shutdown.is_some() || self.paused.is_some() {
            return true;
        }
        // Work for a node being probed, or lost a moment ago, starts as soon as it answers;
        // work for a server whose cut-off run may still be ending starts once it has.
        if self.queue.len() > self.queue.held_count()
            && (self.nodes.may_come_back() || !self.settling.is_empty())
        {
            return false;
        }
        // Dispatch has just taken everything it could with every worker free: what is left
        // waits for the operator (held, in a stopped rollout, or behind one of those), unless
        // a backoff will let it go by itself.
        !self.queue.has_backoff_alone(&self.succeeded)
    }

    /// Shutdown was asked and the last run has ended.
    pub fn is_stopped(&self) -> bool {
        self.shutdown.is_some() && self.runs.is_empty()
    }

    pub fn snapshot(&self, now: DateTime<Utc>) -> Snapshot {
        let workers = self
            .pool
            .slots()
            .into_iter()
            .map(|(slot, id)| WorkerView {
                slot,
                run: id.and_then(|id| self.runs.get(&id)).map(|run| RunView {
                    node: self
                        .nodes
                        .configured()
                        .then(|| self.nodes.name(run.node).to_string()),
                    ..RunView::from(run)
                }),
            })
            .collect();
        Snapshot {
            at: now,
            target_workers: self.pool.target(),
            active: self.pool.active(),
            draining: self.pool.draining(),
            paused: self.paused.clone(),
            dispatch_stopped: self.paused.is_some() || self.shutdown.is_some(),
            queue: self.queue.view(),
            succeeded: self.succeeded.clone(),
            rollouts: self.rollouts.values().cloned().collect(),
            provisioning_sequential: self.policy.provisioning_sequential,
            workers,
            finished: self.finished,
            failed: self.failed,
            nodes: self.nodes.clone(),
            settling: self
                .settling
                .iter()
                .map(|(server, (action, slot, _))| (server.clone(), (*action, *slot)))
                .collect(),
        }
    }
}
