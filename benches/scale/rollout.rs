//! What a rollout costs the scheduler: the engine's core drives a deploy of N servers at
//! W = 64 to the end (each run succeeds at once), all at once and as a rolling deploy with a
//! window of 64, a snapshot for the faces every 64 finishes as the engine takes them. The
//! same work either way, so the ratio is what the rollout's bookkeeping costs per server.

use super::queue::policy;
use chrono::Utc;
use fleetdeck::engine::core::{Core, Effect};
use fleetdeck::engine::model::Action;
use fleetdeck::engine::model::Outcome;
use fleetdeck::engine::rollout::{Rolling, WindowSize};
use fleetdeck::engine::{Command, EnqueueRequest, Input, Policy, RunEvent, RunReport, Target};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const WORKERS: u32 = 64;

pub fn rollout_cost() {
    println!(
        "(9) the scheduler's time per server for a deploy at W = {WORKERS}, runs ending at once:"
    );
    println!(
        "    {:>8}  {:>12}  {:>18}  {:>6}",
        "servers", "all at once", "rolling (window 64)", "ratio"
    );
    for n in [1_000, 10_000] {
        let plain = drive(policy(WORKERS), n);
        let rolling = drive(
            Policy {
                rolling: Some(Rolling {
                    canary: 1,
                    max_unavailable: WindowSize::Servers(64),
                }),
                ..policy(WORKERS)
            },
            n,
        );
        println!(
            "    {n:>8}  {:>9.1} µs  {:>15.1} µs  {:>6.2}",
            per_server(plain, n),
            per_server(rolling, n),
            rolling.as_secs_f64() / plain.as_secs_f64()
        );
    }
}

fn per_server(total: Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1e6 / n as f64
}

/// Enqueue, then finish every spawned run in the order started, until nothing is left.
fn drive(policy: Policy, n: usize) -> Duration {
    let servers: Vec<String> = (0..n).map(|i| format!("srv-{i:06}")).collect();
    let mut core = Core::new(policy, servers.iter().cloned());
    let started = Instant::now();
    let mut running: VecDeque<u64> = VecDeque::new();
    let take = |fx: Vec<Effect>, running: &mut VecDeque<u64>| {
        for effect in fx {
            if let Effect::Spawn { item, .. } = effect {
                running.push_back(item.id);
            }
        }
    };
    let fx = core.update(
        Input::Command(Command::Enqueue(EnqueueRequest {
            servers,
            target: Target::Action(Action::Deploy),
            tags: None,
            check_mode: false,
            priority: 0,
        })),
        Utc::now(),
    );
    take(fx, &mut running);
    let mut finished = 0;
    while let Some(id) = running.pop_front() {
        let report = RunReport {
            outcome: Outcome::Succeeded,
            recap: None,
            duration: Duration::from_millis(1),
            log_path: None,
        };
        let event = RunEvent::Finished(report);
        let fx = core.update(Input::Run { id, event }, Utc::now());
        take(fx, &mut running);
        finished += 1;
        if finished % 64 == 0 {
            std::hint::black_box(core.snapshot(Utc::now()));
        }
    }
    assert_eq!(finished, n, "every deploy ran once");
    started.elapsed()
}
