//! The JUnit report, checked the way CI would use it: the real binary runs the demo chain
//! with real ansible (db-02's deploy fails by design), then `fleetdeck report --session last
//! --junit` writes XML that must validate against the JUnit schema shipped in the
//! junit-report crate, and say what the journal says: a suite per action that ran, a case per
//! run with the same outcome and duration, the failed deploy naming its task.

mod common;

use common::{REPO, Sandbox};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `tests/JUnit.xsd` of the junit-report package cargo resolved for this project.
fn junit_schema() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(REPO)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = (metadata["packages"].as_array().unwrap().iter())
        .find(|p| p["name"] == "junit-report")
        .expect("junit-report among the packages");
    let manifest = Path::new(package["manifest_path"].as_str().unwrap());
    manifest.parent().unwrap().join("tests/JUnit.xsd")
}

/// Validates `xml` against the schema with the `xmlschema` package `.ci/setup` installs, and
/// returns its suites and cases as JSON read by Python's XML parser.
fn validated(xml: &Path) -> Value {
    const SCRIPT: &str = r#"
import json, sys, xmlschema
import xml.etree.ElementTree as ET
xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])
suites = []
for suite in ET.parse(sys.argv[2]).getroot().iter("testsuite"):
    cases = []
    for case in suite.iter("testcase"):
        result = {"result": "ok"}
        for word in ("failure", "error", "skipped"):
            found = case.find(word)
            if found is not None:
                result = {"result": word, "type": found.get("type"), "message": found.get("message")}
        out = case.find("system-out")
        result.update(name=case.get("name"), classname=case.get("classname"),
                      time=float(case.get("time")), out=out.text if out is not None else "")
        cases.append(result)
    suites.append({"name": suite.get("name"), "timestamp": suite.get("timestamp"), "cases": cases})
print(json.dumps(suites))
"#;
    let python = Path::new(REPO).join(".venv/bin/python");
    let out = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(junit_schema())
        .arg(xml)
        .output()
        .expect("the project's .venv (run .ci/setup)");
    assert!(
        out.status.success(),
        "{} does not validate:\n{}\n{}",
        xml.display(),
        text(&out.stderr),
        std::fs::read_to_string(xml).unwrap_or_default()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fleetdeck(sandbox: &Sandbox, args: &[&str]) -> Output {
    sandbox.fleetdeck().args(args).output().unwrap()
}

/// The journal's runs: (action, server, outcome word, seconds from start to finish), in the
/// order they finished; a run that never started counts only when it was skipped.
fn journal_runs(sandbox: &Sandbox) -> Vec<(String, String, String, f64)> {
    let at = |record: &Value| {
        chrono::DateTime::parse_from_rfc3339(record["at"].as_str().unwrap()).unwrap()
    };
    // Each attempt has its own id (a retry is a new item): its start is the one that ends.
    let mut started = std::collections::HashMap::new();
    let mut runs = Vec::new();
    for line in sandbox.journal("demo").lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        if record["kind"] == "started" {
            started.insert(record["id"].as_u64().unwrap(), at(&record));
        }
        if record["kind"] != "finished" {
            continue;
        }
        // An attempt another one followed is superseded: the report skips it.
        let outcome = match record["retried"] == true {
            true => "retried".to_string(),
            false => record["outcome"].as_str().unwrap().to_string(),
        };
        let seconds = match started.remove(&record["id"].as_u64().unwrap()) {
            Some(start) => (at(&record) - start).num_milliseconds() as f64 / 1000.0,
            None if outcome == "skipped" => 0.0,
            None => continue,
        };
        let server = record["server"].as_str().unwrap().to_string();
        let action = record["action"].as_str().unwrap().to_string();
        runs.push((action, server, outcome, seconds));
    }
    runs
}

/// The JUnit element each journal outcome must become.
fn junit_result(outcome: &str) -> &'static str {
    match outcome {
        "succeeded" => "ok",
        "failed" | "timed_out" | "interrupted" => "failure",
        "unreachable" | "error" => "error",
        _ => "skipped",
    }
}

#[test]
fn the_report_of_a_real_run_validates_and_says_what_the_journal_says() {
    let sandbox = Sandbox::demo();
    let run_xml = sandbox.root.join("run.xml");
    let run_xml_arg = run_xml.to_str().unwrap();
    let run = fleetdeck(
        &sandbox,
        &[
            "run",
            "-e",
            "demo",
            "chain",
            "web-01",
            "db-02",
            "--workers",
            "2",
            "--junit",
            run_xml_arg,
        ],
    );
    assert_eq!(
        run.status.code(),
        Some(2),
        "db-02's deploy fails:\n{}",
        text(&run.stderr)
    );

    let out_xml = sandbox.root.join("out.xml");
    let report = fleetdeck(
        &sandbox,
        &[
            "report",
            "-e",
            "demo",
            "--session",
            "last",
            "--junit",
            out_xml.to_str().unwrap(),
        ],
    );
    assert!(report.status.success(), "{}", text(&report.stderr));
    let suites = validated(&out_xml);
    // `run --junit` wrote the same cases as the report made right after.
    assert_eq!(validated(&run_xml), suites);

    let suite_names: Vec<&str> = (suites.as_array().unwrap().iter())
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(suite_names, ["provision", "deploy", "check"]);

    let runs = journal_runs(&sandbox);
    let cases: Vec<(&str, &Value)> = (suites.as_array().unwrap().iter())
        .flat_map(|suite| {
            let name = suite["name"].as_str().unwrap();
            suite["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |case| (name, case))
        })
        .collect();
    assert_eq!(
        cases.len(),
        runs.len(),
        "a case per run:\n{runs:?}\n{suites:#}"
    );
    for (action, server, outcome, seconds) in &runs {
        let matching = cases.iter().find(|(suite, case)| {
            suite == action
                && case["name"].as_str().unwrap().starts_with(server.as_str())
                && case["result"] == junit_result(outcome)
                && (case["time"].as_f64().unwrap() - seconds).abs() < 0.0015
        });
        assert!(
            matching.is_some(),
            "no {action} case for {server} {outcome} in {seconds} s:\n{suites:#}"
        );
        assert!(
            cases
                .iter()
                .all(|(_, case)| case["classname"].as_str().unwrap().starts_with("demo.")),
            "{suites:#}"
        );
    }

    let failed = (cases.iter())
        .find(|(suite, case)| *suite == "deploy" && case["name"] == "db-02")
        .expect("db-02's deploy");
    assert_eq!(failed.1["result"], "failure", "{suites:#}");
    assert_eq!(failed.1["type"], "failed");
    let message = failed.1["message"].as_str().unwrap();
    assert!(
        message.starts_with("task Verify release checksum: "),
        "{message}"
    );
    assert!(
        failed.1["out"].as_str().unwrap().contains("log: "),
        "{:#}",
        failed.1
    );
    // With health checks on, the chain's check is the deploy's health check.
    let skipped = (cases.iter())
        .find(|(suite, case)| {
            *suite == "check"
                && case["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("db-02 (health of deploy #")
        })
        .unwrap_or_else(|| panic!("db-02's check, skipped after its deploy failed:\n{suites:#}"));
    assert_eq!(skipped.1["result"], "skipped");
    assert!(
        skipped.1["out"].as_str().unwrap().starts_with("skipped: "),
        "{:#}",
        skipped.1
    );
    assert!(
        cases.iter().any(|(suite, case)| *suite == "check"
            && case["name"]
                .as_str()
                .unwrap()
                .starts_with("web-01 (health of deploy #")),
        "web-01's health check is a case of its own:\n{suites:#}"
    );
}

#[test]
fn report_answers_plainly_when_nothing_ran_or_the_file_cannot_be_written() {
    let sandbox = Sandbox::demo();
    let xml = sandbox.root.join("empty.xml");
    let out = fleetdeck(
        &sandbox,
        &["report", "-e", "demo", "--junit", xml.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no runs recorded for demo yet"),
        "{}",
        text(&out.stderr)
    );
    let suites = validated(&xml);
    assert_eq!(suites, serde_json::json!([]));

    let out = fleetdeck(
        &sandbox,
        &[
            "report", "-e", "demo", "--since", "soon", "--junit", "x.xml",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--since"),
        "{}",
        text(&out.stderr)
    );

    let out = fleetdeck(&sandbox, &["report", "-e", "demo"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a report needs --junit or --html"
    );

    let nowhere = sandbox.root.join("no-such-dir/report.xml");
    let out = fleetdeck(
        &sandbox,
        &["report", "-e", "demo", "--junit", nowhere.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let said = format!("fleetdeck: writing {}: ", nowhere.display());
    assert!(
        text(&out.stderr).contains(&said) && !text(&out.stderr).contains("at path"),
        "{}",
        text(&out.stderr)
    );
}

/// Waits (bounded) until the journal holds `needle`. A file tells nobody it grew, so this one
/// wait polls, on a condition, never for a fixed time.
fn wait_for_journal(sandbox: &Sandbox, needle: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sandbox.journal("demo").contains(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle} in the journal"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_report_made_mid_run_shows_it_running_and_ctrl_c_still_writes_the_runs_report() {
    let sandbox = Sandbox::demo();
    // Slow, so both runs surely still run at the report and at the Ctrl-C.
    for server in ["web-03", "web-06"] {
        sandbox.write(
            &format!("inventory/demo/host_vars/{server}.yml"),
            "demo_step_seconds: 120\n",
        );
    }
    let run_xml = sandbox.root.join("run.xml");
    let mut run = sandbox
        .fleetdeck()
        .args([
            "run",
            "-e",
            "demo",
            "provision",
            "web-03",
            "web-06",
            "--junit",
        ])
        .arg(&run_xml)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_journal(&sandbox, "\"kind\":\"log_opened\"");

    // The run holds the environment; the report only reads the journal.
    let mid_xml = sandbox.root.join("mid.xml");
    let mid = fleetdeck(
        &sandbox,
        &[
            "report",
            "-e",
            "demo",
            "--session",
            "last",
            "--junit",
            mid_xml.to_str().unwrap(),
        ],
    );
    assert!(mid.status.success(), "{}", text(&mid.stderr));
    let suites = validated(&mid_xml);
    let cases = suites[0]["cases"].as_array().unwrap();
    assert!(
        (cases.iter()).any(|case| case["result"] == "skipped"
            && case["out"]
                .as_str()
                .unwrap()
                .contains("still running at report time")),
        "{suites:#}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(130));
    let suites = validated(&run_xml);
    let cases = suites[0]["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "{suites:#}");
    let outs: Vec<&str> = cases.iter().map(|c| c["out"].as_str().unwrap()).collect();
    assert!(
        outs.iter().all(|out| !out.contains("still running")),
        "all ended before the report: {suites:#}"
    );
    assert!(
        outs.iter().any(|out| out.starts_with("cancelled")),
        "{suites:#}"
    );
}

#[test]
fn a_report_that_cannot_be_written_fails_only_a_run_that_succeeded() {
    let sandbox = Sandbox::demo();
    let nowhere = sandbox.root.join("no-such-dir/run.xml");
    let run = fleetdeck(
        &sandbox,
        &[
            "run",
            "-e",
            "demo",
            "provision",
            "web-01",
            "--junit",
            nowhere.to_str().unwrap(),
        ],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let said = format!("fleetdeck: writing {}: ", nowhere.display());
    assert!(stderr.contains(&said), "{stderr}");
    // The runs' own summary was printed before.
    assert!(
        text(&run.stdout).contains("web-01"),
        "{}",
        text(&run.stdout)
    );
}
