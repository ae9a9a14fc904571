//! The demo fleet, for real: `fleetdeck run -e demo chain --all --workers 3` with ansible-core.

mod common;

use common::Sandbox;
use serde_json::Value;

under_both_runners!(demo_chain_runs_everything_but_db02_deploy_and_reports_it);

fn demo_chain_runs_everything_but_db02_deploy_and_reports_it(runner: &str) {
    let sandbox = Sandbox::demo_with_runner(runner);
    let output = sandbox
        .fleetdeck()
        .args([
            "run",
            "-e",
            "demo",
            "chain",
            "--all",
            "--workers",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "db-02 fails its deploy, so exit 2; log:\n{log}"
    );

    // The seed's words, so operators recognise them.
    assert!(
        log.contains("Running in PARALLEL mode with 3 workers"),
        "{log}"
    );
    assert!(log.contains("Worker 3 started"), "{log}");
    assert!(
        log.contains("Worker 1 processing: provision for server "),
        "{log}"
    );
    assert!(
        log.contains(r#"failed: deploy for server db-02 (rc 2, task "Verify release checksum")"#),
        "{log}"
    );
    let most_active = (1..=3)
        .filter(|n| log.contains(&format!("(active: {n}/3)")))
        .max();
    assert_eq!(
        most_active,
        Some(3),
        "three runs at once at some point:\n{log}"
    );

    let summary: Value =
        serde_json::from_slice(&output.stdout).expect("--json prints JSON on stdout");
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 27, "9 servers × 3 links");
    assert_eq!(summary["all_succeeded"], false);
    for run in runs {
        let (server, action) = (
            run["server"].as_str().unwrap(),
            run["action"].as_str().unwrap(),
        );
        let outcome = run["outcome"]["outcome"].as_str().unwrap();
        let expected = match (server, action) {
            ("db-02", "deploy") => "failed",
            ("db-02", "check") => "skipped",
            _ => "succeeded",
        };
        assert_eq!(outcome, expected, "{server} {action}: {run}");
        if outcome == "skipped" {
            assert_eq!(run["outcome"]["reason"], "upstream failed");
            continue;
        }
        let recap = &run["recap"];
        assert!(
            recap["ok"].as_u64().unwrap() >= 1,
            "{server} {action}: recap {recap}"
        );
        assert_eq!(recap["unreachable"], 0);
        assert_eq!(
            recap["failed"].as_u64(),
            Some(u64::from(outcome == "failed")),
            "{server} {action}"
        );
        if action == "provision" {
            assert!(
                recap["changed"].as_u64().unwrap() >= 1,
                "a fresh host changes: {recap}"
            );
        }
        if action == "deploy" && server != "db-02" {
            assert_eq!(
                run["healthy"], true,
                "the chain's check is the deploy's health check"
            );
        }
        // Each run's log: header, every line ansible printed, footer.
        let log_path = run["log"].as_str().unwrap();
        let text = std::fs::read_to_string(log_path).unwrap();
        assert!(
            text.starts_with("# fleetdeck run log\n# command: "),
            "{log_path}"
        );
        assert!(text.contains(&format!("--limit {server}")), "{log_path}");
        assert!(
            text.contains(&format!("\n# runner: {runner}")),
            "started by the {runner} runner: {log_path}"
        );
        assert!(
            text.contains("PLAY RECAP"),
            "ansible's own output is in {log_path}"
        );
        assert!(text.contains("# outcome: "), "{log_path}");
        assert!(
            text.contains(&format!("# recap: ok={}", recap["ok"])),
            "{log_path}"
        );
        let name = std::path::Path::new(log_path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(
            name.starts_with(&format!("{server}_{action}_")) && name.ends_with(".log"),
            "{name}"
        );
    }
    let failed = runs
        .iter()
        .find(|r| r["server"] == "db-02" && r["action"] == "deploy")
        .unwrap();
    assert_eq!(failed["outcome"]["rc"], 2);
    assert_eq!(failed["outcome"]["task"], "Verify release checksum");
    assert!(
        failed["outcome"]["message"]
            .as_str()
            .unwrap()
            .contains("checksum mismatch")
    );

    // The playbooks did real work on each host's folder.
    let current = sandbox.demo_root.join("web-01/current");
    assert!(
        std::fs::read_link(&current).is_ok(),
        "deploy switched {}",
        current.display()
    );
    assert!(
        std::fs::read_link(sandbox.demo_root.join("db-02/current")).is_err(),
        "db-02 never switched"
    );

    // `status` derives the same picture from the journal.
    let status = sandbox
        .fleetdeck()
        .args(["status", "-e", "demo"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let row = |server: &str| {
        table
            .lines()
            .find(|l| l.starts_with(server))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row("db-02").contains("failed") && row("db-02").contains("skipped"),
        "{table}"
    );
    assert!(row("web-03").contains("ok, healthy"), "{table}");
    assert!(
        sandbox.ansible_processes().is_empty(),
        "no ansible left behind"
    );
}
