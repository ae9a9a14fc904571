//! ansible-runner worker streams recorded from real runs (tests/fixtures/runner/README.md) read
//! by the controller's `StreamReader` and mapped with `to_callback`: each must end with the same
//! outcome, recap, plugin events and log as the same play run locally through our plugin
//! (recorded beside it by the same script), and a broken or chopped stream must read safely.

mod cases;
mod support;

use cases::{CASES, expected};
use fleetdeck::engine::callback::{CallbackEvent, EndedBy, Exit};
use fleetdeck::engine::remote::events::to_callback;
use fleetdeck::engine::remote::stream::{Artifacts, Frame, RunnerStatus};
use support::*;

#[tokio::test]
async fn each_recorded_stream_reads_as_status_events_artifacts_and_eof() {
    for case in CASES {
        let stream = fixture(&format!("{}.jsonl", case.name));
        let (frames, bytes) = read_all(&stream[..]).await.expect(case.name);
        assert_eq!(bytes, stream.len() as u64, "{}", case.name);
        let statuses: Vec<&RunnerStatus> = frames
            .iter()
            .filter_map(|frame| match frame {
                Frame::Status(line) => Some(&line.status),
                _ => None,
            })
            .collect();
        let last = match case.status {
            "successful" => RunnerStatus::Successful,
            _ => RunnerStatus::Failed,
        };
        assert_eq!(
            statuses,
            [&RunnerStatus::Starting, &RunnerStatus::Running, &last],
            "{}",
            case.name
        );
        let tail = &frames[frames.len() - 2..];
        assert_eq!(
            tail,
            [
                Frame::Artifacts(Artifacts {
                    rc: Some(case.rc),
                    status: Some(case.status.to_string())
                }),
                Frame::Eof
            ],
            "{}",
            case.name
        );
        assert!(!events(&frames).is_empty(), "{}", case.name);
    }
}

#[tokio::test]
async fn a_remote_run_ends_as_the_same_play_run_locally() {
    for case in CASES {
        let (frames, _) = read_all(&fixture(&format!("{}.jsonl", case.name))[..])
            .await
            .expect(case.name);
        let remote: Vec<CallbackEvent> = events(&frames)
            .into_iter()
            .filter_map(to_callback)
            .collect();
        let local = local_events(case);
        // The plugin's events, one for one: tasks, handlers, results with their messages, stats.
        assert_eq!(remote, local, "{}", case.name);

        // runner drives ansible through a pty, so its stderr is in the log: its last line is
        // what the local run's stderr tail says.
        let log = remote_log(&frames);
        let rc = frames.iter().find_map(|frame| match frame {
            Frame::Artifacts(artifacts) => artifacts.rc,
            _ => None,
        });
        let remote_outcome = fold(&remote).outcome(
            case.host,
            Exit::Code(rc.expect("an rc")),
            EndedBy::Itself,
            &log,
        );
        let local_stderr = fixture_text(&format!("{}.local.stderr", case.name));
        let local_outcome = fold(&local).outcome(
            case.host,
            Exit::Code(case.rc),
            EndedBy::Itself,
            &local_stderr,
        );
        let (outcome, recap) = expected(case);
        assert_eq!(remote_outcome, outcome, "{}", case.name);
        assert_eq!(local_outcome, outcome, "{}", case.name);
        assert_eq!(fold(&remote).recap(case.host), recap, "{}", case.name);
    }
}

#[tokio::test]
async fn a_handler_and_loop_items_map_as_the_plugin_writes_them() {
    let (frames, _) = read_all(&fixture("provision_handler.jsonl")[..])
        .await
        .expect("frames");
    let remote: Vec<CallbackEvent> = events(&frames)
        .into_iter()
        .filter_map(to_callback)
        .collect();
    assert!(remote.contains(&CallbackEvent::TaskStart {
        task: "Reload app config".into(),
        handler: true
    }));
    assert!(remote.contains(&CallbackEvent::TaskStart {
        task: "Write app config".into(),
        handler: false
    }));
    // Four loop items, each an event the transcript does not fold.
    assert_eq!(
        remote
            .iter()
            .filter(|e| **e == CallbackEvent::Other)
            .count(),
        4
    );
}

/// The run's log reads like a local run's output: ansible's own lines, LF line ends, and the
/// warnings a local run prints on stderr in their place.
#[tokio::test]
async fn the_log_of_a_remote_run_is_what_ansible_printed_locally() {
    for case in CASES {
        let (frames, _) = read_all(&fixture(&format!("{}.jsonl", case.name))[..])
            .await
            .expect(case.name);
        let log = remote_log(&frames);
        assert!(!log.contains('\r'), "{}", case.name);
        let local = fixture_text(&format!("{}.local.stderr", case.name))
            + &fixture_text(&format!("{}.local.stdout", case.name));
        // ansible ends its output with a blank line after the recap, which no event carries.
        let (log, local) = (without_times(&log), without_times(&local));
        assert_eq!(
            log.trim_end_matches('\n'),
            local.trim_end_matches('\n'),
            "{}",
            case.name
        );
    }
}

#[tokio::test]
async fn frames_cut_anywhere_by_the_transport_read_the_same() {
    for case in CASES {
        let stream = fixture(&format!("{}.jsonl", case.name));
        let (whole, _) = read_all(&stream[..]).await.expect(case.name);
        for largest in [1, 7] {
            let (dribbled, bytes) = read_all(Dribble::new(&stream, largest))
                .await
                .expect(case.name);
            assert_eq!(dribbled, whole, "{} in pieces of 1..={largest}", case.name);
            assert_eq!(bytes, stream.len() as u64);
        }
    }
}

#[tokio::test]
async fn a_stream_cut_mid_line_or_mid_zip_is_an_error_and_at_a_line_end_a_clean_end() {
    let stream = fixture("deploy_failed.jsonl");
    let zip_line = find(&stream, b"{\"zipfile\"").expect("a zip frame");
    let zip_start = zip_line + find(&stream[zip_line..], b"\n").expect("its line") + 1;
    let mut line_ends: Vec<usize> = stream
        .iter()
        .enumerate()
        .filter(|(at, b)| **b == b'\n' && *at < zip_line)
        .map(|(at, _)| at + 1)
        .collect();
    line_ends.push(0);
    for cut in line_ends.iter().copied() {
        let (frames, bytes) = read_all(&stream[..cut]).await.expect("a clean end");
        assert_eq!(bytes, cut as u64);
        assert!(!frames.contains(&Frame::Eof), "cut at {cut}");
    }
    let mid_lines = line_ends.windows(2).map(|w| (w[0] + w[1]) / 2);
    let mid_zip = [zip_start + 1, zip_start + 100, stream.len() - 20];
    for cut in mid_lines.chain(mid_zip) {
        let err = read_all(&stream[..cut]).await.expect_err("a broken stream");
        assert!(
            format!("{err:#}").contains("broke"),
            "cut at {cut}: {err:#}"
        );
    }
}

#[tokio::test]
async fn keepalives_between_frames_change_nothing() {
    let stream = fixture("ignored.jsonl");
    let (whole, _) = read_all(&stream[..]).await.expect("frames");
    let keepalive = b"{\"event\": \"keepalive\", \"counter\": 0, \"uuid\": 0}\n";
    let mut with_keepalives = keepalive.to_vec();
    let zip_line = find(&stream, b"{\"zipfile\"").expect("a zip frame");
    for line in stream[..zip_line].split_inclusive(|b| *b == b'\n') {
        with_keepalives.extend_from_slice(line);
        with_keepalives.extend_from_slice(keepalive);
    }
    with_keepalives.extend_from_slice(&stream[zip_line..]);
    let (read, _) = read_all(&with_keepalives[..]).await.expect("frames");
    assert_eq!(read, whole);
}

#[tokio::test]
async fn the_workers_env_is_never_kept() {
    let stream = String::from_utf8(fixture("deploy_ok.jsonl")).expect("text");
    let (first, rest) = stream.split_once('\n').expect("a first line");
    let mut starting: serde_json::Value = serde_json::from_str(first).expect("JSON");
    starting["env"] = serde_json::json!({"SECRET_TOKEN": "vault-pass-8c1f", "PATH": "/usr/bin"});
    let with_env = format!("{starting}\n{rest}");
    let (frames, _) = read_all(with_env.as_bytes()).await.expect("frames");
    let seen = format!("{frames:?}");
    assert!(!seen.contains("vault-pass-8c1f") && !seen.contains("SECRET_TOKEN"));
    assert!(matches!(&frames[0], Frame::Status(line) if line.command.is_some()));
}
