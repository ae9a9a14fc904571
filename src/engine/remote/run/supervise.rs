//! Waiting for a remote run while enforcing its timeout and the operator's stops.

use super::RemoteSpec;
use crate::engine::StopMode;
use crate::engine::callback::EndedBy;
use crate::engine::remote::guard::Control;
use crate::engine::runner::escalation::{Stage, Stopper};
use tokio::process::Child;
use tokio::sync::mpsc;

/// Waits for ssh while enforcing the timeout and stop requests: INT, TERM and KILL to the
/// guard a cancel grace apart, then the channel closed if even that went unanswered.
pub(super) async fn supervise(
    child: &mut Child,
    control: &mpsc::UnboundedSender<Control>,
    stop_rx: mpsc::UnboundedReceiver<StopMode>,
    spec: &RemoteSpec,
) -> (Option<std::process::ExitStatus>, EndedBy) {
    let mut stopper = Stopper::new(stop_rx, spec.timeout, spec.cancel_grace, true);
    loop {
        let stage = tokio::select! {
            waited = child.wait() => return (waited.ok(), stopper.ended_by()),
            stage = stopper.next_stage() => stage,
        };
        let line = match stage {
            Stage::Interrupted => Control::Interrupt,
            Stage::Terminated => Control::Terminate,
            Stage::Killed => Control::Kill,
            Stage::Abandoned => {
                // The guard did not answer KILL: closing the channel is its last word.
                let _ = child.start_kill();
                continue;
            }
            Stage::Running => continue,
        };
        let _ = control.send(line);
    }
}
