//! The timeline of journals as they really are: attempts that were retried, and journals a
//! compaction rewrote (before and after it kept where and when each run started).

use super::*;
use crate::engine::journal::Record;
use crate::engine::model::Item;
use chrono::TimeZone;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn enqueued(id: ItemId, server: &str) -> Record {
    Record::Enqueued {
        at: t(0),
        item: Item::requested(id, server, Action::Deploy, t(0)),
    }
}

fn started(id: ItemId, slot: Slot, at: i64) -> Record {
    Record::Started {
        at: t(at),
        id,
        slot,
        node: None,
    }
}

fn finished(id: ItemId, server: &str, outcome: Outcome, at: i64, ms: u64, retried: bool) -> Record {
    Record::Finished {
        at: t(at),
        id,
        server: server.into(),
        action: Action::Deploy,
        outcome,
        recap: None,
        duration_ms: Some(ms),
        log: None,
        retried,
    }
}

fn compacted() -> Record {
    Record::Compacted {
        at: t(1_000),
        lines: 50_000,
        next_id: 10,
        succeeded: vec![],
        durations: vec![],
    }
}

fn build(records: &[Record]) -> Timeline {
    let mut timeline = Timeline::default();
    records.iter().for_each(|r| timeline.apply(r));
    timeline
}

#[test]
fn an_attempt_another_followed_is_marked_retried_and_its_retry_is_not() {
    let unreachable = Outcome::Unreachable {
        message: "ssh: connection refused".into(),
    };
    let timeline = build(&[
        enqueued(1, "web-01"),
        started(1, 1, 0),
        finished(1, "web-01", unreachable.clone(), 5, 5_000, true),
        // The retry is a new item.
        enqueued(2, "web-01"),
        started(2, 1, 20),
        finished(2, "web-01", Outcome::Succeeded, 30, 10_000, false),
    ]);
    let attempts: Vec<_> = timeline
        .entries()
        .iter()
        .map(|e| (e.id, e.outcome.clone(), e.retried))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Some(unreachable), true),
            (2, Some(Outcome::Succeeded), false)
        ]
    );
}

/// What compaction wrote before it kept starts: each kept run on slot 0, started when it
/// finished, in (server, action) order rather than time order.
#[test]
fn runs_of_a_journal_compacted_without_their_slots_have_no_lane_but_their_durations() {
    let timeline = build(&[
        compacted(),
        enqueued(1, "web-01"),
        started(1, 0, 500),
        finished(1, "web-01", Outcome::Succeeded, 500, 40_000, false),
        enqueued(2, "web-02"),
        started(2, 0, 100),
        finished(2, "web-02", Outcome::Succeeded, 100, 20_000, false),
        // The next session's runs are on their lanes as ever.
        Record::Session {
            at: t(2_000),
            pid: 7,
            workers: 2,
        },
        enqueued(3, "web-01"),
        started(3, 1, 2_010),
        finished(3, "web-01", Outcome::Succeeded, 2_050, 40_000, false),
    ]);
    let web01 = timeline.get(1).unwrap();
    assert!(web01.lane_lost);
    assert_eq!(web01.ran.map(|r| r.start), Some(t(460)));
    assert_eq!(web01.duration(t(3_000)), Duration::from_secs(40));
    assert_eq!(timeline.get(2).unwrap().ran.map(|r| r.start), Some(t(80)));
    assert_eq!(timeline.lane(0).count(), 0, "no lane of made-up bars");
    assert_eq!(timeline.shown_lanes(), 1..3);
    let lane1: Vec<ItemId> = timeline.lane(1).map(|e| e.id).collect();
    assert_eq!(lane1, [3]);
    assert_eq!(timeline.span(t(3_000)), Some((t(80), t(2_050))));
    // Still in the matrix and the reports.
    assert!(timeline.entries().iter().all(matrix::counts));
}

#[test]
fn a_lane_read_out_of_time_order_is_still_found_by_bisection() {
    let mut records = vec![compacted()];
    // Kept runs on their real slots, written in server order: web-01 ran last.
    for (id, server, start) in [(1, "web-01", 300), (2, "web-02", 100), (3, "web-03", 200)] {
        records.push(enqueued(id, server));
        records.push(started(id, 1, start));
        let outcome = match id {
            2 => Outcome::Failed {
                rc: Some(2),
                task: None,
                message: "boom".into(),
            },
            _ => Outcome::Succeeded,
        };
        records.push(finished(id, server, outcome, start + 50, 50_000, false));
    }
    let timeline = build(&records);
    let lane1: Vec<ItemId> = timeline.lane(1).map(|e| e.id).collect();
    assert_eq!(lane1, [2, 3, 1]);
    let between = |from, to| -> Vec<ItemId> {
        (timeline.lane_between(1, t(from), t(to), t(1_000)))
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(between(120, 130), [2]);
    assert_eq!(between(240, 320), [3, 1]);
    assert_eq!(between(0, 1_000), [2, 3, 1]);
    // Where the lane went wrong moved with the runs put before it.
    let runs = timeline.lane_runs(1);
    let wrong = runs.last_went_wrong(0..3).map(|p| runs.get(p).id);
    assert_eq!(wrong, Some(2));
}
