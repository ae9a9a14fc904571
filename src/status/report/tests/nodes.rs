//! Status names the execution node of each run in flight or cut by a crash, read from the
//! journal's `started` records as fleetdeck writes them; without nodes it says nothing of them.

use super::*;
use crate::engine::journal;

/// A journal on disk: web-01's provision succeeded, web-01's deploy started on exec-a
/// (as the engine journals it when config.yml names nodes) and never finished, db-01's check
/// queued behind it.
fn journal_file(dir: &Path) -> PathBuf {
    let item = |id: ItemId, server: &str, action: Action| Record::Enqueued {
        at: at(0),
        item: Item::requested(id, server, action, at(0)),
    };
    let line = |record: Record| serde_json::to_string(&record).unwrap();
    let lines = [
        line(item(1, "web-01", Action::Provision)),
        r#"{"kind":"started","at":"2026-01-02T03:01:00Z","id":1,"slot":1,"node":"local"}"#.into(),
        line(Record::Finished {
            at: at(2),
            id: 1,
            server: "web-01".into(),
            action: Action::Provision,
            outcome: Outcome::Succeeded,
            recap: None,
            duration_ms: Some(60_000),
            log: Some("logs/demo/web-01_provision_1.log".into()),
            retried: false,
        }),
        line(item(2, "web-01", Action::Deploy)),
        r#"{"kind":"started","at":"2026-01-02T03:05:00Z","id":2,"slot":2,"node":"exec-a"}"#.into(),
        line(Record::LogOpened {
            at: at(5),
            id: 2,
            log: "logs/demo/web-01_deploy_2.log".into(),
        }),
        line(item(3, "db-01", Action::Check)),
    ];
    let path = dir.join("journal.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn report_of(path: &Path, holder: Option<u32>) -> Report {
    let servers = ["db-01", "web-01"].map(String::from).to_vec();
    let replay = journal::replay(path).unwrap();
    let starts = starts(path).unwrap();
    Report::new(
        "demo",
        Some(servers),
        replay,
        starts,
        holder,
        &default_policy(),
        now(),
    )
}

#[test]
fn a_run_cut_by_a_crash_names_the_node_it_ran_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_file(dir.path());
    let report = report_of(&path, None);
    let text = report.text(now());
    assert!(
        text.contains(
            "Interrupted when fleetdeck stopped or the connection to their node broke \
             (they do not re-run by themselves):\n  \
             web-01 deploy #2 on exec-a, started 25m ago (2026-01-02 03:05:00 UTC)\n    \
             log: logs/demo/web-01_deploy_2.log\n"
        ),
        "{text}"
    );
    // A queued item keeps its wording: it has no node until it starts.
    assert!(text.contains("\n  check on db-01 (#3)\n"), "{text}");
    let json = report.json();
    assert_eq!(json["interrupted"][0]["node"], "exec-a", "{json:#}");
    assert_eq!(json["held"][0], "check on db-01 (#3)");

    // The next start journals it interrupted: status still says where it ran.
    let finished = Record::Finished {
        at: at(20),
        id: 2,
        server: "web-01".into(),
        action: Action::Deploy,
        outcome: Outcome::Interrupted,
        recap: None,
        duration_ms: None,
        log: None,
        retried: false,
    };
    let mut text_after = std::fs::read_to_string(&path).unwrap();
    text_after.push_str(&(serde_json::to_string(&finished).unwrap() + "\n"));
    std::fs::write(&path, text_after).unwrap();
    let after = report_of(&path, None);
    assert_eq!(after.interrupted(), report.interrupted());
    assert_eq!(after.interrupted()[0].node.as_deref(), Some("exec-a"));
}

#[test]
fn a_run_in_flight_in_another_fleetdeck_names_its_node() {
    let dir = tempfile::tempdir().unwrap();
    let report = report_of(&journal_file(dir.path()), Some(4242));
    let text = report.text(now());
    assert!(
        text.contains(
            "Running now in fleetdeck pid 4242:\n  \
             web-01 deploy #2 on exec-a, started 25m ago (2026-01-02 03:05:00 UTC)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 item(s) queued in fleetdeck pid 4242."),
        "{text}"
    );
    let json = report.json();
    assert_eq!(json["running"][0]["node"], "exec-a", "{json:#}");
}

#[test]
fn without_execution_nodes_status_says_nothing_of_nodes() {
    for holder in [None, Some(4242)] {
        let mut journal = Journal::new();
        journal.start(5, "web-01", Action::Provision, false);
        let report = journal.report(holder);
        let text = report.text(now());
        assert!(!text.contains(" on "), "{text}");
        let json = report.json();
        let run = match holder {
            None => &json["interrupted"][0],
            Some(_) => &json["running"][0],
        };
        assert_eq!(run["id"], 5, "{json:#}");
        assert!(run.get("node").is_none(), "no node key: {json:#}");
    }
}

#[test]
fn a_later_start_of_the_same_run_decides_its_node() {
    let mut starts = Starts::default();
    starts.record(7, at(1), Some("exec-a".into()));
    // ssh failed before any status: the engine started it again elsewhere.
    starts.record(7, at(2), Some("local".into()));
    assert_eq!(starts.node[&7], "local");
    assert_eq!(starts.at[&7], at(2));
    starts.record(7, at(3), None);
    assert!(!starts.node.contains_key(&7));
}
