//! ansible-runner worker streams recorded from real runs (tests/fixtures/runner/README.md) read
//! by the controller's `StreamReader` and mapped with `to_callback`: each must end with the same
//! outcome, recap, plugin events and log as the same play run locally through our plugin
//! (recorded beside it by the same script), and a broken or chopped stream must read safely.

use fleetdeck::engine::callback::{CallbackEvent, EndedBy, Exit, Transcript};
use fleetdeck::engine::model::{Outcome, Recap};
use fleetdeck::engine::remote::events::{JobEvent, log_text, to_callback};
use fleetdeck::engine::remote::stream::{Artifacts, Frame, RunnerStatus, StreamReader};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

struct Case {
    name: &'static str,
    host: &'static str,
    rc: i32,
    status: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "provision_handler",
        host: "web-01",
        rc: 0,
        status: "successful",
    },
    Case {
        name: "deploy_ok",
        host: "web-01",
        rc: 0,
        status: "successful",
    },
    Case {
        name: "deploy_failed",
        host: "db-02",
        rc: 2,
        status: "failed",
    },
    Case {
        name: "ignored",
        host: "web-01",
        rc: 0,
        status: "successful",
    },
    Case {
        name: "loop_item_fails",
        host: "web-01",
        rc: 2,
        status: "failed",
    },
    Case {
        name: "unreachable",
        host: "dead-01",
        rc: 4,
        status: "failed",
    },
    Case {
        name: "loop_unreachable",
        host: "dead-01",
        rc: 4,
        status: "failed",
    },
    Case {
        name: "no_hosts",
        host: "nosuchhost",
        rc: 1,
        status: "failed",
    },
    Case {
        name: "bad_playbook",
        host: "web-01",
        rc: 1,
        status: "failed",
    },
];

fn fixture(file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runner")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn fixture_text(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runner")
        .join(file);
    if !path.exists() {
        return String::new();
    }
    String::from_utf8(fixture(file)).expect("UTF-8")
}

/// Hands out the input 1..=7 bytes at a time (the sizes cycling), so frames, lines and the
/// base64 zip are cut at arbitrary places.
struct Dribble<'a> {
    data: &'a [u8],
    sizes: std::iter::Cycle<std::ops::RangeInclusive<usize>>,
}

impl<'a> Dribble<'a> {
    fn new(data: &'a [u8], largest: usize) -> Dribble<'a> {
        Dribble {
            data,
            sizes: (1..=largest).cycle(),
        }
    }
}

impl AsyncRead for Dribble<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let size = self.sizes.next().unwrap_or(1);
        let n = size.min(self.data.len()).min(buf.remaining());
        let (head, rest) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

async fn read_all<R: AsyncRead + Unpin>(input: R) -> anyhow::Result<(Vec<Frame>, u64)> {
    let mut reader = StreamReader::new(input);
    let mut frames = Vec::new();
    while let Some(frame) = reader.next().await? {
        frames.push(frame);
    }
    Ok((frames, reader.bytes_read()))
}

fn events(frames: &[Frame]) -> Vec<&JobEvent> {
    frames
        .iter()
        .filter_map(|frame| match frame {
            Frame::Event(event) => Some(&**event),
            _ => None,
        })
        .collect()
}

/// runner's log of the run: each event's text, a newline after each.
fn remote_log(frames: &[Frame]) -> String {
    events(frames)
        .into_iter()
        .filter_map(log_text)
        .map(|text| format!("{text}\n"))
        .collect()
}

fn local_events(case: &Case) -> Vec<CallbackEvent> {
    let stream = fixture(&format!("{}.local.jsonl", case.name));
    stream
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| CallbackEvent::parse(line).expect("a plugin event"))
        .collect()
}

fn fold(events: &[CallbackEvent]) -> Transcript {
    let mut transcript = Transcript::default();
    for event in events {
        transcript.record(event);
    }
    transcript
}

/// What ansible printed for each case, written by hand.
fn expected(case: &Case) -> (Outcome, Option<Recap>) {
    let recap = |ok, changed, failed, unreachable, skipped, ignored| {
        Some(Recap {
            ok,
            changed,
            failed,
            unreachable,
            skipped,
            rescued: 0,
            ignored,
        })
    };
    let failed = |rc, task: Option<&str>, message: &str| Outcome::Failed {
        rc: Some(rc),
        task: task.map(str::to_string),
        message: message.to_string(),
    };
    let refused = "Task failed: Failed to connect to the host via ssh: ssh: connect to host \
                   127.0.0.1 port 1: Connection refused";
    match case.name {
        "provision_handler" => (Outcome::Succeeded, recap(5, 4, 0, 0, 0, 0)),
        "deploy_ok" => (Outcome::Succeeded, recap(5, 4, 0, 0, 2, 0)),
        "deploy_failed" => (
            failed(
                2,
                Some("Verify release checksum"),
                "checksum mismatch for release 1.4.2 on db-02 (demo_fail_deploy is set)",
            ),
            recap(4, 3, 1, 0, 1, 0),
        ),
        "ignored" => (Outcome::Succeeded, recap(2, 1, 0, 0, 0, 1)),
        "loop_item_fails" => (
            failed(
                2,
                Some("Check each package"),
                "non-zero return code (rc=3): package broken is broken",
            ),
            recap(0, 0, 1, 0, 0, 0),
        ),
        "unreachable" | "loop_unreachable" => (
            Outcome::Unreachable {
                message: refused.to_string(),
            },
            recap(0, 0, 0, 1, 0, 0),
        ),
        "no_hosts" => (
            failed(
                1,
                None,
                "[ERROR]: Specified inventory, host pattern and/or --limit leaves us with no hosts to target.",
            ),
            None,
        ),
        "bad_playbook" => (
            failed(
                1,
                None,
                "[ERROR]: the playbook: nosuch.yml could not be found",
            ),
            None,
        ),
        other => panic!("no expectation for {other}"),
    }
}

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

/// The two runs happened at different times: a failed command's printed result says when.
fn without_times(text: &str) -> String {
    let mut text = text.to_string();
    for key in ["\"start\": \"", "\"end\": \"", "\"delta\": \""] {
        let mut from = 0;
        while let Some(at) = text[from..].find(key) {
            let value = from + at + key.len();
            let end = value + text[value..].find('"').unwrap_or(0);
            text.replace_range(value..end, "…");
            from = value;
        }
    }
    text
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
