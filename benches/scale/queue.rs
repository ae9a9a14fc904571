//! The 100,000-item figures measured in this process, on the engine's own parts: the queue's
//! operations at three sizes (flat means O(log n) or better), enqueueing 100,000 actions into
//! the engine's core, and one frame of the dashboard with them queued.

use chrono::Utc;
use fleetdeck::engine::core::Core;
use fleetdeck::engine::model::{Action, Item};
use fleetdeck::engine::queue::{DispatchView, Queue};
use fleetdeck::engine::{Command, EngineEvent, EnqueueRequest, Input, Policy, Target};
use fleetdeck::inventory::Inventory;
use fleetdeck::tui::app::App;
use fleetdeck::tui::log_pane::LogPane;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const PER_SERVER: usize = 10;
const OPS: usize = 100;

fn item(id: u64, server: String, tag: usize) -> Item {
    Item {
        tags: vec![format!("t{tag}")],
        ..Item::requested(id, &server, Action::Check, Utc::now())
    }
}

fn filled(n: usize) -> Queue {
    let mut queue = Queue::default();
    for id in 0..n {
        queue.push(item(
            id as u64 + 1,
            format!("srv-{:06}", id / PER_SERVER),
            id % PER_SERVER,
        ));
    }
    queue
}

fn per_op(total: Duration) -> f64 {
    total.as_secs_f64() * 1e6 / OPS as f64
}

/// µs per pop, cancel and reprioritise at 1,000, 10,000 and 100,000 queued items.
pub fn queue_operations() {
    println!("(4) queue operations, µs per operation (flat across sizes = O(log n) or better):");
    println!(
        "    {:>8}  {:>8}  {:>8}  {:>12}",
        "queued", "pop", "cancel", "reprioritise"
    );
    for n in [1_000, 10_000, 100_000] {
        let mut queue = filled(n);
        let busy = HashMap::new();
        let running = HashMap::new();
        let succeeded = imbl::HashSet::new();
        let view = DispatchView {
            busy: &busy,
            running: &running,
            succeeded: &succeeded,
            now: Utc::now(),
            at_limit: [false; 3],
            nodes: None,
        };
        let started = Instant::now();
        for _ in 0..OPS {
            queue.take_next(&view).unwrap();
        }
        let pop = started.elapsed();
        // Spread over the queue, as an operator's cancels would be.
        let ids: Vec<u64> = (0..OPS)
            .map(|k| (n - 1 - k * (n / OPS / 4)) as u64)
            .collect();
        let started = Instant::now();
        for id in &ids {
            queue.set_priority(*id, 5);
        }
        let reprioritise = started.elapsed();
        let started = Instant::now();
        for id in &ids {
            queue.remove(*id);
        }
        let cancel = started.elapsed();
        println!(
            "    {n:>8}  {:>8.2}  {:>8.2}  {:>12.2}",
            per_op(pop),
            per_op(cancel),
            per_op(reprioritise)
        );
    }
}

pub fn policy(workers: u32) -> Policy {
    Policy {
        workers,
        action_timeout: Duration::from_secs(3600),
        health_check_enabled: false,
        health_check_timeout: Duration::from_secs(30),
        health_check_retries: 0,
        auto_retry_enabled: false,
        max_retries: 0,
        max_fail_percentage: None,
        provisioning_tags: Vec::new(),
        deployment_tags: Vec::new(),
        provisioning_sequential: false,
        rolling: None,
    }
}

/// 100,000 actions (10 per server on 10,000 servers) into the engine's core, then one frame.
pub fn hundred_thousand_queued() {
    let servers: Vec<String> = (0..10_000).map(|n| format!("srv-{n:06}")).collect();
    let mut core = Core::new(policy(64), servers.iter().cloned());
    core.update(Input::Command(Command::Pause), Utc::now());
    let started = Instant::now();
    for tag in 0..PER_SERVER {
        core.update(
            Input::Command(Command::Enqueue(EnqueueRequest {
                servers: servers.clone(),
                target: Target::Action(Action::Check),
                tags: Some(vec![format!("t{tag}")]),
                check_mode: false,
                priority: 0,
            })),
            Utc::now(),
        );
    }
    let enqueue = started.elapsed();
    // The first snapshot shares the queue's structure; the engine takes one per batch.
    let mut times: Vec<Duration> = (0..100)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(core.snapshot(Utc::now()));
            started.elapsed()
        })
        .collect();
    times.sort();
    let snapshot_time = times[times.len() / 2];
    let snapshot = core.snapshot(Utc::now());
    println!("(5) 100,000 actions queued (10 per server, 10,000 servers):");
    println!(
        "    enqueue {:.3} s  (goal ≤ 1 s); one snapshot for the faces (median) {:.3} ms",
        enqueue.as_secs_f64(),
        snapshot_time.as_secs_f64() * 1e3
    );

    let mut inventory = Inventory::default();
    for (n, name) in servers.iter().enumerate() {
        let group = format!("group{:02}", n % 20);
        inventory
            .hosts
            .insert(name.clone(), [group].into_iter().collect());
    }
    let mut app = App::new("scale", &inventory, Default::default());
    app.apply(EngineEvent::Snapshot(Box::new(snapshot)));
    let logs = LogPane::default();
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    let now = Utc::now();
    let mut times: Vec<Duration> = (0..200)
        .map(|_| {
            let started = Instant::now();
            terminal
                .draw(|frame| fleetdeck::tui::ui::draw(frame, &app, &logs, now))
                .unwrap();
            started.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "    one frame at 160×45: median {:.2} ms, p99 {:.2} ms  (goal ≤ 2 ms)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() * 99 / 100].as_secs_f64() * 1e3
    );
}
