//! Rollouts in the scheduler, as an operator checks them: who goes first, how many at once,
//! what a finish, a failure, a retry, a pause, a resize or a restart does to the rest.

use super::*;
use crate::engine::rollout::{MemberState, Phase, Rolling, WindowSize};

/// Rolling deploys with health checks, `workers` workers.
fn rolling(workers: u32, canary: u32, window: WindowSize, max_fail: Option<f64>) -> Policy {
    Policy {
        workers,
        health_check_enabled: true,
        health_check_retries: 1,
        max_fail_percentage: max_fail,
        rolling: Some(Rolling {
            canary,
            max_unavailable: window,
        }),
        ..policy()
    }
}

/// The engine driven like the shell drives it: spawned runs are remembered by server and
/// action, so a case says "web-03's deploy failed" and the simulator finds the item.
struct Sim {
    core: Core,
    running: Vec<Item>,
    /// Every spawn, in order: (server, action).
    started: Vec<(String, Action)>,
    logs: Vec<String>,
    /// Every journal record, in order: what a restart replays.
    records: Vec<Record>,
    /// The most rollout members ever unavailable at once, and deploys ever running at once.
    most_unavailable: usize,
    most_deploys: usize,
}

impl Sim {
    fn new(policy: Policy) -> Sim {
        Sim {
            core: core_with(policy),
            running: Vec::new(),
            started: Vec::new(),
            logs: Vec::new(),
            records: Vec::new(),
            most_unavailable: 0,
            most_deploys: 0,
        }
    }

    fn take(&mut self, fx: Vec<Effect>) -> Vec<Effect> {
        for effect in &fx {
            match effect {
                Effect::Spawn { item, .. } => {
                    self.started.push((item.server.clone(), item.action));
                    self.running.push(item.clone());
                }
                Effect::Log { message, .. } => self.logs.push(message.clone()),
                Effect::Journal(record) => self.records.push(record.clone()),
                _ => {}
            }
        }
        let snapshot = self.core.snapshot(t0());
        for rollout in &snapshot.rollouts {
            let unavailable = rollout.tally().unavailable();
            assert!(
                unavailable <= rollout.rules.window as usize,
                "rollout {} has {unavailable} unavailable, window {}",
                rollout.id,
                rollout.rules.window
            );
            self.most_unavailable = self.most_unavailable.max(unavailable);
        }
        let deploys = self
            .running
            .iter()
            .filter(|item| item.action == Action::Deploy)
            .count();
        self.most_deploys = self.most_deploys.max(deploys);
        fx
    }

    fn command(&mut self, command: Command) -> Vec<Effect> {
        let fx = self.core.update(Input::Command(command), t0());
        self.take(fx)
    }

    fn enqueue(&mut self, servers: &[&str], target: Target) -> Vec<Effect> {
        self.command(Command::Enqueue(request(servers, target)))
    }

    /// Ends the running `action` of `server` with `outcome`.
    fn end(&mut self, server: &str, action: Action, outcome: Outcome) -> Vec<Effect> {
        let at = self
            .running
            .iter()
            .position(|item| item.server == server && item.action == action)
            .unwrap_or_else(|| {
                panic!(
                    "{action} of {server} is not running; running: {:?}",
                    self.running_now()
                )
            });
        let item = self.running.remove(at);
        let fx = finish(&mut self.core, item.id, outcome);
        self.take(fx)
    }

    /// A deploy that succeeds and whose health check passes.
    fn healthy(&mut self, server: &str) {
        self.end(server, Action::Deploy, ok());
        self.end(server, Action::Check, ok());
    }

    fn running_now(&self) -> Vec<(String, Action)> {
        self.running
            .iter()
            .map(|item| (item.server.clone(), item.action))
            .collect()
    }

    fn deploying(&self) -> Vec<String> {
        self.running
            .iter()
            .filter(|item| item.action == Action::Deploy)
            .map(|item| item.server.clone())
            .collect()
    }

    fn deploys_started(&self) -> Vec<String> {
        self.started
            .iter()
            .filter(|(_, action)| *action == Action::Deploy)
            .map(|(server, _)| server.clone())
            .collect()
    }

    fn rollout(&self) -> Arc<Rollout> {
        self.core
            .rollouts
            .values()
            .last()
            .expect("a rollout")
            .clone()
    }

    fn said(&self, words: &str) -> bool {
        self.logs.iter().any(|line| line.contains(words))
    }
}

fn webs(n: usize) -> Vec<String> {
    (1..=n).map(web).collect()
}

fn deploy_all(sim: &mut Sim, n: usize) {
    let servers = webs(n);
    let names: Vec<&str> = servers.iter().map(String::as_str).collect();
    sim.enqueue(&names, Target::Action(Action::Deploy));
}

#[test]
fn the_canary_goes_alone_and_its_health_check_opens_the_window() {
    let mut sim = Sim::new(rolling(8, 1, WindowSize::Servers(2), None));
    deploy_all(&mut sim, 6);
    assert_eq!(
        sim.deploying(),
        vec![web(1)],
        "only the canary, with 8 workers free"
    );
    assert!(sim.said("Rollout deploy #"), "{:?}", sim.logs);
    assert!(sim.said("canary web-01 goes first"), "{:?}", sim.logs);

    sim.end(&web(1), Action::Deploy, ok());
    assert!(
        sim.deploying().is_empty(),
        "a deployed canary waits for its health check: {:?}",
        sim.running_now()
    );
    sim.end(&web(1), Action::Check, ok());
    assert_eq!(sim.deploying(), vec![web(2), web(3)], "window 2 opens");
    assert!(
        sim.said("canary web-01 healthy, window 2"),
        "{:?}",
        sim.logs
    );
}

#[test]
fn each_healthy_server_lets_the_next_in_at_once() {
    let mut sim = Sim::new(rolling(8, 1, WindowSize::Servers(2), None));
    deploy_all(&mut sim, 6);
    sim.healthy(&web(1));
    assert_eq!(sim.deploying(), vec![web(2), web(3)]);
    // web-03 finishes first: web-04 starts while web-02 still deploys (no batch barrier).
    sim.healthy(&web(3));
    assert_eq!(sim.deploying(), vec![web(2), web(4)]);
    sim.healthy(&web(2));
    sim.healthy(&web(4));
    sim.healthy(&web(5));
    sim.healthy(&web(6));
    let rollout = sim.rollout();
    assert_eq!(rollout.phase, Phase::Done);
    assert_eq!(rollout.tally().healthy, 6);
    assert_eq!(sim.most_unavailable, 2);
    assert!(sim.said("done: 6/6 healthy"), "{:?}", sim.logs);
}

#[test]
fn window_as_a_percentage_of_the_rollout() {
    let mut sim = Sim::new(rolling(8, 0, WindowSize::Percent(50.0), None));
    deploy_all(&mut sim, 5);
    assert_eq!(sim.deploying().len(), 3, "50% of 5 rounds up to 3");
}

#[test]
fn a_rollout_never_runs_more_than_the_pool_and_follows_a_resize() {
    let mut sim = Sim::new(rolling(1, 0, WindowSize::Servers(3), None));
    deploy_all(&mut sim, 6);
    assert_eq!(sim.deploying().len(), 1, "one worker");
    let fx = sim.command(Command::SetWorkers(4));
    assert_eq!(spawns(&fx).len(), 2, "grown: up to the window of 3");
    assert_eq!(sim.deploying().len(), 3);
    sim.command(Command::SetWorkers(1));
    sim.end(&web(1), Action::Deploy, ok());
    sim.end(&web(2), Action::Deploy, ok());
    assert_eq!(
        sim.running_now(),
        vec![(web(3), Action::Deploy)],
        "shrunk to 1: the health checks wait until the pool has room"
    );
    sim.end(&web(3), Action::Deploy, ok());
    assert_eq!(sim.running_now().len(), 1, "one at a time");
}

#[test]
fn a_failure_stops_the_rollout_and_holds_the_rest() {
    let mut sim = Sim::new(rolling(8, 1, WindowSize::Servers(2), None));
    deploy_all(&mut sim, 6);
    sim.healthy(&web(1));
    sim.end(&web(2), Action::Deploy, failed());
    let rollout = sim.rollout();
    assert!(
        matches!(&rollout.phase, Phase::Stopped { reason } if reason.contains("web-02 deploy failed (rc 2")),
        "{:?}",
        rollout.phase
    );
    assert!(sim.said("stopped: web-02 deploy failed"), "{:?}", sim.logs);
    // web-03 was in flight: it finishes; nothing new starts.
    sim.healthy(&web(3));
    assert!(sim.deploying().is_empty());
    assert_eq!(sim.deploys_started(), webs(3));
    // The rest waits in the queue, saying why, and the engine is idle: nothing more starts
    // without the operator.
    let texts = wait_texts(&sim.core);
    assert_eq!(texts.len(), 3, "{texts:?}");
    for (_, text) in &texts {
        assert!(text.contains("stopped: web-02 deploy failed"), "{text}");
    }
    assert!(sim.core.is_idle());
}

#[test]
fn resume_goes_on_and_abort_cancels_the_rest() {
    for resume in [true, false] {
        let mut sim = Sim::new(rolling(8, 1, WindowSize::Servers(2), None));
        deploy_all(&mut sim, 5);
        sim.end(&web(1), Action::Deploy, failed());
        assert!(sim.deploying().is_empty(), "a failed canary stops it");
        if resume {
            sim.command(Command::ResumeRollout(None));
            assert_eq!(sim.deploying(), vec![web(2), web(3)]);
            sim.healthy(&web(2));
            sim.healthy(&web(3));
            sim.healthy(&web(4));
            sim.healthy(&web(5));
            let rollout = sim.rollout();
            assert_eq!(rollout.phase, Phase::Done);
            assert_eq!((rollout.tally().healthy, rollout.tally().failed), (4, 1));
        } else {
            let fx = sim.command(Command::AbortRollout(None));
            let cancelled = finished_records(&fx)
                .into_iter()
                .filter(|(_, outcome)| matches!(outcome, Outcome::Cancelled { .. }))
                .count();
            assert_eq!(cancelled, 4);
            assert!(sim.core.queue.is_empty());
            let rollout = sim.rollout();
            assert_eq!(rollout.phase, Phase::Aborted);
            assert_eq!(rollout.tally().dropped, 4);
            assert!(sim.said("aborted: 4 deploy(s) cancelled"), "{:?}", sim.logs);
        }
    }
}

#[test]
fn failures_within_max_fail_percentage_go_on() {
    let mut sim = Sim::new(rolling(8, 1, WindowSize::Servers(2), Some(25.0)));
    deploy_all(&mut sim, 8);
    sim.healthy(&web(1));
    sim.end(&web(2), Action::Deploy, failed());
    assert_eq!(
        sim.deploying(),
        vec![web(3), web(4)],
        "1 of 8 failed (13%) ≤ 25%: the next one goes in"
    );
    assert!(sim.said("within max_fail_percentage 25%"), "{:?}", sim.logs);
    sim.end(&web(3), Action::Deploy, failed());
    sim.end(&web(4), Action::Deploy, failed());
    assert!(
        matches!(sim.rollout().phase, Phase::Stopped { .. }),
        "3 of 8 (38%) > 25%"
    );
}

#[test]
fn an_unhealthy_server_stops_it_like_a_failed_deploy() {
    let mut sim = Sim::new(rolling(8, 0, WindowSize::Servers(1), None));
    deploy_all(&mut sim, 3);
    sim.end(&web(1), Action::Deploy, ok());
    sim.end(&web(1), Action::Check, failed());
    let rollout = sim.rollout();
    assert!(
        matches!(&rollout.phase, Phase::Stopped { reason } if reason.contains("web-01 health check failed")),
        "{:?}",
        rollout.phase
    );
}

#[test]
fn without_health_checks_a_deploy_counts_once_it_succeeded() {
    let policy = Policy {
        health_check_enabled: false,
        ..rolling(8, 1, WindowSize::Servers(2), None)
    };
    let mut sim = Sim::new(policy);
    deploy_all(&mut sim, 4);
    sim.end(&web(1), Action::Deploy, ok());
    assert_eq!(sim.deploying(), vec![web(2), web(3)]);
}

#[test]
fn a_chain_rollout_gates_deploys_while_provisions_run_in_parallel() {
    let mut sim = Sim::new(rolling(8, 1, WindowSize::Servers(1), None));
    sim.enqueue(&[&web(1), &web(2), &web(3)], Target::Chain);
    assert_eq!(sim.running_now().len(), 3, "provisions are not rolled");
    // web-02's provision finishes first: its deploy becomes the canary (the first ready).
    sim.end(&web(2), Action::Provision, ok());
    assert_eq!(sim.deploying(), vec![web(2)]);
    sim.end(&web(1), Action::Provision, ok());
    assert_eq!(sim.deploying(), vec![web(2)], "web-01 waits for the canary");
    // The chain's check is the canary's health check.
    sim.end(&web(2), Action::Deploy, ok());
    sim.end(&web(2), Action::Check, ok());
    assert_eq!(sim.deploying(), vec![web(1)]);
    // A failed provision: that server's deploy never ran, which stops the rollout.
    sim.end(&web(3), Action::Provision, failed());
    assert!(
        matches!(&sim.rollout().phase, Phase::Stopped { reason } if reason.contains("web-03 not deployed (upstream failed)")),
        "{:?}",
        sim.rollout().phase
    );
}

#[test]
fn an_unreachable_member_is_retried_in_its_place() {
    let policy = Policy {
        auto_retry_enabled: true,
        max_retries: 2,
        ..rolling(8, 0, WindowSize::Servers(1), None)
    };
    let mut sim = Sim::new(policy);
    deploy_all(&mut sim, 2);
    sim.end(&web(1), Action::Deploy, unreachable());
    assert!(
        sim.deploying().is_empty(),
        "the retry waits out its backoff"
    );
    let member = sim.rollout().member(&web(1)).unwrap().clone();
    assert_eq!(member.state, MemberState::Deploying, "it keeps its place");
    // The backoff ends: the retry (not web-02) runs.
    let fx = sim.core.update(Input::Wake, secs(3));
    sim.take(fx);
    assert_eq!(sim.deploying(), vec![web(1)]);
    sim.healthy(&web(1));
    assert_eq!(sim.deploying(), vec![web(2)]);
}

#[test]
fn a_member_waits_for_its_host_and_pause_stops_admission() {
    let mut sim = Sim::new(rolling(8, 0, WindowSize::Servers(2), None));
    sim.enqueue(&[&web(2)], Target::Action(Action::Check));
    deploy_all(&mut sim, 3);
    // web-02 is busy with a check: never two actions on one server, even in a rollout.
    assert_eq!(sim.deploying(), vec![web(1)]);
    sim.command(Command::Pause);
    sim.end(&web(2), Action::Check, ok());
    assert_eq!(sim.deploying(), vec![web(1)], "paused: nothing starts");
    sim.command(Command::Resume {
        release_held: false,
    });
    assert_eq!(sim.deploying(), vec![web(1), web(2)]);
}

#[test]
fn a_deploy_on_one_server_is_simply_that() {
    let mut sim = Sim::new(rolling(8, 1, WindowSize::Servers(1), None));
    sim.enqueue(&[&web(1)], Target::Action(Action::Deploy));
    assert!(sim.core.rollouts.is_empty());
    assert_eq!(sim.deploying(), vec![web(1)]);
    // Dry runs change nothing: not rolled out either.
    let mut request = request(&[&web(2), &web(3)], Target::Action(Action::Deploy));
    request.check_mode = true;
    sim.command(Command::Enqueue(request));
    assert!(sim.core.rollouts.is_empty());
    assert_eq!(sim.deploying().len(), 3);
}

#[test]
fn cancelling_a_waiting_member_drops_it_and_the_rollout_goes_on() {
    let mut sim = Sim::new(rolling(8, 0, WindowSize::Servers(1), None));
    deploy_all(&mut sim, 3);
    let web3 = sim.rollout().member(&web(3)).unwrap().item;
    sim.command(Command::Cancel(web3));
    sim.healthy(&web(1));
    sim.healthy(&web(2));
    let rollout = sim.rollout();
    assert_eq!(rollout.phase, Phase::Done);
    assert_eq!((rollout.tally().healthy, rollout.tally().dropped), (2, 1));
}

#[test]
fn sequential_provisioning_runs_one_provision_at_a_time() {
    let policy = Policy {
        provisioning_sequential: true,
        ..policy()
    };
    let mut sim = Sim::new(policy);
    sim.enqueue(
        &[&web(1), &web(2), &web(3)],
        Target::Action(Action::Provision),
    );
    sim.enqueue(&[&web(4)], Target::Action(Action::Check));
    assert_eq!(
        sim.running_now(),
        vec![(web(1), Action::Provision), (web(4), Action::Check)],
        "one provision, and the pool still runs other work"
    );
    let waits = wait_texts(&sim.core);
    assert!(
        waits
            .iter()
            .all(|(_, text)| text == "provisions run one at a time"),
        "{waits:?}"
    );
    sim.end(&web(1), Action::Provision, ok());
    assert_eq!(sim.running_now()[1], (web(2), Action::Provision));
}

/// A crash mid-rollout: the journal brings it back where it was, held; servers that finished
/// are not deployed again; a deploy cut mid-run counts as failed.
#[test]
fn a_restart_brings_the_rollout_back_held_at_the_same_step() {
    let mut sim = Sim::new(rolling(8, 1, WindowSize::Servers(2), Some(50.0)));
    deploy_all(&mut sim, 6);
    sim.healthy(&web(1));
    sim.healthy(&web(2));
    // web-03 and web-04 run; the session dies. A new core restores what the journal says, as
    // `Engine::start` does.
    let mut replay = crate::engine::journal::Replay::empty();
    for record in &sim.records {
        replay.apply(record);
    }
    let interrupted: Vec<ItemId> = replay.interrupted().iter().map(|item| item.id).collect();
    assert_eq!(interrupted.len(), 2, "web-03 and web-04 were running");
    let mut core = core_with(rolling(8, 1, WindowSize::Servers(2), Some(50.0)));
    let fx = core.restore(
        Restore {
            pending: replay.pending(),
            interrupted,
            succeeded: replay.succeeded.clone(),
            next_id: replay.next_id,
            rollouts: replay.live_rollouts(),
            ..Restore::default()
        },
        t0(),
    );
    let rollout = core.rollouts.values().next().unwrap().clone();
    assert_eq!(rollout.tally().healthy, 2, "web-01, web-02 stay done");
    assert_eq!(
        rollout.tally().failed,
        2,
        "web-03, web-04 were cut mid-deploy"
    );
    assert!(
        logs(&fx)
            .iter()
            .any(|l| l.contains("Rollout(s) from an earlier session")),
        "{:?}",
        logs(&fx)
    );
    // 2 of 6 failed (33%) ≤ 50%: it goes on once the operator releases the held work.
    assert!(rollout.phase.is_live());
    let fx = core.update(
        Input::Command(Command::Resume {
            release_held: false,
        }),
        t0(),
    );
    assert!(
        spawns(&fx).is_empty(),
        "held: nothing runs without the operator"
    );
    let fx = core.update(Input::Command(Command::Resume { release_held: true }), t0());
    let started: Vec<String> = spawned(&fx)
        .iter()
        .map(|(item, _, _)| item.server.clone())
        .collect();
    assert_eq!(started, vec![web(5), web(6)]);
}

#[test]
fn more_canaries_than_the_window_never_break_the_window() {
    let mut sim = Sim::new(rolling(8, 3, WindowSize::Servers(2), None));
    deploy_all(&mut sim, 6);
    assert_eq!(sim.deploying(), vec![web(1), web(2)], "the window is 2");
    sim.healthy(&web(1));
    assert_eq!(sim.deploying(), vec![web(2), web(3)], "the third canary");
    assert!(
        sim.said("canary web-01 healthy; the window opens when all 3 canaries are"),
        "{:?}",
        sim.logs
    );
    sim.healthy(&web(2));
    assert_eq!(
        sim.deploying(),
        vec![web(3)],
        "canaries only, until all are healthy"
    );
    sim.healthy(&web(3));
    assert_eq!(sim.deploying(), vec![web(4), web(5)]);
    assert_eq!(sim.most_unavailable, 2);
}

#[test]
fn a_server_with_a_provision_held_back_still_runs_its_other_work() {
    let policy = Policy {
        provisioning_sequential: true,
        workers: 4,
        ..policy()
    };
    let mut sim = Sim::new(policy);
    sim.enqueue(&[&web(1), &web(2)], Target::Action(Action::Provision));
    sim.enqueue(&[&web(2)], Target::Action(Action::Check));
    assert_eq!(
        sim.running_now(),
        vec![(web(1), Action::Provision), (web(2), Action::Check)],
        "web-02's check does not wait behind its provision, which waits its turn"
    );
}

#[test]
fn a_server_named_twice_is_one_member() {
    let mut sim = Sim::new(rolling(8, 0, WindowSize::Servers(2), None));
    sim.enqueue(&[&web(1), &web(2), &web(1)], Target::Action(Action::Deploy));
    assert_eq!(sim.rollout().members.len(), 2);
    sim.healthy(&web(1));
    sim.healthy(&web(2));
    assert_eq!(sim.rollout().phase, Phase::Done);
}

/// A retry waiting out its backoff inside a rollout that then stopped, across a restart: the
/// retry waits at the gate with the rest, and the engine says it is idle (a headless run would
/// otherwise wait for ever).
#[test]
fn a_retry_behind_a_stopped_rollout_does_not_keep_the_engine_busy() {
    let policy = Policy {
        auto_retry_enabled: true,
        max_retries: 2,
        ..rolling(8, 0, WindowSize::Servers(2), None)
    };
    let mut sim = Sim::new(policy.clone());
    deploy_all(&mut sim, 4);
    sim.end(&web(1), Action::Deploy, unreachable());
    sim.end(&web(2), Action::Deploy, failed());
    assert!(matches!(sim.rollout().phase, Phase::Stopped { .. }));
    let mut replay = crate::engine::journal::Replay::empty();
    for record in &sim.records {
        replay.apply(record);
    }
    let mut core = core_with(policy);
    core.restore(
        Restore {
            pending: replay.pending(),
            succeeded: replay.succeeded.clone(),
            next_id: replay.next_id,
            rollouts: replay.live_rollouts(),
            ..Restore::default()
        },
        t0(),
    );
    let fx = core.update(
        Input::Command(Command::Resume { release_held: true }),
        secs(1),
    );
    assert!(spawns(&fx).is_empty(), "the rollout is stopped");
    assert!(core.is_idle(), "nothing will start without the operator");
    let fx = core.update(Input::Wake, secs(2000));
    assert!(spawns(&fx).is_empty());
    assert!(core.is_idle());
}
