//! The node guard (`assets/node/fleetdeck-guard.py`) run here as a subprocess, as ssh would run
//! it on a node: fed `header + ansible-runner transmit`'s real stream, cancelled with control
//! lines or by a controller that goes away, and probed for its worker and dead runs.

mod common;

use common::{REPO, ansible_runner, guard_script};
use fleetdeck::engine::remote::guard::{self, Control};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const GRACE: Duration = Duration::from_secs(2);
/// Set in the guard's environment: every process of the run inherits it, orphans included.
const MARK: &str = "FLEETDECK_GUARD_TEST";

const HOSTS: &str = "all:\n  hosts:\n    h:\n      ansible_connection: local\n";
const SLOW: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: warm up\n      command: \"true\"\n    - name: long sleep\n      command: sleep 60\n";

/// A private data dir on the "controller" and a work dir on the "node", both temporary.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Node {
        let node = Node {
            dir: tempfile::tempdir().unwrap(),
        };
        let python = Path::new(REPO).join(".venv/bin/python3");
        node.write(
            "pdd/inventory/hosts.yml",
            &format!(
                "{HOSTS}      ansible_python_interpreter: {}\n",
                python.display()
            ),
        );
        node.write("pdd/project/slow.yml", SLOW);
        node.write(
            "pdd/project/ok.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: \"true\"\n",
        );
        node.write(
            "pdd/project/fail.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: \"false\"\n",
        );
        node
    }

    fn write(&self, relative: &str, content: &str) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn run_dir(&self) -> PathBuf {
        self.work_dir().join("fd-run")
    }

    /// What the controller sends: the header, then the real transmit stream of `play` on h.
    fn input(&self, play: &str) -> Vec<u8> {
        let out = Command::new(ansible_runner())
            .arg("transmit")
            .arg(self.dir.path().join("pdd"))
            .args(["-p", play, "--limit", "h"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "transmit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut input = guard::header(out.stdout.len());
        input.extend_from_slice(&out.stdout);
        input
    }

    /// The guard running `play` in the run dir, its input written and its stdin left open.
    fn start(&self, play: &str, mark: &str) -> Running {
        self.start_with(&self.input(play), mark)
    }

    fn start_with(&self, input: &[u8], mark: &str) -> Running {
        self.start_with_options(input, mark, &[])
    }

    /// As `start_with`, with more options for `guard run`.
    fn start_with_options(&self, input: &[u8], mark: &str, options: &[&str]) -> Running {
        let dir = self.run_dir();
        let mut argv = guard::run_argv(
            guard_script().to_str().unwrap(),
            ansible_runner().to_str().unwrap(),
            dir.to_str().unwrap(),
            GRACE,
        );
        argv.extend(options.iter().map(|option| option.to_string()));
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .env(MARK, mark)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Running {
            child,
            stdin: Some(stdin),
            stdout: Some(stdout),
            mark: mark.to_string(),
            stream: Vec::new(),
            rc: None,
        }
    }

    fn assert_run_dir_gone(&self) {
        let dir = self.run_dir();
        assert!(!dir.exists(), "{} was left behind", dir.display());
        let lock = dir.with_extension("lock");
        assert!(!lock.exists(), "{} was left behind", lock.display());
    }
}

struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
    mark: String,
    stream: Vec<serde_json::Value>,
    /// The rc in the artifacts at the stream's end.
    rc: Option<i64>,
}

/// The `rc` file of the artifacts' zip, as ansible-runner's `process` would read it.
fn artifacts_rc(base64: &[u8]) -> i64 {
    use base64::Engine;
    let zip = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let rc = std::io::read_to_string(archive.by_name("rc").unwrap()).unwrap();
    rc.trim().parse().unwrap()
}

impl Running {
    /// Reads the worker's stream up to (and including) the first line for which `wanted` holds;
    /// the artifacts' zip is decoded on the way for its `rc`.
    fn read_until(&mut self, wanted: impl Fn(&serde_json::Value) -> bool) {
        let stdout = self.stdout.as_mut().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                return;
            }
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line:?}"));
            if let Some(len) = value["zipfile"].as_u64() {
                let mut base64 = vec![0; 4 * (len as usize).div_ceil(3)];
                stdout.read_exact(&mut base64).unwrap();
                self.rc = Some(artifacts_rc(&base64));
            }
            let done = wanted(&value);
            self.stream.push(value);
            if done {
                return;
            }
        }
    }

    /// Every line of the stream, from its start.
    fn read_to_end(&mut self) -> Vec<serde_json::Value> {
        self.read_until(|_| false);
        self.stream.clone()
    }

    /// Waits until the sleep task's process runs, which proves the mark finds the run's processes.
    fn sleep_started(&mut self) {
        let is_sleep = |event: &serde_json::Value| {
            event["event"] == "runner_on_start" && event["event_data"]["task"] == "long sleep"
        };
        self.read_until(is_sleep);
        assert!(
            self.stream.last().is_some_and(is_sleep),
            "the stream ended before the sleep task started: {:?}",
            statuses(&self.stream)
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !marked(&self.mark)
            .iter()
            .any(|(_, argv)| argv.starts_with("sleep 60"))
        {
            assert!(
                Instant::now() < deadline,
                "the sleep never started: {:?}",
                marked(&self.mark)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, control: Control) {
        self.stdin
            .as_mut()
            .unwrap()
            .write_all(control.line())
            .unwrap();
    }

    fn wait(&mut self) -> ExitStatus {
        self.stdin = None;
        self.child.wait().unwrap()
    }
}

fn statuses(stream: &[serde_json::Value]) -> Vec<String> {
    stream
        .iter()
        .filter_map(|line| line["status"].as_str().map(String::from))
        .collect()
}

/// (pid, argv) of every process whose environment holds MARK=mark.
fn marked(mark: &str) -> Vec<(i32, String)> {
    let wanted = format!("{MARK}={mark}");
    common::all_pids()
        .into_iter()
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            environ
                .split(|byte| *byte == 0)
                .any(|var| var == wanted.as_bytes())
        })
        .filter(|pid| common::stat_of(*pid).is_some_and(|stat| !stat.zombie))
        .map(|pid| {
            let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            (pid, String::from_utf8_lossy(&argv).replace('\0', " "))
        })
        .collect()
}

/// How long until no process of the run is left; fails after `limit`.
fn all_gone_within(mark: &str, since: Instant, limit: Duration) -> Duration {
    loop {
        let left = marked(mark);
        if left.is_empty() {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "still running after {limit:?}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_run_streams_its_events_and_exits_with_the_plays_code_leaving_nothing() {
    let node = Node::new();
    let mut run = node.start("ok.yml", "ok");
    let stream = run.read_to_end();
    assert_eq!(statuses(&stream), ["starting", "running", "successful"]);
    assert_eq!(run.rc, Some(0), "the artifacts' rc");
    assert!(
        stream
            .iter()
            .any(|line| line["event"] == "playbook_on_stats")
    );
    assert_eq!(run.wait().code(), Some(0));
    node.assert_run_dir_gone();
    assert_eq!(marked("ok"), []);
}

#[test]
fn a_failing_play_gives_its_code_and_leaves_nothing() {
    let node = Node::new();
    let mut run = node.start("fail.yml", "fail");
    let stream = run.read_to_end();
    assert_eq!(statuses(&stream).last().unwrap(), "failed");
    assert_eq!(run.rc, Some(2), "the artifacts' rc");
    assert_eq!(run.wait().code(), Some(2));
    node.assert_run_dir_gone();
}

/// The controller dies mid-run: its end of stdin closes and nobody reads the stream any more.
#[test]
fn a_controller_that_goes_away_mid_run_ends_every_process_within_the_grace() {
    let node = Node::new();
    let mut run = node.start("slow.yml", "hangup");
    run.sleep_started();
    let since = Instant::now();
    run.stdin = None;
    run.stdout = None;
    let took = all_gone_within("hangup", since, GRACE + Duration::from_secs(3));
    eprintln!("hang-up: no process left after {took:?}");
    run.wait();
    node.assert_run_dir_gone();
}

/// As when the network is cut without any side closing: stdin stays open and its reader is
/// there, but no byte (not even a `PING`) comes from the controller any more.
#[test]
fn a_controller_that_falls_silent_is_taken_as_gone() {
    let node = Node::new();
    let mut run = node.start_with_options(&node.input("slow.yml"), "silent", &["--silence", "3"]);
    // The controller is alive (it pings) until the play is well under way: 3 s of silence
    // counts from the start, and starting the worker can take longer than that on a busy box.
    let mut stdin = run.stdin.take().unwrap();
    let (quiet, told) = std::sync::mpsc::channel::<()>();
    let pinger = std::thread::spawn(move || {
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
            told.recv_timeout(Duration::from_millis(500))
        {
            if stdin.write_all(Control::Ping.line()).is_err() {
                break;
            }
        }
        stdin
    });
    run.sleep_started();
    quiet.send(()).unwrap();
    // Falls silent now, its stdin still open.
    run.stdin = Some(pinger.join().unwrap());
    let since = Instant::now();
    let took = all_gone_within(
        "silent",
        since,
        Duration::from_secs(3) + GRACE + Duration::from_secs(3),
    );
    eprintln!("silence: no process left after {took:?}");
    run.stdin = None;
    run.wait();
    node.assert_run_dir_gone();
}

/// As when ssh's channel breaks while the guard's stdin is not yet at EOF: only the reader of
/// its stdout is gone.
#[test]
fn a_stream_nobody_reads_any_more_ends_the_run_within_the_grace() {
    let node = Node::new();
    let mut run = node.start("slow.yml", "reader-gone");
    run.sleep_started();
    let since = Instant::now();
    run.stdout = None;
    let took = all_gone_within("reader-gone", since, GRACE + Duration::from_secs(3));
    eprintln!("reader gone: no process left after {took:?}");
    run.wait();
    node.assert_run_dir_gone();
}

#[test]
fn terminate_cancels_the_run_and_leaves_no_process() {
    let node = Node::new();
    let mut run = node.start("slow.yml", "term");
    run.sleep_started();
    let since = Instant::now();
    run.send(Control::Terminate);
    let stream = run.read_to_end();
    assert_eq!(statuses(&stream).last().unwrap(), "canceled");
    run.wait();
    let took = all_gone_within("term", since, GRACE + Duration::from_secs(3));
    eprintln!("TERM: no process left after {took:?}");
    node.assert_run_dir_gone();
}

#[test]
fn kill_ends_the_run_at_once_and_leaves_no_process() {
    let node = Node::new();
    let mut run = node.start("slow.yml", "kill");
    run.sleep_started();
    let since = Instant::now();
    run.send(Control::Kill);
    let stream = run.read_to_end();
    assert_eq!(
        statuses(&stream),
        ["starting", "running"],
        "no final status"
    );
    assert_eq!(run.rc, None, "no artifacts");
    assert_eq!(run.wait().code(), Some(128 + 9));
    let took = all_gone_within("kill", since, GRACE + Duration::from_secs(3));
    eprintln!("KILL: no process left after {took:?}");
    node.assert_run_dir_gone();
}

#[test]
fn interrupt_ends_the_run_and_leaves_no_process() {
    let node = Node::new();
    let mut run = node.start("slow.yml", "int");
    run.sleep_started();
    let since = Instant::now();
    run.send(Control::Interrupt);
    let stream = run.read_to_end();
    let status = run.wait();
    let took = all_gone_within("int", since, GRACE + Duration::from_secs(3));
    eprintln!(
        "INT: statuses {:?}, exit {status}, no process left after {took:?}",
        statuses(&stream)
    );
    assert_ne!(status.code(), Some(0));
    node.assert_run_dir_gone();
}

#[test]
fn a_controller_gone_before_the_whole_payload_arrived_leaves_nothing() {
    let node = Node::new();
    let input = node.input("slow.yml");
    let mut run = node.start_with(&input[..input.len() / 2], "half");
    let since = Instant::now();
    run.stdin = None;
    let stream = run.read_to_end();
    assert!(
        !statuses(&stream).contains(&"running".to_string()),
        "{stream:?}"
    );
    assert_ne!(run.wait().code(), Some(0));
    all_gone_within("half", since, GRACE + Duration::from_secs(3));
    node.assert_run_dir_gone();
}

/// Another fleetdeck's probe of the same node while this run is alive.
#[test]
fn a_probe_keeps_a_live_runs_dir() {
    let node = Node::new();
    let mut run = node.start("slow.yml", "probed");
    run.sleep_started();
    let argv = guard::probe_argv(
        guard_script().to_str().unwrap(),
        ansible_runner().to_str().unwrap(),
        node.work_dir().to_str().unwrap(),
    );
    let out = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
    let report = guard::parse_probe(&out.stdout).unwrap();
    assert_eq!(report.cleaned, Vec::<String>::new());
    assert!(node.run_dir().join("project/slow.yml").exists());
    run.send(Control::Kill);
    run.read_to_end();
    run.wait();
    all_gone_within("probed", Instant::now(), GRACE + Duration::from_secs(3));
    node.assert_run_dir_gone();
}

#[test]
fn a_bad_header_starts_nothing() {
    let node = Node::new();
    let mut child = Command::new(guard_script())
        .args(["run", "--worker"])
        .arg(ansible_runner())
        .arg("--dir")
        .arg(node.run_dir())
        .args(["--grace", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"fleetdeck-guard 0 12\n{}")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(out.stdout, b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad header"));
    node.assert_run_dir_gone();
}

#[test]
fn the_guard_prints_its_protocol_version() {
    let out = Command::new(guard_script())
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("fleetdeck-guard {}\n", guard::VERSION)
    );
}
