//! The queue of pending items: plain data, no runtime, no clock of its own.
//!
//! Dispatch order is priority (higher first), then FIFO (lower id first). An item whose server
//! is busy, whose chain predecessor has not succeeded yet, or that waits out a backoff is passed
//! over and the next eligible one is taken, so one busy server never blocks the others.
//!
//! Fleets queue 100,000 items, so every operation is O(log n) (times the few items one server
//! has queued): items sit in a B-tree by dispatch place, with indexes by id, by server and by
//! predecessor. What faces see (`QueueView`) is made of persistent maps, so a snapshot of the
//! queue is a clone of a few pointers, not of 100,000 items.

mod view;

use super::model::{Action, Item, ItemId, Purpose, Slot};
use super::rollout::RolloutId;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
pub use view::{Place, QueueView};

/// What the queue needs to know about the world to decide what may run now.
pub struct DispatchView<'a> {
    /// Servers with a run in flight: the action and the worker running it.
    pub busy: &'a HashMap<String, (Action, Slot)>,
    /// Items in flight and their action: a chain link waiting for one of them names it.
    pub running: &'a HashMap<ItemId, Action>,
    /// Items that finished successfully (chain links wait for these).
    pub succeeded: &'a imbl::HashSet<ItemId>,
    pub now: DateTime<Utc>,
    /// Actions that may not start one more run now (provisioning_strategy: sequential), by
    /// `Action::index`.
    pub at_limit: [bool; 3],
    /// The nodes and the pool's size: a server runs only where a node may take it now
    /// (`None`: anywhere, as in tests of the queue alone).
    pub nodes: Option<(&'a crate::engine::nodes::Nodes, u32)>,
}

impl DispatchView<'_> {
    /// Whether some node may take a run of `server` now.
    pub fn has_node_for(&self, server: &str) -> bool {
        self.nodes
            .is_none_or(|(nodes, workers)| nodes.place(server, workers).is_some())
    }
}

/// Actions that may not start another run now, by `Action::index`: provisions, when
/// provisioning is sequential and one of `running` is a provision. The scheduler and the
/// faces' "why it waits" both ask this.
pub fn actions_at_limit(
    provisioning_sequential: bool,
    mut running: impl Iterator<Item = Action>,
) -> [bool; 3] {
    let mut at_limit = [false; 3];
    at_limit[Action::Provision.index()] =
        provisioning_sequential && running.any(|action| action == Action::Provision);
    at_limit
}

/// Why a pending item is not running yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wait {
    Paused,
    /// Came back from an earlier session; runs only once the operator resumes it.
    Held,
    HostBusy {
        action: Action,
        slot: Slot,
    },
    After {
        id: ItemId,
        action: Action,
    },
    Backoff {
        until: DateTime<Utc>,
    },
    /// Waits for its rollout to let it in; `why` says where the rollout is (filled in by the
    /// snapshot, which knows the rollouts).
    Rollout {
        id: RolloutId,
        why: String,
    },
    /// This action runs on one server at a time, and one runs now.
    OneAtATime {
        action: Action,
    },
    /// Ready, but every worker is busy.
    NoFreeWorker,
    /// Ready, but no node that may run it has room (or is up): `why` names them.
    NoNode {
        why: String,
    },
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wait::Paused => f.write_str("paused"),
            Wait::Held => f.write_str("held (P runs · X discards)"),
            Wait::HostBusy { action, slot } => write!(f, "host busy: {action} on worker {slot}"),
            Wait::After { id, action } => write!(f, "after {action} #{id}"),
            Wait::Backoff { until } => {
                write!(
                    f,
                    "retry at {}",
                    until.with_timezone(&chrono::Local).format("%H:%M:%S")
                )
            }
            Wait::Rollout { id, why } if why.is_empty() => write!(f, "rollout #{id}"),
            Wait::Rollout { id, why } => write!(f, "rollout #{id}: {why}"),
            Wait::OneAtATime { action } => write!(f, "{action}s run one at a time"),
            Wait::NoFreeWorker => f.write_str("waiting for a free worker"),
            Wait::NoNode { why } => f.write_str(why),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Queue {
    view: QueueView,
    /// Each server's first item of each action that is not held or gated: where `take_next`
    /// looks, so a pop passes over at most the busy servers (and none whose only open work is
    /// of an action that may not start now), not every item queued behind them.
    heads: [BTreeSet<Place>; 3],
    /// Each server's heads by action (`Action::index`), as they are in `heads`.
    head_of: HashMap<String, [Option<Place>; 3]>,
    backoffs: BTreeSet<(DateTime<Utc>, ItemId)>,
}

impl Queue {
    /// What faces draw: shares its structure with the queue, so it costs nothing to take.
    pub fn view(&self) -> QueueView {
        self.view.clone()
    }

    pub fn len(&self) -> usize {
        self.view.len()
    }

    pub fn is_empty(&self) -> bool {
        self.view.is_empty()
    }

    pub fn get(&self, id: ItemId) -> Option<&Item> {
        self.view.get(id)
    }

    pub fn contains(&self, id: ItemId) -> bool {
        self.view.get(id).is_some()
    }

    pub fn held_count(&self) -> usize {
        self.view.held_count()
    }

    /// Items in dispatch order.
    pub fn iter(&self) -> impl Iterator<Item = &Item> {
        self.view.iter()
    }

    /// Adds `item`, or returns the id of the identical item already pending.
    pub fn push(&mut self, item: Item) -> (ItemId, bool) {
        // Held items belong to an earlier session: new work never merges into them, so asking
        // for a check today cannot silently release yesterday's provision and deploy.
        if let Some(existing) = self
            .view
            .of_server(&item.server)
            .find(|pending| !pending.held && pending.same_work(&item))
        {
            return (existing.id, false);
        }
        let id = item.id;
        self.insert(item);
        (id, true)
    }

    pub fn remove(&mut self, id: ItemId) -> Option<Item> {
        let item = self.view.remove(id)?;
        if let Some(until) = item.not_before {
            self.backoffs.remove(&(until, id));
        }
        self.refresh_head(&item.server);
        Some(item)
    }

    fn insert(&mut self, item: Item) {
        if let Some(until) = item.not_before {
            self.backoffs.insert((until, item.id));
        }
        let server = item.server.clone();
        self.view.insert(item);
        self.refresh_head(&server);
    }

    /// Changes an item through remove and insert, so every index follows (its gate too).
    fn modify(&mut self, id: ItemId, change: impl FnOnce(&mut Item)) -> bool {
        let gate = self.view.gate_of(id);
        let Some(mut item) = self.remove(id) else {
            return false;
        };
        change(&mut item);
        let server = item.server.clone();
        self.insert(item);
        if gate.is_some() {
            self.view.set_gate(id, gate);
            self.refresh_head(&server);
        }
        true
    }

    /// `id` waits for `rollout` to let it in.
    pub fn gate(&mut self, id: ItemId, rollout: RolloutId) {
        self.set_gate(id, Some(rollout));
    }

    /// The rollout lets `id` in: it competes for a worker like any item.
    pub fn open_gate(&mut self, id: ItemId) {
        self.set_gate(id, None);
    }

    pub fn gate_of(&self, id: ItemId) -> Option<RolloutId> {
        self.view.gate_of(id)
    }

    fn set_gate(&mut self, id: ItemId, rollout: Option<RolloutId>) {
        let Some(server) = self.get(id).map(|item| item.server.clone()) else {
            return;
        };
        self.view.set_gate(id, rollout);
        self.refresh_head(&server);
    }

    fn refresh_head(&mut self, server: &str) {
        let first = self.view.first_open(server);
        // One lookup per server; its name is copied only when it gets its first head.
        let old = if first.iter().all(Option::is_none) {
            self.head_of.remove(server).unwrap_or_default()
        } else if let Some(known) = self.head_of.get_mut(server) {
            std::mem::replace(known, first)
        } else {
            self.head_of.insert(server.to_string(), first);
            Default::default()
        };
        for (i, (old, head)) in old.into_iter().zip(first).enumerate() {
            if old != head {
                let heads = &mut self.heads[i];
                if let Some(old) = old {
                    heads.remove(&old);
                }
                if let Some(head) = head {
                    heads.insert(head);
                }
            }
        }
    }

    pub fn set_priority(&mut self, id: ItemId, priority: i32) -> bool {
        self.modify(id, |item| item.priority = priority)
    }

    /// A requested check that a health check was folded into takes on the health check's role.
    pub fn promote_to_health_check(&mut self, id: ItemId, purpose: Purpose) {
        if self
            .get(id)
            .is_some_and(|item| item.purpose == Purpose::Requested)
        {
            self.modify(id, |item| item.purpose = purpose);
        }
    }

    /// Releases every held item; returns how many were held.
    pub fn release_held(&mut self) -> usize {
        let held: Vec<ItemId> = self.view.held_ids();
        for id in &held {
            self.modify(*id, |item| item.held = false);
        }
        held.len()
    }

    /// Why `item` cannot be taken now, or `None` when it is eligible.
    pub fn blocker(&self, item: &Item, view: &DispatchView) -> Option<Wait> {
        self.view.blocker(item, view)
    }

    /// Removes and returns the first eligible item in dispatch order. Taking is removing, so an
    /// item can never be handed out twice.
    pub fn take_next(&mut self, view: &DispatchView) -> Option<Item> {
        let mut best: Option<Place> = None;
        for action in Action::ALL {
            if view.at_limit[action.index()] {
                continue;
            }
            for head in &self.heads[action.index()] {
                if best.is_some_and(|best| *head > best) {
                    break;
                }
                let server = &self.view.at(head).server;
                if view.busy.contains_key(server) || !view.has_node_for(server) {
                    continue;
                }
                // The server is free: its first eligible item (usually its head) competes.
                let eligible = self
                    .view
                    .places_of(server)
                    .take_while(|place| best.is_none_or(|best| *place < best))
                    .find(|place| self.view.blocker(self.view.at(place), view).is_none());
                if let Some(place) = eligible {
                    best = Some(place);
                }
            }
        }
        self.remove(best?.id)
    }

    /// Whether an item waits out a backoff and nothing else (not held from an earlier session,
    /// not at a rollout's gate, its chain's earlier link done): it will go by itself.
    pub fn has_backoff_alone(&self, succeeded: &imbl::HashSet<ItemId>) -> bool {
        self.backoffs.iter().any(|(_, id)| {
            self.get(*id).is_some_and(|item| {
                !item.held
                    && self.gate_of(*id).is_none()
                    && item.after.is_none_or(|dep| succeeded.contains(&dep))
            })
        })
    }

    /// Earliest backoff deadline still in the future: when the queue may change its mind.
    pub fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.backoffs
            .iter()
            .map(|(until, _)| *until)
            .find(|until| *until > now)
    }

    /// Removes every item that waits, directly or through others, for `id`.
    pub fn remove_dependents(&mut self, id: ItemId) -> Vec<Item> {
        let mut removed = Vec::new();
        let mut frontier = vec![id];
        while let Some(parent) = frontier.pop() {
            let links: Vec<ItemId> = self.dependents_of(parent).map(|item| item.id).collect();
            for link in links {
                if let Some(child) = self.remove(link) {
                    frontier.push(child.id);
                    removed.push(child);
                }
            }
        }
        removed.sort_by_key(|item| item.id);
        removed
    }

    /// The pending items that wait for `id` directly.
    pub fn dependents_of(&self, id: ItemId) -> impl Iterator<Item = &Item> {
        self.view.dependents_of(id)
    }

    /// Items waiting for `old` wait for `new` instead (a retry replaces the item it retries).
    /// Returns whether any did.
    pub fn repoint_dependents(&mut self, old: ItemId, new: ItemId) -> bool {
        let links: Vec<ItemId> = self.dependents_of(old).map(|item| item.id).collect();
        for link in &links {
            self.modify(*link, |item| item.after = Some(new));
        }
        !links.is_empty()
    }

    /// `id` and every pending link of its chain, before and after it: a chain moves as one.
    pub fn chain_of(&self, id: ItemId) -> Vec<ItemId> {
        let Some(mut root) = self.get(id) else {
            return Vec::new();
        };
        while let Some(previous) = root.after.and_then(|dep| self.get(dep)) {
            root = previous;
        }
        let mut chain = vec![root.id];
        let mut i = 0;
        while i < chain.len() {
            let parent = chain[i];
            chain.extend(self.dependents_of(parent).map(|item| item.id));
            i += 1;
        }
        chain
    }

    /// A held item doing the same work as `item` (a crash-and-restart duplicate), if any.
    pub fn held_twin(&self, item: &Item) -> Option<ItemId> {
        self.view
            .of_server(&item.server)
            .find(|pending| pending.held && pending.same_work(item))
            .map(|pending| pending.id)
    }

    /// Removes and returns the items held from an earlier session.
    pub fn drain_held(&mut self) -> Vec<Item> {
        let held = self.view.held_ids();
        held.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Every item, in dispatch order; the queue is empty after.
    pub fn drain_all(&mut self) -> Vec<Item> {
        let items = self.view.iter().cloned().collect();
        *self = Queue::default();
        items
    }
}

#[cfg(test)]
mod tests;
