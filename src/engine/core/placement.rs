//! Nodes as the engine sees them: a probe's answer, a node that dropped a run, and the run it
//! dropped before anything of it reached the node, which goes to another node.

use super::{Core, ENGINE_TARGET, Effect, RunState, log};
use crate::engine::model::{Item, ItemId};
use crate::engine::nodes::{NodeHealth, NodeId};
use chrono::{DateTime, Utc};
use log::Level;
use std::time::Duration;

/// How long a lost node rests before it is asked again.
pub const NODE_REPROBE: Duration = Duration::from_secs(30);

impl Core {
    pub(super) fn node_health(
        &mut self,
        id: NodeId,
        health: NodeHealth,
        _now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        if id >= self.nodes.len() || !self.nodes.set_health(id, health) {
            return;
        }
        let name = self.nodes.name(id).to_string();
        match self.nodes.health(id).clone() {
            NodeHealth::Ready { version, .. } => {
                let capacity = self.nodes.capacity(id, self.pool.capacity());
                let runner = version
                    .map(|version| format!("ansible-runner {version}, "))
                    .unwrap_or_default();
                let msg = format!("Node {name} ready ({runner}capacity {capacity})");
                log(fx, ENGINE_TARGET, Level::Info, msg);
            }
            NodeHealth::Skipped { reason } => {
                let msg = format!("Node {name} skipped (capacity 0): {reason}");
                log(fx, ENGINE_TARGET, Level::Error, msg);
            }
            NodeHealth::Lost { reason } => self.node_gone(id, &reason, fx),
            NodeHealth::Probing => {}
        }
    }

    /// `id` could not be reached: nothing more goes there until a probe finds it again.
    pub(super) fn lose_node(&mut self, id: NodeId, reason: &str, fx: &mut Vec<Effect>) {
        let lost = NodeHealth::Lost {
            reason: reason.to_string(),
        };
        if self.nodes.set_health(id, lost) {
            self.node_gone(id, reason, fx);
        }
    }

    fn node_gone(&mut self, id: NodeId, reason: &str, fx: &mut Vec<Effect>) {
        let name = self.nodes.name(id);
        let msg = format!(
            "Node {name} unreachable (capacity 0 until it answers; asking again in {}): {reason}",
            humantime::format_duration(NODE_REPROBE)
        );
        log(fx, ENGINE_TARGET, Level::Error, msg);
        fx.push(Effect::ProbeNode {
            node: id,
            after: NODE_REPROBE,
        });
    }

    /// A run its node dropped after it started may still be going there until the node's guard
    /// notices and ends it: its server takes no other run until then, whichever node.
    pub(super) fn settle(&mut self, run: &RunState, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let until = now + chrono::Duration::from_std(run.ends_within).unwrap_or_default();
        let server = run.item.server.clone();
        let msg = format!(
            "{server} takes no other run until {}: its {} may still be ending on node {}",
            until.with_timezone(&chrono::Local).format("%H:%M:%S"),
            run.item.action,
            self.nodes.name(run.node)
        );
        log(fx, ENGINE_TARGET, Level::Warn, msg);
        self.settling
            .insert(server, (run.item.action, run.slot, until));
    }

    /// Whether a run that its node dropped before anything reached it may go to another node:
    /// once per item, so a run is never tried on every node in turn.
    pub(super) fn may_move_off_node(&self, id: ItemId, before_start: bool) -> bool {
        before_start && !self.moved_off_node.contains(&id)
    }

    /// Queues `item` again at once, the same attempt, for another node to take.
    pub(super) fn move_off_node(&mut self, item: &Item, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let mut again = self.new_item(&item.server, item.action, now);
        again.priority = item.priority;
        again.tags = item.tags.clone();
        again.check_mode = item.check_mode;
        again.purpose = item.purpose.clone();
        again.attempt = item.attempt;
        let msg = format!(
            "Requeued {} for another node: its node could not be reached",
            item.describe()
        );
        log(fx, ENGINE_TARGET, Level::Warn, msg);
        let new_id = self.push(again, now, fx);
        self.moved_off_node.insert(new_id);
        self.retarget(item.id, new_id, now, fx);
    }
}
