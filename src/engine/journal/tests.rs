use super::*;
use crate::engine::model::Purpose;
use chrono::TimeZone;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn item(id: ItemId, server: &str) -> Item {
    Item {
        id,
        server: server.into(),
        action: Action::Deploy,
        priority: 0,
        tags: vec!["release".into()],
        check_mode: false,
        attempt: 1,
        enqueued_at: at(),
        after: None,
        purpose: Purpose::Requested,
        not_before: None,
        held: false,
    }
}

fn finished(id: ItemId, server: &str, outcome: Outcome) -> Record {
    Record::Finished {
        at: at(),
        id,
        server: server.into(),
        action: Action::Deploy,
        outcome,
        recap: None,
        duration_ms: Some(10),
        log: None,
        retried: false,
    }
}

#[test]
fn replay_sorts_items_into_pending_interrupted_and_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut journal = Journal::open(&path).unwrap();
    for id in 1..=4 {
        journal
            .append(&Record::Enqueued {
                at: at(),
                item: item(id, &format!("web-0{id}")),
            })
            .unwrap();
    }
    journal
        .append(&Record::Started {
            at: at(),
            id: 1,
            slot: 1,
            node: None,
        })
        .unwrap();
    journal
        .append(&finished(1, "web-01", Outcome::Succeeded))
        .unwrap();
    journal
        .append(&Record::Started {
            at: at(),
            id: 2,
            slot: 2,
            node: None,
        })
        .unwrap();
    journal
        .append(&Record::Reprioritized {
            at: at(),
            id: 4,
            priority: 7,
        })
        .unwrap();
    let replay = replay(&path).unwrap();
    assert_eq!(
        replay.pending().iter().map(|i| i.id).collect::<Vec<_>>(),
        [3, 4]
    );
    assert_eq!(
        replay.pending()[1].priority,
        7,
        "reprioritised while queued"
    );
    assert_eq!(
        replay
            .interrupted()
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        [2]
    );
    assert!(replay.succeeded.contains(&1));
    assert_eq!(replay.next_id, 5);
    assert!(replay.skipped_lines.is_empty());
}

#[test]
fn a_torn_last_line_is_skipped_and_the_next_record_starts_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut journal = Journal::open(&path).unwrap();
    journal
        .append(&Record::Enqueued {
            at: at(),
            item: item(1, "web-01"),
        })
        .unwrap();
    drop(journal);
    // A crash in the middle of a write leaves half a record and no newline.
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(br#"{"kind":"enqueued","at":"2026-01-02T03:04:05Z","item":{"id":2,"serv"#)
        .unwrap();
    drop(file);
    let torn = replay(&path).unwrap();
    assert_eq!(torn.skipped_lines, [2]);
    assert_eq!(torn.pending().len(), 1);

    let mut journal = Journal::open(&path).unwrap();
    journal
        .append(&Record::Enqueued {
            at: at(),
            item: item(3, "web-03"),
        })
        .unwrap();
    let repaired = replay(&path).unwrap();
    assert_eq!(repaired.skipped_lines, [2], "only the torn line is lost");
    assert_eq!(
        repaired.pending().iter().map(|i| i.id).collect::<Vec<_>>(),
        [1, 3]
    );
}

#[test]
fn the_journal_is_private_and_a_missing_one_is_empty() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo").join("journal.jsonl");
    let empty = replay(&path).unwrap();
    assert!(empty.pending().is_empty() && empty.latest.is_empty());
    assert_eq!(empty.next_id, 1);
    Journal::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}

#[test]
fn one_fleetdeck_per_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo").join("journal.jsonl");
    let first = Journal::open(&path).unwrap();
    let err = Journal::open(&path)
        .err()
        .expect("a second owner is refused")
        .to_string();
    assert!(
        err.contains("environment demo is in use by another fleetdeck"),
        "{err}"
    );
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(first);
    Journal::open(&path).expect("free again once the first one is gone");
}

#[test]
fn a_newer_skip_replaces_an_older_one_but_never_hides_a_run() {
    let skipped = |reason: &str| Outcome::Skipped {
        reason: reason.into(),
    };
    let mut replay = Replay::empty();
    for id in 1..=4 {
        replay.apply(&Record::Enqueued {
            at: at(),
            item: item(id, "db-02"),
        });
    }
    replay.apply(&finished(1, "db-02", skipped("upstream failed")));
    replay.apply(&finished(2, "db-02", skipped("upstream cancelled")));
    let key = ("db-02".to_string(), Action::Deploy);
    assert_eq!(replay.latest[&key].outcome, skipped("upstream cancelled"));
    replay.apply(&Record::Started {
        at: at(),
        id: 3,
        slot: 1,
        node: None,
    });
    replay.apply(&finished(3, "db-02", Outcome::Succeeded));
    replay.apply(&finished(4, "db-02", skipped("upstream failed")));
    assert_eq!(
        replay.latest[&key].outcome,
        Outcome::Succeeded,
        "the run stays what was last done"
    );
}

/// A held twin merged at restart (the same deploy queued by two sessions that crashed in
/// turn) is no outcome of the server's: the deploy is still held, not skipped.
#[test]
fn a_twin_merged_into_a_held_item_is_not_the_servers_outcome() {
    let mut replay = Replay::empty();
    for id in [1, 2] {
        replay.apply(&Record::Enqueued {
            at: at(),
            item: item(id, "web-01"),
        });
    }
    replay.apply(&Record::Repointed {
        at: at(),
        old: 2,
        new: 1,
    });
    let merged = Outcome::Skipped {
        reason: "merged into the same held item #1".into(),
    };
    replay.apply(&finished(2, "web-01", merged));
    assert_eq!(
        replay.latest.get(&("web-01".to_string(), Action::Deploy)),
        None
    );
    let pending: Vec<ItemId> = replay.pending().iter().map(|item| item.id).collect();
    assert_eq!(pending, [1]);
    // A link skipped because its upstream failed still shows.
    replay.apply(&finished(
        1,
        "web-01",
        Outcome::Skipped {
            reason: "upstream failed".into(),
        },
    ));
    assert!(
        replay
            .latest
            .contains_key(&("web-01".to_string(), Action::Deploy))
    );
}

#[test]
fn a_finish_says_whether_another_attempt_followed_and_old_journals_read_as_not() {
    let old = r#"{"kind":"finished","at":"2026-03-04T05:06:07Z","id":3,"server":"web-01","action":"deploy","outcome":"unreachable","message":"ssh: connection refused","duration_ms":1200}"#;
    let Some(Record::Finished { retried, .. }) = super::wire::parse(old.as_bytes()) else {
        panic!("unreadable: {old}");
    };
    assert!(!retried);
    let record = Record::Finished {
        at: at(),
        id: 3,
        server: "web-01".into(),
        action: Action::Deploy,
        outcome: Outcome::Unreachable {
            message: "ssh: connection refused".into(),
        },
        recap: None,
        duration_ms: Some(1_200),
        log: None,
        retried: true,
    };
    let line = serde_json::to_vec(&record).unwrap();
    assert_eq!(super::wire::parse(&line), Some(record));
}
