//! How a run is stopped: interrupt, then terminate, then kill, a grace apart, and who ended it.
//! One set of rules for a local run (signals to its processes) and a remote one (lines to the
//! node's guard); each supervisor only says what a stage does.

use crate::engine::StopMode;
use crate::engine::callback::EndedBy;

/// What woke a run's supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Stop(StopMode),
    Timeout,
    /// The grace of the current stage ran out.
    Escalate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Running,
    Interrupted,
    Terminated,
    Killed,
    /// Even KILL went unanswered (a remote run): the connection is closed, the node's guard
    /// ends what is left.
    Abandoned,
}

/// The stage `trigger` leads to from `stage` (the same stage: nothing to do).
pub fn next_stage(trigger: Trigger, stage: Stage) -> Stage {
    match (trigger, stage) {
        (
            Trigger::Stop(StopMode::Kill),
            Stage::Running | Stage::Interrupted | Stage::Terminated,
        ) => Stage::Killed,
        (Trigger::Stop(StopMode::Graceful) | Trigger::Timeout, Stage::Running) => {
            Stage::Interrupted
        }
        (Trigger::Escalate, Stage::Interrupted) => Stage::Terminated,
        (Trigger::Escalate, Stage::Terminated) => Stage::Killed,
        (Trigger::Escalate, Stage::Killed) => Stage::Abandoned,
        (_, current) => current,
    }
}

/// Who ended the run: the first stop or timeout decides, later ones change nothing.
pub fn ended_by(current: EndedBy, trigger: Trigger) -> EndedBy {
    match (current, trigger) {
        (EndedBy::Itself, Trigger::Timeout) => EndedBy::Timeout,
        (EndedBy::Itself, _) => EndedBy::Cancel,
        (decided, _) => decided,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graceful_stop_interrupts_then_terminates_then_kills_then_gives_up() {
        let mut stage = Stage::Running;
        let mut seen = Vec::new();
        for trigger in [
            Trigger::Stop(StopMode::Graceful),
            Trigger::Stop(StopMode::Graceful),
            Trigger::Escalate,
            Trigger::Escalate,
            Trigger::Escalate,
            Trigger::Stop(StopMode::Kill),
        ] {
            stage = next_stage(trigger, stage);
            seen.push(stage);
        }
        use Stage::*;
        assert_eq!(
            seen,
            [
                Interrupted,
                Interrupted,
                Terminated,
                Killed,
                Abandoned,
                Abandoned
            ]
        );
    }

    #[test]
    fn kill_goes_straight_to_killed_and_the_first_reason_stands() {
        for stage in [Stage::Running, Stage::Interrupted, Stage::Terminated] {
            assert_eq!(
                next_stage(Trigger::Stop(StopMode::Kill), stage),
                Stage::Killed
            );
        }
        assert_eq!(
            next_stage(Trigger::Timeout, Stage::Terminated),
            Stage::Terminated
        );
        let by = ended_by(EndedBy::Itself, Trigger::Timeout);
        assert_eq!(by, EndedBy::Timeout);
        assert_eq!(
            ended_by(by, Trigger::Stop(StopMode::Kill)),
            EndedBy::Timeout
        );
        assert_eq!(
            ended_by(EndedBy::Itself, Trigger::Stop(StopMode::Graceful)),
            EndedBy::Cancel
        );
    }
}
