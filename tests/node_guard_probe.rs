//! The node guard's probe (`fleetdeck-guard probe`), run here as ssh would run it on a node:
//! it reports the node's ansible-runner and removes what crashed runs left, never a live run.

mod common;

use common::{ansible_runner, guard_script};
use fleetdeck::engine::remote::guard;
use std::path::Path;
use std::process::Command;

fn probe(worker: &Path, work_dir: &Path) -> guard::ProbeReport {
    let argv = guard::probe_argv(
        guard_script().to_str().unwrap(),
        worker.to_str().unwrap(),
        work_dir.to_str().unwrap(),
    );
    let out = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // With a working worker, ansible-runner's own cleanup removed the dead runs' dirs.
    assert!(!stderr.contains("cleanup left"), "{stderr}");
    assert!(
        out.status.success(),
        "probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.iter().filter(|byte| **byte == b'\n').count(), 1);
    guard::parse_probe(&out.stdout).unwrap()
}

/// A crashed run's dir holds its secrets; a live run's dir (a lock held, here by the test as by
/// another fleetdeck's guard) must be kept.
fn leave_runs(work: &Path) -> nix::fcntl::Flock<std::fs::File> {
    for name in ["fd-crashed", "fd-live"] {
        std::fs::create_dir_all(work.join(name).join("env")).unwrap();
        std::fs::write(work.join(name).join("env/passwords"), "secret").unwrap();
    }
    std::fs::write(work.join("fd-crashed.lock"), "").unwrap();
    std::fs::create_dir_all(work.join("fd-nolock")).unwrap();
    let lock = std::fs::File::create(work.join("fd-live.lock")).unwrap();
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock).unwrap()
}

fn assert_only_dead_runs_removed(work: &Path, report: &guard::ProbeReport) {
    let mut cleaned = report.cleaned.clone();
    cleaned.sort();
    let path = |name: &str| work.join(name).to_string_lossy().into_owned();
    assert_eq!(
        cleaned,
        [
            path("fd-crashed"),
            path("fd-crashed.lock"),
            path("fd-nolock")
        ]
    );
    for gone in ["fd-crashed", "fd-crashed.lock", "fd-nolock"] {
        assert!(!work.join(gone).exists(), "{gone} is still there");
    }
    assert_eq!(
        std::fs::read_to_string(work.join("fd-live/env/passwords")).unwrap(),
        "secret"
    );
    assert!(work.join("fd-live.lock").exists());
}

#[test]
fn a_probe_reports_the_runner_and_removes_only_dead_runs() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let _live = leave_runs(&work);
    let report = probe(&ansible_runner(), &work);
    assert_eq!(report.guard, guard::VERSION);
    assert_eq!(report.worker_error, "");
    assert!(
        report.worker_info.contains("runner_version: 2.4.3"),
        "{}",
        report.worker_info
    );
    assert_eq!(report.runner_version().unwrap(), "2.4.3");
    assert_only_dead_runs_removed(&work, &report);
}

#[test]
fn a_probe_with_a_missing_worker_says_so_and_still_cleans() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let _live = leave_runs(&work);
    let missing = dir.path().join("no-venv/bin/ansible-runner");
    let report = probe(&missing, &work);
    assert!(
        report.worker_error.contains("no-venv"),
        "{}",
        report.worker_error
    );
    assert!(report.runner_version().is_err());
    assert_only_dead_runs_removed(&work, &report);
}
