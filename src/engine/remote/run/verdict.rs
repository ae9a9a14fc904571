//! How a remote run ended, judged from ssh's exit, the stream and who stopped it.

use super::RemoteSpec;
use super::reading::Streamed;
use crate::engine::callback::{EndedBy, Exit};
use crate::engine::model::Outcome;
use crate::engine::remote::ssh::SSH_FAILED;
use crate::engine::remote::stream::RunnerStatus;

pub(super) struct Verdict {
    pub(super) outcome: Outcome,
    pub(super) rc: Option<i32>,
    /// The node is to be marked lost: why, and whether nothing of the run reached it.
    pub(super) node_lost: Option<(String, bool)>,
    /// A line for the log on how the run ended, when the stream does not say it.
    pub(super) note: Option<String>,
}

/// `accepted`: the guard said the run was its own (it may have started on the node).
pub(super) fn judge(
    spec: &RemoteSpec,
    status: Option<std::process::ExitStatus>,
    ended_by: EndedBy,
    stream: &Streamed,
    stderr_tail: &str,
    accepted: bool,
) -> Verdict {
    let node = &spec.node;
    let code = status.and_then(|status| status.code());
    let said = if stderr_tail.is_empty() {
        String::from("no message")
    } else {
        stderr_tail
            .lines()
            .last()
            .unwrap_or(stderr_tail)
            .to_string()
    };
    // ssh's own failure (the connection), or ssh killed: the node, not the run, went wrong.
    let connection_lost = code == Some(SSH_FAILED) || code.is_none();
    if !stream.saw_status {
        if ended_by != EndedBy::Itself {
            return Verdict {
                outcome: match ended_by {
                    EndedBy::Timeout => Outcome::TimedOut { during_task: None },
                    _ => Outcome::Cancelled { during_task: None },
                },
                rc: code,
                node_lost: None,
                note: Some(format!("stopped before node {node} started the run")),
            };
        }
        if connection_lost && !accepted {
            // Nothing of the run reached a guard: it may go to another node. Not the server's
            // outcome (no host retry or health rule applies to it).
            let message = format!("node {node} could not be reached: {said}");
            return Verdict {
                node_lost: Some((message.clone(), true)),
                ..run_error(message, code)
            };
        }
        if connection_lost {
            return broken(node, code, said);
        }
        let hint = if code == Some(127) || stderr_tail.contains("No such file") {
            format!(" (is the guard installed? fleetdeck node install {node})")
        } else {
            String::new()
        };
        let message = format!(
            "node {node} did not start the run (exit {}): {said}{hint}",
            code.map_or("by a signal".to_string(), |code| code.to_string())
        );
        return run_error(message, code);
    }
    let last = stream.last.as_ref().map(|line| &line.status);
    let ended = matches!(
        last,
        Some(
            RunnerStatus::Successful
                | RunnerStatus::Failed
                | RunnerStatus::Canceled
                | RunnerStatus::Timeout
                | RunnerStatus::Error
        )
    );
    if !ended && ended_by == EndedBy::Itself {
        if connection_lost {
            let why = stream.broken.clone().unwrap_or(said);
            return broken(node, code, why);
        }
        // The worker itself ended without saying how (a crash on the node): an error of this
        // run; the node answered, so it stays in use.
        let why = stream.broken.clone().unwrap_or(said);
        let message = format!(
            "ansible-runner on node {node} ended without a final status (exit {}): {why}",
            code.map_or("by a signal".to_string(), |code| code.to_string())
        );
        return run_error(message, code);
    }
    if let Some(RunnerStatus::Error) = last {
        let explanation = stream
            .last
            .as_ref()
            .and_then(|line| line.job_explanation.clone())
            .unwrap_or_else(|| said.clone());
        let message = format!("ansible-runner on node {node}: {explanation}");
        return run_error(message, code);
    }
    let rc = stream.rc.or(code);
    let exit = match rc {
        Some(rc) => Exit::Code(rc),
        None => Exit::Signal(9),
    };
    let ended_by = match last {
        // The node's own job_timeout (set to the action's timeout).
        Some(RunnerStatus::Timeout) if ended_by == EndedBy::Itself => EndedBy::Timeout,
        _ => ended_by,
    };
    let said = format!("{}{stderr_tail}", stream.output_tail);
    let outcome = stream
        .transcript
        .outcome(&spec.item.server, exit, ended_by, &said);
    Verdict {
        outcome: crate::engine::runner::explain_become(outcome, &spec.item.server),
        rc,
        node_lost: None,
        note: None,
    }
}

/// The connection broke while the run may have been going on the node: what happened there is
/// unknown, and running it again could run two actions on one server at once.
fn broken(node: &str, code: Option<i32>, why: String) -> Verdict {
    let message = format!("the connection to node {node} broke during the run: {why}");
    Verdict {
        outcome: Outcome::Interrupted,
        rc: code,
        node_lost: Some((message.clone(), false)),
        note: Some(message),
    }
}

/// An error of this run, said in its log too; the node stays in use.
fn run_error(message: String, rc: Option<i32>) -> Verdict {
    Verdict {
        outcome: Outcome::Error {
            message: message.clone(),
        },
        rc,
        node_lost: None,
        note: Some(message),
    }
}
