//! `Core::update` as plain data in, effects out: no runtime, no sleeps, time is a value.

use super::*;
use crate::engine::queue::Wait;
use crate::engine::{RunReport, Target};
use chrono::TimeZone;

// ---- time, policy, servers ----------------------------------------------------------------

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 0, 0).unwrap()
}

fn secs(n: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(n)
}

/// Three workers, every optional rule off; cases switch on what they test with
/// `Policy { .., ..policy() }`.
fn policy() -> Policy {
    Policy {
        workers: 3,
        action_timeout: Duration::from_secs(1800),
        health_check_enabled: false,
        health_check_timeout: Duration::from_secs(60),
        health_check_retries: 3,
        auto_retry_enabled: false,
        max_retries: 2,
        max_fail_percentage: None,
        provisioning_tags: vec!["base".into()],
        deployment_tags: vec!["release".into()],
        provisioning_sequential: false,
        rolling: None,
    }
}

/// web-01 .. web-08.
fn servers() -> Vec<String> {
    (1..=8).map(|n| format!("web-{n:02}")).collect()
}

fn web(n: usize) -> String {
    format!("web-{n:02}")
}

fn core_with(policy: Policy) -> Core {
    Core::new(policy, servers())
}

// ---- inputs ------------------------------------------------------------------------------

fn request(servers: &[&str], target: Target) -> EnqueueRequest {
    EnqueueRequest {
        servers: servers.iter().map(|s| s.to_string()).collect(),
        target,
        tags: None,
        check_mode: false,
        priority: 0,
    }
}

fn command(core: &mut Core, command: Command) -> Vec<Effect> {
    core.update(Input::Command(command), t0())
}

fn enqueue(core: &mut Core, servers: &[&str], target: Target) -> Vec<Effect> {
    command(core, Command::Enqueue(request(servers, target)))
}

fn deploy(core: &mut Core, servers: &[&str]) -> Vec<Effect> {
    enqueue(core, servers, Target::Action(Action::Deploy))
}

fn finish_at(core: &mut Core, id: ItemId, outcome: Outcome, now: DateTime<Utc>) -> Vec<Effect> {
    let report = RunReport {
        outcome,
        recap: None,
        duration: Duration::from_secs(42),
        log_path: None,
    };
    core.update(
        Input::Run {
            id,
            event: RunEvent::Finished(report),
        },
        now,
    )
}

fn finish(core: &mut Core, id: ItemId, outcome: Outcome) -> Vec<Effect> {
    finish_at(core, id, outcome, t0())
}

fn ok() -> Outcome {
    Outcome::Succeeded
}

fn failed() -> Outcome {
    Outcome::Failed {
        rc: Some(2),
        task: Some("Install release".into()),
        message: String::new(),
    }
}

fn unreachable() -> Outcome {
    Outcome::Unreachable {
        message: "ssh: connect to host port 22: Connection refused".into(),
    }
}

fn cancelled() -> Outcome {
    Outcome::Cancelled { during_task: None }
}

fn skipped(reason: &str) -> Outcome {
    Outcome::Skipped {
        reason: reason.into(),
    }
}

// ---- reading effects ---------------------------------------------------------------------

/// (slot, id) of every Spawn, in order.
fn spawns(fx: &[Effect]) -> Vec<(Slot, ItemId)> {
    fx.iter()
        .filter_map(|effect| match effect {
            Effect::Spawn { item, slot, .. } => Some((*slot, item.id)),
            _ => None,
        })
        .collect()
}

fn spawned(fx: &[Effect]) -> Vec<(&Item, Slot, Duration)> {
    fx.iter()
        .filter_map(|effect| match effect {
            Effect::Spawn {
                item,
                slot,
                timeout,
                ..
            } => Some((item, *slot, *timeout)),
            _ => None,
        })
        .collect()
}

fn logs(fx: &[Effect]) -> Vec<&str> {
    log_entries(fx).into_iter().map(|(_, msg)| msg).collect()
}

/// (target, message) of every log line.
fn log_entries(fx: &[Effect]) -> Vec<(&str, &str)> {
    fx.iter()
        .filter_map(|effect| match effect {
            Effect::Log {
                target, message, ..
            } => Some((target.as_str(), message.as_str())),
            _ => None,
        })
        .collect()
}

fn journal(fx: &[Effect]) -> Vec<&Record> {
    fx.iter()
        .filter_map(|effect| match effect {
            Effect::Journal(record) => Some(record),
            _ => None,
        })
        .collect()
}

/// Items journaled as newly queued.
fn enqueued(fx: &[Effect]) -> Vec<&Item> {
    journal(fx)
        .into_iter()
        .filter_map(|record| match record {
            Record::Enqueued { item, .. } => Some(item),
            _ => None,
        })
        .collect()
}

/// (id, outcome) of every Finished journal record.
fn finished_records(fx: &[Effect]) -> Vec<(ItemId, Outcome)> {
    journal(fx)
        .into_iter()
        .filter_map(|record| match record {
            Record::Finished { id, outcome, .. } => Some((*id, outcome.clone())),
            _ => None,
        })
        .collect()
}

/// (id, whether another attempt follows) of every Finished journal record.
fn retried_records(fx: &[Effect]) -> Vec<(ItemId, bool)> {
    journal(fx)
        .into_iter()
        .filter_map(|record| match record {
            Record::Finished { id, retried, .. } => Some((*id, *retried)),
            _ => None,
        })
        .collect()
}

fn emitted(fx: &[Effect]) -> Vec<&EngineEvent> {
    fx.iter()
        .filter_map(|effect| match effect {
            Effect::Emit(event) => Some(event),
            _ => None,
        })
        .collect()
}

/// (id, outcome, slot) of every EngineEvent::Finished.
fn finished_events(fx: &[Effect]) -> Vec<(ItemId, Outcome, Option<Slot>)> {
    emitted(fx)
        .into_iter()
        .filter_map(|event| match event {
            EngineEvent::Finished(run) => Some((
                run.item.id,
                run.outcome.clone(),
                run.ran.map(|ran| ran.slot),
            )),
            _ => None,
        })
        .collect()
}

fn stops(fx: &[Effect]) -> Vec<(ItemId, StopMode)> {
    fx.iter()
        .filter_map(|effect| match effect {
            Effect::Stop { id, mode } => Some((*id, *mode)),
            _ => None,
        })
        .collect()
}

fn wakes(fx: &[Effect]) -> Vec<DateTime<Utc>> {
    fx.iter()
        .filter_map(|effect| match effect {
            Effect::WakeAt(at) => Some(*at),
            _ => None,
        })
        .collect()
}

/// (id, why it waits) for every queued item, in dispatch order.
fn waits(core: &Core, now: DateTime<Utc>) -> Vec<(ItemId, Wait)> {
    let snapshot = core.snapshot(now);
    snapshot
        .queue
        .iter()
        .map(|item| (item.id, snapshot.wait_of(item)))
        .collect()
}

fn wait_texts(core: &Core) -> Vec<(ItemId, String)> {
    waits(core, t0())
        .into_iter()
        .map(|(id, wait)| (id, wait.to_string()))
        .collect()
}

// ---- the pool's words and the first dispatch ---------------------------------------------

#[test]
fn start_logs_the_pool_opening_words() {
    let cases = [
        (
            "parallel",
            3,
            vec![
                ("engine", "Running in PARALLEL mode with 3 workers"),
                ("worker-1", "Worker 1 started"),
                ("worker-2", "Worker 2 started"),
                ("worker-3", "Worker 3 started"),
            ],
        ),
        (
            "sequential (workers: 0) still has one worker",
            0,
            vec![
                ("engine", "Running in SEQUENTIAL mode"),
                ("worker-1", "Worker 1 started"),
            ],
        ),
    ];
    for (name, workers, expected) in cases {
        let mut core = core_with(Policy {
            workers,
            ..policy()
        });
        let fx = core.start();
        assert_eq!(log_entries(&fx), expected, "{name}");
        assert_eq!(fx.len(), expected.len(), "{name}: only log lines");
    }
}

#[test]
fn enqueue_spawns_one_run_per_free_worker() {
    struct Case {
        name: &'static str,
        workers: u32,
        spawns: Vec<(Slot, ItemId)>,
        processing: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            name: "3 workers take the first 3 of 5 servers",
            workers: 3,
            spawns: vec![(1, 1), (2, 2), (3, 3)],
            processing: vec![
                "Worker 1 processing: deploy for server web-01 (active: 1/3)",
                "Worker 2 processing: deploy for server web-02 (active: 2/3)",
                "Worker 3 processing: deploy for server web-03 (active: 3/3)",
            ],
        },
        Case {
            name: "sequential runs one at a time",
            workers: 0,
            spawns: vec![(1, 1)],
            processing: vec!["Worker 1 processing: deploy for server web-01 (active: 1/1)"],
        },
        Case {
            name: "more workers than work: every item starts",
            workers: 8,
            spawns: vec![(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)],
            processing: vec![
                "Worker 1 processing: deploy for server web-01 (active: 1/8)",
                "Worker 2 processing: deploy for server web-02 (active: 2/8)",
                "Worker 3 processing: deploy for server web-03 (active: 3/8)",
                "Worker 4 processing: deploy for server web-04 (active: 4/8)",
                "Worker 5 processing: deploy for server web-05 (active: 5/8)",
            ],
        },
    ];
    for case in cases {
        let mut core = core_with(Policy {
            workers: case.workers,
            ..policy()
        });
        let fx = deploy(
            &mut core,
            &["web-01", "web-02", "web-03", "web-04", "web-05"],
        );
        assert_eq!(spawns(&fx), case.spawns, "{}: spawns", case.name);
        assert_eq!(logs(&fx), case.processing, "{}: log lines", case.name);
        let queued: Vec<ItemId> = enqueued(&fx).iter().map(|item| item.id).collect();
        assert_eq!(queued, vec![1, 2, 3, 4, 5], "{}: journaled", case.name);
        for (item, slot, timeout) in spawned(&fx) {
            assert_eq!(item.tags, vec!["release".to_string()], "{}", case.name);
            assert_eq!(timeout, policy().action_timeout, "{}", case.name);
            assert!(
                journal(&fx).contains(&&Record::Started {
                    at: t0(),
                    id: item.id,
                    slot,
                    node: None,
                }),
                "{}: #{} journaled as started",
                case.name,
                item.id
            );
        }
        let snapshot = core.snapshot(t0());
        assert_eq!(snapshot.active, case.spawns.len(), "{}", case.name);
        assert!(
            snapshot
                .queue
                .iter()
                .all(|queued| snapshot.wait_of(queued) == Wait::NoFreeWorker),
            "{}: the rest waits for a worker",
            case.name
        );
    }
}

#[test]
fn sequential_mode_runs_the_next_item_after_the_previous_one() {
    let mut core = core_with(Policy {
        workers: 0,
        ..policy()
    });
    deploy(&mut core, &["web-01", "web-02", "web-03"]);
    for id in 1..=2 {
        let fx = finish(&mut core, id, ok());
        assert_eq!(spawns(&fx), vec![(1, id + 1)], "after #{id}");
    }
}

#[test]
fn unknown_server_is_not_queued() {
    let mut core = core_with(policy());
    let fx = deploy(&mut core, &["db-09", "web-01"]);
    assert_eq!(
        logs(&fx)[0],
        "Not queued: server db-09 is not in the inventory"
    );
    let queued: Vec<&str> = enqueued(&fx).iter().map(|i| i.server.as_str()).collect();
    assert_eq!(queued, vec!["web-01"]);
}

// ---- finishing ---------------------------------------------------------------------------

#[test]
fn finished_run_frees_its_slot_for_the_next_item() {
    let mut core = core_with(policy());
    deploy(
        &mut core,
        &["web-01", "web-02", "web-03", "web-04", "web-05"],
    );
    let fx = finish(&mut core, 2, ok());
    assert_eq!(
        logs(&fx),
        vec![
            "Worker 2 completed: deploy for server web-02",
            "Worker 2 processing: deploy for server web-04 (active: 3/3)",
        ]
    );
    assert_eq!(spawns(&fx), vec![(2, 4)]);
    assert_eq!(finished_records(&fx), vec![(2, ok())]);
    assert_eq!(finished_events(&fx), vec![(2, ok(), Some(2))]);
    let snapshot = core.snapshot(t0());
    assert_eq!((snapshot.finished, snapshot.failed), (1, 0));
}

#[test]
fn failure_log_names_what_went_wrong() {
    let cases = vec![
        (
            failed(),
            r#"Worker 1 failed: deploy for server web-02 (rc 2, task "Install release")"#,
        ),
        (
            Outcome::Failed {
                rc: Some(4),
                task: None,
                message: "x".into(),
            },
            "Worker 1 failed: deploy for server web-02 (rc 4)",
        ),
        (
            Outcome::Failed {
                rc: None,
                task: None,
                message: String::new(),
            },
            "Worker 1 failed: deploy for server web-02",
        ),
        (
            Outcome::Unreachable {
                message: "no route".into(),
            },
            "Worker 1 failed: deploy for server web-02 (unreachable: no route)",
        ),
        (
            Outcome::TimedOut {
                during_task: Some("Restart app".into()),
            },
            r#"Worker 1 failed: deploy for server web-02 (timed out during "Restart app")"#,
        ),
        (
            Outcome::Error {
                message: "ansible-playbook not found".into(),
            },
            "Worker 1 failed: deploy for server web-02 (error: ansible-playbook not found)",
        ),
        (
            cancelled(),
            "Worker 1 cancelled: deploy for server web-02 (cancelled)",
        ),
    ];
    for (outcome, line) in cases {
        let mut core = core_with(policy());
        deploy(&mut core, &["web-02"]);
        let fx = finish(&mut core, 1, outcome.clone());
        assert_eq!(
            log_entries(&fx).first(),
            Some(&("worker-1", line)),
            "{outcome:?}"
        );
        assert_eq!(finished_records(&fx), vec![(1, outcome.clone())]);
        let failures = u32::from(outcome.is_failure());
        assert_eq!(core.snapshot(t0()).failed, failures, "{outcome:?}");
    }
}

#[test]
fn run_events_update_the_running_view() {
    let mut core = core_with(policy());
    deploy(&mut core, &["web-01"]);
    let events = [
        RunEvent::LogOpened {
            log_path: "logs/prod/web-01/deploy.log".into(),
        },
        RunEvent::TaskStarted {
            name: "Gathering Facts".into(),
        },
        RunEvent::HostResult {
            status: crate::engine::HostStatus::Ok,
        },
        RunEvent::TaskStarted {
            name: "Install release".into(),
        },
        RunEvent::HostResult {
            status: crate::engine::HostStatus::Changed,
        },
        RunEvent::Output {
            line: "changed: [web-01]".into(),
        },
    ];
    for (n, event) in events.into_iter().enumerate() {
        let started = matches!(event, RunEvent::LogOpened { .. });
        let fx = core.update(Input::Run { id: 1, event }, secs(n as i64));
        if started {
            // The log is journaled at once: a crash mid-run must not lose where it is.
            assert_eq!(
                fx,
                [Effect::Journal(Record::LogOpened {
                    at: secs(0),
                    id: 1,
                    log: "logs/prod/web-01/deploy.log".into(),
                })]
            );
        } else {
            assert!(fx.is_empty(), "a progress event changes no plan: {fx:?}");
        }
    }
    let snapshot = core.snapshot(secs(6));
    let run = snapshot.workers[0].run.as_ref().expect("worker 1 runs #1");
    assert_eq!(
        run.log_path.as_deref(),
        Some(std::path::Path::new("logs/prod/web-01/deploy.log"))
    );
    assert_eq!(run.task.as_deref(), Some("Install release"));
    assert_eq!(run.tasks_started, 2);
    assert_eq!((run.counts.ok, run.counts.changed), (2, 1));
    assert_eq!(run.last_line.as_deref(), Some("changed: [web-01]"));
    assert_eq!(run.last_event_at, secs(5));
}

#[test]
fn run_event_for_an_unknown_id_is_ignored() {
    let events = vec![
        RunEvent::LogOpened {
            log_path: "logs/prod/web-09/deploy.log".into(),
        },
        RunEvent::TaskStarted {
            name: "Install release".into(),
        },
        RunEvent::HostResult {
            status: crate::engine::HostStatus::Failed,
        },
        RunEvent::Output {
            line: "fatal: [web-09]".into(),
        },
        RunEvent::Finished(RunReport {
            outcome: failed(),
            recap: None,
            duration: Duration::from_secs(1),
            log_path: None,
        }),
    ];
    for event in events {
        let mut core = core_with(policy());
        deploy(&mut core, &["web-01"]);
        let before = core.snapshot(t0());
        let fx = core.update(
            Input::Run {
                id: 99,
                event: event.clone(),
            },
            t0(),
        );
        assert!(fx.is_empty(), "{event:?}: {fx:?}");
        assert_eq!(core.snapshot(t0()), before, "{event:?}: state unchanged");
    }
}

// ---- resizing ----------------------------------------------------------------------------

#[test]
fn growing_while_work_is_queued_spawns_at_once() {
    let mut core = core_with(policy());
    deploy(
        &mut core,
        &["web-01", "web-02", "web-03", "web-04", "web-05"],
    );
    let fx = command(&mut core, Command::SetWorkers(5));
    assert_eq!(spawns(&fx), vec![(4, 4), (5, 5)]);
    assert_eq!(
        logs(&fx),
        vec![
            "Workers resized: 3 → 5",
            "Worker 4 started",
            "Worker 5 started",
            "Worker 4 processing: deploy for server web-04 (active: 4/5)",
            "Worker 5 processing: deploy for server web-05 (active: 5/5)",
        ]
    );
    assert_eq!(
        journal(&fx)[0],
        &Record::Resized {
            at: t0(),
            from: 3,
            to: 5
        }
    );
    assert!(
        command(&mut core, Command::SetWorkers(5)).is_empty(),
        "resizing to the same size does nothing"
    );
}

#[test]
fn shrinking_lets_running_runs_finish_before_anything_starts() {
    let mut core = core_with(Policy {
        workers: 5,
        ..policy()
    });
    deploy(
        &mut core,
        &[
            "web-01", "web-02", "web-03", "web-04", "web-05", "web-06", "web-07",
        ],
    );
    let fx = command(&mut core, Command::SetWorkers(2));
    assert!(spawns(&fx).is_empty());
    assert_eq!(
        logs(&fx),
        vec![
            "Workers resized: 5 → 2",
            "3 worker(s) draining: they finish their run, then stop",
        ]
    );
    let snapshot = core.snapshot(t0());
    assert_eq!(
        (snapshot.target_workers, snapshot.active, snapshot.draining),
        (2, 5, 3)
    );
    let slots: Vec<Slot> = snapshot.workers.iter().map(|w| w.slot).collect();
    assert_eq!(slots, vec![1, 2, 3, 4, 5], "draining slots are still shown");

    struct Step {
        finish: ItemId,
        spawns: Vec<(Slot, ItemId)>,
        stopped: Option<&'static str>,
        active: usize,
        draining: usize,
    }
    let steps = vec![
        Step {
            finish: 3,
            spawns: vec![],
            stopped: Some("Worker 3 stopped"),
            active: 4,
            draining: 2,
        },
        Step {
            finish: 1,
            spawns: vec![],
            stopped: None,
            active: 3,
            draining: 2,
        },
        Step {
            finish: 4,
            spawns: vec![],
            stopped: Some("Worker 4 stopped"),
            active: 2,
            draining: 1,
        },
        Step {
            finish: 5,
            spawns: vec![(1, 6)],
            stopped: Some("Worker 5 stopped"),
            active: 2,
            draining: 0,
        },
        Step {
            finish: 2,
            spawns: vec![(2, 7)],
            stopped: None,
            active: 2,
            draining: 0,
        },
    ];
    for step in steps {
        let fx = finish(&mut core, step.finish, ok());
        let at = format!("after #{} finished", step.finish);
        assert_eq!(spawns(&fx), step.spawns, "{at}: spawns");
        let stopped = logs(&fx).into_iter().find(|l| l.ends_with("stopped"));
        assert_eq!(stopped, step.stopped, "{at}: slot goes away");
        let snapshot = core.snapshot(t0());
        assert_eq!(snapshot.active, step.active, "{at}: active");
        assert_eq!(snapshot.draining, step.draining, "{at}: draining");
    }
}

// ---- one server, one action ----------------------------------------------------------------

#[test]
fn never_two_actions_on_one_server() {
    let mut core = core_with(policy());
    let fx = deploy(&mut core, &["web-01"]);
    assert_eq!(spawns(&fx), vec![(1, 1)]);
    let fx = enqueue(&mut core, &["web-01"], Target::Action(Action::Check));
    assert!(spawns(&fx).is_empty(), "web-01 is busy: {fx:?}");
    assert_eq!(
        wait_texts(&core),
        vec![(2, "host busy: deploy on worker 1".into())]
    );
    let fx = deploy(&mut core, &["web-02"]);
    assert_eq!(spawns(&fx), vec![(2, 3)], "another server passes the check");
    let fx = finish(&mut core, 1, ok());
    assert_eq!(
        spawns(&fx),
        vec![(1, 2)],
        "the check runs once the deploy ended"
    );
}

#[test]
fn higher_priority_runs_first_and_priority_can_change() {
    let mut core = core_with(Policy {
        workers: 1,
        ..policy()
    });
    deploy(&mut core, &["web-01"]);
    deploy(&mut core, &["web-02", "web-03"]);
    command(
        &mut core,
        Command::Enqueue(EnqueueRequest {
            priority: 5,
            ..request(&["web-04"], Target::Action(Action::Deploy))
        }),
    );
    let fx = command(&mut core, Command::SetPriority { id: 3, priority: 9 });
    assert_eq!(
        journal(&fx),
        vec![&Record::Reprioritized {
            at: t0(),
            id: 3,
            priority: 9
        }]
    );
    let mut order = Vec::new();
    let mut running = 1;
    for _ in 0..3 {
        let fx = finish(&mut core, running, ok());
        running = spawns(&fx)[0].1;
        order.push(running);
    }
    assert_eq!(order, vec![3, 4, 2]);
}

// ---- chains ------------------------------------------------------------------------------

#[test]
fn chain_runs_its_links_in_order() {
    let mut core = core_with(policy());
    let fx = enqueue(&mut core, &["web-01"], Target::Chain);
    let links: Vec<(ItemId, Action, Option<ItemId>, Vec<String>)> = enqueued(&fx)
        .iter()
        .map(|i| (i.id, i.action, i.after, i.tags.clone()))
        .collect();
    assert_eq!(
        links,
        vec![
            (1, Action::Provision, None, vec!["base".to_string()]),
            (2, Action::Deploy, Some(1), vec!["release".to_string()]),
            (3, Action::Check, Some(2), vec![]),
        ]
    );
    assert_eq!(spawns(&fx), vec![(1, 1)], "only provision starts");
    assert_eq!(
        wait_texts(&core),
        vec![
            (2, "after provision #1".into()),
            (3, "after deploy #2".into()),
        ]
    );
    let fx = finish(&mut core, 1, ok());
    assert_eq!(
        spawns(&fx),
        vec![(1, 2)],
        "deploy after provision succeeded"
    );
    assert_eq!(wait_texts(&core), vec![(3, "after deploy #2".into())]);
    let fx = finish(&mut core, 2, ok());
    assert_eq!(spawns(&fx), vec![(1, 3)], "check after deploy succeeded");
    finish(&mut core, 3, ok());
    assert!(core.is_idle());
}

#[test]
fn chain_link_that_does_not_succeed_skips_the_rest() {
    struct Case {
        name: &'static str,
        policy: Policy,
        /// Links to succeed first (by id), then the one that ends badly.
        succeed: Vec<ItemId>,
        ends: (ItemId, Outcome),
        skipped: Vec<ItemId>,
        reason: &'static str,
    }
    let retrying = Policy {
        auto_retry_enabled: true,
        ..policy()
    };
    let cases = vec![
        Case {
            name: "provision fails",
            policy: policy(),
            succeed: vec![],
            ends: (1, failed()),
            skipped: vec![2, 3],
            reason: "upstream failed",
        },
        Case {
            name: "provision unreachable, auto retry off",
            policy: policy(),
            succeed: vec![],
            ends: (1, unreachable()),
            skipped: vec![2, 3],
            reason: "upstream failed",
        },
        Case {
            name: "a failure that is not unreachable is not retried",
            policy: retrying,
            succeed: vec![],
            ends: (1, failed()),
            skipped: vec![2, 3],
            reason: "upstream failed",
        },
        Case {
            name: "provision timed out",
            policy: policy(),
            succeed: vec![],
            ends: (1, Outcome::TimedOut { during_task: None }),
            skipped: vec![2, 3],
            reason: "upstream failed",
        },
        Case {
            name: "provision could not start",
            policy: policy(),
            succeed: vec![],
            ends: (
                1,
                Outcome::Error {
                    message: "no such file".into(),
                },
            ),
            skipped: vec![2, 3],
            reason: "upstream failed",
        },
        Case {
            name: "provision cancelled while running",
            policy: policy(),
            succeed: vec![],
            ends: (1, cancelled()),
            skipped: vec![2, 3],
            reason: "upstream cancelled",
        },
        Case {
            name: "deploy fails after provision succeeded: only check is skipped",
            policy: policy(),
            succeed: vec![1],
            ends: (2, failed()),
            skipped: vec![3],
            reason: "upstream failed",
        },
    ];
    for case in cases {
        let mut core = core_with(case.policy);
        enqueue(&mut core, &["web-01"], Target::Chain);
        for id in &case.succeed {
            finish(&mut core, *id, ok());
        }
        let (id, outcome) = case.ends;
        let fx = finish(&mut core, id, outcome.clone());
        let mut records = vec![(id, outcome.clone())];
        let mut events = vec![(id, outcome.clone(), Some(1))];
        for skipped_id in &case.skipped {
            records.push((*skipped_id, skipped(case.reason)));
            events.push((*skipped_id, skipped(case.reason), None));
        }
        assert_eq!(finished_records(&fx), records, "{}: journal", case.name);
        assert_eq!(finished_events(&fx), events, "{}: events", case.name);
        assert!(
            logs(&fx)
                .contains(&format!("Skipped check for server web-01 ({})", case.reason).as_str()),
            "{}: {:?}",
            case.name,
            logs(&fx)
        );
        assert!(spawns(&fx).is_empty(), "{}: nothing more runs", case.name);
        assert!(core.snapshot(t0()).queue.is_empty(), "{}", case.name);
        assert!(core.is_idle(), "{}: idle", case.name);
    }
}

// ---- health checks -----------------------------------------------------------------------

fn with_health() -> Policy {
    Policy {
        health_check_enabled: true,
        health_check_retries: 2,
        ..policy()
    }
}

#[test]
fn healthy_deploy_gets_a_health_check() {
    let mut core = core_with(with_health());
    deploy(&mut core, &["web-01"]);
    let fx = finish(&mut core, 1, ok());
    let checks = enqueued(&fx);
    assert_eq!(checks.len(), 1, "{fx:?}");
    let check = checks[0];
    assert_eq!(
        (check.id, check.action, check.server.as_str()),
        (2, Action::Check, "web-01")
    );
    assert_eq!(check.purpose, Purpose::HealthCheck { deploy: 1 });
    let runs = spawned(&fx);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].0.id, 2);
    assert_eq!(
        runs[0].2,
        with_health().health_check_timeout,
        "check timeout"
    );

    let fx = finish(&mut core, 2, ok());
    let health = EngineEvent::Health {
        deploy: 1,
        server: "web-01".into(),
        healthy: true,
    };
    assert!(emitted(&fx).contains(&&health), "{fx:?}");
    assert!(journal(&fx).contains(&&Record::Health {
        at: t0(),
        deploy: 1,
        server: "web-01".into(),
        healthy: true
    }));
    assert!(logs(&fx).contains(&"Health check passed for server web-01"));
    assert!(core.is_idle());
}

#[test]
fn when_no_health_check_is_added() {
    struct Case {
        name: &'static str,
        policy: Policy,
        request: EnqueueRequest,
        outcome: Outcome,
    }
    let deploy_web01 = request(&["web-01"], Target::Action(Action::Deploy));
    let cases = vec![
        Case {
            name: "health checks disabled",
            policy: policy(),
            request: deploy_web01.clone(),
            outcome: ok(),
        },
        Case {
            name: "deploy in check mode",
            policy: with_health(),
            request: EnqueueRequest {
                check_mode: true,
                ..deploy_web01.clone()
            },
            outcome: ok(),
        },
        Case {
            name: "provision is not a deploy",
            policy: with_health(),
            request: request(&["web-01"], Target::Action(Action::Provision)),
            outcome: ok(),
        },
        Case {
            name: "failed deploy",
            policy: with_health(),
            request: deploy_web01.clone(),
            outcome: failed(),
        },
    ];
    for case in cases {
        let mut core = core_with(case.policy);
        command(&mut core, Command::Enqueue(case.request));
        let fx = finish(&mut core, 1, case.outcome);
        assert!(enqueued(&fx).is_empty(), "{}: {fx:?}", case.name);
        assert!(spawns(&fx).is_empty(), "{}", case.name);
    }
}

#[test]
fn chain_check_is_the_health_check() {
    // With the chain's own tags the extra check would not even be a duplicate of the chain's.
    let cases = [
        ("default tags", None),
        ("tags of the chain", Some(vec!["smoke".to_string()])),
    ];
    for (name, tags) in cases {
        let mut core = core_with(with_health());
        let fx = command(
            &mut core,
            Command::Enqueue(EnqueueRequest {
                tags,
                ..request(&["web-01"], Target::Chain)
            }),
        );
        assert_eq!(
            enqueued(&fx)[2].purpose,
            Purpose::HealthCheck { deploy: 2 },
            "{name}: the chain's check judges the chain's deploy"
        );
        finish(&mut core, 1, ok());
        let fx = finish(&mut core, 2, ok());
        assert!(enqueued(&fx).is_empty(), "{name}: no extra check: {fx:?}");
        assert_eq!(spawns(&fx), vec![(1, 3)], "{name}");
        let fx = finish(&mut core, 3, ok());
        assert!(
            emitted(&fx).contains(&&EngineEvent::Health {
                deploy: 2,
                server: "web-01".into(),
                healthy: true
            }),
            "{name}"
        );
        let fx = deploy(&mut core, &["web-02"]);
        assert_eq!(enqueued(&fx)[0].id, 4, "{name}: no id was used up");
    }
}

#[test]
fn failed_health_check_retries_with_backoff_then_reports_unhealthy() {
    let mut core = core_with(with_health());
    deploy(&mut core, &["web-01"]);
    finish(&mut core, 1, ok());

    // Attempt 1 of 2 fails: retried after the backoff, nothing reported yet.
    let fx = finish(&mut core, 2, failed());
    assert!(logs(&fx).contains(&"Health check 1 of 2 failed for server web-01; retrying"));
    let again = enqueued(&fx);
    assert_eq!(again.len(), 1, "{fx:?}");
    assert_eq!(
        (again[0].id, again[0].attempt, again[0].not_before),
        (3, 2, Some(secs(2)))
    );
    assert_eq!(again[0].purpose, Purpose::HealthCheck { deploy: 1 });
    assert!(spawns(&fx).is_empty(), "not before the backoff ends");
    assert_eq!(wakes(&fx), vec![secs(2)]);
    assert!(
        !emitted(&fx)
            .iter()
            .any(|e| matches!(e, EngineEvent::Health { .. }))
    );
    assert_eq!(
        waits(&core, t0()),
        vec![(3, Wait::Backoff { until: secs(2) })]
    );
    assert!(!core.is_idle(), "a backoff is not idle");

    let fx = core.update(Input::Wake, secs(1));
    assert!(spawns(&fx).is_empty(), "woken early: still waits");
    assert_eq!(wakes(&fx), vec![secs(2)]);
    let fx = core.update(Input::Wake, secs(2));
    let runs = spawned(&fx);
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].0.id, runs[0].2),
        (3, with_health().health_check_timeout)
    );
    assert!(wakes(&fx).is_empty());

    // Attempt 2 of 2 fails: the deploy is unhealthy, no more tries.
    let fx = finish_at(&mut core, 3, failed(), secs(3));
    let unhealthy = EngineEvent::Health {
        deploy: 1,
        server: "web-01".into(),
        healthy: false,
    };
    assert!(emitted(&fx).contains(&&unhealthy), "{fx:?}");
    assert!(journal(&fx).contains(&&Record::Health {
        at: secs(3),
        deploy: 1,
        server: "web-01".into(),
        healthy: false
    }));
    assert!(logs(&fx).contains(
        &r#"deploy for server web-01 is unhealthy: failed (rc 2, task "Install release")"#
    ));
    assert!(enqueued(&fx).is_empty());
    assert!(core.is_idle());
}

// ---- automatic retries -------------------------------------------------------------------

#[test]
fn backoff_doubles_up_to_a_cap() {
    let cases = [
        (1, 2),
        (2, 4),
        (3, 8),
        (5, 32),
        (6, 60),
        (40, 60),
        (u32::MAX, 60),
    ];
    for (attempt, seconds) in cases {
        assert_eq!(
            backoff(attempt),
            Duration::from_secs(seconds),
            "attempt {attempt}"
        );
    }
}

#[test]
fn unreachable_host_is_retried_and_the_chain_follows_the_retry() {
    let mut core = core_with(Policy {
        auto_retry_enabled: true,
        max_retries: 2,
        ..policy()
    });
    enqueue(&mut core, &["web-01"], Target::Chain);

    // (id that fails, when, id of the retry, its attempt, its backoff end)
    let retries = [(1, t0(), 4, 2, secs(2)), (4, secs(2), 5, 3, secs(6))];
    for (id, now, new_id, attempt, until) in retries {
        let fx = finish_at(&mut core, id, unreachable(), now);
        let again = enqueued(&fx);
        assert_eq!(again.len(), 1, "#{id}: {fx:?}");
        assert_eq!(
            (
                again[0].id,
                again[0].action,
                again[0].attempt,
                again[0].not_before
            ),
            (new_id, Action::Provision, attempt, Some(until)),
            "#{id}"
        );
        assert_eq!(again[0].tags, vec!["base".to_string()]);
        assert!(
            finished_events(&fx)
                .iter()
                .all(|(_, o, _)| *o == unreachable())
        );
        assert_eq!(retried_records(&fx), vec![(id, true)], "#{id}: superseded");
        assert_eq!(wakes(&fx), vec![until], "#{id}");
        assert!(spawns(&fx).is_empty(), "#{id}: backoff first");
        assert_eq!(
            waits(&core, now),
            vec![
                (
                    2,
                    Wait::After {
                        id: new_id,
                        action: Action::Provision
                    }
                ),
                (
                    3,
                    Wait::After {
                        id: 2,
                        action: Action::Deploy
                    }
                ),
                (new_id, Wait::Backoff { until }),
            ],
            "#{id}: the deploy now waits for the retry"
        );
        let fx = core.update(Input::Wake, until);
        assert_eq!(spawns(&fx), vec![(1, new_id)], "#{id}: retry runs on time");
    }
    // Attempt 3 is past max_retries: the chain gives up.
    let fx = finish_at(&mut core, 5, unreachable(), secs(7));
    assert!(enqueued(&fx).is_empty());
    assert_eq!(retried_records(&fx)[0], (5, false), "the verdict");
    assert_eq!(
        finished_records(&fx),
        vec![
            (5, unreachable()),
            (2, skipped("upstream failed")),
            (3, skipped("upstream failed")),
        ]
    );
    assert!(core.is_idle());
}

#[test]
fn retried_link_that_succeeds_releases_the_chain() {
    let mut core = core_with(Policy {
        auto_retry_enabled: true,
        ..policy()
    });
    enqueue(&mut core, &["web-01"], Target::Chain);
    let fx = finish(&mut core, 1, unreachable());
    assert_eq!(enqueued(&fx)[0].attempt, 2);
    assert!(logs(&fx).contains(&"Requeued provision for server web-01 (attempt 2) in 2s"));
    core.update(Input::Wake, secs(2));
    let fx = finish_at(&mut core, 4, ok(), secs(3));
    assert_eq!(
        spawns(&fx),
        vec![(1, 2)],
        "deploy follows the retry's success"
    );
}

// ---- pause, resume and the failure brake -------------------------------------------------

#[test]
fn pause_stops_dispatch_and_resume_restarts_it() {
    let mut core = core_with(policy());
    let fx = command(&mut core, Command::Pause);
    assert_eq!(
        journal(&fx),
        vec![&Record::Paused {
            at: t0(),
            reason: "paused by the operator".into()
        }]
    );
    assert_eq!(
        logs(&fx),
        vec!["Dispatching paused: paused by the operator"]
    );
    let fx = deploy(&mut core, &["web-01", "web-02"]);
    assert!(spawns(&fx).is_empty());
    assert_eq!(
        wait_texts(&core),
        vec![(1, "paused".into()), (2, "paused".into())]
    );
    assert!(core.is_idle(), "paused with nothing running");
    assert!(
        command(&mut core, Command::Pause).is_empty(),
        "pausing twice"
    );

    let fx = command(
        &mut core,
        Command::Resume {
            release_held: false,
        },
    );
    assert_eq!(journal(&fx)[0], &Record::Resumed { at: t0() });
    assert!(logs(&fx).contains(&"Dispatching resumed"));
    assert_eq!(spawns(&fx), vec![(1, 1), (2, 2)]);
    assert!(
        command(
            &mut core,
            Command::Resume {
                release_held: false
            }
        )
        .is_empty(),
        "resuming what runs does nothing"
    );
}

#[test]
fn max_fail_percentage_pauses_dispatch() {
    struct Case {
        name: &'static str,
        limit: Option<f64>,
        outcomes: Vec<Outcome>,
        /// The finish (1-based) at which dispatching pauses, with the reason.
        paused_at: Option<(usize, &'static str)>,
    }
    let cases = vec![
        Case {
            name: "two of three failed is above 50%",
            limit: Some(50.0),
            outcomes: vec![failed(), ok(), failed()],
            paused_at: Some((
                3,
                "2 of 3 finished runs failed (67% > max_fail_percentage 50%)",
            )),
        },
        Case {
            name: "judged only once three runs finished",
            limit: Some(10.0),
            outcomes: vec![failed(), unreachable(), ok()],
            paused_at: Some((
                3,
                "2 of 3 finished runs failed (67% > max_fail_percentage 10%)",
            )),
        },
        Case {
            name: "exactly at the limit is not above it",
            limit: Some(50.0),
            outcomes: vec![ok(), failed(), ok(), failed()],
            paused_at: None,
        },
        Case {
            name: "no limit never pauses",
            limit: None,
            outcomes: vec![failed(), failed(), failed(), failed()],
            paused_at: None,
        },
        Case {
            name: "cancellations are not failures",
            limit: Some(0.0),
            outcomes: vec![cancelled(), cancelled(), cancelled()],
            paused_at: None,
        },
    ];
    for case in cases {
        let mut core = core_with(Policy {
            workers: 1,
            max_fail_percentage: case.limit,
            ..policy()
        });
        deploy(
            &mut core,
            &["web-01", "web-02", "web-03", "web-04", "web-05", "web-06"],
        );
        for (n, outcome) in case.outcomes.into_iter().enumerate() {
            let n = n + 1;
            let fx = finish(&mut core, n as ItemId, outcome);
            let paused = journal(&fx).into_iter().find_map(|record| match record {
                Record::Paused { reason, .. } => Some(reason.clone()),
                _ => None,
            });
            match case.paused_at {
                Some((at, reason)) if at == n => {
                    assert_eq!(paused.as_deref(), Some(reason), "{}: finish {n}", case.name);
                    assert!(spawns(&fx).is_empty(), "{}: finish {n}", case.name);
                    assert!(core.is_idle(), "{}: idle once paused", case.name);
                    assert_eq!(core.snapshot(t0()).paused.as_deref(), Some(reason));
                }
                _ => {
                    assert_eq!(paused, None, "{}: finish {n}", case.name);
                    assert_eq!(
                        spawns(&fx),
                        vec![(1, n as ItemId + 1)],
                        "{}: finish {n} starts the next",
                        case.name
                    );
                }
            }
        }
    }
}

#[test]
fn failure_brake_lets_running_runs_finish() {
    let mut core = core_with(Policy {
        max_fail_percentage: Some(50.0),
        ..policy()
    });
    deploy(
        &mut core,
        &["web-01", "web-02", "web-03", "web-04", "web-05", "web-06"],
    );
    finish(&mut core, 1, failed()); // starts #4
    finish(&mut core, 2, failed()); // starts #5
    let fx = finish(&mut core, 3, failed());
    assert!(spawns(&fx).is_empty());
    assert!(
        journal(&fx)
            .iter()
            .any(|r| matches!(r, Record::Paused { .. }))
    );
    assert!(stops(&fx).is_empty(), "pausing interrupts nothing");
    assert!(!core.is_idle(), "#4 and #5 still run");
    let fx = finish(&mut core, 4, ok());
    assert!(spawns(&fx).is_empty());
    assert!(!core.is_idle());
    finish(&mut core, 5, ok());
    assert!(core.is_idle(), "paused and nothing runs");
    assert_eq!(wait_texts(&core), vec![(6, "paused".into())]);
}

// ---- cancel and kill ---------------------------------------------------------------------

#[test]
fn cancelling_a_queued_item_skips_what_waited_for_it() {
    let mut core = core_with(Policy {
        workers: 1,
        ..policy()
    });
    deploy(&mut core, &["web-01"]);
    enqueue(&mut core, &["web-02"], Target::Chain); // 2, 3, 4
    let fx = command(&mut core, Command::Cancel(2));
    assert_eq!(
        finished_records(&fx),
        vec![
            (2, cancelled()),
            (3, skipped("upstream cancelled")),
            (4, skipped("upstream cancelled")),
        ]
    );
    assert_eq!(
        finished_events(&fx),
        vec![
            (2, cancelled(), None),
            (3, skipped("upstream cancelled"), None),
            (4, skipped("upstream cancelled"), None),
        ]
    );
    assert_eq!(logs(&fx)[0], "Cancelled queued provision for server web-02");
    assert!(stops(&fx).is_empty() && spawns(&fx).is_empty());
    assert!(core.snapshot(t0()).queue.is_empty());
    assert!(
        command(&mut core, Command::Cancel(42)).is_empty(),
        "an unknown id"
    );
}

#[test]
fn cancel_and_kill_of_a_running_item_only_escalate() {
    use StopMode::{Graceful, Kill};
    let cases = vec![
        ("cancel", vec![Command::Cancel(1)], vec![Some(Graceful)]),
        ("kill", vec![Command::Kill(1)], vec![Some(Kill)]),
        (
            "cancel then kill escalates",
            vec![Command::Cancel(1), Command::Kill(1)],
            vec![Some(Graceful), Some(Kill)],
        ),
        (
            "cancel after kill emits nothing new",
            vec![Command::Kill(1), Command::Cancel(1)],
            vec![Some(Kill), None],
        ),
        (
            "cancel twice asks once",
            vec![Command::Cancel(1), Command::Cancel(1)],
            vec![Some(Graceful), None],
        ),
        (
            "kill twice asks once",
            vec![Command::Kill(1), Command::Kill(1)],
            vec![Some(Kill), None],
        ),
    ];
    for (name, commands, expected) in cases {
        let mut core = core_with(policy());
        deploy(&mut core, &["web-01"]);
        let mut strongest = None;
        for (command_, expect) in commands.into_iter().zip(expected) {
            let fx = command(&mut core, command_.clone());
            match expect {
                Some(mode) => {
                    assert_eq!(stops(&fx), vec![(1, mode)], "{name}: {command_:?}");
                    let verb = if mode == Graceful {
                        "interrupting"
                    } else {
                        "killing"
                    };
                    assert_eq!(
                        log_entries(&fx),
                        vec![(
                            "worker-1",
                            format!("Worker 1 {verb}: deploy for server web-01").as_str()
                        )],
                        "{name}: {command_:?}"
                    );
                    strongest = Some(mode);
                }
                None => assert!(fx.is_empty(), "{name}: {command_:?}: {fx:?}"),
            }
        }
        let snapshot = core.snapshot(t0());
        let run = snapshot.workers[0].run.as_ref().expect("still running");
        assert_eq!(run.stopping, strongest, "{name}: shown as stopping");
    }
}

#[test]
fn clear_cancels_everything_queued_but_not_what_runs() {
    let mut core = core_with(Policy {
        workers: 1,
        ..policy()
    });
    deploy(&mut core, &["web-01", "web-02"]);
    enqueue(&mut core, &["web-03"], Target::Chain);
    let fx = command(&mut core, Command::Clear);
    let ids: Vec<(ItemId, Outcome)> = finished_records(&fx);
    assert_eq!(
        ids,
        vec![
            (2, cancelled()),
            (3, cancelled()),
            (4, cancelled()),
            (5, cancelled())
        ]
    );
    assert!(stops(&fx).is_empty());
    assert!(core.snapshot(t0()).queue.is_empty());
    assert_eq!(core.snapshot(t0()).active, 1);
}

// ---- restore -----------------------------------------------------------------------------

/// Two items an earlier session left queued: a deploy and a check whose chain predecessor (#5)
/// had succeeded.
fn restored_items() -> Vec<Item> {
    let deploy = Item {
        id: 7,
        server: "web-01".into(),
        action: Action::Deploy,
        priority: 0,
        tags: policy().deployment_tags,
        check_mode: false,
        attempt: 1,
        enqueued_at: secs(-3600),
        after: None,
        purpose: Purpose::Requested,
        not_before: None,
        held: false,
    };
    let check = Item {
        id: 8,
        server: "web-02".into(),
        action: Action::Check,
        tags: vec![],
        after: Some(5),
        ..deploy.clone()
    };
    vec![deploy, check]
}

fn restored() -> Core {
    let mut core = core_with(policy());
    core.restore(
        Restore {
            pending: restored_items(),
            interrupted: Vec::new(),
            succeeded: std::collections::HashSet::from([5]),
            retryable: Vec::new(),
            next_id: 9,
            rollouts: Vec::new(),
        },
        t0(),
    );
    core
}

#[test]
fn restored_items_come_back_held_and_new_work_does_not_wait_for_them() {
    let mut core = core_with(policy());
    let fx = core.restore(
        Restore {
            pending: restored_items(),
            interrupted: Vec::new(),
            succeeded: std::collections::HashSet::from([5]),
            retryable: Vec::new(),
            next_id: 9,
            rollouts: Vec::new(),
        },
        t0(),
    );
    assert!(
        logs(&fx).contains(
            &"2 item(s) from an earlier session are queued and held until released (P in the dashboard, run --resume) or discarded (X, run --discard-held)"
        ),
        "{fx:?}"
    );
    let fx = core.update(Input::Wake, t0());
    assert!(spawns(&fx).is_empty());
    assert_eq!(waits(&core, t0()), vec![(7, Wait::Held), (8, Wait::Held)]);
    assert!(core.is_idle());
    assert_eq!(
        core.snapshot(t0()).paused,
        None,
        "nothing is paused: the items are held"
    );
    let fx = deploy(&mut core, &["web-03"]);
    assert_eq!(
        enqueued(&fx)[0].id,
        9,
        "new ids continue after the journal's"
    );
    assert_eq!(spawns(&fx), vec![(1, 9)], "new work runs at once");
}

#[test]
fn restored_items_run_only_once_released() {
    struct Case {
        name: &'static str,
        commands: Vec<Command>,
        spawned: Vec<ItemId>,
        still_held: Vec<ItemId>,
        idle: bool,
    }
    let resume = |release_held| Command::Resume { release_held };
    let web01 = |tags: Option<Vec<String>>| {
        Command::Enqueue(EnqueueRequest {
            tags,
            ..request(&["web-01"], Target::Action(Action::Deploy))
        })
    };
    let cases = vec![
        Case {
            name: "resume without release leaves them waiting",
            commands: vec![resume(false)],
            spawned: vec![],
            still_held: vec![7, 8],
            idle: true,
        },
        Case {
            name: "resume with release runs them",
            commands: vec![resume(true)],
            spawned: vec![7, 8],
            still_held: vec![],
            idle: false,
        },
        Case {
            name: "release after a plain resume runs them too",
            commands: vec![resume(false), resume(true)],
            spawned: vec![7, 8],
            still_held: vec![],
            idle: false,
        },
        Case {
            name: "identical work is new work; the held item stays held",
            commands: vec![web01(None), resume(false)],
            spawned: vec![9],
            still_held: vec![7, 8],
            idle: false,
        },
        Case {
            name: "different tags are new work; the held item stays held",
            commands: vec![web01(Some(vec!["hotfix".into()])), resume(false)],
            spawned: vec![9],
            still_held: vec![7, 8],
            idle: false,
        },
    ];
    for case in cases {
        let mut core = restored();
        let mut ran = Vec::new();
        let mut journaled = Vec::new();
        for command_ in case.commands {
            let fx = command(&mut core, command_);
            ran.extend(spawns(&fx).into_iter().map(|(_, id)| id));
            journaled.extend(enqueued(&fx).into_iter().map(|item| item.id));
        }
        assert_eq!(ran, case.spawned, "{}: spawned", case.name);
        let held: Vec<ItemId> = waits(&core, t0())
            .into_iter()
            .filter(|(_, wait)| *wait == Wait::Held)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(held, case.still_held, "{}: held", case.name);
        assert_eq!(core.is_idle(), case.idle, "{}: idle", case.name);
        assert!(
            journaled.iter().all(|id| *id >= 9),
            "{}: restored items are not journaled again",
            case.name
        );
    }
}

/// A chain an earlier session left: provision #1 ran when it died, deploy #2 and check #3 wait
/// for it; deploy #4 of web-03 waits for nothing. Same shape for held chains still to run.
fn earlier_chain(first: ItemId, server: &str) -> Vec<Item> {
    Action::ALL
        .iter()
        .enumerate()
        .map(|(n, &action)| Item {
            id: first + n as ItemId,
            server: server.into(),
            action,
            priority: 0,
            tags: policy().default_tags(action),
            check_mode: false,
            attempt: 1,
            enqueued_at: secs(-3600),
            after: (n > 0).then(|| first + n as ItemId - 1),
            purpose: Purpose::Requested,
            not_before: None,
            held: false,
        })
        .collect()
}

#[test]
fn restore_skips_links_of_interrupted_runs() {
    let mut core = core_with(policy());
    let mut pending: Vec<Item> = earlier_chain(1, "web-01").split_off(1); // #2, #3
    let unrelated = Item {
        id: 4,
        server: "web-03".into(),
        after: None,
        ..pending[0].clone()
    };
    pending.push(unrelated);
    let fx = core.restore(
        Restore {
            pending,
            interrupted: vec![1],
            succeeded: Default::default(),
            retryable: Vec::new(),
            next_id: 5,
            rollouts: Vec::new(),
        },
        t0(),
    );
    assert_eq!(
        finished_records(&fx),
        vec![
            (2, skipped("upstream interrupted")),
            (3, skipped("upstream interrupted")),
        ],
        "journaled, so they are not restored again"
    );
    assert!(
        emitted(&fx).is_empty(),
        "an earlier session's skips are not this session's results: {fx:?}"
    );
    assert!(logs(&fx).contains(&"Skipped deploy for server web-01 (upstream interrupted)"));
    assert_eq!(waits(&core, t0()), vec![(4, Wait::Held)]);
    assert!(
        logs(&fx)
            .iter()
            .any(|l| l.starts_with("1 item(s) from an earlier session are queued and held")),
        "counts what is left, not what was pending: {fx:?}"
    );

    let mut core = core_with(policy());
    let pending = earlier_chain(1, "web-01").split_off(1);
    let fx = core.restore(
        Restore {
            pending,
            interrupted: vec![1],
            succeeded: Default::default(),
            retryable: Vec::new(),
            next_id: 4,
            rollouts: Vec::new(),
        },
        t0(),
    );
    assert!(
        !logs(&fx).iter().any(|l| l.contains("held")),
        "nothing left to hold"
    );
    assert!(core.is_idle());

    // A link whose predecessor finished without success (or is gone) can never run: skipped.
    let mut core = core_with(policy());
    let orphan = Item {
        after: Some(99),
        ..earlier_chain(1, "web-02")[1].clone()
    };
    let fx = core.restore(
        Restore {
            pending: vec![orphan],
            interrupted: Vec::new(),
            succeeded: Default::default(),
            retryable: Vec::new(),
            next_id: 5,
            rollouts: Vec::new(),
        },
        t0(),
    );
    assert_eq!(
        finished_records(&fx),
        vec![(2, skipped("upstream did not succeed"))]
    );
    assert!(core.is_idle() && waits(&core, t0()).is_empty());
}

#[test]
fn new_work_never_releases_a_held_chain() {
    let mut core = core_with(policy());
    core.restore(
        Restore {
            pending: earlier_chain(7, "web-04"),
            next_id: 10,
            ..Restore::default()
        },
        t0(),
    );
    let fx = command(
        &mut core,
        Command::Enqueue(request(&["web-04"], Target::Action(Action::Deploy))),
    );
    assert_eq!(enqueued(&fx).len(), 1, "a new deploy, not yesterday's");
    assert_eq!(spawns(&fx), vec![(1, 10)]);
    assert_eq!(
        waits(&core, t0()),
        vec![(7, Wait::Held), (8, Wait::Held), (9, Wait::Held)],
        "the earlier chain stays held until resumed"
    );
}

// ---- retry failed ------------------------------------------------------------------------

/// Four deploys: web-01 failed, web-02 unreachable, web-03 succeeded, web-04 cancelled.
fn after_mixed_results() -> Core {
    let mut core = core_with(Policy {
        workers: 4,
        ..policy()
    });
    command(
        &mut core,
        Command::Enqueue(EnqueueRequest {
            priority: 3,
            tags: Some(vec!["release".into(), "migrate".into()]),
            ..request(
                &["web-01", "web-02", "web-03", "web-04"],
                Target::Action(Action::Deploy),
            )
        }),
    );
    finish(&mut core, 1, failed());
    finish(&mut core, 2, unreachable());
    finish(&mut core, 3, ok());
    finish(&mut core, 4, cancelled());
    core
}

#[test]
fn retry_failed_requeues_this_sessions_failures() {
    let cases = vec![
        // web-04's run was cancelled, not failed: retry is for failures.
        ("all", None, vec!["web-01", "web-02"]),
        ("named server", Some(vec![web(2)]), vec!["web-02"]),
        (
            "succeeded server has nothing to retry",
            Some(vec![web(3)]),
            vec![],
        ),
        ("unknown server", Some(vec!["db-09".to_string()]), vec![]),
    ];
    for (name, servers, expected) in cases {
        let mut core = after_mixed_results();
        let fx = command(&mut core, Command::RetryFailed { servers });
        let again = enqueued(&fx);
        let got: Vec<&str> = again.iter().map(|item| item.server.as_str()).collect();
        assert_eq!(got, expected, "{name}");
        for item in &again {
            assert_eq!(item.attempt, 2, "{name}: {}", item.server);
            assert_eq!(item.action, Action::Deploy, "{name}");
            assert_eq!(item.priority, 3, "{name}: priority kept");
            assert_eq!(item.tags, vec!["release", "migrate"], "{name}: tags kept");
        }
        assert_eq!(spawns(&fx).len(), expected.len(), "{name}: they run");
    }
}

#[test]
fn retry_failed_takes_each_failure_once() {
    let mut core = after_mixed_results();
    let fx = command(
        &mut core,
        Command::RetryFailed {
            servers: Some(vec![web(2)]),
        },
    );
    assert_eq!(enqueued(&fx).len(), 1);
    let fx = command(&mut core, Command::RetryFailed { servers: None });
    let rest: Vec<&str> = enqueued(&fx).iter().map(|i| i.server.as_str()).collect();
    assert_eq!(rest, vec!["web-01"], "the other failure was kept");
    let fx = command(&mut core, Command::RetryFailed { servers: None });
    assert!(fx.is_empty(), "nothing left: {fx:?}");

    // web-01's retry (#6) succeeds: web-01 has nothing left to retry.
    finish(&mut core, 6, ok());
    let fx = command(
        &mut core,
        Command::RetryFailed {
            servers: Some(vec![web(1)]),
        },
    );
    assert!(enqueued(&fx).is_empty());
}

// ---- shutdown ----------------------------------------------------------------------------

#[test]
fn shutdown_stops_dispatch_and_ends_when_the_last_run_ends() {
    let cases = vec![
        (ShutdownMode::Wait, None),
        (ShutdownMode::Cancel, Some(StopMode::Graceful)),
        (ShutdownMode::Kill, Some(StopMode::Kill)),
    ];
    for (mode, stop) in cases {
        let mut core = core_with(policy());
        deploy(
            &mut core,
            &["web-01", "web-02", "web-03", "web-04", "web-05"],
        );
        let fx = command(&mut core, Command::Shutdown(mode));
        let expected: Vec<(ItemId, StopMode)> = match stop {
            Some(stop) => (1..=3).map(|id| (id, stop)).collect(),
            None => vec![],
        };
        assert_eq!(stops(&fx), expected, "{mode:?}");
        assert!(spawns(&fx).is_empty(), "{mode:?}");
        assert!(!core.is_stopped(), "{mode:?}: three still run");
        for id in 1..=3 {
            let outcome = if stop.is_some() { cancelled() } else { ok() };
            let fx = finish(&mut core, id, outcome);
            assert!(spawns(&fx).is_empty(), "{mode:?}: nothing more starts");
            assert_eq!(core.is_stopped(), id == 3, "{mode:?}: after #{id}");
        }
        assert_eq!(
            wait_texts(&core),
            vec![(4, "paused".into()), (5, "paused".into())],
            "{mode:?}"
        );
    }
}

#[test]
fn shutdown_can_escalate() {
    let mut core = core_with(policy());
    deploy(&mut core, &["web-01"]);
    assert!(stops(&command(&mut core, Command::Shutdown(ShutdownMode::Wait))).is_empty());
    let fx = command(&mut core, Command::Shutdown(ShutdownMode::Cancel));
    assert_eq!(stops(&fx), vec![(1, StopMode::Graceful)]);
    let fx = command(&mut core, Command::Shutdown(ShutdownMode::Kill));
    assert_eq!(stops(&fx), vec![(1, StopMode::Kill)]);
    assert!(
        stops(&command(&mut core, Command::Shutdown(ShutdownMode::Cancel))).is_empty(),
        "never back down from a kill"
    );
}

#[path = "tests/trust.rs"]
mod trust;

#[path = "tests/nodes.rs"]
mod nodes;

#[path = "tests/rollouts.rs"]
mod rollouts;

// ---- the seed's words --------------------------------------------------------------------

/// What a worker says through its life, on its own target, in the words of the first commits
/// (8019c59): operators grep for them and the log pane's focus shows them per worker.
#[test]
fn a_worker_says_the_seeds_words_through_its_life() {
    let mut core = core_with(Policy {
        workers: 2,
        ..policy()
    });
    let worker_lines = |fx: &[Effect]| -> Vec<(String, String)> {
        log_entries(fx)
            .into_iter()
            .filter(|(target, _)| target.starts_with("worker-"))
            .map(|(target, line)| (target.to_string(), line.to_string()))
            .collect()
    };
    let said = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(target, line)| (target.to_string(), line.to_string()))
            .collect()
    };
    let mut fx = core.start();
    fx.extend(deploy(&mut core, &["web-01", "web-02"]));
    fx.extend(command(&mut core, Command::Cancel(1)));
    fx.extend(command(&mut core, Command::Kill(1)));
    fx.extend(finish(&mut core, 1, cancelled()));
    fx.extend(command(&mut core, Command::SetWorkers(1)));
    fx.extend(finish(&mut core, 2, ok()));
    assert_eq!(
        worker_lines(&fx),
        said(&[
            ("worker-1", "Worker 1 started"),
            ("worker-2", "Worker 2 started"),
            (
                "worker-1",
                "Worker 1 processing: deploy for server web-01 (active: 1/2)"
            ),
            (
                "worker-2",
                "Worker 2 processing: deploy for server web-02 (active: 2/2)"
            ),
            (
                "worker-1",
                "Worker 1 interrupting: deploy for server web-01"
            ),
            ("worker-1", "Worker 1 killing: deploy for server web-01"),
            (
                "worker-1",
                "Worker 1 cancelled: deploy for server web-01 (cancelled)"
            ),
            ("worker-2", "Worker 2 completed: deploy for server web-02"),
            ("worker-2", "Worker 2 stopped"),
        ])
    );
}
