//! The node-side guard fleetdeck ships (`assets/node/fleetdeck-guard.py`) and its protocol.
//!
//! The controller runs `guard run …` over ssh, writes [`header`] and the transmit stream to its
//! stdin, keeps stdin open for the run's whole life (EOF means "the controller is gone") and
//! reads the worker's event stream from its stdout. Cancels are [`Control`] lines on the same
//! stdin. `guard probe …` reports the node's ansible-runner and cleans what crashed runs left.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::time::Duration;

/// The guard's source, copied to each node by `fleetdeck node install`.
pub const SOURCE: &str = include_str!("../../../assets/node/fleetdeck-guard.py");

/// The guard protocol's version, printed by `fleetdeck-guard --version` and sent in [`header`].
pub const VERSION: &str = "2";

/// The first line of a run's stdin: the guard hands exactly `payload_len` bytes after it to the
/// worker, and reads control lines after them.
pub fn header(payload_len: usize) -> Vec<u8> {
    format!("fleetdeck-guard {VERSION} {payload_len}\n").into_bytes()
}

/// fleetdeck's INT → TERM → KILL, as lines on the guard's stdin after the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// SIGINT to the run's ansible-playbook: ansible stops after its own cleanup.
    Interrupt,
    /// SIGTERM to the worker (status `canceled`) and every other process of the run.
    Terminate,
    /// SIGKILL to every process of the run.
    Kill,
    /// Nothing: "still here". A guard that hears nothing for `SILENCE` hangs up, since a
    /// connection can die without closing (a cut cable, a dropped firewall state).
    Ping,
}

/// How often the controller says [`Control::Ping`].
pub const PING_EVERY: Duration = Duration::from_secs(5);
/// How long the guard waits without a byte from the controller before it ends the run.
pub const SILENCE: Duration = Duration::from_secs(20);

/// What the guard says on stderr once a run is its own: from then on, the run may have
/// started on the node, so it is never moved to another node.
pub const ACCEPTED: &str = "fleetdeck-guard: accepted run";

impl Control {
    pub fn line(self) -> &'static [u8] {
        match self {
            Control::Interrupt => b"INT\n",
            Control::Terminate => b"TERM\n",
            Control::Kill => b"KILL\n",
            Control::Ping => b"PING\n",
        }
    }
}

/// The remote command of one run (the caller quotes it for ssh). `grace` bounds how long the
/// guard waits, once the controller is gone, before it SIGKILLs what is left of the run.
pub fn run_argv(guard: &str, worker: &str, run_dir: &str, grace: Duration) -> Vec<String> {
    [
        guard,
        "run",
        "--worker",
        worker,
        "--dir",
        run_dir,
        "--grace",
        &grace.as_secs_f64().to_string(),
    ]
    .map(String::from)
    .to_vec()
}

/// The remote command that reports a node's ansible-runner and cleans its dead runs.
pub fn probe_argv(guard: &str, worker: &str, work_dir: &str) -> Vec<String> {
    [guard, "probe", "--worker", worker, "--work-dir", work_dir]
        .map(String::from)
        .to_vec()
}

/// What `guard probe` printed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ProbeReport {
    /// The guard's protocol version on the node.
    pub guard: String,
    /// `ansible-runner worker --worker-info` as printed (a YAML flow mapping).
    pub worker_info: String,
    /// Why the worker could not tell its info; empty when it could.
    pub worker_error: String,
    /// Dirs and lock files of dead runs that the probe removed.
    pub cleaned: Vec<String>,
}

#[derive(Deserialize)]
struct WorkerInfo {
    runner_version: String,
}

impl ProbeReport {
    /// The node's ansible-runner version, when its worker answered.
    pub fn runner_version(&self) -> anyhow::Result<String> {
        if !self.worker_error.is_empty() {
            bail!("{}", self.worker_error);
        }
        let info: WorkerInfo = serde_yaml_ng::from_str(&self.worker_info)
            .with_context(|| format!("reading worker info {:?}", self.worker_info.trim()))?;
        Ok(info.runner_version)
    }
}

/// Reads the probe's JSON line. A login shell may print before it, so the last line that
/// opens a JSON object is the one.
pub fn parse_probe(stdout: &[u8]) -> anyhow::Result<ProbeReport> {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .with_context(|| format!("the guard's probe printed no report: {:?}", text.trim()))?;
    serde_json::from_str(line).with_context(|| format!("reading the guard's probe report {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_protocol_the_shipped_guard_speaks() {
        assert_eq!(header(1510), b"fleetdeck-guard 2 1510\n");
        assert!(SOURCE.contains(&format!("VERSION = \"{VERSION}\"")));
        let accepted = ACCEPTED.strip_prefix("fleetdeck-guard: ").unwrap();
        assert!(SOURCE.contains(&format!("ACCEPTED = \"{accepted}\"")));
        assert!(SOURCE.contains(&format!("SILENCE = {}.0", SILENCE.as_secs())));
        assert!(PING_EVERY * 3 < SILENCE, "a ping or two may be late");
        assert!(SOURCE.starts_with("#!/usr/bin/env python3\n"));
    }

    #[test]
    fn control_lines_are_the_ones_the_guard_reads() {
        for control in [
            Control::Interrupt,
            Control::Terminate,
            Control::Kill,
            Control::Ping,
        ] {
            let line = std::str::from_utf8(control.line()).unwrap();
            let word = line.strip_suffix('\n').unwrap();
            assert!(SOURCE.contains(&format!("line == b\"{word}\"")), "{word}");
        }
    }

    #[test]
    fn argv_keeps_each_path_one_argument_and_grace_in_seconds() {
        let argv = run_argv(
            "/opt/fd/guard",
            "/opt/a b/ansible-runner",
            "/var/tmp/fd/fd-7",
            Duration::from_millis(2500),
        );
        assert_eq!(
            argv,
            [
                "/opt/fd/guard",
                "run",
                "--worker",
                "/opt/a b/ansible-runner",
                "--dir",
                "/var/tmp/fd/fd-7",
                "--grace",
                "2.5"
            ]
        );
        assert_eq!(
            run_argv("g", "w", "d", Duration::from_secs(5))
                .last()
                .unwrap(),
            "5"
        );
        assert_eq!(
            probe_argv("g", "w", "/var/tmp/fd"),
            ["g", "probe", "--worker", "w", "--work-dir", "/var/tmp/fd"]
        );
    }

    #[test]
    fn a_probe_report_after_a_banner_is_read_with_its_runner_version() {
        let stdout = b"Welcome to exec-a\n{\"guard\": \"1\", \"worker_info\": \"{cpu_count: 2, errors: [], runner_version: 2.4.3, uuid: x}\\n\", \"worker_error\": \"\", \"cleaned\": [\"/w/fd-1\"]}\n";
        let report = parse_probe(stdout).unwrap();
        assert_eq!(report.guard, "1");
        assert_eq!(report.cleaned, ["/w/fd-1"]);
        assert_eq!(report.runner_version().unwrap(), "2.4.3");
    }

    #[test]
    fn a_failed_worker_or_no_report_is_an_error_that_says_why() {
        let stdout = br#"{"guard": "1", "worker_info": "", "worker_error": "cannot run /x: not found", "cleaned": []}"#;
        let report = parse_probe(stdout).unwrap();
        let error = report.runner_version().unwrap_err().to_string();
        assert!(error.contains("cannot run /x"), "{error}");
        let error = parse_probe(b"bash: guard: command not found\n").unwrap_err();
        assert!(
            format!("{error:#}").contains("command not found"),
            "{error:#}"
        );
    }
}
