//! Prints how fleetdeck's engine compares with the obvious alternatives, as ratios, on this
//! machine and in one run (not a timed test: shared machines are noisy).
//!
//! (a) 200 stand-in actions of 0.5 s at 20 workers: fleetdeck vs `xargs -P 20`.
//! (b) real ansible-core on local-connection hosts: fleetdeck (one run per host, warm runner
//!     and fresh processes) vs one `ansible-playbook -f W` over the same hosts and play, with
//!     wall time, CPU-seconds and peak memory (PSS of the whole process tree) of each side.
//! (c) `nodes`: 20 deploys at W=5, all local vs over two loopback ssh execution nodes, with
//!     the controller's CPU per run (goal ≤ 0.1 CPU-s) and the nodes' CPU.
//!
//! Run: `cargo bench --bench throughput` (after `.ci/setup`). `--quick` runs (a) only;
//! `--rows 30x10,nodes` runs only the (b) and (c) rows named (hosts x workers, or `nodes`,
//! comma-separated); `--repeat N` runs each side N times, in turns, and prints medians.

use fleetdeck::engine::model::Action;
use fleetdeck::engine::shell::EngineSetup;
use fleetdeck::engine::{Command, Engine, EngineEvent, EnqueueRequest, Policy, Target};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let work = tempfile::tempdir().unwrap();

    println!("(a) 200 stand-in actions of 0.5 s, 20 workers");
    let fake = Path::new(REPO).join("tests/fixtures/fake-ansible-playbook");
    let hosts: Vec<String> = (1..=200).map(|n| format!("host-{n:03}")).collect();
    let env = [("FAKE_MODE", "ok"), ("FAKE_SLEEP", "0.5")];
    let ours = runtime.block_on(fleetdeck_time(
        setup(work.path(), "a", &fake, &hosts, 20),
        &env,
    ));
    let theirs = xargs_time(&fake, &hosts, 20, &env);
    report("fleetdeck", ours, "xargs -P 20", theirs, "goal ≤ 1.02");

    if quick {
        return;
    }
    let named: Option<Vec<String>> = std::env::args()
        .skip_while(|a| a != "--rows")
        .nth(1)
        .map(|rows| rows.split(',').map(str::to_string).collect());
    if named
        .as_ref()
        .is_none_or(|named| named.iter().any(|row| row != nodes::ROW))
    {
        ansible_rows(work.path());
    }
    if named
        .as_ref()
        .is_none_or(|named| named.iter().any(|row| row == nodes::ROW))
    {
        let repeat = std::env::args()
            .skip_while(|a| a != "--repeat")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1usize)
            .max(1);
        nodes::nodes_row(work.path(), repeat);
    }
}

fn setup(work: &Path, name: &str, program: &Path, hosts: &[String], workers: u32) -> EngineSetup {
    let dir = work.join(name);
    let callback_dir = dir.join("callback_plugins");
    fleetdeck::project::install_plugin(&callback_dir).unwrap();
    EngineSetup {
        env_name: name.to_string(),
        root: PathBuf::from(REPO),
        inventory: dir.join("hosts.yml"),
        playbooks: HashMap::from([(Action::Check, dir.join("check.yml"))]),
        program: program.to_path_buf(),
        policy: Policy {
            workers,
            action_timeout: Duration::from_secs(600),
            health_check_enabled: false,
            health_check_timeout: Duration::from_secs(60),
            health_check_retries: 1,
            auto_retry_enabled: false,
            max_retries: 0,
            max_fail_percentage: None,
            provisioning_tags: Vec::new(),
            deployment_tags: Vec::new(),
            provisioning_sequential: false,
            rolling: None,
        },
        cancel_grace: Duration::from_secs(5),
        servers: hosts.to_vec(),
        journal: dir.join("journal.jsonl"),
        log_dir: dir.join("logs"),
        callback_dir,
        // The stand-in is not ansible: nothing to preload.
        warm: None,
        nodes: fleetdeck::engine::remote::fleet::NodePlan::local_only(),
    }
}

/// Wall time from enqueue to the engine going idle.
async fn fleetdeck_time(setup: EngineSetup, env: &[(&str, &str)]) -> Duration {
    for (key, value) in env {
        // SAFETY: set before the engine starts any thread that reads the environment.
        unsafe { std::env::set_var(key, value) };
    }
    let servers = setup.servers.clone();
    let fleetdeck::engine::Started {
        handle: engine,
        mut events,
        task,
        ..
    } = Engine::start(setup).unwrap();
    let started = Instant::now();
    engine.send(Command::Enqueue(EnqueueRequest {
        servers,
        target: Target::Action(Action::Check),
        tags: None,
        check_mode: false,
        priority: 0,
    }));
    let mut failed = 0;
    while let Some(event) = events.recv().await {
        match event {
            EngineEvent::Finished(run) if !run.outcome.is_success() => failed += 1,
            EngineEvent::Idle => break,
            _ => {}
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(failed, 0, "every benchmark run succeeds");
    drop(engine);
    task.await.unwrap().unwrap();
    elapsed
}

fn xargs_time(program: &Path, hosts: &[String], parallel: usize, env: &[(&str, &str)]) -> Duration {
    let started = Instant::now();
    let mut child = std::process::Command::new("xargs")
        .args(["-P", &parallel.to_string(), "-I{}"])
        .arg(program)
        .args(["-i", "hosts.yml", "check.yml", "--limit", "{}"])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(hosts.join("\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    started.elapsed()
}

#[path = "throughput/ansible_rows.rs"]
mod ansible_rows;
use ansible_rows::ansible_rows;
#[path = "throughput/nodes.rs"]
mod nodes;

fn report(ours_name: &str, ours: Duration, theirs_name: &str, theirs: Duration, goal: &str) {
    println!("  {ours_name:<24} {:>8.2} s", ours.as_secs_f64());
    println!("  {theirs_name:<24} {:>8.2} s", theirs.as_secs_f64());
    println!(
        "  ratio fleetdeck / baseline: {:.3}  ({goal})",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}
