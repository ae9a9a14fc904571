//! What a headless run sends the engine first. The commands go as one `Command::Batch`, so the
//! engine judges whether it is idle only once all of them are in (read one by one, it could
//! fall idle after a stopped rollout is resumed but before the held deploys are released).

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Target;
    use crate::engine::model::Action;
    use crate::engine::rollout::{Rollout, Rules, Step};
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
}
