//! What the dashboard's tests share: a fixed clock, the demo fleet, rollouts staged as the
//! engine would show them.

use crate::engine::Policy;
use crate::engine::model::{Action as Job, Item, ItemId, Outcome, Purpose, Recap};
use crate::engine::queue::Queue;
use crate::engine::rollout::{MemberState, Rolling, Rollout, Rules, Step, WindowSize};
use crate::engine::snapshot::RunView;
use crate::inventory::Inventory;
use crate::status::LastRun;
use crate::tui::app::App;
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

/// Time is an input: every test reads this clock, so snapshots and ages are stable.
pub fn now() -> DateTime<Utc> {
    "2026-01-02T03:04:05Z".parse().unwrap()
}

pub fn ago(secs: i64) -> DateTime<Utc> {
    now() - TimeDelta::seconds(secs)
}

/// The demo fleet (web-01..06, db-01, db-02, lb-01), plus any extra groups.
pub fn demo_inventory(extra: &[(&str, &[&str])]) -> Inventory {
    let demo: [(&str, &[&str]); 3] = [
        (
            "web",
            &["web-01", "web-02", "web-03", "web-04", "web-05", "web-06"],
        ),
        ("db", &["db-01", "db-02"]),
        ("lb", &["lb-01"]),
    ];
    let mut inventory = Inventory::default();
    for (group, hosts) in demo.iter().chain(extra) {
        for host in *hosts {
            inventory
                .hosts
                .entry(host.to_string())
                .or_default()
                .insert(group.to_string());
        }
        inventory.groups.insert(
            group.to_string(),
            hosts.iter().map(|h| h.to_string()).collect(),
        );
    }
    inventory
}

/// A rollout of `servers` (deploy items `id + 1`, `id + 2`, … in that order) that began a
/// minute ago: `canary` first, then at most `window` at a time; `steps` applied in order.
pub fn rollout(id: ItemId, servers: &[&str], canary: u32, window: u32, steps: &[Step]) -> Rollout {
    let members = servers
        .iter()
        .zip(id + 1..)
        .map(|(server, item)| (server.to_string(), item))
        .collect();
    let rules = Rules {
        canary,
        window,
        max_fail_percentage: None,
        health_gate: true,
    };
    let mut rollout = Rollout::new(id, Job::Deploy, ago(60), members, rules);
    for step in steps {
        rollout.apply(step);
    }
    rollout
}

pub fn admit(server: &str) -> Step {
    Step::Admit {
        server: server.into(),
    }
}

pub fn deployed(server: &str) -> Step {
    Step::Deployed {
        server: server.into(),
    }
}

pub fn healthy(server: &str) -> Step {
    Step::Healthy {
        server: server.into(),
    }
}

/// `admit`, `deployed` and `healthy`, one server after the other.
pub fn passes(servers: &[&str]) -> Vec<Step> {
    servers
        .iter()
        .flat_map(|s| [admit(s), deployed(s), healthy(s)])
        .collect()
}

pub fn deploy_failed(server: &str) -> Step {
    Step::Failed {
        server: server.into(),
        reason: "deploy failed (rc 2, task \"Verify release checksum\")".into(),
    }
}

/// Puts `rollout` into the app as the engine would show it: a member waiting is a queued deploy
/// behind the rollout's gate (held when `held`, as are the health checks), one let in runs on the next idle worker unless
/// it is in `not_running` (then it is queued, its gate open), one deployed has a fresh success
/// and its health check queued, a healthy one a fresh healthy success, a failed one a failure.
pub fn stage(app: &mut App, rollout: Rollout, not_running: &[&str], held: bool) {
    let mut queue = Queue::default();
    for item in app.snapshot.queue.iter() {
        queue.push(item.clone());
        if let Some(gate) = app.snapshot.queue.gate_of(item.id) {
            queue.gate(item.id, gate);
        }
    }
    let fresh = |id: ItemId, outcome: Outcome, healthy: Option<bool>| LastRun {
        id,
        at: ago(20),
        outcome,
        healthy,
        check_mode: false,
        log: Some(format!("logs/run-{id}.log").into()),
        node: None,
    };
    for member in &rollout.members {
        let server = member.server.clone();
        let deploy = deploy_item(member.item, &server);
        let status = app.status.entry(server.clone()).or_default();
        match &member.state {
            MemberState::Waiting => {
                let mut deploy = deploy;
                deploy.held = held;
                queue.push(deploy);
                queue.gate(member.item, rollout.id);
            }
            MemberState::Deploying if not_running.contains(&server.as_str()) => {
                queue.push(deploy);
            }
            MemberState::Deploying => {
                let worker = app.snapshot.workers.iter_mut().find(|w| w.run.is_none());
                let worker = worker.expect("an idle worker for each deploy under way");
                worker.run = Some(RunView {
                    node: None,
                    log_path: Some(
                        format!("/var/lib/fleetdeck/demo/runs/{}.log", deploy.id).into(),
                    ),
                    item: deploy,
                    started_at: ago(25),
                    task: Some("Unpack release archive".into()),
                    tasks_started: 4,
                    counts: Recap::default(),
                    last_line: None,
                    last_event_at: ago(1),
                    stopping: None,
                });
                app.snapshot.active += 1;
            }
            MemberState::AwaitingHealth => {
                status.insert(Job::Deploy, fresh(member.item, Outcome::Succeeded, None));
                let mut check = deploy_item(member.item + 100, &server);
                check.action = Job::Check;
                check.purpose = Purpose::HealthCheck {
                    deploy: member.item,
                };
                // After a restart the check that judges the deploy is held like the rest.
                check.held = held;
                queue.push(check);
            }
            MemberState::Healthy => {
                status.insert(
                    Job::Deploy,
                    fresh(member.item, Outcome::Succeeded, Some(true)),
                );
            }
            MemberState::Failed { .. } => {
                let failed = Outcome::Failed {
                    rc: Some(2),
                    task: Some("Verify release checksum".into()),
                    message: "checksum mismatch".into(),
                };
                status.insert(Job::Deploy, fresh(member.item, failed, None));
            }
            MemberState::Dropped { .. } => {}
        }
    }
    app.snapshot.queue = queue.view();
    app.snapshot.rollouts.push(Arc::new(rollout));
}

pub fn deploy_item(id: ItemId, server: &str) -> Item {
    Item::requested(id, server, Job::Deploy, ago(60))
}

/// The engine's rules as `config.yml` would give them: deploys tagged `app`, and with
/// `rolling`, deployment_strategy: rolling.
pub fn policy(rolling: Option<(u32, WindowSize)>) -> Policy {
    Policy {
        workers: 3,
        action_timeout: std::time::Duration::from_secs(1800),
        health_check_enabled: true,
        health_check_timeout: std::time::Duration::from_secs(60),
        health_check_retries: 0,
        auto_retry_enabled: false,
        max_retries: 0,
        max_fail_percentage: None,
        provisioning_tags: Vec::new(),
        deployment_tags: vec!["app".into()],
        provisioning_sequential: false,
        rolling: rolling.map(|(canary, max_unavailable)| Rolling {
            canary,
            max_unavailable,
        }),
    }
}
