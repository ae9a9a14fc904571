//! How a run is stopped: interrupt, then terminate, then kill, a grace apart, and who ended it.
//! One set of rules for a local run (signals to its processes) and a remote one (lines to the
//! node's guard); each supervisor only says what a stage does.

use crate::engine::StopMode;
use crate::engine::callback::EndedBy;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What woke a run's supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
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
fn next_stage(trigger: Trigger, stage: Stage) -> Stage {
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
fn ended_by(current: EndedBy, trigger: Trigger) -> EndedBy {
    match (current, trigger) {
        (EndedBy::Itself, Trigger::Timeout) => EndedBy::Timeout,
        (EndedBy::Itself, _) => EndedBy::Cancel,
        (decided, _) => decided,
    }
}

/// One run's way to its end: it waits for the operator's stop requests, the run's timeout and
/// the end of each stage's grace, and says which stage the run enters next. The supervisor
/// only does what a stage means (signals here, control lines to a node's guard).
pub struct Stopper {
    stop_rx: mpsc::UnboundedReceiver<StopMode>,
    /// The engine still holds the other end; once it is gone the run is killed.
    stop_open: bool,
    deadline: Instant,
    grace: Duration,
    /// After KILL, wait another grace and give up (a remote run); else KILL is the last word.
    abandon_after_kill: bool,
    ended_by: EndedBy,
    stage: Stage,
    next_step: Option<Instant>,
}

impl Stopper {
    pub fn new(
        stop_rx: mpsc::UnboundedReceiver<StopMode>,
        timeout: Duration,
        grace: Duration,
        abandon_after_kill: bool,
    ) -> Stopper {
        Stopper {
            stop_rx,
            stop_open: true,
            deadline: Instant::now() + timeout,
            grace,
            abandon_after_kill,
            ended_by: EndedBy::Itself,
            stage: Stage::Running,
            next_step: None,
        }
    }

    /// Who ended the run so far (`Itself` while nobody stopped it).
    pub fn ended_by(&self) -> EndedBy {
        self.ended_by
    }

    /// Whether the run was signalled or told to stop.
    pub fn stopped(&self) -> bool {
        self.stage != Stage::Running
    }

    /// The next stage the run enters; waits until something moves it. Cancel-safe: dropped
    /// while waiting (the run ended), nothing is lost.
    pub async fn next_stage(&mut self) -> Stage {
        loop {
            let trigger = tokio::select! {
                request = self.stop_rx.recv(), if self.stop_open => match request {
                    Some(mode) => Trigger::Stop(mode),
                    // The engine is gone: nobody will ever see this run's end, so end it now.
                    None => {
                        self.stop_open = false;
                        Trigger::Stop(StopMode::Kill)
                    }
                },
                _ = tokio::time::sleep_until(self.deadline), if self.ended_by == EndedBy::Itself => Trigger::Timeout,
                _ = tokio::time::sleep_until(self.next_step.unwrap_or(self.deadline)), if self.next_step.is_some() => Trigger::Escalate,
            };
            self.ended_by = ended_by(self.ended_by, trigger);
            let next = next_stage(trigger, self.stage);
            if next == self.stage {
                continue;
            }
            self.stage = next;
            let graced = match next {
                Stage::Interrupted | Stage::Terminated => true,
                Stage::Killed => self.abandon_after_kill,
                Stage::Running | Stage::Abandoned => false,
            };
            self.next_step = graced.then(|| Instant::now() + self.grace);
            return next;
        }
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
