//! What a rollout of 10,000 servers must not count again at every step: how many members are
//! in each state, where each server is in the list, which members are canaries, and where the
//! first waiting member may be.

use super::{Member, MemberState};
use std::collections::HashMap;
use std::sync::Arc;

/// How many members are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub waiting: usize,
    pub deploying: usize,
    pub awaiting_health: usize,
    pub healthy: usize,
    pub failed: usize,
    pub dropped: usize,
}

impl Tally {
    pub fn unavailable(&self) -> usize {
        self.deploying + self.awaiting_health
    }

    pub(super) fn of(members: &[Member]) -> Tally {
        let mut tally = Tally::default();
        for member in members {
            tally.add(&member.state);
        }
        tally
    }

    fn count(&mut self, state: &MemberState) -> &mut usize {
        match state {
            MemberState::Waiting => &mut self.waiting,
            MemberState::Deploying => &mut self.deploying,
            MemberState::AwaitingHealth => &mut self.awaiting_health,
            MemberState::Healthy => &mut self.healthy,
            MemberState::Failed { .. } => &mut self.failed,
            MemberState::Dropped { .. } => &mut self.dropped,
        }
    }

    pub(super) fn add(&mut self, state: &MemberState) {
        *self.count(state) += 1;
    }

    pub(super) fn remove(&mut self, state: &MemberState) {
        let count = self.count(state);
        *count = count.saturating_sub(1);
    }
}

/// What a step would otherwise count again over every member.
#[derive(Clone, Debug, Default)]
pub(super) struct Cache {
    /// Where each server is in the list. A step never moves a member, so a rollout copied
    /// for a change (`Arc::make_mut` while a snapshot holds it) shares this instead.
    pub(super) index: Arc<HashMap<String, usize>>,
    pub(super) tally: Tally,
    /// Members let in as canaries, in the order let in.
    pub(super) canaries: Vec<usize>,
    /// No member before this one is waiting.
    pub(super) first_waiting: usize,
}

impl Cache {
    pub(super) fn build(members: &[Member]) -> Cache {
        Cache {
            index: Arc::new(
                (members.iter().enumerate())
                    .map(|(i, m)| (m.server.clone(), i))
                    .collect(),
            ),
            tally: Tally::of(members),
            canaries: (members.iter().enumerate())
                .filter(|(_, m)| m.canary)
                .map(|(i, _)| i)
                .collect(),
            first_waiting: members
                .iter()
                .position(|m| m.state == MemberState::Waiting)
                .unwrap_or(members.len()),
        }
    }
}
