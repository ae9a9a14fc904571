use super::super::Timeline;
use crate::engine::journal::Record;
use crate::engine::model::{Action, Item, ItemId, Outcome, Slot};
use crate::engine::snapshot::{RunView, Snapshot, WorkerView};
use crate::engine::{EngineEvent, FinishedRun, RanOn};
use chrono::{DateTime, TimeZone, Utc};
use std::path::PathBuf;
use std::time::Duration;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn item(id: ItemId, server: &str, action: Action) -> Item {
    Item::requested(id, server, action, t(0))
}

fn run(item: Item, started: i64) -> RunView {
    RunView {
        item,
        started_at: t(started),
        task: None,
        tasks_started: 0,
        counts: Default::default(),
        last_line: None,
        last_event_at: t(started),
        stopping: None,
        log_path: None,
        node: None,
    }
}

/// A snapshot at `at` with `target` workers, `runs` on their slots (1..), the other slots idle.
fn snapshot(at: i64, target: u32, runs: Vec<(Slot, RunView)>) -> EngineEvent {
    let mut workers: Vec<WorkerView> = (1..=target)
        .map(|slot| WorkerView { slot, run: None })
        .collect();
    for (slot, run) in runs {
        match workers.iter_mut().find(|w| w.slot == slot) {
            Some(worker) => worker.run = Some(run),
            // A draining slot above the target.
            None => workers.push(WorkerView {
                slot,
                run: Some(run),
            }),
        }
    }
    EngineEvent::Snapshot(Box::new(Snapshot {
        at: t(at),
        target_workers: target,
        workers,
        ..Snapshot::default()
    }))
}

/// The engine's finish of `item`: `ran` is its slot and start, `None` when it never ran.
fn finished(item: Item, ran: Option<(Slot, i64)>, outcome: Outcome, secs: u64) -> EngineEvent {
    EngineEvent::Finished(FinishedRun {
        log_path: ran.map(|(s, _)| PathBuf::from(format!("logs/{}-{s}.log", item.server))),
        item,
        ran: ran.map(|(slot, start)| RanOn {
            slot,
            started_at: t(start),
        }),
        outcome,
        recap: None,
        duration: Duration::from_secs(secs),
        retried: false,
    })
}

fn follow(timeline: &mut Timeline, events: &[EngineEvent]) {
    events.iter().for_each(|e| timeline.follow(e));
}

#[test]
fn a_run_seen_in_snapshots_becomes_one_bar_ended_by_its_finish() {
    let web01 = item(1, "web-01", Action::Deploy);
    let mut timeline = Timeline::default();
    follow(
        &mut timeline,
        &[
            snapshot(10, 2, vec![(1, run(web01.clone(), 10))]),
            // The same run in the next snapshots: still one bar.
            snapshot(11, 2, vec![(1, run(web01.clone(), 10))]),
            snapshot(15, 2, vec![(1, run(web01.clone(), 10))]),
        ],
    );
    assert_eq!(timeline.lane(1).count(), 1);
    assert!(timeline.get(1).unwrap().is_running());
    follow(
        &mut timeline,
        &[finished(web01, Some((1, 10)), Outcome::Succeeded, 42)],
    );
    let bar = timeline.get(1).unwrap();
    assert_eq!(bar.ran.unwrap().start, t(10));
    assert_eq!(bar.end, Some(t(52)));
    assert_eq!(bar.outcome, Some(Outcome::Succeeded));
    assert_eq!(bar.log, Some(PathBuf::from("logs/web-01-1.log")));
    assert_eq!(timeline.lane(1).count(), 1);
}

#[test]
fn a_run_already_read_from_the_journal_gets_no_second_bar() {
    let web01 = item(7, "web-01", Action::Check);
    let mut timeline = Timeline::default();
    timeline.apply(&Record::Session {
        at: t(0),
        pid: 1,
        workers: 1,
    });
    timeline.apply(&Record::Enqueued {
        at: t(0),
        item: web01.clone(),
    });
    timeline.apply(&Record::Started {
        at: t(3),
        id: 7,
        slot: 1,
        node: None,
    });
    follow(&mut timeline, &[snapshot(4, 1, vec![(1, run(web01, 3))])]);
    assert_eq!(timeline.lane(1).count(), 1);
    assert_eq!(timeline.entries().len(), 1);
}

#[test]
fn a_retried_attempt_is_a_superseded_bar_and_its_retry_a_new_one() {
    let db02 = item(3, "db-02", Action::Deploy);
    // The engine retries under a new id.
    let retry = Item {
        attempt: 2,
        ..item(4, "db-02", Action::Deploy)
    };
    let unreachable = Outcome::Unreachable {
        message: "no route".into(),
    };
    let EngineEvent::Finished(mut first) =
        finished(db02.clone(), Some((1, 0)), unreachable.clone(), 5)
    else {
        unreachable!()
    };
    first.retried = true;
    let mut timeline = Timeline::default();
    follow(
        &mut timeline,
        &[
            snapshot(0, 1, vec![(1, run(db02.clone(), 0))]),
            EngineEvent::Finished(first),
            snapshot(20, 1, vec![(1, run(retry, 20))]),
        ],
    );
    let attempts: Vec<_> = timeline
        .lane(1)
        .map(|e| (e.id, e.ran.unwrap().start, e.outcome.clone(), e.retried))
        .collect();
    assert_eq!(
        attempts,
        [(3, t(0), Some(unreachable), true), (4, t(20), None, false)]
    );
}

#[test]
fn a_change_of_target_is_a_resize_and_an_unchanged_one_is_not() {
    let mut timeline = Timeline::default();
    follow(
        &mut timeline,
        &[
            snapshot(0, 2, vec![]),
            snapshot(1, 2, vec![]),
            snapshot(5, 4, vec![]),
            snapshot(9, 2, vec![]),
        ],
    );
    let counts: Vec<(DateTime<Utc>, u32)> = timeline
        .workers()
        .iter()
        .map(|w| (w.at, w.workers))
        .collect();
    assert_eq!(counts, [(t(0), 2), (t(5), 4), (t(9), 2)]);
    assert_eq!(timeline.workers_at(t(6)), 4);
}

#[test]
fn a_run_missed_by_every_snapshot_still_gets_its_bar() {
    let lb01 = item(4, "lb-01", Action::Check);
    let mut timeline = Timeline::default();
    follow(
        &mut timeline,
        &[
            snapshot(30, 2, vec![]),
            finished(lb01, Some((2, 29)), Outcome::Succeeded, 1),
        ],
    );
    let bar = timeline.get(4).unwrap();
    assert_eq!(bar.ran.map(|r| r.lane), Some(2));
    assert_eq!(bar.duration(t(100)), Duration::from_secs(1));
    assert_eq!(bar.end, Some(t(30)));
}

#[test]
fn work_that_never_ran_is_a_mark_without_a_lane() {
    let check = item(5, "db-02", Action::Check);
    let skipped = Outcome::Skipped {
        reason: "upstream failed".into(),
    };
    let mut timeline = Timeline::default();
    follow(
        &mut timeline,
        &[
            snapshot(8, 2, vec![]),
            finished(check, None, skipped.clone(), 0),
        ],
    );
    let mark = timeline.get(5).unwrap();
    assert_eq!(mark.ran, None);
    assert_eq!(mark.outcome, Some(skipped));
    assert_eq!(mark.end, Some(t(8)));
    assert!(
        timeline
            .shown_lanes()
            .all(|lane| timeline.lane(lane).count() == 0)
    );
}

#[test]
fn a_health_verdict_marks_its_deploy() {
    let deploy = item(6, "web-02", Action::Deploy);
    let mut timeline = Timeline::default();
    follow(
        &mut timeline,
        &[
            snapshot(0, 1, vec![(1, run(deploy.clone(), 0))]),
            finished(deploy, Some((1, 0)), Outcome::Succeeded, 3),
            EngineEvent::Health {
                deploy: 6,
                server: "web-02".into(),
                healthy: false,
            },
        ],
    );
    assert_eq!(timeline.get(6).unwrap().healthy, Some(false));
}

#[test]
fn a_log_named_by_a_later_snapshot_is_the_running_bars_log() {
    let web01 = item(8, "web-01", Action::Deploy);
    let mut with_log = run(web01.clone(), 0);
    with_log.log_path = Some(PathBuf::from("logs/web-01.log"));
    let mut timeline = Timeline::default();
    follow(
        &mut timeline,
        &[
            snapshot(0, 1, vec![(1, run(web01, 0))]),
            snapshot(1, 1, vec![(1, with_log)]),
        ],
    );
    assert_eq!(
        timeline.get(8).unwrap().log,
        Some(PathBuf::from("logs/web-01.log"))
    );
    assert_eq!(timeline.lane(1).count(), 1);
}

// The feed delivers events before snapshots (the engine publishes its state at most every
// 25 ms): a run may start and end between two snapshots, and the next snapshot may still show
// it running.

#[test]
fn a_run_finished_before_any_snapshot_showed_it_is_one_bar_where_it_ran() {
    let web01 = item(1, "web-01", Action::Check);
    let mut timeline = Timeline::default();
    follow(
        &mut timeline,
        &[
            snapshot(10, 1, vec![]),
            finished(web01.clone(), Some((1, 11)), Outcome::Succeeded, 2),
            // Stale: taken before the finish, delivered after it.
            snapshot(12, 1, vec![(1, run(web01, 11))]),
        ],
    );
    let bars: Vec<_> = timeline
        .lane(1)
        .map(|e| (e.ran.unwrap().start, e.end, e.outcome.clone()))
        .collect();
    assert_eq!(bars, [(t(11), Some(t(13)), Some(Outcome::Succeeded))]);
    assert_eq!(timeline.entries().len(), 1);
}

#[test]
fn runs_finished_between_two_snapshots_end_when_each_did() {
    let (web01, web02) = (
        item(1, "web-01", Action::Check),
        item(2, "web-02", Action::Check),
    );
    let mut timeline = Timeline::default();
    follow(
        &mut timeline,
        &[
            snapshot(10, 2, vec![]),
            finished(web01, Some((1, 11)), Outcome::Succeeded, 1),
            finished(web02, Some((2, 12)), Outcome::Succeeded, 3),
        ],
    );
    let ends: Vec<_> = timeline.entries().iter().map(|e| e.end).collect();
    assert_eq!(ends, [Some(t(12)), Some(t(15))]);
}

#[test]
fn a_finish_the_journal_read_at_start_already_holds_changes_nothing() {
    let web01 = item(7, "web-01", Action::Deploy);
    let skipped_check = item(8, "web-01", Action::Check);
    let skipped = Outcome::Skipped {
        reason: "upstream failed".into(),
    };
    let mut timeline = Timeline::default();
    let journal = [
        Record::Session {
            at: t(0),
            pid: 1,
            workers: 1,
        },
        Record::Enqueued {
            at: t(0),
            item: web01.clone(),
        },
        Record::Started {
            at: t(3),
            id: 7,
            slot: 1,
            node: None,
        },
        Record::Finished {
            at: t(5),
            id: 7,
            server: "web-01".into(),
            action: Action::Deploy,
            outcome: Outcome::Succeeded,
            recap: None,
            duration_ms: Some(2_000),
            log: None,
            retried: false,
        },
        Record::Finished {
            at: t(5),
            id: 8,
            server: "web-01".into(),
            action: Action::Check,
            outcome: skipped.clone(),
            recap: None,
            duration_ms: None,
            log: None,
            retried: false,
        },
    ];
    journal.iter().for_each(|record| timeline.apply(record));
    let before = timeline.entries().to_vec();
    // The engine's events of the same runs, delivered after the journal was read.
    follow(
        &mut timeline,
        &[
            finished(web01.clone(), Some((1, 3)), Outcome::Succeeded, 2),
            finished(skipped_check, None, skipped, 0),
            snapshot(4, 1, vec![(1, run(web01, 3))]),
        ],
    );
    assert_eq!(timeline.entries(), before.as_slice());
    assert_eq!(timeline.lane(1).count(), 1);
}
