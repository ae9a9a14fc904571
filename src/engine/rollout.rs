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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    pub id: RolloutId,
    pub action: Action,
    pub began_at: DateTime<Utc>,
    #[serde(flatten)]
    pub rules: Rules,
    /// In the order they go.
    pub members: Vec<Member>,
    pub phase: Phase,
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
        };
        rollout.settle();
        rollout
    }

    pub fn tally(&self) -> Tally {
        let mut tally = Tally::default();
        for member in &self.members {
            match member.state {
                MemberState::Waiting => tally.waiting += 1,
                MemberState::Deploying => tally.deploying += 1,
                MemberState::AwaitingHealth => tally.awaiting_health += 1,
                MemberState::Healthy => tally.healthy += 1,
                MemberState::Failed { .. } => tally.failed += 1,
                MemberState::Dropped { .. } => tally.dropped += 1,
            }
        }
        tally
    }

    pub fn member(&self, server: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.server == server)
    }

    /// How many more members may be let in now.
    pub fn room(&self) -> usize {
        match self.phase {
            Phase::Canary => {
                let canaries = self
                    .members
                    .iter()
                    .filter(|m| m.canary && !matches!(m.state, MemberState::Dropped { .. }))
                    .count();
                (self.rules.canary as usize).saturating_sub(canaries)
            }
            Phase::Window => {
                let unavailable = self.tally().unavailable();
                (self.rules.window as usize).saturating_sub(unavailable)
            }
            Phase::Stopped { .. } | Phase::Done | Phase::Aborted => 0,
        }
    }

    /// Applies one step and what follows from it. Returns the phase it left, when it changed.
    pub fn apply(&mut self, step: &Step) -> Option<Phase> {
        let before = self.phase.clone();
        match step {
            Step::Admit { server } => {
                let canary_phase = self.phase == Phase::Canary;
                self.set(server, MemberState::Deploying);
                if canary_phase && let Some(member) = self.member_mut(server) {
                    member.canary = true;
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
                if let Some(member) = self.member_mut(server) {
                    member.item = *item;
                }
            }
            Step::Requeued { server } => {
                if let Some(member) = self.member_mut(server)
                    && member.state == MemberState::Deploying
                {
                    member.state = MemberState::Waiting;
                    member.canary = false;
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
        if self.phase == Phase::Canary {
            let candidates = self
                .members
                .iter()
                .filter(|m| !matches!(m.state, MemberState::Dropped { .. }))
                .count();
            let needed = (self.rules.canary as usize).min(candidates);
            let healthy = self
                .members
                .iter()
                .filter(|m| m.canary && m.state == MemberState::Healthy)
                .count();
            if healthy >= needed {
                self.phase = Phase::Window;
            }
        }
        if self.phase.is_live() && self.members.iter().all(|m| m.state.is_final()) {
            self.phase = Phase::Done;
        }
    }

    fn set(&mut self, server: &str, state: MemberState) {
        if let Some(member) = self.member_mut(server) {
            // A verdict is final: a late word about a member never undoes it.
            if !member.state.is_final() {
                member.state = state;
            }
        }
    }

    fn member_mut(&mut self, server: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.server == server)
    }

    /// "deploy #12": how logs and screens name it.
    pub fn name(&self) -> String {
        format!("{} #{}", self.action, self.id)
    }

    /// Where it is, in a few words: `canary web-01`, `window 2/2`, `stopped: db-02 failed`.
    pub fn step_text(&self) -> String {
        let tally = self.tally();
        match &self.phase {
            Phase::Canary => {
                let canaries: Vec<&str> = self
                    .members
                    .iter()
                    .filter(|m| m.canary)
                    .map(|m| m.server.as_str())
                    .collect();
                if canaries.is_empty() {
                    "canary".to_string()
                } else {
                    format!("canary {}", canaries.join(", "))
                }
            }
            Phase::Window => format!("window {}/{}", tally.unavailable(), self.rules.window),
            Phase::Stopped { reason } => format!("stopped: {reason}"),
            Phase::Done => "done".to_string(),
            Phase::Aborted => "aborted".to_string(),
        }
    }

    /// `3/9 healthy · 1 failed · 5 waiting`
    pub fn progress_text(&self) -> String {
        let tally = self.tally();
        let mut parts = vec![format!("{}/{} healthy", tally.healthy, self.members.len())];
        if tally.unavailable() > 0 {
            parts.push(format!("{} in deploy", tally.unavailable()));
        }
        if tally.failed > 0 {
            parts.push(format!("{} failed", tally.failed));
        }
        if tally.dropped > 0 {
            parts.push(format!("{} dropped", tally.dropped));
        }
        if tally.waiting > 0 {
            parts.push(format!("{} waiting", tally.waiting));
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests;
