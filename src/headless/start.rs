//! What a headless run sends the engine first, and which of the engine's `Idle`s ends the run.
//!
//! The engine reads commands as they come, so it may fall idle between two of the commands
//! sent at the start: after a stopped rollout is resumed but before the `Resume` that releases
//! its held deploys is read, nothing runs and nothing can. An `Idle` then is not the end of
//! the run. The order below keeps such a gap harmless (the new work first, so the engine is
//! busy; the release last), and `IdleWatch` sets aside the `Idle`s that can still come too
//! early: held items left although the run asked to release them, or (the feed handing out
//! the newest state first) a state in which runs go on.

use crate::engine::rollout::{Phase, RolloutId};
use crate::engine::{Command, EnqueueRequest, Snapshot};

/// What the run asked for at the start.
pub struct Asked {
    pub enqueue: Option<EnqueueRequest>,
    pub resume_rollout: bool,
    pub abort_rollout: bool,
    pub discard_held: bool,
    /// Release held items (`--resume`, or `--resume-rollout`).
    pub release_held: bool,
}

/// The commands, in order. Rollouts are named by id from the engine's first state: "every live
/// rollout" would also take the one this run's own deploy begins.
pub fn commands(asked: Asked, before: &Snapshot) -> Vec<Command> {
    let earlier = |wanted: fn(&Phase) -> bool| -> Vec<RolloutId> {
        let rollouts = before.rollouts.iter();
        rollouts
            .filter(|r| wanted(&r.phase))
            .map(|r| r.id)
            .collect()
    };
    let mut commands = Vec::new();
    commands.extend(asked.enqueue.map(Command::Enqueue));
    if asked.abort_rollout {
        let live = earlier(Phase::is_live);
        commands.extend(live.into_iter().map(|id| Command::AbortRollout(Some(id))));
    }
    if asked.resume_rollout {
        let stopped = earlier(|phase| matches!(phase, Phase::Stopped { .. }));
        commands.extend(
            stopped
                .into_iter()
                .map(|id| Command::ResumeRollout(Some(id))),
        );
    }
    if asked.discard_held {
        commands.push(Command::DiscardHeld);
    }
    commands.push(Command::Resume {
        release_held: asked.release_held,
    });
    commands
}

/// Tells the `Idle` that ends the run from one that came before the release of held items.
pub struct IdleWatch {
    release_held: bool,
    /// An `Idle` was set aside: the engine will not say it again if it stays idle.
    deferred: bool,
}

impl IdleWatch {
    pub fn new(release_held: bool) -> IdleWatch {
        IdleWatch {
            release_held,
            deferred: false,
        }
    }

    /// An `Idle` came with `last` the newest state: whether the run winds down now.
    pub fn on_idle(&mut self, last: Option<&Snapshot>) -> bool {
        let Some(last) = last else {
            return true;
        };
        // The feed hands out the newest state before an Idle: runs in it mean the Idle is
        // older than the state, and the engine says Idle again when they end.
        if !looks_idle(last) {
            return false;
        }
        if self.release_held && last.queue.held_count() > 0 {
            self.deferred = true;
            return false;
        }
        true
    }

    /// A state after a set-aside `Idle`: once the release is in, whether the engine is idle
    /// now. The engine announces idle only when it becomes so; if it never stopped being idle,
    /// this is the only word the run gets.
    pub fn on_snapshot(&mut self, snapshot: &Snapshot) -> bool {
        if !self.deferred || snapshot.queue.held_count() > 0 {
            return false;
        }
        self.deferred = false;
        looks_idle(snapshot)
    }
}

/// The engine's own test, read from its state: nothing runs, and nothing will start by itself
/// (dispatch is stopped, or no retry waits out a backoff).
fn looks_idle(snapshot: &Snapshot) -> bool {
    if snapshot.workers.iter().any(|worker| worker.run.is_some()) {
        return false;
    }
    let backoff = |item: &crate::engine::model::Item| !item.held && item.not_before.is_some();
    snapshot.dispatch_stopped || !snapshot.queue.iter().any(backoff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Target;
    use crate::engine::model::{Action, Item, Purpose};
    use crate::engine::queue::QueueView;
    use crate::engine::rollout::{Rollout, Rules, Step};
    use crate::engine::snapshot::{RunView, WorkerView};
    use chrono::Utc;
    use std::sync::Arc;

    fn rollout(id: RolloutId, stop: bool) -> Arc<Rollout> {
        let members = vec![("web-01".into(), id + 1), ("web-02".into(), id + 2)];
        let rules = Rules {
            canary: 0,
            window: 1,
            max_fail_percentage: None,
            health_gate: false,
        };
        let mut rollout = Rollout::new(id, Action::Deploy, Utc::now(), members, rules);
        if stop {
            rollout.apply(&Step::Admit {
                server: "web-01".into(),
            });
            rollout.apply(&Step::Failed {
                server: "web-01".into(),
                reason: "deploy failed".into(),
            });
        }
        Arc::new(rollout)
    }

    fn held(id: u64) -> Item {
        Item {
            id,
            server: "web-02".into(),
            action: Action::Deploy,
            priority: 0,
            tags: Vec::new(),
            check_mode: false,
            attempt: 1,
            enqueued_at: Utc::now(),
            after: None,
            purpose: Purpose::Requested,
            not_before: None,
            held: true,
        }
    }

    #[test]
    fn new_work_goes_first_earlier_rollouts_by_id_and_the_release_last() {
        let before = Snapshot {
            rollouts: vec![rollout(10, true), rollout(20, false)],
            ..Snapshot::default()
        };
        let enqueue = EnqueueRequest {
            servers: vec!["web-01".into()],
            target: Target::Action(Action::Deploy),
            tags: None,
            check_mode: false,
            priority: 0,
        };
        let asked = Asked {
            enqueue: Some(enqueue.clone()),
            resume_rollout: true,
            abort_rollout: false,
            discard_held: false,
            release_held: true,
        };
        assert_eq!(
            commands(asked, &before),
            [
                Command::Enqueue(enqueue),
                Command::ResumeRollout(Some(10)),
                Command::Resume { release_held: true },
            ]
        );
        let asked = Asked {
            enqueue: None,
            resume_rollout: false,
            abort_rollout: true,
            discard_held: true,
            release_held: false,
        };
        assert_eq!(
            commands(asked, &before),
            [
                Command::AbortRollout(Some(10)),
                Command::AbortRollout(Some(20)),
                Command::DiscardHeld,
                Command::Resume {
                    release_held: false
                },
            ]
        );
    }

    #[test]
    fn an_idle_before_the_release_is_set_aside_until_the_release_is_in() {
        let waiting = Snapshot {
            queue: QueueView::of([held(3)]),
            ..Snapshot::default()
        };
        let released = Snapshot::default();
        let running = Snapshot {
            workers: vec![WorkerView {
                slot: 1,
                run: Some(RunView {
                    item: held(4),
                    started_at: Utc::now(),
                    task: None,
                    tasks_started: 0,
                    counts: Default::default(),
                    last_line: None,
                    last_event_at: Utc::now(),
                    stopping: None,
                    log_path: None,
                }),
            }],
            ..Snapshot::default()
        };
        let mut watch = IdleWatch::new(true);
        assert!(
            !watch.on_idle(Some(&running)),
            "older than the runs now going"
        );
        assert!(!watch.on_idle(Some(&waiting)), "the Resume is on its way");
        assert!(!watch.on_snapshot(&waiting), "not read yet");
        assert!(watch.on_snapshot(&released), "read, and nothing runs");
        assert!(!watch.on_snapshot(&released), "said once");
        assert!(watch.on_idle(Some(&released)));
        // Without a release asked for, held items are an earlier session's: the run ends.
        assert!(IdleWatch::new(false).on_idle(Some(&waiting)));
    }
}
