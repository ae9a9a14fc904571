//! Worker slots: numbered 1..=W, stable while they live, resized while work runs.

use super::model::{ItemId, Slot};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Pool {
    /// As configured: 0 means sequential.
    target: u32,
    busy: BTreeMap<Slot, ItemId>,
}

impl Pool {
    pub fn new(target: u32) -> Self {
        Pool {
            target,
            busy: BTreeMap::new(),
        }
    }

    pub fn target(&self) -> u32 {
        self.target
    }

    /// Sequential mode still has one worker.
    pub fn capacity(&self) -> u32 {
        self.target.max(1)
    }

    pub fn is_sequential(&self) -> bool {
        self.target == 0
    }

    pub fn active(&self) -> usize {
        self.busy.len()
    }

    pub fn set_target(&mut self, target: u32) -> u32 {
        std::mem::replace(&mut self.target, target)
    }

    /// Lowest free slot number, if the pool may start one more run now. After a shrink, runs on
    /// slots above the new size finish first: nothing starts until active < capacity.
    pub fn free_slot(&self) -> Option<Slot> {
        if self.busy.len() as u32 >= self.capacity() {
            return None;
        }
        (1..=self.capacity()).find(|slot| !self.busy.contains_key(slot))
    }

    pub fn occupy(&mut self, slot: Slot, id: ItemId) {
        self.busy.insert(slot, id);
    }

    pub fn release(&mut self, slot: Slot) {
        self.busy.remove(&slot);
    }

    /// Slots still running above the target: they disappear when their run ends.
    pub fn draining(&self) -> usize {
        self.busy
            .keys()
            .filter(|slot| **slot > self.capacity())
            .count()
    }

    /// Every slot to show: 1..=capacity plus any still draining above it.
    pub fn slots(&self) -> Vec<(Slot, Option<ItemId>)> {
        let top = self
            .busy
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(self.capacity());
        (1..=top)
            .filter(|slot| *slot <= self.capacity() || self.busy.contains_key(slot))
            .map(|slot| (slot, self.busy.get(&slot).copied()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_workers_means_one_sequential_slot() {
        let mut pool = Pool::new(0);
        assert!(pool.is_sequential());
        assert_eq!(pool.free_slot(), Some(1));
        pool.occupy(1, 10);
        assert_eq!(pool.free_slot(), None);
    }

    #[test]
    fn free_slot_is_lowest_unused_number() {
        let mut pool = Pool::new(3);
        pool.occupy(1, 1);
        pool.occupy(3, 3);
        assert_eq!(pool.free_slot(), Some(2));
    }

    #[test]
    fn shrink_starts_nothing_until_active_below_target() {
        let mut pool = Pool::new(5);
        for slot in 1..=5 {
            pool.occupy(slot, slot as u64);
        }
        pool.set_target(3);
        assert_eq!(pool.draining(), 2);
        pool.release(1);
        assert_eq!(pool.free_slot(), None, "4 active > 3");
        pool.release(5);
        assert_eq!(pool.free_slot(), None, "3 active = 3");
        pool.release(4);
        assert_eq!(pool.free_slot(), Some(1));
        assert_eq!(pool.draining(), 0);
    }

    #[test]
    fn slots_lists_draining_ones_above_target() {
        let mut pool = Pool::new(4);
        pool.occupy(4, 44);
        pool.set_target(2);
        assert_eq!(pool.slots(), vec![(1, None), (2, None), (4, Some(44))]);
    }
}
