//! A rolling deploy as plain data: a canary gate, then a sliding window over the servers being
//! deployed, stopped by a failure. Every change is a `Step`: the engine decides a step, applies
//! it here and journals it; replay applies the same steps, so a restart finds the rollout where
//! it was. What follows from a step (the canary passed, too many failed, nothing is left) is
//! decided here too, from the rollout's own numbers, so the engine and replay cannot disagree.

use super::model::{Action, ItemId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Rollouts share the item id space: `#12` names one thing, an item or a rollout.
pub type RolloutId = ItemId;

/// Why a member whose run was cut by fleetdeck stopping failed: nobody knows what it left.
pub const DEPLOY_INTERRUPTED: &str = "deploy interrupted (fleetdeck stopped while it ran)";
pub const HEALTH_CHECK_INTERRUPTED: &str =
    "health check interrupted (fleetdeck stopped while it ran)";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rollout {
    pub id: RolloutId,
    pub action: Action,
    pub began_at: DateTime<Utc>,
    #[serde(flatten)]
    pub rules: Rules,
    /// In the order they go. Changed only through `apply`, which keeps `cache` true.
    pub members: Vec<Member>,
    pub phase: Phase,
    /// Counts and an index, so a step costs the same in a rollout of 10 or 10,000 servers;
    /// rebuilt from `members` when missing (a rollout read from the journal).
    #[serde(skip)]
    cache: Option<Cache>,
}

/// Equal when they say the same: the cache is how, not what.
impl PartialEq for Rollout {
    fn eq(&self, other: &Self) -> bool {
        (
            self.id,
            self.action,
            self.began_at,
            self.rules,
            &self.members,
            &self.phase,
        ) == (
            other.id,
            other.action,
            other.began_at,
            other.rules,
            &other.members,
            &other.phase,
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub server: String,
    /// The deploy item doing this server's part (a retry of an unreachable host replaces it).
    pub item: ItemId,
    pub state: MemberState,
    #[serde(default)]
    pub canary: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum MemberState {
    /// Not let in yet.
    Waiting,
    /// Let in: its deploy is queued for a worker or running.
    Deploying,
    /// Deployed; its health check has not answered yet.
    AwaitingHealth,
    Healthy,
    Failed {
        reason: String,
    },
    /// Left the rollout without being deployed: cancelled, aborted, gone from the inventory.
    Dropped {
        reason: String,
    },
}

impl MemberState {
    /// Counts against the window.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, MemberState::Deploying | MemberState::AwaitingHealth)
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self,
            MemberState::Healthy | MemberState::Failed { .. } | MemberState::Dropped { .. }
        )
    }

    /// A word for tables.
    pub fn label(&self) -> &'static str {
        match self {
            MemberState::Waiting => "waiting",
            MemberState::Deploying => "deploying",
            MemberState::AwaitingHealth => "health check",
            MemberState::Healthy => "healthy",
            MemberState::Failed { .. } => "failed",
            MemberState::Dropped { .. } => "dropped",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum Phase {
    /// Only canaries may go; the rest waits for them to be healthy.
    Canary,
    /// Each healthy server lets the next one in.
    Window,
    /// Nothing more is let in until the operator resumes or aborts.
    Stopped { reason: String },
    /// Every member has its verdict.
    Done,
    /// The operator cancelled what had not started.
    Aborted,
}

impl Phase {
    pub fn is_live(&self) -> bool {
        matches!(self, Phase::Canary | Phase::Window | Phase::Stopped { .. })
    }
}

/// What a rollout holds to, fixed when it begins.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// How many servers go first, alone (0: no canary).
    pub canary: u32,
    /// At most this many servers in deploy or waiting for their health check at once.
    pub window: u32,
    pub max_fail_percentage: Option<f64>,
    /// A deploy counts only once its health check passed.
    pub health_gate: bool,
}

/// One change of a rollout, as journaled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum Step {
    Admit {
        server: String,
    },
    Deployed {
        server: String,
    },
    Healthy {
        server: String,
    },
    Failed {
        server: String,
        reason: String,
    },
    Dropped {
        server: String,
        reason: String,
    },
    /// The member's deploy is now this item (its host was unreachable and it is retried).
    Retarget {
        server: String,
        item: ItemId,
    },
    /// Let in, but fleetdeck stopped before its deploy started: it waits its turn again.
    Requeued {
        server: String,
    },
    Resumed,
    Aborted,
}

/// deployment_strategy: rolling, as configured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rolling {
    pub canary: u32,
    pub max_unavailable: WindowSize,
}

/// A rollout's window as configured: a number of servers or a share of them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WindowSize {
    Servers(u32),
    Percent(f64),
}

impl WindowSize {
    /// The window for a rollout of `members` servers: a share rounds up, and is at least one.
    pub fn resolve(self, members: usize) -> u32 {
        match self {
            WindowSize::Servers(n) => n.max(1),
            WindowSize::Percent(pct) => ((pct * members as f64 / 100.0).ceil() as u32).max(1),
        }
    }
}

impl fmt::Display for WindowSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowSize::Servers(n) => write!(f, "{n}"),
            WindowSize::Percent(pct) => write!(f, "{pct}%"),
        }
    }
}

impl Rollout {
    pub fn new(
        id: RolloutId,
        action: Action,
        began_at: DateTime<Utc>,
        members: Vec<(String, ItemId)>,
        rules: Rules,
    ) -> Rollout {
        let mut rollout = Rollout {
            id,
            action,
            began_at,
            rules: Rules {
                window: rules.window.max(1),
                ..rules
            },
            members: members
                .into_iter()
                .map(|(server, item)| Member {
                    server,
                    item,
                    state: MemberState::Waiting,
                    canary: false,
                })
                .collect(),
            phase: Phase::Canary,
            cache: None,
        };
        rollout.settle();
        rollout
    }

    pub fn tally(&self) -> Tally {
        match &self.cache {
            Some(cache) => cache.tally,
            None => Tally::of(&self.members),
        }
    }

    pub fn member(&self, server: &str) -> Option<&Member> {
        match &self.cache {
            Some(cache) => cache.index.get(server).map(|i| &self.members[*i]),
            None => self.members.iter().find(|m| m.server == server),
        }
    }

    /// Members not let in yet, in order.
    pub fn waiting(&self) -> impl Iterator<Item = &Member> {
        let from = self.cache.as_ref().map_or(0, |cache| cache.first_waiting);
        self.members[from.min(self.members.len())..]
            .iter()
            .filter(|m| m.state == MemberState::Waiting)
    }

    /// The canaries (members let in during the canary phase), in the order let in.
    fn canaries(&self) -> Vec<&Member> {
        match &self.cache {
            Some(cache) => cache.canaries.iter().map(|i| &self.members[*i]).collect(),
            None => self.members.iter().filter(|m| m.canary).collect(),
        }
    }

    /// Builds the index and counts now (a rollout read from the journal has none yet), so the
    /// first lookups do not each walk every member.
    pub fn index(&mut self) {
        self.cache();
    }

    fn cache(&mut self) -> &mut Cache {
        self.cache
            .get_or_insert_with(|| Cache::build(&self.members))
    }

    /// How many more members may be let in now.
    pub fn room(&self) -> usize {
        match self.phase {
            Phase::Canary => {
                let canaries = self.canaries().into_iter();
                let counted = canaries
                    .filter(|m| !matches!(m.state, MemberState::Dropped { .. }))
                    .count();
                // More canaries than the window still go at most a window at a time.
                (self.rules.canary as usize)
                    .saturating_sub(counted)
                    .min(self.window_room())
            }
            Phase::Window => self.window_room(),
            Phase::Stopped { .. } | Phase::Done | Phase::Aborted => 0,
        }
    }

    fn window_room(&self) -> usize {
        (self.rules.window as usize).saturating_sub(self.tally().unavailable())
    }

    /// Applies one step and what follows from it. Returns the phase it left, when it changed.
    pub fn apply(&mut self, step: &Step) -> Option<Phase> {
        let before = self.phase.clone();
        self.cache();
        match step {
            Step::Admit { server } => {
                let canary_phase = self.phase == Phase::Canary;
                self.set(server, MemberState::Deploying);
                if canary_phase && let Some(i) = self.position(server) {
                    self.members[i].canary = true;
                    self.cache().canaries.push(i);
                }
            }
            Step::Deployed { server } => self.set(server, MemberState::AwaitingHealth),
            Step::Healthy { server } => self.set(server, MemberState::Healthy),
            Step::Failed { server, reason } => {
                let was_canary = self.member(server).is_some_and(|m| m.canary);
                self.set(
                    server,
                    MemberState::Failed {
                        reason: reason.clone(),
                    },
                );
                let going = matches!(self.phase, Phase::Canary | Phase::Window);
                if going && let Some(why) = self.stop_reason(server, reason, was_canary) {
                    self.phase = Phase::Stopped { reason: why };
                }
            }
            Step::Dropped { server, reason } => self.set(
                server,
                MemberState::Dropped {
                    reason: reason.clone(),
                },
            ),
            Step::Retarget { server, item } => {
                if let Some(i) = self.position(server) {
                    self.members[i].item = *item;
                }
            }
            Step::Requeued { server } => {
                if let Some(i) = self.position(server)
                    && self.members[i].state == MemberState::Deploying
                {
                    self.set(server, MemberState::Waiting);
                    self.members[i].canary = false;
                    let cache = self.cache();
                    cache.canaries.retain(|c| *c != i);
                    cache.first_waiting = cache.first_waiting.min(i);
                }
            }
            Step::Resumed => {
                if matches!(self.phase, Phase::Stopped { .. }) {
                    self.phase = Phase::Window;
                }
            }
            Step::Aborted => {
                if self.phase.is_live() {
                    self.phase = Phase::Aborted;
                }
            }
        }
        self.settle();
        (self.phase != before).then_some(before)
    }

    /// Why a failure stops the rollout, or `None` when failures stay within max_fail_percentage.
    fn stop_reason(&self, server: &str, reason: &str, was_canary: bool) -> Option<String> {
        if was_canary {
            return Some(format!("canary {server} {reason}"));
        }
        let Some(limit) = self.rules.max_fail_percentage else {
            return Some(format!("{server} {reason}"));
        };
        let (failed, counted) = self.failure_rate();
        let rate = failed as f64 * 100.0 / counted.max(1) as f64;
        (rate > limit).then(|| {
            format!(
                "{server} {reason} ({failed} of {counted} failed, {rate:.0}% > max_fail_percentage {limit}%)"
            )
        })
    }

    /// Failed members, and the members that count (those not dropped).
    pub fn failure_rate(&self) -> (usize, usize) {
        let tally = self.tally();
        (tally.failed, self.members.len() - tally.dropped)
    }

    /// What follows on its own: the canaries passed → the window opens; nothing left → done.
    fn settle(&mut self) {
        let tally = self.tally();
        if self.phase == Phase::Canary {
            let candidates = self.members.len() - tally.dropped;
            let needed = (self.rules.canary as usize).min(candidates);
            let canaries = self.canaries().into_iter();
            let healthy = canaries.filter(|m| m.state == MemberState::Healthy).count();
            if healthy >= needed {
                self.phase = Phase::Window;
            }
        }
        let undecided = tally.waiting + tally.unavailable();
        if self.phase.is_live() && undecided == 0 {
            self.phase = Phase::Done;
        }
    }

    fn set(&mut self, server: &str, state: MemberState) {
        let Some(i) = self.position(server) else {
            return;
        };
        // A verdict is final: a late word about a member never undoes it.
        if self.members[i].state.is_final() {
            return;
        }
        let old = std::mem::replace(&mut self.members[i].state, state);
        let members = &self.members;
        let cache = self.cache.get_or_insert_with(|| Cache::build(members));
        cache.tally.remove(&old);
        cache.tally.add(&members[i].state);
        while members
            .get(cache.first_waiting)
            .is_some_and(|m| m.state != MemberState::Waiting)
        {
            cache.first_waiting += 1;
        }
    }

    fn position(&self, server: &str) -> Option<usize> {
        match &self.cache {
            Some(cache) => cache.index.get(server).copied(),
            None => self.members.iter().position(|m| m.server == server),
        }
    }
}

mod cache;
mod text;
use cache::Cache;
pub use cache::Tally;

#[cfg(test)]
mod tests;
