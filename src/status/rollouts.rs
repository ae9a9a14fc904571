//! What a rollout is, said for an operator and a script: the facts `fleetdeck run`'s summary and
//! `fleetdeck status` both print, from one struct, so the two commands name a stopped rollout,
//! its reason and its waiting servers the same way.

use crate::engine::model::{Action, ItemId};
use crate::engine::rollout::{MemberState, Phase, Rollout, RolloutId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RolloutFacts {
    pub id: RolloutId,
    /// "deploy #12", as the engine's log lines name it.
    pub name: String,
    pub action: Action,
    pub began_at: DateTime<Utc>,
    pub servers: usize,
    pub canary: u32,
    pub window: u32,
    pub max_fail_percentage: Option<f64>,
    /// canary, window, stopped, done or aborted.
    pub phase: &'static str,
    /// Why it stopped, when it did.
    pub reason: Option<String>,
    /// Where it is, in a few words: "window 1/2", "stopped: db-02 deploy failed …".
    pub step: String,
    /// "3/9 healthy · 1 failed · 5 waiting".
    pub progress: String,
    pub healthy: usize,
    pub failed: usize,
    pub dropped: usize,
    pub waiting: usize,
    /// In deploy or awaiting their health check.
    pub in_deploy: usize,
    /// The servers not let in yet, in the order they go.
    pub waiting_servers: Vec<String>,
    pub failed_servers: Vec<String>,
}

impl RolloutFacts {
    pub fn of(rollout: &Rollout) -> RolloutFacts {
        let tally = rollout.tally();
        let servers_in = |wanted: fn(&MemberState) -> bool| {
            rollout
                .members
                .iter()
                .filter(|m| wanted(&m.state))
                .map(|m| m.server.clone())
                .collect()
        };
        let (phase, reason) = match &rollout.phase {
            Phase::Canary => ("canary", None),
            Phase::Window => ("window", None),
            Phase::Stopped { reason } => ("stopped", Some(reason.clone())),
            Phase::Done => ("done", None),
            Phase::Aborted => ("aborted", None),
        };
        RolloutFacts {
            id: rollout.id,
            name: rollout.name(),
            action: rollout.action,
            began_at: rollout.began_at,
            servers: rollout.members.len(),
            canary: rollout.rules.canary,
            window: rollout.rules.window,
            max_fail_percentage: rollout.rules.max_fail_percentage,
            phase,
            reason,
            step: rollout.step_text(),
            progress: rollout.progress_text(),
            healthy: tally.healthy,
            failed: tally.failed,
            dropped: tally.dropped,
            waiting: tally.waiting,
            in_deploy: tally.unavailable(),
            waiting_servers: servers_in(|s| *s == MemberState::Waiting),
            failed_servers: servers_in(|s| matches!(s, MemberState::Failed { .. })),
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.phase == "stopped"
    }

    /// Every server had its turn, and some failed (within max_fail_percentage).
    pub fn done_with_failures(&self) -> bool {
        self.phase == "done" && self.failed > 0
    }

    /// Still under way, or stopped: it holds work that has not run.
    pub fn is_live(&self) -> bool {
        matches!(self.phase, "canary" | "window" | "stopped")
    }
}

/// ", in rollout deploy #12" when item `id` is a deploy of one of `live`: `--resume` alone does
/// not let a stopped rollout's deploys go, so a held list says whose they are.
pub fn member_of(live: &[Rollout], id: ItemId) -> String {
    let rollout = live.iter().find(|r| r.members.iter().any(|m| m.item == id));
    rollout
        .map(|r| format!(", in rollout {}", r.name()))
        .unwrap_or_default()
}

/// What to run about rollouts left stopped (or cut short) in `env`; the same words under the
/// run's summary and in `status`.
pub fn what_to_run(env: &str) -> String {
    format!(
        "`fleetdeck run -e {env} --resume-rollout` continues it, \
         `fleetdeck run -e {env} --abort-rollout` cancels the rest"
    )
}

/// `status`'s lines about the live rollouts of a journal: where each is and who waits.
/// `holder`: the fleetdeck running them now, if any (then there is nothing to run about them).
pub fn live_text(rollouts: &[RolloutFacts], env: &str, holder: Option<u32>) -> String {
    let mut out = String::new();
    let live: Vec<&RolloutFacts> = rollouts.iter().filter(|r| r.is_live()).collect();
    if live.is_empty() {
        return out;
    }
    let _ = match holder {
        Some(pid) => writeln!(out, "\nRollouts under way in fleetdeck pid {pid}:"),
        None => writeln!(
            out,
            "\nRollouts left unfinished (their deploys wait, held):"
        ),
    };
    for rollout in live {
        let _ = writeln!(
            out,
            "  {}: {} ({}; canary {}, window {})",
            rollout.name, rollout.step, rollout.progress, rollout.canary, rollout.window
        );
        if !rollout.waiting_servers.is_empty() {
            let _ = writeln!(out, "    waiting: {}", rollout.waiting_servers.join(", "));
        }
    }
    if holder.is_none() {
        let _ = writeln!(out, "  {}", what_to_run(env));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rollout::{Rules, Step};
    use chrono::TimeZone;

    /// deploy #12 over six servers, canary 1, window 2: web-01 healthy, web-02 healthy,
    /// web-03 failed, web-04..06 waiting: the rollout stopped.
    pub(crate) fn stopped() -> Rollout {
        let began = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let members = (1..=6).map(|n| (format!("web-0{n}"), 12 + n)).collect();
        let rules = Rules {
            canary: 1,
            window: 2,
            max_fail_percentage: None,
            health_gate: true,
        };
        let mut rollout = Rollout::new(12, Action::Deploy, began, members, rules);
        let server = |n: u32| format!("web-0{n}");
        for step in [
            Step::Admit { server: server(1) },
            Step::Deployed { server: server(1) },
            Step::Healthy { server: server(1) },
            Step::Admit { server: server(2) },
            Step::Admit { server: server(3) },
            Step::Deployed { server: server(2) },
            Step::Failed {
                server: server(3),
                reason: "deploy failed (rc 2)".into(),
            },
            Step::Healthy { server: server(2) },
        ] {
            rollout.apply(&step);
        }
        rollout
    }

    #[test]
    fn a_stopped_rollout_says_why_who_waits_and_what_to_run() {
        let facts = RolloutFacts::of(&stopped());
        assert_eq!(facts.name, "deploy #12");
        assert_eq!(facts.phase, "stopped");
        assert_eq!(facts.reason.as_deref(), Some("web-03 deploy failed (rc 2)"));
        assert_eq!((facts.healthy, facts.failed, facts.waiting), (2, 1, 3));
        assert_eq!(facts.waiting_servers, ["web-04", "web-05", "web-06"]);
        assert_eq!(facts.failed_servers, ["web-03"]);
        let text = live_text(std::slice::from_ref(&facts), "demo", None);
        assert_eq!(
            text,
            "\nRollouts left unfinished (their deploys wait, held):\n\
             \x20 deploy #12: stopped: web-03 deploy failed (rc 2) \
             (2/6 healthy · 1 failed · 3 waiting; canary 1, window 2)\n\
             \x20   waiting: web-04, web-05, web-06\n\
             \x20 `fleetdeck run -e demo --resume-rollout` continues it, \
             `fleetdeck run -e demo --abort-rollout` cancels the rest\n"
        );
        // Another fleetdeck runs it: nothing for this operator to run about it.
        let text = live_text(std::slice::from_ref(&facts), "demo", Some(42));
        assert!(
            text.contains("Rollouts under way in fleetdeck pid 42:"),
            "{text}"
        );
        assert!(!text.contains("--resume-rollout"), "{text}");
    }

    #[test]
    fn finished_rollouts_are_history_not_status() {
        let mut rollout = stopped();
        rollout.apply(&Step::Aborted);
        let facts = RolloutFacts::of(&rollout);
        assert_eq!(facts.phase, "aborted");
        assert!(!facts.is_live());
        assert_eq!(live_text(&[facts], "demo", None), "");
    }
}
