//! The bad-input catalogue, the rows that need no SSH: each ends in a clear message or a handled
//! case, checked with the real binary on the demo sandbox (and real ansible-core where a run
//! happens): no crash, no hang, nothing lost.

mod common;

use common::Sandbox;
use serde_json::Value;
use std::io::Read;
use std::process::{Output, Stdio};

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run(sandbox: &Sandbox, args: &[&str]) -> Output {
    sandbox.fleetdeck().args(args).output().unwrap()
}

fn journal_path(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.root.join(".fleetdeck/demo/journal.jsonl")
}

fn enqueued(id: u64, server: &str, action: &str) -> String {
    format!(
        r#"{{"kind":"enqueued","at":"2026-01-02T03:00:00Z","item":{{"id":{id},"server":"{server}","action":"{action}","priority":0,"tags":[],"check_mode":false,"attempt":1,"enqueued_at":"2026-01-02T03:00:00Z","after":null}}}}"#
    )
}

fn write_journal(sandbox: &Sandbox, lines: &[String]) {
    let path = journal_path(sandbox);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_missing_or_unparsable_playbook_is_refused_before_anything_is_queued() {
    let sandbox = Sandbox::demo();
    std::fs::remove_file(sandbox.root.join("assets/playbooks/deploy.yml")).unwrap();
    let output = run(&sandbox, &["run", "-e", "demo", "deploy", "web-01"]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains("nothing queued: the deploy playbook")
            && said.contains("assets/playbooks/deploy.yml does not exist")
            && said.contains("fix: `playbooks: {deploy: …}` in"),
        "{said}"
    );
    // A chain needs it too; nothing was queued, so there is nothing to hold.
    let output = run(&sandbox, &["run", "-e", "demo", "chain", "web-01"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(!sandbox.journal("demo").contains("enqueued"));

    sandbox.write("assets/playbooks/deploy.yml", "- hosts: all\n  tasks: [\n");
    let output = run(&sandbox, &["run", "-e", "demo", "deploy", "web-01"]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("deploy.yml is not valid YAML"), "{said}");
    sandbox.write("assets/playbooks/deploy.yml", "hosts: all\n");
    let said = text(&run(&sandbox, &["run", "-e", "demo", "deploy", "web-01"]));
    assert!(said.contains("deploy.yml is not a list of plays"), "{said}");
}

#[test]
fn an_absurd_worker_count_is_capped_with_a_warning() {
    let sandbox = Sandbox::demo();
    let config = sandbox.root.join("inventory/demo/config.yml");
    let text_now = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text_now.replace("max_parallel_workers: 3", "max_parallel_workers: 1000000"),
    )
    .unwrap();
    // (web-01 was never provisioned, so the check itself fails: exit 2, the run did run.)
    let output = run(
        &sandbox,
        &["run", "-e", "demo", "check", "web-01", "--json"],
    );
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains(
            "max_parallel_workers is 1000000, more than fleetdeck runs at once; using 256"
        ),
        "{said}"
    );
    let output = run(
        &sandbox,
        &[
            "run",
            "-e",
            "demo",
            "check",
            "web-01",
            "--workers",
            "100000",
        ],
    );
    let said = text(&output);
    assert!(
        said.contains("--workers 100000 is more than fleetdeck runs at once; using 256"),
        "{said}"
    );
}

#[test]
fn a_journal_damaged_in_the_middle_is_kept_as_a_copy_and_its_work_is_not_lost() {
    let sandbox = Sandbox::demo();
    let lines = [
        enqueued(1, "web-01", "deploy"),
        "{\"kind\":\"enqueued\",\"at\":garbage".to_string(),
        enqueued(3, "web-02", "check"),
    ];
    write_journal(&sandbox, &lines);
    let before = std::fs::read(journal_path(&sandbox)).unwrap();
    let output = run(&sandbox, &["run", "-e", "demo", "--discard-held"]);
    let said = text(&output);
    assert!(
        said.contains(
            "line(s) 2 are unreadable and were skipped; the journal as it was is kept in"
        ),
        "{said}"
    );
    let copies: Vec<_> = std::fs::read_dir(journal_path(&sandbox).parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".damaged-"))
        .collect();
    assert_eq!(copies.len(), 1, "{said}");
    assert_eq!(std::fs::read(copies[0].path()).unwrap(), before);
    // The readable items were held and then discarded, by name.
    assert!(said.contains("Discarded 2 held item(s)"), "{said}");
}

#[test]
fn held_duplicates_merge_on_restore_and_one_flag_discards_them_all() {
    let sandbox = Sandbox::demo();
    let lines: Vec<String> = (1..=5)
        .map(|id| enqueued(id, "web-01", "deploy"))
        .chain([enqueued(6, "web-02", "check")])
        .collect();
    write_journal(&sandbox, &lines);
    // status already says what the next start will hold: one of each, the twins merged, and
    // no outcome for web-01's deploy (it is held, not skipped).
    let status = run(&sandbox, &["status", "-e", "demo"]);
    let said = text(&status);
    assert!(
        said.contains(
            "2 item(s) queued from an earlier session, held: `fleetdeck run -e demo --resume` runs them, `--discard-held` drops them:\n  deploy on web-01 (#1)\n  check on web-02 (#6)\n"
        ),
        "{said}"
    );
    let web_01 = said
        .lines()
        .find(|line| line.starts_with("web-01"))
        .unwrap();
    assert!(!web_01.contains("skipped"), "{said}");

    let output = run(&sandbox, &["run", "-e", "demo", "--discard-held", "--json"]);
    let said = text(&output);
    assert!(
        said.contains("4 held item(s) were the same work as others held"),
        "{said}"
    );
    assert!(said.contains("Discarded 2 held item(s)"), "{said}");
    // Doing what was asked is no failure.
    assert_eq!(output.status.code(), Some(0), "{said}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["runs"], serde_json::json!([]), "{summary}");
    let status: Value =
        serde_json::from_slice(&run(&sandbox, &["status", "-e", "demo", "--json"]).stdout).unwrap();
    assert_eq!(status["queued"], 0, "{status}");
    // Nothing ran: the servers' outcomes are untouched.
    assert!(!sandbox.demo_root.join("web-01").exists());
}

#[test]
fn run_json_into_a_reader_that_goes_away_is_quiet() {
    let sandbox = Sandbox::demo();
    let mut child = sandbox
        .fleetdeck()
        .args(["run", "-e", "demo", "check", "web-01", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -c 0`: the reader closes before the summary comes.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The run's own exit code: web-01 was never provisioned, so its check fails (2).
    assert_eq!(status.code(), Some(2), "{stderr}");
}

#[test]
fn an_unwritable_log_folder_refuses_that_run_with_the_reason_and_the_journal_says_so() {
    let sandbox = Sandbox::demo();
    // A file where the log folder should be: even root cannot create logs in it.
    sandbox.write("logs/demo", "not a folder");
    let output = run(
        &sandbox,
        &["run", "-e", "demo", "check", "web-01", "--json"],
    );
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let outcome = &summary["runs"][0]["outcome"];
    assert_eq!(outcome["outcome"], "error", "{summary}");
    let message = outcome["message"].as_str().unwrap();
    assert!(
        message.contains("creating the log folder") && message.contains("logs/demo"),
        "the reason names the folder: {summary}"
    );
    let journal = sandbox.journal("demo");
    assert!(journal.contains("\"outcome\":\"error\""), "{journal}");
    // The rest still works: a second environment run or a status is not broken by it.
    assert_eq!(
        run(&sandbox, &["status", "-e", "demo"]).status.code(),
        Some(0)
    );
}
