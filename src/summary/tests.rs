//! The summary as a person and a script read it: items left queued, rollouts and their notes.

use super::*;
use crate::engine::RanOn;
use crate::engine::model::Item;
use crate::engine::rollout::{Rules, Step};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

fn item(id: ItemId, server: &str, held: bool) -> Item {
    Item {
        held,
        ..Item::requested(id, server, Action::Check, Utc::now())
    }
}

fn summary(queue: &[(ItemId, bool)]) -> Summary {
    let run = FinishedRun {
        item: item(1, "web-01", false),
        ran: Some(RanOn {
            slot: 1,
            started_at: Utc::now(),
        }),
        outcome: Outcome::Succeeded,
        recap: None,
        duration: Duration::from_secs(2),
        log_path: None,
        retried: false,
    };
    let queue = QueueView::of(queue.iter().map(|(id, held)| item(*id, "db-01", *held)));
    Summary::new(vec![run], BTreeMap::new(), &queue, &[] as &[Arc<Rollout>])
}

#[test]
fn the_text_and_the_json_count_the_same_items_left_queued() {
    let cases = [
        // (queue: id, held from an earlier session), left_queued, note, all succeeded
        (vec![], 0, None, true),
        (
            vec![(7, true), (8, true), (9, true)],
            3,
            Some(
                "3 item(s) stay queued for later (3 from an earlier session): `fleetdeck run -e demo --resume` runs them",
            ),
            true,
        ),
        (
            vec![(7, true), (10, false)],
            2,
            Some(
                "2 item(s) stay queued for later (1 from an earlier session): `fleetdeck run -e demo --resume` runs them",
            ),
            false,
        ),
        (
            vec![(10, false)],
            1,
            Some("1 item(s) stay queued for later: `fleetdeck run -e demo --resume` runs them"),
            false,
        ),
    ];
    for (queue, left, note, succeeded) in cases {
        let summary = summary(&queue);
        let json = summary.to_json();
        assert_eq!(json["left_queued"], left, "{queue:?}");
        assert_eq!(summary.left().queued, left);
        assert_eq!(summary.left_note("demo").as_deref(), note);
        assert_eq!(json["all_succeeded"], succeeded, "{queue:?}");
    }
}

/// deploy #12 over four servers, canary 1, window 2, after `steps` (each a server's
/// number and what happened to it).
fn rollout(steps: &[(u32, &str)]) -> Arc<Rollout> {
    let members = (1..=4).map(|n| (format!("web-0{n}"), 12 + n)).collect();
    let rules = Rules {
        canary: 1,
        window: 2,
        max_fail_percentage: None,
        health_gate: false,
    };
    let mut rollout = Rollout::new(12, Action::Deploy, Utc::now(), members, rules);
    for (n, what) in steps {
        let server = format!("web-0{n}");
        rollout.apply(&match *what {
            "in" => Step::Admit { server },
            "ok" => Step::Healthy { server },
            "abort" => Step::Aborted,
            _ => Step::Failed {
                server,
                reason: what.to_string(),
            },
        });
    }
    Arc::new(rollout)
}

#[test]
fn a_stopped_rollout_is_a_row_and_the_note_says_what_to_run() {
    let stopped = rollout(&[
        (1, "in"),
        (1, "ok"),
        (2, "in"),
        (3, "in"),
        (2, "ok"),
        (3, "deploy failed (rc 2)"),
    ]);
    let summary = Summary::new(
        Vec::new(),
        BTreeMap::new(),
        &QueueView::default(),
        &[stopped],
    );
    let table = summary.table();
    assert!(
        table.contains(
            "ROLLOUT     SERVERS  CANARY  WINDOW  HEALTHY  FAILED  DROPPED  IN FLIGHT  WAITING  PHASE\n\
             deploy #12  4        1       2       2        1       0        0          1        \
             stopped: web-03 deploy failed (rc 2)\n"
        ),
        "{table}"
    );
    assert_eq!(
        summary.left_note("demo").as_deref(),
        Some(
            "Rollout deploy #12 is stopped (web-03 deploy failed (rc 2)); 1 deploy(s) wait: \
             `fleetdeck run -e demo --resume-rollout` continues it, \
             `fleetdeck run -e demo --abort-rollout` cancels the rest"
        )
    );
    let json = summary.to_json();
    let row = &json["rollouts"][0];
    assert_eq!(row["name"], "deploy #12");
    assert_eq!(row["phase"], "stopped");
    assert_eq!(row["reason"], "web-03 deploy failed (rc 2)");
    assert_eq!(row["waiting_servers"], serde_json::json!(["web-04"]));
    assert_eq!(
        (row["healthy"].clone(), row["failed"].clone()),
        (2.into(), 1.into())
    );
}

#[test]
fn a_finished_or_aborted_rollout_leaves_no_note() {
    let every = [(1, "in"), (1, "ok"), (2, "in"), (3, "in"), (2, "ok")];
    let done = rollout(&[&every[..], &[(3, "ok"), (4, "in"), (4, "ok")]].concat());
    let aborted = rollout(&[&every[..], &[(0, "abort")]].concat());
    for (rollout, phase) in [(done, "done"), (aborted, "aborted")] {
        let summary = Summary::new(
            Vec::new(),
            BTreeMap::new(),
            &QueueView::default(),
            &[rollout],
        );
        assert_eq!(summary.left_note("demo"), None);
        assert!(summary.table().lines().last().unwrap().ends_with(phase));
        assert_eq!(summary.to_json()["rollouts"][0]["phase"], phase);
    }
}

/// A rollout that ended in this run with a failed server fails the run, even when the failure
/// was an earlier session's (`--resume-rollout` finishing it); one ended clean does not.
#[test]
fn a_rollout_that_ended_with_failures_fails_the_run() {
    let failed_then_done = rollout(&[
        (1, "in"),
        (1, "ok"),
        (2, "in"),
        (3, "in"),
        (2, "ok"),
        (3, "deploy failed (rc 2)"),
        (4, "in"),
        (4, "ok"),
    ]);
    let clean = rollout(&[
        (1, "in"),
        (1, "ok"),
        (2, "in"),
        (3, "in"),
        (2, "ok"),
        (3, "ok"),
        (4, "in"),
        (4, "ok"),
    ]);
    for (rollout, ok) in [(failed_then_done, false), (clean, true)] {
        let summary = Summary::new(
            Vec::new(),
            BTreeMap::new(),
            &QueueView::default(),
            &[rollout],
        );
        assert_eq!(summary.all_succeeded(), ok, "{}", summary.table());
        let note = summary.left_note("demo");
        if ok {
            assert_eq!(note, None);
        } else {
            assert_eq!(
                note.as_deref(),
                Some(
                    "Rollout deploy #12 is done with 1 failed server(s): web-03 (the run exits 2)"
                )
            );
        }
    }
}
