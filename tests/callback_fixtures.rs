//! The callback event parser against real transcripts recorded from ansible-core with our plugin
//! (see tests/fixtures/events/README.md).

use fleetdeck::engine::callback::{CallbackEvent, EndedBy, Exit, Transcript};
use fleetdeck::engine::model::{Outcome, Recap};
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/events")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Every line of a recorded stream parses; folded into one transcript.
fn transcript(name: &str) -> Transcript {
    fold(&fixture(name), true)
}

fn fold(stream: &[u8], all_must_parse: bool) -> Transcript {
    let mut transcript = Transcript::default();
    for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match CallbackEvent::parse(line) {
            Some(event) => transcript.record(&event),
            None if all_must_parse => {
                panic!("unparsed line: {}", String::from_utf8_lossy(line))
            }
            None => {}
        }
    }
    transcript
}

#[test]
fn deploy_ok_succeeds_with_the_recorded_recap() {
    let t = transcript("deploy_ok.jsonl");
    assert!(t.events_seen);
    assert_eq!(
        t.outcome("web-01", Exit::Code(0), EndedBy::Itself, ""),
        Outcome::Succeeded
    );
    assert_eq!(
        t.recap("web-01"),
        Some(Recap {
            ok: 5,
            changed: 4,
            failed: 0,
            unreachable: 0,
            skipped: 2,
            rescued: 0,
            ignored: 0,
        })
    );
    assert_eq!(t.current_task.as_deref(), Some("Switch current to release"));
}

#[test]
fn deploy_failed_names_the_task_and_the_reason() {
    let t = transcript("deploy_failed.jsonl");
    match t.outcome("db-02", Exit::Code(2), EndedBy::Itself, "") {
        Outcome::Failed { rc, task, message } => {
            assert_eq!(rc, Some(2));
            assert_eq!(task.as_deref(), Some("Verify release checksum"));
            assert!(message.contains("checksum mismatch"), "{message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(
        t.recap("db-02"),
        Some(Recap {
            ok: 4,
            changed: 3,
            failed: 1,
            unreachable: 0,
            skipped: 1,
            rescued: 0,
            ignored: 0,
        })
    );
}

#[test]
fn check_failed_is_a_failure() {
    let t = transcript("check_failed.jsonl");
    match t.outcome("web-02", Exit::Code(2), EndedBy::Itself, "") {
        Outcome::Failed { rc, task, message } => {
            assert_eq!(rc, Some(2));
            assert_eq!(task.as_deref(), Some("Require a deployed release"));
            assert!(message.contains("no deployed release"), "{message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(t.recap("web-02").map(|r| r.failed), Some(1));
}

#[test]
fn check_unreachable_is_unreachable() {
    let t = transcript("check_unreachable.jsonl");
    match t.outcome("dead-01", Exit::Code(4), EndedBy::Itself, "") {
        Outcome::Unreachable { message } => {
            assert!(message.contains("Connection refused"), "{message}")
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert_eq!(t.recap("dead-01").map(|r| r.unreachable), Some(1));
}

/// A loop's result for an unreachable host is ansible's summary, "All items completed": the
/// reason is its items', and the first one's is what the operator reads.
#[test]
fn an_unreachable_host_in_a_loop_says_why_not_all_items_completed() {
    let t = transcript("loop_unreachable.jsonl");
    match t.outcome("dead-01", Exit::Code(4), EndedBy::Itself, "") {
        Outcome::Unreachable { message } => {
            assert!(
                message.contains("Failed to connect to the host via ssh"),
                "{message}"
            );
            assert!(message.contains("Connection refused"), "{message}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert_eq!(t.recap("dead-01").map(|r| r.unreachable), Some(1));
}

#[test]
fn cancelled_run_without_stats_names_the_last_task() {
    // A run interrupted during "Install release": the stream up to that task, no stats.
    let full = fixture("deploy_ok.jsonl");
    let lines: Vec<&[u8]> = full.split_inclusive(|b| *b == b'\n').collect();
    let install = lines
        .iter()
        .position(|line| {
            let text = String::from_utf8_lossy(line);
            text.contains("\"task_start\"") && text.contains("\"Install release\"")
        })
        .expect("the fixture starts Install release");
    let cut = lines[..=install].concat();
    let t = fold(&cut, true);
    assert_eq!(t.recap("web-01"), None, "no stats in a cancelled run");
    assert_eq!(
        t.outcome("web-01", Exit::Code(99), EndedBy::Cancel, ""),
        Outcome::Cancelled {
            during_task: Some("Install release".to_string())
        }
    );
    // ansible's own rc 99 means the same even when fleetdeck did not ask for it.
    assert_eq!(
        t.outcome("web-01", Exit::Code(99), EndedBy::Itself, ""),
        Outcome::Cancelled {
            during_task: Some("Install release".to_string())
        }
    );
}

#[test]
fn unknown_events_are_ignored_and_garbage_is_not_an_event() {
    let other = br#"{"event": "runner_retry", "ts": 1, "host": "web-01", "attempt": 2}"#;
    assert_eq!(CallbackEvent::parse(other), Some(CallbackEvent::Other));
    let future = br#"{"event": "something_new", "ts": 1, "whatever": [1, 2]}"#;
    assert_eq!(CallbackEvent::parse(future), Some(CallbackEvent::Other));
    for garbage in [
        &b"not json at all"[..],
        b"",
        b"{\"event\": \"task_start\"",
        b"{\"no_event\": 1}",
        b"\xff\xfe",
    ] {
        assert_eq!(
            CallbackEvent::parse(garbage),
            None,
            "{}",
            String::from_utf8_lossy(garbage)
        );
    }

    // Mixed into a real stream, neither changes the outcome.
    let mut stream = fixture("deploy_failed.jsonl");
    stream.extend_from_slice(b"garbage line\n");
    stream.extend_from_slice(future);
    stream.push(b'\n');
    let t = fold(&stream, false);
    assert!(matches!(
        t.outcome("db-02", Exit::Code(2), EndedBy::Itself, ""),
        Outcome::Failed { task: Some(task), .. } if task == "Verify release checksum"
    ));
}

#[test]
fn rc_0_without_the_host_in_stats_is_no_hosts_matched() {
    let t = transcript("deploy_ok.jsonl");
    match t.outcome("web-99", Exit::Code(0), EndedBy::Itself, "") {
        Outcome::Failed { rc, task, message } => {
            assert_eq!(rc, Some(0));
            assert_eq!(task, None);
            assert!(message.contains("no hosts matched"), "{message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(t.recap("web-99"), None);
}
