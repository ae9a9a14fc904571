//! The queue as faces see it: persistent maps (structure shared with the engine's queue), so
//! taking one per engine batch costs a few pointer copies however long the queue is, and a face
//! reads only what it draws.

use super::{DispatchView, Wait};
use crate::engine::model::{Item, ItemId};
use crate::engine::rollout::RolloutId;
use imbl::{HashMap, OrdMap, OrdSet};
use std::cmp::Reverse;

/// An item's place in dispatch order: higher priority first, then FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    rank: Reverse<i32>,
    pub id: ItemId,
}

impl Place {
    pub fn of(item: &Item) -> Place {
        Place {
            rank: Reverse(item.priority),
            id: item.id,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct QueueView {
    order: OrdMap<Place, Item>,
    places: HashMap<ItemId, Place>,
    by_server: HashMap<String, OrdSet<Place>>,
    /// Chain links by the item they wait for (which may be running, not queued).
    dependents: HashMap<ItemId, OrdSet<ItemId>>,
    held: usize,
    /// Items that wait for their rollout to let them in.
    gated: HashMap<ItemId, RolloutId>,
}

impl PartialEq for QueueView {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl QueueView {
    /// A view of these items (tests and benchmarks draw queues they make up).
    pub fn of(items: impl IntoIterator<Item = Item>) -> QueueView {
        let mut view = QueueView::default();
        for item in items {
            view.insert(item);
        }
        view
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn held_count(&self) -> usize {
        self.held
    }

    /// Items in dispatch order.
    pub fn iter(&self) -> impl Iterator<Item = &Item> {
        self.order.values()
    }

    pub fn get(&self, id: ItemId) -> Option<&Item> {
        self.order.get(self.places.get(&id)?)
    }

    /// The item at `index` in dispatch order (the queue pane's cursor).
    pub fn nth(&self, index: usize) -> Option<&Item> {
        self.order.values().nth(index)
    }

    /// The queued items that wait for `id` directly.
    pub fn dependents_of(&self, id: ItemId) -> impl Iterator<Item = &Item> {
        self.dependents
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|link| self.get(*link))
    }

    /// Queued items that wait, directly or through others, for `id`, nearest first.
    pub fn later_links(&self, id: ItemId) -> Vec<ItemId> {
        let mut found = vec![id];
        let mut i = 0;
        while i < found.len() {
            let parent = found[i];
            found.extend(self.dependents_of(parent).map(|item| item.id));
            i += 1;
        }
        found.remove(0);
        found
    }

    /// One server's items, in dispatch order.
    pub fn of_server<'a>(&'a self, server: &str) -> impl Iterator<Item = &'a Item> + 'a {
        self.places_of(server).map(|place| self.at(&place))
    }

    pub(super) fn places_of<'a>(&'a self, server: &str) -> impl Iterator<Item = Place> + 'a {
        self.by_server
            .get(server)
            .into_iter()
            .flat_map(|places| places.iter().copied())
    }

    pub(super) fn at(&self, place: &Place) -> &Item {
        &self.order[place]
    }

    /// The server's first item of each action (by `Action::index`) that may compete for a
    /// worker: not held, not waiting for its rollout. One pass, stopping once all are found.
    pub(super) fn first_open(&self, server: &str) -> [Option<Place>; 3] {
        let mut first = [None; 3];
        let mut found = 0;
        for place in self.places_of(server) {
            let item = self.at(&place);
            let slot = &mut first[item.action.index()];
            if slot.is_none() && !item.held && !self.gated.contains_key(&place.id) {
                *slot = Some(place);
                found += 1;
                if found == first.len() {
                    break;
                }
            }
        }
        first
    }

    /// The rollout `id` waits for, while it is not let in.
    pub fn gate_of(&self, id: ItemId) -> Option<RolloutId> {
        self.gated.get(&id).copied()
    }

    pub(super) fn set_gate(&mut self, id: ItemId, rollout: Option<RolloutId>) {
        match rollout {
            Some(rollout) if self.places.contains_key(&id) => {
                self.gated.insert(id, rollout);
            }
            _ => {
                self.gated.remove(&id);
            }
        }
    }

    pub(super) fn held_ids(&self) -> Vec<ItemId> {
        if self.held == 0 {
            return Vec::new();
        }
        self.iter()
            .filter(|item| item.held)
            .map(|item| item.id)
            .collect()
    }

    /// Replaces an item with the same id, if any.
    pub fn insert(&mut self, item: Item) {
        self.remove(item.id);
        let place = Place::of(&item);
        if item.held {
            self.held += 1;
        }
        self.places.insert(item.id, place);
        if let Some(after) = item.after {
            self.dependents.entry(after).or_default().insert(item.id);
        }
        self.by_server
            .entry(item.server.clone())
            .or_default()
            .insert(place);
        self.order.insert(place, item);
    }

    pub fn remove(&mut self, id: ItemId) -> Option<Item> {
        let place = self.places.remove(&id)?;
        let item = self.order.remove(&place)?;
        self.gated.remove(&id);
        if item.held {
            self.held -= 1;
        }
        if let Some(after) = item.after
            && let Some(links) = self.dependents.get_mut(&after)
        {
            links.remove(&id);
            if links.is_empty() {
                self.dependents.remove(&after);
            }
        }
        if let Some(places) = self.by_server.get_mut(&item.server) {
            places.remove(&place);
            if places.is_empty() {
                self.by_server.remove(&item.server);
            }
        }
        Some(item)
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
        if let Some(&id) = self.gated.get(&item.id) {
            return Some(Wait::Rollout {
                id,
                why: String::new(),
            });
        }
        if let Some(until) = item.not_before
            && until > view.now
        {
            return Some(Wait::Backoff { until });
        }
        if let Some(&(action, slot)) = view.busy.get(&item.server) {
            return Some(Wait::HostBusy { action, slot });
        }
        if view.at_limit[item.action.index()] {
            return Some(Wait::OneAtATime {
                action: item.action,
            });
        }
        None
    }
}
