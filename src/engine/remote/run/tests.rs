//! How a remote run's end is judged from what ssh and the stream said.

use super::reading::Streamed;
use super::verdict::judge;
use super::*;
use crate::engine::callback::ResultStatus;
use crate::engine::callback::{CallbackEvent, EndedBy};
use crate::engine::model::Action;
use crate::engine::remote::stream::{RunnerStatus, StatusLine};
use std::os::unix::process::ExitStatusExt;

fn spec() -> RemoteSpec {
    RemoteSpec {
        item: Item::requested(1, "web-01", Action::Deploy, chrono::Utc::now()),
        slot: 1,
        timeout: Duration::from_secs(60),
        cancel_grace: Duration::from_secs(5),
        log_dir: PathBuf::from("/nonexistent"),
        node: "exec-a".into(),
        ssh: SshNode {
            destination: "deploy@exec-a".into(),
            ssh_options: Vec::new(),
            worker: "ansible-runner".into(),
            work_dir: "/var/tmp/fleetdeck".into(),
            guard: "/var/tmp/fleetdeck/fleetdeck-guard".into(),
        },
        payload: PayloadCell::default(),
        ssh_key: None,
    }
}

fn exit(code: i32) -> Option<std::process::ExitStatus> {
    Some(std::process::ExitStatus::from_raw(code << 8))
}

fn status(status: RunnerStatus) -> StatusLine {
    StatusLine {
        status,
        rc: None,
        job_explanation: None,
        command: None,
    }
}

/// A stream that reached `running` and, if given, ended with `last`.
fn streamed(last: Option<RunnerStatus>, rc: Option<i32>) -> Streamed {
    Streamed {
        saw_status: true,
        last: Some(status(last.clone().unwrap_or(RunnerStatus::Running))),
        rc,
        ..Streamed::default()
    }
}

#[test]
fn ssh_failing_before_any_byte_loses_the_node_and_lets_the_run_go_elsewhere() {
    let verdict = judge(
        &spec(),
        exit(255),
        EndedBy::Itself,
        &Streamed::default(),
        "ssh: connect to host exec-a port 22: Connection refused",
        false,
    );
    let Outcome::Error { message } = &verdict.outcome else {
        panic!(
            "not the server's outcome, the node's: {:?}",
            verdict.outcome
        );
    };
    assert_eq!(
        message,
        "node exec-a could not be reached: ssh: connect to host exec-a port 22: Connection refused"
    );
    assert_eq!(verdict.node_lost, Some((message.clone(), true)));
}

#[test]
fn a_stream_that_broke_after_the_run_started_is_interrupted_and_not_moved() {
    let mut stream = streamed(None, None);
    stream.broken = Some("the stream broke in the middle of a line".into());
    let verdict = judge(&spec(), exit(255), EndedBy::Itself, &stream, "", false);
    assert_eq!(verdict.outcome, Outcome::Interrupted);
    let (message, before_start) = verdict.node_lost.expect("the node is lost");
    assert!(
        !before_start,
        "it reached the node: never run it again by itself"
    );
    assert!(
        message.contains("the connection to node exec-a broke during the run"),
        "{message}"
    );
}

#[test]
fn a_run_stopped_before_the_node_started_it_is_cancelled_and_the_node_is_not_blamed() {
    let verdict = judge(
        &spec(),
        exit(255),
        EndedBy::Cancel,
        &Streamed::default(),
        "",
        false,
    );
    assert_eq!(verdict.outcome, Outcome::Cancelled { during_task: None });
    assert_eq!(verdict.node_lost, None);
}

#[test]
fn a_missing_guard_says_how_to_install_it() {
    let verdict = judge(
        &spec(),
        exit(127),
        EndedBy::Itself,
        &Streamed::default(),
        "bash: line 1: /var/tmp/fleetdeck/fleetdeck-guard: No such file or directory",
        false,
    );
    let Outcome::Error { message } = verdict.outcome else {
        panic!("an error");
    };
    assert!(
        message.contains("fleetdeck node install exec-a"),
        "{message}"
    );
    assert_eq!(verdict.node_lost, None);
}

#[test]
fn runners_own_error_status_is_an_error_with_its_explanation() {
    let mut stream = streamed(Some(RunnerStatus::Error), None);
    stream.last.as_mut().unwrap().job_explanation =
        Some("Failed to extract private data directory".into());
    let verdict = judge(&spec(), exit(1), EndedBy::Itself, &stream, "", false);
    assert_eq!(
        verdict.outcome,
        Outcome::Error {
            message: "ansible-runner on node exec-a: Failed to extract private data directory"
                .into()
        }
    );
}

#[test]
fn a_finished_run_is_judged_from_its_events_and_the_artifacts_rc() {
    let mut stream = streamed(Some(RunnerStatus::Failed), Some(2));
    stream.transcript.record(&CallbackEvent::TaskStart {
        task: "Verify release checksum".into(),
        handler: false,
    });
    stream.transcript.record(&CallbackEvent::HostResult {
        host: "web-01".into(),
        task: "Verify release checksum".into(),
        status: ResultStatus::Failed,
        ignored: false,
        msg: "checksum mismatch".into(),
    });
    let verdict = judge(&spec(), exit(2), EndedBy::Itself, &stream, "", false);
    assert_eq!(
        verdict.outcome,
        Outcome::Failed {
            rc: Some(2),
            task: Some("Verify release checksum".into()),
            message: "checksum mismatch".into()
        }
    );
    assert_eq!(verdict.rc, Some(2));
    assert_eq!(verdict.node_lost, None);
    // Cancelled by the operator while running: the stop is what ended it.
    let verdict = judge(
        &spec(),
        exit(254),
        EndedBy::Cancel,
        &streamed(Some(RunnerStatus::Canceled), Some(254)),
        "",
        false,
    );
    assert!(
        matches!(verdict.outcome, Outcome::Cancelled { .. }),
        "{:?}",
        verdict.outcome
    );
}

#[test]
fn the_nodes_own_job_timeout_reads_as_a_timeout() {
    let verdict = judge(
        &spec(),
        exit(254),
        EndedBy::Itself,
        &streamed(Some(RunnerStatus::Timeout), Some(254)),
        "",
        false,
    );
    assert!(
        matches!(verdict.outcome, Outcome::TimedOut { .. }),
        "{:?}",
        verdict.outcome
    );
}

#[test]
fn ssh_failing_after_the_guard_accepted_the_run_is_interrupted_never_moved() {
    let verdict = judge(
        &spec(),
        exit(255),
        EndedBy::Itself,
        &Streamed::default(),
        "fleetdeck-guard: accepted run fd-1\nclient_loop: send disconnect: Broken pipe",
        true,
    );
    assert_eq!(verdict.outcome, Outcome::Interrupted);
    let (_, before_start) = verdict.node_lost.expect("the node is lost");
    assert!(!before_start, "the run may be going on the node");
}

#[test]
fn a_worker_that_ends_without_a_final_status_is_an_error_of_the_run_not_a_lost_node() {
    let verdict = judge(
        &spec(),
        exit(1),
        EndedBy::Itself,
        &streamed(None, None),
        "Traceback (most recent call last): ...",
        true,
    );
    let Outcome::Error { message } = &verdict.outcome else {
        panic!("{:?}", verdict.outcome);
    };
    assert!(
        message.starts_with("ansible-runner on node exec-a ended without a final status (exit 1)"),
        "{message}"
    );
    assert_eq!(
        verdict.node_lost, None,
        "the node answered: it stays in use"
    );
}
