//! The status report from journals written record by record: what an operator and a script
//! are told about runs cut by a crash, runs in flight elsewhere, failures and check runs.

use super::*;
use crate::engine::model::{Item, Purpose};
use crate::engine::rollout::{Rollout, RolloutId, Rules, Step};
use chrono::TimeZone;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, minute, 0).unwrap()
}

/// A journal in the making, and when and where each run started.
struct Journal {
    replay: Replay,
    starts: Starts,
}

impl Journal {
    fn new() -> Journal {
        Journal {
            replay: Replay::empty(),
            starts: Starts::default(),
        }
    }

    fn queue(&mut self, id: ItemId, server: &str, action: Action, check_mode: bool) {
        let item = Item {
            id,
            server: server.into(),
            action,
            priority: 0,
            tags: Vec::new(),
            check_mode,
            attempt: 1,
            enqueued_at: at(0),
            after: None,
            purpose: Purpose::Requested,
            not_before: None,
            held: false,
        };
        self.replay.apply(&Record::Enqueued { at: at(0), item });
    }

    /// A chain link: queued to run once `after` succeeded.
    fn queue_after(&mut self, id: ItemId, server: &str, action: Action, after: ItemId) {
        self.queue(id, server, action, false);
        let mut pending = self.replay.pending();
        let link = pending.iter_mut().find(|item| item.id == id).unwrap();
        link.after = Some(after);
        self.replay.apply(&Record::Enqueued {
            at: at(0),
            item: link.clone(),
        });
    }

    /// Queued, started at minute `id`, its log opened; not finished.
    fn start(&mut self, id: ItemId, server: &str, action: Action, check_mode: bool) {
        self.start_on(None, id, server, action, check_mode);
    }

    /// `start`, on `node` when config.yml names nodes.
    fn start_on(
        &mut self,
        node: Option<&str>,
        id: ItemId,
        server: &str,
        action: Action,
        check_mode: bool,
    ) {
        self.queue(id, server, action, check_mode);
        let node = node.map(String::from);
        self.replay.apply(&Record::Started {
            at: at(id as u32),
            id,
            slot: 1,
            node: node.clone(),
        });
        self.starts.record(id, at(id as u32), node);
        self.replay.apply(&Record::LogOpened {
            at: at(id as u32),
            id,
            log: format!("logs/demo/{server}_{action}_{id}.log").into(),
        });
    }

    fn finish(&mut self, id: ItemId, server: &str, action: Action, outcome: Outcome) {
        self.replay.apply(&Record::Finished {
            at: at(id as u32 + 1),
            id,
            server: server.into(),
            action,
            outcome,
            recap: None,
            duration_ms: Some(60_000),
            log: None,
            retried: false,
        });
    }

    fn ran(&mut self, id: ItemId, server: &str, action: Action, outcome: Outcome) {
        self.start(id, server, action, false);
        self.finish(id, server, action, outcome);
    }

    /// A deploy rollout begun at minute 0 over `members` (server, item), no health gate.
    fn begin_rollout(
        &mut self,
        id: RolloutId,
        members: &[(&str, ItemId)],
        canary: u32,
        window: u32,
    ) {
        let members = members
            .iter()
            .map(|(server, item)| (server.to_string(), *item))
            .collect();
        let rules = Rules {
            canary,
            window,
            max_fail_percentage: None,
            health_gate: false,
        };
        let rollout = Rollout::new(id, Action::Deploy, at(0), members, rules);
        self.replay.apply(&Record::RolloutBegan {
            at: at(0),
            rollout: Box::new(rollout),
        });
    }

    fn rollout_step(&mut self, id: RolloutId, minute: u32, step: Step) {
        self.replay.apply(&Record::RolloutStep {
            at: at(minute),
            rollout: id,
            step,
        });
    }

    fn report(self, holder: Option<u32>) -> Report {
        let servers = ["db-01", "db-02", "web-01"].map(String::from).to_vec();
        Report::new(
            "demo",
            Some(servers),
            self.replay,
            self.starts,
            holder,
            &default_policy(),
            now(),
        )
    }
}

fn failed() -> Outcome {
    Outcome::Failed {
        rc: Some(2),
        task: Some("Verify release checksum".into()),
        message: String::new(),
    }
}

fn now() -> DateTime<Utc> {
    at(30)
}

/// The rules of a config.yml with no keys.
fn default_policy() -> Policy {
    Policy::from(&crate::config::Config::default())
}

#[test]
fn a_run_cut_by_a_crash_is_named_with_its_log_and_fails_the_exit_code() {
    let mut journal = Journal::new();
    journal.ran(1, "web-01", Action::Provision, Outcome::Succeeded);
    journal.start(5, "web-01", Action::Provision, false);
    let report = journal.report(None);

    let text = report.text(now());
    assert!(
        text.contains("web-01  interrupted 25m ago"),
        "the table shows it, not the success before it:\n{text}"
    );
    assert!(
        text.contains(
            "Interrupted when fleetdeck stopped (they do not re-run by themselves):\n  \
             web-01 provision #5, started 25m ago (2026-01-02 03:05:00 UTC)\n    \
             log: logs/demo/web-01_provision_5.log\n"
        ),
        "{text}"
    );
    assert!(!text.contains("running now"), "{text}");
    assert!(report.any_failing());

    let json = report.json();
    assert_eq!(json["interrupted"][0]["server"], "web-01");
    assert_eq!(json["interrupted"][0]["action"], "provision");
    assert_eq!(json["interrupted"][0]["id"], 5);
    assert_eq!(
        json["interrupted"][0]["log"],
        "logs/demo/web-01_provision_5.log"
    );
    assert_eq!(
        json["servers"]["web-01"]["provision"]["outcome"],
        "interrupted"
    );
    assert_eq!(json["failing"][0]["id"], 5, "{json}");
    assert!(json["running"].as_array().unwrap().is_empty());
}

#[test]
fn an_interrupted_run_reads_the_same_before_and_after_the_restart_journals_it() {
    let mut cut = Journal::new();
    cut.start(5, "web-01", Action::Provision, false);
    let mut marked = Journal::new();
    marked.start(5, "web-01", Action::Provision, false);
    // The next start journals it a minute later; it is still dated by when it started.
    marked.finish(5, "web-01", Action::Provision, Outcome::Interrupted);
    let (cut, marked) = (cut.report(None), marked.report(None));
    assert_eq!(cut.text(now()), marked.text(now()));
    assert_eq!(cut.interrupted(), marked.interrupted());
    assert!(marked.text(now()).contains("web-01  interrupted 25m ago"));
}

#[test]
fn while_another_fleetdeck_holds_the_environment_its_runs_are_running_now() {
    let mut journal = Journal::new();
    journal.ran(1, "web-01", Action::Provision, Outcome::Succeeded);
    journal.start(5, "web-01", Action::Provision, true);
    let report = journal.report(Some(4242));

    let text = report.text(now());
    assert!(
        text.contains("web-01  running now (fleetdeck pid 4242)"),
        "{text}"
    );
    assert!(
        text.contains(
            "Running now in fleetdeck pid 4242:\n  \
             web-01 provision #5 (check mode), started 25m ago (2026-01-02 03:05:00 UTC)\n    \
             log: logs/demo/web-01_provision_5.log\n"
        ),
        "{text}"
    );
    assert!(!text.contains("nterrupted"), "{text}");
    assert!(!report.any_failing(), "a run in flight is not a failure");

    let json = report.json();
    assert!(json["interrupted"].as_array().unwrap().is_empty());
    assert_eq!(json["running"][0]["id"], 5);
    assert_eq!(json["running"][0]["check_mode"], true);
    assert_eq!(json["in_use_by_pid"], 4242);
    assert_eq!(
        json["servers"]["web-01"]["provision"]["outcome"], "succeeded",
        "the latest finished run stays what it was"
    );
}

#[test]
fn failures_come_with_their_logs_and_a_check_run_says_so() {
    let mut journal = Journal::new();
    journal.ran(1, "db-02", Action::Deploy, failed());
    journal.ran(2, "db-01", Action::Deploy, Outcome::Succeeded);
    journal.replay.apply(&Record::Health {
        at: at(4),
        deploy: 2,
        server: "db-01".into(),
        healthy: false,
    });
    journal.start(3, "web-01", Action::Check, true);
    journal.finish(3, "web-01", Action::Check, Outcome::Succeeded);
    let report = journal.report(None);

    let text = report.text(now());
    assert!(text.contains("ok (check mode) 26m ago"), "{text}");
    assert!(
        text.contains(
            "Failing:\n  \
             db-01 deploy #2: succeeded, unhealthy, 27m ago\n    \
             log: logs/demo/db-01_deploy_2.log\n  \
             db-02 deploy #1: failed (rc 2, task \"Verify release checksum\"), 28m ago\n    \
             log: logs/demo/db-02_deploy_1.log\n"
        ),
        "{text}"
    );
    assert!(!text.contains("Interrupted"), "{text}");
    assert!(report.any_failing());
    let json = report.json();
    let failing: Vec<&str> = json["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["server"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["db-01", "db-02"]);
    assert_eq!(json["servers"]["web-01"]["check"]["check_mode"], true);
}

#[test]
fn all_fine_is_not_failing_and_never_run_servers_show_a_dash() {
    let mut journal = Journal::new();
    journal.ran(1, "web-01", Action::Deploy, Outcome::Succeeded);
    let report = journal.report(None);
    assert!(!report.any_failing());
    assert_eq!(
        report.text(now()),
        "SERVER  PROVISION  DEPLOY      CHECK\n\
         db-01   -          -           -\n\
         db-02   -          -           -\n\
         web-01  -          ok 28m ago  -\n",
        "nothing to report beyond the table"
    );
}

#[test]
fn queued_items_are_held_for_resume_or_belong_to_the_running_fleetdeck() {
    let history = |journal: &mut Journal| {
        journal.ran(1, "web-01", Action::Deploy, Outcome::Succeeded);
        journal.queue(2, "db-01", Action::Check, false);
    };
    let mut earlier = Journal::new();
    history(&mut earlier);
    let report = earlier.report(None);
    let text = report.text(now());
    assert!(
        text.contains(
            "\n1 item(s) queued from an earlier session, held: `fleetdeck run -e demo --resume` runs them, `--discard-held` drops them:\n  check on db-01 (#2)\n"
        ),
        "{text}"
    );
    assert_eq!(report.json()["held"][0], "check on db-01 (#2)");
    let mut live = Journal::new();
    history(&mut live);
    let text = live.report(Some(77)).text(now());
    assert!(
        text.contains("\n1 item(s) queued in fleetdeck pid 77.\n"),
        "{text}"
    );
}

/// A chain cut by a crash: its provision never finished, so the next start skips the deploy
/// and check that waited for it. Status says so now rather than listing them as held.
#[test]
fn links_behind_a_run_cut_by_a_crash_are_skipped_not_held() {
    let history = |journal: &mut Journal| {
        journal.start(1, "web-01", Action::Provision, false);
        journal.queue_after(2, "web-01", Action::Deploy, 1);
        journal.queue_after(3, "web-01", Action::Check, 2);
        journal.queue(4, "db-01", Action::Check, false);
    };
    let mut earlier = Journal::new();
    history(&mut earlier);
    let report = earlier.report(None);
    assert_eq!(report.queued, ["check on db-01 (#4)"]);
    assert_eq!(
        report.json()["held"],
        serde_json::json!(["check on db-01 (#4)"])
    );
    let web = &report.status["web-01"];
    assert_eq!(web[&Action::Provision].outcome, Outcome::Interrupted);
    for action in [Action::Deploy, Action::Check] {
        assert!(
            matches!(web[&action].outcome, Outcome::Skipped { .. }),
            "{action}: {:?}",
            web[&action]
        );
        // Dated like the cut provision, not by when status was asked.
        assert_eq!(web[&action].at, at(1), "{action}");
    }
    let text = report.text(now());
    assert!(
        text.contains("\n1 item(s) queued from an earlier session, held"),
        "{text}"
    );
    // While a fleetdeck holds the environment, the provision runs there and the links wait.
    let mut live = Journal::new();
    history(&mut live);
    let report = live.report(Some(77));
    assert_eq!(report.queued.len(), 3, "{:?}", report.queued);
}

/// Without the inventory, which servers are gone is not known: held work is listed as the
/// journal has it, not skipped as if every server had left.
#[test]
fn an_unreadable_inventory_foresees_nothing() {
    let mut journal = Journal::new();
    journal.queue(4, "db-01", Action::Check, false);
    let report = Report::new(
        "demo",
        None,
        journal.replay,
        journal.starts,
        None,
        &default_policy(),
        now(),
    );
    assert_eq!(report.queued, ["check on db-01 (#4)"]);
    assert_eq!(report.in_inventory, None);
}

#[test]
fn a_server_the_inventory_no_longer_has_is_listed_and_said_to_be_gone() {
    let mut journal = Journal::new();
    journal.ran(1, "web-01", Action::Check, Outcome::Succeeded);
    journal.ran(2, "web-07", Action::Check, Outcome::Succeeded);
    let report = journal.report(None);
    let table = report.table(now());
    assert!(table.contains("web-07 (not in the inventory)"), "{table}");
    assert!(!table.contains("web-01 (not"), "{table}");
}

#[test]
fn a_stopped_rollout_names_its_waiting_servers_and_what_to_run() {
    let mut journal = Journal::new();
    journal.ran(1, "web-01", Action::Deploy, Outcome::Succeeded);
    journal.ran(2, "db-01", Action::Deploy, failed());
    journal.queue(3, "db-02", Action::Deploy, false);
    journal.begin_rollout(4, &[("web-01", 1), ("db-01", 2), ("db-02", 3)], 1, 2);
    let reason = "deploy failed (rc 2, task \"Verify release checksum\")";
    for step in [
        Step::Admit {
            server: "web-01".into(),
        },
        Step::Healthy {
            server: "web-01".into(),
        },
        Step::Admit {
            server: "db-01".into(),
        },
        Step::Failed {
            server: "db-01".into(),
            reason: reason.into(),
        },
    ] {
        journal.rollout_step(4, 3, step);
    }
    let report = journal.report(None);
    let text = report.text(now());
    assert!(
        text.contains(&format!(
            "\nRollouts left unfinished (their deploys wait, held):\n  \
             deploy #4: stopped: db-01 {reason} (1/3 healthy · 1 failed · 1 waiting; canary 1, \
             window 2)\n    waiting: db-02\n  \
             `fleetdeck run -e demo --resume-rollout` continues it, \
             `fleetdeck run -e demo --abort-rollout` cancels the rest\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("  deploy on db-02 (#3), in rollout deploy #4\n"),
        "the held list says whose it is: {text}"
    );
    let json = report.json();
    assert_eq!(json["rollouts"][0]["phase"], "stopped");
    assert_eq!(json["rollouts"][0]["waiting_servers"][0], "db-02");
    assert_eq!(
        json["held"][0],
        "deploy on db-02 (#3), in rollout deploy #4"
    );
}

/// kill -9 mid-window: with nobody holding the environment, status shows the rollout as the
/// next start will find it (the cut deploy failed, so it stopped), not as still deploying.
#[test]
fn a_rollout_cut_by_a_crash_is_shown_as_the_next_start_finds_it() {
    let rollout_with = |journal: &mut Journal| {
        journal.begin_rollout(3, &[("db-01", 1), ("db-02", 2)], 0, 2);
        for server in ["db-01", "db-02"] {
            let server = server.into();
            journal.rollout_step(3, 1, Step::Admit { server });
        }
    };
    for holder in [None, Some(4242)] {
        let mut journal = Journal::new();
        journal.start(1, "db-01", Action::Deploy, false);
        journal.queue(2, "db-02", Action::Deploy, false);
        rollout_with(&mut journal);
        let json = journal.report(holder).json();
        let rollout = &json["rollouts"][0];
        match holder {
            None => {
                assert_eq!(rollout["phase"], "stopped", "{json:#}");
                assert_eq!(rollout["failed_servers"][0], "db-01");
                let reason = rollout["reason"].as_str().unwrap();
                assert!(reason.contains("deploy interrupted"), "{reason}");
            }
            Some(_) => assert_eq!(rollout["phase"], "window", "it runs on: {json:#}"),
        }
    }
}

/// kill -9 mid-rollout, then a member left the inventory while fleetdeck was stopped: status
/// drops it from the rollout as the next start will, instead of listing it as waiting.
#[test]
fn a_rollout_member_gone_from_the_inventory_is_dropped_not_waiting() {
    let mut journal = Journal::new();
    journal.start(1, "db-01", Action::Deploy, false);
    journal.queue(2, "db-02", Action::Deploy, false);
    journal.queue(3, "web-09", Action::Deploy, false);
    journal.begin_rollout(5, &[("db-01", 1), ("db-02", 2), ("web-09", 3)], 0, 1);
    let server = "db-01".into();
    journal.rollout_step(5, 1, Step::Admit { server });
    let json = journal.report(None).json();
    let rollout = &json["rollouts"][0];
    assert_eq!(rollout["phase"], "stopped", "{json:#}");
    assert_eq!(rollout["dropped"], 1, "{json:#}");
    assert_eq!(
        rollout["waiting_servers"],
        serde_json::json!(["db-02"]),
        "{json:#}"
    );
    assert_eq!(
        json["held"],
        serde_json::json!(["deploy on db-02 (#2), in rollout deploy #5"])
    );
}

mod nodes;
