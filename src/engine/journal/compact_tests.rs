use super::*;
use crate::engine::journal::{holder, synth};
use crate::engine::model::{Action, Item, Outcome};
use chrono::TimeZone;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
}

/// A journal of `lines` lines over `servers` servers, and what it says.
/// A plain item the operator asked for.
fn requested(id: u64, server: String, action: Action) -> Item {
    Item::requested(id, &server, action, at())
}

fn history(servers: usize, lines: usize) -> (tempfile::TempDir, PathBuf, Replay) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo").join("journal.jsonl");
    synth::write_history(&path, servers, lines).unwrap();
    let before = replay(&path).unwrap();
    assert!(before.skipped_lines.is_empty());
    (dir, path, before)
}

fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .unwrap()
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

#[test]
fn a_compacted_journal_says_what_the_whole_history_said() {
    let (_dir, path, before) = history(200, 30_000);
    // The history has every case a consumer reads: queued chains, links waiting on an old
    // success, runs cut by a crash (with their logs), failures, skips, health, ETAs.
    assert!(before.pending().iter().any(|i| i.after.is_some()));
    assert!(!before.interrupted().is_empty());
    assert!(
        before
            .interrupted()
            .iter()
            .all(|i| before.log_of(i.id).is_some())
    );
    let outcomes: Vec<_> = before.latest.values().map(|l| l.outcome.label()).collect();
    for label in ["ok", "failed", "unreachable", "cancelled", "skipped"] {
        assert!(outcomes.contains(&label), "no {label} in the history");
    }
    assert!(before.latest.values().any(|l| l.healthy == Some(false)));
    assert!(before.latest.values().any(|l| l.recap.is_some()));

    assert_eq!(live_line_count(&before), live_records(&before, at()).len());
    let (journal, replayed) = open_and_replay(&path).unwrap();
    assert_eq!(view(&replayed, &before), view(&before, &before));
    let after = replay(&path).unwrap();
    assert!(after.skipped_lines.is_empty());
    assert_eq!(view(&after, &before), view(&before, &before));
    // The same in consumers' words, not only the view's.
    assert_eq!(
        crate::status::derive(&after),
        crate::status::derive(&before)
    );
    assert_eq!(
        crate::status::last_durations(&after),
        crate::status::last_durations(&before)
    );
    for item in before.interrupted() {
        assert_eq!(after.log_of(item.id), before.log_of(item.id));
    }
    for dep in before.pending().iter().filter_map(|i| i.after) {
        assert_eq!(
            after.succeeded.contains(&dep),
            before.succeeded.contains(&dep)
        );
    }
    assert!(says_the_same(&after, &before));
    // And the check that guards the rename sees a difference when there is one.
    let mut other = replay(&path).unwrap();
    other.next_id += 1;
    assert!(!says_the_same(&other, &before));
    let mut other = replay(&path).unwrap();
    let dep = before.pending().iter().find_map(|i| i.after).unwrap();
    other.succeeded.remove(&dep);
    let changed = before.succeeded.contains(&dep);
    assert_eq!(says_the_same(&other, &before), !changed);
    let lines = line_count(&path);
    assert!(lines * MIN_RATIO < before.last_line, "{lines} lines left");
    assert!(!tmp_path(&path).exists());
    drop(journal);
}

#[test]
fn the_engine_writes_into_the_compacted_journal_and_the_lock_holds() {
    let (_dir, path, before) = history(100, 15_000);
    let (mut journal, _) = open_and_replay(&path).unwrap();
    assert!(line_count(&path) < before.last_line / MIN_RATIO);
    // Whoever asks who holds the environment still gets us, across the rename.
    assert_eq!(holder(&path), Some(std::process::id()));
    assert!(
        Journal::open(&path).is_err(),
        "still one fleetdeck per environment"
    );
    let item = requested(before.next_id, "new-01".into(), Action::Check);
    journal
        .append(&Record::Enqueued { at: at(), item })
        .unwrap();
    drop(journal);
    let after = replay(&path).unwrap();
    assert!(after.pending().iter().any(|i| i.server == "new-01"));
    assert_eq!(after.next_id, before.next_id + 1);
    // A compacted journal is not compacted again at the next start.
    let compacted = std::fs::read(&path).unwrap();
    drop(open_and_replay(&path).unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), compacted);
}

#[test]
fn a_crash_mid_compaction_loses_nothing() {
    let (_dir, path, before) = history(100, 15_000);
    let original = std::fs::read(&path).unwrap();
    // Died while writing the compacted form: half of it on disk, never renamed.
    let records = live_records(&before, at());
    write_synced(&tmp_path(&path), &records[..records.len() / 2]).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        original,
        "the original is untouched"
    );
    assert_eq!(
        view(&replay(&path).unwrap(), &before),
        view(&before, &before)
    );
    // The next start compacts over the leftover and loses nothing either.
    let (_journal, _) = open_and_replay(&path).unwrap();
    assert!(!tmp_path(&path).exists());
    assert_eq!(
        view(&replay(&path).unwrap(), &before),
        view(&before, &before)
    );
}

#[test]
fn small_or_mostly_live_journals_stay_as_they_are() {
    let (_dir, path, _) = history(100, MIN_LINES - 500);
    let small = std::fs::read(&path).unwrap();
    drop(open_and_replay(&path).unwrap());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        small,
        "under {MIN_LINES} lines"
    );

    // Over the line threshold, but nearly all of it still queued: nothing to gain.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut journal = Journal::open(&path).unwrap();
    for id in 1..=(MIN_LINES as u64 + 2_000) {
        let item = requested(id, format!("srv-{}", id % 50), Action::Deploy);
        journal
            .append(&Record::Enqueued { at: at(), item })
            .unwrap();
        if id % 4 == 0 {
            let (server, action) = (format!("srv-{}", id % 50), Action::Deploy);
            let outcome = Outcome::Cancelled { during_task: None };
            let finished = Record::Finished {
                at: at(),
                id,
                server,
                action,
                outcome,
                recap: None,
                duration_ms: None,
                log: None,
                retried: false,
            };
            journal.append(&finished).unwrap();
        }
    }
    drop(journal);
    let live = std::fs::read(&path).unwrap();
    drop(open_and_replay(&path).unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), live, "mostly live state");
}

#[test]
fn a_journal_with_a_damaged_middle_line_is_not_compacted() {
    let (_dir, path, _) = history(100, 15_000);
    let mut text = std::fs::read(&path).unwrap();
    let middle = text.len() / 2;
    let start = middle + text[middle..].iter().position(|b| *b == b'\n').unwrap() + 1;
    text.splice(
        start..start,
        b"{\"kind\":\"enqueued\",\"at\":\"2026-".iter().copied(),
    );
    std::fs::write(&path, &text).unwrap();
    let (_journal, replayed) = open_and_replay(&path).unwrap();
    assert_eq!(replayed.skipped_lines.len(), 1);
    assert!(replayed.skipped_lines[0] < replayed.last_line);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        text,
        "kept whole for the copy"
    );
}

/// A stopped rollout survives compaction at the same step; a finished one is history.
#[test]
fn a_live_rollout_survives_compaction_and_a_done_one_goes() {
    use crate::engine::rollout::{Phase, Rollout, Rules, Step};
    let (_dir, path, _) = history(200, 30_000);
    let rules = Rules {
        canary: 1,
        window: 2,
        max_fail_percentage: None,
        health_gate: true,
    };
    let members = |base: u64| {
        (0..4)
            .map(|i| (format!("rolled-{i}"), base + i))
            .collect::<Vec<_>>()
    };
    let live = Rollout::new(900_001, Action::Deploy, at(), members(900_010), rules);
    let done = Rollout::new(900_002, Action::Deploy, at(), members(900_020), rules);
    let step = |rollout: u64, step: Step| Record::RolloutStep {
        at: at(),
        rollout,
        step,
    };
    let server = |i: u32| format!("rolled-{i}");
    let mut records = vec![
        Record::RolloutBegan {
            at: at(),
            rollout: Box::new(live.clone()),
        },
        Record::RolloutBegan {
            at: at(),
            rollout: Box::new(done.clone()),
        },
    ];
    records.push(step(live.id, Step::Admit { server: server(0) }));
    records.push(step(live.id, Step::Healthy { server: server(0) }));
    records.push(step(live.id, Step::Admit { server: server(1) }));
    records.push(step(
        live.id,
        Step::Failed {
            server: server(1),
            reason: "deploy failed (rc 2)".into(),
        },
    ));
    for i in 0..4 {
        records.push(step(
            done.id,
            Step::Dropped {
                server: server(i),
                reason: "cancelled before it ran".into(),
            },
        ));
    }
    {
        let mut journal = Journal::open(&path).unwrap();
        for record in &records {
            journal.append(record).unwrap();
        }
    }
    let before = replay(&path).unwrap();
    let kept = before.live_rollouts();
    assert_eq!(kept.len(), 1);
    assert!(matches!(&kept[0].phase, Phase::Stopped { reason } if reason.contains("rolled-1")));
    assert_eq!(before.rollouts[&done.id].phase, Phase::Done);

    let (journal, _) = open_and_replay(&path).unwrap();
    drop(journal);
    let after = replay(&path).unwrap();
    assert!(
        line_count(&path) * MIN_RATIO < before.last_line,
        "compacted"
    );
    assert_eq!(
        after.live_rollouts(),
        kept,
        "the same step, the same members"
    );
    assert!(!after.rollouts.contains_key(&done.id));
}

/// The timeline and the reports read a compacted journal too: each kept run is drawn where and
/// when it ran, on its worker's lane, for as long as it ran.
#[test]
fn a_compacted_journal_draws_its_kept_runs_where_they_ran() {
    use crate::timeline::{Timeline, Window};
    let (_dir, path, before) = history(100, 15_000);
    let whole = Timeline::read(&path, Window::All).unwrap();
    drop(open_and_replay(&path).unwrap());
    assert!(
        line_count(&path) < before.last_line / MIN_RATIO,
        "compacted"
    );
    let kept = Timeline::read(&path, Window::All).unwrap();
    let ended: Vec<_> = (kept.entries().iter())
        .filter(|e| e.ran.is_some() && e.outcome.is_some())
        .filter(|e| e.outcome != Some(Outcome::Interrupted))
        .collect();
    assert!(ended.len() > 50, "{} kept runs", ended.len());
    for entry in ended {
        let was = whole.get(entry.id).unwrap();
        assert_eq!(entry.ran, was.ran, "{} #{}", entry.server, entry.id);
        assert_eq!(entry.end, was.end, "{} #{}", entry.server, entry.id);
        assert!(!entry.lane_lost);
    }
    // JUnit times them as long as they ran (those in flight up to the report): only what never
    // ran, or was cut at its start, takes no time.
    let ran_for_a_while = (kept.entries().iter())
        .filter(|e| e.ran.is_some())
        .filter(|e| e.outcome != Some(Outcome::Interrupted))
        .count();
    let report = crate::report::Report {
        env: "demo".into(),
        window: Window::All,
        timeline: kept.clone(),
        made_at: at(),
        servers: Vec::new(),
    };
    let junit = crate::report::junit::build(&report);
    let timed = (junit.testsuites().iter())
        .flat_map(|suite| &suite.testcases)
        .filter(|case| case.time > junit_report::Duration::ZERO)
        .count();
    assert_eq!(timed, ran_for_a_while);
    assert_eq!(kept.lane(0).count(), 0, "no lane 0 of made-up bars");
    for lane in kept.shown_lanes() {
        let starts: Vec<_> = kept.lane(lane).map(|e| e.ran.unwrap().start).collect();
        assert!(starts.is_sorted(), "lane {lane} in time order");
    }
}
