use super::matrix::Matrix;
use super::*;
use crate::engine::journal::Record;
use crate::engine::model::Item;
use chrono::TimeZone;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn session(at: i64, workers: u32) -> Record {
    Record::Session {
        at: t(at),
        pid: 1,
        workers,
    }
}

fn enqueued(id: ItemId, server: &str, action: Action) -> Record {
    Record::Enqueued {
        at: t(0),
        item: Item::requested(id, server, action, t(0)),
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

fn finished(id: ItemId, server: &str, action: Action, outcome: Outcome, at: i64) -> Record {
    Record::Finished {
        at: t(at),
        id,
        server: server.into(),
        action,
        outcome,
        recap: None,
        duration_ms: None,
        log: None,
        retried: false,
    }
}

fn failed(task: &str) -> Outcome {
    Outcome::Failed {
        rc: Some(2),
        task: Some(task.into()),
        message: "boom".into(),
    }
}

fn build(records: &[Record]) -> Timeline {
    let mut timeline = Timeline::default();
    records.iter().for_each(|r| timeline.apply(r));
    timeline
}

#[test]
fn runs_become_bars_on_their_workers_lanes() {
    let timeline = build(&[
        session(0, 2),
        enqueued(1, "web-01", Action::Deploy),
        enqueued(2, "web-02", Action::Deploy),
        enqueued(3, "web-03", Action::Deploy),
        started(1, 0, 1),
        started(2, 1, 1),
        finished(1, "web-01", Action::Deploy, Outcome::Succeeded, 5),
        started(3, 0, 5),
        finished(2, "web-02", Action::Deploy, failed("restart"), 7),
    ]);
    assert_eq!(timeline.shown_lanes(), 0..2);
    let lane0: Vec<&str> = timeline.lane(0).map(|e| e.server.as_str()).collect();
    assert_eq!(lane0, ["web-01", "web-03"]);
    let web02 = timeline.get(2).unwrap();
    assert_eq!(
        web02.ran,
        Some(Ran {
            lane: 1,
            start: t(1)
        })
    );
    assert_eq!(web02.duration(t(100)), Duration::from_secs(6));
    assert_eq!(web02.outcome, Some(failed("restart")));
    let web03 = timeline.get(3).unwrap();
    assert!(web03.is_running());
    assert_eq!(web03.duration(t(8)), Duration::from_secs(3));
    assert_eq!(timeline.span(t(9)), Some((t(1), t(9))));
}

#[test]
fn a_frame_finds_only_the_bars_it_overlaps() {
    let mut records = vec![session(0, 1)];
    for id in 0..100u64 {
        records.push(enqueued(id, &format!("s{id:03}"), Action::Check));
        records.push(started(id, 0, id as i64 * 10));
        records.push(finished(
            id,
            &format!("s{id:03}"),
            Action::Check,
            Outcome::Succeeded,
            id as i64 * 10 + 8,
        ));
    }
    let timeline = build(&records);
    let shown: Vec<&str> = timeline
        .lane_between(0, t(205), t(231), t(2000))
        .map(|e| e.server.as_str())
        .collect();
    // s020 ran 200–208, s021 210–218, s022 220–228, s023 starts at 230.
    assert_eq!(shown, ["s020", "s021", "s022", "s023"]);
    assert_eq!(
        timeline.lane_between(0, t(2000), t(3000), t(3000)).count(),
        0
    );
}

#[test]
fn a_run_cut_by_a_crash_ends_where_its_session_stopped() {
    let timeline = build(&[
        session(0, 1),
        enqueued(1, "db-01", Action::Provision),
        started(1, 0, 10),
        Record::Paused {
            at: t(40),
            reason: "operator".into(),
        },
        // fleetdeck was killed; it started again an hour later and marked the run.
        session(3600, 1),
        finished(1, "db-01", Action::Provision, Outcome::Interrupted, 3600),
    ]);
    let entry = timeline.get(1).unwrap();
    assert_eq!(entry.end, Some(t(40)));
    assert_eq!(entry.outcome, Some(Outcome::Interrupted));
    assert_eq!(entry.session, 0);
}

#[test]
fn runs_cut_by_a_crash_end_there_even_when_marked_before_the_next_session_starts() {
    let timeline = build(&[
        session(0, 2),
        enqueued(1, "db-01", Action::Deploy),
        enqueued(2, "lb-01", Action::Provision),
        started(1, 1, 10),
        started(2, 2, 12),
        // killed at about 12 s; started again an hour later, marking both first.
        finished(1, "db-01", Action::Deploy, Outcome::Interrupted, 3600),
        finished(2, "lb-01", Action::Provision, Outcome::Interrupted, 3600),
        session(3600, 2),
    ]);
    assert_eq!(timeline.get(1).unwrap().end, Some(t(12)));
    assert_eq!(timeline.get(2).unwrap().end, Some(t(12)));
    assert_eq!(timeline.get(2).unwrap().duration(t(4000)), Duration::ZERO);
    // Not runs of the new session: its window leaves them out.
    assert!(timeline.within(Window::LastSession).entries().is_empty());
}

#[test]
fn the_lanes_shown_are_the_worker_slots_from_one() {
    let timeline = build(&[
        session(0, 3),
        enqueued(1, "a", Action::Check),
        started(1, 2, 1),
        Record::Resized {
            at: t(2),
            from: 3,
            to: 5,
        },
    ]);
    // Nobody ran on 4 or 5, but they existed: their lanes show.
    assert_eq!(timeline.shown_lanes(), 1..6);
    assert_eq!(Timeline::default().shown_lanes(), 1..1);
}

#[test]
fn a_retried_attempt_is_a_second_bar_and_a_skip_never_ran() {
    let timeline = build(&[
        session(0, 2),
        enqueued(1, "web-01", Action::Deploy),
        enqueued(2, "web-01", Action::Check),
        started(1, 0, 1),
        finished(
            1,
            "web-01",
            Action::Deploy,
            Outcome::Unreachable {
                message: "ssh".into(),
            },
            2,
        ),
        started(1, 1, 4),
        finished(1, "web-01", Action::Deploy, failed("x"), 6),
        finished(
            2,
            "web-01",
            Action::Check,
            Outcome::Skipped {
                reason: "deploy failed".into(),
            },
            6,
        ),
    ]);
    let deploys: Vec<_> = timeline
        .entries()
        .iter()
        .filter(|e| e.action == Action::Deploy)
        .map(|e| (e.ran.unwrap().lane, e.outcome.clone().unwrap().label()))
        .collect();
    assert_eq!(deploys, [(0, "unreachable"), (1, "failed")]);
    let check = timeline.get(2).unwrap();
    assert_eq!(check.ran, None);
    assert_eq!(check.at(), Some(t(6)));
}

#[test]
fn the_last_session_window_keeps_held_work_it_ran_and_its_worker_count() {
    let timeline = build(&[
        session(0, 4),
        enqueued(1, "a", Action::Check),
        enqueued(2, "b", Action::Check),
        started(1, 0, 1),
        finished(1, "a", Action::Check, Outcome::Succeeded, 2),
        session(100, 2),
        started(2, 0, 101),
        Record::Resized {
            at: t(102),
            from: 2,
            to: 3,
        },
        finished(2, "b", Action::Check, Outcome::Succeeded, 103),
    ])
    .within(Window::LastSession);
    let servers: Vec<&str> = timeline
        .entries()
        .iter()
        .map(|e| e.server.as_str())
        .collect();
    assert_eq!(servers, ["b"]);
    assert_eq!(timeline.workers_at(t(101)), 2);
    assert_eq!(timeline.workers_at(t(102)), 3);
    assert_eq!(timeline.shown_lanes(), 0..3);
}

#[test]
fn the_since_window_keeps_runs_that_end_in_it() {
    let records = [
        session(0, 1),
        enqueued(1, "a", Action::Check),
        enqueued(2, "b", Action::Check),
        started(1, 0, 1),
        finished(1, "a", Action::Check, Outcome::Succeeded, 50),
        started(2, 0, 60),
        finished(2, "b", Action::Check, Outcome::Succeeded, 70),
    ];
    let servers = |window| {
        build(&records)
            .within(window)
            .entries()
            .iter()
            .map(|e| e.server.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(servers(Window::Since(t(40))), ["a", "b"]);
    assert_eq!(servers(Window::Since(t(55))), ["b"]);
    assert_eq!(servers(Window::Since(t(80))), Vec::<String>::new());
    assert_eq!(servers(Window::All), ["a", "b"]);
}

#[test]
fn the_matrix_keeps_the_newest_attempts_per_action_and_unlisted_servers() {
    let timeline = build(&[
        session(0, 1),
        enqueued(1, "web-01", Action::Deploy),
        enqueued(2, "web-01", Action::Deploy),
        enqueued(3, "web-01", Action::Deploy),
        enqueued(4, "gone", Action::Check),
        enqueued(5, "web-02", Action::Check),
        started(1, 0, 1),
        finished(1, "web-01", Action::Deploy, failed("a"), 2),
        started(2, 0, 3),
        finished(2, "web-01", Action::Deploy, Outcome::Succeeded, 4),
        started(3, 0, 5),
        finished(3, "web-01", Action::Deploy, Outcome::Succeeded, 9),
        started(4, 0, 10),
        finished(4, "gone", Action::Check, Outcome::Succeeded, 11),
        // Cancelled while queued: never ran, not in the matrix.
        finished(
            5,
            "web-02",
            Action::Check,
            Outcome::Cancelled { during_task: None },
            12,
        ),
    ]);
    let servers = ["web-01".to_string(), "web-02".to_string()];
    let matrix = Matrix::build(&timeline, &servers, 2);
    let names: Vec<(&str, bool)> = matrix
        .rows
        .iter()
        .map(|r| (r.server.as_str(), r.unlisted))
        .collect();
    assert_eq!(
        names,
        [("web-01", false), ("web-02", false), ("gone", true)]
    );
    let deploys: Vec<ItemId> = matrix.rows[0].cells[1]
        .iter()
        .map(|i| timeline.entries()[*i].id)
        .collect();
    assert_eq!(deploys, [3, 2], "the two newest, newest first");
    assert!(matrix.rows[1].cells.iter().all(Vec::is_empty));
}

#[test]
fn a_lane_keeps_where_its_runs_went_wrong_as_they_end() {
    // Lane 0: ok, failed, ok, unreachable, then one still running.
    let outcomes = [
        Some(Outcome::Succeeded),
        Some(failed("restart")),
        Some(Outcome::Succeeded),
        Some(Outcome::Unreachable {
            message: "no route".into(),
        }),
        None,
    ];
    let mut records = vec![session(0, 1)];
    for (n, outcome) in outcomes.iter().enumerate() {
        let (id, server) = (n as u64 + 1, format!("web-{n:02}"));
        records.push(enqueued(id, &server, Action::Check));
        records.push(started(id, 0, n as i64 * 10));
        if let Some(outcome) = outcome {
            records.push(finished(
                id,
                &server,
                Action::Check,
                outcome.clone(),
                n as i64 * 10 + 5,
            ));
        }
    }
    let timeline = build(&records);
    let runs = timeline.lane_runs(0);
    assert_eq!(runs.len(), 5);
    assert_eq!(runs.last_went_wrong(0..5), Some(3));
    assert_eq!(runs.last_went_wrong(0..3), Some(1));
    assert_eq!(runs.last_went_wrong(2..3), None);
    assert_eq!(
        runs.last_went_wrong(4..5),
        None,
        "a running run went nowhere yet"
    );
    // The same runs as `lane_between`, by position.
    let between = runs.between(t(12), t(31), t(100));
    assert_eq!(between, 1..4);
    let by_position: Vec<&Entry> = between.map(|p| runs.get(p)).collect();
    let by_lane: Vec<&Entry> = timeline.lane_between(0, t(12), t(31), t(100)).collect();
    assert_eq!(by_position, by_lane);
    assert_eq!(runs.position(timeline.get(4).unwrap()), Some(3));
    assert!(timeline.lane_runs(7).is_empty());

    // The running one fails later; a window cut from the fifth second on renumbers the lane.
    let mut timeline = timeline;
    timeline.apply(&finished(5, "web-04", Action::Check, failed("boom"), 50));
    assert_eq!(timeline.lane_runs(0).last_went_wrong(0..5), Some(4));
    let cut = timeline.within(Window::Since(t(6)));
    let runs = cut.lane_runs(0);
    assert_eq!(runs.get(0).server, "web-01");
    assert_eq!(runs.last_went_wrong(0..4), Some(3));
    assert_eq!(runs.last_went_wrong(0..1), Some(0));
    assert_eq!(runs.last_went_wrong(1..2), None);
}
