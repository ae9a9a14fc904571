//! Asking an execution node what it runs: over ssh, fleetdeck's guard reports the node's
//! ansible-runner (`worker --worker-info`) and removes what crashed runs left (secrets
//! included). A node is used only when its guard speaks fleetdeck's protocol and its runner is
//! a version whose stream fleetdeck speaks; otherwise it is skipped with the reason and the fix.

use super::guard::{self, ProbeReport};
use super::ssh;
use crate::config::nodes::SshNode;
use crate::engine::nodes::NodeHealth;
use serde::Deserialize;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The ansible-runner versions whose worker stream fleetdeck speaks (the kwargs it sends and
/// the frames it reads were checked against these).
pub const SUPPORTED_RUNNER: &str = ">=2.4, <2.5";
/// A probe that takes longer than this finds the node unreachable.
pub const PROBE_LIMIT: Duration = Duration::from_secs(30);
/// The most runs a node takes when config.yml gives no capacity (its CPU count, up to this).
pub const DEFAULT_CAPACITY_MAX: u32 = 8;

pub fn runner_supported(version: &str) -> bool {
    let mut parts = version.trim().split('.');
    matches!((parts.next(), parts.next()), (Some("2"), Some("4")))
}

/// Everything a probe learnt, for `fleetdeck nodes` and the engine's log.
#[derive(Clone, Debug, PartialEq)]
pub struct Probed {
    pub health: NodeHealth,
    pub runner_version: Option<String>,
    /// Folders of dead runs the guard removed.
    pub cleaned: Vec<String>,
    pub took: Duration,
}

#[derive(Deserialize)]
struct WorkerInfo {
    runner_version: String,
    #[serde(default)]
    cpu_count: Option<u32>,
}

pub async fn probe(name: &str, node: &SshNode) -> Probed {
    let started = Instant::now();
    let remote = guard::probe_argv(&node.guard, &node.worker, &node.work_dir);
    let argv = ssh::argv(node, &remote);
    let mut command = ssh::command(&argv);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = match tokio::time::timeout(PROBE_LIMIT, command.output()).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(err)) => Err(format!("could not start ssh: {err}")),
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(PROBE_LIMIT)
        )),
    };
    let mut probed = Probed {
        health: NodeHealth::Probing,
        runner_version: None,
        cleaned: Vec::new(),
        took: Duration::ZERO,
    };
    probed.health = match output {
        Err(reason) => NodeHealth::Lost { reason },
        Ok(output) => judge(name, node, &output, &mut probed),
    };
    probed.took = started.elapsed();
    probed
}

fn judge(
    name: &str,
    node: &SshNode,
    output: &std::process::Output,
    probed: &mut Probed,
) -> NodeHealth {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = stderr
        .trim()
        .lines()
        .last()
        .unwrap_or("no message")
        .to_string();
    let code = output.status.code();
    if code == Some(ssh::SSH_FAILED) {
        return NodeHealth::Lost {
            reason: format!("ssh {}: {said}", node.destination),
        };
    }
    let install = format!("run `fleetdeck node install {name}`");
    if code == Some(127) || code == Some(126) || stderr.contains("No such file") {
        return NodeHealth::Skipped {
            reason: format!(
                "fleetdeck's guard is not at {} on the node ({said}); {install}",
                node.guard
            ),
        };
    }
    let report: ProbeReport = match guard::parse_probe(&output.stdout) {
        Ok(report) => report,
        Err(err) => {
            return NodeHealth::Skipped {
                reason: format!("the guard's probe failed (exit {code:?}): {err:#}; {said}"),
            };
        }
    };
    // The guard lists each dead run's folder and its lock file: the folders are the runs.
    probed.cleaned = report
        .cleaned
        .iter()
        .filter(|path| !path.ends_with(".lock"))
        .cloned()
        .collect();
    if report.guard != guard::VERSION {
        return NodeHealth::Skipped {
            reason: format!(
                "the guard on the node speaks protocol {}, this fleetdeck {}; {install}",
                report.guard,
                guard::VERSION
            ),
        };
    }
    if !report.worker_error.is_empty() {
        return NodeHealth::Skipped {
            reason: format!(
                "ansible-runner at {} did not answer: {}",
                node.worker,
                report.worker_error.trim()
            ),
        };
    }
    let info: WorkerInfo = match serde_yaml_ng::from_str(&report.worker_info) {
        Ok(info) => info,
        Err(err) => {
            return NodeHealth::Skipped {
                reason: format!(
                    "ansible-runner at {} printed no worker info ({err}): {:?}",
                    node.worker,
                    report.worker_info.trim()
                ),
            };
        }
    };
    probed.runner_version = Some(info.runner_version.clone());
    if !runner_supported(&info.runner_version) {
        return NodeHealth::Skipped {
            reason: format!(
                "ansible-runner {} at {} is outside the versions fleetdeck speaks to \
                 ({SUPPORTED_RUNNER}); install ansible-runner 2.4.x there \
                 (pip install 'ansible-runner{SUPPORTED_RUNNER}')",
                info.runner_version.trim(),
                node.worker
            ),
        };
    }
    NodeHealth::Ready {
        version: Some(info.runner_version),
        // Runs share one ssh connection, and sshd's MaxSessions is 10 unless raised: a
        // capacity the operator did not choose stays below it.
        reported_capacity: info
            .cpu_count
            .map(|cpus| cpus.clamp(1, DEFAULT_CAPACITY_MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runner_versions_whose_stream_was_checked_are_supported() {
        for version in ["2.4.0", "2.4.3", "2.4.10"] {
            assert!(runner_supported(version), "{version}");
        }
        for version in ["2.3.1", "2.5.0", "3.4.0", "2", "", "24.1"] {
            assert!(!runner_supported(version), "{version}");
        }
    }
}
