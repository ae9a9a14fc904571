//! Waiting for a remote run while enforcing its timeout and the operator's stops.

use super::RemoteSpec;
use crate::engine::StopMode;
use crate::engine::callback::EndedBy;
use crate::engine::remote::guard::Control;
use crate::engine::runner::escalation::{self, Stage, Trigger};
use tokio::process::Child;
use tokio::sync::mpsc;

/// Waits for ssh while enforcing the timeout and stop requests: INT, TERM and KILL to the
/// guard a cancel grace apart, then the channel closed if even that went unanswered.
pub(super) async fn supervise(
    child: &mut Child,
    control: &mpsc::UnboundedSender<Control>,
    mut stop_rx: mpsc::UnboundedReceiver<StopMode>,
    spec: &RemoteSpec,
) -> (Option<std::process::ExitStatus>, EndedBy) {
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut ended_by = EndedBy::Itself;
    let mut stage = Stage::Running;
    let mut next_step: Option<tokio::time::Instant> = None;
    let mut stop_open = true;
    loop {
        let trigger = tokio::select! {
            waited = child.wait() => return (waited.ok(), ended_by),
            request = stop_rx.recv(), if stop_open => match request {
                Some(mode) => Trigger::Stop(mode),
                None => {
                    // The engine is gone: nobody will see this run's end.
                    stop_open = false;
                    Trigger::Stop(StopMode::Kill)
                }
            },
            _ = tokio::time::sleep_until(deadline), if ended_by == EndedBy::Itself => Trigger::Timeout,
            _ = tokio::time::sleep_until(next_step.unwrap_or(deadline)), if next_step.is_some() => Trigger::Escalate,
        };
        ended_by = escalation::ended_by(ended_by, trigger);
        let next = escalation::next_stage(trigger, stage);
        if next == stage {
            continue;
        }
        stage = next;
        next_step = match stage {
            Stage::Interrupted => {
                let _ = control.send(Control::Interrupt);
                Some(tokio::time::Instant::now() + spec.cancel_grace)
            }
            Stage::Terminated => {
                let _ = control.send(Control::Terminate);
                Some(tokio::time::Instant::now() + spec.cancel_grace)
            }
            Stage::Killed => {
                let _ = control.send(Control::Kill);
                Some(tokio::time::Instant::now() + spec.cancel_grace)
            }
            Stage::Abandoned => {
                // The guard did not answer KILL: closing the channel is its last word.
                let _ = child.start_kill();
                None
            }
            Stage::Running => None,
        };
    }
}
