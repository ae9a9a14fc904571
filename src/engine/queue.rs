//! The queue of pending items: plain data, no runtime, no clock of its own.
//!
//! Dispatch order is priority (higher first), then FIFO (lower id first). An item whose server
//! is busy, whose chain predecessor has not succeeded yet, or that waits out a backoff is passed
//! over and the next eligible one is taken, so one busy server never blocks the others.

use super::model::{Action, Item, ItemId, Purpose, Slot};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// What the queue needs to know about the world to decide what may run now.
pub struct DispatchView<'a> {
    /// Servers with a run in flight: the action and the worker running it.
    pub busy: &'a HashMap<String, (Action, Slot)>,
    /// Items in flight and their action: a chain link waiting for one of them names it.
    pub running: &'a HashMap<ItemId, Action>,
    /// Items that finished successfully (chain links wait for these).
    pub succeeded: &'a HashSet<ItemId>,
    pub now: DateTime<Utc>,
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
    /// Ready, but every worker is busy.
    NoFreeWorker,
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
            Wait::NoFreeWorker => f.write_str("waiting for a free worker"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Queue {
    items: Vec<Item>,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, id: ItemId) -> Option<&Item> {
        self.items.iter().find(|item| item.id == id)
    }

    pub fn contains(&self, id: ItemId) -> bool {
        self.get(id).is_some()
    }

    /// Adds `item`, or returns the id of the identical item already pending.
    pub fn push(&mut self, item: Item) -> (ItemId, bool) {
        // Held items belong to an earlier session: new work never merges into them, so asking
        // for a check today cannot silently release yesterday's provision and deploy.
        if let Some(existing) = self
            .items
            .iter()
            .find(|pending| !pending.held && pending.same_work(&item))
        {
            return (existing.id, false);
        }
        let id = item.id;
        self.items.push(item);
        (id, true)
    }

    pub fn remove(&mut self, id: ItemId) -> Option<Item> {
        let index = self.items.iter().position(|item| item.id == id)?;
        Some(self.items.remove(index))
    }

    pub fn set_priority(&mut self, id: ItemId, priority: i32) -> bool {
        match self.items.iter_mut().find(|item| item.id == id) {
            Some(item) => {
                item.priority = priority;
                true
            }
            None => false,
        }
    }

    /// A requested check that a health check was folded into takes on the health check's role.
    pub fn promote_to_health_check(&mut self, id: ItemId, purpose: Purpose) {
        if let Some(item) = self.items.iter_mut().find(|item| item.id == id)
            && item.purpose == Purpose::Requested
        {
            item.purpose = purpose;
        }
    }

    /// Releases every held item; returns how many were held.
    pub fn release_held(&mut self) -> usize {
        let mut released = 0;
        for item in self.items.iter_mut().filter(|item| item.held) {
            item.held = false;
            released += 1;
        }
        released
    }

    pub fn held_count(&self) -> usize {
        self.items.iter().filter(|item| item.held).count()
    }

    /// Items in dispatch order.
    pub fn ordered(&self) -> Vec<&Item> {
        let mut items: Vec<&Item> = self.items.iter().collect();
        items.sort_by_key(|item| (std::cmp::Reverse(item.priority), item.id));
        items
    }

    /// Why `item` cannot be taken now, or `None` when it is eligible.
    pub fn blocker(&self, item: &Item, view: &DispatchView) -> Option<Wait> {
        if item.held {
            return Some(Wait::Held);
        }
        if let Some(dep) = item.after
            && !view.succeeded.contains(&dep)
        {
            let action = self
                .get(dep)
                .map(|d| d.action)
                .or_else(|| view.running.get(&dep).copied())
                .unwrap_or(item.action);
            return Some(Wait::After { id: dep, action });
        }
        if let Some(until) = item.not_before
            && until > view.now
        {
            return Some(Wait::Backoff { until });
        }
        if let Some(&(action, slot)) = view.busy.get(&item.server) {
            return Some(Wait::HostBusy { action, slot });
        }
        None
    }

    /// Removes and returns the first eligible item in dispatch order. Taking is removing, so an
    /// item can never be handed out twice.
    pub fn take_next(&mut self, view: &DispatchView) -> Option<Item> {
        let id = self
            .ordered()
            .into_iter()
            .find(|item| self.blocker(item, view).is_none())
            .map(|item| item.id)?;
        self.remove(id)
    }

    /// Earliest backoff deadline still in the future: when the queue may change its mind.
    pub fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.items
            .iter()
            .filter_map(|item| item.not_before)
            .filter(|until| *until > now)
            .min()
    }

    /// Removes every item that waits, directly or through others, for `id`.
    pub fn remove_dependents(&mut self, id: ItemId) -> Vec<Item> {
        let mut removed = Vec::new();
        let mut frontier = vec![id];
        while let Some(parent) = frontier.pop() {
            while let Some(index) = self
                .items
                .iter()
                .position(|item| item.after == Some(parent))
            {
                let child = self.items.remove(index);
                frontier.push(child.id);
                removed.push(child);
            }
        }
        removed
    }

    /// Items waiting for `old` wait for `new` instead (a retry replaces the item it retries).
    /// Returns whether any did.
    pub fn repoint_dependents(&mut self, old: ItemId, new: ItemId) -> bool {
        let mut any = false;
        for item in self.items.iter_mut().filter(|item| item.after == Some(old)) {
            item.after = Some(new);
            any = true;
        }
        any
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
            chain.extend(
                self.items
                    .iter()
                    .filter(|item| item.after == Some(parent))
                    .map(|item| item.id),
            );
            i += 1;
        }
        chain
    }

    /// A held item doing the same work as `item` (a crash-and-restart duplicate), if any.
    pub fn held_twin(&self, item: &Item) -> Option<ItemId> {
        self.items
            .iter()
            .find(|pending| pending.held && pending.same_work(item))
            .map(|pending| pending.id)
    }

    /// Removes and returns the items held from an earlier session.
    pub fn drain_held(&mut self) -> Vec<Item> {
        let (held, kept) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|item| item.held);
        self.items = kept;
        held
    }

    pub fn drain_all(&mut self) -> Vec<Item> {
        std::mem::take(&mut self.items)
    }
}

#[cfg(test)]
mod tests;
